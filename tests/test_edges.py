"""Autograd at the edges: memory layouts, zero derivatives under inf/nan upstream,
every differentiable argument of every loss, and the subgradient conventions.

Each section tests a class of bug, not one instance: the same table of public ops is
run on C-ordered, Fortran-ordered, strided and negative-stride inputs; every rule with
a point where its local derivative is 0 is fed an inf and a nan upstream there.
"""

from __future__ import annotations

import numpy as np
import pytest

import minnet as mn
from minnet import losses, nn

_rng = np.random.default_rng(13)
inf, nan = np.inf, np.nan


def rand(*shape: int, low: float = -2.0, high: float = 2.0) -> np.ndarray:
    return _rng.uniform(low, high, size=shape)


def pos(*shape: int) -> np.ndarray:
    return rand(*shape, low=0.5, high=2.0)


def away(*shape: int) -> np.ndarray:
    """|x| >= 0.3: away from the kinks of abs and relu, where finite differences fail."""
    return rand(*shape, low=0.3, high=2.0) * _rng.choice([-1.0, 1.0], size=shape)


def distinct(*shape: int) -> np.ndarray:
    n = int(np.prod(shape))
    return (_rng.permutation(n) * 0.1 - n * 0.05).reshape(shape)


def spd(n: int) -> np.ndarray:
    a = rand(n, n)
    return a @ a.T + n * np.eye(n)


LABELS = np.array([2, 0, 1, 2])


def _probs(shape: tuple[int, ...]) -> np.ndarray:
    p = pos(*shape)
    return p / p.sum(axis=1, keepdims=True)


# Every public op: name, function of tensors, input arrays (all differentiated).
OPS = [
    ("add", lambda a, b: a + b, [rand(3, 4), rand(3, 4)]),
    ("add-broadcast", lambda a, b: a + b, [rand(3, 4), rand(1, 4)]),
    ("sub", lambda a, b: a - b, [rand(3, 4), rand(3, 4)]),
    ("mul", lambda a, b: a * b, [rand(3, 4), rand(3, 4)]),
    ("div", lambda a, b: a / b, [rand(3, 4), pos(3, 4)]),
    ("pow", lambda a, b: a ** b, [pos(3, 4), rand(3, 4)]),
    ("neg", lambda a: -a, [rand(3, 4)]),
    ("matmul", lambda a, b: a @ b, [rand(3, 4), rand(4, 5)]),
    ("matmul-batched", lambda a, b: a @ b, [rand(2, 3, 4), rand(2, 4, 3)]),
    ("exp", lambda a: a.exp(), [rand(3, 4)]),
    ("log", lambda a: a.log(), [pos(3, 4)]),
    ("sqrt", lambda a: a.sqrt(), [pos(3, 4)]),
    ("abs", lambda a: a.abs(), [away(3, 4)]),
    ("sigmoid", lambda a: a.sigmoid(), [rand(3, 4)]),
    ("tanh", lambda a: a.tanh(), [rand(3, 4)]),
    ("relu", lambda a: a.relu(), [away(3, 4)]),
    ("sum", lambda a: a.sum(axis=0), [rand(3, 4)]),
    ("mean", lambda a: a.mean(axis=1, keepdims=True), [rand(3, 4)]),
    ("max", lambda a: a.max(axis=1), [distinct(3, 4)]),
    ("logsumexp", lambda a: mn.logsumexp(a, axis=0), [rand(3, 4)]),
    ("log_softmax", lambda a: mn.log_softmax(a, axis=1), [rand(3, 4)]),
    ("softmax", lambda a: mn.softmax(a, axis=0), [rand(3, 4)]),
    ("reshape", lambda a: a.reshape(4, 3) * np.arange(12.0).reshape(4, 3), [rand(3, 4)]),
    ("transpose", lambda a: a.T * np.arange(12.0).reshape(4, 3), [rand(3, 4)]),
    ("getitem", lambda a: a[[0, 2, 2], 1:], [rand(3, 4)]),
    ("inv", lambda a: mn.inv(a), [spd(4)]),
    ("logdet", lambda a: mn.logdet(a), [spd(4)]),
    ("trace", lambda a: mn.trace(a), [rand(4, 4)]),
    ("solve", lambda a, b: mn.solve(a, b), [spd(4), rand(4, 3)]),
    ("linear", lambda x, w, b: nn.linear(x, w, b), [rand(4, 3), rand(5, 3), rand(5)]),
    ("linear_relu", lambda x, w, b: nn.linear_activation(x, w, b, "relu"), [rand(4, 3), rand(5, 3), rand(5)]),
    ("linear_sigmoid", lambda x, w, b: nn.linear_activation(x, w, b, "sigmoid"), [rand(4, 3), rand(5, 3), rand(5)]),
    ("linear_tanh", lambda x, w, b: nn.linear_activation(x, w, b, "tanh"), [rand(4, 3), rand(5, 3), rand(5)]),
    ("mse_loss", lambda p, t: losses.mse_loss(p, t), [rand(4, 3), rand(4, 3)]),
    ("softmax_cross_entropy-labels", lambda z: losses.softmax_cross_entropy(z, LABELS), [rand(4, 3)]),
    ("softmax_cross_entropy-probs", lambda z, p: losses.softmax_cross_entropy(z, p), [rand(4, 3), _probs((4, 3))]),
    ("l2_penalty", lambda w, v: losses.l2_penalty([w, v]), [rand(3, 4), rand(2, 3)]),
    ("l2_regularized", lambda z, w: losses.l2_regularized((z * z).sum(), [w], 0.3), [rand(3, 4), rand(2, 3)]),
]
OP_IDS = [name for name, _, _ in OPS]


