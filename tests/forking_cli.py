"""A process that has imported minnet once and forks a fresh child per command line.

The fault and kill tests start dozens of runs; importing scikit-learn costs about a
second each time, which a fork skips.  Each child is a real process running
``minnet.cli.main(args)`` in its own folder, so it can be killed (SIGKILL, SIGINT)
like one started from a shell, and may get a fault injected first: a system call
failing with an errno, as a full disk, a read-only file system or a missing
permission would make it fail.

Protocol, one JSON object per line on stdin, one answer per line on stdout:
``{"start": args, "cwd": ..., "fault": {...} | None, "interval": s}`` -> the child's PID;
``{"wait": pid}`` -> its exit code (negative: killed by that signal); ``{"ping": 0}`` -> 0
once everything is imported.

A fault is ``{"op": "write"|"fsync"|"replace"|"open"|"mkdir", "file": NAME,
"errno": "ENOSPC", "calls": N, "bytes": B}``: calls on the file NAME (or its temp
files) succeed ``N`` times; then a write stores ``B`` more bytes (a disk filling up
part way) and every later call fails with the errno.
"""

from __future__ import annotations

import errno
import json
import os
import sys
from typing import Any


def _name(fd: int) -> str:
    try:
        return os.path.basename(os.readlink(f"/proc/self/fd/{fd}"))
    except OSError:
        return ""


def _inject(fault: dict[str, Any]) -> None:
    """Make one kind of system call fail on the file ``fault["file"]`` (or its temp files)."""
    code = getattr(errno, fault["errno"])
    target = fault["file"]
    budget = {"calls": fault.get("calls", 0), "bytes": fault.get("bytes", 0)}

    def hit(name: str) -> bool:
        base = os.path.basename(str(name))
        return base == target or base.startswith(f".{target}.")

    def fail() -> None:
        raise OSError(code, os.strerror(code))

    def allowed() -> bool:
        if budget["calls"] > 0:
            budget["calls"] -= 1
            return True
        return False

    real = {op: getattr(os, op) for op in ("write", "fsync", "replace", "open", "mkdir")}

    def write(fd: int, data: Any) -> int:
        if fault["op"] != "write" or not hit(_name(fd)) or allowed():
            return real["write"](fd, data)
        if budget["bytes"] > 0:  # the disk takes part of the write, then is full
            n = real["write"](fd, memoryview(data)[: budget["bytes"]])
            budget["bytes"] = 0
            return n
        fail()
        return 0

    def fsync(fd: int) -> None:
        if fault["op"] == "fsync" and hit(_name(fd)) and not allowed():
            fail()
        real["fsync"](fd)

    def replace(src: Any, dst: Any, **kwargs: Any) -> None:
        if fault["op"] == "replace" and hit(dst) and not allowed():
            fail()
        real["replace"](src, dst, **kwargs)

    def open_(path: Any, flags: int, *args: Any, **kwargs: Any) -> int:
        if fault["op"] == "open" and hit(path) and not allowed():
            fail()
        return real["open"](path, flags, *args, **kwargs)

    def mkdir(path: Any, *args: Any, **kwargs: Any) -> None:
        if fault["op"] == "mkdir" and hit(path) and not allowed():
            fail()
        real["mkdir"](path, *args, **kwargs)

    os.write, os.fsync, os.replace, os.open, os.mkdir = write, fsync, replace, open_, mkdir  # type: ignore[assignment]


def _child(request: dict[str, Any]) -> int:
    import minnet.train.run
    from minnet.cli import main

    os.chdir(request["cwd"])
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    for fd, name in ((1, "stdout"), (2, "stderr")):
        os.dup2(os.open(request[name], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644), fd)
    if "interval" in request:
        minnet.train.run.CHECKPOINT_INTERVAL = request["interval"]
    if request.get("fault"):
        _inject(request["fault"])
    code = main(request["start"])
    sys.stdout.flush()
    sys.stderr.flush()
    return code


def serve() -> None:
    import scipy.linalg  # noqa: F401  # the compiled step's BLAS
    import sklearn.datasets  # noqa: F401  # minnet.train.data imports these only when it loads data
    import sklearn.impute  # noqa: F401
    import sklearn.model_selection  # noqa: F401
    import sklearn.preprocessing  # noqa: F401

    import minnet.cli.main  # noqa: F401  # everything a run imports, once, before any fork
    import minnet.train  # noqa: F401
    import minnet.train.plots  # noqa: F401

    for line in sys.stdin:
        request = json.loads(line)
        if "ping" in request:
            answer = 0
        elif "wait" in request:
            _, status = os.waitpid(request["wait"], 0)
            answer = os.waitstatus_to_exitcode(status)
        else:
            answer = os.fork()
            if answer == 0:
                try:
                    code = _child(request)
                except BaseException as exc:  # a traceback the test should see
                    import traceback

                    traceback.print_exception(exc)
                    code = 99
                os._exit(code)
        print(json.dumps(answer), flush=True)


if __name__ == "__main__":
    serve()
