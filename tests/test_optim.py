import numpy as np
import pytest

import minnet as mn
from minnet import optim
from minnet.optim import sgd


def _param(values):
    return mn.Tensor(np.array(values, dtype=np.float64), requires_grad=True)


def test_step_is_theta_minus_lr_grad_in_place():
    p = _param([1.0, -2.0])
    data = p.data
    p.grad = np.array([0.5, 0.25])
    optim.SGD([p], lr=0.1).step()
    assert p.data is data
    np.testing.assert_allclose(p.data, [0.95, -2.025], rtol=1e-15)


def _within_one_rounding(result, data, lr, grad):
    """result is data − lr·grad with at most the two roundings numpy makes (product, difference)."""
    exact = data.astype(np.float64) - np.float64(np.asarray(lr, data.dtype)) * grad.astype(np.float64)
    eps = np.finfo(data.dtype).eps
    np.testing.assert_array_less(np.abs(result - exact), eps * (np.abs(data) + np.abs(lr * grad)) + 1e-300)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_descend_fast_path_equals_numpys_update_up_to_rounding(dtype):
    rng = np.random.default_rng(0)
    data = rng.standard_normal((64, 33)).astype(dtype)
    grad = rng.standard_normal((64, 33)).astype(dtype)
    before = data.copy()
    plain = before - 0.05 * grad
    sgd.descend(data, grad, 0.05)
    _within_one_rounding(data, before, 0.05, grad)
    _within_one_rounding(plain, before, 0.05, grad)
    np.testing.assert_allclose(data, plain, rtol=4 * np.finfo(dtype).eps, atol=4 * np.finfo(dtype).eps)


def _misaligned(a):
    raw = np.zeros(a.nbytes + 1, np.uint8)[1:].view(a.dtype).reshape(a.shape)
    raw[...] = a
    assert not raw.flags.aligned
    return raw


@pytest.mark.parametrize("make", [
    lambda a: np.asfortranarray(a),           # not C-ordered
    lambda a: a.astype(np.float16),           # no BLAS routine for the dtype
    lambda a: a.astype(">f8" if np.little_endian else "<f8"),  # not in the machine's byte order
    lambda a: a.astype(">f4" if np.little_endian else "<f4"),
    _misaligned,                              # BLAS would update an aligned copy
])
def test_descend_updates_any_float_array_in_place(make):
    rng = np.random.default_rng(1)
    data = make(rng.standard_normal((6, 8)))
    grad = rng.standard_normal(data.shape).astype(data.dtype)
    if grad.dtype == data.dtype:
        grad = grad.view(data.dtype)  # the very dtype object, as the engine gives gradients
    expected = data - np.asarray(0.5, data.dtype) * grad
    sgd.descend(data, grad, 0.5)
    rtol = {2: 1e-3, 4: 1e-6}.get(data.dtype.itemsize, 1e-15)
    np.testing.assert_allclose(data, expected, rtol=rtol)


def test_descend_through_a_strided_view_updates_only_its_elements():
    base = np.zeros((3, 4))
    sgd.descend(base[:, ::2], np.ones((3, 2)), 0.5)
    np.testing.assert_array_equal(base, [[-0.5, 0.0, -0.5, 0.0]] * 3)


def test_descend_uses_blas_axpy_for_contiguous_float32_and_float64(monkeypatch):
    calls = []

    def spy(name, dtype):
        axpy = real(name, dtype)
        return None if axpy is None else lambda x, y, a: calls.append((dtype, a)) or axpy(x, y, a=a)
    real = sgd.routine
    monkeypatch.setattr(sgd, "routine", spy)
    for dtype in (np.float32, np.float64, np.float16):
        sgd.descend(np.ones((4, 3), dtype), np.ones((4, 3), dtype), 0.25)
    sgd.descend(np.ones((4, 3), np.float32)[:, :2], np.ones((4, 2), np.float32), 0.25)  # not contiguous
    assert calls == [(np.dtype(np.float32), -0.25), (np.dtype(np.float64), -0.25)]