def layout(a: np.ndarray, kind: str) -> np.ndarray:
    """The same values in another memory layout (shape and numbers unchanged)."""
    if kind == "C":
        return np.ascontiguousarray(a)
    if kind == "F":
        return np.asfortranarray(a)
    if kind == "strided":  # every other element of a larger buffer, on every axis
        big = np.zeros(tuple(2 * n for n in a.shape))
        view = big[tuple(slice(None, None, 2) for _ in a.shape)]
        view[...] = a
        return view
    if kind == "negative":  # reversed strides on every axis
        return np.flip(np.ascontiguousarray(np.flip(a)))
    raise ValueError(kind)


def run(fn, arrays, upstream=None):
    inputs = [mn.Tensor(a, requires_grad=True) for a in arrays]
    out = fn(*inputs)
    out.backward(np.ones(out.shape) if upstream is None else upstream)
    return out.data, [t.grad for t in inputs]


@pytest.mark.parametrize("kind", ["F", "strided", "negative"])
@pytest.mark.parametrize("name, fn, arrays", OPS, ids=OP_IDS)
def test_every_op_gives_the_same_values_and_gradients_in_every_layout(name, fn, arrays, kind):
    moved = [layout(a, kind) if a.ndim >= 1 else a for a in arrays]
    if kind == "F" and all(a.ndim < 2 for a in arrays):
        pytest.skip("1-D arrays are C and F ordered at once")
    for a, m in zip(arrays, moved, strict=True):
        np.testing.assert_array_equal(a, m)
    assert kind != "F" or any(m.ndim >= 2 and not m.flags.c_contiguous for m in moved)
    out_c, grads_c = run(fn, [np.ascontiguousarray(a) for a in arrays])
    weights = _rng.uniform(0.5, 1.5, size=np.shape(out_c))
    out_c, grads_c = run(fn, [np.ascontiguousarray(a) for a in arrays], weights)
    out_l, grads_l = run(fn, moved, weights)
    np.testing.assert_allclose(out_l, out_c, rtol=1e-12, atol=1e-12)
    for i, (gl, gc) in enumerate(zip(grads_l, grads_c, strict=True)):
        np.testing.assert_allclose(gl, gc, rtol=1e-10, atol=1e-12, err_msg=f"{name} input {i} in {kind} layout")


@pytest.mark.parametrize("kind", ["C", "F"])
@pytest.mark.parametrize("name, fn, arrays", OPS, ids=OP_IDS)
def test_every_op_passes_gradcheck_in_c_and_fortran_order(name, fn, arrays, kind):
    inputs = [mn.Tensor(layout(a, kind) if a.ndim else a, requires_grad=True) for a in arrays]
    assert mn.gradcheck(fn, *inputs)


# ---- the four regressions ------------------------------------------------------------

@pytest.mark.parametrize("exponent", [0, 0.0, "tensor"])
def test_x_to_the_zero_has_gradient_zero_at_zero(exponent):
    x = mn.Tensor(np.array([0.0, 1.0, -2.0]), requires_grad=True)
    b = mn.Tensor(np.zeros(3), requires_grad=True) if exponent == "tensor" else exponent
    with np.errstate(invalid="ignore"):
        (x ** b).sum().backward()
    np.testing.assert_array_equal(x.grad, [0.0, 0.0, 0.0])  # was nan at x = 0
    if exponent == "tensor":
        # d/db a**b = a**b log a: 0 at a = 0 (the convention) and a = 1; nan for a negative
        # base (the log of a negative number), as in PyTorch
        np.testing.assert_array_equal(b.grad, [0.0, 0.0, nan])


