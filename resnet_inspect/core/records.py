"""``@record``: ``@dataclass(frozen=True)`` without compiling source for every class.

A dataclass writes each generated method as source and compiles it: six ``exec`` calls for a frozen
one (``__init__``, ``__repr__``, ``__eq__``, ``__hash__``, ``__setattr__``, ``__delattr__``), and
``inspect.signature`` for a class without a docstring. The trace path defines some 40 record types
at import, 25-40 ms of every command's start-up (issue 16). ``record`` writes the same class
itself: ``__repr__``, ``__eq__``, ``__hash__``, ``__setattr__`` and ``__delattr__`` are closures
over the fields, and ``__init__`` is one compiled template per number of fields, renamed for the
class (``CodeType.replace``, no compiling), so a class costs a few microseconds. The fields are
real ``dataclasses.Field`` objects in ``__dataclass_fields__``, so ``dataclasses.fields``,
``replace``, ``asdict`` and ``is_dataclass`` work as before, and so do equality, hashing, the
repr (``Window(kernel=3, stride=2, padding=0)``) and ``FrozenInstanceError``. A class the template
does not cover (a ``default_factory``, an ``init=False`` field, a field after a default without
one) is handed to ``dataclass`` itself, which writes ``__init__`` and reports such errors.
"""

from __future__ import annotations

import dataclasses
from dataclasses import MISSING, Field, FrozenInstanceError, dataclass
from operator import attrgetter
from reprlib import recursive_repr
from types import FunctionType
from typing import Any, Callable, TypeVar

T = TypeVar("T", bound=type)

_FIELD = dataclasses._FIELD  # type: ignore[attr-defined]
_CLASSVAR = dataclasses._FIELD_CLASSVAR  # type: ignore[attr-defined]
_SET = object.__setattr__


def record(cls: T | None = None, *, repr: bool = True) -> Any:
    """``@dataclass(frozen=True)`` for a class, defined more cheaply (same methods, same results);
    ``@record(repr=False)`` as ``@dataclass(frozen=True, repr=False)`` keeps an inherited repr."""
    if cls is None:
        return lambda later: record(later, repr=repr)
    own = cls.__dict__
    if own.get("__doc__") is None:  # dataclass would call inspect.signature to write one
        names = [n for n, kind in own.get("__annotations__", {}).items() if "ClassVar" not in str(kind)]
        cls.__doc__ = f"{cls.__name__}({', '.join(names)})"
    explicit_hash = "__hash__" in own and not (own["__hash__"] is None and "__eq__" in own)
    every = _fields(cls)
    if every is None:  # a case the template does not cover: dataclass writes __init__ (and its errors)
        cls = dataclass(frozen=True, repr=False, eq=False)(cls)
        every = dataclasses.fields(cls)
    else:
        _frozen(cls, every)
    if repr and "__repr__" not in own:
        _set(cls, "__repr__", _repr([f.name for f in every if f.repr]))
    if "__eq__" not in own:
        _set(cls, "__eq__", _eq(_key([f.name for f in every if f.compare])))
    if not explicit_hash:
        _set(cls, "__hash__", _hash(_key([f.name for f in every if (f.compare if f.hash is None else f.hash)])))
    return cls


