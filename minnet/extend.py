"""``minnet.extend``: the public API for writing new ops (see ``minnet.autograd.extend``)."""

from minnet.autograd.extend import Formula, constant, needs_grad, operands, record

__all__ = ["record", "constant", "needs_grad", "operands", "Formula"]
