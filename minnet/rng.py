"""One random generator for initialisation, so ``mn.manual_seed(s)`` makes models reproducible.

Code that needs randomness (layer initialisation) takes an optional
``numpy.random.Generator``; without one it draws from this module's generator.
"""

from __future__ import annotations

import numpy as np

__all__ = ["manual_seed", "default_generator"]

_generator = np.random.default_rng()


def manual_seed(seed: int) -> np.random.Generator:
    """Reseed the default generator (like ``torch.manual_seed``) and return it."""
    global _generator
    _generator = np.random.default_rng(seed)
    return _generator


def default_generator() -> np.random.Generator:
    return _generator