def _fields(cls: type) -> list[Field] | None:  # type: ignore[type-arg]
    """The class's fields, as ``dataclass`` collects them (bases first, then its own annotations),
    stored on the class with their defaults; None when ``dataclass`` must do it."""
    collected: dict[str, Field] = {}  # type: ignore[type-arg]
    for base in cls.__mro__[-1:0:-1]:
        base_fields = base.__dict__.get("__dataclass_fields__")
        if base_fields is not None:
            collected.update(base_fields)
    own = cls.__dict__
    defaults: dict[str, Any] = {}
    for name, kind in own.get("__annotations__", {}).items():
        default = own.get(name, MISSING)
        if isinstance(default, Field):
            if default.default_factory is not MISSING or not default.init:
                return None
            made = default
        else:
            made = dataclasses.field(default=default)
        made.name, made.type = name, kind
        if "ClassVar" in str(kind):
            made._field_type = _CLASSVAR  # type: ignore[attr-defined]
        else:
            made._field_type = _FIELD  # type: ignore[attr-defined]
            if made.default is not MISSING and made.default.__class__.__hash__ is None:
                return None  # a mutable default: dataclass raises its ValueError
        if hasattr(made, "kw_only"):
            made.kw_only = False  # type: ignore[attr-defined]
        collected[name] = made
        if isinstance(default, Field):
            defaults[name] = default.default
    every = [f for f in collected.values() if f._field_type is _FIELD]  # type: ignore[attr-defined]
    seen_default = False
    for f in every:
        if f.default_factory is not MISSING or not f.init or f.name in ("self", "_set") or f.name.startswith("__"):
            return None
        if f.default is not MISSING:
            seen_default = True
        elif seen_default:
            return None  # "non-default argument follows default argument": dataclass says so
    for name, value in defaults.items():  # as dataclass does: the Field gives way to its default
        if value is MISSING:
            delattr(cls, name)
        else:
            setattr(cls, name, value)
    cls.__dataclass_fields__ = collected  # type: ignore[attr-defined]
    cls.__dataclass_params__ = _PARAMS  # type: ignore[attr-defined]
    return every


def _params() -> Any:
    """``__dataclass_params__`` of a frozen dataclass (its constructor's arguments vary by Python)."""
    try:
        return dataclasses._DataclassParams(True, True, True, False, False, True)  # type: ignore[attr-defined]
    except TypeError:  # Python 3.12+: match_args, kw_only, slots, weakref_slot follow
        return dataclasses._DataclassParams(True, True, True, False, False, True, True, False, False, False)  # type: ignore[attr-defined]


_PARAMS = _params()


def _frozen(cls: type, every: list[Field]) -> None:  # type: ignore[type-arg]
    """``__init__``, ``__setattr__``, ``__delattr__`` and ``__match_args__`` of a frozen dataclass."""
    own = cls.__dict__
    names = tuple(f.name for f in every)
    if "__init__" not in own:
        _set(cls, "__init__", _init(cls, every))
    for name in ("__setattr__", "__delattr__"):
        if name in own:
            raise TypeError(f"Cannot overwrite attribute {name} in class {cls.__name__}")
    field_names = frozenset(names)

    def __setattr__(self: Any, name: str, value: Any) -> None:
        if type(self) is cls or name in field_names:
            raise FrozenInstanceError(f"cannot assign to field {name!r}")
        super(cls, self).__setattr__(name, value)

    def __delattr__(self: Any, name: str) -> None:
        if type(self) is cls or name in field_names:
            raise FrozenInstanceError(f"cannot delete field {name!r}")
        super(cls, self).__delattr__(name)

    _set(cls, "__setattr__", __setattr__)
    _set(cls, "__delattr__", __delattr__)
    if "__match_args__" not in own:
        cls.__match_args__ = names  # type: ignore[attr-defined]


