"""Datasets for training from a config: load by name, split, standardise, batch.

Every dataset is looked up by name in ``DATASETS``.  Generated ones come from
scikit-learn's ``make_*`` functions (they honour ``n_samples``, the seed and, for
moons, circles and regression, ``noise``); the others ship inside scikit-learn, so
nothing is downloaded; ``csv`` reads a file (format and rules in ``data/README.md``).

``load_dataset`` then splits train/test with ``train_test_split`` (stratified for
classification, so every class keeps its proportion) and, when ``standardize`` is
on, scales with a ``StandardScaler`` fitted on the training part only: test data
must not leak into the statistics the model is trained with.

Regression targets are standardised too (same switch, also fitted on train only):
raw targets such as ``make_regression``'s have a standard deviation in the
hundreds, and an MSE gradient that large makes SGD diverge at any learning rate
that suits the features.  ``Dataset.y_mean`` and ``Dataset.y_scale`` keep the
target's scaler, so ``Dataset.unscale_target(pred)`` maps predictions back and an
RMSE in original units is ``rmse * y_scale``.
"""

from __future__ import annotations

import csv
import hashlib
import math
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from minnet import hparams
from minnet.train.config import DATA_COPIES, DATASET_KEYS, DataConfig
from minnet.train.errors import ConfigError, DataError
from minnet.train.inputs import check_memory, format_bytes, regular_file

__all__ = [
    "DataConfig",
    "Dataset",
    "DatasetSpec",
    "DATASETS",
    "GENERATED",
    "USES_NOISE",
    "load_dataset",
    "minibatches",
    "dataset_hash",
    "original_labels",
    "read_csv_rows",
]

# An integer-valued CSV target with at most this many distinct values (each on at
# least 2 rows) is read as class labels; anything else numeric is a regression target.
MAX_INTEGER_CLASSES = 20

# CSV cells that mean "no value" (compared in lower case).  They are rejected with a
# message about missing values; "nan" and "inf" parse as numbers and are rejected too.
MISSING_MARKERS = frozenset({"", "nan", "na", "n/a", "null"})


@dataclass(eq=False)
class Dataset:
    """A train/test split ready for training.

    X_* has shape (n, n_features) and the requested float dtype.  For classification
    y_* holds int64 labels in [0, n_classes), label i being ``class_names[i]``; for
    regression y_* has shape (n, n_targets) and X's dtype, standardised when
    ``x_mean`` is set (then ``y_mean``/``y_scale`` hold the target's scaler; they are
    0 and 1 otherwise, and None for classification).
    """

    name: str
    task: str  # "classification" or "regression"
    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    X_val: np.ndarray  # the validation rows, carved from the training split (no rows: none)
    y_val: np.ndarray
    feature_names: list[str]
    class_names: list[str] | None
    target_names: list[str] | None = None
    x_mean: np.ndarray | None = None  # the input scaler fitted on X_train (None: not standardised):
    x_scale: np.ndarray | None = None  # new raw inputs x become (x - x_mean) / x_scale
    y_mean: np.ndarray | None = None  # shape (n_targets,)
    y_scale: np.ndarray | None = None  # shape (n_targets,)
    target_column: str = "target"
    fill: np.ndarray | None = None  # data.missing: each feature's fill value, learned on the training rows
    encoding: dict[str, list[str]] | None = None  # data.categorical: each text column's categories, in order

    @property
    def has_val(self) -> bool:
        return len(self.X_val) > 0

    @property
    def n_features(self) -> int:
        return self.X_train.shape[1]

    @property
    def n_outputs(self) -> int:
        """Width of the model's last layer: number of classes, or of regression targets."""
        if self.task == "classification":
            return len(self.class_names or ())
        return self.y_train.shape[1]

    def unscale_target(self, y: np.ndarray) -> np.ndarray:
        """Regression predictions (n, n_targets) back in the target's original units."""
        if self.task != "regression":
            raise ValueError(f"unscale_target: dataset {self.name!r} is a classification task")
        return np.asarray(y) * self.y_scale + self.y_mean

    def __repr__(self) -> str:
        return (
            f"Dataset(name={self.name!r}, task={self.task!r}, train={self.X_train.shape}, "
            f"val={self.X_val.shape}, test={self.X_test.shape}, n_outputs={self.n_outputs})"
        )


