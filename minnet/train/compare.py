"""Compare a sweep's grid points: mean ± std over repeats or folds, paired differences,
and a selection that looks at the validation split only.

``summary.csv`` has one row per grid point: for each split (train, val, test) and score
(loss, accuracy or R², RMSE for regression) ``<split>_<score>_mean`` and ``_std``
(sample standard deviation over the n runs), the weight norm, the paired difference
of the validation score to the first grid point with its 95 % interval (t over the
repeats: repeat r of every point shares its seeds, so the pairing is real), ``n`` and
``selected``.  ``runs.csv`` has one row per run.

Selection (``sweep.select``): ``best`` takes the highest mean validation score;
``one_se`` the most regularized point whose mean is within one standard error of the
best (Hastie, Tibshirani & Friedman's one-standard-error rule).  The test split is
carried along for the record and never consulted.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from minnet.train.config import Config
from minnet.train.report import format_table, value_text

# The runs are sweep.SweepRun objects (task, status, row, best_epoch, weight_norm);
# sweep.py imports this module, so they are typed loosely here.
SweepRun = Any

__all__ = ["REGULARIZES", "Point", "summarize", "summary_csv", "runs_csv", "summary_table", "score_name"]

# Keys whose regularization strength has a direction: +1 when a larger value regularizes
# more (one_se picks the largest within one SE), -1 when a smaller one does.
REGULARIZES: dict[str, int] = {
    "loss.l2": +1,
    "train.patience": -1,
    "train.epochs": -1,
    "model.hidden": -1,
}
# Values that switch the regularizer off, the weakest setting whatever the direction.
OFF = {"train.patience": 0}
SPLITS = ("train", "val", "test")


def score_name(runs: Sequence[SweepRun]) -> str:
    """The task's score column: accuracy for classification, r2 for regression."""
    for run in runs:
        for key in run.row:
            if key.startswith("train_") and key not in ("train_loss", "train_rmse"):
                return key[len("train_"):]
    return "accuracy"


def _scores(runs: Sequence[SweepRun]) -> list[str]:
    keys: dict[str, float] = next((run.row for run in runs if run.row), {})
    return [k[len("train_"):] for k in keys if k.startswith("train_")]


@dataclass
class Point:
    """One grid point: its runs and their aggregate."""

    assignment: dict[str, Any]
    runs: list[SweepRun]
    stats: dict[str, tuple[float, float]] = field(default_factory=dict)  # "val_accuracy" -> (mean, std)
    diff: tuple[float, float] = (math.nan, math.nan)  # paired Δ val score vs the first point: mean, 95 % half-width
    selected: bool = False

    @property
    def done(self) -> list[SweepRun]:
        return [r for r in self.runs if r.status == "completed"]

    @property
    def n(self) -> int:
        return len(self.done)

    @property
    def failed(self) -> int:
        return len(self.runs) - self.n

    def mean(self, key: str) -> float:
        return self.stats.get(key, (math.nan, math.nan))[0]

    def std(self, key: str) -> float:
        return self.stats.get(key, (math.nan, math.nan))[1]


def _mean_std(values: list[float]) -> tuple[float, float]:
    if not values:
        return math.nan, math.nan
    std = float(np.std(values, ddof=1)) if len(values) > 1 else math.nan
    return float(np.mean(values)), std


def _replicate(run: SweepRun) -> tuple[int | None, int | None]:
    return run.task.repeat, run.task.fold


def _strength(key: str, value: Any) -> float:
    """How strongly ``value`` of ``key`` regularizes, times ``REGULARIZES[key]``."""
    if key in OFF and value == OFF[key]:
        return -math.inf
    return REGULARIZES[key] * (float(sum(value)) if isinstance(value, (tuple, list)) else float(value))


def summarize(runs: Sequence[SweepRun], config: Config) -> list[Point]:
    """The grid points in order, aggregated, the selected one marked (validation only)."""
    by_point: dict[str, Point] = {}
    for run in runs:
        key = repr(sorted(run.assignment.items()))
        by_point.setdefault(key, Point(run.assignment, [])).runs.append(run)
    points = list(by_point.values())
    scores = _scores(runs)
    for point in points:
        for split in SPLITS:
            for score in scores:
                key = f"{split}_{score}"
                values = [r.row[key] for r in point.done if key in r.row]
                if values:
                    point.stats[key] = _mean_std(values)
        point.stats["weight_norm"] = _mean_std([r.weight_norm for r in point.done])
        epochs = [float(r.best_epoch) for r in point.done if r.best_epoch]
        if epochs:
            point.stats["best_epoch"] = _mean_std(epochs)
    _paired_differences(points, f"val_{score_name(runs)}")
    chosen = select(points, config)
    if chosen is not None:
        chosen.selected = True
    return points


def _paired_differences(points: list[Point], key: str) -> None:
    """Δ of ``key`` to the first point, run by run with the same seeds and folds."""
    if not points:
        return
    from scipy import stats  # here: scipy.stats takes most of a second to import
    first = {_replicate(r): r.row.get(key) for r in points[0].done}
    for point in points[1:]:
        diffs = [r.row[key] - first[_replicate(r)] for r in point.done
                 if key in r.row and first.get(_replicate(r)) is not None]
        if len(diffs) >= 2:
            half = float(stats.t.ppf(0.975, len(diffs) - 1) * np.std(diffs, ddof=1) / math.sqrt(len(diffs)))
            point.diff = (float(np.mean(diffs)), half)
        elif diffs:
            point.diff = (diffs[0], math.nan)


