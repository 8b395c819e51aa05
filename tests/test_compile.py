"""``mn.compile_step``: the compiled step gives the eager step's numbers, falls back to
eager where it cannot compile, and re-traces when what it captured changes."""

from __future__ import annotations

import glob
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

import minnet as mn
from minnet import losses, nn, optim
from minnet.compiler import step as step_module

ROOT = Path(__file__).resolve().parents[1]
RNG = np.random.default_rng(0)
X = RNG.standard_normal((70, 5))
LABELS = RNG.integers(0, 3, 70)
VALUES = RNG.standard_normal((70, 2))
BATCHES = [slice(i, i + 16) for i in range(0, 70, 16)]  # the last batch is shorter: a second shape


def _model(activation="relu", dtype=np.float64, fused=True, outputs=3, final=False):
    """5-8-6-outputs, an activation after each hidden layer (and after the last, if ``final``)."""
    mn.manual_seed(1)
    act = {"relu": nn.ReLU, "sigmoid": nn.Sigmoid, "tanh": nn.Tanh}[activation]
    layers = [nn.Linear(5, 8, dtype=dtype), act(), nn.Linear(8, 6, dtype=dtype), act(),
              nn.Linear(6, outputs, dtype=dtype)] + ([act()] if final else [])
    return nn.Sequential(*layers) if fused else _Unfused(layers)


class _Unfused(nn.Module):
    """The same MLP called layer by layer: separate linear and activation nodes."""

    def __init__(self, layers):
        self.layers = layers

    def forward(self, x):
        for layer in self.layers:
            x = layer(x)
        return x


OPTIMIZERS = {
    "sgd": lambda p: optim.SGD(p, lr=0.1),
    "sgd-wd": lambda p: optim.SGD(p, lr=0.1, weight_decay=0.01),
    "momentum": lambda p: optim.SGD(p, lr=0.1, momentum=0.9, dampening=0.1),
    "nesterov": lambda p: optim.SGD(p, lr=0.1, momentum=0.9, nesterov=True, weight_decay=1e-3),
    "adam": lambda p: optim.Adam(p, lr=0.01),
    "adamw": lambda p: optim.AdamW(p, lr=0.01),
}

LOSSES = {
    "readable": lambda m, lam: lambda xb, yb: losses.softmax_cross_entropy(m(xb), yb) + lam * losses.l2_penalty(m),
    "fused": lambda m, lam: lambda xb, yb: losses.l2_regularized(losses.softmax_cross_entropy(m(xb), yb),
                                                                 losses.weight_matrices(m), lam),
    "plain": lambda m, lam: lambda xb, yb: losses.softmax_cross_entropy(m(xb), yb),
    "scaled": lambda m, lam: lambda xb, yb: 2.0 * losses.softmax_cross_entropy(m(xb), yb) - lam * -losses.l2_penalty(m)
    / 0.5 + 1.0,
    "mse": lambda m, lam: lambda xb, yb: losses.mse_loss(m(xb), yb) + lam * losses.l2_penalty(m),
}


def _eager(loss_fn, opt, xb, yb):
    loss = loss_fn(xb, yb)
    opt.zero_grad()
    loss.backward()
    opt.step()
    return loss.item()


def _counted(loss_fn, calls):
    """``loss_fn``, appending to ``calls`` each time it runs (a compiled step runs it only to trace)."""
    def counted(*args):
        calls.append(args)
        return loss_fn(*args)
    return counted


def _train_both(loss_name, opt_name, activation="relu", fused=True, epochs=2, lam=1e-2, dtype=np.float64,
                final=False):
    """Train twice from the same start, compiled and eager; return (losses, params) of each."""
    outputs = 2 if loss_name == "mse" else 3
    target = VALUES if loss_name == "mse" else LABELS
    results = []
    for compiled in (True, False):
        model = _model(activation, dtype, fused, outputs, final)
        opt = OPTIMIZERS[opt_name](model.parameters())
        loss_fn = LOSSES[loss_name](model, lam)
        calls: list = []
        step = mn.compile_step(_counted(loss_fn, calls), opt) if compiled else None
        values = []
        for _ in range(epochs):
            for rows in BATCHES:
                xb, yb = X[rows].astype(dtype), target[rows].astype(dtype) if loss_name == "mse" else target[rows]
                values.append(step(xb, yb) if compiled else _eager(loss_fn, opt, xb, yb))
        if compiled:
            assert step.reason is None, step.reason
            assert len(calls) == 2 * 2, "two traces per batch shape, then only replays"
        results.append((np.array(values), [p.data.copy() for p in model.parameters()]))
    return results


