"""The engine and the Tensor around it: accumulation, graph lifetime, grad mode,
dtype rules, the Tensor API, and the errors a user sees for bad input."""

from __future__ import annotations

import gc
import tracemalloc
import weakref

import numpy as np
import pytest

import minnet as mn
from minnet.extend import record


def leaf(*shape: int, seed: int = 0) -> mn.Tensor:
    return mn.Tensor(np.random.default_rng(seed).normal(size=shape), requires_grad=True)


@pytest.fixture
def no_gc():
    """Run with the cyclic garbage collector off, so only refcounting frees memory."""
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


@pytest.fixture
def default_dtype():
    """Restore the default dtype whatever the test does to it."""
    saved = mn.get_default_dtype()
    yield
    mn.set_default_dtype(saved)


# ---- accumulation and graph shape ------------------------------------------------------

def test_gradients_accumulate_across_backward_calls():
    x = leaf(3)
    y = (x * x).sum()
    y.backward()
    first = x.grad.copy()
    np.testing.assert_allclose(first, 2 * x.data)
    y.backward()
    np.testing.assert_allclose(x.grad, 2 * first)
    (3 * x).sum().backward()  # a different graph adds to the same leaf
    np.testing.assert_allclose(x.grad, 2 * first + 3)


def test_inner_gradients_are_recomputed_not_accumulated():
    x = leaf(3)
    h = x.exp()
    y = h.sum()
    y.backward()
    y.backward()
    np.testing.assert_allclose(h.grad, np.ones(3))  # this call's gradient only
    np.testing.assert_allclose(x.grad, 2 * np.exp(x.data))


def test_fan_out_sums_every_path():
    x = leaf(4)
    y = (2 * x + x.exp() + x.sum() + x * x).sum()
    y.backward()
    # d/dx of Σ(2x + eˣ + Σx + x²): 2 + eˣ + 4 (Σx appears in each of the 4 terms) + 2x
    np.testing.assert_allclose(x.grad, 2 + np.exp(x.data) + 4 + 2 * x.data)


def test_inner_node_gradients_are_readable_after_backward():
    x = leaf(2, 3)
    h = x * 2
    s = h.tanh()
    y = s.sum()
    y.backward()
    np.testing.assert_allclose(s.grad, np.ones((2, 3)))
    np.testing.assert_allclose(h.grad, 1 - np.tanh(h.data) ** 2)
    np.testing.assert_allclose(y.grad, 1.0)
    assert h.op == "mul" and s._parents == (h,)


def test_backward_with_an_explicit_gradient():
    x = leaf(2, 3)
    v = np.arange(6.0).reshape(2, 3)
    (x * 5).backward(v)
    np.testing.assert_allclose(x.grad, 5 * v)


def test_backward_on_a_leaf_accumulates_its_own_gradient():
    x = leaf(3)
    v = np.array([1.0, 2.0, 3.0])
    x.backward(v)
    x.backward(v)
    np.testing.assert_array_equal(x.grad, 2 * v)


def test_constants_get_no_gradient():
    x, c = leaf(3), mn.Tensor(np.ones(3))
    (x * c).sum().backward()
    assert c.grad is None and not c.requires_grad


def test_float32_leaf_gets_float32_gradient_from_float64_graph():
    x32 = mn.Tensor(np.ones(3, dtype=np.float32), requires_grad=True)
    y = x32 * mn.Tensor(np.full(3, 2.0))  # float32 * float64 -> float64
    assert y.dtype == np.float64
    y.sum().backward()
    assert x32.grad.dtype == np.float32
    np.testing.assert_array_equal(x32.grad, [2.0, 2.0, 2.0])


# ---- graph lifetime -----------------------------------------------------------------------

DEPTH = 100_000


def test_a_100000_op_chain_backpropagates_and_is_freed(no_gc):
    x = leaf(3)
    y = x
    for _ in range(DEPTH):
        y = y + 1.0
    middle = weakref.ref(y._parents[0]._parents[0])
    y.sum().backward()
    np.testing.assert_allclose(y.data, x.data + DEPTH)
    np.testing.assert_array_equal(x.grad, np.ones(3))
    del y
    assert middle() is None  # freed by refcounting alone, without a RecursionError