@dataclass
class _Raw:
    """What a loader returns: the whole data set before splitting, in float64."""

    X: np.ndarray
    y: np.ndarray  # int labels (classification) or floats (regression)
    feature_names: list[str]
    class_names: list[str] | None  # set for classification ...
    target_names: list[str] | None  # ... or this, for regression
    source: str  # names the data in error messages: "data.path 'x.csv'"
    target_column: str = "target"  # a CSV's target column: what evaluate looks for
    categories: np.ndarray | None = None  # data.categorical: text feature columns (n, k), encoded after the split
    categorical_names: list[str] | None = None
    lines: list[int] | None = None  # a CSV's line number of each row, for error messages


@dataclass(frozen=True)
class DatasetSpec:
    """One registry entry: how to load a dataset and which ``data.*`` keys it reads.

    ``options`` lists the DataConfig keys it honours besides ``test_size`` and
    ``standardize`` (which every dataset honours).  ``task`` is None for csv, whose
    task is decided by its target column.
    """

    load: Callable[[DataConfig, int], _Raw]
    task: str | None
    options: frozenset[str]


# ---- scikit-learn, imported when first needed ------------------------------------------
# A sweep's workers get their data from the parent and never need scikit-learn, whose
# import takes about a second per process; so this module imports it only in use.


def _sklearn_datasets() -> Any:
    from sklearn import datasets

    return datasets


# ---- generated ------------------------------------------------------------------------


def _generated(name: str, cfg: DataConfig, X: np.ndarray, y: np.ndarray, n_classes: int | None) -> _Raw:
    features = [f"x{i}" for i in range(X.shape[1])]
    source = f"dataset {name!r} with data.n_samples={cfg.n_samples}"
    if n_classes is None:
        return _Raw(X, y.reshape(len(X), -1), features, None, ["y"], source)
    return _Raw(X, y, features, [str(i) for i in range(n_classes)], None, source)


def _moons(cfg: DataConfig, seed: int) -> _Raw:
    X, y = _sklearn_datasets().make_moons(cfg.n_samples, noise=cfg.noise, random_state=seed)
    return _generated("moons", cfg, X, y, 2)


def _circles(cfg: DataConfig, seed: int) -> _Raw:
    X, y = _sklearn_datasets().make_circles(cfg.n_samples, noise=cfg.noise, factor=0.5, random_state=seed)
    return _generated("circles", cfg, X, y, 2)


def _blobs(cfg: DataConfig, seed: int) -> _Raw:
    """Three Gaussian blobs in 2-D (standard deviation 1)."""
    X, y = _sklearn_datasets().make_blobs(cfg.n_samples, n_features=2, centers=3, random_state=seed)
    return _generated("blobs", cfg, X, y, 3)


def _classification(cfg: DataConfig, seed: int) -> _Raw:
    """10 features (5 informative, 2 redundant), 3 classes: a step up from 2-D toys."""
    X, y = _sklearn_datasets().make_classification(
        cfg.n_samples, n_features=10, n_informative=5, n_redundant=2, n_classes=3, random_state=seed
    )
    return _generated("classification", cfg, X, y, 3)


def _regression(cfg: DataConfig, seed: int) -> _Raw:
    """A linear target of 8 features (5 informative) plus Gaussian noise of std ``noise``."""
    X, y = _sklearn_datasets().make_regression(
        cfg.n_samples, n_features=8, n_informative=5, noise=cfg.noise, random_state=seed
    )
    return _generated("regression", cfg, X, y, None)


# ---- shipped with scikit-learn ------------------------------------------------------------


