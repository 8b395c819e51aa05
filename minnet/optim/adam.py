"""Adam and AdamW: adaptive steps from running moments of the gradient, as ``torch.optim``."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import numpy as np

from minnet import hparams
from minnet.autograd.tensor import Tensor
from minnet.optim.optimizer import Optimizer

__all__ = ["Adam", "AdamW"]


class Adam(Optimizer):
    """Adam (Kingma & Ba), PyTorch's formula.  For each parameter with a gradient g, at step t:

        g ← g + weight_decay·θ                    (coupled: the same as an L2 term in the loss)
        m ← β₁·m + (1 − β₁)·g,   v ← β₂·v + (1 − β₂)·g²
        θ ← θ − (lr / (1 − β₁ᵗ)) · m / (√v / √(1 − β₂ᵗ) + eps)
    """

    hyperparameters = ("lr", "betas", "eps", "weight_decay")
    buffers = {"step": "count", "exp_avg": "array", "exp_avg_sq": "array"}
    decoupled = False

    def __init__(self, params: Iterable[Tensor], lr: float = 1e-3, betas: Any = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0):
        super().__init__(params, lr)
        name = type(self).__name__
        self.betas = hparams.RULES["betas"](betas, f"{name}: betas")
        self.eps = hparams.RULES["eps"](eps, f"{name}: eps")
        self.weight_decay = hparams.RULES["weight_decay"](weight_decay, f"{name}: weight_decay")

    def step(self) -> None:
        lr, (beta1, beta2), eps, wd = self.lr, self.betas, self.eps, self.weight_decay
        for p, state in zip(self.params, self.state, strict=True):
            g = p.grad
            if g is None:
                continue
            if wd and self.decoupled:
                p.data *= 1 - lr * wd  # AdamW: decay the weights, outside the adaptive step
            elif wd:
                g = g + wd * p.data
            if not state:
                state.update(step=0, exp_avg=np.zeros_like(p.data), exp_avg_sq=np.zeros_like(p.data))
            state["step"] += 1
            t = state["step"]
            m, v = state["exp_avg"], state["exp_avg_sq"]
            m *= beta1
            m += (1 - beta1) * g
            v *= beta2
            v += (1 - beta2) * g * g
            step_size = lr / (1 - beta1 ** t)
            denom = np.sqrt(v) / math.sqrt(1 - beta2 ** t) + eps
            p.data -= step_size * (m / denom)


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter): θ ← θ·(1 − lr·weight_decay)
    before the Adam step, so the decay is not rescaled by the adaptive denominator.
    Unlike ``loss.l2`` (or Adam's coupled ``weight_decay``) this is not the gradient of
    any penalty in the loss."""

    decoupled = True

    def __init__(self, params: Iterable[Tensor], lr: float = 1e-3, betas: Any = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 1e-2):
        super().__init__(params, lr, betas, eps, weight_decay)
