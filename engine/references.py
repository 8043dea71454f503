"""References between entities (an item's supplier and account, a document's vendor), through links.

A reference is compared in QuickBooks terms: a Precoro supplier id becomes the id of the vendor it
is linked to, a Precoro chart-of-accounts option the QuickBooks account it is linked to. A Precoro
reference with no counterpart keeps a `precoro:` prefix, so it never equals a QuickBooks id by
accident and the plan shows what it is.

Links come from this QuickBooks company's store only (never from a Precoro externalId alone, which
may name a record of another company, L3), and from what the plan being made proposes: a pair it
links is known at once, and a record it creates is a placeholder `{"$created": <action id>}` that
the apply fills in once that record exists. So a first sync is one plan and one apply.
"""

from __future__ import annotations

from typing import Any, Iterable, Mapping

# The entity (its links' section) each reference transform follows.
REFERENCED_SECTION = {"supplier_link": "suppliers", "account_link": "chart_of_accounts", "term_link": "terms",
                      "tax_link": "taxes", "class_link": "classes", "location_link": "locations"}


def created(action_id: str) -> dict[str, str]:
    """The placeholder for the id of the record `action_id` creates."""
    return {"$created": action_id}


def placeholder_of(value: Any) -> str | None:
    """The action id a placeholder waits for, or None for a plain value."""
    return value.get("$created") if isinstance(value, dict) else None


class References:
    """Both directions of the links of the referenced entities, for one QuickBooks company."""

    def __init__(self, chart_field_id: str | None = None) -> None:
        self.to_quickbooks: dict[str, dict[str, Any]] = {}  # section -> Precoro id -> QuickBooks id or placeholder
        self.to_precoro: dict[str, dict[str, Any]] = {}  # section -> QuickBooks id -> Precoro id or placeholder
        self.chart_field_id = chart_field_id  # Precoro's "Chart of accounts" item custom field
        self.names: dict[str, dict[str, str]] = {}  # section -> QuickBooks id -> name, for showing a reference

    @classmethod
    def build(cls, links: Mapping[str, Iterable[tuple[str, str]]], chart_field_id: str | None = None) -> "References":
        """From the stored links of this company: {section: [(Precoro id, QuickBooks id), ...]}."""
        refs = cls(chart_field_id)
        for section, pairs in links.items():
            for precoro_id, quickbooks_id in pairs:
                refs.add(section, precoro_id, quickbooks_id)
        return refs

    def add(self, section: str, precoro_id: Any, quickbooks_id: Any) -> None:
        if not isinstance(precoro_id, dict):
            self.to_quickbooks.setdefault(section, {})[str(precoro_id)] = quickbooks_id
        if not isinstance(quickbooks_id, dict):
            self.to_precoro.setdefault(section, {})[str(quickbooks_id)] = precoro_id

    def propose(self, section: str, actions: Iterable[Any]) -> None:
        """Take in what a plan being made proposes for `section`: its links, unlinks and creates."""
        for action in actions:
            if action.kind == "link":
                self.add(section, action.precoro_id, action.quickbooks_id)
            elif action.kind == "unlink":
                self.to_quickbooks.get(section, {}).pop(str(action.precoro_id), None)
                self.to_precoro.get(section, {}).pop(str(action.quickbooks_id), None)
            elif action.kind == "create" and action.target == "precoro" and action.quickbooks_id:
                self.to_precoro.setdefault(section, {})[str(action.quickbooks_id)] = created(action.id)
            elif action.kind == "create" and action.target == "quickbooks" and action.precoro_id:
                self.to_quickbooks.setdefault(section, {})[str(action.precoro_id)] = created(action.id)

    # -- what the planner asks -------------------------------------------------------------------

    def quickbooks_id(self, section: str, precoro_id: Any) -> Any:
        """The QuickBooks id (or placeholder) of a Precoro record's counterpart, or None."""
        return None if precoro_id in (None, "") else self.to_quickbooks.get(section, {}).get(str(precoro_id))

    def canonical(self, transform: str, side: str, value: Any) -> str | None:
        """The QuickBooks id a reference stands for (`precoro:<id>` when it has none yet)."""
        if side == "quickbooks":
            return None if value in (None, "") else str(value)
        section = REFERENCED_SECTION[transform]
        if transform == "supplier_link":
            if value in (None, ""):
                return None
            found = self.quickbooks_id(section, value)
            return found if isinstance(found, str) else f"precoro:{value}"
        # The others name list options (an item's or a line's custom-field options, a document's
        # payment term or taxes): the first one linked in the referenced list is the one meant.
        for option in (value if isinstance(value, list) else [value]):
            found = self.quickbooks_id(section, option)
            if isinstance(found, str):
                return found
        return None

    def precoro_value(self, transform: str, quickbooks_id: str | None) -> Any:
        """The Precoro id (or placeholder) to write for a QuickBooks id, or None when it has none."""
        if quickbooks_id is None:
            return None
        return self.to_precoro.get(REFERENCED_SECTION[transform], {}).get(str(quickbooks_id))

    def missing(self, transform: str, quickbooks_id: str | None) -> str | None:
        """Why a QuickBooks reference cannot be written to Precoro, or None when it can."""
        if quickbooks_id is None or self.precoro_value(transform, quickbooks_id) is not None:
            return None
        if transform == "supplier_link":
            return f"QuickBooks vendor {quickbooks_id} is not linked to a Precoro supplier (sync suppliers first)"
        return f"QuickBooks account {quickbooks_id} is not among Precoro's chart-of-accounts options (import the chart of accounts first)"
