"""See backpropagation: draw the graph behind a tensor and explain its backward pass.

``to_dot(f)`` gives Graphviz source for the graph that computed ``f``: one node per
leaf and per op, edges from each input to the op that uses it, labels with names,
shapes, small values and (after ``f.backward()``) gradients.  ``render(f, "f.svg")``
draws it with Graphviz's ``dot`` program, or writes the ``.dot`` file when Graphviz is
not installed.  ``explain(f)`` prints the backward pass edge by edge, in the order
:func:`minnet.engine.backward` ran it: upstream gradient times local derivative,
the chain rule one line at a time.

Nothing here differentiates anything itself: the numbers come from each node's own
``_backward`` rule, so the table shows exactly what the engine computed.  The formula
strings below are for display only.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import unicodedata
from pathlib import Path
from typing import NamedTuple

import numpy as np

from minnet.engine import topological_order, unbroadcast
from minnet.tensor import Tensor

__all__ = ["nodes", "to_dot", "render", "explain", "explain_rows", "BackwardStep"]

MAX_ELEMENTS = 6      # tensors up to this size are shown by value, larger ones by shape
MAX_VALUE_NODES = 30  # graphs with more nodes are drawn with shapes only

# ---- formula sheet (display only) -------------------------------------------------
# Elementwise ops: the output as an expression of its inputs {0}, {1}, and the local
# derivative with respect to each input.  Its value is read off the op's own rule.
_ELEMENTWISE = {
    "add": ("{0}+{1}", ("1", "1")),
    "sub": ("{0}−{1}", ("1", "−1")),
    "mul": ("{0}·{1}", ("{1}", "{0}")),
    "div": ("{0}/{1}", ("1/{1}", "−{0}/{1}²")),
    "pow": ("{0}^{1}", ("{1}·{0}^({1}−1)", "{0}^{1}·log {0}")),
    "neg": ("−{0}", ("−1",)),
    "exp": ("exp {0}", ("exp {0}",)),
    "log": ("log {0}", ("1/{0}",)),
    "sqrt": ("√{0}", ("1/(2√{0})",)),
    "abs": ("|{0}|", ("sign {0}",)),
    "sigmoid": ("σ({0})", ("σ({0})(1−σ({0}))",)),
    "tanh": ("tanh {0}", ("1−tanh²{0}",)),
    "relu": ("relu {0}", ("[{0}>0]",)),
}
# Matrix ops, reductions and fused ops: the gradient of each input given the upstream
# gradient {G} of the output {out}; {p} is the input in question.  The local
# derivative is a Jacobian here, so no value is shown.
_MATRIX = {
    "matmul": ("{G}·{1}ᵀ", "{0}ᵀ·{G}"),
    "sum": ("{G} copied to every element of {0}",),
    "mean": ("{G}/n for every element of {0}",),
    "max": ("{G} at the maximum of {0}, 0 elsewhere",),
    "logsumexp": ("{G}·softmax({0})",),
    "log_softmax": ("{G} − softmax({0})·Σ{G}",),
    "softmax": ("{out}⊙({G} − Σ {G}⊙{out})",),
    "reshape": ("{G} reshaped back to the shape of {0}",),
    "transpose": ("({G})ᵀ",),
    "getitem": ("{G} scattered into zeros shaped like {0}",),
    "inv": ("−{out}ᵀ·{G}·{out}ᵀ",),
    "logdet": ("{G}·{0}⁻ᵀ",),
    "trace": ("{G}·I",),
    "solve": ("−{0}⁻ᵀ{G}·{out}ᵀ", "{0}⁻ᵀ·{G}"),
    "linear": ("{G}·{1}", "{G}ᵀ·{0}", "{G} summed over rows"),
    "linear_relu": ("({G}⊙[{out}>0])·{1}", "({G}⊙[{out}>0])ᵀ·{0}", "{G}⊙[{out}>0] summed over rows"),
    "linear_sigmoid": ("({G}⊙{out}(1−{out}))·{1}", "({G}⊙{out}(1−{out}))ᵀ·{0}",
                       "{G}⊙{out}(1−{out}) summed over rows"),
    "linear_tanh": ("({G}⊙(1−{out}²))·{1}", "({G}⊙(1−{out}²))ᵀ·{0}", "{G}⊙(1−{out}²) summed over rows"),
    "mse_loss": ("{G}·({0}−{1})/n", "−{G}·({0}−{1})/n"),
    "softmax_cross_entropy": ("{G}·(softmax({0}) − onehot)/N",),
    "l2_penalty": "{G}·{p}",  # the same rule for every input
    "l2_regularized": ("{G}", "λ·{G}·{p}"),  # the loss, then every weight
}


class BackwardStep(NamedTuple):
    """One edge of the backward pass: what ``child``'s rule sent to ``parent``."""

    step: int               # 1-based position in the order the engine ran
    child: str              # label of the op output (the node whose rule ran)
    op: str
    parent: str             # label of the input that received the gradient
    value: np.ndarray       # forward value of the parent
    formula: str            # the local derivative or gradient rule, as text
    local: np.ndarray | None  # ∂child/∂parent elementwise; None for matrix ops
    upstream: np.ndarray    # child's gradient, as it entered the rule
    product: np.ndarray     # what was added to the parent's gradient (parent's shape)


