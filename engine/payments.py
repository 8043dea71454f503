"""Payments back (D9): QuickBooks BillPayments of the Bills qbsync sent, recorded in Precoro once each.

A BillPayment (cheque or credit card) pays Bills line by line. Each line that pays a Bill qbsync
sent (a link of the `invoices` section: Precoro invoice idn -> QuickBooks Bill id) becomes one
Precoro payment of that invoice: `sumPaid` the line's amount, `payDate` the payment's day. Its
identity is `qbo-billpayment-<payment id>-<bill id>`: the quickbooks_id of its link and the
externalId of the Precoro payment, so that neither a lost state file nor a second install records
it twice (it is looked for in Precoro by that externalId before it is created, here and at apply).

A payment may also apply a vendor's credit: a line linking a VendorCredit, its amount positive,
and `TotalAmt` only what left the bank. The Bill's line still says how much of the Bill the
payment settled, credit included, and that is what Precoro records: QuickBooks calls the Bill paid
by it, so recording only the cash would leave the invoice Partly paid for ever. The credits it
applied are named on the payment (and the Precoro credit note each came from, when qbsync sent
it), so that the operator sees why a 70.00 cheque settled a 100.00 invoice.

Precoro's API cannot cancel or edit a payment (as far as the public record goes:
clients/precoro_contract.py). A recorded payment voided, deleted or changed in QuickBooks is
therefore held for a person: an `unlink` of its link, not approved, saying what to fix by hand in
Precoro; approving it (once fixed) makes qbsync forget that payment.

Planning reads the BillPayments from the mirror (QuickBooks CDC, W11): a plan where nothing was
paid costs nothing more than the CDC call every plan makes. Precoro is asked only about payments
about to be created: one list read by their externalIds, one detail read per invoice to pay.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any, Iterable, Iterator, Mapping

from rules.model import EntityRules
from rules.transforms import TRANSFORMS

from .clients import precoro_contract as contract
from .clients.errors import NotFound
from .documents import CANCELLED
from .plan import Action, FieldChange, LinkFacts, action_id
from .reconcile import EntityPlan, SyncState
from .writes import build_write

EXTERNAL_ID_PREFIX = "qbo-billpayment"
PAY_TYPES = {"Check": "cheque", "CreditCard": "credit card"}
_amount = TRANSFORMS["decimal"]
# External ids asked for in one Precoro list read (each is one query parameter).
EXTERNAL_IDS_PER_READ = 50


def payment_key(payment_id: str, bill_id: str) -> str:
    """A payment line's identity: its link's quickbooks_id and its Precoro payment's externalId."""
    return f"{EXTERNAL_ID_PREFIX}-{payment_id}-{bill_id}"


@dataclass(frozen=True)
class PaymentLine:
    """What one BillPayment paid on one Bill."""

    key: str
    payment_id: str
    bill_id: str
    amount: str  # canonical decimal ("40", "12.5"); "0" once voided
    date: str  # YYYY-MM-DD
    pay_type: str  # Check | CreditCard
    number: str  # the payment's DocNumber (a cheque number), or ""
    version: str  # its SyncToken
    credits: tuple[tuple[str, str], ...]  # (VendorCredit id, canonical amount) the payment applied
    cash: str  # its TotalAmt (canonical): what left the bank, "0" when only credits paid


def payment_lines(payments: Iterable[Mapping[str, Any]]) -> dict[str, PaymentLine]:
    """Every Bill each BillPayment pays, by key (two lines paying one Bill are one payment of it)."""
    found: dict[str, PaymentLine] = {}
    for raw in payments:
        if raw.get("status") == "Deleted":
            continue
        bills, credits = _settled(raw, "Bill"), _settled(raw, "VendorCredit")
        applied = tuple((credit, _amount.to_canonical("quickbooks", amount)) for credit, amount in credits.items()
                        if amount)
        for bill, amount in bills.items():
            key = payment_key(str(raw["Id"]), bill)
            found[key] = PaymentLine(key, str(raw["Id"]), bill, _amount.to_canonical("quickbooks", amount),
                                     str(raw.get("TxnDate") or "")[:10], str(raw.get("PayType") or ""),
                                     str(raw.get("DocNumber") or ""), str(raw.get("SyncToken") or ""), applied,
                                     _amount.to_canonical("quickbooks", raw.get("TotalAmt") or 0))
    return found