def _bundled(name: str, loader: str, *args: Any, target: str = "y") -> _Raw:
    """A data set stored inside the scikit-learn package (no download), read by
    ``sklearn.datasets.<loader>(**options)``; the call is ``(name, loader[, options], cfg, seed)``.

    ``target`` names a regression target (classification data sets name their classes).
    """
    options = args[0] if len(args) == 3 else {}
    bunch = getattr(_sklearn_datasets(), loader)(**options)
    features = [str(f) for f in bunch.feature_names]
    source = f"dataset {name!r}"
    if "target_names" in bunch:
        return _Raw(bunch.data, bunch.target, features, [str(c) for c in bunch.target_names], None, source)
    return _Raw(bunch.data, bunch.target.reshape(len(bunch.data), -1), features, None, [target], source)


# ---- csv ----------------------------------------------------------------------------------


def _parse_number(cell: str) -> float | None:
    try:
        return float(cell)
    except ValueError:
        return None


# Reading a CSV into cells costs about this many times its size in memory (Python
# strings and lists), counted against the memory limit before the file is read.
CSV_MEMORY_FACTOR = 10


def _delimiter(sample: str, wanted: str) -> str:
    """The delimiter: as configured, or sniffed from the first lines for "auto"."""
    if wanted != "auto":
        return wanted
    try:
        return csv.Sniffer().sniff(sample, delimiters=",;\t").delimiter
    except csv.Error:
        return ","


def _first_undecodable_line(path: Path) -> int:
    """The number of the first line that is not UTF-8 (text decoders read ahead, so the
    csv reader's own count is not where the bad byte is)."""
    with path.open("rb") as f:
        for number, raw_line in enumerate(f, start=1):
            try:
                raw_line.decode("utf-8")
            except UnicodeDecodeError:
                return number
    return 1


def read_csv_rows(path: str | Path, source: str, delimiter: str = ",") -> list[tuple[int, list[str]]]:
    """The one CSV reader (training, predict, evaluate): (line number, stripped cells) of
    each non-blank row, every row as long as the first.

    ``path`` must be a regular UTF-8 file small enough to read into memory; ``source``
    names it in every DataError (``data.path 'x.csv'``); ``delimiter`` may be "auto".
    """
    checked = regular_file(path, source, DataError)
    size = checked.stat().st_size
    check_memory({f"reading {source} ({format_bytes(size)})": size * CSV_MEMORY_FACTOR}, DataError)
    rows: list[tuple[int, list[str]]] = []
    line = 0
    try:
        with checked.open(newline="", encoding="utf-8-sig") as f:
            sample = f.read(64 * 1024) if delimiter == "auto" else ""
            f.seek(0)
            reader = csv.reader(f, delimiter=_delimiter(sample, delimiter))
            for row in reader:
                line = reader.line_num
                if len(row) > 1 or (row and row[0].strip()):  # skip blank lines
                    rows.append((line, [cell.strip() for cell in row]))
    except csv.Error as exc:
        if "field larger than field limit" in str(exc):
            raise DataError(f"{source} line {line + 1}: a cell is longer than {csv.field_size_limit()} characters, "
                            "the most a CSV cell may hold") from None
        raise DataError(f"{source} line {line + 1}: not valid CSV ({exc})") from None
    except UnicodeDecodeError:
        raise DataError(f"{source} is not UTF-8 text (line {_first_undecodable_line(checked)}); "
                        "save the CSV as UTF-8") from None
    except OSError as exc:
        raise DataError(f"{source} cannot be read: {exc.strerror}") from None
    if rows:
        width = len(rows[0][1])
        for line, row in rows[1:]:
            if len(row) != width:
                raise DataError(f"{source} line {line} has {len(row)} cells, expected {width} like the header")
    return rows


