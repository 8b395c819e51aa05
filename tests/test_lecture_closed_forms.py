"""The lecture's worked problems: backward() against gradients derived by hand.

Each test states its derivation in the docstring; random inputs (float64) make sure
the formula, not a lucky point, is being checked.
"""

from __future__ import annotations

import numpy as np
import pytest

import minnet as mn

assert_allclose = np.testing.assert_allclose


def leaf(value) -> mn.Tensor:
    return mn.Tensor(np.asarray(value, dtype=np.float64), requires_grad=True)


def test_f_equals_x_plus_y_times_z():
    """m = x + y = 3, f = m·z = 9.  ∂f/∂z = m = 3, ∂f/∂m = z = 3, and since the add
    node routes its gradient unchanged, ∂f/∂x = ∂f/∂y = ∂f/∂m = 3."""
    x, y, z = leaf(1.0), leaf(2.0), leaf(3.0)
    m = x + y
    f = m * z
    f.backward()
    assert f.item() == 9.0
    assert m.item() == 3.0
    assert (m.grad, x.grad, y.grad, z.grad) == (3.0, 3.0, 3.0, 3.0)


@pytest.mark.parametrize("seed", range(5))
def test_regularized_logistic_neuron(seed):
    """z = wx + b, y = σ(z), L = ½(y − t)², R = ½w², L_reg = L + λR.

    Backwards through the graph: ∂L_reg/∂L = 1, ∂L_reg/∂R = λ, ∂L/∂y = y − t,
    ∂y/∂z = σ'(z) = y(1 − y), so ∂L_reg/∂z = (y − t)σ'(z), and
        ∂L_reg/∂w = (y − t)σ'(z)·x + λw     (two paths to w: through z and through R)
        ∂L_reg/∂b = (y − t)σ'(z).
    """
    rng = np.random.default_rng(seed)
    x_val, t_val, lam = rng.normal(), rng.uniform(), rng.uniform(0.01, 1.0)
    w, b = leaf(rng.normal()), leaf(rng.normal())
    x, t = mn.tensor(x_val, dtype=np.float64), mn.tensor(t_val, dtype=np.float64)

    z = w * x + b
    y = z.sigmoid()
    L = 0.5 * (y - t) ** 2
    R = 0.5 * w ** 2
    L_reg = L + lam * R
    L_reg.backward()

    sig = 1.0 / (1.0 + np.exp(-(w.item() * x_val + b.item())))
    dsig = sig * (1.0 - sig)
    assert_allclose(y.item(), sig)
    assert_allclose(L_reg.item(), 0.5 * (sig - t_val) ** 2 + lam * 0.5 * w.item() ** 2)
    assert_allclose(y.grad, sig - t_val)
    assert_allclose(z.grad, (sig - t_val) * dsig)
    assert_allclose(R.grad, lam)
    assert_allclose(w.grad, (sig - t_val) * dsig * x_val + lam * w.item())
    assert_allclose(b.grad, (sig - t_val) * dsig)


@pytest.mark.parametrize("n", [1, 4, 7])
def test_norm_of_wx_minus_x(n):
    """L = ‖Wx − x‖² = mᵀm with m = g − x, g = Wx.
    ∂L/∂m = 2m, ∂L/∂g = 2m (∂m/∂g = I), ∂L/∂W = (∂L/∂g)xᵀ = 2(Wx − x)xᵀ.
    Through both uses of x: ∂L/∂x = Wᵀ(2m) − 2m = 2(W − I)ᵀ(Wx − x)."""
    rng = np.random.default_rng(n)
    W, x = leaf(rng.normal(size=(n, n))), leaf(rng.normal(size=n))
    m = W @ x - x
    L = (m * m).sum()
    L.backward()

    residual = W.data @ x.data - x.data
    assert_allclose(L.item(), residual @ residual)
    assert_allclose(W.grad, 2 * np.outer(residual, x.data))
    assert_allclose(x.grad, 2 * (W.data - np.eye(n)).T @ residual)