@pytest.mark.parametrize("opt_name", sorted(OPTIMIZERS))
@pytest.mark.parametrize("loss_name", sorted(LOSSES))
def test_compiled_equals_eager_for_every_optimizer_and_loss(loss_name, opt_name):
    (compiled, params_c), (eager, params_e) = _train_both(loss_name, opt_name)
    np.testing.assert_allclose(compiled, eager, rtol=1e-12, atol=1e-14)
    for a, b in zip(params_c, params_e, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-11, atol=1e-13)


@pytest.mark.parametrize("activation", ["relu", "sigmoid", "tanh"])
@pytest.mark.parametrize("fused", [True, False], ids=["sequential", "layer-by-layer"])
def test_compiled_equals_eager_for_every_activation(activation, fused):
    (compiled, params_c), (eager, params_e) = _train_both("readable", "sgd", activation, fused)
    np.testing.assert_allclose(compiled, eager, rtol=1e-12)
    for a, b in zip(params_c, params_e, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-11, atol=1e-13)


@pytest.mark.parametrize("opt_name", ["sgd", "adam"])
@pytest.mark.parametrize("loss_name", ["readable", "mse"])
@pytest.mark.parametrize("activation", ["relu", "sigmoid", "tanh"])
def test_an_activation_after_the_last_layer_compiles_with_eagers_numbers(activation, loss_name, opt_name):
    """The loss reads the last activation's output, whose backward needs it unchanged."""
    (compiled, params_c), (eager, params_e) = _train_both(loss_name, opt_name, activation, final=True)
    np.testing.assert_allclose(compiled, eager, rtol=1e-12)
    for a, b in zip(params_c, params_e, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-11, atol=1e-13)


@pytest.mark.parametrize("opt_name", ["momentum", "adam"])
def test_compiled_gradients_are_eagers_bit_for_bit(opt_name):
    """Without the fused update, the compiled backward computes eager's very numbers
    (the loss it reports adds its terms in another order)."""
    (compiled, params_c), (eager, params_e) = _train_both("readable", opt_name)
    np.testing.assert_allclose(compiled, eager, rtol=1e-15)
    assert all(np.array_equal(a, b) for a, b in zip(params_c, params_e, strict=True))


def test_float32_stays_within_float32_rounding():
    (compiled, params_c), (eager, params_e) = _train_both("readable", "sgd", dtype=np.float32)
    np.testing.assert_allclose(compiled, eager, rtol=1e-5)
    for a, b in zip(params_c, params_e, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)
        assert a.dtype == np.float32


def _step_and_model(loss_fn_of_model, opt=lambda p: optim.SGD(p, lr=0.1), model=None):
    model = model or _model()
    o = opt(model.parameters())
    return mn.compile_step(loss_fn_of_model(model), o), model, o


@pytest.mark.parametrize("case", ["residual", "probabilities", "batch-dependent constant", "list input"])
def test_what_cannot_be_compiled_runs_eagerly_with_eagers_numbers(case):
    def loss_of(model):
        ce = losses.softmax_cross_entropy
        if case == "residual":
            return lambda xb, yb: ce(model(xb) + model(xb), yb)
        if case == "probabilities":
            return lambda xb, yb: ce(model(xb), np.eye(3)[yb])
        if case == "batch-dependent constant":
            return lambda xb, yb: ce(model(xb), yb) * float(np.abs(xb).sum())
        return lambda xb, yb: ce(model(np.asarray(xb)), yb)
    step, model, _ = _step_and_model(loss_of)
    twin = _model()
    opt = optim.SGD(twin.parameters(), lr=0.1)
    for rows in BATCHES[:4] * 2:  # one batch shape: traced twice, then the verdict
        xb = X[rows].tolist() if case == "list input" else X[rows]
        value = step(xb, LABELS[rows])
        assert value == pytest.approx(_eager(loss_of(twin), opt, xb, LABELS[rows]), rel=1e-12)
    assert step.reason, "the step should say why it ran eagerly"
    for a, b in zip(model.parameters(), twin.parameters(), strict=True):
        np.testing.assert_allclose(a.data, b.data, rtol=1e-11)


def test_guards_shape_replaced_parameters_lr_and_momentum():
    step, model, opt = _step_and_model(lambda m: LOSSES["readable"](m, 1e-2))
    twin = _model()
    twin_opt = optim.SGD(twin.parameters(), lr=0.1)
    twin_loss = LOSSES["readable"](twin, 1e-2)

    def both(rows):
        a = step(X[rows], LABELS[rows])
        b = _eager(twin_loss, twin_opt, X[rows], LABELS[rows])
        assert a == pytest.approx(b, rel=1e-12)
        assert step.reason is None
    for rows in BATCHES:  # two shapes, two plans
        both(rows)
    assert len(step._entries) == 2
    opt.lr = twin_opt.lr = 0.03  # read on every call
    both(BATCHES[0])
    opt.momentum = twin_opt.momentum = 0.5  # the other backward pass
    both(BATCHES[1])
    both(BATCHES[1])
    first = next(iter(model.parameters()))
    first.data = first.data.copy()  # a replaced array: traced again, on the new array
    twin_first = next(iter(twin.parameters()))
    twin_first.data = twin_first.data.copy()
    for rows in BATCHES[:2]:
        both(rows)
    for a, b in zip(model.parameters(), twin.parameters(), strict=True):
        np.testing.assert_allclose(a.data, b.data, rtol=1e-11)


