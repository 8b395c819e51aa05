"""A self-contained HTML page that steps through the forward and backward pass of a graph.

Step 0 shows the graph with its inputs; each forward step fills in one node's value;
then each backward step is one row of :func:`~minnet.graph.explain.explain_rows`
(local derivative × upstream = product), its edge highlighted on the picture.  The
page is one file (inline SVG, CSS and JavaScript) that opens from disk, no server or
network.  A quiz page blanks the local derivatives and products and checks what the
learner types against the engine's numbers.
"""

from __future__ import annotations

import html as html_text
import json
import os
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import numpy as np

from minnet.autograd.tensor import Tensor
from minnet.graph.dot import node_rows, to_dot
from minnet.graph.explain import BackwardStep, explain_rows
from minnet.graph.graphviz import Writer, draw
from minnet.graph.nodes import MAX_ELEMENTS, format_array, is_constant, labels, nodes
from minnet.graph.page import page

__all__ = ["html", "quiz", "page_steps"]

SVG = "http://www.w3.org/2000/svg"
RTOL, ATOL = 1e-3, 1e-6  # how close a quiz answer must be to the engine's value
REVEALED = ("value", "grad")  # label lines the steps fill in; titles and shapes show from the start

ET.register_namespace("", SVG)
ET.register_namespace("xlink", "http://www.w3.org/1999/xlink")


def _answer(a: np.ndarray | None) -> list[float] | None:
    """What the learner types for ``a``, flattened; None when it is not asked (too big, or no local)."""
    if a is None or np.asarray(a).size > MAX_ELEMENTS:
        return None
    return [float(v) for v in np.asarray(a, dtype=np.float64).ravel()]


def _backward_step(r: BackwardStep, root: str, ids: dict[str, str]) -> dict[str, Any]:
    """One row of the explain table as a page step; ``ids`` maps labels to node ids."""
    child, parent = ids[r.child], ids[r.parent]
    return {
        "title": f"Backward, edge {r.step}: {r.child} → {r.parent}",
        "text": f"{r.child} = {r.op}(…) sends ∂{root}/∂{r.child} back to its input {r.parent}.",
        "nodes": [child, parent],
        "edges": [f"{parent}->{child}"],
        "show": [],
        "known": [],
        "chain": {
            "rule": r.formula,
            "local_label": "local derivative",
            "local": "— (a matrix rule: the formula gives the product)" if r.local is None else format_array(r.local),
            "upstream_label": f"upstream ∂{root}/∂{r.child}",
            "upstream": format_array(r.upstream),
            "product_label": f"product → ∂{root}/∂{r.parent}",
            "product": format_array(r.product),
        },
        "answers": {"local": _answer(r.local), "product": _answer(r.product)},
    }


def page_steps(tensor: Tensor, *, quiz: bool = False) -> list[dict[str, Any]]:
    """The page's steps as data: the graph, one per op forward, then one per backward edge.

    Each step names the nodes (``v<i>``, as in :func:`to_dot`) and edges to highlight,
    the label lines it reveals (``v<i>-value``, ``v<i>-grad``) and the lines it adds to
    "known so far".  A node's gradient shows at its last backward edge (on a quiz
    page, one step later, so it never gives the answer away).
    """
    order = nodes(tensor)
    names = labels(order)
    vid = {id(t): f"v{i}" for i, t in enumerate(order)}
    by_label = {names[id(t)]: t for t in order if not is_constant(t)}  # constants never get a gradient
    ids = {label: vid[id(t)] for label, t in by_label.items()}
    root = names[id(tensor)]
    leaves = [t for t in order if not t.op]
    steps: list[dict[str, Any]] = [{
        "title": "The graph",
        "text": "The inputs are known; press next to run the forward pass, one node at a time.",
        "nodes": [vid[id(t)] for t in leaves], "edges": [], "show": [],
        "known": [f"{names[id(t)]} = {format_array(t.data)}" for t in leaves],
    }]
    ops = [t for t in order if t.op]
    for k, t in enumerate(ops, 1):
        node = vid[id(t)]
        lines = dict(node_rows(tensor, t, names, True))
        value = lines.get("value", f"= {format_array(t.data)}")
        steps.append({
            "title": f"Forward {k} of {len(ops)}: {names[id(t)]}",
            "text": f"{lines['title']} {value}" if value.startswith("=") else f"{lines['title']}, {value}",
            "nodes": [node, *(vid[id(p)] for p in t._parents)],
            "edges": [f"{vid[id(p)]}->{node}" for p in t._parents],
            "show": [f"{node}-value"], "known": [f"{names[id(t)]} = {format_array(t.data)}"],
        })
    if tensor.grad is None and not quiz:
        return steps
    rows = explain_rows(tensor)
    steps.append({
        "title": "Backward pass starts",
        "text": f"At the output, ∂{root}/∂{root} = {format_array(np.asarray(tensor.grad))}. "
                "Each next step sends a gradient back along one edge, in the order the engine ran.",
        "nodes": [vid[id(tensor)]], "edges": [], "show": [f"{vid[id(tensor)]}-grad"],
        "known": [f"∂{root}/∂{root} = {format_array(np.asarray(tensor.grad))}"],
    })
    last_use = {r.parent: r.step for r in rows}
    steps += [_backward_step(r, root, ids) for r in rows]
    steps.append({
        "title": "Backward pass done",
        "text": "Every gradient has arrived: " + ", ".join(
            f"∂{root}/∂{names[id(t)]} = {format_array(t.grad)}" for t in leaves if t.grad is not None) + ".",
        "nodes": [vid[id(t)] for t in leaves if t.grad is not None], "edges": [], "show": [], "known": [],
    })
    first = len(steps) - len(rows) - 1  # index of backward edge 1
    for parent, step in last_use.items():
        target = steps[first + step] if quiz else steps[first + step - 1]
        target["show"].append(f"{ids[parent]}-grad")
        target["known"].append(f"∂{root}/∂{parent} = {format_array(np.asarray(by_label[parent].grad))}")
    return steps


