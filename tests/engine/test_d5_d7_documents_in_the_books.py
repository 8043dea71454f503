"""D5-D7 against the local APIs: a document's header and lines come from the rules, an edit in
Precoro updates the QuickBooks document, a cancellation voids or deletes it; what QuickBooks holds a
payment on is held for a person."""

from __future__ import annotations

import re

from engine.local.demo import DEMO_REALM

REALM = DEMO_REALM
NUMBER = "INV-2026-0042"  # the demo's approved supplier-portal invoice: 10 x copy paper, 1 x courier


def bill(servers) -> dict:
    [found] = servers.quickbooks.query(REALM, f"SELECT * FROM Bill WHERE DocNumber = '{NUMBER}'").response().get("Bill", [])
    return found


def invoice(servers) -> dict:
    total, _ = servers.precoro.page("invoices", limit=1)
    [found] = [i for i in servers.precoro.page("invoices", limit=total)[1] if i["invoiceNumber"] == NUMBER]
    return servers.precoro.get("invoices", found["idn"])


def stored_lines(doc: dict) -> list[dict]:
    """The invoice's lines as the Precoro state takes them back."""
    return [{"id": line["id"], "item": (line["item"] or {}).get("id"), "name": line["name"], "quantity": line["quantity"],
             "price": line["price"],
             "itemCustomFields": {str(c["itemCustomField"]["id"]): c["option"]["id"]
                                  for c in line["dataItemCustomFields"]["data"]}}
            for line in doc["items"]]


def edit(servers, **fields) -> None:
    """A colleague's edit in Precoro, likely in the same second as qbsync's last write (its mark):
    Precoro's updateDate counts seconds, so the date alone may not tell them apart."""
    servers.precoro.update("invoices", invoice(servers)["idn"], fields)


def sync(servers, workdir, rules_edit=None):
    """One plan and its apply; returns the plan's invoice actions and the report."""
    with servers.session(workdir, REALM) as session:
        if rules_edit:  # the session wrote the shipped rules: the operator edits them
            rules_edit(workdir)
            session.reload_rules()
        plan = session.plan()
        report = session.apply(plan.id)
    return [a for a in plan.actions if a.entity == "invoice"], report


def test_d6_an_invoice_edited_in_precoro_updates_its_bill_with_a_line_diff(servers, fresh_dir):
    workdir = fresh_dir()
    servers.first_sync(workdir, REALM, workdir / "state.db", rounds=2)
    before = bill(servers)
    assert before["TotalAmt"] == 57.0
    lines = stored_lines(invoice(servers))
    lines[0]["quantity"] = 5  # 509 -> 400 in the issue; here 10 -> 5 reams of paper
    edit(servers, items=lines)

    [action], report = sync(servers, workdir)
    assert (action.kind, action.target, action.quickbooks_id) == ("update", "quickbooks", before["Id"])
    [line] = [c for c in action.changes if c.field == "line 1"]
    assert "10.0 x 4.2 = 42.0" in line.before and "5.0 x 4.2 = 21.0" in line.after
    assert not [c for c in action.changes if c.field == "line 2"]  # unchanged lines are not shown
    after = bill(servers)
    assert after["Id"] == before["Id"] and after["TotalAmt"] == 36.0 and int(after["SyncToken"]) > int(before["SyncToken"])
    assert after["PrivateNote"] == before["PrivateNote"]  # what did not change is sent as it was
    # Done: the next plan has nothing for it.
    assert sync(servers, workdir)[0] == []


def test_d6_a_status_change_alone_is_no_revision(servers, fresh_dir):
    workdir = fresh_dir()
    servers.first_sync(workdir, REALM, workdir / "state.db", rounds=2)
    edit(servers, status=5)  # paid in Precoro: its body in the books is the same
    assert sync(servers, workdir)[0] == []


