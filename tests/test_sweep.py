"""Sweeps through train.py: grid points, repeats and folds, validation-only selection,
summary.csv and runs.csv, plots, surviving interruption, and a Dask cluster."""

import json
import math
from pathlib import Path

import pytest
from run_files import checkpoint_params, config_in_empty_folder, read_csv, same_params, start_train

from minnet.cli import main
from minnet.train.compare import summarize, summary_table
from minnet.train.config import config_from_dict
from minnet.train.sweep import SweepRun, SweepTask, parse_sweep

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


def _runs(folder):
    return read_csv(folder / "runs.csv")


def _metrics(run_dir):
    return json.loads((run_dir / "metrics.json").read_text())


def test_sweep_prints_a_row_per_value_and_writes_summary_and_runs(tiny, tmp_path, capsys):
    assert main([str(tiny), "--quiet", "--out", "s", "--sweep", "loss.l2=0,0.01,1"]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0] == "tiny: sweep of 3 runs -> s"
    header = table[1]
    assert header.split()[:3] == ["loss.l2", "val_accuracy", "val_loss"] and "test_accuracy (not used)" in header
    assert [line.split()[0] for line in table[3:6]] == ["0", "0.01", "1"]
    assert sum(line.rstrip().endswith("*") for line in table[3:6]) == 1  # the selected one
    assert "never used to choose" in table[6]

    rows = _summary(tmp_path / "s")
    assert [float(r["loss.l2"]) for r in rows] == [0.0, 0.01, 1.0]
    for split in ("train", "val", "test"):
        for score in ("loss", "accuracy"):
            assert f"{split}_{score}_mean" in rows[0] and f"{split}_{score}_std" in rows[0]
    assert [r["n"] for r in rows] == ["1", "1", "1"] and sum(int(r["selected"]) for r in rows) == 1
    norms = [float(r["weight_norm_mean"]) for r in rows]
    assert norms[0] > norms[2]  # the penalty shrinks the weights

    runs = _runs(tmp_path / "s")
    assert [r["status"] for r in runs] == ["completed"] * 3
    for r in runs:
        metrics = _metrics(tmp_path / "s" / r["run_dir"])
        assert float(r["val_accuracy"]) == pytest.approx(metrics["final"]["val_accuracy"])
        assert (tmp_path / "s" / r["run_dir"] / "history.csv").is_file()


def test_each_run_equals_the_same_run_alone(tiny, tmp_path):
    assert main([str(tiny), "--quiet", "--out", "s", "--sweep", "loss.l2=0,0.01"]) == 0
    assert main([str(tiny), "--quiet", "--out", "alone", "--set", "loss.l2=0.01"]) == 0
    run_dir = tmp_path / "s" / _runs(tmp_path / "s")[1]["run_dir"]
    assert same_params(checkpoint_params(run_dir), checkpoint_params(tmp_path / "alone"))


def test_parallel_sweep_equals_sequential(tiny, tmp_path):
    assert main([str(tiny), "--quiet", "--out", "seq", "--sweep", "loss.l2=0,0.01,0.1", "--repeats", "2"]) == 0
    assert main([str(tiny), "--quiet", "--out", "par", "--sweep", "loss.l2=0,0.01,0.1", "--repeats", "2",
                 "--jobs", "2"]) == 0
    seq, par = _runs(tmp_path / "seq"), _runs(tmp_path / "par")
    assert [r["run_dir"] for r in seq] == [r["run_dir"] for r in par]
    for a, b in zip(seq, par, strict=True):
        assert same_params(checkpoint_params(tmp_path / "seq" / a["run_dir"]),
                           checkpoint_params(tmp_path / "par" / b["run_dir"]))
        assert a["test_loss"] == b["test_loss"]


