"""The kinds of record the local Precoro keeps: stored fields with their defaults, and indexed columns.

A record is stored as a JSON document of its *stored fields* (the vocabulary of the state API:
references are plain ids, e.g. an item's `supplier` is `5`) plus a few indexed columns copied from
it for filtering. `render.py` turns stored documents into the API's JSON shapes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Mapping

from .dates import sortable_utc

COMPANY_CURRENCY = "USD"
APPROVED = 2
# Fields a document computes itself (its number and totals).
COMPUTED = frozenset({"idn", "sum", "netSum"})

# Invoice codes are documented (tap-precoro); purchase orders share them (our convention).
DOCUMENT_STATUSES = {
    0: "Open",
    1: "Pending",
    2: "Approved",
    3: "Denied",
    4: "Partly Paid",
    5: "Paid",
    6: "Awaiting Confirmation",
    7: "On Revise",
    8: "Canceled",
    9: "Pending Receipt",
    10: "Approval Review",
    11: "Closed",
}

_DATES = {"createDate": None, "updateDate": None}


@dataclass(frozen=True)
class Kind:
    name: str
    fields: Mapping[str, Any]
    # indexed column -> the stored field it copies
    columns: Mapping[str, str] = field(default_factory=dict)
    # Documents are addressed by `idn`; their ids start high so that mixing the two up fails loudly.
    numbered: bool = False
    first_id: int = 1
    # The stored field naming the record this one belongs to (a contact's supplier, an option's field).
    owner: str | None = None

    @property
    def table(self) -> str:
        return f"precoro_{self.name}"

    @property
    def key(self) -> str:
        return "idn" if self.numbered else "id"

    @property
    def owner_column(self) -> str | None:
        return next((column for column, source in self.columns.items() if source == self.owner), None)

    @cached_property
    def dated(self) -> bool:
        return "updateDate" in self.fields

    @cached_property
    def settable(self) -> frozenset[str]:
        """Fields the state API accepts: all but those the record computes itself."""
        return frozenset(self.fields) - COMPUTED

    @cached_property
    def linkable(self) -> bool:
        """Has an `externalId` (filterable with `external_id[]`)."""
        return "externalId" in self.fields

    @cached_property
    def all_columns(self) -> tuple[str, ...]:
        """Every indexed column, generic ones first."""
        generic = []
        if self.dated:
            generic.append("updated")
        if self.linkable:
            generic.append("external_id")
        return (*generic, *self.columns)

    @cached_property
    def _mutable_defaults(self) -> tuple[str, ...]:
        return tuple(name for name, value in self.fields.items() if isinstance(value, (list, dict)))

    def defaults(self) -> dict[str, Any]:
        """A fresh document of defaults (lists and dicts are copied, never shared)."""
        doc = dict(self.fields)
        for name in self._mutable_defaults:
            doc[name] = type(doc[name])(doc[name])
        return doc

    def column_values(self, doc: Mapping[str, Any]) -> tuple:
        values: list = []
        if self.dated:
            values.append(sortable_utc(doc["updateDate"]))
        if self.linkable:
            values.append(doc["externalId"])
        for source in self.columns.values():
            value = doc[source]
            if source == "approvalDate" and value:
                value = sortable_utc(value)  # compared with date filters as text
            values.append(int(value) if isinstance(value, bool) else value)
        return tuple(values)


def _custom_field(name: str) -> Kind:
    return Kind(name, {"name": None, "enable": True, **_DATES})


def _options(name: str) -> Kind:
    return Kind(
        name,
        {"customField": None, "name": None, "code": None, "enable": True, "parent": None, "externalId": None, **_DATES},
        columns={"custom_field_id": "customField"},
        owner="customField",
    )


def _document(name: str, extra: Mapping[str, Any]) -> Kind:
    return Kind(
        name,
        {
            "idn": None,
            "status": 0,
            **extra,
            "issueDate": None,
            "requiredDate": None,
            **_DATES,
            "approvalDate": None,
            "currency": COMPANY_CURRENCY,
            "sum": 0.0,
            "netSum": 0.0,
            "supplier": None,
            "location": None,
            "paymentTerm": None,  # a payment term's id, rendered as the term
            "customName": None,
            # lines: {"id", "item" (id or None), "name", "quantity", "price", "sum", "itemCustomFields" {cf: option},
            #         "taxes" [tax id, ...]}
            "items": [],
            "documentCustomFields": {},
            "externalId": None,
            "integrationStatus": None,
            # 0 an invoice; 1 and 5 credit notes (tap-precoro reads those as credit notes).
            "logicType": 0,
            # A split-cost child names its parent's idn (rendered as parentData {"idn"}).
            "parentData": None,
            # files: {"id", "name", "contentType", "content" (base64)}; the details list them without
            # their content, which `GET /attachments/{id}` answers (our reading of Precoro's docs).
            "attachments": [],
        },
        columns={"idn": "idn", "status": "status", "supplier_id": "supplier", "logic_type": "logicType",
                 "approval_date": "approvalDate"},
        numbered=True,
        first_id=10001,
    )


KINDS: dict[str, Kind] = {
    kind.name: kind
    for kind in (
        Kind(
            "suppliers",
            {
                "uniqueCode": None,
                "name": None,
                **_DATES,
                "approvalDate": None,
                "legalAddress": None,
                "city": None,
                "state": None,
                "postalCode": None,
                "country": None,
                "phone": None,
                "currencies": [COMPANY_CURRENCY],
                "accountNumber": None,
                "enable": True,
                "status": APPROVED,
                "externalId": None,
                "integrationStatus": None,
                "paymentTerms": [],
            },
            columns={"enable": "enable", "status": "status", "unique_code": "uniqueCode"},
        ),
        Kind(
            "contacts",
            {"supplier": None, "name": None, "email": None, "phone": None},
            columns={"supplier_id": "supplier"},
            owner="supplier",
        ),
        Kind(
            "items",
            {
                "name": None,
                "sku": None,
                "description": None,
                "price": 0.0,
                "freeOfCharge": False,
                "enable": True,
                "supplier": None,
                "itemCustomFields": {},
                "externalId": None,
                **_DATES,
            },
            columns={"supplier_id": "supplier"},
        ),
        _custom_field("itemcustomfields"),
        _options("itemcustomfield_options"),
        _custom_field("documentcustomfields"),
        _options("documentcustomfield_options"),
        Kind("taxes", {"name": None, "percent": 0.0, "externalId": None, **_DATES}),
        Kind("paymentterms", {"name": None, "creditPeriodDays": 0, "enable": True, "externalId": None, **_DATES}),
        _document("invoices", {"invoiceNumber": None, "fromSupplier": False}),
        _document("purchaseorders", {}),
        # A payment of an invoice (payments.py): addressed by idn, like documents.
        Kind(
            "payments",
            {"idn": None, "invoice": None, "sumPaid": 0.0, "payDate": None, "logicType": 0, "description": None,
             "externalId": None, **_DATES},
            columns={"idn": "idn", "invoice_id": "invoice"},
            numbered=True,
            first_id=50001,
        ),
    )
}

# Options belong to a custom field; records of these kinds name their owner in `customField`.
OPTIONS_OF = {"itemcustomfields": "itemcustomfield_options", "documentcustomfields": "documentcustomfield_options"}
