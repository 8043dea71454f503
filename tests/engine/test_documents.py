"""Documents in the pure planner (D1, D2, S6)."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import rules
from engine.documents import as_sent, plan_documents
from engine.entities import INVOICES, PURCHASE_ORDERS
from engine.reconcile import LinkState, SyncState
from engine.references import References
from engine.writes import quickbooks_body

DEFAULT = rules.loads("version: 1\n")
REFS = References.build({"suppliers": [("2", "8")], "chart_of_accounts": [("11", "2")], "items": [("1", "16")]}, "1")
REFS.names["chart_of_accounts"] = {"2": "Office Supplies"}


def body(action):
    """The QuickBooks request the create sends."""
    return quickbooks_body(action.write, lambda action_id: None)


def invoice(idn, *, status=2, supplier=2, lines=None, portal=False, number="INV-1"):
    return {"idn": idn, "status": status, "supplier": {"id": supplier, "name": "Robertson"}, "fromSupplier": portal,
            "invoiceNumber": number, "issueDate": "2026-11-20", "currency": "USD", "sum": 57.0,
            "updateDate": "2026-11-20T10:00:00+00:00",
            "items": lines if lines is not None else [
                {"item": {"id": 1, "name": "Copy paper"}, "name": "Copy paper", "quantity": 10, "price": 4.2},
                {"item": None, "name": "Courier", "quantity": 1, "price": 15,
                 "dataItemCustomFields": {"data": [{"itemCustomField": {"id": 1}, "option": {"id": 11}}]}}]}


def plan(docs, sent=(), kind=INVOICES, item_links=None, item_accounts=None):
    refs = REFS
    if item_links is not None:
        refs = References.build({"suppliers": [("2", "8")], "chart_of_accounts": [("11", "2")],
                                 "items": list(item_links.items())}, "1")
    state = SyncState(links={idn: LinkState(idn, "900") for idn in sent})
    return plan_documents(kind, DEFAULT.entity(kind.section), docs, state, refs, item_accounts or {}).actions


def test_d1_an_approved_invoice_becomes_one_bill():
    [action] = plan([invoice(1)])
    assert (action.kind, action.target, action.entity, action.precoro_id) == ("create", "quickbooks", "invoice", "1")
    sent = body(action)
    assert sent["VendorRef"] == {"value": "8"} and sent["DocNumber"] == "INV-1" and sent["TxnDate"] == "2026-11-20"


def test_d1_once_each_and_only_approved():
    assert plan([invoice(1)], sent={"1"}) == []
    assert plan([invoice(2, status=1)]) == []  # pending approval
    assert [a.precoro_id for a in plan([invoice(3, status=5)])] == ["3"]  # paid: it was approved


def test_d1_purchase_orders_become_purchase_orders():
    [action] = plan([invoice(1, number=None)], kind=PURCHASE_ORDERS)
    assert action.entity == "purchase_order" and body(action)["DocNumber"] == "1"


def test_d2_linked_items_are_item_lines_and_the_rest_category_lines():
    [action] = plan([invoice(1)])
    first, second = body(action)["Line"]
    assert first["DetailType"] == "ItemBasedExpenseLineDetail"
    assert first["ItemBasedExpenseLineDetail"]["ItemRef"] == {"value": "16"} and first["Amount"] == 42.0
    assert second["DetailType"] == "AccountBasedExpenseLineDetail"
    assert second["AccountBasedExpenseLineDetail"]["AccountRef"] == {"value": "2"}


def test_d2_line_amounts_are_money_to_the_cent_and_the_total_their_sum():
    """Precoro's quantity x price, booked to the cent (half up): no 4.9995, no 0.30000000000000004."""
    lines = [{"item": {"id": 1, "name": "Copy paper"}, "name": "Copy paper", "quantity": 1.5, "price": 3.333},
             {"item": None, "name": "Stamps", "quantity": 3, "price": 0.1,
              "dataItemCustomFields": {"data": [{"itemCustomField": {"id": 1}, "option": {"id": 11}}]}},
             {"item": None, "name": "Pens", "quantity": 3, "price": 0.335,
              "dataItemCustomFields": {"data": [{"itemCustomField": {"id": 1}, "option": {"id": 11}}]}}]
    [action] = plan([invoice(1, lines=lines)])
    sent = body(action)["Line"]
    assert [line["Amount"] for line in sent] == [5.0, 0.3, 1.01]
    assert sent[0]["ItemBasedExpenseLineDetail"]["UnitPrice"] == 3.333  # the unit price stays as it is
    assert next(c.after for c in action.changes if c.field == "total") == 6.31


