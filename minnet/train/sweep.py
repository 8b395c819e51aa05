"""Train one config for several values of a key (a grid for several keys) and compare.

``python train.py CONFIG --sweep loss.l2=0,1e-3,1e-2`` trains one run per value, each
in its own folder exactly as a single run would be (same seed, so a run in a sweep
equals that run alone), optionally in parallel through joblib, and writes
``summary.csv``: final train/test loss and metric, the generalisation gap, the
weight norm ‖W‖ and the time of every run -- the effect of regularisation at a glance.
"""

from __future__ import annotations

import csv
import io
import itertools
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from joblib import Parallel, delayed
from threadpoolctl import threadpool_limits
from tqdm.auto import tqdm

from minnet import losses
from minnet.train.config import Config, apply_overrides, config_from_dict, config_to_dict, parse_value
from minnet.train.errors import ConfigError, DivergedError, MinnetError, TrainingInterrupted
from minnet.train.files import atomic_write_text
from minnet.train.report import format_table, value_text
from minnet.train.run import train

__all__ = ["parse_sweep", "sweep_grid", "run_sweep", "SweepRun", "summary_table", "summary_csv", "ordered",
           "best_run"]


def _split_values(text: str) -> list[str]:
    """Split ``a,b,[c,d]`` at the commas that are not inside brackets."""
    parts, depth, current = [], 0, ""
    for char in text:
        if char == "," and depth == 0:
            parts.append(current)
            current = ""
            continue
        depth += {"[": 1, "]": -1}.get(char, 0)
        current += char
    parts.append(current)
    return [p.strip() for p in parts]


def parse_sweep(items: list[str]) -> dict[str, list[Any]]:
    """``["loss.l2=0,1e-3"]`` -> ``{"loss.l2": [0, 0.001]}``; values are checked later."""
    sweep: dict[str, list[Any]] = {}
    for item in items:
        key, sep, text = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ConfigError(f"--sweep expects KEY=V1,V2,... (e.g. loss.l2=0,1e-3,1e-2), got {item!r}")
        values = _split_values(text)
        if not text.strip() or any(v == "" for v in values):
            raise ConfigError(f"--sweep {key}: expected a comma-separated list of values, got {text!r}")
        sweep[key] = [parse_value(v) for v in values]
    return sweep


def sweep_grid(config: Config) -> list[dict[str, Any]]:
    """Every combination of the swept values, the first key varying slowest."""
    keys = list(config.sweep)
    return [dict(zip(keys, combo, strict=True)) for combo in itertools.product(*config.sweep.values())]


def _folder_name(assignment: dict[str, Any]) -> str:
    name = "_".join(f"{k.split('.')[-1]}={value_text(v)}" for k, v in assignment.items())
    return re.sub(r"[^\w.=+-]", "_", name)


def _run_config(config: Config, assignment: dict[str, Any]) -> Config:
    raw = config_to_dict(config)
    raw.pop("sweep", None)
    values = {k: (list(v) if isinstance(v, tuple) else v) for k, v in assignment.items()}
    return config_from_dict(apply_overrides(raw, values.items()))


@dataclass
class SweepRun:
    """One row of the comparison: what a swept value led to."""

    assignment: dict[str, Any]
    config: Config
    run_dir: Path
    status: str                       # completed, diverged or failed
    final: dict[str, float]
    weight_norm: float
    seconds: float
    message: str = ""


def _weight_norm(model: Any) -> float:
    """‖W‖ = sqrt(Σ‖W‖²) over the weight matrices: what L2 regularisation shrinks."""
    return math.sqrt(sum(float(np.vdot(w.data, w.data)) for w in losses.weight_matrices(model)))


