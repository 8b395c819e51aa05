"""Stochastic gradient descent: θ ← θ − lr·∇L, the lecture's update rule."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from minnet import hparams
from minnet.autograd.tensor import Tensor

__all__ = ["SGD", "OPTIMIZERS"]


class SGD:
    """SGD with optional momentum, in PyTorch's convention.

    momentum = 0:  θ ← θ − lr·g, in place.
    momentum = μ:  v ← μ·v + g (v = g on the first step),  θ ← θ − lr·v.
    Parameters whose ``grad`` is None (not used in the loss) are left alone.
    """

    def __init__(self, params: Iterable[Tensor], lr: float, momentum: float = 0.0):
        self.params = list(params)
        if not self.params:
            raise ValueError("SGD: got an empty parameter list")
        for p in self.params:
            if not isinstance(p, Tensor):
                raise TypeError(f"SGD: parameters must be Tensors, got {type(p).__name__}")
        self.lr = hparams.RULES["lr"](lr, "SGD: lr")
        self.momentum = hparams.RULES["momentum"](momentum, "SGD: momentum")
        self._velocity: list[np.ndarray | None] = [None] * len(self.params)

    def step(self) -> None:
        lr, mu = self.lr, self.momentum
        if not mu:
            for p in self.params:
                if p.grad is not None:
                    p.data -= lr * p.grad
            return
        for i, p in enumerate(self.params):
            g = p.grad
            if g is None:
                continue
            v = self._velocity[i]
            if v is None:
                v = self._velocity[i] = np.array(g, dtype=p.data.dtype)
            else:
                v *= mu
                v += g
            p.data -= lr * v

    def zero_grad(self) -> None:
        for p in self.params:
            p.grad = None

    def state_dict(self) -> dict[str, Any]:
        """Hyper-parameters and momentum buffers: what resuming needs to continue exactly."""
        return {
            "lr": self.lr,
            "momentum": self.momentum,
            "velocity": [None if v is None else v.copy() for v in self._velocity],
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        velocity = state["velocity"]
        if len(velocity) != len(self.params):
            raise ValueError(
                f"SGD.load_state_dict: state has {len(velocity)} momentum buffers, "
                f"the optimizer has {len(self.params)} parameters"
            )
        restored = []
        for i, (v, p) in enumerate(zip(velocity, self.params, strict=True)):
            if v is not None and np.shape(v) != p.shape:
                raise ValueError(
                    f"SGD.load_state_dict: momentum buffer {i} has shape {np.shape(v)}, "
                    f"parameter has shape {p.shape}"
                )
            restored.append(None if v is None else np.array(v, dtype=p.data.dtype))
        self.lr = float(state["lr"])
        self.momentum = float(state["momentum"])
        self._velocity = restored

    def __repr__(self) -> str:
        return f"SGD(lr={self.lr}, momentum={self.momentum})"


OPTIMIZERS = {"sgd": SGD}
