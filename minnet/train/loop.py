"""The one training epoch: every trainer in minnet (``train.py``, the scikit-learn
estimators, the benchmark) runs its minibatch steps through ``train_epoch``.

The divergence policy lives here, once: a step whose loss is NaN or infinite stops
the epoch before its backward pass and update (so the weights stay those of the
last good step), and after the last step the parameters are checked once, which
catches an update that blew up the weights.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np

from minnet.autograd.tensor import Tensor
from minnet.losses import l2_regularized
from minnet.nn.module import Module
from minnet.optim import clip_grad_norm
from minnet.train.errors import DivergedError

__all__ = ["train_epoch", "batch_loss", "NonFiniteError"]


class NonFiniteError(DivergedError):
    """The loss or a weight became NaN or infinite; ``what`` says which and where."""

    def __init__(self, what: str):
        super().__init__(what)
        self.what = what


def batch_loss(
    model: Module, loss_fn: Callable[[Tensor, Any], Tensor], X: np.ndarray, target: np.ndarray,
    index: np.ndarray, l2: float = 0.0, weights: Sequence[Tensor] = (),
) -> Tensor:
    """L + l2·½Σ‖W‖² on the rows ``index``: the loss one training step minimises."""
    loss = loss_fn(model(X[index]), target[index])
    return l2_regularized(loss, weights, l2) if l2 else loss


def train_epoch(
    model: Module,
    loss_fn: Callable[[Tensor, Any], Tensor],
    optimizer: Any,
    X: np.ndarray,
    target: np.ndarray,
    batches: Iterable[np.ndarray],
    l2: float = 0.0,
    weights: Sequence[Tensor] = (),
    clip: float = 0.0,
) -> float:
    """One pass of ``zero_grad(); backward(); step()`` over ``batches`` (row indices).

    The loss of a batch is ``loss_fn(model(X[rows]), target[rows])``, plus
    ``l2 · ½Σ‖W‖²`` over ``weights`` when ``l2`` > 0 (one ``l2_regularized`` node).
    With ``clip`` > 0 the gradients' joint norm is clipped to it before each step.
    Returns the mean loss over the rows; raises NonFiniteError on divergence.
    """
    total, rows = 0.0, 0
    for step, index in enumerate(batches, start=1):
        loss = batch_loss(model, loss_fn, X, target, index, l2, weights)
        value = loss.item()
        if not math.isfinite(value):
            raise NonFiniteError(f"the loss became {value} at step {step}")
        optimizer.zero_grad()
        loss.backward()
        if clip:
            clip_grad_norm(optimizer.params, clip)
        optimizer.step()
        total += value * len(index)
        rows += len(index)
    for param in optimizer.params:
        if not np.isfinite(param.data).all():
            raise NonFiniteError("a weight became NaN or infinite")
    if not rows:
        raise ValueError("train_epoch: got no batches: nothing to train on")
    return total / rows
