"""Read-only arrays of ones and zeros, memoized per shape and dtype.

The hot paths use them to turn a numpy call that numpy runs slowly into one it runs
fast: a row sum Σ_j a_ij as the matrix-vector product a·1 (BLAS), and ``maximum(z, 0)``
against zeros of z's shape instead of a broadcast scalar, for which numpy has no
vectorized loop.  They are memos of pure functions (a run sees a few batch shapes),
keeping up to 16 arrays each, so callers ask only for small ones; read-only, so that
no caller can change what another one reads.
"""

from __future__ import annotations

import functools

import numpy as np

__all__ = ["ones", "zeros"]


def _read_only(a: np.ndarray) -> np.ndarray:
    a.flags.writeable = False
    return a


@functools.lru_cache(maxsize=16)
def ones(shape: int | tuple[int, ...], dtype: np.dtype) -> np.ndarray:
    """Ones of ``shape``, read-only."""
    return _read_only(np.ones(shape, dtype))


@functools.lru_cache(maxsize=16)
def zeros(shape: int | tuple[int, ...], dtype: np.dtype) -> np.ndarray:
    """Zeros of ``shape``, read-only."""
    return _read_only(np.zeros(shape, dtype))
