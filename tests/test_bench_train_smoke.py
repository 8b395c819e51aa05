"""The training benchmark runs end to end and minnet does the numpy reference's work.

Runs ``benchmarks/bench_train.py --quick --json`` the way a user does.  Nothing here
is timed: the speed numbers are the benchmark's to report, not a test's to assert.
"""

import importlib.util
import json
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
    expected = {"numpy", "minnet", "sklearn"} | ({"torch"} if importlib.util.find_spec("torch") else set())
    assert set(report["implementations"]) == expected
    cases = {(c["workload"], c["activation"], c["dtype"]) for c in report["cases"]}
    assert cases == {(w, a, "float32") for w in ("digits", "moons", "wide") for a in ("relu", "sigmoid")}
    for case in report["cases"]:
        assert set(case["results"]) == expected
        for result in case["results"].values():
            assert len(result["epoch_seconds"]) == case["epochs"] >= 1
            assert 0.0 <= result["accuracy"] <= 1.0


def test_minnet_ends_with_numpys_loss(report):
    for case in report["cases"]:
        minnet, numpy = case["results"]["minnet"], case["results"]["numpy"]
        assert case["minnet_matches_numpy"], case
        assert minnet["final_loss"] == pytest.approx(numpy["final_loss"], rel=1e-4)
        assert minnet["accuracy"] == pytest.approx(numpy["accuracy"], abs=1e-3)


def test_machine_and_scaling_sections_are_reported(report):
    assert report["machine"]["threads"] == 1
    assert report["machine"]["cpu"]
    scaling = report["scaling"]
    assert [row["n_samples"] for row in scaling["data"]]
    assert all(row["backward_ms"] >= 0 for row in scaling["graph"])
    assert scaling["memory"]["gc_unreachable_objects"] == 0
