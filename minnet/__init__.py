"""minnet: a tiny MLP training framework on its own reverse-mode autograd over numpy.

The package is layered, and imports only point down this list:

1. ``minnet.autograd``: Tensor, grad mode, engine, ops, linalg, gradcheck, ``extend``;
2. ``minnet.nn``, ``minnet.losses``, ``minnet.optim`` (and ``minnet.hparams``, their
   rule table): model building; ``minnet.compiler``: the compiled training step;
3. ``minnet.graph``: seeing a graph (DOT, rendering, the explain table);
4. ``minnet.train``: configs, data, the one training loop, runs, sweeps, plots;
5. ``minnet.cli`` and ``minnet.sklearn``: the doors, which nothing imports.

``import minnet`` loads layers 1-3 only: no scikit-learn, tqdm or matplotlib.
"""

from minnet import extend, graph, losses, nn, optim
from minnet.autograd import (
    GradcheckError,
    Tensor,
    abs,
    enable_grad,
    exp,
    get_default_dtype,
    gradcheck,
    inv,
    is_grad_enabled,
    log,
    log_softmax,
    logdet,
    logsumexp,
    matmul,
    max,
    mean,
    no_grad,
    relu,
    reshape,
    set_default_dtype,
    sigmoid,
    softmax,
    solve,
    sqrt,
    sum,
    tanh,
    tensor,
    trace,
    transpose,
)
from minnet.compiler import compile_step
from minnet.nn.init import manual_seed

__version__ = "0.2.0"

__all__ = [
    "Tensor", "tensor", "no_grad", "enable_grad", "is_grad_enabled", "set_default_dtype", "get_default_dtype",
    "gradcheck", "GradcheckError", "extend",
    "exp", "log", "sqrt", "abs", "sigmoid", "tanh", "relu",
    "sum", "mean", "max", "matmul", "transpose", "reshape",
    "logsumexp", "log_softmax", "softmax",
    "inv", "logdet", "trace", "solve",
    "compile_step", "graph", "manual_seed", "nn", "optim", "losses", "__version__",
]
