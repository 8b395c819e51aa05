"""Row-wise reductions of an (n, C) array, written as the numpy calls that run them fast.

numpy reduces along the last axis one row at a time, which costs more than the
arithmetic when rows are short (C classes of a softmax); both functions here give
numpy's own reduction's values by a quicker route.
"""

from __future__ import annotations

import numpy as np

from minnet.autograd.fills import ones

__all__ = ["row_max", "row_sum", "max_across_rows"]


def max_across_rows(n: int, c: int) -> bool:
    """Is an (n, c) row max faster across a transposed copy than along the rows?

    Reducing across rows uses numpy's vectorized loop, at the price of one copy: it
    pays for many short rows (benchmarks/bench_ops.py, "row max").
    """
    return c <= 64 and n >= 2 * c


def row_max(z: np.ndarray) -> np.ndarray:
    """Each row's maximum, as an (n, 1) column (NaN if the row holds one)."""
    n, c = z.shape
    if max_across_rows(n, c):
        return np.maximum.reduce(z.T.copy(), axis=0).reshape(n, 1)
    return np.maximum.reduce(z, axis=1, keepdims=True)


def row_sum(e: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """Each row's sum, as an (n, 1) column: the BLAS product e·1."""
    return np.dot(e, ones((e.shape[1], 1), e.dtype), out=out)
