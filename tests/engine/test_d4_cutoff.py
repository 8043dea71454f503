"""D4: documents approved before `documents.since` are neither read nor sent; a bad date in the rules
is a file:line:col error and nothing runs."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from engine.local.demo import DEMO_REALM, seed_precoro, seed_quickbooks
from rules import RulesError, load

REALM = DEMO_REALM


def plan_with_cutoff(servers, fresh_dir, since: str):
    servers.reset(REALM)
    seed_precoro(servers.precoro, seed_quickbooks(servers.quickbooks, REALM))
    workdir = fresh_dir()
    session = servers.session(workdir, REALM)
    rules = workdir / "rules.yaml"
    rules.write_text(rules.read_text().replace("\n  since: null\n", f"\n  since: {since}\n", 1))
    session.reload_rules()
    servers.requests()
    with session:
        plan = session.plan()
    reads = [query for method, path, query in servers.requests()["precoro"] if method == "GET" and path == "/invoices"]
    return plan, reads


def invoices(plan) -> list:
    return [a for a in plan.actions if a.entity == "invoice"]


def test_d4_an_invoice_approved_before_documents_since_is_not_read_nor_sent(servers, fresh_dir):
    tomorrow = date.today() + timedelta(days=1)
    plan, reads = plan_with_cutoff(servers, fresh_dir, tomorrow.isoformat())
    assert not invoices(plan)
    # Asked of Precoro, not filtered here: an old document is never read (nor its details), only counted.
    listed = [query for query in reads if "right_date" not in query]
    assert listed and all(f"approvalDate%5Bleft_date%5D={tomorrow:%d.%m.%Y}" in query for query in listed), reads
    [count] = [query for query in reads if "right_date" in query and "logicType%5B%5D=0" in query]  # credit notes: their own
    assert f"approvalDate%5Bright_date%5D={date.today():%d.%m.%Y}" in count and "per_page=" in count
    assert plan.notes == [f"1 invoice approved before {tomorrow.isoformat()} (documents.since) is not sent (D4)"]


def test_d4_an_invoice_approved_on_or_after_documents_since_is_sent(servers, fresh_dir):
    plan, _ = plan_with_cutoff(servers, fresh_dir, date.today().isoformat())
    assert [a.kind for a in invoices(plan)] == ["create"]
    assert plan.notes == []  # none older


@pytest.mark.parametrize("since, expected", [("2026-02-30", "is not a date"), ("30.01.2026", "documents.since")])
def test_d4_a_bad_cutoff_is_a_file_line_col_error(tmp_path, since, expected):
    path = tmp_path / "rules.yaml"
    path.write_text(f"version: 1\ndocuments:\n  since: {since}\n")
    with pytest.raises(RulesError) as raised:
        load(path)
    assert f"{path}:3:10" in str(raised.value) and expected in str(raised.value)


def test_d4_the_cutoff_is_counted_when_documents_are_read_in_full_not_in_every_plan(servers, fresh_dir):
    tomorrow = date.today() + timedelta(days=1)
    servers.reset(REALM)
    seed_precoro(servers.precoro, seed_quickbooks(servers.quickbooks, REALM))
    workdir = fresh_dir()
    for round in ("full read", "read by changes"):  # the same state file
        with servers.session(workdir, REALM) as session:
            rules = workdir / "rules.yaml"
            rules.write_text(rules.read_text().replace("\n  since: null\n", f"\n  since: {tomorrow.isoformat()}\n", 1))
            session.reload_rules()
            servers.requests()
            plan = session.plan()
        counts = [q for m, path, q in servers.requests()["precoro"] if path == "/invoices" and "right_date" in q]
        if round == "full read":
            assert len(counts) == 2  # invoices and credit notes, one count each
            assert plan.notes == [f"1 invoice approved before {tomorrow.isoformat()} (documents.since) is not sent (D4)"]
        else:
            assert counts == []
