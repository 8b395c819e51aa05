"""Bad input is one ``error:`` line and exit 2: never a traceback, never a machine that swaps.

Table-driven, one table per class of input (issue 17): run names and run folders, the
config file itself, sizes that would exhaust memory (and nesting, overflowing numbers),
CSV values, the CLI tools' output paths, and other command-line mistakes.  CLI cases
run ``python -m minnet`` in a subprocess (two at a time: each pays Python's start-up)
in a folder of their own, and check the exit code, the one error line naming the
problem, no traceback, and that every file already there is untouched and nothing new
was written.  API cases call the functions behind them in-process.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
from run_files import assert_one_error_line, run_cli, tree_snapshot

from minnet.cli.main import main
from minnet.train import inputs
from minnet.train.config import config_from_dict, load_config, memory_needs, name_problem, parse_assignment
from minnet.train.data import load_dataset, read_csv_rows
from minnet.train.errors import ConfigError, DataError
from minnet.train.predict import read_table
from minnet.train.run import new_run_dir, train

TINY = """name = "tiny"
[data]
n_samples = 100
[model]
hidden = [4]
[train]
epochs = 1
"""
CSV_CONFIG = """name = "c"
[data]
dataset = "csv"
path = "data.csv"
[model]
hidden = [4]
[train]
epochs = 1
"""


def _csv(first: str = "", rows: int = 40, header: str = "a,b,label") -> str:
    """A small CSV with two features and a 0/1 label; ``first`` is an extra first data row."""
    body = [f"{(i * 7 % 13) / 13:.3f},{(i * 5 % 11) / 11:.3f},{i % 2}" for i in range(rows)]
    return "\n".join([header, *([first] if first else []), *body]) + "\n"


def _deep(depth: int) -> str:
    return "[" * depth + "1" + "]" * depth


@dataclass
class Case:
    """One command line, the files it needs besides the base ones, and what the error names."""

    id: str
    args: list[str]
    mentions: tuple[str, ...] = ()
    files: dict[str, str | bytes] = field(default_factory=dict)
    special: str = ""  # "fifo", "loop" or "folder": a file of that kind named after it
    run: bool = False  # copy a trained run into run/ first (predict, evaluate)
    code: int = 2
    creates: str = ""  # exit 0 cases: the file the command writes


LONG = "a" * 300
CLI_CASES = [
    # 1. run names and run-folder paths
    Case("name-nul", ["tiny.toml", "--set", 'name="a\\u0000b"'], ("name", "\\x00")),
    Case("name-300-chars", ["tiny.toml", "--set", f"name={LONG}"], ("name", "100 bytes")),
    Case("name-dotdot", ["tiny.toml", "--set", 'name=".."'], ("name", "'..'")),
    Case("name-dot", ["tiny.toml", "--set", 'name="."'], ("name",)),
    Case("name-newline", ["tiny.toml", "--set", 'name="a\\nb"'], ("name", "printable")),
    Case("out-empty", ["tiny.toml", "--out", ""], ("--out", "empty")),
    Case("out-300-chars", ["tiny.toml", "--out", LONG], ("--out", "bytes")),
    Case("out-is-a-file", ["tiny.toml", "--out", "tiny.toml"], ("--out", "is a file")),
    # 2. the config file itself
    Case("config-dev-zero", ["/dev/zero"], ("/dev/zero", "device")),
    Case("config-symlink-loop", ["loop"], ("loop", "symbolic links"), special="loop"),
    Case("config-empty-path", [""], ("CONFIG", "empty")),
    Case("config-folder", ["folder"], ("folder", "not a file"), special="folder"),
    Case("config-fifo", ["fifo"], ("fifo", "FIFO"), special="fifo"),
    Case("config-latin1", ["latin1.toml"], ("latin1.toml", "UTF-8", "line 2"),
         files={"latin1.toml": b"seed = 1\nname = \"caf\xe9\"\n"}),
    Case("config-binary", ["binary.toml"], ("binary.toml", "not a text file"),
         files={"binary.toml": bytes(range(256)) * 4}),
    Case("config-wrong-top-level-type", ["wrong.toml"], ("model", "table"), files={"wrong.toml": "model = 5\n"}),
    # 3. sizes that would exhaust memory, deep nesting, overflowing numbers
    Case("n-samples-1e9", ["tiny.toml", "--set", "data.n_samples=1000000000"], ("GB", "data.n_samples", "at most")),
    Case("hidden-1e5-squared", ["tiny.toml", "--set", "model.hidden=[100000, 100000]"], ("GB", "model.hidden")),
    Case("hidden-nested-2000-file", ["deep.toml"], ("deep.toml", "nest"),
         files={"deep.toml": f"[model]\nhidden = {_deep(2000)}\n"}),
    Case("hidden-nested-2000-set", ["tiny.toml", "--set", f"model.hidden={_deep(2000)}"], ("model.hidden", "nested")),
    Case("noise-1e308", ["tiny.toml", "--set", "data.noise=1e308"], ("data.noise",)),
    Case("epochs-1e20", ["tiny.toml", "--set", "train.epochs=100000000000000000000"], ("train.epochs",)),
    Case("repeats-1e9", ["tiny.toml", "--sweep", "optim.lr=0.1,0.2", "--repeats", "1000000000"], ("runs", "10000")),
    # 4. CSV values
    Case("csv-1e39-float32", ["csv.toml", "--set", "data.standardize=false"], ("data.csv", "line 2", "'a'", "float32"),
         files={"data.csv": _csv("1e39,0.5,0")}),
    Case("csv-1e400", ["csv.toml"], ("data.csv", "line 2", "'a'", "too large"), files={"data.csv": _csv("1e400,0.5,0")}),
    Case("csv-huge-field", ["csv.toml"], ("data.csv", "line 2", "longer than"),
         files={"data.csv": _csv("1" * 200_000 + ",0.5,0")}),
    Case("csv-header-only", ["csv.toml"], ("data.csv", "no data rows"), files={"data.csv": "a,b,label\n"}),
    Case("csv-latin1", ["csv.toml"], ("data.csv", "UTF-8", "line 3"), files={"data.csv": b"a,b,label\n1,2,0\n\xe9,1,1\n"}),
    Case("predict-1e400", ["predict", "run", "new.csv"], ("new.csv", "line 2", "'a'"), run=True,
         files={"new.csv": "a,b\n1e400,1\n"}),
    Case("predict-ragged", ["predict", "run", "new.csv"], ("new.csv", "line 3", "cells"), run=True,
         files={"new.csv": "a,b\n1,2\n1\n"}),
    Case("predict-nan-without-missing", ["predict", "run", "new.csv"], ("new.csv", "data row 2", "'a'", "data.missing"),
         run=True, files={"new.csv": "a,b\n1,2\nnan,1\n"}),
    Case("evaluate-nan-target", ["evaluate", "run", "new.csv"], ("new.csv", "data row 1", "'label'", "finite"),
         run=True, files={"new.csv": "a,b,label\n1,2,nan\n"}),
    # 5. output paths of the CLI tools
    Case("graph-o-txt", ["graph", "tiny.toml", "-o", "out.txt"], ("-o", ".txt", ".svg", ".html")),
    Case("graph-o-folder", ["graph", "tiny.toml", "-o", "folder"], ("-o", "folder"), special="folder"),
    Case("graph-o-under-a-file", ["graph", "tiny.toml", "-o", "tiny.toml/g.svg"], ("-o", "not a folder")),
    Case("graph-o-missing-folder", ["graph", "tiny.toml", "-o", "new/step.dot"], code=0, creates="new/step.dot"),
    Case("predict-o-folder", ["predict", "run", "data.csv", "-o", "folder"], ("-o", "folder"), run=True,
         special="folder"),
    Case("predict-o-empty", ["predict", "run", "data.csv", "-o", ""], ("-o", "empty"), run=True),
    Case("predict-o-missing-folder", ["predict", "run", "data.csv", "-o", "new/p.csv"], run=True, code=0,
         creates="new/p.csv"),
    # 6. other command-line mistakes
    Case("set-a-table", ["tiny.toml", "--set", "data={n_samples = 100}"], ("unknown key 'data'",)),
    Case("sweep-empty-values", ["tiny.toml", "--sweep", "optim.lr="], ("--sweep optim.lr",)),
    Case("jobs-negative", ["tiny.toml", "--jobs", "-1"], ("--jobs",)),
    Case("jobs-100000", ["tiny.toml", "--sweep", "optim.lr=0.1,0.2", "--jobs", "100000"], ("--jobs", "at most")),
    Case("cv-1", ["tiny.toml", "--sweep", "optim.lr=0.1,0.2", "--cv", "1"], ("sweep.cv",)),
    Case("cv-above-the-rows", ["tiny.toml", "--sweep", "optim.lr=0.1,0.2", "--cv", "500"], ("data.folds=500", "rows")),
    Case("sweep-folder-name-too-long", ["tiny.toml", "--sweep", "model.hidden=[" + ",".join(["1"] * 150) + "],[2]"],
         ("folder", "bytes")),
    Case("unicode-key", ["tiny.toml", "--set", "optim.lr\u00e9=1"], ("unknown key",)),
    Case("int-of-5000-digits", ["tiny.toml", "--set", "seed=" + "1" * 5000], ("seed", "digits")),
]


# Cases whose checks are in the argument parsing and config reading, run through
# ``main(argv)`` in this process (a subprocess each would cost a second of start-up);
# the rest, where the process matters (devices, FIFOs, memory, recursion), run as one.
IN_PROCESS = {
    "name-dot", "name-newline", "out-empty", "out-300-chars", "out-is-a-file", "config-empty-path", "config-folder",
    "config-binary", "config-wrong-top-level-type", "csv-header-only", "graph-o-folder", "graph-o-under-a-file",
    "predict-o-empty", "set-a-table", "sweep-empty-values", "jobs-negative", "cv-1", "unicode-key",
    "int-of-5000-digits", "repeats-1e9", "epochs-1e20", "name-300-chars", "config-latin1", "hidden-nested-2000-set",
    "noise-1e308",
    "csv-1e400", "csv-huge-field", "csv-latin1", "predict-ragged", "graph-o-missing-folder", "predict-o-folder",
    "predict-nan-without-missing", "evaluate-nan-target", "cv-above-the-rows", "sweep-folder-name-too-long",
}
SUBPROCESS_CASES = [c for c in CLI_CASES if c.id not in IN_PROCESS]


def _prepare(folder: Path, case: Case, trained: Path) -> None:
    folder.mkdir()
    (folder / "tiny.toml").write_text(TINY)
    (folder / "csv.toml").write_text(CSV_CONFIG)
    (folder / "data.csv").write_text(_csv())
    (folder / "runs" / "old").mkdir(parents=True)  # an earlier run that must stay as it is
    (folder / "runs" / "old" / "config.toml").write_text(TINY)
    (folder / "runs" / "old" / "history.csv").write_text("epoch,train_loss\n1,0.5\n")
    for name, content in case.files.items():
        path = folder / name
        path.write_bytes(content) if isinstance(content, bytes) else path.write_text(content)
    if case.special == "fifo":
        os.mkfifo(folder / "fifo")
    elif case.special == "loop":
        os.symlink("loop2", folder / "loop")
        os.symlink("loop", folder / "loop2")
    elif case.special == "folder":
        (folder / "folder").mkdir()
    if case.run:
        shutil.copytree(trained, folder / "run")


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A tiny trained CSV run for predict and evaluate."""
    root = tmp_path_factory.mktemp("trained")
    (root / "data.csv").write_text(_csv())
    config = config_from_dict({"name": "c", "data": {"dataset": "csv", "path": str(root / "data.csv")},
                               "model": {"hidden": [4]}, "train": {"epochs": 1}})
    train(config, root / "run")
    return root / "run"


