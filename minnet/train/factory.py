"""``model.factory``: a user's function builds the model a config trains.

``factory = "pkg.module:function"`` names ``function(n_inputs, n_outputs, **options)``,
which returns an ``nn.Module``; ``model.options`` are its keyword arguments.  It is
imported from the working directory, and only from there, called with minnet's
default generator seeded from the run's ``init_seed``, so a run stays reproducible,
and recorded in the checkpoint so ``load_run`` and ``--resume`` build it again.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from minnet import nn
from minnet.autograd.state import get_default_dtype, no_grad, set_default_dtype
from minnet.nn.init import using_generator
from minnet.train.errors import ConfigError

__all__ = ["build_from_factory", "factory_spec"]


@contextmanager
def _importable_from(folder: Path) -> Iterator[None]:
    added = str(folder) not in sys.path
    if added:
        sys.path.insert(0, str(folder))
    try:
        yield
    finally:
        if added:
            sys.path.remove(str(folder))


def _inside(folder: Path, module_name: str) -> bool:
    """Is the top-level package or module of ``module_name`` a file under ``folder``?

    Asked before importing: a checkpoint names its factory, and a tampered one must not
    make minnet import or call library code (``os:kill``) -- a factory is the user's code.
    """
    try:
        spec = importlib.util.find_spec(module_name.partition(".")[0])
    except (ImportError, ValueError):
        return False
    if spec is None:
        return False
    places = [spec.origin] if spec.has_location and spec.origin else []
    places += list(spec.submodule_search_locations or [])
    root = folder.resolve()
    return bool(places) and all(Path(place).resolve().is_relative_to(root) for place in places)


def _function(name: str) -> Any:
    module_name, _, attribute = name.partition(":")
    folder = Path.cwd()
    with _importable_from(folder):
        if not _inside(folder, module_name):
            raise ConfigError(f"model.factory: no module {module_name!r} in the working directory {str(folder)!r}; "
                              "a factory is imported from there (run from the folder that holds it)")
        try:
            module = importlib.import_module(module_name)
        except Exception as exc:  # any error while importing the user's module
            raise ConfigError(f"model.factory: cannot import {module_name!r} ({type(exc).__name__}: {exc})") from None
    function = getattr(module, attribute, None)
    if not callable(function):
        raise ConfigError(f"model.factory: {module_name!r} has no function {attribute!r}")
    return function


def build_from_factory(name: str, options: dict[str, Any], n_inputs: int, n_outputs: int,
                       rng: np.random.Generator, dtype: Any = None) -> nn.Module:
    """``name``'s function called as ``function(n_inputs, n_outputs, **options)``, checked;
    layers it builds draw from ``rng`` and default to ``dtype``."""
    function = _function(name)
    previous = get_default_dtype()
    try:
        set_default_dtype(dtype or previous)
        with using_generator(rng):
            model = function(n_inputs, n_outputs, **options)
    except TypeError as exc:
        raise ConfigError(f"model.factory {name!r} cannot be called as {name.split(':')[1]}(n_inputs, n_outputs, "
                          f"**model.options) with options {options}: {exc}") from None
    except Exception as exc:  # the user's code failing: its own words, on one line
        raise ConfigError(f"model.factory {name!r} raised {type(exc).__name__}: {exc}") from None
    finally:
        set_default_dtype(previous)
    if not isinstance(model, nn.Module):
        raise ConfigError(f"model.factory {name!r} returned {type(model).__name__}, not an nn.Module")
    if not list(model.parameters()):
        raise ConfigError(f"model.factory {name!r} returned a module without parameters: nothing to train")
    _check_shapes(model, name, n_inputs, n_outputs, dtype or previous)
    return model


def _check_shapes(model: nn.Module, name: str, n_inputs: int, n_outputs: int, dtype: Any) -> None:
    """One row through the model before training: it must take n_inputs features and
    give n_outputs values (a wrong width would fail mid-run, or train the wrong head)."""
    try:
        with no_grad():
            out = model(np.zeros((1, n_inputs), dtype=dtype))
    except Exception as exc:
        raise ConfigError(f"model.factory {name!r}: the model fails on a batch of {n_inputs} features "
                          f"({type(exc).__name__}: {exc})") from None
    shape = getattr(out, "shape", None)
    if shape != (1, n_outputs):
        raise ConfigError(f"model.factory {name!r}: the model maps {n_inputs} features to outputs of shape "
                          f"{shape} for one row; the data needs (1, {n_outputs})")


def factory_spec(name: str, options: dict[str, Any], n_inputs: int, n_outputs: int) -> dict[str, Any]:
    """What ``load_run`` needs to build the model again: stored in checkpoints."""
    return {"type": "factory", "factory": name, "options": options, "sizes": [n_inputs, n_outputs]}
