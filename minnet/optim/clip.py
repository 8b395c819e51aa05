"""Gradient-norm clipping, as ``torch.nn.utils.clip_grad_norm_``."""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np

from minnet.autograd.tensor import Tensor

__all__ = ["clip_grad_norm"]


def clip_grad_norm(params: Iterable[Tensor], max_norm: float) -> float:
    """Scale all gradients in place so their joint L2 norm is at most ``max_norm``;
    returns the norm before clipping.  (Scale max_norm / (norm + 1e-6), as PyTorch.)"""
    grads = [p.grad for p in params if p.grad is not None]
    total = math.sqrt(sum(float(np.vdot(g, g)) for g in grads))
    scale = max_norm / (total + 1e-6)
    if not scale >= 1:  # a nan norm scales every gradient to nan, as in PyTorch: none looks usable
        for g in grads:
            g *= scale
    return total
