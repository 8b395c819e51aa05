"""Layers: Linear, the activation layers and Sequential, thin Modules over minnet's ops."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, ClassVar

import numpy as np

from minnet import hparams
from minnet.autograd import ops
from minnet.autograd.activations import ACTIVATIONS
from minnet.autograd.extend import constant
from minnet.autograd.state import get_default_dtype
from minnet.autograd.tensor import Tensor
from minnet.nn.functional import linear, linear_activation
from minnet.nn.init import INITIALIZERS, default_generator
from minnet.nn.module import Module, Parameter

__all__ = ["Linear", "ActivationLayer", "Sigmoid", "Tanh", "ReLU", "Identity", "Sequential", "ACTIVATION_LAYERS"]


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
        self.in_features = hparams.RULES["features"](in_features, "Linear: in_features")
        self.out_features = hparams.RULES["features"](out_features, "Linear: out_features")
        if init not in INITIALIZERS:
            raise ValueError(f"Linear: unknown init {init!r}; choose one of {sorted(INITIALIZERS)}")
        dt = get_default_dtype() if dtype is None else np.dtype(hparams.RULES["dtype"](dtype, "Linear: dtype"))
        draw = INITIALIZERS[init](rng or default_generator(), self.out_features, self.in_features)
        self.weight = Parameter(draw.astype(dt))
        self.bias = Parameter(np.zeros(self.out_features, dtype=dt)) if bias else None

    def _input(self, x: Any) -> Tensor:
        if x.__class__ is np.ndarray and x.dtype is self.weight.data.dtype:
            x = constant(x)  # a numpy batch of the weights' dtype is wrapped as is
        elif not isinstance(x, Tensor):
            source = x
            x = Tensor(x, dtype=self.weight.data.dtype)
            x._args = (source,)  # what a compiled step needs: the batch this was converted from
        shape = x.data.shape
        if not shape or shape[-1] != self.in_features:
            raise ValueError(
                f"{self!r}: input has last dimension {shape[-1] if shape else 'none'} "
                f"(shape {shape}), expected in_features={self.in_features}"
            )
        return x

    def forward(self, x: Any) -> Tensor:
        return linear(self._input(x), self.weight, self.bias)

    def forward_activated(self, x: Any, activation: str) -> Tensor:
        """act(self(x)) as one graph node; ``activation`` is a key of ``ACTIVATIONS``."""
        return linear_activation(self._input(x), self.weight, self.bias, activation)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"


class ActivationLayer(Module):
    """An activation layer: applies the op of its ``activation`` entry in ``ACTIVATIONS``."""

    activation: ClassVar[str]

    def forward(self, x: Tensor) -> Tensor:
        return ops.activate(x, self.activation)


class Sigmoid(ActivationLayer):
    activation = "sigmoid"


class Tanh(ActivationLayer):
    activation = "tanh"


class ReLU(ActivationLayer):
    activation = "relu"


class Identity(Module):
    def forward(self, x: Any) -> Any:
        return x


# The layer class of every activation in the table: one class per entry.
ACTIVATION_LAYERS: dict[str, type[ActivationLayer]] = {cls.activation: cls for cls in (Sigmoid, Tanh, ReLU)}
assert set(ACTIVATION_LAYERS) == set(ACTIVATIONS), "every activation in the table needs a layer class"
# Exactly these classes are fused into the Linear before them: a subclass may change forward.
_FUSABLE: dict[type[Module], str] = {cls: name for name, cls in ACTIVATION_LAYERS.items()}


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
        """Each layer in turn; a Linear followed by an activation layer runs as one
        fused node (``linear_activation``): the same numbers, less bookkeeping."""
        layers, i, n = self.layers, 0, len(self.layers)
        while i < n:
            layer = layers[i]
            fused = _FUSABLE.get(type(layers[i + 1])) if i + 1 < n and type(layer) is Linear else None
            if fused is not None:
                x = layer.forward_activated(x, fused)  # type: ignore[attr-defined]  # a Linear
                i += 2
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