@pytest.fixture(scope="module")
def cli_results(tmp_path_factory, trained):
    """Every subprocess case run once, two at a time: {id: (result, snapshot before, folder)}."""
    root = tmp_path_factory.mktemp("inputs")
    before = {}
    for case in SUBPROCESS_CASES:
        _prepare(root / case.id, case, trained)
        before[case.id] = tree_snapshot(root / case.id)
    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(lambda c: run_cli(c.args, cwd=root / c.id, timeout=60), SUBPROCESS_CASES))
    return {case.id: (result, before[case.id], root / case.id)
            for case, result in zip(SUBPROCESS_CASES, results, strict=True)}


def _in_process(case: Case, folder: Path, trained: Path, monkeypatch, capsys):
    """``main(case.args)`` in ``folder``, as a subprocess.CompletedProcess would report it."""
    _prepare(folder, case, trained)
    before = tree_snapshot(folder)
    monkeypatch.chdir(folder)
    code = main(case.args)
    out = capsys.readouterr()
    return subprocess.CompletedProcess(case.args, code, out.out, out.err), before


@pytest.mark.parametrize("case", CLI_CASES, ids=[c.id for c in CLI_CASES])
def test_cli_bad_input_is_one_error_line_and_nothing_on_disk_changes(case, trained, tmp_path, monkeypatch, capsys,
                                                                     request):
    if case.id in IN_PROCESS:
        folder = tmp_path / "case"
        result, before = _in_process(case, folder, trained, monkeypatch, capsys)
    else:
        result, before, folder = request.getfixturevalue("cli_results")[case.id]
    after = tree_snapshot(folder)
    if case.code == 0:
        assert result.returncode == 0, result.stderr[-2000:]
        assert (folder / case.creates).is_file()
        assert {k: v for k, v in after.items() if k in before} == before
        return
    assert_one_error_line(result, code=case.code, mentions=case.mentions)
    assert after == before  # nothing lost, nothing half written, no run folder started


