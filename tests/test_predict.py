"""From a trained run to predictions: labels in their original type, features by name,
and the predict / evaluate commands."""

from __future__ import annotations

import csv
import os
import stat
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from sklearn.datasets import load_iris, make_moons

from minnet.cli import main
from minnet.train import load_run, train
from minnet.train.config import config_from_dict

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "data" / "example.csv"


def _train(tmp_path, raw, name="run"):
    train(config_from_dict(raw), tmp_path / name)
    return load_run(tmp_path / name)


def test_moons_predictions_are_integer_labels_that_compare_with_y(tmp_path):
    model = _train(tmp_path, {"data": {"dataset": "moons", "n_samples": 400}, "train": {"epochs": 30}})
    X, y = make_moons(400, noise=0.2, random_state=0)
    predicted = model.predict(X)
    assert predicted.dtype.kind == "i" and set(predicted) <= {0, 1}
    assert (predicted == y).mean() > 0.8 and model.score(X, y) == pytest.approx((predicted == y).mean())


def test_iris_predictions_are_its_integer_targets(tmp_path):
    model = _train(tmp_path, {"data": {"dataset": "iris"}, "model": {"hidden": [16]}, "optim": {"lr": 0.5},
                              "train": {"epochs": 200}})
    X, y = load_iris(return_X_y=True)
    assert model.classes_ == [0, 1, 2] and model.class_names == ["setosa", "versicolor", "virginica"]
    assert model.score(X, y) > 0.9


def test_csv_text_labels_come_back_as_text(tmp_path):
    model = _train(tmp_path, {"data": {"dataset": "csv", "path": str(EXAMPLE)}, "train": {"epochs": 20}})
    assert model.classes_ == ["apple", "lemon", "orange"]
    with EXAMPLE.open() as f:
        rows = list(csv.DictReader(f))
    X = np.array([[float(r[c]) for c in model.feature_names] for r in rows])
    assert set(model.predict(X)) <= {"apple", "lemon", "orange"}
    assert model.score(X, [r["fruit"] for r in rows]) > 0.8


def test_csv_integer_labels_come_back_as_integers(tmp_path):
    path = tmp_path / "ints.csv"
    rng = np.random.default_rng(0)
    x = rng.normal(size=(60, 2))
    label = (x[:, 0] > 0).astype(int) * 3 + 1  # classes 1 and 4
    path.write_text("a,b,label\n" + "".join(f"{p},{q},{c}\n" for (p, q), c in zip(x, label, strict=True)))
    model = _train(tmp_path, {"data": {"dataset": "csv", "path": str(path)}, "train": {"epochs": 40}})
    assert model.classes_ == [1, 4]
    assert set(model.predict(x).tolist()) <= {1, 4} and model.score(x, label) > 0.8


def test_dataframes_are_matched_by_column_name(tmp_path):
    pd = pytest.importorskip("pandas")
    model = _train(tmp_path, {"data": {"dataset": "moons", "n_samples": 300}, "train": {"epochs": 30}})
    X, y = make_moons(300, noise=0.2, random_state=1)
    frame = pd.DataFrame(X, columns=["x0", "x1"])
    np.testing.assert_array_equal(model.predict(frame[["x1", "x0"]]), model.predict(X))  # reordered by name
    with pytest.raises(ValueError, match=r"lacks the feature columns \['x1'\]"):
        model.predict(frame[["x0"]])


def test_a_wrong_number_of_features_is_a_clear_error(tmp_path):
    model = _train(tmp_path, {"data": {"dataset": "moons", "n_samples": 100}, "train": {"epochs": 2}})
    with pytest.raises(ValueError, match=r"expected an array of shape \(n, 2\)"):
        model.predict(np.zeros((3, 3)))


