"""Records: one remote object of either side, reduced to the rules' fields, plus wire-path helpers."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from rules.model import Side

# QuickBooks appends this to the name of an inactive name-list record. Values are compared without
# it: a deactivation must never look like a rename to the other side.
DELETED_SUFFIX = " (deleted)"


@dataclass(slots=True)
class Record:
    """A remote record as the engine sees it.

    `values` holds canonical values keyed by the rules' field names; `version` is what a write must
    be checked against (QuickBooks `SyncToken`, Precoro `updateDate`); `raw` keeps the few parts of
    the wire JSON the engine still needs (nested QuickBooks objects, Precoro's freeOfCharge).
    """

    side: Side
    kind: str  # "supplier", "item"
    id: str
    version: str
    active: bool
    values: dict[str, Any]
    updated_at: str | None = None  # ISO timestamp of the last change, for `newest_wins`
    currencies: tuple[str, ...] = ()  # every currency the record trades in (S7)
    raw: dict = field(default_factory=dict, repr=False)

    @property
    def label(self) -> str:
        name = self.values.get("name")
        return str(name) if name not in (None, "") else f"{self.side} #{self.id}"


@lru_cache(maxsize=None)
def _segments(path: str) -> tuple[tuple[str, bool], ...]:
    # Parsed once per path: a large plan reads millions of values through a dozen paths.
    return tuple((seg[:-2], True) if seg.endswith("[]") else (seg, False) for seg in path.split("."))


def _unwrap(value: Any) -> Any:
    # Precoro embeds lists as {"data": [...]}; rule paths skip that wrapper.
    if isinstance(value, dict) and "data" in value and isinstance(value["data"], list):
        return value["data"]
    return value


def get_path(obj: Any, path: str) -> Any:
    """Read `path` (`BillAddr.City`, `contacts[].email`) from wire JSON; missing -> None.

    A `[]` segment maps the rest of the path over every element, giving a list.
    """
    if "[]" not in path:
        for name in path.split(".") if "." in path else (path,):
            if not isinstance(obj, dict):
                return None
            obj = obj.get(name)
        return obj
    return _get(obj, _segments(path))


def _get(obj: Any, segments: tuple[tuple[str, bool], ...]) -> Any:
    if not segments:
        return obj
    (name, is_list), rest = segments[0], segments[1:]
    if not isinstance(obj, dict):
        return None
    value = obj.get(name)
    if is_list:
        items = _unwrap(value) or []
        out = [_get(item, rest) for item in items if isinstance(item, dict)]
        return [v for v in out if v is not None]
    return _get(value, rest)


def set_path(obj: dict, path: str, value: Any) -> None:
    """Write a scalar at a dotted path, creating nested objects (`BillAddr.City` -> {"BillAddr": {...}})."""
    names = path.split(".")
    if any(name.endswith("[]") for name in names):
        raise ValueError(f"cannot set list path {path!r} as a scalar")
    for name in names[:-1]:
        obj = obj.setdefault(name, {})
    obj[names[-1]] = value


def is_list_path(path: str) -> bool:
    return "[]" in path
