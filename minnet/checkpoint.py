"""Checkpoints: parameters and training state in one ``.npz``, safe to load.

Layout of ``model.npz``:
    param/<name>       one array per model parameter (``0.weight``, ...)
    state/<name>       other arrays: momentum buffers, data scalers
    meta               a JSON string: format tag, model spec, config, epoch, RNG state, ...

Only plain numeric arrays and one string are stored, so loading never needs pickle
(``allow_pickle=False``), and files are written atomically: a crash or Ctrl-C while
saving leaves the previous checkpoint intact.
"""

from __future__ import annotations

import json
import os
import tempfile
import zipfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import IO, Any

import numpy as np

from minnet.errors import CheckpointError

__all__ = ["FORMAT", "atomic_write", "save_checkpoint", "load_checkpoint", "Checkpoint"]

FORMAT = "minnet-checkpoint-1"


def atomic_write(path: str | Path, write: Callable[[IO[bytes]], None]) -> None:
    """Write a file through ``write(fileobj)`` to a temp file, then rename it into place."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: str | Path, text: str) -> None:
    atomic_write(path, lambda f: f.write(text.encode("utf-8")))


class Checkpoint:
    """What a checkpoint holds, read back: parameter arrays, other arrays, metadata."""

    def __init__(self, params: dict[str, np.ndarray], state: dict[str, np.ndarray], meta: dict[str, Any]):
        self.params = params
        self.state = state
        self.meta = meta


def save_checkpoint(
    path: str | Path,
    params: Mapping[str, np.ndarray],
    meta: Mapping[str, Any],
    state: Mapping[str, np.ndarray] | None = None,
) -> None:
    arrays = {f"param/{k}": np.asarray(v) for k, v in params.items()}
    arrays.update({f"state/{k}": np.asarray(v) for k, v in (state or {}).items()})
    arrays["meta"] = np.array(json.dumps({"format": FORMAT, **meta}))
    atomic_write(path, lambda f: np.savez(f, **arrays))


def load_checkpoint(path: str | Path) -> Checkpoint:
    """Read a checkpoint; anything that is not a minnet checkpoint is a CheckpointError."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {str(path)!r} does not exist")
    if not zipfile.is_zipfile(path):
        raise CheckpointError(f"{str(path)!r} is not a minnet checkpoint (not an .npz archive)")
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {name: archive[name] for name in archive.files}
    except ValueError as exc:  # numpy refuses object arrays without allow_pickle
        if "pickle" in str(exc):
            raise CheckpointError(f"{str(path)!r} contains pickled objects; minnet never loads those") from None
        raise CheckpointError(f"{str(path)!r} is not a minnet checkpoint: {exc}") from None
    except (OSError, zipfile.BadZipFile, EOFError) as exc:
        raise CheckpointError(f"{str(path)!r} is not a minnet checkpoint (not a readable .npz file: {exc})") from None
    try:
        meta = json.loads(str(arrays.pop("meta")))
        if not isinstance(meta, dict) or meta.get("format") != FORMAT:
            raise ValueError
    except (KeyError, ValueError):
        raise CheckpointError(f"{str(path)!r} is not a minnet checkpoint (no valid 'meta' entry)") from None
    params = {k[len("param/"):]: v for k, v in arrays.items() if k.startswith("param/")}
    state = {k[len("state/"):]: v for k, v in arrays.items() if k.startswith("state/")}
    return Checkpoint(params, state, meta)
