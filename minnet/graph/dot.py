"""Draw the graph behind a tensor: Graphviz DOT source, and rendering it to SVG/PNG/PDF.

Nodes are labelled the way the lecture works a graph by hand: ``m = x+y`` then
``= 1+2 = 3`` (other ops as ``label = op(inputs)``), leaves as ``x = 1``, and once
``backward()`` has run each node's gradient, ``∂f/∂m = 3``.  Ops are ellipses, leaves
that require grad blue boxes, constants dashed grey boxes.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np

from minnet.autograd.tensor import Tensor
from minnet.graph.nodes import FORMULAS, MAX_ELEMENTS, format_array, labels, nodes, operand

__all__ = ["to_dot", "render"]

MAX_VALUE_NODES = 30  # graphs with more nodes are drawn with shapes only


def _dot_label(rows: list[str]) -> str:
    """A quoted DOT string with one line per row."""
    escaped = (r.replace("\\", "\\\\").replace('"', '\\"') for r in rows)
    return '"' + "\\n".join(escaped) + '"'


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
    root = names[id(tensor)]
    for t in order:
        name = names[id(t)]
        args = [names[id(p)] for p in t._parents]
        formula = FORMULAS.get(t.op)
        scalar_value = values and t.data.size == 1
        if t.op and formula is not None and formula.expression is not None:
            # the lecture's way: m = x+y, then = 1+2 = 3 when the inputs are numbers
            title = f"{name} = {formula.expression.format(*map(operand, args))}"
            style = 'shape=ellipse, style=filled, fillcolor="#fdf1d6"'
        elif t.op:
            title = f"{name} = {t.op}({', '.join(args)})"
            style = 'shape=ellipse, style=filled, fillcolor="#fdf1d6"'
        elif t.requires_grad:
            title = name
            style = 'shape=box, style="rounded,filled", fillcolor="#dbe9f6"'
        else:
            title = t.name or "const"
            style = 'shape=box, style=dashed, color="#888888", fontcolor="#555555"'
        rows = [title]
        if t.ndim:
            rows.append(f"shape {t.shape}")
        if scalar_value and t.op and formula is not None and formula.expression is not None \
                and all(p.data.size == 1 for p in t._parents):
            worked = formula.expression.format(*(format_array(p.data) for p in t._parents))
            rows.append(f"= {worked} = {format_array(t.data)}")
        elif scalar_value and t.op:
            rows.append(f"= {format_array(t.data)}")
        elif scalar_value:
            rows[0] = f"{title} = {format_array(t.data)}"
        elif values and t.data.size <= max_elements:
            rows.append(f"value {format_array(t.data, max_elements)}")
        if values and t.grad is not None:
            gradient = f"∂{root}/∂{name}"
            if t.grad.size <= max_elements:
                rows.append(f"{gradient} = {format_array(t.grad, max_elements)}")
            else:
                rows.append(f"‖{gradient}‖ = {np.linalg.norm(t.grad):.4g}")
        if t is tensor:
            style += ", peripheries=2"
        lines.append(f"  {ids[id(t)]} [label={_dot_label(rows)}, {style}];")
    for t in order:
        for p in t._parents:
            lines.append(f"  {ids[id(p)]} -> {ids[id(t)]};")
    lines.append("}")
    return "\n".join(lines) + "\n"


# ---- rendering ---------------------------------------------------------------------

_FORMATS = ("svg", "png", "pdf")


def render(graph: Tensor | str, path: str | os.PathLike) -> Path:
    """Draw ``graph`` (a tensor or DOT source) to ``path`` and return the file written.

    ``path`` ends in .svg, .png or .pdf (drawn by Graphviz's ``dot`` program) or .dot
    (the source).  Without ``dot`` on PATH the source is written next to ``path`` with
    a .dot suffix and one line on stderr says how to draw it: a missing Graphviz never
    breaks a script.  Missing folders are created.
    """
    source = graph if isinstance(graph, str) else to_dot(graph)
    path = Path(path)
    fmt = path.suffix[1:].lower()
    if fmt not in _FORMATS and fmt != "dot":
        raise ValueError(f"render: cannot write {path.name!r}; use a .svg, .png, .pdf or .dot path")
    path.parent.mkdir(parents=True, exist_ok=True)
    dot = shutil.which("dot")
    if fmt == "dot" or dot is None:
        dot_path = path.with_suffix(".dot")
        dot_path.write_text(source, encoding="utf-8")
        if fmt != "dot":
            print(
                f"Graphviz 'dot' not found: wrote {dot_path}; draw it with "
                f"`dot -T{fmt} {dot_path} -o {path}` (install Graphviz, e.g. apt-get install graphviz)",
                file=sys.stderr,
            )
        return dot_path
    result = subprocess.run([dot, f"-T{fmt}", "-o", str(path)], input=source.encode("utf-8"),
                            capture_output=True, timeout=60)
    if result.returncode != 0:
        raise RuntimeError(f"render: dot failed on {path}: {result.stderr.decode(errors='replace').strip()}")
    return path


