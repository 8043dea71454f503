"""W1: an operator's decisions and skips carry to the next plan while the action proposes the same
thing, whatever its values are. A supplier's emails are a list: made as a tuple, read back from
the state file as a list; the two once compared unequal, so every decision on an action showing
emails was forgotten by the next plan. Real plans on a real state file against the local APIs."""

from __future__ import annotations

from engine.local.demo import seed_precoro, seed_quickbooks

REALM = "5520816365302"


def test_w1_a_skip_and_a_side_taken_on_actions_showing_emails_survive_the_next_plan(servers, fresh_dir):
    servers.reset(REALM)
    seed_precoro(servers.precoro, seed_quickbooks(servers.quickbooks, REALM))
    workdir = fresh_dir()
    with servers.session(workdir, REALM) as session:
        first = session.plan()
        with_emails = [a for a in first.actions if a.kind == "create" and a.entity == "supplier"
                       and any(c.field == "emails" and c.after for c in a.changes)]
        assert with_emails, [(a.name, [c.field for c in a.changes]) for a in first.actions if a.entity == "supplier"]
        skipped = with_emails[0]
        session.approve([skipped.id], approved=False, plan_id=first.id)
        conflict = next(a for a in first.actions if a.kind == "conflict")
        session.decide(conflict.id, "quickbooks", plan_id=first.id)

        # A colleague's edit elsewhere: the next plan is a new one, not the same plan kept.
        other = next(s for s in servers.precoro.page("suppliers")[1] if s["name"] == "Robertson & Associates")
        servers.precoro.update("suppliers", other["id"], {"phone": "(650) 555-0199"})
        second = session.plan()
        assert second.id != first.id
        again = {a.id: a for a in second.actions}
        assert again[skipped.id].approved is False, "the skip was forgotten"
        assert again[conflict.id].decision == "quickbooks", "the side taken was forgotten"
