"""Unattended runs end to end: `qbsync run` against `qbsync local serve` over HTTP (U1, U2, U3)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import pytest

from engine.clients.quickbooks import quote
from engine.store import Store

pytestmark = pytest.mark.e2e

OBRIEN = "O'Brien & Sons Ltd."
SHIPPED_CREATES = "creates: [chart_of_accounts, taxes, terms, classes, locations, payments]"


def allow_supplier_creates(text: str) -> str:
    assert SHIPPED_CREATES in text
    return text.replace(SHIPPED_CREATES, "creates: [chart_of_accounts, taxes, terms, classes, locations, payments, suppliers]")


def run_json(workdir, *args: str) -> tuple[int, dict]:
    result = workdir.run("run", "--json", *args)
    assert result.stdout.strip(), result.stderr
    return result.returncode, json.loads(result.stdout.strip().splitlines()[-1])


def test_u1_u2_u3_run_applies_what_the_policy_allows_and_holds_a_conflict(make_workdir):
    workdir = make_workdir(edit=allow_supplier_creates)
    code, summary = run_json(workdir)
    assert code == 3 and summary["exit_code"] == 3  # something is held for review
    held = {row["name"]: row for row in summary["held_actions"]}
    conflict = held["amy's bird sanctuary "]
    assert conflict["kind"] == "conflict" and "conflict" in conflict["reason"]
    assert held["invoice INV-2026-0042"]["kind"] == "create"  # documents_up_to: null holds every document
    assert summary["new_held"] == summary["held"] > 0
    # Applied without a person: a new supplier (policy.creates lists suppliers) and exact links.
    qb, _ = workdir.clients()
    assert len(list(qb.query_all("Vendor", f"DisplayName = {quote(OBRIEN)}"))) == 1
    assert summary["counts"]["applied"] >= 2 and not summary["failures"]
    # The conflict was not written: QuickBooks keeps its own phone for amy's.
    vendor_id = next(a for a in workdir.json("show")["actions"] if a["id"] == conflict["action_id"])["quickbooks_id"]
    before = qb.read("Vendor", vendor_id)

    # U3: held again unchanged, nothing is new; `qbsync held` lists the same actions.
    code, again = run_json(workdir)
    assert code == 3 and again["new_held"] == 0 and again["held"] == summary["held"]
    listed = json.loads(workdir.run("held", "--json").stdout)["held"]
    assert conflict["action_id"] in {row["action_id"] for row in listed}
    assert qb.read("Vendor", vendor_id)["SyncToken"] == before["SyncToken"]  # never written

    # Deciding it (the existing command) lets the next run apply it; then it is held no more.
    assert workdir.run("decide", conflict["action_id"], "quickbooks").returncode == 0
    code, third = run_json(workdir)
    assert third["counts"].get("applied", 0) >= 1 and not third["failures"]
    assert conflict["action_id"] not in {row["action_id"] for row in third["held_actions"]}
    listed = json.loads(workdir.run("held", "--json").stdout)["held"]
    assert conflict["action_id"] not in {row["action_id"] for row in listed}

    # status: the last run and how many wait (no loop is running, so nothing is scheduled).
    status = workdir.json("status")["unattended"]
    assert status["held"] == len(listed) and status["last_run"]["exit_code"] == code
    assert status["next_run"] is None

    # `qbsync runs`: the three runs, newest first, as text and JSON; none failed (exit 0 with --failed).
    runs = workdir.json("runs")["runs"]
    assert [run["summary"]["plan_id"] for run in runs] == [third["plan_id"], again["plan_id"], summary["plan_id"]]
    lines = workdir.run("runs").stdout.splitlines()
    assert lines[0].split()[:4] == ["started", "(UTC)", "trigger", "result"] and len(lines) == 4
    assert lines[3].split()[2:4] == ["manual", "held"]
    failed = workdir.run("runs", "--failed")
    assert failed.returncode == 0 and failed.stdout.strip() == "No failed run."


def test_u2_a_dry_run_says_what_a_run_would_apply_and_hold_and_writes_none_of_it(make_workdir):
    workdir = make_workdir(edit=allow_supplier_creates)
    code, preview = run_json(workdir, "--dry-run")
    assert code == 3 and preview["dry_run"] is True and preview["counts"] == {}
    assert preview["would_apply"] and preview["held_actions"]
    # Nothing of it written: no approval changed in the plan, nothing held, no run recorded, no write.
    plan = workdir.json("show")
    assert plan["plan_id"] == preview["plan_id"] and all(a["approved"] for a in plan["actions"] if a["kind"] == "create")
    assert workdir.json("held")["held"] == [] and workdir.json("status")["unattended"]["last_run"] is None
    assert workdir.json("history")["history"] == []
    # The plan shown by what a run would hold of it: the same actions, for the same reasons.
    would = workdir.json("show", "--which", "would-hold")
    assert {a["id"]: a["would_hold"] for a in would["actions"]} == {
        row["action_id"]: row["reason"] for row in preview["held_actions"]}
    shown = workdir.run("show", "--which", "would-hold").stdout
    assert f"    → a run would hold it: {preview['held_actions'][0]['reason']}" in shown
    text = workdir.run("run", "--dry-run")
    assert text.returncode == 3 and "nothing was applied, approved or held" in text.stdout.splitlines()[0]
    assert f"  would apply: {OBRIEN} (supplier create, action " in text.stdout

    # The run itself then does just what the dry run said.
    code, summary = run_json(workdir)
    assert code == 3 and summary["plan_id"] == preview["plan_id"]
    assert {row["action_id"] for row in summary["held_actions"]} == {row["action_id"] for row in preview["held_actions"]}
    assert summary["counts"].get("applied", 0) + summary["counts"].get("failed", 0) == len(preview["would_apply"])
    assert workdir.run("run", "--dry-run", "--every", "1h").returncode == 1  # one look, not a loop


def test_u2_documents_up_to_per_currency_from_the_rules_file(workdir):
    """The demo's invoice is 57.00 USD: a limit named for euros alone holds it, one for dollars sends it."""
    rules = workdir.path / "rules.yaml"
    rules.write_text(rules.read_text().replace("documents_up_to: null", "documents_up_to: {EUR: 100000}"))
    code, preview = run_json(workdir, "--dry-run")
    held = {row["name"]: row["reason"] for row in preview["held_actions"]}
    assert held["invoice INV-2026-0042"] == "a document in USD (policy.documents_up_to names EUR)"

    rules.write_text(rules.read_text().replace("documents_up_to: {EUR: 100000}", "documents_up_to: {EUR: 100000, USD: 57}"))
    code, summary = run_json(workdir)
    assert "invoice INV-2026-0042" not in {row["name"] for row in summary["held_actions"]}
    qb, _ = workdir.clients()
    [bill] = qb.query_all("Bill", "DocNumber = 'INV-2026-0042'")
    assert bill["TotalAmt"] == 57 and bill["CurrencyRef"]["value"] == "USD"