def test_a_non_finite_loss_is_returned_without_an_update():
    step, model, _ = _step_and_model(lambda m: lambda xb, yb: losses.softmax_cross_entropy(m(xb), yb))
    step(X[:16], LABELS[:16])
    step(X[:16], LABELS[:16])  # compiled from here on
    before = [p.data.copy() for p in model.parameters()]
    bad = X[:16].copy()
    bad[0, 0] = np.inf
    with np.errstate(invalid="ignore", over="ignore"):
        assert not np.isfinite(step(bad, LABELS[:16]))
    assert all(np.array_equal(a, p.data) for a, p in zip(before, model.parameters(), strict=True))


def test_a_bad_label_is_eagers_clear_error():
    step, _, _ = _step_and_model(lambda m: lambda xb, yb: losses.softmax_cross_entropy(m(xb), yb))
    for _ in range(3):
        step(X[:16], LABELS[:16])
    labels = LABELS[:16].copy()
    labels[3] = 7
    with pytest.raises(ValueError, match="class label 7 is outside"):
        step(X[:16], labels)


def test_compiled_steps_keep_memory_flat():
    step, _, _ = _step_and_model(lambda m: LOSSES["readable"](m, 1e-3))
    for _ in range(20):
        step(X[:16], LABELS[:16])
    tracemalloc.start()
    try:
        for i in range(1000):
            step(X[:16], LABELS[:16])
            if i == 199:
                early = tracemalloc.get_traced_memory()[0]
        late = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    assert late - early < 4096, (early, late)


@pytest.mark.slow
def test_every_shipped_config_trains_compiled_like_eager(monkeypatch):
    """One epoch of each config: compiled (where the model allows) against forced eager."""
    from minnet.train import config as config_module
    from minnet.train.run import _run_epoch, start_run

    def epoch(path):
        run = start_run(config_module.load_config(path), None)
        _run_epoch(run)
        return run, [p.data.copy() for p in run.model.parameters()]

    for path in sorted(glob.glob(str(ROOT / "configs" / "*.toml"))):
        run, compiled = epoch(path)
        reason = run.step.reason
        with monkeypatch.context() as patch:
            patch.setattr(step_module, "trace", lambda *a: ("forced eager", a[0](*a[1])))
            eager_run, eager = epoch(path)
        assert eager_run.step.reason == "forced eager"
        if "custom_model" in path:
            assert reason is not None  # a residual block: eager, and says so
        else:
            assert reason is None, (path, reason)
        tolerance = 1e-4 if run.config.dtype == "float32" else 1e-10
        for a, b in zip(compiled, eager, strict=True):
            np.testing.assert_allclose(a, b, rtol=tolerance, atol=tolerance, err_msg=path)


