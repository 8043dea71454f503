"""Handling a few hundred thousand records at once in Python: JSON through orjson (several times
faster than the standard library both ways), and the cyclic garbage collector kept out of the way
while a large graph of objects is built.

CPython's cyclic collector runs every 700 allocations and, now and then, walks every object still
alive: building a 100,000-record plan set it off tens of thousands of times, and it was a quarter
of the plan's time (and two thirds of loading a saved one). Records, actions and plans hold no
reference cycles, so reference counting frees them anyway.
"""

from __future__ import annotations

import gc
import zlib
from contextlib import contextmanager
from typing import Any, Iterator, Mapping

import orjson


def _default(value: Any) -> Any:
    """What JSON has no type for: a mapping that is not a dict (plan.SideValues) as a dict; dates,
    Decimals and the rest as str."""
    return dict(value) if isinstance(value, Mapping) else str(value)


def dumps(value: Any, *, sort_keys: bool = False) -> str:
    """JSON text; non-ASCII kept as is, values JSON has no type for (dates, Decimals) written as str."""
    option = orjson.OPT_NON_STR_KEYS | (orjson.OPT_SORT_KEYS if sort_keys else 0)
    return orjson.dumps(value, default=_default, option=option).decode()


def loads(text: str | bytes) -> Any:
    return orjson.loads(text)


def packed(value: Any) -> bytes:
    """JSON, compressed: a saved plan's pages of actions, mostly the same keys over and over, take
    about a twentieth of their text (a first plan at 100,000 records: 5 MB, not 100)."""
    return zlib.compress(orjson.dumps(value, default=_default, option=orjson.OPT_NON_STR_KEYS), 3)


def unpacked(data: bytes | str) -> Any:
    """What `packed` packed; JSON text (as pages were saved before they were packed) as it is."""
    return orjson.loads(zlib.decompress(data) if isinstance(data, bytes) else data)


class Packed(Mapping):
    """A read-only JSON object kept as its text and decoded on each access: for a part of a record
    that most plans never look at (a QuickBooks vendor's address objects, read only to write an
    update around them). As dicts they were about a kilobyte a record: 100 MB at 100,000 vendors."""

    __slots__ = ("_text",)

    def __init__(self, value: Mapping[str, Any]) -> None:
        # As str: the bytes orjson returns keep the whole buffer it wrote into (about 4 KB each).
        self._text = orjson.dumps(value).decode()

    def _value(self) -> dict[str, Any]:
        return orjson.loads(self._text)

    def __getitem__(self, key: str) -> Any:
        return self._value()[key]

    def get(self, key: str, default: Any = None) -> Any:
        return self._value().get(key, default)

    def __iter__(self) -> Iterator[str]:
        return iter(self._value())

    def __len__(self) -> int:
        return len(self._value())

    def __repr__(self) -> str:
        return repr(self._value())


@contextmanager
def rare_gc() -> Iterator[None]:
    """Collect cycles rarely during a bulk step (see the module's docstring); nests.

    Not off: an HTTP client's requests leave small cycles behind (retry state), and a plan's reads
    make thousands of them; young collections still free those."""
    before = gc.get_threshold()
    gc.set_threshold(100_000, 50, 1_000)
    try:
        yield
    finally:
        gc.set_threshold(*before)
