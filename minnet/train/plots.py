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
from minnet.train.compare import score_name, summarize
from minnet.train.data import load_dataset
from minnet.train.files import atomic_write
from minnet.train.history import read_history
from minnet.train.predict import load_run
from minnet.train.report import value_text
from minnet.train.run import RUN_PLOTS
from minnet.train.sweep import SWEEP_PLOTS, final_weights, label

__all__ = ["plot_run", "plot_curves", "plot_decision_boundary", "draw_decision_boundary", "save_figure", "plot_sweep"]


def _figure(width: float, height: float):
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout="constrained")


def save_figure(fig: Any, path: Path) -> Path:
    atomic_write(path, lambda f: fig.savefig(f, format="png", dpi=120))
    return path


def _metric_name(history: list[dict[str, float]]) -> str:
    return next(k[len("train_"):] for k in history[0]
                if k.startswith("train_") and k not in ("train_loss", "train_rmse"))


# How each split is drawn: test dashed and grey, since nothing is decided on it.
_SPLIT_STYLE = {"train": ("-", "C0", "train"), "val": ("-", "C1", "val"),
                "test": ("--", "0.45", "test (not used for decisions)")}


def plot_curves(history: list[dict[str, float]], path: Path, title: str = "", best_epoch: int | None = None) -> Path:
    """Train, val and test loss (left) and metric (right) against the epoch."""
    fig = _figure(10, 4)
    epochs = [row["epoch"] for row in history]
    metric = _metric_name(history)
    for ax, key, ylabel in ((fig.add_subplot(1, 2, 1), "loss", "loss (data term)"),
                           (fig.add_subplot(1, 2, 2), metric, metric)):
        for split, (style, colour, name) in _SPLIT_STYLE.items():
            if f"{split}_{key}" in history[0]:
                ax.plot(epochs, [row[f"{split}_{key}"] for row in history], style, color=colour, label=name)
        if best_epoch:
            ax.axvline(best_epoch, color="0.6", lw=0.8, ls=":", label=f"best epoch (val loss): {best_epoch}")
        ax.set_xlabel("epoch")
        ax.set_ylabel(ylabel)
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
    name, dataset = result.config.name, result.dataset.name
    title = name if name == dataset else f"{name}: {dataset}"
    curves, boundary = RUN_PLOTS
    written = [plot_curves(result.history, run_dir / curves, title=title,
                           best_epoch=result.metrics.get("best_epoch"))]
    if has_plane(result.dataset):
        written.append(plot_decision_boundary(result.model, result.dataset, run_dir / boundary,
                                              title=f"{result.config.name}: decision boundary"))
    return written


# ---- sweeps -------------------------------------------------------------------------


def _axis(values: list[Any]) -> tuple[list[float], list[str], bool]:
    """x positions of swept values: a log axis for positive numbers (0 drawn one decade
    left of the smallest positive value), evenly spaced otherwise."""
    numeric = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)
    positive = sorted(v for v in values if numeric and v > 0)
    if numeric and positive and all(v >= 0 for v in values) and len(set(values)) > 1 and max(positive) / positive[0] >= 10:
        zero_at = positive[0] / 10
        return [v if v > 0 else zero_at for v in values], [f"{v:g}" for v in values], True
    return [float(i) for i in range(len(values))], [value_text(v) for v in values], False


def plot_validation_curve(points: list[Any], config: Any, dataset: str, score: str, path: Path) -> Path:
    """Mean ± std of train and val score against the first swept key; test dashed, for the record."""
    key = next(iter(config.sweep))
    xs, labels, log = _axis([p.assignment[key] for p in points])
    fig = _figure(7, 4.5)
    ax = fig.add_subplot(1, 1, 1)
    for split, (style, colour, name) in _SPLIT_STYLE.items():
        means = np.array([p.mean(f"{split}_{score}") for p in points])
        if np.all(np.isnan(means)):
            continue
        stds = np.nan_to_num(np.array([p.std(f"{split}_{score}") for p in points]))
        marker = "s" if split == "test" else "o"
        ax.plot(xs, means, style, marker=marker, color=colour, label=name)
        if split != "test":
            ax.fill_between(xs, means - stds, means + stds, color=colour, alpha=0.2)
    chosen = [i for i, p in enumerate(points) if p.selected]
    if chosen:
        ax.axvline(xs[chosen[0]], color="C2", lw=1, ls=":", label=f"selected on val ({config.sweep_options.select})")
    if log:
        ax.set_xscale("log")
    ax.set_xticks(xs, labels)
    ax.minorticks_off()
    n = max(p.n for p in points)
    ax.set_xlabel(key + (" (0 drawn at the far left)" if log and 0 in [p.assignment[key] for p in points] else ""))
    ax.set_ylabel(f"{score} (mean ± std over {n} runs)")
    ax.set_title(f"{dataset}: {score} against {key}")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return save_figure(fig, path)


