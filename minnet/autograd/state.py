"""Per-thread settings of the autograd core: grad mode and default dtype.

As in PyTorch, ``with no_grad():`` in one thread never stops another thread from
recording its graph, so each thread has its own copy of these settings, starting
from the defaults (grad mode on, float32).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any

import numpy as np

__all__ = ["settings", "no_grad", "enable_grad", "is_grad_enabled", "set_default_dtype", "get_default_dtype"]


class _Settings(threading.local):
    """Read on every op (``grad_enabled``) and every conversion (``default_dtype``)."""

    def __init__(self) -> None:
        self.grad_enabled = True
        self.default_dtype = np.dtype(np.float32)


settings = _Settings()


def set_default_dtype(dtype: Any) -> None:
    """Set this thread's float dtype for Python numbers, lists and integer arrays."""
    dt = np.dtype(dtype)
    if dt.kind != "f":
        raise ValueError(f"default dtype must be a float type such as float32 or float64, got {dt}")
    settings.default_dtype = dt


def get_default_dtype() -> np.dtype:
    return settings.default_dtype


def is_grad_enabled() -> bool:
    return settings.grad_enabled


@contextmanager
def _grad_mode(enabled: bool) -> Iterator[None]:
    previous = settings.grad_enabled
    settings.grad_enabled = enabled
    try:
        yield
    finally:
        settings.grad_enabled = previous


def no_grad() -> AbstractContextManager[None]:
    """Compute without recording a graph in this thread (evaluation, optimizer updates)."""
    return _grad_mode(False)


def enable_grad() -> AbstractContextManager[None]:
    """Record again inside a ``no_grad()`` block of this thread."""
    return _grad_mode(True)
