"""W8: a linked record deleted, merged away or unreadable on either side never breaks planning.

Each test syncs the demo pair of companies (over HTTP, a real state file, real rules), makes a linked
record vanish on one side the way a colleague or QuickBooks would, and plans again: the link is
dropped in the plan with the reason, and what follows is the rules' `when_deleted` choice.
"""

from __future__ import annotations

import pytest

from engine.local.demo import DEMO_REALM

REALM = DEMO_REALM


@pytest.fixture
def demo_synced(demo_synced):
    return demo_synced

def applied(session, plan, *actions):
    """Apply the plan; every one of `actions` went through (the demo's other records may fail)."""
    report = session.apply(plan.id)
    results = {r.id: r for r in report.results}
    for action in actions:
        assert results[action.id].status == "applied", results[action.id]
    return report


def link_of(session, section, *, precoro_id=None, quickbooks_id=None):
    return session.store.link_for(section, session.realm_id, precoro_id=precoro_id, quickbooks_id=quickbooks_id)


def purge_in_quickbooks(servers, entity, record_id):
    servers.quickbooks.purge(REALM, entity, record_id)


def quickbooks_rows(servers, sql):
    return servers.quickbooks.query(REALM, sql).response().get(sql.split()[3], [])


def supplier_id(servers, name):
    return next(s["id"] for s in servers.precoro.page("suppliers")[1] if s["name"] == name)


def test_w8_supplier_deleted_in_precoro_drops_the_link_and_keeps_the_vendor(servers, demo_synced):
    muller = str(supplier_id(servers, "Müller Büromaterial GmbH"))
    with demo_synced() as session:
        vendor = link_of(session, "suppliers", precoro_id=muller)["quickbooks_id"]
        session.connected.precoro.delete(f"/suppliers/{muller}")

        plan = session.plan(only=["suppliers"])
        [unlink] = [a for a in plan.actions if a.precoro_id == muller]
        assert unlink.kind == "unlink" and "no longer exists" in unlink.note and "not recreated" in unlink.note
        # Nothing proposes to recreate it while the plan still stands (the vendor is held back).
        assert not [a for a in plan.actions if a.quickbooks_id == vendor and a.kind == "create"]
        applied(session, plan, unlink)
        assert link_of(session, "suppliers", quickbooks_id=vendor) is None

        again = session.plan(only=["suppliers"])
        assert not [a for a in again.actions if a.quickbooks_id == vendor]
        assert servers.quickbooks.read(REALM, _kind("Vendor"), vendor)["Active"] is True


def test_w8_supplier_deleted_in_precoro_recreated_when_the_rules_say_so(servers, demo_synced):
    muller = str(supplier_id(servers, "Müller Büromaterial GmbH"))
    recreate = lambda text: text.replace("    in_precoro: unlink\n\n  # S1", "    in_precoro: recreate\n\n  # S1")
    with demo_synced(recreate) as session:
        vendor = link_of(session, "suppliers", precoro_id=muller)["quickbooks_id"]
        session.connected.precoro.delete(f"/suppliers/{muller}")

        plan = session.plan(only=["suppliers"])
        mine = {a.kind: a for a in plan.actions if a.quickbooks_id == vendor}
        assert set(mine) == {"unlink", "create"} and mine["create"].target == "precoro"
        assert mine["create"].depends_on == [mine["unlink"].id]
        applied(session, plan, *mine.values())

        new_link = link_of(session, "suppliers", quickbooks_id=vendor)
        assert new_link is not None and new_link["precoro_id"] != muller
        assert all(a.quickbooks_id != vendor for a in session.plan(only=["suppliers"]).actions)


def test_w8_supplier_deleted_in_precoro_deactivates_the_vendor_when_the_rules_say_so(servers, demo_synced):
    muller = str(supplier_id(servers, "Müller Büromaterial GmbH"))
    deactivate = lambda text: text.replace("    in_precoro: unlink\n\n  # S1", "    in_precoro: deactivate_in_quickbooks\n\n  # S1")
    with demo_synced(deactivate) as session:
        vendor = link_of(session, "suppliers", precoro_id=muller)["quickbooks_id"]
        session.connected.precoro.delete(f"/suppliers/{muller}")

        plan = session.plan(only=["suppliers"])
        mine = [a for a in plan.actions if a.quickbooks_id == vendor]
        assert sorted(a.kind for a in mine) == ["deactivate", "unlink"]
        applied(session, plan, *mine)
        assert servers.quickbooks.read(REALM, _kind("Vendor"), vendor)["Active"] is False


