"""What every command shares: a parser whose usage errors are one ``error:`` line, the
checks of the paths given on the command line, and where the config comes from when
none is given."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

from minnet.train.config import FOLDER_MAX_BYTES
from minnet.train.errors import ConfigError

__all__ = ["Parser", "DEFAULT_CONFIG", "config_path", "output_file", "make_folder"]

DEFAULT_CONFIG = Path("configs") / "moons.toml"

# The arguments (by dest) that name a file or folder: read, or written (a file or a folder).
_READ = {"config": "CONFIG", "resume": "--resume", "run_dir": "RUN_DIR", "data": "DATA.csv"}
_WRITTEN = {"out": ("--out", "folder"), "output": ("-o", "file")}
# More parallel runs than this only spawn processes that wait (a typo: --jobs 100000).
MAX_JOBS = 4 * (os.cpu_count() or 1)
PATH_MAX_BYTES = 4000  # below Linux's PATH_MAX (4096), for the names minnet adds inside


class Parser(argparse.ArgumentParser):
    """argparse, but a usage mistake is one ``error:`` line and exit code 2, and the
    arguments every command shares are checked once here: paths (not empty, no NUL,
    names the file system accepts) and ``--jobs`` (not more than the machine can run)."""

    def error(self, message: str) -> NoReturn:
        raise ConfigError(f"{message} (see --help)")

    def _print_message(self, message: str, file: Any = None) -> None:
        # argparse drops an OSError here; --help or --version into a full disk must be exit 2
        if message:
            (file or sys.stderr).write(message)

    def parse_known_args(  # type: ignore[override]
        self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> tuple[argparse.Namespace, list[str]]:
        parsed, rest = super().parse_known_args(args, namespace)
        for dest, label in _READ.items():
            _check_path(getattr(parsed, dest, None), label)
        jobs = getattr(parsed, "jobs", None)
        if isinstance(jobs, int) and jobs > MAX_JOBS:  # (main checks >= 1)
            raise ConfigError(f"--jobs: at most {MAX_JOBS} runs at once (4 per CPU of this machine), got {jobs}")
        for dest, (label, kind) in _WRITTEN.items():
            value = getattr(parsed, dest, None)
            _check_path(value, label)
            if value is not None:
                _check_written(Path(value), label, kind)
        return parsed, rest


def _check_path(value: Any, label: str) -> None:
    if value is None:
        return
    if value == "":
        raise ConfigError(f"{label}: the path is empty")
    if "\0" in value:
        raise ConfigError(f"{label}: the path {value!r} contains a NUL character")


def _check_written(path: Path, label: str, kind: str) -> None:
    """A path minnet will create: each part short enough (temporary files get a longer
    name beside it), and a folder where a folder goes, a file where a file goes."""
    if len(os.fsencode(str(path))) > PATH_MAX_BYTES:
        raise ConfigError(f"{label}: the path is {len(os.fsencode(str(path)))} bytes long; at most {PATH_MAX_BYTES}")
    for part in path.parts:
        if len(os.fsencode(part)) > FOLDER_MAX_BYTES:
            raise ConfigError(f"{label}: the name {part[:40]!r}... is {len(os.fsencode(part))} bytes long; "
                              f"at most {FOLDER_MAX_BYTES} bytes per folder or file name")
    if kind == "folder" and path.exists() and not path.is_dir():
        raise ConfigError(f"{label} {str(path)!r} is a file; expected a folder for the run")
    if kind == "file" and path.is_dir():
        raise ConfigError(f"{label} {str(path)!r} is a folder; give the name of a file inside it")
    if kind == "file" and os.path.lexists(path) and not path.is_file():  # the write would replace it
        raise ConfigError(f"{label} {str(path)!r} is not a regular file (a device, pipe or broken link); "
                          "give the name of a file to write")
    parent = next((p for p in path.parents if p.exists()), None)
    if parent is not None and not parent.is_dir():
        raise ConfigError(f"{label} {str(path)!r}: {str(parent)!r} is a file, not a folder")


def output_file(given: str, label: str, suffixes: Sequence[str] = (), keep: Sequence[Path] = ()) -> Path:
    """The file a command will write, its suffix one of ``suffixes`` (any when empty):
    checked before the work, so a typo costs nothing; never one of ``keep`` (a run's own
    files), which the write would replace."""
    path = Path(given)
    if suffixes and path.suffix.lower() not in suffixes:
        raise ConfigError(f"{label} {given!r}: cannot write {path.suffix or 'a file without a suffix'}; "
                          f"use one of {', '.join(suffixes)}")
    for kept in keep:
        if path.is_file() and kept.is_file() and os.path.samefile(path, kept):
            raise ConfigError(f"{label} {given!r} is the run's own {kept.name}; choose another file")
    return path


def make_folder(path: Path, label: str) -> None:
    """Create the folder ``path`` is to be written in (as ``--out`` creates a run's)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"{label} {str(path)!r}: cannot create the folder {str(path.parent)!r}: "
                          f"{exc.strerror}") from None


def config_path(given: str | None) -> str | Path | None:
    """The config to use: as given, else configs/moons.toml, else the built-in defaults (moons)."""
    if given is not None:
        return given
    return DEFAULT_CONFIG if DEFAULT_CONFIG.is_file() else None
