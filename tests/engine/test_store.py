"""The state file: a real sqlite file on disk."""

from __future__ import annotations

import os
import stat

import pytest

from engine.plan import Action, FieldChange, Plan
from engine.store import InsecureStateFile, Store


def test_state_file_is_created_owner_only_and_reopens(tmp_path):
    path = tmp_path / "nested" / "state.db"
    Store(path).close()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    Store(path).close()  # migrations are not applied twice


def test_a_state_file_others_can_read_is_refused(tmp_path):
    path = tmp_path / "state.db"
    Store(path).close()
    os.chmod(path, 0o644)
    with pytest.raises(InsecureStateFile, match="chmod 600"):
        Store(path)


def test_l3_links_belong_to_one_quickbooks_company(tmp_path):
    store = Store(tmp_path / "s.db")
    store.put_link("suppliers", "111", "1", "7", how="matched", since="now",
                   baseline={"emails": {"precoro": ["a@x"], "quickbooks": ["a@x"]}}, active={"precoro": True, "quickbooks": True})
    state = store.sync_state("suppliers", "111")
    assert state.links["1"].quickbooks_id == "7"
    # JSON lists come back as tuples, equal to the canonical values of records.
    assert state.links["1"].baseline["emails"]["precoro"] == ("a@x",)
    assert store.sync_state("suppliers", "222").links == {}


def test_l2_links_survive_a_reopen_of_the_file(tmp_path):
    path = tmp_path / "s.db"
    store = Store(path)
    store.put_link("suppliers", "111", "1", "7", how="matched", since="now", baseline={}, active={})
    store.close()
    assert "1" in Store(path).sync_state("suppliers", "111").links


def test_unlink_with_hold_and_relink_clears_the_hold(tmp_path):
    store = Store(tmp_path / "s.db")
    store.put_link("suppliers", "r", "1", "7", how="matched", since="t", baseline={}, active={})
    store.remove_link("suppliers", "r", "1", hold="quickbooks_inactive", since="t")
    state = store.sync_state("suppliers", "r")
    assert state.links == {} and state.holds["1"].reason == "quickbooks_inactive"
    store.put_link("suppliers", "r", "1", "9", how="manual", since="t", baseline={}, active={})
    assert store.sync_state("suppliers", "r").holds == {}


def test_w8_a_quickbooks_record_can_be_held_and_a_new_link_releases_it(tmp_path):
    store = Store(tmp_path / "s.db")
    store.put_link("suppliers", "r", "1", "7", how="matched", since="t", baseline={}, active={})
    store.remove_link("suppliers", "r", "1", hold="precoro_deleted", hold_side="quickbooks", since="t")
    state = store.sync_state("suppliers", "r")
    assert state.holds == {} and state.quickbooks_holds["7"].other_id == "1"
    store.put_link("suppliers", "r", "5", "7", how="matched", since="t", baseline={}, active={})
    assert store.sync_state("suppliers", "r").quickbooks_holds == {}


def test_a_state_file_of_an_older_version_keeps_its_holds(tmp_path):
    import sqlite3

    import sqlite_utils

    from engine.store import migrations

    path = tmp_path / "old.db"
    old = sqlite_utils.Database(sqlite3.connect(path))
    migrations.apply(old, stop_before="m003_holds_both_sides_and_apply_runs")
    old["holds"].insert({"entity": "suppliers", "realm": "r", "precoro_id": "1", "reason": "unmapped",
                         "quickbooks_id": "7", "since": "t"})
    old.conn.close()
    os.chmod(path, 0o600)
    [hold] = Store(path).sync_state("suppliers", "r").holds.values()
    assert (hold.record_id, hold.reason, hold.other_id) == ("1", "unmapped", "7")


def test_w1_plans_are_saved_with_decisions_and_approvals(tmp_path):
    store = Store(tmp_path / "s.db")
    conflict = Action(id="c1", entity="supplier", kind="conflict", target=None, name="Acme", precoro_id="1",
                      quickbooks_id="7", changes=[FieldChange("phone", precoro=("1",), quickbooks="2")])
    update = Action(id="u1", entity="supplier", kind="update", target="quickbooks", name="Bolt", precoro_id="2", quickbooks_id="8")
    plan = Plan(actions=[update, conflict], realm_id="r", rules_digest="d", created_at="2026-11-26T09:00:00+00:00")
    store.save_plan(plan)
    store.set_decision(plan.id, "c1", "precoro")
    store.set_approved(plan.id, ["u1"], False)
    loaded = store.load_plan(plan.id[:6])
    assert [a.id for a in loaded.actions] == [a.id for a in plan.actions]
    assert loaded.action("c1").decision == "precoro" and loaded.action("c1").executable
    assert not loaded.action("u1").approved
    assert store.latest_plan_id() == plan.id
