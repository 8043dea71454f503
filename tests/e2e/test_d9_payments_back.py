"""D9 payments back, through the CLI against `qbsync local serve`: a Bill qbsync sent, paid in
QuickBooks by a colleague, shows Partly paid then Paid in Precoro; never recorded twice; a payment
QuickBooks takes back is held for a person; a date range can be imported again as a repair."""

from __future__ import annotations

import sqlite3
from datetime import date

import httpx
import pytest

pytestmark = pytest.mark.e2e


def sent_bill(workdir) -> tuple[dict, str]:
    """The demo's first sync, and the one Bill it sent (57.00, invoice INV-2026-0042) with its invoice's idn."""
    workdir.first_sync()
    [(idn, bill_id)] = sqlite3.connect(workdir.path / ".qbsync" / "state.db").execute(
        "select precoro_id, quickbooks_id from links where entity = 'invoices'").fetchall()
    qb, _ = workdir.clients()
    return qb.read("Bill", bill_id), idn


def pay(workdir, bill: dict, amount: float, pay_type: str = "Check") -> dict:
    """A colleague pays the Bill in QuickBooks: by cheque from a bank account, or by credit card."""
    qb, _ = workdir.clients()
    kind, detail, ref = (("Bank", "CheckPayment", "BankAccountRef") if pay_type == "Check"
                         else ("Credit Card", "CreditCardPayment", "CCAccountRef"))
    account = next(iter(qb.query_all("Account", f"AccountType = '{kind}'")), None) \
        or qb.create("Account", {"Name": f"Company {kind}", "AccountType": kind})
    return qb.create("BillPayment", {
        "VendorRef": bill["VendorRef"], "PayType": pay_type, detail: {ref: {"value": account["Id"]}},
        "TotalAmt": amount, "Line": [{"Amount": amount, "LinkedTxn": [{"TxnId": bill["Id"], "TxnType": "Bill"}]}]})


def quickbooks_post(workdir, entity: str, params: dict, body: dict) -> dict:
    """A raw QuickBooks write, as a colleague's app would send it (a void or a delete)."""
    info = workdir.apis.info["quickbooks"]
    answer = httpx.post(f"{info['base_url']}/company/{info['realm_id']}/{entity.lower()}", params=params, json=body,
                        headers={"Authorization": f"Bearer {info['access_token']}", "Accept": "application/json"})
    assert answer.status_code == 200, answer.text
    return answer.json()


def payment_actions(plan: dict) -> list[dict]:
    return [a for a in plan["actions"] if a["entity"] == "payment"]


def precoro_payments(workdir) -> list[dict]:
    _, pc = workdir.clients()
    return list(pc.list_all("/payments"))


def test_d9_a_bill_paid_partly_then_fully_in_quickbooks_becomes_partly_paid_then_paid_in_precoro(workdir):
    bill, idn = sent_bill(workdir)
    _, pc = workdir.clients()
    assert pc.get(f"/invoices/{idn}")["statusString"] == "Approved" and bill["Balance"] == 57

    cheque = pay(workdir, bill, 20)
    plan = workdir.json("plan")
    [create] = payment_actions(plan)
    assert (create["kind"], create["target"]) == ("create", "precoro")
    assert create["quickbooks_id"] == f"qbo-billpayment-{cheque['Id']}-{bill['Id']}"
    shown = {c["field"]: c["after"] for c in create["changes"]}
    assert shown["amount"] == "20" and shown["date"] == cheque["TxnDate"] and shown["paid by"] == "cheque"
    assert "Partly paid" in create["note"]
    report = workdir.json("apply", "--yes")
    assert {r["status"] for r in report["results"] if r["id"] == create["id"]} == {"applied"}
    invoice = pc.get(f"/invoices/{idn}")
    assert (invoice["statusString"], invoice["sumPaid"]) == ("Partly Paid", 20.0)
    assert [(p["sumPaid"], p["payDate"], p["externalId"]) for p in invoice["payments"]] == [
        (20.0, cheque["TxnDate"], create["quickbooks_id"])]

    card = pay(workdir, bill, 37, "CreditCard")
    [create] = payment_actions(workdir.json("plan"))
    assert {c["field"]: c["after"] for c in create["changes"]}["paid by"] == "credit card" and "Paid" in create["note"]
    workdir.json("apply", "--yes")
    invoice = pc.get(f"/invoices/{idn}")
    assert (invoice["statusString"], invoice["sumPaid"]) == ("Paid", 57.0)
    assert len(invoice["payments"]) == 2 and invoice["payments"][1]["externalId"].startswith(f"qbo-billpayment-{card['Id']}-")
    qb, _ = workdir.clients()
    assert qb.read("Bill", bill["Id"])["Balance"] == 0
    assert payment_actions(workdir.json("plan")) == []  # recorded once: nothing more to do


