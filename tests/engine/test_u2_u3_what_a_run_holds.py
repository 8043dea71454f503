"""U2/U3: what a run holds, and what a person's answers do to it, over several runs.

Once rules.yaml allows a held action, the next run applies it, though the plan it carried over still
says "not approved" (the hold's own approval, not a person's). What the policy held says its own
reason, under the safety brake and in `qbsync explain`. A skip in the plan is an answer; what the
brake held and a person approved goes. Real runs on a real state file against the local APIs."""

from __future__ import annotations

from engine.local.demo import DEMO_REALM as REALM_SYNCED, seed_precoro, seed_quickbooks
from engine.run import run_once
from tui.render import explained_text

REALM = "4620816365302"


def demo_session(servers, workdir):
    """A session on the demo pair, seeded afresh in a realm of its own."""
    servers.reset(REALM)
    seed_precoro(servers.precoro, seed_quickbooks(servers.quickbooks, REALM))
    return servers.session(workdir, REALM)


def test_u2_a_held_create_goes_once_the_policy_allows_it(servers, fresh_dir):
    workdir = fresh_dir()
    with demo_session(servers, workdir) as session:
        first = run_once(session)
        held_creates = {row["action_id"] for row in first.held
                        if row["kind"] == "create" and row["entity"] == "supplier"}
        assert held_creates, first.held  # the shipped policy holds new suppliers
        # Explained, a held action says why the run held it, not that its plan has it unapproved (by
        # that same hold); the plan's approval is shown as it is.
        [said] = session.explain("suppliers", "🚀 Rocket Parts Co.", history=1)["plan"]["actions"]
        assert said["unattended"] == {"apply": False, "held": True,
                                      "reason": "a new supplier (policy.creates does not list suppliers)"}
        assert said["approved"] is False

        rules = workdir / "rules.yaml"
        rules.write_text(rules.read_text().replace(
            "creates: [chart_of_accounts, taxes, terms, classes, locations, payments]",
            "creates: [chart_of_accounts, taxes, terms, classes, locations, payments, suppliers]"))
        second = run_once(session)
        assert "suppliers]" in rules.read_text()
        assert not held_creates & {row["action_id"] for row in second.held}, [(r["name"], r["reason"]) for r in second.held if r["action_id"] in held_creates]
        applied = {row["action_id"] for row in session.history(limit=None) if row["status"] == "applied"}
        assert held_creates <= applied, (held_creates - applied, second.text())


def test_u2_under_the_safety_brake_what_the_policy_held_keeps_its_own_reason(servers, demo_synced):
    suppliers = servers.precoro.page("suppliers")[1]
    edit = "safety:\n  max_change_share: 0.5   # 0 to 1\n  min_linked: 20\n"
    session = demo_synced(lambda text: text.replace(edit, "safety:\n  max_change_share: 0.1\n  min_linked: 1\n"))
    with session:
        linked = [s for s in suppliers
                  if session.store.link_for("suppliers", REALM_SYNCED, precoro_id=str(s["id"]))]
        *phones, renamed = linked[:4]
        for n, supplier in enumerate(phones):  # what the policy lets go alone: the brake stops it
            servers.precoro.update("suppliers", supplier["id"], {"phone": f"(650) 555-01{n:02}"})
        servers.precoro.update("suppliers", renamed["id"], {"name": renamed["name"] + " Ltd"})
        summary = run_once(session)
        reasons = {row["name"]: row["reason"] for row in summary.held if row["kind"] == "update"}
        assert all("safety brake" in reasons[s["name"]] for s in phones), reasons
        assert reasons[renamed["name"] + " Ltd"] == "changes name (not in policy.updates.suppliers)", reasons


def test_u3_a_skip_in_the_plan_is_an_answer_a_run_does_not_ask_again(servers, fresh_dir):
    with demo_session(servers, fresh_dir()) as session:
        plan = session.plan()
        # Links the shipped policy would apply alone; a person skips one of them in the plan.
        skipped, kept = [a for a in plan.actions if a.kind == "link" and a.entity == "supplier"][:2]
        session.approve([skipped.id], False, plan.id)
        assert skipped.id not in session.would_hold(plan.id) and kept.id not in session.would_hold(plan.id)

        summary = run_once(session)
        assert summary.plan_id == plan.id  # nothing changed: the person's plan is the run's
        assert skipped.id not in {row["action_id"] for row in summary.held}  # not asked again
        done = {row["action_id"]: row["status"] for row in session.history(limit=None)}
        assert done.get(kept.id) == "applied" and done.get(skipped.id) != "applied"
        explained = session.explain("suppliers", f"precoro:{skipped.precoro_id}", history=1)
        assert {a["id"]: a["unattended"] for a in explained["plan"]["actions"]}[skipped.id] == {
            "apply": False, "held": False, "reason": "skipped by the operator"}
        assert "→ an unattended run would leave it: skipped by the operator" in explained_text(explained)