def _read_header(rows: list[tuple[int, list[str]]], source: str) -> list[str]:
    if not rows:
        raise DataError(f"{source} is empty; expected a header row of column names, then data rows")
    line, header = rows[0]
    if all(_parse_number(cell) is not None for cell in header):
        raise DataError(
            f"{source} line {line} has no header: every cell is a number; "
            "the first row must name the columns"
        )
    for i, name in enumerate(header, start=1):
        if not name:
            raise DataError(f"{source} line {line}: column {i} of the header has no name")
    duplicates = sorted({name for name in header if header.count(name) > 1})
    if duplicates:
        raise DataError(
            f"{source} line {line}: duplicate column name {duplicates[0]!r}; column names must be unique"
        )
    if len(header) < 2:
        raise DataError(
            f"{source} has a single column {header[0]!r}; it needs a target column and at least one "
            "feature, separated by commas"
        )
    if len(rows) == 1:
        raise DataError(f"{source} has a header but no data rows")
    return header


def _missing(source: str, line: int, column: str, cell: str) -> DataError:
    if _parse_number(cell) is not None and cell.lower().lstrip("+-") not in ("inf", "infinity", "nan"):
        return DataError(f"{source} line {line}, column {column!r}: {cell[:40]!r} is too large for a 64-bit float "
                         f"(at most {np.finfo(np.float64).max:.3g} in magnitude); rescale the column")
    what = "is empty" if not cell else f"holds {cell!r}"
    return DataError(
        f"{source} line {line}, column {column!r} {what}; missing values "
        "(empty, NaN, inf) are not supported: every cell needs a finite value"
    )


def _csv_target(
    cells: list[str], lines: list[int], column: str, source: str
) -> tuple[np.ndarray, list[str] | None, list[str] | None]:
    """Encode the target column: (y, class_names, target_names); see MAX_INTEGER_CLASSES."""
    values = [_parse_number(cell) for cell in cells]
    if any(v is None for v in values):  # text labels: classes in sorted order
        classes = sorted(set(cells))
        if len(classes) < 2:
            raise DataError(
                f"{source}: target column {column!r} has a single class {classes[0]!r}; "
                "a classifier needs at least 2"
            )
        return np.searchsorted(classes, cells).astype(np.int64), classes, None
    numbers = [v for v in values if v is not None]  # all of them: no text labels
    for line, cell, v in zip(lines, cells, numbers, strict=True):
        if not math.isfinite(v):
            raise _missing(source, line, column, cell)
    y = np.array(numbers)
    levels, counts = np.unique(y, return_counts=True)
    if (
        np.all(y == np.round(y))
        and 2 <= len(levels) <= MAX_INTEGER_CLASSES
        and counts.min() >= 2
    ):
        return np.searchsorted(levels, y).astype(np.int64), [str(int(c)) for c in levels], None
    return y.reshape(-1, 1), None, [column]


