"""The SPEC defaults: what every key of rules.yaml means when the file leaves it out.

A rules file is laid over these defaults key by key, so `version: 1` alone is the shipped
behaviour and `emails: {enabled: false}` changes one thing. Lists replace, they do not merge:
`keys: [name]` means exactly that. The shipped rules.yaml spells all of this out for operators;
a test keeps the two equal.
"""

from __future__ import annotations

import copy
from typing import Any

_SUPPLIER_FIELDS = {
    "name": {"precoro": "name", "quickbooks": "DisplayName"},
    # QuickBooks fixes a vendor's currency at creation (S7).
    "currency": {"precoro": "currency", "quickbooks": "CurrencyRef.value", "update": False},
    "legalAddress": {"precoro": "legalAddress", "quickbooks": "BillAddr.Line1"},
    "city": {"precoro": "city", "quickbooks": "BillAddr.City"},
    "state": {"precoro": "state", "quickbooks": "BillAddr.CountrySubDivisionCode"},
    "postalCode": {"precoro": "postalCode", "quickbooks": "BillAddr.PostalCode"},
    "country": {"precoro": "country", "quickbooks": "BillAddr.Country"},
    "phone": {"precoro": "phone", "quickbooks": "PrimaryPhone.FreeFormNumber"},
    "accountNumber": {"precoro": "accountNumber", "quickbooks": "AcctNum"},
    "emails": {"precoro": "contacts[].email", "quickbooks": "PrimaryEmailAddr.Address", "transform": "email_list"},
}

# Precoro holds 300 characters of item name and SKU, QuickBooks 100 (I3).
_ITEM_TEXT_LIMITS = {"precoro": 300, "quickbooks": 100}

_ITEM_FIELDS = {
    "name": {"precoro": "name", "quickbooks": "Name", "direction": "to_precoro", "max_length": _ITEM_TEXT_LIMITS},
    "sku": {"precoro": "sku", "quickbooks": "Sku", "direction": "to_precoro", "max_length": _ITEM_TEXT_LIMITS},
    "description": {"precoro": "description", "quickbooks": "PurchaseDesc", "direction": "to_precoro"},
    "price": {"precoro": "price", "quickbooks": "PurchaseCost", "direction": "to_precoro", "transform": "decimal"},
    "supplier": {
        "precoro": "supplier.id",
        "quickbooks": "PrefVendorRef.value",
        "direction": "to_precoro",
        "transform": "supplier_link",
    },
    "chart_of_accounts": {
        "precoro": "dataProductCustomFields[].option.id",
        "quickbooks": "ExpenseAccountRef.value",
        "direction": "to_precoro",
        "transform": "account_link",
    },
}


def _list(fields: dict[str, Any]) -> dict[str, Any]:
    """A QuickBooks list mirrored as Precoro options (L1): matched by name, created in Precoro,
    its fields following QuickBooks; an option deleted in Precoro is imported again."""
    return {
        "enabled": True,
        "match": {"keys": ["name"], "normalize": ["trim", "casefold"]},
        "create": {"in_quickbooks": False, "in_precoro": True},
        "conflict": "quickbooks_wins",
        "when_inactive": {"in_quickbooks": "ignore", "in_precoro": "ignore"},
        "when_deleted": {"in_quickbooks": "unlink", "in_precoro": "recreate"},
        "fields": fields,
    }


# Precoro cannot rename a tax or a payment term: their names are written when they are created.
_LISTS = {
    "chart_of_accounts": _list({
        "name": {"precoro": "name", "quickbooks": "FullyQualifiedName", "direction": "to_precoro"},
        "code": {"precoro": "code", "quickbooks": "AcctNum", "direction": "to_precoro", "update": False}}),
    "taxes": _list({
        "name": {"precoro": "name", "quickbooks": "Name", "direction": "to_precoro", "update": False},
        "percent": {"precoro": "percent", "quickbooks": "PurchaseRate", "direction": "to_precoro", "update": False,
                    "transform": "decimal"}}),
    "terms": _list({
        "name": {"precoro": "name", "quickbooks": "Name", "direction": "to_precoro", "update": False},
        "due_days": {"precoro": "creditPeriodDays", "quickbooks": "DueDays", "direction": "to_precoro", "update": False}}),
    "classes": _list({"name": {"precoro": "name", "quickbooks": "FullyQualifiedName", "direction": "to_precoro"}}),
    "locations": _list({"name": {"precoro": "name", "quickbooks": "FullyQualifiedName", "direction": "to_precoro"}}),
}