def test_u3_approving_a_held_action_applies_it_at_once_with_apply(workdir):
    code, summary = run_json(workdir)
    assert code == 3
    # `qbsync held` as text: a line each, a long name cut (the demo has one of 300 characters).
    listed = json.loads(workdir.run("held", "--json").stdout)["held"]
    lines = workdir.run("held").stdout.split("\n\n")[0].splitlines()
    assert [line.split()[0] for line in lines] == [row["action_id"] for row in listed]
    longest = max(listed, key=lambda row: len(row["name"]))
    assert len(longest["name"]) > 200 and f": {longest['name'][:59]}…: {longest['reason']} (held since" in "\n".join(lines)
    create = next(row for row in summary["held_actions"] if row["name"] == "O'Brien & Sons Ltd.")
    assert "policy.creates" in create["reason"]
    assert workdir.run("approve", create["action_id"]).returncode == 0
    report = workdir.json("apply", "--yes")
    assert {r["id"]: r["status"] for r in report["results"]}[create["action_id"]] == "applied"
    qb, _ = workdir.clients()
    assert len(list(qb.query_all("Vendor", f"DisplayName = {quote(OBRIEN)}"))) == 1
    listed = json.loads(workdir.run("held", "--json").stdout)["held"]
    assert create["action_id"] not in {row["action_id"] for row in listed}  # answered: no longer waiting
    code, after = run_json(workdir)
    assert not after["failures"] and create["action_id"] not in {r["action_id"] for r in after["held_actions"]}


def test_u1_a_run_never_overlaps_itself(workdir):
    assert workdir.run("run").returncode == 3  # makes the state file
    store = Store(workdir.path / ".qbsync" / "state.db")
    try:
        with store.lock("run").held("a test holding the run"):
            result = workdir.run("run")
        assert result.returncode == 0 and "run skipped" in result.stdout and "a test holding the run" in result.stdout
    finally:
        store.close()