def test_predict_and_evaluate_commands(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(ROOT)
    assert main([str(ROOT / "configs" / "csv_example.toml"), "--quiet", "--out", str(tmp_path / "run")]) == 0
    shuffled = tmp_path / "shuffled.csv"
    with EXAMPLE.open() as f:
        rows = list(csv.reader(f))
    order = [3, 1, 0, 2]  # the target first, the features in another order
    shuffled.write_text("\n".join(",".join(row[i] for i in order) for row in rows) + "\n")
    capsys.readouterr()
    assert main(["predict", str(tmp_path / "run"), str(shuffled), "-o", str(tmp_path / "p.csv")]) == 0
    with (tmp_path / "p.csv").open() as f:
        predictions = list(csv.DictReader(f))
    assert len(predictions) == len(rows) - 1
    assert list(predictions[0]) == ["prediction", "proba_apple", "proba_lemon", "proba_orange"]
    assert sum(p["prediction"] == r[3] for p, r in zip(predictions, rows[1:], strict=True)) > 0.8 * len(predictions)
    assert main(["evaluate", str(tmp_path / "run"), str(EXAMPLE)]) == 0
    out = capsys.readouterr().out
    assert "accuracy" in out and "loss" in out


@pytest.mark.parametrize("content, message", [
    ("weight_g\n1\n", "lacks the feature columns ['diameter_cm', 'sugar_pct']"),
    ("weight_g,diameter_cm,sugar_pct\n1,2,x\n", "column 'sugar_pct': 'x' is not a number"),
    ("weight_g,diameter_cm,sugar_pct\n", "needs a header row and at least one data row"),
    ("weight_g,diameter_cm,sugar_pct,weight_g\n1,2,3,4\n", "the header names ['weight_g'] more than once"),
    ("weight_g,diameter_cm,sugar_pct\n1e300,2,3\n", "row 1, feature 'weight_g' is beyond the range of the model's float32"),
])
def test_predict_on_bad_data_exits_2_with_one_line(content, message, tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)
    assert main([str(ROOT / "configs" / "csv_example.toml"), "--quiet", "--out", str(tmp_path / "run")]) == 0
    bad = tmp_path / "bad.csv"
    bad.write_text(content)
    result = subprocess.run([sys.executable, "-m", "minnet", "predict", str(tmp_path / "run"), str(bad)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    err = result.stderr.strip()
    assert err.startswith("error: ") and "\n" not in err and "Traceback" not in err and message in err, err


def test_evaluate_needs_the_target_column(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(ROOT)
    assert main([str(ROOT / "configs" / "csv_example.toml"), "--quiet", "--out", str(tmp_path / "run")]) == 0
    features_only = tmp_path / "f.csv"
    features_only.write_text("weight_g,diameter_cm,sugar_pct\n140,8,10\n")
    assert main(["evaluate", str(tmp_path / "run"), str(features_only)]) == 2
    assert "no target column 'fruit'" in capsys.readouterr().err


@pytest.mark.parametrize("target", ["model.npz", "history.csv", "fifo", "device"])
def test_predict_never_replaces_the_runs_own_files_or_a_special_file(target, tmp_path, monkeypatch, capsys):
    """-o is written by replacing the file: a run's own file, a named pipe or a device
    (as root, /dev/null itself) would be replaced by a regular one."""
    monkeypatch.chdir(ROOT)
    assert main([str(ROOT / "configs" / "csv_example.toml"), "--quiet", "--out", str(tmp_path / "run"),
                  "--set", "train.epochs=2"]) == 0
    path = tmp_path / "run" / target
    if target == "fifo":
        os.mkfifo(path)
    elif target == "device":
        try:
            os.mknod(path, 0o666 | stat.S_IFCHR, os.makedev(1, 3))  # like /dev/null
        except PermissionError:
            pytest.skip("making a device file needs root")
    before = path.read_bytes() if path.is_file() else None
    mode = os.lstat(path).st_mode
    capsys.readouterr()
    assert main(["predict", str(tmp_path / "run"), str(EXAMPLE), "-o", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: -o") and "\n" not in err
    assert os.lstat(path).st_mode == mode and (before is None or path.read_bytes() == before)


def test_evaluate_refuses_a_target_beyond_the_models_range(tmp_path, capsys):
    """Training refuses such a target; evaluate did not, and reported loss inf, r2 -inf."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(80, 2))
    rows = "\n".join(f"{a:.4f},{b:.4f},{a + 2 * b:.4f}" for a, b in x)
    (tmp_path / "reg.csv").write_text("a,b,y\n" + rows + "\n")
    train(config_from_dict({"data": {"dataset": "csv", "path": str(tmp_path / "reg.csv")}, "train": {"epochs": 2},
                            "dtype": "float32"}), tmp_path / "run")
    (tmp_path / "big.csv").write_text("a,b,y\n0.1,0.2,0.5\n0.3,0.1,1e300\n")
    capsys.readouterr()
    assert main(["evaluate", str(tmp_path / "run"), str(tmp_path / "big.csv")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err and "data row 2: the target 1e+300 is beyond the range" in err, err
