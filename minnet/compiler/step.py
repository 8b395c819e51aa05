"""``compile_step``: one training step, traced once per batch shape and then replayed.

The first call with a new batch shape runs the loss function eagerly and reads a
``Program`` off its graph (``trace``); the second call traces again and keeps the
program only if both traces agree, which catches a loss that bakes a value of its
batch into a constant.  From then on each call replays a ``Plan``: the same numbers
with preallocated buffers and no graph.  Whatever cannot be compiled -- another
model, another loss, unusual arrays -- runs eagerly, and ``reason`` says why.

Guards: a new batch shape or dtype gets its own plan; parameters whose arrays were
replaced (``p.data = ...``, a new optimizer parameter list) are traced again; the
learning rate is read on every call, and a change of optimizer settings picks the
other backward pass.  Values the loss function reads from outside its arguments (a λ
in a closure) are fixed when it is traced: pass them as arguments or call ``reset()``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

from minnet.compiler.plan import BadLabels, Plan, unsupported
from minnet.compiler.trace import Program, trace
from minnet.optim import SGD
from minnet.optim.clip import clip_grad_norm as clip_gradients
from minnet.optim.optimizer import Optimizer

__all__ = ["compile_step", "CompiledStep", "eager_step"]


def eager_step(loss: Any, optimizer: Optimizer, clip: float = 0.0) -> float:
    """``zero_grad(); backward(); step()`` for a loss already computed; returns its value.

    A loss that is NaN or infinite is returned without backward or update, so the
    parameters stay those of the last good step.
    """
    value = loss.item()
    if not math.isfinite(value):
        return value
    optimizer.zero_grad()
    loss.backward()
    if clip:
        clip_gradients(optimizer.params, clip)
    optimizer.step()
    return value


def _signature(args: Sequence[Any]) -> tuple | None:
    """Shapes and dtypes of the batch; None when an argument is not an array or Tensor."""
    try:
        if len(args) == 2:  # (inputs, targets): the usual step, spelled out for speed
            a, b = args
            return a.shape, a.dtype, b.shape, b.dtype
        return tuple([(a.shape, a.dtype) for a in args])
    except AttributeError:
        return None


class _Entry:
    """What one batch signature runs: a program seen once or verified, or eager."""

    __slots__ = ("program", "plan", "verified", "reason")

    def __init__(self, program: Program | None, reason: str | None):
        self.program, self.reason = program, reason
        self.plan: Plan | None = None
        self.verified = False


_NOT_ARRAYS = _Entry(None, "an argument of the step is not an array or Tensor")
_NOT_AN_OPTIMIZER = _Entry(None, "the optimizer is not a minnet Optimizer")


class CompiledStep:
    """``step(*batch)``: forward, backward and ``optimizer.step()`` for
    ``loss_fn(*batch)``; returns the loss as a float (see ``compile_step``)."""

    def __init__(self, loss_fn: Callable[..., Any], optimizer: Optimizer, clip_grad_norm: float = 0.0):
        if not callable(loss_fn):
            raise TypeError(f"compile_step: loss_fn must be callable, got {type(loss_fn).__name__}")
        for method in ("zero_grad", "step"):
            if not callable(getattr(optimizer, method, None)):
                raise TypeError(f"compile_step: optimizer must have {method}(), got {type(optimizer).__name__}")
        self.loss_fn, self.optimizer, self.clip = loss_fn, optimizer, float(clip_grad_norm)
        # an object that only looks like an optimizer (zero_grad, step, params) runs eagerly
        self._compilable = isinstance(optimizer, Optimizer)
        self.reset()

    def reset(self) -> None:
        """Forget every traced plan: the next calls trace again."""
        self._entries: dict[tuple, _Entry] = {}
        self._last: _Entry | None = None
        self._params = getattr(self.optimizer, "params", ())
        self._count = len(self._params)

    @property
    def reason(self) -> str | None:
        """Why the last call ran eagerly (None if it ran compiled, or nothing ran yet)."""
        return None if self._last is None else self._last.reason

    def __call__(self, *args: Any) -> float:
        key = _signature(args) if self._compilable else None
        entry = self._entries.get(key) if key is not None else None
        params = self.optimizer.params
        if (entry is None or not entry.verified or params is not self._params or len(params) != self._count
                or not entry.plan.current()):  # type: ignore[union-attr]  # verified entries have a plan
            return self._slow_call(key, entry, args)
        self._last = entry
        return self._replay(entry.plan, args)  # type: ignore[arg-type]

    def _replay(self, plan: Plan, args: Sequence[Any]) -> float:
        """One step by ``plan``: forward, then the fused SGD update or gradients and ``step()``."""
        try:
            value = plan.forward(args)
        except BadLabels:  # eager says which label, in its words
            return eager_step(self.loss_fn(*args), self.optimizer, self.clip)
        if not math.isfinite(value):
            return value
        opt = self.optimizer
        if type(opt) is SGD and not opt.momentum and not self.clip:  # plain SGD: fused into backward
            if opt.params[0].grad is not None:  # no stale gradients from an eager step
                opt.zero_grad()
            plan.update_sgd(opt.lr, opt.weight_decay)
            return value
        grads = plan.gradients()
        opt.zero_grad()
        for p, g in zip(plan.program.params, grads):  # noqa: B905  (one gradient per parameter; strict= costs a slow call every step)
            p.grad = g
        if self.clip:
            clip_gradients(opt.params, self.clip)
        opt.step()
        return value

    def _slow_call(self, key: tuple | None, entry: _Entry | None, args: Sequence[Any]) -> float:
        """A call the fast path cannot take: eager, or tracing (again)."""
        if key is None:
            self._last = _NOT_ARRAYS if self._compilable else _NOT_AN_OPTIMIZER
            return eager_step(self.loss_fn(*args), self.optimizer, self.clip)
        params = self.optimizer.params
        if params is not self._params or len(params) != self._count:
            self.reset()
            entry = None
        if entry is not None and entry.program is None:  # this batch shape runs eagerly
            self._last = entry
            return eager_step(self.loss_fn(*args), self.optimizer, self.clip)
        if entry is not None and entry.plan is not None and not entry.plan.current():
            entry = None  # the parameters' arrays were replaced: trace afresh
        program, loss = trace(self.loss_fn, args, self.optimizer.params)
        reason = program if isinstance(program, str) else unsupported(program, args)
        if reason is None and entry is not None and entry.program != program:
            reason = "two traces of the loss differ (it depends on the batch's values)"
        if reason is not None:
            entry = _Entry(None, reason)
        elif entry is None:
            assert isinstance(program, Program)
            entry = _Entry(program, None)
            entry.plan = Plan(program, args)
        else:
            entry.verified = True
        self._entries[key] = entry
        self._last = entry
        if entry.plan is None:
            return eager_step(loss, self.optimizer, self.clip)
        return self._replay(entry.plan, args)


def compile_step(loss_fn: Callable[..., Any], optimizer: Optimizer, clip_grad_norm: float = 0.0) -> CompiledStep:
    """A function ``step(*batch)`` that does what the eager training step does,

        loss = loss_fn(*batch); optimizer.zero_grad(); loss.backward(); optimizer.step()

    and returns ``loss.item()``, replaying a plan captured from ``loss_fn``'s graph
    (an MLP of minnet layers, softmax cross-entropy or MSE, any L2 written as
    ``ce + lam * l2_penalty(model)`` or ``l2_regularized``) with preallocated buffers.
    With plain SGD the update is fused into the backward pass; with other optimizers
    the gradients are computed compiled and ``optimizer.step()`` runs as usual.  Steps
    it cannot compile run eagerly, with the same results.  ``clip_grad_norm`` > 0 clips
    the gradients' joint norm before each update.

    Differences from the eager loop: a NaN or infinite loss is returned without an
    update; after a fused SGD step the parameters' ``.grad`` is not set (no gradient
    array is formed), and with other optimizers ``.grad`` holds buffers reused by the
    next step.  ``loss_fn`` should be a function of its arguments and the parameters:
    it is run only when tracing.
    """
    return CompiledStep(loss_fn, optimizer, clip_grad_norm)
