"""``model.factory``: a user's function builds the model a config trains.

``factory = "pkg.module:function"`` names ``function(n_inputs, n_outputs, **options)``,
which returns an ``nn.Module``; ``model.options`` are its keyword arguments.  It is
imported from the working directory (or the config's folder), called with minnet's
default generator seeded from the run's ``init_seed``, so a run stays reproducible,
and recorded in the checkpoint so ``load_run`` and ``--resume`` build it again.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from minnet import nn
from minnet.autograd.state import get_default_dtype, set_default_dtype
from minnet.nn.init import using_generator
from minnet.train.errors import ConfigError

__all__ = ["build_from_factory", "factory_spec"]


@contextmanager
def _importable_from(folders: list[Path]) -> Iterator[None]:
    added = [str(f) for f in folders if str(f) not in sys.path]
    sys.path[:0] = added
    try:
        yield
    finally:
        for folder in added:
            sys.path.remove(folder)


def _function(name: str, folders: list[Path]) -> Any:
    module_name, _, attribute = name.partition(":")
    try:
        with _importable_from(folders):
            module = importlib.import_module(module_name)
    except Exception as exc:  # any error while importing the user's module
        raise ConfigError(f"model.factory: cannot import {module_name!r} ({type(exc).__name__}: {exc}); "
                          "it is looked for in the working directory and the config's folder") from None
    function = getattr(module, attribute, None)
    if not callable(function):
        raise ConfigError(f"model.factory: {module_name!r} has no function {attribute!r}")
    return function


def build_from_factory(name: str, options: dict[str, Any], n_inputs: int, n_outputs: int,
                       rng: np.random.Generator, dtype: Any = None, folders: list[Path] | None = None) -> nn.Module:
    """``name``'s function called as ``function(n_inputs, n_outputs, **options)``, checked;
    layers it builds draw from ``rng`` and default to ``dtype``."""
    function = _function(name, folders or [Path.cwd()])
    previous = get_default_dtype()
    try:
        set_default_dtype(dtype or previous)
        with using_generator(rng):
            model = function(n_inputs, n_outputs, **options)
    except TypeError as exc:
        raise ConfigError(f"model.factory {name!r} cannot be called as {name.split(':')[1]}(n_inputs, n_outputs, "
                          f"**model.options) with options {options}: {exc}") from None
    finally:
        set_default_dtype(previous)
    if not isinstance(model, nn.Module):
        raise ConfigError(f"model.factory {name!r} returned {type(model).__name__}, not an nn.Module")
    if not list(model.parameters()):
        raise ConfigError(f"model.factory {name!r} returned a module without parameters: nothing to train")
    return model


def factory_spec(name: str, options: dict[str, Any], n_inputs: int, n_outputs: int) -> dict[str, Any]:
    """What ``load_run`` needs to build the model again: stored in checkpoints."""
    return {"type": "factory", "factory": name, "options": options, "sizes": [n_inputs, n_outputs]}
