"""Checkpoints: parameters and training state in one ``.npz``, safe to load.

Layout of ``model.npz``:
    param/<name>       one array per model parameter (``0.weight``, ...)
    state/<name>       other arrays: optimizer buffers (``optim/<i>/<key>``), data scalers
                       (``data/...``), the last epoch's weights under early stopping (``current/...``)
    meta               a JSON string: format tag, model spec, config, epoch, RNG state, ...

Only plain float arrays and one string are stored, so loading never needs pickle, and
files are written atomically: a crash or Ctrl-C while saving leaves the previous
checkpoint intact.

``load_checkpoint`` is the one reader, for ``--resume``, ``predict``, ``evaluate`` and
``load_run``: a file can come from anywhere, so every entry's header is read and checked
against its size before anything is allocated, and every meta field's type before use.
Whatever is wrong is a CheckpointError naming the file and the entry or field.
"""

from __future__ import annotations

import json
import math
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any

import numpy as np
from numpy.lib import format as npy

from minnet.autograd.activations import ACTIVATIONS
from minnet.hparams import describe
from minnet.train.config import Config, config_from_dict
from minnet.train.errors import CheckpointError, ConfigError
from minnet.train.files import atomic_write

__all__ = ["FORMAT", "save_checkpoint", "load_checkpoint", "Checkpoint"]

FORMAT = "minnet-checkpoint-1"

# The JSON metadata is a config, names and labels: kilobytes.  Anything near this is not ours.
MAX_META_BYTES = 64 * 2**20
# Deflate compresses at most ~1032:1, so an entry claiming more is a zip bomb.
MAX_DEFLATE_RATIO = 1100
_HEADER_READERS = {(1, 0): npy.read_array_header_1_0, (2, 0): npy.read_array_header_2_0}


class Checkpoint:
    """What a checkpoint holds, read back and checked: parameter arrays, other arrays,
    metadata, and the run's config validated from it."""

    def __init__(self, params: dict[str, np.ndarray], state: dict[str, np.ndarray], meta: dict[str, Any],
                 config: Config, path: Path):
        self.params = params
        self.state = state
        self.meta = meta
        self.config = config
        self.path = path

    def error(self, message: str) -> CheckpointError:
        """A CheckpointError naming this checkpoint's file."""
        return CheckpointError(f"checkpoint {str(self.path)!r}: {message}")


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
    """Read and check a checkpoint; anything that is not a sound minnet checkpoint is a
    CheckpointError naming the file and what is wrong."""
    path = Path(path)
    where = f"checkpoint {str(path)!r}"
    if path.is_dir():
        raise CheckpointError(f"{where} is a folder, not a checkpoint file")
    if not path.is_file():
        raise CheckpointError(f"{where} does not exist")
    try:
        with zipfile.ZipFile(path) as archive:
            arrays = _read_entries(archive, where)
    except zipfile.BadZipFile as exc:
        raise CheckpointError(f"{where} is not a minnet checkpoint (not a readable .npz archive: {exc})") from None
    except (OSError, EOFError) as exc:
        raise CheckpointError(f"{where} cannot be read: {exc}") from None
    except MemoryError:
        raise CheckpointError(f"{where} is too large to load into memory") from None
    meta = _parse_meta(arrays.pop("meta"), where)
    params = {k[len("param/"):]: v for k, v in arrays.items() if k.startswith("param/")}
    state = {k[len("state/"):]: v for k, v in arrays.items() if k.startswith("state/")}
    config = _check(meta, params, state, where)
    return Checkpoint(params, state, meta, config, path)


# ---- the archive's entries -------------------------------------------------------------

def _read_entries(archive: zipfile.ZipFile, where: str) -> dict[str, np.ndarray]:
    """Every entry as an array, each checked before it is read (names, header, size)."""
    if "meta.npy" not in archive.namelist():
        raise CheckpointError(f"{where} is not a minnet checkpoint (no valid 'meta' entry)")
    arrays: dict[str, np.ndarray] = {}
    for info in archive.infolist():
        key = info.filename.removesuffix(".npy")
        if key in arrays:
            raise CheckpointError(f"{where}: entry {key!r} appears twice in the archive")
        if info.filename == key or not (key == "meta" or key.startswith(("param/", "state/"))):
            raise CheckpointError(f"{where}: unexpected entry {info.filename!r}; a minnet checkpoint holds "
                                  "'meta.npy', 'param/<name>.npy' and 'state/<name>.npy'")
        arrays[key] = _read_entry(archive, info, key, where)
    return arrays


