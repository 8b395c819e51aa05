"""Optimizers (SGD, Adam, AdamW), learning-rate schedules and gradient clipping.

Each follows PyTorch's formula and argument checks (with minnet's one rule table,
``minnet.hparams``), has a settable ``lr`` and ``state_dict()`` / ``load_state_dict()``.
How λ of ``loss.l2`` relates to ``weight_decay``: see ``minnet.losses``.
"""

from minnet.optim import lr_scheduler
from minnet.optim.adam import Adam, AdamW
from minnet.optim.clip import clip_grad_norm
from minnet.optim.optimizer import Optimizer
from minnet.optim.sgd import SGD

OPTIMIZERS = {"sgd": SGD, "adam": Adam, "adamw": AdamW}

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "OPTIMIZERS", "lr_scheduler", "clip_grad_norm"]
