"""Run configuration: TOML in, validated and typed dataclasses out.

Every key has one rule in ``RULES`` (its dotted path, type and allowed values), so
the schema reads as a table and every error names the key and what is allowed.
Unknown keys, wrong types and out-of-range values are errors, never ignored.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import math
import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from minnet.hparams import RULES as HYPERPARAMETERS
from minnet.hparams import Rule, boolean, describe, integer, number, one_of, string
from minnet.losses import LOSSES
from minnet.optim import OPTIMIZERS
from minnet.train.errors import ConfigError
from minnet.train.inputs import check_memory, read_text

__all__ = [
    "Config", "DataConfig", "ModelConfig", "LossConfig", "OptimConfig", "TrainConfig",
    "RULES", "DATASET_KEYS", "load_config", "config_from_dict", "config_to_dict", "to_toml", "apply_overrides",
    "parse_assignment", "parse_value", "name_problem", "NAME_ALLOWED", "FOLDER_MAX_BYTES", "DATASET_SHAPES",
    "memory_needs",
]


# Every dataset, and the [data] keys it reads besides test_size and standardize
# (which all of them read): the loaders in data.py follow this table.
_GENERATED = frozenset({"n_samples"})
_GENERATED_NOISY = frozenset({"n_samples", "noise"})
_BUNDLED: frozenset[str] = frozenset()
DATASET_KEYS: dict[str, frozenset[str]] = {
    "moons": _GENERATED_NOISY,
    "circles": _GENERATED_NOISY,
    "blobs": _GENERATED,
    "classification": _GENERATED,
    "regression": _GENERATED_NOISY,
    "iris": _BUNDLED,
    "wine": _BUNDLED,
    "breast_cancer": _BUNDLED,
    "digits": _BUNDLED,
    "diabetes": _BUNDLED,
    "csv": frozenset({"path", "target", "features", "exclude", "delimiter", "missing", "categorical"}),
}

# Each dataset's (rows, features, outputs) before one-hot encoding; rows None: data.n_samples.
# A CSV's are known only once it is read (its reader checks its own size).
DATASET_SHAPES: dict[str, tuple[int | None, int, int]] = {
    "moons": (None, 2, 2),
    "circles": (None, 2, 2),
    "blobs": (None, 2, 3),
    "classification": (None, 10, 3),
    "regression": (None, 8, 1),
    "iris": (150, 4, 3),
    "wine": (178, 13, 3),
    "breast_cancer": (569, 30, 2),
    "digits": (1797, 64, 10),
    "diabetes": (442, 10, 1),
    "csv": (0, 1, 1),
}


@dataclass(frozen=True)
class DataConfig:
    """The ``[data]`` section of a config."""

    dataset: str = "moons"
    n_samples: int = 1000
    noise: float = 0.2
    path: str | None = None  # csv only; relative paths are relative to the working directory
    target: str | None = None  # csv only: target column name (default: last column)
    features: tuple[str, ...] | None = None  # csv only: feature columns (default: all but target and exclude)
    exclude: tuple[str, ...] = ()  # csv only: columns to ignore (an ID, a date, ...)
    delimiter: str = ","  # csv only: ",", ";", "\t" or "auto" (sniffed)
    missing: str = "error"  # csv only: empty cells are an error, or filled ("mean", "median", "most_frequent")
    categorical: str = "error"  # csv only: text in a feature column is an error, or "onehot" encoded
    test_size: float = 0.25
    val_size: float = 0.2  # part of the training split held out for validation (0: none)
    folds: int = 0  # k-fold cross-validation of the training split instead of val_size (0: off) ...
    fold: int = 0  # ... and which fold validates
    standardize: bool = True


@dataclass(frozen=True)
class ModelConfig:
    hidden: tuple[int, ...] = (16,)
    activation: str = "sigmoid"
    factory: str | None = None  # "pkg.module:function": function(n_inputs, n_outputs, **options) -> nn.Module
    options: dict[str, Any] = field(default_factory=dict)  # keyword arguments for the factory


@dataclass(frozen=True)
class LossConfig:
    name: str | None = None  # None: softmax_cross_entropy for classification, mse for regression
    l2: float = 0.0


@dataclass(frozen=True)
class OptimConfig:
    name: str = "sgd"
    lr: float = 0.5
    momentum: float = 0.0  # sgd
    dampening: float = 0.0  # sgd
    nesterov: bool = False  # sgd
    betas: tuple[float, float] = (0.9, 0.999)  # adam, adamw
    eps: float = 1e-8  # adam, adamw
    weight_decay: float = 0.0  # PyTorch's meaning for each optimizer (all parameters, biases too)
    schedule: str = "constant"  # constant, step, cosine (over train.epochs), plateau (on validation loss)
    step_size: int = 10  # step
    gamma: float = 0.1  # step: the factor every step_size epochs; plateau: the factor on a plateau
    patience: int = 10  # plateau: epochs without a lower validation loss before the rate drops


# The optim keys each optimizer and schedule reads (besides name, lr, weight_decay, schedule).
OPTIMIZER_KEYS: dict[str, frozenset[str]] = {
    "sgd": frozenset({"momentum", "dampening", "nesterov"}),
    "adam": frozenset({"betas", "eps"}),
    "adamw": frozenset({"betas", "eps"}),
}
SCHEDULE_KEYS: dict[str, frozenset[str]] = {
    "constant": frozenset(),
    "step": frozenset({"step_size", "gamma"}),
    "cosine": frozenset(),
    "plateau": frozenset({"patience", "gamma"}),
}
_EVERY_OPTIMIZER = ("name", "lr", "weight_decay", "schedule")


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = 100
    batch_size: int = 32
    shuffle: bool = True
    patience: int = 0  # early stopping on validation loss (0: off)
    clip_grad_norm: float = 0.0  # clip the gradients' joint norm to this before each step (0: off)


@dataclass(frozen=True)
class Config:
    name: str = "moons"
    seed: int = 0
    dtype: str = "float32"
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    sweep: dict[str, tuple] = field(default_factory=dict)  # the grid: dotted key -> values
    init_seed: int | None = None  # initialisation and shuffling (default: seed); repeats vary it
    sweep_options: SweepOptions = field(default_factory=lambda: SweepOptions())

    @property
    def effective_init_seed(self) -> int:
        return self.seed if self.init_seed is None else self.init_seed


@dataclass(frozen=True)
class SweepOptions:
    """The [sweep] table's settings besides the grid."""

    repeats: int = 1  # runs per grid point, with different init/shuffle seeds, same data split
    cv: int = 0  # k-fold cross-validation on the training split instead of val_size (0: off)
    select: str = "best"  # "best" | "one_se", on validation only
    backend: str = "loky"  # joblib backend: "loky" (processes on this machine) or "dask"
    address: str | None = None  # the Dask scheduler, e.g. "tcp://HOST:8786"