def _csv(cfg: DataConfig, seed: int) -> _Raw:
    """Read a CSV with a header row; the target is ``cfg.target`` or the last column."""
    if cfg.path is None:
        raise ConfigError("data.path is required when data.dataset is 'csv'")
    source = f"data.path {os.fspath(cfg.path)!r}"
    if not os.path.isabs(cfg.path) and not os.path.lexists(cfg.path):
        raise DataError(f"{source} does not exist (relative to the working directory {os.getcwd()!r})")
    rows = read_csv_rows(cfg.path, source, cfg.delimiter)
    if rows and rows[0][1] and rows[0][1][0] == "" and len(rows[0][1]) > 1:
        rows = [(line, row[1:]) for line, row in rows]  # an unnamed first column: pandas' to_csv index
    header = _read_header(rows, source)
    if cfg.target is None:
        target = len(header) - 1
    elif cfg.target in header:
        target = header.index(cfg.target)
    else:
        raise DataError(
            f"data.target {cfg.target!r} is not a column of {source}; columns are: {', '.join(header)}"
        )
    for key, names in (("data.features", cfg.features or ()), ("data.exclude", cfg.exclude)):
        unknown = [n for n in names if n not in header]
        if unknown:
            raise DataError(f"{key}: {unknown} are not columns of {source}; columns are: {', '.join(header)}")
    if cfg.features is not None:
        if header[target] in cfg.features:
            raise DataError(f"data.features lists the target column {header[target]!r}")
        features = [header.index(n) for n in cfg.features if n not in cfg.exclude]
    else:
        features = [j for j in range(len(header)) if j != target and header[j] not in cfg.exclude]
    if not features:
        raise DataError(f"{source}: no feature columns left (after data.features and data.exclude)")

    text = []
    if cfg.categorical == "onehot":  # a column with any text is a category column
        text = [j for j in features if any(_parse_number(row[j]) is None and row[j].lower() not in MISSING_MARKERS
                                           for _, row in rows[1:])]
    categories = np.array([[row[j] if row[j].lower() not in MISSING_MARKERS else "" for j in text]
                           for _, row in rows[1:]], dtype=object).reshape(len(rows) - 1, len(text))
    if cfg.missing == "error":
        for j in text:
            for line, row in rows[1:]:
                if row[j].lower() in MISSING_MARKERS:
                    raise _missing(source, line, header[j], row[j])
    features = [j for j in features if j not in text]
    X = np.empty((len(rows) - 1, len(features)))
    target_cells, lines = [], []
    for i, (line, row) in enumerate(rows[1:]):
        for k, j in enumerate(features):
            cell = row[j]
            value = _parse_number(cell)
            if value is None and cell.lower() not in MISSING_MARKERS:
                raise DataError(
                    f"{source} line {line}, column {header[j]!r}: {cell!r} is not a number; "
                    f"feature columns must be numeric (only the target {header[target]!r} may hold text), "
                    "or set data.categorical = 'onehot' to encode text columns"
                )
            if value is None and cfg.missing != "error":
                value = math.nan  # filled after the split, from the training rows (SimpleImputer)
            elif value is None or not math.isfinite(value):
                raise _missing(source, line, header[j], cell)
            X[i, k] = value
        if row[target].lower() in MISSING_MARKERS:
            raise _missing(source, line, header[target], row[target])
        target_cells.append(row[target])
        lines.append(line)
    y, class_names, target_names = _csv_target(target_cells, lines, header[target], source)
    return _Raw(X, y, [header[j] for j in features], class_names, target_names, source, header[target],
                categories if text else None, [header[j] for j in text] if text else None, lines)


# ---- registry -------------------------------------------------------------------------------

_LOADERS: dict[str, tuple[Callable[[DataConfig, int], _Raw], str | None]] = {
    "moons": (_moons, "classification"),
    "circles": (_circles, "classification"),
    "blobs": (_blobs, "classification"),
    "classification": (_classification, "classification"),
    "regression": (_regression, "regression"),
    "iris": (partial(_bundled, "iris", "load_iris"), "classification"),
    "wine": (partial(_bundled, "wine", "load_wine"), "classification"),
    "breast_cancer": (partial(_bundled, "breast_cancer", "load_breast_cancer"), "classification"),
    "digits": (partial(_bundled, "digits", "load_digits"), "classification"),
    # raw units (scaled=False): with standardize = false the data really is unscaled
    "diabetes": (partial(_bundled, "diabetes", "load_diabetes", {"scaled": False}, target="progression"),
                 "regression"),
    "csv": (_csv, None),
}
DATASETS: dict[str, DatasetSpec] = {
    name: DatasetSpec(load, task, DATASET_KEYS[name]) for name, (load, task) in _LOADERS.items()
}
assert set(DATASETS) == set(DATASET_KEYS), "every dataset of the config schema needs a loader"

GENERATED = frozenset(name for name, spec in DATASETS.items() if "n_samples" in spec.options)
USES_NOISE = frozenset(name for name, spec in DATASETS.items() if "noise" in spec.options)


# ---- splitting and scaling ------------------------------------------------------------------