def test_d6_d7_a_paid_bill_is_held_for_review_not_changed(servers, fresh_dir):
    workdir = fresh_dir()
    servers.first_sync(workdir, REALM, workdir / "state.db", rounds=2)
    paid = bill(servers)
    # A colleague records a payment against it in QuickBooks.
    servers.quickbooks.update(REALM, "Bill", {"Id": paid["Id"], "SyncToken": paid["SyncToken"], "sparse": True,
                                              "LinkedTxn": [{"TxnId": "77", "TxnType": "BillPaymentCheck"}]})
    paid = bill(servers)
    lines = stored_lines(invoice(servers))
    lines[1]["price"] = 20
    edit(servers, items=lines)
    [action], _ = sync(servers, workdir)
    assert action.kind == "blocked" and "held for review" in action.note and "BillPaymentCheck 77" in action.note
    assert [c.field for c in action.changes] == ["line 2"]  # the reviewer sees what the edit would change
    assert bill(servers)["SyncToken"] == paid["SyncToken"]  # nothing written

    edit(servers, status=8)
    [action], _ = sync(servers, workdir)
    assert action.kind == "blocked" and "cancelled in Precoro" in action.note and "held for review" in action.note
    assert bill(servers)["SyncToken"] == paid["SyncToken"]


def test_d7_a_cancelled_invoice_voids_its_bill_once(servers, fresh_dir):
    workdir = fresh_dir()
    servers.first_sync(workdir, REALM, workdir / "state.db", rounds=2)
    sent = bill(servers)
    edit(servers, status=8)
    [action], report = sync(servers, workdir)
    assert (action.kind, action.target) == ("deactivate", "quickbooks") and "voided" in action.note
    voided = bill(servers)
    assert voided["Id"] == sent["Id"] and voided["TotalAmt"] == 0
    assert all(line["Amount"] == 0 for line in voided["Line"]) and voided["PrivateNote"].startswith("Voided")
    assert sync(servers, workdir)[0] == []  # voided once


def test_d7_rules_may_delete_instead_or_leave_it(servers, fresh_dir):
    workdir = fresh_dir()
    servers.first_sync(workdir, REALM, workdir / "state.db", rounds=2)
    edit(servers, status=8)

    def cancelled(how):
        def rewrite(directory):
            path = directory / "rules.yaml"
            path.write_text(re.sub(r"when_cancelled: void", f"when_cancelled: {how}", path.read_text(), count=1))
        return rewrite

    assert sync(servers, workdir, cancelled("ignore"))[0] == []
    [action], _ = sync(servers, workdir, cancelled("delete"))
    assert action.kind == "deactivate" and "deleted" in action.note
    assert servers.quickbooks.query(REALM, f"SELECT * FROM Bill WHERE DocNumber = '{NUMBER}'").response().get("Bill") is None
    assert sync(servers, workdir, cancelled("delete"))[0] == []  # unlinked: nothing more to do


def test_d5_header_and_lines_follow_the_rules_and_the_links(servers, fresh_dir):
    """Terms, location, memo and due date on the header; class and tax on a line: each Precoro
    reference is sent as the QuickBooks record it is linked to."""
    workdir = fresh_dir()
    servers.first_sync(workdir, REALM, workdir / "state.db", rounds=2)
    with servers.session(workdir, REALM) as session:
        links = session.store.all_links(REALM)
    quickbooks = {entity: {r["Name"]: r["Id"] for r in servers.quickbooks.query(REALM, f"SELECT * FROM {entity}").response()[entity]}
                  for entity in ("Term", "Class", "Department", "TaxCode")}

    def precoro_id(section, entity, name):
        return int(next(p for p, q in links[section] if q == quickbooks[entity][name]))

    classes_field = next(f["id"] for f in servers.precoro.page("itemcustomfields", limit=50)[1] if f["name"] == "Classes")
    locations_field = next(f["id"] for f in servers.precoro.page("documentcustomfields", limit=50)[1] if f["name"] == "Locations")
    lines = stored_lines(invoice(servers))
    lines[0]["itemCustomFields"][str(classes_field)] = precoro_id("classes", "Class", "Operations")
    lines[0]["taxes"] = [precoro_id("taxes", "TaxCode", "VAT 20%")]
    edit(servers, items=lines, paymentTerm=precoro_id("terms", "Term", "Net 15"), customName="Q4 paper order",
         requiredDate="2026-12-15T00:00:00+00:00",
         documentCustomFields={str(locations_field): precoro_id("locations", "Department", "Berlin")})

    [action], _ = sync(servers, workdir)
    assert action.kind == "update"
    assert {c.field for c in action.changes} >= {"terms", "location", "memo", "due_date", "line 1"}
    sent = bill(servers)
    assert sent["SalesTermRef"]["value"] == quickbooks["Term"]["Net 15"]
    assert sent["DepartmentRef"]["value"] == quickbooks["Department"]["Berlin"]
    assert sent["DueDate"] == "2026-12-15"
    assert sent["PrivateNote"].startswith("Q4 paper order\nPrecoro invoice")
    detail = sent["Line"][0]["ItemBasedExpenseLineDetail"]
    assert detail["ClassRef"]["value"] == quickbooks["Class"]["Operations"]
    assert detail["TaxCodeRef"]["value"] == quickbooks["TaxCode"]["VAT 20%"]


