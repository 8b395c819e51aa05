"""∇_W ‖Wx − x‖² = 2(Wx − x)xᵀ: the lecture's first matrix exercise.

The graph is g = Wx, m = g − x, L = Σ m² (= mᵀm).  Backwards: ∂L/∂m = 2m; the
subtraction passes it on unchanged, ∂L/∂g = 2m; and the matrix-vector rule for
g = Wx gives ∂L/∂W = ∂L/∂g · xᵀ = 2(Wx − x)xᵀ, without ever forming the 3-D
tensor ∂g/∂W.  Writes the graph to runs/examples/wx_minus_x.svg and the
step-through page to runs/examples/wx_minus_x_steps.html.
"""

import argparse
from pathlib import Path

import numpy as np

import minnet as mn

N = 3


def loss(w: mn.Tensor, x: mn.Tensor) -> mn.Tensor:
    g = w @ x
    m = g - x
    total = (m ** 2).sum()
    for tensor, name in ((g, "g"), (m, "m"), (total, "L")):
        tensor.name = name
    return total


def main(out: Path) -> None:
    rng = np.random.default_rng(0)
    w = mn.Tensor(rng.normal(size=(N, N)), requires_grad=True, name="W")
    x = mn.Tensor(rng.normal(size=N), name="x")

    total = loss(w, x)
    print(f"forward:  W =\n{w.data.round(4)}\n          x = {x.data.round(4)}")
    print(f"          m = Wx − x = {(w.data @ x.data - x.data).round(4)},  L = ‖m‖² = {total.item():.6g}")

    total.backward()
    print()
    print(mn.graph.explain(total))
    print()
    closed_form = 2 * np.outer(w.data @ x.data - x.data, x.data)
    print(f"backprop: ∂L/∂W =\n{w.grad.round(6)}")
    print(f"closed form 2(Wx − x)xᵀ =\n{closed_form.round(6)}")

    assert np.allclose(w.grad, closed_form, rtol=1e-12, atol=1e-12)
    assert mn.gradcheck(loss, w, x)
    print("matches the closed form and finite differences (gradcheck)")

    picture = mn.graph.render(total, out / "wx_minus_x.svg")
    steps = mn.graph.html(total, out / "wx_minus_x_steps.html")
    print(f"graph:    {picture}")
    print(f"steps:    {steps}  (open it in a browser; step with → and ←)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("runs/examples"), help="folder for the graph picture and pages")
    main(parser.parse_args().out)