SWEEP_OPTIONS = ("repeats", "cv", "select", "backend", "address")

SECTIONS = {"data": DataConfig, "model": ModelConfig, "loss": LossConfig, "optim": OptimConfig, "train": TrainConfig}


# ---- run names ----------------------------------------------------------------------

# A run's name is its folder's name (runs/<name>, runs/<name>-2, runs/<name>-sweep/...),
# so it is limited well below the file system's 255 bytes (NAME_MAX) for those suffixes.
NAME_MAX_BYTES = 100
# Any folder minnet names itself (runs/<name>-sweep, runs/<name>-2): room left below NAME_MAX.
FOLDER_MAX_BYTES = 200
NAME_ALLOWED = (f"a folder name: 1 to {NAME_MAX_BYTES} bytes of printable characters, without / or \\, "
                "not starting with '.' and without spaces at either end")


def name_problem(name: str, max_bytes: int = NAME_MAX_BYTES) -> str | None:
    """Why ``name`` cannot be a run folder's name inside runs/ (None: it can).

    No path separators and no leading dot, so ``runs/<name>`` is always a new folder
    directly inside runs/ (never ``.``, ``..`` or a hidden folder); printable characters
    only (no NUL, newline or escape codes); short enough for the file system."""
    if name == "":
        return "it is empty"
    if len(name.encode("utf-8")) > max_bytes:
        return f"it is {len(name.encode('utf-8'))} bytes long (at most {max_bytes})"
    bad = next((c for c in name if c in "/\\" or not c.isprintable()), None)
    if bad is not None:
        return f"it holds the character {bad!r}"
    if name.startswith("."):
        return "it starts with '.'"
    if name != name.strip():
        return "it starts or ends with a space"
    return None


