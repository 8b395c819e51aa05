"""∇_A of L₁ = −γ/2 · log|αAAᵀ + β⁻¹I|: the lecture's log-determinant exercise.

Graph: N = AAᵀ, K = αN + β⁻¹I, L₁ = −γ/2 · log|K|.  Backwards: ∂L₁/∂K = −γ/2 · K⁻ᵀ
(matrix cookbook); the add passes it on and the scaling multiplies by α, so
∂L₁/∂N = −γα/2 · K⁻ᵀ; then Z = XY's rules, ∂L/∂X = ∂L/∂Z·Yᵀ and ∂L/∂Y = Xᵀ·∂L/∂Z,
applied to N = A·Aᵀ reach A twice (directly and through the transpose).  K is
symmetric, so the two contributions are equal and ∂L₁/∂A = −γα K⁻¹A.
Writes the graph to runs/examples/logdet_gradient.svg and the step-through page to
runs/examples/logdet_gradient_steps.html.
"""

import argparse
from pathlib import Path

import numpy as np

import minnet as mn

N_DIM = 3
ALPHA, BETA, GAMMA = 0.7, 2.0, 1.5


def l1(a: mn.Tensor) -> mn.Tensor:
    alpha = mn.Tensor(np.float64(ALPHA), name="α")
    jitter = mn.Tensor(np.eye(N_DIM) / BETA, name="β⁻¹I")
    scale = mn.Tensor(np.float64(-GAMMA / 2), name="−γ/2")
    n = a @ a.T
    k = alpha * n + jitter
    total = scale * mn.logdet(k)
    for tensor, name in ((n, "N"), (k, "K"), (total, "L1")):
        tensor.name = name
    return total


def main(out: Path) -> None:
    rng = np.random.default_rng(1)
    a = mn.Tensor(rng.normal(size=(N_DIM, N_DIM)), requires_grad=True, name="A")

    total = l1(a)
    k = ALPHA * a.data @ a.data.T + np.eye(N_DIM) / BETA
    print(f"forward:  A =\n{a.data.round(4)}\n          K = αAAᵀ + β⁻¹I =\n{k.round(4)}")
    print(f"          L1 = −γ/2 · log|K| = {total.item():.6g}   (α={ALPHA}, β={BETA}, γ={GAMMA})")

    total.backward()
    print()
    print(mn.graph.explain(total))
    print()
    closed_form = -GAMMA * ALPHA * np.linalg.solve(k, a.data)
    print(f"backprop: ∂L1/∂A =\n{a.grad.round(6)}")
    print(f"closed form −γα K⁻¹A =\n{closed_form.round(6)}")

    assert np.allclose(a.grad, closed_form, rtol=1e-10, atol=1e-12)
    assert mn.gradcheck(l1, a)
    print("matches the closed form and finite differences (gradcheck)")

    picture = mn.graph.render(total, out / "logdet_gradient.svg")
    steps = mn.graph.html(total, out / "logdet_gradient_steps.html")
    print(f"graph:    {picture}")
    print(f"steps:    {steps}  (open it in a browser; step with → and ←)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("runs/examples"), help="folder for the graph picture and pages")
    main(parser.parse_args().out)
