"""Records: one remote object of either side, reduced to the rules' fields; and wire paths into JSON.

A field's value is held in its canonical form (the same whichever side it was read from), through
the rules' path and transform for that side. Reference fields (an item's supplier, its account)
are canonical in QuickBooks terms and need the links to translate a Precoro id (`References`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Callable, Mapping

from rules.model import EntityRules, FieldRule, Side
from rules.transforms import REFERENCE_TRANSFORMS, TRANSFORMS, canonical_scalar

from .bulk import Packed
from .references import References

# QuickBooks appends this to the name of an inactive name-list record. Values are compared without
# it: a deactivation must never look like a rename to the other side.
DELETED_SUFFIX = " (deleted)"


@dataclass(slots=True)
class Record:
    """A remote record as the engine sees it.

    `values` holds canonical values keyed by the rules' field names; `version` is what a write must
    be checked against (QuickBooks `SyncToken`, Precoro `updateDate`); `raw` keeps the few parts of
    the wire JSON the engine still needs (nested QuickBooks objects, Precoro's freeOfCharge).
    `origin` is a Precoro record's `externalId`: the QuickBooks id it was created from, if any.
    """

    side: Side
    kind: str  # the entity's kind: "supplier", "item", "account", ...
    id: str
    version: str
    active: bool
    values: dict[str, Any]
    updated_at: str | None = None  # ISO timestamp of the last change, for `newest_wins`
    currencies: tuple[str, ...] = ()  # every currency the record trades in (S7)
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False)
    origin: str | None = None

    @property
    def label(self) -> str:
        name = self.values.get("name")
        return str(name) if name not in (None, "") else f"{self.side} #{self.id}"


# -- wire paths -------------------------------------------------------------------------------------


# One step of a path: `name`, `name[]` (every element) or `name[key=value]` (the element whose
# `key`, itself a path, equals `value`: a custom field chosen by its name, D5).
_STEP = re.compile(r"([^.\[]+)(\[(?:([^=\]]+)=([^\]]*))?\])?")


@lru_cache(maxsize=None)
def _segments(path: str) -> tuple[tuple[str, str, tuple[str, str] | None], ...]:
    # Parsed once per path: a large plan reads millions of values through a dozen paths.
    steps = []
    for match in _STEP.finditer(path):
        name, brackets, key, wanted = match.groups()
        kind = "" if not brackets else "every" if key is None else "one"
        steps.append((name, kind, (key, wanted) if key is not None else None))
    return tuple(steps)


def _unwrap(value: Any) -> Any:
    # Precoro embeds lists as {"data": [...]}; rule paths skip that wrapper.
    if isinstance(value, dict) and "data" in value and isinstance(value["data"], list):
        return value["data"]
    return value


def _chosen(items: Any, selector: tuple[str, str]) -> Any:
    key, wanted = selector
    for item in _unwrap(items) or []:
        if isinstance(item, dict) and str(get_path(item, key)) == wanted:
            return item
    return None


def get_path(obj: Any, path: str) -> Any:
    """Read `path` (`BillAddr.City`, `contacts[].email`) from wire JSON; missing -> None.

    A `[]` segment maps the rest of the path over every element, giving a list; a `[key=value]`
    segment goes on in the element whose `key` is `value`
    (`dataDocumentCustomFields[documentCustomField.name=Project].value`).
    """
    return _getter(path)(obj)


def _get(obj: Any, segments: tuple) -> Any:
    if not segments:
        return obj
    (name, kind, selector), rest = segments[0], segments[1:]
    if not isinstance(obj, dict):
        return None
    value = obj.get(name)
    if kind == "every":
        items = _unwrap(value) or []
        out = [_get(item, rest) for item in items if isinstance(item, dict)]
        return [v for v in out if v is not None]
    if kind == "one":
        return _get(_chosen(value, selector), rest)
    return _get(value, rest)


def set_path(obj: dict, path: str, value: Any) -> None:
    """Write a scalar at a dotted path, creating nested objects (`BillAddr.City` -> {"BillAddr": {...}});
    a `[key=value]` step writes into that element of a list, made if missing
    (`CustomField[DefinitionId=1].StringValue`)."""
    steps = _segments(path)
    if any(kind == "every" for _, kind, _ in steps):
        raise ValueError(f"cannot set list path {path!r} as a scalar")
    for name, kind, selector in steps[:-1]:
        if kind == "one":
            assert selector is not None
            items = obj.setdefault(name, [])
            element = _chosen(items, selector)
            if element is None:
                element = {}
                set_path(element, selector[0], selector[1])
                items.append(element)
            obj = element
        else:
            obj = obj.setdefault(name, {})
    obj[steps[-1][0]] = value


def is_list_path(path: str) -> bool:
    return "[]" in path


# -- canonical values ----------------------------------------------------------------------------------


def to_canonical(rule: FieldRule, side: Side, raw_value: Any, refs: References | None = None) -> Any:
    if rule.transform in REFERENCE_TRANSFORMS:
        return (refs or References()).canonical(rule.transform, side, raw_value)
    if rule.transform:
        return TRANSFORMS[rule.transform].to_canonical(side, raw_value)
    return canonical_scalar(raw_value)


def from_canonical(rule: FieldRule, side: Side, value: Any) -> Any:
    if rule.transform and rule.transform in TRANSFORMS:
        return TRANSFORMS[rule.transform].from_canonical(side, value)
    return value


def _strip_deleted(value: Any) -> Any:
    if isinstance(value, str) and value.endswith(DELETED_SUFFIX):
        return value[: -len(DELETED_SUFFIX)]
    return value


@lru_cache(maxsize=None)
def _getter(path: str) -> Callable[[Any], Any]:
    """`get_path(obj, path)` for one path, its parsing done once: a large plan reads millions of
    values through a few dozen paths."""
    if "[" in path:
        segments = _segments(path)
        return lambda obj: _get(obj, segments)
    if "." not in path:
        return lambda obj: obj.get(path) if isinstance(obj, dict) else None
    names = tuple(path.split("."))

    def get(obj: Any) -> Any:
        for name in names:
            if not isinstance(obj, dict):
                return None
            obj = obj.get(name)
        return obj
    return get


def _converter(rule: FieldRule, side: Side, refs: References | None) -> Callable[[Any], Any]:
    """`to_canonical(rule, side, value, refs)` with the rule's transform looked up once."""
    if rule.transform in REFERENCE_TRANSFORMS:
        refs, transform = refs or References(), rule.transform
        return lambda value: refs.canonical(transform, side, value)
    if rule.transform:
        to_canonical = TRANSFORMS[rule.transform].to_canonical
        return lambda value: to_canonical(side, value)
    return canonical_scalar


def quickbooks_reader(kind: str, name_path: str, rules: EntityRules,
                      refs: References | None = None) -> Callable[[Mapping[str, Any]], Record]:
    """Wire JSON -> Record for QuickBooks records of one entity: each field's path and transform
    prepared once for the few hundred thousand records a large plan reads."""
    fields = [(rule.name, _getter(rule.quickbooks), _converter(rule, "quickbooks", refs), rule.quickbooks == name_path)
              for rule in rules.fields]
    currency_of, updated_of = _getter("CurrencyRef.value"), _getter("MetaData.LastUpdatedTime")
    # Only the nested objects a rule writes into: a sparse update must send them whole. Keeping
    # every wire object would cost most of a large plan's memory.
    tops = nested_tops(rules)

    def read(raw: Mapping[str, Any]) -> Record:
        active = raw.get("Active", True) is not False
        values = {}
        for name, get, convert, is_name in fields:
            value = get(raw)
            if is_name and not active:
                value = _strip_deleted(value)
            values[name] = convert(value)
        currency = currency_of(raw)
        return Record(side="quickbooks", kind=kind, id=str(raw["Id"]), version=str(raw.get("SyncToken", "")),
                      active=active, values=values, updated_at=updated_of(raw), currencies=(currency,) if currency else (),
                      raw=Packed({top: raw[top] for top in tops if isinstance(raw.get(top), dict)}) if tops else {})
    return read


def precoro_reader(kind: str, rules: EntityRules, refs: References | None = None) -> Callable[[Mapping[str, Any]], Record]:
    """Wire JSON -> Record for Precoro records of one entity (see quickbooks_reader)."""
    fields = [(rule.name, _getter(rule.precoro), _converter(rule, "precoro", refs)) for rule in rules.fields]

    def read(raw: Mapping[str, Any]) -> Record:
        return Record(
            side="precoro",
            kind=kind,
            id=str(raw["id"]),
            version=str(raw.get("updateDate") or ""),
            active=raw.get("enable", True) not in (False, 0, "0", "false"),
            values={name: convert(get(raw)) for name, get, convert in fields},
            updated_at=raw.get("updateDate"),
            currencies=_precoro_currencies(raw),
            raw={"freeOfCharge": raw.get("freeOfCharge")} if "freeOfCharge" in raw else {},  # I7
            origin=str(raw["externalId"]) if raw.get("externalId") not in (None, "") else None,
        )
    return read


def nested_tops(rules: EntityRules) -> frozenset[str]:
    """The QuickBooks objects the rules write into (`BillAddr`): sent whole by a sparse update."""
    return rules.quickbooks_objects


def _precoro_currencies(raw: Mapping[str, Any]) -> tuple[str, ...]:
    found: list[str] = []
    for entry in [raw.get("currency"), *(raw.get("currencies") or [])]:
        code = entry.get("code") if isinstance(entry, dict) else entry
        if code and code not in found:
            found.append(code)
    return tuple(found)
