"""W11: after the first full read, plans read only what changed, deletions included.

The demo pair of companies is synced once over HTTP; the requests each local API answers are
logged on the server's side. Then the companies change the way colleagues change them, and the next
plan must see every change while reading (almost) nothing else.
"""

from __future__ import annotations

import re
import sqlite3
import threading
import time
from datetime import datetime, timedelta, timezone

import pytest

from engine.errors import Interrupted
from engine.local.demo import DEMO_REALM

REALM = DEMO_REALM


@pytest.fixture
def synced(servers, fresh_dir):
    """The demo pair after a first sync and a first plan after it; a factory of sessions on it."""
    workdir = fresh_dir()
    state = workdir / "state.db"
    servers.first_sync(workdir, REALM, state)

    def session():
        return servers.session(workdir, REALM, state)

    # Precoro's dates count seconds: a record written in the second a plan's read began is read
    # again by the next plan (it may have changed unseen), and that second is known from the
    # service's Date header, to the second. The first plan reads two seconds after the writes.
    time.sleep(2.01 - datetime.now(timezone.utc).microsecond / 1e6)
    with session() as first:
        first.plan()  # reads what the apply wrote
    servers.requests()
    return session


def reads(requests, path):
    return [r for r in requests if r[0] == "GET" and r[1] == path]


def vendor(servers, name):
    [row] = servers.quickbooks.query(REALM, f"SELECT * FROM Vendor WHERE DisplayName = '{name}'").response()["Vendor"]
    return row


def supplier(servers, name):
    total, _ = servers.precoro.page("suppliers", limit=1)
    return next(s for s in servers.precoro.page("suppliers", limit=total)[1] if s["name"] == name)


def add_suppliers(servers, count):
    """Suppliers added an hour ago: before the overlap a changes read repeats (mirror.OVERLAP)."""
    earlier = (datetime.now(timezone.utc) - timedelta(hours=1)).isoformat(timespec="seconds")
    servers.precoro.bulk_insert("suppliers", [{"name": f"Extra supplier {n:03}", "currencies": ["USD"],
                                               "createDate": earlier, "updateDate": earlier} for n in range(count)])


def cursors(state_path):
    with sqlite3.connect(state_path) as db:
        return sorted(db.execute("select side, section, since from mirror_reads").fetchall())


def test_w11_a_plan_where_nothing_changed_costs_a_few_calls_and_is_the_same_plan(servers, synced):
    with synced() as session:
        latest = session.plan()
        servers.requests()
        again = session.plan()
        calls = servers.requests()
    assert again.unchanged and again.id == latest.id
    # QuickBooks: one CDC call for every entity it covers (payments too, D9), one query for tax
    # codes (CDC has none).
    assert [r[1].rsplit("/", 1)[1] for r in calls["quickbooks"]] == ["cdc", "query"]
    assert "entities=Account%2CBillPayment%2CClass%2CDepartment%2CItem%2CTerm%2CVendor" in calls["quickbooks"][0][2]
    # Precoro: each small list is read whole, in one request; nothing twice.
    assert len(calls["precoro"]) <= 10, calls["precoro"]
    assert len(set(calls["precoro"])) == len(calls["precoro"])


def test_w11_changes_on_both_sides_are_read_as_changes_and_planned(servers, synced):
    robertson = vendor(servers, "Robertson & Associates")
    servers.quickbooks.update(REALM, "Vendor", {"Id": robertson["Id"], "SyncToken": robertson["SyncToken"], "sparse": True,
                                                "PrimaryPhone": {"FreeFormNumber": "+1 555 0100"}})
    muller = supplier(servers, "Müller Büromaterial GmbH")
    servers.precoro.update("suppliers", muller["id"], {"legalAddress": "Königstraße 14"})
    with synced() as session:
        plan = session.plan()
        calls = servers.requests()
    changed = {(a.kind, a.target, a.name) for a in plan.actions if a.kind == "update"}
    assert ("update", "precoro", "Robertson & Associates") in changed
    assert ("update", "quickbooks", "Müller Büromaterial GmbH") in changed
    assert not plan.unchanged
    # No full read of a QuickBooks entity CDC covers.
    assert not [r for r in calls["quickbooks"] if "FROM Vendor" in r[2] and r[1].endswith("/query")]


