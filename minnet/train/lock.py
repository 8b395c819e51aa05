"""One process at a time in a run or sweep folder.

``hold(folder)`` takes an exclusive lock (``flock``) on ``folder/.lock`` for as long as
a run, a sweep or a ``--resume`` works there, with the holder's PID written inside for
the message: a second process aimed at the same folder is refused at once instead of
writing into it too, and ``--force`` never clears a folder a live run holds.  The kernel
drops the lock when its holder exits, however it exits (even SIGKILL), so a lock file a
killed run left behind is stale by construction and the next run simply takes it; the
temp files such a run may have left mid-write are removed then.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

from minnet.train.errors import ConfigError
from minnet.train.files import remove_stale_temps, write_error

__all__ = ["hold", "make_folder", "remove_empty", "LOCK_FILE"]

LOCK_FILE = ".lock"


@contextlib.contextmanager
def hold(folder: Path, what: str = "run") -> Iterator[None]:
    """Hold ``folder`` (created if missing) for the block; the folders it created that are
    still empty afterwards (the run failed before writing anything) are removed again."""
    created = make_folder(folder, what)
    try:
        fd = _lock(folder, what)
    except BaseException:
        remove_empty(created)
        raise
    try:
        remove_stale_temps(folder)
        yield
    finally:
        (folder / LOCK_FILE).unlink(missing_ok=True)  # before unlocking: see _lock's inode check
        os.close(fd)
        remove_empty(created)


def make_folder(folder: Path, what: str, exclusive: bool = False) -> list[Path]:
    """Create ``folder`` and its missing parents; returns the folders created, deepest first.
    ``exclusive``: a folder that exists already raises FileExistsError."""
    missing = [p for p in (folder, *folder.parents) if not p.exists()]
    try:
        folder.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:  # FileExistsError too: a file where a folder should be
        raise write_error(folder, exc, f"create {what} folder") from exc
    try:
        folder.mkdir()
    except FileExistsError:
        if exclusive:
            raise
        if not folder.is_dir():
            raise ConfigError(f"{what} folder {str(folder)!r} is a file, not a folder; choose another --out") from None
        return []
    except OSError as exc:
        raise write_error(folder, exc, f"create {what} folder") from exc
    return missing


def remove_empty(folders: list[Path]) -> None:
    """Remove the folders ``make_folder`` created, deepest first, as long as they are empty."""
    for folder in folders:
        try:
            folder.rmdir()
        except OSError:
            return


def _lock(folder: Path, what: str) -> int:
    path = folder / LOCK_FILE
    while True:
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
        except OSError as exc:
            raise write_error(path, exc, "create the lock file") from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
            os.close(fd)
            pid = f" (PID {holder})" if holder.isdigit() else ""
            raise ConfigError(f"{what} folder {str(folder)!r} is in use by another minnet process{pid}; wait for it "
                              "to finish (or stop it), or use another folder") from None
        except OSError as exc:
            os.close(fd)
            raise write_error(path, exc, "lock") from exc
        try:
            current = os.stat(path).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            current = False
        if current:  # not a lock file its last holder unlinked between our open and our flock
            break
        os.close(fd)
    with contextlib.suppress(OSError):  # the PID only names the holder in another process's message
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode("ascii"), 0)
    return fd
