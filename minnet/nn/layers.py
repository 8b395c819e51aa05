"""Layers: Linear, the activations and Sequential, thin Modules over minnet's ops."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from minnet import ops
from minnet.nn.functional import linear, linear_activation
from minnet.nn.init import INITIALIZERS
from minnet.nn.module import Module, Parameter
from minnet.rng import default_generator
from minnet.tensor import Tensor, _leaf, get_default_dtype

__all__ = ["Linear", "Sigmoid", "Tanh", "ReLU", "Identity", "Sequential", "ACTIVATIONS"]


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

    def _input(self, x: Any) -> Tensor:
        if x.__class__ is np.ndarray and x.dtype is self.weight.data.dtype:
            x = _leaf(x)  # a numpy batch of the weights' dtype is wrapped as is
        elif not isinstance(x, Tensor):
            x = Tensor(x, dtype=self.weight.data.dtype)
        shape = x.data.shape
        if not shape or shape[-1] != self.in_features:
            raise ValueError(
                f"{self!r}: input has last dimension {shape[-1] if shape else 'none'} "
                f"(shape {shape}), expected in_features={self.in_features}"
            )
        return x

    def forward(self, x: Any) -> Tensor:
        return linear(self._input(x), self.weight, self.bias)

    def forward_activated(self, x: Any, activation: str | None) -> Tensor:
        """act(self(x)) as one graph node; ``activation`` is a key of FUSED_ACTIVATIONS
        (None: no activation, the same as ``self(x)``)."""
        if activation is None:
            return self.forward(x)
        return linear_activation(self._input(x), self.weight, self.bias, activation)

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

# Activation layers that Sequential fuses into the Linear before them.
_FUSABLE: dict[type[Module], str] = {ReLU: "relu", Sigmoid: "sigmoid", Tanh: "tanh"}


class Sequential(Module):
    """Layers applied one after the other; indexable, iterable, with a length."""

    def __init__(self, *layers: Module):
        for i, layer in enumerate(layers):
            if not isinstance(layer, Module):
                raise TypeError(f"Sequential: item {i} is {type(layer).__name__}, not a Module")
        self.layers = list(layers)

    def _members(self) -> Iterator[tuple[str, Any]]:
        for i, layer in enumerate(self.layers):
            yield str(i), layer

    def forward(self, x: Any) -> Any:
        """Each layer in turn; a Linear followed by ReLU, Sigmoid or Tanh runs as one
        fused node (``linear_activation``): the same numbers, less bookkeeping."""
        layers, i, n = self.layers, 0, len(self.layers)
        while i < n:
            layer = layers[i]
            if type(layer) is Linear:
                fused = _FUSABLE.get(type(layers[i + 1])) if i + 1 < n else None
                x = layer.forward_activated(x, fused)
                i += 2 if fused else 1
            else:
                x = layer(x)
                i += 1
        return x

    def __getitem__(self, index: int | slice) -> Module:
        if isinstance(index, slice):
            return Sequential(*self.layers[index])
        return self.layers[index]

    def __len__(self) -> int:
        return len(self.layers)

    def __iter__(self) -> Iterator[Module]:
        return iter(self.layers)

    def append(self, layer: Module) -> Sequential:
        self.layers.append(layer)
        return self
