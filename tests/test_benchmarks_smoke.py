"""The op benchmark runs end to end (``--quick``) and reports every op sensibly."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_ops.py"
OPS = {"add", "mul", "matmul", "sigmoid", "tanh", "relu", "exp", "sum", "mean", "log_softmax", "sgd_step"}


def _run(*args: str) -> tuple[subprocess.CompletedProcess, float]:
    start = time.perf_counter()
    result = subprocess.run([sys.executable, str(BENCH), "--quick", *args],
                            capture_output=True, text=True, timeout=60)
    return result, time.perf_counter() - start


def test_bench_ops_quick_json():
    result, seconds = _run("--json")
    assert result.returncode == 0, result.stderr
    assert seconds < 5, f"--quick took {seconds:.1f} s"
    report = json.loads(result.stdout)
    rows = report["results"]
    assert {r["op"] for r in rows} == OPS
    for r in rows:
        assert r["size"] == "small" and r["shape"] == [32, 128]
        assert r["numpy_us"] > 0 and r["minnet_us"] > 0
        assert abs(r["overhead_us"] - (r["minnet_us"] - r["numpy_us"])) < 1e-6
        assert abs(r["ratio"] - r["minnet_us"] / r["numpy_us"]) < 1e-9
    row_max = report["row_max"]
    assert [r["shape"][1] for r in row_max] == [10, 10, 2, 64, 2, 100, 1000]
    assert all(r["along_us"] > 0 and r["across_us"] > 0 for r in row_max)
    assert {r["minnet"] for r in row_max} == {"along", "across"}


def test_bench_ops_quick_table():
    result, _ = _run()
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert "overhead µs" in lines[1]
    ops = lines[3:lines.index("")]
    assert {line.split()[2] for line in ops} == OPS  # "small 32x128 <op> ..."
    assert lines[-1].split()[-1] == "along"  # (32, 1000): the route minnet takes


def test_profile_train_names_every_phase_of_a_step():
    script = BENCH.parent / "profile_train.py"
    result = subprocess.run([sys.executable, str(script), "--workload", "moons", "--activation", "relu",
                             "--epochs", "1", "--cprofile", "3"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    for phase in ("index", "forward", "loss", "l2_regularized", "zero_grad", "toposort", "backward (rest)",
                  "step", "item", "sum of medians"):
        assert any(line.strip().startswith(phase) and line.rstrip().endswith(("%", "µs")) for line in lines), phase
    assert "cProfile, per step" in result.stdout
