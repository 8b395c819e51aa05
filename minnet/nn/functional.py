"""Fused layer ops: one graph node where the math would otherwise need several.

``linear`` is the hot path of every MLP; as one node it saves the intermediate
``x @ Wᵀ`` tensor, a broadcast add and its gradient reduction on every step.
"""

from __future__ import annotations

import numpy as np

from minnet.tensor import Tensor, _leaf, _needs_grad, _node

__all__ = ["linear"]


def linear(x: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """y = x Wᵀ + b for x of shape (..., in), W of shape (out, in), b of shape (out,).

    Backward, for upstream G of shape (..., out):
        dL/dx = G W,   dL/dW = Gᵀ x,   dL/db = Σ_rows G
    """
    xd, w = x.data, weight.data
    out = xd @ w.T
    if bias is not None:
        out += bias.data
    parents = (x, weight) if bias is None else (x, weight, bias)
    if not _needs_grad(*parents):
        return _leaf(out)
    x2 = xd if xd.ndim == 2 else xd.reshape(-1, w.shape[1])

    def backward(g):
        g2 = g if g.ndim == 2 else g.reshape(-1, w.shape[0])
        gx = g @ w if x.requires_grad else None
        gw = g2.T @ x2 if weight.requires_grad else None
        if bias is None:
            return gx, gw
        return gx, gw, (np.add.reduce(g2, axis=0) if bias.requires_grad else None)
    return _node(out, parents, backward, "linear")
