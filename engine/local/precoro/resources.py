"""The endpoints of the local Precoro, declared: paths, filters, and the fields each write accepts."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
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
from .payments import PAYMENT_FIELDS

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
    # "equals" (the default), "set" (the column holds a value or not: `sent_to_external=0`), or
    # "dates" (`approvalDate[left_date]=01.12.2023&approvalDate[right_date]=31.12.2023`).
    how: str = "equals"


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
    # What only `/{id|idn}` answers: the list leaves these out (Precoro's lists are summaries).
    detail_only: tuple[str, ...] = ()


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
# PATCH's one field. Precoro's public docs set externalId only by PATCH, never on POST: a create
# carrying it is refused like any unexpected field (422, the validation shape).
EXTERNAL_ID: dict[str, Field] = {"externalId": Text()}


def _option_fields(options_kind: str) -> dict[str, Field]:
    return {"name": Text(required=True), "code": Text(), "parent": Reference(options_kind), "enable": Boolean()}


def _custom_fields(path: str, kind: str, options_kind: str) -> list[Collection]:
    return [
        Collection(path, kind),
        Collection(
            f"{path}/{{parent}}/options",
            options_kind,
            create=_option_fields(options_kind),
            update=_option_fields(options_kind),
            patch=True,
            parent_kind=kind,
        ),
    ]


def _dmy(raw: str, key: str) -> str:
    """A date filter's DD.MM.YYYY (Precoro's format for date ranges) as a sortable YYYY-MM-DD."""
    try:
        return datetime.strptime(raw.strip(), "%d.%m.%Y").strftime("%Y-%m-%d")
    except ValueError:
        raise FieldError(key, "This value should be a date as DD.MM.YYYY.") from None


def _documents(path: str, kind: str) -> Collection:
    filters = {
        "status": Filter("status", True, _integer),
        "logicType": Filter("logic_type", True, _integer),
        # Sent to an accounting system: the integration has set its externalId (our reading).
        "sent_to_external": Filter("external_id", False, parse_bool, how="set"),
        "approvalDate": Filter("approval_date", False, _dmy, how="dates"),
    }
    return Collection(path, kind, filters=filters, patch=True,
                      detail_only=("items", "dataDocumentCustomFields", "attachments"))


COLLECTIONS: list[Collection] = [
    Collection(
        "/suppliers",
        "suppliers",
        filters={"enable": Filter("enable", False, parse_bool), "status": Filter("status", True, _integer)},
        create=_SUPPLIER_FIELDS,
        update=_SUPPLIER_FIELDS,
        patch=True,
        delete=True,
        prepare=_primary_currency,
        detail_only=("contacts", "paymentTerms"),
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
        create=_ITEM_FIELDS,
        update=_ITEM_FIELDS,
        patch=True,
        delete=True,
        detail_only=("dataProductCustomFields",),
    ),
    *_custom_fields("/itemcustomfields", "itemcustomfields", "itemcustomfield_options"),
    *_custom_fields("/documentcustomfields", "documentcustomfields", "documentcustomfield_options"),
    Collection(
        "/taxes",
        "taxes",
        create={"name": Text(required=True), "percent": Number(maximum=Decimal(100), required=True)},
        patch=True,
    ),
    Collection(
        "/paymentterms",
        "paymentterms",
        create={"name": Text(required=True), "creditPeriodDays": WholeNumber(), "enable": Boolean()},
        patch=True,
    ),
    _documents("/invoices", "invoices"),
    _documents("/purchaseorders", "purchaseorders"),
    # POST records a payment; PATCH sets its externalId; no PUT, no DELETE (payments.py).
    Collection("/payments", "payments", filters={"invoice": Filter("invoice_id", True, _integer)},
               create=PAYMENT_FIELDS, patch=True),
]
