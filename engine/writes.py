"""Writes: the exact request of an action, built when the plan is made and sent as it is by apply.

Planning turns canonical field values into wire values through the rules (paths, transforms,
references) once; what the plan saves is the request itself (`plan.Write`). Apply puts a request
together from it (a QuickBooks body, a Precoro form) without the rules: only the ids of records
created earlier in the same apply are filled in (`{"$created": <action id>}` placeholders).
"""

from __future__ import annotations

import copy
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping

from rules.model import EntityRules, FieldRule, Side, other_side
from rules.transforms import REFERENCE_TRANSFORMS

from .plan import Action, Write
from .records import from_canonical, is_list_path, set_path
from .references import REFERENCED_SECTION, References, placeholder_of


class Unresolved(Exception):
    """A placeholder whose record was not created (its action failed or was not applied)."""


def build_write(rules: EntityRules, side: Side, op: str, collection: str, fields: Mapping[str, Any], *,
                refs: References | None = None, record_id: str | None = None, version: str | None = None,
                current: Mapping[str, Any] | None = None, active: bool | None = None,
                origin: str | None = None) -> tuple[Write, list[str]]:
    """The write of canonical `fields` to `side`, and the actions its placeholders wait for.

    `current` holds the QuickBooks record's nested objects (sent whole around changed paths);
    `origin` is the QuickBooks id a Precoro create carries as its externalId.
    """
    refs = refs or References()
    write = Write(side=side, op=op, collection=collection, record_id=record_id, version=version, active=active)
    waits: list[str] = []
    for name, value in fields.items():
        rule = rules.field(name)
        path = rule.path(side)
        wire = wire_value(rule, side, value, refs)
        if rule.transform in REFERENCE_TRANSFORMS:
            if wire is None and value is not None:
                continue  # no counterpart on that side: leave its value alone (the plan says why)
            if placeholder_of(wire):
                waits.append(placeholder_of(wire))
            if side == "precoro" and rule.transform == "account_link":
                if refs.chart_field_id:
                    # Precoro sets an item's custom-field value as itemCustomFields[<field id>]=<option id>.
                    write.values[f"itemCustomFields.{refs.chart_field_id}"] = wire if wire is not None else ""
                continue
            write.values[path] = wire if wire is not None else ("" if side == "precoro" else None)
            continue
        if side == "precoro" and is_list_path(path):
            write.lists[path] = list(wire or [])
        elif side == "precoro":
            write.values[path] = "" if wire is None else wire
        else:
            write.values[path] = wire
    if side == "quickbooks" and current:
        tops = {path.split(".", 1)[0] for path in write.values if "." in path}
        write.base = {top: current[top] for top in tops if isinstance(current.get(top), dict)}
    if side == "precoro" and op == "create":
        if origin is not None:
            write.values["externalId"] = origin
        if "currency" in write.values and "currencies" not in write.values:
            write.values["currencies"] = [write.values["currency"]]  # Precoro suppliers list their currencies
    return write, waits


def wire_value(rule: FieldRule, side: Side, value: Any, refs: References) -> Any:
    """What one canonical value of `rule` is on `side`'s wire: a reference translated (None when it
    has no counterpart there), any other value through its transform."""
    if rule.transform in REFERENCE_TRANSFORMS:
        return _reference(rule.transform, side, value, refs)
    return from_canonical(rule, side, value)


def _reference(transform: str, side: Side, value: Any, refs: References) -> Any:
    """The wire value of a reference: a QuickBooks id as is, translated (or a placeholder) for Precoro."""
    if value is None:
        return None
    if side == "precoro":
        return refs.precoro_value(transform, value)
    if isinstance(value, str) and value.startswith("precoro:"):
        # The Precoro record is linked to nothing yet, but this plan may create its counterpart.
        return refs.quickbooks_id(REFERENCED_SECTION[transform], value.split(":", 1)[1])
    return value


def waits_of(values: Any) -> list[str]:
    """Every action id a placeholder anywhere in `values` waits for."""
    found: list[str] = []
    if isinstance(values, dict):
        if placeholder_of(values):
            return [placeholder_of(values)]
        for value in values.values():
            found += waits_of(value)
    elif isinstance(values, list):
        for value in values:
            found += waits_of(value)
    return found


# -- at apply --------------------------------------------------------------------------------------