# ---- 1. run names and run folders (API) ------------------------------------------------

BAD_NAMES = ["a\0b", "a" * 300, "..", ".", "a/b", "/abs", "a\\b", "a\nb", "\x1b[31mred", "", " a", "a ", ".hidden",
             "\u00fc" * 60, "tab\tname"]


@pytest.mark.parametrize("name", BAD_NAMES, ids=[repr(n)[:20] for n in BAD_NAMES])
def test_a_run_name_that_cannot_be_a_folder_inside_runs_is_refused(name, tmp_path):
    assert name_problem(name) is not None
    with pytest.raises(ConfigError, match="^name: "):
        config_from_dict({"name": name})
    if name_problem(name, 200) is not None:
        with pytest.raises(ConfigError, match="cannot name a run folder"):
            new_run_dir(name, tmp_path / "runs")
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize("name", ["moons", "my run", "l2=0.001_r1", "caf\u00e9", "a" * 100, "-x", "a.b"])
def test_ordinary_names_stay_allowed_and_their_folder_is_inside_runs(name, tmp_path):
    assert config_from_dict({"name": name}).name == name
    folder = new_run_dir(name, tmp_path / "runs")
    assert folder.parent == tmp_path / "runs" and folder.name == name


def test_a_config_files_stem_becomes_a_valid_default_name(tmp_path):
    path = tmp_path / ".hidden.toml"
    path.write_text("seed = 1\n")
    assert load_config(path).name == "hidden"


