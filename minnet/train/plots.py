"""PNG plots of a run: learning curves and, for 2-D data, the decision boundary.

Needs the optional ``plot`` extra (matplotlib).  Figures are built with
``matplotlib.figure.Figure`` directly, never pyplot, so no GUI backend or global
figure state is involved and plotting works on a headless machine.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from minnet.autograd.state import no_grad
from minnet.autograd.tensor import Tensor
from minnet.train.data import load_dataset
from minnet.train.files import atomic_write
from minnet.train.history import read_history
from minnet.train.predict import load_run
from minnet.train.report import value_label

__all__ = ["plot_run", "plot_curves", "plot_decision_boundary", "draw_decision_boundary", "save_figure", "plot_sweep"]


def _figure(width: float, height: float):
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout="constrained")


def save_figure(fig: Any, path: Path) -> Path:
    atomic_write(path, lambda f: fig.savefig(f, format="png", dpi=120))
    return path


def _metric_name(history: list[dict[str, float]]) -> str:
    return next(k[len("train_"):] for k in history[0] if k.startswith("train_") and k != "train_loss")


def plot_curves(history: list[dict[str, float]], path: Path, title: str = "") -> Path:
    """Train and test loss (left) and metric (right) against the epoch."""
    fig = _figure(10, 4)
    epochs = [row["epoch"] for row in history]
    metric = _metric_name(history)
    for ax, key, label in ((fig.add_subplot(1, 2, 1), "loss", "loss (data term)"),
                           (fig.add_subplot(1, 2, 2), metric, metric)):
        for split, style in (("train", "-"), ("test", "--")):
            ax.plot(epochs, [row[f"{split}_{key}"] for row in history], style, label=split)
        ax.set_xlabel("epoch")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
        ax.legend()
    if title:
        fig.suptitle(title)
    return save_figure(fig, path)


def draw_decision_boundary(ax: Any, model: Any, dataset: Any, title: str = "") -> None:
    """Shade the class the model predicts over the plane; dots are train, crosses test points."""
    points = np.vstack([dataset.X_train, dataset.X_test])
    low, high = points.min(axis=0) - 0.5, points.max(axis=0) + 0.5
    xs, ys = np.meshgrid(np.linspace(low[0], high[0], 200), np.linspace(low[1], high[1], 200))
    grid = np.column_stack([xs.ravel(), ys.ravel()]).astype(dataset.X_train.dtype)
    with no_grad():
        predicted = model(Tensor(grid)).data.argmax(axis=1).reshape(xs.shape)
    classes = len(dataset.class_names)
    ax.contourf(xs, ys, predicted, levels=np.arange(classes + 1) - 0.5, cmap="coolwarm", alpha=0.35)
    ax.scatter(*dataset.X_train.T, c=dataset.y_train, cmap="coolwarm", vmin=0, vmax=classes - 1,
               s=8, edgecolors="none")
    ax.scatter(*dataset.X_test.T, c=dataset.y_test, cmap="coolwarm", vmin=0, vmax=classes - 1,
               s=14, marker="x", linewidths=0.8)
    ax.set_xlabel(dataset.feature_names[0])
    ax.set_ylabel(dataset.feature_names[1])
    if title:
        ax.set_title(title)


def plot_decision_boundary(model: Any, dataset: Any, path: Path, title: str = "") -> Path:
    fig = _figure(5.5, 5)
    draw_decision_boundary(fig.add_subplot(1, 1, 1), model, dataset, title)
    return save_figure(fig, path)


def has_plane(dataset: Any) -> bool:
    """A decision boundary can be drawn: two features, class labels."""
    return dataset.task == "classification" and dataset.n_features == 2


def plot_run(result: Any) -> list[Path]:
    """The PNG files of one run, written into its run folder."""
    run_dir = Path(result.run_dir)
    written = [plot_curves(result.history, run_dir / "curves.png", title=result.config.name)]
    if has_plane(result.dataset):
        written.append(plot_decision_boundary(result.model, result.dataset, run_dir / "decision_boundary.png",
                                              title=f"{result.config.name}: decision boundary"))
    return written


# ---- sweeps -------------------------------------------------------------------------


def _positions(runs: list[Any]) -> tuple[list[float], list[str], bool]:
    """x positions of the swept values: a log axis for one positive numeric key, with 0
    drawn one decade left of the smallest positive value; evenly spaced otherwise."""
    values = [next(iter(r.assignment.values())) for r in runs]
    numeric = len(runs[0].assignment) == 1 and all(isinstance(v, (int, float)) for v in values)
    positive = sorted(v for v in values if numeric and v > 0)
    if numeric and positive and all(v >= 0 for v in values):
        zero_at = positive[0] / 10
        return [v if v > 0 else zero_at for v in values], [f"{v:g}" for v in values], True
    return list(range(len(runs))), [value_label(r) for r in runs], False


def plot_validation_curve(runs: list[Any], path: Path) -> Path:
    """Train and test metric against the swept value: where regularisation helps, and where it hurts."""
    done = [r for r in runs if r.status == "completed"]
    metric = next(k[len("train_"):] for k in done[0].final if k.startswith("train_") and k != "train_loss")
    xs, labels, log = _positions(done)
    fig = _figure(6.5, 4.5)
    ax = fig.add_subplot(1, 1, 1)
    for split, style in (("train", "o-"), ("test", "s--")):
        ax.plot(xs, [r.final[f"{split}_{metric}"] for r in done], style, label=split)
    if log:
        ax.set_xscale("log")
    ax.set_xticks(xs, labels, rotation=30 if not log else 0)
    ax.minorticks_off()
    ax.set_xlabel(", ".join(done[0].assignment) + (" (0 drawn at the far left)" if log and 0 in
                  [next(iter(r.assignment.values())) for r in done] else ""))
    ax.set_ylabel(metric)
    ax.grid(alpha=0.3)
    ax.legend()
    return save_figure(fig, path)


def plot_sweep_curves(runs: list[Any], path: Path) -> Path:
    """The test loss (solid) and train loss (dotted) of every run, one colour per value."""
    fig = _figure(7, 4.5)
    ax = fig.add_subplot(1, 1, 1)
    for i, run in enumerate(runs):
        history = read_history(run.run_dir)
        if not history:
            continue
        epochs = [row["epoch"] for row in history]
        colour = f"C{i % 10}"
        ax.plot(epochs, [row["test_loss"] for row in history], "-", color=colour, label=value_label(run))
        ax.plot(epochs, [row["train_loss"] for row in history], ":", color=colour)
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss (data term): test solid, train dotted")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return save_figure(fig, path)


def plot_sweep_boundaries(runs: list[Any], path: Path) -> Path | None:
    """Decision boundaries side by side, one panel per value (2-D classification only)."""
    done = [r for r in runs if r.status == "completed"]
    datasets = [load_dataset(r.config.data, seed=r.config.seed, dtype=r.config.dtype) for r in done]
    if not done or not has_plane(datasets[0]):
        return None
    fig = _figure(3.6 * len(done), 3.8)
    for i, (run, dataset) in enumerate(zip(done, datasets, strict=True)):
        ax = fig.add_subplot(1, len(done), i + 1)
        title = f"{value_label(run)}\ntest {run.final.get('test_accuracy', float('nan')):.3f}"
        draw_decision_boundary(ax, load_run(run.run_dir).model, dataset, title)
    return save_figure(fig, path)


def plot_sweep(runs: list[Any], out_dir: Path) -> list[Path]:
    """The comparison plots of a sweep, written into its folder."""
    out_dir = Path(out_dir)
    if not any(r.status == "completed" for r in runs):
        return []
    written = [plot_validation_curve(runs, out_dir / "validation_curve.png"),
               plot_sweep_curves(runs, out_dir / "loss_curves.png")]
    boundaries = plot_sweep_boundaries(runs, out_dir / "decision_boundaries.png")
    return written + ([boundaries] if boundaries else [])