def select(points: list[Point], config: Config) -> Point | None:
    """The chosen point by mean validation score (None without a validation split)."""
    scored = [p for p in points if p.n and not math.isnan(p.mean(_val_key(p)))]
    if not scored:
        return None
    best = max(scored, key=lambda p: p.mean(_val_key(p)))
    if config.sweep_options.select != "one_se":
        return best
    key = _val_key(best)
    se = best.std(key) / math.sqrt(best.n) if best.n > 1 else 0.0
    if math.isnan(se):
        se = 0.0
    near = [p for p in scored if p.mean(key) >= best.mean(key) - se]
    first_key = next(iter(config.sweep))
    return max(near, key=lambda p: _strength(first_key, p.assignment[first_key]))


def _val_key(point: Point) -> str:
    keys = [k for k in point.stats if k.startswith("val_") and k not in ("val_loss", "val_rmse")]
    return keys[0] if keys else "val_accuracy"


# ---- files ------------------------------------------------------------------------------

def _cell(value: Any) -> Any:
    if isinstance(value, tuple):
        return list(value)
    if isinstance(value, float) and math.isnan(value):
        return ""
    return value


def _csv(header: list[str], rows: list[list[Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows([[_cell(v) for v in row] for row in rows])
    return buffer.getvalue()


def summary_csv(runs: Sequence[SweepRun], config: Config) -> str:
    keys = list(config.sweep)
    score = score_name(runs)
    scores = _scores(runs)
    header = [*keys]
    for split in SPLITS:
        for s in scores:
            header += [f"{split}_{s}_mean", f"{split}_{s}_std"]
    header += ["weight_norm_mean", "weight_norm_std", "best_epoch_mean",
               f"diff_val_{score}_mean", f"diff_val_{score}_ci95", "n", "failed", "selected"]
    rows = []
    for point in summarize(runs, config):
        row: list[Any] = [point.assignment[k] for k in keys]
        for split in SPLITS:
            for s in scores:
                row += [point.mean(f"{split}_{s}"), point.std(f"{split}_{s}")]
        row += [point.mean("weight_norm"), point.std("weight_norm"), point.mean("best_epoch"),
                point.diff[0], point.diff[1], point.n, point.failed, int(point.selected)]
        rows.append(row)
    return _csv(header, rows)


def runs_csv(runs: Sequence[SweepRun], config: Config) -> str:
    keys = list(config.sweep)
    metric_keys = [k for k in next((r.row for r in runs if r.row), {}) if k not in ("epoch", "seconds")
                   and not k.startswith("weight_norm_")]
    header = [*keys, "repeat", "fold", "seed", "init_seed", "status", *metric_keys, "weight_norm", "best_epoch",
              "epochs", "seconds", "run_dir"]
    rows = []
    for run in runs:
        c = run.config
        rows.append([*(run.assignment[k] for k in keys), run.task.repeat, run.task.fold, c.seed,
                     c.effective_init_seed, run.status, *(run.row.get(k, math.nan) for k in metric_keys),
                     run.weight_norm, run.best_epoch, run.row.get("epoch", ""), run.row.get("seconds", ""),
                     run.run_dir.name])
    return _csv(header, [[("" if v is None else v) for v in row] for row in rows])


# ---- the printed table --------------------------------------------------------------------

def _pm(mean: float, std: float) -> str:
    if math.isnan(mean):
        return "-"
    return f"{mean:.4f}" if math.isnan(std) else f"{mean:.4f} ± {std:.4f}"


def summary_table(runs: Sequence[SweepRun], config: Config) -> str:
    """One row per grid point: validation first (what selection uses), test last, for the record."""
    points = summarize(runs, config)
    score = score_name(runs)
    keys = list(config.sweep)
    has_val = any(not math.isnan(p.mean(f"val_{score}")) for p in points)
    header = [*keys]
    if has_val:
        header += [f"val_{score}", "val_loss"]
    header += [f"train_{score}", f"test_{score} (not used)", "weight_norm"]
    if has_val and len(points) > 1:
        header.append(f"Δval_{score} vs first (95% CI)")
    header += ["n", "selected"]
    rows = []
    for i, p in enumerate(points):
        cells = [value_text(p.assignment[k]) for k in keys]
        if has_val:
            cells += [_pm(p.mean(f"val_{score}"), p.std(f"val_{score}")), _pm(p.mean("val_loss"), p.std("val_loss"))]
        cells += [_pm(p.mean(f"train_{score}"), p.std(f"train_{score}")),
                  _pm(p.mean(f"test_{score}"), p.std(f"test_{score}")), _pm(p.mean("weight_norm"), p.std("weight_norm"))]
        if has_val and len(points) > 1:
            mean, half = p.diff
            cells.append("-" if i == 0 or math.isnan(mean) else
                         f"{mean:+.4f}" + ("" if math.isnan(half) else f" ± {half:.4f}"))
        failed = f" ({p.failed} failed)" if p.failed else ""
        cells += [f"{p.n}{failed}", "*" if p.selected else ""]
        rows.append(cells)
    table = format_table(header, rows)
    rule = config.sweep_options.select
    if has_val:
        note = (f"selected: {'highest mean' if rule == 'best' else 'the most regularized within one standard error of the best'}"
                f" val_{score} ({rule}); test is reported for the record, never used to choose")
    else:
        note = "no validation split (data.val_size = 0, no cv): nothing selected; test is never used to choose"
    return table + "\n" + note