# ---- traversal and labels ---------------------------------------------------------

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


def _labels(order: list[Tensor]) -> dict[int, str]:
    """Short unique labels: the tensor's name, a small constant's value, else v<index>."""
    counts: dict[str, int] = {}
    for t in order:
        if t.name:
            counts[t.name] = counts.get(t.name, 0) + 1
    labels = {}
    for i, t in enumerate(order):
        if t.name:
            labels[id(t)] = t.name if counts[t.name] == 1 else f"{t.name}#{i}"
        elif _is_constant(t) and t.data.size == 1:
            labels[id(t)] = _format(t.data)
        else:
            labels[id(t)] = f"v{i}"
    return labels


def _is_constant(t: Tensor) -> bool:
    return not t.requires_grad and not t._parents


def _format(a: np.ndarray, limit: int = MAX_ELEMENTS) -> str:
    """``3``, ``[1, 2.5]``, ``[[1, 0], [0, 1]]``; larger arrays by shape and norm, ``(3, 3) ‖1.7‖``."""
    a = np.asarray(a)
    if a.size > limit:
        return f"{a.shape} ‖{np.linalg.norm(a):.4g}‖"
    if a.ndim == 0:
        return f"{a.item():.4g}"
    return "[" + ", ".join(_format(row, limit) for row in a) + "]"


# ---- DOT ---------------------------------------------------------------------------

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
    labels = _labels(order)
    ids = {id(t): f"v{i}" for i, t in enumerate(order)}
    lines = [
        "digraph minnet {",
        "  rankdir=LR;",
        '  node [fontname="Helvetica", fontsize=11];',
        '  edge [color="#555555"];',
    ]
    for t in order:
        if t.op:
            title = f"{labels[id(t)]} = {t.op}({', '.join(labels[id(p)] for p in t._parents)})"
            style = 'shape=ellipse, style=filled, fillcolor="#fdf1d6"'
        elif t.requires_grad:
            title = labels[id(t)]
            style = 'shape=box, style="rounded,filled", fillcolor="#dbe9f6"'
        else:
            title = t.name or "const"
            style = 'shape=box, style=dashed, color="#888888", fontcolor="#555555"'
        rows = [title, "scalar" if t.ndim == 0 else f"shape {t.shape}"]
        if values and t.data.size <= max_elements:
            rows.append(f"value {_format(t.data, max_elements)}")
        if values and t.grad is not None:
            if t.grad.size <= max_elements:
                rows.append(f"grad {_format(t.grad, max_elements)}")
            else:
                rows.append(f"‖grad‖ {np.linalg.norm(t.grad):.4g}")
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


