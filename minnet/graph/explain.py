"""Explain the backward pass behind a tensor: the chain rule, one edge per row.

``explain(f)`` lists, in the order :func:`minnet.autograd.engine.backward` ran it,
every edge a gradient crossed: the node and its forward value, the input and its
value, the local derivative, the upstream gradient and their product.  Nothing here
differentiates anything itself: the numbers come from each node's own backward rule,
called again, and the formulas from the ``FORMULAS`` table beside each op.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from minnet.autograd.engine import topological_order, unbroadcast
from minnet.autograd.extend import Formula
from minnet.autograd.tensor import Tensor
from minnet.graph.nodes import FORMULAS, MAX_ELEMENTS, format_array, labels, nodes, operand

__all__ = ["explain", "explain_rows", "BackwardStep"]


class BackwardStep(NamedTuple):
    """One edge of the backward pass: what ``child``'s rule sent to ``parent``."""

    step: int               # 1-based position in the order the engine ran
    child: str              # label of the op output (the node whose rule ran)
    op: str
    child_value: np.ndarray  # forward value of the op output
    parent: str             # label of the input that received the gradient
    value: np.ndarray       # forward value of the parent
    formula: str            # the local derivative or gradient rule, as text
    local: np.ndarray | None  # ∂child/∂parent elementwise; None for matrix ops
    upstream: np.ndarray    # child's gradient, as it entered the rule
    product: np.ndarray     # what was added to the parent's gradient (parent's shape)


def _formula(op: str, i: int, args: list[str], out: str, root: str) -> str:
    """The rule for input ``i`` of ``out = op(*args)``, as text."""
    operands = [operand(a) for a in args]
    formula = FORMULAS.get(op, Formula.gradient(f"{op}'s rule applied to {{G}}"))
    rule = formula.rules[min(i, len(formula.rules) - 1)]  # the last one repeats
    if formula.expression is not None:
        return f"∂({formula.expression.format(*operands)})/∂{args[i]} = {rule.format(*operands)}"
    gradient = f"∂{root}/∂{out}"
    return f"∂{root}/∂{args[i]} = " + rule.format(*operands, G=gradient, out=operand(out), p=operands[i])


def explain_rows(tensor: Tensor) -> list[BackwardStep]:
    """The backward pass that ended at ``tensor``, one row per edge a gradient crossed.

    Rows follow the engine's order (reverse topological); within a node, its inputs
    in order.  Values come from calling each node's own backward rule again on the
    gradient it received, so they are what ``backward()`` added up.
    """
    if tensor.grad is None:
        if not tensor.requires_grad:
            raise ValueError(
                "explain: this tensor was not computed from any tensor with requires_grad=True, "
                "so it has no backward pass"
            )
        raise RuntimeError("explain: no gradients yet; call .backward() on this tensor first")
    names = labels(nodes(tensor))
    root = names[id(tensor)]
    rows: list[BackwardStep] = []
    for node in reversed(topological_order(tensor)):
        if node._backward is None or node.grad is None:
            continue
        args = [names[id(p)] for p in node._parents]
        grads = node._backward(node.grad)
        elementwise = node.op in FORMULAS and FORMULAS[node.op].expression is not None
        locals_ = node._backward(np.ones_like(node.data)) if elementwise else None
        for i, (parent, g) in enumerate(zip(node._parents, grads, strict=True)):
            if g is None or not parent.requires_grad:
                continue
            product = unbroadcast(np.asarray(g), parent.shape).astype(parent.dtype, copy=False)
            rows.append(BackwardStep(
                step=len(rows) + 1,
                child=names[id(node)],
                child_value=node.data,
                op=node.op,
                parent=args[i],
                value=parent.data,
                formula=_formula(node.op, i, args, names[id(node)], root),
                local=None if locals_ is None else np.asarray(locals_[i]),
                upstream=node.grad,
                product=product,
            ))
    return rows


def explain(tensor: Tensor, *, max_elements: int = MAX_ELEMENTS) -> str:
    """The backward pass behind ``tensor`` as a text table (call ``backward()`` first).

    Each row is one use of the chain rule: the gradient flowing into an input is the
    upstream gradient of the op's output times the local derivative.  Arrays larger
    than ``max_elements`` are shown by shape and norm; for inputs used more than once,
    the sum of their contributions is listed below the table.
    """
    rows = explain_rows(tensor)
    name = labels(nodes(tensor))[id(tensor)]
    if not rows:
        return f"{name} is a leaf: the backward pass has nothing to propagate"

    def fmt(a: np.ndarray) -> str:
        return format_array(a, max_elements)

    header = ("step", "node", "node value", "input", "input value", "local derivative", "its value",
              f"upstream ∂{name}/∂node", f"product → ∂{name}/∂input")
    table = [header] + [
        (str(r.step), f"{r.child} = {r.op}", fmt(r.child_value), r.parent, fmt(r.value), r.formula,
         "—" if r.local is None else fmt(r.local), fmt(r.upstream), fmt(r.product))
        for r in rows
    ]
    widths = [max(len(line[c]) for line in table) for c in range(len(header))]
    text = [f"forward pass: {name} = {fmt(tensor.data)}",
            f"backward pass of {name}, in the order the engine ran it (∂{name}/∂{name} = {fmt(np.asarray(tensor.grad))}):"]
    for j, line in enumerate(table):
        text.append("  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip())
        if j == 0:
            text.append("  ".join("-" * w for w in widths))
    uses: dict[str, list[BackwardStep]] = {}
    for r in rows:
        uses.setdefault(r.parent, []).append(r)
    for parent, used in uses.items():
        if len(used) > 1:
            steps = ", ".join(str(r.step) for r in used)
            total = np.sum([r.product for r in used], axis=0)
            if total.size > max_elements:
                terms = "the sum of those products"
            else:
                parts = [fmt(r.product) for r in used]
                terms = " + ".join(f"({p})" if p.startswith("-") else p for p in parts)
            text.append(f"{parent} is used {len(used)} times (steps {steps}): "
                        f"∂{name}/∂{parent} = {terms} = {fmt(total)}")
    return "\n".join(text)