def _settled(payment: Mapping[str, Any], txn_type: str) -> dict[str, float]:
    """Id -> what the payment's lines settle of each Bill (or apply of each VendorCredit)."""
    amounts: dict[str, float] = {}
    for line in payment.get("Line") or []:
        for linked in line.get("LinkedTxn") or []:
            if linked.get("TxnType") == txn_type:
                txn = str(linked.get("TxnId"))
                amounts[txn] = round(amounts.get(txn, 0.0) + float(line.get("Amount") or 0), 2)
    return amounts


class PrecoroPayments:
    """What planning asks Precoro about payments it would create: only those, only when there are any."""

    def __init__(self, precoro: Any) -> None:
        self.precoro = precoro

    def recorded(self, keys: list[str]) -> dict[str, dict]:
        """The Precoro payments that carry these externalIds (recorded before: by a lost state
        file, another install, an apply whose answer never came)."""
        found: dict[str, dict] = {}
        for start in range(0, len(keys), EXTERNAL_IDS_PER_READ):
            chunk = keys[start:start + EXTERNAL_IDS_PER_READ]
            for raw in self.precoro.list_all(contract.PAYMENTS, params={contract.EXTERNAL_ID_FILTER: chunk}):
                found.setdefault(str(raw.get(contract.EXTERNAL_ID)), raw)
        return found

    def invoice(self, idn: str) -> dict | None:
        """The invoice's details (its id, which a payment names; what is paid already), None when gone."""
        try:
            return self.precoro.get(f"/invoices/{idn}")
        except NotFound:
            return None


def paid_between(quickbooks: Any, since: date, until: date) -> Iterator[dict]:
    """The BillPayments of a date range (by TxnDate, both days included): a query, not CDC, for a
    repair import (`qbsync payments import`) that may reach further back than CDC's 30 days."""
    return quickbooks.query_all("BillPayment", f"TxnDate >= '{since.isoformat()}' AND TxnDate <= '{until.isoformat()}'")


def plan_payments(spec: Any, rules: EntityRules, payments: Iterable[Mapping[str, Any]], invoices: SyncState,
                  state: SyncState, precoro: PrecoroPayments, *, credit_notes: SyncState,
                  complete: bool = True) -> EntityPlan:
    """The payments to record in Precoro, and the recorded ones QuickBooks no longer agrees with.

    `invoices`: the links of the invoices section (which Bills qbsync sent); `state`: this
    section's links (the payments recorded); `credit_notes`: the credit notes' (which
    VendorCredits qbsync sent, to name them where a payment applied one). `complete`: `payments`
    are every BillPayment of the company (a plan), not a date range of them (a repair import):
    only then is a recorded payment missing from them known to be deleted.
    """
    out = EntityPlan()
    lines = payment_lines(payments)
    sent = {link.quickbooks_id: idn for idn, link in invoices.links.items()}
    credited = {link.quickbooks_id: idn for idn, link in credit_notes.links.items()}
    recorded = {link.quickbooks_id: link for link in state.links.values()}
    for key, link in sorted(recorded.items()):
        problem = _disagreement(link, lines.get(key), complete)
        if problem:
            out.actions.append(_held(spec, link, lines.get(key), problem))
    new = [line for key, line in sorted(lines.items())
           if key not in recorded and line.bill_id in sent and line.amount != "0"]
    if not new:
        return out
    already = precoro.recorded([line.key for line in new])
    details: dict[str, dict | None] = {}
    recording: dict[str, Decimal] = {}  # invoice idn -> what this plan records on it already
    # Precoro payments linked already, or by this plan: a payment recorded by hand is taken once.
    adopted: set[str] = {str(link.precoro_id) for link in recorded.values()}
    for line in new:
        idn = sent[line.bill_id]
        found = already.get(line.key)
        if found is not None:
            out.actions.append(_adopt(spec, line, idn, found))
            continue
        if idn not in details:
            details[idn] = precoro.invoice(idn)
        by_hand = _recorded_by_hand(line, details[idn], adopted)
        if by_hand is not None:  # W10 at plan time: the same payment, entered in Precoro by a person
            adopted.add(str(by_hand["id"]))
            out.actions.append(_adopt(spec, line, idn, by_hand, by_hand=True))
            continue
        action = _create(spec, rules, line, idn, details[idn], credited, recording.get(idn, Decimal(0)))
        if action.kind == "create":
            recording[idn] = recording.get(idn, Decimal(0)) + Decimal(line.amount)
        out.actions.append(action)
    return out


