"""The endpoints of the local Precoro, declared: paths, filters, and the fields each write accepts."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Callable, Mapping

from .forms import (
    Boolean,
    Choices,
    Currencies,
    Currency,
    Email,
    Field,
    FieldError,
    Number,
    Reference,
    References,
    Text,
    WholeNumber,
    parse_bool,
)

# Page sizes the real API accepts; anything else is refused (400).
PAGE_SIZES = (10, 20, 50, 100, 200)
# Our convention: the real default is not documented; a small one makes a forgotten per_page visible.
DEFAULT_PER_PAGE = 10
NAME_MAX_LENGTH = 300


@dataclass(frozen=True)
class Filter:
    """A list filter: `enable=1` (one value) or `status[]=2&status[]=5` (any of several)."""

    column: str
    many: bool
    parse: Callable[[str, str], Any]  # (raw value, query key) -> column value


@dataclass(frozen=True)
class Collection:
    """One collection of records and what it allows. `{parent}` in the path names the owner's id."""

    path: str
    kind: str
    filters: Mapping[str, Filter] = field(default_factory=dict)
    create: Mapping[str, Field] | None = None
    update: Mapping[str, Field] | None = None  # PUT: only the fields given change
    patch: bool = False  # PATCH sets externalId
    delete: bool = False
    read: bool = True
    parent_kind: str | None = None
    # Turns validated form values into stored fields, given the record being changed (None on create).
    prepare: Callable[[dict[str, Any], dict[str, Any] | None], dict[str, Any]] | None = None


def _integer(raw: str, key: str) -> int:
    try:
        return int(raw)
    except ValueError:
        raise FieldError(key, "This value should be a whole number.") from None


_SUPPLIER_FIELDS: dict[str, Field] = {
    "name": Text(NAME_MAX_LENGTH, required=True),
    "uniqueCode": Text(),
    "legalAddress": Text(),
    "city": Text(),
    "state": Text(),
    "postalCode": Text(),
    "country": Text(),
    "phone": Text(),
    "accountNumber": Text(),
    "currencies": Currencies(),
    "currency": Currency(),
    "enable": Boolean(),
    "paymentTerms": References("paymentterms"),
}


def _primary_currency(values: dict[str, Any], current: dict[str, Any] | None) -> dict[str, Any]:
    """`currency` (our convention, mirroring the field read back) puts that code first in `currencies`."""
    if "currency" not in values:
        return values
    values = dict(values)
    code = values.pop("currency")
    others = values.get("currencies") or (current["currencies"] if current else [])
    values["currencies"] = [code, *(other for other in others if other != code)]
    return values
_ITEM_FIELDS: dict[str, Field] = {
    "name": Text(NAME_MAX_LENGTH, required=True),
    "sku": Text(NAME_MAX_LENGTH),
    "description": Text(5000),
    "price": Number(),
    "freeOfCharge": Boolean(),
    "enable": Boolean(),
    "supplier": Reference("suppliers"),
    "itemCustomFields": Choices("itemcustomfield_options"),
}
# Our convention: create accepts externalId too, so an integrator can find its own create again
# after a crash (by `external_id[]`) instead of creating a duplicate.
EXTERNAL_ID: dict[str, Field] = {"externalId": Text()}


def _option_fields(options_kind: str) -> dict[str, Field]:
    return {"name": Text(required=True), "code": Text(), "parent": Reference(options_kind), "enable": Boolean()}


def _custom_fields(path: str, kind: str, options_kind: str) -> list[Collection]:
    return [
        Collection(path, kind),
        Collection(
            f"{path}/{{parent}}/options",
            options_kind,
            create=_option_fields(options_kind) | EXTERNAL_ID,
            update=_option_fields(options_kind),
            patch=True,
            parent_kind=kind,
        ),
    ]


def _documents(path: str, kind: str) -> Collection:
    return Collection(path, kind, filters={"status": Filter("status", True, _integer)}, patch=True)


COLLECTIONS: list[Collection] = [
    Collection(
        "/suppliers",
        "suppliers",
        filters={"enable": Filter("enable", False, parse_bool), "status": Filter("status", True, _integer)},
        create=_SUPPLIER_FIELDS | EXTERNAL_ID,
        update=_SUPPLIER_FIELDS,
        patch=True,
        delete=True,
        prepare=_primary_currency,
    ),
    Collection(
        "/suppliers/{parent}/contacts",
        "contacts",
        create={"name": Text(), "email": Email(required=True), "phone": Text()},
        delete=True,
        read=False,
        parent_kind="suppliers",
    ),
    Collection(
        "/items",
        "items",
        filters={"supplier": Filter("supplier_id", True, _integer)},
        create=_ITEM_FIELDS | EXTERNAL_ID,
        update=_ITEM_FIELDS,
        patch=True,
        delete=True,
    ),
    *_custom_fields("/itemcustomfields", "itemcustomfields", "itemcustomfield_options"),
    *_custom_fields("/documentcustomfields", "documentcustomfields", "documentcustomfield_options"),
    Collection(
        "/taxes",
        "taxes",
        create={"name": Text(required=True), "percent": Number(maximum=Decimal(100), required=True)} | EXTERNAL_ID,
        patch=True,
    ),
    Collection(
        "/paymentterms",
        "paymentterms",
        create={"name": Text(required=True), "creditPeriodDays": WholeNumber(), "enable": Boolean()} | EXTERNAL_ID,
        patch=True,
    ),
    _documents("/invoices", "invoices"),
    _documents("/purchaseorders", "purchaseorders"),
]