def _check_split(raw: _Raw, test_size: float) -> None:
    """Raise a DataError where train_test_split would raise a ValueError (same arithmetic)."""
    n = len(raw.y)
    n_test = math.ceil(test_size * n)
    n_train = n - n_test
    if n_test < 1 or n_train < 1:
        raise DataError(
            f"{raw.source} has only {n} row(s), too few to split with data.test_size={test_size} "
            f"({n_train} train, {n_test} test); each part needs at least one row"
        )
    if raw.class_names is None:
        return
    counts = np.bincount(raw.y, minlength=len(raw.class_names))
    smallest = int(np.argmin(counts))
    if counts[smallest] < 2:
        raise DataError(
            f"{raw.source}: class {raw.class_names[smallest]!r} has {counts[smallest]} row(s); "
            "a stratified train/test split needs at least 2 rows per class"
        )
    k = len(raw.class_names)
    if min(n_train, n_test) < k:
        raise DataError(
            f"{raw.source}: data.test_size={test_size} splits {n} rows into {n_train} train and "
            f"{n_test} test, but a stratified split of {k} classes needs at least {k} rows in each part"
        )


def load_dataset(cfg: DataConfig, seed: int, dtype: str | np.dtype = "float32") -> Dataset:
    """Load ``cfg.dataset``, split it with ``seed`` and standardise it (train statistics only).

    Raises DataError (a one-line message naming the file or dataset) for data that
    cannot be used, and ConfigError for an unknown dataset name or a csv without path.
    """
    from sklearn.impute import SimpleImputer
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import OneHotEncoder

    if cfg.dataset not in DATASETS:
        allowed = ", ".join(DATASETS)
        raise ConfigError(f"data.dataset: unknown dataset {cfg.dataset!r}; choose one of {allowed}")
    raw = DATASETS[cfg.dataset].load(cfg, seed)
    if cfg.dataset != "csv" and not (np.isfinite(raw.X).all() and np.isfinite(raw.y).all()):
        hint = f"data.noise = {cfg.noise:g} is too large" if "noise" in DATASETS[cfg.dataset].options else "a bug?"
        raise DataError(f"{raw.source}: the generated values overflow 64-bit floats; {hint}")
    _check_split(raw, cfg.test_size)
    classification = raw.class_names is not None
    rows_train, rows_test = train_test_split(
        np.arange(len(raw.y)), test_size=cfg.test_size, random_state=seed, stratify=raw.y if classification else None
    )
    keep, held = _validation_rows(cfg, raw, raw.y[rows_train], classification, seed)
    rows_val, rows_train = rows_train[held], rows_train[keep]
    X_train, X_val, X_test = raw.X[rows_train], raw.X[rows_val], raw.X[rows_test]
    y_train, y_val, y_test = raw.y[rows_train], raw.y[rows_val], raw.y[rows_test]
    feature_names, encoding = list(raw.feature_names), None
    if raw.categories is not None:  # data.categorical: one-hot columns learned from the training rows only
        encoder = OneHotEncoder(handle_unknown="ignore", sparse_output=False, dtype=np.float64)
        encoder.fit(raw.categories[rows_train])
        _check_onehot_size(raw, encoder)
        X_train, X_val, X_test = (np.hstack([X, encoder.transform(raw.categories[r])]) if len(r) else
                                  np.empty((0, X.shape[1] + sum(map(len, encoder.categories_))))
                                  for X, r in ((X_train, rows_train), (X_val, rows_val), (X_test, rows_test)))
        names = raw.categorical_names or []
        encoding = {name: [str(c) for c in cats] for name, cats in zip(names, encoder.categories_, strict=True)}
        feature_names += [f"{name}={c}" for name, cats in encoding.items() for c in cats]
    fill = None
    if np.isnan(raw.X).any():  # data.missing: fill from the training rows only
        imputer = SimpleImputer(strategy=cfg.missing, keep_empty_features=True).fit(X_train)
        fill = imputer.statistics_
        X_train, X_test = imputer.transform(X_train), imputer.transform(X_test)
        X_val = imputer.transform(X_val) if len(X_val) else X_val
    scaler = None
    if cfg.standardize:  # fitted on the rows the model trains on: nothing of val or test leaks in
        scaler = _fit_scaler(X_train, raw, raw.feature_names)
        X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)
        X_val = scaler.transform(X_val) if len(X_val) else X_val
    dtype = np.dtype(dtype)
    y_mean = y_scale = None
    with np.errstate(over="ignore"):  # values beyond the dtype: _check_fits names them
        if classification:
            y_train, y_val, y_test = y_train.astype(np.int64), y_val.astype(np.int64), y_test.astype(np.int64)
        else:
            y_mean, y_scale = np.zeros(y_train.shape[1]), np.ones(y_train.shape[1])
            if cfg.standardize:
                y_scaler = _fit_scaler(y_train, raw, raw.target_names or ["target"])
                y_mean, y_scale = y_scaler.mean_, y_scaler.scale_
            y_train = ((y_train - y_mean) / y_scale).astype(dtype)
            y_val = ((y_val - y_mean) / y_scale).astype(dtype)
            y_test = ((y_test - y_mean) / y_scale).astype(dtype)
        dataset = Dataset(
            name=cfg.dataset,
            task="classification" if classification else "regression",
            X_train=X_train.astype(dtype),
            y_train=y_train,
            X_test=X_test.astype(dtype),
            y_test=y_test,
            X_val=X_val.astype(dtype),
            y_val=y_val,
            feature_names=feature_names,
            class_names=raw.class_names,
            target_names=raw.target_names,
            x_mean=None if scaler is None else scaler.mean_,
            x_scale=None if scaler is None else scaler.scale_,
            y_mean=y_mean,
            y_scale=y_scale,
            target_column=raw.target_column,
            fill=fill,
            encoding=encoding,
        )
    _check_fits(dataset, raw, cfg, {"train": rows_train, "val": rows_val, "test": rows_test})
    return dataset


