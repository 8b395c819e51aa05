"""Configs: defaults, the round trip through config.toml, --set values."""

from pathlib import Path

import pytest

from minnet.train.config import Config, config_from_dict, load_config, parse_value, to_toml
from minnet.train.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("path", sorted((ROOT / "configs").glob("*.toml")), ids=lambda p: p.name)
def test_every_shipped_config_survives_the_round_trip_through_toml(path, tmp_path):
    config = load_config(path)
    written = tmp_path / "config.toml"
    written.write_text(to_toml(config))
    assert load_config(written) == config


def test_an_empty_config_is_the_default_moons_run():
    config = config_from_dict({})
    assert config == Config()
    assert (config.data.dataset, config.model.hidden, config.optim.lr, config.train.epochs) == ("moons", (16,), 0.5, 100)


def test_the_name_defaults_to_the_file_name(tmp_path):
    path = tmp_path / "my_run.toml"
    path.write_text("[train]\nepochs = 3\n")
    assert load_config(path).name == "my_run"


@pytest.mark.parametrize("text, value", [
    ("0.1", 0.1), ("3", 3), ("[8, 8]", [8, 8]), ("true", True), ('"iris"', "iris"), ("iris", "iris"), ("1e-3", 0.001),
])
def test_set_values_are_toml_literals_or_bare_strings(text, value):
    assert parse_value(text) == value


def test_set_overrides_and_converts(tmp_path):
    config = load_config(None, ["optim.lr=1", "model.hidden=8", "data.dataset=iris", "loss.l2=0"])
    assert config.optim.lr == 1.0 and isinstance(config.optim.lr, float)
    assert config.model.hidden == (8,) and config.data.dataset == "iris"


def test_seed_must_fit_numpys_range():
    with pytest.raises(ConfigError, match=r"seed: expected an integer in \[0, 2\*\*32\)"):
        config_from_dict({"seed": 2**32})
