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


def test_bench_ops_quick_table():
    result, _ = _run()
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert "overhead µs" in lines[1]
    assert {line.split()[2] for line in lines[3:]} == OPS  # "small 32x128 <op> ..."
