"""The Tensor: a numpy array that remembers how it was computed.

A tensor made by an op keeps, besides its value, the tensors it was computed from
(``_parents``), a closure that turns the gradient of the output into gradients of
those parents (``_backward``), the op's name (``op``) and its depth (``_depth``: one
more than its deepest parent, so sorting by depth puts every node after its inputs).
That is the whole computational graph; :mod:`minnet.autograd.engine` walks it
backwards.  Nodes are made with :func:`minnet.extend.record`.

Closures never hold the tensor they belong to, only parents and numpy arrays, so a
graph has no reference cycles and is freed the moment its output is dropped.

The operators and methods are declared below for type checkers and readers; their
implementations are the functions of :mod:`minnet.autograd.ops`, which binds them.
"""

from __future__ import annotations

from collections.abc import Callable
from operator import attrgetter
from typing import TYPE_CHECKING, Any

import numpy as np

from minnet.autograd import engine
from minnet.autograd.state import settings

__all__ = ["Tensor", "tensor"]

_CASTABLE_KINDS = "biu"  # bool, signed and unsigned integers become the default float

Axis = int | tuple[int, ...] | None


def _to_array(data: Any, dtype: Any = None) -> np.ndarray:
    """Float arrays keep their dtype; everything else numeric gets the default one."""
    if isinstance(data, Tensor):
        data = data.data
    if dtype is not None:
        dt = np.dtype(dtype)
        if dt.kind != "f":
            raise TypeError(f"Tensor dtype must be a float type, got {dt}")
    if isinstance(data, (str, bytes)):
        raise TypeError(f"Tensor data must be numeric, got {type(data).__name__} {data!r}")
    try:
        arr = np.asarray(data, dtype=dtype)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"Tensor data must be numeric, got {type(data).__name__}: {exc}") from None
    kind = arr.dtype.kind
    if kind == "f" and (dtype is not None or isinstance(data, (np.ndarray, np.generic))):
        return arr
    if kind == "f" or kind in _CASTABLE_KINDS:
        return arr.astype(settings.default_dtype)
    raise TypeError(f"Tensor data must be real numbers, got an array of dtype {arr.dtype}")


def _set_data(tensor: Tensor, value: Any) -> None:
    """``t.data = array`` replaces the value, dtype included (as in PyTorch); anything but a
    float array is a TypeError now, not a confusing error in some later op."""
    if value.__class__ is not np.ndarray or value.dtype.kind != "f":
        if isinstance(value, np.floating):
            value = np.asarray(value)
        elif not isinstance(value, np.ndarray):
            raise TypeError(f"Tensor.data must be a float numpy array, got {type(value).__name__}")
        elif value.dtype.kind != "f":
            raise TypeError(f"Tensor.data must be a float numpy array, got an array of dtype {value.dtype}; "
                            "convert it first, e.g. array.astype(np.float32)")
    tensor._data = value


class Tensor:
    """An n-dimensional float array that can record the ops applied to it.

    ``Tensor(np.array([1.0, 2.0]), requires_grad=True)`` keeps float64;
    ``Tensor([1, 2])`` uses the default dtype (float32 unless changed).
    """

    __slots__ = ("_data", "grad", "requires_grad", "name", "op", "_parents", "_backward", "_depth", "_args",
                 "__weakref__")
    # numpy must defer to our reflected operators (ndarray * Tensor -> Tensor.__rmul__).
    __array_ufunc__ = None

    _data: np.ndarray
    grad: np.ndarray | None
    requires_grad: bool
    name: str | None
    op: str
    _parents: tuple[Tensor, ...]
    _backward: Callable[[np.ndarray], Any] | None
    _depth: int
    _args: tuple  # what a compiled step reads: the non-tensor arguments of the ops it replays,
    # and the array a Linear layer converted into this batch

    def __init__(self, data: Any, requires_grad: bool = False, dtype: Any = None, name: str | None = None):
        self._data = _to_array(data, dtype)
        self.grad = None
        self.requires_grad = bool(requires_grad)
        self.name = name
        self.op = ""
        self._parents = ()
        self._backward = None
        self._depth = 0

    # ---- the value: read at slot speed, checked when assigned ----------------------

    if TYPE_CHECKING:
        @property
        def data(self) -> np.ndarray: ...
        @data.setter
        def data(self, value: np.ndarray) -> None: ...
    else:
        # Ops read ``.data`` all the time: a C-level getter costs a fraction of a Python one.
        # Ops create their outputs by setting ``_data`` (minnet.extend.record).
        data = property(attrgetter("_data"), _set_data, doc="The value, a float numpy array (assignable).")

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
        """The same values (shared array), cut off from the graph."""
        return Tensor(self.data)

    def __repr__(self) -> str:
        body = np.array2string(self.data, precision=4, separator=", ", prefix="tensor(")
        extras = ""
        if self.data.dtype != settings.default_dtype:
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
            seed = np.array(1, dtype=self.data.dtype)
            if self.data.ndim:
                seed = seed.reshape(self.data.shape)
        else:
            seed = np.asarray(grad.data if isinstance(grad, Tensor) else grad, dtype=self.data.dtype)
            if seed.shape != self.data.shape:
                raise ValueError(f"backward(): grad has shape {seed.shape}, expected {self.shape}")
        engine.backward(self, seed)

    # ---- operators and methods (bound by minnet.autograd.ops) --------------------

    if TYPE_CHECKING:
        def __add__(self, other: Any) -> Tensor: ...
        def __radd__(self, other: Any) -> Tensor: ...
        def __sub__(self, other: Any) -> Tensor: ...
        def __rsub__(self, other: Any) -> Tensor: ...
        def __mul__(self, other: Any) -> Tensor: ...
        def __rmul__(self, other: Any) -> Tensor: ...
        def __truediv__(self, other: Any) -> Tensor: ...
        def __rtruediv__(self, other: Any) -> Tensor: ...
        def __pow__(self, other: Any) -> Tensor: ...
        def __rpow__(self, other: Any) -> Tensor: ...
        def __matmul__(self, other: Any) -> Tensor: ...
        def __rmatmul__(self, other: Any) -> Tensor: ...
        def __neg__(self) -> Tensor: ...
        def __abs__(self) -> Tensor: ...
        def __getitem__(self, index: Any) -> Tensor: ...
        def exp(self) -> Tensor: ...
        def log(self) -> Tensor: ...
        def sqrt(self) -> Tensor: ...
        def abs(self) -> Tensor: ...
        def sigmoid(self) -> Tensor: ...
        def tanh(self) -> Tensor: ...
        def relu(self) -> Tensor: ...
        def sum(self, axis: Axis = None, keepdims: bool = False) -> Tensor: ...
        def mean(self, axis: Axis = None, keepdims: bool = False) -> Tensor: ...
        def max(self, axis: Axis = None, keepdims: bool = False) -> Tensor: ...
        def logsumexp(self, axis: Axis = -1, keepdims: bool = False) -> Tensor: ...
        def log_softmax(self, axis: int = -1) -> Tensor: ...
        def softmax(self, axis: int = -1) -> Tensor: ...
        def reshape(self, *shape: Any) -> Tensor: ...
        def transpose(self, *axes: Any) -> Tensor: ...
        @property
        def T(self) -> Tensor: ...


def tensor(data: Any, requires_grad: bool = False, dtype: Any = None, name: str | None = None) -> Tensor:
    """Make a tensor, like ``torch.tensor``: lists and ints get the default dtype."""
    return Tensor(data, requires_grad=requires_grad, dtype=dtype, name=name)
