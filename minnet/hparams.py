"""The one table of hyper-parameter rules, shared by every door that takes them.

``SGD(lr=...)``, ``nn.Linear(...)``, the config file (``optim.lr``) and the
scikit-learn estimators (``lr=``) all check a value with the same ``Rule``, so they
agree on what is allowed (``lr = 0`` is refused everywhere: it trains nothing) and
say so in the same words.  A rule raises ``ValueError`` naming the parameter; the
config turns that into a ``ConfigError`` naming the key path.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from minnet.autograd.activations import ACTIVATIONS

__all__ = ["Rule", "RULES", "describe", "integer", "number", "string", "boolean", "one_of"]


def describe(value: Any) -> str:
    """``0 (integer)``, ``'x' (string)``: a value as error messages show it."""
    kind = {bool: "boolean", int: "integer", float: "number", str: "string", list: "list", dict: "table"}
    text = repr(value)
    if len(text) > 60:
        text = text[:57] + "..."
    return f"{text} ({kind.get(type(value), type(value).__name__)})"


def _always(value: Any) -> bool:
    return True


@dataclass(frozen=True)
class Rule:
    """How to check one value: ``convert`` returns it cleaned, or None if its type is wrong."""

    kind: str  # what the type is called in messages
    convert: Callable[[Any], Any]
    check: Callable[[Any], bool] = _always
    allowed: str = ""  # the allowed values, for messages
    numeric: bool = False  # a config key with this rule may be swept

    def __call__(self, value: Any, name: str) -> Any:
        """The clean value, or ValueError ``name: expected <allowed>, got <value>``."""
        clean = self.convert(value)
        if clean is None:
            raise ValueError(f"{name}: expected {self.allowed or self.kind}, got {describe(value)}")
        if not self.check(clean):
            raise ValueError(f"{name}: expected {self.allowed}, got {describe(value)}")
        return clean


# ---- converters: the clean value, or None for a value of the wrong type -------------

def integer(v: Any) -> int | None:
    if isinstance(v, (bool, np.bool_)):  # True is an Integral, but not a count
        return None
    return int(v) if isinstance(v, numbers.Integral) else None


def number(v: Any) -> float | None:
    if isinstance(v, (bool, np.bool_)):
        return None
    return float(v) if isinstance(v, numbers.Real) and math.isfinite(v) else None


def string(v: Any) -> str | None:
    return v if isinstance(v, str) else None


def boolean(v: Any) -> bool | None:
    return bool(v) if isinstance(v, (bool, np.bool_)) else None


def _widths(v: Any) -> tuple[int, ...] | None:
    if integer(v) is not None:
        return (int(v),)  # a single width, convenient with --set and --sweep
    if isinstance(v, (list, tuple)):
        widths = [integer(w) for w in v]
        if all(w is not None for w in widths):
            return tuple(w for w in widths if w is not None)
    return None


def _pair(v: Any) -> tuple[float, float] | None:
    if isinstance(v, (list, tuple)) and len(v) == 2:
        a, b = number(v[0]), number(v[1])
        if a is not None and b is not None:
            return (a, b)
    return None


def _float_dtype(v: Any) -> str | None:
    """'float32', 'float64', or the numpy type / dtype of one of them."""
    if v is None or isinstance(v, bool):
        return None
    try:
        dt = np.dtype(v)
    except TypeError:
        return None
    return dt.name if dt.name in ("float32", "float64") else None


def one_of(names: Iterable[str]) -> Rule:
    allowed = sorted(names)
    return Rule("string", string, lambda v: v in allowed, "one of " + ", ".join(repr(n) for n in allowed))


def _positive_int(numeric: bool = True) -> Rule:
    return Rule("integer", integer, lambda v: v >= 1, "an integer >= 1", numeric=numeric)


RULES: dict[str, Rule] = {
    "lr": Rule("number", number, lambda v: v > 0, "a number > 0", numeric=True),
    "momentum": Rule("number", number, lambda v: 0 <= v < 1, "a number in [0, 1)", numeric=True),
    "l2": Rule("number", number, lambda v: v >= 0, "a number >= 0", numeric=True),
    "epochs": _positive_int(),
    "batch_size": _positive_int(),
    "features": _positive_int(),
    "hidden": Rule("list of integers", _widths, lambda v: all(w > 0 for w in v),
                   "a list of positive layer widths, e.g. [16] or [32, 32] ([] for none)", numeric=True),
    "activation": one_of(ACTIVATIONS),
    "dtype": Rule("string", _float_dtype, allowed="'float32' or 'float64'"),
    "shuffle": Rule("boolean", boolean, allowed="true or false"),
    "dampening": Rule("number", number, lambda v: 0 <= v <= 1, "a number in [0, 1]", numeric=True),
    "weight_decay": Rule("number", number, lambda v: v >= 0, "a number >= 0", numeric=True),
    "nesterov": Rule("boolean", boolean, allowed="true or false"),
    "betas": Rule("pair of numbers", _pair, lambda v: all(0 <= b < 1 for b in v), "two numbers in [0, 1), e.g. [0.9, 0.999]"),
    "eps": Rule("number", number, lambda v: v >= 0, "a number >= 0", numeric=True),
    "step_size": _positive_int(),
    "gamma": Rule("number", number, lambda v: 0 < v < 1, "a number in (0, 1)", numeric=True),
    "patience": Rule("integer", integer, lambda v: v >= 0, "an integer >= 0", numeric=True),
    "clip_grad_norm": Rule("number", number, lambda v: v >= 0, "a number >= 0 (0: off)", numeric=True),
}