def _svg(tensor: Tensor) -> str | None:
    """The drawn graph with ``data-node``, ``data-edge`` and ``data-row`` marks, or None without Graphviz."""
    drawn = draw(to_dot(tensor, values=True), "svg")
    if drawn is None:
        return None
    order = nodes(tensor)
    names = labels(order)
    kinds = {f"v{i}": [kind for kind, _ in node_rows(tensor, t, names, True)] for i, t in enumerate(order)}
    root = ET.fromstring(drawn)
    for g in root.iter(f"{{{SVG}}}g"):
        title = g.findtext(f"{{{SVG}}}title", "")
        if g.get("class") == "node":
            g.set("data-node", title)
            texts = g.findall(f"{{{SVG}}}text")
            if len(texts) == len(kinds[title]):
                for text, kind in zip(texts, kinds[title], strict=True):
                    if kind in REVEALED and (kind == "grad" or order[int(title[1:])].op):
                        text.set("data-row", f"{title}-{kind}")
        elif g.get("class") == "edge":
            g.set("data-edge", title)
    return ET.tostring(root, encoding="unicode")


def html(tensor: Tensor, path: str | os.PathLike, *, quiz: bool = False, write: Writer | None = None) -> Path:
    """Write the step-through page of the graph behind ``tensor`` to ``path`` and return it.

    Run ``backward()`` first to get the backward steps (a quiz needs them).  The
    picture needs a Graphviz program (see :func:`render`); without one the page
    still steps through the numbers and says how to get the picture.  ``write(path,
    data)`` puts the bytes on disk (default: ``Path.write_bytes``).
    """
    steps = page_steps(tensor, quiz=quiz)
    name = labels(nodes(tensor))[id(tensor)]
    svg = _svg(tensor)
    if svg is None:
        print('html: no Graphviz program found, so the page has no picture (pip install "minnet[graph]")',
              file=sys.stderr, flush=True)
        svg = '<p class="nograph">No picture: install Graphviz or <code>pip install "minnet[graph]"</code>.</p>'
    data = json.dumps({"steps": steps, "quiz": quiz, "rtol": RTOL, "atol": ATOL}, ensure_ascii=False)
    title = f"{'Quiz' if quiz else 'Backpropagation'}: {name}, step by step"
    intro = ("Type each local derivative and product, then press check (numbers separated by commas)."
             if quiz else "The forward pass fills in the values, then the backward pass the gradients.")
    text = page(title=html_text.escape(title), intro=intro, svg=svg, data=data.replace("</", "<\\/"))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if write is None:
        path.write_text(text, encoding="utf-8")
    else:
        write(path, text.encode("utf-8"))
    return path


def quiz(tensor: Tensor, path: str | os.PathLike) -> Path:
    """The step-through page with the local derivatives and products left for the learner to fill in."""
    return html(tensor, path, quiz=True)
