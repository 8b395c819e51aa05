"""Train one config over a grid of values, with repeats or cross-validation folds.

``python train.py CONFIG --sweep loss.l2=0,1e-3,1e-2 --repeats 5`` trains every grid
point five times, each run in its own folder exactly as that run alone would be
(repeat r changes only the initialisation and shuffling seed, ``init_seed = seed + r``,
so all repeats share one data split and repeat r of every point shares its seeds:
differences between points are paired).  ``--cv K`` trains each point on the K folds
of the training split instead.  ``summary.csv`` (one row per point, see
:mod:`minnet.train.compare`) and ``runs.csv`` (one row per run) are rewritten after
every finished run; ``--resume`` on the sweep folder skips the finished runs.

Runs are independent joblib tasks: in parallel on this machine (``--jobs``), or on a
Dask cluster (``sweep.backend = "dask"``).  Each run depends only on its config, so
the results are the same bit for bit wherever they ran.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import math
import re
import shutil
import signal
import sys
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from joblib import Parallel, delayed, parallel_config
from threadpoolctl import threadpool_limits
from tqdm.auto import tqdm

from minnet.train.checkpoint import load_checkpoint
from minnet.train.compare import REGULARIZES, runs_csv, summary_csv
from minnet.train.config import (
    FOLDER_MAX_BYTES,
    Config,
    apply_overrides,
    config_from_dict,
    config_to_dict,
    load_config,
    memory_needs,
    name_problem,
    parse_value,
    to_toml,
)
from minnet.train.data import Dataset, load_dataset
from minnet.train.errors import CheckpointError, ConfigError, DivergedError, MinnetError, TrainingInterrupted
from minnet.train.files import WriteError, atomic_write_text, write_error
from minnet.train.inputs import check_memory
from minnet.train.interrupts import deferred_interrupts
from minnet.train.lock import hold
from minnet.train.report import value_text
from minnet.train.run import SWEEP_FILE, reported_row, resume, run_files_in, train

# What a sweep writes into its folder besides its runs' folders (plots: minnet.train.plots).
SWEEP_TABLES = ("runs.csv", "summary.csv")
SWEEP_PLOTS = ("validation_curve.png", "heatmap.png", "loss_curves.png", "weight_norms.png",
               "weight_histograms.png", "decision_boundaries.png")

__all__ = ["parse_sweep", "sweep_grid", "sweep_tasks", "run_sweep", "resume_sweep", "SweepTask", "SweepRun",
           "SWEEP_FILE"]


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
        if key in sweep:
            raise ConfigError(f"--sweep {key} is given twice; list all its values in one flag ({key}=V1,V2,...)")
        sweep[key] = [parse_value(v) for v in values]
    return sweep


def sweep_grid(config: Config) -> list[dict[str, Any]]:
    """Every combination of the swept values, the first key varying slowest."""
    keys = list(config.sweep)
    return [dict(zip(keys, combo, strict=True)) for combo in itertools.product(*config.sweep.values())]


def _exact_text(value: Any) -> str:
    """A value for a folder name: exact (repr of floats), so distinct values never share a folder."""
    if isinstance(value, (tuple, list)):
        return "-".join(map(str, value))
    return repr(value) if isinstance(value, float) else str(value)


def _folder_name(assignment: dict[str, Any], repeat: int | None, fold: int | None) -> str:
    name = "_".join(f"{k.split('.')[-1]}={_exact_text(v)}" for k, v in assignment.items())
    if repeat is not None:
        name += f"_r{repeat}"
    if fold is not None:
        name += f"_f{fold}"
    return re.sub(r"[^\w.=+-]", "_", name)


@dataclass(frozen=True)
class SweepTask:
    """One run of the sweep: a grid point and, with repeats or cv, which replicate."""

    assignment: dict[str, Any]
    repeat: int | None
    fold: int | None
    config: Config
    run_dir: Path


@dataclass
class SweepRun:
    """What one run of the sweep led to (``row``: its reported history row)."""

    task: SweepTask
    status: str  # completed, diverged or failed
    row: dict[str, float]
    best_epoch: int | None = None
    message: str = ""

    @property
    def assignment(self) -> dict[str, Any]:
        return self.task.assignment

    @property
    def run_dir(self) -> Path:
        return self.task.run_dir

    @property
    def config(self) -> Config:
        return self.task.config

    @property
    def weight_norm(self) -> float:
        """‖W‖ = sqrt(Σ‖W‖²) over the weight matrices: what L2 regularisation shrinks."""
        norms = [v for k, v in self.row.items() if k.startswith("weight_norm_")]
        return math.sqrt(sum(v * v for v in norms)) if norms else math.nan


def _check_grid(config: Config) -> None:
    options = config.sweep_options
    for key, values in config.sweep.items():
        seen: dict[str, Any] = {}
        for value in values:
            text = _exact_text(value)
            if text in seen:
                raise ConfigError(f"sweep.{key}: the value {value!r} is listed twice; each grid value must be distinct")
            seen[text] = value
    if "seed" in config.sweep:  # every point must see the same rows, or no difference is paired
        raise ConfigError("sweep: seed cannot be a grid key; it fixes the data split every point shares. "
                          "Use sweep.repeats (initialisations) or sweep.cv (folds) for spread, or one sweep per seed")
    if options.repeats > 1 and "init_seed" in config.sweep:
        raise ConfigError("sweep.repeats varies init_seed itself; sweep init_seed or set repeats, not both")
    if options.cv and any(k in config.sweep for k in ("data.folds", "data.fold", "data.val_size")):
        raise ConfigError("sweep.cv chooses the validation rows; do not also sweep data.folds, data.fold or data.val_size")
    if options.select == "one_se":
        first = next(iter(config.sweep), None)
        if first not in REGULARIZES:
            raise ConfigError(
                f"sweep.select = 'one_se' picks the strongest regularization within one standard error of the "
                f"best, so the first swept key must be one whose direction is known: {', '.join(REGULARIZES)}; "
                f"got {first!r}"
            )


def sweep_tasks(config: Config, out_dir: Path) -> list[SweepTask]:
    """Every run of the sweep, in grid order (replicates of a point next to each other)."""
    _check_grid(config)
    options = config.sweep_options
    base = config_to_dict(config)
    base.pop("sweep", None)
    repeats = range(options.repeats) if options.repeats > 1 else [None]
    folds = range(options.cv) if options.cv else [None]
    tasks: list[SweepTask] = []
    folders: dict[str, dict[str, Any]] = {}
    for assignment in sweep_grid(config):
        for repeat, fold in itertools.product(repeats, folds):
            values: dict[str, Any] = {k: (list(v) if isinstance(v, tuple) else v) for k, v in assignment.items()}
            if repeat is not None:
                seed = values.get("seed", config.seed)
                values["init_seed"] = (int(seed) + repeat) % 2**32
            if fold is not None:
                values.update({"data.folds": options.cv, "data.fold": fold})
            run_config = config_from_dict(apply_overrides(base, values.items()))
            folder = _folder_name(assignment, repeat, fold)
            problem = name_problem(folder, FOLDER_MAX_BYTES)
            if problem is not None:
                raise ConfigError(f"sweep: the grid point {assignment} cannot name its run folder: {problem}; "
                                  "sweep shorter values")
            if folder in folders:
                raise ConfigError(f"sweep: the grid points {folders[folder]} and {assignment} would share the folder "
                                  f"{folder!r}; make the values distinct")
            folders[folder] = assignment
            tasks.append(SweepTask(assignment, repeat, fold, run_config, out_dir / folder))
    return tasks


# ---- running --------------------------------------------------------------------------

def _finished(task: SweepTask) -> SweepRun | None:
    """The run of ``task`` if its folder already holds it finished with the same config."""
    try:
        metrics = json.loads((task.run_dir / "metrics.json").read_text(encoding="utf-8"))
        same = load_config(task.run_dir / "config.toml") == task.config
    except (OSError, ValueError, MinnetError):
        return None
    if not same or metrics.get("status") not in ("completed", "diverged"):
        return None
    if metrics["status"] == "diverged":
        return SweepRun(task, "diverged", {}, message=f"diverged (epoch {metrics.get('epochs', 0) + 1})")
    return SweepRun(task, "completed", reported_row(metrics), metrics.get("best_epoch"))


def _train_one(task: SweepTask, resuming: bool, force: bool = False, dataset: Dataset | None = None) -> SweepRun:
    """Train (or finish) one run of the sweep, in this process or a worker; ``dataset`` is
    its data, loaded by the parent (None: the run loads it)."""
    if resuming:
        done = _finished(task)
        if done is not None:
            return done
    with threadpool_limits(1):  # one BLAS thread: the same arithmetic in any worker
        try:
            if resuming and (task.run_dir / "model.npz").is_file():
                try:
                    result = resume(task.run_dir, quiet=True)
                except CheckpointError:
                    result = train(task.config, task.run_dir, quiet=True, force=True)
            else:
                result = train(task.config, task.run_dir, quiet=True, force=force or resuming, dataset=dataset)
        except DivergedError as exc:
            return SweepRun(task, "diverged", {}, message=str(exc))
        except TrainingInterrupted:
            raise KeyboardInterrupt from None  # Ctrl-C stops the whole sweep
        except WriteError:
            raise  # a full disk fails every run after it too: it stops the sweep, as one error
        except MinnetError as exc:
            return SweepRun(task, "failed", {}, message=str(exc))
    return SweepRun(task, "completed", result.row, result.metrics.get("best_epoch"))


class _Datasets:
    """Each run's data, loaded here in the parent and sent to the worker with the run:
    loading needs scikit-learn, whose import would cost every worker about a second.
    Runs that share their data (repeats, most grids) share one load."""

    def __init__(self) -> None:
        self._key: tuple | None = None
        self._dataset: Dataset | None = None

    def load(self, config: Config) -> Dataset:
        """The data of ``config`` (a DataError or ConfigError if it cannot be loaded)."""
        key = (repr(config.data), config.seed, config.dtype)
        if key != self._key or self._dataset is None:
            self._key, self._dataset = key, None
            self._dataset = load_dataset(config.data, seed=config.seed, dtype=config.dtype)
        return self._dataset

    def __call__(self, config: Config) -> Dataset | None:
        try:
            return self.load(config)
        except MinnetError:
            return None  # the run itself loads it again and reports the problem


def _leave_ctrl_c_to_the_sweep() -> None:
    """In each local worker: ignore SIGINT.  Ctrl-C in a terminal reaches the whole process
    group, but the sweep stops its workers itself; a worker would only print a traceback."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