def test_a_float64_batch_for_a_float32_model_is_converted_like_eager():
    model, twin = _model(dtype=np.float32), _model(dtype=np.float32)
    opt, twin_opt = optim.SGD(model.parameters(), lr=0.1), optim.SGD(twin.parameters(), lr=0.1)
    calls: list = []
    step = mn.compile_step(_counted(LOSSES["readable"](model, 1e-3), calls), opt)
    for rows in BATCHES[:4] * 2:
        a = step(X[rows], LABELS[rows])  # float64 rows: Linear converts them to float32
        b = _eager(LOSSES["readable"](twin, 1e-3), twin_opt, X[rows], LABELS[rows])
        assert a == pytest.approx(b, rel=1e-5)
    assert step.reason is None
    assert len(calls) == 2 and step._last.plan.source.dtype == np.float32  # replayed, in float32
    for p, q in zip(model.parameters(), twin.parameters(), strict=True):
        np.testing.assert_allclose(p.data, q.data, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("batch", ["copied", "sliced"])  # y[idx] or y[start:stop], a view of y
@pytest.mark.parametrize("view", ["transposed", "reversed", "column", "column by None"])
def test_an_mse_target_is_compiled_only_as_the_argument_or_its_column(view, batch):
    """mse_loss reshapes a target of shape (N,) to (N, 1); any other view of an argument
    holds other numbers in other places, and the step runs eagerly."""
    targets = {"transposed": VALUES.T.copy(), "reversed": VALUES[:, 0].copy(), "column": VALUES[:, 0].copy(),
               "column by None": VALUES[:, 0].copy()}[view]
    outputs = 2 if view == "transposed" else 1
    use = {"transposed": lambda t: t.T, "reversed": lambda t: t[::-1], "column": lambda t: t,
           "column by None": lambda t: t[:, None]}[view]
    runs = []
    for compiled in (True, False):
        model = _model(outputs=outputs)
        opt = optim.SGD(model.parameters(), lr=0.1)

        def loss_fn(xb, tb, model=model):
            return losses.mse_loss(model(xb), use(tb))
        step = mn.compile_step(loss_fn, opt) if compiled else None
        rows = slice(0, 16)
        tb = targets[:, rows] if view == "transposed" else targets[rows]
        tb = tb.copy() if batch == "copied" else tb
        runs.append([step(X[rows], tb) if compiled else _eager(loss_fn, opt, X[rows], tb) for _ in range(4)])
        if compiled:
            assert step.reason == (None if view.startswith("column") else "the target is not one of the step's arguments")
    np.testing.assert_allclose(runs[0], runs[1], rtol=1e-12)


def test_a_function_of_the_batch_is_not_taken_for_the_batch_converted():
    """model(abs(x)) on batches where abs(x) = x: the layer's input equals the converted
    batch, but it is not the batch, and later batches tell them apart."""
    runs = []
    for compiled in (True, False):
        model = _model(dtype=np.float32)
        opt = optim.SGD(model.parameters(), lr=0.1)

        def loss_fn(xb, yb, model=model):
            return losses.softmax_cross_entropy(model(np.abs(xb)), yb)
        step = mn.compile_step(loss_fn, opt) if compiled else None
        batches = [np.abs(X[:16])] * 2 + [X[16:32]] * 2
        runs.append([step(xb, LABELS[:16]) if compiled else _eager(loss_fn, opt, xb, LABELS[:16]) for xb in batches])
        if compiled:
            assert step.reason == "the model's input is not one of the step's arguments"
    np.testing.assert_allclose(runs[0], runs[1], rtol=1e-6)


def test_a_large_layer_updates_through_numpys_product_with_the_same_numbers():
    """Above FUSED_GEMM_LIMIT a weight's update is numpy's product plus an add."""
    from minnet.compiler.plan import FUSED_GEMM_LIMIT

    def make():
        mn.manual_seed(2)
        return nn.Sequential(nn.Linear(5, 256, dtype=np.float64), nn.Tanh(), nn.Linear(256, 300, dtype=np.float64),
                             nn.ReLU(), nn.Linear(300, 3, dtype=np.float64))
    model, twin = make(), make()
    opt = optim.SGD(model.parameters(), lr=0.05, weight_decay=1e-3)
    twin_opt = optim.SGD(twin.parameters(), lr=0.05, weight_decay=1e-3)
    step = mn.compile_step(LOSSES["fused"](model, 1e-2), opt)
    rows = np.arange(64) % 70
    for _ in range(4):
        a = step(X[rows], LABELS[rows])
        b = _eager(LOSSES["fused"](twin, 1e-2), twin_opt, X[rows], LABELS[rows])
        assert a == pytest.approx(b, rel=1e-12)
    plan = step._last.plan
    assert plan.fused == [True, False, True] and 64 * 256 * 300 > FUSED_GEMM_LIMIT
    for p, q in zip(model.parameters(), twin.parameters(), strict=True):
        np.testing.assert_allclose(p.data, q.data, rtol=1e-11, atol=1e-13)


def test_a_frozen_parameter_stays_frozen():
    """requires_grad = False: eager never updates it, so the step runs eagerly."""
    step, model, _ = _step_and_model(lambda m: LOSSES["readable"](m, 1e-2))
    for rows in BATCHES[:3]:
        step(X[rows], LABELS[rows])  # compiled
    frozen = model.layers[0].weight
    frozen.requires_grad = False  # frozen after the plan was made: traced again
    before = frozen.data.copy()
    for rows in BATCHES[:4] * 2:
        step(X[rows], LABELS[rows])
    assert np.array_equal(frozen.data, before)
    assert "frozen" in step.reason


def test_an_empty_penalised_parameter_runs_eagerly_with_eagers_numbers():
    def run(compiled):
        model = _model()
        extra = nn.Parameter(np.ones((0, 4)))
        opt = optim.SGD([*model.parameters(), extra], lr=0.1)

        def loss_fn(xb, yb):
            return losses.softmax_cross_entropy(model(xb), yb) + 0.1 * losses.l2_penalty([extra, *losses.weight_matrices(model)])
        step = mn.compile_step(loss_fn, opt) if compiled else None
        values = [step(X[r], LABELS[r]) if compiled else _eager(loss_fn, opt, X[r], LABELS[r]) for r in BATCHES]
        return values, step
    (compiled, step), (eager, _) = run(True), run(False)
    assert step.reason == "a parameter is empty (BLAS takes no empty array)"
    np.testing.assert_array_equal(compiled, eager)
