"""W1: a saved plan is reviewed from its listing and its tally. The listing makes its actions a page
at a time when asked for, and reads the rest in the background, always from the plan as it was when
listed (W6: another terminal may let it go meanwhile). The tally (what applying it would write, the
conflicts to decide, its runs and counts) is saved with it, so a large plan shows its counts without
reading every action; a decision makes it out of date, and the next review counts it again."""

from __future__ import annotations

import time

from engine.local.demo import seed_precoro, seed_quickbooks, seed_scale
from engine.review import PlanTally, ReviewFilter, action_groups, tally_of
from engine.store import ACTIONS_PER_PAGE, LISTING_PAGE, OUTCOMES_KEPT_FROM, Store

REALM = "8108"


def wait_until(done, seconds: float = 20.0) -> None:
    ends = time.monotonic() + seconds
    while not done():
        assert time.monotonic() < ends, "not done in time"
        time.sleep(0.01)


def test_w1_a_saved_plan_is_listed_a_page_at_a_time_and_the_rest_in_the_background(servers, fresh_dir):
    servers.reset(REALM)
    seed_scale(servers.quickbooks, servers.precoro, REALM, 850)
    workdir = fresh_dir()
    with servers.session(workdir, REALM) as s:
        made = s.plan()
        ids = [a.id for a in s.load_plan(made.id).actions]
    assert len(ids) > LISTING_PAGE  # more than one page
    assert [a.id for a in made.actions] == ids  # the plan just made, listed from memory

    store = Store(workdir / "state.db")
    asked = store.load_plan(made.id, listed=True, background=False).actions
    assert len(asked) == len(ids) and not asked.complete
    assert asked[-1].id == ids[-1] and asked[LISTING_PAGE].id == ids[LISTING_PAGE]
    assert not asked.complete  # only the page asked for was read
    first = asked[0]
    assert [a.id for a in asked] == ids and asked.complete  # the rest, in plan order
    assert asked[0] is first  # what was made before stays (the TUI records decisions on it)
    assert asked[len(ids) - 3:] == list(asked)[-3:]
    iterated = store.load_plan(made.id, listed=True, background=False).actions
    assert next(iter(iterated)).id == ids[0] and not iterated.complete  # a page read as iterating gets there

    background = store.load_plan(made.id, listed=True).actions
    wait_until(lambda: background.complete)
    assert [a.id for a in background] == ids
    assert background[7].full() == store.load_plan(made.id).actions[7]
    store.close()


def test_w1_a_saved_plans_tally_holds_until_a_decision_and_is_counted_again_for_the_next_review(servers, fresh_dir):
    servers.reset(REALM)
    seed_scale(servers.quickbooks, servers.precoro, REALM, 60)
    workdir = fresh_dir()
    with servers.session(workdir, REALM) as s:
        made = s.plan()
        store = s.store
        whole = s.load_plan(made.id).actions
        counted = tally_of(whole)
        assert counted.summary.actions and counted.runs and sum(n for *_, n in counted.runs) == len(whole)
        assert PlanTally.from_json(made.tally) == counted
        listed = store.load_plan(made.id, listed=True)
        assert PlanTally.from_json(listed.tally) == counted
        # The counts `qbsync status` takes from it are the ones counted in SQL.
        assert counted.groups == store.action_groups(made.id)

        executable = next(a for a in whole if a.executable and a.kind == "create")
        s.approve([executable.id], approved=False)  # e.g. from another terminal
        assert store.load_plan(made.id, listed=True).tally is None  # no longer this plan's counts
        reviewed, _ = s.plan_with_outcomes(made.id)
        recounted = tally_of(s.load_plan(made.id).actions)
        assert PlanTally.from_json(reviewed.tally) == recounted != counted
        assert recounted.summary.held.get("not approved") == 1
        assert recounted.summary.actions == counted.summary.actions - 1
        again = store.load_plan(made.id, listed=True)  # kept for the next review
        assert PlanTally.from_json(again.tally) == recounted

        # A tally counted before a later decision is not kept for the plan.
        s.approve([executable.id])
        store.keep_tally(made.id, again.tally, again.decided)
        assert store.plan_tally(made.id) is None
        assert PlanTally.from_json(s.plan_with_outcomes(made.id)[0].tally) == counted


