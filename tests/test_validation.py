"""The validation split and early stopping: decisions look at validation, never at test."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest
from run_files import checkpoint_params, same_params

import minnet
from minnet.train import load_run, resume, train
from minnet.train.config import DataConfig, config_from_dict, to_toml
from minnet.train.data import load_dataset
from minnet.train.errors import ConfigError, DataError

pytestmark = pytest.mark.slow

TINY = {"name": "tiny", "seed": 3, "data": {"dataset": "moons", "n_samples": 200, "noise": 0.3},
        "model": {"hidden": [8], "activation": "tanh"}, "optim": {"lr": 0.5}, "train": {"epochs": 30}}


def _config(**sections):
    raw = json.loads(json.dumps(TINY))
    for section, values in sections.items():
        if isinstance(values, dict):
            raw.setdefault(section, {}).update(values)
        else:
            raw[section] = values
    return config_from_dict(raw)


def test_validation_rows_come_from_the_training_split_stratified_and_disjoint():
    whole = load_dataset(DataConfig(dataset="iris", val_size=0, standardize=False), seed=0)
    split = load_dataset(DataConfig(dataset="iris", val_size=0.25, standardize=False), seed=0)
    np.testing.assert_array_equal(split.X_test, whole.X_test)  # the test split never changes
    assert len(split.X_train) + len(split.X_val) == len(whole.X_train)
    counts = np.bincount(split.y_val, minlength=3)
    assert counts.max() - counts.min() <= 1  # stratified: each class keeps its share
    rows = {tuple(r) for r in split.X_train}
    assert not rows & {tuple(r) for r in split.X_val}


def test_standardisation_uses_the_training_rows_only():
    ds = load_dataset(DataConfig(dataset="wine", val_size=0.3), seed=1)
    np.testing.assert_allclose(ds.X_train.mean(axis=0), 0, atol=1e-5)  # fitted here ...
    assert np.abs(ds.X_val.mean(axis=0)).max() > 1e-3  # ... not on validation rows


def test_folds_partition_the_training_split():
    folds = [load_dataset(DataConfig(n_samples=120, folds=3, fold=k), seed=0) for k in range(3)]
    held = np.vstack([f.X_val for f in folds])
    everything = load_dataset(DataConfig(n_samples=120, val_size=0, standardize=False), seed=0).X_train
    assert len(held) == len(everything)


def test_a_validation_split_too_small_to_stratify_is_a_data_error(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("a,label\n" + "".join(f"{i},{'xyz'[i % 3]}\n" for i in range(12)))
    with pytest.raises(DataError, match="cannot carve a validation split with data.val_size=0.2"):
        load_dataset(DataConfig(dataset="csv", path=str(path)), seed=0)


def test_history_and_metrics_report_val_and_record_versions_and_hashes(tmp_path):
    result = train(_config(), tmp_path / "run")
    row = result.history[-1]
    assert {"val_loss", "val_accuracy", "weight_norm_0.weight", "weight_norm_2.weight"} <= set(row)
    assert row["weight_norm_0.weight"] == pytest.approx(np.linalg.norm(result.model[0].weight.data), rel=1e-6)
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["versions"]["minnet"] == minnet.__version__ and metrics["versions"]["numpy"] == np.__version__
    assert metrics["config_hash"] == hashlib.sha256(to_toml(result.config).encode()).hexdigest()
    again = train(_config(), tmp_path / "again")
    assert again.metrics["data_hash"] == metrics["data_hash"]
    other = train(_config(seed=4), tmp_path / "other")
    assert other.metrics["data_hash"] != metrics["data_hash"]


def test_patience_needs_a_validation_split():
    with pytest.raises(ConfigError, match="train.patience needs a validation split"):
        _config(train={"patience": 3}, data={"val_size": 0})


def test_early_stopping_stops_and_keeps_the_best_epochs_weights(tmp_path):
    result = train(_config(train={"epochs": 200, "patience": 3}, optim={"lr": 2.0}), tmp_path / "run")
    metrics = result.metrics
    best = metrics["best_epoch"]
    assert metrics["stopped_early"] and metrics["epochs"] == best + 3 < 200
    val_losses = [row["val_loss"] for row in result.history]
    assert best == 1 + int(np.argmin(val_losses))  # decided on validation loss
    assert result.row == result.history[best - 1]
    kept = load_run(tmp_path / "run")
    with minnet.no_grad():
        np.testing.assert_array_equal(kept.model(result.dataset.X_val).data, result.model(result.dataset.X_val).data)
    # the model and checkpoint hold epoch `best`: retraining to exactly that epoch gives the same weights
    short = train(_config(train={"epochs": best}, optim={"lr": 2.0}), tmp_path / "short")
    assert same_params(checkpoint_params(tmp_path / "run"), checkpoint_params(tmp_path / "short"))
    def scores(history):
        return [{k: v for k, v in row.items() if k != "seconds"} for row in history]

    assert scores(short.history) == scores(result.history[:best])


def test_resume_with_early_stopping_equals_an_uninterrupted_run(tmp_path):
    long = _config(train={"epochs": 200, "patience": 4}, optim={"lr": 2.0})
    straight = train(long, tmp_path / "straight")
    cut = straight.metrics["epochs"] - 2
    train(_config(train={"epochs": cut, "patience": 4}, optim={"lr": 2.0}), tmp_path / "part")
    resumed = resume(tmp_path / "part", [("train.epochs", 200)])
    assert resumed.metrics["best_epoch"] == straight.metrics["best_epoch"]
    assert resumed.metrics["epochs"] == straight.metrics["epochs"]
    assert same_params(checkpoint_params(tmp_path / "part"), checkpoint_params(tmp_path / "straight"))
    assert [r["val_loss"] for r in resumed.history] == [r["val_loss"] for r in straight.history]


def test_the_progress_bar_never_shows_test_scores(tmp_path, capsys, monkeypatch):
    import tqdm.auto

    shown = []
    real = tqdm.auto.tqdm

    class Recorder(real):
        def set_postfix(self, ordered_dict=None, refresh=True, **kwargs):
            shown.append(dict(ordered_dict or {}))
            return super().set_postfix(ordered_dict, refresh, **kwargs)

    monkeypatch.setattr("minnet.train.run.tqdm", Recorder)
    train(_config(train={"epochs": 3}), tmp_path / "run", quiet=False)
    assert shown and all(not key.startswith("test") for keys in shown for key in keys)
    assert all("val_loss" in keys for keys in shown)


@pytest.mark.parametrize("pred, target", [
    ([[1.0], [2.0], [3.5]], [[1.0], [2.5], [3.0]]),
    ([[3.0], [3.0]], [[3.0], [3.0]]),           # a constant target predicted exactly: 1
    ([[2.0], [4.0]], [[3.0], [3.0]]),           # a constant target missed: 0, not 1 − SSE
    ([[1.0, 3.0], [2.0, 3.0]], [[1.0, 3.0], [2.5, 3.0]]),  # one output of each kind
])
def test_r2_is_scikit_learns(pred, target):
    from sklearn.metrics import r2_score as sklearn_r2

    from minnet.train.metrics import r2_score

    pred, target = np.array(pred), np.array(target)
    assert r2_score(pred, target) == pytest.approx(sklearn_r2(target, pred), abs=1e-12)
