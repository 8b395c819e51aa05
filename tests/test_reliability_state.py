"""What minnet reads back from disk, and its Python API, is checked before use (issue 17).

Four classes, each a table of cases:

1. checkpoints (``model.npz``): one reader, ``load_checkpoint``, for ``--resume``,
   ``predict``, ``evaluate`` and ``load_run``;
2. ``history.csv`` on resume: what is repaired (the checkpoint is the truth) and what is refused;
3. resume that trusts what it reads: weights, hyper-parameters, config.toml, data, model shape;
4. the Python API: ``load_state_dict`` all or nothing, tensors of real floats only,
   ``optimizer.load_state_dict``, empty batches.

Every refusal leaves the run folder byte for byte as it was (``tree_snapshot``).  Cases
run in-process; a subset of each CLI door also runs as a subprocess (exit 2, one
``error:`` line naming the file and field, no traceback).
"""

from __future__ import annotations

import io
import json
import shutil
import tracemalloc
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pytest
from numpy.lib import format as npy
from run_files import assert_one_error_line, run_cli, tree_snapshot

import minnet as mn
from minnet import losses, nn, optim
from minnet.train import load_run, resume, train
from minnet.train.checkpoint import load_checkpoint
from minnet.train.config import config_from_dict
from minnet.train.errors import CheckpointError, ConfigError, DataError, MinnetError
from minnet.train.history import read_history
from minnet.train.loop import train_epoch

CONFIG = {
    "name": "state", "seed": 0,
    "data": {"dataset": "csv", "target": "label"},
    "model": {"hidden": [4]},
    "optim": {"lr": 0.5, "momentum": 0.5},
    "train": {"epochs": 3, "batch_size": 16},
}


def _csv(path: Path, seed: int) -> None:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(120, 2))
    lines = ["x0,x1,label", *(f"{a:.6f},{b:.6f},{int(a + b > 0)}" for a, b in X)]
    path.write_text("\n".join(lines) + "\n")


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> Path:
    """A folder with ``data.csv`` and a finished 3-epoch run ``run`` trained on it."""
    folder = tmp_path_factory.mktemp("state")
    _csv(folder / "data.csv", 0)
    raw = json.loads(json.dumps(CONFIG))
    raw["data"]["path"] = str(folder / "data.csv")
    train(config_from_dict(raw), folder / "run")
    other = {**raw, "model": {"hidden": [3]}}
    train(config_from_dict(other), folder / "other")  # another model shape, same data
    return folder


@pytest.fixture
def work(base, tmp_path) -> Path:
    """A private copy of the base folder: ``work / 'run'`` may be damaged freely."""
    shutil.copy(base / "data.csv", tmp_path / "data.csv")
    shutil.copytree(base / "run", tmp_path / "run")
    shutil.copytree(base / "other", tmp_path / "other")
    for name in ("run", "other"):  # the runs' config.toml names the private data file
        config = tmp_path / name / "config.toml"
        config.write_text(config.read_text().replace(str(base / "data.csv"), str(tmp_path / "data.csv")))
    return tmp_path


# ---- ways to damage a checkpoint -----------------------------------------------------------