def test_w11_a_long_supplier_list_is_read_by_its_changes_and_a_count(servers, synced):
    add_suppliers(servers, 250)
    with synced() as session:
        session.plan()  # the list is now longer than one page: read whole once more
        servers.requests()
        same = session.plan()
        quiet = reads(servers.requests()["precoro"], "/suppliers")
        servers.precoro.update("suppliers", supplier(servers, "Extra supplier 007")["id"], {"city": "Lund"})
        changed = session.plan()
        one_change = reads(servers.requests()["precoro"], "/suppliers")
    assert same.unchanged
    assert len(quiet) == 2 and all("modifiedSince" in query for _, _, query in quiet)  # changes, and a count
    assert len(one_change) == 2
    assert any(a.name == "Extra supplier 007" for a in changed.actions)


def test_w11_invoices_and_credit_notes_have_their_changes_read_once(servers, synced):
    """Both are Precoro's /invoices (logicType tells them apart). Long lists are read by their
    changes: one changes read serves both, a call fewer and never the same GET twice within a
    minute, which Precoro refuses (it would cost the plan a minute's wait)."""
    earlier = (datetime.now(timezone.utc) - timedelta(hours=1)).isoformat(timespec="seconds")
    robertson = supplier(servers, "Robertson & Associates")
    servers.precoro.bulk_insert("invoices", [
        {"status": 2, "invoiceNumber": f"{prefix}-{n:03}", "supplier": robertson["id"], "logicType": logic_type,
         "items": [{"name": "Courier delivery", "quantity": 1, "price": 15.0}], "createDate": earlier,
         "updateDate": earlier}
        for prefix, logic_type in (("INV", 0), ("CN", 1)) for n in range(210)])
    with synced() as session:
        session.plan()  # both lists are now longer than one page: read whole once more
        servers.requests()
        same = session.plan()
        calls = reads(servers.requests()["precoro"], "/invoices")
    assert same.unchanged
    changes = [query for _, _, query in calls if "modifiedSince" in query and "modifiedSince=2000-01-01" not in query]
    counts = [query for _, _, query in calls if "modifiedSince=2000-01-01" in query]
    assert len(changes) == 1, calls
    assert len(counts) == 2  # a count each: a deletion in either is found


def test_w11_a_supplier_deleted_from_a_long_list_is_found_by_the_count(servers, synced):
    add_suppliers(servers, 250)
    with synced() as session:
        session.plan()
        muller = supplier(servers, "Müller Büromaterial GmbH")
        servers.precoro.delete("suppliers", muller["id"])
        servers.requests()
        plan = session.plan()
        calls = reads(servers.requests()["precoro"], "/suppliers")
    [unlink] = [a for a in plan.actions if a.kind == "unlink" and a.precoro_id == str(muller["id"])]
    assert "no longer exists" in unlink.note
    # The count told of a deletion, and Precoro does not say which: the list was read again in full.
    assert any("modifiedSince" not in query for _, _, query in calls)


def test_w11_a_vendor_deleted_in_quickbooks_comes_through_cdc(servers, synced):
    robertson = vendor(servers, "Robertson & Associates")
    servers.quickbooks.purge(REALM, "Vendor", robertson["Id"])
    with synced() as session:
        plan = session.plan()
        calls = servers.requests()
    assert any(a.kind == "unlink" and a.quickbooks_id == robertson["Id"] for a in plan.actions)
    assert not [r for r in calls["quickbooks"] if "FROM Vendor" in r[2] and r[1].endswith("/query")]


def test_w11_plan_full_reads_everything_again(servers, synced):
    with synced() as session:
        plan = session.plan(full=True)
        calls = servers.requests()
    assert not plan.unchanged
    queries = [r for r in calls["quickbooks"] if r[1].endswith("/query")]
    assert len(queries) >= 6 and not [r for r in calls["quickbooks"] if r[1].endswith("/cdc")]


def test_w11_a_cursor_older_than_cdc_reaches_means_a_full_read(servers, synced, tmp_path):
    with synced() as session:
        state = session.store.path
    with sqlite3.connect(state) as db:
        old = (datetime.now(timezone.utc) - timedelta(days=40)).isoformat()
        db.execute("update mirror_reads set since = ? where side = 'quickbooks' and section = 'suppliers'", [old])
    with synced() as session:
        session.plan()
        calls = servers.requests()
    queries = [r[2].split()[3] for r in calls["quickbooks"] if r[1].endswith("/query")]
    # The vendors read in full (and the tax codes, as always); the other entities still through CDC.
    assert "Vendor" in queries and not {"Item", "Account", "Class", "Term"} & set(queries)
    assert [r for r in calls["quickbooks"] if r[1].endswith("/cdc")]


