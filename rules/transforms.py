"""Named pure conversions that rules.yaml refers to: field transforms, match-key normalizers, length cuts.

A field's value is compared in a *canonical* form, the same whichever side it was read from:
`to_canonical(side, raw)` turns what a side's JSON holds into it, and `from_canonical(side, value)`
turns it into what is written to that side. Nothing here knows about records, links or HTTP.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any

from .model import Side

# Resolved by the engine through its links (a QuickBooks vendor id <-> a Precoro supplier id, and
# the same for accounts), so they have no pure form here; rules.yaml may still name them.
# Documents (D5) follow the imported lists too: a payment term, a tax, a class, a location.
REFERENCE_TRANSFORMS = frozenset({"supplier_link", "account_link", "term_link", "tax_link", "class_link", "location_link"})


def canonical_scalar(value: Any) -> Any:
    """The canonical form of a field without a transform: blank text is no value, lists are tuples,
    text is in Unicode NFC (a composed and a decomposed "Café" are the same name, W9)."""
    if isinstance(value, str):
        return unicodedata.normalize("NFC", value) if value.strip() else None
    if isinstance(value, list):
        return tuple(canonical_scalar(item) for item in value)
    return value


class Transform:
    """A named conversion between the two sides' raw values and one canonical value.

    The base form is the identity around `canonical_scalar`; subclasses change either direction.
    """

    name: str

    def to_canonical(self, side: Side, value: Any) -> Any:
        return canonical_scalar(value)

    def from_canonical(self, side: Side, value: Any) -> Any:
        return value


class TextTransform(Transform):
    """Text compared and written in one spelling, e.g. upper case (`ca` and `CA` are the same state)."""

    def __init__(self, name: str, spell: Callable[[str], str]) -> None:
        self.name = name
        self._spell = spell

    def to_canonical(self, side: Side, value: Any) -> Any:
        value = canonical_scalar(value)
        return self._spell(value) if isinstance(value, str) else value


class EmailList(Transform):
    """S3: QuickBooks keeps a vendor's emails in one comma-separated string, Precoro one per contact.

    Canonical: a tuple of addresses, trimmed, in order, blanks dropped, and a repeat of an address
    (compared ignoring case) dropped in favour of its first spelling. Written to QuickBooks as one
    ", "-joined string (None when there are none), to Precoro as a list (one contact each).
    """

    name = "email_list"

    def to_canonical(self, side: Side, value: Any) -> tuple[str, ...]:
        pieces = [value] if isinstance(value, str) else list(value or ())
        emails: list[str] = []
        seen: set[str] = set()
        for piece in pieces:
            for email in (piece or "").split(","):  # a Precoro contact holding "a@x, b@y" counts twice
                email = unicodedata.normalize("NFC", email.strip())
                if email and email.casefold() not in seen:
                    seen.add(email.casefold())
                    emails.append(email)
        return tuple(emails)

    def from_canonical(self, side: Side, value: Iterable[str]) -> str | list[str] | None:
        emails = list(value or ())
        if side == "precoro":
            return emails
        return ", ".join(emails) or None


class DecimalNumber(Transform):
    """Amounts compared as normalised decimal strings: "12.50", 12.5 and "12.5" are all "12.5".

    Written to QuickBooks as a JSON number, to Precoro as a string. Text that is not a number
    raises ValueError: a price must never be guessed.
    """

    name = "decimal"

    def to_canonical(self, side: Side, value: Any) -> str | None:
        if value is None or (isinstance(value, str) and not value.strip()):
            return None
        if isinstance(value, bool):
            raise ValueError(f"not a number: {value!r}")
        try:
            number = Decimal(str(value).strip())
        except InvalidOperation:
            raise ValueError(f"not a number: {value!r}") from None
        if not number.is_finite():
            raise ValueError(f"not a number: {value!r}")
        if number.is_zero():
            return "0"  # "-0.00" and "0" are the same amount
        return format(number.normalize(), "f")  # "f": 100, never 1E+2

    def from_canonical(self, side: Side, value: str | None) -> str | int | float | None:
        if value is None or side == "precoro":
            return value
        number = Decimal(value)
        return int(number) if number == number.to_integral_value() else float(number)


class IsoDate(Transform):
    """A calendar day, "YYYY-MM-DD": Precoro's timestamps ("2026-11-20T10:00:00+00:00") keep their date."""

    name = "date"

    def to_canonical(self, side: Side, value: Any) -> str | None:
        value = canonical_scalar(value)
        return value[:10] if isinstance(value, str) else value


TRANSFORMS: dict[str, Transform] = {
    transform.name: transform
    for transform in (
        EmailList(),
        DecimalNumber(),
        IsoDate(),
        TextTransform("trim", str.strip),
        TextTransform("uppercase", str.upper),
        TextTransform("lowercase", str.lower),
    )
}


def _strip_accents(text: str) -> str:
    decomposed = unicodedata.normalize("NFD", text)
    return unicodedata.normalize("NFC", "".join(char for char in decomposed if not unicodedata.combining(char)))


NORMALIZERS: dict[str, Callable[[str], str]] = {
    "trim": str.strip,
    "casefold": str.casefold,
    "collapse_spaces": lambda text: re.sub(r"\s+", " ", text),
    "strip_accents": _strip_accents,
}


def normalize_key(value: Any, names: Iterable[str]) -> str:
    """A match-key value in comparable form (S7, I1): the named NORMALIZERS applied in order."""
    return key_normalizer(tuple(names))(value)


@lru_cache(maxsize=None)
def key_normalizer(names: tuple[str, ...]) -> Callable[[Any], str]:
    """`normalize_key` with its normalizers looked up once: a first plan makes a key of each of a
    few hundred thousand records."""
    steps = tuple(NORMALIZERS[name] for name in names)

    def normalize(value: Any) -> str:
        text = "" if value is None else unicodedata.normalize("NFC", str(value))
        for step in steps:
            text = step(text)
        return text
    return normalize


def truncate(value: str | None, limit: int | None) -> tuple[str | None, bool]:
    """`value` cut to at most `limit` characters, and whether anything was cut (I3)."""
    if value is None or limit is None or len(value) <= limit:
        return value, False
    return value[:limit], True
