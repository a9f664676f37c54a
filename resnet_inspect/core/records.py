"""``@record``: ``@dataclass(frozen=True)`` at about half the cost of defining the class.

A dataclass writes each generated method as source and compiles it: six ``exec`` calls for a frozen
one (``__init__``, ``__repr__``, ``__eq__``, ``__hash__``, ``__setattr__``, ``__delattr__``), and
``inspect.signature`` for a class without a docstring. The trace path defines some 40 record types
at import, 25-40 ms of every command's start-up (issue 16). ``record`` lets ``dataclass`` write the
three methods a frozen instance needs, and gives ``__repr__``, ``__eq__`` and ``__hash__`` as
closures over the fields, with the same results: ``dataclasses.fields``, ``replace`` and ``asdict``
work as before, and so do equality, hashing and the repr (``Window(kernel=3, stride=2, padding=0)``).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from operator import attrgetter
from reprlib import recursive_repr
from typing import Any, Callable, TypeVar

T = TypeVar("T", bound=type)


def record(cls: T) -> T:
    """``@dataclass(frozen=True)`` for a class, defined more cheaply (same methods, same results)."""
    own = cls.__dict__
    if own.get("__doc__") is None:  # dataclass would call inspect.signature to write one
        names = [n for n, kind in own.get("__annotations__", {}).items() if "ClassVar" not in str(kind)]
        cls.__doc__ = f"{cls.__name__}({', '.join(names)})"
    explicit_hash = "__hash__" in own and not (own["__hash__"] is None and "__eq__" in own)
    cls = dataclass(frozen=True, repr=False, eq=False)(cls)
    every = fields(cls)
    if "__repr__" not in own:
        _set(cls, "__repr__", _repr([f.name for f in every if f.repr]))
    if "__eq__" not in own:
        _set(cls, "__eq__", _eq(_key([f.name for f in every if f.compare])))
    if not explicit_hash:
        _set(cls, "__hash__", _hash(_key([f.name for f in every if (f.compare if f.hash is None else f.hash)])))
    return cls


def _set(cls: type, name: str, function: Callable[..., Any]) -> None:
    function.__qualname__ = f"{cls.__qualname__}.{name}"
    function.__module__ = cls.__module__
    setattr(cls, name, function)


def _key(names: list[str]) -> Callable[[Any], tuple[Any, ...]]:
    if not names:
        return lambda obj: ()
    if len(names) == 1:
        get = attrgetter(names[0])
        return lambda obj: (get(obj),)
    return attrgetter(*names)


def _repr(names: list[str]) -> Callable[[Any], str]:
    getters = [(name, attrgetter(name)) for name in names]

    @recursive_repr()
    def __repr__(self: Any) -> str:
        return f"{self.__class__.__qualname__}({', '.join(f'{name}={get(self)!r}' for name, get in getters)})"

    return __repr__


def _eq(key: Callable[[Any], tuple[Any, ...]]) -> Callable[[Any, Any], Any]:
    def __eq__(self: Any, other: Any) -> Any:
        if other.__class__ is self.__class__:
            return key(self) == key(other)
        return NotImplemented

    return __eq__


def _hash(key: Callable[[Any], tuple[Any, ...]]) -> Callable[[Any], int]:
    def __hash__(self: Any) -> int:
        return hash(key(self))

    return __hash__
