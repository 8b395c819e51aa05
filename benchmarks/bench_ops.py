"""Per-op cost of minnet against bare numpy doing the same forward and backward math.

One step of an op is its forward pass plus the backward pass that turns an upstream
gradient into the gradient of every input -- through minnet's graph on one side,
as hand-written numpy calls (the same formulas minnet's rules use) on the other.
The difference is what the framework adds per op: building the node, the
topological sort, the closure call, and the gradient bookkeeping.  The last row,
``sgd_step``, is one ``SGD.step()`` on a (d, d) weight and a (d,) bias against numpy's
``W -= lr * gW`` (minnet's update is one BLAS axpy per parameter).

A second table times the row max that shifts a softmax (``minnet.autograd.rows``):
numpy's reduction along each row against the same reduction across a transposed copy,
for the shapes of a batch, a dataset's predictions and a wide output, and says which
route minnet takes.

    python benchmarks/bench_ops.py            # small (32x128) and large (1024x1024)
    python benchmarks/bench_ops.py --quick    # small only, few repeats: a smoke run
    python benchmarks/bench_ops.py --json     # machine-readable results on stdout

Times are the minimum over repeats (``timeit``), float32, BLAS limited to one thread
(via threadpoolctl, when installed) so the numbers do not depend on the core count.
Both sides keep their gradients until the next step, as ``.grad`` does, and glibc is
asked to keep freed memory (see ``_keep_heap_warm``): otherwise every large array
comes back from the OS as fresh pages, and on a VM those page faults can cost more
than the arithmetic and swing tenfold from run to run.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import ctypes.util
import json
import platform
import sys
import timeit
from collections.abc import Callable

import numpy as np
from scipy.special import expit

import minnet as mn

SIZES = {"small": (32, 128), "large": (1024, 1024)}
DTYPE = np.float32

Step = Callable[[], tuple]


def _holding(step: Step) -> Step:
    """Keep a numpy step's gradients alive until its next call, as minnet's ``.grad`` is."""
    held: list[np.ndarray] = []

    def run():
        held.clear()  # like setting .grad = None before the next backward
        held.extend(step())
        return tuple(held)
    return run


def _op_cases(n: int, d: int, rng: np.random.Generator) -> dict[str, tuple[Step, Step]]:
    """For each op, (minnet step, numpy step); both return the input gradients."""
    def arr(*shape: int) -> np.ndarray:
        return rng.standard_normal(shape, dtype=DTYPE)

    x, y, b, w, g = arr(n, d), arr(n, d), arr(d), arr(d, d), arr(n, d)
    tx, ty, tb, tw = (mn.Tensor(a, requires_grad=True) for a in (x, y, b, w))

    def minnet_unary(method: str) -> Step:
        def step():
            tx.grad = None
            getattr(tx, method)().backward(g)
            return (tx.grad,)
        return step

    def minnet_reduction(method: str) -> Step:
        def step():
            tx.grad = None
            getattr(tx, method)().backward()
            return (tx.grad,)
        return step

    def minnet_add():
        tx.grad = tb.grad = None
        (tx + tb).backward(g)
        return tx.grad, tb.grad

    # A bound ``out`` lives until the gradients are computed, as a graph node's value does.
    def numpy_add():
        out = x + b  # noqa: F841
        return g, g.sum(axis=0)  # the bias was broadcast over the batch: sum it back

    def minnet_mul():
        tx.grad = ty.grad = None
        (tx * ty).backward(g)
        return tx.grad, ty.grad

    def numpy_mul():
        out = x * y  # noqa: F841
        return g * y, g * x

    def minnet_matmul():
        tx.grad = tw.grad = None
        (tx @ tw).backward(g)
        return tx.grad, tw.grad

    def numpy_matmul():
        out = x @ w  # noqa: F841
        return g @ w.T, x.T @ g

    def numpy_sigmoid():
        out = expit(x)
        return (g * out * (1 - out),)

    def numpy_tanh():
        out = np.tanh(x)
        return (g * (1 - out * out),)

    def numpy_relu():
        out = np.maximum(x, 0)
        return (g * (out > 0),)

    def numpy_exp():
        out = np.exp(x)
        return (g * out,)

    def numpy_sum():
        out = x.sum()
        return (np.broadcast_to(np.ones_like(out), x.shape),)

    def numpy_mean():
        out = x.mean()
        return (np.broadcast_to(np.ones_like(out) / x.size, x.shape),)

    def numpy_log_softmax():
        shifted = x - x.max(axis=1, keepdims=True)
        out = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
        return (g - np.exp(out) * g.sum(axis=1, keepdims=True),)

    # One SGD update of a weight matrix and a bias (θ ← θ − lr·g), each side on its own copy.
    lr, gw, gb = 1e-3, arr(d, d), arr(d)
    sgd_w, sgd_b = mn.nn.Parameter(w.copy()), mn.nn.Parameter(b.copy())
    sgd_w.grad, sgd_b.grad = gw, gb
    sgd = mn.optim.SGD([sgd_w, sgd_b], lr=lr)
    np_w, np_b = w.copy(), b.copy()

    def minnet_sgd_step():
        sgd.step()
        return sgd_w.data, sgd_b.data

    def numpy_sgd_step():
        np_w.__isub__(lr * gw)  # in place, as a hand-written loop's ``W -= lr * gW``
        np_b.__isub__(lr * gb)
        return np_w, np_b

    cases = {
        "add": (minnet_add, numpy_add),
        "mul": (minnet_mul, numpy_mul),
        "matmul": (minnet_matmul, numpy_matmul),
        "sigmoid": (minnet_unary("sigmoid"), numpy_sigmoid),
        "tanh": (minnet_unary("tanh"), numpy_tanh),
        "relu": (minnet_unary("relu"), numpy_relu),
        "exp": (minnet_unary("exp"), numpy_exp),
        "sum": (minnet_reduction("sum"), numpy_sum),
        "mean": (minnet_reduction("mean"), numpy_mean),
        "log_softmax": (minnet_unary("log_softmax"), numpy_log_softmax),
        "sgd_step": (minnet_sgd_step, numpy_sgd_step),
    }
    return {op: (ours, _holding(reference)) for op, (ours, reference) in cases.items()}


def _batch_size(step: Step, min_batch_seconds: float) -> int:
    """Calls per timed batch, doubled until a batch takes at least min_batch_seconds."""
    number = 1
    while timeit.timeit(step, number=number) < min_batch_seconds:
        number *= 2
    return number


def _compare(minnet_step: Step, numpy_step: Step, repeat: int, min_batch_seconds: float) -> tuple[float, float]:
    """Seconds per call of each step: the minimum over ``repeat`` batches.

    The two sides' batches alternate, so a burst of load on the machine hits both.
    """
    sides = [(step, _batch_size(step, min_batch_seconds)) for step in (minnet_step, numpy_step)]
    best = [float("inf"), float("inf")]
    for _ in range(repeat):
        for i, (step, number) in enumerate(sides):
            best[i] = min(best[i], timeit.timeit(step, number=number) / number)
    return best[0], best[1]


def run(sizes: list[str], repeat: int, min_batch_seconds: float) -> list[dict]:
    rng = np.random.default_rng(0)
    rows = []
    for size in sizes:
        n, d = SIZES[size]
        for op, (minnet_step, numpy_step) in _op_cases(n, d, rng).items():
            # both sides must compute the same gradients, or the comparison means nothing
            for ours, reference in zip(minnet_step(), numpy_step(), strict=True):
                np.testing.assert_allclose(ours, reference, rtol=1e-5, atol=1e-6, err_msg=op)
            t_minnet, t_numpy = _compare(minnet_step, numpy_step, repeat, min_batch_seconds)
            rows.append({
                "size": size, "shape": [n, d], "op": op,
                "numpy_us": t_numpy * 1e6, "minnet_us": t_minnet * 1e6,
                "overhead_us": (t_minnet - t_numpy) * 1e6, "ratio": t_minnet / t_numpy,
            })
    return rows


ROW_MAX_SHAPES = [(1, 10), (32, 10), (64, 2), (256, 64), (10_000, 2), (32, 100), (32, 1000)]


def run_row_max(repeat: int, min_batch_seconds: float) -> list[dict]:
    """Row max of (n, C) both ways; both must give numpy's values."""
    from minnet.autograd.rows import max_across_rows

    rng = np.random.default_rng(0)
    rows = []
    for n, c in ROW_MAX_SHAPES:
        z = rng.standard_normal((n, c), dtype=DTYPE)

        def along(z=z):
            return np.maximum.reduce(z, axis=1, keepdims=True)

        def across(z=z, n=n):
            return np.maximum.reduce(z.T.copy(), axis=0).reshape(n, 1)

        np.testing.assert_array_equal(along(), across())
        t_along, t_across = _compare(along, across, repeat, min_batch_seconds)
        rows.append({"shape": [n, c], "along_us": t_along * 1e6, "across_us": t_across * 1e6,
                     "minnet": "across" if max_across_rows(n, c) else "along"})
    return rows