def plot_heatmap(points: list[Any], config: Any, dataset: str, score: str, path: Path) -> Path | None:
    """Mean validation score over a two-key grid (None for other grids)."""
    keys = list(config.sweep)
    if len(keys) != 2:
        return None
    rows, cols = list(config.sweep[keys[0]]), list(config.sweep[keys[1]])
    grid = np.full((len(rows), len(cols)), np.nan)
    for p in points:
        grid[rows.index(p.assignment[keys[0]]), cols.index(p.assignment[keys[1]])] = p.mean(f"val_{score}")
    fig = _figure(1.2 * len(cols) + 3, 0.8 * len(rows) + 2)
    ax = fig.add_subplot(1, 1, 1)
    image = ax.imshow(grid, cmap="viridis", aspect="auto")
    for i in range(len(rows)):
        for j in range(len(cols)):
            if not np.isnan(grid[i, j]):
                ax.text(j, i, f"{grid[i, j]:.3f}", ha="center", va="center", color="w", fontsize=8)
    ax.set_xticks(range(len(cols)), [value_text(v) for v in cols])
    ax.set_yticks(range(len(rows)), [value_text(v) for v in rows])
    ax.set_xlabel(keys[1])
    ax.set_ylabel(keys[0])
    ax.set_title(f"{dataset}: mean val {score}")
    fig.colorbar(image, ax=ax)
    return save_figure(fig, path)


def plot_weight_norms(points: list[Any], dataset: str, path: Path) -> Path | None:
    """The norm of each layer's weight matrix over the epochs, one colour per grid point
    (its first run), one panel per layer."""
    histories = [(p, read_history(p.done[0].run_dir)) for p in points if p.done]
    histories = [(p, h) for p, h in histories if h]
    if not histories:
        return None
    layers = [k for k in histories[0][1][0] if k.startswith("weight_norm_")]
    fig = _figure(4.2 * len(layers), 4)
    for j, layer in enumerate(layers):
        ax = fig.add_subplot(1, len(layers), j + 1)
        for i, (p, history) in enumerate(histories):
            ax.plot([r["epoch"] for r in history], [r[layer] for r in history], color=f"C{i % 10}", label=label(p.assignment))
        ax.set_xlabel("epoch")
        ax.set_ylabel(f"‖W‖ of {layer[len('weight_norm_'):]}")
        ax.grid(alpha=0.3)
    fig.axes[0].legend(fontsize=8)
    fig.suptitle(f"{dataset}: weight norm per layer")
    return save_figure(fig, path)


def plot_weight_histograms(points: list[Any], dataset: str, path: Path) -> Path | None:
    """The distribution of every final weight, one panel per grid point (its first run)."""
    done = [p for p in points if p.done]
    if not done:
        return None
    weights = [final_weights(p.done[0]) for p in done]
    limit = float(max(np.abs(w).max() for w in weights)) or 1.0
    fig = _figure(3.2 * len(done), 3.2)
    for i, (p, w) in enumerate(zip(done, weights, strict=True)):
        ax = fig.add_subplot(1, len(done), i + 1, sharey=fig.axes[0] if i else None)
        ax.hist(w, bins=40, range=(-limit, limit), color=f"C{i % 10}")
        ax.set_title(label(p.assignment), fontsize=9)
        ax.set_xlabel("weight")
    fig.suptitle(f"{dataset}: final weights")
    return save_figure(fig, path)


def plot_sweep_curves(points: list[Any], dataset: str, path: Path) -> Path | None:
    """Val loss (solid) and train loss (dotted) over the epochs, one colour per point (its first run)."""
    fig = _figure(7, 4.5)
    ax = fig.add_subplot(1, 1, 1)
    drawn = False
    for i, p in enumerate(points):
        history = read_history(p.done[0].run_dir) if p.done else []
        if not history:
            continue
        split = "val" if "val_loss" in history[0] else "train"
        epochs = [row["epoch"] for row in history]
        colour = f"C{i % 10}"
        ax.plot(epochs, [row[f"{split}_loss"] for row in history], "-", color=colour, label=label(p.assignment))
        ax.plot(epochs, [row["train_loss"] for row in history], ":", color=colour)
        drawn = True
    if not drawn:
        return None
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss (data term): val solid, train dotted")
    ax.set_title(f"{dataset}: learning curves")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return save_figure(fig, path)


def plot_sweep_boundaries(points: list[Any], path: Path) -> Path | None:
    """Decision boundaries side by side, one panel per point (its first run; 2-D classification only)."""
    done = [p for p in points if p.done]
    if not done:
        return None
    first = done[0].done[0].config
    dataset = load_dataset(first.data, seed=first.seed, dtype=first.dtype)
    if not has_plane(dataset):
        return None
    fig = _figure(3.6 * len(done), 3.8)
    for i, p in enumerate(done):
        ax = fig.add_subplot(1, len(done), i + 1)
        title = f"{label(p.assignment)}\nval {p.mean('val_accuracy'):.3f}"
        draw_decision_boundary(ax, load_run(p.done[0].run_dir).model, dataset, title)
    return save_figure(fig, path)


def plot_sweep(runs: list[Any], config: Any, out_dir: Path) -> list[Path]:
    """The comparison plots of a sweep, written into its folder."""
    out_dir = Path(out_dir)
    points = summarize(runs, config)
    if not any(p.done for p in points):
        return []
    dataset, score = config.data.dataset, score_name(runs)
    curve, heatmap, losses, norms, histograms, boundaries = (out_dir / name for name in SWEEP_PLOTS)
    written = [
        plot_validation_curve(points, config, dataset, score, curve),
        plot_heatmap(points, config, dataset, score, heatmap),
        plot_sweep_curves(points, dataset, losses),
        plot_weight_norms(points, dataset, norms),
        plot_weight_histograms(points, dataset, histograms),
        plot_sweep_boundaries(points, boundaries),
    ]
    return [path for path in written if path is not None]