@dataclass
class WriteUnit:
    """Everything one remote record receives from this plan: one write, and the actions behind it."""

    key: str  # the same for the same record from plan to plan: "quickbooks:supplier:11", "...:new:5"
    entity: str  # the entity's kind
    write: Write
    precoro_id: str | None
    quickbooks_id: str | None
    name: str
    sources: dict[str, Any] = field(default_factory=dict)  # the other side's canonical value of each field
    actions: list[Action] = field(default_factory=list)

    @property
    def side(self) -> str:
        return self.write.side

    @property
    def op(self) -> str:
        return self.write.op

    @property
    def active(self) -> bool | None:
        return self.write.active

    def fingerprint(self) -> str:
        """What this write sends, as a digest: the next plan knows the same write failed before (W9)."""
        write = self.write
        sent = {"values": write.values, "lists": write.lists, "active": write.active}
        return hashlib.sha1(json.dumps(sent, sort_keys=True, default=str).encode()).hexdigest()


def unit_key(action: Any) -> str:
    """The write unit of an action: the same for the same remote record from plan to plan
    ("quickbooks:supplier:11"; a record to create is named by the record it comes from). Read from
    the action's kind, decision and ids alone, so a large plan is counted without its requests."""
    return unit_key_of(action.write_target, action.entity, action.kind, action.precoro_id, action.quickbooks_id)


def unit_key_of(side: str | None, entity: str, kind: str, precoro_id: str | None, quickbooks_id: str | None) -> str:
    if kind == "create":
        return f"{side}:{entity}:new:{precoro_id or quickbooks_id}"
    return f"{side}:{entity}:{precoro_id if side == 'precoro' else quickbooks_id}"


def build_units(actions: list[Action]) -> list[WriteUnit]:
    """The actions' writes, one unit per remote record (an update and a decided conflict fold into one)."""
    units: dict[str, WriteUnit] = {}
    writes: dict[str, list[Write]] = {}
    for action in actions:
        write = action.chosen_write
        if write is None:
            continue
        source = action.decision if action.kind == "conflict" else other_side(write.side)
        key = unit_key(action)
        unit = units.get(key)
        if unit is None:
            unit = units[key] = WriteUnit(key=key, entity=action.entity, write=write, precoro_id=action.precoro_id,
                                          quickbooks_id=action.quickbooks_id, name=action.name)
        writes.setdefault(key, []).append(write)
        unit.sources.update({c.field: getattr(c, source) for c in action.changes})
        unit.actions.append(action)
    for key, unit in units.items():
        unit.write = fold(writes[key])
    return list(units.values())




def fold(writes: Iterable[Write]) -> Write:
    """One write of several to the same record (an update and a decided conflict): their paths together."""
    writes = list(writes)
    merged = copy.copy(writes[0])
    merged.values, merged.base, merged.lists = dict(merged.values), dict(merged.base), dict(merged.lists)
    for write in writes[1:]:
        merged.values.update(write.values)
        merged.lists.update(write.lists)
        for top, obj in write.base.items():
            merged.base.setdefault(top, obj)
        if write.active is not None:
            merged.active = write.active
    return merged


def resolve(value: Any, created: Callable[[str], str | None]) -> Any:
    """`value` with every placeholder replaced by the id its action created (Unresolved if none)."""
    if isinstance(value, dict):
        waiting = placeholder_of(value)
        if waiting is not None:
            found = created(waiting)
            if found is None:
                raise Unresolved(waiting)
            return found
        return {key: resolve(item, created) for key, item in value.items()}
    if isinstance(value, list):
        return [resolve(item, created) for item in value]
    return value


def quickbooks_body(write: Write, created: Callable[[str], str | None]) -> dict[str, Any]:
    """The JSON body of a QuickBooks create, sparse update or delete."""
    if write.op == "delete":  # a transaction (D7): QuickBooks wants its id and version only
        return {"Id": write.record_id, "SyncToken": write.version}
    body: dict[str, Any] = copy.deepcopy(write.base)
    for path, value in write.values.items():
        set_path(body, path, resolve(value, created))
    if write.active is not None:
        body["Active"] = write.active
    if write.op == "update":
        body.update({"Id": write.record_id, "SyncToken": write.version, "sparse": True})
    return body


def precoro_form(write: Write, created: Callable[[str], str | None]) -> dict[str, Any]:
    """The form of a Precoro create or update (sub-resources apart, in `write.lists`)."""
    form: dict[str, Any] = {}
    for path, value in write.values.items():
        set_path(form, path, resolve(value, created))
    if write.active is not None:
        form["enable"] = write.active
    return form
