"""The state file: a real sqlite file on disk."""

from __future__ import annotations

import os
import stat
import subprocess

import pytest

from engine.plan import Action, FieldChange, Plan
from engine.store import InsecureStateFile, Store, git_would_take


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


def test_a_new_state_file_in_qbsyncs_folder_is_kept_out_of_git_and_nowhere_else(tmp_path):
    # Operators keep rules.yaml in git: `git add .` beside it must not take the credentials along.
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    (tmp_path / "rules.yaml").write_text("version: 1\n")
    Store(tmp_path / ".qbsync" / "state.db").close()
    Store(tmp_path / "mine" / "state.db").close()  # a --state elsewhere: the operator's folder, not touched

    listed = subprocess.run(["git", "-C", str(tmp_path), "status", "--porcelain", "--untracked-files=all"],
                            check=True, capture_output=True, text=True).stdout.splitlines()
    assert sorted(listed) == ["?? mine/state.db", "?? rules.yaml"]
    assert not (tmp_path / "mine" / ".gitignore").exists()

    # Its own .gitignore, edited or not, is never written over; a state file made anew leaves it too.
    (tmp_path / ".qbsync" / ".gitignore").write_text("state.db*\n")
    (tmp_path / ".qbsync" / "state.db").unlink()
    Store(tmp_path / ".qbsync" / "state.db").close()
    assert (tmp_path / ".qbsync" / ".gitignore").read_text() == "state.db*\n"


def test_a_state_file_git_would_take_along_is_said_and_how_to_mend_it(tmp_path):
    outside = tmp_path / "outside" / "state.db"
    Store(outside).close()
    assert git_would_take(outside) is None  # no repository: nothing to say

    repo = tmp_path / "books"
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    exposed = repo / "state.db"  # --state beside rules.yaml
    Store(exposed).close()
    assert git_would_take(exposed) == (f"the state file {exposed} is inside the git work tree {repo} and not ignored: "
                                       "`git add .` would take its credentials along; add it to .gitignore")
    (repo / ".gitignore").write_text("state.db*\n")
    assert git_would_take(exposed) is None
    Store(repo / ".qbsync" / "state.db").close()
    assert git_would_take(repo / ".qbsync" / "state.db") is None  # its own .gitignore

    (repo / ".gitignore").unlink()
    subprocess.run(["git", "-C", str(repo), "add", "state.db"], check=True)
    assert git_would_take(exposed).startswith(f"the state file {exposed} is tracked by git in {repo}: ")


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
    store.set_decisions(plan.id, ["c1"], "precoro")
    store.set_approved(plan.id, ["u1"], False)
    loaded = store.load_plan(plan.id[:6])
    assert [a.id for a in loaded.actions] == [a.id for a in plan.actions]
    assert loaded.action("c1").decision == "precoro" and loaded.action("c1").executable
    assert not loaded.action("u1").approved
    assert store.latest_plan_id() == plan.id


def test_w1_an_action_or_plan_is_named_by_its_id_or_a_prefix_in_any_case_and_nothing_else(tmp_path):
    store = Store(tmp_path / "s.db")
    actions = [Action(id=f"{n:02x}{'a' * 8}", entity="supplier", kind="create", target="quickbooks", name=f"S{n}")
               for n in range(0, 40)]
    plan = Plan(actions=actions, realm_id="r", rules_digest="d", created_at="2026-12-02T09:00:00+00:00")
    store.save_plan(plan)
    assert store.action_kind(plan.id, "0aaaaaaaaa") == ("0aaaaaaaaa", "create")
    assert store.action_kind(plan.id, "1F") == ("1faaaaaaaa", "create")  # ids are lowercase hex
    assert store.action_kind(plan.id, "1") is None  # sixteen start so
    assert store.action_kind(plan.id, "%") is None and store.action_kind(plan.id, "_aaaaaaaaa") is None  # no wildcards
    assert store.plan_id_of(plan.id[:5].upper()) == plan.id and store.plan_id_of("%") is None
    assert store.action_kinds(plan.id, ["0aaaaaaaaa", "0a", "ffaaaaaaaa", "27aaaaaaaa"]) == {
        "0aaaaaaaaa": "create", "27aaaaaaaa": "create"}
    assert store.action_ids(plan.id, "2") == [f"2{d}aaaaaaaa" for d in "01234567"]


