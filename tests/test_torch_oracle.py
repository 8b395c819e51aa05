"""Composite expressions against PyTorch (float64), when torch is installed.

PyTorch is only an oracle here, never a dependency: without it this module skips.
Each case is written twice, once per library, and must agree in value and in the
gradient of every input.
"""

from __future__ import annotations

import numpy as np
import pytest

import minnet as mn

torch = pytest.importorskip("torch")

_rng = np.random.default_rng(7)
LABELS = np.array([2, 0, 1, 2, 1])
HUGE = np.array([[1e4, -1e4, 0.0, 3.0], [-1e4, -1e4, 1e4, 1e4 - 1.0], [1e4, 1e4, 1e4, -1e4]])


def _mlp(lib, X, W, b, V, c):
    hidden = (X @ W.T + b).sigmoid()
    logits = hidden.tanh() @ V.T + c
    if lib is mn:
        log_p = logits.log_softmax(axis=1)
    else:
        log_p = logits.log_softmax(dim=1)
    nll = -log_p[np.arange(len(LABELS)), LABELS].mean()
    return nll + 0.01 * 0.5 * ((W * W).sum() + (V * V).sum())


def _broadcasting(lib, a, b):
    y = (a * b - a / (b * b + 1)) ** 2 + (b - 3.0).relu() + (2.0 - a).abs().sqrt()
    return y.sum(axis=(0, 2)).mean() if lib is mn else y.sum(dim=(0, 2)).mean()


def _softmax_family(lib, x):
    w = np.linspace(0.5, 1.5, x.shape[-1])
    if lib is mn:
        return ((mn.softmax(x, axis=1) * w).sum() + (mn.log_softmax(x, axis=0) * w).sum()
                + mn.logsumexp(x, axis=1).sum() + mn.logsumexp(x, axis=0).mean())
    w = torch.from_numpy(w)
    return ((torch.softmax(x, dim=1) * w).sum() + (torch.log_softmax(x, dim=0) * w).sum()
            + torch.logsumexp(x, dim=1).sum() + torch.logsumexp(x, dim=0).mean())


def _matmul_shapes(lib, a, b, v):
    return ((a @ b).sum() * 0.1 + (a @ v).tanh().sum() + (v @ b).sigmoid().sum()
            + (v @ v) + (b.transpose(-1, -2) @ v).exp().sum())


def _linalg(lib, A, B, v, N):
    eye = np.eye(A.shape[0])
    if lib is mn:
        K = 0.7 * (A @ A.T) + eye / 2.0
        return (-1.5 / 2 * mn.logdet(K) - 0.5 * mn.trace(mn.inv(K) @ B @ B.T)
                + mn.solve(K, v).sum() + mn.solve(K, B).mean() + mn.logdet(N))
    K = 0.7 * (A @ A.T) + torch.from_numpy(eye) / 2.0
    return (-1.5 / 2 * torch.linalg.slogdet(K).logabsdet
            - 0.5 * torch.trace(torch.linalg.inv(K) @ B @ B.T)
            + torch.linalg.solve(K, v).sum() + torch.linalg.solve(K, B).mean()
            + torch.linalg.slogdet(N).logabsdet)


def _reductions_indexing(lib, x):
    if lib is mn:
        m = x.max(axis=1).sum() + x.max() + x.mean(axis=0, keepdims=True).exp().sum()
    else:
        m = x.amax(dim=1).sum() + x.max() + x.mean(dim=0, keepdim=True).exp().sum()
    w = np.arange(1.0, 5.0)[:, None]
    picked = x[[0, 0, 2, 0]] * (w if lib is mn else torch.from_numpy(w))
    return m + picked.sum() + x[1:, ::2].reshape(-1).tanh().sum() + x.T[-1].sum()


def _negative_det():
    m = _rng.normal(size=(3, 3)) + 3 * np.eye(3)
    m[1] *= -1
    assert np.linalg.det(m) < 0
    return m


CASES = {
    "mlp": (_mlp, [_rng.normal(size=(5, 4)), _rng.normal(size=(6, 4)), _rng.normal(size=6),
                   _rng.normal(size=(3, 6)), _rng.normal(size=3)]),
    "broadcasting": (_broadcasting, [_rng.uniform(-1, 1.5, size=(3, 1, 4)),
                                     _rng.uniform(-4, 4, size=(2, 4))]),
    "softmax-at-1e4": (_softmax_family, [HUGE]),
    "softmax-moderate": (_softmax_family, [_rng.normal(size=(3, 4)) * 3]),
    "matmul": (_matmul_shapes, [_rng.normal(size=(2, 3, 4)), _rng.normal(size=(4, 4)),
                                _rng.normal(size=4)]),
    "linalg": (_linalg, [_rng.normal(size=(4, 4)), _rng.normal(size=(4, 2)), _rng.normal(size=4),
                         _negative_det()]),
    "reductions-indexing": (_reductions_indexing,
                            [(_rng.permutation(12) * 0.3 - 1.5).reshape(3, 4)]),
}


@pytest.mark.parametrize("name", list(CASES))
def test_matches_torch(name):
    fn, arrays = CASES[name]
    ours = [mn.Tensor(a.copy(), requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in arrays]

    out = fn(mn, *ours)
    out.backward()
    ref = fn(torch, *theirs)
    ref.backward()

    assert np.isfinite(out.item())
    np.testing.assert_allclose(out.item(), ref.item(), rtol=1e-10, atol=1e-10)
    for i, (mine, torch_leaf) in enumerate(zip(ours, theirs, strict=True)):
        assert mine.grad is not None, f"input {i} got no gradient"
        assert np.all(np.isfinite(mine.grad)), f"input {i}"
        np.testing.assert_allclose(mine.grad, torch_leaf.grad.numpy(), rtol=1e-9, atol=1e-10,
                                   err_msg=f"gradient of input {i}")