def _read_entry(archive: zipfile.ZipFile, info: zipfile.ZipInfo, key: str, where: str) -> np.ndarray:
    """One ``.npy`` entry: its header says dtype and shape, which must be plain and add up
    to the entry's size, all known before the data is read."""
    if info.compress_type != zipfile.ZIP_STORED and info.file_size > MAX_DEFLATE_RATIO * max(info.compress_size, 1):
        raise CheckpointError(f"{where}: entry {key!r} claims {info.file_size} bytes from {info.compress_size} "
                              "compressed ones, more than compression can give")
    with archive.open(info) as f:
        shape, fortran, dtype = _read_header(f, key, where)
        kind = "U" if key == "meta" else "f"
        if dtype.kind != kind or dtype.fields is not None or dtype.subdtype is not None:
            allowed = "a text string" if key == "meta" else "float arrays"
            raise CheckpointError(f"{where}: entry {key!r} has dtype {dtype}; it must hold {allowed}")
        if key == "meta" and shape != ():
            raise CheckpointError(f"{where}: entry 'meta' has shape {shape}; it must be one string")
        nbytes = math.prod(shape) * dtype.itemsize
        available = info.file_size - f.tell()
        if nbytes != available:
            raise CheckpointError(f"{where}: entry {key!r} claims shape {shape} of {dtype} ({nbytes} bytes), "
                                  f"but holds {available} bytes")
        if key == "meta" and nbytes > MAX_META_BYTES:
            raise CheckpointError(f"{where}: entry 'meta' has {nbytes} bytes, more than the {MAX_META_BYTES} "
                                  "a checkpoint's metadata can need")
        buffer = bytearray(nbytes)
        if f.readinto(buffer) != nbytes:  # type: ignore[attr-defined]  # (ZipExtFile is a BufferedIOBase)
            raise CheckpointError(f"{where}: entry {key!r} is cut short")
    array = np.frombuffer(buffer, dtype=dtype).reshape(shape, order="F" if fortran else "C")
    return array if dtype.isnative else array.astype(dtype.newbyteorder("="))


def _read_header(f: IO[bytes], key: str, where: str) -> tuple[tuple[int, ...], bool, np.dtype]:
    try:
        version = npy.read_magic(f)
        reader = _HEADER_READERS.get(version)
        if reader is None:
            raise ValueError(f"unsupported .npy format version {version}")
        shape, fortran, dtype = reader(f)
    except (ValueError, SyntaxError, TypeError, EOFError, OSError) as exc:  # OSError: a zip entry cut short
        raise CheckpointError(f"{where}: entry {key!r} is not a readable .npy array ({exc})") from None
    if dtype.hasobject:
        raise CheckpointError(f"{where}: entry {key!r} contains pickled objects; minnet never loads those")
    return shape, fortran, dtype


def _parse_meta(array: np.ndarray, where: str) -> dict[str, Any]:
    try:
        meta = json.loads(str(array[()]))
    except RecursionError:
        raise CheckpointError(f"{where}: entry 'meta' is JSON nested too deeply") from None
    except ValueError as exc:  # JSONDecodeError, or an integer too long to convert
        raise CheckpointError(f"{where}: entry 'meta' is not valid JSON ({exc})") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        found = "no format tag" if not isinstance(meta, dict) else f"format {describe(meta.get('format'))}"
        raise CheckpointError(f"{where} is not a minnet checkpoint (no valid 'meta' entry: expected a JSON object "
                              f"with format {FORMAT!r}, got {found if isinstance(meta, dict) else describe(meta)})")
    return meta


# ---- the metadata, field by field --------------------------------------------------------

_NAMES = {dict: "a JSON object", list: "a list", str: "a string", int: "an integer", float: "a number",
          bool: "true or false", type(None): "null"}