def _default_name(stem: str) -> str:
    """A config file's stem made into a valid run name (``.hidden`` -> ``hidden``)."""
    name = "".join(c if c.isprintable() and c not in "/\\" else "_" for c in stem).lstrip(".").strip()
    name = name.encode("utf-8")[:NAME_MAX_BYTES].decode("utf-8", errors="ignore").strip()
    return name or "run"


# ---- the rules ----------------------------------------------------------------------

def _names(v: Any) -> tuple[str, ...] | None:
    if isinstance(v, list) and all(isinstance(n, str) and n for n in v):
        return tuple(v)
    return None


RULES: dict[str, Rule] = {
    "name": Rule("string", string, lambda v: name_problem(v) is None, NAME_ALLOWED),
    "seed": Rule("integer", integer, lambda v: 0 <= v < 2**32, "an integer in [0, 2**32)", numeric=True),
    "init_seed": Rule("integer", integer, lambda v: 0 <= v < 2**32, "an integer in [0, 2**32)", numeric=True),
    "dtype": one_of(["float32", "float64"]),
    "data.dataset": one_of(DATASET_KEYS),
    "data.n_samples": Rule("integer", integer, lambda v: v >= 10, "an integer >= 10", numeric=True),
    "data.noise": Rule("number", number, lambda v: v >= 0, "a number >= 0", numeric=True),
    "data.path": Rule("string", string, lambda v: v != "", "a path to a CSV file"),
    "data.target": Rule("string", string, lambda v: v != "", "a column name"),
    "data.features": Rule("list of column names", _names, lambda v: len(v) > 0, "a non-empty list of column names"),
    "data.exclude": Rule("list of column names", _names, allowed="a list of column names"),
    "data.delimiter": one_of([",", ";", "\t", "auto"]),
    "data.missing": one_of(["error", "mean", "median", "most_frequent"]),
    "data.categorical": one_of(["error", "onehot"]),
    "data.test_size": Rule("number", number, lambda v: 0 < v < 1, "a number between 0 and 1 (exclusive)",
                           numeric=True),
    "data.val_size": Rule("number", number, lambda v: 0 <= v < 1, "a number in [0, 1) (0: no validation split)",
                          numeric=True),
    "data.folds": Rule("integer", integer, lambda v: v == 0 or v >= 2, "0 (off) or an integer >= 2"),
    "data.fold": Rule("integer", integer, lambda v: v >= 0, "an integer >= 0, below data.folds"),
    "data.standardize": Rule("boolean", boolean, allowed="true or false"),
    "model.hidden": HYPERPARAMETERS["hidden"],
    "model.activation": HYPERPARAMETERS["activation"],
    "model.factory": Rule("string", string, lambda v: bool(re.fullmatch(r"[\w.]+:\w+", v)),
                          "'package.module:function', a function(n_inputs, n_outputs, **options) returning an nn.Module"),
    "model.options": Rule("table", lambda v: dict(v) if isinstance(v, Mapping) else None,
                          allowed="a table of keyword arguments for model.factory, e.g. {width = 32}"),
    "loss.name": one_of(LOSSES),
    "loss.l2": HYPERPARAMETERS["l2"],
    "optim.name": Rule("string", string, lambda v: v in OPTIMIZERS, "one of " + ", ".join(map(repr, OPTIMIZERS)),
                       numeric=True),
    "optim.lr": HYPERPARAMETERS["lr"],
    "optim.momentum": HYPERPARAMETERS["momentum"],
    "optim.dampening": HYPERPARAMETERS["dampening"],
    "optim.nesterov": HYPERPARAMETERS["nesterov"],
    "optim.betas": HYPERPARAMETERS["betas"],
    "optim.eps": HYPERPARAMETERS["eps"],
    "optim.weight_decay": HYPERPARAMETERS["weight_decay"],
    "optim.schedule": one_of(SCHEDULE_KEYS),
    "optim.step_size": HYPERPARAMETERS["step_size"],
    "optim.gamma": HYPERPARAMETERS["gamma"],
    "optim.patience": HYPERPARAMETERS["patience"],
    "train.epochs": HYPERPARAMETERS["epochs"],
    "train.batch_size": HYPERPARAMETERS["batch_size"],
    "train.shuffle": HYPERPARAMETERS["shuffle"],
    "train.patience": Rule("integer", integer, lambda v: v >= 0, "an integer >= 0 (0: no early stopping)",
                           numeric=True),
    "train.clip_grad_norm": HYPERPARAMETERS["clip_grad_norm"],
    "sweep.repeats": Rule("integer", integer, lambda v: v >= 1, "an integer >= 1"),
    "sweep.cv": Rule("integer", integer, lambda v: v == 0 or v >= 2, "0 (off) or an integer >= 2"),
    "sweep.select": one_of(["best", "one_se"]),
    "sweep.backend": one_of(["loky", "dask"]),
    "sweep.address": Rule("string", string, lambda v: v.strip() != "", "a scheduler address, e.g. 'tcp://HOST:8786'"),
}