# The templates: ``__init__`` for 0 to 16 fields, written out so that their code comes compiled
# from this module's .pyc (an ``exec`` costs ~0.1 ms); ``"\0f0"`` and ``_p0`` are renamed per class.
# fmt: off
def _init0(self): pass
def _init1(self, _p0): _SET(self, "\0f0", _p0)
def _init2(self, _p0, _p1): _SET(self, "\0f0", _p0); _SET(self, "\0f1", _p1)
def _init3(self, _p0, _p1, _p2): _SET(self, "\0f0", _p0); _SET(self, "\0f1", _p1); _SET(self, "\0f2", _p2)
def _init4(self, _p0, _p1, _p2, _p3): _SET(self, "\0f0", _p0); _SET(self, "\0f1", _p1); _SET(self, "\0f2", _p2); _SET(self, "\0f3", _p3)
def _init5(self, _p0, _p1, _p2, _p3, _p4): _SET(self, "\0f0", _p0); _SET(self, "\0f1", _p1); _SET(self, "\0f2", _p2); _SET(self, "\0f3", _p3); _SET(self, "\0f4", _p4)
def _init6(self, _p0, _p1, _p2, _p3, _p4, _p5): _SET(self, "\0f0", _p0); _SET(self, "\0f1", _p1); _SET(self, "\0f2", _p2); _SET(self, "\0f3", _p3); _SET(self, "\0f4", _p4); _SET(self, "\0f5", _p5)
def _init7(self, _p0, _p1, _p2, _p3, _p4, _p5, _p6): _SET(self, "\0f0", _p0); _SET(self, "\0f1", _p1); _SET(self, "\0f2", _p2); _SET(self, "\0f3", _p3); _SET(self, "\0f4", _p4); _SET(self, "\0f5", _p5); _SET(self, "\0f6", _p6)
def _init8(self, _p0, _p1, _p2, _p3, _p4, _p5, _p6, _p7): _SET(self, "\0f0", _p0); _SET(self, "\0f1", _p1); _SET(self, "\0f2", _p2); _SET(self, "\0f3", _p3); _SET(self, "\0f4", _p4); _SET(self, "\0f5", _p5); _SET(self, "\0f6", _p6); _SET(self, "\0f7", _p7)
def _init9(self, _p0, _p1, _p2, _p3, _p4, _p5, _p6, _p7, _p8): _SET(self, "\0f0", _p0); _SET(self, "\0f1", _p1); _SET(self, "\0f2", _p2); _SET(self, "\0f3", _p3); _SET(self, "\0f4", _p4); _SET(self, "\0f5", _p5); _SET(self, "\0f6", _p6); _SET(self, "\0f7", _p7); _SET(self, "\0f8", _p8)
def _init10(self, _p0, _p1, _p2, _p3, _p4, _p5, _p6, _p7, _p8, _p9): _SET(self, "\0f0", _p0); _SET(self, "\0f1", _p1); _SET(self, "\0f2", _p2); _SET(self, "\0f3", _p3); _SET(self, "\0f4", _p4); _SET(self, "\0f5", _p5); _SET(self, "\0f6", _p6); _SET(self, "\0f7", _p7); _SET(self, "\0f8", _p8); _SET(self, "\0f9", _p9)
def _init11(self, _p0, _p1, _p2, _p3, _p4, _p5, _p6, _p7, _p8, _p9, _p10): _SET(self, "\0f0", _p0); _SET(self, "\0f1", _p1); _SET(self, "\0f2", _p2); _SET(self, "\0f3", _p3); _SET(self, "\0f4", _p4); _SET(self, "\0f5", _p5); _SET(self, "\0f6", _p6); _SET(self, "\0f7", _p7); _SET(self, "\0f8", _p8); _SET(self, "\0f9", _p9); _SET(self, "\0f10", _p10)
def _init12(self, _p0, _p1, _p2, _p3, _p4, _p5, _p6, _p7, _p8, _p9, _p10, _p11): _SET(self, "\0f0", _p0); _SET(self, "\0f1", _p1); _SET(self, "\0f2", _p2); _SET(self, "\0f3", _p3); _SET(self, "\0f4", _p4); _SET(self, "\0f5", _p5); _SET(self, "\0f6", _p6); _SET(self, "\0f7", _p7); _SET(self, "\0f8", _p8); _SET(self, "\0f9", _p9); _SET(self, "\0f10", _p10); _SET(self, "\0f11", _p11)
def _init13(self, _p0, _p1, _p2, _p3, _p4, _p5, _p6, _p7, _p8, _p9, _p10, _p11, _p12): _SET(self, "\0f0", _p0); _SET(self, "\0f1", _p1); _SET(self, "\0f2", _p2); _SET(self, "\0f3", _p3); _SET(self, "\0f4", _p4); _SET(self, "\0f5", _p5); _SET(self, "\0f6", _p6); _SET(self, "\0f7", _p7); _SET(self, "\0f8", _p8); _SET(self, "\0f9", _p9); _SET(self, "\0f10", _p10); _SET(self, "\0f11", _p11); _SET(self, "\0f12", _p12)
def _init14(self, _p0, _p1, _p2, _p3, _p4, _p5, _p6, _p7, _p8, _p9, _p10, _p11, _p12, _p13): _SET(self, "\0f0", _p0); _SET(self, "\0f1", _p1); _SET(self, "\0f2", _p2); _SET(self, "\0f3", _p3); _SET(self, "\0f4", _p4); _SET(self, "\0f5", _p5); _SET(self, "\0f6", _p6); _SET(self, "\0f7", _p7); _SET(self, "\0f8", _p8); _SET(self, "\0f9", _p9); _SET(self, "\0f10", _p10); _SET(self, "\0f11", _p11); _SET(self, "\0f12", _p12); _SET(self, "\0f13", _p13)
def _init15(self, _p0, _p1, _p2, _p3, _p4, _p5, _p6, _p7, _p8, _p9, _p10, _p11, _p12, _p13, _p14): _SET(self, "\0f0", _p0); _SET(self, "\0f1", _p1); _SET(self, "\0f2", _p2); _SET(self, "\0f3", _p3); _SET(self, "\0f4", _p4); _SET(self, "\0f5", _p5); _SET(self, "\0f6", _p6); _SET(self, "\0f7", _p7); _SET(self, "\0f8", _p8); _SET(self, "\0f9", _p9); _SET(self, "\0f10", _p10); _SET(self, "\0f11", _p11); _SET(self, "\0f12", _p12); _SET(self, "\0f13", _p13); _SET(self, "\0f14", _p14)
def _init16(self, _p0, _p1, _p2, _p3, _p4, _p5, _p6, _p7, _p8, _p9, _p10, _p11, _p12, _p13, _p14, _p15): _SET(self, "\0f0", _p0); _SET(self, "\0f1", _p1); _SET(self, "\0f2", _p2); _SET(self, "\0f3", _p3); _SET(self, "\0f4", _p4); _SET(self, "\0f5", _p5); _SET(self, "\0f6", _p6); _SET(self, "\0f7", _p7); _SET(self, "\0f8", _p8); _SET(self, "\0f9", _p9); _SET(self, "\0f10", _p10); _SET(self, "\0f11", _p11); _SET(self, "\0f12", _p12); _SET(self, "\0f13", _p13); _SET(self, "\0f14", _p14); _SET(self, "\0f15", _p15)
# fmt: on
_TEMPLATES: dict[int, Any] = {n: f.__code__ for n, f in enumerate((
    _init0, _init1, _init2, _init3, _init4, _init5, _init6, _init7, _init8, _init9, _init10, _init11, _init12, _init13, _init14, _init15, _init16))}
