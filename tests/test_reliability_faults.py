"""Faults, signals and concurrency never lose data or leave a half-written file (issue 17).

Four classes, each a table of cases run as processes:

1. a write that fails -- disk full, quota, I/O error, read-only file system, permission
   denied -- on every file a run, a resume, a sweep, ``--plot`` or ``predict`` writes,
   and standard output on /dev/full: one ``error:`` line naming the file and the
   reason, exit 2, and every file already on disk intact;
2. two processes aimed at one folder at once (same ``--out``, same name, two sweeps,
   ``--resume`` or ``--force`` on a live run): never both writing into it;
3. Ctrl-C (twice, hammered, during start-up), SIGTERM, and SIGINT to a ``--jobs 2``
   sweep: exit 130, one line, what finished saved, and resume still exact;
4. SIGKILL at 24 random moments of one run: ``model.npz`` is always absent or
   loadable, ``history.csv`` whole and consistent with it, and resuming after every
   kill ends with the uninterrupted run's weights, bit for bit.

Most cases fork from one process that imported minnet once (tests/forking_cli.py),
which saves a second of scikit-learn import per case; the cases about start-up,
standard output and the sweep's workers start ``python -m minnet`` itself.
"""

from __future__ import annotations

import contextlib
import csv
import errno
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from run_files import assert_one_error_line, checkpoint_params, read_csv, same_params, start_train, tree_snapshot

from minnet.train import load_config, train
from minnet.train.checkpoint import load_checkpoint

ROOT = Path(__file__).resolve().parents[1]

TINY = """
name = "tiny"
seed = 3
[data]
dataset = "moons"
n_samples = 120
[model]
hidden = [4]
[train]
epochs = 3
batch_size = 16
"""
LONG = TINY.replace("epochs = 3", "epochs = 100000")  # stopped by a signal, never by its end


def _default_sigint() -> None:
    """A shell running the suite in the background makes children ignore SIGINT; undo that."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


class Forks:
    """The client of tests/forking_cli.py: start, wait for, kill CLI runs in forked processes."""

    def __init__(self, logs: Path):
        self.logs, self.count = logs, 0
        env = {**os.environ, "PYTHONPATH": str(ROOT), "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
        self.server = subprocess.Popen([sys.executable, str(Path(__file__).with_name("forking_cli.py"))],
                                       stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env,
                                       preexec_fn=_default_sigint)
        self._ask({"ping": 0})  # imported: from now on a child starts in milliseconds

    def _ask(self, request: dict) -> int:
        assert self.server.stdin and self.server.stdout
        self.server.stdin.write(json.dumps(request) + "\n")
        self.server.stdin.flush()
        return json.loads(self.server.stdout.readline())

    def start(self, args, cwd, fault=None, interval=None, stdout=None) -> Child:
        self.count += 1
        out, err = Path(stdout or self.logs / f"{self.count}.out"), self.logs / f"{self.count}.err"
        request = {"start": [str(a) for a in args], "cwd": str(cwd), "stdout": str(out), "stderr": str(err),
                   "fault": fault}
        if interval is not None:
            request["interval"] = interval
        return Child(self, self._ask(request), args, out, err)

    def run(self, args, cwd, fault=None, interval=None, stdout=None) -> subprocess.CompletedProcess:
        return self.start(args, cwd, fault, interval, stdout).wait()

    def close(self) -> None:
        assert self.server.stdin
        self.server.stdin.close()
        self.server.wait(timeout=30)


class Child:
    def __init__(self, forks: Forks, pid: int, args, out: Path, err: Path):
        self.forks, self.pid, self.args, self.out, self.err = forks, pid, args, out, err
        self.code: int | None = None

    def signal(self, signum: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signum)

    def wait(self) -> subprocess.CompletedProcess:
        if self.code is None:
            self.code = self.forks._ask({"wait": self.pid})
        # a child killed in its first instants may not have opened its logs yet
        out = self.out.read_text() if self.out.is_file() else ""  # (or writes to /dev/full)
        err = self.err.read_text() if self.err.is_file() else ""
        return subprocess.CompletedProcess(self.args, self.code, out, err)


@pytest.fixture(scope="module")
def forks(tmp_path_factory):
    server = Forks(tmp_path_factory.mktemp("fork-logs"))
    yield server
    server.close()


@pytest.fixture
def here(tmp_path):
    """A folder holding tiny.toml and long.toml."""
    (tmp_path / "tiny.toml").write_text(TINY)
    (tmp_path / "long.toml").write_text(LONG)
    return tmp_path


# ---- what a folder must look like, whatever happened ----------------------------------

def whole_history(path: Path) -> list[dict[str, str]]:
    """history.csv: empty, or a header and whole rows for epochs 1..k (never half a line)."""
    if not path.exists():
        return []
    text = path.read_text()
    if not text:
        return []
    assert text.endswith("\n"), f"{path} ends in half a line: {text[-80:]!r}"
    lines = list(csv.reader(text.splitlines()))
    assert all(len(line) == len(lines[0]) for line in lines), f"{path} has a cut row"
    rows = [dict(zip(lines[0], line, strict=True)) for line in lines[1:]]
    assert [int(r["epoch"]) for r in rows] == list(range(1, len(rows) + 1)), f"{path}: epochs not 1..k"
    return rows


def assert_consistent(run_dir: Path, ahead: int | None = None) -> int:
    """A run folder's files agree: model.npz absent or loadable, history whole and holding the
    checkpoint's epoch (history.csv gets a row every epoch, so it may run ahead of a checkpoint
    written at most once a second; by at most ``ahead`` rows). Returns the checkpoint's epoch."""
    rows = whole_history(run_dir / "history.csv")
    if not (run_dir / "model.npz").exists():
        return 0
    meta = load_checkpoint(run_dir / "model.npz").meta
    epoch = int(meta["epoch"])
    assert epoch <= len(rows) <= epoch + (len(rows) if ahead is None else ahead), (epoch, len(rows))
    assert {k: float(v) for k, v in rows[epoch - 1].items()} == {k: float(v) for k, v in meta["last_row"].items()}
    return epoch


