"""W11: what qbsync assumes of Precoro is in one module, each with its evidence, and documented."""

from __future__ import annotations

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
