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
