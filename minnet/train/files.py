"""Files that are either the old version or the new one, never half written.

Every file of a run is written through ``atomic_write``: the bytes go to a temporary
file in the same folder, are flushed to disk, then renamed over the old one, so a
crash, Ctrl-C or a full disk leaves the previous file intact.  ``append_text`` adds to
a file (``history.csv``) and, if the write fails part way, cuts the file back to where
it was, so a partial line never stays; ``sync_file`` puts its appended lines on disk
before a checkpoint that counts on them is written.  Either failure is a WriteError
naming the file and the system's reason (disk full, read-only, permission denied).
"""

from __future__ import annotations

import contextlib
import io
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO

from minnet.train.errors import MinnetError

__all__ = ["atomic_write", "atomic_write_text", "append_text", "sync_file", "remove_stale_temps", "WriteError",
           "write_error"]

TEMP_SUFFIX = ".minnet-tmp"  # what a process killed mid-write leaves behind: see remove_stale_temps


class WriteError(MinnetError):
    """A file could not be written; whatever was on disk before is kept."""


def write_error(path: str | Path, exc: OSError, doing: str = "write") -> WriteError:
    """``cannot write 'runs/x/model.npz': No space left on device`` (the OS reason, not a traceback)."""
    reason = exc.strerror or str(exc) or type(exc).__name__
    return WriteError(f"cannot {doing} {str(path)!r}: {reason}; files already on disk are kept")


def atomic_write(path: str | Path, write: Callable[[IO[bytes]], object]) -> None:
    """Write a file through ``write(fileobj)``: to a temp file, fsynced, then renamed into place."""
    path = Path(path)
    buffer = io.BytesIO()
    write(buffer)  # everything in memory first: a writer that fails touches no file
    fd, tmp = -1, ""
    try:
        # (the name cut short: a long file name must not make its temp file's name too long)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name[:128]}.", suffix=TEMP_SUFFIX)
        os.fchmod(fd, _mode_for_new_files())  # mkstemp makes 0600; a run's files follow the umask
        _write_all(fd, buffer.getbuffer())
        os.fsync(fd)
        os.close(fd)
        fd = -1
        os.replace(tmp, path)
        _sync_folder(path.parent)  # the rename itself on disk, not only the new file's bytes
    except BaseException as exc:
        if fd >= 0:
            os.close(fd)
        if tmp:
            Path(tmp).unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise write_error(path, exc) from exc
        raise


def append_text(path: str | Path, text: str) -> None:
    """Append ``text`` whole or not at all: a failed write is cut back to the old end."""
    data = text.encode("utf-8")
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
    except OSError as exc:
        raise write_error(path, exc) from exc
    try:
        end = os.fstat(fd).st_size
        try:
            _write_all(fd, memoryview(data))
        except BaseException:
            os.ftruncate(fd, end)  # shrinking needs no space: this works on a full disk too
            raise
    except OSError as exc:
        raise write_error(path, exc) from exc
    finally:
        os.close(fd)


def sync_file(path: str | Path) -> None:
    """Flush ``path`` to disk (a file's appended bytes, or a folder's entries), so a power
    cut cannot lose them; a missing file is fine."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return
    except OSError as exc:
        raise write_error(path, exc) from exc
    try:
        os.fsync(fd)
    except OSError as exc:
        raise write_error(path, exc) from exc
    finally:
        os.close(fd)


def _sync_folder(folder: Path) -> None:
    """A rename on disk where the system allows it: some cannot open or sync a folder
    (Windows, some file systems), and there the file's own fsync is what they offer."""
    with contextlib.suppress(WriteError):
        sync_file(folder)


def _write_all(fd: int, data: memoryview) -> None:
    """os.write until every byte is written (a full disk may first accept only part)."""
    while data:
        data = data[os.write(fd, data):]


def remove_stale_temps(folder: Path) -> None:
    """Delete the temp files a killed process left in ``folder``; call it only while holding the folder."""
    for stale in folder.glob(f".*{TEMP_SUFFIX}"):
        stale.unlink(missing_ok=True)


def _mode_for_new_files() -> int:
    """0666 less the process umask, as open() would give (the umask is read by setting it)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return 0o666 & ~mask


def atomic_write_text(path: str | Path, text: str) -> None:
    atomic_write(path, lambda f: f.write(text.encode("utf-8")))
