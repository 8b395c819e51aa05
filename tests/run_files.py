"""Reading what a run leaves on disk, shared by the command-line tests."""

import csv
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np


def config_in_empty_folder(tmp_path, monkeypatch, text):
    """Work in ``tmp_path`` (runs/ lands there) with the config ``text`` saved as tiny.toml."""
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "tiny.toml"
    path.write_text(text)
    return path


def read_csv(path):
    """Rows of a CSV file (history.csv, summary.csv) as dicts of strings."""
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def checkpoint_params(run_dir):
    """The parameter arrays of a run's model.npz, read without pickle."""
    with np.load(run_dir / "model.npz", allow_pickle=False) as archive:
        return {k: archive[k] for k in archive.files if k.startswith("param/")}


def same_params(a, b):
    return set(a) == set(b) and all(np.array_equal(a[k], b[k]) for k in a)


def start_train(args, cwd):
    """Start ``train.py args`` as a user would, so that Ctrl-C (SIGINT) reaches it.

    A shell that runs the test suite in the background makes its children ignore
    SIGINT, and Python then never raises KeyboardInterrupt; restore the default.
    """
    root = Path(__file__).resolve().parents[1]
    return subprocess.Popen(
        [sys.executable, str(root / "train.py"), *map(str, args)], cwd=cwd,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))


# ---- the reliability suites' checks (tests/test_reliability_*.py) ----------------------

def run_cli(args, cwd, timeout=120, stdin=None, **kwargs):
    """``python -m minnet args`` in a subprocess, with this checkout's minnet first on the path."""
    import os

    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(root), os.environ.get("PYTHONPATH")]))}
    env.update(kwargs.pop("env", {}))
    return subprocess.run([sys.executable, "-m", "minnet", *map(str, args)], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=timeout, stdin=stdin if stdin is not None else subprocess.DEVNULL,
                          **kwargs)


def assert_one_error_line(result, code=2, mentions=()):
    """The promise for bad input: exit ``code``, stderr ends in one ``error:`` line naming
    each of ``mentions``, and no traceback anywhere."""
    assert result.returncode == code, (result.returncode, result.stderr[-2000:])
    assert "Traceback" not in result.stderr and "Traceback" not in result.stdout, result.stderr[-2000:]
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, result.stderr[-2000:]
    for word in mentions:
        assert word in errors[0], (word, errors[0])
    return errors[0]


def tree_snapshot(folder):
    """Every file under ``folder`` with its bytes: compare before and after to prove nothing was lost."""
    folder = Path(folder)
    if not folder.exists():
        return {}
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}
