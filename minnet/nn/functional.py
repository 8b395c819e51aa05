"""Fused layer ops: one graph node where the math would otherwise need several.

``linear`` is the hot path of every MLP; as one node it saves the intermediate
``x @ Wᵀ`` tensor, a broadcast add and its gradient reduction on every step.
``linear_activation`` goes one step further for hidden layers, act(x Wᵀ + b) in one
node: ``Sequential`` uses it for a Linear followed by ReLU, Sigmoid or Tanh.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from minnet.ops import sigmoid_array
from minnet.tensor import Tensor, _leaf, _needs_grad, _node

__all__ = ["linear", "linear_activation", "FUSED_ACTIVATIONS"]


def _affine(x: Tensor, weight: Tensor, bias: Tensor | None) -> np.ndarray:
    out = x.data @ weight.data.T
    if bias is not None:
        out += bias.data
    return out


def _affine_backward(x: Tensor, weight: Tensor, bias: Tensor | None) -> Callable:
    """The rule of z = x Wᵀ + b, for upstream G of shape (..., out):
        dL/dx = G W,   dL/dW = Gᵀ x,   dL/db = Σ_rows G
    """
    xd, w = x.data, weight.data
    x2 = xd if xd.ndim == 2 else xd.reshape(-1, w.shape[1])

    def backward(g):
        g2 = g if g.ndim == 2 else g.reshape(-1, w.shape[0])
        gx = g @ w if x.requires_grad else None
        gw = g2.T @ x2 if weight.requires_grad else None
        if bias is None:
            return gx, gw
        return gx, gw, (np.add.reduce(g2, axis=0) if bias.requires_grad else None)
    return backward


def linear(x: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """y = x Wᵀ + b for x of shape (..., in), W of shape (out, in), b of shape (out,)."""
    out = _affine(x, weight, bias)
    parents = (x, weight) if bias is None else (x, weight, bias)
    if not _needs_grad(*parents):
        return _leaf(out)
    return _node(out, parents, _affine_backward(x, weight, bias), "linear")


# activation: (apply it in place to z, its derivative act'(z) read off the output y)
FUSED_ACTIVATIONS: dict[str, tuple[Callable, Callable]] = {
    "relu": (lambda z: np.maximum(z, 0, out=z), lambda y: y > 0),
    "sigmoid": (lambda z: sigmoid_array(z, out=z), lambda y: y * (1 - y)),
    "tanh": (lambda z: np.tanh(z, out=z), lambda y: 1 - y * y),
}


def linear_activation(x: Tensor, weight: Tensor, bias: Tensor | None, activation: str) -> Tensor:
    """y = act(x Wᵀ + b), a whole hidden layer as one node.

    Backward: first through the activation, G_z = G ⊙ act'(z) with act' taken from
    the output (relu: y > 0, sigmoid: y(1 − y), tanh: 1 − y²), then the linear rule
    with G_z.  Same numbers as ``act(linear(x, W, b))``, one node fewer.
    """
    apply, slope = FUSED_ACTIVATIONS[activation]
    out = apply(_affine(x, weight, bias))
    parents = (x, weight) if bias is None else (x, weight, bias)
    if not _needs_grad(*parents):
        return _leaf(out)
    affine_backward = _affine_backward(x, weight, bias)

    def backward(g):
        return affine_backward(g * slope(out))
    return _node(out, parents, backward, f"linear_{activation}")
