"""Check backward rules against central finite differences, in float64.

For a function ``f`` of tensors with any output shape, a fixed random projection
``v`` turns it into the scalar ``s = Σ v·f(inputs)``.  Backpropagating ``v`` gives the
analytic ds/dx; perturbing each element of each input by ±eps gives the numeric one.
One random ``v`` tests every entry of the Jacobian's action, so a wrong rule is
caught with probability one.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from minnet.autograd.state import no_grad
from minnet.autograd.tensor import Tensor

__all__ = ["gradcheck", "GradcheckError"]


class GradcheckError(AssertionError):
    """An analytic gradient disagrees with finite differences."""


def _scalar_output(fn: Callable[..., Tensor], inputs: list[Tensor], weights: np.ndarray) -> float:
    with no_grad():
        return float(np.sum(weights * np.asarray(fn(*inputs).data, dtype=np.float64)))


def gradcheck(
    fn: Callable[..., Tensor],
    *inputs: Tensor,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-4,
) -> bool:
    """Return True if ``fn``'s gradients match finite differences, else raise GradcheckError.

    Inputs are copied to float64 first; those with ``requires_grad`` are checked.  The
    error names the input (by position and name), the element index, and the analytic
    and numeric values of the worst mismatch.
    """
    cases = [
        Tensor(np.array(t.data, dtype=np.float64), requires_grad=t.requires_grad, name=t.name)
        if isinstance(t, Tensor) else t
        for t in inputs
    ]
    checked = [i for i, t in enumerate(cases) if isinstance(t, Tensor) and t.requires_grad]
    if not checked:
        raise ValueError("gradcheck: no input has requires_grad=True, so there is nothing to check")

    out = fn(*cases)
    if not isinstance(out, Tensor) or not out.requires_grad:
        raise ValueError("gradcheck: fn must return a Tensor computed from the inputs that require grad")
    weights = np.random.default_rng(0).uniform(0.5, 1.5, size=out.shape)
    out.backward(weights)

    worst = None  # (excess over tolerance, position, index, analytic, numeric)
    for i in checked:
        t = cases[i]
        analytic = t.grad if t.grad is not None else np.zeros_like(t.data)
        for index in np.ndindex(*t.shape):
            original = t.data[index]
            t.data[index] = original + eps
            up = _scalar_output(fn, cases, weights)
            t.data[index] = original - eps
            down = _scalar_output(fn, cases, weights)
            t.data[index] = original
            numeric = (up - down) / (2 * eps)
            excess = abs(analytic[index] - numeric) - (atol + rtol * abs(numeric))
            # a non-finite value on either side is a failure: it cannot be checked
            if not np.isfinite(excess) or (excess > 0 and (worst is None or excess > worst[0])):
                worst = (excess, i, index, float(analytic[index]), numeric)
    if worst is not None:
        _, i, index, analytic_value, numeric_value = worst
        label = f"input {i}" + (f" ({cases[i].name!r})" if cases[i].name else "")
        raise GradcheckError(
            f"gradcheck failed for {label} at index {index}: "
            f"analytic {analytic_value:.10g} vs numeric {numeric_value:.10g} "
            f"(atol={atol}, rtol={rtol})"
        )
    return True
