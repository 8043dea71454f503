"""What each side does with a value written to it: how it keeps it, and what it refuses (W9).

Pure facts and checks, from the QuickBooks fact sheet (§3 names, §9 field limits) and what Precoro
is known to do. A plan checks every write against them, so a write the target is certain to refuse
is planned as `blocked` with the reason and a fix, never approved to fail at apply time:

- QuickBooks names are unique across Vendor, Customer and Employee (and among Items), compared
  ignoring case, active records or not (SPEC W9; an inactive name carries " (deleted)").
- QuickBooks refuses `:`, tab and newlines in names (2040), text longer than a field holds (2050),
  and email addresses without `@` and `.`; several addresses share one field of 100 characters.
- Precoro trims text it stores, and holds at most 300 characters of a name (I3).
Names and match keys are compared in Unicode NFC (W9): "Café" typed two ways is one name.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Callable

from rules.model import SIDE_NAMES, Side

DELETED_SUFFIX = " (deleted)"
NAME_BREAKERS = re.compile(r"[:\t\n\r]")
# Where QuickBooks shares one namespace of names (fact sheet §3).
PARTIES = ("Vendor", "Customer", "Employee")

# Longest text each side keeps at a path (QuickBooks: fact sheet §9; Precoro: 300 for names and
# SKUs per SPEC I3, 255 for other text and 254 for an email address, as its API validates them).
QUICKBOOKS_LIMITS: dict[str, dict[str, int]] = {
    "Vendor": {"DisplayName": 500, "CompanyName": 100, "PrintOnCheckName": 100, "AcctNum": 100,
               "BillAddr.Line1": 500, "BillAddr.Line2": 500, "BillAddr.City": 255, "BillAddr.CountrySubDivisionCode": 255,
               "BillAddr.PostalCode": 30, "BillAddr.Country": 255, "PrimaryPhone.FreeFormNumber": 30,
               "Mobile.FreeFormNumber": 30, "Fax.FreeFormNumber": 30, "PrimaryEmailAddr.Address": 100,
               "TaxIdentifier": 20, "WebAddr.URI": 1000},
    "Item": {"Name": 100, "Sku": 100, "Description": 4000, "PurchaseDesc": 1000},
}
PRECORO_TEXT_LIMIT = 255
PRECORO_LIMITS: dict[str, dict[str, int]] = {
    "/suppliers": {"name": 300},
    "/items": {"name": 300, "sku": 300, "description": 5000},
}
PRECORO_EMAIL_LIMIT = 254


def nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


def name_key(name: str) -> str:
    """How QuickBooks tells two names apart: case, the " (deleted)" mark and Unicode form do not count."""
    name = nfc(name)
    if name.endswith(DELETED_SUFFIX):
        name = name[: -len(DELETED_SUFFIX)]
    return name.strip().casefold()


def stored_form(side: Side, value: Any) -> Any:
    """The value as `side` keeps it once written: Precoro trims text (a name with spaces around it
    would otherwise be "changed" and written again on every apply)."""
    if side == "precoro":
        if isinstance(value, str):
            return value.strip() or None
        if isinstance(value, tuple):
            return tuple(v.strip() if isinstance(v, str) else v for v in value)
    return value


@dataclass(frozen=True)
class Refusal:
    """Why a target will refuse a write, and what the operator can do about it."""

    field: str
    reason: str
    fix: str

    def text(self) -> str:
        return f"{self.field}: {self.reason}. Fix: {self.fix}"


@lru_cache(maxsize=None)
def text_checker(side: Side, entity: str, path: str, field: str, is_name: bool) -> Callable[[Any], Refusal | None]:
    """The check of a value written at `path` of `side`: its length, characters or email problem,
    if any. What it depends on is looked up once per place: a first plan checks every field of
    every create, a few hundred thousand values through a few dozen places."""
    where = SIDE_NAMES[side]
    email = "email" in path.lower()
    if side == "quickbooks":
        limit = QUICKBOOKS_LIMITS.get(entity, {}).get(path)
    else:
        limit = PRECORO_LIMITS.get(entity, {}).get(path, PRECORO_EMAIL_LIMIT if email else PRECORO_TEXT_LIMIT)
    names_checked = is_name and side == "quickbooks"

    def check(value: Any) -> Refusal | None:
        if type(value) is str:  # most values: one text
            texts: list[str] | tuple[str] = (value,)
        elif isinstance(value, (list, tuple)) and all(isinstance(text, str) for text in value):
            texts = list(value)
        else:
            return None
        if names_checked:
            bad = next((text for text in texts if NAME_BREAKERS.search(text)), None)
            if bad is not None:
                char = {"\t": "a tab", "\n": "a line break", "\r": "a line break"}.get(NAME_BREAKERS.search(bad).group(), "':'")
                return Refusal(field, f"QuickBooks refuses {char} in a name (error 2040)",
                               f"rename it in {SIDE_NAMES['precoro']} without {char}, or map it by hand to an existing record")
        if email:
            invalid = next((text for text in texts for part in text.split(",")
                            if part.strip() and not ("@" in part and "." in part.split("@")[-1])), None)
            if invalid is not None:
                return Refusal(field, f"{where} refuses {invalid!r} as an email address",
                               "correct the address where it was entered")
        if limit is not None:
            longest = max(texts, key=len) if texts else ""
            if len(longest) > limit:
                return Refusal(field, f"{where} holds at most {limit} characters here, and this is {len(longest)}"
                                      + (" (error 2050)" if side == "quickbooks" else ""),
                               f"shorten it, or let rules.yaml cut it: max_length: {{{side}: {limit}}} on the field")
        return None
    return check


def name_taken(holder: str) -> Refusal:
    return Refusal("name", f"QuickBooks already uses this name for {holder}; names are unique across vendors, "
                           "customers and employees, active or not (error 6240)",
                   "rename one of the two, or map this record by hand to the right QuickBooks record")