def _document(enabled: bool, number: str, *, without: tuple[str, ...] = (), **more: Any) -> dict[str, Any]:
    """Approved Precoro documents, sent to QuickBooks once each (D1) and kept right there (D6, D7);
    the header fields below, the vendor and the lines (D2, D5) make the QuickBooks document. Their
    Precoro attachments are not sent unless `attachments` says so (D8). `without`: header fields
    the QuickBooks document has no place for."""
    document = {
        "enabled": enabled,
        "attachments": False,
        **more,
        "match": {"keys": ["number"], "normalize": ["trim"]},
        "create": {"in_quickbooks": True, "in_precoro": False},
        "conflict": "precoro_wins",
        "when_inactive": {"in_quickbooks": "ignore", "in_precoro": "ignore"},
        "when_deleted": {"in_quickbooks": "unlink", "in_precoro": "unlink"},
        "revisions": True,
        "when_cancelled": "void",
        "default_account": None,
        "fields": {
            "number": {"precoro": number, "quickbooks": "DocNumber", "direction": "to_quickbooks",
                       "max_length": {"quickbooks": 21}},
            "date": {"precoro": "issueDate", "quickbooks": "TxnDate", "direction": "to_quickbooks", "transform": "date"},
            "due_date": {"precoro": "requiredDate", "quickbooks": "DueDate", "direction": "to_quickbooks",
                         "transform": "date"},
            "currency": {"precoro": "currency", "quickbooks": "CurrencyRef.value", "direction": "to_quickbooks"},
            "terms": {"precoro": "paymentTerm.id", "quickbooks": "SalesTermRef.value", "direction": "to_quickbooks",
                      "transform": "term_link"},
            "location": {"precoro": "dataDocumentCustomFields[].option.id", "quickbooks": "DepartmentRef.value",
                         "direction": "to_quickbooks", "transform": "location_link"},
            "memo": {"precoro": "customName", "quickbooks": "PrivateNote", "direction": "to_quickbooks",
                     "max_length": {"quickbooks": 3900}},
        },
        "lines": {
            "class": {"precoro": "dataItemCustomFields[].option.id", "quickbooks": "ClassRef.value",
                      "direction": "to_quickbooks", "transform": "class_link"},
            "tax": {"precoro": "taxes[].id", "quickbooks": "TaxCodeRef.value", "direction": "to_quickbooks",
                    "transform": "tax_link"},
        },
    }
    for name in without:
        del document["fields"][name]
    return document


# A purchase order has no invoice number: its Precoro number (idn) is the document number. A
# split-cost invoice goes once, as its parent (D8); credit notes are invoices too (D8).
_DOCUMENTS = {"invoices": _document(True, "invoiceNumber", split_cost="parent"),
              "purchase_orders": _document(False, "idn"),
              # A VendorCredit has no terms and no due date.
              "credit_notes": _document(True, "invoiceNumber", without=("due_date", "terms"))}
# The sections of documents sent to QuickBooks (policy.documents_up_to decides them, U2).
DOCUMENT_SECTIONS = tuple(_DOCUMENTS)

# D9: QuickBooks payments of the Bills qbsync sent, recorded in Precoro once each. A Precoro payment
# is found by the externalId qbsync gives it, never by its fields; the match keys only say which
# fields a payment needs (they cannot be turned off).
_PAYMENTS = {
    "enabled": True,
    "match": {"keys": ["amount", "date"], "normalize": []},
    "create": {"in_quickbooks": False, "in_precoro": True},
    "conflict": "quickbooks_wins",
    "when_inactive": {"in_quickbooks": "ignore", "in_precoro": "ignore"},
    "when_deleted": {"in_quickbooks": "unlink", "in_precoro": "unlink"},
    "fields": {
        "amount": {"precoro": "sumPaid", "quickbooks": "Line.Amount", "direction": "to_precoro", "transform": "decimal"},
        "date": {"precoro": "payDate", "quickbooks": "TxnDate", "direction": "to_precoro", "transform": "date"},
    },
}

