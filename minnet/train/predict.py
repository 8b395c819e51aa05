"""Use a trained run: load its model with the data scaling it was trained with, and predict."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from minnet.autograd.state import no_grad
from minnet.autograd.tensor import Tensor
from minnet.nn import Module
from minnet.train.checkpoint import load_checkpoint
from minnet.train.data import MISSING_MARKERS, read_csv_rows
from minnet.train.errors import DataError
from minnet.train.factory import build_from_factory
from minnet.train.metrics import r2_score
from minnet.train.models import build_mlp

__all__ = ["TrainedModel", "load_run", "read_table", "features_of", "targets_of", "cast_checked"]


class TrainedModel:
    """A model loaded from a run folder, with the data scaling it was trained with.

    ``predict`` takes raw features (as in the dataset or CSV) and returns class labels
    in their original type (the integer targets of the bundled and generated datasets,
    a CSV's numbers or text) or regression values in original units.  A DataFrame (or
    anything with ``columns``) is matched to the training features by name, and
    reordered when its columns come in another order.
    """

    def __init__(self, model: Module, meta: dict[str, Any], state: dict[str, np.ndarray]):
        self.model = model
        data = meta["data"]
        self.task: str = data["task"]
        self.class_names: list[str] | None = data["class_names"]
        self.classes_: list[Any] | None = data.get("labels", self.class_names)
        self.feature_names: list[str] = data["feature_names"]  # the model's inputs (one-hot columns expanded)
        self.encoding: dict[str, list[str]] = data.get("encoding") or {}  # text column -> its categories
        expanded = {f"{name}={c}" for name, cats in self.encoding.items() for c in cats}
        self.input_columns: list[str] = [f for f in self.feature_names if f not in expanded] + list(self.encoding)
        self.target_column: str = data.get("target_column", "target")
        self.epoch: int = meta["epoch"]
        self._x = (state.get("data/x_mean"), state.get("data/x_scale"))
        self._fill = state.get("data/fill")  # data.missing: what an empty cell becomes
        self._y = (state.get("data/y_mean"), state.get("data/y_scale"))

    def encode(self, columns: dict[str, Any]) -> np.ndarray:
        """Named input columns (numbers, and text for one-hot columns) as the model's float matrix."""
        numeric = [np.asarray(columns[f], dtype=np.float64) for f in self.input_columns if f not in self.encoding]
        onehot = [np.asarray(columns[name], dtype=object).astype(str)[:, None] == np.array(cats, dtype=object)[None, :]
                  for name, cats in self.encoding.items()]  # a category unseen in training: all zeros
        return np.column_stack([*numeric, *(o.astype(np.float64) for o in onehot)])

    def _matrix(self, X: Any) -> np.ndarray:
        """X as a float64 matrix of the training features, in their order."""
        columns = getattr(X, "columns", None)
        if columns is not None:
            names = [str(c) for c in columns]
            missing = [f for f in self.input_columns if f not in names]
            if missing:
                raise ValueError(f"predict: the data lacks the feature columns {missing}; the model was trained on "
                                 f"{self.input_columns}")
            if self.encoding:
                return self.encode({f: X[f].to_numpy() for f in self.input_columns})
            X = X[self.feature_names]
        elif self.encoding and np.shape(X)[-1:] != (len(self.feature_names),):
            raise ValueError(f"predict: this model one-hot encodes the text columns {list(self.encoding)}; "
                             "pass a DataFrame (or a CSV to `python -m minnet predict`) with named columns, "
                             f"or an array of its {len(self.feature_names)} encoded inputs {self.feature_names}")
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or X.shape[1] != len(self.feature_names):
            raise ValueError(f"predict: expected an array of shape (n, {len(self.feature_names)}) "
                             f"(features {self.feature_names}), got shape {X.shape}")
        return X

    def _forward(self, X: Any) -> np.ndarray:
        X = self._matrix(X)  # scaled in float64, cast once for the model
        if self._fill is not None:
            X = np.where(np.isnan(X), self._fill, X)
        mean, scale = self._x
        if mean is not None:
            X = (X - mean) / scale
        dtype = next(self.model.parameters()).dtype
        cast, beyond = cast_checked(X, dtype)
        if beyond is not None:
            row, column = beyond
            raise ValueError(f"predict: row {row + 1}, feature {self.feature_names[column]!r} is beyond the range of "
                             f"the model's {dtype} after the run's scaling (at most {np.finfo(dtype).max:.3g})")
        with no_grad():
            return self.model(Tensor(cast)).data

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities, column i for ``classes_[i]``."""
        if self.task != "classification":
            raise ValueError("predict_proba: this model was trained for regression")
        z = self._forward(X)
        e = np.exp(z - z.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)

    def predict(self, X: Any) -> np.ndarray:
        out = self._forward(X)
        if self.task == "classification":
            return np.asarray(self.classes_, dtype=object if self._text_labels else None)[out.argmax(axis=1)]
        mean, scale = self._y
        if mean is not None:
            out = out * scale + mean
        return out[:, 0] if out.shape[1] == 1 else out

    @property
    def _text_labels(self) -> bool:
        return any(isinstance(c, str) for c in self.classes_ or ())

    def score(self, X: Any, y: Any) -> float:
        """Accuracy for classification, R² for regression (scikit-learn's ``score``)."""
        pred = self.predict(X)
        y = np.asarray(y)
        if self.task == "classification":
            return float(np.mean(pred == y.reshape(pred.shape)))
        return r2_score(np.asarray(pred, dtype=np.float64).reshape(len(y), -1), y.astype(np.float64))


def cast_checked(values: np.ndarray, dtype: np.dtype) -> tuple[np.ndarray, tuple[int, int] | None]:
    """``values`` (2-D, float64) in ``dtype``, and the (row, column) of the first finite
    value too large for it (None if all fit; NaN stays NaN)."""
    with np.errstate(over="ignore", invalid="ignore"):
        cast = values.astype(dtype)
    beyond = np.argwhere(~np.isfinite(cast) & ~np.isnan(values))
    return cast, (None if not len(beyond) else (int(beyond[0][0]), int(beyond[0][1])))


def read_table(path: str | Path) -> tuple[list[str], list[list[str]]]:
    """A CSV's header and rows of cells, for predict and evaluate: read by the training
    reader (``read_csv_rows``, the same file, size, encoding and shape checks), rows of
    only empty cells skipped, and no number beyond a 64-bit float (``1e400``, ``inf``)."""
    source = repr(str(path))
    rows = [(line, row) for line, row in read_csv_rows(path, source) if any(row)]
    if len(rows) < 2:
        raise DataError(f"{source} needs a header row and at least one data row")
    header = rows[0][1]
    twice = sorted({name for name in header if header.count(name) > 1})
    if twice:
        raise DataError(f"{source}: the header names {twice} more than once; each column needs its own name")
    for line, row in rows[1:]:
        for name, cell in zip(header, row, strict=True):
            if not math.isfinite(_number(cell)) and cell.lower() not in MISSING_MARKERS:
                raise DataError(f"{source} line {line}, column {name!r}: {cell[:40]!r} is not a finite number "
                                f"(at most {np.finfo(np.float64).max:.3g} in magnitude)")
    return header, [row for _, row in rows[1:]]


def _number(cell: str) -> float:
    """The cell as a float, 0.0 for text (which is no overflow)."""
    try:
        return float(cell)
    except ValueError:
        return 0.0


def _column(header: list[str], rows: list[list[str]], name: str, path: str) -> list[str]:
    j = header.index(name)
    for i, row in enumerate(rows, start=2):
        if len(row) != len(header):
            raise DataError(f"{path!r} line {i} has {len(row)} cells, expected {len(header)} like the header")
    return [row[j] for row in rows]


def features_of(model: TrainedModel, header: list[str], rows: list[list[str]], path: str) -> np.ndarray:
    """The feature columns of a CSV, by name, as floats (a DataError names what is wrong)."""
    missing = [f for f in model.input_columns if f not in header]
    if missing:
        raise DataError(f"{path!r} lacks the feature columns {missing}; the model was trained on {model.input_columns}")
    columns: list[Any] = []
    for name in model.input_columns:
        cells = _column(header, rows, name, path)
        if name in model.encoding:
            columns.append(cells)
            continue
        filled = model._fill is not None  # the run fills missing values: empty cells are allowed
        if filled:
            cells = ["nan" if c.lower() in MISSING_MARKERS else c for c in cells]
        columns.append(_numbers(cells, name, path, missing_allowed=filled))
    return model.encode(dict(zip(model.input_columns, columns, strict=True)))


def _numbers(cells: list[str], name: str, path: str, missing_allowed: bool = False) -> list[float]:
    """A CSV column as floats; a cell that is not a finite number is a DataError naming its
    data row (NaN is allowed where the run fills missing values)."""
    values = []
    for row, cell in enumerate(cells, start=1):
        try:
            value = float(cell)
        except ValueError:
            raise DataError(f"{path!r}, data row {row}, column {name!r}: {cell!r} is not a number") from None
        if not math.isfinite(value) and not (missing_allowed and math.isnan(value)):
            hint = "" if missing_allowed else " (the run was trained without data.missing, so it cannot fill it)"
            raise DataError(f"{path!r}, data row {row}, column {name!r}: {cell!r} is not a finite number{hint}")
        values.append(value)
    return values


def targets_of(model: TrainedModel, header: list[str], rows: list[list[str]], path: str) -> np.ndarray:
    """The target column of a CSV (named as in training), as the model's labels' type."""
    if model.target_column not in header:
        raise DataError(f"{path!r} has no target column {model.target_column!r}, which evaluate compares with")
    cells = _column(header, rows, model.target_column, path)
    if model.task == "regression" or not model._text_labels:
        values = _numbers(cells, model.target_column, path)
        return np.array(values) if model.task == "regression" else np.array(values).astype(np.int64)
    return np.array(cells, dtype=object)




def load_run(run_dir: str | Path) -> TrainedModel:
    """The trained model of a run folder (its ``model.npz``, checked by ``load_checkpoint``), ready to predict."""
    checkpoint = load_checkpoint(Path(run_dir) / "model.npz")
    spec, dtype = checkpoint.meta["model"], checkpoint.config.dtype
    if spec["type"] == "factory":
        n_inputs, n_outputs = spec["sizes"]
        model: Module = build_from_factory(spec["factory"], spec["options"], n_inputs, n_outputs,
                                           np.random.default_rng(0), dtype)
    else:
        model = build_mlp(spec["sizes"], spec["activation"], dtype=dtype)
    try:
        model.load_state_dict(checkpoint.params)
    except (KeyError, TypeError, ValueError) as exc:
        raise checkpoint.error(f"its parameters do not fit the model it describes: {exc.args[0]}") from None
    return TrainedModel(model, checkpoint.meta, checkpoint.state)
