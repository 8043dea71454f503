"""Lists, QuickBooks -> Precoro options (L1-L3): what is particular to them. Otherwise they are
planned like any entity, by their rules (matched by name, created in Precoro, following QuickBooks).

Accounts, classes and locations are options of a Precoro custom field ("Chart of accounts",
"Classes", "Locations"): where they live is found by that field's name, once per plan. Taxes and
payment terms have collections of their own. Links are kept per QuickBooks company, so reconnecting
the same company finds every option it integrated (L2) while another company starts with none (L3).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Callable, Mapping

from .records import get_path

# Accounts a purchase line can be booked on; receivables, payables, income and equity are not.
NOT_FOR_PURCHASES = frozenset({"Accounts Payable", "Accounts Receivable", "Income", "Other Income", "Equity"})


def for_purchases(raw: Mapping[str, Any]) -> bool:
    """An account a purchase can be booked on (the others are never imported)."""
    return raw.get("AccountType") not in NOT_FOR_PURCHASES


def with_rate(raw: Mapping[str, Any], rates: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """A QuickBooks TaxCode with `PurchaseRate`: the sum of the rates it applies to purchases (its
    sales rates when it lists none), read from their TaxRate records. A TaxCode names its rates;
    only a TaxRate holds the percent (D5: taxes import with their real rate)."""
    details = get_path(raw, "PurchaseTaxRateList.TaxRateDetail") or get_path(raw, "SalesTaxRateList.TaxRateDetail") or []
    total = sum(Decimal(str(rates.get(str(get_path(d, "TaxRateRef.value")), {}).get("RateValue") or 0)) for d in details)
    return {**raw, "PurchaseRate": float(total)}


def options_collection(fields_path: str, field_name: str, read: Callable[[str], list[dict]]) -> str | None:
    """Where the options of Precoro's custom field `field_name` live, or None when there is no such field."""
    for found in read(fields_path):
        if str(found.get("name") or "").strip().casefold() == field_name.casefold():
            return f"{fields_path}/{found['id']}/options"
    return None
