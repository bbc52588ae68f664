"""Plain data classes for the types a run creates at import time.

`@dataclass` writes the source of every method it adds and compiles it when
the class statement runs: about half a millisecond a class on CPython 3.11,
which over the classes a run imports came to a tenth of pynmap's start-up.
Those classes are plain classes instead.  Each one names its fields, in
order, in `__match_args__` (as a dataclass does, so `match` patterns work),
uses that tuple as its `__slots__`, and writes its own `__init__` (which
takes every field by name); from the bases here it gets a dataclass's
field-wise `==` and repr, and `replace()` copies it with changes.

`FrozenData` is for values: they are never changed after `__init__`, and
they hash by their fields, like a frozen dataclass.  `PlainData` is for
mutable records: equal by their fields, unhashable, like a dataclass with
the default `eq=True`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar, TypeVar

_Data = TypeVar("_Data", bound="PlainData")


class PlainData:
    __slots__ = ()
    __match_args__: tuple[str, ...] = ()

    def _field_values(self) -> tuple[object, ...]:
        return tuple([getattr(self, name) for name in self.__match_args__])

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        assert isinstance(other, PlainData)
        return self._field_values() == other._field_values()

    # None makes instances unhashable (Python's own idiom, as eq=True does to a
    # dataclass); typeshed types object.__hash__ as always a method, hence the
    # ignore.  The annotation lets FrozenData and others define a real one.
    __hash__: ClassVar[Callable[[object], int] | None] = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.__match_args__)
        return f"{self.__class__.__qualname__}({fields})"


class FrozenData(PlainData):
    __slots__ = ()

    def __hash__(self) -> int:
        return hash(self._field_values())


def replace(obj: _Data, /, **changes: object) -> _Data:
    """A copy of `obj` with some fields changed, as dataclasses.replace() makes one."""
    fields = {name: getattr(obj, name) for name in obj.__match_args__}
    fields.update(changes)
    return obj.__class__(**fields)
