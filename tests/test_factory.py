"""model.factory: a user's own nn.Module trained from a config, end to end."""

from __future__ import annotations

import sys

import numpy as np
import pytest
from run_files import checkpoint_params, same_params

from minnet.cli import main
from minnet.train import load_run

pytestmark = pytest.mark.slow

MODULE = '''
from minnet import nn

class Skip(nn.Module):
    def __init__(self, n_in, n_out, width):
        self.inp = nn.Linear(n_in, width)
        self.hidden = nn.Linear(width, width)
        self.out = nn.Linear(width, n_out)

    def forward(self, x):
        h = self.inp(x).tanh()
        return self.out(h + self.hidden(h).tanh())

def skip(n_inputs, n_outputs, width=8):
    return Skip(n_inputs, n_outputs, width)

def raises(n_inputs, n_outputs):
    raise RuntimeError("no GPU here")

def wrong_inputs(n_inputs, n_outputs):
    return nn.Linear(n_inputs + 1, n_outputs)

def wrong_outputs(n_inputs, n_outputs):
    return nn.Linear(n_inputs, n_outputs + 3)

def not_a_module(n_inputs, n_outputs):
    return "oops"
'''

CONFIG = '''
name = "mine"
[data]
dataset = "moons"
n_samples = 200
[model]
factory = "{factory}"
options = {options}
[train]
epochs = 6
'''


@pytest.fixture
def folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delitem(sys.modules, "mymodels", raising=False)  # another test's folder had one too
    (tmp_path / "mymodels.py").write_text(MODULE)
    return tmp_path


def _config(folder, factory="mymodels:skip", options="{width = 6}"):
    path = folder / "mine.toml"
    path.write_text(CONFIG.format(factory=factory, options=options))
    return path


def test_a_factory_model_trains_resumes_sweeps_and_predicts(folder, capsys):
    config = _config(folder)
    assert main([str(config), "--quiet", "--out", "a"]) == 0
    params = checkpoint_params(folder / "a")
    assert params["param/hidden.weight"].shape == (6, 6)
    model = load_run(folder / "a")
    assert type(model.model).__name__ == "Skip"
    assert main([str(config), "--quiet", "--out", "b", "--set", "train.epochs=3"]) == 0
    assert main(["--quiet", "--resume", "b", "--set", "train.epochs=6"]) == 0
    assert same_params(checkpoint_params(folder / "a"), checkpoint_params(folder / "b"))
    assert main([str(config), "--quiet", "--out", "s", "--sweep", "loss.l2=0,0.01"]) == 0
    assert main([str(config), "--quiet", "--out", "c"]) == 0
    assert same_params(checkpoint_params(folder / "a"), checkpoint_params(folder / "c"))  # seeded: reproducible


@pytest.mark.parametrize("factory, options, message", [
    ("nomodule:skip", "{}", "model.factory: no module 'nomodule' in the working directory"),
    ("os:kill", "{}", "model.factory: no module 'os' in the working directory"),  # library code is never called
    ("broken:skip", "{}", "model.factory: cannot import 'broken' (ZeroDivisionError"),
    ("mymodels:missing", "{}", "model.factory: 'mymodels' has no function 'missing'"),
    ("mymodels:not_a_module", "{}", "returned str, not an nn.Module"),
    ("mymodels:skip", "{depth = 3}", "cannot be called as skip(n_inputs, n_outputs, **model.options)"),
    ("not a name", "{}", "model.factory: expected 'package.module:function'"),
    ("mymodels:raises", "{}", "model.factory 'mymodels:raises' raised RuntimeError: no GPU here"),
    ("mymodels:wrong_inputs", "{}", "the model fails on a batch of 2 features (ValueError: Linear(in_features=3"),
    ("mymodels:wrong_outputs", "{}", "maps 2 features to outputs of shape (1, 5) for one row; the data needs (1, 2)"),
])
def test_a_bad_factory_is_one_error_line_and_exit_2(folder, factory, options, message, capsys, monkeypatch):
    (folder / "broken.py").write_text("1 / 0\n")
    monkeypatch.delitem(sys.modules, "broken", raising=False)
    assert main([str(_config(folder, factory, options)), "--quiet", "--out", "x"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err and message in err, err


def test_a_run_folder_names_a_factory_that_is_imported_only_from_the_working_directory(folder, tmp_path, monkeypatch):
    """A checkpoint names its factory; elsewhere, or naming library code (a tampered
    checkpoint), it is refused before anything is imported or called."""
    from minnet.train.errors import ConfigError
    from minnet.train.factory import build_from_factory

    assert main([str(_config(folder)), "--quiet", "--out", "a"]) == 0
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    monkeypatch.delitem(sys.modules, "mymodels")
    with pytest.raises(ConfigError, match="no module 'mymodels' in the working directory"):
        load_run(folder / "a")
    calls = []
    monkeypatch.setattr("os.kill", lambda *a: calls.append(a))
    with pytest.raises(ConfigError, match="no module 'os'"):
        build_from_factory("os:kill", {}, 12345, 15, np.random.default_rng(0))
    assert calls == []


def test_the_shipped_custom_model_config_runs(tmp_path, monkeypatch):
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    monkeypatch.chdir(root)
    assert main([str(root / "configs" / "custom_model.toml"), "--quiet", "--out", str(tmp_path / "cm"),
                 "--set", "train.epochs=2"]) == 0
    assert type(load_run(tmp_path / "cm").model).__name__ == "ResidualMLP"
