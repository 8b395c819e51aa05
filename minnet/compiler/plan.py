"""A traced step as straight-line numpy: buffers allocated once, every call ``out=``.

A ``Plan`` is one ``Program`` at one batch shape.  ``forward`` writes each layer's
output into its buffer and returns the loss; then one of two backward passes runs:

* ``update_sgd(lr, weight_decay)``, plain SGD fused into the backward pass: the
  learning rate is folded into the loss's gradient (the seed is −lr instead of 1), and
  each weight's update is the BLAS product of its gradient with β = 1 − lr·d, where d
  is the L2 coefficient plus the weight decay:  Wᵀ ← β·Wᵀ + xᵀ·G  in one ``gemm``, and
  b ← β·b + Gᵀ·1 in one ``gemv``.  No gradient array is formed.  (A large layer, where
  numpy's product is faster than the gemm, gets β·W + xᵀ·G through a buffer.)
* ``gradients()``, for every other optimizer: the gradients, the same numbers as
  eager ``backward()``, written into buffers that become the parameters' ``.grad``.

Both are exact in the sense of eager minnet: the same formulas in the same order, so
``gradients()`` gives eager's numbers and the fused update differs from eager's only
by the rounding of the reassociated update.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np

from minnet.autograd.activations import ACTIVATIONS
from minnet.autograd.rows import row_max, row_sum
from minnet.autograd.tensor import Tensor
from minnet.compiler.trace import Program

__all__ = ["Plan", "BadLabels", "unsupported"]

_add, _dot, _multiply = np.add, np.dot, np.multiply

# Up to this many multiply-adds (rows × in × out), a weight's update is fused into its
# gradient's product (scipy's BLAS gemm with β); above it, numpy's own BLAS product into a
# buffer and an in-place add is faster (benchmarks/bench_train.py, "wide").
FUSED_GEMM_LIMIT = 1 << 20


class BadLabels(ValueError):
    """A class label outside [0, classes): the step runs eagerly, whose error names it."""


def _data(arg: Any) -> np.ndarray:
    return arg.data if isinstance(arg, Tensor) else arg


def unsupported(program: Program, args: Sequence[Any]) -> str | None:
    """Why the arrays at hand cannot run ``program`` compiled (None if they can)."""
    x, target = _data(args[program.source]), _data(args[program.target])
    if type(x) is not np.ndarray or type(target) is not np.ndarray:
        return "the batch holds an array subclass"
    arrays = [p.data for p in program.params]
    if program.cast is not None:
        x = x.astype(program.cast)
    if x.ndim != 2 or x.dtype.kind != "f" or len(x) == 0:
        return "the input is not a non-empty (N, features) float batch"
    for a in arrays:
        if a.dtype != x.dtype:
            return "the parameters and the input differ in dtype"
        if not (a.flags.c_contiguous and a.flags.writeable and a.flags.aligned):
            return "a parameter is not a writeable C-ordered array"
        if not a.size:
            return "a parameter is empty (BLAS takes no empty array)"
    if x.dtype not in (np.float32, np.float64):
        return f"no BLAS routines for {x.dtype}"
    if program.loss == "softmax_cross_entropy" and (target.shape != (len(x),) or target.dtype.kind not in "iu"):
        return "the class labels are not integers of shape (N,)"
    return None


class Plan:
    """Buffers and kernels of one ``Program`` for batches shaped like ``args``."""

    def __init__(self, program: Program, args: Sequence[Any]):
        from scipy.linalg import blas  # only when a step is compiled: scipy is slow to import

        self.program = program
        self.arrays = [p.data for p in program.params]  # the plan runs on these very arrays
        x = _data(args[program.source])
        n = len(x)
        dtype = x.dtype if program.cast is None else program.cast  # the first layer converts x, as eager does
        self.n = n
        self.gemm, self.gemv, self.blas_dot = blas.get_blas_funcs(("gemm", "gemv", "dot"), dtype=dtype)
        self.ones = np.ones(n, dtype)
        # per layer: W, Wᵀ, b, output, upstream, the activation's forward and backward, the
        # parameter indices of W and b (−1: no bias), and whether its update is fused into
        # the gemm (else numpy's product and an add)
        self.layers: list[tuple] = []
        for layer in program.layers:
            W = self.arrays[layer.weight]
            b = None if layer.bias is None else self.arrays[layer.bias]
            out, up = np.empty((n, len(W)), dtype), np.empty((n, len(W)), dtype)
            forward = backward = None
            if layer.activation is not None:
                activation = ACTIVATIONS[layer.activation]
                forward, backward = activation.forward_into(out), activation.backward_into(up, out)
            bias_index = -1 if layer.bias is None else layer.bias
            self.layers.append((W, W.T, b, out, up, forward, backward, layer.weight, bias_index,
                                n * W.size <= FUSED_GEMM_LIMIT))
        logits, self.up = self.layers[-1][3], self.layers[-1][4]  # the loss's gradient goes to the last upstream
        self.coefficient, self.constant = program.coefficient, program.constant
        if program.loss == "softmax_cross_entropy":
            classes = logits.shape[1]
            self.rows = np.arange(n)
            self.shape = (n, classes)
            self.shifted = np.empty(self.shape, dtype)  # not in place: a last activation's backward reads the logits
            self.total = np.empty((n, 1), dtype)
            self.log_total = np.empty((n, 1), dtype)
            self.flat_log_total = self.log_total.reshape(-1)
            self.flat_up = self.up.reshape(-1)  # a view: the one-hot target is subtracted through it
            self.loss: Callable[[np.ndarray, np.ndarray], float] = self._cross_entropy
        else:
            self.loss = self._mse
        self.decayed = [(a.reshape(-1), d) for a, d in zip(self.arrays, program.decay, strict=True) if d]
        in_chain = {layer.weight for layer in program.layers} | {layer.bias for layer in program.layers}
        self.penalty_only = [(i, a) for i, a in enumerate(self.arrays) if i not in in_chain]
        self.chain_decayed = [(i, a, d) for i, (a, d) in enumerate(zip(self.arrays, program.decay, strict=True))
                              if d and i in in_chain]
        self.grads = [np.empty_like(a) for a in self.arrays]
        self.positions: np.ndarray | None = None
        self.source: np.ndarray = x

    @property
    def fused(self) -> list[bool]:
        """Per layer: is its update fused into the gemm?"""
        return [layer[9] for layer in self.layers]

    def current(self) -> bool:
        """Do the parameters still hold the arrays this plan was built on, still trainable?"""
        for p, a in zip(self.program.params, self.arrays):  # noqa: B905  (one array per parameter; strict= costs a slow call every step)
            if p.data is not a or not p.requires_grad:
                return False
        return True

    # ---- forward --------------------------------------------------------------------

    def forward(self, args: Sequence[Any]) -> float:
        """Every layer's output, then the loss (penalties and constants included)."""
        program = self.program
        a = _data(args[program.source])
        if program.cast is not None:
            a = a.astype(program.cast)
        self.source = a  # the first layer's input, which its weight gradient needs
        for _, WT, b, out, _, forward, *_ in self.layers:
            _dot(a, WT, out=out)
            if b is not None:
                _add(out, b, out=out)
            if forward is not None:
                forward()
            a = out
        value = self.coefficient * self.loss(a, _data(args[program.target])) + self.constant
        if self.decayed:
            value += 0.5 * self._penalty()
        return value

    def _penalty(self) -> float:
        """Σ d·‖p‖² over the L2 terms, by BLAS dot (a Python float, no numpy scalar)."""
        dot, total = self.blas_dot, 0.0
        for w, d in self.decayed:
            total += d * dot(w, w)
        return total

    def _cross_entropy(self, z: np.ndarray, labels: np.ndarray) -> float:
        """softmax_cross_entropy's forward on the logits, leaving exp(shifted) in the
        upstream buffer for the backward pass."""
        try:
            self.positions = np.ravel_multi_index((self.rows, labels), self.shape)  # also checks every label
        except ValueError:
            raise BadLabels from None
        shifted = np.subtract(z, row_max(z), out=self.shifted)
        np.exp(shifted, out=self.up)
        row_sum(self.up, out=self.total)
        np.log(self.total, out=self.log_total)
        dot, ones = self.blas_dot, self.ones  # sums as BLAS dots with ones: cheaper calls than reduce
        return (dot(ones, self.flat_log_total) - dot(ones, shifted.take(self.positions))) / self.n

    def _mse(self, pred: np.ndarray, target: np.ndarray) -> float:
        """mse_loss's forward: pred − target kept in the upstream buffer."""
        if target.shape != pred.shape:
            target = target.reshape(pred.shape)
        diff = np.subtract(pred, target, out=self.up).reshape(-1)
        return 0.5 * self.blas_dot(diff, diff) / diff.size

    def _seed(self, scale: float) -> None:
        """The loss's gradient times ``scale`` into the last layer's upstream buffer."""
        up = self.up
        if self.program.loss == "softmax_cross_entropy":
            np.divide(up, self.total, out=up)  # softmax
            self.flat_up[self.positions] -= 1  # minus the one-hot target
            _multiply(up, scale / self.n, out=up)
        else:
            _multiply(up, scale / up.size, out=up)

    # ---- backward -------------------------------------------------------------------

    def _down(self) -> Iterator[tuple[tuple, np.ndarray]]:
        """Each layer from the last, with its upstream buffer already taken through its
        activation and the gradient below already passed down (with W before any update):
        (the layer's tuple, the input it read)."""
        layers = self.layers
        for k in range(len(layers) - 1, -1, -1):
            layer = layers[k]
            if layer[6] is not None:
                layer[6]()  # G ⊙ act'(z), in place
            if k:
                below = layers[k - 1]
                _dot(layer[4], layer[0], out=below[4])
                yield layer, below[3]
            else:
                yield layer, self.source

    def update_sgd(self, lr: float, weight_decay: float) -> None:
        """θ ← θ − lr·(∇L + weight_decay·θ) for every parameter, fused into backward."""
        self._seed(-lr * self.coefficient)
        gemm, gemv, ones, decay, grads = self.gemm, self.gemv, self.ones, self.program.decay, self.grads
        for (W, WT, b, _, up, _, _, wi, bi, fused), x in self._down():
            beta_w = 1.0 - lr * (decay[wi] + weight_decay)
            if fused:
                gemm(1.0, x.T, up.T, beta_w, WT, 0, 1, 1)
                if b is not None:
                    gemv(1.0, up.T, ones, 1.0 - lr * (decay[bi] + weight_decay), b, 0, 1, 0, 1, 0, 1)
                continue
            if beta_w != 1.0:
                _multiply(W, beta_w, out=W)
            _add(W, _dot(up.T, x, out=grads[wi]), out=W)
            if b is not None:
                beta_b = 1.0 - lr * (decay[bi] + weight_decay)
                if beta_b != 1.0:
                    _multiply(b, beta_b, out=b)
                _add(b, _dot(ones, up, out=grads[bi]), out=b)
        for i, a in self.penalty_only:
            _multiply(a, 1.0 - lr * (decay[i] + weight_decay), out=a)

    def gradients(self) -> list[np.ndarray]:
        """∇L for every parameter (``program.params`` order), in reused buffers."""
        self._seed(self.coefficient)
        grads, ones = self.grads, self.ones
        for (_, _, b, _, up, _, _, wi, bi, _), x in self._down():
            _dot(up.T, x, out=grads[wi])
            if b is not None:
                _dot(ones, up, out=grads[bi])
        for i, a, d in self.chain_decayed:
            grads[i] += d * a  # the L2 term's d·W
        for i, a in self.penalty_only:
            _multiply(a, self.program.decay[i], out=grads[i])
        return grads
