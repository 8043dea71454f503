"""W6 superseded plans and W7 one writer, through the CLI against `qbsync local serve`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from engine.clients.quickbooks import quote

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]


def counts_by_name(workdir):
    qb, pc = workdir.clients()
    vendors: dict[str, int] = {}
    for vendor in qb.query_all("Vendor"):
        vendors[vendor["DisplayName"]] = vendors.get(vendor["DisplayName"], 0) + 1
    suppliers: dict[str, int] = {}
    for supplier in pc.list_all("/suppliers"):
        suppliers[supplier["name"]] = suppliers.get(supplier["name"], 0) + 1
    return vendors, suppliers


def test_w6_a_plan_made_before_another_plans_apply_is_refused_whole(workdir):
    first = workdir.json("plan")
    assert workdir.json("plan")["plan_id"] == first["plan_id"]  # nothing changed: the same plan (W11)
    second = workdir.json("plan", "--full")  # read everything again: a plan of its own
    assert first["plan_id"] != second["plan_id"]
    assert workdir.run("apply", first["plan_id"], "--yes").returncode in (0, 1)
    before = counts_by_name(workdir)

    refused = workdir.run("apply", second["plan_id"], "--yes")

    assert refused.returncode == 1
    assert "plan again" in refused.stderr and first["plan_id"] in refused.stderr and "Traceback" not in refused.stderr
    assert counts_by_name(workdir) == before  # nothing was written
    # The plan applied first may be run again (to finish it): it is not superseded by itself.
    again = workdir.run("apply", first["plan_id"], "--yes")
    assert again.returncode in (0, 1) and "plan again" not in again.stderr
    # A new plan sees what was applied and goes through.
    assert workdir.run("plan").returncode in (0, 2)
    assert "plan again" not in workdir.run("apply", "--yes").stderr


def hold_the_writer_lock(workdir) -> subprocess.Popen:
    """A process holding the state file's writer lock until the test says (a line on its stdin), at
    most a minute: a wait that is seen, not one that a slow machine may let run out before the writer starts."""
    holder = subprocess.Popen(
        [sys.executable, "-c", (
            "import select, sys; sys.path.insert(0, sys.argv[1]);"
            "from engine.store import Store; from pathlib import Path;"
            "lock = Store(Path(sys.argv[2])).lock('writer');"
            "cm = lock.held('applying plan held-by-the-test'); cm.__enter__();"
            "print('held', flush=True); select.select([sys.stdin], [], [], 60)"),
         str(ROOT), str(workdir.path / ".qbsync" / "state.db")],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "held"
    return holder


def waiting_apply(workdir, holder: subprocess.Popen) -> subprocess.Popen:
    """`qbsync apply --yes`, started and seen waiting for `holder`."""
    waiting = subprocess.Popen([sys.executable, "-m", "tui.cli", "apply", "--yes"], cwd=workdir.path,
                               env={**os.environ, **workdir.apis.env, "QBSYNC_OPERATOR": "e2e-tester"},
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    said = next((line for line in iter(waiting.stderr.readline, "") if "in use by" in line), "")  # then it waits
    assert f"in use by process {holder.pid}" in said and "waiting" in said
    assert waiting.poll() is None  # still waiting: nothing applied while the lock is held
    return waiting


def test_w7_a_second_writer_waits_naming_the_holder_or_is_refused_with_no_wait(workdir):
    workdir.run("plan", check=True)
    holder = hold_the_writer_lock(workdir)

    refused = workdir.run("apply", "--yes", "--no-wait")
    assert refused.returncode == 1 and "Traceback" not in refused.stderr
    assert f"process {holder.pid}" in refused.stderr and "applying plan held-by-the-test" in refused.stderr
    refused = workdir.run("compact", "--no-wait")  # rewriting the file waits for writers too
    assert refused.returncode == 1 and f"process {holder.pid}" in refused.stderr

    waiting = waiting_apply(workdir, holder)
    holder.stdin.write("go\n")
    holder.stdin.flush()
    stdout, _ = waiting.communicate(timeout=120)
    assert waiting.returncode in (0, 1) and "applied" in stdout
    holder.wait(timeout=10)
    compacted = workdir.json("compact")
    assert 0 < compacted["after_bytes"] <= compacted["before_bytes"]
    assert workdir.run("compact").stdout.startswith(f"{workdir.path / '.qbsync' / 'state.db'}: ")
    assert workdir.run("show", check=True).returncode in (0, 2)  # the plan applied is still there


def test_w7_status_says_who_holds_the_state_file_while_another_terminal_plans_or_applies(workdir):
    workdir.run("plan", check=True)
    assert workdir.json("status")["in_use"] is None
    holder = hold_the_writer_lock(workdir)
    try:
        said = workdir.run("status")
        assert said.returncode == 0, said.stderr
        assert f"in use: process {holder.pid} on " in said.stdout
        assert "is applying plan held-by-the-test (since " in said.stdout and "started now waits for it" in said.stdout
        assert workdir.json("status")["in_use"]["pid"] == holder.pid
    finally:
        holder.stdin.write("go\n")
        holder.stdin.flush()
        holder.wait(timeout=10)
    assert "in use:" not in workdir.run("status").stdout


def test_w7_two_terminals_applying_one_plan_at_once_the_second_says_it_was_applied_by_the_first(workdir):
    """Both wait for the writer lock; the first to take it applies the plan, the second finds it
    applied, says by whom, and writes nothing (not a report of the first one's writes as its own)."""
    plan = workdir.json("plan")
    holder = hold_the_writer_lock(workdir)
    terminals = [waiting_apply(workdir, holder), waiting_apply(workdir, holder)]
    holder.stdin.write("go\n")
    holder.stdin.flush()
    said = [terminal.communicate(timeout=120)[0] for terminal in terminals]
    holder.wait(timeout=10)
    assert [terminal.returncode for terminal in terminals] == [0, 0], said
    applied = [out for out in said if "Apply: " in out]
    already = [out for out in said if "already applied" in out]
    assert len(applied) == 1 and len(already) == 1, said
    # The plan as asked about, then (once the lock is its own) what it found: no report of writes.
    assert already[0].strip().splitlines()[-1].startswith(
        f"Plan {plan['plan_id']} was already applied by e2e-tester (started 20"), already[0]
    assert "Apply: " not in already[0] and "applied  " not in already[0]
    history = workdir.json("history", "--all")["history"]
    assert len(history) == len({row["action_id"] for row in history}) > 0  # each action once


def test_w7_two_applies_and_a_plan_at_once_twenty_times_no_traceback_nothing_twice(make_workdir):
    workdir = make_workdir(seed="empty")
    env = {**os.environ, **workdir.apis.env, "RACE_LOCAL_INFO": json.dumps(workdir.apis.info)}
    env.pop("QUICKBOOKS_ACCESS_TOKEN")  # every process must refresh the token: they race for that too
    result = subprocess.run([sys.executable, str(ROOT / "tests" / "e2e" / "race.py"), str(workdir.path), "20"],
                            env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.splitlines()[-1])

    for trial in report["trials"]:
        for code, stderr in zip(trial["codes"], trial["stderr"]):
            assert "Traceback" not in stderr, stderr
            # Each one waits its turn; the only refusal allowed is a plan superseded meanwhile (W6).
            assert code in (0, 2) or (code == 1 and "plan again" in stderr), (code, stderr)
    assert report["last_apply"] == 0, report["last_apply_stderr"]
    vendors, suppliers = counts_by_name(workdir)
    for trial in report["trials"]:
        for name in trial["names"]["precoro"] + trial["names"]["quickbooks"]:
            assert vendors.get(name) == 1, (name, vendors.get(name))
            assert suppliers.get(name) == 1, (name, suppliers.get(name))
    qb, _ = workdir.clients()
    assert len(list(qb.query_all("Vendor", f"DisplayName = {quote('Race 0 supplier 0')}"))) == 1


def test_w6_showing_or_applying_a_plan_older_than_the_latest_says_a_newer_one_exists(workdir):
    """Another terminal planned again after a change in QuickBooks: the older plan, named by its id,
    still shows and applies, and says that the newer one can no longer be applied after it (W6)."""
    older = workdir.json("plan")["plan_id"]
    qb, _ = workdir.clients()
    vendor = next(v for v in qb.query_all("Vendor") if v["DisplayName"] == "Robertson & Associates")
    qb.update("Vendor", {"Id": vendor["Id"], "SyncToken": vendor["SyncToken"], "sparse": True,
                         "PrimaryPhone": {"FreeFormNumber": "555-0199"}})
    newer = workdir.json("plan")["plan_id"]
    assert newer != older
    said = (f"a newer plan, {newer}, was made since this one; once this one is applied, that one can no longer "
            "be applied")
    assert said in workdir.run("show", older).stderr
    assert "newer plan" not in workdir.run("show").stderr  # the latest itself
    applied = workdir.run("apply", older, "--yes")
    assert applied.returncode in (0, 1) and said in applied.stderr and "Traceback" not in applied.stderr
    refused = workdir.run("apply", newer, "--yes")
    assert refused.returncode == 1 and "plan again" in refused.stderr  # as it said
