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

import hashlib
import json
import math
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from minnet import losses
from minnet.autograd.state import no_grad
from minnet.autograd.tensor import Tensor
from minnet.nn import Module
from minnet.optim import OPTIMIZERS, SGD, Optimizer, lr_scheduler
from minnet.train.checkpoint import load_checkpoint, save_checkpoint
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
from minnet.train.errors import CheckpointError, ConfigError, DivergedError, MinnetError, TrainingInterrupted
from minnet.train.factory import build_from_factory, factory_spec
from minnet.train.files import atomic_write_text
from minnet.train.history import append_history, history_csv, read_history
from minnet.train.loop import NonFiniteError, train_epoch
from minnet.train.metrics import METRICS, rmse
from minnet.train.models import build_mlp, mlp_spec

__all__ = ["train", "resume", "TrainResult", "new_run_dir", "start_run", "reported_row", "versions"]

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
    """What produced a result, so two runs can be compared later."""
    import sklearn

    import minnet

    return {"minnet": minnet.__version__, "numpy": np.__version__, "scikit-learn": sklearn.__version__}


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


# What a run leaves in its folder; a folder holding any of them holds a run.
RUN_FILES = ("config.toml", "history.csv", "metrics.json", "model.npz")


def _refuse_held(run_dir: Path, force: bool) -> list[str]:
    """The run files ``run_dir`` holds; any at all is an error unless ``force``."""
    held = [name for name in RUN_FILES if (run_dir / name).exists()]
    if held and not force:
        raise ConfigError(f"--out {str(run_dir)!r} already holds a run ({', '.join(held)}); pass --force to "
                          "replace it, or choose another --out")
    return held


def _prepare_dir(run_dir: Path, force: bool) -> None:
    """Create the run folder; one that holds a run is refused unless ``force``, which
    clears that run's files (and plots) first, so old and new results never mix."""
    held = _refuse_held(run_dir, force)
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
        if held:
            for stale in [*(run_dir / name for name in RUN_FILES), *run_dir.glob("*.png")]:
                stale.unlink(missing_ok=True)
    except OSError as exc:
        raise ConfigError(f"cannot create run folder {str(run_dir)!r}: {exc.strerror}") from None


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
    state = {}
    if dataset.scaler is not None:
        state["data/x_mean"] = dataset.scaler.mean_
        state["data/x_scale"] = dataset.scaler.scale_
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
        """Record a finished epoch: its history row on disk now, its checkpoint at most
        every CHECKPOINT_INTERVAL seconds (and always at the end, on Ctrl-C or divergence)."""
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
        append_history(self.run_dir / "history.csv", row)
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
        }
        save_checkpoint(self.run_dir / "model.npz", params, meta, state)
        self.saved_epoch, self.saved_at = snap.epoch, time.monotonic()

    @property
    def model_spec(self) -> dict[str, Any]:
        m = self.config.model
        if m.factory:
            return factory_spec(m.factory, m.options, self.dataset.n_features, self.dataset.n_outputs)
        return mlp_spec(self.model_sizes, m.activation)

    @property
    def model_sizes(self) -> list[int]:
        return [self.dataset.n_features, *self.config.model.hidden, self.dataset.n_outputs]


def start_run(config: Config, run_dir: Path | None = None) -> _Run:
    """Data, model, optimizer and generators for a fresh run of ``config``."""
    dtype = np.dtype(config.dtype)
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
    try:
        train_epoch(run.model, run.loss_fn, run.optimizer, run.dataset.X_train, run.targets["train"], batches,
                    l2=config.loss.l2, weights=losses.weight_matrices(run.model), clip=config.train.clip_grad_norm)
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
    metrics["data_hash"] = dataset_hash(run.dataset)
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