def test_d9_one_cheque_for_two_bills_records_only_the_line_of_the_bill_qbsync_sent(workdir):
    bill, idn = sent_bill(workdir)
    qb, pc = workdir.clients()
    expense = next(iter(qb.query_all("Account", "AccountType = 'Expense'")))
    own = qb.create("Bill", {"VendorRef": bill["VendorRef"], "DocNumber": "KEYED-IN-1", "Line": [
        {"Amount": 30, "DetailType": "AccountBasedExpenseLineDetail",
         "AccountBasedExpenseLineDetail": {"AccountRef": {"value": expense["Id"]}}}]})
    bank = qb.create("Account", {"Name": "Operating", "AccountType": "Bank"})
    cheque = qb.create("BillPayment", {
        "VendorRef": bill["VendorRef"], "PayType": "Check", "CheckPayment": {"BankAccountRef": {"value": bank["Id"]}},
        "TotalAmt": 87, "Line": [{"Amount": 57, "LinkedTxn": [{"TxnId": bill["Id"], "TxnType": "Bill"}]},
                                 {"Amount": 30, "LinkedTxn": [{"TxnId": own["Id"], "TxnType": "Bill"}]}]})

    [create] = payment_actions(workdir.json("plan"))

    assert create["quickbooks_id"] == f"qbo-billpayment-{cheque['Id']}-{bill['Id']}"
    assert {c["field"]: c["after"] for c in create["changes"]}["amount"] == "57" and "becomes Paid" in create["note"]
    workdir.json("apply", "--yes")
    assert pc.get(f"/invoices/{idn}")["statusString"] == "Paid"


def test_d9_payments_that_apply_a_credit_note_record_what_they_settled_and_name_the_credit(workdir, precoro):
    """The supplier's 20.00 credit (a Precoro credit note qbsync sent as a VendorCredit) settles part
    of the 57.00 Bill: first 10.00 of it with a 20.00 cheque (30.00 of the Bill), then the other 10.00
    alone (a payment of 0.00). Precoro records what each settled of the Bill, and the plan names the
    credit; the credit note, used up, is held for review if cancelled in Precoro afterwards (D7)."""
    bill, idn = sent_bill(workdir)
    pc = precoro(workdir)
    note = pc.invoice("CN-20", logicType=1, items=[{**pc.lines[0], "quantity": 1, "price": 20}])
    workdir.run("plan", check=True)
    workdir.run("apply", "--yes", check=True)
    qb, precoro_api = workdir.clients()
    [credit] = qb.query("SELECT * FROM VendorCredit WHERE DocNumber = 'CN-20'")["VendorCredit"]
    assert credit["Balance"] == 20
    bank = qb.create("Account", {"Name": "Operating", "AccountType": "Bank"})

    def settle(bill_part: float, credit_part: float, number: str = "") -> dict:
        return qb.create("BillPayment", {
            "VendorRef": bill["VendorRef"], "PayType": "Check",
            "CheckPayment": {"BankAccountRef": {"value": bank["Id"]}},
            "TotalAmt": bill_part - credit_part, **({"DocNumber": number} if number else {}),
            "Line": [{"Amount": bill_part, "LinkedTxn": [{"TxnId": bill["Id"], "TxnType": "Bill"}]},
                     {"Amount": credit_part, "LinkedTxn": [{"TxnId": credit["Id"], "TxnType": "VendorCredit"}]}]})

    named = f"vendor credit {credit['Id']} (10, Precoro credit note {note})"
    paid = []
    for bill_part, number, paid_by, sum_paid in ((30, "1042", f"cheque 1042 and {named}", 30.0),
                                                 (10, "", named, 40.0)):  # no cheque at all: only the credit
        paid.append(settle(bill_part, 10, number))
        [create] = payment_actions(workdir.json("plan"))
        shown = {c["field"]: c["after"] for c in create["changes"]}
        assert shown["amount"] == str(bill_part)  # what the payment settled of the Bill, the credit included
        assert shown["paid by"] == paid_by and f"paid in QuickBooks by {paid_by}" in create["note"]
        workdir.json("apply", "--yes")
        invoice = precoro_api.get(f"/invoices/{idn}")
        assert (invoice["statusString"], invoice["sumPaid"]) == ("Partly Paid", sum_paid)
    assert [p["externalId"] for p in invoice["payments"]] == [f"qbo-billpayment-{p['Id']}-{bill['Id']}" for p in paid]
    assert qb.read("VendorCredit", credit["Id"])["Balance"] == 0 and qb.read("Bill", bill["Id"])["Balance"] == 17
    assert payment_actions(workdir.json("plan")) == []  # each recorded once

    pc.state.update("invoices", note, {"status": 8})  # the used-up credit note cancelled in Precoro
    [held] = [a for a in workdir.json("plan")["actions"] if a["entity"] == "credit_note"]
    assert held["kind"] == "blocked" and "held for review" in held["note"] and paid[0]["Id"] in held["note"]
    before = qb.read("VendorCredit", credit["Id"])["SyncToken"]
    workdir.run("apply", "--yes")
    assert qb.read("VendorCredit", credit["Id"])["SyncToken"] == before  # the applied credit is left alone


