"""BillPayment in the local QuickBooks: a payment of Bills by cheque or credit card, and what it does to them.

Facts (fact sheet §9 Bill, R-BILL; the BillPayment entity reference): a BillPayment has a
`VendorRef`, a `PayType` of `Check` (with `CheckPayment.BankAccountRef`) or `CreditCard` (with
`CreditCardPayment.CCAccountRef`), a `TotalAmt`, a `TxnDate` and `Line[]`, each line an `Amount`
and one `LinkedTxn` `{TxnId, TxnType}`. A line of `TxnType: "Bill"` pays that Bill; a line of
`TxnType: "VendorCredit"` applies that much of the vendor's credit, its `Amount` positive like a
Bill's, and `TotalAmt` is what left the bank: the Bills' lines less the credits' (the pay-bills
flow of the public QuickBooks MCP server laf-rge/quickbooks-mcp, PR #23: "QBO's TotalAmt is the
net check amount while credit lines carry positive amounts"). A Bill's `Balance` is what is left
to pay, a VendorCredit's what is left to apply, and a Bill's `LinkedTxn` names its payments
(`BillPaymentCheck` in a real Bill: airbyte bill 24); a VendorCredit's names the payments that
applied it (quickbooks-ruby PR #576). Deleted with `operation=delete`, voided with
`operation=update&include=void` (fact sheet §3).

Our conventions, where the public docs leave it open:
- `TotalAmt` must equal the Bills' lines less the credits' (the real API keeps an excess as an
  unapplied credit), and a payment pays at least one Bill: credits alone settle nothing.
- A line settles exactly one Bill or VendorCredit, of the payment's vendor, for more than zero and
  no more than its open Balance (counting what this payment settled of it before, on an update);
  otherwise a 6000 business fault.
- A Bill's or VendorCredit's LinkedTxn names a credit-card payment `BillPaymentCreditCard`, and a
  VendorCredit's names a cheque `BillPaymentCheck`, as a Bill's does.
- A voided payment keeps its lines and links with every amount 0, and its PrivateNote starts
  with "Voided"; what it settled gets its Balance back and no longer names it.
- Paying, voiding or deleting a payment updates each Bill and VendorCredit it touches (new
  SyncToken and LastUpdatedTime, so CDC reports them too).
"""

from __future__ import annotations

from typing import Any, Callable, Iterable, Mapping

from . import errors

# PayType -> the object that says where the money came from, and its reference.
PAY_TYPES = {"Check": ("CheckPayment", "BankAccountRef"), "CreditCard": ("CreditCardPayment", "CCAccountRef")}
# How a Bill's LinkedTxn names a payment of each PayType.
LINKED_TYPES = {"Check": "BillPaymentCheck", "CreditCard": "BillPaymentCreditCard"}
PAYMENT_LINK_TYPES = frozenset(LINKED_TYPES.values())
# What a payment's line can settle: a Bill it pays, a VendorCredit it applies.
SETTLED = ("Bill", "VendorCredit")
VOIDED = "Voided"

Lookup = Callable[[str, str], "dict | None"]


def _amount(value: Any, element: str) -> float:
    try:
        return round(float(value), 2)
    except (TypeError, ValueError):
        raise errors.invalid_enumeration(element, value) from None


