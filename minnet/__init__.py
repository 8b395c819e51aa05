"""minnet: a tiny MLP training framework on its own reverse-mode autograd over numpy."""

from minnet import graph
from minnet.gradcheck import GradcheckError, gradcheck
from minnet.linalg import inv, logdet, solve, trace
from minnet.ops import (
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
from minnet.tensor import (
    Tensor,
    get_default_dtype,
    is_grad_enabled,
    no_grad,
    set_default_dtype,
    tensor,
)

from minnet.rng import manual_seed
from minnet import losses, nn, optim  # noqa: E402  (after the core they build on)

__version__ = "0.1.0"

__all__ = [
    "Tensor", "tensor", "no_grad", "is_grad_enabled", "set_default_dtype", "get_default_dtype",
    "gradcheck", "GradcheckError",
    "exp", "log", "sqrt", "abs", "sigmoid", "tanh", "relu",
    "sum", "mean", "max", "matmul", "transpose", "reshape",
    "logsumexp", "log_softmax", "softmax",
    "inv", "logdet", "trace", "solve",
    "graph",
    "manual_seed", "nn", "optim", "losses",
]
