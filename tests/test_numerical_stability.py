"""logsumexp, log_softmax, softmax and sigmoid at inputs of ±1e4.

A naive exp(1e4) overflows to inf (and inf/inf is nan).  The ops must shift by the
maximum (or use a stable sigmoid), so values and gradients stay finite and exact.
Floating-point overflow and invalid operations are turned into errors here.
"""

from __future__ import annotations

import numpy as np
import pytest

import minnet as mn

BIG = 1e4


@pytest.fixture(autouse=True)
def strict_floats():
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        yield


@pytest.fixture(params=[np.float32, np.float64], ids=["float32", "float64"])
def dtype(request):
    return request.param


def leaf(values, dtype) -> mn.Tensor:
    return mn.Tensor(np.array(values, dtype=dtype), requires_grad=True)


def _finite(t: mn.Tensor) -> bool:
    return bool(np.all(np.isfinite(t.data)))


def test_logsumexp(dtype):
    """lse([B, −B]) = B + log(1 + e^{−2B}) = B; its gradient is softmax = [1, 0].
    lse([B, B]) = B + log 2, gradient [½, ½]."""
    x = leaf([[BIG, -BIG], [BIG, BIG], [-BIG, -BIG]], dtype)
    out = mn.logsumexp(x, axis=1)
    out.sum().backward()
    assert _finite(out) and np.all(np.isfinite(x.grad))
    np.testing.assert_allclose(out.data, [BIG, BIG + np.log(2), -BIG + np.log(2)], rtol=1e-6)
    np.testing.assert_allclose(x.grad, [[1, 0], [0.5, 0.5], [0.5, 0.5]], atol=1e-6)


def test_logsumexp_over_all_elements(dtype):
    x = leaf([[BIG, -BIG], [-BIG, -BIG]], dtype)
    out = mn.logsumexp(x, axis=None)
    out.backward()
    np.testing.assert_allclose(out.item(), BIG, rtol=1e-6)
    np.testing.assert_allclose(x.grad, [[1, 0], [0, 0]], atol=1e-6)


def test_logsumexp_of_only_minus_inf_is_minus_inf(dtype):
    """log Σ exp(−inf) = log 0 = −inf exactly, with no divide-by-zero warning (as torch);
    the other rows are untouched."""
    x = leaf([[-np.inf, -np.inf], [0.0, 0.0]], dtype)
    out = mn.logsumexp(x, axis=1)
    np.testing.assert_array_equal(out.data, np.array([-np.inf, np.log(2)], dtype=dtype))


def test_log_softmax(dtype):
    """log_softmax([B, −B, 0]) = [0, −2B, −B]; with upstream v the gradient is
    v − softmax·Σv = [v₀ − Σv, v₁, v₂] since softmax = [1, 0, 0]."""
    x = leaf([[BIG, -BIG, 0.0]], dtype)
    out = mn.log_softmax(x, axis=1)
    v = np.array([[1.0, 2.0, 3.0]], dtype=dtype)
    out.backward(v)
    assert _finite(out) and np.all(np.isfinite(x.grad))
    np.testing.assert_allclose(out.data, [[0.0, -2 * BIG, -BIG]], rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(x.grad, [[1.0 - 6.0, 2.0, 3.0]], atol=1e-5)


def test_softmax(dtype):
    """softmax([B, −B, 0]) = [1, 0, 0]: a one-hot s has Jacobian diag(s) − ssᵀ = 0."""
    x = leaf([[BIG, -BIG, 0.0], [-BIG, BIG, BIG]], dtype)
    out = mn.softmax(x, axis=1)
    out.backward(np.array([[1.0, 2.0, 3.0], [1.0, 2.0, 3.0]], dtype=dtype))
    assert _finite(out) and np.all(np.isfinite(x.grad))
    np.testing.assert_allclose(out.data, [[1, 0, 0], [0, 0.5, 0.5]], atol=1e-6)
    # second row: s = [0, ½, ½], s·(v − s·v) = [0, ½(2 − 2.5), ½(3 − 2.5)]
    np.testing.assert_allclose(x.grad, [[0, 0, 0], [0, -0.25, 0.25]], atol=1e-6)


def test_sigmoid(dtype):
    """σ(B) = 1, σ(−B) = 0, and σ' = σ(1 − σ) = 0 at both ends."""
    x = leaf([BIG, -BIG, 0.0], dtype)
    out = x.sigmoid()
    out.sum().backward()
    assert _finite(out) and np.all(np.isfinite(x.grad))
    np.testing.assert_array_equal(out.data, [1.0, 0.0, 0.5])
    np.testing.assert_array_equal(x.grad, [0.0, 0.0, 0.25])


def test_cross_entropy_with_huge_logits(dtype):
    """−log_softmax at the true class: 0 when it wins by 2B, 2B when it loses by 2B."""
    logits = leaf([[BIG, -BIG], [BIG, -BIG]], dtype)
    labels = np.array([0, 1])
    loss = -logits.log_softmax(axis=1)[np.arange(2), labels].mean()
    loss.backward()
    np.testing.assert_allclose(loss.item(), BIG, rtol=1e-6)  # (0 + 2B) / 2
    # ∂/∂logits = (softmax − onehot)/N = ([1, 0] − onehot)/2
    np.testing.assert_allclose(logits.grad, [[0, 0], [0.5, -0.5]], atol=1e-6)