_TOP_LEVEL = ["name", "seed", "init_seed", "dtype", *SECTIONS, "sweep"]


def _unknown(key: str, allowed: list[str], where: str) -> ConfigError:
    dotted = any("." in name for name in allowed)
    close = difflib.get_close_matches(key if dotted else key.rsplit(".", 1)[-1], allowed, n=1, cutoff=0.5)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return ConfigError(f"unknown key {key!r}{hint}; allowed {where}: {', '.join(allowed)}")


def _validate(path: str, value: Any) -> Any:
    try:
        return RULES[path](value, path)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None


def _keys_of(section: str) -> list[str]:
    return [p.split(".", 1)[1] for p in RULES if p.startswith(section + ".")]


# ---- building a Config --------------------------------------------------------------

def config_from_dict(raw: Mapping[str, Any], default_name: str | None = None) -> Config:
    """Validate a parsed TOML document into a Config; raises ConfigError naming the key."""
    _check_nesting(raw)
    for key in raw:
        if key not in _TOP_LEVEL:
            raise _unknown(key, _TOP_LEVEL, "at top level")
    values: dict[str, Any] = {}
    for key in ("name", "seed", "init_seed", "dtype"):
        if key in raw:
            values[key] = _validate(key, raw[key])
    if "name" not in values and default_name:
        values["name"] = default_name
    for section, cls in SECTIONS.items():
        table = raw.get(section, {})
        if not isinstance(table, Mapping):
            raise ConfigError(f"{section}: expected a table [{section}], got {describe(table)}")
        allowed = _keys_of(section)
        for key in table:
            if key not in allowed:
                raise _unknown(f"{section}.{key}", allowed, f"in [{section}]")
        values[section] = cls(**{key: _validate(f"{section}.{key}", v) for key, v in table.items()})
    _check_data_keys(raw.get("data", {}), values["data"])
    _check_optim_keys(raw.get("optim", {}), values["optim"])
    _check_training_keys(values)
    values["sweep"], values["sweep_options"] = _validate_sweep(raw.get("sweep", {}))
    config = Config(**values)
    check_memory(memory_needs(config), ConfigError)
    return config


