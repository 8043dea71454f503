"""The entity registry: one `EntitySpec` per synced entity, in the order they depend on each other.

Everything entity-specific is declared here, once: its rules section, labels, where each side
keeps it, how it is planned (its reconciler), what is particular to reading it, and whether an
operator can map it by hand. The planner, apply, plan ordering, the CLI and the TUI loop over
`ENTITIES`; nothing else names an entity. Adding one is a spec here plus its rules section
(rules/schema.json and rules/defaults.py); docs/architecture.md walks through an example.

Order matters: lists before the suppliers and items that refer to them, suppliers before the items
whose supplier is one, then documents, since they refer to all of them, and last the payments of
the Bills the documents became.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from rules.model import EntityRules, Side

from .clients.precoro_contract import CREDIT_NOTE_LOGIC_TYPES, INVOICE_LOGIC_TYPES, LOGIC_TYPE
from .items import ItemReconciler
from .lists import for_purchases, with_rate
from .plan import KIND_ORDER
from .reconcile import Reconciler
from .records import Record, precoro_reader, quickbooks_reader
from .references import References


@dataclass(frozen=True)
class EntitySpec:
    """One synced entity: a declaration, looped over (Singer's stream, octoDNS's record type)."""

    kind: str  # the plan's name for it: "supplier"
    section: str  # its rules section, its `--only` name and the name its links are stored under
    label: str  # how a person names one: "supplier", "chart-of-accounts account"
    plural: str  # and several: "suppliers"
    quickbooks: str  # the QuickBooks entity: "Vendor"
    quickbooks_name: str  # its name field, which QuickBooks suffixes with " (deleted)": "DisplayName"
    precoro: str  # the Precoro collection ("/suppliers"), or where the custom field below lives
    reconciler: type = Reconciler  # how a pair of its records is planned
    # "pairs": both sides read and reconciled; "documents": Precoro documents sent once; "payments":
    # QuickBooks payments recorded in Precoro once (D9)
    planned: str = "pairs"
    mappable: bool = False  # an operator can map and unmap it by hand (S7, I4)
    custom_field: str | None = None  # its Precoro records are options of the custom field of this name
    quickbooks_filter: Callable[[Mapping[str, Any]], bool] | None = None  # which QuickBooks records it covers
    precoro_create: Mapping[str, Any] = field(default_factory=dict)  # what a Precoro create needs that no rule maps
    precoro_query: Mapping[str, Any] = field(default_factory=dict)  # filters of the Precoro read
    shares_names_with: tuple[str, ...] = ()  # QuickBooks entities whose names its names must not take (W9)
    # A QuickBooks entity read beside it, and how its records complete one of ours (a TaxCode's rate
    # lives on its TaxRates): complete(raw, {id: the other entity's record}) -> raw.
    quickbooks_lookup: str | None = None
    quickbooks_complete: Callable[[Mapping[str, Any], Mapping[str, Mapping[str, Any]]], dict] | None = None

    def record(self, rules: EntityRules, side: Side, raw: Mapping[str, Any], refs: References | None = None) -> Record:
        """One wire record of either side as the engine sees it."""
        return self.reader(rules, side, refs)(raw)

    def reader(self, rules: EntityRules, side: Side, refs: References | None = None) -> Callable[[Mapping[str, Any]], Record]:
        """`record` for many records of one side: the rules' paths and transforms prepared once."""
        if side == "quickbooks":
            return quickbooks_reader(self.kind, self.quickbooks_name, rules, refs)
        return precoro_reader(self.kind, rules, refs)


def _list(kind: str, section: str, label: str, plural: str, quickbooks: str, precoro: str, **more: Any) -> EntitySpec:
    name = "Name" if quickbooks in ("TaxCode", "Term") else "FullyQualifiedName"
    return EntitySpec(kind, section, label, plural, quickbooks, name, precoro, **more)


ACCOUNTS = _list("account", "chart_of_accounts", "account", "chart of accounts", "Account", "/itemcustomfields",
                 custom_field="Chart of accounts", quickbooks_filter=for_purchases)
CLASSES = _list("class", "classes", "class", "classes", "Class", "/itemcustomfields", custom_field="Classes")
LOCATIONS = _list("location", "locations", "location", "locations", "Department", "/documentcustomfields",
                  custom_field="Locations")