def test_d2_an_unmapped_item_line_goes_as_a_category_line_on_its_items_account():
    [action] = plan([invoice(1)], item_links={}, item_accounts={"1": "2"})
    lines = body(action)["Line"]
    assert [line["DetailType"] for line in lines] == ["AccountBasedExpenseLineDetail"] * 2


def test_d5_a_line_with_no_account_is_left_out_alone_with_the_reason_the_rest_goes():
    [action] = plan([invoice(1)], item_links={})
    assert action.kind == "create" and "line 1 ('Copy paper') is not sent" in action.note
    assert [line["Description"] for line in body(action)["Line"]] == ["Courier"]


def test_d5_a_document_with_no_line_that_can_go_is_blocked_with_the_reasons():
    [action] = plan([invoice(1, lines=[{"item": None, "name": "Mystery", "quantity": 1, "price": 5}])])
    assert action.kind == "blocked" and "line 1 ('Mystery') is not sent" in action.note


def test_d1_supplier_not_integrated_holds_the_document_back():
    [action] = plan([invoice(1, supplier=99)])
    assert action.kind == "blocked" and "not integrated" in action.note


def test_s6_supplier_portal_invoices_sync_like_staff_ones():
    [action] = plan([invoice(1, portal=True)])
    assert action.kind == "create" and "supplier portal" in body(action)["PrivateNote"]


def test_d1_a_long_invoice_number_is_cut_to_fit_and_the_plan_says_so():
    [action] = plan([invoice(1, number="X" * 30)])
    assert body(action)["DocNumber"] == "X" * 21
    assert "cut from 30 to 21" in next(c for c in action.changes if c.field == "number").note


def test_d1_a_credit_note_is_held_with_the_reason_not_sent_as_a_bill():
    for logic_type in (1, 5):
        [action] = plan([{**invoice(7, number="CN-7"), "logicType": logic_type}])
        assert (action.kind, action.target, action.write) == ("blocked", None, None)
        assert action.name == "credit note CN-7"
        assert f"credit note (logicType {logic_type}), not sent as a Bill" in action.note
    assert plan([{**invoice(8), "logicType": 0}])[0].kind == "create"  # an ordinary invoice


def test_d8_a_split_invoice_goes_once_its_parent_and_its_parts_are_held():
    parent, one, two = invoice(1), {**invoice(2), "parentData": {"idn": 1}}, {**invoice(3), "parentData": {"idn": 1}}
    actions = {a.precoro_id: a for a in plan([parent, one, two])}
    assert actions["1"].kind == "create"
    assert [actions[idn].kind for idn in ("2", "3")] == ["blocked", "blocked"]
    assert "split-cost part of invoice 1, which is sent whole instead" in actions["2"].note
    # Parts sent before (by an earlier qbsync): the parent is held, not sent as well.
    [held] = plan([parent, one, two], sent={"2", "3"})
    assert held.precoro_id == "1" and held.kind == "blocked" and "parts 2, 3 were sent already" in held.note


def test_d6_a_sent_invoice_whose_new_supplier_is_not_linked_says_why_it_is_not_updated():
    from engine.documents import sent_baseline

    [create] = plan([invoice(1)])
    sent = body(create)
    link = LinkState("1", "900", baseline=sent_baseline({k: v for k, v in create.write.values.items()}))
    state = SyncState(links={"1": link})
    assert plan_documents(INVOICES, DEFAULT.entity("invoices"), [invoice(1)], state, REFS, {}).actions == []
    [held] = plan_documents(INVOICES, DEFAULT.entity("invoices"), [invoice(1, supplier=99)], state, REFS, {}).actions
    assert held.kind == "blocked" and "is not updated" in held.note and "not integrated" in held.note
    assert sent["VendorRef"] == {"value": "8"}


def sent_state(idn="1"):
    """One invoice sent as it is now: its link keeps the body it was written with."""
    from engine.documents import sent_baseline

    [create] = plan([invoice(int(idn))])
    return SyncState(links={idn: LinkState(idn, "900", baseline=sent_baseline(create.write.values))})