def test_d5_a_line_with_no_account_goes_to_the_rules_default_account(servers, fresh_dir):
    workdir = fresh_dir()
    servers.first_sync(workdir, REALM, workdir / "state.db", rounds=2)
    lines = stored_lines(invoice(servers))
    lines.append({"item": None, "name": "Mystery fee", "quantity": 1, "price": 3})
    edit(servers, items=lines)

    [action], _ = sync(servers, workdir)  # no default account: the line is left out alone, and said so
    assert action.kind == "blocked" and "line 3 ('Mystery fee') is not sent" in action.note
    assert len(bill(servers)["Line"]) == 2

    def default_account(directory):
        path = directory / "rules.yaml"
        path.write_text(path.read_text().replace("default_account: null", "default_account: Office Supplies", 1))

    [action], _ = sync(servers, workdir, default_account)
    assert action.kind == "update" and [c.field for c in action.changes] == ["line 3"]
    third = bill(servers)["Line"][2]
    assert third["Description"] == "Mystery fee" and third["AccountBasedExpenseLineDetail"]["AccountRef"]["value"]


def test_d5_a_default_account_quickbooks_does_not_have_is_said_plainly(servers, fresh_dir):
    workdir = fresh_dir()
    servers.first_sync(workdir, REALM, workdir / "state.db", rounds=2)

    def wrong(directory):
        path = directory / "rules.yaml"
        path.write_text(path.read_text().replace("default_account: null", "default_account: Ofice Supplies", 1))

    [action], _ = sync(servers, workdir, wrong)
    assert action.kind == "blocked" and "no account of that name" in action.note and "'Ofice Supplies'" in action.note


def test_d5_a_document_custom_field_goes_to_a_quickbooks_custom_field_named_in_the_rules(servers, fresh_dir):
    workdir = fresh_dir()
    servers.first_sync(workdir, REALM, workdir / "state.db", rounds=2)
    project = servers.precoro.insert("documentcustomfields", {"name": "Project"})["id"]
    apollo = servers.precoro.insert("documentcustomfield_options", {"customField": project, "name": "Apollo"})["id"]
    edit(servers, documentCustomFields={str(project): apollo})

    def project_field(directory):
        path = directory / "rules.yaml"
        text = path.read_text()
        memo = "      memo:     {precoro: customName, quickbooks: PrivateNote"
        at = text.index(memo)
        path.write_text(text[:at] + '      project:  {precoro: "dataDocumentCustomFields[documentCustomField.name=Project].value", '
                        'quickbooks: "CustomField[DefinitionId=1].StringValue", direction: to_quickbooks}\n' + text[at:])

    [action], _ = sync(servers, workdir, project_field)
    assert action.kind == "update" and [c.field for c in action.changes] == ["project"]
    assert bill(servers)["CustomField"] == [{"DefinitionId": "1", "StringValue": "Apollo", "Type": "StringType"}]