# How many copies of each kind of array a run holds at its peak: the data as generated
# (float64), its split, scaled and cast copies; the parameters, their gradients, two
# optimizer buffers, the checkpoint's snapshot and early stopping's best weights.
DATA_COPIES = 4
PARAMETER_COPIES = 6
# A history row (a dict of a dozen floats) kept in memory for every epoch.
HISTORY_ROW_BYTES = 1024


def memory_needs(config: Config) -> dict[str, float]:
    """The bytes a run of ``config`` needs at least, by what needs them (see check_memory):
    its data, its parameters, the activations of a training batch or of a whole split
    evaluated at once, and the history of every epoch.  A CSV's rows are counted by its
    reader; a factory's model is its own."""
    rows, n_in, n_out = DATASET_SHAPES[config.data.dataset]
    rows = config.data.n_samples if rows is None else rows
    item = 4 if config.dtype == "float32" else 8
    widths = [n_in, *config.model.hidden, n_out]
    needs = {f"the history of train.epochs = {_count(config.train.epochs)}": config.train.epochs * HISTORY_ROW_BYTES}
    if rows:
        generated = "n_samples" in DATASET_KEYS[config.data.dataset]
        what = f"data.n_samples = {_count(rows)}" if generated else f"dataset {config.data.dataset!r}"
        needs[f"the data ({what})"] = rows * (n_in + n_out) * 8 * DATA_COPIES
    if config.model.factory is None:
        params = sum((a + 1) * b for a, b in zip(widths, widths[1:], strict=False))
        hidden = f"model.hidden = [{', '.join(map(_count, config.model.hidden))}]"
        needs[f"the {_count(params, exact=False)} parameters of {hidden}"] = params * item * PARAMETER_COPIES
        if rows:
            batch = min(config.train.batch_size, rows)
            needs[f"the activations of {_count(rows)} rows through the layers of {hidden}"] = (
                max(3 * batch, 2 * rows) * sum(widths) * item)
    return {what: float(min(n, 2**100)) for what, n in needs.items()}  # exact ints, then floats that cannot overflow


def _count(n: int, exact: bool = True) -> str:
    """An integer for a message: ``1000``, ``1e+10`` (``exact=False``), or ``2**400`` when huge."""
    if n.bit_length() > 200:
        return f"about 2**{n.bit_length() - 1}"
    return str(n) if exact else f"{float(n):.3g}"


def _check_optim_keys(table: Mapping[str, Any], optim: OptimConfig) -> None:
    """Keys that mean nothing for the chosen optimizer or schedule are errors, not ignored."""
    used = OPTIMIZER_KEYS[optim.name] | SCHEDULE_KEYS[optim.schedule]
    for key in table:
        if key in _EVERY_OPTIMIZER or key in used or _is_default(optim, key):
            continue
        optimizers = sorted(n for n, keys in OPTIMIZER_KEYS.items() if key in keys)
        schedules = sorted(n for n, keys in SCHEDULE_KEYS.items() if key in keys)
        if optimizers:
            raise ConfigError(f"optim.{key} does not apply to optim.name = {optim.name!r}; "
                              f"it is used by: {', '.join(optimizers)}")
        raise ConfigError(f"optim.{key} does not apply to optim.schedule = {optim.schedule!r}; "
                          f"it is used by the schedules: {', '.join(schedules)}")
    if optim.nesterov and (optim.momentum <= 0 or optim.dampening != 0):
        raise ConfigError("optim.nesterov needs optim.momentum > 0 and optim.dampening = 0 (as in PyTorch)")