def _every_shape(n: int) -> list[Action]:
    """n actions of every shape a plan holds, values that are easy to lose among them ("", 0, False,
    empty lists and a version of "")."""
    from engine.plan import FollowUp, HoldFacts, LinkFacts, SideValues, Write

    shapes = [
        lambda i: Action(id=f"l{i}", entity="supplier", kind="link", target=None, name=f"Acme {i}", precoro_id=str(i),
                         quickbooks_id=str(1000 + i), note="same name", versions={"precoro": "", "quickbooks": "0"},
                         # Both forms of a field's two values: a dict, and the planner's SideValues.
                         link=LinkFacts("matched", {"name": SideValues("Acme", "Acme"),
                                                    "emails": {"precoro": [], "quickbooks": []},
                                                    "phone": SideValues("1", "2"),
                                                    "price": {"precoro": 1, "quickbooks": True},
                                                    "sent": {"quickbooks": "{}"}},
                                        {"precoro": True, "quickbooks": False})),
        lambda i: Action(id=f"c{i}", entity="item", kind="create", target="quickbooks", name="", precoro_id=str(i),
                         depends_on=[f"l{i}"], approved=False, unapproved_why="" if i % 2 else "6240: duplicate",
                         changes=[FieldChange("price", before=None, after=0, precoro=0),
                                  FieldChange("description", after="", precoro="", note="cut")],
                         write=Write("quickbooks", "create", "Item", values={"UnitPrice": 0, "Active": False,
                                                                               "Ref": {"$created": f"l{i}"}})),
        lambda i: Action(id=f"x{i}", entity="supplier", kind="conflict", target=None, name="Bolt", precoro_id=str(i),
                         quickbooks_id="7", decision="precoro", changes=[FieldChange("phone", precoro=["1"], quickbooks="2")],
                         alternatives={"precoro": Write("quickbooks", "update", "Vendor", "7", "", {"Phone": "1"},
                                                        base={"BillAddr": {}}),
                                       "quickbooks": Write("precoro", "update", "/suppliers", str(i), "v", lists={"contacts[].email": []},
                                                           active=True)}),
        lambda i: Action(id=f"u{i}", entity="supplier", kind="unlink", target=None, name="Gone", precoro_id=str(i),
                         hold=HoldFacts("quickbooks_deleted", "quickbooks", None)),
        lambda i: Action(id=f"d{i}", entity="invoice", kind="create", target="quickbooks", name="INV", precoro_id=str(i),
                         candidates=[{"quickbooks_id": "1", "name": "A", "currencies": []}],
                         follow_up=FollowUp(), write=Write("quickbooks", "create", "Bill")),
        lambda i: Action(id=f"s{i}", entity="invoice", kind="create", target="quickbooks", name="INV2", precoro_id=str(i),
                         follow_up=FollowUp([{"id": "a1", "fileName": "x.pdf"}], split_parent="P-1")),
    ]
    return [shapes[i % len(shapes)](i) for i in range(n)]


def test_w1_a_saved_plan_is_read_back_whole_over_several_pages(tmp_path):
    import zlib

    from engine.store import ACTIONS_PER_PAGE

    store = Store(tmp_path / "s.db")
    plan = Plan(actions=_every_shape(ACTIONS_PER_PAGE * 2 + 7), realm_id="r", rules_digest="d",
                created_at="2026-11-30T09:00:00+00:00")
    store.save_plan(plan)
    assert store.load_plan(plan.id).actions == plan.actions
    late = plan.actions[ACTIONS_PER_PAGE + 3]
    assert store.action(plan.id, late.id) == late
    listed = store.load_plan(plan.id, listed=True).actions
    assert [a.full() for a in listed] == plan.actions
    # What the operator chose is read back over the pages too, and a change of it is the action's.
    store.set_approved(plan.id, [plan.actions[-1].id], False)
    assert [a.id for a in store.operator_choices(plan.id)] == [
        a.id for a in plan.actions if a.decision or not a.approved or a is plan.actions[-1]]
    assert store.action(plan.id, plan.actions[-1].id).approved is False
    # A caller may change what it got (apply fills in created ids): the next read is as saved.
    store.action(plan.id, late.id).changes.clear()
    assert store.action(plan.id, late.id) == late
    # A link's field whose two sides hold one value is kept once: most fields of a first plan's links.
    page = store.db.execute("select bodies from action_pages where plan_id = ? and page = 0", [plan.id]).fetchone()[0]
    page = zlib.decompress(page).decode()  # packed (bulk.packed)
    assert '"name":["Acme"]' in page and '"emails":[[]]' in page and '"phone":{"precoro":"1","quickbooks":"2"}' in page
    link = store.action(plan.id, plan.actions[0].id).link
    assert list(link.baseline) == ["name", "emails", "phone", "price", "sent"]  # in the rules' order still
    link.baseline["emails"]["precoro"].append("a@b.c")
    assert link.baseline["emails"]["quickbooks"] == []  # two values, as they were


