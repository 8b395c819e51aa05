"""Learning-rate schedules with PyTorch's semantics: call ``step()`` once per epoch, after it.

``StepLR`` multiplies the rate by ``gamma`` every ``step_size`` epochs;
``CosineAnnealingLR`` follows half a cosine from the initial rate down to ``eta_min`` over
``T_max`` epochs; ``ReduceLROnPlateau`` multiplies it by ``factor`` when a watched metric
(the validation loss, in training from a config) has not improved for ``patience`` epochs.
"""

from __future__ import annotations

import math
from typing import Any

from minnet import hparams
from minnet.optim.optimizer import Optimizer

__all__ = ["StepLR", "CosineAnnealingLR", "ReduceLROnPlateau", "LRScheduler"]


class LRScheduler:
    """Base: remembers the optimizer's initial rate and how many epochs have passed."""

    fields: tuple[str, ...] = ("last_epoch", "base_lr")

    def __init__(self, optimizer: Optimizer):
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"{type(self).__name__}: expected a minnet optimizer, got {type(optimizer).__name__}")
        self.optimizer = optimizer
        self.base_lr = optimizer.lr
        self.last_epoch = 0

    def get_last_lr(self) -> float:
        return self.optimizer.lr

    def state_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.fields}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        for key in self.fields:
            setattr(self, key, state[key])


class StepLR(LRScheduler):
    def __init__(self, optimizer: Optimizer, step_size: int, gamma: float = 0.1):
        super().__init__(optimizer)
        self.step_size = hparams.RULES["step_size"](step_size, "StepLR: step_size")
        self.gamma = hparams.RULES["gamma"](gamma, "StepLR: gamma")

    def step(self) -> None:
        self.last_epoch += 1
        if self.last_epoch % self.step_size == 0:
            self.optimizer.lr *= self.gamma


class CosineAnnealingLR(LRScheduler):
    def __init__(self, optimizer: Optimizer, T_max: int, eta_min: float = 0.0):  # noqa: N803 (PyTorch's name)
        super().__init__(optimizer)
        self.T_max = hparams.RULES["step_size"](T_max, "CosineAnnealingLR: T_max")
        self.eta_min = hparams.RULES["l2"](eta_min, "CosineAnnealingLR: eta_min")

    def step(self) -> None:
        """PyTorch's recursive form, so the rates agree with ``torch.optim`` step by step."""
        self.last_epoch += 1
        t, T, lr, base, low = self.last_epoch, self.T_max, self.optimizer.lr, self.base_lr, self.eta_min
        if (t - 1 - T) % (2 * T) == 0:
            lr = lr + (base - low) * (1 - math.cos(math.pi / T)) / 2
        else:
            lr = (1 + math.cos(math.pi * t / T)) / (1 + math.cos(math.pi * (t - 1) / T)) * (lr - low) + low
        self.optimizer.lr = lr


class ReduceLROnPlateau(LRScheduler):
    """Mode "min", relative threshold, as PyTorch's defaults: ``step(metric)`` each epoch."""

    fields = ("last_epoch", "base_lr", "best", "num_bad_epochs", "cooldown_counter")

    def __init__(self, optimizer: Optimizer, patience: int = 10, factor: float = 0.1, threshold: float = 1e-4,
                 cooldown: int = 0, min_lr: float = 0.0, eps: float = 1e-8):
        super().__init__(optimizer)
        self.patience = hparams.RULES["patience"](patience, "ReduceLROnPlateau: patience")
        self.factor = hparams.RULES["gamma"](factor, "ReduceLROnPlateau: factor")
        self.threshold = threshold
        self.cooldown = cooldown
        self.min_lr = min_lr
        self.eps = eps
        self.best = math.inf
        self.num_bad_epochs = 0
        self.cooldown_counter = 0

    def step(self, metric: float) -> None:
        self.last_epoch += 1
        current = float(metric)
        if current < self.best * (1 - self.threshold):
            self.best, self.num_bad_epochs = current, 0
        else:
            self.num_bad_epochs += 1
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0
        if self.num_bad_epochs > self.patience:
            new = max(self.optimizer.lr * self.factor, self.min_lr)
            if self.optimizer.lr - new > self.eps:
                self.optimizer.lr = new
            self.cooldown_counter, self.num_bad_epochs = self.cooldown, 0
