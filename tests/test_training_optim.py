"""Optimizers, schedules and clipping in training from a config: validated keys, and a
resumed run equal to an uninterrupted one bit for bit, for each of them."""

from __future__ import annotations

import json

import numpy as np
import pytest
from run_files import checkpoint_params, same_params

from minnet.cli import main
from minnet.train import resume, train
from minnet.train.config import config_from_dict, load_config, to_toml
from minnet.train.errors import ConfigError

pytestmark = pytest.mark.slow

BASE = {"name": "o", "seed": 2, "data": {"dataset": "moons", "n_samples": 160, "noise": 0.3},
        "model": {"hidden": [8], "activation": "relu"}, "train": {"epochs": 12}}

VARIANTS = {
    "sgd-nesterov-wd": {"name": "sgd", "lr": 0.1, "momentum": 0.9, "nesterov": True, "weight_decay": 1e-3},
    "sgd-dampening-step": {"name": "sgd", "lr": 0.2, "momentum": 0.8, "dampening": 0.2, "schedule": "step",
                           "step_size": 4, "gamma": 0.5},
    "adam-cosine": {"name": "adam", "lr": 0.01, "betas": [0.8, 0.99], "schedule": "cosine"},
    "adamw-plateau": {"name": "adamw", "lr": 0.01, "weight_decay": 0.05, "schedule": "plateau", "patience": 1,
                      "gamma": 0.5},
}


def _config(optim, **train):
    raw = json.loads(json.dumps(BASE))
    raw["optim"] = optim
    raw["train"].update(train)
    return config_from_dict(raw)


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_resume_is_bit_exact_for_every_optimizer_and_schedule(variant, tmp_path, monkeypatch):
    import minnet.train.run as run_module
    from minnet.train.errors import TrainingInterrupted

    full = _config(VARIANTS[variant], clip_grad_norm=1.0)
    straight = train(full, tmp_path / "straight")
    real, calls = run_module._run_epoch, []

    def interrupted_after_five(run):  # Ctrl-C during epoch 6
        calls.append(1)
        if len(calls) == 6:
            raise KeyboardInterrupt
        real(run)

    monkeypatch.setattr(run_module, "_run_epoch", interrupted_after_five)
    with pytest.raises(TrainingInterrupted):
        train(full, tmp_path / "part")
    monkeypatch.setattr(run_module, "_run_epoch", real)
    resumed = resume(tmp_path / "part")
    assert same_params(checkpoint_params(tmp_path / "part"), checkpoint_params(tmp_path / "straight"))
    assert [r["val_loss"] for r in resumed.history] == [r["val_loss"] for r in straight.history]


def test_schedules_change_the_learning_rate_over_epochs(tmp_path):
    from minnet.train.run import start_run

    run = start_run(_config(VARIANTS["sgd-dampening-step"]))
    rates = []
    for _ in range(9):
        run.schedule.step()
        rates.append(run.optimizer.lr)
    assert rates == [0.2, 0.2, 0.2, 0.1, 0.1, 0.1, 0.1, 0.05, 0.05]


def test_plateau_schedule_watches_the_validation_loss(tmp_path):
    result = train(_config(VARIANTS["adamw-plateau"], epochs=30), tmp_path / "p")
    meta = json.loads((tmp_path / "p" / "metrics.json").read_text())
    assert meta["status"] == "completed"
    with np.load(tmp_path / "p" / "model.npz", allow_pickle=False) as archive:
        checkpoint = json.loads(str(archive["meta"]))
    assert checkpoint["optimizer"]["hyperparameters"]["lr"] < 0.01  # it reduced the rate on a plateau
    assert checkpoint["schedule"]["num_bad_epochs"] >= 0 and result.history


def test_clipping_bounds_every_update(tmp_path):
    tiny = _config({"name": "sgd", "lr": 1e6}, clip_grad_norm=1e-9, epochs=2)
    result = train(tiny, tmp_path / "c")  # a huge rate, but steps of norm lr·1e-9: no divergence
    assert np.isfinite(result.history[-1]["train_loss"])


@pytest.mark.parametrize("optim, message", [
    ({"name": "adam", "momentum": 0.9}, "optim.momentum does not apply to optim.name = 'adam'; it is used by: sgd"),
    ({"name": "sgd", "betas": [0.9, 0.99]}, "optim.betas does not apply to optim.name = 'sgd'"),
    ({"schedule": "cosine", "step_size": 3}, "optim.step_size does not apply to optim.schedule = 'cosine'"),
    ({"name": "rmsprop"}, "optim.name: expected one of 'sgd', 'adam', 'adamw'"),
    ({"schedule": "linear"}, "optim.schedule: expected one of"),
    ({"nesterov": True}, "optim.nesterov needs optim.momentum > 0"),
    ({"name": "adam", "betas": [0.9]}, "optim.betas: expected two numbers in [0, 1)"),
    ({"gamma": 1.5, "schedule": "step"}, "optim.gamma: expected a number in (0, 1)"),
])
def test_bad_optimizer_keys_are_config_errors(optim, message):
    with pytest.raises(ConfigError) as error:
        _config(optim)
    assert message in str(error.value)


def test_plateau_needs_a_validation_split():
    raw = json.loads(json.dumps(BASE))
    raw["data"]["val_size"] = 0
    raw["optim"] = {"schedule": "plateau"}
    with pytest.raises(ConfigError, match="watches the validation loss"):
        config_from_dict(raw)


def test_keys_at_their_default_may_stand_where_they_do_not_apply(tmp_path):
    config = _config({"name": "adam", "momentum": 0.0, "lr": 0.01})  # momentum = 0.0 is the default
    assert config.optim.name == "adam"
    assert "momentum" not in to_toml(config)  # written back without it
    path = tmp_path / "c.toml"
    path.write_text(to_toml(config))
    assert load_config(path) == config


def test_optimizers_can_be_swept(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "s.toml"
    path.write_text(to_toml(_config({"lr": 0.01, "weight_decay": 0.01}, epochs=3)))
    assert main([str(path), "--quiet", "--out", "s", "--sweep", "optim.name=adam,adamw"]) == 0
    runs = (tmp_path / "s" / "runs.csv").read_text().splitlines()
    assert [line.split(",")[0] for line in runs[1:]] == ["adam", "adamw"]
