"""D6, D7 through the CLI on the served local APIs: an invoice edited in Precoro after it was sent
updates its Bill (the plan shows the line diff), a cancelled one voids it, and a paid Bill is held
for review, never changed."""

from __future__ import annotations

from engine.local.precoro import PrecoroState

DEMO_INVOICE = 1  # the demo's approved invoice (idn): 10 x copy paper, 1 x courier


def edit_invoice(workdir, **fields) -> None:
    """A colleague's edit in Precoro (the served Precoro's own state: lines are not written over its API)."""
    served = workdir.apis.process.args
    state = PrecoroState(served[served.index("--data") + 1])
    try:
        if "quantity" in fields:
            doc = state.get("invoices", DEMO_INVOICE)
            lines = [{"id": line["id"], "item": (line["item"] or {}).get("id"), "name": line["name"],
                      "quantity": fields["quantity"] if number == 0 else line["quantity"], "price": line["price"],
                      "itemCustomFields": {str(v["itemCustomField"]["id"]): v["option"]["id"]
                                           for v in line["dataItemCustomFields"]["data"]}}
                     for number, line in enumerate(doc["items"])]
            state.update("invoices", DEMO_INVOICE, {"items": lines})
        if "status" in fields:
            state.update("invoices", DEMO_INVOICE, {"status": fields["status"]})
    finally:
        state.close()


def the_bill(workdir) -> dict:
    qb, _ = workdir.clients()
    [bill] = qb.query("SELECT * FROM Bill WHERE DocNumber = 'INV-2026-0042'").get("Bill", [])
    return bill


def invoice_actions(plan: dict) -> list[dict]:
    return [a for a in plan["actions"] if a["entity"] == "invoice"]


def test_d6_d7_an_edit_updates_the_bill_and_a_cancellation_voids_it_through_the_cli(workdir):
    workdir.first_sync()
    sent = the_bill(workdir)
    edit_invoice(workdir, quantity=5)

    text = workdir.run("plan").stdout
    assert "~ update in QuickBooks" in text and "line 1:" in text and "-> " in text, text
    [update] = invoice_actions(workdir.json("plan"))
    assert update["kind"] == "update" and update["quickbooks_id"] == sent["Id"]
    assert workdir.run("apply", "--yes").returncode == 0
    assert the_bill(workdir)["TotalAmt"] == 36.0  # 5 x 4.2 + 15
    assert invoice_actions(workdir.json("plan")) == []

    edit_invoice(workdir, status=8)
    assert '- void in QuickBooks "invoice INV-2026-0042"' in workdir.run("plan").stdout
    [void] = invoice_actions(workdir.json("plan"))
    assert void["kind"] == "deactivate" and "voided" in void["note"]
    assert workdir.run("apply", "--yes").returncode == 0
    voided = the_bill(workdir)
    assert voided["Id"] == sent["Id"] and voided["TotalAmt"] == 0 and voided["PrivateNote"].startswith("Voided")


def test_d6_a_paid_bill_is_held_for_review_through_the_cli(workdir):
    workdir.first_sync()
    bill = the_bill(workdir)
    qb, _ = workdir.clients()
    bank = qb.create("Account", {"Name": "Operating", "AccountType": "Bank"})
    qb.create("BillPayment", {"VendorRef": bill["VendorRef"], "PayType": "Check", "TotalAmt": 10.0,
                              "CheckPayment": {"BankAccountRef": {"value": bank["Id"]}},
                              "Line": [{"Amount": 10.0, "LinkedTxn": [{"TxnId": bill["Id"], "TxnType": "Bill"}]}]})
    edit_invoice(workdir, quantity=5)
    [held] = invoice_actions(workdir.json("plan"))
    assert held["kind"] == "blocked" and "held for review" in held["note"]
    before = the_bill(workdir)["SyncToken"]
    workdir.run("apply", "--yes")
    assert the_bill(workdir)["SyncToken"] == before  # nothing written to the paid Bill


def test_d3_a_lost_state_file_never_sends_the_invoice_twice_through_the_cli(workdir):
    workdir.first_sync()
    sent = the_bill(workdir)
    for path in (workdir.path / ".qbsync").glob("state.db*"):
        path.unlink()  # a lost disk: the state file, its links and journal are gone

    plan = workdir.json("plan")  # the operator starts over
    [link] = invoice_actions(plan)
    assert (link["kind"], link["quickbooks_id"]) == ("link", sent["Id"])  # found by its externalId, not sent
    workdir.run("apply", "--yes")
    assert the_bill(workdir)["Id"] == sent["Id"]  # one Bill, still (the_bill asserts there is one)
    assert invoice_actions(workdir.json("plan")) == []
    edit_invoice(workdir, quantity=5)
    [update] = invoice_actions(workdir.json("plan"))  # and followed again
    assert (update["kind"], update["quickbooks_id"]) == ("update", sent["Id"])


def test_d5_a_line_without_an_account_goes_to_the_default_account_named_in_the_rules_through_the_cli(workdir):
    rules = workdir.path / "rules.yaml"
    served = workdir.apis.process.args
    state = PrecoroState(served[served.index("--data") + 1])
    try:
        doc = state.get("invoices", DEMO_INVOICE)
        lines = [{"id": line["id"], "item": (line["item"] or {}).get("id"), "name": line["name"],
                  "quantity": line["quantity"], "price": line["price"],
                  "itemCustomFields": {str(v["itemCustomField"]["id"]): v["option"]["id"]
                                       for v in line["dataItemCustomFields"]["data"]}}
                 for line in doc["items"]]
        state.update("invoices", DEMO_INVOICE, {"items": [*lines, {"name": "Mystery fee", "quantity": 1, "price": 3}]})
    finally:
        state.close()
    rules.write_text(rules.read_text().replace("default_account: null", "default_account: Office Supplies", 1))
    workdir.first_sync()
    lines = the_bill(workdir)["Line"]
    assert [line["Description"] for line in lines][-1] == "Mystery fee"
    qb, _ = workdir.clients()
    [office] = qb.query("SELECT * FROM Account WHERE Name = 'Office Supplies'")["Account"]
    assert lines[-1]["AccountBasedExpenseLineDetail"]["AccountRef"]["value"] == office["Id"]


def test_w9_a_document_in_another_currency_than_its_vendor_is_blocked_not_sent_to_be_refused(workdir, precoro):
    """The demo's Robertson & Associates is a USD vendor in QuickBooks; an invoice of it in EUR
    would be refused (a vendor's transactions are in its currency): planned blocked, with the fix,
    and the apply sends nothing of it (before: error 6000, then "failed before" in every plan)."""
    workdir.first_sync()
    precoro(workdir).invoice("INV-EUR-1", currency="EUR")
    [held] = [a for a in workdir.json("plan")["actions"] if a["name"] == "invoice INV-EUR-1"]
    assert held["kind"] == "blocked"
    assert "it is in EUR, and its supplier's QuickBooks vendor 8 trades in USD" in held["note"]
    assert "Fix: correct its currency in Precoro" in held["note"]
    report = workdir.json("apply", "--yes")
    assert not [r for r in report["results"] if r["status"] in ("failed", "refused")]
    qb, _ = workdir.clients()
    assert list(qb.query_all("Bill", "DocNumber = 'INV-EUR-1'")) == []
