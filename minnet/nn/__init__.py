"""Building blocks for models: ``Module``, ``Parameter``, layers and ``Sequential``."""

from minnet.autograd.activations import ACTIVATIONS
from minnet.nn.functional import linear, linear_activation
from minnet.nn.init import INITIALIZERS
from minnet.nn.layers import ACTIVATION_LAYERS, ActivationLayer, Identity, Linear, ReLU, Sequential, Sigmoid, Tanh
from minnet.nn.module import Module, Parameter

__all__ = [
    "Module", "Parameter", "Sequential",
    "Linear", "ActivationLayer", "Sigmoid", "Tanh", "ReLU", "Identity",
    "linear", "linear_activation", "INITIALIZERS", "ACTIVATIONS", "ACTIVATION_LAYERS",
]
