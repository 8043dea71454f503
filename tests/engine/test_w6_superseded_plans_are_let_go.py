"""W6: a plan made before another plan's apply can never be applied. Its actions are let go after
that apply, so that re-planning a large first sync does not keep every plan's actions for good."""

from __future__ import annotations

import pytest

from engine.errors import SupersededPlan
from engine.local.demo import seed_precoro, seed_quickbooks, seed_scale

REALM = "8106"


def test_w6_plans_an_apply_superseded_are_let_go_and_say_so_when_named(servers, fresh_dir):
    servers.reset(REALM)
    seed_precoro(servers.precoro, seed_quickbooks(servers.quickbooks, REALM))
    workdir = fresh_dir()
    with servers.session(workdir, REALM) as s:
        older = s.plan()
        partial = s.plan(only=["suppliers"])  # the latest of its own scope
        applied = s.plan(full=True)  # read everything again: a full plan of its own, the latest
        assert len({older.id, partial.id, applied.id}) == 3
        s.apply(applied.id)

        store = s.store
        count = lambda plan_id: store.db.execute("select count(*) from actions where plan_id = ?", [plan_id]).fetchone()[0]
        pages = lambda plan_id: store.db.execute("select count(*) from action_pages where plan_id = ?", [plan_id]).fetchone()[0]
        assert count(older.id) == 0 and pages(older.id) == 0  # superseded by that apply: let go
        assert store.plan_state(older.id) == "superseded"
        assert count(applied.id) == len(applied.actions)  # the applied plan is history: kept whole
        assert count(partial.id) == len(partial.actions)  # the latest plan of its scope: kept
        with pytest.raises(SupersededPlan, match="plan again"):
            s.apply(older.id)
        with pytest.raises(SupersededPlan, match=older.id):
            s.load_plan(older.id)

        # The latest plan superseded by an apply is kept whole: it is still the one `apply` and the
        # TUI take, and it is refused as before (W6), naming the plan applied.
        newer = s.plan(only=["suppliers"])
        s.apply(s.plan(full=True).id)
        assert count(newer.id) == len(newer.actions) and store.plan_state(newer.id) == "open"
        assert count(partial.id) == 0  # no longer the latest of its scope


def test_w6_a_plan_on_screen_that_another_terminal_lets_go_still_shows_its_list(servers, fresh_dir):
    """Two terminals: one reviews a plan, the other plans again and applies. The first one's plan
    is let go under it; what it shows of it says so instead of failing."""
    servers.reset(REALM)
    seed_precoro(servers.precoro, seed_quickbooks(servers.quickbooks, REALM))
    workdir = fresh_dir()
    with servers.session(workdir, REALM) as reviewing, servers.session(workdir, REALM) as other:
        shown = reviewing.plan()
        listed = reviewing.store.load_plan(shown.id, listed=True).actions
        other.apply(other.plan(full=True).id)
        assert other.store.plan_state(shown.id) == "superseded"
        action = listed[3]
        assert action.name == shown.actions[3].name and action.changes == []
        assert "let go" in action.note and "Plan again" in action.note
        with pytest.raises(SupersededPlan):
            reviewing.apply(shown.id)


def test_w6_compact_gives_the_space_of_plans_let_go_back_and_keeps_what_the_file_holds(servers, fresh_dir):
    servers.reset(REALM)
    seed_scale(servers.quickbooks, servers.precoro, REALM, 150)
    workdir = fresh_dir()
    state = workdir / "state.db"
    with servers.session(workdir, REALM) as s:
        for _ in range(3):
            applied = s.plan(full=True)  # the earlier ones are let go by the apply
        s.apply(applied.id)
        held = [dict(row) for row in s.store.db.query("select * from links order by entity, precoro_id")]
        before_file = state.stat().st_size
        free = s.status()["state_file"]["free_bytes"]  # what `qbsync status` says compact would give back
        assert free > 0 and free == s.store.free_bytes()
        before, after = s.compact()
        assert s.store.free_bytes() == 0 and before - after >= free
        assert before >= before_file and after == s.store.size()
        assert state.stat().st_size < before_file  # the pages of the plans let go are gone from the file
        assert [dict(row) for row in s.store.db.query("select * from links order by entity, precoro_id")] == held
        assert [a.full() for a in s.store.load_plan(applied.id, listed=True).actions] == s.load_plan(applied.id).actions
        assert state.stat().st_mode & 0o777 == 0o600
        assert s.compact()[1] <= after  # nothing more to give back
        assert s.load_plan(s.plan().id).created_at  # the file goes on being planned into


