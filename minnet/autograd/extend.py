"""How ops are written: the public API that minnet's own ops, layers and losses use.

An op computes its value with numpy; when some input needs a gradient it returns
``record(value, parents, backward, name)``, else ``constant(value)``.  ``backward(g)``
receives the gradient of the output and returns one gradient per parent (None for a
parent that needs none); the engine sums them over every use of a parent and reduces
broadcast gradients back to its shape.  ``backward`` must not hold the output
tensor itself (only arrays and parents), so graphs have no reference cycles::

    def cube(a):
        x = a.data
        out = x ** 3
        if not needs_grad(a):
            return constant(out)
        return record(out, (a,), lambda g: (3 * x * x * g,), "cube")

``Formula`` is how ``graph.explain`` writes an op's rule; each module of ops keeps a
``FORMULAS`` table beside its ops.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import numpy as np

from minnet.autograd.state import settings
from minnet.autograd.tensor import Tensor

__all__ = ["record", "constant", "needs_grad", "operands", "Formula"]

_new = object.__new__
_ndarray = np.ndarray


def constant(value: Any) -> Tensor:
    """A tensor that needs no gradient, around an array an op has just computed (not copied)."""
    out = _new(Tensor)
    out._data = value if value.__class__ is _ndarray else np.asarray(value)
    out.grad = None
    out.requires_grad = False
    out.name = None
    out.op = ""
    out._parents = ()
    out._backward = None
    out._depth = 0
    return out


def record(
    value: Any, parents: Sequence[Tensor], backward: Callable[[np.ndarray], Sequence[Any]], name: str
) -> Tensor:
    """The output of op ``name``: a graph node whose ``backward(g)`` gives one gradient
    (or None) per parent."""
    depth = 0
    for p in parents:
        if p._depth >= depth:
            depth = p._depth + 1
    out = _new(Tensor)
    out._data = value if value.__class__ is _ndarray else np.asarray(value)
    out.grad = None
    out.requires_grad = True
    out.name = None
    out.op = name
    out._parents = parents if parents.__class__ is tuple else tuple(parents)
    out._backward = backward
    out._depth = depth
    return out


def needs_grad(*tensors: Tensor) -> bool:
    """Should an op on these inputs record a node?  False under ``no_grad()``."""
    if not settings.grad_enabled:
        return False
    for t in tensors:
        if t.requires_grad:
            return True
    return False


def _wrap(value: Any, like: Tensor) -> Tensor:
    """A number or array as a constant tensor of ``like``'s dtype."""
    if isinstance(value, (int, float)):
        return constant(np.asarray(value, dtype=like.data.dtype))
    arr = np.asarray(value)
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"cannot combine a Tensor with {type(value).__name__} of dtype {arr.dtype}")
    return constant(arr.astype(like.data.dtype, copy=False))


def operands(a: Any, b: Any) -> tuple[Tensor, Tensor]:
    """Both operands of a binary op as tensors; a number or array takes the other's dtype."""
    if isinstance(a, Tensor):
        return a, (b if isinstance(b, Tensor) else _wrap(b, a))
    if not isinstance(b, Tensor):
        raise TypeError(f"expected a Tensor operand, got {type(a).__name__} and {type(b).__name__}")
    return _wrap(a, b), b


class Formula(NamedTuple):
    """How ``graph.explain`` writes one op.

    Elementwise ops (``expression`` set) give the output in terms of the inputs
    ``{0}``, ``{1}`` and, per input, the local derivative, whose value explain shows.
    Other ops give, per input, its gradient in terms of the upstream gradient ``{G}``,
    the output ``{out}``, the inputs ``{0}``, ``{1}`` and the input in question ``{p}``.
    The last rule repeats for further inputs.
    """

    rules: tuple[str, ...]
    expression: str | None = None

    @classmethod
    def elementwise(cls, expression: str, *derivatives: str) -> Formula:
        return cls(derivatives, expression)

    @classmethod
    def gradient(cls, *rules: str) -> Formula:
        return cls(rules)
