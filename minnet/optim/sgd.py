"""Stochastic gradient descent: θ ← θ − lr·∇L, the lecture's update rule, in PyTorch's form."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from minnet import hparams
from minnet.autograd.blas import BLAS_INT_MAX, routine
from minnet.autograd.tensor import Tensor
from minnet.optim.optimizer import Optimizer

__all__ = ["SGD"]


def descend(data: np.ndarray, grad: np.ndarray, lr: float) -> None:
    """data ← data − lr·grad, in place.

    One BLAS axpy where it applies (a writable C-contiguous float32 or float64 array, a
    gradient of its shape and dtype, lr ≠ 0) instead of numpy's two calls, whose product
    ``lr * grad`` is a new array.  Both make one multiply and one add per element; axpy
    may fuse them into one rounding.  The wrapper updates a misaligned or byte-swapped
    array as a converted copy, and then numpy's path does the update, as it does for
    anything else (with its broadcasting and casting) and for lr = 0, which BLAS skips
    even for an inf gradient.
    """
    axpy = routine("axpy", data.dtype)
    flags = data.flags
    # contiguous: else ravel copies; writable: the wrapper would write a read-only array;
    # BLAS takes no empty array and counts in 32-bit integers
    if (axpy is not None and lr and grad.dtype is data.dtype and grad.shape == data.shape
            and flags.c_contiguous and flags.writeable and 0 < data.size < BLAS_INT_MAX):
        y = data.ravel()
        if axpy(grad.ravel(), y, a=-lr) is y:  # updated in place, not as a copy
            return
    data -= lr * grad  # (after a copy was updated, y is untouched)


class SGD(Optimizer):
    """SGD with momentum, dampening, weight decay and Nesterov momentum, as ``torch.optim.SGD``.

    For each parameter with a gradient g (parameters whose ``grad`` is None are left alone):

        g ← g + weight_decay·θ                       (weight_decay > 0)
        b ← g on the first step, else μ·b + (1 − dampening)·g     (momentum μ > 0)
        g ← g + μ·b with nesterov, else g ← b
        θ ← θ − lr·g                                  (in place)

    With momentum 0 and no weight decay, ``step()`` is exactly θ ← θ − lr·∇L.
    ``weight_decay`` decays every parameter it is given (biases too, as in PyTorch);
    ``loss.l2`` decays weight matrices only.
    """

    hyperparameters = ("lr", "momentum", "dampening", "weight_decay", "nesterov")
    buffers = {"momentum_buffer": "array"}

    def __init__(self, params: Iterable[Tensor], lr: float, momentum: float = 0.0, dampening: float = 0.0,
                 weight_decay: float = 0.0, nesterov: bool = False):
        super().__init__(params, lr)
        self.momentum = hparams.RULES["momentum"](momentum, "SGD: momentum")
        self.dampening = hparams.RULES["dampening"](dampening, "SGD: dampening")
        self.weight_decay = hparams.RULES["weight_decay"](weight_decay, "SGD: weight_decay")
        self.nesterov = hparams.RULES["nesterov"](nesterov, "SGD: nesterov")
        self._check_together(vars(self), "SGD")

    @staticmethod
    def _check_together(values: dict[str, Any], where: str) -> None:
        if values["nesterov"] and (values["momentum"] <= 0 or values["dampening"] != 0):
            raise ValueError(f"{where}: nesterov needs momentum > 0 and dampening = 0 (as in PyTorch)")

    def step(self) -> None:
        lr, mu, wd = self.lr, self.momentum, self.weight_decay
        if not mu and not wd:  # the lecture's rule: nothing else to compute
            for p in self.params:
                g = p.grad
                if g is not None:
                    descend(p.data, g, lr)  # in place, so not assigned back through the checked setter
            return
        for p, state in zip(self.params, self.state, strict=True):
            g = p.grad
            if g is None:
                continue
            if wd:
                g = g + wd * p.data
            if mu:
                buf = state.get("momentum_buffer")
                if buf is None:
                    buf = state["momentum_buffer"] = np.array(g, dtype=p.data.dtype)
                else:
                    buf *= mu
                    buf += (1 - self.dampening) * g if self.dampening else g
                g = g + mu * buf if self.nesterov else buf
            descend(p.data, g, lr)