def test_repeats_vary_only_the_initialisation_and_share_the_data_split(tiny, tmp_path, capsys):
    assert main([str(tiny), "--quiet", "--out", "r", "--sweep", "loss.l2=0,0.01", "--repeats", "3"]) == 0
    runs = _runs(tmp_path / "r")
    assert len(runs) == 6 and [r["repeat"] for r in runs] == ["0", "1", "2"] * 2
    assert {r["seed"] for r in runs} == {"5"} and [r["init_seed"] for r in runs[:3]] == ["5", "6", "7"]
    hashes = {_metrics(tmp_path / "r" / r["run_dir"])["data_hash"] for r in runs}
    assert len(hashes) == 1  # one data split for every run
    weights = [checkpoint_params(tmp_path / "r" / r["run_dir"])["param/0.weight"] for r in runs[:3]]
    assert not (weights[0] == weights[1]).all()  # different initialisations
    summary = _summary(tmp_path / "r")
    assert [r["n"] for r in summary] == ["3", "3"] and summary[0]["val_accuracy_std"] != ""
    # repeat 0 is the run alone, with the sweep's seed
    assert main([str(tiny), "--quiet", "--out", "alone"]) == 0
    assert same_params(checkpoint_params(tmp_path / "r" / runs[0]["run_dir"]), checkpoint_params(tmp_path / "alone"))
    out = capsys.readouterr().out
    assert "±" in out and "Δval_accuracy vs first (95% CI)" in out


def test_cross_validation_trains_each_point_on_every_fold(tiny, tmp_path):
    assert main([str(tiny), "--quiet", "--out", "cv", "--sweep", "loss.l2=0,0.1", "--cv", "3"]) == 0
    runs = _runs(tmp_path / "cv")
    assert [r["fold"] for r in runs] == ["0", "1", "2"] * 2 and all(r["repeat"] == "" for r in runs)
    configs = [(tmp_path / "cv" / r["run_dir"] / "config.toml").read_text() for r in runs[:3]]
    assert all("folds = 3" in c for c in configs) and all(f"fold = {k}\n" in c for k, c in enumerate(configs))
    vals = {float(r["val_loss"]) for r in runs[:3]}
    assert len(vals) == 3  # each fold validates on other rows
    assert [r["n"] for r in _summary(tmp_path / "cv")] == ["3", "3"]


def test_sweep_table_in_the_config_and_a_two_key_grid(tiny, tmp_path):
    pytest.importorskip("matplotlib")
    tiny.write_text(TINY + '[sweep]\n"loss.l2" = [0.0, 0.1]\n"optim.lr" = [0.1, 0.5]\nrepeats = 2\n')
    assert main([str(tiny), "--quiet", "--out", "grid", "--plot"]) == 0
    rows = _summary(tmp_path / "grid")
    assert [(float(r["loss.l2"]), float(r["optim.lr"])) for r in rows] == [(0, 0.1), (0, 0.5), (0.1, 0.1), (0.1, 0.5)]
    assert (tmp_path / "grid" / "heatmap.png").read_bytes()[:4] == b"\x89PNG"


def test_hidden_widths_can_be_swept(tiny, tmp_path):
    assert main([str(tiny), "--quiet", "--out", "w", "--sweep", "model.hidden=4,[6,3]"]) == 0
    shapes = [checkpoint_params(tmp_path / "w" / r["run_dir"])["param/0.weight"].shape for r in _runs(tmp_path / "w")]
    assert shapes == [(4, 2), (6, 2)]


def test_early_stopping_patience_can_be_swept(tiny, tmp_path):
    tiny.write_text(TINY.replace("epochs = 4", "epochs = 40"))
    assert main([str(tiny), "--quiet", "--out", "p", "--sweep", "train.patience=1,50"]) == 0
    runs = _runs(tmp_path / "p")
    assert all(r["best_epoch"] != "" for r in runs)
    short = _metrics(tmp_path / "p" / runs[0]["run_dir"])
    assert short["stopped_early"] and short["epochs"] == short["best_epoch"] + 1