def _check_onehot_size(raw: _Raw, encoder: Any) -> None:
    """One-hot columns cost a float per category per row: an ID column encoded by mistake
    (100,000 categories) is refused before the matrix is allocated."""
    counts = {name: len(cats) for name, cats in zip(raw.categorical_names or [], encoder.categories_, strict=True)}
    largest = max(counts, key=lambda k: counts[k])
    width = raw.X.shape[1] + sum(counts.values())
    check_memory({f"the one-hot columns of data.categorical = 'onehot' ({counts[largest]} categories in column "
                  f"{largest!r}; exclude it with data.exclude?)": float(len(raw.y)) * width * 8 * DATA_COPIES},
                 DataError)


def _fit_scaler(values: np.ndarray, raw: _Raw, names: list[str]) -> Any:
    """A StandardScaler fitted on ``values``; a column whose variance overflows 64-bit
    floats (values near 1e200) is a DataError naming it, not a silent scale of 1."""
    from sklearn.preprocessing import StandardScaler

    with np.errstate(over="ignore", invalid="ignore"):
        scaler = StandardScaler().fit(values)
    bad = np.flatnonzero(~(np.isfinite(scaler.mean_) & np.isfinite(scaler.var_)))
    if len(bad):
        raise DataError(f"{raw.source}, column {names[bad[0]]!r}: its values are too large to standardize "
                        "(their variance overflows 64-bit floats); rescale the column")
    return scaler


