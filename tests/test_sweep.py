"""Sweeps through train.py: one run per value, a comparison table, summary.csv, plots."""

from pathlib import Path

import pytest
from run_files import checkpoint_params, config_in_empty_folder, read_csv, same_params, start_train

from minnet.cli import main
from minnet.train.sweep import parse_sweep

TINY = """
name = "tiny"
seed = 5
[data]
dataset = "moons"
n_samples = 120
noise = 0.3
[model]
hidden = [8]
activation = "tanh"
[train]
epochs = 4
"""


@pytest.fixture
def tiny(tmp_path, monkeypatch):
    return config_in_empty_folder(tmp_path, monkeypatch, TINY)


def _summary(folder):
    return read_csv(folder / "summary.csv")


def test_sweep_prints_a_row_per_value_and_writes_summary(tiny, tmp_path, capsys):
    assert main([str(tiny), "--quiet", "--out", "s", "--sweep", "loss.l2=0,0.01,1"]) == 0
    out = capsys.readouterr().out
    table = out.splitlines()
    assert table[0] == "tiny: sweep of 3 runs -> s"
    header = table[1].split()
    assert header[:8] == ["loss.l2", "train_loss", "test_loss", "train_accuracy", "test_accuracy", "gap",
                          "weight_norm", "seconds"]
    assert [line.split()[0] for line in table[3:6]] == ["0", "0.01", "1"]
    assert sum(line.rstrip().endswith("*") for line in table[3:6]) == 1  # the best one is marked

    rows = _summary(tmp_path / "s")
    assert [float(r["loss.l2"]) for r in rows] == [0.0, 0.01, 1.0]
    assert all(r["status"] == "completed" for r in rows)
    norms = [float(r["weight_norm"]) for r in rows]
    assert norms[0] > norms[2]  # the penalty shrinks the weights
    for r in rows:
        gap = float(r["train_accuracy"]) - float(r["test_accuracy"])
        assert float(r["gap"]) == pytest.approx(gap)
        assert (tmp_path / "s" / r["run_dir"] / "history.csv").is_file()


def test_each_run_equals_the_same_run_alone(tiny, tmp_path):
    assert main([str(tiny), "--quiet", "--out", "s", "--sweep", "loss.l2=0,0.01"]) == 0
    assert main([str(tiny), "--quiet", "--out", "alone", "--set", "loss.l2=0.01"]) == 0
    run_dir = tmp_path / "s" / _summary(tmp_path / "s")[1]["run_dir"]
    assert same_params(checkpoint_params(run_dir), checkpoint_params(tmp_path / "alone"))


def test_parallel_sweep_equals_sequential(tiny, tmp_path):
    assert main([str(tiny), "--quiet", "--out", "seq", "--sweep", "loss.l2=0,0.01,0.1"]) == 0
    assert main([str(tiny), "--quiet", "--out", "par", "--sweep", "loss.l2=0,0.01,0.1", "--jobs", "2"]) == 0
    seq, par = _summary(tmp_path / "seq"), _summary(tmp_path / "par")
    assert [r["run_dir"] for r in seq] == [r["run_dir"] for r in par]
    for a, b in zip(seq, par, strict=True):
        assert same_params(checkpoint_params(tmp_path / "seq" / a["run_dir"]), checkpoint_params(tmp_path / "par" / b["run_dir"]))
        assert a["test_loss"] == b["test_loss"]


def test_sweep_table_in_the_config_and_a_two_key_grid(tiny, tmp_path):
    tiny.write_text(TINY + '[sweep]\n"loss.l2" = [0.0, 0.1]\n"optim.lr" = [0.1, 0.5]\n')
    assert main([str(tiny), "--quiet", "--out", "grid"]) == 0
    rows = _summary(tmp_path / "grid")
    assert [(float(r["loss.l2"]), float(r["optim.lr"])) for r in rows] == [(0, 0.1), (0, 0.5), (0.1, 0.1), (0.1, 0.5)]


def test_hidden_widths_can_be_swept(tiny, tmp_path):
    assert main([str(tiny), "--quiet", "--out", "w", "--sweep", "model.hidden=4,[6,3]"]) == 0
    rows = _summary(tmp_path / "w")
    shapes = [checkpoint_params(tmp_path / "w" / r["run_dir"])["param/0.weight"].shape for r in rows]
    assert shapes == [(4, 2), (6, 2)]