def test_w1_a_plan_reviewed_after_an_apply_counts_its_groups_with_what_the_apply_did(servers, fresh_dir):
    servers.reset(REALM)
    seed_scale(servers.quickbooks, servers.precoro, REALM, 30)
    workdir = fresh_dir()
    with servers.session(workdir, REALM) as s:
        made = s.plan()
        creates = [a.id for a in made.actions if a.kind == "create" and a.executable]
        s.approve(creates[3:], approved=False)
        s.apply(made.id)
        reviewed, outcomes = s.plan_with_outcomes(made.id)
        whole = s.load_plan(made.id).actions
        tally = PlanTally.from_json(reviewed.tally)
        assert {outcomes[aid].status for aid in creates[:3]} == {"applied"}
        assert tally.groups == action_groups(s.load_plan(made.id), outcomes) == tally_of(whole, outcomes).groups
        assert sum(n for (_, kind, _, status), n in tally.groups.items() if (kind, status) == ("create", "applied")) == 3
        # The rest of the tally is the plan's own, and the one kept stays as before any apply.
        assert (tally.summary, tally.runs) == (tally_of(whole).summary, tally_of(whole).runs)
        assert PlanTally.from_json(s.store.plan_tally(made.id)).groups == tally_of(whole).groups
        assert s.plan_to_review() == (None, {})  # applied without a failure: history

        # A later try of one of them failed: its latest outcome is what counts, everywhere.
        s.store.add_audit(at="2026-12-01T10:00:00", who="test", plan_id=made.id, action_id=creates[0],
                          status="failed", reason="a later try")
        reviewed, outcomes = s.plan_to_review()
        assert reviewed.id == made.id and outcomes[creates[0]].status == "failed"
        assert s.store.latest_outcome_in(made.id, {"failed"}) and not s.store.latest_outcome_in(made.id, {"refused"})
        tally = PlanTally.from_json(reviewed.tally)
        assert tally.groups == action_groups(s.load_plan(made.id), outcomes)
        assert sum(n for (*_, status), n in tally.groups.items() if status == "failed") == 1


def test_w1_counts_by_outcome_kept_with_a_plan_follow_its_later_decisions_and_outcomes(servers, fresh_dir):
    servers.reset(REALM)
    seed_precoro(servers.precoro, seed_quickbooks(servers.quickbooks, REALM))
    workdir = fresh_dir()
    with servers.session(workdir, REALM) as s:
        made = s.plan()
        conflicts = [a.id for a in made.actions if a.kind == "conflict"]
        assert conflicts
        s.apply(made.id)  # the conflicts wait for a decision: the plan is still to review

        def counted() -> tuple[dict, dict]:
            reviewed, outcomes = s.plan_with_outcomes(made.id)
            groups = PlanTally.from_json(reviewed.tally).groups
            assert groups == s.store.action_groups(made.id) == action_groups(s.load_plan(made.id), outcomes)
            return groups, outcomes

        def undecided(groups: dict) -> int:
            return sum(n for (_, kind, waits, _), n in groups.items() if kind == "conflict" and waits)

        groups, outcomes = counted()
        assert outcomes and undecided(groups) == len(conflicts)
        s.decide(conflicts[0], "quickbooks", made.id)  # from another terminal, say
        groups, _ = counted()
        assert undecided(groups) == len(conflicts) - 1
        s.apply(made.id)  # that decision's write: one more outcome
        groups, outcomes = counted()
        assert outcomes[conflicts[0]].status == "applied"
        assert sum(n for (_, kind, _, status), n in groups.items() if (kind, status) == ("conflict", "applied")) == 1


def test_w6_a_plan_listed_before_another_terminal_lets_it_go_still_lists_every_action(servers, fresh_dir):
    servers.reset(REALM)
    seed_precoro(servers.precoro, seed_quickbooks(servers.quickbooks, REALM))
    workdir = fresh_dir()
    with servers.session(workdir, REALM) as reviewing, servers.session(workdir, REALM) as other:
        shown = reviewing.plan()
        listing = reviewing.store.load_plan(shown.id, listed=True, background=False).actions
        other.apply(other.plan(full=True).id)
        assert other.store.plan_state(shown.id) == "superseded"
        assert other.store.db.execute("select count(*) from actions where plan_id = ?", [shown.id]).fetchone()[0] == 0
        assert [(a.id, a.name) for a in listing] == [(a.id, a.name) for a in shown.actions]
        assert "let go" in listing[0].note


def test_w1_many_outcomes_are_kept_with_their_plan_and_follow_each_later_outcome(tmp_path):
    store = Store(tmp_path / "state.db")
    actions = [f"a{n}" for n in range(OUTCOMES_KEPT_FROM)]

    def audit(plan_id: str, action_id: str, status: str, reason: str = "") -> None:
        store.add_audit(at="2026-12-01T10:00:00", who="test", plan_id=plan_id, action_id=action_id, status=status,
                        reason=reason, after={"a whole record": "as an apply keeps it"})

    with store.transaction():
        for n, action_id in enumerate(actions):
            audit("p1", action_id, "failed" if n < 2 else "applied", "refused by QuickBooks" if n < 2 else "")
    read = store.outcomes("p1")
    assert len(read) == len(actions) and read["a0"] == ("failed", "refused by QuickBooks") and read["a9"] == ("applied", "")
    assert len({id(outcome) for outcome in read.values()}) == 2  # one object for each outcome told apart
    assert store.db.execute("select count(*) from plan_outcomes").fetchone()[0] == 1  # kept, with the plan

    # While no outcome lands, the kept ones are read (audit rows are never deleted in use: here,
    # taking one away shows which was read).
    store.db.execute("delete from audit where action_id = 'a5'")
    assert store.outcomes("p1")["a5"] == ("applied", "")

    audit("p1", "a0", "applied")  # a later try of a failed one (another terminal's apply)
    audit("p2", "b0", "failed")  # and an outcome of another plan
    read = store.outcomes("p1")
    assert read["a0"] == ("applied", "") and read["a1"] == ("failed", "refused by QuickBooks")
    assert "a5" not in read and "b0" not in read  # read again from the audit
    assert store.outcomes("p2") == {"b0": ("failed", "")}  # few: not kept
    assert store.db.execute("select count(*) from plan_outcomes").fetchone()[0] == 1


