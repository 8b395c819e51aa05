"""Building blocks for models: ``Module``, ``Parameter``, layers and ``Sequential``."""

from minnet.nn.functional import linear
from minnet.nn.init import INITIALIZERS
from minnet.nn.layers import ACTIVATIONS, Identity, Linear, ReLU, Sigmoid, Tanh
from minnet.nn.module import Module, Parameter, Sequential

__all__ = [
    "Module", "Parameter", "Sequential",
    "Linear", "Sigmoid", "Tanh", "ReLU", "Identity",
    "linear", "INITIALIZERS", "ACTIVATIONS",
]