DEFAULTS: dict[str, Any] = {
    "version": 1,
    "connections": {
        "quickbooks": {"environment": "local"},
        "precoro": {"environment": "local"},
    },
    "suppliers": {
        "enabled": True,
        "match": {"keys": ["name", "currency"], "normalize": ["trim", "casefold"]},
        "create": {"in_quickbooks": True, "in_precoro": True},
        "conflict": "ask",
        "when_inactive": {"in_quickbooks": "unlink", "in_precoro": "deactivate_in_quickbooks"},
        "when_deleted": {"in_quickbooks": "unlink", "in_precoro": "unlink"},
        "fields": _SUPPLIER_FIELDS,
    },
    "items": {
        "enabled": True,
        "match": {"keys": ["name"], "normalize": []},
        "create": {"in_quickbooks": False, "in_precoro": False},
        "conflict": "quickbooks_wins",
        "when_inactive": {"in_quickbooks": "unlink", "in_precoro": "ignore"},
        "when_deleted": {"in_quickbooks": "unlink", "in_precoro": "unlink"},
        "fields": _ITEM_FIELDS,
        "names_from": "quickbooks",
        "mapping": {
            "same_name": ["price"],
            "different_name": ["sku", "description", "price", "supplier", "chart_of_accounts"],
        },
        "free_of_charge_keeps_price": True,
        "when_merged": "move_link",
    },
    "safety": {"max_change_share": 0.5, "min_linked": 20},
    # U2: a cautious controller's policy; the shipped rules.yaml says why each is safe.
    "policy": {
        "links": "exact",
        "creates": ["chart_of_accounts", "taxes", "terms", "classes", "locations", "payments"],
        "updates": {"suppliers": ["phone", "emails"], "items": ["description"]},
        "documents_up_to": None,
    },
    "documents": {"since": None, **_DOCUMENTS, "payments": _PAYMENTS},
    "lists": _LISTS,
}

# Where each entity's rules sit in the file: its section name -> the keys leading to it.
ENTITY_PATHS: dict[str, tuple[str, ...]] = {
    "suppliers": ("suppliers",), "items": ("items",),
    **{name: ("lists", name) for name in _LISTS}, **{name: ("documents", name) for name in _DOCUMENTS},
    "payments": ("documents", "payments"),
}

# Field entries that are not written take these values (a new field must still give both paths).
FIELD_DEFAULTS: dict[str, Any] = {"direction": "both", "max_length": {}, "update": True, "enabled": True}


def with_defaults(data: dict[str, Any]) -> dict[str, Any]:
    """The file's data laid over DEFAULTS (neither is modified). A list or document given as
    `true`/`false` is its default rules, turned on or off."""
    data = copy.deepcopy(data)
    for group in ("lists", "documents"):
        for name, value in (data.get(group) or {}).items():
            if isinstance(value, bool):
                data[group][name] = {"enabled": value}
    merged = _overlay(DEFAULTS, data)
    for path in ENTITY_PATHS.values():
        entity = entity_data(merged, path)
        entity.update(with_field_defaults(entity))
    return merged


def with_field_defaults(entity: dict[str, Any]) -> dict[str, Any]:
    """An entity section with the keys its fields (and a document's line fields) leave out filled in
    (FIELD_DEFAULTS)."""
    filled = {**entity, "fields": {name: _overlay(FIELD_DEFAULTS, rule) for name, rule in entity["fields"].items()}}
    if "lines" in entity:
        filled["lines"] = {name: _overlay(FIELD_DEFAULTS, rule) for name, rule in entity["lines"].items()}
    return filled


def entity_data(data: dict[str, Any], path: tuple[str, ...]) -> dict[str, Any]:
    for key in path:
        data = data[key]
    return data


def _overlay(base: Any, top: Any) -> Any:
    if isinstance(base, dict) and isinstance(top, dict):
        merged = {key: copy.deepcopy(value) for key, value in base.items()}
        for key, value in top.items():
            merged[key] = _overlay(base[key], value) if key in base else copy.deepcopy(value)
        return merged
    return copy.deepcopy(top)
