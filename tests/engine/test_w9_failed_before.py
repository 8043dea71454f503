"""W9: a write that failed in an earlier apply is shown as such in the next plan, and waits for approval."""

from __future__ import annotations

from engine.run import run_once

REALM = "4242"


def refused_everywhere(servers, workdir, policy_allows: bool = False) -> None:
    """A supplier whose tax id goes to a field Precoro has no key for: every write of it is refused
    there. `policy_allows`: the rules' policy lets a run apply that update alone."""
    servers.reset(REALM)
    servers.quickbooks.insert(REALM, "Vendor", {"DisplayName": "Taxed Ltd", "TaxIdentifier": "99-1234567"})
    servers.precoro.insert("suppliers", {"name": "Taxed Ltd", "currencies": ["USD"]})
    rules = workdir / "rules.yaml"
    text = rules.read_text().replace(
        "    accountNumber: {precoro: accountNumber, quickbooks: AcctNum}",
        "    accountNumber: {precoro: accountNumber, quickbooks: AcctNum}\n"
        "    taxId: {precoro: vatNumber, quickbooks: TaxIdentifier, direction: to_precoro}")
    if policy_allows:
        text = text.replace("    suppliers: [phone, emails]", "    suppliers: [phone, emails, taxId]")
    rules.write_text(text)


def test_w9_a_write_that_failed_before_is_shown_and_not_approved_again(servers, fresh_dir):
    workdir = fresh_dir()
    with servers.session(workdir, REALM) as session:
        refused_everywhere(servers, workdir)
        session.reload_rules()
        first = session.plan(only=["suppliers"])
        [update] = [a for a in first.actions if a.kind == "update"]
        report = session.apply(first.id)
        [failed] = [r for r in report.results if r.id == update.id]
        assert failed.status == "failed" and "vatNumber" in failed.reason

        second = session.plan(only=["suppliers"])
        [again] = [a for a in second.actions if a.kind == "update"]
        assert "failed before:" in again.note and "vatNumber" in again.note
        assert again.unapproved_why.startswith("failed before: ") and "vatNumber" in again.unapproved_why
        assert not again.approved and not again.executable
        assert session.apply(second.id).ok  # nothing is sent to fail again unasked

        # The operator may still try it: approved, it is sent (and refused) once more.
        session.approve([again.id], True, second.id)
        retried = session.apply(second.id, retry_failed=True)
        assert {r.id: r.status for r in retried.results}[again.id] == "failed"


def test_w9_a_write_that_failed_before_is_held_by_a_run_not_taken_for_a_skip(servers, fresh_dir):
    """Unapproved by W9, not by a person: a run holds it for a person (U3) and does not send it again."""
    workdir = fresh_dir()
    with servers.session(workdir, REALM) as session:
        refused_everywhere(servers, workdir, policy_allows=True)
        session.reload_rules()
        first = run_once(session)
        assert first.failures and "vatNumber" in first.failures[0]["reason"]

        second = run_once(session)
        [held] = [row for row in second.held if row["kind"] == "update"]
        assert held["reason"].startswith("not approved in the plan (") and "failed before: " in held["reason"]
        assert not second.failures  # held, not sent to fail again
        third = run_once(session)  # held again, by the run before too: still not sent
        assert not third.failures and [row["action_id"] for row in third.held if row["kind"] == "update"] == [
            held["action_id"]]


def test_w9_a_held_action_approved_then_failed_in_a_persons_apply_is_not_sent_again_by_a_run(servers, fresh_dir):
    """The person's answer was spent on the apply that failed: a run then holds it (W9), it does not retry."""
    workdir = fresh_dir()
    with servers.session(workdir, REALM) as session:
        refused_everywhere(servers, workdir)  # the shipped policy holds a tax id's update
        session.reload_rules()
        first = run_once(session)
        [held] = [row for row in first.held if row["kind"] == "update"]
        session.approve([held["action_id"]], True, first.plan_id)  # answered: the next run would send it
        report = session.apply(first.plan_id)  # but the person applies it now, and it fails
        assert {r.id: r.status for r in report.results}[held["action_id"]] == "failed"

        second = run_once(session)
        assert not second.failures, second.failures  # not sent again unasked
        [again] = [row for row in second.held if row["kind"] == "update"]
        assert "failed before: " in again["reason"]


def test_w9_a_decided_conflict_whose_write_failed_is_not_sent_again_by_each_plan(servers, demo_synced):
    """A side taken whose write QuickBooks refuses (a name another vendor has): the decision is
    carried to the next plans, but the same write is not sent again unasked (W9), by a person's
    apply nor by a run."""
    from engine.local.demo import DEMO_REALM

    with demo_synced() as session:
        (a_precoro, a_quickbooks), (_, b_quickbooks) = session.store.all_links(DEMO_REALM)["suppliers"][:2]
        taken = servers.quickbooks.get(DEMO_REALM, "Vendor", b_quickbooks)["DisplayName"]
        vendor = servers.quickbooks.get(DEMO_REALM, "Vendor", a_quickbooks)
        servers.quickbooks.update(DEMO_REALM, "Vendor", {"Id": vendor["Id"], "SyncToken": vendor["SyncToken"],
                                                          "sparse": True, "DisplayName": "Renamed In QuickBooks"})
        servers.precoro.update("suppliers", int(a_precoro), {"name": taken})  # a name QuickBooks has already
        plan = session.plan()
        [conflict] = [x for x in plan.actions if x.kind == "conflict" and x.precoro_id == a_precoro]
        session.decide(conflict.id, "precoro", plan.id)
        report = session.apply(plan.id)
        assert {r.id: r.status for r in report.results}[conflict.id] in ("failed", "refused")

        again = session.plan()
        [same] = [x for x in again.actions if x.id == conflict.id]
        assert same.decision == "precoro" and not same.executable and "failed before: " in (same.unapproved_why or "")
        summary = run_once(session)
        assert conflict.id not in {f["id"] for f in summary.failures}, summary.failures
        [held] = [row for row in summary.held if row["action_id"] == conflict.id]
        assert held["reason"].startswith("not approved in the plan (") and "failed before: " in held["reason"]
