"""@record is @dataclass(frozen=True) with cheaper definition (issue 16): same fields, init, repr,
equality, hashing, immutability and dataclasses helpers, checked side by side."""

from __future__ import annotations

import dataclasses
from dataclasses import FrozenInstanceError, dataclass, field
from typing import ClassVar

import pytest

from resnet_inspect.core.records import record


def pair():
    """The same class twice: once a frozen dataclass (the reference), once a record."""
    made = []
    for decorate in (dataclass(frozen=True), record):
        @decorate
        class Base:
            kind: ClassVar[str] = "base"
            a: int
            b: tuple = ()
            hidden: object = field(default=None, compare=False, repr=False)

        @decorate
        class Child(Base):
            c: str = "x"

        made.append((Base, Child))
    return made


def test_record_behaves_as_a_frozen_dataclass():
    (RefBase, RefChild), (Base, Child) = pair()
    for ref, rec in ((RefBase(1, (2,), "h"), Base(1, (2,), "h")), (RefChild(1, (), None, "y"), Child(1, (), None, "y"))):
        assert repr(rec).split("(", 1)[1] == repr(ref).split("(", 1)[1]
        assert [f.name for f in dataclasses.fields(rec)] == [f.name for f in dataclasses.fields(ref)]
        assert dataclasses.asdict(rec) == dataclasses.asdict(ref)
        assert dataclasses.replace(rec, a=5).a == 5 and dataclasses.replace(rec, a=5) != rec
        assert rec == dataclasses.replace(rec, hidden="other")  # compare=False is left out of ==
        assert hash(rec) == hash(dataclasses.replace(rec, hidden="other"))
        assert hash(rec) == hash(ref)  # both hash the tuple of compared fields
        with pytest.raises(FrozenInstanceError):
            rec.a = 2
        with pytest.raises(FrozenInstanceError):
            del rec.a
    assert Base(1) != Child(1) and Base(1).__eq__(Child(1)) is NotImplemented
    assert Child.__match_args__ == RefChild.__match_args__


def test_the_hot_types_are_records_that_keep_their_own_repr():
    from resnet_inspect import load_graph
    from resnet_inspect.model.ops import Conv2D, Window

    graph = load_graph("resnet50")
    assert repr(Window(3, 2, 1)) == "Window(kernel=3, stride=2, padding=1)"
    conv = next(layer.op for layer in graph if isinstance(layer.op, Conv2D))
    assert conv == dataclasses.replace(conv) and hash(conv) == hash(dataclasses.replace(conv))
    assert repr(conv).startswith("Conv2D(")
    assert len(repr(graph)) < 300 and len(repr(graph.spec)) < 300  # their own one-line reprs stay


def test_record_init_matches_the_dataclass_one():
    """``__init__`` comes from a shared template renamed per class: same signature, same defaults,
    same errors; the cases the template leaves to ``dataclass`` (a default_factory, a field after
    a default, a mutable default) behave as they do there."""
    import inspect

    (RefBase, RefChild), (Base, Child) = pair()
    for ref, rec in ((RefBase, Base), (RefChild, Child)):
        assert str(inspect.signature(rec)) == str(inspect.signature(ref))
        assert dataclasses.is_dataclass(rec) and rec.b == ref.b == ()
    assert vars(Child(b=(1,), a=2)) == vars(RefChild(b=(1,), a=2))
    with pytest.raises(TypeError):
        Child()
    with pytest.raises(TypeError):
        Child(1, 2, 3, 4, 5)

    @record
    class Listed:
        items: list = field(default_factory=list)

    assert Listed().items == [] and Listed().items is not Listed().items
    with pytest.raises(TypeError):
        record(type("Bad", (), {"__annotations__": {"a": "int", "b": "int"}, "a": 1}))
    with pytest.raises(ValueError):
        record(type("Mutable", (), {"__annotations__": {"a": "list"}, "a": []}))


def test_records_of_many_fields():
    """Up to 16 fields the ``__init__`` template comes from the module; more are compiled once."""
    for count in (0, 1, 16, 17, 30):
        names = [f"f{i}" for i in range(count)]
        cls = record(type(f"R{count}", (), {"__annotations__": {n: "int" for n in names}, "__module__": __name__}))
        ref = dataclass(frozen=True)(type(f"R{count}", (), {"__annotations__": {n: "int" for n in names}}))
        made = cls(*range(count))
        assert vars(made) == vars(ref(*range(count))) and made == cls(**{n: i for i, n in enumerate(names)})
