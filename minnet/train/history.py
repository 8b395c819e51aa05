"""``history.csv``: one row per epoch, appended as training goes, read back to resume and plot."""

from __future__ import annotations

import csv
import io
from pathlib import Path

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


def read_history(run_dir: str | Path) -> list[dict[str, float]]:
    """A run's ``history.csv`` as rows of numbers (empty if there is none yet)."""
    path = Path(run_dir) / "history.csv"
    if not path.is_file():
        return []
    with path.open(newline="") as f:
        return [{k: int(v) if k == "epoch" else float(v) for k, v in row.items()} for row in csv.DictReader(f)]