def test_u2_the_policy_judges_what_it_reads_of_an_action_as_it_judges_the_whole_action(servers, fresh_dir):
    """would_hold judges a saved plan's actions cut to what the policy reads (judged_part), to hold
    260,000 of them at once: the verdicts are those of the whole actions, a run's."""
    from copy import copy

    from engine.policy import fingerprint, judge, judged_part

    with demo_session(servers, fresh_dir()) as session:
        plan = session.plan()
        whole = [copy(a.full()) for a in plan.actions]
        kinds = {(a.entity, a.kind) for a in whole}
        assert {("item", "update"), ("invoice", "create"), ("supplier", "link"), ("supplier", "blocked")} <= kinds
        held = [{"action_id": whole[0].id, "fingerprint": fingerprint(whole[0]), "decision": "approved"}]
        links = lambda section: 3  # noqa: E731 (a brake that stops nothing here, counted alike)
        parts = [judged_part(x) for x in whole]  # before judging: it sets the approvals of what it judges
        a = judge(whole, session.rules, held, links)
        b = judge(parts, session.rules, held, links, prints={whole[0].id: held[0]["fingerprint"]})
        assert {k: (v.apply, v.reason) for k, v in a.verdicts.items()} == {k: (v.apply, v.reason) for k, v in b.verdicts.items()}
        assert a.answers == b.answers and a.answers[whole[0].id] is True


def test_u3_what_a_person_approved_goes_through_it_is_more_than_the_safety_brake_lets_a_run_change(servers, demo_synced):
    """The brake holds what a run would change alone; held actions a person then approved one by
    one are theirs, and the next run applies them (the run does not fail on the apply's own brake)."""
    suppliers = servers.precoro.page("suppliers")[1]
    edit = "safety:\n  max_change_share: 0.5   # 0 to 1\n  min_linked: 20\n"
    session = demo_synced(lambda text: text.replace(edit, "safety:\n  max_change_share: 0.1\n  min_linked: 1\n"))
    with session:
        linked = [s for s in suppliers if session.store.link_for("suppliers", REALM_SYNCED, precoro_id=str(s["id"]))]
        for supplier in linked[:3]:  # phones: the policy lets them go alone; three of seven: the brake stops them
            servers.precoro.update("suppliers", supplier["id"], {"phone": f"(650) 555-02{supplier['id'] % 100:02}"})
        first = run_once(session)
        braked = [row for row in first.held if "safety brake" in row["reason"]]
        assert len(braked) == 3, first.held
        session.approve([row["action_id"] for row in braked])  # a person looked at each, and approved them

        second = run_once(session)
        assert second.error is None, second.error
        done = {row["action_id"]: row["status"] for row in session.history(limit=None)}
        assert all(done.get(row["action_id"]) == "applied" for row in braked), second.text()
        assert not {row["action_id"] for row in braked} & {row["action_id"] for row in second.held}


def test_u3_an_answer_to_a_held_action_waits_with_it_for_what_it_depends_on(servers, fresh_dir):
    """A person approves a held item update whose link is held too (policy.links: none): the update
    waits for the link, and the person's answer waits with it; once the link is approved, both go."""
    workdir = fresh_dir()
    with demo_session(servers, workdir) as session:
        rules = workdir / "rules.yaml"
        rules.write_text(rules.read_text().replace("  links: exact\n", "  links: none\n"))
        first = run_once(session)
        held = {row["name"]: row for row in first.held if row["entity"] == "item"}
        update = next(row for row in first.held if row["kind"] == "update" and row["name"] == "Copy paper A4")
        link = next(row for row in first.held if row["kind"] == "link" and row["name"] == "Copy paper A4")
        assert "policy.updates" in update["reason"] and held
        session.approve([update["action_id"]])  # the update, not yet its link

        second = run_once(session)
        [waiting] = [row for row in session.store.held(waiting=False) if row["action_id"] == update["action_id"]]
        assert waiting["reason"].startswith(f"waits for held action {link['action_id']}")
        assert waiting["decision"] == "approved"  # the answer stands, not asked again
        assert update["action_id"] not in {row["action_id"] for row in second.held}  # `qbsync held`: the link waits

        session.approve([link["action_id"]])
        run_once(session)
        done = {row["action_id"]: row["status"] for row in session.history(limit=None)}
        assert done.get(link["action_id"]) == done.get(update["action_id"]) == "applied"