def test_w1_plans_saved_before_the_action_pages_migrate_whole(tmp_path):
    import json
    import sqlite3

    import sqlite_utils

    from engine.store import migrations

    path = tmp_path / "old.db"
    old = sqlite_utils.Database(sqlite3.connect(path))
    migrations.apply(old, stop_before="m015_action_pages")
    actions = _every_shape(450)
    old["plans"].insert({"id": "p1", "realm": "r", "rules_digest": "d", "created_at": "t", "entities": "[]",
                         "state": "open", "purpose": "sync", "scope": "full", "readback": "{}", "notes": "[]"})
    for seq, a in enumerate(actions):  # as a plan was saved before: each action whole, in a row of its own
        old["actions"].insert({"plan_id": "p1", "id": a.id, "seq": seq, "entity": a.entity, "kind": a.kind,
                               "target": a.target, "name": a.name, "precoro_id": a.precoro_id,
                               "quickbooks_id": a.quickbooks_id, "decision": a.decision, "approved": int(a.approved),
                               "depends_on": json.dumps(a.depends_on) if a.depends_on else None})
        old["action_bodies"].insert({"plan_id": "p1", "id": a.id, "body": json.dumps(a.to_json())})
    old.conn.commit()
    old.conn.close()
    os.chmod(path, 0o600)
    store = Store(path)
    assert store.load_plan("p1").actions == actions
    assert store.action("p1", actions[333].id) == actions[333]
    assert "action_bodies" not in store.db.table_names()


def test_w1_every_field_of_a_field_change_is_kept_whatever_else_it_sets():
    """A field change is stored by hand (FieldChange.stored): each of its fields, set alone to a
    value easy to lose ("", 0, False, an empty list) or to a plain one, comes back as it was."""
    from engine.plan import FieldChange
    from engine.store import StoredActions

    names = [name for name in FieldChange.__slots__ if name != "field"]
    changes = [FieldChange("phone", **{name: value}) for name in names for value in ("", 0, False, [], "x", {"a": 1})]
    actions = [Action(id=f"a{i}", entity="supplier", kind="update", target="quickbooks", name="Acme", precoro_id=str(i),
                      quickbooks_id="7", changes=[change, FieldChange("name")]) for i, change in enumerate(changes)]
    kept = StoredActions()
    kept.add(actions)
    assert [a.full() for a in kept.listed()] == actions


def test_w1_actions_kept_as_made_are_read_whole_each_the_caller_s_own():
    from engine.store import StoredActions

    actions = _every_shape(450)
    kept = StoredActions()
    kept.add(actions[:130])  # entity by entity, pages filled across them
    kept.add(actions[130:])
    listed = kept.listed()
    assert [a.full() for a in listed] == actions
    # Read in order, each page is parsed once; what a caller changes is not what the next read gets.
    taken = kept.action(actions[6].id)  # a link
    taken.link.baseline["name"]["precoro"] = "changed"
    taken.versions.clear()
    assert kept.action(actions[6].id) == actions[6] and kept.action(actions[6].id) == actions[6]
    kept.action(actions[7].id).changes.clear()  # a create
    assert kept.action(actions[7].id) == actions[7]
    assert kept.action(actions[449].id) == actions[449] and kept.action(actions[8].id) == actions[8]
    with pytest.raises(ValueError, match="no action can be added"):
        kept.add(actions[:1])
