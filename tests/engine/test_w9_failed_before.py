"""W9: a write that failed in an earlier apply is shown as such in the next plan, and waits for approval."""

from __future__ import annotations

REALM = "4242"


def test_w9_a_write_that_failed_before_is_shown_and_not_approved_again(servers, fresh_dir):
    servers.reset(REALM)
    servers.quickbooks.insert(REALM, "Vendor", {"DisplayName": "Taxed Ltd", "TaxIdentifier": "99-1234567"})
    servers.precoro.insert("suppliers", {"name": "Taxed Ltd", "currencies": ["USD"]})
    workdir = fresh_dir()
    with servers.session(workdir, REALM) as session:
        # A field Precoro has no such key for: every write of it is refused there.
        rules = workdir / "rules.yaml"
        rules.write_text(rules.read_text().replace(
            "    accountNumber: {precoro: accountNumber, quickbooks: AcctNum}",
            "    accountNumber: {precoro: accountNumber, quickbooks: AcctNum}\n"
            "    taxId: {precoro: vatNumber, quickbooks: TaxIdentifier, direction: to_precoro}"))
        session.reload_rules()
        first = session.plan(only=["suppliers"])
        [update] = [a for a in first.actions if a.kind == "update"]
        report = session.apply(first.id)
        [failed] = [r for r in report.results if r.id == update.id]
        assert failed.status == "failed" and "vatNumber" in failed.reason

        second = session.plan(only=["suppliers"])
        [again] = [a for a in second.actions if a.kind == "update"]
        assert "failed before:" in again.note and "vatNumber" in again.note
        assert not again.approved and not again.executable
        assert session.apply(second.id).ok  # nothing is sent to fail again unasked

        # The operator may still try it: approved, it is sent (and refused) once more.
        session.approve([again.id], True, second.id)
        retried = session.apply(second.id, retry_failed=True)
        assert {r.id: r.status for r in retried.results}[again.id] == "failed"
