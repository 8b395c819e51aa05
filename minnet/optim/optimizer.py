"""What every optimizer shares: its parameter list, ``zero_grad``, and state that a
checkpoint can hold (arrays per parameter, plain numbers for the hyper-parameters)."""

from __future__ import annotations

import numbers
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from minnet import hparams
from minnet.autograd.tensor import Tensor

__all__ = ["Optimizer"]


def _shown(value: Any) -> str:
    """A value in an error message: its type, and its text when short."""
    text = repr(value)
    return f"{type(value).__name__} {text}" if len(text) <= 80 else f"a {type(value).__name__}"


class Optimizer:
    """Base class: ``params`` (each tensor once), ``lr``, ``step()`` and ``zero_grad()``.

    ``state[i]`` holds parameter i's buffers (numpy arrays, or numbers such as Adam's
    step count); ``hyperparameters`` names the numbers ``state_dict`` saves.
    """

    hyperparameters: tuple[str, ...] = ("lr",)
    buffers: dict[str, str] = {}  # per-parameter state: name -> "array" (of the parameter's shape) or "count"

    def __init__(self, params: Iterable[Tensor], lr: float):
        name = type(self).__name__
        self.params: list[Tensor] = []
        seen: set[int] = set()
        for p in params:
            if not isinstance(p, Tensor):
                raise TypeError(f"{name}: parameters must be Tensors, got {type(p).__name__}")
            if id(p) in seen:
                raise ValueError(f"{name}: a parameter is listed twice; each must appear once (it would be stepped twice)")
            seen.add(id(p))
            self.params.append(p)
        if not self.params:
            raise ValueError(f"{name}: got an empty parameter list")
        self.lr = hparams.RULES["lr"](lr, f"{name}: lr")
        self.state: list[dict[str, Any]] = [{} for _ in self.params]

    def step(self) -> None:
        raise NotImplementedError

    def zero_grad(self) -> None:
        for p in self.params:
            p.grad = None

    def state_dict(self) -> dict[str, Any]:
        """Hyper-parameters and per-parameter buffers (copies): what resuming needs to continue exactly."""
        return {
            "hyperparameters": {k: getattr(self, k) for k in self.hyperparameters},
            "state": [{k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in s.items()} for s in self.state],
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore ``state_dict()``'s output, all or nothing: the hyper-parameters by the same
        rules as the constructor, and each parameter's buffers (none, or all of ``buffers``:
        float arrays of its shape with finite values, counts as integers >= 0) are checked
        before anything changes."""
        where = f"{type(self).__name__}.load_state_dict"
        if not isinstance(state, Mapping) or set(state) != {"hyperparameters", "state"}:
            raise TypeError(f"{where}: expected state_dict()'s dict with keys 'hyperparameters' and 'state', "
                            f"got {_shown(state)}")
        hyper, entries = state["hyperparameters"], state["state"]
        if not isinstance(hyper, Mapping) or set(hyper) != set(self.hyperparameters):
            got = f"the keys {list(hyper)}" if isinstance(hyper, Mapping) else _shown(hyper)
            raise ValueError(f"{where}: 'hyperparameters' must hold exactly {list(self.hyperparameters)}, got {got}")
        values = {k: hparams.RULES[k](hyper[k], f"{where}: {k}") for k in self.hyperparameters}
        self._check_together(values, where)
        if not isinstance(entries, (list, tuple)) or len(entries) != len(self.params):
            raise ValueError(f"{where}: 'state' must be a list with one entry per parameter (the optimizer "
                             f"has {len(self.params)} parameters), got {_shown(entries)}")
        restored = [self._checked_buffers(i, entry, p, where)
                    for i, (entry, p) in enumerate(zip(entries, self.params, strict=True))]
        for key, value in values.items():
            setattr(self, key, value)
        self.state = restored

    @staticmethod
    def _check_together(values: dict[str, Any], where: str) -> None:
        """Rules that tie hyper-parameters together (each is checked on its own by the rule table)."""

    def _checked_buffers(self, i: int, entry: Any, p: Tensor, where: str) -> dict[str, Any]:
        if not isinstance(entry, Mapping) or (entry and set(entry) != set(self.buffers)):
            raise ValueError(f"{where}: the state of parameter {i} must be empty or hold exactly "
                             f"{list(self.buffers)}, got {_shown(entry)}")
        clean: dict[str, Any] = {}
        for key, value in entry.items():
            if self.buffers[key] == "count":
                if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral) or value < 0:
                    raise ValueError(f"{where}: {key!r} of parameter {i} must be an integer >= 0, got {_shown(value)}")
                clean[key] = int(value)
                continue
            if not isinstance(value, np.ndarray) or value.dtype.kind != "f":
                raise TypeError(f"{where}: buffer {key!r} of parameter {i} must be a float array, got {_shown(value)}")
            if value.shape != p.shape:
                raise ValueError(f"{where}: buffer {key!r} of parameter {i} has shape {value.shape}, "
                                 f"the parameter has shape {p.shape}")
            if not np.isfinite(value).all():
                raise ValueError(f"{where}: buffer {key!r} of parameter {i} holds NaN or infinite values")
            clean[key] = np.array(value, dtype=p.data.dtype)
        return clean

    def __repr__(self) -> str:
        values = ", ".join(f"{k}={getattr(self, k)!r}" for k in self.hyperparameters)
        return f"{type(self).__name__}({values})"