def only_error_line(result, code=2, mentions=()) -> str:
    """assert_one_error_line, and nothing else on stderr (no warning either): the runs are quiet."""
    line = assert_one_error_line(result, code, mentions)
    assert result.stderr.strip() == line, result.stderr
    return line


def assert_no_leftovers(folder: Path) -> None:
    """No temp file of a write and no lock file once every process is done."""
    left = [p.name for p in folder.rglob(".*") if p.name == ".lock" or p.name.endswith(".minnet-tmp")]
    assert not left, left


def assert_kept(before: dict[str, bytes], after: dict[str, bytes], resumed: bool = False) -> None:
    """Every file on disk before is still there, byte for byte; history.csv may only have grown
    by rows, and a resume (to a new train.epochs) may have written its config and a later checkpoint."""
    for name, data in before.items():
        assert name in after, f"{name} was lost"
        if Path(name).name == "history.csv":
            assert after[name].startswith(data), f"{name} lost rows"
        elif not (resumed and Path(name).name in ("config.toml", "model.npz")):
            assert after[name] == data, f"{name} changed"


def straight_params(config_text: str, epochs: int, tmp: Path) -> dict[str, np.ndarray]:
    """The weights of an uninterrupted run, trained here, in checkpoint_params' form."""
    path = tmp / "straight.toml"
    path.write_text(config_text)
    result = train(load_config(path, [f"train.epochs={epochs}"]))
    return {f"param/{k}": v for k, v in result.model.state_dict().items()}


# ---- 1. a write that fails -----------------------------------------------------------

def _fault(op, file, code="ENOSPC", calls=0, nbytes=0):
    return {"op": op, "file": file, "errno": code, "calls": calls, "bytes": nbytes}


RUN = ["tiny.toml", "--quiet", "--out", "r"]
RESUME = ["--resume", "r", "--quiet", "--set", "train.epochs=5"]
SWEEP = ["tiny.toml", "--quiet", "--out", "s", "--sweep", "loss.l2=0,0.1"]
PREDICT = ["predict", "r", "new.csv", "-o", "pred.csv"]

