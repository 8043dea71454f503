"""BillPayment in the local QuickBooks: a payment of Bills by cheque or credit card, and what it does to them.

Facts (fact sheet §9 Bill, R-BILL; the BillPayment entity reference): a BillPayment has a
`VendorRef`, a `PayType` of `Check` (with `CheckPayment.BankAccountRef`) or `CreditCard` (with
`CreditCardPayment.CCAccountRef`), a `TotalAmt`, a `TxnDate` and `Line[]`, each line an `Amount`
and one `LinkedTxn` `{TxnId, TxnType: "Bill"}`. A Bill's `Balance` is what is left to pay, and its
`LinkedTxn` names its payments (`BillPaymentCheck` in a real Bill: airbyte bill 24). Deleted with
`operation=delete`, voided with `operation=update&include=void` (fact sheet §3).

Our conventions, where the public docs leave it open:
- `TotalAmt` must equal the sum of the lines (the real API keeps an excess as an unapplied credit).
- A line pays exactly one Bill, of the payment's vendor, and no more than its open Balance
  (counting what this payment paid it before, on an update); otherwise a 6000 business fault.
- A Bill's LinkedTxn names a credit-card payment `BillPaymentCreditCard`.
- A voided payment keeps its lines and links with every amount 0, and its PrivateNote starts
  with "Voided"; the Bills it paid get their Balance back and no longer name it.
- Paying, voiding or deleting a payment updates each Bill it touches (new SyncToken and
  LastUpdatedTime, so CDC reports the Bill too).
"""

from __future__ import annotations

from typing import Any, Callable, Iterable, Mapping

from . import errors

# PayType -> the object that says where the money came from, and its reference.
PAY_TYPES = {"Check": ("CheckPayment", "BankAccountRef"), "CreditCard": ("CreditCardPayment", "CCAccountRef")}
# How a Bill's LinkedTxn names a payment of each PayType.
LINKED_TYPES = {"Check": "BillPaymentCheck", "CreditCard": "BillPaymentCreditCard"}
PAYMENT_LINK_TYPES = frozenset(LINKED_TYPES.values())
VOIDED = "Voided"

Lookup = Callable[[str, str], "dict | None"]


def _amount(value: Any, element: str) -> float:
    try:
        return round(float(value), 2)
    except (TypeError, ValueError):
        raise errors.invalid_enumeration(element, value) from None


def paid_bills(payment: Mapping[str, Any]) -> dict[str, float]:
    """Bill id -> the amount this payment pays it (0 for a voided one)."""
    paid: dict[str, float] = {}
    for line in payment.get("Line") or []:
        for linked in line.get("LinkedTxn") or []:
            if linked.get("TxnType") == "Bill":
                key = str(linked.get("TxnId"))
                paid[key] = round(paid.get(key, 0.0) + float(line.get("Amount") or 0), 2)
    return paid


