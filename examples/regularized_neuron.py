"""One sigmoid neuron with an L2 regularizer: the naive chain rule against backprop.

    z = w x + b,   y = σ(z),   L = ½ (y − t)²,   R = ½ w²,   L_reg = L + λ R

Written out by the chain rule, ∂L_reg/∂w and ∂L_reg/∂b each recompute w x + b and
σ(w x + b) three times, and share nothing with each other.  Backprop computes z and y
once in the forward pass and sends each gradient backwards once: ∂L_reg/∂z is found a
single time and handed to both w and b.  Writes the graph to
runs/examples/regularized_neuron.svg, the step-through page to
regularized_neuron_steps.html and a quiz on it to regularized_neuron_quiz.html.
"""

import argparse
import math
from collections import Counter
from pathlib import Path

import numpy as np

import minnet as mn

W, B = 0.8, -0.4          # parameters
X, T, LAM = 1.5, 1.0, 0.1  # input, target, regularization strength λ


def naive_chain_rule(w: float, b: float, calls: Counter) -> tuple[float, float]:
    """Each derivative expanded in terms of the inputs, the way one writes it by hand."""
    def affine() -> float:
        calls["w·x+b"] += 1
        return w * X + b

    def sigma(v: float) -> float:
        calls["σ(·)"] += 1
        return 1 / (1 + math.exp(-v))

    # ∂L_reg/∂w = (σ(wx+b) − t) · σ(wx+b)(1 − σ(wx+b)) · x + λw
    dw_terms = [
        ("σ(wx+b) − t", sigma(affine()) - T),
        ("σ(wx+b)(1 − σ(wx+b))", sigma(affine()) * (1 - sigma(affine()))),
        ("x", X),
    ]
    # ∂L_reg/∂b = (σ(wx+b) − t) · σ(wx+b)(1 − σ(wx+b))
    db_terms = [
        ("σ(wx+b) − t", sigma(affine()) - T),
        ("σ(wx+b)(1 − σ(wx+b))", sigma(affine()) * (1 - sigma(affine()))),
    ]
    dw = math.prod(v for _, v in dw_terms) + LAM * w
    db = math.prod(v for _, v in db_terms)
    print("naive chain rule, term by term:")
    print("  ∂L_reg/∂w = " + " · ".join(f"({s})" if len(s) > 1 else s for s, _ in dw_terms) + " + λw")
    print("            = " + " · ".join(f"{v:.6g}" for _, v in dw_terms) + f" + {LAM * w:.6g} = {dw:.6g}")
    print("  ∂L_reg/∂b = " + " · ".join(f"({s})" if len(s) > 1 else s for s, _ in db_terms))
    print("            = " + " · ".join(f"{v:.6g}" for _, v in db_terms) + f" = {db:.6g}")
    return dw, db


def l_reg(w: mn.Tensor, b: mn.Tensor) -> mn.Tensor:
    """The lecture's graph, one named node per line of the math."""
    x = mn.tensor(X, dtype=np.float64, name="x")
    t = mn.tensor(T, dtype=np.float64, name="t")
    lam = mn.tensor(LAM, dtype=np.float64, name="λ")
    wx = w * x
    z = wx + b
    y = mn.sigmoid(z)
    loss = 0.5 * (y - t) ** 2
    r = 0.5 * w ** 2
    total = loss + lam * r
    for tensor, name in ((wx, "wx"), (z, "z"), (y, "y"), (loss, "L"), (r, "R"), (total, "L_reg")):
        tensor.name = name
    return total


def main(out: Path) -> None:
    calls = Counter()
    naive_w, naive_b = naive_chain_rule(W, B, calls)
    print("  work repeated: " + ", ".join(f"{op} evaluated {n} times" for op, n in calls.items())
          + "; (σ(wx+b) − t)·σ'(z) computed twice, once per derivative")

    w = mn.tensor(W, requires_grad=True, dtype=np.float64, name="w")
    b = mn.tensor(B, requires_grad=True, dtype=np.float64, name="b")
    total = l_reg(w, b)
    graph_nodes = mn.graph.nodes(total)
    named = {t.name: t for t in graph_nodes if t.name}
    print()
    print("forward:  " + ",  ".join(f"{k} = {named[k].item():.6g}" for k in ("z", "y", "L", "R", "L_reg")))

    total.backward()
    print()
    print(mn.graph.explain(total))
    print()
    print(f"backprop: ∂L_reg/∂w = {w.grad.item():.6g},  ∂L_reg/∂b = {b.grad.item():.6g}")
    ops = Counter(t.op for t in graph_nodes if t.op)
    print(f"  work: σ evaluated {ops['sigmoid']} time, w·x+b once (one mul and one add node); "
          "the backward pass reuses y for σ'(z) = y(1 − y)")

    # Closed form: ∂L_reg/∂z = (y − t) y (1 − y);  ∂L_reg/∂w = ∂L_reg/∂z · x + λw;  ∂L_reg/∂b = ∂L_reg/∂z.
    y = 1 / (1 + math.exp(-(W * X + B)))
    dz = (y - T) * y * (1 - y)
    assert ops["sigmoid"] == 1 and calls["σ(·)"] == 6 and calls["w·x+b"] == 6
    assert np.isclose(w.grad.item(), dz * X + LAM * W, rtol=1e-12, atol=0)
    assert np.isclose(b.grad.item(), dz, rtol=1e-12, atol=0)
    assert np.isclose(naive_w, w.grad.item(), rtol=1e-12, atol=0)
    assert np.isclose(naive_b, b.grad.item(), rtol=1e-12, atol=0)
    assert mn.gradcheck(l_reg, w, b)
    print("naive chain rule, closed form and finite differences (gradcheck) all agree")

    picture = mn.graph.render(total, out / "regularized_neuron.svg")
    steps = mn.graph.html(total, out / "regularized_neuron_steps.html")
    quiz = mn.graph.quiz(total, out / "regularized_neuron_quiz.html")
    print(f"graph:    {picture}")
    print(f"steps:    {steps}  (open it in a browser; step with → and ←)")
    print(f"quiz:     {quiz}  (the same page, asking you for each local derivative and product)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("runs/examples"), help="folder for the graph picture and pages")
    main(parser.parse_args().out)
