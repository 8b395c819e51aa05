"""The errors the command line turns into exit codes, each with a one-line message."""

from __future__ import annotations

__all__ = ["MinnetError", "ConfigError", "DataError", "CheckpointError", "DivergedError", "TrainingInterrupted"]


class MinnetError(Exception):
    """Base class: ``str(error)`` is the whole message a user sees after ``error:``."""

    exit_code = 2


class ConfigError(MinnetError, ValueError):
    """A config key, type or value is wrong; the message names the key path."""


class DataError(MinnetError, ValueError):
    """A data file is missing or malformed; the message names the file (line, column)."""


class CheckpointError(MinnetError, ValueError):
    """A file is not a minnet checkpoint, or does not fit the model."""


class DivergedError(MinnetError, ArithmeticError):
    """The loss became NaN or infinite."""

    exit_code = 3


class TrainingInterrupted(MinnetError):
    """Ctrl-C during training; everything up to the last finished epoch is saved."""

    exit_code = 130
