"""D8, D9: whatever BillPayments are made, voided, edited or deleted, each Bill and VendorCredit of
the local QuickBooks agrees with them: its Balance is its total less what the live payments settle of
it, its LinkedTxn names exactly those payments, and a refused payment changes nothing."""

from __future__ import annotations

from typing import Callable

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.local.quickbooks import QuickBooksState
from engine.local.quickbooks.errors import QboError
from engine.local.quickbooks.payments import is_voided, settled_by

REALM = "9130357766271234"
BILLS, CREDITS = (100, 40), (30, 25)  # two Bills and two credits of one vendor

# One step: pay (amounts per Bill and per credit, in whole units), or void / delete / edit the
# payment made at a position among those made so far.
pay = st.tuples(st.just("pay"), st.tuples(st.integers(0, 60), st.integers(0, 60)),
                st.tuples(st.integers(0, 35), st.integers(0, 35)))
take_back = st.tuples(st.sampled_from(["void", "delete", "edit"]), st.integers(0, 5), st.integers(0, 60))
steps = st.lists(st.one_of(pay, take_back), min_size=1, max_size=8)


def books() -> tuple[QuickBooksState, dict[str, list[str]], Callable[..., dict]]:
    """The company, its Bills' and credits' ids, and how to make a payment of amounts per Bill and per credit."""
    state = QuickBooksState(default_realm=REALM)
    state.ensure_realm(REALM)
    vendor = {"value": state.insert(REALM, "Vendor", {"DisplayName": "Hall Properties"})["Id"]}
    expense = state.insert(REALM, "Account", {"Name": "Rent or Lease", "AccountType": "Expense"})["Id"]
    bank = state.insert(REALM, "Account", {"Name": "Checking", "AccountType": "Bank"})["Id"]

    def document(kind: str, amount: int) -> str:
        return state.insert(REALM, kind, {"VendorRef": vendor, "Line": [
            {"Amount": amount, "DetailType": "AccountBasedExpenseLineDetail",
             "AccountBasedExpenseLineDetail": {"AccountRef": {"value": expense}}}]})["Id"]

    ids = {"Bill": [document("Bill", a) for a in BILLS], "VendorCredit": [document("VendorCredit", a) for a in CREDITS]}

    def payment(bill_parts: tuple[int, ...], credit_parts: tuple[int, ...]) -> dict:
        lines = [{"Amount": amount, "LinkedTxn": [{"TxnId": txn, "TxnType": kind}]}
                 for kind, parts in (("Bill", bill_parts), ("VendorCredit", credit_parts))
                 for txn, amount in zip(ids[kind], parts) if amount]
        return {"VendorRef": vendor, "PayType": "Check", "CheckPayment": {"BankAccountRef": {"value": bank}},
                "TotalAmt": sum(bill_parts) - sum(credit_parts), "Line": lines}

    return state, ids, payment


def snapshot(state: QuickBooksState, ids: dict[str, list[str]]) -> dict:
    return {(kind, txn): state.get(REALM, kind, txn) for kind, txns in ids.items() for txn in txns}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps)
def test_d9_every_bill_and_credit_agrees_with_the_payments_that_settle_it(plan):
    state, ids, payment_of = books()
    made: list[str] = []
    try:
        for step in plan:
            before = snapshot(state, ids)
            try:
                if step[0] == "pay":
                    made.append(state.insert(REALM, "BillPayment", payment_of(step[1], step[2]))["Id"])
                elif made:
                    payment = state.get(REALM, "BillPayment", made[step[1] % len(made)])
                    if payment is None:
                        continue
                    body = {"Id": payment["Id"], "SyncToken": payment["SyncToken"]}
                    if step[0] == "void":
                        state.void(REALM, "BillPayment", {**body, "sparse": True})
                    elif step[0] == "delete":
                        state.delete(REALM, "BillPayment", body)
                    else:  # the first Bill's line paid anew, the rest as it was
                        lines = [dict(line) for line in payment["Line"]]
                        lines[0]["Amount"] = step[2] or 1
                        bills_paid = sum(l["Amount"] for l in lines if l["LinkedTxn"][0]["TxnType"] == "Bill")
                        credits_used = sum(l["Amount"] for l in lines if l["LinkedTxn"][0]["TxnType"] != "Bill")
                        state.update(REALM, "BillPayment", {**body, "sparse": True, "Line": lines,
                                                             "TotalAmt": bills_paid - credits_used})
            except QboError:
                assert snapshot(state, ids) == before  # a refused payment changes nothing
            live = [p for p in (state.get(REALM, "BillPayment", pid) for pid in made) if p and not is_voided(p)]
            for kind, txns in ids.items():
                for txn in txns:
                    record = state.get(REALM, kind, txn)
                    settling = [p for p in live if settled_by(p, kind).get(txn)]
                    settled = round(sum(settled_by(p, kind)[txn] for p in settling), 2)
                    assert record["Balance"] == round(record["TotalAmt"] - settled, 2) >= 0, (kind, record)
                    named = [link["TxnId"] for link in record.get("LinkedTxn") or []]
                    assert sorted(named, key=int) == sorted((p["Id"] for p in settling), key=int), (kind, record)
    finally:
        state.close()
