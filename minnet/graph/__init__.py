"""Layer 3, seeing backpropagation: draw the graph behind a tensor and explain its backward pass.

``to_dot(f)`` gives Graphviz source for the graph that computed ``f``; ``render(f,
"f.svg")`` draws it (Graphviz's ``dot`` program, or the ``.dot`` file when it is not
installed); ``explain(f)`` prints the backward pass edge by edge.
"""

from minnet.graph.dot import render, to_dot
from minnet.graph.explain import BackwardStep, explain, explain_rows
from minnet.graph.nodes import nodes

__all__ = ["nodes", "to_dot", "render", "explain", "explain_rows", "BackwardStep"]
