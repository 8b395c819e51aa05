"""``python -m minnet predict RUN_DIR DATA.csv [-o predictions.csv]`` and
``python -m minnet evaluate RUN_DIR DATA.csv``: use a trained run on new data, with the
run's own scaling, feature names and labels."""

from __future__ import annotations

import argparse
import csv
import io
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from minnet import losses
from minnet.autograd.state import no_grad
from minnet.autograd.tensor import Tensor
from minnet.cli.parsing import Parser, make_folder, output_file
from minnet.train.errors import DataError
from minnet.train.files import atomic_write_text
from minnet.train.metrics import r2_score, rmse
from minnet.train.predict import TrainedModel, cast_checked, features_of, load_run, read_table, targets_of
from minnet.train.report import format_table
from minnet.train.run import RUN_FILES

__all__ = ["main"]


def _parser(command: str) -> argparse.ArgumentParser:
    what = "write the model's predictions for" if command == "predict" else "score the model on"
    p = Parser(prog=f"python -m minnet {command}", description=f"{what.capitalize()} a CSV file with a header row.")
    p.add_argument("run_dir", metavar="RUN_DIR", help="a training run's folder (it holds model.npz)")
    p.add_argument("data", metavar="DATA.csv", help="rows to use; columns are matched to the features by name")
    if command == "predict":
        p.add_argument("-o", "--output", metavar="FILE",
                       help="CSV to write (default: standard output); missing folders are created")
    return p


def _predictions_csv(model: TrainedModel, X: np.ndarray) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    predicted = model.predict(X)
    if model.task == "classification":
        proba = model.predict_proba(X)
        writer.writerow(["prediction", *(f"proba_{c}" for c in model.classes_ or ())])
        writer.writerows([value, *(f"{p:.6g}" for p in row)] for value, row in zip(predicted, proba, strict=True))
    else:
        values = np.asarray(predicted).reshape(len(X), -1)
        writer.writerow(["prediction"] if values.shape[1] == 1 else [f"prediction_{i}" for i in range(values.shape[1])])
        writer.writerows([f"{v:.10g}" for v in row] for row in values)
    return buffer.getvalue()


def _scores(model: TrainedModel, X: np.ndarray, y: np.ndarray, path: str) -> dict[str, float]:
    """The training table's scores: the loss as training computes it, then accuracy or R² (and RMSE)."""
    if model.task == "classification":
        position = {c: i for i, c in enumerate(model.classes_ or ())}
        unknown = sorted({str(v) for v in y if v not in position})
        if unknown:
            raise DataError(f"{path!r}: target values {unknown} are not classes of the model {model.classes_}")
        labels = np.array([position[v] for v in y])
        logits = model._forward(X)
        with no_grad():
            loss = losses.softmax_cross_entropy(Tensor(logits), labels).item()
        return {"loss": loss, "accuracy": float(np.mean(logits.argmax(axis=1) == labels))}
    predicted = np.asarray(model.predict(X), dtype=np.float64).reshape(len(y), -1)
    target = y.reshape(len(y), -1)
    mean, scale = model._y
    scaled = (lambda a: (a - mean) / scale) if mean is not None else (lambda a: a)
    dtype = next(model.model.parameters()).dtype
    _, beyond = cast_checked(scaled(target), dtype)
    if beyond is not None:  # as training refuses it: the model could never have produced it
        row, column = beyond
        raise DataError(f"{path!r}, data row {row + 1}: the target {float(target[row, column]):.6g} is beyond the range "
                        f"of the model's {dtype} after the run's scaling (at most {np.finfo(dtype).max:.3g})")
    loss = 0.5 * float(np.mean((scaled(predicted) - scaled(target)) ** 2))
    return {"loss": loss, "r2": r2_score(predicted, target), "rmse": rmse(predicted, target)}


def main(command: str, argv: Sequence[str]) -> int:
    args = _parser(command).parse_args(list(argv))
    try:
        return _run(command, args)
    except ValueError as exc:  # the model refusing its input: one error line, exit 2
        if isinstance(exc, DataError):
            raise
        raise DataError(str(exc)) from None


def _run(command: str, args: argparse.Namespace) -> int:
    output = None
    if command == "predict" and args.output is not None:
        run_files = [Path(args.run_dir) / name for name in RUN_FILES]
        output = output_file(args.output, "-o", keep=run_files)
    model = load_run(args.run_dir)
    header, rows = read_table(args.data)
    X = features_of(model, header, rows, args.data)
    if command == "predict":
        text = _predictions_csv(model, X)
        if output is not None:
            make_folder(output, "-o")
            atomic_write_text(output, text)
            print(f"wrote {len(X)} predictions to {args.output}")
        else:
            sys.stdout.write(text)
        return 0
    scores = _scores(model, X, targets_of(model, header, rows, args.data), args.data)
    print(f"{Path(args.run_dir).name} on {args.data}: {len(X)} rows")
    print(format_table(["", *scores], [["data", *scores.values()]]))
    return 0