def _entries(run_dir: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(run_dir / "model.npz") as archive:
        return {info.filename: archive.read(info) for info in archive.infolist()}


def _write_entries(run_dir: Path, entries: dict[str, bytes]) -> None:
    with zipfile.ZipFile(run_dir / "model.npz", "w") as archive:
        for name, data in entries.items():
            archive.writestr(name, data)


def _npy(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=True)
    return buffer.getvalue()


def _claiming(descr: str, shape: tuple[int, ...], payload: bytes = b"\0" * 64) -> bytes:
    """An .npy entry whose header claims ``shape`` but holds ``payload``."""
    buffer = io.BytesIO()
    npy.write_array_header_1_0(buffer, {"descr": descr, "fortran_order": False, "shape": shape})
    return buffer.getvalue() + payload


def set_entry(name, data):
    def damage(run_dir):
        entries = _entries(run_dir)
        entries[name] = data(entries) if callable(data) else data
        _write_entries(run_dir, entries)
    return damage


def drop_entry(name):
    def damage(run_dir):
        entries = _entries(run_dir)
        del entries[name]
        _write_entries(run_dir, entries)
    return damage


def _array(entries, name):
    return np.load(io.BytesIO(entries[name]), allow_pickle=False)


def changed_array(name, change):
    return set_entry(name, lambda entries: _npy(change(_array(entries, name))))


def meta_text(text):
    return set_entry("meta.npy", _npy(np.array(text)))


def changed_meta(change):
    """``change(meta)`` edits the JSON metadata in place, or returns what replaces it."""
    def new(entries):
        meta = json.loads(str(_array(entries, "meta.npy")))
        result = change(meta)
        return _npy(np.array(json.dumps(meta if result is None else result)))
    return set_entry("meta.npy", new)


def replace_file(data):
    def damage(run_dir):
        path = run_dir / "model.npz"
        path.write_bytes(data(path.read_bytes()) if callable(data) else data)
    return damage


def npz_folder(run_dir):
    (run_dir / "model.npz").unlink()
    (run_dir / "model.npz").mkdir()
    (run_dir / "model.npz" / "x").write_text("x")


def _nested(meta, keys, value):
    for key in keys[:-1]:
        meta = meta[key]
    meta[keys[-1]] = value


def meta_field(*keys, value):
    return changed_meta(lambda meta: _nested(meta, keys, value))


def meta_without(*keys):
    def change(meta):
        table = meta
        for key in keys[:-1]:
            table = table[key]
        del table[keys[-1]]
    return changed_meta(change)


# (id, damage, words the error names)
CHECKPOINTS = [
    ("meta-list", changed_meta(lambda meta: [meta]), ["model.npz", "meta", "list"]),
    ("meta-string", changed_meta(lambda meta: "minnet"), ["model.npz", "meta"]),
    ("meta-number", changed_meta(lambda meta: 3), ["model.npz", "meta"]),
    ("meta-null", meta_text("null"), ["model.npz", "meta"]),
    ("meta-nested-100000", meta_text("[" * 100_000 + "]" * 100_000), ["model.npz", "meta", "nested"]),
    ("meta-not-json", meta_text("{'format': 1"), ["model.npz", "meta", "JSON"]),
    ("meta-long-integer", meta_text('{"format": "minnet-checkpoint-1", "epoch": ' + "9" * 5000 + "}"),
     ["model.npz", "meta"]),
    ("meta-invalid-utf8-bytes", set_entry("meta.npy", _npy(np.array(b'{"format": "\xff\xfe"}'))),
     ["model.npz", "meta", "dtype"]),
    ("meta-huge-claim", set_entry("meta.npy", _claiming("<U100000000", ())), ["model.npz", "meta", "bytes"]),
    ("meta-array-of-strings", set_entry("meta.npy", _npy(np.array(["{}", "{}"]))), ["model.npz", "meta", "shape"]),
    ("meta-missing", drop_entry("meta.npy"), ["model.npz", "meta"]),
    ("meta-wrong-format", meta_field("format", value="other-2"), ["model.npz", "format"]),
    ("epoch-missing", meta_without("epoch"), ["model.npz", "epoch", "missing"]),
    ("epoch-string", meta_field("epoch", value="3"), ["model.npz", "epoch"]),
    ("epoch-zero", meta_field("epoch", value=0), ["model.npz", "epoch"]),
    ("epoch-bool", meta_field("epoch", value=True), ["model.npz", "epoch"]),
    ("config-list", meta_field("config", value=[1]), ["model.npz", "config"]),
    ("optimizer-hyperparameters-list", meta_field("optimizer", "hyperparameters", value=[]),
     ["model.npz", "optimizer.hyperparameters"]),
    ("config-bad-key", meta_field("config", "optim", "lr", value="fast"), ["model.npz", "config", "optim.lr"]),
    ("model-sizes-huge", changed_meta(lambda m: (_nested(m, ["model", "sizes"], [2, 10**5, 10**5, 2]),
                                                 _nested(m, ["config", "model", "hidden"], [10**5, 10**5]))[0]),
     ["model.npz"]),
    ("model-sizes-string", meta_field("model", "sizes", value="big"), ["model.npz", "model.sizes"]),
    ("model-type-unknown", meta_field("model", "type", value="cnn"), ["model.npz", "model.type"]),
    ("model-activation-other", meta_field("model", "activation", value="tanh"), ["model.npz", "model.activation"]),
    ("optimizer-name-other", meta_field("optimizer", "name", value="adam"), ["model.npz", "optimizer.name"]),
    ("optimizer-parameters-huge", meta_field("optimizer", "parameters", value=10**9),
     ["model.npz", "optimizer.parameters"]),
    ("optimizer-scalars-string", meta_field("optimizer", "scalars", value={"0": {"step": "x"}}),
     ["model.npz", "optimizer.scalars.0.step"]),
    ("data-feature-names-number", meta_field("data", "feature_names", value=5), ["model.npz", "data.feature_names"]),
    ("data-class-names-short", meta_field("data", "class_names", value=["a"]), ["model.npz", "data.class_names"]),
    ("data-task-unknown", meta_field("data", "task", value="ranking"), ["model.npz", "data.task"]),
    ("data-labels-objects", meta_field("data", "labels", value=[{}, []]), ["model.npz", "data.labels"]),
    ("last-row-epoch-other", meta_field("last_row", "epoch", value=2), ["model.npz", "last_row.epoch"]),
    ("last-row-text", meta_field("last_row", "train_loss", value="low"), ["model.npz", "last_row.train_loss"]),
    ("early-stopping-epoch-later", meta_field("early_stopping", "best_epoch", value=9),
     ["model.npz", "early_stopping.best_epoch"]),
    ("npy-claims-1e12-elements", set_entry("param/0.weight.npy", _claiming("<f4", (10**6, 10**6))),
     ["model.npz", "param/0.weight", "claims"]),
    ("npy-claims-more-than-held", set_entry("param/0.bias.npy", _claiming("<f4", (4,), b"\0" * 8)),
     ["model.npz", "param/0.bias", "claims"]),
    ("npy-not-npy", set_entry("param/0.bias.npy", b"not an npy file"), ["model.npz", "param/0.bias"]),
    ("npy-object-pickle", set_entry("param/0.bias.npy", _npy(np.array([None] * 4, dtype=object))),
     ["model.npz", "param/0.bias", "pickle"]),
    ("npy-complex", changed_array("param/0.weight.npy", lambda a: a.astype(np.complex64)),
     ["model.npz", "param/0.weight", "complex64"]),
    ("npy-string", changed_array("param/0.bias.npy", lambda a: a.astype(str)), ["model.npz", "param/0.bias", "<U"]),
    ("npy-int", changed_array("param/0.bias.npy", lambda a: a.astype(np.int64)), ["model.npz", "param/0.bias", "int64"]),
    ("npy-structured", changed_array("param/0.bias.npy", lambda a: np.zeros(4, dtype=[("x", "<f4")])),
     ["model.npz", "param/0.bias", "dtype"]),
    ("npy-float64-in-float32-run", changed_array("param/0.bias.npy", lambda a: a.astype(np.float64)),
     ["model.npz", "param/0.bias", "float64", "float32"]),
    ("param-transposed", changed_array("param/0.weight.npy", lambda a: np.ascontiguousarray(a.T)),
     ["model.npz", "0.weight", "shape"]),
    ("param-missing", drop_entry("param/2.bias.npy"), ["model.npz", "parameter arrays"]),
    ("param-extra", set_entry("param/9.bias.npy", _npy(np.zeros(2, np.float32))), ["model.npz", "parameter arrays"]),
    ("param-renamed", lambda d: (set_entry("param/9.bias.npy", lambda e: e["param/2.bias.npy"])(d),
                                 drop_entry("param/2.bias.npy")(d)), ["model.npz", "9.bias"]),
    ("param-nan", changed_array("param/0.weight.npy", lambda a: np.where(a > 0, np.nan, a).astype(a.dtype)),
     ["model.npz", "param/0.weight", "NaN"]),
    ("param-inf", changed_array("param/2.bias.npy", lambda a: a + np.float32("inf")), ["model.npz", "param/2.bias"]),
    ("buffer-nan", changed_array("state/optim/0/momentum_buffer.npy", lambda a: a * np.float32("nan")),
     ["model.npz", "state/optim/0/momentum_buffer"]),
    ("buffer-for-no-parameter", set_entry("state/optim/7/momentum_buffer.npy", _npy(np.zeros(2, np.float32))),
     ["model.npz", "state/optim/7"]),
    ("scaler-zero", changed_array("state/data/x_scale.npy", lambda a: a * 0), ["model.npz", "state/data/x_scale"]),
    ("scaler-wrong-size", changed_array("state/data/x_mean.npy", lambda a: np.zeros(5)),
     ["model.npz", "state/data/x_mean"]),
    ("entry-unexpected", set_entry("evil.npy", _npy(np.zeros(1))), ["model.npz", "evil.npy"]),
    ("entry-not-npy", set_entry("param/0.bias", b"x"), ["model.npz", "param/0.bias"]),
    ("not-a-zip", replace_file(b"PK not really a zip file, just text"), ["model.npz", "not a minnet checkpoint"]),
    ("truncated-zip", replace_file(lambda data: data[: len(data) // 2]), ["model.npz"]),
    ("truncated-entry", replace_file(lambda data: data[:-200]), ["model.npz"]),
    ("empty-file", replace_file(b""), ["model.npz", "not a minnet checkpoint"]),
    ("folder-named-model-npz", npz_folder, ["model.npz", "folder"]),
    ("missing", lambda run_dir: (run_dir / "model.npz").unlink(), ["model.npz", "does not exist"]),
]


def _refused(work: Path, call, error=MinnetError) -> str:
    """``call()`` raises ``error`` and leaves the work folder byte for byte as it was."""
    before = tree_snapshot(work)
    with pytest.raises(error) as info:
        call()
    assert tree_snapshot(work) == before
    return str(info.value)


@pytest.mark.parametrize(("damage", "mentions"), [c[1:] for c in CHECKPOINTS], ids=[c[0] for c in CHECKPOINTS])
def test_every_reader_of_a_damaged_checkpoint_refuses_it(work, damage, mentions):
    run_dir = work / "run"
    damage(run_dir)
    for call in (lambda: load_run(run_dir), lambda: resume(run_dir)):
        message = _refused(work, call, CheckpointError)
        for word in mentions:
            assert word in message, (word, message)


def test_a_header_claiming_1e12_elements_allocates_nothing(work):
    set_entry("param/0.weight.npy", _claiming("<f8", (10**6, 10**6)))(work / "run")
    tracemalloc.start()
    try:
        with pytest.raises(CheckpointError, match="claims"):
            load_checkpoint(work / "run" / "model.npz")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 5 * 2**20


def test_a_sound_checkpoint_loads_with_its_config(work):
    checkpoint = load_checkpoint(work / "run" / "model.npz")
    assert checkpoint.meta["epoch"] == 3 and checkpoint.config.model.hidden == (4,)
    assert checkpoint.meta["data_hash"]


# ---- 2. history.csv on resume ----------------------------------------------------------------

def _history_lines(run_dir):
    return (run_dir / "history.csv").read_text().splitlines(keepends=True)


def history(change):
    """``change(lines)`` gives the new history.csv, as lines or as bytes."""
    def damage(run_dir):
        new = change(_history_lines(run_dir))
        (run_dir / "history.csv").write_bytes(new if isinstance(new, bytes) else "".join(new).encode())
    return damage


def _cell(line, j, value):
    cells = line.split(",")
    cells[j] = value
    return ",".join(cells)


def _row(lines, i, epoch):
    return lines[i].replace(lines[i].split(",")[0], str(epoch), 1)


HISTORY_REFUSED = [
    ("missing-row", history(lambda h: [h[0], h[1], h[2], _row(h, 3, 4)]), ["history.csv", "line 4", "epoch 4"]),
    ("duplicated-row", history(lambda h: [h[0], h[1], h[2], h[2], h[3]]), ["history.csv", "line 4", "epoch 2"]),
    ("latin-1", history(lambda h: "".join(h).replace("train_loss", "train_lössé").encode("latin-1")),
     ["history.csv", "UTF-8"]),
    ("field-200000-chars", history(lambda h: [*h[:2], "2," + "1" * 200_000 + h[2][h[2].index(","):], h[3]]),
     ["history.csv"]),
    ("extra-column", history(lambda h: [line.rstrip("\n") + ",1\n" for line in h]), ["history.csv", "columns"]),
    ("missing-column", history(lambda h: [line.rsplit(",", 1)[0] + "\n" for line in h]), ["history.csv", "columns"]),
    ("non-numeric", history(lambda h: [h[0], _cell(h[1], 1, "low"), *h[2:]]), ["history.csv", "line 2", "'low'"]),
    ("not-finite", history(lambda h: [h[0], _cell(h[1], 1, "nan"), *h[2:]]), ["history.csv", "line 2", "finite"]),
    ("epoch-not-integer", history(lambda h: [h[0], _cell(h[1], 0, "1.5"), *h[2:]]), ["history.csv", "epoch"]),
    ("empty-file", history(lambda h: []), ["history.csv", "0 rows", "epoch 3"]),
    ("header-only", history(lambda h: h[:1]), ["history.csv", "0 rows"]),
    ("row-disagrees-with-checkpoint", history(lambda h: [*h[:3], h[3].replace(",", ",1", 2)]),
     ["history.csv", "epoch 3", "differs"]),
    ("quote-cut", history(lambda h: [*h[:3], '"3,' + h[3]]), ["history.csv"]),
    ("folder", lambda d: ((d / "history.csv").unlink(), (d / "history.csv").mkdir()), ["history.csv"]),
]


@pytest.mark.parametrize(("damage", "mentions"), [c[1:] for c in HISTORY_REFUSED], ids=[c[0] for c in HISTORY_REFUSED])
def test_resume_refuses_a_history_it_cannot_trust(work, damage, mentions):
    damage(work / "run")
    message = _refused(work, lambda: resume(work / "run"), DataError)
    for word in mentions:
        assert word in message, (word, message)


HISTORY_REPAIRED = [
    ("cut-last-line-after-checkpoint", history(lambda h: [*h, _row(h, 3, 4)[:9]])),
    ("cut-row-of-the-checkpoint-epoch", history(lambda h: [*h[:3], h[3][:12]])),
    ("rows-after-the-checkpoint", history(lambda h: [*h, _row(h, 3, 4), _row(h, 3, 5)])),
    ("byte-order-mark", history(lambda h: b"\xef\xbb\xbf" + "".join(h).encode())),
    ("row-of-the-checkpoint-epoch-missing", history(lambda h: h[:3])),
]


@pytest.mark.parametrize("damage", [c[1] for c in HISTORY_REPAIRED], ids=[c[0] for c in HISTORY_REPAIRED])
def test_resume_repairs_what_the_checkpoint_settles(work, base, damage):
    """The checkpoint is the truth: later rows are trained again, its own row is restored."""
    damage(work / "run")
    result = resume(work / "run", [("train.epochs", 4)])
    assert [row["epoch"] for row in result.history] == [1, 2, 3, 4]
    assert [row["epoch"] for row in read_history(work / "run")] == [1, 2, 3, 4]
    assert read_history(work / "run")[:3] == read_history(base / "run")


# ---- 3. resume that trusts what it reads --------------------------------------------------------

def config_edit(old, new):
    def damage(run_dir):
        path = run_dir / "config.toml"
        text = path.read_text()
        assert old in text
        path.write_text(text.replace(old, new))
    return damage


def other_model(run_dir):
    shutil.copy(run_dir.parent / "other" / "model.npz", run_dir / "model.npz")


def replaced_data(run_dir):
    _csv(run_dir.parent / "data.csv", seed=1)


TRUST = [
    ("checkpoint-lr-disagrees", meta_field("optimizer", "hyperparameters", "lr", value=5.0),
     ["model.npz", "optimizer.hyperparameters.lr", "optim.lr", "config is the truth"], CheckpointError),
    ("checkpoint-momentum-disagrees", meta_field("optimizer", "hyperparameters", "momentum", value=0.9),
     ["model.npz", "momentum"], CheckpointError),
    ("checkpoint-hyperparameter-unknown", meta_field("optimizer", "hyperparameters", "turbo", value=1),
     ["model.npz", "turbo"], CheckpointError),
    ("checkpoint-schedule-without-one", meta_field("schedule", value={"last_epoch": 3, "base_lr": 9.0}),
     ["model.npz", "schedule"], CheckpointError),
    ("checkpoint-rng-garbage", meta_field("rng", value={"bit_generator": "PCG64", "state": 5}),
     ["model.npz", "rng"], CheckpointError),
    ("checkpoint-buffer-wrong-shape", changed_array("state/optim/1/momentum_buffer.npy", lambda a: np.zeros(7, a.dtype)),
     ["model.npz", "optimizer", "shape"], CheckpointError),
    ("config-lr-edited", config_edit("lr = 0.5", "lr = 0.1"), ["config.toml", "optim.lr", "0.1", "0.5"], ConfigError),
    ("config-hidden-edited", config_edit("hidden = [4]", "hidden = [8]"), ["config.toml", "model.hidden"], ConfigError),
    ("config-invalid-value", config_edit("lr = 0.5", 'lr = "fast"'), ["config.toml", "optim.lr"], ConfigError),
    ("config-not-toml", config_edit("[optim]", "[optim"), ["config.toml", "TOML"], ConfigError),
    ("config-unknown-key", config_edit("[optim]", "[optim]\nturbo = true"), ["config.toml", "turbo"], ConfigError),
    ("data-file-replaced", replaced_data, ["data.csv", "data_hash"], DataError),
    ("data-file-removed", lambda d: (d.parent / "data.csv").unlink(), ["data.csv"], DataError),
    ("checkpoint-of-another-model", other_model, ["model.hidden"], ConfigError),
]


@pytest.mark.parametrize(("damage", "mentions", "error"), [c[1:] for c in TRUST], ids=[c[0] for c in TRUST])
def test_resume_refuses_what_does_not_agree_with_the_run(work, damage, mentions, error):
    damage(work / "run")
    message = _refused(work, lambda: resume(work / "run", [("train.epochs", 4)]), error)
    for word in mentions:
        assert word in message, (word, message)


def test_resume_without_config_toml_uses_the_checkpoints_config(work):
    (work / "run" / "config.toml").unlink()
    result = resume(work / "run", [("train.epochs", 4)])
    assert result.config.train.epochs == 4 and (work / "run" / "config.toml").is_file()


def test_resume_continues_from_an_edited_epoch_count(work):
    config_edit("epochs = 3", "epochs = 4")(work / "run")
    assert len(resume(work / "run").history) == 4


# ---- the command line: each door, as a user runs it ------------------------------------------------
# A subprocess costs a second or more: a few cases of each class per door; the tables
# above try every case in-process through the same functions.

def _case(table, name):
    return next(case for case in table if case[0] == name)


CLI = [
    ("--resume", _case(CHECKPOINTS, "meta-list")),
    ("--resume", _case(CHECKPOINTS, "npy-claims-1e12-elements")),
    ("--resume", _case(CHECKPOINTS, "param-nan")),
    ("--resume", _case(CHECKPOINTS, "folder-named-model-npz")),
    ("--resume", _case(HISTORY_REFUSED, "missing-row")),
    ("--resume", _case(HISTORY_REFUSED, "latin-1")),
    ("--resume", _case(TRUST, "checkpoint-lr-disagrees")),
    ("--resume", _case(TRUST, "config-invalid-value")),
    ("--resume", _case(TRUST, "data-file-replaced")),
    ("predict", _case(CHECKPOINTS, "meta-nested-100000")),
    ("evaluate", _case(CHECKPOINTS, "param-transposed")),
]


@pytest.mark.parametrize(("door", "case"), CLI, ids=[f"{door}-{case[0]}" for door, case in CLI])
def test_the_command_line_gives_one_error_line_and_keeps_the_run(work, door, case):
    case[1](work / "run")
    before = tree_snapshot(work)
    args = ["--resume", "run", "--quiet"] if door == "--resume" else [door, "run", "data.csv"]
    result = run_cli(args, cwd=work)
    assert_one_error_line(result, code=2, mentions=case[2])
    assert tree_snapshot(work) == before


# ---- 4. the Python API ----------------------------------------------------------------------------

def _model():
    return nn.Sequential(nn.Linear(2, 3, rng=np.random.default_rng(0)), nn.Tanh(), nn.Linear(3, 1))


def _state_with(name, value, drop=()):
    state = {k: v + 1 for k, v in _model().state_dict().items() if k not in drop}
    if name is not None:
        state[name] = value
    return state


# The third entry (2.weight) is the bad one, so a loader that assigns as it goes would
# have changed the first two by then.
LOAD_STATE = [
    ("wrong-shape", _state_with("2.weight", np.zeros((3, 1), np.float32)), ValueError, "shape"),
    ("complex", _state_with("2.weight", np.zeros((1, 3), np.complex64)), TypeError, "complex64"),
    ("string-array", _state_with("2.weight", np.array([["1", "2", "3"]])), TypeError, "<U1"),
    ("string", _state_with("2.weight", "oops"), TypeError, "'2.weight'"),
    ("none", _state_with("2.weight", None), TypeError, "'2.weight'"),
    ("dict", _state_with("2.weight", {}), TypeError, "dict"),
    ("ragged-list", _state_with("2.weight", [[1.0], [1.0, 2.0]]), TypeError, "list"),
    ("datetime", _state_with("2.weight", np.zeros((1, 3), "datetime64[s]")), TypeError, "datetime64"),
    ("beyond-float32", _state_with("2.weight", np.full((1, 3), 1e300)), ValueError, "range"),
    ("missing-key", _state_with(None, None, drop=("2.bias",)), KeyError, "missing keys ['2.bias']"),
    ("unexpected-key", _state_with("extra", np.zeros(1)), KeyError, "unexpected keys ['extra']"),
    ("not-a-mapping", [("0.weight", np.zeros((3, 2)))], TypeError, "mapping"),
]


@pytest.mark.parametrize(("state", "error", "words"), [c[1:] for c in LOAD_STATE], ids=[c[0] for c in LOAD_STATE])
def test_load_state_dict_is_all_or_nothing(state, error, words):
    model = _model()
    before = model.state_dict()
    with pytest.raises(error) as info:
        model.load_state_dict(state)
    assert words in str(info.value)
    assert all(np.array_equal(before[k], v) for k, v in model.state_dict().items())


def test_load_state_dict_accepts_what_pytorch_would():
    model = _model()
    state = {k: (v.astype(np.float64) if k.endswith("weight") else mn.Tensor(v * 2)) for k, v in
             model.state_dict().items()}
    model.load_state_dict(state)
    assert model[0].weight.dtype == np.float32
    np.testing.assert_array_equal(model[0].bias.data, state["0.bias"].data)


def _data_assignment(value):
    def call():
        mn.tensor([1.0, 2.0]).data = value
    return call


TENSORS = [
    ("complex", lambda: mn.Tensor(np.array([1 + 2j])), "complex128"),
    ("object", lambda: mn.tensor(np.array([1.0, None])), "object"),
    ("string", lambda: mn.Tensor("1.5"), "str"),
    ("string-array", lambda: mn.tensor(np.array(["1.5"])), "<U3"),
    ("bytes", lambda: mn.Tensor(b"1.5"), "bytes"),
    ("bytes-array", lambda: mn.tensor(np.array([b"1"])), "S1"),
    ("datetime", lambda: mn.tensor(np.array(["2020-01-01"], dtype="datetime64[D]")), "datetime64"),
    ("timedelta", lambda: mn.Tensor(np.array([1], dtype="timedelta64[s]")), "timedelta64"),
    ("list-of-strings", lambda: mn.tensor(["a", "b"]), "<U1"),
    ("dtype-int32", lambda: mn.tensor([1, 2], dtype="int32"), "int32"),
    ("dtype-complex", lambda: mn.Tensor([1.0], dtype=np.complex64), "complex64"),
    ("parameter-complex", lambda: nn.Parameter(np.array([1j])), "complex128"),
    ("parameter-string", lambda: nn.Parameter("w"), "str"),
    ("data-set-string", _data_assignment("oops"), "str"),
    ("data-set-list", _data_assignment([1.0, 2.0]), "list"),
    ("data-set-int-array", _data_assignment(np.array([1, 2])), "int64"),
    ("data-set-complex", _data_assignment(np.array([1j, 2j])), "complex128"),
    ("data-set-object", _data_assignment(np.array([None, 1.0])), "object"),
    ("data-set-none", _data_assignment(None), "NoneType"),
]


@pytest.mark.parametrize(("make", "words"), [c[1:] for c in TENSORS], ids=[c[0] for c in TENSORS])
def test_tensors_hold_real_floats_only(make, words):
    with pytest.raises(TypeError, match="dtype|numeric|float") as info:
        make()
    assert words in str(info.value)


def test_linear_refuses_an_integer_dtype():
    with pytest.raises(ValueError, match="Linear: dtype.*'int32'"):
        nn.Linear(2, 3, dtype="int32")


def test_assigning_a_float_array_replaces_data_dtype_included():
    x = mn.tensor([1.0, 2.0])
    x.data = np.array([3.0, 4.0, 5.0])
    assert x.dtype == np.float64 and x.shape == (3,)
    x.data = np.float32(2.0)
    assert x.shape == () and x.dtype == np.float32


def _sgd():
    return optim.SGD([nn.Parameter(np.ones(2, np.float32)), nn.Parameter(np.ones(3, np.float32))], lr=0.1, momentum=0.5)


def _sgd_state(**changes):
    state = {"hyperparameters": {"lr": 0.2, "momentum": 0.9, "dampening": 0.0, "weight_decay": 0.0,
                                 "nesterov": False},
             "state": [{"momentum_buffer": np.ones(2)}, {"momentum_buffer": np.ones(3)}]}
    for key, value in changes.items():
        if key in state["hyperparameters"] or key == "extra":
            state["hyperparameters"][key] = value
        else:
            state[key] = value
    return state


OPTIMIZER_STATES = [
    ("not-a-dict", lambda: _sgd(), [1, 2], TypeError, "state_dict"),
    ("key-missing", lambda: _sgd(), {"state": []}, TypeError, "hyperparameters"),
    ("lr-negative", lambda: _sgd(), _sgd_state(lr=-1.0), ValueError, "lr"),
    ("lr-string", lambda: _sgd(), _sgd_state(lr="fast"), ValueError, "lr"),
    ("lr-nan", lambda: _sgd(), _sgd_state(lr=float("nan")), ValueError, "lr"),
    ("momentum-list", lambda: _sgd(), _sgd_state(momentum=[0.9]), ValueError, "momentum"),
    ("nesterov-without-momentum", lambda: _sgd(), _sgd_state(nesterov=True, momentum=0.0), ValueError,
     "nesterov needs momentum"),
    ("hyperparameter-unknown", lambda: _sgd(), _sgd_state(extra=1), ValueError, "extra"),
    ("state-not-list", lambda: _sgd(), _sgd_state(state="x"), ValueError, "one entry per parameter"),
    ("state-too-short", lambda: _sgd(), _sgd_state(state=[{}]), ValueError, "2 parameters"),
    ("buffer-shape", lambda: _sgd(), _sgd_state(state=[{}, {"momentum_buffer": np.ones(2)}]), ValueError, "shape"),
    ("buffer-list", lambda: _sgd(), _sgd_state(state=[{}, {"momentum_buffer": [1.0, 1, 1]}]), TypeError, "float array"),
    ("buffer-nan", lambda: _sgd(), _sgd_state(state=[{}, {"momentum_buffer": np.full(3, np.nan)}]), ValueError, "NaN"),
    ("buffer-unknown", lambda: _sgd(), _sgd_state(state=[{}, {"velocity": np.ones(3)}]), ValueError, "momentum_buffer"),
    ("adam-step-negative", lambda: optim.Adam([nn.Parameter(np.ones(2))]),
     {"hyperparameters": {"lr": 1e-3, "betas": [0.9, 0.999], "eps": 1e-8, "weight_decay": 0.0},
      "state": [{"step": -1, "exp_avg": np.ones(2), "exp_avg_sq": np.ones(2)}]}, ValueError, "step"),
    ("adam-state-partial", lambda: optim.Adam([nn.Parameter(np.ones(2))]),
     {"hyperparameters": {"lr": 1e-3, "betas": [0.9, 0.999], "eps": 1e-8, "weight_decay": 0.0},
      "state": [{"exp_avg": np.ones(2)}]}, ValueError, "exp_avg_sq"),
    ("adam-betas-out-of-range", lambda: optim.Adam([nn.Parameter(np.ones(2))]),
     {"hyperparameters": {"lr": 1e-3, "betas": [1.5, 0.999], "eps": 1e-8, "weight_decay": 0.0},
      "state": [{}]}, ValueError, "betas"),
]


@pytest.mark.parametrize(("make", "state", "error", "words"), [c[1:] for c in OPTIMIZER_STATES],
                         ids=[c[0] for c in OPTIMIZER_STATES])
def test_optimizer_load_state_dict_checks_everything_first(make, state, error, words):
    opt = make()
    before = (repr(opt), [dict(s) for s in opt.state])
    with pytest.raises(error) as info:
        opt.load_state_dict(state)
    assert words in str(info.value)
    assert (repr(opt), [dict(s) for s in opt.state]) == before


def test_optimizer_load_state_dict_restores_a_good_state():
    opt = _sgd()
    opt.load_state_dict(_sgd_state())
    assert opt.lr == 0.2 and opt.momentum == 0.9 and opt.state[1]["momentum_buffer"].dtype == np.float32


def _epoch(batches):
    model = _model()
    return lambda: train_epoch(model, losses.mse_loss, optim.SGD(model.parameters(), lr=0.1),
                               np.ones((4, 2), np.float32), np.ones(4, np.float32), batches)


EMPTY = [
    ("cross-entropy-0-rows", lambda: losses.softmax_cross_entropy(mn.tensor(np.zeros((0, 3))), np.zeros(0, int)),
     "softmax_cross_entropy: empty batch"),
    ("cross-entropy-0-classes", lambda: losses.softmax_cross_entropy(mn.tensor(np.zeros((2, 0))), np.zeros(2, int)),
     "empty batch"),
    ("cross-entropy-0-rows-probabilities",
     lambda: losses.softmax_cross_entropy(mn.tensor(np.zeros((0, 3)), requires_grad=True), np.zeros((0, 3))),
     "empty batch"),
    ("mse-0-rows", lambda: losses.mse_loss(mn.tensor(np.zeros((0, 1)), requires_grad=True), np.zeros(0)),
     "mse_loss: empty batch"),
    ("train-epoch-empty-batch", _epoch([np.array([0, 1]), np.array([], dtype=np.intp)]), "empty batch"),
    ("train-epoch-no-batches", _epoch([]), "no batches"),
]


@pytest.mark.parametrize(("call", "words"), [c[1:] for c in EMPTY], ids=[c[0] for c in EMPTY])
def test_an_empty_batch_is_a_clear_error_not_nan(call, words):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no numpy RuntimeWarning on the way
        with pytest.raises(ValueError, match=words):
            call()