def _check_training_keys(values: dict[str, Any]) -> None:
    data, train = values["data"], values["train"]
    if data.folds and data.fold >= data.folds:
        raise ConfigError(f"data.fold: expected an integer below data.folds = {data.folds}, got {data.fold}")
    if data.fold and not data.folds:
        raise ConfigError(f"data.fold = {data.fold} picks one of data.folds folds; set data.folds >= 2 too")
    model = values["model"]
    drawn = [key for key in ("hidden", "activation") if not _is_default(model, key)]
    if model.factory is not None and drawn:
        raise ConfigError(f"model.{drawn[0]} describes the built-in MLP, but model.factory builds the model; "
                          f"drop model.{drawn[0]} (or pass it to the factory in model.options)")
    if train.patience and not data.folds and not data.val_size:
        raise ConfigError(
            "train.patience needs a validation split to watch: set data.val_size > 0 (e.g. 0.2) or data.folds"
        )
    if values["model"].options and values["model"].factory is None:
        raise ConfigError("model.options are keyword arguments for model.factory; set model.factory too")
    if values["optim"].schedule == "plateau" and not data.folds and not data.val_size:
        raise ConfigError(
            "optim.schedule = 'plateau' watches the validation loss: set data.val_size > 0 (e.g. 0.2) or data.folds"
        )


def _is_default(section: Any, key: str) -> bool:
    """A key left at its default changes nothing, so it may stand where it does not apply
    (``momentum = 0.0`` in a config switched to Adam with --set)."""
    return getattr(section, key) == getattr(type(section)(), key)


def _check_data_keys(table: Mapping[str, Any], data: DataConfig) -> None:
    """Keys that mean nothing for the chosen dataset are errors, not silently ignored
    (unless left at their default)."""
    options = DATASET_KEYS[data.dataset]
    for key in table:
        if key in _EVERY_DATASET or key in options or _is_default(data, key):
            continue
        users = sorted(name for name, keys in DATASET_KEYS.items() if key in keys)
        raise ConfigError(f"data.{key} does not apply to dataset {data.dataset!r}; it is used by: {', '.join(users)}")
    if data.dataset == "csv" and data.path is None:
        raise ConfigError("data.path is required when data.dataset = 'csv' (the CSV file to train on)")


# More runs than this in one sweep is a typo (--repeats 1000000000), not an experiment.
MAX_SWEEP_RUNS = 10_000


def _validate_sweep(table: Any) -> tuple[dict[str, tuple], SweepOptions]:
    """The grid (dotted keys) and the options (repeats, cv, select, backend, address)."""
    if not isinstance(table, Mapping):
        raise ConfigError(f"sweep: expected a table [sweep], got {describe(table)}")
    options = SweepOptions(**{key: _validate(f"sweep.{key}", table[key]) for key in SWEEP_OPTIONS if key in table})
    if options.backend == "dask" and options.address is None:
        raise ConfigError("sweep.backend = 'dask' needs sweep.address, the scheduler (e.g. 'tcp://HOST:8786')")
    if options.address is not None and options.backend != "dask":
        raise ConfigError("sweep.address is a Dask scheduler: it needs sweep.backend = 'dask' "
                          f"(the backend is {options.backend!r})")
    sweep = {}
    for path, values in table.items():
        if path in SWEEP_OPTIONS:
            continue
        rule = RULES.get(path)
        if rule is None:
            numeric = [p for p, r in RULES.items() if r.numeric]
            raise _unknown(path, numeric, "to sweep")
        if not rule.numeric:
            raise ConfigError(f"sweep: {path!r} is not numeric; sweepable keys: "
                              + ", ".join(p for p, r in RULES.items() if r.numeric))
        if not isinstance(values, list) or not values:
            raise ConfigError(f"sweep.{path}: expected a non-empty list of values, got {describe(values)}")
        sweep[path] = tuple(_validate(path, v) for v in values)
    runs = math.prod(len(v) for v in sweep.values()) * options.repeats * max(options.cv, 1)
    if runs > MAX_SWEEP_RUNS:
        sizes = " x ".join([*(f"{len(v)} values of {k}" for k, v in sweep.items()),
                            *([f"{options.repeats} repeats"] if options.repeats > 1 else []),
                            *([f"{options.cv} folds"] if options.cv else [])])
        raise ConfigError(f"sweep: {sizes} make {runs} runs; at most {MAX_SWEEP_RUNS} are allowed")
    return sweep, options