# ---- 2. the config file itself (API) ---------------------------------------------------

def _special(tmp_path: Path, kind: str) -> Path:
    path = tmp_path / kind
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "loop":
        os.symlink(tmp_path / "loop2", path)
        os.symlink(path, tmp_path / "loop2")
    elif kind == "folder":
        path.mkdir()
    return path


CONFIG_FILES = {
    "too-large": ("x" * (2 << 20), "at most 1.0 MB"),
    "nul-bytes": ("seed = 1\0\n", "not a text file"),
    "latin1": (b"name = 'caf\xe9'\n", "not UTF-8 text (byte 0xe9 on line 1)"),
    "invalid-toml": ("seed = \n", "is not valid TOML"),
    "nested-2000": (f"x = {_deep(2000)}\n", "nests lists or tables too deeply"),
    "nested-40": (f"[model]\nhidden = {_deep(40)}\n", "model.hidden: lists or tables are nested more than 32"),
    "options-nested-40": ("[model]\nfactory = 'a:b'\noptions = " + "{a = " * 40 + "1" + "}" * 40 + "\n",
                          "model.options.a.a"),
    "int-5000-digits": ("seed = " + "1" * 5000 + "\n", "cannot read"),
    "sweep-not-a-table": ("sweep = [1]\n", "sweep: expected a table"),
    "data-array-of-tables": ("[[data]]\nn_samples = 100\n", "data: expected a table"),
    "name-a-date": ("name = 1979-05-27\n", "name: expected"),
}


@pytest.mark.parametrize("content, message", CONFIG_FILES.values(), ids=CONFIG_FILES)
def test_a_bad_config_file_is_a_config_error(content, message, tmp_path):
    path = tmp_path / "bad.toml"
    path.write_bytes(content) if isinstance(content, bytes) else path.write_text(content)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert message in str(info.value)


@pytest.mark.parametrize("kind, message", [("fifo", "FIFO"), ("loop", "symbolic links"), ("folder", "folder"),
                                           ("missing", "does not exist")])
def test_a_config_path_that_is_no_file_is_refused_without_opening_it(kind, message, tmp_path):
    with pytest.raises(ConfigError, match=message):
        load_config(_special(tmp_path, kind))


