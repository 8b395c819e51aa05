"""The graph behind a tensor as Graphviz DOT source, one labelled node per op and leaf.

Nodes are labelled the way the lecture works a graph by hand: ``m = x+y`` then
``= 1+2 = 3`` (other ops as ``label = op(inputs)``), leaves as ``x = 1``, and once
``backward()`` has run each node's gradient, ``∂f/∂m = 3``.  Ops are ellipses, leaves
that require grad blue boxes, constants dashed grey boxes.
"""

from __future__ import annotations

import numpy as np

from minnet.autograd.tensor import Tensor
from minnet.graph.nodes import FORMULAS, MAX_ELEMENTS, format_array, labels, nodes, operand

__all__ = ["to_dot", "node_rows"]

MAX_VALUE_NODES = 30  # graphs with more nodes are drawn with shapes only


def _dot_label(rows: list[str]) -> str:
    """A quoted DOT string with one line per row."""
    escaped = (r.replace("\\", "\\\\").replace('"', '\\"') for r in rows)
    return '"' + "\\n".join(escaped) + '"'


def node_rows(tensor: Tensor, t: Tensor, names: dict[int, str], values: bool,
              max_elements: int = MAX_ELEMENTS) -> list[tuple[str, str]]:
    """The lines of ``t``'s label in the graph of ``tensor``, each tagged with what it shows.

    Tags: ``title`` (``m = x+y``, or ``x = 1`` for a scalar leaf), ``shape``, ``value``
    (the forward value, ``= 1+2 = 3``) and ``grad`` (``∂f/∂m = 3``); the step-through
    page reveals the value and grad lines one step at a time.
    """
    name = names[id(t)]
    args = [names[id(p)] for p in t._parents]
    formula = FORMULAS.get(t.op) if t.op else None
    expression = None if formula is None else formula.expression
    scalar_value = values and t.data.size == 1
    if expression is not None:
        # the lecture's way: m = x+y, then = 1+2 = 3 when the inputs are numbers
        title = f"{name} = {expression.format(*map(operand, args))}"
    elif t.op:
        title = f"{name} = {t.op}({', '.join(args)})"
    else:
        title = name if t.requires_grad else (t.name or "const")
    rows = [("title", title)]
    if t.ndim:
        rows.append(("shape", f"shape {t.shape}"))
    if scalar_value and expression is not None and all(p.data.size == 1 for p in t._parents):
        worked = expression.format(*(format_array(p.data) for p in t._parents))
        rows.append(("value", f"= {worked} = {format_array(t.data)}"))
    elif scalar_value and t.op:
        rows.append(("value", f"= {format_array(t.data)}"))
    elif scalar_value:
        rows[0] = ("title", f"{title} = {format_array(t.data)}")
    elif values and t.data.size <= max_elements:
        rows.append(("value", f"value {format_array(t.data, max_elements)}"))
    if values and t.grad is not None:
        gradient = f"∂{names[id(tensor)]}/∂{name}"
        if t.grad.size <= max_elements:
            rows.append(("grad", f"{gradient} = {format_array(t.grad, max_elements)}"))
        else:
            rows.append(("grad", f"‖{gradient}‖ = {np.linalg.norm(t.grad):.4g}"))
    return rows


def to_dot(tensor: Tensor, *, values: bool | None = None, max_elements: int = MAX_ELEMENTS) -> str:
    """Graphviz DOT source of the graph that computed ``tensor``.

    Ops are ellipses titled ``label = op(inputs)``; leaves that require grad are blue
    boxes; constants are dashed grey boxes; the output has a double border.  Each
    node shows its shape and, when ``values`` is on, its value and its gradient once
    ``backward()`` has run (for tensors of more than ``max_elements`` elements, no
    value and only the gradient's norm).
    ``values=None`` turns values on for graphs of at most 30 nodes, so a training
    step's graph stays readable.  Node ids follow the traversal order, so the same
    graph always gives the same text.
    """
    order = nodes(tensor)
    if values is None:
        values = len(order) <= MAX_VALUE_NODES
    names = labels(order)
    ids = {id(t): f"v{i}" for i, t in enumerate(order)}
    lines = [
        "digraph minnet {",
        "  rankdir=LR;",
        '  node [fontname="Helvetica", fontsize=11];',
        '  edge [color="#555555"];',
    ]
    for t in order:
        if t.op:
            style = 'shape=ellipse, style=filled, fillcolor="#fdf1d6"'
        elif t.requires_grad:
            style = 'shape=box, style="rounded,filled", fillcolor="#dbe9f6"'
        else:
            style = 'shape=box, style=dashed, color="#888888", fontcolor="#555555"'
        if t is tensor:
            style += ", peripheries=2"
        rows = [text for _, text in node_rows(tensor, t, names, values, max_elements)]
        lines.append(f"  {ids[id(t)]} [label={_dot_label(rows)}, {style}];")
    for t in order:
        for p in t._parents:
            lines.append(f"  {ids[id(p)]} -> {ids[id(t)]};")
    lines.append("}")
    return "\n".join(lines) + "\n"