def test_w6_plans_of_runs_that_newer_ones_replaced_a_day_ago_are_let_go_and_say_so(servers, fresh_dir):
    """A timer whose runs hold everything applies nothing, so no apply supersedes its plans: each run
    made a plan kept for good, with every held record's actions (W6, U1). What a person planned
    stays open until an apply supersedes it (a sign-off in a spreadsheet may take days)."""
    from datetime import datetime, timedelta, timezone

    from engine.errors import PlanNotFound
    from engine.run import run_once
    from engine.store import LET_GO_NAMED_DAYS, REPLACED_PLANS_KEPT_HOURS

    servers.reset(REALM)
    seed_precoro(servers.precoro, seed_quickbooks(servers.quickbooks, REALM))
    total, _ = servers.precoro.page("suppliers", limit=1)
    edited = servers.precoro.page("suppliers", limit=total)[1][0]
    start = datetime(2026, 11, 2, 8, 0, tzinfo=timezone.utc)
    with servers.session(fresh_dir(), REALM) as s:
        def at(hours: float) -> None:
            when = (start + timedelta(hours=hours)).isoformat(timespec="seconds")
            s.clock = lambda: when

        def run_at(hours: float) -> str:
            at(hours)
            servers.precoro.update("suppliers", edited["id"], {"legalAddress": f"Street {hours}"})  # a colleague's edit
            return run_once(s).plan_id

        run_at(-2)  # the first run applies what the policy allows (the lists); those after it hold only
        at(-1)
        by_hand = s.plan(full=True)  # a person's plan, out for a sign-off
        first, second = run_at(0), run_at(1)
        assert s.store.plan_state(first) == "open" and s.store.plan_state(by_hand.id) == "open"
        count = lambda plan_id: s.store.db.execute("select count(*) from actions where plan_id = ?", [plan_id]).fetchone()[0]
        assert count(first) > 0 and s.plan_revision(first) >= 0  # replaced an hour ago: still kept whole

        third = run_at(REPLACED_PLANS_KEPT_HOURS + 0.5)
        assert s.store.plan_state(first) == "replaced" and count(first) == 0  # replaced a day ago
        assert s.store.plan_state(second) == "open" and count(third) > 0  # replaced less than a day ago: kept
        assert s.store.plan_state(by_hand.id) == "open" and count(by_hand.id) == len(by_hand.actions)
        assert s.plan_revision(first) == -1  # a TUI showing it says it can no longer be applied
        with pytest.raises(SupersededPlan, match=f"plan {first} was replaced by newer plans more than 24 hours ago"):
            s.apply(first)
        assert s.store.db.execute("select readback, tally from plans where id = ?", [first]).fetchone() == ("{}", None)

        run_at(REPLACED_PLANS_KEPT_HOURS + 2)
        assert s.store.plan_state(second) == "replaced" and s.store.plan_state(third) == "open"

        # Named for LET_GO_NAMED_DAYS; then the row goes too (a timer's plans would add up for good).
        run_at(LET_GO_NAMED_DAYS * 24 + 1)
        assert s.store.plan_state(first) is None and s.store.plan_state(by_hand.id) == "open"
        with pytest.raises(PlanNotFound, match=f"no saved plan {first!r}"):
            s.apply(first)
