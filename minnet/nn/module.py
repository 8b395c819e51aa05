"""Module and Parameter: how models find, save and restore their weights.

A Module discovers its parameters and sub-modules from its attributes (also inside
lists and tuples), in the order they were assigned, so a user model is just a class
that sets attributes in ``__init__`` and computes in ``forward``.
"""

from __future__ import annotations

import itertools
import operator
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np

from minnet.tensor import Tensor

__all__ = ["Parameter", "Module"]


class Parameter(Tensor):
    """A tensor that is a learnable weight of a model: it requires grad by default."""

    __slots__ = ()

    def __init__(self, data: Any, requires_grad: bool = True, dtype: Any = None, name: str | None = None):
        super().__init__(data, requires_grad=requires_grad, dtype=dtype, name=name)

    def __repr__(self) -> str:
        return "Parameter " + super().__repr__()


# Bumped whenever an attribute of any Module is set or deleted, so a cached list of
# parameters knows when the model's structure may have changed.
_versions = itertools.count()
_structure_version = next(_versions)


def _same_items(current: list, before: tuple) -> bool:
    """Does a list still hold the very objects it held before (compared by identity)?"""
    return len(current) == len(before) and all(map(operator.is_, current, before))


class Module:
    """Base class of layers and models: ``__call__`` runs ``forward``."""

    # The cache lives in a slot, not in vars(self), where parameters are looked for.
    __slots__ = ("__dict__", "__weakref__", "_parameter_cache")
    training: bool = True

    def __setattr__(self, name: str, value: Any) -> None:
        global _structure_version
        object.__setattr__(self, name, value)
        _structure_version = next(_versions)

    def __delattr__(self, name: str) -> None:
        global _structure_version
        object.__delattr__(self, name)
        _structure_version = next(_versions)

    def __getstate__(self) -> dict[str, Any]:
        return self.__dict__  # pickles and copies rebuild the parameter cache

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must define forward()")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.forward(*args, **kwargs)

    # ---- discovering parameters ----------------------------------------------------

    def _members(self) -> Iterator[tuple[str, Any]]:
        """(name, value) of every attribute that may be a parameter or sub-module."""
        for name, value in vars(self).items():
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

        ``l2_penalty(model)`` asks for them on every training step, so the walk is
        cached until any module's attributes change or a list it read is edited.
        """
        cache = getattr(self, "_parameter_cache", None)
        if cache is not None:
            version, lists, contents, params = cache
            if version == _structure_version and all(map(_same_items, lists, contents)):
                return iter(params)
        version = _structure_version
        params, lists = self._walk_parameters()
        contents = tuple(tuple(items) for items in lists)
        object.__setattr__(self, "_parameter_cache", (version, lists, contents, params))
        return iter(params)

    def _walk_parameters(self) -> tuple[list[Parameter], tuple[list, ...]]:
        """Parameters in ``named_parameters`` order (building no names), and the list
        attributes they were found in."""
        params: list[Parameter] = []
        lists: list[list] = []
        seen: set[int] = set()
        stack: list[Module] = [self]
        while stack:
            children = []
            for value in vars(stack.pop()).values():
                if isinstance(value, list):
                    lists.append(value)
                for item in value if isinstance(value, (list, tuple)) else (value,):
                    if isinstance(item, Parameter):
                        if id(item) not in seen:
                            seen.add(id(item))
                            params.append(item)
                    elif isinstance(item, Module):
                        children.append(item)
            stack.extend(reversed(children))
        return params, tuple(lists)

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
        """Copy values into the parameters in place; strict: keys and shapes must match."""
        params = dict(self.named_parameters())
        if strict:
            missing = [k for k in params if k not in state]
            unexpected = [k for k in state if k not in params]
            if missing or unexpected:
                raise KeyError(
                    f"load_state_dict: missing keys {missing}, unexpected keys {unexpected} "
                    f"for {type(self).__name__} with parameters {list(params)}"
                )
        updates = []
        for name, value in state.items():
            if name not in params:
                continue
            value = np.asarray(value.data if isinstance(value, Tensor) else value)
            if value.shape != params[name].shape:
                raise ValueError(
                    f"load_state_dict: {name!r} has shape {value.shape} in the state, "
                    f"but the model's parameter has shape {params[name].shape}"
                )
            updates.append((params[name], value))
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