def test_w1_a_failed_background_read_lets_the_snapshot_go_and_pages_are_read_when_asked_for(servers, fresh_dir):
    """A listing's read transaction kept open would keep sqlite from emptying its WAL for as long as
    the TUI runs: when the background read fails, the transaction ends, and the listing goes on."""
    import sqlite3
    import threading

    from engine.store import PlanListing

    rows = [(f"a{i:05}", "supplier", "create", "quickbooks", f"Supplier {i}", str(i), None, None, None, 1)
            for i in range(LISTING_PAGE * 3)]
    fail_once = threading.Event()
    said: list[str] = []

    def read_rows(start: int, stop: int) -> list[tuple]:
        if start == LISTING_PAGE and not fail_once.is_set():  # the second page: a disk I/O error
            fail_once.set()
            raise sqlite3.OperationalError("disk I/O error")
        return rows[start:stop]

    listing = PlanListing(len(rows), read_rows, load=lambda action_id: None, done=lambda: said.append("done"),
                          let_go=lambda: said.append("let go"))
    listing.read_in_background()
    wait_until(lambda: said)
    assert said == ["let go"] and not listing.complete
    assert [a.id for a in listing] == [row[0] for row in rows] and listing.complete  # read when asked for
    assert said == ["let go", "done"]

    # On a real state file: once let go, the listing reads its rows outside the transaction.
    servers.reset(REALM)
    seed_scale(servers.quickbooks, servers.precoro, REALM, 850)
    workdir = fresh_dir()
    with servers.session(workdir, REALM) as s:
        ids = [a.id for a in s.plan().actions]
    store = Store(workdir / "state.db")
    plan_id = store.latest_plan_id()
    listed = store.load_plan(plan_id, listed=True, background=False).actions
    assert listed[0].id == ids[0] and not listed.complete  # its snapshot begun
    store.set_approved(plan_id, [ids[LISTING_PAGE]], False)  # a write after it, in the WAL
    other = sqlite3.connect(workdir / "state.db", timeout=0.5)
    assert other.execute("pragma wal_checkpoint(truncate)").fetchone()[0] == 1  # busy: the snapshot holds the WAL
    listed._let_go()  # as a failed background read does
    assert other.execute("pragma wal_checkpoint(truncate)").fetchone()[0] == 0
    assert [a.id for a in listed] == ids  # the rest read when asked for, from the file as it is
    assert not listed[LISTING_PAGE].approved  # (which is why it is only for a failed read: W6's snapshot is gone)
    other.close()
    store.close()


def test_w1_an_apply_reads_each_actions_details_as_it_comes_to_it_and_audits_them_whole(servers, fresh_dir):
    """The apply works on the plan as listed: it reads an action's changes and request when it comes
    to it, and lets them go once its outcome is recorded (so a plan of 260,000 actions is never held
    whole). Read again for the audit, over many pages, they are the plan's, field for field."""
    servers.reset(REALM)
    seed_scale(servers.quickbooks, servers.precoro, REALM, 300)
    workdir = fresh_dir()
    with servers.session(workdir, REALM) as s:
        made = s.plan()
        s.approve_matching(ReviewFilter(), True, made.id)
        planned = {a.id: a for a in s.load_plan(made.id).actions}
        writes = [a for a in planned.values() if a.executable and a.kind in ("create", "update")]
        assert len(planned) > 2 * ACTIONS_PER_PAGE and len(writes) > ACTIONS_PER_PAGE  # over several pages
        report = s.apply(made.id)
        assert report.ok and report.counts()["applied"] == sum(1 for a in planned.values() if a.executable)
        audited = {row["action_id"]: row for row in s.store.iter_history(plan_id=made.id)}

        listed = s.store.load_plan(made.id, listed=True, background=False).actions
        first = listed[0].full()
        listed[0].drop_details()
        assert listed[0].full() is not first and listed[0].full() == first  # read again, the same
    for action in writes:
        row = audited[action.id]
        assert row["status"] == "applied"
        assert row["before"] == {c.field: c.before for c in action.changes}
        assert row["after"] == {c.field: c.after for c in action.changes}
    assert {row["action_id"] for row in audited.values()} >= {a.id for a in writes}
