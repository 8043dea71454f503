"""W11: what qbsync assumes of Precoro is in one module, each with its evidence, and documented."""

from __future__ import annotations

import re
from pathlib import Path

from engine.clients import precoro_contract as contract

DOC = Path(__file__).resolve().parents[2] / "docs" / "real-services.md"


def test_w11_every_precoro_assumption_has_evidence_and_a_row_in_real_services_md():
    text = DOC.read_text()
    for assumption in contract.ASSUMPTIONS:
        assert assumption.evidence and assumption.doctor, assumption.key
        assert f"| `{assumption.key}` |" in text, f"docs/real-services.md has no row for {assumption.key}"
    assert len({a.key for a in contract.ASSUMPTIONS}) == len(contract.ASSUMPTIONS)


def test_w11_the_doctor_checks_every_assumption_that_says_it_is_checked():
    from engine.doctor import Doctor

    probes = {key for key in vars(Doctor) if key.startswith("_") and not key.startswith("__")}
    for assumption in contract.ASSUMPTIONS:
        checked = not assumption.doctor.startswith("not checked")
        assert (f"_{assumption.key}" in probes) == checked, assumption.key


def test_w11_a_precoro_whose_lists_carry_the_details_costs_one_detail_read_per_list(servers, fresh_dir):
    """The summaries-only assumption is checked on the first row of each list read: where the list
    holds the details whole (as the record's own GET gives them), the rest is taken as it is."""
    from engine.local.demo import DEMO_REALM, seed_precoro, seed_quickbooks
    from engine.local.http import serve_in_thread
    from engine.local.precoro import PrecoroApp

    servers.reset(DEMO_REALM)
    seed_precoro(servers.precoro, seed_quickbooks(servers.quickbooks, DEMO_REALM))
    log = servers.request_log(PrecoroApp(servers.precoro, lists_with_details=True))
    generous = serve_in_thread(log)
    try:
        workdir = fresh_dir()
        session = servers.session(workdir, DEMO_REALM)
        (workdir / "rules.yaml").write_text((workdir / "rules.yaml").read_text().replace(servers.pc.url, generous.url))
        session.reload_rules()
        with session:
            plan = session.plan()
        details = [path for method, path, _ in log.seen if method == "GET" and path.rstrip("/").split("/")[-1].isdigit()]
        by_collection = {path.rsplit("/", 1)[0] for path in details}
        assert len(details) == len(by_collection), details  # one per list read, not one per record
        assert any(a.entity == "supplier" for a in plan.actions)
    finally:
        generous.close()


def test_w11_a_record_s_details_are_read_only_when_the_rules_map_what_only_they_hold(servers, fresh_dir):
    """A supplier's contacts and payment terms are only in its details (`/suppliers/{id}`). With
    contact mapping off, a first read costs the list's pages, not a call per supplier; turned on
    again, the next plan reads each supplier's details, once, and plans its emails."""
    from engine.local.demo import DEMO_REALM, seed_precoro, seed_quickbooks

    servers.reset(DEMO_REALM)
    seed_precoro(servers.precoro, seed_quickbooks(servers.quickbooks, DEMO_REALM))
    total, _ = servers.precoro.page("suppliers", limit=1)
    workdir = fresh_dir()
    session = servers.session(workdir, DEMO_REALM)
    rules = workdir / "rules.yaml"
    shipped = rules.read_text()
    emails = '    emails:        {precoro: "contacts[].email", quickbooks: PrimaryEmailAddr.Address, transform: email_list}\n'
    assert emails in shipped
    rules.write_text(shipped.replace(emails, "    emails:        {enabled: false}\n"))
    session.reload_rules()

    def supplier_details() -> list[str]:
        return [path for method, path, _ in servers.requests()["precoro"]
                if method == "GET" and re.fullmatch(r"/suppliers/\d+", path)]

    with session:
        servers.requests()
        without = session.plan(only=["suppliers"])
        assert supplier_details() == []
        assert not [c for a in without.actions for c in a.changes if c.field == "emails"]

        rules.write_text(shipped)
        session.reload_rules()
        with_emails = session.plan(only=["suppliers"])
        read = supplier_details()
    assert sorted(read) == sorted(set(read)) and len(read) == total  # each supplier's details, once
    assert [c for a in with_emails.actions for c in a.changes if c.field == "emails"]