def test_u1_every_loops_until_sigterm_and_status_shows_the_next_run(workdir):
    env = {**os.environ, **workdir.apis.env}
    process = subprocess.Popen([sys.executable, "-m", "tui.cli", "run", "--every", "30m", "--json"], cwd=workdir.path,
                               env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        first = json.loads(process.stdout.readline())
        assert first["trigger"] == "schedule" and first["exit_code"] == 3
        status = workdir.json("status")["unattended"]
        assert status["next_run"] and status["next_run"] > first["started_at"]
        second = workdir.run("run", "--every", "30m")
        assert second.returncode == 1 and "loop lock" in second.stderr  # one loop per state file
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
    finally:
        if process.poll() is None:
            process.kill()
    assert workdir.json("status")["unattended"]["next_run"] is None


def test_u3_held_actions_are_answered_many_at_once_as_the_selection_chooses(workdir):
    code, summary = run_json(workdir)
    assert code == 3
    held_suppliers = {row["action_id"] for row in summary["held_actions"] if row["entity"] == "supplier"}
    held_others = {row["action_id"] for row in summary["held_actions"]} - held_suppliers
    assert held_suppliers and held_others
    # One of them the operator skips on purpose: it waits for no one, and all at once leaves it be
    # (before, "waiting" was read off the plan's approvals, and this approved it again).
    skipped = next(row["action_id"] for row in summary["held_actions"] if row["kind"] == "create")
    assert workdir.run("skip", skipped).returncode == 0
    waiting = {a["id"] for a in workdir.json("show", "--which", "waiting", "--entity", "suppliers")["actions"]}
    assert waiting == held_suppliers - {skipped}
    answer = workdir.json("approve", "--which", "waiting", "--entity", "suppliers")
    assert skipped not in answer["approved"]
    assert next(a for a in workdir.json("show")["actions"] if a["id"] == skipped)["approved"] is False
    held_suppliers.discard(skipped)
    # Approved: what an approval lets through; left: the conflicts, matches and blocked writes among them.
    assert set(answer["approved"]) | {a["id"] for a in answer["left"]} >= held_suppliers
    listed = {row["action_id"] for row in json.loads(workdir.run("held", "--json").stdout)["held"]}
    assert not set(answer["approved"]) & listed  # answered: no longer waiting
    assert held_others <= listed  # the other entities' are still held
    code, after = run_json(workdir)
    assert not after["failures"] and not set(answer["approved"]) & {r["action_id"] for r in after["held_actions"]}


def test_u3_held_lists_the_oldest_then_counts_them_all_and_all_lists_every_one(workdir):
    """A first unattended run on a large company holds thousands: `qbsync held` lists the oldest
    SHOWN_ACTIONS and counts all by entity and kind; `--all` and `--json` give every one."""
    from engine.store import Store
    from tui.cli import SHOWN_ACTIONS

    code, _ = run_json(workdir)  # a real run makes the state file (and holds the demo's)
    assert code == 3
    store = Store(workdir.path / ".qbsync" / "state.db")
    try:
        realm = store.held()[0]["realm"]
        store.put_held([{"realm": realm, "action_id": f"{n:010x}", "entity": "item", "kind": "create",
                         "name": f"Item {n}", "reason": "a new item (policy.creates does not list items)",
                         "fingerprint": "f", "plan_id": "p", "held_at": f"2030-01-01T00:{n // 60:02}:{n % 60:02}+00:00",
                         "seen_at": "2030-01-01T00:00:00+00:00", "decision": None, "decided_at": None}
                        for n in range(250)])
        every = store.held()
    finally:
        store.close()
    text = workdir.run("held").stdout
    lines = text.splitlines()
    assert [line.split()[0] for line in lines[:SHOWN_ACTIONS]] == [row["action_id"] for row in every[:SHOWN_ACTIONS]]
    assert lines[SHOWN_ACTIONS] == (f"... and {len(every) - SHOWN_ACTIONS:,} more: `qbsync held --all` lists them all, "
                                    "`--json` too")
    counted = next(line for line in lines if line.startswith(f"{len(every):,} held: "))
    assert counted.startswith(f"{len(every):,} held: 250 item create, ")
    listed = workdir.run("held", "--all").stdout.splitlines()
    assert [line.split()[0] for line in listed[:len(every)]] == [row["action_id"] for row in every]
    assert len(workdir.json("held")["held"]) == len(every)