# id: (the folder's state before, command line, fault, the file the error names)
WRITE_FAULTS = {
    "model.npz-disk-full-at-once": ("empty", RUN, _fault("write", "model.npz"), "model.npz"),
    "model.npz-disk-full-part-way": ("empty", RUN, _fault("write", "model.npz", nbytes=700), "model.npz"),
    "model.npz-second-save-disk-full": ("empty", RUN, _fault("write", "model.npz", calls=1, nbytes=300), "model.npz"),
    "model.npz-quota": ("empty", RUN, _fault("write", "model.npz", "EDQUOT"), "model.npz"),
    "model.npz-fsync-io-error": ("empty", RUN, _fault("fsync", "model.npz", "EIO"), "model.npz"),
    "model.npz-rename-read-only": ("empty", RUN, _fault("replace", "model.npz", "EROFS"), "model.npz"),
    "model.npz-permission": ("empty", RUN, _fault("open", "model.npz", "EACCES"), "model.npz"),
    "history.csv-header": ("empty", RUN, _fault("write", "history.csv", nbytes=20), "history.csv"),
    "history.csv-second-row": ("empty", RUN, _fault("write", "history.csv", calls=1, nbytes=30), "history.csv"),
    "history.csv-permission": ("empty", RUN, _fault("open", "history.csv", "EACCES"), "history.csv"),
    "history.csv-fsync-io-error": ("empty", RUN, _fault("fsync", "history.csv", "EIO"), "history.csv"),
    "config.toml-disk-full": ("empty", RUN, _fault("write", "config.toml", nbytes=10), "config.toml"),
    "config.toml-read-only": ("empty", RUN, _fault("open", "config.toml", "EROFS"), "config.toml"),
    "metrics.json-disk-full": ("empty", RUN, _fault("write", "metrics.json"), "metrics.json"),
    "run-folder-permission": ("empty", RUN, _fault("mkdir", "r", "EACCES"), "'r'"),
    "run-folder-read-only": ("empty", ["tiny.toml", "--quiet"], _fault("mkdir", "runs", "EROFS"), "runs"),
    "lock-file-read-only": ("empty", RUN, _fault("open", ".lock", "EROFS"), ".lock"),
    "resume-model.npz-disk-full": ("trained", RESUME, _fault("write", "model.npz", nbytes=500), "model.npz"),
    "resume-history.csv-rewrite": ("trained", RESUME, _fault("write", "history.csv", nbytes=50), "history.csv"),
    "resume-history.csv-append": ("trained", RESUME, _fault("write", "history.csv", calls=1, nbytes=5),
                                  "history.csv"),
    "resume-config.toml-io-error": ("trained", RESUME, _fault("fsync", "config.toml", "EIO"), "config.toml"),
    "resume-metrics.json-quota": ("trained", RESUME, _fault("write", "metrics.json", "EDQUOT", nbytes=9),
                                  "metrics.json"),
    "sweep.toml-disk-full": ("empty", SWEEP, _fault("write", "sweep.toml"), "sweep.toml"),
    "summary.csv-disk-full": ("empty", SWEEP, _fault("write", "summary.csv", calls=2), "summary.csv"),
    "runs.csv-read-only": ("empty", SWEEP, _fault("replace", "runs.csv", "EROFS", calls=1), "runs.csv"),
    "sweep-run-model.npz": ("empty", SWEEP, _fault("write", "model.npz", calls=2, nbytes=100), "model.npz"),
    "plot-curves.png-disk-full": ("empty", [*RUN, "--plot"], _fault("write", "curves.png", nbytes=100),
                                  "curves.png"),
    "predictions-disk-full": ("trained", PREDICT, _fault("write", "pred.csv", nbytes=10), "pred.csv"),
    "graph-dot-disk-full": ("old-graph", ["graph", "tiny.toml", "-o", "g.dot"], _fault("write", "g.dot", nbytes=10),
                            "g.dot"),
    "graph-page-disk-full": ("old-graph", ["graph", "tiny.toml", "-o", "g.html"],
                             _fault("write", "g.html", nbytes=10), "g.html"),
}


def test_history_rows_are_on_disk_before_the_checkpoint_that_counts_on_them(tmp_path, monkeypatch):
    """Resume needs history.csv's rows up to the checkpoint's epoch: a power cut after the
    checkpoint's rename must not find them still in memory.  Each fsync, in order, by name."""
    synced, real_fsync = [], os.fsync

    def fsync(fd: int) -> None:
        synced.append(os.path.basename(os.readlink(f"/proc/self/fd/{fd}")))
        real_fsync(fd)
    monkeypatch.setattr(os, "fsync", fsync)
    (tmp_path / "tiny.toml").write_text(TINY)
    train(load_config(tmp_path / "tiny.toml"), tmp_path / "r")
    checkpoint = next(i for i, name in enumerate(synced) if name.startswith(".model.npz."))
    assert "history.csv" in synced[:checkpoint]
    assert synced[checkpoint + 1] == "r"  # then the folder, so the rename itself is on disk


@pytest.fixture(scope="module")
def trained(forks, tmp_path_factory):
    """A finished 3-epoch run (r/) to resume and predict from, copied into each case."""
    folder = tmp_path_factory.mktemp("trained")
    (folder / "tiny.toml").write_text(TINY)
    result = forks.run(RUN, folder)
    assert result.returncode == 0, result.stderr
    (folder / "new.csv").write_text("x0,x1\n" + "".join(f"{i / 10},{-i / 7}\n" for i in range(50)))
    return folder


