"""`qbsync explain` (W1, W4, U2): one record's sides as last read, its link, the latest plan's
actions on it with what became of them and what an unattended run would do, and its history.

On the demo pair over HTTP with a real state file: the explanation is read from the state file
alone, so the tests also check that it sends nothing to either service.
"""

from __future__ import annotations

import pytest

from engine.errors import UsageError
from engine.explain import RecordNotFound
from engine.local.demo import DEMO_REALM, seed_precoro, seed_quickbooks

REALM = DEMO_REALM


def precoro_supplier(servers, name):
    return next(s for s in servers.precoro.page("suppliers")[1] if s["name"] == name)


def explained(servers, session, entity, ref, history=5):
    """The explanation, and that nothing was asked of either service for it."""
    session.connected  # connecting is not explaining: the embedded APIs' first requests are not counted
    servers.requests()
    said = session.explain(entity, ref, history=history)
    assert servers.requests() == {"quickbooks": [], "precoro": []}
    return said


def field(said, name):
    return next(f for f in said["fields"] if f["field"] == name)


def test_w4_a_linked_supplier_is_explained_by_its_name_with_both_sides_its_link_and_its_own_history(servers, demo_synced):
    amy = precoro_supplier(servers, "Amy's Bird Sanctuary")
    with demo_synced() as session:
        link = session.store.link_for("suppliers", REALM, precoro_id=str(amy["id"]))
        said = explained(servers, session, "suppliers", "  AMY'S BIRD SANCTUARY ")

        assert said["records"]["precoro"]["id"] == str(amy["id"])
        assert said["records"]["quickbooks"]["id"] == link["quickbooks_id"]
        assert said["link"]["how"] == link["how"] and said["link"]["since"] == link["since"]
        phone = field(said, "phone")
        assert phone["precoro"] == phone["quickbooks"] == phone["last_synced"] and phone["agree"] is True
        assert phone["direction"] == "both" and phone["updated"] is True
        assert field(said, "currency")["updated"] is False and field(said, "currency")["agree"] is None
        assert said["plan"]["actions"] == []  # in agreement when the latest plan was made
        # Its own history only: every entry names one of its two records.
        assert said["history"] and len(said["history"]) <= 5
        assert all(str(amy["id"]) == e["precoro_id"] or link["quickbooks_id"] == e["quickbooks_id"]
                   for e in said["history"])
        assert {e["kind"] for e in said["history"]} >= {"link"}

        # The same record by either id, and by a bare id that only one side knows as a supplier.
        assert session.explain("suppliers", f"quickbooks:{link['quickbooks_id']}", history=5)["records"] == said["records"]
        assert session.explain("supplier", f"precoro:{amy['id']}", history=5)["name"] == said["name"]


def test_w4_a_change_made_since_shows_where_the_sides_differ_and_what_the_plan_and_a_run_would_do(servers, demo_synced):
    amy = precoro_supplier(servers, "Amy's Bird Sanctuary")
    servers.precoro.update("suppliers", amy["id"], {"phone": "(650) 555-0000", "city": "Oakland"})
    with demo_synced() as session:
        plan = session.plan()
        said = explained(servers, session, "suppliers", f"precoro:{amy['id']}")

        assert said["plan"]["id"] == plan.id and said["as_of"] == plan.created_at
        assert field(said, "phone")["precoro"] == "(650) 555-0000" and field(said, "phone")["agree"] is False
        assert field(said, "city")["agree"] is False and field(said, "name")["agree"] is True
        (update,) = said["plan"]["actions"]
        assert update["kind"] == "update" and update["target"] == "quickbooks"
        assert {c["field"] for c in update["changes"]} == {"phone", "city"}
        # The shipped policy lets phones through, not cities: the whole update is held.
        assert update["unattended"] == {"apply": False, "held": True,
                                        "reason": "changes city (not in policy.updates.suppliers)"}
        assert update["outcome"] is None  # not applied yet

        report = session.apply(plan.id)
        assert {r.id: r.status for r in report.results}[update["id"]] == "applied"
        after = explained(servers, session, "suppliers", f"precoro:{amy['id']}")
        assert after["plan"]["actions"][0]["outcome"]["status"] == "applied"
        assert after["history"][0]["action_id"] == update["id"]
        # The apply wrote the vendor after the plan's read: its values there are from before, and it says so.
        written = after["records"]["quickbooks"]["written_since"]
        assert written == after["history"][0]["at"] and written >= plan.created_at
        assert after["records"]["precoro"]["written_since"] is None
        assert explained(servers, session, "suppliers", "amy's bird sanctuary")["records"] == after["records"]
        assert after["records"]["quickbooks"]["found"] is True  # in the copy, as it was before the write

        replanned = session.plan()
        again = explained(servers, session, "suppliers", f"precoro:{amy['id']}")
        assert again["plan"]["id"] == replanned.id and again["records"]["quickbooks"]["written_since"] is None
        assert field(again, "phone")["quickbooks"] == "(650) 555-0000" and field(again, "phone")["agree"] is True
        assert field(again, "city")["last_synced"] == "Oakland"