def _loop(run: _Run, quiet: bool) -> dict[str, Any]:
    bar = tqdm(total=run.config.train.epochs, initial=run.epoch, desc=run.config.name, unit="epoch",
               disable=True if quiet else None, leave=False)  # None: only on a terminal
    try:
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):  # we check divergence ourselves
            _epochs(run, bar, lines=not quiet and not sys.stderr.isatty())
    except DivergedError:
        run.save()
        _finish(run, "diverged")
        raise
    except KeyboardInterrupt:
        run.save()
        _finish(run, "interrupted")
        done = run.snapshot.epoch if run.snapshot else run.epoch
        if not done:
            raise TrainingInterrupted("interrupted before the first epoch finished; nothing to resume") from None
        where = f" in {run.run_dir}; resume with: python train.py --resume {run.run_dir}" if run.run_dir else ""
        raise TrainingInterrupted(f"interrupted; epochs 1-{done} are saved{where}") from None
    except BaseException:
        run.save()  # whatever went wrong, the last finished epoch stays on disk
        raise
    finally:
        bar.close()
    run.save()
    if run.patience and run.best.params is not None:
        run.model.load_state_dict(run.best.params)  # the model the run reports: the best epoch's
    return _finish(run, "completed")


def train(
    config: Config | str | Path,
    run_dir: str | Path | None = None,
    quiet: bool = True,
    force: bool = False,
) -> TrainResult:
    """Train the model a config describes; with ``run_dir``, keep every result on disk there.

    ``config`` is a Config or a path to a TOML file.  A ``run_dir`` that already holds a
    run is refused unless ``force``.  Raises ConfigError/DataError for bad input,
    DivergedError if the loss blows up, TrainingInterrupted on Ctrl-C.
    """
    if not isinstance(config, Config):
        config = load_config(config)
    run_dir = Path(run_dir) if run_dir is not None else None
    if run_dir is not None:
        _refuse_held(run_dir, force)  # before any work, so a refusal costs nothing
    run = start_run(config, run_dir)
    if run_dir is not None:
        _prepare_dir(run_dir, force)
        atomic_write_text(run_dir / "history.csv", "")
        atomic_write_text(run_dir / "config.toml", to_toml(config))
    metrics = _loop(run, quiet)
    return TrainResult(run.model, run.history, metrics, run.dataset, run_dir, config)


def resume(run_dir: str | Path, overrides: Sequence[tuple[str, Any]] = (), quiet: bool = True) -> TrainResult:
    """Continue a run from its checkpoint; only ``train.epochs`` may be changed."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise CheckpointError(f"--resume: run folder {str(run_dir)!r} does not exist")
    checkpoint = load_checkpoint(run_dir / "model.npz")
    for key, _ in overrides:
        if key != "train.epochs":
            raise ConfigError(f"--resume continues a run as configured; only train.epochs may be changed, not {key}")
    try:
        config = config_from_dict(apply_overrides(checkpoint.meta["config"], overrides))
        run = start_run(config, run_dir)
        current = {k[len("current/"):]: v for k, v in checkpoint.state.items() if k.startswith("current/")}
        run.model.load_state_dict(current or checkpoint.params)
        stopping = checkpoint.meta.get("early_stopping", {})
        if run.patience and stopping.get("best_epoch"):
            run.best = _Best(int(stopping["best_epoch"]), float(stopping["best_val_loss"]),
                             int(stopping["stale_epochs"]), {k: v.copy() for k, v in checkpoint.params.items()})
        run.optimizer.load_state_dict(_optimizer_from_checkpoint(checkpoint.meta["optimizer"], checkpoint.state))
        if run.schedule is not None:
            run.schedule.load_state_dict(checkpoint.meta["schedule"])
        run.rng.bit_generator.state = checkpoint.meta["rng"]
        epoch = int(checkpoint.meta["epoch"])
        # history.csv may run ahead of the checkpoint (rows are written every epoch) or,
        # after a crash mid-write, lack its last row: the checkpoint decides.
        rows = [row for row in read_history(run_dir) if row["epoch"] <= epoch][:epoch]
        if len(rows) < epoch:
            rows.append(checkpoint.meta["last_row"])
        if len(rows) != epoch:
            raise ValueError(f"history.csv has {len(rows)} of the {epoch} epochs the checkpoint has")
        run.history = rows
        run.saved_epoch = epoch
    except (KeyError, TypeError, ValueError) as exc:
        if isinstance(exc, MinnetError):
            raise
        raise CheckpointError(f"{str(run_dir / 'model.npz')!r} does not fit its run: {exc}") from None
    atomic_write_text(run_dir / "config.toml", to_toml(config))
    atomic_write_text(run_dir / "history.csv", history_csv(run.history))
    metrics = _loop(run, quiet)
    return TrainResult(run.model, run.history, metrics, run.dataset, run_dir, config)
