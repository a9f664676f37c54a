"""How a result shows itself, without the result importing a renderer.

A result class inherits :class:`Displayable`; a renderer registers, per class name, the functions
that make its one-line ``repr``, its Rich renderable (``rich.print``) and its notebook HTML. The
model and the analyses thus point to no renderer (the layering rule), and importing a result type
loads no Rich. ``resnet_inspect/__init__.py`` imports :mod:`resnet_inspect.render.display`, which
fills the registry with hooks that import their renderer only when called.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Hook = Callable[[Any], Any]
# class name -> {"repr" | "rich" | "html": hook}
HOOKS: dict[str, dict[str, Hook]] = {}


def register(class_name: str, **hooks: Hook) -> None:
    """Give ``class_name`` its display hooks (``repr=``, ``rich=``, ``html=``)."""
    unknown = set(hooks) - {"repr", "rich", "html"}
    if unknown:
        raise ValueError(f"unknown display hooks {sorted(unknown)}")
    HOOKS.setdefault(class_name, {}).update(hooks)


def hook(obj: object, kind: str) -> Hook | None:
    """The hook registered for ``obj``'s class or its nearest registered base class."""
    for cls in type(obj).__mro__:
        found = HOOKS.get(cls.__name__, {}).get(kind)
        if found is not None:
            return found
    return None


class Displayable:
    """Mixin: ``repr()``, ``rich.print`` and Jupyter call the hooks registered for the class.

    Dataclasses that inherit it must say ``@dataclass(repr=False)``: ``@dataclass`` writes its own
    ``__repr__`` over an inherited one. With no hook registered, ``repr`` falls back to
    ``object.__repr__`` and the others to the repr as text.
    """

    __slots__ = ()

    def __repr__(self) -> str:
        found = hook(self, "repr")
        return found(self) if found else object.__repr__(self)

    def __rich__(self) -> Any:
        found = hook(self, "rich")
        return found(self) if found else repr(self)

    def _repr_html_(self) -> str | None:
        found = hook(self, "html")
        return found(self) if found else None