@pytest.mark.parametrize("path", ["", "/dev/zero", "/dev/null", "a\0b"])
def test_config_paths_that_never_end_or_name_nothing_are_refused(path):
    with pytest.raises(ConfigError):
        load_config(path)


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file")
def test_a_config_without_read_permission_is_refused(tmp_path):
    path = tmp_path / "secret.toml"
    path.write_text("seed = 1\n")
    path.chmod(0)
    with pytest.raises(ConfigError, match="permission denied"):
        load_config(path)


# ---- 3. sizes that would exhaust memory, nesting, overflowing numbers (API) -------------

HUGE = {
    "n_samples 1e9": {"data": {"n_samples": 10**9}},
    "n_samples 1e23": {"data": {"n_samples": 10**23}},
    "hidden 1e5 x 1e5": {"model": {"hidden": [100_000, 100_000]}},
    "hidden 1e9 on digits": {"data": {"dataset": "digits"}, "model": {"hidden": [10**9]}},
    "batch of 1e6 rows of width 1e4": {"data": {"n_samples": 10**6}, "model": {"hidden": [10_000]},
                                       "train": {"batch_size": 10**6}},
    "epochs 1e20": {"train": {"epochs": 10**20}},
}


@pytest.mark.parametrize("raw", HUGE.values(), ids=HUGE)
def test_a_config_that_would_exhaust_memory_is_refused_before_allocating(raw):
    with pytest.raises(ConfigError, match=r"this would need about [\d.]+ [GTP]B of memory.*at most"):
        config_from_dict(raw)


def test_the_memory_estimate_counts_data_parameters_and_activations():
    needs = memory_needs(config_from_dict({"data": {"n_samples": 1000}, "model": {"hidden": [16]}}))
    assert len(needs) == 4 and all(v > 0 for v in needs.values())
    params = (2 + 1) * 16 + (16 + 1) * 2
    assert any(f"{params} parameters" in k for k in needs)
    assert sum(needs.values()) < 10 * 2**20  # an ordinary config needs a few MB, far below any limit


def test_the_limit_is_half_the_machines_memory_or_a_fixed_cap():
    limit = inputs.memory_limit()
    assert 2**28 <= limit  # at least 256 MB on any machine that runs the tests
    with pytest.raises(ConfigError, match="at most 1.0 KB"):
        inputs.check_memory({"x": 2048}, ConfigError, limit=1024)


@pytest.mark.parametrize("item, message", [
    (f"model.hidden={_deep(2000)}", "model.hidden: lists or tables are nested"),
    ("seed=" + "9" * 5000, "seed:"),
], ids=["nested-2000", "5000-digits"])
def test_set_values_that_python_cannot_read_are_config_errors(item, message):
    with pytest.raises(ConfigError, match=message):
        parse_assignment(item, "--set")


@pytest.mark.parametrize("key, value", [("data.n_samples", 1e308), ("data.n_samples", float("inf")),
                                        ("train.epochs", float("nan")), ("optim.lr", float("inf")),
                                        ("optim.lr", float("nan")), ("loss.l2", -float("inf"))])
def test_inf_nan_and_1e308_where_numbers_are_expected_are_refused(key, value):
    section, name = key.split(".")
    with pytest.raises(ConfigError, match=key):
        config_from_dict({section: {name: value}})


def test_a_sweep_of_too_many_runs_is_refused():
    with pytest.raises(ConfigError, match="make 2000000000 runs; at most 10000"):
        config_from_dict({"sweep": {"optim.lr": [0.1, 0.2], "repeats": 10**9}})


def test_generated_data_that_overflows_names_data_noise():
    config = config_from_dict({"data": {"dataset": "regression", "n_samples": 100, "noise": 1e308}})
    with pytest.raises(DataError, match="data.noise = 1e"):
        load_dataset(config.data, seed=0)


def test_a_onehot_column_with_too_many_categories_is_refused_before_encoding(tmp_path, monkeypatch):
    path = tmp_path / "ids.csv"
    path.write_text("id,a,label\n" + "".join(f"id{i},{i % 7},{i % 2}\n" for i in range(200)))
    config = config_from_dict({"data": {"dataset": "csv", "path": str(path), "categorical": "onehot"}})
    monkeypatch.setattr(inputs, "memory_limit", lambda: 100_000)
    with pytest.raises(DataError, match="categories in column 'id'; exclude it"):
        load_dataset(config.data, seed=0)


# ---- 4. CSV values (API: training's reader and predict's) ------------------------------

