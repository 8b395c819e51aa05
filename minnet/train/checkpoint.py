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
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from minnet.train.errors import CheckpointError
from minnet.train.files import atomic_write

__all__ = ["FORMAT", "save_checkpoint", "load_checkpoint", "Checkpoint"]

FORMAT = "minnet-checkpoint-1"


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
    atomic_write(path, lambda f: np.savez(f, **arrays))  # type: ignore[arg-type]  # (numpy stubs: kwargs vs allow_pickle)


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