def test_d7_a_cancelled_invoice_voids_or_deletes_its_bill_as_the_rules_say_and_a_paid_one_is_held():
    open_bill = {"900": {"Id": "900", "SyncToken": "3", "Balance": 57.0, "TotalAmt": 57.0}}
    cancelled = invoice(1, status=8)
    [void] = plan_documents(INVOICES, DEFAULT.entity("invoices"), [cancelled], sent_state(), REFS, {},
                            books=lambda ids: open_bill).actions
    assert (void.kind, void.write.op, void.write.version) == ("deactivate", "update", "3")
    assert [line["Amount"] for line in void.write.values["Line"]] == [0.0, 0.0]
    deleting = rules.loads("version: 1\ndocuments:\n  invoices:\n    when_cancelled: delete\n").entity("invoices")
    [delete] = plan_documents(INVOICES, deleting, [cancelled], sent_state(), REFS, {}, books=lambda ids: open_bill).actions
    assert (delete.kind, delete.write.op, body(delete)) == ("deactivate", "delete", {"Id": "900", "SyncToken": "3"})
    paid = {"900": {**open_bill["900"], "Balance": 7.0}}
    [held] = plan_documents(INVOICES, DEFAULT.entity("invoices"), [cancelled], sent_state(), REFS, {},
                            books=lambda ids: paid).actions
    assert held.kind == "blocked" and "a payment (balance 7.0 of 57.0)" in held.note


def test_d6_only_the_documents_that_changed_are_looked_up_in_the_books():
    asked = []

    def books(ids):
        asked.append(ids)
        return {"900": {"Id": "900", "SyncToken": "3", "Balance": 57.0, "TotalAmt": 57.0}}

    assert plan_documents(INVOICES, DEFAULT.entity("invoices"), [invoice(1)], sent_state(), REFS, {}, books=books).actions == []
    assert asked == []  # unchanged: QuickBooks is not asked
    edited = invoice(1, lines=[{"item": {"id": 1, "name": "Copy paper"}, "name": "Copy paper", "quantity": 5, "price": 4.2}])
    [update] = plan_documents(INVOICES, DEFAULT.entity("invoices"), [edited], sent_state(), REFS, {}, books=books).actions
    assert asked == [["900"]] and (update.kind, update.write.version) == ("update", "3")
    assert [c.field for c in update.changes] == ["line 1", "line 2"]  # 10 -> 5 reams; the courier line is gone
    assert update.changes[1].after is None


CHILDREN = rules.loads("version: 1\ndocuments:\n  invoices:\n    split_cost: children\n")


def test_d8_split_cost_children_sends_the_parts_and_holds_the_parent():
    parent, one, two = invoice(1), {**invoice(2), "parentData": {"idn": 1}}, {**invoice(3), "parentData": {"idn": 1}}
    state = SyncState()
    actions = {a.precoro_id: a for a in plan_documents(INVOICES, CHILDREN.entity("invoices"), [parent, one, two],
                                                       state, REFS, {}).actions}
    assert [actions[idn].kind for idn in ("1", "2", "3")] == ["blocked", "create", "create"]
    assert "sent as its parts 2, 3 instead (documents.invoices.split_cost: children)" in actions["1"].note
    assert actions["2"].follow_up.split_parent == "1"  # remembered with its link when sent
    # Each part says the whole invoice's total (the parent's own), which a run's limit goes by (U2).
    assert [(c.field, c.after) for c in actions["2"].changes if c.field == "split invoice total"] == [
        ("split invoice total", 57.0)]
    [alone] = [a for a in plan_documents(INVOICES, CHILDREN.entity("invoices"), [one], SyncState(), REFS, {}).actions]
    assert [c.after for c in alone.changes if c.field == "split invoice total"] == [57.0]  # no parent read: its parts'


def test_d8_never_both_whatever_an_earlier_run_sent():
    parent, part = invoice(1), {**invoice(2), "parentData": {"idn": 1}}
    # Parts sent under `children` (remembered apart from what is read now): the parent is held.
    [held] = plan_documents(INVOICES, DEFAULT.entity("invoices"), [parent], SyncState(), REFS, {},
                            sent_parts={"1": ["2"]}).actions
    assert held.kind == "blocked" and "parts 2 were sent already" in held.note
    # The parent sent under `parent`: a part is held under `children` too.
    [held] = plan_documents(INVOICES, CHILDREN.entity("invoices"), [part],
                            SyncState(links={"1": LinkState("1", "900")}), REFS, {}).actions
    assert held.kind == "blocked" and "parent, invoice 1, was sent already" in held.note


