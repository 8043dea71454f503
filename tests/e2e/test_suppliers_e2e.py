"""Suppliers end to end: the qbsync CLI against `qbsync local serve` over HTTP (S1-S9, W1-W5)."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time

import pytest
from journal_watch import wait_for_journal

from engine.clients.quickbooks import quote


pytestmark = pytest.mark.e2e


def clients(workdir):
    return workdir.clients()


def kill_apply_midway(workdir, plan_id: str, done_where: str, done_at_least: int) -> None:
    """Start `qbsync apply` and kill -9 it once the journal shows some writes done (W3)."""
    env = {**os.environ, **workdir.apis.env}
    process = subprocess.Popen([sys.executable, "-m", "tui.cli", "apply", plan_id, "--yes", "--json"],
                               cwd=workdir.path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for_journal(workdir, process, f"state = 'done' {done_where}", done_at_least)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert process.returncode == -signal.SIGKILL, "the apply finished before it could be killed"


def vendor_named(qb, name):
    rows = list(qb.query_all("Vendor", f"DisplayName = {quote(name)}"))
    assert len(rows) == 1, rows
    return rows[0]


def first_sync(workdir):
    return workdir.first_sync()


def test_w1_plan_json_contract_and_exit_codes(workdir):
    result = workdir.run("plan", "--json")
    assert result.returncode == 0  # planned (2 for changes only with --detailed-exitcode)
    plan = json.loads(result.stdout)
    assert plan["plan_id"] and plan["summary"]["actions"] == len(plan["actions"])
    for action in plan["actions"]:
        assert {"id", "entity", "kind", "target", "precoro_id", "quickbooks_id", "name", "changes", "note"} <= set(action)
        for change in action["changes"]:
            assert {"field", "before", "after"} <= set(change)
    create = next(a for a in plan["actions"] if a["kind"] == "create" and a["name"] == "O'Brien & Sons Ltd.")
    assert create["target"] == "quickbooks" and create["entity"] == "supplier"
    assert {c["field"] for c in create["changes"]} >= {"name", "phone", "emails", "currency"}
    # Planning wrote nothing: QuickBooks still has no such vendor.
    qb, _ = clients(workdir)
    assert list(qb.query_all("Vendor", f"DisplayName = {quote(create['name'])}")) == []


def test_s7_s8_s9_first_sync_of_two_non_empty_companies(workdir):
    plan, report = first_sync(workdir)
    statuses = {r["name"]: r["status"] for r in report["results"]}
    assert statuses["O'Brien & Sons Ltd."] == "applied"
    assert statuses["Only In QuickBooks LLC"] == "applied"
    # S9, W9: the clash with a QuickBooks customer is known at plan time: blocked on that record,
    # with the reason and a fix, never sent to be refused; a name with ':' likewise.
    harbor = next(a for a in plan["actions"] if a["name"] == "Harbor Café")
    assert harbor["kind"] == "blocked" and "customer" in harbor["note"] and "6240" in harbor["note"]
    assert "Fix:" in harbor["note"]
    parts = next(a for a in plan["actions"] if a["name"] == "Parts: Ltd")
    assert parts["kind"] == "blocked" and "2040" in parts["note"]
    assert next(r for r in report["results"] if r["name"] == "Harbor Café")["status"] == "skipped"
    assert not [r for r in report["results"] if r["status"] == "failed"]
    assert statuses["Northwind Traders"] == "skipped"  # ambiguous: never guessed

    qb, pc = clients(workdir)
    obrien = vendor_named(qb, "O'Brien & Sons Ltd.")
    assert obrien["PrimaryEmailAddr"]["Address"] == "sean@obrien.example"
    assert obrien["BillAddr"]["City"] == "Dublin" and obrien["CurrencyRef"]["value"] == "USD"
    # S3: the comma-separated emails became separate contacts, duplicates dropped, order kept.
    only = pc.details("/suppliers", next(s for s in pc.list_all("/suppliers") if s["name"] == "Only In QuickBooks LLC"))
    assert [c["email"] for c in only["contacts"]["data"]] == ["ap@onlyqb.example", "billing@onlyqb.example"]
    # The operator took QuickBooks' side of the first-link conflict.
    amy = pc.get("/suppliers/1")
    assert (amy["name"], amy["phone"]) == ("Amy's Bird Sanctuary", "(650) 555-3311")

    # Convergence: only what cannot be done on its own is left.
    again = workdir.json("plan")
    assert sorted((a["kind"], a["name"]) for a in again["actions"] if a["entity"] == "supplier") == sorted([
        ("ambiguous", "Northwind Traders"), ("ambiguous", "NORTHWIND TRADERS"), ("blocked", "Acme Supplies"),
        ("blocked", "Harbor Café"), ("blocked", "Parts: Ltd")])


def test_s1_edits_flow_both_ways(workdir):
    first_sync(workdir)
    qb, pc = clients(workdir)
    pc.update("/suppliers/2", {"phone": "+1 650 555 0000", "city": "San Mateo"})  # Robertson, edited in Precoro
    robertson = vendor_named(qb, "Robertson & Associates")
    qb.update("Vendor", {"Id": robertson["Id"], "SyncToken": robertson["SyncToken"], "sparse": True, "AcctNum": "RA-2002"})

    plan = workdir.json("plan")
    updates = {(a["target"], c["field"]): c["after"] for a in plan["actions"] if a["kind"] == "update"
               and a["entity"] == "supplier" for c in a["changes"]}
    assert updates == {("quickbooks", "phone"): "+1 650 555 0000", ("quickbooks", "city"): "San Mateo",
                       ("precoro", "accountNumber"): "RA-2002"}
    report = workdir.json("apply", "--yes")
    assert all(r["status"] == "applied" for r in report["results"] if r["kind"] == "update")
    robertson = vendor_named(qb, "Robertson & Associates")
    assert robertson["PrimaryPhone"]["FreeFormNumber"] == "+1 650 555 0000" and robertson["BillAddr"]["City"] == "San Mateo"
    assert pc.get("/suppliers/2")["accountNumber"] == "RA-2002"
    assert not [a for a in workdir.json("plan")["actions"] if a["kind"] in ("update", "conflict")]


def test_s2_conflict_decided_for_precoro(workdir):
    first_sync(workdir)
    qb, pc = clients(workdir)
    pc.update("/suppliers/2", {"phone": "111"})
    robertson = vendor_named(qb, "Robertson & Associates")
    qb.update("Vendor", {"Id": robertson["Id"], "SyncToken": robertson["SyncToken"], "sparse": True,
                         "PrimaryPhone": {"FreeFormNumber": "222"}})
    plan = workdir.json("plan")
    [conflict] = [a for a in plan["actions"] if a["kind"] == "conflict"]
    assert [(c["field"], c["precoro"], c["quickbooks"], c["baseline"]) for c in conflict["changes"]] == [
        ("phone", "111", "222", "(650) 555-9876")]
    # Undecided conflicts are not applied.
    report = workdir.json("apply", "--yes")
    assert next(r for r in report["results"] if r["id"] == conflict["id"])["status"] == "skipped"
    assert vendor_named(qb, "Robertson & Associates")["PrimaryPhone"]["FreeFormNumber"] == "222"

    plan = workdir.json("plan")
    [conflict] = [a for a in plan["actions"] if a["kind"] == "conflict"]
    assert workdir.run("decide", conflict["id"], "precoro").returncode == 0
    report = workdir.json("apply", "--yes")
    assert next(r for r in report["results"] if r["id"] == conflict["id"])["status"] == "applied"
    assert vendor_named(qb, "Robertson & Associates")["PrimaryPhone"]["FreeFormNumber"] == "111"
    assert not [a for a in workdir.json("plan")["actions"] if a["kind"] in ("update", "conflict")]


def test_s5_deactivated_in_precoro_makes_the_vendor_inactive(workdir):
    first_sync(workdir)
    qb, pc = clients(workdir)
    pc.update("/suppliers/2", {"enable": False})
    plan = workdir.json("plan")
    [action] = [a for a in plan["actions"] if a["kind"] == "deactivate"]
    assert (action["target"], action["precoro_id"]) == ("quickbooks", "2")
    workdir.json("apply", "--yes")
    [vendor] = [v for v in qb.query_all("Vendor", "Active = false") if v["DisplayName"].startswith("Robertson")]
    assert vendor["DisplayName"] == "Robertson & Associates (deleted)"
    # Converged: no rename to "... (deleted)" flows back, no further action for this pair.
    assert not [a for a in workdir.json("plan")["actions"] if a["precoro_id"] == "2"]


def test_s4_deactivated_in_quickbooks_unlinks_and_is_not_pushed_back(workdir):
    first_sync(workdir)
    qb, pc = clients(workdir)
    robertson = vendor_named(qb, "Robertson & Associates")
    qb.update("Vendor", {"Id": robertson["Id"], "SyncToken": robertson["SyncToken"], "sparse": True, "Active": False})
    plan = workdir.json("plan")
    [action] = [a for a in plan["actions"] if a["precoro_id"] == "2"]
    assert action["kind"] == "unlink"
    workdir.json("apply", "--yes")
    assert pc.get("/suppliers/2")["enable"] is True  # kept, and active
    assert not [a for a in workdir.json("plan")["actions"] if a["precoro_id"] == "2"]  # no new vendor
    # Reactivated in QuickBooks: matched again by the matching rule, proposed in a plan.
    robertson = qb.read("Vendor", robertson["Id"])
    qb.update("Vendor", {"Id": robertson["Id"], "SyncToken": robertson["SyncToken"], "sparse": True, "Active": True})
    [action] = [a for a in workdir.json("plan")["actions"] if a["precoro_id"] == "2"]
    assert (action["kind"], action["quickbooks_id"]) == ("link", robertson["Id"])


def test_w2_stale_plan_is_refused_not_overwritten(workdir):
    first_sync(workdir)
    qb, pc = clients(workdir)
    pc.update("/suppliers/2", {"phone": "999"})
    plan = workdir.json("plan")
    assert any(a["kind"] == "update" and a["target"] == "quickbooks" for a in plan["actions"])
    robertson = vendor_named(qb, "Robertson & Associates")  # someone edits QuickBooks after the plan
    qb.update("Vendor", {"Id": robertson["Id"], "SyncToken": robertson["SyncToken"], "sparse": True, "AcctNum": "NEW"})
    result = workdir.run("apply", plan["plan_id"], "--yes", "--json")
    assert result.returncode == 1
    [refused] = [r for r in json.loads(result.stdout)["results"] if r["status"] == "refused"]
    assert "since the plan" in refused["reason"]
    assert vendor_named(qb, "Robertson & Associates")["PrimaryPhone"]["FreeFormNumber"] == "(650) 555-9876"
    # W4: the audit, asked for what did not go through, says just that.
    [entry] = workdir.json("history", "--status", "failed,refused", "--plan", plan["plan_id"][:6])["history"]
    assert (entry["status"], entry["kind"], entry["name"], entry["plan_id"]) == \
        ("refused", "update", refused["name"], plan["plan_id"])
    status = workdir.run("status").stdout  # and says what to do next
    assert (f"plan {plan['plan_id']}: 1 refused in its applies (`qbsync history --plan {plan['plan_id']} --status "
            "failed,refused` says why); a new plan (`qbsync plan`) takes the refused, changed since") in status
    assert workdir.json("status")["undone"] == {"refused": 1}


def test_w2_precoro_record_edited_after_the_plan_is_refused(workdir):
    first_sync(workdir)
    qb, pc = clients(workdir)
    robertson = vendor_named(qb, "Robertson & Associates")
    qb.update("Vendor", {"Id": robertson["Id"], "SyncToken": robertson["SyncToken"], "sparse": True, "AcctNum": "QB-1"})
    plan = workdir.json("plan")
    time.sleep(1.1)  # Precoro versions are whole seconds
    pc.update("/suppliers/2", {"city": "Elsewhere"})
    result = workdir.run("apply", plan["plan_id"], "--yes", "--json")
    assert result.returncode == 1
    assert [r["status"] for r in json.loads(result.stdout)["results"] if r["kind"] == "update"] == ["refused"]
    assert pc.get("/suppliers/2")["accountNumber"] == "RA-1001"


def test_w5_invalid_rules_refuse_to_run_with_file_line_col(workdir):
    rules = workdir.path / "rules.yaml"
    rules.write_text(rules.read_text().replace("conflict: ask", "conflict: ask_me", 1))
    result = workdir.run("validate")
    assert result.returncode == 1 and "rules.yaml:" in result.stdout and "ask_me" in result.stdout
    line = result.stdout.splitlines()[0]
    assert line.split(":")[1].isdigit() and line.split(":")[2].isdigit()
    as_json = workdir.run("validate", "--json")  # the same problems, for an editor or a hook
    assert as_json.returncode == 1
    [problem] = json.loads(as_json.stdout)["problems"]
    assert f"{problem['path']}:{problem['line']}:{problem['column']}: {problem['message']}" == line
    rules_text = rules.read_text().splitlines()[problem["line"] - 1]
    assert rules_text[problem["column"] - 1:].startswith("ask_me")
    plan = workdir.run("plan")
    assert plan.returncode == 1 and "nothing was run" in plan.stderr
    assert not (workdir.path / ".qbsync" / "state.db").exists() or not sqlite3.connect(
        workdir.path / ".qbsync" / "state.db").execute("select count(*) from plans").fetchone()[0]


def test_s7_manual_map_and_unmap(workdir):
    first_sync(workdir)
    result = workdir.run("suppliers", "map", "5", "11", "--yes", "--json")
    assert result.returncode == 0, result.stderr
    plan = workdir.json("plan")
    assert not [a for a in plan["actions"] if a["precoro_id"] == "5"]
    # NORTHWIND TRADERS now has no candidate left: it would be created (it has another city).
    refused = workdir.run("suppliers", "map", "6", "11", "--yes")
    assert refused.returncode == 1 and "already linked" in refused.stderr
    assert workdir.run("suppliers", "unmap", "5", "--yes").returncode == 0
    # Unmapped by hand: not matched to the same vendor again on its own.
    assert not [a for a in workdir.json("plan")["actions"] if a["precoro_id"] == "5" and a["kind"] == "link"]


def test_s7_map_refuses_another_currency(workdir):
    result = workdir.run("suppliers", "map", "7", "9", "--yes")  # O'Brien (USD) to Müller (EUR)
    assert result.returncode == 1 and "currenc" in result.stderr


def test_w4_history_lists_applied_actions_with_before_after_and_response(workdir):
    first_sync(workdir)
    history = workdir.json("history")["history"]
    obrien = next(row for row in history if row["name"] == "O'Brien & Sons Ltd.")
    assert obrien["who"] == "e2e-tester" and obrien["status"] == "applied" and obrien["kind"] == "create"
    assert obrien["after"]["name"] == "O'Brien & Sons Ltd."
    assert obrien["response"]["DisplayName"] == "O'Brien & Sons Ltd."
    filtered = workdir.json("history", "--record", "Brien")["history"]
    assert filtered and all("Brien" in row["name"] for row in filtered)


def test_w1_apply_without_yes_and_without_a_terminal_refuses(workdir):
    workdir.run("plan")
    result = workdir.run("apply")
    assert result.returncode == 1 and "--yes" in result.stderr
    qb, _ = clients(workdir)
    assert list(qb.query_all("Vendor", f"DisplayName = {quote('O' + chr(39) + 'Brien & Sons Ltd.')}")) == []


def test_w3_killed_mid_apply_then_rerun_finishes_without_duplicates(workdir):
    qb, pc = clients(workdir)
    names = [f"Bulk supplier {i:03d} d'Été & Co" for i in range(240)]
    for name in names:
        pc.create("/suppliers", {"name": name, "currencies": ["USD"]})
    plan = workdir.json("plan")
    creates = [a for a in plan["actions"] if a["kind"] == "create" and a["target"] == "quickbooks"]
    assert len(creates) >= 240
    kill_apply_midway(workdir, plan["plan_id"], "", 1)
    state = workdir.path / ".qbsync" / "state.db"

    rerun = workdir.run("apply", plan["plan_id"], "--yes", "--json")
    report = json.loads(rerun.stdout)
    assert {r["status"] for r in report["results"] if r["id"] in {c["id"] for c in creates} and r["name"] in names} == {"applied"}
    vendors = [v["DisplayName"] for v in qb.query_all("Vendor") if v["DisplayName"].startswith("Bulk supplier")]
    assert sorted(vendors) == sorted(names)  # every one exactly once
    bulk_ids = {str(s["id"]) for s in pc.list_all("/suppliers") if s["name"] in names}
    linked = {row[0] for row in sqlite3.connect(state).execute("select precoro_id from links where entity = 'suppliers'")}
    assert bulk_ids <= linked  # state consistent: every created vendor is linked
    assert not [a for a in workdir.json("plan")["actions"] if a["kind"] == "create" and a["name"] in names]


def test_w3_killed_while_creating_in_precoro_then_rerun_finishes_without_duplicates(workdir):
    qb, pc = clients(workdir)
    names = [f"QuickBooks-only vendor {i:03d}" for i in range(60)]
    for name in names:
        qb.create("Vendor", {"DisplayName": name, "PrimaryEmailAddr": {"Address": f"a{name[-3:]}@x.example, b@x.example"}})
    plan = workdir.json("plan")
    kill_apply_midway(workdir, plan["plan_id"], "and side = 'precoro'", 5)

    workdir.run("apply", plan["plan_id"], "--yes", "--json")
    suppliers = [pc.details("/suppliers", s) for s in pc.list_all("/suppliers") if s["name"] in names]
    assert sorted(s["name"] for s in suppliers) == sorted(names)  # each exactly once
    assert all([c["email"] for c in s["contacts"]["data"]][-1] == "b@x.example" for s in suppliers)
    assert not [a for a in workdir.json("plan")["actions"] if a["name"] in names]


def test_w3_faults_on_both_apis_never_duplicate_and_reruns_converge(make_workdir):
    workdir = make_workdir("--faults", "0.15", "--fault-seed", "7",
                           edit=lambda text: text.replace("conflict: ask", "conflict: quickbooks_wins", 1))
    finished = False
    for _ in range(12):  # every run finishes more; a run may stop on a lost answer, never writes twice
        if workdir.run("plan", "--json").returncode == 1:
            continue  # a read failed even after its retries: plan again
        apply = workdir.run("apply", "--yes", "--json")
        if apply.stdout and json.loads(apply.stdout)["stopped"] is None:
            finished = True  # a whole run without interruption (the demo's refused creates still fail)
            break
    assert finished
    qb, pc = clients(workdir)
    for _ in range(10):
        try:  # the faults hit our checks too
            vendors = [v["DisplayName"] for v in qb.query_all("Vendor")]
            suppliers = [s["name"] for s in pc.list_all("/suppliers")]
            break
        except Exception:
            continue
    assert len(vendors) == len(set(vendors))
    assert len(suppliers) == len(set(suppliers))
    assert "O'Brien & Sons Ltd." in vendors and "Only In QuickBooks LLC" in suppliers


def test_w1_safety_brake_refuses_a_plan_that_rewrites_most_linked_records(workdir):
    workdir.first_sync()
    qb, pc = clients(workdir)
    rules = workdir.path / "rules.yaml"
    # Few links in the demo: brake from 3 links on, and at more than a third of them.
    rules.write_text(rules.read_text().replace("max_change_share: 0.5", "max_change_share: 0.3")
                     .replace("min_linked: 20", "min_linked: 3"))
    for supplier_id in (1, 2, 3):
        pc.update(f"/suppliers/{supplier_id}", {"phone": "000"})
    plan = workdir.json("plan")
    refused = workdir.run("apply", plan["plan_id"], "--yes")
    assert refused.returncode == 1 and "safety.max_change_share" in refused.stderr and "--force" in refused.stderr
    assert vendor_named(qb, "Robertson & Associates")["PrimaryPhone"]["FreeFormNumber"] != "000"
    forced = workdir.run("apply", plan["plan_id"], "--yes", "--force")
    assert forced.returncode in (0, 1) and vendor_named(qb, "Robertson & Associates")["PrimaryPhone"]["FreeFormNumber"] == "000"


def test_w1_actions_are_approved_or_skipped_one_by_one_from_the_cli(workdir):
    plan = workdir.json("plan")
    create = next(a for a in plan["actions"] if a["kind"] == "create" and a["name"] == "O'Brien & Sons Ltd.")
    skipped = workdir.run("skip", create["id"][:6])
    assert skipped.returncode == 0 and skipped.stdout.strip() == f"{create['id']}: skipped"
    assert workdir.run("skip", "zzzz").returncode == 1  # no such action: refused, nothing changes
    report = workdir.json("apply", "--yes")
    assert next(r for r in report["results"] if r["id"] == create["id"])["status"] == "skipped"
    qb, _ = clients(workdir)
    assert list(qb.query_all("Vendor", f"DisplayName = {quote(create['name'])}")) == []
    # Decided conflicts are approved with their decision; a skipped action is approved again by hand.
    again = workdir.json("plan")
    create = next(a for a in again["actions"] if a["name"] == "O'Brien & Sons Ltd.")
    assert workdir.run("approve", create["id"]).returncode == 0
    assert next(r for r in workdir.json("apply", "--yes")["results"] if r["id"] == create["id"])["status"] == "applied"
