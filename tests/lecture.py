"""The lecture's first graph, shared by the graph tests: f = (x + y) z at x=1, y=2, z=3."""

import numpy as np

import minnet as mn


def lecture_graph(backward=False):
    """(x, y, z, m, f) with m = x + y and f = m z named; nodes v0=x, v1=y, v2=m, v3=z, v4=f."""
    x, y, z = (mn.tensor(v, requires_grad=True, dtype=np.float64, name=n) for v, n in ((1, "x"), (2, "y"), (3, "z")))
    m = x + y
    m.name = "m"
    f = m * z
    f.name = "f"
    if backward:
        f.backward()
    return x, y, z, m, f


def lecture_f():
    """f, after backward()."""
    return lecture_graph(backward=True)[-1]
