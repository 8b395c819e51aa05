"""Where does a minnet training step spend its time?

Runs the eager loop of ``bench_train.py`` (``eager``: the step uncompiled) with a timer around each phase of a step
(indexing, forward, loss, L2 penalty, the scalar ops combining them, zero_grad,
backward split into topological sort and the engine loop, optimizer step, item()) and
prints the median time of each phase per step, next to the numpy reference's whole
step.  ``--cprofile`` adds the functions with the most own time, per step.

    python benchmarks/profile_train.py --workload digits moons --activation relu
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_train as bench  # noqa: E402  (the workloads and trainers live there)

PHASES = ("index", "forward", "loss", "l2_regularized", "zero_grad",
          "toposort", "backward (rest)", "step", "item")


def phase_times(trainer: bench.EagerTrainer, perms: list[np.ndarray]) -> dict[str, float]:
    """Median µs per step of each phase over all steps of the given epochs."""
    from minnet import losses
    from minnet.autograd import engine

    model, opt, p = trainer.model, trainer.opt, trainer.p
    samples: dict[str, list[float]] = {name: [] for name in PHASES}
    clock = time.perf_counter_ns
    for perm in perms:
        for start in range(0, len(perm), p.batch):
            idx = perm[start:start + p.batch]
            t0 = clock()
            xb, yb = p.X[idx], p.y[idx]
            t1 = clock()
            out = model(xb)
            t2 = clock()
            ce = losses.softmax_cross_entropy(out, yb)
            t3 = clock()
            loss = losses.l2_regularized(ce, trainer.weights, p.lam)
            t4 = clock()
            opt.zero_grad()
            t5 = clock()
            engine.topological_order(loss)  # measured alone; backward() sorts again
            t6 = clock()
            loss.backward()
            t7 = clock()
            opt.step()
            t8 = clock()
            loss.item()
            t9 = clock()
            marks = (t0, t1, t2, t3, t4, t5, t6, t7, t8, t9)
            for i, name in enumerate(PHASES):
                samples[name].append(marks[i + 1] - marks[i])
    medians = {name: statistics.median(v) / 1e3 for name, v in samples.items()}
    medians["backward (rest)"] = max(medians["backward (rest)"] - medians["toposort"], 0.0)
    return medians


def step_time(trainer: bench.Trainer, perms: list[np.ndarray], batch: int) -> float:
    """Minimum over epochs of the mean µs per step."""
    steps = -(-len(perms[0]) // batch)
    best = float("inf")
    for perm in perms:
        start = time.perf_counter()
        trainer.epoch(perm)
        best = min(best, time.perf_counter() - start)
    return 1e6 * best / steps


def top_functions(trainer: bench.EagerTrainer, perms: list[np.ndarray], count: int) -> list[tuple[float, float, float, str]]:
    """(own µs, cumulative µs, calls) per step of the functions with most own time."""
    steps = len(perms) * -(-len(perms[0]) // trainer.p.batch)
    profile = cProfile.Profile()
    profile.enable()
    for perm in perms:
        trainer.epoch(perm)
    profile.disable()
    stats = pstats.Stats(profile).stats  # type: ignore[attr-defined]
    rows = []
    for (filename, line, name), (_, calls, own, cumulative, _) in stats.items():
        where = f"{Path(filename).parent.name}/{Path(filename).name}:{line}({name})" if line else name
        rows.append((1e6 * own / steps, 1e6 * cumulative / steps, calls / steps, where))
    return sorted(rows, reverse=True)[:count]


def profile_case(workload: bench.Workload, activation: str, dtype: np.dtype, epochs: int, cprofile: int) -> None:
    X, y = bench.standardize(*workload.make(), dtype)
    sizes = (X.shape[1], *workload.hidden, int(y.max()) + 1)
    problem = bench.Problem(X, y, sizes, activation, workload.batch, workload.lr, workload.lam)
    init = bench.initial_params(sizes, activation, dtype)
    rng = np.random.default_rng(bench.SEED)
    perms = [rng.permutation(len(X)) for _ in range(epochs)]
    minnet, numpy = bench.EagerTrainer(problem), bench.NumpyTrainer(problem)  # the eager step, phase by phase
    for trainer in (minnet, numpy):
        trainer.reset(init)
        trainer.epoch(perms[0])  # warm-up

    phases = phase_times(minnet, perms)
    minnet_step, numpy_step = step_time(minnet, perms, workload.batch), step_time(numpy, perms, workload.batch)
    print(f"\n{workload.name} {'-'.join(map(str, sizes))} batch {workload.batch} {activation} {dtype}: "
          f"minnet eager {minnet_step:.1f} µs/step, numpy {numpy_step:.1f} µs/step ({minnet_step / numpy_step:.2f}×)")
    total = sum(phases.values())
    for name, us in phases.items():
        print(f"  {name:16} {us:7.1f} µs  {100 * us / total:5.1f}%")
    print(f"  {'sum of medians':16} {total:7.1f} µs")
    if cprofile:
        print("  cProfile, per step (profiling inflates Python-level costs):")
        print(f"  {'own µs':>8} {'cum µs':>8} {'calls':>6}  function")
        for own, cumulative, calls, where in top_functions(minnet, perms, cprofile):
            print(f"  {own:8.1f} {cumulative:8.1f} {calls:6.1f}  {where}")


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workload", nargs="+", choices=list(bench.WORKLOADS), default=["digits", "moons"])
    parser.add_argument("--activation", nargs="+", choices=bench.ACTIVATIONS, default=list(bench.ACTIVATIONS))
    parser.add_argument("--dtype", choices=("float32", "float64"), default="float32")
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--cprofile", type=int, default=0, metavar="N", help="also show the N top functions")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    import minnet

    print(f"minnet from {Path(minnet.__file__).parent}")
    with threadpool_limits(limits=args.threads):
        for name in args.workload:
            for activation in args.activation:
                profile_case(bench.WORKLOADS[name], activation, np.dtype(args.dtype), args.epochs, args.cprofile)


if __name__ == "__main__":
    main()