def test_a_diverging_run_is_marked_and_the_others_finish(tiny, tmp_path, capsys):
    code = main([str(tiny), "--quiet", "--out", "d", "--set", "loss.name=mse", "--set", "model.activation=relu",
                 "--sweep", "optim.lr=0.1,1e7"])
    assert code == 3
    assert [r["status"] for r in _runs(tmp_path / "d")] == ["completed", "diverged"]
    assert [r["failed"] for r in _summary(tmp_path / "d")] == ["0", "1"]
    out = capsys.readouterr().out
    assert "diverged" in out and "optim.lr" in out


def test_sweep_plots(tiny, tmp_path):
    pytest.importorskip("matplotlib")
    assert main([str(tiny), "--quiet", "--out", "p", "--plot", "--sweep", "loss.l2=0,0.01,0.1", "--repeats", "2"]) == 0
    for name in ("validation_curve.png", "loss_curves.png", "decision_boundaries.png", "weight_norms.png",
                 "weight_histograms.png"):
        assert (tmp_path / "p" / name).read_bytes()[:4] == b"\x89PNG"
    assert not (tmp_path / "p" / "heatmap.png").exists()  # one key: no heatmap


@pytest.mark.parametrize("args, message", [
    (["--sweep", "loss.l3=0,1"], "unknown key 'loss.l3' (did you mean 'loss.l2'?)"),
    (["--sweep", "model.activation=relu,tanh"], "'model.activation' is not numeric"),
    (["--sweep", "loss.l2="], "--sweep loss.l2: expected a comma-separated list of values"),
    (["--sweep", "loss.l2=0,,1"], "--sweep loss.l2: expected a comma-separated list of values"),
    (["--sweep", "loss.l2=a,b"], "loss.l2: expected a number >= 0, got 'a' (string)"),
    (["--sweep", "loss.l2=0,-1"], "loss.l2: expected a number >= 0, got -1"),
    (["--sweep", "loss.l2"], "--sweep expects KEY=V1,V2"),
    (["--sweep", "loss.l2=0,1", "--jobs", "0"], "--jobs must be an integer >= 1"),
    (["--sweep", "loss.l2=0.1,0.1"], "the value 0.1 is listed twice"),
    (["--sweep", "loss.l2=0.1,1e-1"], "the value 0.1 is listed twice"),
    (["--sweep", "loss.l2=0,1", "--repeats", "0"], "sweep.repeats: expected an integer >= 1"),
    (["--sweep", "loss.l2=0,1", "--cv", "1"], "sweep.cv: expected 0 (off) or an integer >= 2"),
    (["--sweep", "optim.lr=0.1,1", "--set", "sweep.select=one_se"], "sweep.select = 'one_se'"),
    (["--repeats", "3"], "the sweep has no grid"),
    (["--sweep", "init_seed=1,2", "--repeats", "2"], "sweep init_seed or set repeats, not both"),
    (["--sweep", "seed=0,1"], "seed cannot be a grid key"),
    (["--sweep", "seed=0,1", "--sweep", "loss.l2=0,1"], "seed cannot be a grid key"),
    (["--sweep", "loss.l2=0,1", "--backend", "dask"], "sweep.backend = 'dask' needs sweep.address"),
])
def test_bad_sweeps_exit_2_naming_the_key(args, message, tiny, tmp_path, capsys):
    assert main([str(tiny), "--quiet", *args]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err and message in err, err
    assert not (tmp_path / "runs").exists()


def test_distinct_values_get_distinct_folders(tiny, tmp_path):
    assert main([str(tiny), "--quiet", "--out", "c", "--sweep", "loss.l2=0.0001,0.00010000001"]) == 0
    assert len({r["run_dir"] for r in _runs(tmp_path / "c")}) == 2


def test_parse_sweep_keeps_bracketed_lists_together():
    assert parse_sweep(["model.hidden=[8,8],16", "loss.l2=0,1e-3"]) == {
        "model.hidden": [[8, 8], 16], "loss.l2": [0, 0.001]}


# ---- selection on validation only ---------------------------------------------------------

def _fake_runs(config, scores):
    """SweepRuns with given (val_accuracy, test_accuracy) per grid value and repeat."""
    runs = []
    for value, replicate_scores in scores.items():
        for repeat, (val, test) in enumerate(replicate_scores):
            task = SweepTask({next(iter(config.sweep)): value}, repeat, None, config, Path(f"v={value}_r{repeat}"))
            row = {"epoch": 10, "train_loss": 0.1, "val_loss": 1 - val, "test_loss": 1 - test,
                   "train_accuracy": 0.99, "val_accuracy": val, "test_accuracy": test, "weight_norm_0.weight": 1.0}
            runs.append(SweepRun(task, "completed", row))
    return runs


def test_selection_uses_validation_even_where_test_disagrees():
    config = config_from_dict({"sweep": {"loss.l2": [0.0, 0.01, 0.1], "repeats": 2}})
    runs = _fake_runs(config, {
        0.0: [(0.80, 0.95), (0.82, 0.96)],   # the best test score ...
        0.01: [(0.90, 0.85), (0.92, 0.84)],  # ... but this is the best on validation
        0.1: [(0.85, 0.90), (0.86, 0.90)],
    })
    points = summarize(runs, config)
    assert [p.selected for p in points] == [False, True, False]
    table = summary_table(runs, config)
    assert [line.rstrip().endswith("*") for line in table.splitlines()[2:5]] == [False, True, False]


def test_one_se_picks_the_strongest_penalty_within_one_standard_error_of_the_best():
    config = config_from_dict({"sweep": {"loss.l2": [0.0, 0.01, 0.1, 1.0], "repeats": 3, "select": "one_se"}})
    runs = _fake_runs(config, {
        0.0: [(0.80, 0.8)] * 3,
        0.01: [(0.90, 0.8), (0.92, 0.8), (0.88, 0.8)],  # best: mean 0.90, std 0.02, se 0.0115
        0.1: [(0.895, 0.8), (0.89, 0.8), (0.90, 0.8)],  # mean 0.895 >= 0.90 - 0.0115: within one SE
        1.0: [(0.70, 0.8)] * 3,
    })
    assert [p.selected for p in summarize(runs, config)] == [False, False, True, False]
    best = config_from_dict({"sweep": {"loss.l2": [0.0, 0.01, 0.1, 1.0], "repeats": 3}})
    assert [p.selected for p in summarize(runs, best)] == [False, True, False, False]


def test_one_se_on_patience_takes_0_for_no_early_stopping_the_weakest():
    """patience 5 stops earliest (strongest); 0 switches early stopping off (weakest)."""
    config = config_from_dict({"sweep": {"train.patience": [0, 5, 200], "repeats": 3, "select": "one_se"}})
    runs = _fake_runs(config, {
        0: [(0.955, 0.8), (0.95, 0.8), (0.955, 0.8)],  # mean 0.953: within one SE of the best
        5: [(0.89, 0.8), (0.90, 0.8), (0.90, 0.8)],  # not
        200: [(0.95, 0.8), (0.97, 0.8), (0.95, 0.8)],  # the best: mean 0.957, se 0.0067
    })
    assert [p.selected for p in summarize(runs, config)] == [False, False, True]


def test_paired_differences_to_the_first_point_with_a_95_percent_interval():
    config = config_from_dict({"sweep": {"loss.l2": [0.0, 0.1], "repeats": 3}})
    runs = _fake_runs(config, {0.0: [(0.80, 0.8), (0.70, 0.8), (0.90, 0.8)],
                               0.1: [(0.82, 0.8), (0.73, 0.8), (0.91, 0.8)]})  # +0.02, +0.03, +0.01
    second = summarize(runs, config)[1]
    mean, half = second.diff
    assert mean == pytest.approx(0.02)
    assert half == pytest.approx(4.302652729911275 * 0.01 / math.sqrt(3))  # t(0.975, 2) · sd / √n


def test_without_a_validation_split_nothing_is_selected(tiny, tmp_path, capsys):
    assert main([str(tiny), "--quiet", "--out", "nv", "--set", "data.val_size=0", "--sweep", "loss.l2=0,0.1"]) == 0
    assert [r["selected"] for r in _summary(tmp_path / "nv")] == ["0", "0"]
    assert "nothing selected" in capsys.readouterr().out


def test_l2_sweep_config_shows_overfitting_without_a_penalty(tmp_path):
    """The shipped l2_sweep config: λ=0 fits the training set best but not the validation set."""
    root = Path(__file__).resolve().parents[1]
    assert main([str(root / "configs" / "l2_sweep.toml"), "--quiet", "--out", str(tmp_path / "l2"),
                 "--sweep", "loss.l2=0,1e-2", "--set", "sweep.repeats=1", "--set", "train.epochs=600",
                 "--jobs", "2"]) == 0
    none, some = _summary(tmp_path / "l2")
    assert float(none["train_accuracy_mean"]) > float(some["train_accuracy_mean"])
    assert float(none["val_loss_mean"]) > float(some["val_loss_mean"])
    assert float(none["weight_norm_mean"]) > float(some["weight_norm_mean"])


# ---- sweeps that survive -------------------------------------------------------------------

def test_ctrl_c_keeps_finished_runs_and_resume_finishes_the_rest(tmp_path):
    import signal
    import time

    config = tmp_path / "long.toml"
    config.write_text(TINY.replace("epochs = 4", "epochs = 150"))
    args = [config, "--quiet", "--sweep", "loss.l2=0,0.01,0.1,1"]
    process = start_train([*args, "--out", "s"], cwd=tmp_path)
    runs_file = tmp_path / "s" / "runs.csv"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not (runs_file.exists() and len(read_csv(runs_file)) >= 1):
        time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 130
    assert err.strip().startswith("error: sweep interrupted; finished runs are in s") and "Traceback" not in err
    assert "--resume s" in err
    done = read_csv(runs_file)
    assert 1 <= len(done) < 4 and all(r["status"] == "completed" for r in done)
    assert len(read_csv(tmp_path / "s" / "summary.csv")) >= 1
    before = {r["run_dir"]: (tmp_path / "s" / r["run_dir"] / "metrics.json").stat().st_mtime_ns for r in done}

    resumed = start_train(["--quiet", "--resume", "s"], cwd=tmp_path)
    resumed.communicate(timeout=120)
    assert resumed.returncode == 0
    for run_dir, mtime in before.items():  # finished runs were skipped, not trained again
        assert (tmp_path / "s" / run_dir / "metrics.json").stat().st_mtime_ns == mtime
    straight = start_train([*args, "--out", "straight"], cwd=tmp_path)
    straight.communicate(timeout=120)
    a, b = _runs(tmp_path / "s"), _runs(tmp_path / "straight")
    assert [r["run_dir"] for r in a] == [r["run_dir"] for r in b] and len(a) == 4
    for x, y in zip(a, b, strict=True):
        assert same_params(checkpoint_params(tmp_path / "s" / x["run_dir"]),
                           checkpoint_params(tmp_path / "straight" / y["run_dir"]))


def test_a_sweep_over_a_bundled_dataset(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["--quiet", "--out", "iris", "--set", "data.dataset=iris", "--set", "train.epochs=2",
                 "--sweep", "loss.l2=0,0.01"]) == 0
    assert [r["status"] for r in _runs(tmp_path / "iris")] == ["completed", "completed"]


# ---- on a Dask cluster ----------------------------------------------------------------------

def test_a_dask_cluster_gives_the_local_results_bit_for_bit(tiny, tmp_path):
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                                  host="127.0.0.1") as cluster:
        address = cluster.scheduler_address
        assert main([str(tiny), "--quiet", "--out", "dask", "--sweep", "loss.l2=0,0.01,0.1", "--repeats", "2",
                     "--backend", "dask", "--address", address]) == 0
    assert main([str(tiny), "--quiet", "--out", "local", "--sweep", "loss.l2=0,0.01,0.1", "--repeats", "2"]) == 0
    remote, local = _runs(tmp_path / "dask"), _runs(tmp_path / "local")
    assert len(remote) == 6 and [r["run_dir"] for r in remote] == [r["run_dir"] for r in local]
    for x, y in zip(remote, local, strict=True):
        assert same_params(checkpoint_params(tmp_path / "dask" / x["run_dir"]),
                           checkpoint_params(tmp_path / "local" / y["run_dir"]))
        assert x["val_loss"] == y["val_loss"] and x["test_loss"] == y["test_loss"]


