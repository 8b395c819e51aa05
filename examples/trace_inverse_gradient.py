"""∇_A of L₂ = −½ tr((αAAᵀ + β⁻¹I)⁻¹BBᵀ): the lecture's trace-of-inverse exercise.

Graph: N = AAᵀ, K = αN + β⁻¹I, K⁻¹, P = K⁻¹·BBᵀ, L₂ = −½ tr P.  Backwards: the trace
gives ∂L₂/∂P = −½ I; Z = XY's rule gives ∂L₂/∂K⁻¹ = −½ (BBᵀ)ᵀ; the lecture's hint
∂L/∂K = −K⁻ᵀ (∂L/∂K⁻¹) K⁻ᵀ gives ½ K⁻¹BBᵀK⁻¹; then α and N = AAᵀ exactly as for L₁,
so ∂L₂/∂A = α K⁻¹BBᵀK⁻¹A (K and BBᵀ are symmetric).
Writes the graph to runs/examples/trace_inverse_gradient.svg and the step-through page
to runs/examples/trace_inverse_gradient_steps.html.
"""

import argparse
from pathlib import Path

import numpy as np

import minnet as mn

N_DIM = 3
ALPHA, BETA = 0.7, 2.0


def l2(a: mn.Tensor, b: mn.Tensor) -> mn.Tensor:
    alpha = mn.Tensor(np.float64(ALPHA), name="α")
    jitter = mn.Tensor(np.eye(N_DIM) / BETA, name="β⁻¹I")
    half = mn.Tensor(np.float64(-0.5), name="−½")
    n = a @ a.T
    k = alpha * n + jitter
    k_inv = mn.inv(k)
    bbt = b @ b.T
    p = k_inv @ bbt
    total = half * mn.trace(p)
    for tensor, name in ((n, "N"), (k, "K"), (k_inv, "K⁻¹"), (bbt, "BBᵀ"), (p, "P"), (total, "L2")):
        tensor.name = name
    return total


def main(out: Path) -> None:
    rng = np.random.default_rng(2)
    a = mn.Tensor(rng.normal(size=(N_DIM, N_DIM)), requires_grad=True, name="A")
    b = mn.Tensor(rng.normal(size=(N_DIM, N_DIM)), name="B")

    total = l2(a, b)
    k = ALPHA * a.data @ a.data.T + np.eye(N_DIM) / BETA
    print(f"forward:  A =\n{a.data.round(4)}\n          B =\n{b.data.round(4)}")
    print(f"          L2 = −½ tr(K⁻¹BBᵀ) = {total.item():.6g}   (α={ALPHA}, β={BETA})")

    total.backward()
    print()
    print(mn.graph.explain(total))
    print()
    k_inv = np.linalg.inv(k)
    closed_form = ALPHA * k_inv @ b.data @ b.data.T @ k_inv @ a.data
    print(f"backprop: ∂L2/∂A =\n{a.grad.round(6)}")
    print(f"closed form α K⁻¹BBᵀK⁻¹A =\n{closed_form.round(6)}")

    assert np.allclose(a.grad, closed_form, rtol=1e-10, atol=1e-12)
    assert mn.gradcheck(l2, a, b)
    print("matches the closed form and finite differences (gradcheck)")

    picture = mn.graph.render(total, out / "trace_inverse_gradient.svg")
    steps = mn.graph.html(total, out / "trace_inverse_gradient_steps.html")
    print(f"graph:    {picture}")
    print(f"steps:    {steps}  (open it in a browser; step with → and ←)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("runs/examples"), help="folder for the graph picture and pages")
    main(parser.parse_args().out)