# Every message of loky's resource tracker starts "resource_tracker:" (a -W filter's message
# field matches the start); the module is where the tracker's main loop calls warnings.warn.
_TRACKER_WARNINGS = "ignore:resource_tracker:UserWarning:joblib.externals.loky.backend.resource_tracker"


def _start_quiet_resource_tracker() -> None:
    """Start loky's resource tracker, the process that removes the workers' semaphores
    after the sweep, with its warnings off.  Ctrl-C stops a sweep by killing its workers
    mid-run; the tracker may then report a semaphore it cleans up as leaked, after the
    sweep's one error line.  That is loky's bookkeeping (the tracker does the cleaning),
    nothing the user could act on.  The tracker takes its warning filters from the command
    line it is started with, which multiprocessing builds from ``sys.warnoptions``; one
    already running (started earlier in this process) keeps its own."""
    from joblib.externals.loky.backend import resource_tracker

    sys.warnoptions.append(_TRACKER_WARNINGS)
    try:
        resource_tracker.ensure_running()
    finally:
        sys.warnoptions.remove(_TRACKER_WARNINGS)


@contextlib.contextmanager
def _backend(config: Config, jobs: int) -> Iterator[int | None]:
    """Where the runs go: this machine (``jobs`` loky processes, or this one), or the Dask
    cluster at sweep.address."""
    options = config.sweep_options
    if options.backend != "dask":
        if jobs != 1:
            _start_quiet_resource_tracker()
        with parallel_config(backend="loky", initializer=_leave_ctrl_c_to_the_sweep):
            yield None
        return
    try:
        from dask.distributed import Client
    except ImportError:
        raise ConfigError("sweep.backend = 'dask' needs Dask: pip install 'minnet[dask]'") from None
    try:
        client = Client(options.address, timeout="10s")
    except (OSError, TimeoutError, ValueError) as exc:
        raise ConfigError(f"sweep.address: cannot reach the Dask scheduler at {options.address!r} ({exc})") from None
    with client, parallel_config(backend="dask"):
        yield -1  # as many runs at once as the cluster has workers


