"""``history.csv``: one row per epoch, appended as training goes, read back to resume and plot."""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Sequence
from pathlib import Path

from minnet.train.errors import DataError
from minnet.train.files import append_text

__all__ = ["history_csv", "append_history", "read_history"]


def history_csv(history: list[dict[str, float]], header: bool = True) -> str:
    if not history:
        return ""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(history[0]), lineterminator="\n")
    if header:
        writer.writeheader()
    writer.writerows(history)
    return buffer.getvalue()


def append_history(path: Path, row: dict[str, float]) -> None:
    """One line per epoch, appended whole or not at all (a failed write is cut back), so
    the file never ends in half a row; cheap enough for thousands of epochs."""
    new = not path.exists() or path.stat().st_size == 0
    append_text(path, history_csv([row], header=new))


def read_history(run_dir: str | Path, columns: Sequence[str] | None = None) -> list[dict[str, float]]:
    """A run's ``history.csv`` as rows of numbers (empty if there is none yet).

    Rows must be epochs 1, 2, 3, ... in order, every cell a finite number, and (when
    ``columns`` is given) the header exactly those columns; anything else is a
    DataError naming the file and line.  A last line without its newline is one whose
    writing was cut (a crash while appending), so it is not a row.  A UTF-8 byte-order
    mark, as an editor may add, is allowed.
    """
    path = Path(run_dir) / "history.csv"
    where = repr(str(path))
    if not path.exists():
        return []
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DataError(f"{where} is not UTF-8 text (byte {exc.object[exc.start]:#04x} at offset {exc.start}); "
                        "minnet writes it as UTF-8") from None
    except OSError as exc:
        raise DataError(f"cannot read {where}: {exc.strerror or exc}") from None
    lines = text.split("\n")
    lines.pop()  # what follows the last newline: nothing, or a line cut while it was written
    if not lines:
        return []
    try:
        table = list(csv.reader(lines, strict=True))
    except csv.Error as exc:
        raise DataError(f"{where} is not a history file minnet wrote: {exc}") from None
    header, body = table[0], table[1:]
    if columns is not None and header != list(columns):
        raise DataError(f"{where} has the columns {header}, but this run writes {list(columns)}")
    if header[:1] != ["epoch"] or len(set(header)) != len(header):
        raise DataError(f"{where}: the header must start with 'epoch' and name each column once, got {header}")
    return [_row(header, cells, line, epoch, where) for epoch, (line, cells) in enumerate(enumerate(body, 2), 1)]


def _row(header: list[str], cells: list[str], line: int, epoch: int, where: str) -> dict[str, float]:
    if len(cells) != len(header):
        raise DataError(f"{where} line {line} has {len(cells)} cells, the header has {len(header)}")
    row: dict[str, float] = {}
    for name, cell in zip(header, cells, strict=True):
        try:
            value: float = int(cell) if name == "epoch" else float(cell)
        except ValueError:
            shown = cell if len(cell) <= 40 else cell[:37] + "..."
            raise DataError(f"{where} line {line}, column {name!r}: {shown!r} is not "
                            f"{'an epoch number' if name == 'epoch' else 'a number'}") from None
        if not math.isfinite(value):
            raise DataError(f"{where} line {line}, column {name!r}: {cell[:40]!r} is not a finite number")
        row[name] = value
    if row["epoch"] != epoch:
        raise DataError(f"{where} line {line} is epoch {row['epoch']:g}, expected {epoch}: rows must be epochs "
                        "1, 2, 3, ... in order, once each")
    return row