def accountant_moves_the_courier_line(servers, **more) -> dict:
    """In QuickBooks, the accountant moves the Bill's courier line to account 4 (and sets `more`);
    returns the Bill as it then is."""
    sent = bill(servers)
    lines = [dict(line) for line in sent["Line"]]
    courier = next(i for i, line in enumerate(lines) if line["DetailType"] == "AccountBasedExpenseLineDetail")
    lines[courier] = {**lines[courier], "AccountBasedExpenseLineDetail": {"AccountRef": {"value": "4"}}}
    servers.quickbooks.update(REALM, "Bill", {"Id": sent["Id"], "SyncToken": sent["SyncToken"], "sparse": True,
                                              "Line": lines, **more})
    return bill(servers)


def test_d6_a_bill_edited_in_quickbooks_too_is_not_overwritten_by_a_revision_unless_a_person_approves(servers, fresh_dir):
    """The accountant moves the courier line to another account in QuickBooks; then the invoice is
    edited in Precoro. Sending the revision would undo the accountant's fix: it is planned against
    what QuickBooks holds now, not approved, and a run never approves it."""
    workdir = fresh_dir()
    servers.first_sync(workdir, REALM, workdir / "state.db", rounds=2)
    sent = bill(servers)
    fixed = accountant_moves_the_courier_line(servers)
    # Edited in QuickBooks alone: Precoro did not change, so nothing is proposed (as before).
    assert sync(servers, workdir)[0] == []

    stored = stored_lines(invoice(servers))
    stored[0]["quantity"] = 5
    edit(servers, items=stored)
    [action], report = sync(servers, workdir)
    assert (action.kind, action.approved) == ("update", False)
    assert f"QuickBooks Bill {sent['Id']} was edited in QuickBooks since it was sent (line 2)" in action.note
    assert "approving this sends Precoro's version over those edits" in action.note
    # The diff is what the write would do to QuickBooks as it is now: the courier line back to its
    # Precoro account, the paper line from 10 to 5 reams.
    shown = {c.field: c for c in action.changes}
    assert "(QuickBooks account 4)" in shown["line 2"].before and "(QuickBooks account 2)" in shown["line 2"].after
    assert "10.0 x 4.2" in shown["line 1"].before and "5.0 x 4.2" in shown["line 1"].after
    assert bill(servers)["SyncToken"] == fixed["SyncToken"]  # not approved: nothing written

    # An unattended run holds it for that reason, and never lets it go by itself.
    from engine.policy import judge

    with servers.session(workdir, REALM) as session:
        plan = session.plan()
        [held] = [a for a in plan.actions if a.entity == "invoice"]
        judged = judge(list(plan.actions), session.rules, [])
        assert judged.holds(held) and "was edited in QuickBooks since it was sent" in judged.verdicts[held.id].reason
        # A person approves it: Precoro's version goes over the accountant's edit, once.
        session.approve([held.id], plan_id=plan.id)
        session.apply(plan.id)
    after = bill(servers)
    assert after["TotalAmt"] == 36.0 and int(after["SyncToken"]) == int(fixed["SyncToken"]) + 1
    assert sync(servers, workdir)[0] == []


def test_d7_a_void_keeps_what_the_accountant_changed_in_quickbooks_and_zeroes_the_amounts(servers, fresh_dir):
    workdir = fresh_dir()
    servers.first_sync(workdir, REALM, workdir / "state.db", rounds=2)
    accountant_moves_the_courier_line(servers, DueDate="2026-12-31")
    edit(servers, status=8)
    [action], _ = sync(servers, workdir)
    assert action.kind == "deactivate" and "voided" in action.note
    voided = bill(servers)
    assert voided["TotalAmt"] == 0 and voided["DueDate"] == "2026-12-31"
    [line] = [l for l in voided["Line"] if l["DetailType"] == "AccountBasedExpenseLineDetail"]
    assert line["AccountBasedExpenseLineDetail"]["AccountRef"]["value"] == "4" and line["Amount"] == 0
    assert sync(servers, workdir)[0] == []  # voided once