def _write_tables(out_dir: Path, runs: list[SweepRun], tasks: list[SweepTask], config: Config) -> None:
    order = {task.run_dir: i for i, task in enumerate(tasks)}
    runs = sorted(runs, key=lambda r: order[r.run_dir])
    with deferred_interrupts():  # the two tables always list the same runs
        runs_table, summary_table = (out_dir / name for name in SWEEP_TABLES)
        atomic_write_text(runs_table, runs_csv(runs, config))
        atomic_write_text(summary_table, summary_csv(runs, config))


def run_sweep(config: Config, out_dir: str | Path, jobs: int = 1, quiet: bool = True,
              resuming: bool = False, force: bool = False) -> list[SweepRun]:
    """Train every run of ``config``'s sweep into ``out_dir``; returns them in grid order.

    ``summary.csv`` and ``runs.csv`` exist from the start and are rewritten after every
    finished run, so an interrupted sweep keeps what it finished.  With ``resuming``,
    runs whose folders already hold them finished are read back instead of trained.
    """
    out_dir = Path(out_dir)
    if not config.sweep:
        raise ConfigError("the sweep has no grid: give --sweep KEY=V1,V2,... or a [sweep] table with a dotted key")
    tasks = sweep_tasks(config, out_dir)
    if config.sweep_options.backend != "dask":  # a cluster's workers have their own memory
        _check_memory_at_once(tasks, jobs)
    data = _Datasets()
    if tasks and not resuming:
        data.load(tasks[0].config)  # data that cannot be loaded fails the sweep at once, as one error
    with hold(out_dir, "sweep"):  # one sweep (or --resume) per folder at a time
        return _run_tasks(config, tasks, out_dir, jobs, quiet, resuming, force, data)