# A config is a few hundred bytes: anything larger is not a config (a data file, /dev/zero).
CONFIG_MAX_BYTES = 1 << 20
# Tables and lists nested deeper than this are a mistake, refused before anything recurses into them.
MAX_NESTING = 32


def _parse_toml(text: str, what: str) -> dict[str, Any]:
    """``tomllib.loads`` whose every failure is a ConfigError naming ``what``."""
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{what} is not valid TOML: {exc}") from None
    except RecursionError:
        raise ConfigError(f"{what} nests lists or tables too deeply (at most {MAX_NESTING} levels)") from None
    except ValueError as exc:  # e.g. an integer of more than 4300 digits
        raise ConfigError(f"{what} holds a value TOML cannot read: {exc}") from None


def _check_nesting(raw: Mapping[str, Any]) -> None:
    """Refuse values nested more than MAX_NESTING levels deep, walked without recursion,
    before any rule (or ``repr``) recurses into them."""
    stack: list[tuple[Any, str, int]] = [(raw, "", 0)]
    while stack:
        item, key, depth = stack.pop()
        if depth > MAX_NESTING:
            raise ConfigError(f"{key}: lists or tables are nested more than {MAX_NESTING} levels deep")
        if isinstance(item, Mapping):
            stack.extend((v, f"{key}.{k}" if key else str(k), depth + 1) for k, v in item.items())
        elif isinstance(item, (list, tuple)):
            stack.extend((v, key, depth + 1) for v in item)


def _parse_toml_file(path: str | Path) -> dict[str, Any]:
    """The one reader of config files: a regular UTF-8 file of at most CONFIG_MAX_BYTES."""
    what = f"config file {str(path)!r}"
    return _parse_toml(read_text(path, what, ConfigError, CONFIG_MAX_BYTES), what)


def load_config(path: str | Path | None, overrides: Iterable[str] = ()) -> Config:
    """Read a TOML config file (None: the built-in defaults), apply ``--set KEY=VALUE``, validate."""
    raw = {} if path is None else _parse_toml_file(path)
    assignments = [parse_assignment(item, "--set") for item in overrides]
    default_name = None if path is None else _default_name(Path(path).stem)
    switched = dict(assignments).get("data.dataset")
    if isinstance(switched, str) and "name" not in dict(assignments):
        # a run named after its dataset follows the dataset --set switches to (not runs/moons-7 for wine)
        before = raw.get("data", {}).get("dataset", DataConfig.dataset) if isinstance(raw.get("data"), Mapping) else None
        if raw.get("name", default_name) in (before, default_name, None):
            raw = {**raw, "name": switched}
    raw = apply_overrides(raw, assignments)
    if path is not None:
        raw = _resolve_data_path(raw, Path(path).parent)
    return config_from_dict(raw, default_name=default_name)


def _resolve_data_path(raw: dict[str, Any], folder: Path) -> dict[str, Any]:
    """A relative ``data.path`` is read from the working directory; when it is not there,
    from the config file's folder or that folder's parent (a project's root), so a
    config works from anywhere."""
    data = raw.get("data")
    if not isinstance(data, Mapping) or not isinstance(data.get("path"), str):
        return raw
    given = Path(data["path"])
    if given.is_absolute() or given.exists():
        return raw
    for base in (folder, folder.parent):
        if (base / given).exists():
            return {**raw, "data": {**data, "path": str((base / given).resolve())}}
    return raw


# ---- overrides ----------------------------------------------------------------------