def test_a_diverging_run_is_marked_and_the_others_finish(tiny, tmp_path, capsys):
    code = main([str(tiny), "--quiet", "--out", "d", "--set", "loss.name=mse", "--set", "model.activation=relu",
                 "--sweep", "optim.lr=0.1,1e7"])
    assert code == 3
    rows = _summary(tmp_path / "d")
    assert [r["status"] for r in rows] == ["completed", "diverged"]
    out = capsys.readouterr().out
    assert "diverged" in out and "optim.lr" in out


def test_sweep_plots(tiny, tmp_path):
    pytest.importorskip("matplotlib")
    assert main([str(tiny), "--quiet", "--out", "p", "--plot", "--sweep", "loss.l2=0,0.01,0.1"]) == 0
    for name in ("validation_curve.png", "loss_curves.png", "decision_boundaries.png"):
        assert (tmp_path / "p" / name).read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize("args, message", [
    (["--sweep", "loss.l3=0,1"], "unknown key 'loss.l3' (did you mean 'loss.l2'?)"),
    (["--sweep", "model.activation=relu,tanh"], "'model.activation' is not numeric"),
    (["--sweep", "loss.l2="], "--sweep loss.l2: expected a comma-separated list of values"),
    (["--sweep", "loss.l2=0,,1"], "--sweep loss.l2: expected a comma-separated list of values"),
    (["--sweep", "loss.l2=a,b"], "loss.l2: expected a number >= 0, got 'a' (string)"),
    (["--sweep", "loss.l2=0,-1"], "loss.l2: expected a number >= 0, got -1"),
    (["--sweep", "loss.l2"], "--sweep expects KEY=V1,V2"),
    (["--sweep", "loss.l2=0,1", "--jobs", "0"], "--jobs must be an integer >= 1"),
])
def test_bad_sweeps_exit_2_naming_the_key(args, message, tiny, tmp_path, capsys):
    assert main([str(tiny), "--quiet", *args]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err and message in err, err
    assert not (tmp_path / "runs").exists()


def test_parse_sweep_keeps_bracketed_lists_together():
    assert parse_sweep(["model.hidden=[8,8],16", "loss.l2=0,1e-3"]) == {
        "model.hidden": [[8, 8], 16], "loss.l2": [0, 0.001]}


def test_l2_sweep_config_shows_overfitting_without_a_penalty(tmp_path):
    """The shipped l2_sweep config: λ=0 fits the training set best but not the test set."""
    root = Path(__file__).resolve().parents[1]
    assert main([str(root / "configs" / "l2_sweep.toml"), "--quiet", "--out", str(tmp_path / "l2"),
                 "--sweep", "loss.l2=0,1e-3", "--set", "train.epochs=800", "--jobs", "2"]) == 0
    none, some = _summary(tmp_path / "l2")
    assert float(none["train_accuracy"]) > float(some["train_accuracy"])
    assert float(none["test_loss"]) > float(some["test_loss"])
    assert float(none["weight_norm"]) > float(some["weight_norm"])


def test_ctrl_c_stops_the_sweep_and_keeps_finished_runs(tmp_path):
    import signal
    import time

    config = tmp_path / "long.toml"
    config.write_text(TINY.replace("epochs = 4", "epochs = 300"))
    process = start_train([config, "--quiet", "--out", "s", "--sweep", "loss.l2=0,0.01,0.1,1"], cwd=tmp_path)
    summary = tmp_path / "s" / "summary.csv"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not summary.exists():
        time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 130
    assert err.strip().startswith("error: sweep interrupted; finished runs are in s") and "Traceback" not in err
    rows = read_csv(summary)
    assert 1 <= len(rows) < 4 and all(r["status"] == "completed" for r in rows)


def test_a_sweep_over_a_bundled_dataset(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["--quiet", "--out", "iris", "--set", "data.dataset=iris", "--set", "train.epochs=2",
                 "--sweep", "loss.l2=0,0.01"]) == 0
    assert [r["status"] for r in _summary(tmp_path / "iris")] == ["completed", "completed"]