def amount_and_day(payment: Mapping[str, Any]) -> tuple[str, str]:
    """What tells a Precoro payment without qbsync's mark for one of its invoice (W10): its amount
    (canonical) and its day. Planning and the apply's origin check both go by it."""
    return str(_amount.to_canonical("precoro", payment.get("sumPaid"))), str(payment.get("payDate") or "")[:10]


def _recorded_by_hand(line: PaymentLine, invoice: Mapping[str, Any] | None, taken: set[str]) -> dict | None:
    """A payment of the invoice that Precoro holds without qbsync's mark, of this line's amount and
    day, not linked yet: someone recorded this payment there by hand (a repair import's usual case).
    Recording it again would pay the invoice twice."""
    for payment in (invoice or {}).get("payments") or []:
        if payment.get(contract.EXTERNAL_ID) or str(payment.get("id")) in taken:
            continue
        if amount_and_day(payment) == (line.amount, line.date):
            return dict(payment)
    return None


def _disagreement(link: Any, line: PaymentLine | None, complete: bool) -> str:
    """Why a recorded payment no longer matches QuickBooks ("" when it does)."""
    recorded = (link.baseline.get("amount") or {}).get("precoro")
    if line is None:
        return "was deleted in QuickBooks" if complete else ""
    if line.amount == "0":
        return "was voided in QuickBooks"
    if recorded is not None and _amount.to_canonical("precoro", recorded) != line.amount:
        return f"was changed in QuickBooks from {recorded} to {line.amount}"
    return ""


def _name(line: PaymentLine | None, key: str) -> str:
    if line is None:
        payment, bill = key.removeprefix(f"{EXTERNAL_ID_PREFIX}-").split("-", 1)
        return f"payment {payment} of Bill {bill}"
    return f"payment {line.payment_id} of Bill {line.bill_id}"


def _held(spec: Any, link: Any, line: PaymentLine | None, problem: str) -> Action:
    """A recorded payment QuickBooks took back or changed: Precoro's API cannot cancel or edit it."""
    name = _name(line, link.quickbooks_id)
    note = (f"this payment {problem}; Precoro's API cannot cancel or change a payment: cancel Precoro payment "
            f"{link.precoro_id} by hand (and record the right amount, if any), then approve this to stop "
            "following it")
    return Action(id=action_id(spec.kind, "unlink", None, link.precoro_id, link.quickbooks_id), entity=spec.kind,
                  kind="unlink", target=None, name=name, precoro_id=link.precoro_id, quickbooks_id=link.quickbooks_id,
                  note=note, approved=False, unapproved_why=f"this payment {problem}",
                  versions={"quickbooks": line.version if line else "deleted"})


def _adopt(spec: Any, line: PaymentLine, idn: str, found: Mapping[str, Any], *, by_hand: bool = False) -> Action:
    """A payment Precoro holds already: under its externalId, or (`by_hand`) one recorded there by
    hand, of the same invoice, amount and day, without a mark: linked, not recorded again."""
    precoro_id = str(found["id"])
    amount = _amount.to_canonical("precoro", found.get("sumPaid"))
    how = "by hand, of the same amount and day" if by_hand else "by its externalId"
    return Action(id=action_id(spec.kind, "link", None, precoro_id, line.key), entity=spec.kind, kind="link",
                  target=None, name=_name(line, line.key), precoro_id=precoro_id, quickbooks_id=line.key,
                  note=f"recorded in Precoro already (payment {found.get('idn')} of invoice {idn}, {how}): "
                       "linked, not recorded twice",
                  link=LinkFacts("matched" if by_hand else "origin", baseline={"amount": {"precoro": amount, "quickbooks": line.amount},
                                                     "date": {"precoro": str(found.get("payDate") or "")[:10],
                                                              "quickbooks": line.date}}),
                  versions={"quickbooks": line.version})


