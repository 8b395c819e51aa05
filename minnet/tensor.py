"""The Tensor: a numpy array that remembers how it was computed.

A tensor made by an op keeps three things besides its value: the tensors it was
computed from (``_parents``), a closure that turns the gradient of the output into
gradients of those parents (``_backward``), and the op's name (``op``).  That is the
whole computational graph; :mod:`minnet.engine` walks it backwards.

Closures never hold the tensor they belong to, only parents and numpy arrays, so a
graph has no reference cycles and is freed the moment its output is dropped.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

from minnet import engine

__all__ = [
    "Tensor",
    "tensor",
    "no_grad",
    "is_grad_enabled",
    "set_default_dtype",
    "get_default_dtype",
]

_FLOAT_KINDS = "f"
_CASTABLE_KINDS = "biu"  # bool, signed and unsigned integers become the default float

_default_dtype = np.dtype(np.float32)
_grad_enabled = True


def set_default_dtype(dtype: Any) -> None:
    """Set the float dtype given to Python numbers, lists and integer arrays."""
    global _default_dtype
    dt = np.dtype(dtype)
    if dt.kind != "f":
        raise ValueError(f"default dtype must be a float type such as float32 or float64, got {dt}")
    _default_dtype = dt


def get_default_dtype() -> np.dtype:
    return _default_dtype


def is_grad_enabled() -> bool:
    return _grad_enabled


@contextmanager
def no_grad() -> Iterator[None]:
    """Compute without recording a graph (evaluation, optimizer updates)."""
    global _grad_enabled
    previous = _grad_enabled
    _grad_enabled = False
    try:
        yield
    finally:
        _grad_enabled = previous


def _to_array(data: Any, dtype: Any = None) -> np.ndarray:
    """Float arrays keep their dtype; everything else numeric gets the default one."""
    if isinstance(data, Tensor):
        data = data.data
    if dtype is not None:
        dt = np.dtype(dtype)
        if dt.kind != "f":
            raise TypeError(f"Tensor dtype must be a float type, got {dt}")
    try:
        arr = np.asarray(data, dtype=dtype)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"Tensor data must be numeric, got {type(data).__name__}: {exc}") from None
    kind = arr.dtype.kind
    if kind in _FLOAT_KINDS and (dtype is not None or isinstance(data, (np.ndarray, np.generic))):
        return arr
    if kind in _FLOAT_KINDS or kind in _CASTABLE_KINDS:
        return arr.astype(_default_dtype)
    raise TypeError(f"Tensor data must be real numbers, got an array of dtype {arr.dtype}")


class Tensor:
    """An n-dimensional float array that can record the ops applied to it.

    ``Tensor(np.array([1.0, 2.0]), requires_grad=True)`` keeps float64;
    ``Tensor([1, 2])`` uses the default dtype (float32 unless changed).
    """

    __slots__ = ("data", "grad", "requires_grad", "name", "op", "_parents", "_backward", "_seq", "__weakref__")
    # numpy must defer to our reflected operators (ndarray * Tensor -> Tensor.__rmul__).
    __array_ufunc__ = None

    def __init__(self, data: Any, requires_grad: bool = False, dtype: Any = None, name: str | None = None):
        self.data = _to_array(data, dtype)
        self.grad: np.ndarray | None = None
        self.requires_grad = bool(requires_grad)
        self.name = name
        self.op = ""
        self._parents: tuple[Tensor, ...] = ()
        self._backward: Callable[[np.ndarray], tuple] | None = None

    # ---- shape and value helpers -------------------------------------------------

    @property
    def shape(self) -> tuple[int, ...]:
        return self.data.shape

    @property
    def ndim(self) -> int:
        return self.data.ndim

    @property
    def size(self) -> int:
        return self.data.size

    @property
    def dtype(self) -> np.dtype:
        return self.data.dtype

    @property
    def is_leaf(self) -> bool:
        return self._backward is None

    def __len__(self) -> int:
        return len(self.data)

    def item(self) -> float:
        return self.data.item()

    def numpy(self) -> np.ndarray:
        """The underlying array (shared, not copied, as in PyTorch)."""
        return self.data

    def tolist(self) -> Any:
        return self.data.tolist()

    def detach(self) -> Tensor:
        """The same values, cut off from the graph."""
        return _leaf(self.data)

    def __repr__(self) -> str:
        body = np.array2string(self.data, precision=4, separator=", ", prefix="tensor(")
        extras = ""
        if self.data.dtype != _default_dtype:
            extras += f", dtype={self.data.dtype}"
        if self.requires_grad:
            extras += f", op={self.op!r}" if self.op else ", requires_grad=True"
        if self.name:
            extras += f", name={self.name!r}"
        return f"tensor({body}{extras})"

    # ---- autograd ----------------------------------------------------------------

    def backward(self, grad: Any = None) -> None:
        """Accumulate d(self)/d(leaf) into ``.grad`` of every leaf that requires grad.

        ``grad`` is the gradient of some final quantity with respect to ``self``; it may
        be omitted only when ``self`` has a single element (then it is 1).
        """
        if not self.requires_grad:
            raise RuntimeError(
                "backward() called on a tensor that does not require grad; "
                "create its inputs with requires_grad=True"
            )
        if grad is None:
            if self.data.size != 1:
                raise RuntimeError(
                    f"backward() without a gradient needs a one-element tensor, got shape {self.shape}; "
                    "pass grad= of the same shape, or reduce first (e.g. .sum())"
                )
            grad = np.array(1, dtype=self.data.dtype)
            if self.data.ndim:
                grad = grad.reshape(self.data.shape)
        else:
            grad = np.asarray(grad.data if isinstance(grad, Tensor) else grad, dtype=self.data.dtype)
            if grad.shape != self.data.shape:
                raise ValueError(f"backward(): grad has shape {grad.shape}, expected {self.shape}")
        engine.backward(self, grad)


def tensor(data: Any, requires_grad: bool = False, dtype: Any = None, name: str | None = None) -> Tensor:
    """Make a tensor, like ``torch.tensor``: lists and ints get the default dtype."""
    return Tensor(data, requires_grad=requires_grad, dtype=dtype, name=name)


# ---- constructors used by ops (no validation: the hot path) ----------------------

_new = object.__new__
_ndarray = np.ndarray
_next_seq = itertools.count().__next__


def _leaf(data: np.ndarray) -> Tensor:
    """A constant tensor around an array an op has just computed."""
    out = _new(Tensor)
    out.data = data if data.__class__ is _ndarray else np.asarray(data)
    out.grad = None
    out.requires_grad = False
    out.name = None
    out.op = ""
    out._parents = ()
    out._backward = None
    return out


def _node(data: np.ndarray, parents: tuple, backward: Callable, op: str) -> Tensor:
    """The output of an op that must be differentiated through.

    ``_seq`` numbers nodes in creation order: every node is made after its inputs,
    which gives the engine a topological order for free.
    """
    out = _new(Tensor)
    out._seq = _next_seq()
    out.data = data if data.__class__ is _ndarray else np.asarray(data)
    out.grad = None
    out.requires_grad = True
    out.name = None
    out.op = op
    out._parents = parents
    out._backward = backward
    return out


def _needs_grad(*tensors: Tensor) -> bool:
    """Should an op on these inputs record a node? False under no_grad."""
    if not _grad_enabled:
        return False
    for t in tensors:
        if t.requires_grad:
            return True
    return False


def _as_tensor(value: Any, like: Tensor) -> Tensor:
    """Wrap a non-tensor operand; numbers and arrays take the tensor operand's dtype."""
    if isinstance(value, Tensor):
        return value
    if isinstance(value, (int, float)):
        return _leaf(np.asarray(value, dtype=like.data.dtype))
    arr = np.asarray(value)
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"cannot combine a Tensor with {type(value).__name__} of dtype {arr.dtype}")
    return _leaf(arr.astype(like.data.dtype, copy=False))