@pytest.mark.parametrize("case", list(WRITE_FAULTS))
def test_a_failed_write_is_one_error_line_and_keeps_every_file(case, forks, trained, here):
    state, args, fault, named = WRITE_FAULTS[case]
    if "--plot" in args:
        pytest.importorskip("matplotlib")
    if state == "trained":
        shutil.copytree(trained / "r", here / "r")
        shutil.copy(trained / "new.csv", here)
    if state == "old-graph":  # last time's picture and page, which a failed write must keep
        (here / "g.dot").write_text("digraph old {}\n")
        (here / "g.html").write_text("<p>old</p>\n")
    before = tree_snapshot(here)
    result = forks.run(args, here, fault)
    line = only_error_line(result, code=2, mentions=(named, os.strerror(getattr(errno, fault["errno"]))))
    assert "cannot" in line
    after = tree_snapshot(here)
    assert_kept(before, after, resumed=args is RESUME)
    for name in (n for n in before if Path(n).name == named):  # the file that failed: its old version
        assert after[name] == before[name], name
    assert_no_leftovers(here)
    for run_dir in {p.parent for p in here.rglob("config.toml")}:
        assert_consistent(run_dir)


@pytest.mark.parametrize("case", ["history.csv-second-row", "model.npz-second-save-disk-full",
                                  "resume-history.csv-append"])
def test_after_a_full_disk_resume_ends_with_the_uninterrupted_weights(case, forks, trained, here):
    state, args, fault, _ = WRITE_FAULTS[case]
    if state == "trained":
        shutil.copytree(trained / "r", here / "r")
    assert forks.run(args, here, fault).returncode == 2
    epochs = 5 if args is RESUME else 3
    resumed = forks.run(["--resume", "r", "--quiet", "--set", f"train.epochs={epochs}"], here)
    assert resumed.returncode == 0, resumed.stderr
    assert same_params(checkpoint_params(here / "r"), straight_params(TINY, epochs, here))
    assert len(whole_history(here / "r" / "history.csv")) == epochs


@pytest.mark.parametrize("args", [RUN, PREDICT], ids=["train", "predict"])
def test_standard_output_on_dev_full_is_one_error_line_and_the_results_stay(args, forks, trained, here):
    """``python -m minnet ... > /dev/full`` itself for training (Python's own exit-time flush
    included); predict, whose CSV goes to standard output, in a forked child."""
    if args is PREDICT:
        shutil.copytree(trained / "r", here / "r")
        shutil.copy(trained / "new.csv", here)
        result = forks.run(PREDICT[:-2], here, stdout="/dev/full")
    else:
        with open("/dev/full", "w") as full:
            process = _start_cli(args, here, stdout=full)
            _, err = process.communicate(timeout=120)
        result = subprocess.CompletedProcess(args, process.returncode, "", err)
    only_error_line(result, code=2, mentions=("standard output", os.strerror(errno.ENOSPC)))
    assert_consistent(here / "r")
    assert len(whole_history(here / "r" / "history.csv")) == 3
    assert json.loads((here / "r" / "metrics.json").read_text())["status"] == "completed"


@pytest.mark.parametrize("args", [["--version"], ["--help"], ["predict", "--help"]])
def test_help_and_version_on_dev_full_are_one_error_line(args, here):
    """argparse drops a failed write of its own messages; minnet does not."""
    with open("/dev/full", "w") as full:
        process = _start_cli(args, here, stdout=full)
        _, err = process.communicate(timeout=60)
    only_error_line(subprocess.CompletedProcess(args, process.returncode, "", err), code=2,
                    mentions=("standard output", os.strerror(errno.ENOSPC)))


def test_append_text_cuts_a_failed_append_back(tmp_path, monkeypatch):
    """In-process: a write that stores part of a line and then fails leaves the file as it was."""
    from minnet.train import files

    path = tmp_path / "history.csv"
    path.write_text("epoch,loss\n1,0.5\n")
    real = os.write

    def half(fd, data):
        real(fd, bytes(data)[:3])
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "write", half)
    with pytest.raises(files.WriteError, match="No space left"):
        files.append_text(path, "2,0.25\n")
    assert path.read_text() == "epoch,loss\n1,0.5\n"


# ---- 2. two processes, one folder ------------------------------------------------------

IN_USE = "in use by another minnet process"