# ---- explaining the backward pass ---------------------------------------------------

def _operand(label: str) -> str:
    """A label as it reads inside a formula: ``w``, ``0.5``, but ``(K⁻¹)`` and ``(BBᵀ)``."""
    simple = label.isidentifier() and not any(unicodedata.category(c) == "Lm" for c in label)
    return label if simple or re.fullmatch(r"\d+(\.\d+)?(e[-+]\d+)?", label) else f"({label})"


def _formula(op: str, i: int, args: list[str], out: str, root: str) -> str:
    """The rule for input ``i`` of ``out = op(*args)``, as text."""
    operands = [_operand(a) for a in args]
    if op in _ELEMENTWISE:
        expression, derivatives = _ELEMENTWISE[op]
        return f"∂({expression.format(*operands)})/∂{args[i]} = {derivatives[i].format(*operands)}"
    rules = _MATRIX.get(op, f"{op}'s rule applied to {{G}}")
    rule = rules if isinstance(rules, str) else rules[min(i, len(rules) - 1)]  # the last one repeats
    gradient = f"∂{root}/∂{out}"
    return f"∂{root}/∂{args[i]} = " + rule.format(*operands, G=gradient, out=_operand(out), p=operands[i])


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
    labels = _labels(nodes(tensor))
    root = labels[id(tensor)]
    rows: list[BackwardStep] = []
    for node in reversed(topological_order(tensor)):
        if node._backward is None or node.grad is None:
            continue
        args = [labels[id(p)] for p in node._parents]
        grads = node._backward(node.grad)
        locals_ = node._backward(np.ones_like(node.data)) if node.op in _ELEMENTWISE else None
        for i, (parent, g) in enumerate(zip(node._parents, grads)):
            if g is None or not parent.requires_grad:
                continue
            product = unbroadcast(np.asarray(g), parent.shape).astype(parent.dtype, copy=False)
            rows.append(BackwardStep(
                step=len(rows) + 1,
                child=labels[id(node)],
                op=node.op,
                parent=args[i],
                value=parent.data,
                formula=_formula(node.op, i, args, labels[id(node)], root),
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
    name = _labels(nodes(tensor))[id(tensor)]
    if not rows:
        return f"{name} is a leaf: the backward pass has nothing to propagate"

    def fmt(a: np.ndarray) -> str:
        return _format(a, max_elements)

    header = ("step", "node", "input", "input value", "local derivative", "its value",
              f"upstream ∂{name}/∂node", f"product → ∂{name}/∂input")
    table = [header] + [
        (str(r.step), f"{r.child} = {r.op}", r.parent, fmt(r.value), r.formula,
         "—" if r.local is None else fmt(r.local), fmt(r.upstream), fmt(r.product))
        for r in rows
    ]
    widths = [max(len(line[c]) for line in table) for c in range(len(header))]
    text = [f"backward pass of {name}, in the order the engine ran it (∂{name}/∂{name} = {fmt(tensor.grad)}):"]
    for j, line in enumerate(table):
        text.append("  ".join(cell.ljust(w) for cell, w in zip(line, widths)).rstrip())
        if j == 0:
            text.append("  ".join("-" * w for w in widths))
    uses: dict[str, list[BackwardStep]] = {}
    for r in rows:
        uses.setdefault(r.parent, []).append(r)
    for parent, used in uses.items():
        if len(used) > 1:
            steps = ", ".join(str(r.step) for r in used)
            total = sum(r.product for r in used)
            if total.size > max_elements:
                terms = "the sum of those products"
            else:
                parts = [fmt(r.product) for r in used]
                terms = " + ".join(f"({p})" if p.startswith("-") else p for p in parts)
            text.append(f"{parent} is used {len(used)} times (steps {steps}): "
                        f"∂{name}/∂{parent} = {terms} = {fmt(total)}")
    return "\n".join(text)