def _paid_by(line: PaymentLine, credited: Mapping[str, str]) -> str:
    """How the payment paid, as the operator reads it: "cheque 1042", "cheque 1042 and vendor credit
    88 (20, Precoro credit note 12)", or the credit alone when no money left the bank."""
    how = PAY_TYPES.get(line.pay_type, line.pay_type or "payment") + (f" {line.number}" if line.number else "")
    named = []
    for credit, amount in line.credits:
        sent = f", Precoro credit note {credited[credit]}" if credit in credited else ""
        named.append(f"vendor credit {credit} ({amount}{sent})")
    if named and line.cash == "0":
        return ", ".join(named)
    return " and ".join([how, *named])


def _create(spec: Any, rules: EntityRules, line: PaymentLine, idn: str, invoice: Mapping[str, Any] | None,
            credited: Mapping[str, str], recording: Decimal) -> Action:
    """The payment recorded in Precoro; blocked when its invoice is gone, or when it is more than
    what Precoro has left to pay on the invoice (`recording`: what this plan records on it before)."""
    name = _name(line, line.key)
    common = dict(entity=spec.kind, name=name, quickbooks_id=line.key, versions={"quickbooks": line.version})

    def blocked(note: str, changes: list[FieldChange] | None = None) -> Action:
        return Action(id=action_id(spec.kind, "blocked", None, None, line.key), kind="blocked", target=None,
                      note=note, changes=changes or [], **common)

    if invoice is None:
        return blocked(f"not recorded: Precoro invoice {idn}, which became Bill {line.bill_id}, is gone from Precoro")
    if invoice.get("status") == CANCELLED:  # Precoro pays approved invoices only
        return blocked(f"not recorded: Precoro invoice {idn} is cancelled, and Bill {line.bill_id} it became is paid "
                       "in QuickBooks: settle which is right (the Bill's cancellation is held for review too), "
                       "then plan again")
    paid_by = _paid_by(line, credited)
    number = f"{invoice.get('invoiceNumber') or idn} (Precoro invoice {idn})"
    changes = [
        FieldChange("invoice", after=number, quickbooks=f"Bill {line.bill_id}"),
        FieldChange("amount", after=line.amount, quickbooks=line.amount),
        FieldChange("date", after=line.date, quickbooks=line.date),
        FieldChange("paid by", after=paid_by, quickbooks=f"BillPayment {line.payment_id}"),
    ]
    total, paid = Decimal(str(invoice.get("sum") or 0)), Decimal(str(invoice.get("sumPaid") or 0))
    left = total - paid - recording
    if Decimal(line.amount) > left:
        # Precoro refuses it (W9), or, were it to take it, the invoice would be paid twice over: a
        # payment recorded there by hand, or one QuickBooks took back and no one cancelled there.
        def money(amount: Decimal) -> str:
            return _amount.to_canonical("precoro", str(amount))

        also = f", and this plan records {money(recording)} more" if recording else ""
        return blocked(f"not recorded: Precoro has {money(max(left, Decimal(0)))} left to pay on invoice {number}, "
                       f"less than this payment's {line.amount} (the invoice is {money(total)}, {money(paid)} "
                       f"recorded paid there{also}). Fix: cancel in Precoro the payment recorded there by hand, or "
                       "the one QuickBooks took back, then plan again", changes)
    write, _ = build_write(rules, "precoro", "create", contract.PAYMENTS,
                           {name: value for name, value in (("amount", line.amount), ("date", line.date))
                            if rules.has_field(name)}, origin=line.key)
    write.values.update({contract.PAYMENT_INVOICE: invoice["id"], contract.LOGIC_TYPE: contract.PAYMENT_LOGIC_TYPE})
    after = "Paid" if Decimal(line.amount) >= left else "Partly paid"
    return Action(id=action_id(spec.kind, "create", "precoro", None, line.key), kind="create", target="precoro",
                  changes=changes, write=write,
                  note=f"paid in QuickBooks by {paid_by}: recorded in Precoro, where the invoice becomes {after}",
                  **common)
