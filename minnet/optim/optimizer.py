"""What every optimizer shares: its parameter list, ``zero_grad``, and state that a
checkpoint can hold (arrays per parameter, plain numbers for the hyper-parameters)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from minnet import hparams
from minnet.autograd.tensor import Tensor

__all__ = ["Optimizer"]


class Optimizer:
    """Base class: ``params`` (each tensor once), ``lr``, ``step()`` and ``zero_grad()``.

    ``state[i]`` holds parameter i's buffers (numpy arrays, or numbers such as Adam's
    step count); ``hyperparameters`` names the numbers ``state_dict`` saves.
    """

    hyperparameters: tuple[str, ...] = ("lr",)

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

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore ``state_dict()``'s output; checked completely before anything changes."""
        name = type(self).__name__
        buffers = state["state"]
        if len(buffers) != len(self.params):
            raise ValueError(f"{name}.load_state_dict: state has {len(buffers)} parameter entries, "
                             f"the optimizer has {len(self.params)} parameters")
        restored = []
        for i, (entry, p) in enumerate(zip(buffers, self.params, strict=True)):
            clean = {}
            for key, value in entry.items():
                if isinstance(value, np.ndarray):
                    if value.shape != p.shape:
                        raise ValueError(f"{name}.load_state_dict: buffer {key!r} of parameter {i} has shape "
                                         f"{value.shape}, the parameter has shape {p.shape}")
                    value = np.array(value, dtype=p.data.dtype)
                clean[key] = value
            restored.append(clean)
        for key, value in state["hyperparameters"].items():
            setattr(self, key, tuple(value) if isinstance(value, list) else value)
        self.state = restored

    def __repr__(self) -> str:
        values = ", ".join(f"{k}={getattr(self, k)!r}" for k in self.hyperparameters)
        return f"{type(self).__name__}({values})"