def test_d9_a_state_file_that_forgot_a_payment_links_it_again_and_records_nothing_twice(workdir):
    """A lost state file, a second install or a backup restored from before the payment: the payment
    is found in Precoro by its externalId and linked, never recorded again."""
    bill, idn = sent_bill(workdir)
    pay(workdir, bill, 20)
    workdir.json("plan")
    workdir.json("apply", "--yes")
    state = sqlite3.connect(workdir.path / ".qbsync" / "state.db")
    with state:
        state.execute("delete from links where entity = 'payments'")

    [action] = payment_actions(workdir.json("plan", "--full"))
    assert action["kind"] == "link" and "not recorded twice" in action["note"]
    workdir.json("apply", "--yes")

    assert [p["sumPaid"] for p in precoro_payments(workdir)] == [20.0]
    assert state.execute("select count(*) from links where entity = 'payments'").fetchone() == (1,)
    assert payment_actions(workdir.json("plan")) == []


def sent_unanswered(workdir, plan: dict, create: dict) -> sqlite3.Connection:
    """The journal as a crash leaves it: the payment's create sent, its answer never recorded."""
    state = sqlite3.connect(workdir.path / ".qbsync" / "state.db")
    with state:
        state.execute("insert into journal (plan_id, unit, side, op, action_ids, state, updated_at) values (?, ?, ?, ?, ?, ?, ?)",
                      [plan["plan_id"], f"precoro:payment:new:{create['quickbooks_id']}", "precoro", "create",
                       f'["{create["id"]}"]', "sent", "2026-01-01T00:00:00+00:00"])
    return state


def test_d9_an_apply_interrupted_after_recording_a_payment_reruns_without_a_duplicate(workdir):
    """The deterministic form of a crash after Precoro recorded the payment (and its externalId) but
    before the state file did: the journal says "sent", Precoro has it, no link says so."""
    bill, idn = sent_bill(workdir)
    pay(workdir, bill, 20)
    plan = workdir.json("plan")
    [create] = payment_actions(plan)
    _, pc = workdir.clients()
    invoice = pc.get(f"/invoices/{idn}")
    made = pc.create("/payments", {"invoice": {"id": invoice["id"]}, "sumPaid": "20", "payDate": "2026-01-01",
                                   "logicType": 0})
    pc.set_external_id("/payments", made["idn"], create["quickbooks_id"])
    state = sent_unanswered(workdir, plan, create)

    report = workdir.json("apply", plan["plan_id"], "--yes")

    [result] = [r for r in report["results"] if r["id"] == create["id"]]
    assert result["status"] == "applied" and "externalId" in result["reason"]
    assert [p["idn"] for p in precoro_payments(workdir)] == [made["idn"]]
    assert state.execute("select precoro_id from links where entity = 'payments'").fetchall() == [(str(made["id"]),)]


