"""D3: a document sent once is never sent again, even by a state file that does not know it: a lost
disk, a second install, a colleague's laptop. Before a document is created, QuickBooks is asked
for one with the same number from the same vendor; found, it is linked instead."""

from __future__ import annotations

from engine.local.demo import DEMO_REALM

REALM = DEMO_REALM
NUMBER = "INV-2026-0042"  # the demo's approved supplier-portal invoice


def bills(servers) -> list[dict]:
    found = servers.quickbooks.query(REALM, f"SELECT * FROM Bill WHERE DocNumber = '{NUMBER}'").response()
    return found.get("Bill", [])


def invoice(servers) -> dict:
    total, _ = servers.precoro.page("invoices", limit=1)
    [found] = [i for i in servers.precoro.page("invoices", limit=total)[1] if i["invoiceNumber"] == NUMBER]
    return found


def sync(servers, workdir, state, rounds: int = 2):
    with servers.session(workdir, REALM, state) as session:
        for _ in range(rounds):  # the second round sends what waited for the first one's links
            plan = session.plan()
            for action in plan.actions:
                if action.kind == "conflict":
                    session.decide(action.id, "quickbooks", plan.id)
            report = session.apply(plan.id)
        links = session.store.all_links(REALM).get("invoices", [])
    return report, links


def test_d3_a_lost_state_file_never_sends_a_document_twice(servers, fresh_dir):
    workdir = fresh_dir()
    servers.first_sync(workdir, REALM, workdir / "state.db", rounds=2)
    [bill] = bills(servers)
    # Its mark in Precoro did not stick (a failed PATCH, a colleague's edit): only QuickBooks knows.
    servers.precoro.update("invoices", invoice(servers)["idn"], {"externalId": None})

    _, links = sync(servers, workdir, workdir / "another.db")  # the state file is lost
    assert [b["Id"] for b in bills(servers)] == [bill["Id"]]  # still one Bill
    assert [quickbooks_id for _, quickbooks_id in links] == [bill["Id"]]  # and this state file knows it
    # Known now: the next plan sends nothing.
    with servers.session(workdir, REALM, workdir / "another.db") as again:
        assert not [a for a in again.plan().actions if a.entity == "invoice" and a.kind == "create"]


def test_d3_a_document_of_the_same_number_from_another_vendor_is_not_taken_for_it(servers, fresh_dir):
    workdir = fresh_dir()
    servers.first_sync(workdir, REALM, workdir / "state.db", rounds=2)
    [bill] = bills(servers)
    other = next(v for v in servers.quickbooks.query(REALM, "SELECT * FROM Vendor").response()["Vendor"]
                 if v["Id"] != bill["VendorRef"]["value"] and v.get("Active", True))
    servers.quickbooks.update(REALM, "Bill", {"Id": bill["Id"], "SyncToken": bill["SyncToken"], "sparse": True,
                                              "VendorRef": {"value": other["Id"]}})
    servers.precoro.update("invoices", invoice(servers)["idn"], {"externalId": None})
    sync(servers, workdir, workdir / "another.db")
    assert len(bills(servers)) == 2  # the other vendor's bill is not this invoice


def test_d3_a_sent_document_carries_its_quickbooks_id_in_precoro_and_another_install_links_it_again(servers, fresh_dir):
    workdir = fresh_dir()
    servers.first_sync(workdir, REALM, workdir / "state.db", rounds=2)
    [bill] = bills(servers)
    assert str(invoice(servers)["externalId"]) == bill["Id"]
    # Another install (or a lost state file) finds it by that id, with its number and vendor, and
    # links it again: its edits, cancellation and payments are followed; it is never sent twice.
    with servers.session(workdir, REALM, workdir / "another.db") as other:
        plan = other.plan()
        [link] = [a for a in plan.actions if a.entity == "invoice"]
        assert (link.kind, link.quickbooks_id, link.link.how) == ("link", bill["Id"], "origin")
        other.apply(plan.id)
        assert [q for _, q in other.store.all_links(REALM)["invoices"]] == [bill["Id"]]
    lines = invoice(servers)["items"]
    servers.precoro.update("invoices", invoice(servers)["idn"], {"status": 8})  # and a cancellation is followed
    with servers.session(workdir, REALM, workdir / "another.db") as other:
        [void] = [a for a in other.plan().actions if a.entity == "invoice"]
    assert (void.kind, void.quickbooks_id) == ("deactivate", bill["Id"]) and len(lines) == 2


def test_d3_an_external_id_of_another_company_or_integration_links_nothing(servers, fresh_dir):
    workdir = fresh_dir()
    servers.first_sync(workdir, REALM, workdir / "state.db", rounds=2)
    for foreign in ("99999", "sent-by-another"):
        servers.precoro.update("invoices", invoice(servers)["idn"], {"externalId": foreign})
        with servers.session(workdir, REALM, workdir / f"other-{foreign}.db") as other:
            assert not [a for a in other.plan().actions if a.entity == "invoice"]
