"""`qbsync doctor` (W11): what qbsync assumes of Precoro and QuickBooks, checked against the served local APIs.

The local APIs behave as qbsync assumes, so every check holds there; a local Precoro told to
answer its lists with the details (`--precoro-lists-with-details`) is found to differ.
"""

from __future__ import annotations

import json

from engine.local.precoro import PrecoroState


def checks_by_key(report: dict) -> dict[str, dict]:
    return {check["key"]: check for check in report["checks"]}


def add_credit_note(workdir) -> None:
    """A credit note in the served Precoro (documents are not created over its API)."""
    state = PrecoroState(str(workdir.path.parent / "local.db"))
    try:
        state.insert("invoices", {"status": 2, "logicType": 1, "supplier": 1, "invoiceNumber": "CN-1",
                                  "items": [{"name": "Returned paper", "quantity": 1, "price": 12}]})
    finally:
        state.close()


def test_w11_doctor_on_the_local_apis_every_assumption_holds(workdir):
    workdir.first_sync()  # a supplier qbsync created, to check externalId by
    add_credit_note(workdir)

    result = workdir.run("doctor", "--json")
    report = json.loads(result.stdout)
    text = workdir.run("doctor")

    assert result.returncode == 0, result.stdout + result.stderr
    checks = checks_by_key(report)
    assert {c["result"] for c in checks.values()} == {"holds"}, [c for c in checks.values() if c["result"] != "holds"]
    assert report["differs"] == 0
    assert {"list_summaries", "details_complete", "external_id_patch", "external_id_filter", "document_filters",
            "credit_notes", "cdc", "minorversion", "grant_end"} <= checks.keys()
    assert "PATCH /suppliers/" in checks["external_id_patch"]["saw"]
    assert checks["grant_end"]["saw"].startswith("the authorization ends on ")  # the local token endpoint says it
    assert text.returncode == 0 and "holds" in text.stdout and "precoro list_summaries" in text.stdout
    # The credit note is planned as what it is (D8): a VendorCredit, not a Bill.
    plan = workdir.json("plan")
    [planned] = [a for a in plan["actions"] if a["name"] == "credit note CN-1"]
    assert (planned["entity"], planned["kind"]) == ("credit_note", "blocked")
    assert "no linked item and no chart-of-accounts account" in planned["note"]  # its one line has neither


def test_w11_doctor_finds_a_precoro_whose_lists_carry_details(make_workdir):
    workdir = make_workdir("--precoro-lists-with-details")

    result = workdir.run("doctor", "--json")
    report = json.loads(result.stdout)
    text = workdir.run("doctor")

    assert result.returncode == 1
    checks = checks_by_key(report)
    assert checks["list_summaries"]["result"] == "differs"
    assert "/suppliers rows carry contacts" in checks["list_summaries"]["saw"]
    assert report["differs"] == 1
    # Before any sync qbsync owns no supplier: the externalId checks could not run, and say why.
    assert checks["external_id_patch"]["result"] == "could not check"
    assert "no supplier qbsync created" in checks["external_id_patch"]["saw"]
    assert text.returncode == 1 and text.stdout.startswith("differs")
