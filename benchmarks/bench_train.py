"""How fast does minnet train a small MLP, next to the references?

The same MLP is trained on the same standardized data, from the same initial weights,
with the same learning rate and L2 strength, by:

* ``numpy``    -- a plain hand-written forward/backward pass with no autograd, as one
  would write it (every ratio in the tables is relative to it);
* ``tight``    -- the same numpy loop at its tightest: buffers allocated once, every op
  with ``out=``, the learning rate folded into the backward seed and each update fused
  into its gradient's BLAS ``gemm`` (β = 1 − lr·λ): the floor for numpy;
* ``minnet``   -- the loop minnet's own trainer runs (``train.py``, sweeps, estimators):
  ``minnet.train.train_epoch``, each step compiled by ``mn.compile_step``, with the loss
  ``l2_regularized(ce, weights, lam)``;
* ``compiled`` -- the loop a user writes with ``mn.compile_step`` around the readable loss
  ``ce + lam * l2_penalty(model)``;
* ``eager``    -- minnet without compiling: ``zero_grad(); backward(); step()`` on the
  trainer's fused loss (``l2_regularized``);
* ``readable`` -- the same eager loop on the readable loss, as the README first shows it;
* ``jax``      -- ``jax.jit`` of one training step (value_and_grad and the SGD update,
  the loss accumulated on the device), when JAX is installed;
* ``sklearn``  -- ``MLPClassifier(solver="sgd")`` timed on ``partial_fit`` epochs;
* ``torch``    -- PyTorch eager on CPU, when it is installed.

Every implementation but scikit-learn visits the minibatches in the same order (the
same epoch permutations), so each must end with the numpy loop's loss up to float
rounding: the run checks it and exits with status 1 if not.  scikit-learn shuffles with its own
generator, which is fine for timing.

The L2 convention is minnet's: ``L + lam * ½Σ‖W‖²`` over weight matrices, biases
excluded.  scikit-learn divides its ``alpha`` by the batch size, so it gets
``alpha = lam * batch_size``.

Timing: implementations run interleaved (one epoch of each, in a rotating order,
repeated; each timed epoch right after an untimed one of the same implementation,
so none is timed on the caches another has just evicted), BLAS and torch are
limited to one thread (``--threads``), the process is pinned to as many CPUs (the
only limit XLA obeys), and the tables give the minimum and median epoch time and the
ratio of minimums to numpy.  On a busy machine, ``--clock cpu`` measures this
process's CPU time instead of wall time.  A scaling section then checks that epoch
time grows linearly with the data, backward time linearly with the graph, and memory
stays flat over 10,000 steps.

    python benchmarks/bench_train.py                   # everything, float32
    python benchmarks/bench_train.py --dtype float32 float64 --workload digits
    python benchmarks/bench_train.py --quick --json    # seconds-long smoke run
"""

from __future__ import annotations

import argparse
import gc
import importlib.metadata
import importlib.util
import json
import os
import platform
import statistics
import sys
import time
import tracemalloc
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
from scipy.special import expit
from threadpoolctl import threadpool_info, threadpool_limits

Params = list[tuple[np.ndarray, np.ndarray]]  # per layer: W of shape (out, in), b of shape (out,)

ACTIVATIONS = ("relu", "sigmoid")
IMPLEMENTATIONS = ("numpy", "tight", "minnet", "compiled", "eager", "readable", "jax", "sklearn", "torch")
OPTIONAL = {"torch": "torch", "jax": "jax"}  # implementation -> the module it needs
MINNET_LOOPS = ("minnet", "compiled", "eager", "readable")
SEED = 0


# ---- workloads ----------------------------------------------------------------------

@dataclass(frozen=True)
class Workload:
    """One dataset and MLP shape; ``make`` returns float64 X (n, in) and int labels (n,)."""

    name: str
    make: Callable[[], tuple[np.ndarray, np.ndarray]]
    hidden: tuple[int, ...]
    batch: int
    lr: float
    lam: float
    repeats: int  # timed epochs per implementation


