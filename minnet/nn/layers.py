"""Layers: Linear and the activations, thin Modules over minnet's ops."""

from __future__ import annotations

from typing import Any

import numpy as np

from minnet import ops
from minnet.nn.functional import linear
from minnet.nn.init import INITIALIZERS
from minnet.nn.module import Module, Parameter
from minnet.rng import default_generator
from minnet.tensor import Tensor, _leaf, get_default_dtype

__all__ = ["Linear", "Sigmoid", "Tanh", "ReLU", "Identity", "ACTIVATIONS"]


class Linear(Module):
    """y = x @ weight.T + bias, with weight of shape (out_features, in_features).

    ``init`` is "glorot" (default; suits sigmoid and tanh) or "he" (for ReLU); the
    bias starts at zero.  Weights are drawn from ``rng`` if given, else from the
    generator seeded by ``mn.manual_seed``.
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        bias: bool = True,
        init: str = "glorot",
        rng: np.random.Generator | None = None,
        dtype: Any = None,
    ):
        for label, value in (("in_features", in_features), ("out_features", out_features)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
                raise ValueError(f"Linear: {label} must be a positive integer, got {value!r}")
        if init not in INITIALIZERS:
            raise ValueError(f"Linear: unknown init {init!r}; choose one of {sorted(INITIALIZERS)}")
        self.in_features = int(in_features)
        self.out_features = int(out_features)
        dtype = np.dtype(dtype or get_default_dtype())
        draw = INITIALIZERS[init](rng or default_generator(), self.out_features, self.in_features)
        self.weight = Parameter(draw.astype(dtype))
        self.bias = Parameter(np.zeros(self.out_features, dtype=dtype)) if bias else None

    def forward(self, x: Any) -> Tensor:
        if not isinstance(x, Tensor):  # a numpy batch of the weights' dtype is wrapped as is
            x = _leaf(x) if x.__class__ is np.ndarray and x.dtype == self.weight.data.dtype \
                else Tensor(x, dtype=self.weight.dtype)
        if x.ndim == 0 or x.shape[-1] != self.in_features:
            raise ValueError(
                f"{self!r}: input has last dimension {x.shape[-1] if x.ndim else 'none'} "
                f"(shape {x.shape}), expected in_features={self.in_features}"
            )
        return linear(x, self.weight, self.bias)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"


class Sigmoid(Module):
    def forward(self, x: Tensor) -> Tensor:
        return ops.sigmoid(x)


class Tanh(Module):
    def forward(self, x: Tensor) -> Tensor:
        return ops.tanh(x)


class ReLU(Module):
    def forward(self, x: Tensor) -> Tensor:
        return ops.relu(x)


class Identity(Module):
    def forward(self, x: Any) -> Any:
        return x


ACTIVATIONS: dict[str, type[Module]] = {"sigmoid": Sigmoid, "tanh": Tanh, "relu": ReLU}