def test_d9_an_apply_interrupted_before_marking_a_payment_reruns_without_a_duplicate(workdir):
    """A crash between Precoro's answer to the payment's POST and the PATCH of its externalId: the
    rerun finds it by its invoice, amount and day, marks it, and records nothing twice."""
    bill, idn = sent_bill(workdir)
    cheque = pay(workdir, bill, 20)
    plan = workdir.json("plan")
    [create] = payment_actions(plan)
    _, pc = workdir.clients()
    made = pc.create("/payments", {"invoice": {"id": pc.get(f"/invoices/{idn}")["id"]}, "sumPaid": "20",
                                   "payDate": cheque["TxnDate"], "logicType": 0})
    sent_unanswered(workdir, plan, create)

    report = workdir.json("apply", plan["plan_id"], "--yes")

    [result] = [r for r in report["results"] if r["id"] == create["id"]]
    assert result["status"] == "applied" and "interrupted" in result["reason"]
    assert [(p["idn"], p["externalId"]) for p in precoro_payments(workdir)] == [(made["idn"], create["quickbooks_id"])]


def test_d9_a_payment_voided_or_deleted_in_quickbooks_is_held_with_the_reason(workdir):
    bill, idn = sent_bill(workdir)
    first, second = pay(workdir, bill, 20), pay(workdir, bill, 10)
    workdir.json("plan")
    workdir.json("apply", "--yes")
    [recorded_first] = [p for p in precoro_payments(workdir) if p["externalId"].startswith(f"qbo-billpayment-{first['Id']}-")]

    quickbooks_post(workdir, "BillPayment", {"operation": "update", "include": "void"},
                    {"Id": first["Id"], "SyncToken": first["SyncToken"], "sparse": True})
    quickbooks_post(workdir, "BillPayment", {"operation": "delete"}, {"Id": second["Id"], "SyncToken": second["SyncToken"]})
    qb, _ = workdir.clients()
    assert qb.read("Bill", bill["Id"])["Balance"] == 57  # QuickBooks gave the Bill its balance back

    plan = workdir.json("plan")
    held = {a["name"]: a for a in payment_actions(plan)}
    assert set(held) == {f"payment {first['Id']} of Bill {bill['Id']}", f"payment {second['Id']} of Bill {bill['Id']}"}
    voided = held[f"payment {first['Id']} of Bill {bill['Id']}"]
    assert voided["kind"] == "unlink" and voided["approved"] is False
    assert "was voided in QuickBooks" in voided["note"] and f"cancel Precoro payment {recorded_first['id']} by hand" in voided["note"]
    assert "was deleted in QuickBooks" in held[f"payment {second['Id']} of Bill {bill['Id']}"]["note"]
    workdir.json("apply", "--yes")  # not approved: nothing is forgotten, nothing written
    assert len(precoro_payments(workdir)) == 2

    # An unattended run holds them for review, saying why.
    assert workdir.run("run").returncode == 3
    reasons = {row["name"]: row["reason"] for row in workdir.json("held")["held"]}
    assert "was voided in QuickBooks" in reasons[voided["name"]]

    # Once cancelled by hand in Precoro, approving them makes qbsync forget both payments.
    plan = workdir.json("plan")
    assert workdir.run("approve", *[a["id"] for a in payment_actions(plan)]).returncode == 0
    workdir.json("apply", "--yes")
    assert sqlite3.connect(workdir.path / ".qbsync" / "state.db").execute(
        "select count(*) from links where entity = 'payments'").fetchone() == (0,)
    assert payment_actions(workdir.json("plan")) == []