def _check_fits(dataset: Dataset, raw: _Raw, cfg: DataConfig, rows: dict[str, np.ndarray]) -> None:
    """Every value the model will see is finite in its dtype (a CSV cell of 1e39 overflows
    float32); the DataError names the column and, for a CSV, the line (``rows``: each
    split's raw rows)."""
    names = {"X": dataset.feature_names, "y": dataset.target_names or ["target"]}
    dtype = dataset.X_train.dtype
    for split, raw_rows in rows.items():
        arrays = [("X", getattr(dataset, f"X_{split}"), raw.X)]
        if dataset.task == "regression":
            arrays.append(("y", getattr(dataset, f"y_{split}"), raw.y))
        for kind, values, original in arrays:
            bad = np.argwhere(~np.isfinite(values))
            if not len(bad):
                continue
            i, j = bad[0]
            row = raw_rows[i]
            where = f" line {raw.lines[row]}," if raw.lines is not None else ","
            value = f"{original[row, j]:.3g} " if j < original.shape[1] else "a value "
            step = "standardizing" if cfg.standardize else "reading"
            fix = "set dtype = 'float64' or rescale the column" if dtype == np.float32 else "rescale the column"
            raise DataError(f"{raw.source}{where} column {names[kind][j]!r}: {value}does not fit {dtype.name} after "
                            f"{step} (at most {np.finfo(dtype).max:.3g} in magnitude); {fix}")


def _validation_rows(
    cfg: DataConfig, raw: _Raw, y_train: np.ndarray, classification: bool, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Row numbers of the training split to train on and to validate on.

    ``data.folds = k``: fold ``data.fold`` of a (stratified) k-fold split validates;
    else a (stratified) ``data.val_size`` share; else no rows.  The test split is never
    touched, and the seed fixes the rows, so the runs of a sweep share them.
    """
    from sklearn.model_selection import KFold, StratifiedKFold, train_test_split

    rows = np.arange(len(y_train))
    labels = y_train if classification else None
    try:
        if cfg.folds:
            splitter = (StratifiedKFold if classification else KFold)(cfg.folds, shuffle=True, random_state=seed)
            keep, held = list(splitter.split(rows, labels))[cfg.fold]
            return keep, held
        if cfg.val_size:
            keep, held = train_test_split(rows, test_size=cfg.val_size, random_state=seed, stratify=labels)
            return np.sort(keep), np.sort(held)
    except ValueError as exc:
        what = f"data.folds={cfg.folds}" if cfg.folds else f"data.val_size={cfg.val_size}"
        raise DataError(
            f"{raw.source}: cannot carve a validation split with {what} from {len(rows)} training rows "
            f"({exc}); use a smaller value, or 0 for none"
        ) from None
    return rows, rows[:0]


def minibatches(n: int, batch_size: int, shuffle: bool, rng: np.random.Generator) -> Iterator[np.ndarray]:
    """Index arrays covering range(n) once, ``batch_size`` at a time (the last may be smaller).

    With ``shuffle`` the order is one ``rng.permutation(n)``, drawn when this function
    is called (not when iteration starts), so the generator's state after each epoch
    is the same however the batches are consumed: resuming a run replays it exactly.
    """
    batch_size = hparams.RULES["batch_size"](batch_size, "minibatches: batch_size")
    order = rng.permutation(n) if shuffle else np.arange(n)
    return (order[start:start + batch_size] for start in range(0, n, batch_size))


def dataset_hash(dataset: Dataset) -> str:
    """SHA-256 of every split as the model sees it (shapes, dtypes and values)."""
    digest = hashlib.sha256()
    for array in (dataset.X_train, dataset.y_train, dataset.X_val, dataset.y_val, dataset.X_test, dataset.y_test):
        array = np.ascontiguousarray(array)
        digest.update(f"{array.shape}{array.dtype}".encode())
        digest.update(array.tobytes())
    return digest.hexdigest()


def original_labels(dataset: Dataset) -> list[Any] | None:
    """The class labels as the data gave them, for predictions: the integer targets of
    the generated and bundled datasets (``class_names`` only name them), a CSV's
    numbers as numbers and its text as text."""
    if dataset.class_names is None:
        return None
    if dataset.name != "csv":
        return list(range(len(dataset.class_names)))
    try:
        return [int(c) for c in dataset.class_names]
    except ValueError:
        return list(dataset.class_names)