def _check_memory_at_once(tasks: list[SweepTask], jobs: int) -> None:
    """Each run was checked alone; ``--jobs N`` trains N of them on this machine at once,
    so the N largest together must fit as well."""
    at_once = min(jobs, len(tasks))
    if at_once < 2:
        return
    largest = sorted((memory_needs(task.config) for task in tasks), key=lambda n: sum(n.values()))[-at_once:]
    together: dict[str, float] = {}
    for needs in largest:
        for what, n in needs.items():
            what = f"{what} in the {at_once} runs that --jobs {jobs} trains at once"
            together[what] = together.get(what, 0.0) + n
    check_memory(together, ConfigError)


def _clear_old_sweep(out_dir: Path) -> None:
    """``--force``: remove what the sweep in ``out_dir`` wrote (its runs' folders, tables
    and plots, nothing else), so old and new results never mix."""
    try:
        old_runs = [task.run_dir for task in sweep_tasks(load_config(out_dir / SWEEP_FILE), out_dir)]
    except ConfigError:  # an unreadable old sweep: its tables and plots still go
        old_runs = []
    try:
        for folder in old_runs:
            if folder.is_dir() and not folder.is_symlink():
                shutil.rmtree(folder)
        for name in (*SWEEP_TABLES, *SWEEP_PLOTS):
            (out_dir / name).unlink(missing_ok=True)
    except OSError as exc:
        raise write_error(exc.filename or out_dir, exc, "remove") from exc


def _run_tasks(config: Config, tasks: list[SweepTask], out_dir: Path, jobs: int, quiet: bool, resuming: bool,
               force: bool, data: _Datasets) -> list[SweepRun]:
    run_files = run_files_in(out_dir)
    if run_files:
        raise ConfigError(f"--out {str(out_dir)!r} holds a run ({', '.join(run_files)}); a sweep is not written into "
                          "a run's folder, even with --force: choose another --out")
    if not resuming and (out_dir / SWEEP_FILE).exists():
        if not force:
            raise ConfigError(f"--out {str(out_dir)!r} already holds a sweep; pass --force to replace it, "
                              f"--resume {out_dir} to finish it, or choose another --out")
        _clear_old_sweep(out_dir)
    atomic_write_text(out_dir / SWEEP_FILE, to_toml(config))
    runs: list[SweepRun] = []
    _write_tables(out_dir, runs, tasks, config)
    bar = tqdm(total=len(tasks), desc=f"{config.name} sweep", unit="run", disable=True if quiet else None, leave=False)
    try:
        with _backend(config, jobs) as cluster_jobs:
            parallel = Parallel(n_jobs=cluster_jobs or jobs, return_as="generator")
            outputs = parallel(delayed(_train_one)(task, resuming, force, None if resuming else data(task.config))
                               for task in tasks)
            try:
                for run in outputs:
                    runs.append(run)
                    _write_tables(out_dir, runs, tasks, config)
                    bar.update(1)
            finally:  # on Ctrl-C or a failure: stop the workers now, without joblib's warning that
                with warnings.catch_warnings():  # the runs still going were cancelled (that was asked for)
                    warnings.simplefilter("ignore", UserWarning)
                    outputs.close()
    finally:
        bar.close()
    order = {task.run_dir: i for i, task in enumerate(tasks)}
    return sorted(runs, key=lambda r: order[r.run_dir])


def resume_sweep(out_dir: str | Path, jobs: int = 1, quiet: bool = True) -> tuple[Config, list[SweepRun]]:
    """Continue the sweep in ``out_dir`` (its ``sweep.toml``): finished runs are kept."""
    out_dir = Path(out_dir)
    config = load_config(out_dir / SWEEP_FILE)
    return config, run_sweep(config, out_dir, jobs=jobs, quiet=quiet, resuming=True)


def label(assignment: dict[str, Any]) -> str:
    """``l2=0.001, lr=0.1``: a grid point named by its values, for legends and titles."""
    return ", ".join(f"{k.split('.')[-1]}={value_text(v)}" for k, v in assignment.items())


def final_weights(run: SweepRun) -> np.ndarray:
    """Every weight-matrix entry the run's checkpoint holds, flattened (for histograms)."""
    params = load_checkpoint(run.run_dir / "model.npz").params
    return np.concatenate([p.ravel() for p in params.values() if p.ndim >= 2])
