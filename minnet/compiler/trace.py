"""Reading a training step off its graph: which MLP, which loss, which penalties.

``trace`` runs the loss function once, eagerly, and walks the graph it recorded.  A
step can be compiled when the graph is an MLP chain (fused ``linear`` nodes, each
optionally followed by an activation) feeding one loss node (softmax cross-entropy
on labels, or MSE), and everything above that loss is linear with constant
coefficients: sums, differences, products with numbers, L2 penalties
(``ce + lam * l2_penalty(model)`` as well as ``l2_regularized``).  The result, a
``Program``, is plain data: which batch argument feeds the chain, the layers, the
loss, and per parameter the L2 coefficient the loss puts on it (dL/dW gains d·W).

Anything else gives a reason string instead, and the step runs eagerly.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from minnet.autograd.activations import ACTIVATIONS
from minnet.autograd.tensor import Tensor

__all__ = ["Layer", "Program", "trace"]

_AFFINE = {"linear": None, **{f"linear_{name}": name for name in ACTIVATIONS}}
_LOSSES = ("softmax_cross_entropy", "mse_loss")


@dataclass(frozen=True)
class Layer:
    """y = act(x Wᵀ + b): parameter indices into ``Program.params`` (bias None if absent)."""

    weight: int
    bias: int | None
    activation: str | None


@dataclass(frozen=True)
class Program:
    """What one training step computes, independent of the batch's values."""

    source: int  # the batch argument that feeds the first layer
    cast: Any  # None, or the dtype the first layer converts that argument to (as eager does)
    layers: tuple[Layer, ...]
    loss: str  # "softmax_cross_entropy" or "mse_loss"
    target: int  # the batch argument holding the target
    coefficient: float  # dL/d(loss node)
    constant: float  # numbers added to the loss
    decay: tuple[float, ...]  # per parameter: the L2 coefficient d (L gains d·½‖p‖²)
    params: tuple[Tensor, ...] = field(compare=False)  # every parameter the step changes
    identity: tuple[int, ...] = ()  # their ids: two traces agree only on the same parameters


def _constant_number(t: Tensor) -> float | None:
    """The value of a one-element constant leaf, else None."""
    if t._backward is None and not t.requires_grad and t.data.size == 1:
        return float(t.data.reshape(()))
    return None


def _argument(array: Any, args: Sequence[Any]) -> int | None:
    """Which batch argument ``array`` is (the object itself, or a Tensor holding it)."""
    for i, a in enumerate(args):
        if array is a or (isinstance(a, Tensor) and array is a.data):
            return i
    return None


def _linear_terms(root: Tensor, optimized: set[int]) -> tuple[dict[Tensor, float], dict[int, tuple[Tensor, float]],
                                                                float] | str:
    """Split the scalar top of the graph into loss nodes with coefficients, L2
    coefficients per parameter and a constant; a reason string if it is not linear."""
    terms: dict[Tensor, float] = {}
    decay: dict[int, tuple[Tensor, float]] = {}
    constant = 0.0

    def penalise(weights: Sequence[Tensor], c: float) -> str | None:
        for w in weights:
            if id(w) not in optimized or not w.requires_grad:
                return "an L2 penalty covers a tensor the optimizer does not update (or a frozen one)"
            decay[id(w)] = (w, decay.get(id(w), (w, 0.0))[1] + c)
        return None

    stack = [(root, 1.0)]
    while stack:
        node, c = stack.pop()
        op, parents = node.op, node._parents
        if node._backward is None:
            value = _constant_number(node)
            if value is None:
                return "the loss adds a tensor that is not a number"
            constant += c * value
        elif node.data.size != 1:
            return f"{op!r} in the loss is not a number"
        elif op in _LOSSES:
            terms[node] = terms.get(node, 0.0) + c
        elif op in ("add", "sub"):
            stack += [(parents[0], c), (parents[1], c if op == "add" else -c)]
        elif op == "neg":
            stack.append((parents[0], -c))
        elif op in ("mul", "div"):
            a, b = parents
            kb = _constant_number(b)
            if kb is not None:
                stack.append((a, c * kb if op == "mul" else c / kb))
            elif op == "mul" and (ka := _constant_number(a)) is not None:
                stack.append((b, c * ka))
            else:
                return f"{op!r} of two tensors in the loss"
        elif op == "l2_penalty":
            reason = penalise(parents, c)
            if reason:
                return reason
        elif op == "l2_regularized":
            stack.append((parents[0], c))
            reason = penalise(parents[1:], c * node._args[0])
            if reason:
                return reason
        else:
            return f"the op {op!r} cannot be compiled"
    return terms, decay, constant


