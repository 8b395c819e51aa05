"""Layer 1, the autograd core: Tensor, grad mode, engine, ops, linalg, gradcheck.

Imports numpy and nothing else of minnet; every other layer builds on it.
"""

from minnet.autograd import extend
from minnet.autograd.activations import ACTIVATIONS, Activation
from minnet.autograd.gradcheck import GradcheckError, gradcheck
from minnet.autograd.linalg import inv, logdet, solve, trace
from minnet.autograd.ops import (
    abs,
    exp,
    log,
    log_softmax,
    logsumexp,
    matmul,
    max,
    mean,
    relu,
    reshape,
    sigmoid,
    softmax,
    sqrt,
    sum,
    tanh,
    transpose,
)
from minnet.autograd.state import enable_grad, get_default_dtype, is_grad_enabled, no_grad, set_default_dtype
from minnet.autograd.tensor import Tensor, tensor

__all__ = [
    "Tensor", "tensor", "no_grad", "enable_grad", "is_grad_enabled", "set_default_dtype", "get_default_dtype",
    "gradcheck", "GradcheckError", "extend", "ACTIVATIONS", "Activation",
    "exp", "log", "sqrt", "abs", "sigmoid", "tanh", "relu",
    "sum", "mean", "max", "matmul", "transpose", "reshape",
    "logsumexp", "log_softmax", "softmax",
    "inv", "logdet", "trace", "solve",
]