def test_w4_a_name_several_records_answer_to_is_refused_with_each_of_them(servers, demo_synced):
    with demo_synced() as session:
        with pytest.raises(RecordNotFound) as refused:
            explained(servers, session, "suppliers", "northwind traders")

    said = str(refused.value)
    assert said.startswith("'northwind traders' names 3 suppliers: ")
    assert said.count("Precoro ") == 2 and said.count("QuickBooks ") == 1 and "as precoro:ID or quickbooks:ID" in said


def test_w4_an_unknown_record_says_what_the_state_file_holds_and_names_that_hold_the_text(servers, demo_synced):
    with demo_synced() as session:
        with pytest.raises(RecordNotFound, match=r"no supplier named 'Harbor' in this state file \(as last read: "
                                                 r"\d+ Precoro and \d+ QuickBooks suppliers\); names that hold it: "
                                                 r"Precoro \d+ 'Harbor Café'"):
            explained(servers, session, "suppliers", "Harbor")
        with pytest.raises(RecordNotFound, match="no QuickBooks supplier 999999 in this state file"):
            session.explain("suppliers", "quickbooks:999999", history=5)


def test_w4_a_blocked_record_says_why_and_that_a_run_would_hold_it(servers, demo_synced):
    with demo_synced() as session:
        said = explained(servers, session, "suppliers", "Parts: Ltd")

    assert said["link"] is None and said["records"]["quickbooks"] is None
    (blocked,) = said["plan"]["actions"]
    assert blocked["kind"] == "blocked" and "refuses ':' in a name" in blocked["note"]
    assert blocked["unattended"]["apply"] is False
    assert said["history"] == []


def test_d3_a_sent_document_is_explained_by_its_number(servers, demo_synced):
    with demo_synced() as session:
        said = explained(servers, session, "invoices", "INV-2026-0042")

    assert said["planned"] == "documents" and said["fields"] == []
    assert said["link"]["quickbooks_id"] and said["records"]["quickbooks"]["id"] == said["link"]["quickbooks_id"]
    assert [e["kind"] for e in said["history"]] == ["create"] and said["history"][0]["status"] == "applied"


def test_w4_a_pair_the_first_plan_proposes_to_link_is_explained_as_that_pair(servers, fresh_dir):
    servers.reset(REALM)
    seed_precoro(servers.precoro, seed_quickbooks(servers.quickbooks, REALM))
    amy = precoro_supplier(servers, "amy's bird sanctuary ")
    with servers.session(fresh_dir(), REALM) as session:
        plan = session.plan()
        link = next(a for a in plan.actions if a.entity == "supplier" and a.kind == "link"
                    and a.precoro_id == str(amy["id"]))
        said = explained(servers, session, "suppliers", f"precoro:{amy['id']}")

    assert said["link"] is None and said["records"]["quickbooks"]["id"] == link.quickbooks_id
    assert [a["kind"] for a in said["plan"]["actions"]] == ["link", "conflict"]
    assert field(said, "phone")["agree"] is False and field(said, "name")["agree"] is False
    assert field(said, "city")["agree"] is True and field(said, "phone")["last_synced"] is None


def test_w4_an_items_references_are_named_after_the_records_they_stand_for(servers, demo_synced):
    with demo_synced() as session:
        said = explained(servers, session, "items", "copy paper a4")

    supplier, account = field(said, "supplier"), field(said, "chart_of_accounts")
    assert supplier["precoro"] == supplier["quickbooks"] and account["precoro"] == account["quickbooks"]
    vendor = servers.quickbooks.get(REALM, "Vendor", supplier["quickbooks"])
    assert supplier["names"] == {supplier["quickbooks"]: vendor["DisplayName"]}
    assert account["names"][account["quickbooks"]] == servers.quickbooks.get(REALM, "Account", account["quickbooks"])["Name"]
    assert "names" not in field(said, "price")


def test_w4_live_reads_both_sides_now_with_one_request_each_and_says_a_record_that_is_gone(servers, demo_synced):
    amy = precoro_supplier(servers, "Amy's Bird Sanctuary")
    with demo_synced() as session:
        session.plan()
        servers.precoro.update("suppliers", amy["id"], {"city": "Oakland"})  # a colleague, after the plan
        session.connected
        servers.requests()
        copy = session.explain("suppliers", f"precoro:{amy['id']}", history=5)
        live = session.explain("suppliers", f"precoro:{amy['id']}", history=5, live=True)
        asked = servers.requests()

        assert field(copy, "city")["precoro"] != "Oakland" and field(copy, "city")["agree"] is True
        assert live["live"] is True and field(live, "city")["precoro"] == "Oakland" and field(live, "city")["agree"] is False
        assert [(method, path.rsplit("/", 1)[0]) for method, path, _ in asked["precoro"]] == [("GET", "/suppliers")]
        assert [method for method, _, _ in asked["quickbooks"]] == ["GET"]

        servers.quickbooks.purge(REALM, "Vendor", live["records"]["quickbooks"]["id"])
        gone = session.explain("suppliers", f"precoro:{amy['id']}", history=5, live=True)
        assert gone["records"]["quickbooks"]["found"] is False and gone["records"]["precoro"]["found"] is True
        with pytest.raises(UsageError, match="chart of accounts are not read one by one"):
            session.explain("chart_of_accounts", "Office Supplies", history=5, live=True)
