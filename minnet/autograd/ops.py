"""The formula sheet: every differentiable op, its forward value beside its backward rule.

Each op computes its value with numpy and, only when some input requires grad (and
grad mode is on), records a node whose ``backward(g)`` closure gives one gradient per
input: the upstream gradient ``g`` times the op's local derivative -- the chain rule,
one line per input.  A rule may return a gradient of the broadcast shape; the engine
reduces it to the input's shape.  Rules return None for inputs that need no gradient,
so no work is spent on data or constants.  Under each op, its entry in ``FORMULAS``
says how ``graph.explain`` writes that rule.

Ops are written with the public :mod:`minnet.extend` API, and bound as Tensor methods
and operators at the bottom of this file (Tensor declares them for type checkers).
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Any

import numpy as np

from minnet.autograd.activations import ACTIVATIONS, Activation, select
from minnet.autograd.extend import Formula, constant, needs_grad, operands, record
from minnet.autograd.rows import row_max
from minnet.autograd.tensor import Axis, Tensor

__all__ = [
    "add", "sub", "mul", "div", "pow", "matmul", "neg",
    "exp", "log", "sqrt", "abs", "sigmoid", "tanh", "relu", "activate",
    "sum", "mean", "max", "logsumexp", "log_softmax", "softmax",
    "reshape", "transpose", "getitem", "FORMULAS",
]

FORMULAS: dict[str, Formula] = {}


def _elementwise(op: Callable, a: Any, b: Any, name: str) -> tuple[Tensor, Tensor, np.ndarray]:
    """Both operands as tensors, and ``op`` (``operator.add``, ...) applied to them
    with numpy's broadcasting.

    Two one-element (0-d) operands, as in ``loss + lam * penalty``, are combined as
    numpy scalars: the same arithmetic, at a third of the cost of a ufunc call.
    """
    a, b = operands(a, b)
    x, y = a.data, b.data
    if not x.ndim and not y.ndim:
        return a, b, op(x[()], y[()])
    try:
        return a, b, op(x, y)
    except ValueError:
        raise ValueError(f"{name}: shapes {a.shape} and {b.shape} cannot be broadcast together") from None


def _expand(g: np.ndarray, axis: Axis, keepdims: bool) -> np.ndarray:
    """Put back the axes a reduction removed, so ``g`` broadcasts against its input."""
    if keepdims or axis is None:
        return g
    return np.expand_dims(g, axis)


# ---- arithmetic -------------------------------------------------------------------

def add(a: Any, b: Any) -> Tensor:
    a, b, out = _elementwise(operator.add, a, b, "add")
    if not needs_grad(a, b):
        return constant(out)

    def backward(g):  # d(a+b)/da = 1, d(a+b)/db = 1
        return g, g
    return record(out, (a, b), backward, "add")
FORMULAS["add"] = Formula.elementwise("{0}+{1}", "1", "1")


def sub(a: Any, b: Any) -> Tensor:
    a, b, out = _elementwise(operator.sub, a, b, "sub")
    if not needs_grad(a, b):
        return constant(out)

    def backward(g):  # d(a-b)/da = 1, d(a-b)/db = -1
        return g, (-g if b.requires_grad else None)
    return record(out, (a, b), backward, "sub")
FORMULAS["sub"] = Formula.elementwise("{0}−{1}", "1", "−1")


def mul(a: Any, b: Any) -> Tensor:
    a, b, out = _elementwise(operator.mul, a, b, "mul")
    if not needs_grad(a, b):
        return constant(out)
    x, y = a.data, b.data

    def backward(g):  # d(a*b)/da = b, d(a*b)/db = a
        return (g * y if a.requires_grad else None), (g * x if b.requires_grad else None)
    return record(out, (a, b), backward, "mul")
FORMULAS["mul"] = Formula.elementwise("{0}·{1}", "{1}", "{0}")


def div(a: Any, b: Any) -> Tensor:
    a, b, out = _elementwise(operator.truediv, a, b, "div")
    if not needs_grad(a, b):
        return constant(out)
    y = b.data

    def backward(g):  # d(a/b)/da = 1/b, d(a/b)/db = -a/b² = -out/b
        ga = g / y
        return (ga if a.requires_grad else None), (-ga * out if b.requires_grad else None)
    return record(out, (a, b), backward, "div")
FORMULAS["div"] = Formula.elementwise("{0}/{1}", "1/{1}", "−{0}/{1}²")


def pow(a: Any, b: Any) -> Tensor:
    a, b, out = _elementwise(operator.pow, a, b, "pow")
    if not needs_grad(a, b):
        return constant(out)
    x, y = a.data, b.data

    def backward(g):  # d(a**b)/da = b·a**(b-1), d(a**b)/db = a**b · log(a)
        ga = gb = None
        if a.requires_grad:  # 0 where b = 0, even at a = 0 (where a**(b-1) is inf)
            with np.errstate(divide="ignore", invalid="ignore"):
                ga = np.where(y == 0, 0, g * y * x ** (y - 1))
        if b.requires_grad:  # at a = 0 the limit of a**b · log(a): 0 for b ≥ 0, −inf for b < 0
            zero, at_zero = x == 0, np.where(y < 0, -np.inf, 0).astype(out.dtype)
            gb = g * np.where(zero, at_zero, np.where(zero, 0, out) * np.log(np.where(zero, 1, x)))
        return ga, gb
    return record(out, (a, b), backward, "pow")
FORMULAS["pow"] = Formula.elementwise("{0}^{1}", "{1}·{0}^({1}−1)", "{0}^{1}·log {0}")


def neg(a: Tensor) -> Tensor:
    out = -a.data
    if not needs_grad(a):
        return constant(out)

    def backward(g):  # d(-a)/da = -1
        return (-g,)
    return record(out, (a,), backward, "neg")
FORMULAS["neg"] = Formula.elementwise("−{0}", "−1")


def matmul(a: Any, b: Any) -> Tensor:
    """Matrix product with numpy's rules: 1-D operands, batches, broadcasting.

    For Z = XY the lecture's rules are dL/dX = dL/dZ·Yᵀ and dL/dY = Xᵀ·dL/dZ; a 1-D
    operand is treated as a row (left) or column (right) vector and squeezed back.
    """
    a, b = operands(a, b)
    x, y = a.data, b.data
    try:
        out = np.matmul(x, y)
    except ValueError:
        raise ValueError(f"matmul: shapes {a.shape} and {b.shape} are not aligned") from None
    if not needs_grad(a, b):
        return constant(out)

    if x.ndim == 2 and y.ndim == 2:
        def backward_2d(g):
            return (g @ y.T if a.requires_grad else None), (x.T @ g if b.requires_grad else None)
        return record(out, (a, b), backward_2d, "matmul")

    x2 = x[None, :] if x.ndim == 1 else x
    y2 = y[:, None] if y.ndim == 1 else y

    def backward(g):  # restore the squeezed axes: last one first, so 1-D @ 1-D works
        if y.ndim == 1:
            g = np.expand_dims(g, -1)
        if x.ndim == 1:
            g = np.expand_dims(g, -2)
        ga = gb = None
        if a.requires_grad:
            ga = g @ np.swapaxes(y2, -1, -2)
            ga = ga[..., 0, :] if x.ndim == 1 else ga
        if b.requires_grad:
            gb = np.swapaxes(x2, -1, -2) @ g
            gb = gb[..., 0] if y.ndim == 1 else gb
        return ga, gb
    return record(out, (a, b), backward, "matmul")
FORMULAS["matmul"] = Formula.gradient("{G}·{1}ᵀ", "{0}ᵀ·{G}")


# ---- elementwise functions ----------------------------------------------------------

def exp(a: Tensor) -> Tensor:
    out = np.exp(a.data)
    if not needs_grad(a):
        return constant(out)

    def backward(g):  # d exp(a)/da = exp(a), the output itself
        return (g * out,)
    return record(out, (a,), backward, "exp")
FORMULAS["exp"] = Formula.elementwise("exp {0}", "exp {0}")


def log(a: Tensor) -> Tensor:
    x = a.data
    out = np.log(x)
    if not needs_grad(a):
        return constant(out)

    def backward(g):  # d log(a)/da = 1/a
        return (g / x,)
    return record(out, (a,), backward, "log")
FORMULAS["log"] = Formula.elementwise("log {0}", "1/{0}")


def sqrt(a: Tensor) -> Tensor:
    out = np.sqrt(a.data)
    if not needs_grad(a):
        return constant(out)

    def backward(g):  # d sqrt(a)/da = 1 / (2 sqrt(a))
        return (g * 0.5 / out,)
    return record(out, (a,), backward, "sqrt")
FORMULAS["sqrt"] = Formula.elementwise("√{0}", "1/(2√{0})")


def abs(a: Tensor) -> Tensor:
    x = a.data
    out = np.abs(x)
    if not needs_grad(a):
        return constant(out)

    def backward(g):  # d|a|/da = sign(a), taken as 0 at 0
        return (g * np.sign(x),)
    return record(out, (a,), backward, "abs")
FORMULAS["abs"] = Formula.elementwise("|{0}|", "sign {0}")


def activate(a: Tensor, activation: Activation | str) -> Tensor:
    """The op of an activation-table entry (or its name): its forward, and its
    backward from the output."""
    if isinstance(activation, str):
        activation = ACTIVATIONS[activation]
    out = activation.forward(a.data, None)
    if not needs_grad(a):
        return constant(out)
    backward = activation.backward
    return record(out, (a,), lambda g: (backward(g, out),), activation.name)


def sigmoid(a: Tensor) -> Tensor:
    """σ(a) = 1 / (1 + exp(−a)); dσ/da = σ(1 − σ), read off the output."""
    return activate(a, _SIGMOID)


def tanh(a: Tensor) -> Tensor:
    """tanh(a); its derivative 1 − tanh² is read off the output."""
    return activate(a, _TANH)


def relu(a: Tensor) -> Tensor:
    """max(a, 0); the gradient passes where a > 0 and is 0 elsewhere (0 at a = 0)."""
    return activate(a, _RELU)


_SIGMOID, _TANH, _RELU = ACTIVATIONS["sigmoid"], ACTIVATIONS["tanh"], ACTIVATIONS["relu"]
for _activation in ACTIVATIONS.values():
    FORMULAS[_activation.name] = Formula.elementwise(_activation.expression, _activation.derivative)

# ---- reductions ---------------------------------------------------------------------

def sum(a: Tensor, axis: Axis = None, keepdims: bool = False) -> Tensor:
    out = a.data.sum(axis=axis, keepdims=keepdims)
    if not needs_grad(a):
        return constant(out)
    shape = a.shape

    def backward(g):  # every summed element gets the upstream gradient
        return (np.broadcast_to(_expand(g, axis, keepdims), shape),)
    return record(out, (a,), backward, "sum")
FORMULAS["sum"] = Formula.gradient("{G} copied to every element of {0}")


def mean(a: Tensor, axis: Axis = None, keepdims: bool = False) -> Tensor:
    out = a.data.mean(axis=axis, keepdims=keepdims)
    if not needs_grad(a):
        return constant(out)
    shape = a.shape
    count = a.data.size // (out.size or 1)  # not max(): this module shadows the builtin

    def backward(g):  # each of the count averaged elements gets g / count
        return (np.broadcast_to(_expand(g, axis, keepdims) / count, shape),)
    return record(out, (a,), backward, "mean")
FORMULAS["mean"] = Formula.gradient("{G}/n for every element of {0}")


def max(a: Tensor, axis: Axis = None, keepdims: bool = False) -> Tensor:
    x = a.data
    out = x.max(axis=axis, keepdims=keepdims)
    if not needs_grad(a):
        return constant(out)

    def backward(g):  # the gradient goes to the maximum, ties share it equally, the rest get exactly 0
        m = _expand(out, axis, keepdims)
        hit = (x == m) | ((x != x) & (m != m))  # a NaN maximum: the NaNs it came from
        return (select(_expand(g, axis, keepdims) / hit.sum(axis=axis, keepdims=True), hit),)
    return record(out, (a,), backward, "max")
FORMULAS["max"] = Formula.gradient("{G} at the maximum of {0}, 0 elsewhere")


def _shift(x: np.ndarray, axis: Axis) -> np.ndarray:
    """The maximum along ``axis``, kept as a size-1 axis: the stabilising shift of the
    ops below (for the rows of a matrix, ``row_max``'s quicker route; the same values).
    An empty slice has maximum −inf, so a sum of no exponentials is 0, as in PyTorch."""
    if x.ndim == 2 and axis in (1, -1) and x.shape[1]:
        return row_max(x)
    return x.max(axis=axis, keepdims=True, initial=-np.inf)


def logsumexp(a: Tensor, axis: Axis = -1, keepdims: bool = False) -> Tensor:
    """log Σ exp(a) along ``axis``, shifted by the maximum so it never overflows."""
    x = a.data
    shift = _shift(x, axis)
    shift = np.where(np.isfinite(shift), shift, 0)
    e = np.exp(x - shift)
    total = e.sum(axis=axis, keepdims=True)
    with np.errstate(divide="ignore"):  # a sum of exp(−inf) only is 0, and its log −inf is the answer
        out = np.log(total) + shift
    if not keepdims:
        out = out.reshape(()) if axis is None else np.squeeze(out, axis=axis)
    if not needs_grad(a):
        return constant(out)

    def backward(g):  # d lse(a)/da = softmax(a)
        return (_expand(g, axis, keepdims) * (e / total),)
    return record(out, (a,), backward, "logsumexp")
FORMULAS["logsumexp"] = Formula.gradient("{G}·softmax({0})")


def log_softmax(a: Tensor, axis: int = -1) -> Tensor:
    x = a.data
    shifted = x - _shift(x, axis)
    with np.errstate(divide="ignore"):  # log 0 only for an empty slice, whose output is empty
        out = shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))
    if not needs_grad(a):
        return constant(out)

    def backward(g):  # d log_softmax/da: g - softmax · Σg
        return (g - np.exp(out) * g.sum(axis=axis, keepdims=True),)
    return record(out, (a,), backward, "log_softmax")
FORMULAS["log_softmax"] = Formula.gradient("{G} − softmax({0})·Σ{G}")


def softmax(a: Tensor, axis: int = -1) -> Tensor:
    x = a.data
    e = np.exp(x - _shift(x, axis))
    out = e / e.sum(axis=axis, keepdims=True)
    if not needs_grad(a):
        return constant(out)

    def backward(g):  # Jacobian diag(s) - s sᵀ applied to g: s · (g - Σ g·s)
        return (out * (g - (g * out).sum(axis=axis, keepdims=True)),)
    return record(out, (a,), backward, "softmax")
FORMULAS["softmax"] = Formula.gradient("{out}⊙({G} − Σ {G}⊙{out})")


# ---- shape and indexing -------------------------------------------------------------

def _shape_arg(shape: tuple) -> tuple:
    """Accept both ``reshape(2, 3)`` and ``reshape((2, 3))``."""
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        return tuple(shape[0])
    return shape


def reshape(a: Tensor, *shape: Any) -> Tensor:
    try:
        out = a.data.reshape(_shape_arg(shape))
    except ValueError:
        raise ValueError(f"reshape: cannot reshape shape {a.shape} into {_shape_arg(shape)}") from None
    if not needs_grad(a):
        return constant(out)
    original = a.shape

    def backward(g):
        return (g.reshape(original),)
    return record(out, (a,), backward, "reshape")
FORMULAS["reshape"] = Formula.gradient("{G} reshaped back to the shape of {0}")


def transpose(a: Tensor, *axes: Any) -> Tensor:
    """Permute axes; with none given, reverse them (so ``.T`` of a matrix)."""
    order = _shape_arg(axes) or None
    out = a.data.transpose(order)
    if not needs_grad(a):
        return constant(out)
    inverse = None if order is None else tuple(np.argsort(np.mod(order, a.ndim)))  # axes may be negative

    def backward(g):
        return (g.transpose(inverse),)
    return record(out, (a,), backward, "transpose")
FORMULAS["transpose"] = Formula.gradient("({G})ᵀ")


def _is_advanced(index: Any) -> bool:
    parts = index if isinstance(index, tuple) else (index,)
    return any(isinstance(p, (list, np.ndarray)) for p in parts)


def _positions(index: Tensor) -> np.ndarray:
    """A Tensor used as an index: float positions, which must be whole numbers.  (A
    Tensor holds floats, so a boolean mask would be read as positions 0 and 1: masks
    index as numpy bool arrays.)"""
    values = index.data
    positions = values.astype(np.intp)
    if not np.array_equal(positions, values):
        raise IndexError("a Tensor used as an index must hold whole numbers (positions); "
                         "for a boolean mask, index with a numpy bool array")
    return positions


def getitem(a: Tensor, index: Any) -> Tensor:
    """Basic slicing, integer-array and boolean-mask (numpy array) indexing; repeated
    indices add up their gradients."""
    if isinstance(index, Tensor):
        index = _positions(index)
    elif isinstance(index, tuple):
        index = tuple(_positions(p) if isinstance(p, Tensor) else p for p in index)
    out = a.data[index]
    if not needs_grad(a):
        return constant(out)
    x = a.data
    advanced = _is_advanced(index)

    def backward(g):
        full = np.zeros_like(x)
        if advanced:
            np.add.at(full, index, g)
        else:
            full[index] = g
        return (full,)
    return record(out, (a,), backward, "getitem")
FORMULAS["getitem"] = Formula.gradient("{G} scattered into zeros shaped like {0}")


# ---- Tensor methods and operators ---------------------------------------------------

def _reflected(op: Callable[[Any, Any], Tensor]) -> Callable[[Tensor, Any], Tensor]:
    return lambda self, other: op(other, self)


_METHODS: dict[str, Any] = {
    "__add__": add, "__radd__": _reflected(add),
    "__sub__": sub, "__rsub__": _reflected(sub),
    "__mul__": mul, "__rmul__": _reflected(mul),
    "__truediv__": div, "__rtruediv__": _reflected(div),
    "__pow__": pow, "__rpow__": _reflected(pow),
    "__matmul__": matmul, "__rmatmul__": _reflected(matmul),
    "__neg__": neg, "__abs__": abs, "__getitem__": getitem,
    "exp": exp, "log": log, "sqrt": sqrt, "abs": abs,
    "sigmoid": sigmoid, "tanh": tanh, "relu": relu,
    "sum": sum, "mean": mean, "max": max,
    "logsumexp": logsumexp, "log_softmax": log_softmax, "softmax": softmax,
    "reshape": reshape, "transpose": transpose, "T": property(transpose),
}
for _name, _method in _METHODS.items():
    setattr(Tensor, _name, _method)
