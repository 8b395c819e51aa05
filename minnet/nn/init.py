"""Weight initialisations, looked up by name, and the generator they draw from.

Glorot (Xavier) uniform keeps the variance of activations and gradients roughly
constant through sigmoid and tanh layers; He normal does the same for ReLU, which
zeroes half its inputs and so needs twice the variance.

Layers take an optional ``numpy.random.Generator``; without one they draw from this
thread's default generator, which ``mn.manual_seed(s)`` reseeds (like
``torch.manual_seed``).  It is per thread, like the grad mode, so threads that build
models at once do not take numbers from each other's sequence.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import numpy as np

__all__ = ["glorot_uniform", "he_normal", "INITIALIZERS", "manual_seed", "default_generator", "using_generator"]


def glorot_uniform(rng: np.random.Generator, fan_out: int, fan_in: int) -> np.ndarray:
    """U(-a, a) with a = sqrt(6 / (fan_in + fan_out)): Glorot & Bengio (2010)."""
    bound = np.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-bound, bound, size=(fan_out, fan_in))


def he_normal(rng: np.random.Generator, fan_out: int, fan_in: int) -> np.ndarray:
    """N(0, 2 / fan_in): He et al. (2015), for ReLU layers."""
    return rng.normal(0.0, np.sqrt(2.0 / fan_in), size=(fan_out, fan_in))


INITIALIZERS: dict[str, Callable[[np.random.Generator, int, int], np.ndarray]] = {
    "glorot": glorot_uniform,
    "he": he_normal,
}


class _Generators(threading.local):
    def __init__(self) -> None:
        self.default = np.random.default_rng()


_generators = _Generators()


def manual_seed(seed: int) -> np.random.Generator:
    """Reseed this thread's default generator and return it."""
    _generators.default = np.random.default_rng(seed)
    return _generators.default


def default_generator() -> np.random.Generator:
    return _generators.default


@contextmanager
def using_generator(rng: np.random.Generator) -> Iterator[np.random.Generator]:
    """Layers built inside the block draw from ``rng`` (this thread only); then the
    previous default generator is back.  How training seeds a user's model factory."""
    previous = _generators.default
    _generators.default = rng
    try:
        yield rng
    finally:
        _generators.default = previous