def parse_value(text: str, key: str = "") -> Any:
    """A TOML literal (``0.1``, ``[8, 8]``, ``true``, ``"x"``), or else the bare text as a string
    (``key`` names it in errors)."""
    try:
        return tomllib.loads(f"value = {text}")["value"]
    except tomllib.TOMLDecodeError:
        return text
    except RecursionError:
        raise ConfigError(f"{key or 'value'}: lists or tables are nested more than {MAX_NESTING} levels deep") from None
    except ValueError as exc:  # e.g. an integer of more than 4300 digits
        raise ConfigError(f"{key or 'value'}: {text[:40]!r}... cannot be read: {exc}") from None


def parse_assignment(item: str, option: str) -> tuple[str, Any]:
    key, sep, text = item.partition("=")
    key = key.strip()
    if not sep or not key:
        raise ConfigError(f"{option} expects KEY=VALUE (e.g. optim.lr=0.1), got {item!r}")
    if key not in RULES:
        raise _unknown(key, list(RULES), f"for {option}")
    return key, parse_value(text.strip(), key)


def apply_overrides(raw: Mapping[str, Any], assignments: Iterable[tuple[str, Any]]) -> dict[str, Any]:
    """A copy of ``raw`` with each dotted ``key = value`` set."""
    result = {k: (dict(v) if isinstance(v, Mapping) else v) for k, v in raw.items()}
    for key, value in assignments:
        section, dot, name = key.partition(".")
        if dot:
            table = result.setdefault(section, {})
            if not isinstance(table, dict):
                raise ConfigError(f"{section}: expected a table [{section}], got {describe(table)}")
            table[name] = value
        else:
            result[key] = value
    return result


# ---- writing a Config back ----------------------------------------------------------

_EVERY_DATASET = ("dataset", "test_size", "val_size", "folds", "fold", "standardize")


def config_to_dict(config: Config) -> dict[str, Any]:
    """Plain TOML-ready values that ``config_from_dict`` accepts again: unset optional
    keys and data keys the dataset does not use (``n_samples`` for iris) left out."""
    out: dict[str, Any] = {"name": config.name, "seed": config.seed, "dtype": config.dtype}
    if config.init_seed is not None:
        out["init_seed"] = config.init_seed
    for section in SECTIONS:
        table = dataclasses.asdict(getattr(config, section))
        out[section] = {k: (list(v) if isinstance(v, tuple) else v) for k, v in table.items()
                        if v is not None and v != {}}
    used = DATASET_KEYS[config.data.dataset]
    out["data"] = {k: v for k, v in out["data"].items() if k in _EVERY_DATASET or k in used}
    optim_keys = OPTIMIZER_KEYS[config.optim.name] | SCHEDULE_KEYS[config.optim.schedule]
    out["optim"] = {k: v for k, v in out["optim"].items() if k in _EVERY_OPTIMIZER or k in optim_keys}
    options = {k: v for k, v in dataclasses.asdict(config.sweep_options).items()
               if v is not None and v != getattr(SweepOptions(), k)}
    if config.sweep or options:
        out["sweep"] = {k: [list(x) if isinstance(x, tuple) else x for x in v] for k, v in config.sweep.items()}
        out["sweep"].update(options)
    return out


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)  # JSON strings are TOML basic strings
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):  # an inline table
        keys = (k if re.fullmatch(r"[A-Za-z0-9_-]+", k) else json.dumps(k) for k in value)
        return "{" + ", ".join(f"{k} = {_toml_value(v)}" for k, v in zip(keys, value.values(), strict=True)) + "}"
    raise TypeError(f"cannot write {type(value).__name__} to TOML")


def to_toml(config: Config) -> str:
    """The resolved config as TOML that ``load_config`` reads back to an equal Config."""
    values = config_to_dict(config)
    lines = [f"{key} = {_toml_value(values[key])}" for key in ("name", "seed", "init_seed", "dtype") if key in values]
    for section in [*SECTIONS, "sweep"]:
        if section not in values:
            continue
        lines += ["", f"[{section}]"]
        for key, value in values[section].items():
            name = json.dumps(key) if "." in key else key
            lines.append(f"{name} = {_toml_value(value)}")
    return "\n".join(lines) + "\n"
