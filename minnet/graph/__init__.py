"""Layer 3, seeing backpropagation: draw the graph behind a tensor and explain its backward pass.

``to_dot(f)`` gives Graphviz source for the graph that computed ``f``; ``render(f,
"f.svg")`` draws it (a system Graphviz, else the ``graphviz-pure`` program of the
``graph`` extra, else the ``.dot`` file); ``explain(f)`` prints the backward pass edge
by edge; ``html(f, "f.html")`` writes a page that steps through both passes, and
``quiz(f, "q.html")`` one that asks for each local derivative and product.
"""

from minnet.graph.dot import to_dot
from minnet.graph.explain import BackwardStep, explain, explain_rows
from minnet.graph.graphviz import render
from minnet.graph.html import html, quiz
from minnet.graph.nodes import nodes

__all__ = ["nodes", "to_dot", "render", "explain", "explain_rows", "BackwardStep", "html", "quiz"]