def _chain(top: Tensor, args: Sequence[Any], optimized: set[int]) -> tuple[int, Any, list[tuple[Tensor, Tensor | None,
                                                                                               str | None]]] | str:
    """The MLP below a loss node, first layer first: (weight, bias, activation) per layer."""
    layers: list[tuple[Tensor, Tensor | None, str | None]] = []
    pending: str | None = None  # an activation node seen above the layer it belongs to
    node = top
    while node._backward is not None:
        op = node.op
        if op in ACTIVATIONS and pending is None:
            pending, node = op, node._parents[0]
            continue
        if op not in _AFFINE or (pending is not None and _AFFINE[op] is not None):
            return f"the op {op!r} cannot be compiled"
        x, weight, *rest = node._parents
        bias = rest[0] if rest else None
        for p in (weight, bias):
            if p is not None and (p._backward is not None or id(p) not in optimized or not p.requires_grad):
                return "a layer's parameter is not a leaf the optimizer updates (or it is frozen)"
        layers.append((weight, bias, _AFFINE[op] or pending))
        pending, node = None, x
    if pending is not None or not layers:
        return "the model does not start with a linear layer"
    if node.requires_grad:
        return "the model's input requires a gradient"
    source, cast = _argument(node.data, args), None
    if source is None:  # the argument converted to the weights' dtype, as Linear does
        source, cast = _converted(node, args), node.data.dtype
    if source is None:
        return "the model's input is not one of the step's arguments"
    layers.reverse()
    return source, cast, layers


def _converted(node: Tensor, args: Sequence[Any]) -> int | None:
    """Which array argument the first layer converted into ``node`` (Linear notes it)."""
    made_from: tuple = getattr(node, "_args", ())
    if len(made_from) != 1:
        return None
    for i, a in enumerate(args):
        if made_from[0] is a and a.__class__ is np.ndarray and a.dtype.kind in "fiub":
            return i
    return None


def _column_of_argument(column: np.ndarray, args: Sequence[Any]) -> int | None:
    """Which (N,) argument ``column`` is the (N, 1) view of: the same first element and
    stride, so the same numbers in the same order (a reversed or transposed view is not)."""
    if column.ndim != 2 or column.shape[1] != 1:
        return None
    start = column.__array_interface__["data"][0]
    for i, a in enumerate(args):
        data = a.data if isinstance(a, Tensor) else a
        if (data.__class__ is np.ndarray and data.shape == column.shape[:1] and data.dtype == column.dtype
                and (len(data) < 2 or data.strides[0] == column.strides[0])  # one element: any stride
                and data.__array_interface__["data"][0] == start):
            return i
    return None


def trace(loss_fn: Callable[..., Any], args: Sequence[Any], optimized: Sequence[Tensor]) -> tuple[Program | str, Any]:
    """Run ``loss_fn(*args)`` once and read a ``Program`` off its graph (or a reason
    why it cannot be compiled).  Also returns the loss tensor itself."""
    loss = loss_fn(*args)
    if not isinstance(loss, Tensor) or loss.data.size != 1:
        return "the loss function does not return a one-element Tensor", loss
    ids = {id(p) for p in optimized}
    split = _linear_terms(loss, ids)
    if isinstance(split, str):
        return split, loss
    terms, decay, constant = split
    if len(terms) != 1:
        return f"the loss has {len(terms)} loss nodes; one can be compiled", loss
    (top, coefficient), = terms.items()
    if top.op == "softmax_cross_entropy":
        target, probabilities = top._args
        if probabilities or len(top._parents) != 1:
            return "softmax_cross_entropy with probability targets", loss
    else:
        target_tensor = top._parents[1]
        if target_tensor.requires_grad:
            return "the MSE target requires a gradient", loss
        target = target_tensor.data  # the argument itself, or mse_loss's (N, 1) column of it
    target_index = _argument(target, args)
    if target_index is None and top.op == "mse_loss":
        target_index = _column_of_argument(target, args)
    if target_index is None:
        return "the target is not one of the step's arguments", loss
    chain = _chain(top._parents[0], args, ids)
    if isinstance(chain, str):
        return chain, loss
    source, cast, layers = chain
    used = [t for w, b, _ in layers for t in (w, b) if t is not None]
    if len({id(t) for t in used}) != len(used):
        return "a parameter is used by two layers", loss
    params: list[Tensor] = []
    index: dict[int, int] = {}
    for p in used + [w for w, _ in decay.values()]:
        if id(p) not in index:
            index[id(p)] = len(params)
            params.append(p)
    program = Program(
        source=source, cast=cast,
        layers=tuple(Layer(index[id(w)], None if b is None else index[id(b)], act) for w, b, act in layers),
        loss=top.op, target=target_index, coefficient=coefficient, constant=constant,
        decay=tuple(decay.get(id(p), (p, 0.0))[1] for p in params), params=tuple(params),
        identity=tuple(map(id, params)),
    )
    return program, loss