def shape_bill_payment(obj: dict, before: dict | None, lookup: Lookup) -> None:
    """Check a BillPayment about to be stored and fill what QuickBooks derives (in place)."""
    pay_type = obj.get("PayType")
    if not pay_type:
        raise errors.required_missing("PayType")
    if pay_type not in PAY_TYPES:
        raise errors.invalid_enumeration("PayType", pay_type)
    detail, ref = PAY_TYPES[pay_type]
    other = PAY_TYPES["CreditCard" if pay_type == "Check" else "Check"][0]
    if obj.get(other):
        raise errors.business_rule(f"A {pay_type} payment cannot carry {other}.", other)
    if not ((obj.get(detail) or {}).get(ref) or {}).get("value"):
        raise errors.required_missing(f"{detail}.{ref}")
    if "TotalAmt" not in obj:
        raise errors.required_missing("TotalAmt")
    lines = obj.get("Line")
    if not isinstance(lines, list) or not lines:
        raise errors.required_missing("Line")
    vendor = str((obj.get("VendorRef") or {}).get("value", ""))
    if not vendor:
        raise errors.required_missing("VendorRef")
    earlier = paid_bills(before) if before and not is_voided(before) else {}
    total = 0.0
    for line in lines:
        amount = _amount(line.get("Amount"), "Line.Amount") if isinstance(line, dict) and "Amount" in line else None
        if amount is None:
            raise errors.required_missing("Line.Amount")
        linked = line.get("LinkedTxn")
        if not isinstance(linked, list) or len(linked) != 1 or not isinstance(linked[0], dict):
            raise errors.required_missing("Line.LinkedTxn")
        if linked[0].get("TxnType") != "Bill":
            raise errors.invalid_enumeration("Line.LinkedTxn.TxnType", linked[0].get("TxnType"))
        bill_id = str(linked[0].get("TxnId", ""))
        bill = lookup("Bill", bill_id) if bill_id.isdigit() else None
        if bill is None:
            raise errors.invalid_reference("Line.LinkedTxn.TxnId")
        if str((bill.get("VendorRef") or {}).get("value")) != vendor:
            raise errors.business_rule(f"Bill {bill_id} is not a bill of this vendor.", "Line.LinkedTxn")
        if amount <= 0:
            raise errors.business_rule("The amount paid on a bill must be more than zero.", "Line.Amount")
        open_balance = round(float(bill.get("Balance", 0)) + earlier.get(bill_id, 0.0), 2)
        if amount > open_balance:
            raise errors.business_rule(
                f"The amount paid ({amount:.2f}) is more than the open balance of bill {bill_id} ({open_balance:.2f}).",
                "Line.Amount")
        line["Amount"] = amount
        total += amount
    if round(total, 2) != _amount(obj["TotalAmt"], "TotalAmt"):
        raise errors.business_rule(
            f"TotalAmt ({_amount(obj['TotalAmt'], 'TotalAmt'):.2f}) must equal the amounts of the lines ({total:.2f}).",
            "TotalAmt")
    obj["TotalAmt"] = round(total, 2)


def voided(payment: Mapping[str, Any]) -> dict:
    """The fields of a payment once voided: every amount 0, its links kept, noted as voided."""
    fields = {key: value for key, value in payment.items()}
    fields["Line"] = [{**line, "Amount": 0} for line in payment.get("Line") or []]
    fields["TotalAmt"] = 0
    note = str(payment.get("PrivateNote") or "")
    fields["PrivateNote"] = note if note.startswith(VOIDED) else f"{VOIDED} {note}".strip()
    return fields


def is_voided(payment: Mapping[str, Any]) -> bool:
    return float(payment.get("TotalAmt") or 0) == 0 and str(payment.get("PrivateNote") or "").startswith(VOIDED)


def bill_after(bill: Mapping[str, Any], payments: Iterable[Mapping[str, Any]]) -> dict:
    """A Bill's Balance and LinkedTxn as its payments (every BillPayment that pays it now) make them."""
    payments = list(payments)
    others = [linked for linked in bill.get("LinkedTxn") or [] if linked.get("TxnType") not in PAYMENT_LINK_TYPES]
    paid = sum(paid_bills(payment).get(str(bill["Id"]), 0.0) for payment in payments)
    links = [{"TxnId": str(payment["Id"]), "TxnType": LINKED_TYPES[payment["PayType"]]}
             for payment in sorted(payments, key=lambda p: int(p["Id"]))]
    fields = {key: value for key, value in bill.items()}
    fields["Balance"] = round(float(bill.get("TotalAmt", 0)) - paid, 2)
    if others or links:
        fields["LinkedTxn"] = others + links
    else:
        fields.pop("LinkedTxn", None)
    return fields


def paid_on(bill: Mapping[str, Any], lookup: Lookup) -> float:
    """What the payments a Bill names have paid it (a Bill edited after a payment keeps it paid)."""
    paid = 0.0
    for linked in bill.get("LinkedTxn") or []:
        if linked.get("TxnType") in PAYMENT_LINK_TYPES and bill.get("Id") is not None:
            payment = lookup("BillPayment", str(linked.get("TxnId")))
            if payment is not None:
                paid += paid_bills(payment).get(str(bill["Id"]), 0.0)
    return round(paid, 2)