def test_descend_falls_back_to_numpy_if_blas_updated_a_copy(monkeypatch):
    monkeypatch.setattr(sgd, "routine", lambda name, dtype: lambda x, y, a: y + a * x)  # a new array, y untouched
    data = np.ones((2, 3), np.float32)
    sgd.descend(data, np.full((2, 3), 2.0, np.float32), 0.25)
    np.testing.assert_array_equal(data, np.full((2, 3), 0.5))


def test_descend_updates_an_ndarray_subclass_in_place(tmp_path):
    data = np.memmap(tmp_path / "w.bin", np.float32, "w+", shape=(2, 3))
    data[:] = 1
    sgd.descend(data, np.ones((2, 3), np.float32), 0.5)
    np.testing.assert_array_equal(np.memmap(tmp_path / "w.bin", np.float32, "r", shape=(2, 3)), 0.5)


def test_descend_takes_numpys_path_for_broadcast_or_other_dtype_gradients():
    data = np.ones((3, 2), np.float32)
    sgd.descend(data, np.array([1.0, 2.0], np.float32), 0.5)   # broadcast over rows
    np.testing.assert_array_equal(data, [[0.5, 0.0]] * 3)
    sgd.descend(data, np.full((3, 2), 0.5), 1.0)               # a float64 gradient
    np.testing.assert_array_equal(data, [[0.0, -0.5]] * 3)


def test_descend_keeps_numpys_edge_cases():
    data = np.array([1.0, 2.0], np.float32)
    with np.errstate(invalid="ignore"):
        sgd.descend(data, np.array([np.inf, 1.0], np.float32), 0.0)  # lr = 0: 0·inf is nan, as in numpy
    assert np.isnan(data[0]) and data[1] == 2.0
    data = np.array([1.0, 2.0], np.float32)
    sgd.descend(data, np.array([np.inf, np.nan], np.float32), 0.1)
    assert data[0] == -np.inf and np.isnan(data[1])
    frozen = np.ones(2, np.float32)
    frozen.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        sgd.descend(frozen, np.ones(2, np.float32), 0.1)


def test_parameters_without_gradient_are_skipped():
    used, unused = _param([1.0]), _param([2.0])
    used.grad = np.array([1.0])
    optim.SGD([used, unused], lr=1.0).step()
    assert used.data[0] == 0.0 and unused.data[0] == 2.0


def test_momentum_follows_pytorchs_formula():
    p = _param([1.0])
    grads = [0.5, -1.0, 2.0, 0.25]
    opt = optim.SGD([p], lr=0.1, momentum=0.9)
    theta, velocity = 1.0, None
    for g in grads:
        p.grad = np.array([g])
        opt.step()
        velocity = g if velocity is None else 0.9 * velocity + g
        theta -= 0.1 * velocity
        assert p.data[0] == pytest.approx(theta, abs=1e-15)


def test_momentum_matches_torch_when_installed():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    start = rng.normal(size=(3, 2))
    ours = _param(start.copy())
    theirs = torch.tensor(start.copy(), requires_grad=True)
    opt, topt = optim.SGD([ours], lr=0.05, momentum=0.8), torch.optim.SGD([theirs], lr=0.05, momentum=0.8)
    for _ in range(5):
        g = rng.normal(size=(3, 2))
        ours.grad, theirs.grad = g, torch.tensor(g)
        opt.step()
        topt.step()
    np.testing.assert_allclose(ours.data, theirs.detach().numpy(), rtol=1e-12)


def test_zero_grad_sets_gradients_to_none():
    p = _param([1.0])
    p.grad = np.array([3.0])
    optim.SGD([p], lr=0.1).zero_grad()
    assert p.grad is None


def test_state_dict_resumes_momentum_exactly():
    rng = np.random.default_rng(1)
    grads = [rng.normal(size=2) for _ in range(6)]
    straight = _param([0.0, 0.0])
    opt = optim.SGD([straight], lr=0.1, momentum=0.5)
    for g in grads:
        straight.grad = g
        opt.step()

    resumed = _param([0.0, 0.0])
    first = optim.SGD([resumed], lr=0.1, momentum=0.5)
    for g in grads[:3]:
        resumed.grad = g
        first.step()
    second = optim.SGD([resumed], lr=0.1, momentum=0.5)
    second.load_state_dict(first.state_dict())
    for g in grads[3:]:
        resumed.grad = g
        second.step()
    np.testing.assert_array_equal(resumed.data, straight.data)


