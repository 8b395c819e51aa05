"""Every script in examples/ runs to completion (each asserts its own results)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = sorted((ROOT / "examples").glob("*.py"))
LECTURE = {"backprop_f", "regularized_neuron", "wx_minus_x", "logdet_gradient", "trace_inverse_gradient"}


def test_the_lecture_examples_are_all_there():
    assert LECTURE <= {s.stem for s in SCRIPTS}


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_example_runs(script, tmp_path):
    """Run from an empty folder, so whatever the script writes lands in tmp_path."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    result = subprocess.run([sys.executable, str(script)], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, f"{script.name} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    if script.stem in LECTURE:
        drawn = list((tmp_path / "runs" / "examples").glob(f"{script.stem}.*"))
        assert [p.suffix for p in drawn] in ([".svg"], [".dot"])
