"""The activation table: everything minnet knows about an activation, in one row.

The autograd ops (``mn.relu``...), the fused ``Linear`` + activation nodes, the
``nn.ReLU``-style layers, weight initialisation, config and estimator names and
``graph.explain``'s formulas all read this table, so adding an activation is one
entry here.  Each derivative is read off the output y = act(z), which is what the
ops keep for their backward pass.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from minnet.autograd.fills import zeros

__all__ = ["Activation", "ACTIVATIONS", "sigmoid_array", "select"]


def sigmoid_array(x: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """σ(x) = 1 / (1 + exp(−x)) into ``out`` (which may be ``x`` itself).

    Accurate in both tails: exp(−x) = inf gives the right limit 0.
    """
    out = np.empty_like(x) if out is None else out
    with np.errstate(over="ignore"):
        np.exp(np.negative(x, out=out), out=out)
    out += 1
    return np.reciprocal(out, out=out)


# Up to this many elements relu compares against memoized zeros of z's shape (numpy's
# vectorized loop); a bigger array is memory-bound and too big to keep.
ZEROS_LIMIT = 1 << 17


def _relu(z: np.ndarray, out: np.ndarray | None) -> np.ndarray:
    if z.size <= ZEROS_LIMIT:
        return np.maximum(z, zeros(z.shape, z.dtype), out=out)
    return np.maximum(z, 0, out=out)


def _relu_into(z: np.ndarray) -> Callable[[], object]:
    """relu(z) written into z, against zeros of its own (they live as long as z)."""
    floor = np.zeros_like(z)
    return lambda: np.maximum(z, floor, out=z)


_SAME_SIZE_INT = {2: np.int16, 4: np.int32, 8: np.int64}


def select(g: np.ndarray, keep: np.ndarray) -> np.ndarray:
    """``g`` (a float array) where ``keep``, else exactly 0: a select, not a product,
    since inf · 0 would be nan.

    The bits of g are multiplied, as integers, by the 0/1 mask: as cheap as the float
    product, and 0 · (the bits of inf) is the bits of 0.0.  ``np.where`` gives the
    same numbers but is several times slower on the random masks of a ReLU layer.
    """
    bits = _SAME_SIZE_INT.get(g.dtype.itemsize)
    if bits is None:  # no integer of that width (float128)
        return np.where(keep, g, 0)
    return np.multiply(g.view(bits), keep).view(g.dtype)


def _select_into(g: np.ndarray, y: np.ndarray) -> Callable[[], object]:
    """``select(g, y != 0)`` written into g, with its buffers bound once: the mask
    compares against zeros (numpy's vectorized loop) into integers of g's width."""
    bits = _SAME_SIZE_INT.get(g.dtype.itemsize)
    if bits is None:
        return lambda: np.copyto(g, select(g, y != 0))
    g_bits, mask, floor = g.view(bits), np.empty(y.shape, bits), np.zeros_like(y)
    return lambda: (np.not_equal(y, floor, out=mask), np.multiply(g_bits, mask, out=g_bits))


def _sigmoid_backward_into(g: np.ndarray, y: np.ndarray) -> Callable[[], object]:
    s = np.empty_like(y)
    return lambda: (np.multiply(g, y, out=g), np.subtract(1, y, out=s), np.multiply(g, s, out=g))


def _tanh_backward_into(g: np.ndarray, y: np.ndarray) -> Callable[[], object]:
    s = np.empty_like(y)
    return lambda: (np.multiply(y, y, out=s), np.subtract(1, s, out=s), np.multiply(g, s, out=g))


@dataclass(frozen=True)
class Activation:
    """One activation: its forward, its backward from the output, and how to show it."""

    name: str
    forward: Callable[[np.ndarray, np.ndarray | None], np.ndarray]  # act(z), into out if given (may be z)
    backward: Callable[[np.ndarray, np.ndarray], np.ndarray]  # (g, y) -> g·act'(z), y = act(z)
    # a compiled step binds its buffers once and then calls functions of no arguments:
    # z -> one that overwrites z with act(z), the same numbers as ``forward``;
    forward_into: Callable[[np.ndarray], Callable[[], object]]
    # (g, y) -> one that overwrites g with g·act'(z), the same numbers as ``backward``
    backward_into: Callable[[np.ndarray, np.ndarray], Callable[[], object]]
    init: str  # the weight initialisation that suits it (a key of nn.init.INITIALIZERS)
    expression: str  # the output in terms of the input {0}
    derivative: str  # act'(z) in terms of the input {0}
    derivative_from_output: str  # act'(z) in terms of the output {out}


ACTIVATIONS: dict[str, Activation] = {
    a.name: a
    for a in (
        Activation(
            "sigmoid",
            forward=sigmoid_array,
            backward=lambda g, y: g * y * (1 - y),
            forward_into=lambda z: lambda: sigmoid_array(z, z),
            backward_into=_sigmoid_backward_into,
            init="glorot",
            expression="σ({0})",
            derivative="σ({0})(1−σ({0}))",
            derivative_from_output="{out}(1−{out})",
        ),
        Activation(
            "tanh",
            forward=lambda z, out: np.tanh(z, out=out),
            backward=lambda g, y: g * (1 - y * y),
            forward_into=lambda z: lambda: np.tanh(z, out=z),
            backward_into=_tanh_backward_into,
            init="glorot",
            expression="tanh {0}",
            derivative="1−tanh²{0}",
            derivative_from_output="(1−{out}²)",
        ),
        Activation(
            "relu",
            # selects rather than multiplies by a 0/1 mask, so an inf upstream at an
            # inactive unit gives 0, not nan; y = relu(z) ≠ 0 where z > 0 or z is NaN,
            # which passes the gradient (PyTorch's conventions, 0 at z = 0 too)
            forward=_relu,
            backward=lambda g, y: select(g, y != 0),
            forward_into=_relu_into,
            backward_into=_select_into,
            init="he",
            expression="relu {0}",
            derivative="[{0}>0]",
            derivative_from_output="[{out}>0]",
        ),
    )
}
