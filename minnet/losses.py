"""Losses and the L2 penalty, each one fused graph node with its gradient beside it.

Conventions, written once:

* ``mse_loss`` is ½·mean((pred − target)²): the lecture's L = ½(y − t)² averaged, and
  scikit-learn's squared loss.  (PyTorch's ``mse_loss`` has no ½.)
* ``softmax_cross_entropy`` is the mean over the batch of −log softmax(logits)[target].
* ``l2_penalty`` is R = ½ Σ‖W‖² over weight matrices, biases excluded, so the
  regularized loss reads like the math: ``L_reg = L + lam * R``.
  ``l2_regularized(L, model, lam)`` is the same L_reg as a single node.

How λ (``lam``) relates to other libraries, for a minibatch of size n:
scikit-learn's MLP minimises L + (alpha / n)·R, so alpha = λ·n; PyTorch's SGD
``weight_decay`` adds wd·W to the gradient, which is the same as λ = wd (but
PyTorch applies it to biases too unless told otherwise).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable
from typing import Any

import numpy as np

from minnet import hparams
from minnet.autograd.blas import squared_norm
from minnet.autograd.extend import Formula, constant, needs_grad, record
from minnet.autograd.rows import row_max, row_sum
from minnet.autograd.state import settings
from minnet.autograd.tensor import Tensor
from minnet.nn.module import Module

__all__ = ["mse_loss", "softmax_cross_entropy", "l2_penalty", "l2_regularized", "weight_matrices", "LOSSES",
           "FORMULAS"]

FORMULAS: dict[str, Formula] = {}


def _as_input(value: Any, like: Tensor | None = None) -> Tensor:
    if isinstance(value, Tensor):
        return value
    return Tensor(value, dtype=None if like is None else like.dtype)


def mse_loss(pred: Tensor, target: Any) -> Tensor:
    """½ · mean over all elements of (pred − target)².  d/dpred = (pred − target) / size.

    ``target`` must have pred's shape; a target of shape (N,) is accepted for a
    prediction of shape (N, 1), the usual single-output regression.
    """
    pred = _as_input(pred)
    target = _as_input(target, like=pred)
    if target.shape != pred.shape:
        if pred.ndim == 2 and pred.shape[1] == 1 and target.shape == pred.shape[:1]:
            target = target.reshape(-1, 1)
        else:
            raise ValueError(f"mse_loss: target has shape {target.shape}, expected {pred.shape} like pred")
    if not pred.data.size:
        raise ValueError(f"mse_loss: empty batch (pred has shape {pred.shape}); a mean needs at least one element")
    diff = pred.data - target.data
    out = np.asarray(0.5 * np.mean(diff * diff), dtype=pred.dtype)
    if not needs_grad(pred, target):
        return constant(out)

    def backward(g):
        gp = g * diff / diff.size
        return (gp if pred.requires_grad else None), (-gp if target.requires_grad else None)
    return record(out, (pred, target), backward, "mse_loss")


FORMULAS["mse_loss"] = Formula.gradient("{G}·({0}−{1})/n", "−{G}·({0}−{1})/n")


@functools.lru_cache(maxsize=16)
def _rows(n: int) -> np.ndarray:
    """0..n-1, read-only: a memo of a pure function (a run has a few batch sizes)."""
    rows = np.arange(n)
    rows.flags.writeable = False
    return rows


def _label_positions(labels: np.ndarray, n: int, classes: int) -> np.ndarray:
    """Flat positions of each row's true class in an (n, classes) array.

    ``ravel_multi_index`` also checks every label against [0, classes), so a
    negative label cannot silently pick a class from the end.
    """
    if labels.shape != (n,):
        raise ValueError(
            f"softmax_cross_entropy: target has shape {labels.shape}; expected class labels of shape "
            f"({n},) or probabilities of shape ({n}, {classes})"
        )
    if labels.dtype.kind not in "iu":
        if labels.dtype.kind != "f" or not np.all(labels == np.round(labels)):
            raise ValueError("softmax_cross_entropy: class labels must be integers")
        labels = labels.astype(np.intp)
    try:
        return np.ravel_multi_index((_rows(n), labels), (n, classes))
    except ValueError:
        bad = labels[(labels < 0) | (labels >= classes)][0]
        raise ValueError(f"softmax_cross_entropy: class label {bad} is outside [0, {classes})") from None


def softmax_cross_entropy(logits: Tensor | np.ndarray, target: Any) -> Tensor:
    """Mean over the batch of −log softmax(logits)[target], computed stably.

    ``logits`` has shape (N, C); ``target`` is integer labels (N,) or probabilities
    (N, C).  Fused: the gradient is (softmax(logits) − onehot(target)) / N (for
    probabilities p, rows that need not sum to one: (softmax·Σp − p) / N).  A
    probability target that requires grad gets −log softmax(logits) / N; labels are
    not differentiable, and a label target that requires grad is an error.
    """
    if not isinstance(logits, Tensor):
        logits = Tensor(logits)
    z = logits.data
    if z.ndim != 2:
        raise ValueError(f"softmax_cross_entropy: logits must have shape (N, C), got {z.shape}")
    if not z.size:
        raise ValueError(f"softmax_cross_entropy: empty batch (logits of shape {z.shape}); "
                         "it needs at least one row and one class")
    n = len(z)
    shifted = z - row_max(z)  # row_max, row_sum: numpy's quick routes for short rows
    e = np.exp(shifted)
    total = row_sum(e)
    log_total = np.log(total)

    target_tensor = None
    if isinstance(target, Tensor):
        target_tensor, target = target, target.data
    elif target.__class__ is not np.ndarray:
        target = np.asarray(target)
    if target.shape == z.shape:
        probs = target.astype(z.dtype, copy=False)
        out = np.add.reduce(probs * (log_total - shifted), axis=None) / n
        positions = None
    else:
        if target_tensor is not None and target_tensor.requires_grad:
            raise ValueError(
                "softmax_cross_entropy: class labels are not differentiable; "
                "pass them without requires_grad (or pass probabilities of shape (N, C))"
            )
        positions = _label_positions(target, n, z.shape[1])
        out = (np.add.reduce(log_total, axis=None) - np.add.reduce(shifted.take(positions))) / n
    grad_target = positions is None and target_tensor is not None and target_tensor.requires_grad
    grad_logits = logits.requires_grad
    if not ((grad_logits or grad_target) and settings.grad_enabled):  # needs_grad, from the flags read anyway
        return constant(out)
    parents = (logits,) if not grad_target or target_tensor is None else (logits, target_tensor)

    def backward(g):
        scale = float(g) / n
        gz = None
        if grad_logits:
            gz = np.divide(e, total, order="C")  # softmax, C-ordered so ravel() below is a view
            if positions is None:  # rows of probs need not sum to one
                gz = gz * probs.sum(axis=1, keepdims=True) - probs
            else:
                gz.ravel()[positions] -= 1  # minus the one-hot target
            gz *= scale
        if not grad_target:
            return (gz,)
        return gz, (log_total - shifted) * scale  # d/dp of Σ p·(log Σe − shifted) / N
    node = record(out, parents, backward, "softmax_cross_entropy")
    node._args = (target, positions is None)  # what a compiled step needs: the target, and its kind
    return node


FORMULAS["softmax_cross_entropy"] = Formula.gradient("{G}·(softmax({0}) − onehot)/N", "−{G}·log softmax({0})/N")


def weight_matrices(model: Module) -> list[Tensor]:
    """The parameters L2 regularisation covers: weight matrices (≥ 2 dims), not biases.

    Training loops find them once and pass the list to ``l2_penalty``.
    """
    return [p for p in model.parameters() if p.data.ndim >= 2]


def _half_squared_norms(model_or_params: Module | Iterable[Tensor], caller: str) -> tuple:
    """The tensors ``l2_penalty`` covers, their arrays, and R = ½ Σ ‖W‖² in their dtype."""
    if isinstance(model_or_params, Module):
        weights = tuple(weight_matrices(model_or_params))
    else:
        weights = tuple(model_or_params)
    if not weights:
        raise ValueError(f"{caller}: no weights to penalise")
    values, squares = [], 0.0
    for w in weights:
        v = w.data
        values.append(v)
        squares += squared_norm(v)
    return weights, values, np.asarray(0.5 * squares, dtype=values[0].dtype)


def l2_penalty(model_or_params: Module | Iterable[Tensor]) -> Tensor:
    """R = ½ Σ ‖W‖², one node; dR/dW = W.

    Given a Module, W ranges over its weight matrices (parameters with ≥ 2 dims),
    so biases are excluded.  Given tensors, every one of them is penalised.
    """
    weights, values, out = _half_squared_norms(model_or_params, "l2_penalty")
    if not needs_grad(*weights):
        return constant(out)

    def backward(g):
        return [g * v for v in values]
    return record(out, weights, backward, "l2_penalty")


FORMULAS["l2_penalty"] = Formula.gradient("{G}·{p}")  # the same rule for every weight


def l2_regularized(loss: Tensor | np.ndarray, model_or_params: Module | Iterable[Tensor], lam: float) -> Tensor:
    """loss + lam * l2_penalty(model_or_params) as one node: the same numbers.

    Backward: dL_reg/dloss = 1, and the penalty adds lam·W to each W's gradient.
    Written out, the regularized loss is three graph nodes (R, lam·R and their sum);
    as one node it saves a small MLP's training step several microseconds of
    bookkeeping.  Training loops use this form, the examples the readable one.
    """
    if not (lam.__class__ is float and 0 <= lam < math.inf):  # the common case, checked cheaply
        lam = hparams.RULES["l2"](lam, "l2_regularized: lam")
    if not isinstance(loss, Tensor):
        loss = Tensor(loss)
    if loss.data.size != 1:
        raise ValueError(f"l2_regularized: loss must be a single number, got shape {loss.shape}")
    weights, values, penalty = _half_squared_norms(model_or_params, "l2_regularized")
    scale = np.asarray(lam, dtype=penalty.dtype)
    x = loss.data
    out = (x if x.ndim else x[()]) + scale[()] * penalty[()]  # the arithmetic of loss + lam * R
    parents = (loss, *weights)
    if not needs_grad(*parents):
        return constant(out)

    def backward(g):
        g_penalty = g * scale
        return (g, *[g_penalty * v for v in values])
    node = record(out, parents, backward, "l2_regularized")
    node._args = (lam,)
    return node


FORMULAS["l2_regularized"] = Formula.gradient("{G}", "λ·{G}·{p}")  # the loss, then every weight


LOSSES = {
    "mse": mse_loss,
    "softmax_cross_entropy": softmax_cross_entropy,
}