def format_row_max(rows: list[dict]) -> str:
    header = f"{'(n, C)':<14} {'along µs':>10} {'across µs':>10} {'minnet':>8}"
    lines = [header, "-" * len(header)]
    for r in rows:
        shape = f"({r['shape'][0]}, {r['shape'][1]})"
        lines.append(f"{shape:<14} {r['along_us']:>10.2f} {r['across_us']:>10.2f} {r['minnet']:>8}")
    return "\n".join(lines)


def _keep_heap_warm() -> bool:
    """Ask glibc to reuse freed large blocks instead of returning them to the OS.

    By default a freed 4 MB array is unmapped (or trimmed off the heap), so the next
    one is page-faulted in again; raising both thresholds keeps the heap warm.
    Returns False where this is not glibc.
    """
    m_trim_threshold, m_mmap_threshold = -1, -3  # from glibc's malloc.h
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return bool(libc.mallopt(m_mmap_threshold, 32 << 20) and libc.mallopt(m_trim_threshold, 1 << 30))
    except (OSError, AttributeError):
        return False


def _one_blas_thread():
    """Limit BLAS to one thread when threadpoolctl is available; say whether it was."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return contextlib.nullcontext(), False
    return threadpool_limits(limits=1, user_api="blas"), True


def format_table(rows: list[dict]) -> str:
    header = f"{'size':<18} {'op':<12} {'numpy µs':>10} {'minnet µs':>10} {'overhead µs':>12} {'ratio':>7}"
    lines = [header, "-" * len(header)]
    for r in rows:
        size = f"{r['size']} {r['shape'][0]}x{r['shape'][1]}"
        lines.append(f"{size:<18} {r['op']:<12} {r['numpy_us']:>10.1f} {r['minnet_us']:>10.1f} "
                     f"{r['overhead_us']:>12.1f} {r['ratio']:>7.2f}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small operands and few repeats (a smoke run)")
    parser.add_argument("--json", action="store_true", help="print results as JSON instead of a table")
    args = parser.parse_args(argv)

    sizes, repeat, min_batch = (["small"], 3, 0.002) if args.quick else (list(SIZES), 7, 0.05)
    warm_heap = _keep_heap_warm()
    limit, limited = _one_blas_thread()
    with limit:
        rows = run(sizes, repeat, min_batch)
        row_max = run_row_max(repeat, min_batch)
    meta = {"python": platform.python_version(), "numpy": np.__version__, "dtype": np.dtype(DTYPE).name,
            "blas_threads": 1 if limited else "default", "warm_heap": warm_heap, "repeat": repeat}
    if args.json:
        json.dump({"meta": meta, "results": rows, "row_max": row_max}, sys.stdout, indent=2)
        print()
    else:
        print(f"minnet vs numpy, forward+backward per op ({meta['dtype']}, BLAS threads: "
              f"{meta['blas_threads']}, warm heap: {'yes' if warm_heap else 'no'}, min of {repeat}; "
              f"python {meta['python']}, numpy {meta['numpy']})")
        print(format_table(rows))
        print("\nrow max of an (n, C) array: numpy's reduce along each row, or across a transposed copy")
        print(format_row_max(row_max))
    return 0


if __name__ == "__main__":
    sys.exit(main())
