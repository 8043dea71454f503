"""I4, S7 in bulk: many pairs mapped by hand in one plan (SyncSession.map_many), each refused row
with its reason while the others go on; records taken from the mirror, not read again."""

from __future__ import annotations

import pytest

from engine.local.demo import DEMO_REALM, seed_precoro, seed_quickbooks
from engine.mapping import MappingRow


def _detail_reads(requests: list[tuple[str, str, str]]) -> list[str]:
    return [path for method, path, _ in requests if method == "GET" and path.rstrip("/").split("/")[-1].isdigit()]


def _demo_planned(servers, fresh_dir):
    servers.reset(DEMO_REALM)
    seed_precoro(servers.precoro, seed_quickbooks(servers.quickbooks, DEMO_REALM))
    session = servers.session(fresh_dir(), DEMO_REALM)
    plan = session.plan()
    return session, plan


def _qb_item(servers, name: str) -> str:
    [item] = servers.quickbooks.query(DEMO_REALM, f"SELECT * FROM Item WHERE Name = '{name}'").response()["Item"]
    return str(item["Id"])


def test_i4_many_items_are_mapped_in_one_plan_and_each_refused_row_says_why(servers, fresh_dir):
    session, _ = _demo_planned(servers, fresh_dir)
    with session:
        paper, toner = _qb_item(servers, "Copy paper A4"), _qb_item(servers, "Printer toner, black")
        rows = [MappingRow(2, "1", paper), MappingRow(3, "2", toner), MappingRow(4, "3", "9999"),
                MappingRow(5, "5", paper), MappingRow(6, "1", toner), MappingRow(7, "424242", "18")]
        servers.requests()
        mapped = session.map_many("items", rows)
        seen = servers.requests()
        assert {(r.row.line, r.reason) for r in mapped.refused} == {
            (4, "QuickBooks has no Item 9999"),
            (5, "the QuickBooks item is mapped on line 2 already"),
            (6, "the Precoro item is mapped on line 2 already"),
            (7, "Precoro has no item 424242"),
        }
        links = [a for a in mapped.plan.actions if a.kind == "link"]
        assert {(a.precoro_id, a.quickbooks_id) for a in links} == {("1", paper), ("2", toner)}
        assert all(a.link.how == "manual" for a in links)
        # The mirror of the plan before has both pairs: only the ids it has not got were asked for.
        assert [path.split("/")[-2:] for path in _detail_reads(seen["precoro"])] == [["items", "424242"]]
        assert [path.split("/")[-2:] for _, path, _ in seen["quickbooks"]] == [["item", "9999"]]

        session.apply(mapped.plan.id)
        again = session.map_many("items", rows[:2] + rows[3:4])
        assert again.plan is None and [r.line for r in again.already] == [2, 3]
        assert [(r.row.line, r.reason) for r in again.refused] == [(5, "the QuickBooks item is mapped on line 2 already")]
        latest = session.map_many("items", [MappingRow(2, "3", paper)])
        assert latest.plan is None
        assert [r.reason for r in latest.refused] == [f"QuickBooks Item {paper} is already linked to Precoro 1"]


def test_s7_suppliers_are_mapped_in_bulk_only_within_one_currency(servers, fresh_dir):
    servers.reset(DEMO_REALM)
    seed_precoro(servers.precoro, seed_quickbooks(servers.quickbooks, DEMO_REALM))
    euro = servers.quickbooks.insert(DEMO_REALM, "Vendor", {"DisplayName": "Euro Vendor GmbH",
                                                            "CurrencyRef": {"value": "EUR"}})
    session = servers.session(fresh_dir(), DEMO_REALM)
    with session:
        plan = session.plan()
        creates = {(a.target, a.name): a for a in plan.actions if a.entity == "supplier" and a.kind == "create"}
        obrien = creates["quickbooks", "O'Brien & Sons Ltd."].precoro_id
        only_in_qb = creates["precoro", "Only In QuickBooks LLC"].quickbooks_id
        mapped = session.map_many("suppliers", [MappingRow(2, obrien, only_in_qb), MappingRow(3, "10", str(euro["Id"]))])
        [link] = [a for a in mapped.plan.actions if a.kind == "link"]
        assert (link.precoro_id, link.quickbooks_id, link.link.how, link.note) == (obrien, only_in_qb, "manual",
                                                                                 "mapped by hand")
        [refused] = mapped.refused
        assert refused.row.line == 3 and refused.reason.startswith("currencies differ (Precoro USD, QuickBooks EUR)")
        session.apply(mapped.plan.id)
        linked = session.store.link_for("suppliers", DEMO_REALM, precoro_id=obrien)
        assert linked["quickbooks_id"] == only_in_qb and linked["how"] == "manual"


def test_i4_an_item_deleted_after_the_plan_that_mirrored_it_fails_its_own_row_only(servers, fresh_dir):
    """Taken from the mirror, a record a colleague deleted since is still mapped; the apply's write
    to it fails with its own reason, the other pair goes on, and the next plan lets the link go."""
    session, _ = _demo_planned(servers, fresh_dir)
    with session:
        paper, toner = _qb_item(servers, "Copy paper A4"), _qb_item(servers, "Printer toner, black")
        servers.precoro.delete("items", 2)  # "Toner black", deleted in Precoro after the plan read it
        mapped = session.map_many("items", [MappingRow(2, "1", paper), MappingRow(3, "2", toner)])
        assert not mapped.refused
        report = session.apply(mapped.plan.id)
        outcome = {(r.kind, next(a.precoro_id for a in mapped.plan.actions if a.id == r.id)): r for r in report.results}
        assert outcome["link", "1"].status == outcome["update", "1"].status == "applied"
        assert outcome["update", "2"].status == "failed" and "items 2 was not found" in outcome["update", "2"].reason
        replanned = session.plan()
        [unlink] = [a for a in replanned.actions if a.entity == "item" and a.precoro_id == "2"]
        assert unlink.kind == "unlink" and "no longer exists" in unlink.note
        assert session.store.link_for("items", DEMO_REALM, precoro_id="1")["quickbooks_id"] == paper


def test_i4_a_file_of_records_this_state_file_never_read_is_refused_before_any_call(servers, fresh_dir):
    """A new state file (lost, or never planned with) has no copy of either company: reading each
    record named one at a time would spend Precoro's calls of hours. It says to plan first."""
    from engine.errors import MappingRefused
    from engine.sync import MAPPING_READS_AT_MOST

    servers.reset(DEMO_REALM)
    seed_precoro(servers.precoro, seed_quickbooks(servers.quickbooks, DEMO_REALM))
    session = servers.session(fresh_dir(), DEMO_REALM)
    rows = [MappingRow(n + 2, str(1000 + n), str(5000 + n)) for n in range(MAPPING_READS_AT_MOST + 1)]
    with session:
        servers.requests()
        with pytest.raises(MappingRefused, match=f"{MAPPING_READS_AT_MOST + 1} of the Precoro records named are not in "
                                                 "this state file's copy of Precoro .* run `qbsync plan` first"):
            session.map_many("items", rows)
        seen = servers.requests()
        assert not _detail_reads(seen["precoro"]) and not [r for r in seen["quickbooks"] if "/item/" in r[1]]
        few = session.map_many("items", rows[:3])  # a few are read, each: none of these exists
        assert few.plan is None and [r.reason for r in few.refused] == [f"Precoro has no item {1000 + n}"
                                                                        for n in range(3)]