def _field(table: Mapping[str, Any], key: str, types: tuple[type, ...], where: str, prefix: str = "",
           default: Any = ..., check: Any = None, allowed: str = "") -> Any:
    """``table[key]``, which must exist (unless it has a default) and be of ``types``
    (an integer is a number; a boolean is neither), and pass ``check``."""
    name = f"{prefix}{key}"
    if key not in table:
        if default is not ...:
            return default
        raise CheckpointError(f"{where}: meta field {name!r} is missing")
    value = table[key]
    accepted = (isinstance(value, types) and not (isinstance(value, bool) and bool not in types)) \
        or (float in types and isinstance(value, int) and not isinstance(value, bool))
    if not accepted or (check is not None and not check(value)):
        expected = allowed or " or ".join(_NAMES.get(t, t.__name__) for t in types)
        raise CheckpointError(f"{where}: meta field {name!r} must be {expected}, got {describe(value)}")
    return value


def _strings(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def _positive_ints(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in value)


def _check(meta: dict[str, Any], params: dict[str, np.ndarray], state: dict[str, np.ndarray], where: str) -> Config:
    """Every meta field minnet reads, and how the arrays fit them; the run's config."""
    epoch = _field(meta, "epoch", (int,), where, check=lambda v: v >= 1, allowed="an integer >= 1")
    raw_config = _field(meta, "config", (dict,), where)
    try:
        config = config_from_dict(raw_config)
    except ConfigError as exc:
        raise CheckpointError(f"{where}: meta field 'config' is not a valid run config: {exc}") from None
    except RecursionError:
        raise CheckpointError(f"{where}: meta field 'config' is nested too deeply") from None
    n_inputs, n_outputs = _check_model(meta, config, params, where)
    _check_data(meta, n_inputs, n_outputs, state, where)
    optimizer = _field(meta, "optimizer", (dict,), where)
    _field(optimizer, "name", (str,), where, "optimizer.", check=lambda v: v == config.optim.name,
           allowed=f"the config's optim.name {config.optim.name!r}")
    _field(optimizer, "hyperparameters", (dict,), where, "optimizer.")
    scalars = _field(optimizer, "scalars", (dict,), where, "optimizer.")
    for index, entry in scalars.items():
        _field(scalars, index, (dict,), where, "optimizer.scalars.")
        for key in entry:
            _field(entry, key, (int, float), where, f"optimizer.scalars.{index}.")
    _field(optimizer, "parameters", (int,), where, "optimizer.", check=lambda v: v == len(params),
           allowed=f"the number of parameters, {len(params)}")
    _field(meta, "schedule", (dict, type(None)), where)
    _field(meta, "rng", (dict,), where)
    last_row = _field(meta, "last_row", (dict,), where)
    for key in last_row:
        _field(last_row, key, (int, float), where, "last_row.")
    _field(last_row, "epoch", (int,), where, "last_row.", check=lambda v: v == epoch, allowed=f"the epoch, {epoch}")
    stopping = _field(meta, "early_stopping", (dict,), where, default={})
    if stopping:
        _field(stopping, "best_epoch", (int,), where, "early_stopping.", check=lambda v: 0 <= v <= epoch,
               allowed=f"an epoch from 0 to {epoch}")
        _field(stopping, "best_val_loss", (float,), where, "early_stopping.")
        _field(stopping, "stale_epochs", (int,), where, "early_stopping.", check=lambda v: v >= 0,
               allowed="an integer >= 0")
    _field(meta, "data_hash", (str,), where, default=None)
    for name, array in [*(("param/" + k, v) for k, v in params.items()), *(("state/" + k, v) for k, v in state.items())]:
        if not np.isfinite(array).all():
            raise CheckpointError(f"{where}: entry {name!r} holds NaN or infinite values; minnet saves only the "
                                  "weights of finished, finite epochs")
    for name in state:
        if not name.startswith(("data/", "optim/", "current/")):
            raise CheckpointError(f"{where}: unexpected entry {'state/' + name!r}")
        if name.startswith("optim/"):
            index = name.split("/")[1]
            if not (index.isdigit() and int(index) < len(params) and name.count("/") == 2):
                raise CheckpointError(f"{where}: entry {'state/' + name!r} names no parameter of the model "
                                      f"(expected state/optim/<0..{len(params) - 1}>/<buffer>)")
        if name.startswith("current/") and (name[len("current/"):] not in params
                                             or state[name].shape != params[name[len("current/"):]].shape):
            raise CheckpointError(f"{where}: entry {'state/' + name!r} does not match a parameter of the model")
    return config


def _check_model(meta: dict[str, Any], config: Config, params: dict[str, np.ndarray], where: str) -> tuple[int, int]:
    """The model spec agrees with the config and with the parameter arrays (so building
    the model never allocates more than the file holds); its input and output sizes."""
    spec = _field(meta, "model", (dict,), where)
    kind = _field(spec, "type", (str,), where, "model.", check=lambda v: v in ("mlp", "factory"),
                  allowed="'mlp' or 'factory'")
    sizes = _field(spec, "sizes", (list,), where, "model.", check=_positive_ints, allowed="a list of integers >= 1")
    if kind == "mlp":
        _field(spec, "activation", (str,), where, "model.", check=lambda v: v == config.model.activation
               and v in ACTIVATIONS, allowed=f"the config's model.activation {config.model.activation!r}")
        if len(sizes) < 2 or sizes[1:-1] != list(config.model.hidden):
            raise CheckpointError(f"{where}: meta field 'model.sizes' {sizes} does not match the config's "
                                  f"model.hidden {list(config.model.hidden)}")
        expected = sum(a * b + b for a, b in zip(sizes[:-1], sizes[1:], strict=False))
        held = sum(a.size for a in params.values())
        if len(params) != 2 * (len(sizes) - 1) or held != expected:
            raise CheckpointError(f"{where}: the model {sizes} has {2 * (len(sizes) - 1)} parameter arrays of "
                                  f"{expected} numbers, the file holds {len(params)} of {held}")
    else:
        _field(spec, "factory", (str,), where, "model.", check=lambda v: v == config.model.factory,
               allowed=f"the config's model.factory {config.model.factory!r}")
        _field(spec, "options", (dict,), where, "model.")
        if len(sizes) != 2:
            raise CheckpointError(f"{where}: meta field 'model.sizes' must be [inputs, outputs], got {sizes}")
    dtype = np.dtype(config.dtype)
    for name, array in params.items():
        if array.dtype != dtype:
            raise CheckpointError(f"{where}: entry {'param/' + name!r} has dtype {array.dtype}, but the run's "
                                  f"config has dtype {config.dtype!r}")
    return sizes[0], sizes[-1]


def _check_data(meta: dict[str, Any], n_inputs: int, n_outputs: int, state: dict[str, np.ndarray],
                where: str) -> None:
    """What ``load_run`` reads to turn raw features into predictions, sized to the model."""
    data = _field(meta, "data", (dict,), where)
    _field(data, "name", (str,), where, "data.")
    task = _field(data, "task", (str,), where, "data.", check=lambda v: v in ("classification", "regression"),
                  allowed="'classification' or 'regression'")
    _field(data, "feature_names", (list,), where, "data.", check=lambda v: _strings(v) and len(v) == n_inputs,
           allowed=f"a list of {n_inputs} strings (the model's inputs)")
    classes = n_outputs if task == "classification" else None
    names = _field(data, "class_names", (list, type(None)), where, "data.",
                   check=lambda v: (v is None and classes is None) or (_strings(v) and len(v) == classes),
                   allowed="null for regression" if classes is None else f"a list of {classes} strings")
    _field(data, "labels", (list, type(None)), where, "data.", default=None,
           check=lambda v: v is None or (len(v) == len(names or ()) and all(
               isinstance(x, (int, str)) and not isinstance(x, bool) for x in v)),
           allowed="a list of integers or strings, one per class")
    encoding = _field(data, "encoding", (dict, type(None)), where, "data.", default=None)
    for column in encoding or {}:
        _field(encoding, column, (list,), where, "data.encoding.", check=_strings, allowed="a list of strings")
    _field(data, "target_column", (str,), where, "data.", default="target")
    sizes = {"data/x_mean": n_inputs, "data/x_scale": n_inputs, "data/fill": n_inputs,
             "data/y_mean": n_outputs, "data/y_scale": n_outputs}
    for name, array in state.items():
        if not name.startswith("data/"):
            continue
        if name not in sizes:
            raise CheckpointError(f"{where}: unexpected entry {'state/' + name!r}")
        size = sizes[name]
        if array.shape != (size,) or (name.endswith("scale") and not (array > 0).all()):
            raise CheckpointError(f"{where}: entry {'state/' + name!r} of shape {array.shape} is not "
                                  f"{'a positive ' if name.endswith('scale') else 'a '}vector of {size} numbers")