def _train_one(config: Config, assignment: dict[str, Any], run_dir: Path) -> SweepRun:
    """Train one value of the sweep (in this process or a joblib worker)."""
    run_config = _run_config(config, assignment)
    with threadpool_limits(1):  # one BLAS thread: the same arithmetic in any worker
        try:
            result = train(run_config, run_dir, quiet=True)
        except DivergedError as exc:
            return SweepRun(assignment, run_config, run_dir, "diverged", {}, math.nan, 0.0, str(exc))
        except TrainingInterrupted:
            raise KeyboardInterrupt from None  # Ctrl-C stops the whole sweep
        except MinnetError as exc:
            return SweepRun(assignment, run_config, run_dir, "failed", {}, math.nan, 0.0, str(exc))
    return SweepRun(assignment, run_config, run_dir, "completed", result.history[-1], _weight_norm(result.model),
                    result.metrics["seconds"])


def run_sweep(config: Config, out_dir: str | Path, jobs: int = 1, quiet: bool = True) -> list[SweepRun]:
    """Train every value of ``config.sweep`` into ``out_dir/<value>/``; keep ``summary.csv`` current.

    Returns the runs in grid order, however the workers finished.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    grid = sweep_grid(config)
    tasks = [delayed(_train_one)(config, a, out_dir / _folder_name(a)) for a in grid]
    runs: list[SweepRun] = []
    bar = tqdm(total=len(tasks), desc=f"{config.name} sweep", unit="run", disable=True if quiet else None, leave=False)
    try:
        for run in Parallel(n_jobs=jobs, return_as="generator")(tasks):
            runs.append(run)
            atomic_write_text(out_dir / "summary.csv", summary_csv(runs))
            bar.update(1)
    finally:
        bar.close()
    runs = ordered(runs, grid)
    atomic_write_text(out_dir / "summary.csv", summary_csv(runs))
    return runs


# ---- the comparison -----------------------------------------------------------------

def _metric(runs: list[SweepRun]) -> str:
    for run in runs:
        for key in run.final:
            if key.startswith("train_") and key != "train_loss":
                return key[len("train_"):]
    return "accuracy"


def _rows(runs: list[SweepRun]) -> tuple[list[str], list[list[Any]]]:
    metric = _metric(runs)
    keys = list(runs[0].assignment) if runs else []
    header = [*keys, "train_loss", "test_loss", f"train_{metric}", f"test_{metric}", "gap", "weight_norm",
              "seconds", "status"]
    rows = []
    for run in runs:
        f = run.final
        scores = [f.get("train_loss", math.nan), f.get("test_loss", math.nan),
                  f.get(f"train_{metric}", math.nan), f.get(f"test_{metric}", math.nan)]
        gap = scores[2] - scores[3]
        rows.append([*run.assignment.values(), *scores, gap, run.weight_norm, run.seconds, run.status])
    return header, rows


def summary_csv(runs: list[SweepRun]) -> str:
    header, rows = _rows(runs)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([*header, "run_dir"])
    for run, row in zip(runs, rows, strict=True):
        writer.writerow([*(list(v) if isinstance(v, tuple) else v for v in row), run.run_dir.name])
    return buffer.getvalue()


def best_run(runs: list[SweepRun]) -> SweepRun | None:
    """The completed run with the highest test metric (accuracy or R²)."""
    metric = f"test_{_metric(runs)}"
    done = [r for r in runs if r.status == "completed"]
    return max(done, key=lambda r: r.final[metric]) if done else None


def summary_table(runs: list[SweepRun]) -> str:
    """One row per value; the best by test metric marked with *, failed runs say so."""
    header, rows = _rows(runs)
    best = best_run(runs)
    shown = []
    for run, row in zip(runs, rows, strict=True):
        cells = [value_text(v) for v in row[:len(run.assignment)]]
        if run.status == "completed":
            cells += row[len(run.assignment):-1] + ["*" if run is best else ""]
        else:
            cells += ["-"] * (len(row) - len(run.assignment) - 1) + [run.status]
        shown.append(cells)
    return format_table([*header[:-1], "best"], shown)


def ordered(runs: list[SweepRun], grid: list[dict[str, Any]]) -> list[SweepRun]:
    position = {tuple(map(str, a.values())): i for i, a in enumerate(grid)}
    return sorted(runs, key=lambda r: position[tuple(map(str, r.assignment.values()))])