def test_sqrt_of_relu_has_zero_gradient_where_relu_is_inactive():
    x = mn.Tensor(np.array([-1.0, 0.0, 4.0]), requires_grad=True)
    with np.errstate(divide="ignore"):
        x.relu().sqrt().sum().backward()  # sqrt's derivative is inf at 0: inf upstream of relu
    np.testing.assert_array_equal(x.grad, [0.0, 0.0, 0.25])


def test_pairwise_distances_through_relu_have_finite_gradients():
    points = mn.Tensor(np.array([[0.0, 0.0], [3.0, 4.0], [0.0, 0.0]]), requires_grad=True)
    diff = points.reshape(3, 1, 2) - points.reshape(1, 3, 2)
    d2 = (diff * diff).sum(axis=-1)
    distances = d2.relu().sqrt()  # zero on the diagonal and for the two equal points
    with np.errstate(divide="ignore"):
        distances.sum().backward()
    assert np.all(np.isfinite(points.grad))
    np.testing.assert_allclose(points.grad, [[-1.2, -1.6], [2.4, 3.2], [-1.2, -1.6]])


def test_fused_linear_relu_has_zero_gradient_for_inf_upstream_at_inactive_units():
    x = mn.Tensor(np.array([[1.0, -1.0]]), requires_grad=True)
    w = nn.Parameter(np.array([[1.0, 0.0], [-1.0, 0.0]]))  # unit 0 active (z = 1), unit 1 inactive (z = -1)
    b = nn.Parameter(np.zeros(2))
    h = nn.linear_activation(x, w, b, "relu")
    h.backward(np.array([[1.0, inf]]))
    np.testing.assert_array_equal(x.grad, [[1.0, 0.0]])
    np.testing.assert_array_equal(w.grad, [[1.0, -1.0], [0.0, 0.0]])
    np.testing.assert_array_equal(b.grad, [1.0, 0.0])


@pytest.mark.parametrize("order", ["C", "F"])
def test_cross_entropy_with_labels_on_fortran_ordered_logits(order):
    z = np.asarray(rand(4, 3), order=order)
    logits = mn.Tensor(z, requires_grad=True)
    losses.softmax_cross_entropy(logits, LABELS).backward()
    e = np.exp(z - z.max(axis=1, keepdims=True))
    expected = (e / e.sum(axis=1, keepdims=True) - np.eye(3)[LABELS]) / 4  # softmax − onehot, over N
    np.testing.assert_allclose(logits.grad, expected, rtol=1e-12)
    scores = mn.Tensor(rand(3, 4), requires_grad=True)  # the case from the report: any scores.T
    assert mn.gradcheck(lambda s: losses.softmax_cross_entropy(s.T, LABELS), scores)


def test_a_probability_target_that_requires_grad_gets_its_gradient():
    z = mn.Tensor(rand(4, 3), requires_grad=True)
    p = mn.Tensor(_probs((4, 3)), requires_grad=True)
    losses.softmax_cross_entropy(z, p).backward()
    np.testing.assert_allclose(p.grad, -mn.log_softmax(mn.Tensor(z.data), axis=1).data / 4, rtol=1e-12)
    assert mn.gradcheck(losses.softmax_cross_entropy, z, p)


def test_labels_that_require_grad_are_refused_with_a_clear_error():
    labels = mn.Tensor(np.array([0.0, 1.0, 2.0, 0.0]), requires_grad=True)
    with pytest.raises(ValueError, match="class labels are not differentiable"):
        losses.softmax_cross_entropy(mn.Tensor(rand(4, 3), requires_grad=True), labels)


# ---- every differentiable argument of every loss ----------------------------------------

LOSS_ARGUMENTS = [
    ("mse_loss(pred, target)", losses.mse_loss, [rand(4, 2), rand(4, 2)]),
    ("mse_loss(pred (N,1), target (N,))", losses.mse_loss, [rand(4, 1), rand(4)]),
    ("softmax_cross_entropy(logits, probs)", losses.softmax_cross_entropy, [rand(4, 3), _probs((4, 3))]),
    ("softmax_cross_entropy(logits, unnormalised)", losses.softmax_cross_entropy, [rand(4, 3), pos(4, 3)]),
    ("l2_penalty(weights)", lambda w, v: losses.l2_penalty([w, v]), [rand(3, 2), rand(2, 2)]),
    ("l2_regularized(loss, weights)", lambda z, w: losses.l2_regularized(z.mean(), [w, w], 0.1), [rand(3), rand(2, 2)]),
]