def test_load_state_dict_rejects_mismatched_buffers():
    opt = optim.SGD([_param([1.0, 2.0])], lr=0.1, momentum=0.5)
    good = opt.state_dict()
    with pytest.raises(ValueError, match="1 parameters"):
        opt.load_state_dict({**good, "state": [{}, {}]})
    with pytest.raises(ValueError, match=r"shape \(3,\)"):
        opt.load_state_dict({**good, "state": [{"momentum_buffer": np.zeros(3)}]})


@pytest.mark.parametrize("lr", [0, 0.0, -0.1, float("nan"), float("inf"), "fast"])
def test_bad_learning_rates_are_rejected(lr):
    with pytest.raises(ValueError, match="lr: expected a number > 0"):
        optim.SGD([_param([1.0])], lr=lr)


@pytest.mark.parametrize("momentum", [-0.1, 1.0, 1.5])
def test_momentum_outside_zero_one_is_rejected(momentum):
    with pytest.raises(ValueError, match=r"momentum: expected a number in \[0, 1\)"):
        optim.SGD([_param([1.0])], lr=0.1, momentum=momentum)


def test_empty_parameter_list_is_rejected():
    with pytest.raises(ValueError, match="empty parameter list"):
        optim.SGD([], lr=0.1)


# ---- PyTorch's optimizers, schedules and clipping, step for step ---------------------------

OPTIMIZER_CASES = [
    ("SGD", {"lr": 0.05}),
    ("SGD", {"lr": 0.05, "momentum": 0.9}),
    ("SGD", {"lr": 0.05, "momentum": 0.9, "dampening": 0.3}),
    ("SGD", {"lr": 0.05, "momentum": 0.9, "nesterov": True}),
    ("SGD", {"lr": 0.05, "momentum": 0.5, "weight_decay": 0.1}),
    ("SGD", {"lr": 0.05, "weight_decay": 0.1}),
    ("Adam", {"lr": 0.01}),
    ("Adam", {"lr": 0.01, "betas": (0.8, 0.99), "eps": 1e-6, "weight_decay": 0.05}),
    ("AdamW", {"lr": 0.01}),
    ("AdamW", {"lr": 0.01, "betas": (0.85, 0.95), "weight_decay": 0.1}),
]


def _gradient_sequence(seed, shapes, steps=20):
    rng = np.random.default_rng(seed)
    return [[rng.normal(size=s) for s in shapes] for _ in range(steps)]


