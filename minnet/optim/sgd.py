"""Stochastic gradient descent: θ ← θ − lr·∇L, the lecture's update rule, in PyTorch's form."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from minnet import hparams
from minnet.autograd.tensor import Tensor
from minnet.optim.optimizer import Optimizer

__all__ = ["SGD"]


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
                    data = p.data  # in place, so not assigned back through the checked setter
                    data -= lr * g
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
            data = p.data
            data -= lr * g
