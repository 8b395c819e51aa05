"""Every differentiable op against central finite differences (``mn.gradcheck``, float64).

One table row per (op, shapes, arguments).  Inputs are drawn away from the places a
derivative is undefined (kinks of abs/relu, ties of max, the domain edge of log/sqrt),
because there finite differences say nothing about the rule.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import mutually_broadcastable_shapes

import minnet as mn
from minnet.extend import record

_rng = np.random.default_rng(20240601)


def rand(*shape: int, low: float = -2.0, high: float = 2.0) -> np.ndarray:
    return _rng.uniform(low, high, size=shape)


def pos(*shape: int) -> np.ndarray:
    """Strictly positive, for log, sqrt, pow bases and divisors."""
    return rand(*shape, low=0.5, high=2.0)


def nonzero(*shape: int) -> np.ndarray:
    """|x| >= 0.3 with random signs: far from the kink of abs and relu."""
    return rand(*shape, low=0.3, high=2.0) * _rng.choice([-1.0, 1.0], size=shape)


def distinct(*shape: int) -> np.ndarray:
    """Values at least 0.1 apart, so max has no ties within eps."""
    n = int(np.prod(shape))
    return (_rng.permutation(n) * 0.1 - n * 0.05).reshape(shape)


def invertible(n: int, *batch: int) -> np.ndarray:
    """A comfortably invertible n×n matrix (or stack of them): random plus n·I."""
    return rand(*batch, n, n) + n * np.eye(n)


def case(name: str, fn, *arrays: np.ndarray):
    return pytest.param(fn, arrays, id=name)


def check(fn, arrays) -> None:
    inputs = [mn.Tensor(a, requires_grad=True, name=f"arg{i}") for i, a in enumerate(arrays)]
    assert mn.gradcheck(fn, *inputs) is True


# ---- arithmetic, with broadcasting, 0-d tensors and non-tensor operands --------------

ARITHMETIC = [
    case("add", lambda a, b: a + b, rand(3, 4), rand(3, 4)),
    case("add-bias", lambda a, b: a + b, rand(3, 4), rand(4)),
    case("add-outer", lambda a, b: a + b, rand(3, 1), rand(1, 4)),
    case("sub", lambda a, b: a - b, rand(2, 3), rand(2, 3)),
    case("sub-broadcast-left", lambda a, b: a - b, rand(3), rand(2, 3)),
    case("mul", lambda a, b: a * b, rand(2, 3), rand(2, 3)),
    case("mul-3d-broadcast", lambda a, b: a * b, rand(2, 3, 4), rand(3, 1)),
    case("div", lambda a, b: a / b, rand(2, 3), pos(2, 3)),
    case("div-broadcast", lambda a, b: a / b, rand(2, 3), pos(3)),
    case("pow-both", lambda a, b: a ** b, pos(2, 3), rand(2, 3)),
    case("pow-int-exponent", lambda a: a ** 3, rand(2, 3)),
    case("pow-half", lambda a: a ** 0.5, pos(4)),
    case("neg", lambda a: -a, rand(2, 3)),
    case("0d-times-0d", lambda a, b: a * b, np.array(1.5), np.array(-0.7)),
    case("0d-plus-matrix", lambda a, b: a + b, np.array(0.3), rand(2, 3)),
    case("0d-over-vector", lambda a, b: a / b, np.array(2.0), pos(3)),
    case("scalar-times", lambda a: 2 * a, rand(3)),
    case("times-scalar", lambda a: a * 2.5, rand(3)),
    case("scalar-minus", lambda a: 1 - a, rand(3)),
    case("scalar-over", lambda a: 2.0 / a, pos(3)),
    case("scalar-pow", lambda a: 2 ** a, rand(3)),
    case("minus-array", lambda a: a - np.ones(3), rand(3)),
    case("array-over", lambda a: np.ones(3) / a, pos(3)),
    case("array-times-broadcast", lambda a: np.arange(1.0, 4.0) * a, rand(2, 3)),
    case("array-pow", lambda a: np.full(3, 1.5) ** a, rand(3)),
]


@pytest.mark.parametrize("fn, arrays", ARITHMETIC)
def test_arithmetic(fn, arrays):
    check(fn, arrays)


BINARY = {
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
    "mul": lambda a, b: a * b,
    "div": lambda a, b: a / b,
    "pow": lambda a, b: a ** b,
}


@pytest.mark.parametrize("op", sorted(BINARY))
@settings(max_examples=15, deadline=None, database=None)
@given(shapes=mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3, max_side=3),
       seed=st.integers(0, 2**16))
def test_binary_ops_on_broadcastable_shapes(op, shapes, seed):
    rng = np.random.default_rng(seed)
    (sa, sb), result = shapes.input_shapes, shapes.result_shape
    a = rng.uniform(0.5, 2.0, size=sa)  # positive: a valid base for pow
    b = rng.uniform(0.5, 2.0, size=sb) * rng.choice([-1.0, 1.0], size=sb)
    if op == "div":
        b = np.abs(b)
    x, y = mn.Tensor(a, requires_grad=True), mn.Tensor(b, requires_grad=True)
    out = BINARY[op](x, y)
    assert out.shape == result
    out.sum().backward()
    assert (x.grad.shape, y.grad.shape) == (sa, sb)  # broadcasting undone exactly
    assert mn.gradcheck(BINARY[op], x, y)


def test_non_tensor_operands_give_tensors_with_gradients():
    x = mn.Tensor(np.array([0.5, 1.0, 2.0]), requires_grad=True)
    for y, expected in [
        (2 * x, np.full(3, 2.0)),
        (x - np.ones(3), np.ones(3)),
        (np.ones(3) / x, -1 / x.data ** 2),
        (np.ones(3) * x, np.ones(3)),
        (np.ones(3) - x, -np.ones(3)),
        (np.ones(3) + x, np.ones(3)),
        (np.ones((2, 3)) @ x, np.full(3, 2.0)),
    ]:
        assert isinstance(y, mn.Tensor), type(y)
        x.grad = None
        y.sum().backward()
        np.testing.assert_allclose(x.grad, expected)


# ---- matmul -------------------------------------------------------------------------

MATMUL = [
    case("2d@2d", lambda a, b: a @ b, rand(3, 4), rand(4, 5)),
    case("1d@2d", lambda a, b: a @ b, rand(4), rand(4, 5)),
    case("2d@1d", lambda a, b: a @ b, rand(3, 4), rand(4)),
    case("1d@1d", lambda a, b: a @ b, rand(4), rand(4)),
    case("batched-3d", lambda a, b: a @ b, rand(2, 3, 4), rand(2, 4, 5)),
    case("batch-broadcast", lambda a, b: a @ b, rand(2, 1, 3, 4), rand(3, 4, 2)),
    case("2d@3d", lambda a, b: a @ b, rand(3, 4), rand(2, 4, 5)),
    case("1d@3d", lambda a, b: a @ b, rand(4), rand(2, 4, 3)),
    case("3d@1d", lambda a, b: a @ b, rand(2, 3, 4), rand(4)),
    case("function-form", lambda a, b: mn.matmul(a, b), rand(2, 3), rand(3, 2)),
    case("array@tensor", lambda b: np.arange(6.0).reshape(2, 3) @ b, rand(3, 2)),
]


@pytest.mark.parametrize("fn, arrays", MATMUL)
def test_matmul(fn, arrays):
    check(fn, arrays)


# ---- elementwise functions -----------------------------------------------------------

ELEMENTWISE = [
    case("exp", lambda a: a.exp(), rand(2, 3)),
    case("log", lambda a: a.log(), pos(2, 3)),
    case("sqrt", lambda a: a.sqrt(), pos(2, 3)),
    case("abs", lambda a: a.abs(), nonzero(2, 3)),
    case("abs-builtin", lambda a: abs(a), nonzero(4)),
    case("sigmoid", lambda a: a.sigmoid(), rand(2, 3, low=-5, high=5)),
    case("tanh", lambda a: a.tanh(), rand(2, 3)),
    case("relu", lambda a: a.relu(), nonzero(3, 4)),
    case("functions", lambda a: mn.exp(a) + mn.log(mn.abs(a)) + mn.sqrt(mn.abs(a)) + mn.sigmoid(a)
         + mn.tanh(a) + mn.relu(a), nonzero(5)),
    case("0d-exp", lambda a: a.exp(), np.array(0.3)),
]


@pytest.mark.parametrize("fn, arrays", ELEMENTWISE)
def test_elementwise(fn, arrays):
    check(fn, arrays)


# ---- reductions -------------------------------------------------------------------------

AXES = [None, 0, 1, -1, (0, 2), (-1, 0), (0, 1, 2)]


@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize("axis", AXES, ids=str)
@pytest.mark.parametrize("op", ["sum", "mean", "max"])
def test_reductions(op, axis, keepdims):
    x = mn.Tensor(distinct(2, 3, 4), requires_grad=True)
    out = getattr(x, op)(axis=axis, keepdims=keepdims)
    expected = getattr(np, {"max": "amax"}.get(op, op))(x.data, axis=axis, keepdims=keepdims)
    assert out.shape == expected.shape
    np.testing.assert_allclose(out.data, expected)
    assert mn.gradcheck(lambda t: getattr(mn, op)(t, axis=axis, keepdims=keepdims), x)


def test_max_ties_share_the_gradient():
    """The documented subgradient at a tie: the maxima split the gradient equally."""
    x = mn.Tensor(np.array([[3.0, 1.0, 3.0], [0.0, 2.0, 1.0]]), requires_grad=True)
    x.max(axis=1).sum().backward()
    np.testing.assert_array_equal(x.grad, [[0.5, 0.0, 0.5], [0.0, 1.0, 0.0]])


SOFTMAX_AXES = [0, 1, -1, -2]


@pytest.mark.parametrize("axis", SOFTMAX_AXES)
@pytest.mark.parametrize("op", ["logsumexp", "log_softmax", "softmax"])
def test_softmax_family(op, axis):
    x = mn.Tensor(rand(2, 3, 4, low=-3, high=3), requires_grad=True)
    assert mn.gradcheck(lambda t: getattr(mn, op)(t, axis=axis), x)
    assert mn.gradcheck(lambda t: getattr(t, op)(axis), x)


@pytest.mark.parametrize("axis, keepdims", [(None, False), (None, True), ((0, 2), False),
                                            ((0, -1), True), (1, True)])
def test_logsumexp_axis_forms(axis, keepdims):
    x = mn.Tensor(rand(2, 3, 4), requires_grad=True)
    out = mn.logsumexp(x, axis=axis, keepdims=keepdims)
    expected = np.log(np.exp(x.data).sum(axis=axis, keepdims=keepdims))
    np.testing.assert_allclose(out.data, expected)
    assert mn.gradcheck(lambda t: mn.logsumexp(t, axis=axis, keepdims=keepdims), x)


# ---- shape ops and indexing ------------------------------------------------------------

SHAPES = [
    case("reshape-args", lambda a: a.reshape(6, 4), rand(2, 3, 4)),
    case("reshape-tuple", lambda a: a.reshape((4, -1)), rand(2, 3, 4)),
    case("reshape-flat", lambda a: a.reshape(-1), rand(2, 3, 4)),
    case("reshape-fn", lambda a: mn.reshape(a, 3, 2), rand(6)),
    case("transpose-none", lambda a: a.transpose(), rand(2, 3, 4)),
    case("transpose-axes", lambda a: a.transpose(2, 0, 1), rand(2, 3, 4)),
    case("transpose-tuple", lambda a: a.transpose((1, 2, 0)), rand(2, 3, 4)),
    case("transpose-negative", lambda a: a.transpose(-1, 0, 1), rand(2, 3, 4)),
    case("transpose-fn", lambda a: mn.transpose(a, (0, 2, 1)), rand(2, 3, 4)),
    case(".T-2d", lambda a: a.T, rand(2, 3)),
    case(".T-3d", lambda a: a.T, rand(2, 3, 4)),
    case(".T-then-matmul", lambda a, b: a.T @ b, rand(3, 2), rand(3, 4)),
]


@pytest.mark.parametrize("fn, arrays", SHAPES)
def test_shape_ops(fn, arrays):
    check(fn, arrays)


_MASK = np.array([[True, False, True, True], [False, False, True, False], [True, True, False, False]])

INDEXING = [
    case("int", lambda a: a[1], rand(3, 4)),
    case("negative-int", lambda a: a[-1, 2], rand(3, 4)),
    case("slice", lambda a: a[:, 1:3], rand(3, 4)),
    case("step-slice", lambda a: a[::-2, ::2], rand(3, 4)),
    case("ellipsis-newaxis", lambda a: a[..., None, 0], rand(2, 3, 4)),
    case("int-array", lambda a: a[np.array([2, 0])], rand(3, 4)),
    case("list", lambda a: a[[0, 2]], rand(3, 4)),
    case("repeated", lambda a: a[np.array([0, 2, 0, 0])], rand(3, 4)),
    case("repeated-pairs", lambda a: a[[0, 0, 1], [1, 1, 3]], rand(3, 4)),
    case("slice-and-repeated", lambda a: a[:, [3, 1, 3]], rand(3, 4)),
    case("tensor-index", lambda a: a[mn.tensor([1, 1, 0])], rand(3, 4)),
    case("bool-mask", lambda a: a[_MASK], rand(3, 4)),
    case("bool-rows", lambda a: a[np.array([True, False, True])], rand(3, 4)),
    case("bool-cols", lambda a: a[:, np.array([False, True, True, False])], rand(3, 4)),
]


@pytest.mark.parametrize("fn, arrays", INDEXING)
def test_getitem(fn, arrays):
    check(fn, arrays)


def test_a_tensor_index_holds_positions_and_a_fractional_one_is_refused():
    x = mn.Tensor(np.array([10.0, 20.0, 30.0]), requires_grad=True)
    np.testing.assert_array_equal(x[mn.tensor([2, 0])].data, [30.0, 10.0])
    np.testing.assert_array_equal(x[(mn.tensor([1]),)].data, [20.0])
    with pytest.raises(IndexError, match="whole numbers.*numpy bool array"):
        x[mn.tensor([0.5, 1.0])]


def test_repeated_indices_accumulate():
    x = mn.Tensor(np.array([1.0, 2.0, 3.0]), requires_grad=True)
    x[np.array([0, 0, 2, 0])].sum().backward()
    np.testing.assert_array_equal(x.grad, [3.0, 0.0, 1.0])


# ---- linear algebra ---------------------------------------------------------------------

def _negative_det(n: int) -> np.ndarray:
    m = invertible(n)
    m[0] *= -1  # flipping one row flips the sign of the determinant
    assert np.linalg.det(m) < 0
    return m


LINALG = [
    case("inv", lambda a: mn.inv(a), invertible(3)),
    case("inv-batched", lambda a: mn.inv(a), invertible(3, 2)),
    case("logdet", lambda a: mn.logdet(a), invertible(3)),
    case("logdet-negative-det", lambda a: mn.logdet(a), _negative_det(3)),
    case("logdet-batched", lambda a: mn.logdet(a), invertible(2, 3)),
    case("trace", lambda a: mn.trace(a), rand(3, 3)),
    case("trace-rectangular", lambda a: mn.trace(a), rand(3, 4)),
    case("trace-batched", lambda a: mn.trace(a), rand(2, 3, 3)),
    case("solve-matrix-rhs", lambda a, b: mn.solve(a, b), invertible(3), rand(3, 2)),
    case("solve-vector-rhs", lambda a, b: mn.solve(a, b), invertible(3), rand(3)),
    case("solve-batched", lambda a, b: mn.solve(a, b), invertible(3, 2), rand(2, 3, 2)),
    case("solve-batched-vector", lambda a, b: mn.solve(a, b), invertible(3, 2), rand(3)),
    case("solve-array-rhs", lambda a: mn.solve(a, np.arange(3.0)), invertible(3)),
]


@pytest.mark.parametrize("fn, arrays", LINALG)
def test_linalg(fn, arrays):
    check(fn, arrays)


# ---- graphs that reuse a node -------------------------------------------------------------

def test_reused_node_x_times_x_plus_x():
    x = mn.Tensor(rand(4), requires_grad=True)
    y = x * x + x
    y.sum().backward()
    np.testing.assert_allclose(x.grad, 2 * x.data + 1)  # d(x² + x)/dx
    assert mn.gradcheck(lambda t: t * t + t, x)


def test_reused_node_cubed_exponential():
    x = mn.Tensor(rand(4), requires_grad=True)
    a = x.exp()
    (a * a * a).sum().backward()
    np.testing.assert_allclose(x.grad, 3 * np.exp(3 * x.data))  # d e^{3x}/dx

    def cube_of_exp(t):
        e = t.exp()
        return (e * e * e).sum()
    assert mn.gradcheck(cube_of_exp, x)


def test_reused_node_through_several_paths():
    x = mn.Tensor(rand(3, 3), requires_grad=True)

    def fn(t):
        h = t.tanh()
        return (h @ h.T + h * h - h.sum(axis=0)).softmax(axis=1)
    assert mn.gradcheck(fn, x)


# ---- gradcheck must catch wrong rules -------------------------------------------------------

def _square_wrong_at(index: tuple, factor: float):
    """a², whose backward is right (2a) except at ``index``, where it is factor·2a."""
    def op(a: mn.Tensor) -> mn.Tensor:
        x = a.data

        def backward(g):
            grad = np.array(2 * x * g)  # an array even for a 0-d input
            grad[index] *= factor
            return (grad,)
        return record(x * x, (a,), backward, "bad_square")
    return op


def _error_numbers(message: str) -> tuple[float, float]:
    match = re.search(r"analytic (\S+) vs numeric (\S+)", message)
    assert match, message
    return float(match.group(1)), float(match.group(2))


def test_gradcheck_rejects_a_wrong_rule_and_names_the_culprit():
    bad = _square_wrong_at((1, 2), 1.5)
    x = mn.Tensor(rand(2, 3), requires_grad=True, name="x")
    w = mn.Tensor(pos(2, 3), requires_grad=True, name="w")
    with pytest.raises(mn.GradcheckError) as info:
        mn.gradcheck(lambda a, b: a * bad(b), x, w)
    message = str(info.value)
    assert "input 1 ('w')" in message
    assert "index (1, 2)" in message
    analytic, numeric = _error_numbers(message)
    assert analytic == pytest.approx(1.5 * numeric, rel=1e-6)
    assert numeric != 0


def test_gradcheck_rejects_a_wrong_rule_on_a_0d_input():
    x = mn.Tensor(np.array(1.5), requires_grad=True)
    with pytest.raises(mn.GradcheckError, match=r"input 0 at index \(\)"):
        mn.gradcheck(_square_wrong_at((), -1.0), x)


def test_gradcheck_accepts_the_same_op_when_the_rule_is_right():
    x = mn.Tensor(rand(2, 3), requires_grad=True)
    assert mn.gradcheck(_square_wrong_at((1, 2), 1.0), x)


def test_gradcheck_fails_where_finite_differences_are_undefined():
    """log of negative numbers: the numeric derivative is nan, so nothing is verified."""
    x = mn.Tensor(np.array([-1.0, -2.0]), requires_grad=True)
    with np.errstate(invalid="ignore"), pytest.raises(mn.GradcheckError, match="numeric nan"):
        mn.gradcheck(lambda t: t.log(), x)


def test_gradcheck_needs_an_input_that_requires_grad():
    with pytest.raises(ValueError, match="requires_grad"):
        mn.gradcheck(lambda t: t * 2, mn.Tensor(np.ones(2)))