_INIT_GLOBALS = {"_SET": _SET, "__builtins__": __builtins__}


def _init(cls: type, every: list[Field]) -> Callable[..., None]:  # type: ignore[type-arg]
    """The dataclass ``__init__``: the template for this many fields, its names and constants renamed."""
    n = len(every)
    template = _TEMPLATES.get(n)
    if template is None:  # more fields than the written-out templates: compiled once per count
        body = "; ".join(f'_SET(self, "\\0f{i}", _p{i})' for i in range(n))
        scope: dict[str, Any] = {}
        exec(f"def __init__(self{''.join(f', _p{i}' for i in range(n))}): {body}", _INIT_GLOBALS, scope)
        template = _TEMPLATES[n] = scope["__init__"].__code__
    names = [f.name for f in every]
    rename = {f"\0f{i}": name for i, name in enumerate(names)}
    changes: dict[str, Any] = {
        "co_varnames": ("self", *names),
        "co_consts": tuple(rename.get(c, c) if type(c) is str else c for c in template.co_consts),
    }
    if hasattr(template, "co_qualname"):
        changes["co_qualname"] = f"{cls.__qualname__}.__init__"
    defaults = tuple(f.default for f in every if f.default is not MISSING) or None
    init = FunctionType(template.replace(**changes), _INIT_GLOBALS, "__init__", defaults)
    init.__annotations__ = {**{f.name: f.type for f in every}, "return": None}
    return init


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
