"""Compare L2 strengths with scikit-learn's validation_curve on a minnet estimator.

100 noisy two-moons points and 64 hidden units: without a penalty the network
bends around the noise and fits the training folds better than the test folds.
Raising λ (``l2``: L + λ·½Σ‖W‖² per minibatch, scikit-learn's alpha = λ·batch_size)
trades training fit for smaller weights, until at λ = 1 every weight is pulled
to about zero and the model predicts one class: chance accuracy.

    python examples/validation_curve.py [--plot curve.png]
"""

import argparse

import numpy as np
from sklearn.datasets import make_moons
from sklearn.model_selection import StratifiedKFold, validation_curve
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from minnet.sklearn import MLPClassifier

L2S = [0.0, 1e-3, 1e-2, 3e-2, 1e-1, 1.0]


def main(plot: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    X, y = make_moons(n_samples=100, noise=0.3, random_state=0)
    clf = MLPClassifier(hidden=(64,), epochs=200, random_state=0)
    train, test = validation_curve(
        make_pipeline(StandardScaler(), clf), X, y,
        param_name="mlpclassifier__l2", param_range=L2S,
        cv=StratifiedKFold(n_splits=5, shuffle=True, random_state=0),
    )
    train, test = train.mean(axis=1), test.mean(axis=1)
    print(f"{'l2':>7}  {'sklearn alpha':>13}  {'train acc':>9}  {'test acc':>8}")
    for lam, a, b in zip(L2S, train, test, strict=True):
        print(f"{lam:>7g}  {lam * clf.batch_size:>13g}  {a:>9.3f}  {b:>8.3f}")
    print(f"best test accuracy {test.max():.3f} at l2 = {L2S[int(test.argmax())]:g}")
    if plot:
        _plot(train, test, plot)
    return train, test


def _plot(train: np.ndarray, test: np.ndarray, path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3.5))
    ax.plot(L2S, train, "o-", label="train")
    ax.plot(L2S, test, "o-", label="test")
    ax.set_xscale("symlog", linthresh=L2S[1])  # symlog: λ = 0 stays on the axis
    ax.set_xlabel("l2 (λ)")
    ax.set_ylabel("mean accuracy over 5 folds")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    print(f"wrote {path}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--plot", metavar="PNG", help="also draw the curve into this PNG file")
    train, test = main(parser.parse_args().plot)
    # The penalty only ever costs training fit (up to fold noise) ...
    assert np.all(np.diff(train) <= 0.01), f"training accuracy rose with l2: {train}"
    # ... and the largest one costs a lot: one class everywhere.
    assert train[-1] < train[0] - 0.2, f"l2={L2S[-1]:g} did not lower training accuracy: {train}"
    assert abs(test[-1] - 0.5) <= 0.05, f"l2={L2S[-1]:g} should be at chance level: {test}"
