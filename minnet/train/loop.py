"""The one training epoch: every trainer in minnet (``train.py``, the scikit-learn
estimators, the benchmark) runs its minibatch steps through ``train_epoch``, each
step compiled (``minnet.compile_step``; models it cannot compile run eagerly).

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
from minnet.compiler import CompiledStep, compile_step
from minnet.losses import l2_regularized
from minnet.nn.module import Module
from minnet.train.errors import DivergedError

__all__ = ["train_epoch", "training_step", "regularized_loss", "batch_loss", "NonFiniteError"]


class NonFiniteError(DivergedError):
    """The loss or a weight became NaN or infinite; ``what`` says which and where."""

    def __init__(self, what: str):
        super().__init__(what)
        self.what = what


def regularized_loss(
    model: Module, loss_fn: Callable[[Tensor, Any], Tensor], l2: float = 0.0, weights: Sequence[Tensor] = (),
) -> Callable[[np.ndarray, np.ndarray], Tensor]:
    """``loss(X_batch, target_batch)`` = L + l2·½Σ‖W‖² over ``weights`` (one
    ``l2_regularized`` node): the loss one training step minimises."""
    def loss(xb: np.ndarray, yb: np.ndarray) -> Tensor:
        out = loss_fn(model(xb), yb)
        return l2_regularized(out, weights, l2) if l2 else out
    return loss


def batch_loss(
    model: Module, loss_fn: Callable[[Tensor, Any], Tensor], X: np.ndarray, target: np.ndarray,
    index: np.ndarray, l2: float = 0.0, weights: Sequence[Tensor] = (),
) -> Tensor:
    """That loss on the rows ``index``."""
    return regularized_loss(model, loss_fn, l2, weights)(X.take(index, axis=0), target.take(index, axis=0))


def training_step(
    model: Module, loss_fn: Callable[[Tensor, Any], Tensor], optimizer: Any, l2: float = 0.0,
    weights: Sequence[Tensor] = (), clip: float = 0.0,
) -> CompiledStep:
    """The compiled step ``step(X_batch, target_batch)`` of that loss: made once per
    run and reused every epoch, so each batch shape is traced once."""
    return compile_step(regularized_loss(model, loss_fn, l2, weights), optimizer, clip)


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
    step: CompiledStep | None = None,
) -> float:
    """One pass of ``zero_grad(); backward(); step()`` over ``batches`` (row indices).

    The loss of a batch is ``loss_fn(model(X[rows]), target[rows])``, plus
    ``l2 · ½Σ‖W‖²`` over ``weights`` when ``l2`` > 0 (one ``l2_regularized`` node).
    With ``clip`` > 0 the gradients' joint norm is clipped to it before each step.
    ``step`` is that step from ``training_step`` (made here when not given).
    Returns the mean loss over the rows; raises NonFiniteError on divergence.
    """
    if step is None:
        step = training_step(model, loss_fn, optimizer, l2, weights, clip)
    total, rows = 0.0, 0
    for number, index in enumerate(batches, start=1):
        value = step(X.take(index, axis=0), target.take(index, axis=0))  # take: cheaper than X[index]
        if not math.isfinite(value):
            raise NonFiniteError(f"the loss became {value} at step {number}")
        total += value * len(index)
        rows += len(index)
    for param in optimizer.params:
        if not np.isfinite(param.data).all():
            raise NonFiniteError("a weight became NaN or infinite")
    if not rows:
        raise ValueError("train_epoch: got no batches: nothing to train on")
    return total / rows
