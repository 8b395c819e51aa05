"""Reverse-mode differentiation: walk the graph from the output back to the leaves.

The engine knows nothing about particular ops.  Each node carries a ``_backward``
closure that maps the gradient of its output to one gradient per parent (or None for
a parent that needs none); the engine calls them in reverse topological order, sums
the contributions a node receives from all its uses (fan-out), and reduces broadcast
gradients back to each parent's shape -- the only place broadcasting is undone.
"""

from __future__ import annotations

import operator
from typing import Any

import numpy as np

__all__ = ["backward", "topological_order", "unbroadcast"]

_ndarray = np.ndarray
_depth = operator.attrgetter("_depth")


def topological_order(root: Any) -> list:
    """The op outputs behind ``root`` (root included), every one after its inputs.

    Only nodes with a backward rule are listed: leaves have nothing to propagate.
    A node is deeper than each of its inputs (``_depth``, set by ``record``), so
    sorting the reachable nodes by depth orders them; finding them is one pass over
    the edges, with no recursion however deep the graph.
    """
    if root._backward is None:
        return []
    order = [root]
    seen = {root}
    for node in order:  # the list grows while it is walked: breadth-first search
        for parent in node._parents:
            if parent._backward is not None and parent not in seen:
                seen.add(parent)
                order.append(parent)
    order.sort(key=_depth)
    return order


def unbroadcast(grad: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Sum ``grad`` over the axes numpy broadcast to reach it from ``shape``."""
    extra = grad.ndim - len(shape)
    if extra > 0:
        grad = grad.sum(axis=tuple(range(extra)))
    axes = tuple(i for i, n in enumerate(shape) if n == 1 and grad.shape[i] != 1)
    if axes:
        grad = grad.sum(axis=axes, keepdims=True)
    return grad


def _conform(g: np.ndarray, data: np.ndarray, node: Any) -> np.ndarray:
    """A rule's gradient as an array of its input's shape and dtype.

    Rules may return a broadcast shape or another float dtype; any other shape is a
    bug in the rule.
    """
    if g.shape != data.shape:
        g = unbroadcast(g, data.shape)
        if g.shape != data.shape:
            raise RuntimeError(
                f"backward of {node.op!r} gave a gradient of shape {g.shape} "
                f"for an input of shape {data.shape}"
            )
    return np.asarray(g, dtype=data.dtype)


def backward(root: Any, grad: np.ndarray) -> None:
    """Propagate ``grad`` (d final / d root) to every node of root's graph.

    Leaves accumulate into ``.grad`` across calls, as in PyTorch; the gradients of
    inner nodes are recomputed on every call and stay readable afterwards.  A leaf's
    ``.grad`` is always its own writable array (a gradient that is a view or that
    another node also holds, as with pass-through ops such as add, is copied for
    it), so later contributions are added to it in place.
    """
    if root._backward is None:
        root.grad = grad.copy() if root.grad is None else root.grad + grad
        return
    order = topological_order(root)
    for node in order:
        node.grad = None
    root.grad = grad

    for node in reversed(order):
        upstream = node.grad
        if upstream is None:  # no path from root's gradient reaches this node
            continue
        parents, grads = node._parents, node._backward(upstream)
        if len(grads) != len(parents):  # cheaper than zip(strict=True), which raises inside
            raise RuntimeError(f"backward of {node.op!r} gave {len(grads)} gradients for {len(parents)} inputs")
        for parent, g in zip(parents, grads):  # noqa: B905  (lengths checked above; a keyword makes zip slow)
            if g is None or not parent.requires_grad:
                continue
            if g.__class__ is not _ndarray:  # numpy turns 0-d results into scalars
                g = np.asarray(g)
            data = parent._data
            if g.shape != data.shape or g.dtype is not data.dtype:
                g = _conform(g, data, node)
            accumulated = parent.grad
            if parent._backward is not None:  # inner node: its gradient may share memory
                parent.grad = g if accumulated is None else accumulated + g
            elif accumulated is not None:     # a leaf's gradient is its own: add in place
                accumulated += g
            elif g is upstream or g.base is not None:  # shared, or a view of something else
                parent.grad = g.copy()
            else:
                parent.grad = g
