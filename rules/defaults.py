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
    "documents": {"invoices": True, "purchase_orders": False},
    "lists": {"chart_of_accounts": True, "taxes": True, "terms": True, "classes": True, "locations": True},
}

# Field entries that are not written take these values (a new field must still give both paths).
FIELD_DEFAULTS: dict[str, Any] = {"direction": "both", "max_length": {}, "update": True, "enabled": True}


def with_defaults(data: dict[str, Any]) -> dict[str, Any]:
    """The file's data laid over DEFAULTS (neither is modified)."""
    merged = _overlay(DEFAULTS, data)
    for entity in ("suppliers", "items"):
        merged[entity]["fields"] = {
            name: _overlay(FIELD_DEFAULTS, rule) for name, rule in merged[entity]["fields"].items()
        }
    return merged


def _overlay(base: Any, top: Any) -> Any:
    if isinstance(base, dict) and isinstance(top, dict):
        merged = {key: copy.deepcopy(value) for key, value in base.items()}
        for key, value in top.items():
            merged[key] = _overlay(base[key], value) if key in base else copy.deepcopy(value)
        return merged
    return copy.deepcopy(top)