@pytest.mark.parametrize("name, kwargs", OPTIMIZER_CASES, ids=[f"{n}-{sorted(k)}" for n, k in OPTIMIZER_CASES])
def test_every_optimizer_matches_torch_for_20_steps(name, kwargs):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(3)
    starts = [rng.normal(size=(3, 2)), rng.normal(size=(2,))]
    ours = [_param(s.copy()) for s in starts]
    theirs = [torch.tensor(s.copy(), requires_grad=True) for s in starts]
    opt = getattr(optim, name)(ours, **kwargs)
    topt = getattr(torch.optim, name)(theirs, **kwargs)
    for grads in _gradient_sequence(4, [s.shape for s in starts]):
        for p, t, g in zip(ours, theirs, grads, strict=True):
            p.grad, t.grad = g.copy(), torch.tensor(g)
        opt.step()
        topt.step()
        for p, t in zip(ours, theirs, strict=True):
            np.testing.assert_allclose(p.data, t.detach().numpy(), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name, kwargs", OPTIMIZER_CASES, ids=[f"{n}-{sorted(k)}" for n, k in OPTIMIZER_CASES])
def test_every_optimizer_resumes_bit_exactly_from_its_state_dict(name, kwargs):
    shapes = [(3, 2), (2,)]
    grads = _gradient_sequence(5, shapes, steps=10)
    straight = [_param(np.ones(s)) for s in shapes]
    opt = getattr(optim, name)(straight, **kwargs)
    for g in grads:
        for p, gi in zip(straight, g, strict=True):
            p.grad = gi.copy()
        opt.step()
    resumed = [_param(np.ones(s)) for s in shapes]
    first = getattr(optim, name)(resumed, **kwargs)
    for g in grads[:4]:
        for p, gi in zip(resumed, g, strict=True):
            p.grad = gi.copy()
        first.step()
    second = getattr(optim, name)(resumed, **kwargs)
    second.load_state_dict(first.state_dict())
    for g in grads[4:]:
        for p, gi in zip(resumed, g, strict=True):
            p.grad = gi.copy()
        second.step()
    for a, b in zip(resumed, straight, strict=True):
        np.testing.assert_array_equal(a.data, b.data)


SCHEDULES = [
    ("StepLR", {"step_size": 3, "gamma": 0.5}),
    ("CosineAnnealingLR", {"T_max": 7}),
    ("CosineAnnealingLR", {"T_max": 5, "eta_min": 0.01}),
]


@pytest.mark.parametrize("name, kwargs", SCHEDULES, ids=[s[0] + str(s[1]) for s in SCHEDULES])
def test_schedules_match_torch(name, kwargs):
    torch = pytest.importorskip("torch")
    opt = optim.SGD([_param([1.0])], lr=0.2)
    topt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.2)
    ours, theirs = getattr(optim.lr_scheduler, name)(opt, **kwargs), getattr(torch.optim.lr_scheduler, name)(topt, **kwargs)
    for _ in range(16):
        topt.step()
        ours.step()
        theirs.step()
        assert opt.lr == pytest.approx(topt.param_groups[0]["lr"], rel=1e-12, abs=1e-15)


def test_reduce_on_plateau_matches_torch():
    torch = pytest.importorskip("torch")
    opt = optim.SGD([_param([1.0])], lr=0.2)
    topt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.2)
    ours = optim.lr_scheduler.ReduceLROnPlateau(opt, patience=2, factor=0.5)
    theirs = torch.optim.lr_scheduler.ReduceLROnPlateau(topt, patience=2, factor=0.5)
    for metric in [1.0, 0.9, 0.95, 0.93, 0.92, 0.91, 0.95, 0.96, 0.97, 0.5, 0.6, 0.7, 0.8, 0.9]:
        topt.step()
        ours.step(metric)
        theirs.step(metric)
        assert opt.lr == pytest.approx(topt.param_groups[0]["lr"], rel=1e-12)
    assert opt.lr < 0.2  # it did reduce


def test_clip_grad_norm_matches_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(2)
    grads = [rng.normal(size=(3, 4)) * 5, rng.normal(size=(4,))]
    ours = [_param(np.zeros(g.shape)) for g in grads]
    theirs = [torch.zeros(g.shape, dtype=torch.float64, requires_grad=True) for g in grads]
    for p, t, g in zip(ours, theirs, grads, strict=True):
        p.grad, t.grad = g.copy(), torch.tensor(g)
    total = optim.clip_grad_norm(ours, 1.5)
    expected = torch.nn.utils.clip_grad_norm_(theirs, 1.5)
    assert total == pytest.approx(float(expected), rel=1e-12)
    for p, t in zip(ours, theirs, strict=True):
        np.testing.assert_allclose(p.grad, t.grad.numpy(), rtol=1e-12)
    assert optim.clip_grad_norm(ours, 100.0) == pytest.approx(1.5, rel=1e-6)  # small enough: unchanged


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_clip_grad_norm_of_non_finite_gradients_matches_torch(bad):
    torch = pytest.importorskip("torch")
    grads = [np.array([bad, 1.0]), np.array([3.0, 4.0])]
    ours = [_param(np.zeros(2)) for _ in grads]
    theirs = [torch.zeros(2, dtype=torch.float64, requires_grad=True) for _ in grads]
    for p, t, g in zip(ours, theirs, grads, strict=True):
        p.grad, t.grad = g.copy(), torch.tensor(g)
    with np.errstate(invalid="ignore"):
        total = optim.clip_grad_norm(ours, 1.0)
    expected = torch.nn.utils.clip_grad_norm_(theirs, 1.0)
    np.testing.assert_array_equal(total, float(expected))
    for p, t in zip(ours, theirs, strict=True):
        np.testing.assert_array_equal(p.grad, t.grad.numpy())