@pytest.mark.parametrize("name, fn, arrays", LOSS_ARGUMENTS, ids=[c[0] for c in LOSS_ARGUMENTS])
def test_every_differentiable_loss_argument_gets_a_checked_gradient(name, fn, arrays):
    inputs = [mn.Tensor(a, requires_grad=True) for a in arrays]
    out = fn(*inputs)
    out.backward()
    for i, t in enumerate(inputs):
        assert t.grad is not None and np.any(t.grad != 0), f"{name}: argument {i} got no gradient"
    assert mn.gradcheck(fn, *inputs)


# ---- zero local derivatives under inf / nan upstream ------------------------------------

# op, input, and the gradient an upstream of inf (then nan) must give at each point.
# Where the local derivative is a selection (relu, max, pow's exponent 0) the gradient
# is exactly 0; where it is a product with 0 (abs at 0, a saturated sigmoid or tanh,
# mul by 0) IEEE arithmetic gives nan, as in PyTorch.
ZERO_DERIVATIVES = [
    ("relu", lambda t: t.relu(), [-1.0, 0.0, 2.0], [0.0, 0.0, inf], [0.0, 0.0, nan]),
    ("max", lambda t: t.max(), [1.0, 3.0, -2.0], [0.0, inf, 0.0], [0.0, nan, 0.0]),
    ("max-axis", lambda t: t.reshape(1, 3).max(axis=1), [1.0, 3.0, -2.0], [0.0, inf, 0.0], [0.0, nan, 0.0]),
    ("pow-0", lambda t: t ** 0, [0.0, 1.0, -2.0], [0.0, 0.0, 0.0], [0.0, 0.0, 0.0]),
    ("abs", lambda t: t.abs(), [-1.0, 0.0, 2.0], [-inf, nan, inf], [nan, nan, nan]),
    ("sigmoid", lambda t: t.sigmoid(), [-800.0, 800.0, 0.0], [nan, nan, inf], [nan, nan, nan]),
    ("tanh", lambda t: t.tanh(), [-50.0, 50.0, 0.0], [nan, nan, inf], [nan, nan, nan]),
    ("mul-by-0", lambda t: t * np.array([0.0, 1.0, 2.0]), [1.0, 2.0, 3.0], [nan, inf, inf], [nan, nan, nan]),
    ("getitem", lambda t: t[np.array([2, 2])], [1.0, 2.0, 3.0], [0.0, 0.0, inf], [0.0, 0.0, nan]),
    ("pow-2-at-0", lambda t: t ** 2, [0.0, 1.0, -1.0], [nan, inf, -inf], [nan, nan, nan]),
    ("exp-underflow", lambda t: t.exp(), [-800.0, 0.0, 1.0], [nan, inf, inf], [nan, nan, nan]),
    ("divisor-at-a=0", lambda t: np.zeros(3) / t, [1.0, 2.0, -1.0], [nan, nan, nan], [nan, nan, nan]),
    ("sum", lambda t: t.sum(), [1.0, 2.0, 3.0], [inf, inf, inf], [nan, nan, nan]),
]


@pytest.mark.parametrize("upstream_value", [inf, nan], ids=["inf", "nan"])
@pytest.mark.parametrize("name, fn, x, with_inf, with_nan", ZERO_DERIVATIVES, ids=[c[0] for c in ZERO_DERIVATIVES])
def test_zero_local_derivatives_under_non_finite_upstream(name, fn, x, with_inf, with_nan, upstream_value):
    t = mn.Tensor(np.array(x), requires_grad=True)
    out = fn(t)
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        out.backward(np.full(out.shape, upstream_value))
    expected = with_inf if upstream_value == inf else with_nan
    np.testing.assert_array_equal(t.grad, expected)


