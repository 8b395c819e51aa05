"""Every public op against PyTorch, on generated cases (hypothesis), in float64.

Shapes, memory layouts (C, Fortran, strided, negative strides), values (zeros and ties
included, so the subgradient conventions are exercised) and repeated operands (``op(a,
a)``) are drawn; value and every input's gradient under a random upstream gradient
must agree with ``torch``.  PyTorch is only the oracle: without it this module skips.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import array_shapes, arrays, mutually_broadcastable_shapes

import minnet as mn
from minnet import losses, nn

torch = pytest.importorskip("torch")

SETTINGS = settings(max_examples=25, deadline=None, database=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

# Values with many exact zeros and ties, plus a continuous part.
SPECIAL = [0.0, 1.0, -1.0, 0.5, -0.5, 2.0]


def values(low: float = -3.0, high: float = 3.0, special: list[float] | None = None) -> st.SearchStrategy[float]:
    picks = [v for v in (SPECIAL if special is None else special) if low <= v <= high]
    return st.one_of(st.sampled_from(picks), st.floats(low, high, allow_nan=False)) if picks else st.floats(low, high)


LAYOUTS = ["C", "F", "strided", "negative"]


def layout(a: np.ndarray, kind: str) -> np.ndarray:
    if a.ndim == 0 or kind == "C":
        return np.ascontiguousarray(a)
    if kind == "F":
        return np.asfortranarray(a)
    if kind == "strided":
        big = np.zeros(tuple(2 * n for n in a.shape))
        view = big[tuple(slice(None, None, 2) for _ in a.shape)]
        view[...] = a
        return view
    return np.flip(np.ascontiguousarray(np.flip(a)))


@dataclass(frozen=True)
class Case:
    """One op, written for both libraries: ``fn(lib, *tensors)``."""

    name: str
    fn: Callable
    inputs: Callable[[st.DataObject], list[np.ndarray]]
    same_operand: bool = False  # may be called as fn(a, a)


def _array(data: st.DataObject, shape: tuple[int, ...], **kw) -> np.ndarray:
    return data.draw(arrays(np.float64, shape, elements=values(**kw)))


def _shape(data: st.DataObject, min_dims: int = 0) -> tuple[int, ...]:
    return data.draw(array_shapes(min_dims=min_dims, max_dims=3, min_side=1, max_side=4))


def unary(low: float = -3.0, high: float = 3.0, special: list[float] | None = None, min_dims: int = 0):
    return lambda data: [_array(data, _shape(data, min_dims), low=low, high=high, special=special)]


def binary(b_low: float = -3.0, b_high: float = 3.0, a_low: float = -3.0, a_high: float = 3.0, special=None):
    def draw(data: st.DataObject) -> list[np.ndarray]:
        shapes = data.draw(mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3, max_side=3))
        sa, sb = shapes.input_shapes
        return [_array(data, sa, low=a_low, high=a_high), _array(data, sb, low=b_low, high=b_high, special=special)]
    return draw


def matmul_inputs(data: st.DataObject) -> list[np.ndarray]:
    n, k, m = (data.draw(st.integers(1, 4)) for _ in range(3))
    kind = data.draw(st.sampled_from(["2d", "1d-left", "1d-right", "batched"]))
    shapes = {"2d": ((n, k), (k, m)), "1d-left": ((k,), (k, m)), "1d-right": ((n, k), (k,)),
              "batched": ((2, n, k), (k, m))}[kind]
    return [_array(data, s) for s in shapes]


def reduction_inputs(data: st.DataObject) -> list[np.ndarray]:
    return [_array(data, _shape(data, min_dims=1))]


def square(n_max: int = 4) -> Callable[[st.DataObject], list[np.ndarray]]:
    def draw(data: st.DataObject) -> list[np.ndarray]:
        n = data.draw(st.integers(1, n_max))
        a = _array(data, (n, n), low=-1.0, high=1.0)
        return [a @ a.T + n * np.eye(n)]  # symmetric positive definite: well conditioned
    return draw


def solve_inputs(data: st.DataObject) -> list[np.ndarray]:
    (a,) = square()(data)
    n = a.shape[0]
    b_shape = data.draw(st.sampled_from([(n,), (n, 1), (n, 3)]))
    return [a, _array(data, b_shape)]


def logits_inputs(data: st.DataObject) -> list[np.ndarray]:
    n, c = data.draw(st.integers(1, 5)), data.draw(st.integers(2, 4))
    return [_array(data, (n, c))]


def linear_inputs(data: st.DataObject) -> list[np.ndarray]:
    n, i, o = (data.draw(st.integers(1, 4)) for _ in range(3))
    return [_array(data, (n, i)), _array(data, (o, i)), _array(data, (o,))]


def _reduce(name: str):
    def fn(lib, a):
        axis = a.ndim - 1
        if lib is mn:
            return getattr(a, name)(axis=axis, keepdims=True)
        if name == "max":
            return torch.amax(a, dim=axis, keepdim=True)  # ties share the gradient, as in minnet
        return getattr(a, name)(dim=axis, keepdim=True)
    return fn


def _activation_fn(name: str):
    return lambda lib, x, w, b: (nn.linear_activation(x, w, b, name) if lib is mn
                                 else getattr(torch, name)(x @ w.T + b))


def _labels(n: int, c: int) -> np.ndarray:
    return np.arange(n) * 7 % c


CASES = [
    Case("add", lambda lib, a, b: a + b, binary(), same_operand=True),
    Case("sub", lambda lib, a, b: a - b, binary(), same_operand=True),
    Case("mul", lambda lib, a, b: a * b, binary(), same_operand=True),
    Case("div", lambda lib, a, b: a / b, binary(b_low=0.5, b_high=3.0)),
    Case("pow", lambda lib, a, b: a ** b, binary(a_low=0.25, a_high=3.0, b_low=-2.0, b_high=3.0,
                                                 special=[0.0, 1.0, 2.0, 0.5, -1.0])),
    Case("pow-at-0", lambda lib, a: a ** 2 + a ** 0 + a ** 1, unary(special=[0.0, 1.0, -1.0])),
    Case("neg", lambda lib, a: -a, unary()),
    Case("matmul", lambda lib, a, b: a @ b, matmul_inputs),
    Case("exp", lambda lib, a: a.exp(), unary()),
    Case("log", lambda lib, a: a.log(), unary(low=0.1, high=3.0)),
    Case("sqrt", lambda lib, a: a.sqrt(), unary(low=0.1, high=3.0)),
    Case("abs", lambda lib, a: a.abs(), unary()),
    Case("sigmoid", lambda lib, a: a.sigmoid(), unary()),
    Case("tanh", lambda lib, a: a.tanh(), unary()),
    Case("relu", lambda lib, a: a.relu(), unary()),
    Case("sum", _reduce("sum"), reduction_inputs),
    Case("mean", _reduce("mean"), reduction_inputs),
    Case("max", _reduce("max"), reduction_inputs),
    Case("sum-all", lambda lib, a: a.sum(), unary()),
    Case("max-all", lambda lib, a: a.max() if lib is mn else torch.amax(a), unary()),
    Case("logsumexp", lambda lib, a: mn.logsumexp(a, axis=-1) if lib is mn else torch.logsumexp(a, dim=-1),
         reduction_inputs),
    Case("log_softmax", lambda lib, a: mn.log_softmax(a, axis=-1) if lib is mn else torch.log_softmax(a, dim=-1),
         reduction_inputs),
    Case("softmax", lambda lib, a: mn.softmax(a, axis=0) if lib is mn else torch.softmax(a, dim=0), reduction_inputs),
    Case("reshape", lambda lib, a: a.reshape(-1), unary()),
    Case("transpose", lambda lib, a: a.transpose(*reversed(range(a.ndim))) if lib is mn
         else a.permute(*reversed(range(a.ndim))), unary()),
    Case("getitem", lambda lib, a: a[np.array([0, -1, 0])] if lib is mn else a[torch.tensor([0, -1, 0])],
         reduction_inputs),
    Case("inv", lambda lib, a: mn.inv(a) if lib is mn else torch.linalg.inv(a), square()),
    Case("logdet", lambda lib, a: mn.logdet(a) if lib is mn else torch.linalg.slogdet(a).logabsdet, square()),
    Case("trace", lambda lib, a: mn.trace(a) if lib is mn else torch.trace(a), square()),
    Case("solve", lambda lib, a, b: mn.solve(a, b) if lib is mn else torch.linalg.solve(a, b), solve_inputs),
    Case("linear", lambda lib, x, w, b: nn.linear(x, w, b) if lib is mn else x @ w.T + b, linear_inputs),
    Case("linear_relu", _activation_fn("relu"), linear_inputs),
    Case("linear_sigmoid", _activation_fn("sigmoid"), linear_inputs),
    Case("linear_tanh", _activation_fn("tanh"), linear_inputs),
    Case("mse_loss", lambda lib, p, t: losses.mse_loss(p, t) if lib is mn
         else 0.5 * torch.nn.functional.mse_loss(p, t), lambda data: [unary(min_dims=1)(data)[0]] * 2,
         same_operand=False),
    Case("softmax_cross_entropy", lambda lib, z: losses.softmax_cross_entropy(z, _labels(*z.shape)) if lib is mn
         else torch.nn.functional.cross_entropy(z, torch.from_numpy(_labels(*z.shape))), logits_inputs),
]
CASE_IDS = [c.name for c in CASES]


def _compare(case: Case, arrays: list[np.ndarray], kinds: list[str], same: bool, seed: int) -> None:
    if same:
        arrays = arrays[:1] * 2 if arrays[0].shape == arrays[1].shape else arrays
    laid = [layout(a, k) for a, k in zip(arrays, kinds, strict=False)]
    ours = [mn.Tensor(a, requires_grad=True) for a in laid]
    theirs = [torch.tensor(np.ascontiguousarray(a), requires_grad=True) for a in arrays]
    if same and arrays[0] is arrays[1]:
        ours, theirs = [ours[0], ours[0]], [theirs[0], theirs[0]]  # one tensor used twice
    out = case.fn(mn, *ours)
    ref = case.fn(torch, *theirs)
    np.testing.assert_allclose(out.data, ref.detach().numpy(), rtol=1e-9, atol=1e-12, equal_nan=True)
    upstream = np.random.default_rng(seed).uniform(-1.5, 1.5, size=out.shape)
    out.backward(upstream)
    ref.backward(torch.from_numpy(upstream))
    for i, (mine, torch_leaf) in enumerate(zip(ours, theirs, strict=True)):
        expected = torch_leaf.grad.numpy() if torch_leaf.grad is not None else np.zeros(arrays[i].shape)
        np.testing.assert_allclose(mine.grad, expected, rtol=1e-8, atol=1e-10, equal_nan=True,
                                   err_msg=f"{case.name}: gradient of input {i}")


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
@SETTINGS
@given(data=st.data())
def test_op_matches_torch(case, data):
    arrays = case.inputs(data)
    kinds = [data.draw(st.sampled_from(LAYOUTS)) for _ in arrays]
    same = case.same_operand and data.draw(st.booleans())
    with np.errstate(all="ignore"):
        _compare(case, arrays, kinds, same, data.draw(st.integers(0, 2**16)))


def test_the_cases_cover_every_public_op():
    """A new public op must get a row here (and so a torch comparison)."""
    covered = {c.name.split("-")[0] for c in CASES}
    public = {"add", "sub", "mul", "div", "pow", "neg", "matmul", *mn.autograd.ops.__all__} - {"FORMULAS", "activate"}
    public |= {"inv", "logdet", "trace", "solve", "linear", "mse_loss", "softmax_cross_entropy"}
    public |= {f"linear_{name}" for name in nn.ACTIVATIONS}
    assert public <= covered, f"ops without a torch comparison: {sorted(public - covered)}"
