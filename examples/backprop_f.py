"""f = (x + y) z at x=1, y=2, z=3: the lecture's first computational graph.

Forward pass: m = x + y = 3, f = m z = 9.  Backward pass, starting from df/df = 1:
df/dz = m = 3, df/dm = z = 3, and the add node hands df/dm unchanged to both of its
inputs, so df/dx = df/dy = 3.  Writes the graph to runs/examples/backprop_f.svg, the
page that steps through both passes to backprop_f_steps.html and a quiz on them to
backprop_f_quiz.html.
"""

import argparse
from pathlib import Path

import numpy as np

import minnet as mn


def f_of(x: mn.Tensor, y: mn.Tensor, z: mn.Tensor) -> mn.Tensor:
    m = x + y
    m.name = "m"
    f = m * z
    f.name = "f"
    return f


def main(out: Path) -> None:
    x = mn.tensor(1.0, requires_grad=True, dtype=np.float64, name="x")
    y = mn.tensor(2.0, requires_grad=True, dtype=np.float64, name="y")
    z = mn.tensor(3.0, requires_grad=True, dtype=np.float64, name="z")

    f = f_of(x, y, z)
    m = next(t for t in mn.graph.nodes(f) if t.name == "m")
    print(f"forward:  m = x + y = {m.item():g},  f = m z = {f.item():g}")

    f.backward()
    print()
    print(mn.graph.explain(f))
    print()
    print(f"backward: df/dx = {x.grad.item():g},  df/dy = {y.grad.item():g},  df/dz = {z.grad.item():g}")

    # Closed form: df/dx = df/dy = z, df/dz = x + y.
    assert f.item() == 9.0
    assert (x.grad.item(), y.grad.item(), z.grad.item()) == (3.0, 3.0, 3.0)
    assert mn.gradcheck(f_of, x, y, z)
    print("matches the closed form (z, z, x + y) and finite differences (gradcheck)")

    picture = mn.graph.render(f, out / "backprop_f.svg")
    steps = mn.graph.html(f, out / "backprop_f_steps.html")
    quiz = mn.graph.quiz(f, out / "backprop_f_quiz.html")
    print(f"graph:    {picture}")
    print(f"steps:    {steps}  (open it in a browser; step with → and ←)")
    print(f"quiz:     {quiz}  (the same page, asking you for each local derivative and product)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("runs/examples"), help="folder for the graph picture and pages")
    main(parser.parse_args().out)
