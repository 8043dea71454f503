"""W3 when the state file's disk is full: the plan or apply stops with one error that names the file and
says what to do, what it had kept stays, and the same command run again with room finishes the work
without writing anything twice.

The disk is made full through sqlite itself: `max_page_count` on the session's own connection to its
real state file, so that the file may not grow by one page (what a full disk does to every write).
"""

from __future__ import annotations

from collections import Counter

import pytest

from engine.errors import StateFileError
from engine.local.demo import seed_precoro, seed_quickbooks

REALM = "8311"


def disk_full(store, spare_pages: int = 0) -> None:
    pages = store.db.execute("pragma page_count").fetchone()[0]
    store.db.execute(f"pragma max_page_count = {pages + spare_pages}")


def room_again(store) -> None:
    store.db.execute("pragma max_page_count = 1073741823")


def names_on_both_sides(session) -> tuple[Counter, Counter]:
    conn = session.connected
    return (Counter(v["DisplayName"] for v in conn.quickbooks.query_all("Vendor")),
            Counter(s["name"] for s in conn.precoro.list_all("/suppliers")))


def test_w3_a_full_disk_stops_a_plan_with_one_clear_error_and_the_next_plan_is_made(servers, fresh_dir):
    servers.reset(REALM)
    seed_precoro(servers.precoro, seed_quickbooks(servers.quickbooks, REALM))
    workdir = fresh_dir()
    with servers.session(workdir, REALM) as s:
        s.status()  # the state file made, its migrations written
        disk_full(s.store)
        with pytest.raises(StateFileError) as stopped:
            s.plan()
        said = str(stopped.value)
        assert f"cannot write the state file {workdir / 'state.db'}: the disk is full" in said
        assert "Free some space, then run it again" in said
        assert s.store.latest_plan_id() is None
        room_again(s.store)
        made = s.plan()
        assert made.actions and s.store.latest_plan_id() == made.id


def test_w3_a_full_disk_stops_an_apply_part_way_and_the_rerun_writes_nothing_twice(servers, fresh_dir):
    servers.reset(REALM)
    seed_precoro(servers.precoro, seed_quickbooks(servers.quickbooks, REALM))
    workdir = fresh_dir()
    with servers.session(workdir, REALM) as s:
        plan = s.plan()
        for action in plan.actions:
            if action.kind == "conflict":
                s.decide(action.id, "quickbooks", plan.id)
        vendors_before, suppliers_before = names_on_both_sides(s)
        disk_full(s.store, spare_pages=4)
        with pytest.raises(StateFileError, match="the disk is full"):
            s.apply(plan.id)
        kept = s.store.outcomes(plan.id)
        assert kept and len(kept) < len([a for a in plan.actions if a.executable])  # stopped part way

        room_again(s.store)
        report = s.apply(plan.id)
        assert report.ok, report.stopped
        vendors, suppliers = names_on_both_sides(s)
        assert set(vendors.values()) == set(suppliers.values()) == {1}  # nothing twice
        assert len(vendors) > len(vendors_before) and len(suppliers) > len(suppliers_before)
        outcomes = s.store.outcomes(plan.id)
        assert all(outcomes[aid] == status for aid, status in kept.items() if status[0] == "applied")
        again = s.plan()
        assert not [a for a in again.actions if a.kind == "create" and a.entity == "supplier"]