def test_a_deep_chain_never_backpropagated_is_freed(no_gc):
    x = leaf(3)
    y = x
    for _ in range(DEPTH // 2):
        y = (y * 1.0).tanh()
    first = weakref.ref(y)
    del y
    assert first() is None


EVERY_OP = {
    "arithmetic": lambda a, b: ((a + b) * a - b / (a * a + 1) - (-a)) ** 2 + 2 ** a,
    "matmul": lambda a, b: (a @ b.T) + (a[0] @ b.T) + (a @ b[0]) + (a[0] @ b[0]),
    "elementwise": lambda a, b: a.exp() + b.abs().log() + a.abs().sqrt() + a.sigmoid() + a.tanh() + a.relu(),
    "reductions": lambda a, b: a.sum(axis=0) + a.mean(axis=0) + a.max(axis=0) + mn.logsumexp(b, axis=0),
    "softmax": lambda a, b: mn.log_softmax(a, axis=1) + mn.softmax(b, axis=0),
    "shape": lambda a, b: a.reshape(3, 2).T + b.transpose(1, 0).reshape(2, 3) + a[[0, 0], ::2].sum(),
    "linalg": lambda a, b: mn.inv(a @ a.T + 3).sum() + mn.logdet(a @ a.T + 3) + mn.trace(b @ b.T)
    + mn.solve(a @ a.T + 3, b),
}


@pytest.mark.parametrize("name", list(EVERY_OP))
def test_no_op_leaves_a_reference_cycle(name, no_gc):
    a, b = leaf(2, 3, seed=1), leaf(2, 3, seed=2)
    out = EVERY_OP[name](a, b)
    refs = [weakref.ref(out)] + [weakref.ref(p) for p in out._parents]
    out.sum().backward()
    del out
    assert all(r() is None for r in refs), f"{name}: graph survived its output"
    assert gc.collect() == 0


def _mlp_step(X, labels, W1, b1, W2, b2):
    """One forward/backward pass of a 2-layer classifier, like a training step."""
    hidden = (X @ W1.T + b1).sigmoid()
    logits = hidden @ W2.T + b2
    loss = -logits.log_softmax(axis=1)[np.arange(len(labels)), labels].mean()
    loss = loss + 1e-3 * 0.5 * ((W1 * W1).sum() + (W2 * W2).sum())
    loss.backward()
    return weakref.ref(loss), weakref.ref(hidden)


@pytest.mark.slow
def test_memory_stays_flat_over_thousands_of_steps(no_gc):
    rng = np.random.default_rng(0)
    X = mn.Tensor(rng.normal(size=(32, 8)))
    labels = rng.integers(0, 3, size=32)
    params = [leaf(16, 8, seed=1), leaf(16, seed=2), leaf(3, 16, seed=3), leaf(3, seed=4)]

    def steps(n: int) -> None:
        for _ in range(n):
            for p in params:
                p.grad = None
            loss_ref, hidden_ref = _mlp_step(X, labels, *params)
            assert loss_ref() is None and hidden_ref() is None  # graph gone on return

    tracemalloc.start()
    try:
        steps(100)  # warm up caches
        gc.collect()  # (collect() also empties CPython's free lists, which otherwise look like growth)
        baseline = tracemalloc.get_traced_memory()[0]
        steps(2000)
        unreachable = gc.collect()
        growth = tracemalloc.get_traced_memory()[0] - baseline
    finally:
        tracemalloc.stop()
    assert unreachable == 0  # no reference cycles were left for the collector
    # one leaked graph is about 40 kB; 2000 of them would be tens of megabytes
    assert growth < 10_000, f"memory grew by {growth} bytes over 2000 steps"


# ---- grad mode ------------------------------------------------------------------------------

def test_no_grad_builds_no_graph():
    x = leaf(3)
    with mn.no_grad():
        assert not mn.is_grad_enabled()
        y = (x * 2).exp().sum()
    assert mn.is_grad_enabled()
    assert not y.requires_grad
    assert y._parents == () and y._backward is None
    np.testing.assert_allclose(y.item(), np.exp(2 * x.data).sum())


def test_no_grad_is_restored_after_an_exception():
    with pytest.raises(KeyError):
        with mn.no_grad():
            raise KeyError("boom")
    assert mn.is_grad_enabled()
    assert (leaf(2) * 2).requires_grad


def test_no_grad_nests():
    with mn.no_grad():
        with mn.no_grad():
            pass
        assert not mn.is_grad_enabled()
    assert mn.is_grad_enabled()


# ---- dtype rules -------------------------------------------------------------------------------

@pytest.mark.parametrize("data, dtype", [
    ([1, 2], np.float32),
    (3, np.float32),
    (2.5, np.float32),
    ([[1.5, 2.0]], np.float32),
    (np.array([1, 2]), np.float32),
    (np.array([True, False]), np.float32),
    (np.array([1.0, 2.0]), np.float64),
    (np.float64(1.0), np.float64),
    (np.array([1.0], dtype=np.float32), np.float32),
])
def test_dtype_rules(data, dtype):
    assert mn.Tensor(data).dtype == dtype
    assert mn.tensor(data).dtype == dtype


def test_set_default_dtype(default_dtype):
    assert mn.get_default_dtype() == np.float32
    mn.set_default_dtype(np.float64)
    assert mn.get_default_dtype() == np.float64
    assert mn.tensor([1, 2]).dtype == np.float64
    assert mn.Tensor(np.array([1, 2])).dtype == np.float64
    assert mn.Tensor(np.ones(2, dtype=np.float32)).dtype == np.float32  # float arrays keep theirs
    mn.set_default_dtype("float32")
    assert mn.tensor(1).dtype == np.float32
    with pytest.raises(ValueError, match="float"):
        mn.set_default_dtype(np.int32)


def test_explicit_dtype_argument():
    assert mn.tensor([1, 2], dtype=np.float64).dtype == np.float64
    with pytest.raises(TypeError, match="float"):
        mn.tensor([1, 2], dtype=np.int64)


def test_operands_take_the_tensor_dtype():
    x = mn.tensor([1.0, 2.0])
    assert (x * 2.5).dtype == np.float32
    assert (np.ones(2) + x).dtype == np.float32  # a float64 array does not upcast
    assert (x ** 2).dtype == np.float32


# ---- the Tensor API -------------------------------------------------------------------------

def test_data_assignment_replaces_the_array():
    x = mn.tensor([1.0, 2.0], requires_grad=True)
    new = np.array([[5.0, 6.0, 7.0]])
    x.data = new
    assert x.data is new
    assert x.dtype == np.float64 and x.shape == (1, 3) and x.ndim == 2
    (x * 2).sum().backward()
    np.testing.assert_array_equal(x.grad, np.full((1, 3), 2.0))


def test_shape_ndim_dtype_T_item_numpy():
    x = mn.Tensor(np.arange(6.0).reshape(2, 3))
    assert (x.shape, x.ndim, x.dtype) == ((2, 3), 2, np.float64)
    np.testing.assert_array_equal(x.T.data, x.data.T)
    assert x.T.shape == (3, 2)
    assert mn.tensor(4.5).item() == 4.5 and isinstance(mn.tensor(4.5).item(), float)
    assert x[1, 2].item() == 5.0
    with pytest.raises(ValueError):
        x.item()
    assert isinstance(x.numpy(), np.ndarray) and x.numpy() is x.data


def test_detach_shares_data_but_cuts_the_graph():
    x = leaf(3)
    h = x * 2
    d = h.detach()
    assert not d.requires_grad and d._parents == ()
    assert np.shares_memory(d.data, h.data)
    (d * x).sum().backward()
    np.testing.assert_allclose(x.grad, d.data)  # no path through d back to x


# ---- bad input -------------------------------------------------------------------------------

def test_backward_needs_a_gradient_for_a_multi_element_tensor():
    y = leaf(2, 3) * 2
    with pytest.raises(RuntimeError, match=r"one-element.*\(2, 3\)"):
        y.backward()


def test_backward_on_a_tensor_that_does_not_require_grad():
    with pytest.raises(RuntimeError, match="does not require grad"):
        mn.tensor([1.0, 2.0]).sum().backward()


def test_backward_with_a_gradient_of_the_wrong_shape():
    with pytest.raises(ValueError, match=r"\(3,\).*\(2,\)"):
        (leaf(2) * 2).backward(np.ones(3))


def test_matmul_shape_mismatch_names_both_shapes():
    with pytest.raises(ValueError, match=r"matmul.*\(2, 3\).*\(4, 5\)"):
        leaf(2, 3) @ leaf(4, 5)


@pytest.mark.parametrize("op", ["__add__", "__sub__", "__mul__", "__truediv__", "__pow__"])
def test_broadcast_mismatch_names_both_shapes(op):
    with pytest.raises(ValueError, match=r"\(2, 3\) and \(4,\)"):
        getattr(leaf(2, 3), op)(leaf(4))


@pytest.mark.parametrize("fn", [mn.inv, mn.logdet, lambda a: mn.solve(a, np.ones(2))],
                         ids=["inv", "logdet", "solve"])
def test_singular_matrix_is_reported(fn):
    singular = mn.Tensor(np.array([[1.0, 2.0], [2.0, 4.0]]), requires_grad=True)
    with pytest.raises(np.linalg.LinAlgError, match="singular"):
        fn(singular)


@pytest.mark.parametrize("fn", [mn.inv, mn.logdet, lambda a: mn.solve(a, np.ones(2))],
                         ids=["inv", "logdet", "solve"])
def test_linalg_needs_a_square_matrix(fn):
    with pytest.raises(ValueError, match=r"square.*\(2, 3\)"):
        fn(leaf(2, 3))


@pytest.mark.parametrize("data", ["abc", None, object(), {"a": 1}, [1, "a"], [[1], [1, 2]],
                                  np.array([1 + 2j])], ids=repr)
def test_non_numeric_data_is_a_type_error(data):
    with pytest.raises(TypeError, match="Tensor data must be"):
        mn.Tensor(data)


def test_combining_with_a_non_numeric_operand_is_a_type_error():
    with pytest.raises(TypeError, match="cannot combine"):
        leaf(2) + np.array(["a", "b"])


def test_a_backward_rule_returning_the_wrong_shape_is_caught():
    def bad(a: mn.Tensor) -> mn.Tensor:
        return record(a.data * 2, (a,), lambda g: (np.ones(4),), "bad_shape")
    with pytest.raises(RuntimeError, match=r"'bad_shape'.*\(4,\).*\(3,\)"):
        bad(leaf(3)).sum().backward()


@pytest.mark.parametrize("grads", [(), (None, None)])
def test_a_backward_rule_returning_the_wrong_number_of_gradients_is_caught(grads):
    def bad(a: mn.Tensor) -> mn.Tensor:
        return record(a.data * 2, (a,), lambda g: grads, "bad_count")
    with pytest.raises(RuntimeError, match=rf"'bad_count' gave {len(grads)} gradients for 1 inputs"):
        bad(leaf(3)).sum().backward()


def test_leaf_gradients_are_their_own_writable_arrays():
    a = mn.Tensor(np.ones(3), requires_grad=True)
    b = mn.Tensor(np.ones(3), requires_grad=True)
    (a + b).backward(np.ones(3))  # add hands the same upstream array to both inputs
    assert a.grad is not b.grad
    a.grad *= 2
    np.testing.assert_array_equal(b.grad, np.ones(3))

    x = mn.Tensor(np.ones((2, 2)), requires_grad=True)
    x.sum().backward()  # the rule returns a read-only broadcast view
    x.grad[0, 0] = 5.0
    assert x.grad.sum() == 8.0

    seed = np.ones(3)
    c = mn.Tensor(np.ones(3), requires_grad=True)
    c.backward(seed)
    c.grad[0] = 7.0
    assert seed[0] == 1.0


def test_pow_exponent_gradient_is_zero_at_a_zero_base():
    base = mn.Tensor(np.array([0.0, 2.0]), requires_grad=True)
    exponent = mn.Tensor(np.array([2.0, 3.0]), requires_grad=True)
    (base ** exponent).sum().backward()
    np.testing.assert_allclose(exponent.grad, [0.0, 8.0 * np.log(2.0)])


def test_a_broadcast_zero_d_leaf_used_twice_gets_both_contributions():
    x = mn.Tensor(np.array([1.0, 2.0, 3.0]), requires_grad=True)
    b = mn.Tensor(np.array(0.5), requires_grad=True)
    (x * b + b).sum().backward()  # each use reduces a (3,) gradient to a 0-d one
    assert isinstance(b.grad, np.ndarray) and b.grad.shape == ()
    assert b.grad == 6.0 + 3.0
