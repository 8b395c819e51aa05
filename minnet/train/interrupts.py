"""Ctrl-C (SIGINT) and SIGTERM held back while a run's files are brought up to date.

Each file is atomic on its own (``minnet.train.files``), but an epoch's bookkeeping
touches several: its history row, the checkpoint, the run's state in memory.  Inside
``deferred_interrupts()`` a stop signal is only noted; when the block ends it goes to
the handler that was in place (Python's KeyboardInterrupt, or the command line's), so
Ctrl-C stops a run between two consistent states, never inside one.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from types import FrameType
from typing import Any

__all__ = ["deferred_interrupts", "STOP_SIGNALS"]

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)  # Ctrl-C, and kill's default


@contextlib.contextmanager
def deferred_interrupts() -> Iterator[None]:
    """Hold SIGINT and SIGTERM until the block ends, then deliver the first one that came.

    Only the main thread receives signals; in any other thread this does nothing.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received: list[int] = []

    def note(signum: int, frame: FrameType | None) -> None:
        received.append(signum)

    previous: dict[int, Any] = {}
    try:
        for signum in STOP_SIGNALS:
            if signal.getsignal(signum) is not None:  # None: set outside Python, and could not be put back
                previous[signum] = signal.signal(signum, note)
        yield
    finally:
        for held, handler in previous.items():
            signal.signal(held, handler)
        if received:
            _deliver(received[0], previous[received[0]])


def _deliver(signum: int, handler: Any) -> None:
    """Hand a held signal to ``handler`` as the signal itself would have."""
    if callable(handler):
        handler(signum, None)
    elif handler == signal.SIG_DFL:  # the default action: SIGTERM ends the process
        signal.raise_signal(signum)