@pytest.mark.parametrize("make, message", [
    (lambda p: optim.SGD([p], lr=0.1, nesterov=True), "nesterov needs momentum > 0"),
    (lambda p: optim.SGD([p], lr=0.1, momentum=0.9, dampening=0.5, nesterov=True), "dampening = 0"),
    (lambda p: optim.SGD([p], lr=0.1, weight_decay=-1), "weight_decay: expected a number >= 0"),
    (lambda p: optim.SGD([p], lr=0.1, dampening=2), r"dampening: expected a number in \[0, 1\]"),
    (lambda p: optim.Adam([p], betas=(0.9, 1.0)), r"betas: expected two numbers in \[0, 1\)"),
    (lambda p: optim.Adam([p], betas=0.9), "betas: expected two numbers"),
    (lambda p: optim.Adam([p], eps=-1e-8), "eps: expected a number >= 0"),
    (lambda p: optim.AdamW([p], lr=0), "lr: expected a number > 0"),
    (lambda p: optim.SGD([p, p], lr=0.1), "listed twice"),
    (lambda p: optim.lr_scheduler.StepLR(optim.SGD([p], lr=0.1), step_size=0), "step_size: expected an integer >= 1"),
    (lambda p: optim.lr_scheduler.ReduceLROnPlateau(optim.SGD([p], lr=0.1), factor=1.5),
     r"factor: expected a number in \(0, 1\)"),
])
def test_bad_optimizer_arguments_are_value_errors(make, message):
    with pytest.raises(ValueError, match=message):
        make(_param([1.0]))


def test_lr_is_settable_and_used_by_the_next_step():
    p = _param([1.0])
    opt = optim.Adam([p], lr=0.1)
    opt.lr = 0.0  # a schedule may set any value, 0 included
    p.grad = np.array([1.0])
    opt.step()
    assert p.data[0] == 1.0


# ---- L2 in the loss versus weight decay ---------------------------------------------------

def _train_steps(optimizer_name, l2, weight_decay, steps=15):
    """A linear model on fixed data; L2 and weight decay both on the weight matrix only."""
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(16, 3)), rng.normal(size=(16, 1))
    w = mn.Tensor(rng.normal(size=(1, 3)), requires_grad=True)
    kwargs = {"lr": 0.05, "weight_decay": weight_decay}
    opt = getattr(optim, optimizer_name)([w], **kwargs)
    from minnet import losses
    for _ in range(steps):
        loss = losses.mse_loss(mn.Tensor(X) @ w.T, y)
        if l2:
            loss = loss + l2 * losses.l2_penalty([w])
        opt.zero_grad()
        loss.backward()
        opt.step()
    return w.data.copy()


def test_loss_l2_equals_sgd_weight_decay_and_adam_weight_decay_but_not_adamw():
    lam = 0.1
    np.testing.assert_allclose(_train_steps("SGD", lam, 0.0), _train_steps("SGD", 0.0, lam), rtol=1e-13)
    np.testing.assert_allclose(_train_steps("Adam", lam, 0.0), _train_steps("Adam", 0.0, lam), rtol=1e-13)
    decoupled = _train_steps("AdamW", 0.0, lam)
    coupled = _train_steps("Adam", lam, 0.0)
    assert np.abs(decoupled - coupled).max() > 1e-3  # AdamW's decay is another regularizer


def test_an_empty_parameter_steps_without_error():
    empty, used = _param(np.ones((0, 3))), _param([1.0])
    empty.grad, used.grad = np.ones((0, 3)), np.array([1.0])
    optim.SGD([empty, used], lr=0.5).step()  # BLAS takes no empty array: numpy's path
    assert empty.data.shape == (0, 3) and used.data[0] == 0.5