CSV_FILES = {
    "1e39 float32": (_csv("1e39,0.5,0"), {"standardize": False}, "line 2, column 'a': 1e+39 does not fit float32"),
    "1e300 float32 standardized": (_csv("1e300,0.5,0"), {}, "column 'a'"),
    "1e400": (_csv("1e400,0.5,0"), {}, "line 2, column 'a': '1e400' is too large for a 64-bit float"),
    "inf": (_csv("inf,0.5,0"), {}, "line 2, column 'a' holds 'inf'"),
    "nan": (_csv("nan,0.5,0"), {}, "line 2, column 'a' holds 'nan'"),
    "variance overflows": ("a,b,label\n" + "".join(f"{'-' if i % 3 else ''}1e200,{i / 40},{i % 2}\n" for i in range(40)),
                           {}, "column 'a': its values are too large to standardize"),
    "regression target 1e300": ("a,y\n" + "".join(f"{i},{i}.5\n" for i in range(40)) + "1,1e300\n", {},
                                "column 'y': its values are too large to standardize"),
    "field of 200,000 characters": (_csv("x" * 200_000 + ",1,0"), {}, "line 2: a cell is longer than 131072"),
    "empty": ("", {}, "is empty"),
    "header only": ("a,b,label\n", {}, "has a header but no data rows"),
    "ragged": (_csv("1,0"), {}, "line 2 has 2 cells, expected 3"),
    "latin-1": (b"a,b,label\n1,2,0\n\xe9,1,1\n", {}, "is not UTF-8 text (line 3)"),
}


@pytest.mark.parametrize("content, options, message", CSV_FILES.values(), ids=CSV_FILES)
def test_bad_csv_values_name_the_file_line_and_column(content, options, message, tmp_path):
    path = tmp_path / "d.csv"
    path.write_bytes(content) if isinstance(content, bytes) else path.write_text(content)
    config = config_from_dict({"data": {"dataset": "csv", "path": str(path), **options}})
    with pytest.raises(DataError) as info:
        load_dataset(config.data, seed=0)
    assert message in str(info.value) and "d.csv" in str(info.value)


def test_1e300_fits_float64_and_trains(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text(_csv("1e300,0.5,0"))
    config = config_from_dict({"dtype": "float64", "data": {"dataset": "csv", "path": str(path)}})
    dataset = load_dataset(config.data, seed=0, dtype="float64")
    assert np.isfinite(dataset.X_train).all() and np.isfinite(dataset.X_test).all()


PREDICT_FILES = {
    "1e400": ("a,b\n1e400,1\n", "line 2, column 'a': '1e400' is not a finite number"),
    "-inf": ("a,b\n1,-inf\n", "line 2, column 'b'"),
    "empty": ("", "needs a header row and at least one data row"),
    "header only": ("a,b\n", "needs a header row and at least one data row"),
    "ragged": ("a,b\n1,2\n3\n", "line 3 has 1 cells, expected 2"),
    "latin-1": (b"a,b\n\xe9,1\n", "is not UTF-8 text (line 2)"),
    "huge field": ("a,b\n" + "1" * 200_000 + ",1\n", "longer than"),
}


@pytest.mark.parametrize("content, message", PREDICT_FILES.values(), ids=PREDICT_FILES)
def test_predict_and_evaluate_read_csvs_with_the_same_checks(content, message, tmp_path):
    path = tmp_path / "new.csv"
    path.write_bytes(content) if isinstance(content, bytes) else path.write_text(content)
    with pytest.raises(DataError) as info:
        read_table(path)
    assert message in str(info.value) and "new.csv" in str(info.value)


@pytest.mark.parametrize("kind, message", [("fifo", "FIFO"), ("loop", "symbolic links"), ("folder", "folder"),
                                           ("missing", "does not exist")])
def test_a_csv_path_that_is_no_file_is_refused_without_opening_it(kind, message, tmp_path):
    path = _special(tmp_path, kind)
    with pytest.raises(DataError, match=message):
        read_csv_rows(path, repr(str(path)))
    with pytest.raises(DataError, match=message):
        read_table(path)


def test_a_csv_too_large_for_memory_is_refused_before_reading(tmp_path, monkeypatch):
    path = tmp_path / "d.csv"
    path.write_text(_csv())
    monkeypatch.setattr(inputs, "memory_limit", lambda: 1000)
    with pytest.raises(DataError, match="reading 'd' .* at most"):
        read_csv_rows(path, "'d'")