@pytest.mark.parametrize("attempt", range(4))
def test_two_runs_into_one_out_folder_at_once_one_is_refused(attempt, forks, here):
    first, second = (forks.start(["tiny.toml", "--quiet", "--out", "r", "--set", "train.epochs=30"], here)
                     for _ in range(2))
    results = sorted([first.wait(), second.wait()], key=lambda r: r.returncode)
    assert [r.returncode for r in results] == [0, 2], [r.stderr for r in results]
    line = only_error_line(results[1])
    assert IN_USE in line or "already holds a run" in line
    assert len(whole_history(here / "r" / "history.csv")) == 30 and assert_consistent(here / "r") == 30
    assert_no_leftovers(here)


@pytest.mark.parametrize("attempt", range(3))
def test_two_runs_of_one_name_at_once_get_two_folders(attempt, forks, here):
    children = [forks.start(["tiny.toml", "--quiet"], here) for _ in range(2)]
    assert [c.wait().returncode for c in children] == [0, 0]
    assert sorted(p.name for p in (here / "runs").iterdir()) == ["tiny", "tiny-2"]
    for run_dir in (here / "runs").iterdir():
        assert assert_consistent(run_dir) == 3
    assert_no_leftovers(here)


@pytest.mark.parametrize("attempt", range(2))
def test_two_sweeps_into_one_folder_at_once_one_is_refused(attempt, forks, here):
    children = [forks.start(SWEEP, here) for _ in range(2)]
    results = sorted((c.wait() for c in children), key=lambda r: r.returncode)
    assert [r.returncode for r in results] == [0, 2], [r.stderr for r in results]
    line = only_error_line(results[1])
    assert IN_USE in line or "already holds a sweep" in line
    assert len(read_csv(here / "s" / "summary.csv")) == 2
    assert_no_leftovers(here)