@pytest.mark.parametrize("upstream_value", [inf, nan], ids=["inf", "nan"])
@pytest.mark.parametrize("name, fn, x, with_inf, with_nan", ZERO_DERIVATIVES, ids=[c[0] for c in ZERO_DERIVATIVES])
def test_zero_local_derivatives_match_torch(name, fn, x, with_inf, with_nan, upstream_value):
    torch = pytest.importorskip("torch")
    torch_fn = {
        "relu": lambda t: t.relu(), "max": lambda t: t.max(), "max-axis": lambda t: t.reshape(1, 3).max(dim=1).values,
        "pow-0": lambda t: t ** 0, "abs": lambda t: t.abs(), "sigmoid": lambda t: t.sigmoid(),
        "tanh": lambda t: t.tanh(), "mul-by-0": lambda t: t * torch.tensor([0.0, 1.0, 2.0], dtype=torch.float64),
        "getitem": lambda t: t[torch.tensor([2, 2])], "pow-2-at-0": lambda t: t ** 2, "exp-underflow": lambda t: t.exp(),
        "divisor-at-a=0": lambda t: torch.zeros(3, dtype=torch.float64) / t, "sum": lambda t: t.sum(),
    }[name]
    theirs = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    out = torch_fn(theirs)
    out.backward(torch.full(out.shape, upstream_value, dtype=torch.float64))
    ours = mn.Tensor(np.array(x), requires_grad=True)
    mine = fn(ours)
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        mine.backward(np.full(mine.shape, upstream_value))
    np.testing.assert_array_equal(ours.grad, theirs.grad.numpy())


# ---- the subgradient conventions of the README --------------------------------------------

CONVENTIONS = [
    ("relu at 0 is 0", lambda lib, t: t.relu(), [0.0, -0.0, 1.0]),
    ("relu at nan passes the gradient", lambda lib, t: t.relu(), [nan, -1.0, 1.0]),
    ("abs at 0 is 0", lambda lib, t: t.abs(), [0.0, -1.0, 1.0]),
    ("max ties share the gradient equally", lambda lib, t: (t.amax(dim=0) if lib != "mn" else t.max(axis=0)),
     [2.0, 2.0, 1.0]),
    ("max at nan sends the gradient to the nan", lambda lib, t: (t.max(dim=0).values if lib != "mn" else t.max(axis=0)),
     [1.0, nan, 3.0]),
    ("x**0 is 0 everywhere, 0 included", lambda lib, t: t ** 0, [0.0, 2.0, -1.0]),
    ("x**2 at 0 is 0", lambda lib, t: t ** 2, [0.0, 2.0, -1.0]),
    ("x**b at 0, d/db is 0 for b >= 0, -inf for b < 0", None, [0.0, 2.0, 0.5, -1.0, -0.5]),
    ("sqrt at 0 is inf", lambda lib, t: t.sqrt(), [0.0, 4.0, 1.0]),
]


@pytest.mark.parametrize("name, fn, x", CONVENTIONS, ids=[c[0] for c in CONVENTIONS])
def test_subgradient_conventions_match_torch(name, fn, x):
    torch = pytest.importorskip("torch")
    ours = mn.Tensor(np.array(x), requires_grad=True)
    theirs = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    if fn is None:  # the exponent's gradient, base 0
        exponent_ours = mn.Tensor(np.array(x), requires_grad=True)
        exponent_theirs = torch.tensor(x, dtype=torch.float64, requires_grad=True)
        with np.errstate(divide="ignore"):
            (mn.Tensor(np.zeros(len(x))) ** exponent_ours).sum().backward()
        (torch.zeros(len(x), dtype=torch.float64) ** exponent_theirs).sum().backward()
        np.testing.assert_array_equal(exponent_ours.grad, exponent_theirs.grad.numpy())
        np.testing.assert_array_equal(exponent_ours.grad, [0.0, 0.0, 0.0, -inf, -inf])
        return
    with np.errstate(divide="ignore"):
        fn("mn", ours).sum().backward()
    fn("torch", theirs).sum().backward()
    np.testing.assert_array_equal(ours.grad, theirs.grad.numpy())


# ---- empty slices -----------------------------------------------------------------------

@pytest.mark.parametrize("shape, axis", [((0, 3), 0), ((3, 0), 1), ((0, 3), 1), ((3, 0), 0), ((2, 0, 3), 1)])
def test_softmax_family_over_empty_slices_is_torchs_answer(shape, axis):
    """No elements: logsumexp is log 0 = −inf, softmax and log_softmax are empty, as in
    PyTorch, with no numpy warning and gradients of the input's shape."""
    for name in ("softmax", "log_softmax", "logsumexp"):
        a = mn.Tensor(np.zeros(shape), requires_grad=True)
        with np.errstate(all="raise"):
            out = getattr(mn, name)(a, axis=axis)
            out.backward(np.ones(out.shape))
        if name == "logsumexp":
            expected = np.full(np.delete(shape, axis), -inf) if shape[axis] == 0 else np.zeros(0)
            assert out.shape == tuple(np.delete(shape, axis)) and np.array_equal(out.data, expected.reshape(out.shape))
        else:
            assert out.shape == shape
        assert a.grad.shape == shape
