"""Payments in the local Precoro: `POST /payments` records a payment of an invoice, which then shows Paid or Partly Paid.

Facts (reference §1.4 and item 29): a payment is written as a form, `invoice[id]`, `sumPaid`,
`payDate`, `logicType` (0 in the public example, HG-TGT payload_example); payments do not support
PUT; their externalId is set by `PATCH /payments/{idn}`; an invoice carries `sumPaid` and
`payments[]`; paying a fully paid invoice is refused with
`{"errors": {"errors": {"sumPaid": "The Invoice is already fully paid."}}}` (HG-TGT).

Our conventions, where the public record is silent:
- `invoice[id]` is the invoice's `id` (what the key says), not its `idn`; `payDate` is a day,
  YYYY-MM-DD (a date and time is cut to its day).
- A payment needs an approved invoice (approved, partly paid, paid, pending receipt, closed),
  and no more than what is left to pay.
- Paying moves an approved invoice to Partly Paid (4) or, once paid in full, Paid (5), and
  moves its updateDate; an invoice pending receipt or closed keeps its status.
- Payments cannot be deleted or cancelled through the API (none is documented).
- Payment ids start at 50001 and their idn at 1: mixing the two up fails loudly.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any, Iterable, Mapping

from .forms import FieldError, FormValue, Number, Records, Text, WholeNumber, _int, _scalar

# Invoice statuses a payment may be recorded on, and those it moves to partly paid or paid.
PAYABLE = frozenset({2, 4, 5, 9, 11})
SETTLED_BY_PAYMENTS = frozenset({2, 4, 5})
PARTLY_PAID, PAID = 4, 5
ALREADY_PAID = "The Invoice is already fully paid."


@dataclass(frozen=True)
class InvoiceById:
    """`invoice[id]=10001`: an invoice by its id."""

    required: bool = False

    def parse(self, raw: FormValue, field: str, records: Records) -> int:
        if not isinstance(raw, dict) or set(raw) != {"id"}:
            raise FieldError(field, f"This value should be sent as {field}[id].")
        id_ = _int(raw["id"], f"{field}[id]")
        if not records.records("invoices", [id_]):  # type: ignore[attr-defined]
            raise FieldError(f"{field}[id]", "This value is not valid.")
        return id_


@dataclass(frozen=True)
class Day:
    """A day as YYYY-MM-DD (a date and time is cut to its day)."""

    required: bool = False

    def parse(self, raw: FormValue, field: str, records: Records) -> str:
        text = _scalar(raw, field).strip()
        try:
            return date.fromisoformat(text[:10]).isoformat()
        except ValueError:
            raise FieldError(field, "This value should be a date as YYYY-MM-DD.") from None


PAYMENT_FIELDS = {
    "invoice": InvoiceById(required=True),
    "sumPaid": Number(required=True),
    "payDate": Day(required=True),
    "logicType": WholeNumber(),
    "description": Text(1000),
}


def _money(value: Any) -> Decimal:
    return Decimal(str(value or 0)).quantize(Decimal("0.01"))


def refusal(invoice: Mapping[str, Any], paid: float, amount: float) -> tuple[str, str] | None:
    """Why a payment of `amount` cannot be recorded on an invoice already paid `paid`: (field, message)."""
    if invoice["status"] not in PAYABLE:
        return "invoice", "Only an approved invoice can be paid."
    if _money(amount) <= 0:
        return "sumPaid", "This value should be greater than 0."
    left = _money(invoice["sum"]) - _money(paid)
    if left <= 0:
        return "sumPaid", ALREADY_PAID
    if _money(amount) > left:
        return "sumPaid", f"This value is more than what is left to pay on the invoice ({left})."
    return None


def invoice_after(invoice: Mapping[str, Any], payments: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """The stored invoice once these payments are recorded on it: its status (partly paid, paid)."""
    paid = sum((_money(p["sumPaid"]) for p in payments), Decimal(0))
    doc = dict(invoice)
    if doc["status"] in SETTLED_BY_PAYMENTS and paid > 0:
        doc["status"] = PAID if paid >= _money(doc["sum"]) else PARTLY_PAID
    return doc


def paid_sum(payments: Iterable[Mapping[str, Any]]) -> float:
    return float(sum((_money(p["sumPaid"]) for p in payments), Decimal(0)))


def shown(payment_id: int, payment: Mapping[str, Any]) -> dict[str, Any]:
    """A payment as an invoice's `payments[]` lists it."""
    return {"id": payment_id, "idn": payment["idn"], "sumPaid": payment["sumPaid"], "payDate": payment["payDate"],
            "externalId": payment["externalId"]}