def _digits(n: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    return X[:n], y[:n]


def _moons(n: int) -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import make_moons

    return make_moons(n_samples=n, noise=0.2, random_state=SEED)


def _wide(n: int) -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import make_classification

    return make_classification(
        n_samples=n, n_features=100, n_informative=20, n_redundant=10, n_classes=10,
        n_clusters_per_class=1, random_state=SEED,
    )


WORKLOADS: dict[str, Workload] = {
    "digits": Workload("digits", _digits, (128,), batch=32, lr=0.05, lam=1e-4, repeats=20),
    "moons": Workload("moons", lambda: _moons(10_000), (64, 64), batch=64, lr=0.1, lam=1e-4, repeats=12),
    "wide": Workload("wide", lambda: _wide(20_000), (512, 512), batch=256, lr=0.05, lam=1e-4, repeats=5),
}

QUICK_WORKLOADS: dict[str, Workload] = {
    "digits": Workload("digits", lambda: _digits(512), (32,), batch=32, lr=0.05, lam=1e-4, repeats=2),
    "moons": Workload("moons", lambda: _moons(512), (16, 16), batch=64, lr=0.1, lam=1e-4, repeats=2),
    "wide": Workload("wide", lambda: _wide(512), (64, 64), batch=128, lr=0.05, lam=1e-4, repeats=2),
}


def standardize(X: np.ndarray, y: np.ndarray, dtype: np.dtype) -> tuple[np.ndarray, np.ndarray]:
    """Features with zero mean and unit variance in ``dtype``; integer labels 0..C-1."""
    X = (X - X.mean(axis=0)) / np.where(X.std(axis=0) > 0, X.std(axis=0), 1.0)
    return np.ascontiguousarray(X, dtype=dtype), y.astype(np.intp)


def initial_params(sizes: Sequence[int], activation: str, dtype: np.dtype, seed: int = SEED) -> Params:
    """He-normal (ReLU) or Glorot-uniform (sigmoid) weights, zero biases."""
    rng = np.random.default_rng(seed)
    params = []
    for n_in, n_out in zip(sizes[:-1], sizes[1:], strict=True):
        if activation == "relu":
            W = rng.normal(0.0, np.sqrt(2.0 / n_in), size=(n_out, n_in))
        else:
            bound = np.sqrt(6.0 / (n_in + n_out))
            W = rng.uniform(-bound, bound, size=(n_out, n_in))
        params.append((W.astype(dtype), np.zeros(n_out, dtype=dtype)))
    return params


def evaluate(params: Params, activation: str, X: np.ndarray, y: np.ndarray, lam: float) -> tuple[float, float]:
    """Regularized loss L + lam·½Σ‖W‖² and accuracy on (X, y), computed in float64."""
    a = X.astype(np.float64)
    for i, (W, b) in enumerate(params):
        a = a @ W.T.astype(np.float64) + b
        if i < len(params) - 1:
            a = np.maximum(a, 0) if activation == "relu" else expit(a)
    shifted = a - a.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    loss = -log_probs[np.arange(len(y)), y].mean()
    penalty = 0.5 * sum(float(np.vdot(W.astype(np.float64), W.astype(np.float64))) for W, _ in params)
    return float(loss + lam * penalty), float((a.argmax(axis=1) == y).mean())


# ---- the implementations ------------------------------------------------------------

class Trainer(Protocol):
    """One implementation: load weights, train one epoch in a given order, give weights back."""

    def reset(self, params: Params) -> None: ...

    def epoch(self, perm: np.ndarray) -> float:
        """Train on the minibatches perm[0:B], perm[B:2B], ...; return the mean batch loss."""
        ...

    def params(self) -> Params: ...


@dataclass
class Problem:
    """What every implementation trains: data, layer sizes (in, hidden..., out), hyper-parameters."""

    X: np.ndarray
    y: np.ndarray
    sizes: tuple[int, ...]
    activation: str
    batch: int
    lr: float
    lam: float


def _sigmoid_inplace(z: np.ndarray) -> np.ndarray:
    """σ(z) = 1 / (1 + exp(−z)) in place: the formula minnet uses, faster than scipy's expit."""
    np.negative(z, out=z)
    with np.errstate(over="ignore"):
        np.exp(z, out=z)
    z += 1
    return np.reciprocal(z, out=z)


class NumpyTrainer:
    """Hand-written backprop for an MLP with softmax cross-entropy and L2 on the weights.

    Forward: a_{i+1} = act(a_i W_iᵀ + b_i), logits on the last layer.
    Backward, with δ = dL/d(logits) = (softmax − onehot) / m on the last layer:
        dL/dW_i = δᵀ a_i + lam·W_i,   dL/db_i = Σ_rows δ,   δ ← (δ W_i) ⊙ act'(a_i).
    W is stored (out, in) like minnet's Linear.weight, so both make the same BLAS calls
    and the ratio measures the framework, not a memory layout.
    """

    def __init__(self, problem: Problem):
        self.p = problem
        self.rows = np.arange(problem.batch)

    def reset(self, params: Params) -> None:
        self.W = [W.copy() for W, _ in params]
        self.b = [b.copy() for _, b in params]

    def params(self) -> Params:
        return list(zip(self.W, self.b, strict=True))

    def epoch(self, perm: np.ndarray) -> float:
        p, Ws, bs = self.p, self.W, self.b
        X, y, lr, lam, relu = p.X, p.y, p.lr, p.lam, p.activation == "relu"
        last = len(Ws) - 1
        total, steps = 0.0, 0
        for start in range(0, len(perm), p.batch):
            idx = perm[start:start + p.batch]
            m = len(idx)
            rows, labels = self.rows[:m], y[idx]

            a = X[idx]
            acts = [a]
            for W, b in zip(Ws[:last], bs[:last], strict=True):
                z = a @ W.T
                z += b
                a = np.maximum(z, 0, out=z) if relu else _sigmoid_inplace(z)
                acts.append(a)
            z = a @ Ws[last].T
            z += bs[last]

            z -= z.max(axis=1, keepdims=True)  # softmax cross-entropy, shifted for stability
            e = np.exp(z)
            s = e.sum(axis=1, keepdims=True)
            loss = (np.log(s).sum() - z[rows, labels].sum()) / m
            loss += lam * 0.5 * sum(float(np.vdot(W, W)) for W in Ws)
            delta = e
            delta /= s
            delta[rows, labels] -= 1
            delta /= m

            for i in range(last, -1, -1):
                W, a = Ws[i], acts[i]
                gW = delta.T @ a
                gW += lam * W
                gb = delta.sum(axis=0)
                if i:  # δ for the layer below, with W before its update
                    delta = delta @ W
                    delta *= (a > 0) if relu else a * (1 - a)
                W -= lr * gW
                bs[i] -= lr * gb
            total += float(loss)
            steps += 1
        return total / steps


class TightNumpyTrainer(NumpyTrainer):
    """The hand-written loop with every trick numpy allows: the floor.

    Per batch size, every array is allocated once and each op writes into it
    (``out=``); slow numpy calls give way to fast ones with the same numbers (ReLU
    against a zeros array, not the scalar 0; the row max across a transposed copy; row
    sums and the loss's sums as BLAS products with ones; ‖W‖² as a BLAS dot); the
    learning rate is folded into the seed of the backward pass (δ starts as
    −lr·dL/dlogits), so each weight's update is its gradient's BLAS product with
    β = 1 − lr·λ,  Wᵀ ← β·Wᵀ + aᵀ·δ  (``gemm``), and each bias's is
    b ← b + δᵀ·1 (``gemv``): no gradient array is ever formed.  Above about a million
    multiply-adds per product numpy's own BLAS product beats scipy's gemm, so a large
    layer's update is numpy's product into a buffer and an in-place add instead.
    """

    FUSED_LIMIT = 1 << 20

    def __init__(self, problem: Problem):
        from scipy.linalg import blas

        super().__init__(problem)
        self.gemm, self.gemv, self.dot = blas.get_blas_funcs(("gemm", "gemv", "dot"), dtype=problem.X.dtype)
        self.buffers: dict[int, tuple] = {}

    def _buffers(self, m: int) -> tuple:
        if m not in self.buffers:
            dt, widths = self.p.X.dtype, self.p.sizes
            outs = [np.empty((m, n), dt) for n in widths[1:]]  # each layer's output
            deltas = [np.empty((m, n), dt) for n in widths[1:]]
            scratch = [np.empty((m, n), dt) for n in widths[1:]]
            column = [np.empty((m, 1), dt) for _ in range(3)]
            offsets = np.arange(m) * widths[-1]
            grads = [(np.empty_like(W), np.empty_like(b)) for W, b in zip(self.W, self.b, strict=True)]
            zeros = [np.zeros((m, n), dt) for n in widths[1:]]
            self.buffers[m] = (outs, deltas, scratch, column, offsets, np.empty(m, np.intp), np.ones(m, dt), grads,
                               zeros)
        return self.buffers[m]

    def epoch(self, perm: np.ndarray) -> float:
        p, Ws, bs, gemm, gemv, dot = self.p, self.W, self.b, self.gemm, self.gemv, self.dot
        X, y, lr, lam, relu = p.X, p.y, p.lr, p.lam, p.activation == "relu"
        last = len(Ws) - 1
        beta = 1.0 - lr * lam
        flat_Ws = [W.reshape(-1) for W in Ws]
        class_ones = np.ones((p.sizes[-1], 1), X.dtype)
        total, steps = 0.0, 0
        for start in range(0, len(perm), p.batch):
            idx = perm[start:start + p.batch]
            m = len(idx)
            outs, deltas, scratch, (row_max, row_sum, log_sum), offsets, pos, ones, grads, zeros = self._buffers(m)
            batch = a = X.take(idx, axis=0)  # (take with out= is the slower call)
            for i, (W, b) in enumerate(zip(Ws, bs, strict=True)):
                z = np.dot(a, W.T, out=outs[i])
                z += b
                if i < last:
                    if relu:
                        np.maximum(z, zeros[i], out=z)
                    else:
                        _sigmoid_inplace(z)
                a = z
            z = outs[-1]
            np.maximum.reduce(z.T.copy(), axis=0, out=row_max.reshape(-1))  # across rows: few classes
            z -= row_max
            e = np.exp(z, out=deltas[-1])
            np.dot(e, class_ones, out=row_sum)
            np.log(row_sum, out=log_sum)
            np.add(y.take(idx), offsets, out=pos)
            loss = (dot(ones, log_sum.reshape(-1)) - dot(ones, z.take(pos))) / m
            loss += lam * 0.5 * sum(dot(W, W) for W in flat_Ws)
            delta = deltas[-1]
            e /= row_sum
            delta.reshape(-1)[pos] -= 1
            delta *= -lr / m  # the learning rate, folded into the seed
            for i in range(last, -1, -1):
                W, a = Ws[i], outs[i - 1] if i else batch
                if i:
                    below = np.dot(delta, W, out=deltas[i - 1])  # with W before its update
                    s = scratch[i - 1]
                    if relu:
                        np.greater(a, zeros[i - 1], out=s)
                    else:
                        np.subtract(1, a, out=s)
                        s *= a
                    below *= s
                if m * W.size <= self.FUSED_LIMIT:
                    gemm(1.0, a.T, delta.T, beta, W.T, 0, 1, 1)  # Wᵀ ← β·Wᵀ + aᵀ·δ, in place
                    gemv(1.0, delta.T, ones, 1.0, bs[i], 0, 1, 0, 1, 0, 1)  # b ← b + δᵀ·1
                else:
                    W *= beta
                    W += np.dot(delta.T, a, out=grads[i][0])
                    bs[i] += np.dot(ones, delta, out=grads[i][1])
                if i:
                    delta = below
            total += loss
            steps += 1
        return total / steps


class MinnetTrainer:
    """The loop minnet's own trainer runs: ``minnet.train.train_epoch`` (the one epoch
    function of train.py, sweeps and the estimators), whose steps ``mn.compile_step``
    compiles, with the weight matrices L2 covers found once and the regularized loss
    as one node (``l2_regularized``)."""

    def __init__(self, problem: Problem):
        from minnet import losses, nn, optim
        from minnet.train.loop import train_epoch, training_step

        self.p = problem
        act = {"relu": nn.ReLU, "sigmoid": nn.Sigmoid}[problem.activation]
        layers: list[nn.Module] = []
        for n_in, n_out in zip(problem.sizes[:-1], problem.sizes[1:], strict=True):
            layers += [nn.Linear(n_in, n_out, dtype=problem.X.dtype), act()]
        self.model = nn.Sequential(*layers[:-1])
        self.opt = optim.SGD(self.model.parameters(), lr=problem.lr)
        self.weights = losses.weight_matrices(self.model)
        self.loss_fn = losses.softmax_cross_entropy
        self.train_epoch = train_epoch
        self.step = training_step(self.model, self.loss_fn, self.opt, problem.lam, self.weights)

    def reset(self, params: Params) -> None:
        state = {}
        for i, (W, b) in enumerate(params):
            state[f"{2 * i}.weight"], state[f"{2 * i}.bias"] = W, b
        self.model.load_state_dict(state)

    def params(self) -> Params:
        linears = self.model.layers[::2]
        return [(layer.weight.data.copy(), layer.bias.data.copy()) for layer in linears]

    def batches(self, perm: np.ndarray) -> list[np.ndarray]:
        batch = self.p.batch
        return [perm[start:start + batch] for start in range(0, len(perm), batch)]

    def epoch(self, perm: np.ndarray) -> float:
        return self.train_epoch(self.model, self.loss_fn, self.opt, self.p.X, self.p.y, self.batches(perm),
                                step=self.step)


class CompiledTrainer(MinnetTrainer):
    """The loop a user writes: ``step = mn.compile_step(loss_fn, opt)`` around the
    readable ``ce + lam * l2_penalty(model)``, then ``step(X[idx], y[idx])`` per batch."""

    def __init__(self, problem: Problem):
        import minnet as mn
        from minnet import losses

        super().__init__(problem)
        model, lam = self.model, problem.lam

        def loss_fn(xb: np.ndarray, yb: np.ndarray) -> Any:
            return losses.softmax_cross_entropy(model(xb), yb) + lam * losses.l2_penalty(model)
        self.compiled = mn.compile_step(loss_fn, self.opt)

    def epoch(self, perm: np.ndarray) -> float:
        X, y, step = self.p.X, self.p.y, self.compiled
        total = 0.0
        batches = self.batches(perm)
        for idx in batches:
            total += step(X[idx], y[idx])
        return total / len(batches)


class EagerTrainer(MinnetTrainer):
    """minnet without compiling, on the trainer's loss: ``l2_regularized(ce, weights, lam)``,
    then ``zero_grad(); backward(); step()``."""

    readable = False

    def epoch(self, perm: np.ndarray) -> float:
        from minnet import losses

        model, opt, X, y, lam, weights = self.model, self.opt, self.p.X, self.p.y, self.p.lam, self.weights
        ce, l2_regularized, l2_penalty = losses.softmax_cross_entropy, losses.l2_regularized, losses.l2_penalty
        total = 0.0
        batches = self.batches(perm)
        for idx in batches:
            if self.readable:
                loss = ce(model(X[idx]), y[idx]) + lam * l2_penalty(model)
            else:
                loss = l2_regularized(ce(model(X[idx]), y[idx]), weights, lam)
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item()
        return total / len(batches)


class ReadableTrainer(EagerTrainer):
    """The eager loop a user first writes: ``ce(model(x), y) + lam * l2_penalty(model)``."""

    readable = True


class JaxTrainer:
    """``jax.jit`` of one SGD step (value_and_grad of the same loss, then θ − lr·g), the
    data on the device, the batch gathered inside the step, the loss summed on the device."""

    def __init__(self, problem: Problem):
        import jax
        import jax.numpy as jnp

        self.jax, self.p = jax, problem
        relu, lr, lam, last = problem.activation == "relu", problem.lr, problem.lam, len(problem.sizes) - 2

        def loss_fn(params: Any, x: Any, y: Any) -> Any:
            a = x
            for i, (W, b) in enumerate(params):
                a = a @ W.T + b
                if i < last:
                    a = jax.nn.relu(a) if relu else jax.nn.sigmoid(a)
            log_probs = jax.nn.log_softmax(a, axis=1)
            ce = -jnp.take_along_axis(log_probs, y[:, None], axis=1).mean()
            return ce + lam * 0.5 * sum(jnp.vdot(W, W) for W, _ in params)

        def step(params: Any, total: Any, X: Any, y: Any, idx: Any) -> Any:
            loss, grads = jax.value_and_grad(loss_fn)(params, X[idx], y[idx])
            params = [(W - lr * gW, b - lr * gb) for (W, b), (gW, gb) in zip(params, grads, strict=True)]
            return params, total + loss

        self.step = jax.jit(step)
        self.X, self.y = jax.device_put(problem.X), jax.device_put(problem.y.astype(np.int32))
        self.state: Any = None

    def reset(self, params: Params) -> None:
        self.state = [(self.jax.device_put(W), self.jax.device_put(b)) for W, b in params]

    def params(self) -> Params:
        return [(np.array(W), np.array(b)) for W, b in self.state]

    def epoch(self, perm: np.ndarray) -> float:
        batch, step, X, y = self.p.batch, self.step, self.X, self.y
        params, total = self.state, self.jax.numpy.zeros((), self.p.X.dtype)
        steps = 0
        for start in range(0, len(perm), batch):
            params, total = step(params, total, X, y, perm[start:start + batch])
            steps += 1
        self.state = params
        return float(total) / steps


class TorchTrainer:
    """PyTorch eager: nn.Sequential, F.cross_entropy plus the same L2 term, optim.SGD."""

    def __init__(self, problem: Problem):
        import torch

        self.torch, self.p = torch, problem
        dtype = {np.dtype(np.float32): torch.float32, np.dtype(np.float64): torch.float64}[problem.X.dtype]
        act = {"relu": torch.nn.ReLU, "sigmoid": torch.nn.Sigmoid}[problem.activation]
        layers: list[torch.nn.Module] = []
        for n_in, n_out in zip(problem.sizes[:-1], problem.sizes[1:], strict=True):
            layers += [torch.nn.Linear(n_in, n_out, dtype=dtype), act()]
        self.model = torch.nn.Sequential(*layers[:-1])
        self.linears = list(self.model)[::2]
        self.weights = [layer.weight for layer in self.linears]
        self.opt = torch.optim.SGD(self.model.parameters(), lr=problem.lr)
        self.X = torch.from_numpy(problem.X)
        self.y = torch.from_numpy(problem.y.astype(np.int64))

    def reset(self, params: Params) -> None:
        with self.torch.no_grad():
            for layer, (W, b) in zip(self.linears, params, strict=True):
                layer.weight.copy_(self.torch.from_numpy(W))
                layer.bias.copy_(self.torch.from_numpy(b))

    def params(self) -> Params:
        return [(layer.weight.detach().numpy().copy(), layer.bias.detach().numpy().copy()) for layer in self.linears]

    def epoch(self, perm: np.ndarray) -> float:
        cross_entropy = self.torch.nn.functional.cross_entropy
        model, opt, weights = self.model, self.opt, self.weights
        X, y, batch, lam = self.X, self.y, self.p.batch, self.p.lam
        order = self.torch.from_numpy(perm)
        total, steps = 0.0, 0
        for start in range(0, len(perm), batch):
            idx = order[start:start + batch]
            loss = cross_entropy(model(X[idx]), y[idx]) + lam * 0.5 * sum((W * W).sum() for W in weights)
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item()
            steps += 1
        return total / steps


class SklearnTrainer:
    """MLPClassifier(solver="sgd") without momentum; one ``partial_fit`` call is one epoch.

    With two classes scikit-learn uses one logistic output instead of two softmax
    outputs; it starts from the equivalent weights (the difference of the two rows).
    """

    def __init__(self, problem: Problem):
        from sklearn.neural_network import MLPClassifier

        self.p = problem
        self.clf = MLPClassifier(
            hidden_layer_sizes=problem.sizes[1:-1],
            activation={"relu": "relu", "sigmoid": "logistic"}[problem.activation],
            solver="sgd", learning_rate="constant", learning_rate_init=problem.lr,
            momentum=0.0, nesterovs_momentum=False,
            alpha=problem.lam * problem.batch, batch_size=problem.batch,
            shuffle=True, random_state=SEED,
        )
        self._partial_fit(classes=np.unique(problem.y))  # warm-up: builds the network

    def _partial_fit(self, **kwargs: Any) -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # ConvergenceWarning after every partial_fit
            self.clf.partial_fit(self.p.X, self.p.y, **kwargs)

    def reset(self, params: Params) -> None:
        coefs = [W.T.copy() for W, _ in params]
        intercepts = [b.copy() for _, b in params]
        if self.p.sizes[-1] == 2:  # softmax over (z0, z1) == logistic of z1 - z0
            coefs[-1] = coefs[-1][:, 1:] - coefs[-1][:, :1]
            intercepts[-1] = intercepts[-1][1:] - intercepts[-1][:1]
        self.clf.coefs_, self.clf.intercepts_ = coefs, intercepts

    def params(self) -> Params:
        params = [(W.T.copy(), b.copy()) for W, b in zip(self.clf.coefs_, self.clf.intercepts_, strict=True)]
        if self.p.sizes[-1] == 2:
            W, b = params[-1]
            params[-1] = (np.vstack([np.zeros_like(W), W]), np.concatenate([np.zeros_like(b), b]))
        return params

    def epoch(self, perm: np.ndarray) -> float:
        self._partial_fit()
        return float(self.clf.loss_)


TRAINERS: dict[str, Callable[[Problem], Trainer]] = {
    "numpy": NumpyTrainer,
    "tight": TightNumpyTrainer,
    "minnet": MinnetTrainer,
    "compiled": CompiledTrainer,
    "eager": EagerTrainer,
    "readable": ReadableTrainer,
    "jax": JaxTrainer,
    "sklearn": SklearnTrainer,
    "torch": TorchTrainer,
}


def available_implementations() -> tuple[str, ...]:
    """All implementations, less torch and JAX when they are not installed."""
    return tuple(name for name in IMPLEMENTATIONS if name not in OPTIONAL or importlib.util.find_spec(OPTIONAL[name]))


# ---- timing -------------------------------------------------------------------------

CLOCKS: dict[str, Callable[[], float]] = {
    "wall": time.perf_counter,
    "cpu": time.process_time,  # this process's CPU time: steadier on a busy machine
}


def time_epochs(trainers: dict[str, Trainer], perms: list[np.ndarray],
                clock: Callable[[], float]) -> tuple[dict[str, list[float]], dict[str, float]]:
    """Interleave: epoch r of every trainer, in an order rotated by r, for each r.

    Each timed epoch follows an untimed one of the same trainer on the same
    permutation, so no implementation is timed on the caches another one has just
    evicted: a user trains one framework at a time.  Returns the epoch times and
    each trainer's mean batch loss in its last epoch.
    """
    names = list(trainers)
    times: dict[str, list[float]] = {name: [] for name in names}
    last_loss: dict[str, float] = {}
    for r, perm in enumerate(perms):
        for name in names[r % len(names):] + names[:r % len(names)]:
            gc.collect()  # don't charge one implementation for another's garbage
            trainers[name].epoch(perm)  # warm-up
            start = clock()
            last_loss[name] = trainers[name].epoch(perm)
            times[name].append(clock() - start)
    return times, last_loss


def float_tolerance(dtype: np.dtype) -> float:
    """Relative tolerance on the final loss for 'the same training up to rounding'."""
    return 1e-4 if dtype == np.float32 else 1e-9


def run_case(workload: Workload, activation: str, dtype: np.dtype, impls: Sequence[str],
             repeats: int | None, clock: str = "wall") -> dict[str, Any]:
    """Train every implementation on one workload; return timings and final losses."""
    X, y = standardize(*workload.make(), dtype)
    sizes = (X.shape[1], *workload.hidden, int(y.max()) + 1)
    problem = Problem(X, y, sizes, activation, workload.batch, workload.lr, workload.lam)
    init = initial_params(sizes, activation, dtype)
    rng = np.random.default_rng(SEED)
    perms = [rng.permutation(len(X)) for _ in range(repeats or workload.repeats)]

    trainers = {name: TRAINERS[name](problem) for name in impls}
    for trainer in trainers.values():  # warm-up epoch (caches, lazy imports), then start over
        trainer.reset(init)
        trainer.epoch(perms[0])
        trainer.reset(init)
    gc.collect()
    gc.freeze()  # everything made so far: no collection during timing needs to walk it
    times, last_loss = time_epochs(trainers, perms, CLOCKS[clock])

    steps = -(-len(X) // workload.batch)
    base = min(times["numpy"]) if "numpy" in times else None
    results: dict[str, Any] = {}
    for name, trainer in trainers.items():
        loss, accuracy = evaluate(trainer.params(), activation, X, y, workload.lam)
        best = min(times[name])
        results[name] = {
            "epoch_seconds": times[name],
            "min_ms": 1e3 * best,
            "median_ms": 1e3 * statistics.median(times[name]),
            "step_us": 1e6 * best / steps,
            "ratio_to_numpy": best / base if base else None,
            "final_loss": loss,
            "accuracy": accuracy,
            "last_epoch_batch_loss": last_loss[name],
        }
    case: dict[str, Any] = {
        "workload": workload.name, "activation": activation, "dtype": str(np.dtype(dtype)),
        "sizes": list(sizes), "n_samples": len(X), "batch": workload.batch,
        "steps_per_epoch": steps, "epochs": len(perms), "lr": workload.lr, "lam": workload.lam,
        "clock": clock, "results": results,
    }
    if "numpy" in results:  # scikit-learn shuffles on its own: its loss is not comparable
        case["loss_rel_diff"], case["mismatched"] = {}, []
        for name, r in results.items():
            if name in ("numpy", "sklearn"):
                continue
            reference, tolerance = reference_for(name, results, dtype)
            b = results[reference]["final_loss"]
            case["loss_rel_diff"][name] = difference = abs(r["final_loss"] - b) / max(abs(b), 1e-12)
            if difference > tolerance:
                case["mismatched"].append(name)
    return case


# The fused update (Wᵀ ← β·Wᵀ + aᵀ·δ) rounds differently from W −= lr·(g + λW); over many
# epochs (ReLU's kinks amplify it) that is more than rounding apart from the plain loop,
# so the fused loops are checked against the fused numpy loop, and XLA, which
# reassociates freely, with a looser tolerance.  So is eager minnet, whose SGD update is
# one BLAS axpy (which may round W − lr·g once, where numpy rounds the product too).
FUSED = ("minnet", "compiled")
LOOSE = ("tight", "jax", "eager", "readable")


def reference_for(name: str, results: dict[str, Any], dtype: np.dtype) -> tuple[str, float]:
    """The implementation ``name`` must end with the loss of, and the relative tolerance."""
    if name in FUSED and "tight" in results:
        return "tight", float_tolerance(dtype)
    loose = name in FUSED or name in LOOSE
    return "numpy", float_tolerance(dtype) * (10 if loose else 1)


# ---- scaling checks -----------------------------------------------------------------

def scaling_with_data(sizes: Sequence[int], repeats: int) -> list[dict[str, float]]:
    """minnet epoch time on moons of growing size (interleaved, minimum): should grow linearly."""
    trainers, perms = [], []
    for n in sizes:
        X, y = standardize(*_moons(n), np.dtype(np.float32))
        problem = Problem(X, y, (2, 64, 64, 2), "relu", 64, 0.1, 1e-4)
        trainer = MinnetTrainer(problem)
        trainer.reset(initial_params(problem.sizes, "relu", X.dtype))
        trainer.epoch(np.arange(n))  # warm-up
        trainers.append(trainer)
        perms.append(np.random.default_rng(SEED).permutation(n))
    best = [float("inf")] * len(sizes)
    for _ in range(repeats):
        for i, trainer in enumerate(trainers):
            gc.collect()
            start = time.perf_counter()
            trainer.epoch(perms[i])
            best[i] = min(best[i], time.perf_counter() - start)
    return [
        {"n_samples": n, "epoch_ms": 1e3 * seconds, "us_per_sample": 1e6 * seconds / n}
        for n, seconds in zip(sizes, best, strict=True)
    ]


def _chain_times(n: int) -> tuple[float, float]:
    """Seconds to build out = x * c * c * ... (n mul nodes) and to run its backward."""
    import minnet as mn

    x = mn.Tensor(np.ones(4, dtype=np.float32), requires_grad=True)
    start = time.perf_counter()
    out = x
    for _ in range(n):
        out = out * 1.0001
    built = time.perf_counter()
    out.backward(np.ones(4, dtype=np.float32))
    return built - start, time.perf_counter() - built


def scaling_with_graph(lengths: Sequence[int], repeats: int = 3) -> list[dict[str, float]]:
    """Build and backward time of an n-node chain, with the garbage collector on and off.

    The engine's own work is linear in n (collector off); with the collector on,
    Python's full collections walking the growing graph add a slowly growing share.
    """
    rows = []
    for n in lengths:
        with_gc, without_gc = [], []
        for _ in range(repeats):
            gc.collect()
            with_gc.append(_chain_times(n))
            gc.collect()
            gc.disable()
            try:
                without_gc.append(_chain_times(n))
            finally:
                gc.enable()
        rows.append({
            "nodes": n,
            "forward_ms": 1e3 * min(t[0] for t in with_gc),
            "backward_ms": 1e3 * min(t[1] for t in with_gc),
            "forward_ms_gc_off": 1e3 * min(t[0] for t in without_gc),
            "backward_ms_gc_off": 1e3 * min(t[1] for t in without_gc),
        })
    return rows


def _rss_bytes() -> int:
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:  # not Linux
        return 0


def memory_over_steps(steps: int, checkpoint: int, compiled: bool = False) -> dict[str, Any]:
    """Train minnet on digits for ``steps`` steps with the garbage collector off: the
    readable eager loop, or (``compiled``) the same loss through ``mn.compile_step``.

    Memory traced after ``checkpoint`` steps and at the end must be the same (no graph
    or buffer kept alive), and a final ``gc.collect()`` must find nothing (no cycles).
    """
    import minnet as mn
    from minnet import losses

    X, y = standardize(*_digits(), np.dtype(np.float32))
    sizes = (X.shape[1], 128, 10)
    trainer = MinnetTrainer(Problem(X, y, sizes, "relu", 32, 0.05, 1e-4))
    trainer.reset(initial_params(sizes, "relu", X.dtype))
    model, opt = trainer.model, trainer.opt
    rng = np.random.default_rng(SEED)
    order = np.concatenate([rng.permutation(len(X)) for _ in range(-(-steps * 32 // len(X)) + 1)])

    def loss_fn(xb: np.ndarray, yb: np.ndarray) -> Any:
        return losses.softmax_cross_entropy(model(xb), yb) + 1e-4 * losses.l2_penalty(model)

    def eager(xb: np.ndarray, yb: np.ndarray) -> float:
        loss = loss_fn(xb, yb)
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss.item()
    step = mn.compile_step(loss_fn, opt) if compiled else eager

    gc.collect()
    gc.disable()
    tracemalloc.start()
    try:
        marks = {}
        for number in range(1, steps + 1):
            idx = order[(number - 1) * 32: number * 32]
            step(X[idx], y[idx])
            if number in (checkpoint, steps):
                marks[number] = (tracemalloc.get_traced_memory()[0], _rss_bytes())
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
        gc.enable()
    unreachable = gc.collect()
    (traced_a, rss_a), (traced_b, rss_b) = marks[checkpoint], marks[steps]
    return {
        "loop": "compiled" if compiled else "eager", "steps": steps, "checkpoint": checkpoint,
        "traced_kib_at_checkpoint": traced_a / 1024, "traced_kib_at_end": traced_b / 1024,
        "traced_peak_kib": peak / 1024,
        "rss_mib_at_checkpoint": rss_a / 2**20, "rss_mib_at_end": rss_b / 2**20,
        "gc_unreachable_objects": unreachable,
    }


def run_scaling(quick: bool) -> dict[str, Any]:
    """Epoch time vs data size, backward time vs graph size, memory over many steps."""
    if quick:
        return {
            "data": scaling_with_data((250, 500), repeats=1),
            "graph": scaling_with_graph((100, 1000), repeats=1),
            "memory": [memory_over_steps(200, 50), memory_over_steps(200, 50, compiled=True)],
        }
    return {
        "data": scaling_with_data((2500, 5000, 10_000), repeats=7),
        "graph": scaling_with_graph((1000, 10_000, 100_000)),
        "memory": [memory_over_steps(10_000, 1000), memory_over_steps(10_000, 1000, compiled=True)],
    }


# ---- machine and report -------------------------------------------------------------

def pin_to_cpus(threads: int) -> None:
    """Run this process on ``threads`` CPUs.  threadpoolctl and torch limit their own pools,
    but XLA's CPU runtime ignores its thread flags and sizes its pool from the CPU affinity,
    so without this a one-thread JAX run would still use every core."""
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, sorted(os.sched_getaffinity(0))[:threads])


def machine_info(threads: int) -> dict[str, Any]:
    """CPU model and count, library versions, and the BLAS/OpenMP pools threadpoolctl sees."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), cpu)
    except OSError:
        pass
    info: dict[str, Any] = {
        "cpu": cpu,
        "logical_cpus": os.cpu_count(),
        "usable_cpus": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "threads": threads,
        "threadpools": [
            {k: pool.get(k) for k in ("user_api", "internal_api", "prefix", "version", "architecture", "num_threads")}
            for pool in threadpool_info()
        ],
    }
    for module, dist in (("sklearn", "scikit-learn"), ("torch", "torch"), ("minnet", "minnet")):
        try:
            info[module] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            pass
    return info


def format_machine(info: dict[str, Any]) -> str:
    lines = [
        f"machine: {info['cpu']}, {info['logical_cpus']} logical CPUs ({info['usable_cpus']} in use); "
        f"Python {info['python']}, numpy {info['numpy']}, scikit-learn {info.get('sklearn', '-')}, "
        f"torch {info.get('torch', 'not installed')}",
        f"threads: {info['threads']} (BLAS/OpenMP via threadpoolctl, torch.set_num_threads)",
    ]
    for pool in info["threadpools"]:
        lines.append(
            f"  {pool['user_api']:6} {pool['internal_api']:9} {pool['prefix']:18} "
            f"{pool['version'] or '':22} {pool['architecture'] or '':10} threads={pool['num_threads']}"
        )
    return "\n".join(lines)


def format_case(case: dict[str, Any]) -> str:
    sizes = "-".join(map(str, case["sizes"]))
    lines = [
        f"\n{case['workload']} {sizes}  n={case['n_samples']} batch={case['batch']} "
        f"({case['steps_per_epoch']} steps/epoch)  {case['activation']} {case['dtype']}  "
        f"lr={case['lr']} lam={case['lam']}  {case['epochs']} epochs each, {case['clock']} clock",
        f"  {'impl':8} {'min ms/ep':>10} {'median':>9} {'µs/step':>9} {'× numpy':>8} {'final loss':>11} {'acc':>6}",
    ]
    for name, r in case["results"].items():
        ratio = f"{r['ratio_to_numpy']:.2f}" if r["ratio_to_numpy"] else "-"
        lines.append(
            f"  {name:8} {r['min_ms']:10.2f} {r['median_ms']:9.2f} {r['step_us']:9.1f} {ratio:>8} "
            f"{r['final_loss']:11.6f} {r['accuracy']:6.3f}"
        )
    if case.get("loss_rel_diff"):
        worst = max(case["loss_rel_diff"].values())
        verdict = f"DO NOT MATCH: {', '.join(case['mismatched'])}" if case["mismatched"] else "match"
        lines.append(f"  the others {verdict} numpy's final loss (the fused loops: tight's; largest relative "
                     f"difference {worst:.1e})")
    if case["sizes"][-1] == 2 and "sklearn" in case["results"]:
        lines.append("  (sklearn uses one logistic output for two classes)")
    return "\n".join(lines)


def format_summary(cases: list[dict[str, Any]], impls: Sequence[str]) -> str:
    header = f"{'workload':10} {'act':8} {'dtype':8}" + "".join(f"{name:>9}" for name in impls)
    lines = ["\nratio of minimum epoch times to numpy:", header]
    for case in cases:
        cells = "".join(
            f"{case['results'][name]['ratio_to_numpy']:9.2f}" if name in case["results"] else f"{'-':>9}"
            for name in impls
        )
        lines.append(f"{case['workload']:10} {case['activation']:8} {case['dtype']:8}{cells}")
    return "\n".join(lines)


def format_scaling(scaling: dict[str, Any]) -> str:
    lines = ["\nscaling: minnet epoch time vs moons size (2-64-64-2, batch 64, relu, float32)"]
    first = scaling["data"][0]
    for row in scaling["data"]:
        lines.append(
            f"  n={row['n_samples']:6}  {row['epoch_ms']:8.2f} ms/epoch  {row['us_per_sample']:6.2f} µs/sample"
            f"  (×{row['epoch_ms'] / first['epoch_ms']:.2f} time for ×{row['n_samples'] / first['n_samples']:.0f} data)"
        )
    lines.append("scaling: chain graph out = x * c * c * ... (n nodes): build and backward, µs per node")
    lines.append(f"  {'nodes':>7} {'build':>8} {'backward':>9}   gc off: {'build':>6} {'backward':>9}")
    for row in scaling["graph"]:
        n = row["nodes"] / 1e3  # ms -> µs per node
        lines.append(
            f"  {row['nodes']:7} {row['forward_ms'] / n:8.2f} {row['backward_ms'] / n:9.2f}"
            f"           {row['forward_ms_gc_off'] / n:6.2f} {row['backward_ms_gc_off'] / n:9.2f}"
        )
    for mem in scaling["memory"]:
        lines.append(f"memory: {mem['steps']} {mem['loop']} minnet steps on digits with the garbage collector off")
        lines.append(
            f"  traced {mem['traced_kib_at_checkpoint']:.0f} KiB after {mem['checkpoint']} steps, "
            f"{mem['traced_kib_at_end']:.0f} KiB after {mem['steps']} (peak {mem['traced_peak_kib']:.0f} KiB); "
            f"RSS {mem['rss_mib_at_checkpoint']:.1f} -> {mem['rss_mib_at_end']:.1f} MiB; "
            f"gc.collect() found {mem['gc_unreachable_objects']} unreachable objects"
        )
    return "\n".join(lines)


# ---- command line -------------------------------------------------------------------

def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workload", nargs="+", choices=list(WORKLOADS), default=list(WORKLOADS))
    parser.add_argument("--activation", nargs="+", choices=ACTIVATIONS, default=list(ACTIVATIONS))
    parser.add_argument("--dtype", nargs="+", choices=("float32", "float64"), default=["float32"])
    parser.add_argument("--impl", nargs="+", choices=IMPLEMENTATIONS, default=list(IMPLEMENTATIONS),
                        help="implementations to run (torch is skipped when not installed)")
    parser.add_argument("--repeats", type=int, default=None, help="timed epochs per implementation")
    parser.add_argument("--threads", type=int, default=1, help="BLAS/OpenMP/torch threads (default 1)")
    parser.add_argument("--clock", choices=list(CLOCKS), default="wall",
                        help="wall time (default) or this process's CPU time, steadier on a busy machine "
                             "(with --threads 1 only: idle worker threads spinning count as CPU time)")
    parser.add_argument("--quick", action="store_true", help="tiny workloads: a smoke run of a few seconds")
    parser.add_argument("--json", action="store_true", help="print one JSON document instead of tables")
    section = parser.add_mutually_exclusive_group()
    section.add_argument("--no-scaling", action="store_true", help="skip the scaling checks")
    section.add_argument("--scaling-only", action="store_true", help="run only the scaling checks")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.clock == "cpu" and args.threads > 1:
        print("warning: --clock cpu adds up all threads' CPU time; use it with --threads 1", file=sys.stderr)
    impls = [name for name in args.impl if name in available_implementations()]
    workloads = QUICK_WORKLOADS if args.quick else WORKLOADS
    say: Callable[[str], None] = (lambda text: None) if args.json else (lambda text: print(text, flush=True))

    pin_to_cpus(args.threads)  # before jax is imported: XLA sizes its thread pool from the affinity
    with threadpool_limits(limits=args.threads):
        if "torch" in impls:
            import torch

            torch.set_num_threads(args.threads)
        gc.collect()
        gc.freeze()  # torch's and scikit-learn's objects: keep collections from walking them
        info = machine_info(args.threads)
        say(format_machine(info))
        cases = []
        if not args.scaling_only:
            for name in args.workload:
                for activation in args.activation:
                    for dtype in args.dtype:
                        case = run_case(workloads[name], activation, np.dtype(dtype), impls, args.repeats, args.clock)
                        cases.append(case)
                        say(format_case(case))
            say(format_summary(cases, impls))
        scaling = None
        if not args.no_scaling:
            scaling = run_scaling(args.quick)
            say(format_scaling(scaling))

    mismatches = [c for c in cases if c.get("mismatched")]
    if args.json:
        json.dump({"machine": info, "implementations": impls, "cases": cases, "scaling": scaling}, sys.stdout, indent=1)
        print()
    for case in mismatches:
        differences = ", ".join(f"{case['loss_rel_diff'][name]:.1e}" for name in case["mismatched"])
        print(
            f"error: the final loss of {', '.join(case['mismatched'])} differs from its reference on {case['workload']} "
            f"{case['activation']} {case['dtype']} (relative differences {differences})",
            file=sys.stderr,
        )
    return 1 if mismatches else 0


if __name__ == "__main__":
    sys.exit(main())