def settled_by(payment: Mapping[str, Any], txn_type: str = "Bill") -> dict[str, float]:
    """Id -> what this payment pays of that Bill, or applies of that VendorCredit (0 once voided)."""
    settled: dict[str, float] = {}
    for line in payment.get("Line") or []:
        for linked in line.get("LinkedTxn") or []:
            if linked.get("TxnType") == txn_type:
                key = str(linked.get("TxnId"))
                settled[key] = round(settled.get(key, 0.0) + float(line.get("Amount") or 0), 2)
    return settled


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
    counted = before if before and not is_voided(before) else {}
    totals = {txn_type: 0.0 for txn_type in SETTLED}
    for line in lines:
        amount = _amount(line.get("Amount"), "Line.Amount") if isinstance(line, dict) and "Amount" in line else None
        if amount is None:
            raise errors.required_missing("Line.Amount")
        linked = line.get("LinkedTxn")
        if not isinstance(linked, list) or len(linked) != 1 or not isinstance(linked[0], dict):
            raise errors.required_missing("Line.LinkedTxn")
        txn_type = linked[0].get("TxnType")
        if txn_type not in SETTLED:
            raise errors.invalid_enumeration("Line.LinkedTxn.TxnType", txn_type)
        what = "bill" if txn_type == "Bill" else "vendor credit"
        txn_id = str(linked[0].get("TxnId", ""))
        settled = lookup(txn_type, txn_id) if txn_id.isdigit() else None
        if settled is None:
            raise errors.invalid_reference("Line.LinkedTxn.TxnId")
        if str((settled.get("VendorRef") or {}).get("value")) != vendor:
            raise errors.business_rule(f"{what.capitalize()} {txn_id} is not a {what} of this vendor.",
                                       "Line.LinkedTxn")
        if amount <= 0:
            raise errors.business_rule(f"The amount of a {what} line must be more than zero.", "Line.Amount")
        open_balance = round(float(settled.get("Balance", 0)) + settled_by(counted, txn_type).get(txn_id, 0.0), 2)
        if amount > open_balance:
            raise errors.business_rule(
                f"The amount ({amount:.2f}) is more than the open balance of {what} {txn_id} ({open_balance:.2f}).",
                "Line.Amount")
        line["Amount"] = amount
        totals[txn_type] += amount
    bills, credits = round(totals["Bill"], 2), round(totals["VendorCredit"], 2)
    if not bills:
        raise errors.business_rule("A payment must pay at least one bill.", "Line")
    if credits > bills:
        raise errors.business_rule(
            f"The credits applied ({credits:.2f}) are more than the bills paid ({bills:.2f}).", "Line")
    if round(bills - credits, 2) != _amount(obj["TotalAmt"], "TotalAmt"):
        raise errors.business_rule(
            f"TotalAmt ({_amount(obj['TotalAmt'], 'TotalAmt'):.2f}) must equal the bills paid ({bills:.2f}) "
            f"less the credits applied ({credits:.2f}).", "TotalAmt")
    obj["TotalAmt"] = round(bills - credits, 2)


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


def settled(record: Mapping[str, Any], txn_type: str, payments: Iterable[Mapping[str, Any]]) -> dict:
    """A Bill's (or VendorCredit's) Balance and LinkedTxn as its payments (every BillPayment that
    settles it now) make them."""
    payments = list(payments)
    others = [linked for linked in record.get("LinkedTxn") or [] if linked.get("TxnType") not in PAYMENT_LINK_TYPES]
    paid = sum(settled_by(payment, txn_type).get(str(record["Id"]), 0.0) for payment in payments)
    links = [{"TxnId": str(payment["Id"]), "TxnType": LINKED_TYPES[payment["PayType"]]}
             for payment in sorted(payments, key=lambda p: int(p["Id"]))]
    fields = {key: value for key, value in record.items()}
    fields["Balance"] = round(float(record.get("TotalAmt", 0)) - paid, 2)
    if others or links:
        fields["LinkedTxn"] = others + links
    else:
        fields.pop("LinkedTxn", None)
    return fields


def settled_on(record: Mapping[str, Any], txn_type: str, lookup: Lookup) -> float:
    """What the payments a Bill (or VendorCredit) names have settled of it: edited, it stays so."""
    paid = 0.0
    for linked in record.get("LinkedTxn") or []:
        if linked.get("TxnType") in PAYMENT_LINK_TYPES and record.get("Id") is not None:
            payment = lookup("BillPayment", str(linked.get("TxnId")))
            if payment is not None:
                paid += settled_by(payment, txn_type).get(str(record["Id"]), 0.0)
    return round(paid, 2)