def test_d9_w9_a_payment_more_than_precoro_has_left_to_pay_is_blocked_with_the_fix_not_sent(workdir, precoro):
    """The operator approved the unlink of a voided payment without cancelling its Precoro record, as
    the note asked; the Bill is then paid in full. Precoro would refuse 57 with 37 left to pay (or
    pay the invoice twice over): the plan says so before any write, and goes on once it is fixed."""
    bill, idn = sent_bill(workdir)
    first = pay(workdir, bill, 20)
    workdir.json("plan")
    workdir.json("apply", "--yes")
    [recorded] = precoro_payments(workdir)
    quickbooks_post(workdir, "BillPayment", {"operation": "update", "include": "void"},
                    {"Id": first["Id"], "SyncToken": first["SyncToken"], "sparse": True})
    [unlink] = payment_actions(workdir.json("plan"))
    assert workdir.run("approve", unlink["id"]).returncode == 0
    workdir.json("apply", "--yes")

    qb, pc = workdir.clients()
    paid = pay(workdir, qb.read("Bill", bill["Id"]), 57)
    [blocked] = payment_actions(workdir.json("plan"))
    assert blocked["kind"] == "blocked" and blocked["name"] == f"payment {paid['Id']} of Bill {bill['Id']}"
    assert "Precoro has 37 left to pay on invoice INV-2026-0042" in blocked["note"]
    assert "less than this payment's 57" in blocked["note"] and "20 recorded paid there" in blocked["note"]
    assert "Fix: cancel in Precoro the payment recorded there by hand" in blocked["note"]
    assert {c["field"] for c in blocked["changes"]} >= {"amount", "paid by"}  # what it would record
    report = workdir.json("apply", "--yes")
    assert not [r for r in report["results"] if r["status"] in ("failed", "refused")]
    assert len(precoro_payments(workdir)) == 1  # nothing sent to be refused

    # Cancelled by hand in Precoro (its API cannot): the next plan records the payment.
    served = precoro(workdir)
    served.state.delete("payments", recorded["idn"])  # numbered: its key is its idn
    [create] = payment_actions(workdir.json("plan"))
    assert create["kind"] == "create" and create["approved"] and "becomes Paid" in create["note"]
    workdir.json("apply", "--yes")
    assert pc.get(f"/invoices/{idn}")["statusString"] == "Paid"


def test_d9_w9_payments_of_one_plan_count_together_against_what_is_left_to_pay(workdir, precoro):
    """A payment recorded by hand in Precoro, then two in QuickBooks that each fit what Precoro has
    left but not both: the first is recorded, the second blocked, saying the plan records the first."""
    bill, idn = sent_bill(workdir)
    served = precoro(workdir)
    served.state.insert("payments", {"invoice": served.state.get("invoices", int(idn))["id"], "sumPaid": 20,
                                     "payDate": "2026-11-30"})
    first, second = pay(workdir, bill, 20), pay(workdir, bill, 37)
    actions = {a["name"]: a for a in payment_actions(workdir.json("plan"))}
    assert actions[f"payment {first['Id']} of Bill {bill['Id']}"]["kind"] == "create"
    held = actions[f"payment {second['Id']} of Bill {bill['Id']}"]
    assert held["kind"] == "blocked" and "Precoro has 17 left to pay" in held["note"]
    assert "this plan records 20 more" in held["note"]


def test_d9_w9_a_payment_of_an_invoice_cancelled_in_precoro_is_blocked_beside_the_held_cancellation(workdir, precoro):
    """Cancelled in Precoro, paid in QuickBooks: the two disagree and a person settles it; the
    payment is not sent to be refused (Precoro pays approved invoices only)."""
    bill, idn = sent_bill(workdir)
    precoro(workdir).state.update("invoices", int(idn), {"status": 8})
    paid = pay(workdir, bill, 57)
    plan = workdir.json("plan")
    [payment] = payment_actions(plan)
    assert payment["kind"] == "blocked" and payment["name"] == f"payment {paid['Id']} of Bill {bill['Id']}"
    assert f"Precoro invoice {idn} is cancelled" in payment["note"]
    [cancel] = [a for a in plan["actions"] if a["entity"] == "invoice"]
    assert cancel["kind"] == "blocked" and "cancelled in Precoro, but" in cancel["note"]
    report = workdir.json("apply", "--yes")
    assert not [r for r in report["results"] if r["status"] in ("failed", "refused")]
    assert precoro_payments(workdir) == []


