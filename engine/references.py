"""Reference fields: an item's supplier and chart-of-accounts account, translated between the two sides.

A reference is compared in QuickBooks terms: a Precoro supplier id becomes the id of the vendor it
is linked to, a Precoro chart-of-accounts option becomes the QuickBooks account it was imported
from (its `externalId`). A Precoro reference with no counterpart keeps a `precoro:` prefix, so it
never equals a QuickBooks id by accident and the plan shows what it is.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

@dataclass
class References:
    supplier_to_quickbooks: dict[str, str] = field(default_factory=dict)
    supplier_to_precoro: dict[str, str] = field(default_factory=dict)
    option_to_account: dict[str, str] = field(default_factory=dict)
    account_to_option: dict[str, str] = field(default_factory=dict)
    chart_field_id: str | None = None
    account_names: dict[str, str] = field(default_factory=dict)  # QuickBooks account id -> option name

    @classmethod
    def build(cls, supplier_links: Iterable[tuple[str, str]], chart_field_id: str | None = None,
              account_links: Iterable[tuple[str, str]] = (), option_names: Mapping[str, str] | None = None) -> "References":
        """From links (Precoro id, QuickBooks id) of this QuickBooks company only: never from a
        Precoro externalId alone, which may name a record of another company (L3)."""
        refs = cls(chart_field_id=chart_field_id)
        for precoro_id, quickbooks_id in supplier_links:
            refs.supplier_to_quickbooks[precoro_id] = quickbooks_id
            refs.supplier_to_precoro[quickbooks_id] = precoro_id
        for option_id, account_id in account_links:
            refs.option_to_account[option_id] = account_id
            refs.account_to_option[account_id] = option_id
            refs.account_names[account_id] = (option_names or {}).get(option_id, "")
        return refs

    def canonical(self, transform: str, side: str, value: Any) -> str | None:
        """The QuickBooks id a reference stands for (`precoro:<id>` when it has none)."""
        if side == "quickbooks":
            return None if value in (None, "") else str(value)
        if transform == "supplier_link":
            if value in (None, ""):
                return None
            return self.supplier_to_quickbooks.get(str(value), f"precoro:{value}")
        # account_link: the item's custom-field options; the chart of accounts is the one we know.
        chosen = [str(v) for v in (value if isinstance(value, list) else [value]) if v not in (None, "")]
        for option in chosen:
            if option in self.option_to_account:
                return self.option_to_account[option]
        return None

    def precoro_value(self, transform: str, quickbooks_id: str | None) -> str | None:
        """The Precoro id to write for a QuickBooks id, or None when Precoro has no counterpart."""
        if quickbooks_id is None:
            return None
        table = self.supplier_to_precoro if transform == "supplier_link" else self.account_to_option
        return table.get(str(quickbooks_id))

    def missing(self, transform: str, quickbooks_id: str | None) -> str | None:
        """Why a QuickBooks reference cannot be written to Precoro, or None when it can."""
        if quickbooks_id is None or self.precoro_value(transform, quickbooks_id) is not None:
            return None
        if transform == "supplier_link":
            return f"QuickBooks vendor {quickbooks_id} is not linked to a Precoro supplier (sync suppliers first)"
        return f"QuickBooks account {quickbooks_id} is not among Precoro's chart-of-accounts options (import the chart of accounts first)"