def test_w11_more_changes_than_one_cdc_answer_holds_means_a_full_read(servers, synced):
    servers.quickbooks.bulk_insert(REALM, "Vendor", [{"DisplayName": f"Bulk vendor {n:04}"} for n in range(1000)])
    with synced() as session:
        plan = session.plan()
    creates = [a for a in plan.actions if a.kind == "create" and a.name.startswith("Bulk vendor")]
    assert len(creates) == 1000


def test_w11_a_stopped_plan_moves_no_cursor_and_loses_no_change(servers, synced):
    robertson = vendor(servers, "Robertson & Associates")
    servers.quickbooks.update(REALM, "Vendor", {"Id": robertson["Id"], "SyncToken": robertson["SyncToken"], "sparse": True,
                                                "PrimaryPhone": {"FreeFormNumber": "+1 555 0199"}})
    with synced() as session:
        before = cursors(session.store.path)
        stop = threading.Event()

        def progress(what, done, total):
            if what.startswith("planning"):
                stop.set()  # stop at the first entity planned: the changes are read by then

        with pytest.raises(Interrupted):
            session.plan(progress=progress, stop=stop)
        assert cursors(session.store.path) == before
        plan = session.plan()
    assert any(a.kind == "update" and a.name == "Robertson & Associates" for a in plan.actions)


def test_w11_a_lost_state_file_reads_everything_and_plans_the_same(servers, synced, fresh_dir):
    with synced() as session:
        latest = session.plan()
    with servers.session(fresh_dir(), REALM) as fresh:
        plan = fresh.plan()
        calls = servers.requests()
    assert [r for r in calls["quickbooks"] if r[1].endswith("/query") and "FROM Vendor" in r[2]]
    # Without the links it cannot know what is linked: it matches by name again, and finds no create.
    assert not [a for a in plan.actions if a.kind == "create" and a.entity == "supplier"]
    assert latest.id != plan.id


def test_w11_an_email_change_reads_the_supplier_at_most_once(servers, synced):
    """Precoro refuses an identical GET within a minute: an apply must not read one record twice."""
    robertson = vendor(servers, "Robertson & Associates")
    servers.quickbooks.update(REALM, "Vendor", {"Id": robertson["Id"], "SyncToken": robertson["SyncToken"],
                                                "sparse": True, "PrimaryEmailAddr": {"Address": "ap@robertson.example"}})
    with synced() as session:
        plan = session.plan()
        [update] = [a for a in plan.actions if a.kind == "update" and a.name == "Robertson & Associates"]
        servers.requests()
        report = session.apply(plan.id)
        calls = servers.requests()["precoro"]
        precoro_id = update.precoro_id
        again = session.plan()
    assert report.ok or all(r.status != "failed" for r in report.results if r.id == update.id)
    gets = [r for r in calls if r[0] == "GET" and r[1] == f"/suppliers/{precoro_id}"]
    assert len(gets) <= 1, gets
    assert any(r[0] == "POST" and r[1] == f"/suppliers/{precoro_id}/contacts" for r in calls)
    # What was written is what the next plan reads: nothing more to do for it.
    assert not [a for a in again.actions if a.precoro_id == precoro_id and a.kind in ("update", "conflict")]


def test_w11_details_are_read_only_for_the_records_whose_summary_changed(servers, synced):
    """Precoro's lists answer summaries: a plan reads `/{id}` for a changed record only (and, once
    more, one changed in the second a plan read it: dated a few seconds back here, it is not)."""
    muller = supplier(servers, "Müller Büromaterial GmbH")
    earlier = (datetime.now(timezone.utc) - timedelta(seconds=3)).isoformat(timespec="seconds")
    servers.precoro.update("suppliers", muller["id"], {"legalAddress": "Königstraße 14", "updateDate": earlier})
    with synced() as session:
        plan = session.plan()
        calls = servers.requests()["precoro"]
        again = session.plan()
        quiet = servers.requests()["precoro"]
    details = [r[1] for r in calls if r[0] == "GET" and re.fullmatch(r"/(suppliers|items|invoices|purchaseorders)/\d+", r[1])]
    assert details == [f"/suppliers/{muller['id']}"]
    assert any(a.name == "Müller Büromaterial GmbH" for a in plan.actions)
    assert again.unchanged and not [r for r in quiet if re.fullmatch(r"/\w+/\d+", r[1])]


