"""The training benchmark runs end to end and minnet does the numpy reference's work.

Runs ``benchmarks/bench_train.py --quick --json`` the way a user does.  Nothing here
is timed: the speed numbers are the benchmark's to report, not a test's to assert.
"""

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_train.py"


@pytest.fixture(scope="module")
def report():
    run = subprocess.run(
        [sys.executable, str(BENCH), "--quick", "--json"],
        capture_output=True, text=True, timeout=120,
    )
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout)


def test_every_workload_activation_and_implementation_ran(report):
    expected = {"numpy", "tight", "minnet", "compiled", "eager", "readable", "sklearn"}
    expected |= {name for name in ("torch", "jax") if importlib.util.find_spec(name)}
    assert set(report["implementations"]) == expected
    cases = {(c["workload"], c["activation"], c["dtype"]) for c in report["cases"]}
    assert cases == {(w, a, "float32") for w in ("digits", "moons", "wide") for a in ("relu", "sigmoid")}
    for case in report["cases"]:
        assert set(case["results"]) == expected
        for result in case["results"].values():
            assert len(result["epoch_seconds"]) == case["epochs"] >= 1
            assert 0.0 <= result["accuracy"] <= 1.0


def test_every_loop_ends_with_numpys_loss(report):
    """The compiled loops against the fused numpy loop, the others against the plain one."""
    for case in report["cases"]:
        assert case["mismatched"] == [], case
        assert set(case["loss_rel_diff"]) == set(case["results"]) - {"numpy", "sklearn"}
        minnet, tight = case["results"]["minnet"], case["results"]["tight"]
        assert minnet["final_loss"] == pytest.approx(tight["final_loss"], rel=1e-4)
        assert minnet["accuracy"] == pytest.approx(case["results"]["numpy"]["accuracy"], abs=1e-2)


def test_machine_and_scaling_sections_are_reported(report):
    assert report["machine"]["threads"] == 1
    if hasattr(os, "sched_setaffinity"):  # pinned to one CPU: XLA obeys nothing else
        assert report["machine"]["usable_cpus"] == 1
    assert report["machine"]["cpu"]
    scaling = report["scaling"]
    assert [row["n_samples"] for row in scaling["data"]]
    assert all(row["backward_ms"] >= 0 for row in scaling["graph"])
    assert [mem["loop"] for mem in scaling["memory"]] == ["eager", "compiled"]
    assert all(mem["gc_unreachable_objects"] == 0 for mem in scaling["memory"])
