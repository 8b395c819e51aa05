"""Build the MLP a config describes, and describe it back for checkpoints."""

from __future__ import annotations

from typing import Any

import numpy as np

from minnet import nn
from minnet.autograd.activations import ACTIVATIONS

__all__ = ["build_mlp", "mlp_spec"]


def build_mlp(
    sizes: list[int], activation: str, rng: np.random.Generator | None = None, dtype: Any = None
) -> nn.Sequential:
    """Linear layers of the given sizes (inputs, *hidden, outputs) with an activation
    between, each initialised as the activation table says suits the activation."""
    init = ACTIVATIONS[activation].init
    layers: list[nn.Module] = []
    for i, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        if i:
            layers.append(nn.ACTIVATION_LAYERS[activation]())
        layers.append(nn.Linear(fan_in, fan_out, init=init, rng=rng, dtype=dtype))
    return nn.Sequential(*layers)


def mlp_spec(sizes: list[int], activation: str) -> dict[str, Any]:
    """What ``build_mlp`` needs to rebuild the model: stored in checkpoints."""
    return {"type": "mlp", "sizes": [int(s) for s in sizes], "activation": activation}
