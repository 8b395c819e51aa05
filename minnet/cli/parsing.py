"""What every command shares: a parser whose usage errors are one ``error:`` line, and
where the config comes from when none is given."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import NoReturn

from minnet.train.errors import ConfigError

__all__ = ["Parser", "DEFAULT_CONFIG", "config_path"]

DEFAULT_CONFIG = Path("configs") / "moons.toml"


class Parser(argparse.ArgumentParser):
    """argparse, but a usage mistake is one ``error:`` line and exit code 2."""

    def error(self, message: str) -> NoReturn:
        raise ConfigError(f"{message} (see --help)")


def config_path(given: str | None) -> str | Path | None:
    """The config to use: as given, else configs/moons.toml, else the built-in defaults (moons)."""
    if given:
        return given
    return DEFAULT_CONFIG if DEFAULT_CONFIG.is_file() else None