def test_d8_a_credit_note_is_planned_as_a_vendor_credit_by_its_own_entity():
    from engine.entities import CREDIT_NOTES

    note = {**invoice(7, number="CN-7"), "logicType": 1}
    [action] = plan([note], kind=CREDIT_NOTES)
    assert (action.kind, action.write.collection, action.name) == ("create", "VendorCredit", "credit note CN-7")
    assert body(action)["DocNumber"] == "CN-7" and body(action)["PrivateNote"] == "Precoro credit note 7"


def test_d8_attachments_are_listed_with_the_document_where_the_rules_ask_and_refused_types_marked():
    files = [{"id": 31, "name": "scan.pdf", "contentType": "application/pdf", "size": 9},
             {"id": 32, "name": "photos.ZIP", "contentType": "application/zip", "size": 2}]
    assert plan([{**invoice(1), "attachments": files}])[0].follow_up is None  # attachments: false by default
    with_files = rules.loads("version: 1\ndocuments:\n  invoices:\n    attachments: true\n")
    [action] = plan_documents(INVOICES, with_files.entity("invoices"), [{**invoice(1), "attachments": files}],
                              SyncState(), REFS, {}).actions
    assert action.follow_up.attachments == [
        {"id": "31", "name": "scan.pdf", "content_type": "application/pdf"},
        {"id": "32", "name": "photos.ZIP", "content_type": "application/zip",
         "skip": "QuickBooks does not take .zip files as attachments"}]
    shown = next(c for c in action.changes if c.field == "attachments")
    assert "photos.ZIP (skipped" in shown.after


def test_d6_a_real_quickbooks_bill_reads_as_the_body_sent_it_until_someone_edits_it_there():
    """A captured Bill (tests/fixtures/qbo): what QuickBooks adds (ids, names of references, its
    billable status, totals, a payment) is not an edit; an account changed on a line is."""
    book = json.loads((Path(__file__).parents[1] / "fixtures/qbo/rwestlund-quickbooks-go/bill.json").read_text())["Bill"]
    sent = {"CurrencyRef.value": "USD", "DocNumber": "1042", "DueDate": "2014-12-06", "PrivateNote": "",
            "SalesTermRef.value": "3", "TxnDate": "2014-11-06", "VendorRef.value": "46",
            "Line": [{"Amount": 103.55, "Description": "Lumber", "DetailType": "AccountBasedExpenseLineDetail",
                      "AccountBasedExpenseLineDetail": {"AccountRef": {"value": "64"}, "TaxCodeRef": {"value": "TAX"}}}]}
    assert as_sent(book, sent) == sent  # DocNumber and an empty PrivateNote: QuickBooks leaves them out
    assert as_sent({**book, "PrivateNote": "Precoro invoice 1\r\n(portal) "}, {**sent, "PrivateNote": "Precoro invoice 1\n(portal)"}
                   )["PrivateNote"] == "Precoro invoice 1\n(portal)"  # line ends and spacing are no edit
    edited = copy.deepcopy(book)
    edited["Line"][0]["AccountBasedExpenseLineDetail"]["AccountRef"] = {"name": "Repairs", "value": "65"}
    edited["DueDate"] = "2014-12-20"
    shaped = as_sent(edited, sent)
    assert shaped["DueDate"] == "2014-12-20"
    assert shaped["Line"][0]["AccountBasedExpenseLineDetail"]["AccountRef"] == {"value": "65"}
    # A line turned into an item line there is kept as QuickBooks has it (no sent line of its kind).
    turned = copy.deepcopy(book)
    turned["Line"][0] = {"Id": "1", "LineNum": 1, "Amount": 103.55, "DetailType": "ItemBasedExpenseLineDetail",
                         "ItemBasedExpenseLineDetail": {"ItemRef": {"value": "7", "name": "Lumber"}, "Qty": 1,
                                                        "UnitPrice": 103.55}}
    assert as_sent(turned, sent)["Line"] == [{k: v for k, v in turned["Line"][0].items() if k not in ("Id", "LineNum")}]
    # A line added there is shaped as a sent line of its kind.
    edited["Line"].append({**book["Line"][0], "Id": "2", "Amount": 5.0, "Description": "Nails"})
    assert as_sent(edited, sent)["Line"][1] == {**sent["Line"][0], "Amount": 5.0, "Description": "Nails"}