def _kernel_problem(n: int, seed: int):
    rng = np.random.default_rng(seed)
    alpha, beta, gamma = rng.uniform(0.5, 2.0, size=3)
    A, B = leaf(rng.normal(size=(n, n))), leaf(rng.normal(size=(n, n)))
    K = alpha * (A @ A.T) + np.eye(n) / beta
    return alpha, gamma, A, B, K


@pytest.mark.parametrize("seed", range(3))
def test_log_determinant_loss(seed):
    """L₁ = −γ/2·log|K|, K = αN + β⁻¹I, N = AAᵀ.
    ∂L₁/∂K = −γ/2·K⁻ᵀ (matrix cookbook); the add passes it on and the scale gives
    ∂L₁/∂N = −αγ/2·K⁻ᵀ =: G.  N = A·Aᵀ uses A twice, so by the lecture's matmul rule
    ∂L₁/∂A = G·A + Gᵀ·A = −αγ/2·(K⁻ᵀ + K⁻¹)A = −γα·K⁻¹A, K being symmetric."""
    n = 4
    alpha, gamma, A, _, K = _kernel_problem(n, seed)
    L1 = -gamma / 2 * mn.logdet(K)
    L1.backward()

    K_val = K.data
    assert_allclose(K_val, K_val.T)
    assert_allclose(L1.item(), -gamma / 2 * np.linalg.slogdet(K_val)[1])
    assert_allclose(K.grad, -gamma / 2 * np.linalg.inv(K_val).T)
    assert_allclose(A.grad, -gamma * alpha * np.linalg.inv(K_val) @ A.data)


@pytest.mark.parametrize("via", ["inv", "solve"])
@pytest.mark.parametrize("seed", range(3))
def test_trace_of_inverse_loss(seed, via):
    """L₂ = −½·tr(K⁻¹BBᵀ).
    ∂L₂/∂K⁻¹ = −½(BBᵀ)ᵀ = −½BBᵀ; the hint ∂L/∂K = −K⁻ᵀ(∂L/∂K⁻¹)K⁻ᵀ gives
    ∂L₂/∂K = ½K⁻¹BBᵀK⁻¹ =: G (symmetric), so as above ∂L₂/∂A = α(G + Gᵀ)A
    = α·K⁻¹BBᵀK⁻¹A.  In B, L₂ = −½·tr(BᵀK⁻¹B), so ∂L₂/∂B = −½(K⁻¹ + K⁻ᵀ)B = −K⁻¹B.
    The same loss computed with solve(K, BBᵀ) instead of inv(K)@BBᵀ must agree."""
    n = 4
    alpha, _, A, B, K = _kernel_problem(n, seed)
    BBt = B @ B.T
    inner = mn.inv(K) @ BBt if via == "inv" else mn.solve(K, BBt)
    L2 = -0.5 * mn.trace(inner)
    L2.backward()

    K_inv = np.linalg.inv(K.data)
    BBt_val = B.data @ B.data.T
    assert_allclose(L2.item(), -0.5 * np.trace(K_inv @ BBt_val))
    assert_allclose(K.grad, 0.5 * K_inv @ BBt_val @ K_inv)
    assert_allclose(A.grad, alpha * K_inv @ BBt_val @ K_inv @ A.data)
    assert_allclose(B.grad, -K_inv @ B.data)


def test_both_kernel_losses_together():
    """L₁ + L₂ shares K: its gradient is the sum of the two closed forms."""
    n = 4
    alpha, gamma, A, B, K = _kernel_problem(n, seed=11)
    L = -gamma / 2 * mn.logdet(K) - 0.5 * mn.trace(mn.inv(K) @ B @ B.T)
    L.backward()

    K_inv = np.linalg.inv(K.data)
    BBt = B.data @ B.data.T
    assert_allclose(A.grad, -gamma * alpha * K_inv @ A.data + alpha * K_inv @ BBt @ K_inv @ A.data)
    assert_allclose(B.grad, -K_inv @ B.data)