def test_an_unreachable_dask_scheduler_is_a_clear_error(tiny, tmp_path, capsys):
    pytest.importorskip("distributed")
    code = main([str(tiny), "--quiet", "--out", "x", "--sweep", "loss.l2=0,1", "--backend", "dask",
                 "--address", "tcp://127.0.0.1:9"])
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: sweep.address: cannot reach the Dask scheduler") and "\n" not in err


def test_without_dask_the_error_names_the_extra(tiny, tmp_path, capsys, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "dask.distributed", None)  # import dask.distributed fails
    code = main([str(tiny), "--quiet", "--out", "x", "--sweep", "loss.l2=0,1", "--backend", "dask",
                 "--address", "tcp://127.0.0.1:8786"])
    assert code == 2
    assert "pip install 'minnet[dask]'" in capsys.readouterr().err


def test_a_sweep_worker_trains_its_run_without_importing_scikit_learn(tmp_path):
    """The parent loads each run's data and sends it along: a worker process (a fresh
    interpreter here, as loky starts one) trains the run without importing scikit-learn."""
    import os
    import pickle
    import subprocess
    import sys

    from minnet.train.sweep import _Datasets, sweep_tasks

    config = config_from_dict({"name": "w", "data": {"dataset": "moons", "n_samples": 120}, "model": {"hidden": [4]},
                               "train": {"epochs": 2}, "sweep": {"loss.l2": [0.0, 0.01]}})
    task = sweep_tasks(config, tmp_path / "sweep")[1]
    parcel = tmp_path / "task.pickle"  # the test's own objects, as joblib would send them
    parcel.write_bytes(pickle.dumps((task, _Datasets()(task.config))))
    code = ("import pickle, sys\n"
            "task, dataset = pickle.loads(open(sys.argv[1], 'rb').read())\n"
            "from minnet.train.sweep import _train_one\n"
            "run = _train_one(task, False, False, dataset)\n"
            "print(run.status, sorted(m for m in sys.modules if m.split('.')[0] == 'sklearn')[:3])\n")
    root = Path(__file__).resolve().parents[1]
    result = subprocess.run([sys.executable, "-c", code, str(parcel)], capture_output=True, text=True, timeout=120,
                            env={**os.environ, "PYTHONPATH": str(root)})
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["completed", "[]"], result.stdout
    assert (task.run_dir / "model.npz").is_file()


def test_jobs_that_would_not_fit_in_memory_together_are_refused_before_any_run(tiny, tmp_path, capsys, monkeypatch):
    from minnet.train import inputs, load_config
    from minnet.train.config import memory_needs

    one_run = sum(memory_needs(load_config(tiny)).values())
    monkeypatch.setattr(inputs, "memory_limit", lambda: int(1.5 * one_run))  # one run fits, two do not
    assert main([str(tiny), "--quiet", "--out", "s", "--sweep", "loss.l2=0,0.01", "--jobs", "2"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: this would need about")
    assert "in the 2 runs that --jobs 2 trains at once" in err[0]
    assert not (tmp_path / "s").exists()
    assert main([str(tiny), "--quiet", "--out", "s", "--sweep", "loss.l2=0,0.01", "--jobs", "1"]) == 0
