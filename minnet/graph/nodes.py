"""The graph behind a tensor as a list, and the labels and number formats both views use."""

from __future__ import annotations

import re
import unicodedata

import numpy as np

from minnet import losses
from minnet.autograd import linalg, ops
from minnet.autograd.engine import topological_order
from minnet.autograd.extend import Formula
from minnet.autograd.tensor import Tensor
from minnet.nn import functional

__all__ = ["nodes", "labels", "format_array", "is_constant", "operand", "MAX_ELEMENTS", "FORMULAS"]

# How each of minnet's ops is written, gathered from the tables beside the ops.
FORMULAS: dict[str, Formula] = {**ops.FORMULAS, **linalg.FORMULAS, **functional.FORMULAS, **losses.FORMULAS}

MAX_ELEMENTS = 6  # tensors up to this size are shown by value, larger ones by shape


def nodes(tensor: Tensor) -> list[Tensor]:
    """Every tensor in the graph behind ``tensor``, leaves included, inputs first.

    The engine's topological order covers the op outputs; the leaves (inputs,
    parameters and constants) are slotted in just before their first user.
    """
    if tensor._backward is None:
        return [tensor]
    order: list[Tensor] = []
    seen: set[int] = set()
    for node in topological_order(tensor):
        for parent in node._parents:
            if parent._backward is None and id(parent) not in seen:
                seen.add(id(parent))
                order.append(parent)
        order.append(node)
    return order


def labels(order: list[Tensor]) -> dict[int, str]:
    """Short unique labels: the tensor's name, a small constant's value, else v<index>."""
    counts: dict[str, int] = {}
    for t in order:
        if t.name:
            counts[t.name] = counts.get(t.name, 0) + 1
    names = {}
    for i, t in enumerate(order):
        if t.name:
            names[id(t)] = t.name if counts[t.name] == 1 else f"{t.name}#{i}"
        elif is_constant(t) and t.data.size == 1:
            names[id(t)] = format_array(t.data)
        else:
            names[id(t)] = f"v{i}"
    return names


def is_constant(t: Tensor) -> bool:
    return not t.requires_grad and not t._parents


def format_array(a: np.ndarray, limit: int = MAX_ELEMENTS) -> str:
    """``3``, ``[1, 2.5]``, ``[[1, 0], [0, 1]]``; larger arrays by shape and norm, ``(3, 3) ‖1.7‖``."""
    a = np.asarray(a)
    if a.size > limit:
        return f"{a.shape} ‖{np.linalg.norm(a):.4g}‖"
    if a.ndim == 0:
        return f"{a.item():.4g}"
    return "[" + ", ".join(format_array(row, limit) for row in a) + "]"




def operand(label: str) -> str:
    """A label as it reads inside a formula: ``w``, ``0.5``, but ``(K⁻¹)`` and ``(BBᵀ)``."""
    simple = label.isidentifier() and not any(unicodedata.category(c) == "Lm" for c in label)
    return label if simple or re.fullmatch(r"\d+(\.\d+)?(e[-+]\d+)?", label) else f"({label})"