def test_d9_w10_a_payment_recorded_in_precoro_by_hand_is_linked_not_recorded_twice(workdir, precoro):
    """During an outage someone entered the QuickBooks payment in Precoro by hand (no externalId).
    Recording it again would pay the invoice twice: the plan links it (same invoice, amount and
    day), and a second payment of the same amount and day is recorded, not linked to it too."""
    bill, idn = sent_bill(workdir)
    first = pay(workdir, bill, 20)
    served = precoro(workdir)
    invoice_id = served.state.get("invoices", int(idn))["id"]
    served.state.insert("payments", {"invoice": invoice_id, "sumPaid": 20, "payDate": first["TxnDate"]})
    second = pay(workdir, bill, 20)  # the same amount, the same day: a payment of its own
    actions = {a["name"]: a for a in payment_actions(workdir.json("plan"))}
    linked = actions[f"payment {first['Id']} of Bill {bill['Id']}"]
    assert linked["kind"] == "link" and "by hand, of the same amount and day" in linked["note"]
    assert actions[f"payment {second['Id']} of Bill {bill['Id']}"]["kind"] == "create"
    workdir.json("apply", "--yes")
    _, pc = workdir.clients()
    assert sorted(p["sumPaid"] for p in precoro_payments(workdir)) == [20, 20]  # not 20, 20, 20
    assert payment_actions(workdir.json("plan")) == []  # both known now: nothing more


def test_d9_payments_import_records_a_date_range_once(workdir):
    bill, idn = sent_bill(workdir)
    cheque = pay(workdir, bill, 20)
    today = date.today().isoformat()

    saved = workdir.run("payments", "import", "--since", cheque["TxnDate"], "--json")
    assert saved.returncode == 2 and "Saved as plan" in saved.stderr
    imported = workdir.json("payments", "import", "--since", cheque["TxnDate"], "--until", today, "--yes")
    assert [r["status"] for r in imported["results"]] == ["applied"]
    _, pc = workdir.clients()
    assert pc.get(f"/invoices/{idn}")["statusString"] == "Partly Paid"

    again = workdir.run("payments", "import", "--since", cheque["TxnDate"])
    assert again.returncode == 0 and "nothing to import" in again.stdout
    assert payment_actions(workdir.json("plan")) == []  # the regular plan knows it too

    # A range before the payment reads nothing; a state file that forgot it links it, never twice.
    assert workdir.run("payments", "import", "--since", "2020-01-01", "--until", "2020-12-31").returncode == 0
    with sqlite3.connect(workdir.path / ".qbsync" / "state.db") as state:
        state.execute("delete from links where entity = 'payments'")
    relinked = workdir.json("payments", "import", "--since", cheque["TxnDate"], "--yes")
    assert [r["kind"] for r in relinked["results"]] == ["link"]
    assert len(precoro_payments(workdir)) == 1


def test_d9_payments_import_refuses_bad_ranges_with_clear_errors(workdir):
    backwards = workdir.run("payments", "import", "--since", "2026-02-01", "--until", "2026-01-01")
    assert backwards.returncode == 1 and "--until 2026-01-01 is before --since 2026-02-01" in backwards.stderr
    bad_day = workdir.run("payments", "import", "--since", "2026-02-30")
    assert bad_day.returncode == 1 and "is not a day as YYYY-MM-DD" in bad_day.stderr
    assert workdir.run("payments", "import").returncode == 1  # --since is required


def test_d9_payments_turned_off_in_the_rules_are_not_read(workdir):
    bill, _ = sent_bill(workdir)
    pay(workdir, bill, 20)
    rules = workdir.path / "rules.yaml"
    rules.write_text(rules.read_text().replace("  payments:\n    enabled: true", "  payments:\n    enabled: false"))
    assert payment_actions(workdir.json("plan")) == []
    off = workdir.run("payments", "import", "--since", "2020-01-01")
    assert off.returncode == 1 and "payments are turned off" in off.stderr
    rules.write_text(rules.read_text().replace("  payments:\n    enabled: false", "  payments:\n    enabled: maybe"))
    invalid = workdir.run("validate")
    assert invalid.returncode == 1 and "rules.yaml:" in invalid.stdout and "documents.payments" in invalid.stdout
