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


def _affine_node(x: Tensor, weight: Tensor, bias: Tensor | None, op: str,
                 apply: Callable | None = None, slope: Callable | None = None) -> Tensor:
    """y = act(z), z = x Wᵀ + b as one node (no activation when ``apply`` is None).

    Backward, for upstream G of shape (..., out): first through the activation,
    G_z = G ⊙ act'(z) with act' read off the output y; then the linear rule
        dL/dx = G_z W,   dL/dW = G_zᵀ x,   dL/db = Σ_rows G_z
    """
    xd, w = x.data, weight.data
    out = xd @ w.T
    if bias is not None:
        out += bias.data
    if apply is not None:
        apply(out)  # in place
    parents = (x, weight) if bias is None else (x, weight, bias)
    if not _needs_grad(*parents):
        return _leaf(out)
    x2 = xd if xd.ndim == 2 else xd.reshape(-1, w.shape[1])
    grad_x, grad_w = x.requires_grad, weight.requires_grad
    grad_b = bias is not None and bias.requires_grad

    def backward(g):
        if slope is not None:
            g = g * slope(out)
        g2 = g if g.ndim == 2 else g.reshape(-1, w.shape[0])
        gx = g @ w if grad_x else None
        gw = g2.T @ x2 if grad_w else None
        if bias is None:
            return gx, gw
        return gx, gw, (np.add.reduce(g2, axis=0) if grad_b else None)
    return _node(out, parents, backward, op)


def linear(x: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """y = x Wᵀ + b for x of shape (..., in), W of shape (out, in), b of shape (out,)."""
    return _affine_node(x, weight, bias, "linear")


# name: (apply it in place to z, its derivative act'(z) read off the output y, op name)
FUSED_ACTIVATIONS: dict[str, tuple[Callable, Callable, str]] = {
    "relu": (lambda z: np.maximum(z, 0, out=z), lambda y: y > 0, "linear_relu"),
    "sigmoid": (lambda z: sigmoid_array(z, out=z), lambda y: y * (1 - y), "linear_sigmoid"),
    "tanh": (lambda z: np.tanh(z, out=z), lambda y: 1 - y * y, "linear_tanh"),
}


def linear_activation(x: Tensor, weight: Tensor, bias: Tensor | None, activation: str) -> Tensor:
    """y = act(x Wᵀ + b), a whole hidden layer as one node.

    act' is taken from the output (relu: y > 0, sigmoid: y(1 − y), tanh: 1 − y²).
    Same numbers as ``act(linear(x, W, b))``, one node fewer.
    """
    apply, slope, op = FUSED_ACTIVATIONS[activation]
    return _affine_node(x, weight, bias, op, apply, slope)
