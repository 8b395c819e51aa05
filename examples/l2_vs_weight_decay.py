"""L2 in the loss, SGD's weight decay, Adam's and AdamW's, side by side.

    python examples/l2_vs_weight_decay.py

The same MLP is trained from the same weights on the same minibatches five ways, with
λ decaying the weight matrices only (biases undecayed in every variant):

* SGD on L + λ·½Σ‖W‖²           and  SGD with weight_decay = λ: the same update, θ ← θ − lr(g + λθ);
* Adam on L + λ·½Σ‖W‖²          and  Adam with weight_decay = λ: also the same (coupled decay);
* AdamW with weight_decay = λ: decoupled, θ ← θ(1 − lr·λ) outside the adaptive step — different.
"""

from __future__ import annotations

import numpy as np
from sklearn.datasets import make_moons
from sklearn.preprocessing import StandardScaler

import minnet as mn
from minnet import losses, nn, optim
from minnet.train.data import minibatches
from minnet.train.loop import train_epoch

LAM, EPOCHS = 0.05, 30


def run(optimizer: str, l2: float, weight_decay: float, X: np.ndarray, y: np.ndarray) -> nn.Sequential:
    mn.manual_seed(0)
    model = nn.Sequential(nn.Linear(2, 32, dtype="float64"), nn.ReLU(), nn.Linear(32, 2, dtype="float64"))
    weights = losses.weight_matrices(model)
    biases = [p for p in model.parameters() if p.data.ndim == 1]
    lr = 0.1 if optimizer == "SGD" else 0.01
    decayed = getattr(optim, optimizer)(weights, lr=lr, weight_decay=weight_decay)
    plain = getattr(optim, optimizer)(biases, lr=lr)  # biases: never decayed

    class Both:  # one step() for the two groups, as train_epoch expects
        params = weights + biases

        @staticmethod
        def zero_grad() -> None:
            decayed.zero_grad()
            plain.zero_grad()

        @staticmethod
        def step() -> None:
            decayed.step()
            plain.step()

    rng = np.random.default_rng(0)
    for _ in range(EPOCHS):
        train_epoch(model, losses.softmax_cross_entropy, Both, X, y, minibatches(len(X), 16, True, rng), l2, weights)
    return model


def main() -> None:
    X, y = make_moons(400, noise=0.3, random_state=0)
    X = StandardScaler().fit_transform(X)
    variants = {
        "SGD,   loss.l2 = λ": ("SGD", LAM, 0.0),
        "SGD,   weight_decay = λ": ("SGD", 0.0, LAM),
        "Adam,  loss.l2 = λ": ("Adam", LAM, 0.0),
        "Adam,  weight_decay = λ": ("Adam", 0.0, LAM),
        "AdamW, weight_decay = λ": ("AdamW", 0.0, LAM),
    }
    models = {name: run(*args, X, y) for name, args in variants.items()}
    reference = {"SGD": "SGD,   loss.l2 = λ", "Adam": "Adam,  loss.l2 = λ", "AdamW": "Adam,  loss.l2 = λ"}
    print(f"λ = {LAM}, {EPOCHS} epochs on 400 noisy moons; ‖W‖ over the weight matrices")
    print(f"{'variant':26s}  {'train loss':>10s}  {'‖W‖':>7s}  {'max |ΔW| vs loss.l2':>20s}")
    for name, model in models.items():
        with mn.no_grad():
            loss = losses.softmax_cross_entropy(model(X), y).item()
        norm = np.sqrt(sum(float(np.vdot(w.data, w.data)) for w in losses.weight_matrices(model)))
        base = models[reference[variants[name][0]]]
        gap = max(float(np.abs(a.data - b.data).max()) for a, b in zip(model.parameters(), base.parameters(), strict=True))
        print(f"{name:26s}  {loss:10.6f}  {norm:7.4f}  {gap:20.3g}")
    print("SGD and Adam: loss.l2 and weight_decay give the same weights (to rounding); "
          "AdamW's decoupled decay does not.")


if __name__ == "__main__":
    main()