# The rate lives on QuickBooks' TaxRate, not its TaxCode: each TaxCode is read with its rates' sum.
TAXES = _list("tax", "taxes", "tax", "taxes", "TaxCode", "/taxes", precoro_create={"percent": 0},
              quickbooks_lookup="TaxRate", quickbooks_complete=with_rate)
TERMS = _list("term", "terms", "payment term", "payment terms", "Term", "/paymentterms")
SUPPLIERS = EntitySpec("supplier", "suppliers", "supplier", "suppliers", "Vendor", "DisplayName", "/suppliers",
                       mappable=True, shares_names_with=("Customer", "Employee"))
ITEMS = EntitySpec("item", "items", "item", "items", "Item", "Name", "/items", reconciler=ItemReconciler, mappable=True)
# Approved (approved, partly paid, paid, pending receipt, closed) or cancelled (D7). Sent ones are read
# too: an edit to one is a revision (D6); one another integration sent (its externalId set, no link
# here) is left alone by the planner.
APPROVED = {"status": [2, 4, 5, 8, 9, 11]}
# Invoices and credit notes share Precoro's /invoices, told apart by logicType (D8): each reads its own.
INVOICES = EntitySpec("invoice", "invoices", "invoice", "invoices", "Bill", "DocNumber", "/invoices",
                      planned="documents", precoro_query={**APPROVED, LOGIC_TYPE: list(INVOICE_LOGIC_TYPES)})
PURCHASE_ORDERS = EntitySpec("purchase_order", "purchase_orders", "purchase order", "purchase orders",
                             "PurchaseOrder", "DocNumber", "/purchaseorders", planned="documents",
                             precoro_query=APPROVED)
CREDIT_NOTES = EntitySpec("credit_note", "credit_notes", "credit note", "credit notes", "VendorCredit", "DocNumber",
                          "/invoices", planned="documents",
                          precoro_query={**APPROVED, LOGIC_TYPE: list(CREDIT_NOTE_LOGIC_TYPES)})

# D9: QuickBooks payments of the Bills qbsync sent, recorded in Precoro (engine/payments.py). Read
# from QuickBooks only; its links are payment lines (qbo-billpayment-<id>-<bill id>) -> Precoro payments.
PAYMENTS = EntitySpec("payment", "payments", "payment", "payments", "BillPayment", "DocNumber", "/payments",
                      planned="payments")

ENTITIES: list[EntitySpec] = [ACCOUNTS, CLASSES, LOCATIONS, TAXES, TERMS, SUPPLIERS, ITEMS, INVOICES, PURCHASE_ORDERS,
                              CREDIT_NOTES, PAYMENTS]
BY_KIND: dict[str, EntitySpec] = {}
BY_SECTION: dict[str, EntitySpec] = {}
ORDER: dict[str, int] = {}


def _index() -> None:
    # In place: modules that imported these names see a registered entity too.
    for table, key in ((BY_KIND, "kind"), (BY_SECTION, "section")):
        table.clear()
        table.update({getattr(spec, key): spec for spec in ENTITIES})
    ORDER.clear()
    ORDER.update({spec.kind: index for index, spec in enumerate(ENTITIES)})


def register(spec: EntitySpec, *, before: str | None = None) -> None:
    """Add an entity to the registry, last or before the entity of section `before` (which depends
    on it). Its rules section must exist too: in rules.yaml's schema and defaults, or (in tests) one
    built with `rules.entity_rules`."""
    if spec.section in BY_SECTION or spec.kind in BY_KIND:
        raise ValueError(f"an entity {spec.kind!r} / {spec.section!r} is registered already")
    position = len(ENTITIES) if before is None else ENTITIES.index(BY_SECTION[before])
    ENTITIES.insert(position, spec)
    _index()


def unregister(section: str) -> None:
    ENTITIES.remove(BY_SECTION[section])
    _index()


_index()


def spec_of(entity: str) -> EntitySpec:
    """The spec of a kind ("supplier") or a section ("suppliers")."""
    return BY_KIND.get(entity) or BY_SECTION[entity]


def sort_key(action: Any) -> tuple:
    """How a plan lists its actions: entities in dependency order, then links before the writes
    that depend on them (plan.KIND_ORDER), then by name."""
    return (ORDER.get(action.entity, len(ORDER)), KIND_ORDER.get(action.kind, 99), action.name.casefold(),
            action.precoro_id or "", action.quickbooks_id or "", action.id)
