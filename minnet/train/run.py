"""Train an MLP from a Config: the loop behind ``python train.py``, as a Python API.

``train(config, run_dir)`` builds data, model, loss and optimizer from the config,
runs minibatch SGD on L + l2·R, evaluates every epoch, and -- when given a run
folder -- keeps ``config.toml``, ``history.csv``, ``model.npz`` and ``metrics.json``
there up to date after every epoch, so a crash, a divergence or Ctrl-C never loses
a finished epoch.  ``load_run(run_dir)`` brings a trained model back to predict.

One seed drives everything: the data (generation and the train / validation / test
split), the initial weights and the shuffling (``init_seed``, when set, moves only the
last two: a sweep's repeats); resuming from a checkpoint restores the shuffling
generator, so a resumed run is bit-identical to an uninterrupted one.

Every decision of a run looks at the validation split only: early stopping
(``train.patience``) watches the validation loss and keeps the best epoch's weights.
The test split is evaluated for the record.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from minnet import losses
from minnet.autograd.state import no_grad
from minnet.autograd.tensor import Tensor
from minnet.compiler import CompiledStep
from minnet.nn import Module
from minnet.optim import OPTIMIZERS, SGD, Optimizer, lr_scheduler
from minnet.train.checkpoint import Checkpoint, load_checkpoint, save_checkpoint
from minnet.train.config import (
    FOLDER_MAX_BYTES,
    Config,
    apply_overrides,
    config_from_dict,
    config_to_dict,
    load_config,
    name_problem,
    to_toml,
)
from minnet.train.data import Dataset, dataset_hash, load_dataset, minibatches, original_labels
from minnet.train.errors import CheckpointError, ConfigError, DataError, DivergedError, TrainingInterrupted
from minnet.train.factory import build_from_factory, factory_spec
from minnet.train.files import WriteError, atomic_write_text, sync_file, write_error
from minnet.train.history import append_history, history_csv, read_history
from minnet.train.interrupts import deferred_interrupts
from minnet.train.lock import hold, make_folder, remove_empty
from minnet.train.loop import NonFiniteError, train_epoch, training_step
from minnet.train.metrics import METRICS, rmse
from minnet.train.models import build_mlp, mlp_spec

__all__ = ["train", "resume", "TrainResult", "new_run_dir", "claim_run_dir", "start_run", "reported_row", "versions",
           "run_files_in"]

DEFAULT_LOSS = {"classification": "softmax_cross_entropy", "regression": "mse"}


@dataclass
class TrainResult:
    model: Module
    history: list[dict[str, float]]
    metrics: dict[str, Any]
    dataset: Dataset
    run_dir: Path | None = None
    config: Config = field(default_factory=Config)

    @property
    def row(self) -> dict[str, float]:
        """The history row of the weights the model holds (the best epoch's, with early stopping)."""
        return reported_row(self.metrics)


def reported_row(metrics: dict[str, Any]) -> dict[str, float]:
    """A run's result: its best epoch's row with early stopping, else its last one."""
    return metrics.get("best") or metrics["final"]


def versions() -> dict[str, str]:
    """What produced a result, so two runs can be compared later (scikit-learn's version
    read from its metadata: a sweep's worker does not import it)."""
    from importlib.metadata import version

    import minnet

    return {"minnet": minnet.__version__, "numpy": np.__version__, "scikit-learn": version("scikit-learn")}


# ---- run folders --------------------------------------------------------------------

def new_run_dir(name: str, root: str | Path = "runs") -> Path:
    """``runs/<name>``, or ``runs/<name>-2``, ``-3``, ... so earlier runs are never overwritten.

    ``name`` must pass the config's ``name`` rule (``name_problem``): then the folder is
    always a new one directly inside ``root``, never ``root`` itself, its parent or a path
    the file system refuses."""
    problem = name_problem(name, FOLDER_MAX_BYTES)
    if problem is not None:
        raise ConfigError(f"name: {name[:60]!r} cannot name a run folder: {problem}")
    root = Path(root)
    candidate, n = root / name, 1
    try:
        while candidate.exists():
            n += 1
            candidate = root / f"{name}-{n}"
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot use the runs folder {str(root)!r}: {getattr(exc, 'strerror', None) or exc}") from None
    return candidate


@contextlib.contextmanager
def claim_run_dir(name: str, root: str | Path = "runs") -> Iterator[Path]:
    """``new_run_dir``'s folder, created exclusively, so two runs of one name started at
    once get ``<name>`` and ``<name>-2``; removed again if the run leaves nothing in it."""
    while True:
        candidate = new_run_dir(name, root)
        try:
            created = make_folder(candidate, "run", exclusive=True)
            break
        except FileExistsError:
            if not candidate.exists():  # a dangling symlink: new_run_dir would offer it again
                raise ConfigError(f"run folder {str(candidate)!r} is a broken link; remove it or pass --out") from None
    try:
        yield candidate
    finally:
        remove_empty(created)


# What a run leaves in its folder; a folder holding any of them holds a run.
RUN_FILES = ("config.toml", "history.csv", "metrics.json", "model.npz")
RUN_PLOTS = ("curves.png", "decision_boundary.png")  # what --plot adds (minnet.train.plots)
SWEEP_FILE = "sweep.toml"  # a sweep's own config, in its folder: what --resume continues


def run_files_in(folder: Path) -> list[str]:
    """The names of the run files ``folder`` holds (none: it holds no run)."""
    return [name for name in RUN_FILES if (folder / name).exists()]


def _refuse_held(run_dir: Path, force: bool) -> list[str]:
    """The run files ``run_dir`` holds; any at all is an error unless ``force``.  A
    sweep's folder is never a run's, even with ``force``: the two would mix."""
    if (run_dir / SWEEP_FILE).exists():
        raise ConfigError(f"--out {str(run_dir)!r} holds a sweep ({SWEEP_FILE}); a run is not written into a "
                          "sweep's folder, even with --force: choose another --out")
    held = run_files_in(run_dir)
    if held and not force:
        raise ConfigError(f"--out {str(run_dir)!r} already holds a run ({', '.join(held)}); pass --force to "
                          "replace it, or choose another --out")
    return held


def _prepare_dir(run_dir: Path, held: list[str]) -> None:
    """Clear the run ``run_dir`` held (``--force``: its files and plots, nothing else), so
    old and new results never mix."""
    if not held:
        return
    for stale in [run_dir / name for name in (*RUN_FILES, *RUN_PLOTS)]:
        try:
            stale.unlink(missing_ok=True)
        except OSError as exc:
            raise write_error(stale, exc, "remove") from exc


# ---- the pieces a config describes --------------------------------------------------

def _loss_name(config: Config, dataset: Dataset) -> str:
    name = config.loss.name or DEFAULT_LOSS[dataset.task]
    if name == "softmax_cross_entropy" and dataset.task != "classification":
        raise ConfigError(
            f"loss.name: 'softmax_cross_entropy' needs class labels, but dataset "
            f"{dataset.name!r} is a regression task; use 'mse'"
        )
    return name


def _splits(dataset: Dataset) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Each split's inputs and labels, in the order history.csv lists them."""
    splits = {"train": (dataset.X_train, dataset.y_train)}
    if dataset.has_val:
        splits["val"] = (dataset.X_val, dataset.y_val)
    splits["test"] = (dataset.X_test, dataset.y_test)
    return splits


def _targets(dataset: Dataset, loss_name: str, dtype: np.dtype) -> dict[str, np.ndarray]:
    """What the loss compares predictions with, per split: labels, or one-hot rows for MSE on classes."""
    labels = {split: y for split, (_, y) in _splits(dataset).items()}
    if dataset.task == "classification" and loss_name == "mse":
        eye = np.eye(dataset.n_outputs, dtype=dtype)
        return {split: eye[y] for split, y in labels.items()}
    return labels


def _scaler_state(dataset: Dataset) -> dict[str, np.ndarray]:
    state: dict[str, Any] = {}  # y_mean and y_scale are set for every regression dataset
    if dataset.x_mean is not None and dataset.x_scale is not None:
        state["data/x_mean"] = dataset.x_mean
        state["data/x_scale"] = dataset.x_scale
    if dataset.fill is not None:
        state["data/fill"] = dataset.fill
    if dataset.task == "regression":
        state["data/y_mean"] = dataset.y_mean
        state["data/y_scale"] = dataset.y_scale
    return state


# Fast epochs are checkpointed at most this often (seconds), so a tiny model trained
# for thousands of epochs does not spend its time writing files.  The state of the
# last finished epoch is always kept in memory and written at the end, on Ctrl-C and
# on divergence; history.csv gets its row after every epoch.
CHECKPOINT_INTERVAL = 1.0


@dataclass
class _Snapshot:
    """The state at the end of an epoch: what a checkpoint of that epoch holds."""

    epoch: int
    params: dict[str, np.ndarray]
    optimizer: dict[str, Any]  # Optimizer.state_dict()
    schedule: dict[str, Any] | None
    rng: dict[str, Any]
    best: _Best


@dataclass
class _Best:
    """Early stopping's memory: the best validation loss so far, its epoch and weights."""

    epoch: int = 0
    loss: float = math.inf
    stale: int = 0  # epochs since the best one
    params: dict[str, np.ndarray] | None = None

    def to_meta(self) -> dict[str, Any]:
        return {"best_epoch": self.epoch, "best_val_loss": self.loss, "stale_epochs": self.stale}


@dataclass
class _Run:
    """Everything one training run holds while it goes."""

    config: Config
    dataset: Dataset
    model: Module
    optimizer: Optimizer
    schedule: Any  # an lr_scheduler, or None for a constant rate
    loss_fn: Any
    targets: dict[str, np.ndarray]
    rng: np.random.Generator
    history: list[dict[str, float]]
    run_dir: Path | None
    best: _Best = field(default_factory=_Best)
    snapshot: _Snapshot | None = None
    saved_epoch: int = 0
    saved_at: float = 0.0
    step: CompiledStep | None = None  # the compiled training step, made at the first epoch

    @property
    def epoch(self) -> int:
        return len(self.history)

    @property
    def patience(self) -> int:
        return self.config.train.patience

    @property
    def stopped(self) -> bool:
        """Early stopping has ended the run: ``patience`` epochs without a better val loss."""
        return bool(self.patience) and self.best.stale >= self.patience

    def evaluate(self, X: np.ndarray, target: np.ndarray, labels: np.ndarray) -> dict[str, float]:
        with no_grad():
            out = self.model(Tensor(X))
            loss = self.loss_fn(out, target).item()
        task = self.dataset.task
        name, metric = METRICS[task]
        scores = {"loss": loss, name: metric(out.data, labels)}
        if task == "regression":  # in the target's original units
            scores["rmse"] = rmse(self.dataset.unscale_target(out.data), self.dataset.unscale_target(labels))
        return scores

    def end_epoch(self, row: dict[str, float]) -> None:
        """Record a finished epoch: its history row on disk now (first: if that write fails
        the run is as it was), its checkpoint at most every CHECKPOINT_INTERVAL seconds
        (and always at the end, on Ctrl-C or divergence)."""
        if self.run_dir is not None:
            append_history(self.run_dir / "history.csv", row)
        self.history.append(row)
        if self.run_dir is None:
            return
        self.snapshot = _Snapshot(
            epoch=self.epoch,
            params=self.model.state_dict(),
            optimizer=self.optimizer.state_dict(),
            schedule=None if self.schedule is None else self.schedule.state_dict(),
            rng=dict(self.rng.bit_generator.state),
            best=_Best(self.best.epoch, self.best.loss, self.best.stale, self.best.params),
        )
        done = self.epoch == self.config.train.epochs or self.stopped
        if done or time.monotonic() - self.saved_at >= CHECKPOINT_INTERVAL:
            self.save()

    def save(self) -> None:
        """Write the checkpoint of the last finished epoch, unless it is on disk already."""
        snap = self.snapshot
        if self.run_dir is None or snap is None or snap.epoch == self.saved_epoch:
            return
        state = _scaler_state(self.dataset)
        optimizer_meta = {"name": self.config.optim.name, **_optimizer_to_checkpoint(snap.optimizer, state)}
        params = snap.params
        if self.patience and snap.best.params is not None:  # the checkpoint holds the best epoch's weights ...
            params = snap.best.params
            state.update({f"current/{k}": v for k, v in snap.params.items()})  # ... and resume needs the last
        meta = {
            "epoch": snap.epoch,
            "model": self.model_spec,
            "config": config_to_dict(self.config),
            "optimizer": optimizer_meta,
            "schedule": snap.schedule,
            "rng": snap.rng,
            "data": {
                "name": self.dataset.name,
                "task": self.dataset.task,
                "feature_names": list(self.dataset.feature_names),
                "class_names": self.dataset.class_names,
                "labels": original_labels(self.dataset),
                "encoding": self.dataset.encoding,
                "target_column": self.dataset.target_column,
            },
            "last_row": self.history[snap.epoch - 1],
            "early_stopping": snap.best.to_meta(),
            "data_hash": self.data_hash,
        }
        sync_file(self.run_dir / "history.csv")  # resume needs the rows up to the checkpoint's epoch
        save_checkpoint(self.run_dir / "model.npz", params, meta, state)
        self.saved_epoch, self.saved_at = snap.epoch, time.monotonic()

    @cached_property
    def data_hash(self) -> str:
        """What the model was trained on, so ``--resume`` can tell if the data changed."""
        return dataset_hash(self.dataset)

    @property
    def model_spec(self) -> dict[str, Any]:
        m = self.config.model
        if m.factory:
            return factory_spec(m.factory, m.options, self.dataset.n_features, self.dataset.n_outputs)
        return mlp_spec(self.model_sizes, m.activation)

    @property
    def model_sizes(self) -> list[int]:
        return [self.dataset.n_features, *self.config.model.hidden, self.dataset.n_outputs]


def start_run(config: Config, run_dir: Path | None = None, dataset: Dataset | None = None) -> _Run:
    """Data, model, optimizer and generators for a fresh run of ``config``; ``dataset``,
    when given, is ``load_dataset`` of the config's data, loaded by the caller."""
    dtype = np.dtype(config.dtype)
    if dataset is None:
        dataset = load_dataset(config.data, seed=config.seed, dtype=dtype)
    init_seed, shuffle_seed = np.random.SeedSequence(config.effective_init_seed).spawn(2)
    sizes = [dataset.n_features, *config.model.hidden, dataset.n_outputs]
    rng = np.random.default_rng(init_seed)
    if config.model.factory:
        model: Module = build_from_factory(config.model.factory, config.model.options, dataset.n_features,
                                           dataset.n_outputs, rng, dtype)
    else:
        model = build_mlp(sizes, config.model.activation, rng=rng, dtype=dtype)
    optimizer = build_optimizer(config, model.parameters())
    loss_name = _loss_name(config, dataset)
    return _Run(
        config=config,
        dataset=dataset,
        model=model,
        optimizer=optimizer,
        schedule=build_schedule(config, optimizer),
        loss_fn=losses.LOSSES[loss_name],
        targets=_targets(dataset, loss_name, dtype),
        rng=np.random.default_rng(shuffle_seed),
        history=[],
        run_dir=run_dir,
    )


# ---- the loop -----------------------------------------------------------------------

def _run_epoch(run: _Run) -> None:
    """One epoch of ``run`` through ``train_epoch``, its divergence as a DivergedError naming the epoch."""
    config = run.config
    batches = minibatches(len(run.dataset.X_train), config.train.batch_size, config.train.shuffle, run.rng)
    if run.step is None:
        run.step = training_step(run.model, run.loss_fn, run.optimizer, config.loss.l2,
                                 losses.weight_matrices(run.model), config.train.clip_grad_norm)
    try:
        train_epoch(run.model, run.loss_fn, run.optimizer, run.dataset.X_train, run.targets["train"], batches,
                    step=run.step)
    except NonFiniteError:
        raise _diverged(run, run.epoch + 1) from None


def _diverged(run: _Run, epoch: int) -> DivergedError:
    where = f"; history and the checkpoint of epoch {run.epoch} are kept in {run.run_dir}" \
        if run.run_dir is not None and run.epoch else ""
    return DivergedError(
        f"training diverged at epoch {epoch}: the loss became NaN or infinite; "
        f"try a smaller optim.lr (now {run.config.optim.lr:g}), e.g. --set optim.lr={run.config.optim.lr / 10:g}{where}"
    )


def _epoch_row(run: _Run, seconds: float) -> dict[str, float]:
    """epoch, each score of each split (train, val, test), each weight matrix's norm, seconds."""
    scores = {split: run.evaluate(X, run.targets[split], y) for split, (X, y) in _splits(run.dataset).items()}
    if not all(math.isfinite(s["loss"]) for s in scores.values()):
        raise _diverged(run, run.epoch + 1)
    row: dict[str, float] = {"epoch": run.epoch + 1}
    for key in scores["train"]:
        for split, values in scores.items():
            row[f"{split}_{key}"] = values[key]
    for name, param in run.model.named_parameters():
        if param.data.ndim >= 2:  # what L2 shrinks, layer by layer
            row[f"weight_norm_{name}"] = float(np.linalg.norm(param.data))
    row["seconds"] = round(seconds, 4)
    return row


def _schedule(run: _Run, row: dict[str, float]) -> None:
    """The learning-rate schedule's step for a finished epoch (plateau: on validation loss)."""
    if run.schedule is None:
        return
    if run.config.optim.schedule == "plateau":
        run.schedule.step(row["val_loss"])
    else:
        run.schedule.step()


def build_optimizer(config: Config, params: Any) -> Optimizer:
    """The optimizer ``config.optim`` names, with the hyper-parameters it reads."""
    o = config.optim
    if o.name == "sgd":
        return SGD(params, lr=o.lr, momentum=o.momentum, dampening=o.dampening, weight_decay=o.weight_decay,
                   nesterov=o.nesterov)
    return OPTIMIZERS[o.name](params, lr=o.lr, betas=o.betas, eps=o.eps, weight_decay=o.weight_decay)


def build_schedule(config: Config, optimizer: Optimizer) -> Any:
    """``optim.schedule``'s scheduler (cosine anneals over ``train.epochs``), or None."""
    o = config.optim
    if o.schedule == "step":
        return lr_scheduler.StepLR(optimizer, o.step_size, o.gamma)
    if o.schedule == "cosine":
        return lr_scheduler.CosineAnnealingLR(optimizer, config.train.epochs)
    if o.schedule == "plateau":
        return lr_scheduler.ReduceLROnPlateau(optimizer, patience=o.patience, factor=o.gamma)
    return None


def _optimizer_to_checkpoint(state_dict: dict[str, Any], arrays: dict[str, np.ndarray]) -> dict[str, Any]:
    """Buffers into ``arrays`` (``optim/<i>/<name>``), numbers into the JSON returned."""
    scalars: dict[str, dict[str, Any]] = {}
    for i, entry in enumerate(state_dict["state"]):
        for key, value in entry.items():
            if isinstance(value, np.ndarray):
                arrays[f"optim/{i}/{key}"] = value
            else:
                scalars.setdefault(str(i), {})[key] = value
    hyper = {k: (list(v) if isinstance(v, tuple) else v) for k, v in state_dict["hyperparameters"].items()}
    return {"hyperparameters": hyper, "scalars": scalars, "parameters": len(state_dict["state"])}


def _optimizer_from_checkpoint(meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> dict[str, Any]:
    entries: list[dict[str, Any]] = [dict(meta["scalars"].get(str(i), {})) for i in range(int(meta["parameters"]))]
    for name, value in arrays.items():
        if name.startswith("optim/"):
            _, index, key = name.split("/", 2)
            entries[int(index)][key] = value
    return {"hyperparameters": meta["hyperparameters"], "state": entries}


def _watch(run: _Run, row: dict[str, float]) -> None:
    """Early stopping's bookkeeping for a finished epoch (validation loss only)."""
    if not run.patience:
        return
    if row["val_loss"] < run.best.loss:
        run.best = _Best(int(row["epoch"]), row["val_loss"], 0, run.model.state_dict())
    else:
        run.best.stale += 1


def _metrics(run: _Run, status: str) -> dict[str, Any]:
    last = run.history[-1] if run.history else {}
    metrics: dict[str, Any] = {
        "status": status,
        "name": run.config.name,
        "dataset": run.dataset.name,
        "task": run.dataset.task,
        "epochs": run.epoch,
        "final": last,
        "seconds": round(sum(row["seconds"] for row in run.history), 4),
    }
    if run.patience and run.best.epoch:
        metrics["best_epoch"] = run.best.epoch  # 1-based: the weights model.npz holds
        metrics["best"] = run.history[run.best.epoch - 1]
        metrics["stopped_early"] = run.stopped
    metrics["versions"] = versions()
    metrics["config_hash"] = hashlib.sha256(to_toml(run.config).encode("utf-8")).hexdigest()
    metrics["data_hash"] = run.data_hash
    return metrics


def _finish(run: _Run, status: str) -> dict[str, Any]:
    metrics = _metrics(run, status)
    if run.run_dir is not None:
        atomic_write_text(run.run_dir / "metrics.json", json.dumps(metrics, indent=2) + "\n")
    return metrics


def _epochs(run: _Run, bar: Any, lines: bool) -> None:
    """Train, evaluate and save epoch after epoch until the configured number."""
    while run.epoch < run.config.train.epochs and not run.stopped:
        started = time.perf_counter()
        _run_epoch(run)
        row = _epoch_row(run, time.perf_counter() - started)
        with deferred_interrupts():  # the epoch is recorded whole (memory, history.csv, checkpoint) or not at all
            _watch(run, row)
            _schedule(run, row)
            run.end_epoch(row)
        bar.update(1)
        # what training looks at: never the test split
        shown = {k: f"{v:.4g}" for k, v in row.items() if k.split("_")[0] in ("train", "val")}
        bar.set_postfix(shown)
        if lines:  # stderr is a log, not a terminal: one line per epoch, as Keras' verbose=2
            scores = " ".join(f"{k}={v}" for k, v in shown.items())
            print(f"{run.config.name} epoch {run.epoch}/{run.config.train.epochs}: {scores} ({row['seconds']:.2f} s)",
                  file=sys.stderr, flush=True)


class _NoBar:
    """A quiet run's progress bar.  Even a disabled tqdm makes a multiprocessing lock, which a
    sweep worker killed by Ctrl-C would leak (and Python would warn about it at exit)."""

    def update(self, n: int = 1) -> None:
        pass

    def set_postfix(self, values: dict[str, str]) -> None:
        pass

    def close(self) -> None:
        pass


def _loop(run: _Run, quiet: bool) -> dict[str, Any]:
    bar = _NoBar() if quiet else tqdm(total=run.config.train.epochs, initial=run.epoch, desc=run.config.name,
                                      unit="epoch", disable=None, leave=False)  # None: only on a terminal
    try:
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):  # we check divergence ourselves
            _epochs(run, bar, lines=not quiet and not sys.stderr.isatty())
    except DivergedError as exc:
        _keep(run, "diverged", exc)
        raise
    except KeyboardInterrupt as exc:
        _keep(run, "interrupted", exc)
        done = run.snapshot.epoch if run.snapshot else run.epoch
        if not done:
            raise TrainingInterrupted("interrupted before the first epoch finished; nothing to resume") from None
        where = f" in {run.run_dir}; resume with: python train.py --resume {run.run_dir}" if run.run_dir else ""
        raise TrainingInterrupted(f"interrupted; epochs 1-{done} are saved{where}") from None
    except BaseException as exc:
        _keep(run, None, exc)  # whatever went wrong, the last finished epoch stays on disk
        raise
    finally:
        bar.close()
    with deferred_interrupts():
        run.save()
        if run.patience and run.best.params is not None:
            run.model.load_state_dict(run.best.params)  # the model the run reports: the best epoch's
        return _finish(run, "completed")


def _keep(run: _Run, status: str | None, stopped_by: BaseException) -> None:
    """After ``stopped_by`` ended the loop: save the last finished epoch (and, given a status,
    metrics.json), Ctrl-C held back until it is written.  When the loop was stopped by a
    failed write, another one here (the disk is still full) is no news: the first is reported."""
    with deferred_interrupts():
        try:
            run.save()
            if status is not None:
                _finish(run, status)
        except WriteError:
            if not isinstance(stopped_by, WriteError):
                raise


def train(
    config: Config | str | Path,
    run_dir: str | Path | None = None,
    quiet: bool = True,
    force: bool = False,
    dataset: Dataset | None = None,
) -> TrainResult:
    """Train the model a config describes; with ``run_dir``, keep every result on disk there.

    ``config`` is a Config or a path to a TOML file.  A ``run_dir`` that already holds a
    run is refused unless ``force``.  ``dataset`` is the config's data already loaded
    (a sweep's parent loads it, so its workers need no scikit-learn).  Raises ConfigError/DataError for bad input,
    DivergedError if the loss blows up, TrainingInterrupted on Ctrl-C.
    """
    if not isinstance(config, Config):
        config = load_config(config)
    if run_dir is None:
        run = start_run(config, dataset=dataset)
        return TrainResult(run.model, run.history, _loop(run, quiet), run.dataset, None, config)
    run_dir = Path(run_dir)
    with hold(run_dir):  # one process per run folder, from before any work to the last file
        held = _refuse_held(run_dir, force)  # before loading data, so a refusal costs nothing
        run = start_run(config, run_dir, dataset)
        with deferred_interrupts():
            _prepare_dir(run_dir, held)
            atomic_write_text(run_dir / "history.csv", "")
            atomic_write_text(run_dir / "config.toml", to_toml(config))
        metrics = _loop(run, quiet)
    return TrainResult(run.model, run.history, metrics, run.dataset, run_dir, config)


def resume(run_dir: str | Path, overrides: Sequence[tuple[str, Any]] = (), quiet: bool = True) -> TrainResult:
    """Continue a run from its checkpoint; only ``train.epochs`` may be changed.

    A run resumes exactly as it was trained: its ``config.toml`` (the truth for every
    hyper-parameter; an edited ``train.epochs`` is the one change it may carry), its
    checkpoint, its data (checked against the checkpoint's ``data_hash``) and its
    ``history.csv`` must agree, else a ConfigError, CheckpointError or DataError says
    where they differ.  Nothing is written before all of it has been checked.  History
    rows after the checkpoint's epoch are dropped: the checkpoint is the truth, and
    those epochs are trained again.
    """
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        what = "is not a folder" if run_dir.exists() else "does not exist"
        raise CheckpointError(f"--resume: run folder {str(run_dir)!r} {what}")
    with hold(run_dir):  # a run still going (or another --resume) is refused
        return _resume(run_dir, overrides, quiet)


def _resume(run_dir: Path, overrides: Sequence[tuple[str, Any]], quiet: bool) -> TrainResult:
    for key, _ in overrides:
        if key != "train.epochs":
            raise ConfigError(f"--resume continues a run as configured; only train.epochs may be changed, not {key}")
    checkpoint = load_checkpoint(run_dir / "model.npz")
    config = _resumed_config(run_dir, checkpoint, overrides)
    run = start_run(config, run_dir)
    stored_hash = checkpoint.meta.get("data_hash")
    if stored_hash is not None and stored_hash != run.data_hash:
        source = f"data file {config.data.path!r}" if config.data.dataset == "csv" else f"dataset {config.data.dataset!r}"
        raise DataError(f"--resume: {source} is not the data run {str(run_dir)!r} was trained on (its contents "
                        "differ from the checkpoint's data_hash); restore it, or start a new run")
    _restore(run, checkpoint)
    run.history = _resumed_history(run_dir, checkpoint)
    run.saved_epoch = run.epoch
    with deferred_interrupts():
        atomic_write_text(run_dir / "config.toml", to_toml(config))
        atomic_write_text(run_dir / "history.csv", history_csv(run.history))
    metrics = _loop(run, quiet)
    return TrainResult(run.model, run.history, metrics, run.dataset, run_dir, config)


def _resumed_config(run_dir: Path, checkpoint: Checkpoint, overrides: Sequence[tuple[str, Any]]) -> Config:
    """The run's ``config.toml`` (or, when it is gone, the checkpoint's config) with the
    ``train.epochs`` override, refused if it differs from what the checkpoint was trained with."""
    path = run_dir / "config.toml"
    if path.exists():
        try:
            config = load_config(path)
        except ConfigError as exc:
            raise ConfigError(f"--resume: the run's config {str(path)!r} is invalid: {exc}") from None
    else:
        config = checkpoint.config
    config = config_from_dict(apply_overrides(config_to_dict(config), overrides))
    ours, theirs = _flat(config_to_dict(config)), _flat(config_to_dict(checkpoint.config))
    for key in sorted(ours.keys() | theirs.keys()):
        if key in ("train.epochs", "data.path"):  # the one allowed change; the data is checked by its hash
            continue
        if ours.get(key) != theirs.get(key):
            raise ConfigError(f"--resume: {str(path)!r} has {key} = {ours.get(key)!r}, but the checkpoint was "
                              f"trained with {theirs.get(key)!r}; a run resumes as it was trained (only "
                              "train.epochs may change): restore the config, or start a new run")
    return config


def _flat(table: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"optim": {"lr": 0.1}}`` as ``{"optim.lr": 0.1}``."""
    flat: dict[str, Any] = {}
    for key, value in table.items():
        if isinstance(value, dict) and not prefix:
            flat.update(_flat(value, f"{key}."))
        else:
            flat[prefix + key] = value
    return flat


def _restore(run: _Run, checkpoint: Checkpoint) -> None:
    """Weights, optimizer, schedule, shuffling generator and early stopping from the
    checkpoint, each checked against the run's config before it is used."""
    meta = checkpoint.meta
    current = {k[len("current/"):]: v for k, v in checkpoint.state.items() if k.startswith("current/")}
    try:
        run.model.load_state_dict(current or checkpoint.params)
    except (KeyError, ValueError, TypeError) as exc:
        raise checkpoint.error(f"its parameters do not fit the run's model: {exc.args[0]}") from None
    stopping = meta.get("early_stopping", {})
    if run.patience and stopping.get("best_epoch"):
        run.best = _Best(stopping["best_epoch"], float(stopping["best_val_loss"]), stopping["stale_epochs"],
                         {k: v.copy() for k, v in checkpoint.params.items()})
    _check_hyperparameters(run, checkpoint)
    try:
        run.optimizer.load_state_dict(_optimizer_from_checkpoint(meta["optimizer"], checkpoint.state))
    except (KeyError, ValueError, TypeError) as exc:
        raise checkpoint.error(f"meta field 'optimizer' does not fit the run's optimizer: {exc.args[0]}") from None
    if run.schedule is not None:
        run.schedule.load_state_dict(meta["schedule"])
    try:
        run.rng.bit_generator.state = meta["rng"]
    except (KeyError, ValueError, TypeError, OverflowError) as exc:
        raise checkpoint.error(f"meta field 'rng' is not a state of numpy's PCG64 generator: {exc}") from None


def _check_hyperparameters(run: _Run, checkpoint: Checkpoint) -> None:
    """The config is the truth: the checkpoint's optimizer and schedule must hold its
    values.  Only the learning rate moves, and only under a schedule, which never
    raises it above ``optim.lr`` (its ``base_lr``)."""
    config_lr = run.config.optim.lr
    built = {k: (list(v) if isinstance(v, tuple) else v) for k, v in run.optimizer.state_dict()["hyperparameters"].items()}
    stored = checkpoint.meta["optimizer"]["hyperparameters"]
    for key in sorted(built.keys() | stored.keys()):
        if key != "lr" and stored.get(key) != built.get(key):
            raise checkpoint.error(f"meta field 'optimizer.hyperparameters.{key}' is {stored.get(key)!r}, but the "
                                   f"run's config has optim.{key} = {built.get(key)!r}; the config is the truth")
    lr = stored.get("lr")
    schedule = checkpoint.meta["schedule"]
    if run.schedule is None:
        if schedule is not None:
            raise checkpoint.error(f"meta field 'schedule' is {schedule!r}, but the run's config has no optim.schedule")
        if lr != config_lr:
            raise checkpoint.error(f"meta field 'optimizer.hyperparameters.lr' is {lr!r}, but the run's config has "
                                   f"optim.lr = {config_lr!r}; the config is the truth")
        return
    fields = run.schedule.fields
    if not isinstance(schedule, dict) or sorted(schedule) != sorted(fields) or not all(
            isinstance(schedule[k], (int, float)) and not isinstance(schedule[k], bool) for k in fields):
        raise checkpoint.error(f"meta field 'schedule' must hold the numbers {list(fields)} of optim.schedule = "
                               f"{run.config.optim.schedule!r}, got {schedule!r}")
    if schedule["base_lr"] != config_lr or schedule["last_epoch"] != checkpoint.meta["epoch"]:
        raise checkpoint.error(f"meta field 'schedule' {schedule} does not follow the run's config (optim.lr = "
                               f"{config_lr!r}) to epoch {checkpoint.meta['epoch']}")
    if not (isinstance(lr, float) and 0 < lr <= config_lr):
        raise checkpoint.error(f"meta field 'optimizer.hyperparameters.lr' is {lr!r}; under optim.schedule = "
                               f"{run.config.optim.schedule!r} it must be a number in (0, optim.lr = {config_lr!r}]")


def _resumed_history(run_dir: Path, checkpoint: Checkpoint) -> list[dict[str, float]]:
    """history.csv's rows up to the checkpoint's epoch.  Rows after it are dropped (the
    checkpoint is the truth: those epochs are trained again), and a missing last row
    is the checkpoint's own copy of it; a gap, a duplicate or a row that disagrees with
    the checkpoint is refused."""
    epoch, last_row = checkpoint.meta["epoch"], checkpoint.meta["last_row"]
    path = run_dir / "history.csv"
    rows = read_history(run_dir, columns=list(last_row))[:epoch]
    if len(rows) == epoch - 1:
        rows.append(dict(last_row))
    if len(rows) < epoch:
        raise DataError(f"--resume: {str(path)!r} has {len(rows)} rows, but the checkpoint is at epoch {epoch}; "
                        "it needs one row per epoch up to it")
    if rows[-1] != last_row:
        raise DataError(f"--resume: {str(path)!r} line {epoch + 1} (epoch {epoch}) differs from the checkpoint's "
                        "record of that epoch; the history belongs to another run")
    return rows
