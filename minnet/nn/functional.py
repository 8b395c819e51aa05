"""Fused layer ops: one graph node where the math would otherwise need several.

``linear`` is the hot path of every MLP; as one node it saves the intermediate
``x @ Wᵀ`` tensor, a broadcast add and its gradient reduction on every step.
``linear_activation`` goes one step further for hidden layers, act(x Wᵀ + b) in one
node, with the activation's forward and derivative taken from the activation table:
``Sequential`` uses it for a Linear followed by an activation layer.
"""

from __future__ import annotations

import numpy as np

from minnet.autograd.activations import ACTIVATIONS, Activation
from minnet.autograd.extend import Formula, constant, record
from minnet.autograd.fills import ones
from minnet.autograd.state import settings
from minnet.autograd.tensor import Tensor

__all__ = ["linear", "linear_activation", "FORMULAS"]

FORMULAS: dict[str, Formula] = {}

# np.dot, not @: the same BLAS product for these shapes, with less dispatch per call.
_dot = np.dot



def _affine_node(
    x: Tensor, weight: Tensor, bias: Tensor | None, activation: Activation | None, op: str
) -> Tensor:
    """y = act(z), z = x Wᵀ + b as one node (no activation when ``activation`` is None).

    Backward, for upstream G of shape (..., out): first through the activation,
    G_z = G ⊙ act'(z) with act' read off the output y; then the linear rule
        dL/dx = G_z W,   dL/dW = G_zᵀ x,   dL/db = Σ_rows G_z
    """
    xd, w = x.data, weight.data
    out = _dot(xd, w.T)
    if bias is not None:
        out += bias.data
    if activation is not None:
        activation.forward(out, out)  # in place
    grad_x, grad_w = x.requires_grad, weight.requires_grad
    grad_b = bias is not None and bias.requires_grad
    if not ((grad_x or grad_w or grad_b) and settings.grad_enabled):  # needs_grad, from the flags read anyway
        return constant(out)
    parents = (x, weight) if bias is None else (x, weight, bias)
    x2 = xd if xd.ndim == 2 else xd.reshape(-1, w.shape[1])
    through = None if activation is None else activation.backward

    def backward(g):
        if through is not None:
            g = through(g, out)
        g2 = g if g.ndim == 2 else g.reshape(-1, w.shape[0])
        gx = _dot(g, w) if grad_x else None
        gw = _dot(g2.T, x2) if grad_w else None
        if bias is None:
            return gx, gw
        return gx, gw, (_dot(ones(len(g2), g2.dtype), g2) if grad_b else None)  # Σ_rows as a gemv
    return record(out, parents, backward, op)


def linear(x: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """y = x Wᵀ + b for x of shape (..., in), W of shape (out, in), b of shape (out,)."""
    return _affine_node(x, weight, bias, None, "linear")


FORMULAS["linear"] = Formula.gradient("{G}·{1}", "{G}ᵀ·{0}", "{G} summed over rows")


def linear_activation(x: Tensor, weight: Tensor, bias: Tensor | None, activation: str) -> Tensor:
    """y = act(x Wᵀ + b), a whole hidden layer as one node; ``activation`` is a key of
    ``ACTIVATIONS``.  Same numbers as ``act(linear(x, W, b))``, one node fewer."""
    return _affine_node(x, weight, bias, ACTIVATIONS[activation], _FUSED_OPS[activation])


_FUSED_OPS = {name: f"linear_{name}" for name in ACTIVATIONS}
for _a in ACTIVATIONS.values():
    _gz = "{G}⊙" + _a.derivative_from_output
    FORMULAS[_FUSED_OPS[_a.name]] = Formula.gradient(f"({_gz})·{{1}}", f"({_gz})ᵀ·{{0}}", f"{_gz} summed over rows")