def test_w11_a_contact_change_with_the_same_summary_is_read_through_its_update_date(servers, synced):
    """A contact added in Precoro changes nothing in the supplier's summary but its updateDate."""
    muller = supplier(servers, "Müller Büromaterial GmbH")
    later = (datetime.now(timezone.utc) + timedelta(seconds=2)).isoformat(timespec="seconds")
    servers.precoro.insert("contacts", {"supplier": muller["id"], "email": "einkauf@mueller.example"})
    servers.precoro.update("suppliers", muller["id"], {"updateDate": later})
    with synced() as session:
        plan = session.plan()
    changes = [c for a in plan.actions if a.precoro_id == str(muller["id"]) for c in a.changes]
    assert any("einkauf@mueller.example" in str(c.after) + str(c.precoro) for c in changes), plan.actions


def test_w11_invoices_sent_by_another_integration_drop_out_of_the_plan(servers, synced):
    """Invoices are read approved or cancelled, sent or not (a sent one may be revised, D6): one
    another integration sends meanwhile (it sets its externalId, no link here) is no longer planned."""
    robertson = supplier(servers, "Robertson & Associates")
    later = (datetime.now(timezone.utc) + timedelta(seconds=2)).isoformat(timespec="seconds")
    [idn] = servers.precoro.bulk_insert("invoices", [{
        "status": 2, "invoiceNumber": "INV-ELSEWHERE", "supplier": robertson["id"],
        "items": [{"name": "Courier delivery", "quantity": 1, "price": 15.0}]}])
    with synced() as session:
        first = session.plan()
        servers.precoro.update("invoices", idn, {"externalId": "sent-by-another", "updateDate": later})
        again = session.plan()
    assert [a.precoro_id for a in first.actions if a.name == "invoice INV-ELSEWHERE"] == [str(idn)]
    assert not [a for a in again.actions if a.precoro_id == str(idn)]


def test_w11_a_record_changed_in_the_second_a_plan_read_it_is_read_again(servers, synced):
    """Precoro's dates count seconds: a contact added in the second a plan read its supplier leaves
    the supplier's summary as it was, updateDate included. It is read again all the same. (Its
    updateDate is set a few seconds ahead: "from the second the last read began" without a race.)"""
    muller = supplier(servers, "Müller Büromaterial GmbH")
    moment = (datetime.now(timezone.utc) + timedelta(seconds=5)).isoformat(timespec="seconds")
    servers.precoro.update("suppliers", muller["id"], {"legalAddress": "Königstraße 14", "updateDate": moment})
    with synced() as session:
        session.plan()  # reads the supplier as it is at `moment`
        servers.precoro.insert("contacts", {"supplier": muller["id"], "email": "einkauf@mueller.example"})
        servers.precoro.update("suppliers", muller["id"], {"updateDate": moment})  # the same second
        plan = session.plan()
    changes = [c for a in plan.actions if a.precoro_id == str(muller["id"]) for c in a.changes]
    assert any("einkauf@mueller.example" in str(c.after) + str(c.precoro) for c in changes), plan.actions


def test_u1_a_loop_of_runs_that_would_spend_most_of_precoro_s_day_finding_nothing_is_warned(servers, synced):
    """Each run where nothing changed still reads each Precoro list's changes: every 5 minutes,
    that is most of Precoro's 3,000 calls a day before anything has changed. The loop says so once;
    every hour it does not."""
    from engine.run import run_every

    for every, warned_of in ((300, True), (3600, False)):
        warned, reported, stop = [], [], threading.Event()

        def report(summary):
            reported.append(summary)
            stop.set()  # one run: the loop ends without waiting

        with synced() as session:
            run_every(session, every, stop, report, warn=warned.append)
        [summary] = reported
        assert summary.unchanged and summary.precoro_calls == 9  # the demo's lists: their changes, or small ones whole
        assert summary.to_json()["precoro_calls"] == 9
        # And two QuickBooks reads (CDC, the tax codes): the monthly budget docs/unattended.md sizes.
        assert summary.quickbooks_reads == summary.to_json()["quickbooks_reads"] == 2
        if warned_of:
            assert warned == ["a run every 5 min costs about 2,592 Precoro calls a day when nothing changes (9 a run), "
                              "of the 3,000 Precoro allows: little is left for the changes themselves. Run less often, "
                              "or let Precoro's webhooks start runs (docs/unattended.md)"]
        else:
            assert warned == []