def _wait_for(path: Path, rows: int = 0, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and (not rows or len(path.read_text().splitlines()) > rows):
            return
        time.sleep(0.01)
    raise AssertionError(f"{path} did not appear")


@pytest.mark.parametrize("args", [
    ["--resume", "r", "--quiet"],
    ["tiny.toml", "--quiet", "--out", "r", "--force"],
    ["long.toml", "--quiet", "--out", "r", "--force"],
], ids=["resume", "force", "force-same-config"])
def test_a_live_run_is_neither_resumed_nor_cleared(args, forks, here):
    live = forks.start(["long.toml", "--quiet", "--out", "r"], here)
    _wait_for(here / "r" / "model.npz")
    result = forks.run(args, here)
    assert IN_USE in only_error_line(result, mentions=("'r'",))
    assert (here / "r" / "model.npz").exists() and (here / "r" / "config.toml").exists()
    live.signal(signal.SIGINT)
    assert live.wait().returncode == 130
    assert assert_consistent(here / "r") >= 1
    assert_no_leftovers(here)


def test_a_live_sweep_is_not_resumed(forks, here):
    live = forks.start(["long.toml", "--quiet", "--out", "s", "--sweep", "loss.l2=0,0.1"], here)
    _wait_for(here / "s" / "summary.csv")
    assert IN_USE in only_error_line(forks.run(["--resume", "s", "--quiet"], here), mentions=("'s'",))
    live.signal(signal.SIGINT)
    assert live.wait().returncode == 130
    assert_no_leftovers(here)


def test_a_lock_and_temp_files_left_by_a_killed_run_do_not_block_resume(trained, tmp_path):
    """In-process: a dead PID in .lock and a half-written temp file; resume proceeds and tidies up."""
    from minnet.train import resume

    run_dir = shutil.copytree(trained / "r", tmp_path / "r")
    (run_dir / ".lock").write_text("999999999\n")
    (run_dir / ".model.npz.k1ll3d.minnet-tmp").write_bytes(b"PK\x03\x04 half a zip")
    result = resume(run_dir, [("train.epochs", 4)])
    assert len(result.history) == 4 and assert_consistent(run_dir) == 4
    assert_no_leftovers(tmp_path)


# ---- 3. signals ------------------------------------------------------------------------

@pytest.mark.parametrize("signals", [
    [(signal.SIGINT, 0), (signal.SIGINT, 0)],
    [(signal.SIGINT, 0), (signal.SIGINT, 0.002)],
    [(signal.SIGINT, 0), (signal.SIGINT, 0.02)],
    [(signal.SIGINT, 0)] + [(signal.SIGINT, 0.001)] * 20,
    [(signal.SIGTERM, 0)],
    [(signal.SIGTERM, 0), (signal.SIGINT, 0.001), (signal.SIGTERM, 0.001)],
], ids=["sigint-twice-at-once", "sigint-twice-2ms", "sigint-twice-20ms", "sigint-hammered", "sigterm",
        "sigterm-then-sigint"])
def test_stop_signals_save_the_finished_epochs_once_and_resume_is_exact(signals, forks, here):
    live = forks.start(["long.toml", "--quiet", "--out", "r"], here, interval=0.0)  # a checkpoint every epoch
    _wait_for(here / "r" / "history.csv", rows=3)
    for signum, gap in signals:
        time.sleep(gap)
        live.signal(signum)
    result = live.wait()
    line = only_error_line(result, code=130, mentions=("resume with",))
    assert "interrupted" in line
    done = assert_consistent(here / "r")
    assert done >= 3 and len(whole_history(here / "r" / "history.csv")) == done
    assert json.loads((here / "r" / "metrics.json").read_text())["status"] == "interrupted"
    resumed = forks.run(["--resume", "r", "--quiet", "--set", f"train.epochs={done + 2}"], here)
    assert resumed.returncode == 0, resumed.stderr
    assert same_params(checkpoint_params(here / "r"), straight_params(LONG, done + 2, here))
    assert_no_leftovers(here)


def test_deferred_interrupts_hold_a_signal_until_the_block_is_done():
    """In-process: SIGINT inside the block is delivered (as KeyboardInterrupt) only after it;
    SIGTERM goes to its own handler; the handlers in place before are back afterwards."""
    from minnet.train.interrupts import deferred_interrupts

    def send(signum):  # to the main thread: a signal to the process may go to another of pytest's
        signal.pthread_kill(threading.main_thread().ident, signum)  # threads, and be handled late

    seen = []
    previous = signal.signal(signal.SIGTERM, lambda signum, frame: seen.append(signum))
    try:
        done = []
        with pytest.raises(KeyboardInterrupt), deferred_interrupts():
            send(signal.SIGINT)
            send(signal.SIGINT)
            time.sleep(0.01)
            done.append("the block ran to its end")
        assert done
        with deferred_interrupts():
            send(signal.SIGTERM)
            time.sleep(0.01)
            assert not seen
        assert seen == [signal.SIGTERM]
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    finally:
        signal.signal(signal.SIGTERM, previous)


def _start_cli(args, cwd, stdout=subprocess.PIPE, new_session=False, **env):
    """``python -m minnet args`` as a shell starts it (SIGINT at its default; ``new_session``:
    in a process group of its own, as a terminal's foreground job)."""
    environ = {**os.environ, "PYTHONPATH": str(ROOT), **env}
    return subprocess.Popen([sys.executable, "-m", "minnet", *map(str, args)], cwd=cwd, env=environ,
                            stdout=stdout, stderr=subprocess.PIPE, text=True, preexec_fn=_default_sigint,
                            start_new_session=new_session)


SLOW_FACTORY = """
import pathlib, time

def build(n_inputs, n_outputs):
    pathlib.Path("factory-called").touch()
    time.sleep(60)
"""


def test_ctrl_c_while_importing_is_one_line_and_writes_nothing(here):
    """SIGINT while ``python -m minnet`` imports scikit-learn (seen through -X importtime):
    exit 130, one line, no run folder at all."""
    process = _start_cli(["long.toml", "--quiet", "--out", "r"], here, PYTHONPROFILEIMPORTTIME="1")
    assert process.stderr
    for line in process.stderr:
        if "sklearn." in line:  # a part of scikit-learn has been imported: main is running
            break
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=60)
    err = "".join(line for line in err.splitlines(keepends=True) if not line.startswith("import time:"))
    only_error_line(subprocess.CompletedProcess([], process.returncode, out, err), code=130,
                          mentions=("interrupted",))
    assert not (here / "r").exists()


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["sigint", "sigterm"])
def test_a_stop_signal_while_building_the_model_is_one_line_and_writes_nothing(signum, forks, here):
    """While the data is loaded and the model built (a factory that sleeps), before any epoch."""
    (here / "slowfactory.py").write_text(SLOW_FACTORY)
    (here / "factory.toml").write_text(LONG.replace("hidden = [4]", 'factory = "slowfactory:build"'))
    child = forks.start(["factory.toml", "--quiet", "--out", "r"], here)
    _wait_for(here / "factory-called")
    child.signal(signum)
    only_error_line(child.wait(), code=130, mentions=("interrupted",))
    assert not (here / "r").exists()


LEFT_SEMAPHORE = """
import sys
from joblib.externals.loky.backend import resource_tracker
from minnet.train import sweep
from minnet.train.config import Config
if sys.argv[1] == "sweep":
    with sweep._backend(Config(), jobs=2):  # where a parallel sweep's runs go
        pass
resource_tracker.register("/loky-left-by-a-killed-worker", "semlock")  # never unregistered
"""


