"""train.py as a user runs it: files written, exit codes, one-line errors, resume."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from run_files import checkpoint_params, config_in_empty_folder, read_csv, same_params, start_train

from minnet.cli import main

ROOT = Path(__file__).resolve().parents[1]
TINY = """
name = "tiny"
seed = 3
[data]
dataset = "moons"
n_samples = 200
[model]
hidden = [8]
[train]
epochs = 3
"""


def _run(*args, cwd, timeout=120):
    """train.py in a subprocess, as a user types it."""
    return subprocess.run([sys.executable, str(ROOT / "train.py"), *args], cwd=cwd, capture_output=True,
                          text=True, timeout=timeout)


@pytest.fixture
def tiny(tmp_path, monkeypatch):
    return config_in_empty_folder(tmp_path, monkeypatch, TINY)


def _error_line(capsys):
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err and "Traceback" not in err, err
    return err


def _history(run_dir):
    return read_csv(run_dir / "history.csv")


# ---- a run and its files -----------------------------------------------------------

def test_a_run_writes_config_history_metrics_and_checkpoint(tiny, tmp_path, capsys):
    assert main([str(tiny), "--quiet"]) == 0
    run_dir = tmp_path / "runs" / "tiny"
    rows = _history(run_dir)
    assert [r["epoch"] for r in rows] == ["1", "2", "3"]
    assert list(rows[0]) == ["epoch", "train_loss", "val_loss", "test_loss", "train_accuracy", "val_accuracy",
                             "test_accuracy", "weight_norm_0.weight", "weight_norm_2.weight", "seconds"]
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["status"] == "completed" and metrics["epochs"] == 3
    assert metrics["final"]["test_accuracy"] == pytest.approx(float(rows[-1]["test_accuracy"]))
    assert 'dataset = "moons"' in (run_dir / "config.toml").read_text()
    assert set(checkpoint_params(run_dir)) == {"param/0.weight", "param/0.bias", "param/2.weight", "param/2.bias"}
    out = capsys.readouterr().out
    assert "tiny: 3 epochs" in out and "accuracy" in out and "test" in out


def test_a_second_run_does_not_overwrite_the_first(tiny, tmp_path):
    assert main([str(tiny), "--quiet"]) == 0
    assert main([str(tiny), "--quiet", "--set", "train.epochs=1"]) == 0
    assert len(_history(tmp_path / "runs" / "tiny")) == 3
    assert len(_history(tmp_path / "runs" / "tiny-2")) == 1


def test_out_and_set_are_honoured(tiny, tmp_path):
    assert main([str(tiny), "--quiet", "--out", "elsewhere", "--set", "model.hidden=[4, 4]",
                 "--set", "model.activation=relu"]) == 0
    params = checkpoint_params(tmp_path / "elsewhere")
    assert params["param/0.weight"].shape == (4, 2) and params["param/2.weight"].shape == (4, 4)
    assert 'activation = "relu"' in (tmp_path / "elsewhere" / "config.toml").read_text()


def test_same_seed_same_result_different_seed_different(tiny, tmp_path):
    for out, seed in (("a", 3), ("b", 3), ("c", 4)):
        assert main([str(tiny), "--quiet", "--out", out, "--set", f"seed={seed}"]) == 0
    a, b, c = (checkpoint_params(tmp_path / d) for d in "abc")
    assert same_params(a, b)
    assert not np.array_equal(a["param/0.weight"], c["param/0.weight"])


def test_regression_reports_r2_and_rmse(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["--quiet", "--set", "data.dataset=diabetes", "--set", "train.epochs=2",
                 "--set", "optim.lr=0.05", "--out", "reg"]) == 0
    rows = _history(tmp_path / "reg")
    assert {"train_r2", "test_r2", "train_rmse", "test_rmse"} <= set(rows[0])
    assert float(rows[-1]["test_rmse"]) > 10  # diabetes targets are in the hundreds: original units


def test_the_default_config_trains_from_the_repository_root(tmp_path):
    result = _run("--quiet", "--out", str(tmp_path / "default"), "--set", "train.epochs=2", cwd=ROOT)
    assert result.returncode == 0, result.stderr
    assert "moons: 2 epochs" in result.stdout


@pytest.mark.parametrize("config", sorted(p.name for p in (ROOT / "configs").glob("*.toml")))
def test_every_shipped_config_runs(config, tmp_path):
    result = _run(f"configs/{config}", "--quiet", "--out", str(tmp_path / "run"), "--set", "train.epochs=2", cwd=ROOT)
    assert result.returncode == 0, result.stderr
    if "[sweep]" in (ROOT / "configs" / config).read_text():
        runs = read_csv(tmp_path / "run" / "runs.csv")
        assert len(runs) >= 2 and all(len(_history(tmp_path / "run" / r["run_dir"])) == 2 for r in runs)
    else:
        assert len(_history(tmp_path / "run")) == 2


def test_python_dash_m_minnet_is_the_same_program(tiny, tmp_path):
    result = subprocess.run([sys.executable, "-m", "minnet", str(tiny), "--quiet", "--out", "m"], cwd=tmp_path,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert len(_history(tmp_path / "m")) == 3


# ---- bad input: exit 2 and one line naming the problem ------------------------------

BAD_CONFIGS = [
    ('colour = "red"\n', "unknown key 'colour'"),
    ('[optim]\nlrate = 0.1\n', "unknown key 'optim.lrate' (did you mean 'lr'?); allowed in [optim]: name, lr"),
    ('[optim]\nlr = "fast"\n', "optim.lr: expected a number > 0, got 'fast' (string)"),
    ('[train]\nepochs = 2.5\n', "train.epochs: expected an integer >= 1, got 2.5 (number)"),
    ('[optim]\nlr = -1\n', "optim.lr: expected a number > 0, got -1"),
    ('[train]\nbatch_size = 0\n', "train.batch_size: expected an integer >= 1, got 0"),
    ('[model]\nhidden = [8, -3]\n', "model.hidden: expected a list of positive layer widths"),
    ('[data]\ntest_size = 1.5\n', "data.test_size: expected a number between 0 and 1"),
    ('[data]\ndataset = "mnist"\n', "data.dataset: expected one of"),
    ('[model]\nactivation = "swish"\n', "model.activation: expected one of 'relu', 'sigmoid', 'tanh'"),
    ('[loss]\nname = "hinge"\n', "loss.name: expected one of 'mse', 'softmax_cross_entropy'"),
    ('[data]\ndataset = "csv"\n', "data.path is required"),
    ('[data]\ndataset = "iris"\nnoise = 0.1\n', "data.noise does not apply to dataset 'iris'"),
    ('[optim]\nlr = 0.1\n[optim.extra]\n', "unknown key 'optim.extra'"),
    ('optim = 3\n', "optim: expected a table [optim]"),
    ('[data\n', "is not valid TOML"),
    ('[loss]\nname = "softmax_cross_entropy"\n[data]\ndataset = "diabetes"\n', "needs class labels"),
]


@pytest.mark.parametrize("text, message", BAD_CONFIGS)
def test_bad_config_is_one_error_line_and_exit_2(text, message, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "bad.toml"
    path.write_text(text)
    assert main([str(path), "--quiet"]) == 2
    assert message in _error_line(capsys)
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").rglob("model.npz"))


@pytest.mark.parametrize("args, message", [
    (["--set", "optim.lrate=0.1"], "unknown key 'optim.lrate'"),
    (["--set", "optim.lr=[1,"], "optim.lr: expected a number > 0, got '[1,' (string)"),
    (["--set", "optim.lr"], "--set expects KEY=VALUE"),
    (["--jobs", "0"], "--jobs must be an integer >= 1"),
    (["--bogus"], "unrecognized arguments: --bogus"),
    (["missing.toml"], "config file 'missing.toml' does not exist"),
    (["--set", "data.n_samples=100", "--set", "data.dataset=iris"], "data.n_samples does not apply to dataset 'iris'"),
    # a key that would be silently ignored is an error
    (["--set", "data.fold=1"], "data.fold = 1 picks one of data.folds folds; set data.folds >= 2 too"),
    (["--set", "model.factory=examples.custom_model:residual_mlp", "--set", "model.hidden=[8]"],
     "model.hidden describes the built-in MLP, but model.factory builds the model"),
    (["--set", "sweep.cv=2"], "the sweep has no grid"),
    (["--sweep", "loss.l2=0,1", "--address", "tcp://x:1"], "sweep.address is a Dask scheduler: it needs sweep.backend"),
    (["--sweep", "loss.l2=0,1", "--sweep", "loss.l2=2"], "--sweep loss.l2 is given twice"),
])
def test_bad_command_lines(args, message, tiny, capsys):
    config = [] if args[0] == "missing.toml" else [str(tiny)]
    assert main([*config, *args, "--quiet"]) == 2
    assert message in _error_line(capsys)


def test_missing_csv_file_is_named(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["--quiet", "--set", "data.dataset=csv", "--set", "data.path=nowhere.csv"]) == 2
    assert "data.path 'nowhere.csv' does not exist" in _error_line(capsys)


def test_non_numeric_csv_cell_names_file_line_and_column(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "bad.csv").write_text("a,b,label\n1,2,x\n3,oops,y\n")
    assert main(["--quiet", "--set", "data.dataset=csv", "--set", "data.path=bad.csv"]) == 2
    err = _error_line(capsys)
    assert "bad.csv" in err and "line 3" in err and "'b'" in err and "'oops'" in err


def test_bad_input_from_a_subprocess_has_no_traceback(tmp_path):
    (tmp_path / "bad.toml").write_text('[optim]\nlr = "fast"\n')
    result = _run("bad.toml", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip() == "error: optim.lr: expected a number > 0, got 'fast' (string)"


# ---- checkpoints ---------------------------------------------------------------------

def test_resume_rejects_files_that_are_not_minnet_checkpoints(tiny, tmp_path, capsys):
    run_dir = tmp_path / "fake"
    run_dir.mkdir()
    (run_dir / "model.npz").write_text("not a zip")
    assert main(["--resume", str(run_dir)]) == 2
    assert "is not a minnet checkpoint" in _error_line(capsys)

    np.savez(run_dir / "model.npz", w=np.zeros(3))
    assert main(["--resume", str(run_dir)]) == 2
    assert "no valid 'meta' entry" in _error_line(capsys)

    np.savez(run_dir / "model.npz", meta=np.array([{"format": "minnet-checkpoint-1"}], dtype=object))
    assert main(["--resume", str(run_dir)]) == 2
    assert "contains pickled objects" in _error_line(capsys)

    assert main(["--resume", str(tmp_path / "nowhere")]) == 2
    assert "does not exist" in _error_line(capsys)


def test_resume_continues_to_the_same_weights_as_one_straight_run(tiny, tmp_path):
    assert main([str(tiny), "--quiet", "--out", "straight", "--set", "train.epochs=5"]) == 0
    assert main([str(tiny), "--quiet", "--out", "split", "--set", "train.epochs=2"]) == 0
    assert main(["--resume", "split", "--quiet", "--set", "train.epochs=5"]) == 0
    straight, split = checkpoint_params(tmp_path / "straight"), checkpoint_params(tmp_path / "split")
    assert same_params(straight, split)
    assert _history(tmp_path / "split")[4]["test_loss"] == _history(tmp_path / "straight")[4]["test_loss"]


def test_resume_only_changes_epochs(tiny, tmp_path, capsys):
    assert main([str(tiny), "--quiet", "--out", "r"]) == 0
    assert main(["--resume", "r", "--set", "optim.lr=0.1"]) == 2
    assert "only train.epochs may be changed" in _error_line(capsys)


def test_load_run_predicts_raw_inputs(tiny, tmp_path):
    from sklearn.datasets import make_moons

    import minnet.train as training

    assert main([str(tiny), "--quiet", "--out", "p", "--set", "train.epochs=30", "--set", "model.activation=tanh"]) == 0
    trained = training.load_run(tmp_path / "p")
    X, y = make_moons(300, noise=0.2, random_state=11)
    assert (trained.predict(X).astype(int) == y).mean() > 0.8
    np.testing.assert_allclose(trained.predict_proba(X).sum(axis=1), 1.0, rtol=1e-5)


# ---- faults --------------------------------------------------------------------------

def test_divergence_exits_3_and_keeps_history(tiny, tmp_path, capsys):
    # lr 1e6 on MSE over one-hot targets blows up within the first epochs
    code = main([str(tiny), "--quiet", "--out", "d", "--set", "optim.lr=1e6", "--set", "loss.name=mse",
                 "--set", "train.epochs=50", "--set", "model.activation=relu"])
    assert code == 3
    err = _error_line(capsys)
    assert "diverged at epoch" in err and "optim.lr" in err
    metrics = json.loads((tmp_path / "d" / "metrics.json").read_text())
    assert metrics["status"] == "diverged"
    epoch = int(err.split("diverged at epoch ")[1].split(":")[0])
    if epoch > 1:
        assert len(_history(tmp_path / "d")) == epoch - 1
        assert all(np.all(np.isfinite(v)) for v in checkpoint_params(tmp_path / "d").values())


def test_ctrl_c_saves_finished_epochs_and_resume_matches_a_straight_run(tmp_path):
    config = tmp_path / "long.toml"
    config.write_text(TINY.replace("epochs = 3", "epochs = 100000").replace("n_samples = 200", "n_samples = 2000"))
    process = start_train([config, "--quiet", "--out", "long"], cwd=tmp_path)
    history = tmp_path / "long" / "history.csv"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and (not history.exists() or len(history.read_text().splitlines()) < 4):
        time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 130
    assert "resume with: python train.py --resume long" in err and "Traceback" not in err
    done = len(_history(tmp_path / "long"))
    assert done >= 3
    assert json.loads((tmp_path / "long" / "metrics.json").read_text())["status"] == "interrupted"

    target = done + 2
    resumed = _run("--resume", "long", "--quiet", "--set", f"train.epochs={target}", cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    straight = _run(str(config), "--quiet", "--out", "straight", "--set", f"train.epochs={target}", cwd=tmp_path)
    assert straight.returncode == 0, straight.stderr
    a, b = checkpoint_params(tmp_path / "long"), checkpoint_params(tmp_path / "straight")
    assert same_params(a, b)


# ---- plots ---------------------------------------------------------------------------

def test_plot_writes_pngs(tiny, tmp_path):
    pytest.importorskip("matplotlib")
    assert main([str(tiny), "--quiet", "--out", "plots", "--plot"]) == 0
    for name in ("curves.png", "decision_boundary.png"):
        data = (tmp_path / "plots" / name).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5000


def test_plot_without_matplotlib_says_how_to_install(tiny, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import now fails
    assert main([str(tiny), "--quiet", "--plot"]) == 2
    assert "pip install 'minnet[plot]'" in _error_line(capsys)


def test_graph_command_draws_one_training_step(tiny, tmp_path):
    assert main(["graph", str(tiny), "-o", "step.dot", "--set", "loss.l2=0.01"]) == 0
    dot = (tmp_path / "step.dot").read_text()
    assert "0.weight" in dot and "linear" in dot and "l2_regularized" in dot and "softmax_cross_entropy" in dot


@pytest.mark.parametrize("dataset", ["iris", "csv"])
def test_runs_of_datasets_without_generator_keys_reload_and_resume(dataset, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    sets = ["--set", f"data.dataset={dataset}"]
    if dataset == "csv":
        (tmp_path / "t.csv").write_text("a,b,label\n" + "".join(f"{i},{i % 3},{'xy'[i % 2]}\n" for i in range(40)))
        sets += ["--set", "data.path=t.csv"]
    assert main(["--quiet", "--out", "r", "--set", "train.epochs=2", *sets]) == 0
    assert "n_samples" not in (tmp_path / "r" / "config.toml").read_text()
    assert main(["--quiet", "--out", "again", str(tmp_path / "r" / "config.toml")]) == 0
    assert main(["--resume", "r", "--quiet", "--set", "train.epochs=3"]) == 0
    assert len(_history(tmp_path / "r")) == 3


def test_load_run_returns_class_names_and_regression_values_in_original_units(tmp_path, monkeypatch):
    import minnet.train as training

    monkeypatch.chdir(tmp_path)
    rows = "".join(f"{i % 7},{(i * 3) % 5},{'ab'[(i % 7) > 3]}\n" for i in range(60))
    (tmp_path / "c.csv").write_text("u,v,kind\n" + rows)
    assert main(["--quiet", "--out", "c", "--set", "data.dataset=csv", "--set", "data.path=c.csv"]) == 0
    predicted = training.load_run("c").predict(np.array([[0.0, 1.0], [6.0, 1.0]]))
    assert list(predicted) == ["a", "b"]

    assert main(["--quiet", "--out", "reg", "--set", "data.dataset=regression", "--set", "data.noise=1",
                 "--set", "train.epochs=30", "--set", "optim.lr=0.05", "--set", "model.activation=tanh"]) == 0
    from sklearn.datasets import make_regression

    X, y = make_regression(1000, n_features=8, n_informative=5, noise=1, random_state=0)
    error = np.sqrt(np.mean((training.load_run("reg").predict(X) - y) ** 2))
    assert error < 0.25 * y.std()  # original units: a standardised prediction would be off by ~y.std()


def test_version_flag_prints_the_package_version(capsys):
    import minnet

    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"minnet {minnet.__version__}"


# ---- run folders, names and logs -----------------------------------------------------------

def test_out_refuses_a_folder_holding_a_run_unless_force(tiny, tmp_path, capsys):
    pytest.importorskip("matplotlib")
    assert main([str(tiny), "--quiet", "--out", "r", "--plot"]) == 0
    before = checkpoint_params(tmp_path / "r")
    capsys.readouterr()
    assert main([str(tiny), "--quiet", "--out", "r", "--set", "train.epochs=1"]) == 2
    err = _error_line(capsys)
    assert "already holds a run" in err and "--force" in err
    assert same_params(checkpoint_params(tmp_path / "r"), before)  # nothing touched
    assert len(_history(tmp_path / "r")) == 3
    assert main([str(tiny), "--quiet", "--out", "r", "--set", "train.epochs=1", "--force"]) == 0
    assert len(_history(tmp_path / "r")) == 1 and not list((tmp_path / "r").glob("*.png"))  # old plots gone


def test_a_second_sweep_into_the_same_folder_is_refused(tiny, tmp_path, capsys):
    assert main([str(tiny), "--quiet", "--out", "s", "--sweep", "loss.l2=0,0.1"]) == 0
    capsys.readouterr()
    assert main([str(tiny), "--quiet", "--out", "s", "--sweep", "loss.l2=0,0.1"]) == 2
    assert "already holds a sweep" in _error_line(capsys)
    assert main([str(tiny), "--quiet", "--out", "s", "--sweep", "loss.l2=0,0.1", "--force"]) == 0


def test_force_replaces_a_sweep_and_a_run_but_keeps_the_users_own_files(tiny, tmp_path, capsys):
    """--force clears what the old sweep or run wrote (its runs' folders, tables, plots),
    so no old result sits beside the new ones, and leaves every other file alone."""
    pytest.importorskip("matplotlib")
    assert main([str(tiny), "--quiet", "--out", "s", "--sweep", "loss.l2=0,0.1", "--plot"]) == 0
    assert main([str(tiny), "--quiet", "--out", "r", "--plot"]) == 0
    for folder in ("s", "r"):
        (tmp_path / folder / "notes.png").write_bytes(b"mine")
    assert main([str(tiny), "--quiet", "--out", "s", "--sweep", "loss.l2=0.5,0.7", "--force"]) == 0
    assert sorted(p.name for p in (tmp_path / "s").iterdir() if p.is_dir()) == ["l2=0.5", "l2=0.7"]
    assert sorted(p.name for p in (tmp_path / "s").glob("*.png")) == ["notes.png"]
    assert main([str(tiny), "--quiet", "--out", "r", "--force"]) == 0
    assert sorted(p.name for p in (tmp_path / "r").glob("*.png")) == ["notes.png"]


@pytest.mark.parametrize("force", [[], ["--force"]], ids=["", "force"])
def test_a_run_and_a_sweep_never_share_a_folder(tiny, tmp_path, capsys, force):
    """Each kind refuses the other's folder, --force or not, and leaves it as it was."""
    assert main([str(tiny), "--quiet", "--out", "r"]) == 0
    assert main([str(tiny), "--quiet", "--out", "s", "--sweep", "loss.l2=0,0.1"]) == 0
    run_files, sweep_files = sorted(os.listdir(tmp_path / "r")), sorted(os.listdir(tmp_path / "s"))
    before = checkpoint_params(tmp_path / "r")
    capsys.readouterr()
    assert main([str(tiny), "--quiet", "--out", "r", "--sweep", "loss.l2=0,0.1", *force]) == 2
    assert "holds a run" in _error_line(capsys)
    assert main([str(tiny), "--quiet", "--out", "s", *force]) == 2
    assert "holds a sweep" in _error_line(capsys)
    assert sorted(os.listdir(tmp_path / "r")) == run_files and sorted(os.listdir(tmp_path / "s")) == sweep_files
    assert same_params(checkpoint_params(tmp_path / "r"), before)


def test_without_a_terminal_progress_is_one_line_per_epoch_on_stderr(tiny, tmp_path):
    result = _run(str(tiny), "--out", "log", cwd=tmp_path)  # stderr is a pipe, as in CI or | tee
    assert result.returncode == 0, result.stderr
    lines = result.stderr.strip().splitlines()
    assert [line.split(":")[0] for line in lines] == ["tiny epoch 1/3", "tiny epoch 2/3", "tiny epoch 3/3"]
    assert all("val_loss=" in line and "test" not in line for line in lines)
    quiet = _run(str(tiny), "--out", "q", "--quiet", cwd=tmp_path)
    assert quiet.stderr == ""


def test_run_files_honour_the_umask(tiny, tmp_path):
    import os

    old = os.umask(0o027)
    try:
        assert main([str(tiny), "--quiet", "--out", "m"]) == 0
    finally:
        os.umask(old)
    for name in ("config.toml", "history.csv", "metrics.json", "model.npz"):
        assert (tmp_path / "m" / name).stat().st_mode & 0o777 == 0o640, name


def test_switching_the_dataset_with_set_names_the_run_after_it(tmp_path):
    """The README's ``python train.py --set data.dataset=iris``, in a copy of the repository root."""
    import shutil

    (tmp_path / "configs").mkdir()
    shutil.copy(ROOT / "configs" / "moons.toml", tmp_path / "configs")
    result = _run("--quiet", "--set", "data.dataset=iris", "--set", "train.epochs=2", cwd=tmp_path)
    assert result.returncode == 0, result.stderr  # moons.toml's n_samples and noise are their defaults
    assert result.stdout.startswith("iris: 2 epochs in") and "-> runs/iris" in result.stdout


def test_a_reader_that_stops_early_is_no_traceback(tiny, tmp_path):
    process = subprocess.Popen([sys.executable, str(ROOT / "train.py"), str(tiny), "--quiet", "--out", "p"],
                               cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    process.stdout.close()  # like `| head -0`: nobody reads the table
    _, err = process.communicate(timeout=120)
    assert process.returncode == 0 and "Traceback" not in err, err
    assert (tmp_path / "p" / "model.npz").is_file()
