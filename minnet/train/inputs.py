"""What a user hands minnet, checked before it is used: files and the memory a run needs.

A config or CSV path must name a regular file (not a folder, a FIFO that blocks
forever, or ``/dev/zero`` that never ends), read with a size cap; and before data and
a model are allocated, their size is estimated and refused above ``memory_limit()``,
so a typo such as ``n_samples = 10**9`` is one ``error:`` line, not a machine that swaps.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

from minnet.train.errors import MinnetError

__all__ = ["regular_file", "read_text", "memory_limit", "check_memory", "format_bytes"]

# Without a way to ask the machine its memory, this is the limit (bytes).
FALLBACK_MEMORY_LIMIT = 8 * 2**30


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "a special file"


def regular_file(path: str | os.PathLike, what: str, error: type[MinnetError], max_bytes: int | None = None) -> Path:
    """``path`` if it names a readable regular file (of at most ``max_bytes``); else ``error``
    naming it as ``what`` (``config file 'x.toml'``) and the problem."""
    text = os.fspath(path)
    if text == "":
        raise error(f"{what}: the path is empty")
    if "\0" in text:
        raise error(f"{what}: the path contains a NUL character")
    try:
        info = os.stat(text)
    except OSError as exc:
        if exc.errno == errno.ENOENT:
            raise error(f"{what} does not exist") from None
        if exc.errno == errno.ELOOP:
            raise error(f"{what} cannot be read: too many levels of symbolic links (a symlink loop?)") from None
        raise error(f"{what} cannot be read: {exc.strerror}") from None
    if not stat.S_ISREG(info.st_mode):
        raise error(f"{what} is not a file but {_kind(info.st_mode)}")
    if max_bytes is not None and info.st_size > max_bytes:
        raise error(f"{what} is {format_bytes(info.st_size)}; at most {format_bytes(max_bytes)} is read")
    if not os.access(text, os.R_OK):
        raise error(f"{what} cannot be read: permission denied")
    return Path(text)


def read_text(path: str | os.PathLike, what: str, error: type[MinnetError], max_bytes: int) -> str:
    """The UTF-8 text of a regular file of at most ``max_bytes`` (a BOM is dropped)."""
    checked = regular_file(path, what, error, max_bytes)
    try:
        with checked.open("rb") as f:
            data = f.read(max_bytes + 1)  # the file may have grown since stat
    except OSError as exc:
        raise error(f"{what} cannot be read: {exc.strerror}") from None
    if len(data) > max_bytes:
        raise error(f"{what} is larger than {format_bytes(max_bytes)}, the most that is read")
    if b"\0" in data:
        raise error(f"{what} is not a text file (it holds NUL bytes)")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        raise error(f"{what} is not UTF-8 text (byte {data[exc.start]:#04x} on line {line}); save it as UTF-8") from None


def _machine_memory() -> int | None:
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return None
    return total if total > 0 else None


def memory_limit() -> int:
    """The most memory (bytes) one run may plan to use: half of this machine's RAM, so
    the rest of the machine keeps working (8 GiB where the RAM cannot be read)."""
    total = _machine_memory()
    return FALLBACK_MEMORY_LIMIT if total is None else total // 2


def format_bytes(n: float) -> str:
    """``12.3 GB``: a size as a person reads it (powers of 1024)."""
    for unit in ("bytes", "KB", "MB", "GB", "TB", "PB"):
        if n < 1024 or unit == "PB":
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024
    raise AssertionError("unreachable")


def check_memory(needs: dict[str, float], error: type[MinnetError], limit: int | None = None) -> None:
    """Refuse a plan whose parts (``{"data.n_samples = 10**9": bytes, ...}``) add up to more
    than ``limit`` (default ``memory_limit()``); the message names the largest part."""
    why = ""
    if limit is None:
        limit = memory_limit()
        why = " (half of this machine's memory)" if _machine_memory() else ""
    total = sum(needs.values())
    if total <= limit:
        return
    largest = max(needs, key=lambda k: needs[k])
    raise error(f"this would need about {format_bytes(total)} of memory, {format_bytes(needs[largest])} of it "
                f"for {largest}; at most {format_bytes(limit)} is allowed{why}")
