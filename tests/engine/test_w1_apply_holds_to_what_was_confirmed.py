"""W1 with two terminals: an apply writes what the operator confirmed, not what another terminal (or
an unattended run) approved, skipped or decided while the question was on screen. The confirmation
is bound to the plan's approvals as shown (`review.approvals_digest`); the apply checks them again
under the writer's lock and, when they moved, writes nothing and says so."""

from __future__ import annotations

from contextlib import contextmanager

import pytest

from engine.errors import ApprovalsChanged
from engine.local.demo import seed_scale
from engine.review import apply_summary, approvals_digest

REALM = "8131"


@contextmanager
def two_terminals(servers, fresh_dir, records: int):
    """Two sessions on one state file (as two terminals are), a first plan made in the first."""
    servers.reset(REALM)
    seed_scale(servers.quickbooks, servers.precoro, REALM, records)
    workdir = fresh_dir()
    with servers.session(workdir, REALM) as here, servers.session(workdir, REALM) as there:
        yield here, there, here.plan()


def vendors(servers) -> int:
    return len(servers.quickbooks.query(REALM, "SELECT * FROM Vendor MAXRESULTS 1000").response()["Vendor"])


def test_w1_an_approval_made_elsewhere_after_the_confirmation_stops_the_apply_before_any_write(servers, fresh_dir):
    with two_terminals(servers, fresh_dir, 30) as (here, there, made):
        creates = [a for a in made.actions if a.kind == "create" and a.target == "quickbooks" and a.executable]
        assert len(creates) >= 2
        here.approve([creates[0].id], approved=False)  # skipped here, before the question

        shown = here.load_plan(made.id, listed=True)  # what `qbsync apply` lists and asks about
        confirmed = approvals_digest(shown.actions)
        asked = apply_summary(shown.actions).actions
        there.approve([creates[0].id], approved=True)  # meanwhile, in another terminal
        before = vendors(servers)

        with pytest.raises(ApprovalsChanged) as refused:
            here.apply(made.id, confirmed=confirmed)
        said = str(refused.value)
        assert f"it would now run {asked + 1:,} actions, not the {asked:,} you confirmed" in said
        assert "Nothing was written; applying it again shows it as it now is and asks again" in said
        assert vendors(servers) == before and here.history() == []  # not one write, not one audit row

        # Asked again, the operator sees the approval and confirms it: the apply goes through.
        again = here.load_plan(made.id, listed=True)
        report = here.apply(made.id, confirmed=approvals_digest(again.actions))
        applied = {r.id for r in report.results if r.status == "applied"}
        assert creates[0].id in applied and len(applied) == asked + 1
        assert vendors(servers) == before + len(creates)


def test_w1_a_skip_or_a_decision_made_elsewhere_stops_it_too_and_yes_applies_the_plan_as_it_is(servers, fresh_dir):
    with two_terminals(servers, fresh_dir, 30) as (here, there, made):
        create = next(a for a in made.actions if a.kind == "create" and a.executable)
        confirmed = approvals_digest(here.load_plan(made.id, listed=True).actions)
        there.approve([create.id], approved=False)  # fewer writes than confirmed is still not what was confirmed
        before = vendors(servers)
        with pytest.raises(ApprovalsChanged):
            here.apply(made.id, confirmed=confirmed)
        assert vendors(servers) == before and here.history() == []

        # Approvals this terminal made itself before the question are part of what it confirmed.
        here.approve([create.id], approved=True)
        confirmed = approvals_digest(here.load_plan(made.id, listed=True).actions)
        assert here.apply(made.id, confirmed=confirmed).counts().get("applied")


def test_w1_without_a_confirmation_the_plan_is_applied_as_the_state_file_holds_it(servers, fresh_dir):
    """`--yes` and unattended runs confirm nothing on screen: they apply the approvals as they are."""
    with two_terminals(servers, fresh_dir, 20) as (here, there, made):
        create = next(a for a in made.actions if a.kind == "create" and a.executable)
        there.approve([create.id], approved=False)
        report = here.apply(made.id)
        assert {r.id: r.status for r in report.results}.get(create.id) != "applied"
        assert report.counts().get("applied")


def test_w1_the_digest_is_of_what_would_run_and_its_decisions():
    """Pure: the same approvals give the same word; an approval, a skip or another side changes it;
    an action that cannot run (waiting on an unapproved one) is not part of it."""
    from engine.plan import Action

    def action(aid, kind="create", approved=True, decision=None, depends_on=()):
        return Action(id=aid, entity="supplier", kind=kind, target="quickbooks", name=aid, approved=approved,
                      decision=decision, depends_on=list(depends_on))

    plan = [action("a"), action("b"), action("c", kind="conflict", decision="precoro"), action("d", depends_on=["e"]),
            action("e", approved=False)]
    word = approvals_digest(plan)
    assert word.startswith("3:") and word == approvals_digest([*plan])
    plan[1].approved = False
    assert approvals_digest(plan).startswith("2:")
    plan[1].approved = True
    plan[2].decision = "quickbooks"
    changed = approvals_digest(plan)
    assert changed.startswith("3:") and changed != word
    plan[4].approved = True  # d no longer waits on an unapproved action: both run
    assert approvals_digest(plan).startswith("5:")