@pytest.mark.parametrize("tracker", ["loky", "sweep"])
def test_a_parallel_sweep_starts_loky_resource_tracker_without_its_warnings(tracker, here):
    """What a Ctrl-C'd sweep can leave (a semaphore registered with loky's tracker, never
    unregistered) makes loky's own tracker print two warnings at exit; the sweep's does not."""
    script = here / "left.py"
    script.write_text(LEFT_SEMAPHORE)
    result = subprocess.run([sys.executable, script, tracker], capture_output=True, text=True, timeout=60,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert result.returncode == 0, result.stderr
    if tracker == "loky":
        assert "leaked semlock objects" in result.stderr and "FileNotFoundError" in result.stderr
    else:
        assert result.stderr == ""


def test_ctrl_c_to_a_parallel_sweep_stops_its_workers_and_resume_finishes_it(forks, here):
    """Ctrl-C in a terminal (SIGINT to the sweep's whole process group, its joblib workers
    included) once the first run has finished; then --resume.  The workers ignore SIGINT, so
    this is also what ``kill -INT`` of the sweep's process alone does: it stops them itself."""
    sweep = here / "sweep.toml"
    sweep.write_text(TINY.replace("epochs = 3", "epochs = 200").replace("n_samples = 120", "n_samples = 240"))
    process = _start_cli([sweep, "--quiet", "--out", "s", "--jobs", "2", "--sweep", "loss.l2=0,0.1,1"], here,
                         new_session=True)
    _wait_for(here / "s" / "runs.csv", rows=1, timeout=120)
    os.killpg(process.pid, signal.SIGINT)
    out, err = process.communicate(timeout=60)
    result = subprocess.CompletedProcess([], process.returncode, out, err)
    only_error_line(result, code=130, mentions=("--resume s",))
    settled = tree_snapshot(here / "s")
    time.sleep(0.5)
    assert tree_snapshot(here / "s") == settled, "a worker is still writing"
    finished = {r["loss.l2"] for r in read_csv(here / "s" / "runs.csv")}
    assert {r["loss.l2"] for r in read_csv(here / "s" / "summary.csv")} == finished and finished
    for run_dir in (p for p in (here / "s").iterdir() if p.is_dir()):
        assert_consistent(run_dir)

    done = {p: tree_snapshot(p) for p in (here / "s").iterdir() if (p / "metrics.json").exists()
            and json.loads((p / "metrics.json").read_text())["status"] == "completed"}
    resumed = forks.run(["--resume", "s", "--quiet"], here)
    assert resumed.returncode == 0, resumed.stderr
    assert len(read_csv(here / "s" / "summary.csv")) == 3
    assert all(tree_snapshot(p) == files for p, files in done.items())  # finished runs: untouched
    for run_dir in (p for p in (here / "s").iterdir() if p.is_dir()):
        assert assert_consistent(run_dir) == 200
        config = load_config(run_dir / "config.toml")
        straight = {f"param/{k}": v for k, v in train(config).model.state_dict().items()}
        assert same_params(checkpoint_params(run_dir), straight), run_dir.name
    assert_no_leftovers(here)


# ---- 4. SIGKILL at random moments ----------------------------------------------------------

def test_sigkill_at_random_moments_never_leaves_a_broken_run_and_resume_is_exact(forks, here):
    """Kill one endless run again and again -- in start-up, in epochs, in checkpoint writes (a
    checkpoint every epoch) -- continuing it after each kill; then let it finish a few epochs
    later: its weights and history match an uninterrupted run to that epoch, bit for bit."""
    (here / "probe.toml").write_text(TINY.replace("epochs = 3", "epochs = 100"))
    started = time.monotonic()
    probe = forks.start(["probe.toml", "--quiet", "--out", "probe"], here, interval=0.0)
    _wait_for(here / "probe" / "history.csv", rows=1)
    start_up = time.monotonic() - started
    assert probe.wait().returncode == 0
    epoch_time = (time.monotonic() - started - start_up) / 100

    rng = random.Random(17)
    kills, moments, mid_write = 0, [], 0
    # two kills of a fresh interpreter while it starts (imports, data), then forked runs
    every_epoch = "import sys, minnet.train.run as r; r.CHECKPOINT_INTERVAL = 0.0; from minnet.cli import main; " \
                  "sys.exit(main())"
    for delay in (rng.uniform(0.05, 0.8), rng.uniform(0.8, 2.0)):
        process = subprocess.Popen([sys.executable, "-c", every_epoch, "long.toml", "--quiet", "--out", "r", "--force"],
                                   cwd=here, env={**os.environ, "PYTHONPATH": str(ROOT)})
        time.sleep(delay)
        process.kill()
        process.wait(timeout=60)
        kills += 1
        if (here / "r").exists():
            assert_consistent(here / "r", ahead=1)
    while kills < 24:
        fresh = not (here / "r" / "model.npz").exists()
        args = ["long.toml", "--quiet", "--out", "r", "--force"] if fresh else ["--resume", "r", "--quiet"]
        child = forks.start(args, here, interval=0.0)
        # one kill in four during start-up (parsing, lock, data, checkpoint); the others a few epochs in
        # (a few dozen epochs at most: the epochs are quick, and each is trained again by the final check)
        delay = rng.uniform(0, start_up) if kills % 4 == 0 else start_up + rng.uniform(0, 30 * epoch_time + 0.05)
        time.sleep(delay)
        child.signal(signal.SIGKILL)
        result = child.wait()
        assert result.returncode == -signal.SIGKILL, result.stderr
        kills += 1
        moments.append(assert_consistent(here / "r", ahead=1) if (here / "r").exists() else 0)
        mid_write += any(here.glob("r/.*.minnet-tmp"))  # killed while writing a file: its temp file stays
    assert len(set(moments)) > 5, moments  # the kills fell at many different epochs
    assert mid_write, "no kill fell inside a write"
    target = max(moments[-1], 1) + 5
    final = forks.run(["--resume", "r", "--quiet", "--set", f"train.epochs={target}"], here) if moments[-1] else \
        forks.run(["long.toml", "--quiet", "--out", "r", "--force", "--set", f"train.epochs={target}"], here)
    assert final.returncode == 0, final.stderr
    straight = train(load_config(here / "long.toml", [f"train.epochs={target}"]))
    assert same_params(checkpoint_params(here / "r"),
                       {f"param/{k}": v for k, v in straight.model.state_dict().items()})
    ours = whole_history(here / "r" / "history.csv")
    assert [{k: float(v) for k, v in row.items() if k != "seconds"} for row in ours] == \
        [{k: v for k, v in row.items() if k != "seconds"} for row in straight.history]
    assert_no_leftovers(here)


@pytest.fixture(scope="module")
def interpreter_start():
    """Seconds a bare interpreter takes to start (site included): a signal before then hits
    Python's own start-up, which no program can handle."""
    started = time.monotonic()
    subprocess.run([sys.executable, "-c", "pass"], check=True)
    return time.monotonic() - started


@pytest.mark.parametrize("delay", [0.02, 0.08, 0.15, 0.3])
def test_ctrl_c_while_minnet_itself_loads_is_no_traceback(delay, here, interpreter_start):
    """``python train.py``: Ctrl-C during ``import minnet`` (before the CLI's handler is up)."""
    process = start_train(["tiny.toml", "--quiet", "--out", "early"], here)
    time.sleep(interpreter_start + delay)
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=60)
    assert process.returncode in (130, -signal.SIGINT), (process.returncode, err)
    assert "Traceback" not in err, err
    assert not (here / "early" / "model.npz").exists()


