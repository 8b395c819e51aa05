"""BLAS level-1 routines (scipy's) for the hot calls numpy makes slowly or in two steps.

scipy.linalg is imported on first use, not with minnet: it is slow to import.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import numpy as np

__all__ = ["BLAS_INT_MAX", "routine", "squared_norm"]

BLAS_INT_MAX = 2**31  # scipy's BLAS counts elements in 32-bit integers


@functools.cache
def routine(name: str, dtype: np.dtype) -> Callable[..., object] | None:
    """scipy's BLAS ``name`` (``"axpy"``, ``"dot"``...) for a float32 or float64 dtype, else None."""
    if dtype.type not in (np.float32, np.float64):
        return None
    from scipy.linalg import blas

    return blas.get_blas_funcs(name, dtype=dtype)


def squared_norm(a: np.ndarray) -> float:
    """‖a‖² as a Python float: one BLAS dot, cheaper than ``float(np.vdot(a, a))``,
    which gives the same sum (numpy's vdot calls the same BLAS routine)."""
    dot = routine("dot", a.dtype)
    if dot is None or not 0 < a.size < BLAS_INT_MAX:  # BLAS takes no empty array, and 32-bit sizes
        return float(np.vdot(a, a))
    flat = a.ravel()
    return dot(flat, flat)  # type: ignore[return-value]
