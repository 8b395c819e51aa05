"""The quick ways minnet makes its hot numpy calls give the plain calls' numbers: the
activation table's in-place kernels (what a compiled step binds) bit for bit, edge
values included; row max and row sum; ‖W‖² by BLAS; and the read-only fills they use
stay read-only."""

from __future__ import annotations

import numpy as np
import pytest

from minnet.autograd import blas, fills, rows
from minnet.autograd.activations import ACTIVATIONS

EDGES = [-np.inf, -30.0, -1.0, -0.0, 0.0, 1e-30, 0.5, 1.0, 30.0, np.inf, np.nan]


def _same_bits(a: np.ndarray, b: np.ndarray) -> bool:
    """Equal including NaNs and the sign of zero."""
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


def _inputs(dtype):
    rng = np.random.default_rng(0)
    z = rng.standard_normal((6, len(EDGES))).astype(dtype)
    z[0] = EDGES
    g = rng.standard_normal(z.shape).astype(dtype)
    g[1] = [np.inf, -np.inf] * (len(EDGES) // 2) + [np.inf]  # inf upstream at every kind of unit
    g[2, :3] = 0.0
    return z, g


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_in_place_kernels_give_the_plain_numbers(name, dtype):
    act = ACTIVATIONS[name]
    z, g = _inputs(dtype)
    with np.errstate(all="ignore"):
        y = act.forward(z, None)
        buffer = z.copy()
        act.forward_into(buffer)()
        assert _same_bits(buffer, y)
        y_live = act.forward(z, None)
        expected = act.backward(g, y_live)
        upstream = g.copy()
        act.backward_into(upstream, y_live)()
        assert _same_bits(upstream, expected)
        upstream = g.copy()
        run = act.backward_into(upstream, y_live)
        run()
        upstream[...] = g  # bound once, run again on new numbers: no state kept between calls
        run()
        assert _same_bits(upstream, expected)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_relu_against_zeros_is_numpys_maximum_with_zero(dtype):
    z, _ = _inputs(dtype)
    relu = ACTIVATIONS["relu"]
    assert _same_bits(relu.forward(z, None), np.maximum(z, 0))
    out = z.copy()
    assert relu.forward(out, out) is out and _same_bits(out, np.maximum(z, 0))
    y = relu.forward(z, None)
    # the gradient passes where z > 0 or z is NaN (as in PyTorch), exactly 0 elsewhere
    assert np.array_equal(relu.backward(np.full_like(z, np.inf), y), np.where((z > 0) | np.isnan(z), np.inf, 0.0))


def test_a_large_relu_takes_numpys_scalar_route_and_keeps_no_zeros():
    from minnet.autograd import activations

    z = np.random.default_rng(5).standard_normal(activations.ZEROS_LIMIT + 1).astype(np.float32)
    z[:4] = [-0.0, 0.0, np.nan, -np.inf]
    calls = fills.zeros.cache_info()[:2]  # hits, misses
    assert _same_bits(ACTIVATIONS["relu"].forward(z, None), np.maximum(z, 0))
    assert fills.zeros.cache_info()[:2] == calls  # the memo was not asked


def test_fills_are_read_only_and_memoized():
    ones, zeros = fills.ones((3, 1), np.dtype(np.float32)), fills.zeros(4, np.dtype(np.float64))
    assert ones.dtype == np.float32 and ones.shape == (3, 1) and (ones == 1).all()
    assert zeros.dtype == np.float64 and zeros.shape == (4,) and not zeros.any()
    for a in (ones, zeros):
        with pytest.raises(ValueError, match="read-only"):
            a[0] = 5
    assert fills.ones((3, 1), np.dtype(np.float32)) is ones


# ---- row reductions (softmax's shift and normaliser) -----------------------------------

ROW_SHAPES = [(1, 2), (8, 16), (64, 2), (32, 10), (300, 64), (32, 100), (5, 1)]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", ROW_SHAPES, ids=str)
def test_row_max_is_numpys_row_reduction(shape, dtype):
    rng = np.random.default_rng(1)
    z = rng.standard_normal(shape).astype(dtype)
    z[0, 0] = np.inf
    if shape[0] > 2:
        z[1, -1] = np.nan  # NaN wins its row, as in numpy
        z[2] = -np.inf
        z[-1, :] = 3.0  # a tie across the whole row
    expected = np.maximum.reduce(z, axis=1, keepdims=True)
    got = rows.row_max(z)
    assert got.shape == (shape[0], 1) and got.dtype == dtype
    np.testing.assert_array_equal(got, expected)  # NaNs in the same places
    np.testing.assert_array_equal(rows.row_max(z[::2]), expected[::2])  # a strided view too


def test_row_max_takes_both_routes_in_these_tests():
    routes = {rows.max_across_rows(*shape) for shape in ROW_SHAPES}
    assert routes == {True, False}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_row_sum_is_the_product_with_ones(dtype):
    e = np.random.default_rng(2).random((33, 7)).astype(dtype)
    total = rows.row_sum(e)
    assert total.shape == (33, 1) and total.dtype == dtype
    np.testing.assert_allclose(total, e.sum(axis=1, keepdims=True), rtol=4 * np.finfo(dtype).eps)
    out = np.empty((33, 1), dtype)
    assert rows.row_sum(e, out=out) is out and np.array_equal(out, total)


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_squared_norm_is_numpys_vdot(dtype):
    a = np.random.default_rng(3).standard_normal((40, 9)).astype(dtype)
    for view in (a, a[:, ::2], a.T, a[:0]):
        got = blas.squared_norm(view)
        assert type(got) is float
        np.testing.assert_allclose(got, float(np.vdot(view, view)), rtol=10 * np.finfo(dtype).eps)
    a[0, 0] = np.inf
    assert blas.squared_norm(a) == np.inf
    a[1, 1] = np.nan
    assert np.isnan(blas.squared_norm(a))
    assert (blas.routine("dot", np.dtype(dtype)) is None) == (dtype is np.float16)


@pytest.mark.parametrize("shape", [(64, 2), (3, 100)], ids=str)  # across a transposed copy, and along rows
@pytest.mark.parametrize("axis", [1, -1])
def test_softmax_ops_shift_rows_as_numpys_max_does(shape, axis):
    import minnet as mn

    x = np.random.default_rng(4).standard_normal(shape) * 30
    x[0] = -np.inf  # a row with no finite entry
    x[1, 0] = np.inf
    shift = x.max(axis=1, keepdims=True)
    with np.errstate(all="ignore"):  # the row of -inf: log 0, as numpy says
        shifted = x - shift
        e = np.exp(shifted)
        expected = {
            "softmax": e / e.sum(axis=1, keepdims=True),
            "log_softmax": shifted - np.log(e.sum(axis=1, keepdims=True)),
        }
        finite = np.where(np.isfinite(shift), shift, 0)
        expected["logsumexp"] = (np.log(np.exp(x - finite).sum(axis=1, keepdims=True)) + finite)[:, 0]
        for name, want in expected.items():
            got = getattr(mn, name)(mn.Tensor(x), axis=axis).data
            np.testing.assert_array_equal(got, want, err_msg=name)