def test_w8_vendor_gone_from_quickbooks_drops_the_link_and_keeps_the_supplier(servers, demo_synced):
    muller = str(supplier_id(servers, "Müller Büromaterial GmbH"))
    with demo_synced() as session:
        vendor = link_of(session, "suppliers", precoro_id=muller)["quickbooks_id"]
        purge_in_quickbooks(servers, "Vendor", vendor)

        plan = session.plan(only=["suppliers"])
        [unlink] = [a for a in plan.actions if a.precoro_id == muller]
        assert unlink.kind == "unlink" and "QuickBooks supplier" in unlink.note
        applied(session, plan, unlink)
        # Held back: not pushed into QuickBooks as a new vendor on its own (like S4).
        assert not [a for a in session.plan(only=["suppliers"]).actions if a.precoro_id == muller]
        assert servers.precoro.get("suppliers", int(muller))["enable"] is True


def test_w8_item_deleted_in_precoro_frees_its_quickbooks_item(servers, demo_synced):
    with demo_synced() as session:
        paper = next(i for i in session.connected.precoro.list_all("/items") if i["name"] == "Copy paper A4")
        quickbooks_item = link_of(session, "items", precoro_id=str(paper["id"]))["quickbooks_id"]
        session.connected.precoro.delete(f"/items/{paper['id']}")

        plan = session.plan(only=["items"])
        [unlink] = [a for a in plan.actions if a.quickbooks_id == quickbooks_item]
        assert unlink.kind == "unlink" and "no longer exists" in unlink.note
        applied(session, plan, unlink)
        # I8: a new Precoro item of the same name is linked to it by the next Sync Items.
        session.connected.precoro.create("/items", {"name": "Copy paper A4"})
        relink = session.plan(only=["items"])
        assert [(a.kind, a.quickbooks_id) for a in relink.actions if a.kind == "link"] == [("link", quickbooks_item)]


def test_w8_item_gone_from_quickbooks_leaves_the_precoro_item_not_mapped(servers, demo_synced):
    with demo_synced() as session:
        paper = next(i for i in session.connected.precoro.list_all("/items") if i["name"] == "Copy paper A4")
        quickbooks_item = link_of(session, "items", precoro_id=str(paper["id"]))["quickbooks_id"]
        purge_in_quickbooks(servers, "Item", quickbooks_item)

        plan = session.plan(only=["items"])
        [unlink] = [a for a in plan.actions if a.precoro_id == str(paper["id"])]
        assert unlink.kind == "unlink"
        applied(session, plan, unlink)
        unmapped = {str(i["precoro_id"]) for i in session.unmapped_items()}
        assert str(paper["id"]) in unmapped


def test_w8_list_option_deleted_in_precoro_is_imported_again(servers, demo_synced):
    with demo_synced() as session:
        term = next(t for t in session.connected.precoro.list_all("/paymentterms") if t["name"] == "Net 15")
        quickbooks_term = link_of(session, "terms", precoro_id=str(term["id"]))["quickbooks_id"]
        servers.precoro.delete("paymentterms", term["id"])

        plan = session.plan(only=["terms"])
        assert sorted(a.kind for a in plan.actions) == ["create", "unlink"]
        applied(session, plan, *plan.actions)
        assert link_of(session, "terms", quickbooks_id=quickbooks_term)["precoro_id"] != str(term["id"])
        assert session.plan(only=["terms"]).actions == []


def test_w8_list_record_gone_from_quickbooks_drops_the_link(servers, demo_synced):
    with demo_synced() as session:
        [row] = quickbooks_rows(servers, "SELECT * FROM Term WHERE Name = 'Net 15'")
        option = link_of(session, "terms", quickbooks_id=row["Id"])["precoro_id"]
        purge_in_quickbooks(servers, "Term", row["Id"])

        plan = session.plan(only=["terms"])
        [unlink] = plan.actions
        assert (unlink.kind, unlink.precoro_id) == ("unlink", option) and "no longer exists" in unlink.note
        applied(session, plan, unlink)
        assert session.plan(only=["terms"]).actions == []


def test_w8_a_sent_invoice_deleted_on_either_side_is_never_sent_again(servers, demo_synced):
    with demo_synced() as session:
        links = session.store.sync_state("invoices", session.realm_id).links
        [(idn, bill)] = [(link.precoro_id, link.quickbooks_id) for link in links.values()]
        servers.quickbooks.delete(REALM, "Bill", {"Id": bill, "SyncToken": servers.quickbooks.read(REALM, _kind("Bill"), bill)["SyncToken"]})
        assert [a for a in session.plan(only=["invoices"]).actions if a.kind == "create"] == []
        servers.precoro.delete("invoices", int(idn))
        assert session.plan(only=["invoices"]).actions == []


def _kind(name):
    from engine.local.quickbooks.entities import ENTITIES

    return ENTITIES[name]
