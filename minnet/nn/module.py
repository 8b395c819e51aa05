"""Module and Parameter: how models find, save and restore their weights.

A Module discovers its parameters and sub-modules from its attributes (also inside
lists and tuples), in the order they were assigned, so a user model is just a class
that sets attributes in ``__init__`` and computes in ``forward``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, Self

import numpy as np

from minnet.autograd.tensor import Tensor

__all__ = ["Parameter", "Module"]


class Parameter(Tensor):
    """A tensor that is a learnable weight of a model: it requires grad by default."""

    __slots__ = ()

    def __init__(self, data: Any, requires_grad: bool = True, dtype: Any = None, name: str | None = None):
        super().__init__(data, requires_grad=requires_grad, dtype=dtype, name=name)

    def __repr__(self) -> str:
        return "Parameter " + super().__repr__()


def _checked_value(name: str, value: Any, param: Parameter) -> np.ndarray:
    """``value`` as an array for ``param``, or the TypeError/ValueError naming ``name``."""
    array = value.data if isinstance(value, Tensor) else value
    if not isinstance(array, np.ndarray):
        try:
            array = np.asarray(array)
        except (TypeError, ValueError):
            raise TypeError(f"load_state_dict: {name!r} is a {type(value).__name__}, not an array") from None
    if array.dtype.kind not in "fiu":
        raise TypeError(f"load_state_dict: {name!r} has dtype {array.dtype} ({type(value).__name__}); "
                        "parameters take arrays of real numbers")
    if array.shape != param.shape:
        raise ValueError(
            f"load_state_dict: {name!r} has shape {array.shape} in the state, "
            f"but the model's parameter has shape {param.shape}"
        )
    with np.errstate(over="ignore"):
        cast = array.astype(param.dtype)
    if not np.isfinite(cast).all() and np.isfinite(array).all():
        raise ValueError(f"load_state_dict: {name!r} holds values beyond the range of the parameter's {param.dtype}")
    return cast


class Module:
    """Base class of layers and models: ``__call__`` runs ``forward``.

    Assigning a Parameter, a Module, or a list or tuple of them to an attribute files
    it in the module's registry (in assignment order), so finding the parameters
    walks only those, never every attribute.  Lists are read when walked, so layers
    appended to a registered list are found too.  Subclasses need not call
    ``super().__init__()``.
    """

    __slots__ = ("__dict__", "__weakref__", "_registry")
    _registry: dict[str, Any]
    training: bool = True

    def __new__(cls, *args: Any, **kwargs: Any) -> Self:
        # every module has a registry from the start, even one that never sets an attribute
        module = super().__new__(cls)
        object.__setattr__(module, "_registry", {})
        return module

    def __setattr__(self, name: str, value: Any) -> None:
        object.__setattr__(self, name, value)
        if isinstance(value, (Parameter, Module, list, tuple)):
            self._registry[name] = value
        else:
            self._registry.pop(name, None)

    def __delattr__(self, name: str) -> None:
        object.__delattr__(self, name)
        self._registry.pop(name, None)

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must define forward()")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.forward(*args, **kwargs)

    # ---- discovering parameters ----------------------------------------------------

    def _members(self) -> Iterator[tuple[str, Any]]:
        """(name, value) of every registered attribute, list items as ``name.i``."""
        for name, value in self._registry.items():
            if isinstance(value, (list, tuple)):
                for i, item in enumerate(value):
                    yield f"{name}.{i}", item
            else:
                yield name, value

    def named_children(self) -> Iterator[tuple[str, Module]]:
        for name, value in self._members():
            if isinstance(value, Module):
                yield name, value

    def children(self) -> Iterator[Module]:
        for _, module in self.named_children():
            yield module

    def named_modules(self, prefix: str = "") -> Iterator[tuple[str, Module]]:
        yield prefix, self
        for name, child in self.named_children():
            yield from child.named_modules(f"{prefix}.{name}" if prefix else name)

    def modules(self) -> Iterator[Module]:
        for _, module in self.named_modules():
            yield module

    def named_parameters(self, prefix: str = "") -> Iterator[tuple[str, Parameter]]:
        """Dotted names (``0.weight``) and parameters, each shared parameter once."""
        seen: set[int] = set()
        for module_name, module in self.named_modules(prefix):
            for name, value in module._members():
                if isinstance(value, Parameter) and id(value) not in seen:
                    seen.add(id(value))
                    yield (f"{module_name}.{name}" if module_name else name), value

    def parameters(self) -> Iterator[Parameter]:
        """Every parameter once, in the order of ``named_parameters``.

        The walk builds no names and visits only registered values: the readable
        training loop (``loss + lam * l2_penalty(model)``) asks for them every step.
        Modules are visited in the order of ``named_modules`` (each one's own
        parameters first), and a parameter met again is dropped at the end.
        """
        params: list[Parameter] = []
        stack: list[Module] = [self]
        pop, add = stack.pop, params.append
        while stack:
            children: list[Module] = []
            for value in pop()._registry.values():
                if isinstance(value, Parameter):
                    add(value)
                elif isinstance(value, Module):
                    children.append(value)
                else:  # a list or tuple
                    for item in value:
                        if isinstance(item, Parameter):
                            add(item)
                        elif isinstance(item, Module):
                            children.append(item)
            if children:
                children.reverse()
                stack += children
        return iter(dict.fromkeys(params))  # tensors hash by identity

    def zero_grad(self) -> None:
        """Forget accumulated gradients (set them to None, as PyTorch does by default)."""
        for param in self.parameters():
            param.grad = None

    # ---- modes -----------------------------------------------------------------------

    def train(self, mode: bool = True) -> Module:
        for module in self.modules():
            module.training = mode
        return self

    def eval(self) -> Module:
        return self.train(False)

    # ---- saving and restoring --------------------------------------------------------

    def state_dict(self) -> dict[str, np.ndarray]:
        """Parameter name -> a numpy copy of its value."""
        return {name: param.data.copy() for name, param in self.named_parameters()}

    def load_state_dict(self, state: Mapping[str, Any], strict: bool = True) -> None:
        """Copy values into the parameters in place, all or nothing: every entry is checked
        (keys when ``strict``, as in PyTorch; a real-number array of the parameter's shape,
        representable in its dtype) before any parameter changes."""
        if not isinstance(state, Mapping):
            raise TypeError(f"load_state_dict: expected a mapping of parameter names to arrays, "
                            f"got {type(state).__name__}")
        params = dict(self.named_parameters())
        if strict:
            missing = [k for k in params if k not in state]
            unexpected = [k for k in state if k not in params]
            if missing or unexpected:
                raise KeyError(
                    f"load_state_dict: missing keys {missing}, unexpected keys {unexpected} "
                    f"for {type(self).__name__} with parameters {list(params)}"
                )
        updates = [(params[name], _checked_value(name, value, params[name]))
                   for name, value in state.items() if name in params]
        for param, value in updates:  # only once everything is known to fit
            param.data[...] = value

    # ---- display ---------------------------------------------------------------------

    def extra_repr(self) -> str:
        return ""

    def __repr__(self) -> str:
        children = list(self.named_children())
        if not children:
            return f"{type(self).__name__}({self.extra_repr()})"
        lines = [f"{type(self).__name__}("]
        for name, child in children:
            body = repr(child).replace("\n", "\n  ")
            lines.append(f"  ({name}): {body}")
        lines.append(")")
        return "\n".join(lines)
