"""What differs between synced entities: wire names, and turning wire JSON into Records and back.

A new entity is a rules section plus one `EntityKind` here; the merge, the plan and the apply are
shared. Values are converted field by field through the rules' paths and transforms.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any, Mapping

from rules.model import EntityRules, FieldRule, Side
from rules.transforms import REFERENCE_TRANSFORMS, TRANSFORMS, canonical_scalar

from .references import References
from .records import DELETED_SUFFIX, Record, get_path, is_list_path, set_path


@dataclass(frozen=True)
class EntityKind:
    section: str  # the rules.yaml section: "suppliers"
    kind: str  # the plan's entity name: "supplier"
    quickbooks: str  # the QuickBooks entity: "Vendor"
    precoro: str  # the Precoro collection path: "/suppliers"
    quickbooks_name: str  # the name field QuickBooks suffixes with " (deleted)"
    custom_field: str | None = None  # lists kept as custom-field options: the field's name in Precoro
    renames: bool = True  # lists: whether Precoro can rename its records


SUPPLIERS = EntityKind("suppliers", "supplier", "Vendor", "/suppliers", "DisplayName")
ITEMS = EntityKind("items", "item", "Item", "/items", "Name")
# Documents go one way, created once each (engine/documents.py); they have no rules fields.
INVOICES = EntityKind("invoices", "invoice", "Bill", "/invoices", "DocNumber")
PURCHASE_ORDERS = EntityKind("purchase_orders", "purchase_order", "PurchaseOrder", "/purchaseorders", "DocNumber")
DOCUMENTS = (INVOICES, PURCHASE_ORDERS)
# Lists go one way, QuickBooks -> Precoro options (engine/lists.py).
CHART_OF_ACCOUNTS = EntityKind("chart_of_accounts", "account", "Account", "/itemcustomfields", "Name", "Chart of accounts")
CLASSES = EntityKind("classes", "class", "Class", "/itemcustomfields", "Name", "Classes")
LOCATIONS = EntityKind("locations", "location", "Department", "/documentcustomfields", "Name", "Locations")
TAXES = EntityKind("taxes", "tax", "TaxCode", "/taxes", "Name", renames=False)
TERMS = EntityKind("terms", "term", "Term", "/paymentterms", "Name", renames=False)
LISTS = (CHART_OF_ACCOUNTS, CLASSES, LOCATIONS, TAXES, TERMS)
KINDS = {k.kind: k for k in (SUPPLIERS, ITEMS, *DOCUMENTS, *LISTS)}
SECTIONS = {k.section: k for k in (SUPPLIERS, ITEMS, *DOCUMENTS, *LISTS)}

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


def quickbooks_record(kind: EntityKind, rules: EntityRules, raw: Mapping[str, Any], refs: References | None = None) -> Record:
    active = raw.get("Active", True) is not False
    values = {}
    for rule in rules.fields:
        value = get_path(raw, rule.quickbooks)
        if not active and rule.quickbooks == kind.quickbooks_name:
            value = _strip_deleted(value)
        values[rule.name] = to_canonical(rule, "quickbooks", value, refs)
    currency = get_path(raw, "CurrencyRef.value")
    return Record(
        side="quickbooks",
        kind=kind.kind,
        id=str(raw["Id"]),
        version=str(raw.get("SyncToken", "")),
        active=active,
        values=values,
        updated_at=get_path(raw, "MetaData.LastUpdatedTime"),
        currencies=(currency,) if currency else (),
        # Only the nested objects a rule writes into: a sparse update must send them whole. Keeping
        # every wire object would cost most of a large plan's memory.
        raw={top: raw[top] for top in _nested_tops(rules) if isinstance(raw.get(top), dict)},
    )


def precoro_record(kind: EntityKind, rules: EntityRules, raw: Mapping[str, Any], refs: References | None = None) -> Record:
    values = {rule.name: to_canonical(rule, "precoro", get_path(raw, rule.precoro), refs) for rule in rules.fields}
    return Record(
        side="precoro",
        kind=kind.kind,
        id=str(raw["id"]),
        version=str(raw.get("updateDate") or ""),
        active=raw.get("enable", True) not in (False, 0, "0", "false"),
        values=values,
        updated_at=raw.get("updateDate"),
        currencies=_precoro_currencies(raw),
        raw={"freeOfCharge": raw.get("freeOfCharge")} if "freeOfCharge" in raw else {},  # I7
    )


def _nested_tops(rules: EntityRules) -> set[str]:
    return {rule.quickbooks.split(".", 1)[0] for rule in rules.fields if "." in rule.quickbooks}


def _precoro_currencies(raw: Mapping[str, Any]) -> tuple[str, ...]:
    found: list[str] = []
    for entry in [raw.get("currency"), *(raw.get("currencies") or [])]:
        code = entry.get("code") if isinstance(entry, dict) else entry
        if code and code not in found:
            found.append(code)
    return tuple(found)


def record(kind: EntityKind, rules: EntityRules, side: Side, raw: Mapping[str, Any], refs: References | None = None) -> Record:
    if side == "quickbooks":
        return quickbooks_record(kind, rules, raw, refs)
    return precoro_record(kind, rules, raw, refs)


def quickbooks_body(rules: EntityRules, values: Mapping[str, Any], base: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The nested QuickBooks JSON for the given fields (a sparse update or a create).

    `base` holds the current nested objects the fields live in; they are sent whole, with the
    fields changed, because QuickBooks replaces a nested object rather than merging it.
    """
    body: dict[str, Any] = copy.deepcopy(dict(base or {}))
    for name, value in values.items():
        rule = rules.field(name)
        set_path(body, rule.quickbooks, from_canonical(rule, "quickbooks", value))
    return body


def precoro_form(rules: EntityRules, values: Mapping[str, Any], refs: References | None = None) -> tuple[dict[str, Any], dict[str, tuple[str, list]]]:
    """Split fields into a form body and list fields written as sub-resources.

    Returns (form, lists) where lists maps a field name to (collection, attribute, values), e.g.
    `emails` -> ("contacts", "email", [...]) for the path `contacts[].email`.
    """
    form: dict[str, Any] = {}
    lists: dict[str, tuple[str, str, list]] = {}
    for name, value in values.items():
        rule = rules.field(name)
        if rule.transform in REFERENCE_TRANSFORMS:
            _reference_form(form, rule, value, refs or References())
            continue
        raw = from_canonical(rule, "precoro", value)
        if is_list_path(rule.precoro):
            collection, attribute = rule.precoro.split("[].", 1)
            lists[name] = (collection, attribute, list(raw or []))
        else:
            set_path(form, rule.precoro, "" if raw is None else raw)
    return form, lists


def _reference_form(form: dict[str, Any], rule: FieldRule, quickbooks_id: Any, refs: References) -> None:
    target = refs.precoro_value(rule.transform, quickbooks_id)
    if target is None and quickbooks_id is not None:
        # No Precoro counterpart (a link removed since the plan): leave Precoro's value alone rather
        # than clearing it. The plan already refuses such writes; this guards the apply.
        return
    if rule.transform == "supplier_link":
        set_path(form, rule.precoro, target or "")
    elif refs.chart_field_id:
        # Precoro sets an item's custom-field value as itemCustomFields[<field id>]=<option id>.
        form.setdefault("itemCustomFields", {})[refs.chart_field_id] = target or ""