IMPORT_HOOK = """
import os, pathlib, signal, sys, time

class CtrlCDuringImport:  # Ctrl-C in the middle of minnet's import, as a user's might land
    def find_spec(self, name, path=None, target=None):
        if name == "minnet.cli":
            sys.meta_path.remove(self)
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.05)  # a KeyboardInterrupt, if raised, is raised here
            pathlib.Path("import-went-on").touch()
        return None

sys.meta_path.insert(0, CtrlCDuringImport())
"""


def test_ctrl_c_during_minnets_import_is_held_until_the_import_is_done(here):
    """Raised inside an extension module's import, a KeyboardInterrupt can come out as an
    ImportError (numpy's does) with a traceback; train.py holds it until minnet is loaded."""
    hook = here / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(IMPORT_HOOK)
    process = subprocess.run(
        [sys.executable, str(ROOT / "train.py"), "tiny.toml", "--quiet", "--out", "early"], cwd=here,
        capture_output=True, text=True, timeout=60, env={**os.environ, "PYTHONPATH": f"{hook}{os.pathsep}{ROOT}"},
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    assert (here / "import-went-on").exists()
    assert process.returncode == 130, (process.returncode, process.stderr)
    assert process.stderr == "error: interrupted\n"
    assert not (here / "early").exists()
