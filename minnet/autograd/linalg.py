"""Matrix calculus: inverse, log-determinant, trace and linear solve.

These are the ops the lecture's Gaussian-process style losses need,
``-γ/2·log|K|`` and ``-½·tr(K⁻¹BBᵀ)`` with ``K = αAAᵀ + β⁻¹I``.  All accept a
stack of matrices (``(..., n, n)``).  The rules, for an upstream gradient G:

    inv:     Y = K⁻¹         dL/dK = -Yᵀ G Yᵀ
    logdet:  y = log|det K|  dL/dK = g · K⁻ᵀ
    trace:   y = tr K        dL/dK = g · I
    solve:   X = A⁻¹B        dL/dB = A⁻ᵀ G,  dL/dA = -(dL/dB) Xᵀ
"""

from __future__ import annotations

from typing import Any

import numpy as np

from minnet.autograd.extend import Formula, constant, needs_grad, operands, record
from minnet.autograd.tensor import Tensor

__all__ = ["inv", "logdet", "trace", "solve", "FORMULAS"]

FORMULAS: dict[str, Formula] = {}

_LinAlgError = np.linalg.LinAlgError


def _mT(x: np.ndarray) -> np.ndarray:
    return np.swapaxes(x, -1, -2)


def _check_square(x: np.ndarray, name: str) -> None:
    if x.ndim < 2 or x.shape[-1] != x.shape[-2]:
        raise ValueError(f"{name}: expected a square matrix (..., n, n), got shape {x.shape}")


def inv(a: Tensor) -> Tensor:
    x = a.data
    _check_square(x, "inv")
    try:
        out = np.linalg.inv(x)
    except _LinAlgError:
        raise _LinAlgError(f"inv: matrix of shape {x.shape} is singular (not invertible)") from None
    if not needs_grad(a):
        return constant(out)

    def backward(g):  # dL/dK = -K⁻ᵀ (dL/dK⁻¹) K⁻ᵀ, the lecture's hint
        out_t = _mT(out)
        return (-(out_t @ g @ out_t),)
    return record(out, (a,), backward, "inv")
FORMULAS["inv"] = Formula.gradient("−{out}ᵀ·{G}·{out}ᵀ")


def logdet(a: Tensor) -> Tensor:
    """log|det K| of a square matrix (any sign of det K)."""
    x = a.data
    _check_square(x, "logdet")
    sign, out = np.linalg.slogdet(x)
    if np.any(sign == 0):
        raise _LinAlgError(f"logdet: matrix of shape {x.shape} is singular (determinant is 0)")
    if not needs_grad(a):
        return constant(out)

    def backward(g):  # d log|det K| / dK = K⁻ᵀ
        return (np.asarray(g)[..., None, None] * _mT(np.linalg.inv(x)),)
    return record(out, (a,), backward, "logdet")
FORMULAS["logdet"] = Formula.gradient("{G}·{0}⁻ᵀ")


def trace(a: Tensor) -> Tensor:
    x = a.data
    if x.ndim < 2:
        raise ValueError(f"trace: expected a matrix (..., n, m), got shape {x.shape}")
    out = np.trace(x, axis1=-2, axis2=-1)
    if not needs_grad(a):
        return constant(out)
    eye = np.eye(x.shape[-2], x.shape[-1], dtype=x.dtype)

    def backward(g):  # d tr(K) / dK = I
        return (np.asarray(g)[..., None, None] * eye,)
    return record(out, (a,), backward, "trace")
FORMULAS["trace"] = Formula.gradient("{G}·I")


def solve(a: Any, b: Any) -> Tensor:
    """X with AX = B, without forming A⁻¹; B may be a vector (n,) or matrices (..., n, k)."""
    a, b = operands(a, b)
    x, y = a.data, b.data
    _check_square(x, "solve")
    try:
        out = np.linalg.solve(x, y)
    except _LinAlgError:
        raise _LinAlgError(f"solve: matrix A of shape {x.shape} is singular") from None
    except ValueError:
        raise ValueError(f"solve: shapes {x.shape} and {y.shape} are not compatible") from None
    if not needs_grad(a, b):
        return constant(out)
    vector = y.ndim == 1

    def backward(g):
        gb = np.linalg.solve(_mT(x), g[..., None] if vector else g)
        ga = -(gb @ _mT(out[..., None] if vector else out)) if a.requires_grad else None
        return ga, (gb[..., 0] if vector else gb)
    return record(out, (a, b), backward, "solve")
FORMULAS["solve"] = Formula.gradient("−{0}⁻ᵀ{G}·{out}ᵀ", "{0}⁻ᵀ·{G}")
