"""Plain-text tables for the terminal: the result of a run, the comparison of a sweep."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

__all__ = ["format_table", "run_table", "value_text"]


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}" if abs(value) < 1e-3 and value != 0 else f"{value:.4f}"
    return str(value)


def format_table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """Columns right-aligned to their widest cell, the first column left-aligned."""
    cells = [list(header)] + [[_cell(v) for v in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    lines = []
    for n, row in enumerate(cells):
        parts = [row[0].ljust(widths[0])] + [c.rjust(w) for c, w in zip(row[1:], widths[1:], strict=True)]
        lines.append("  ".join(parts).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def run_table(result: Any) -> str:
    """What one run reached, train / val / test side by side (the best epoch's, with early
    stopping); only train and val decided anything."""
    row = result.row
    scores = [k[len("train_"):] for k in row if k.startswith("train_")]
    splits = [s for s in ("train", "val", "test") if f"{s}_loss" in row]
    rows = [[split] + [row[f"{split}_{s}"] for s in scores] for split in splits]
    where = f" -> {result.run_dir}" if result.run_dir is not None else ""
    epochs = len(result.history)
    title = f"{result.config.name}: {epochs} epochs in {result.metrics['seconds']:.1f} s{where}"
    if "best_epoch" in result.metrics:
        stopped = ", stopped early" if result.metrics.get("stopped_early") else ""
        title += f"\nbest epoch by validation loss: {result.metrics['best_epoch']}{stopped} (its weights are kept)"
    return title + "\n" + format_table(["", *scores], rows)


def value_text(value: Any) -> str:
    """A swept value as people write it: ``0.001``, ``1e-05``, ``16-16`` for hidden widths."""
    if isinstance(value, (tuple, list)):
        return "-".join(map(str, value))
    return f"{value:g}" if isinstance(value, float) else str(value)
