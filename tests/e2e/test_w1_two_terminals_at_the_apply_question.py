"""W1 with two terminals: `qbsync apply` asks about the plan it listed; a conflict decided in another
terminal while the question waits is not applied unseen. The apply writes nothing, says what moved
and what to do, and the next `qbsync apply` shows the plan as it now is."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import time

import pytest

pytestmark = pytest.mark.e2e


def ask_apply(workdir) -> tuple[subprocess.Popen, int, str]:
    """`qbsync apply` on a terminal, once it asks: the process, the terminal to answer on, what it showed."""
    main, child = pty.openpty()
    env = {**os.environ, **workdir.apis.env, "QBSYNC_OPERATOR": "e2e-tester"}
    process = subprocess.Popen([sys.executable, "-m", "tui.cli", "apply"], cwd=workdir.path, env=env, text=True,
                               stdin=child, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    os.close(child)
    asked, deadline = "", time.monotonic() + 60
    while "Type 'yes'" not in asked and time.monotonic() < deadline:  # asked on stderr (no terminal of its own)
        ready, _, _ = select.select([process.stderr], [], [], 0.5)
        if ready:
            asked += os.read(process.stderr.fileno(), 4096).decode()
    assert "Type 'yes'" in asked, asked
    return process, main, asked


def test_w1_a_conflict_decided_in_another_terminal_while_apply_asks_is_not_applied_unseen(workdir):
    plan = workdir.json("plan")
    conflict = next(a for a in plan["actions"] if a["kind"] == "conflict")
    qb, _ = workdir.clients()
    vendors_before = {v["Id"]: v for v in qb.query_all("Vendor")}

    process, main, asked = ask_apply(workdir)
    assert f"Apply plan {plan['plan_id']}:" in asked
    elsewhere = workdir.run("decide", conflict["id"], "precoro")  # the colleague's terminal
    assert elsewhere.returncode == 0, elsewhere.stderr
    os.write(main, b"yes\n")
    stdout, stderr = process.communicate(timeout=120)
    os.close(main)

    assert process.returncode == 1 and "Traceback" not in stderr
    assert f"plan {plan['plan_id']} was changed after you confirmed its apply" in stderr
    assert "Nothing was written" in stderr
    assert {v["Id"]: v for v in qb.query_all("Vendor")} == vendors_before  # not one write
    assert workdir.json("history")["history"] == []

    # Asked again, the plan is shown with the decision in it; confirmed, it is applied with it.
    [decided] = [a for a in workdir.json("show", plan["plan_id"])["actions"] if a["id"] == conflict["id"]]
    assert decided["decision"] == "precoro" and decided["approved"]
    process, main, _ = ask_apply(workdir)
    os.write(main, b"yes\n")
    stdout, stderr = process.communicate(timeout=120)
    os.close(main)
    assert process.returncode in (0, 1) and "changed after you confirmed" not in stderr, stderr
    outcome = {r["action_id"]: r["status"] for r in workdir.json("history")["history"]}
    assert outcome.get(conflict["id"]) == "applied"


def test_w1_a_script_applies_only_the_plan_it_reviewed_with_expect_approvals(workdir):
    """A script reads the plan as JSON, checks it, then applies with --yes: `--expect-approvals` holds
    that apply to what it checked, as the question holds an operator's. A skip made in between
    (another terminal) makes it write nothing; the approvals as they now are apply."""
    plan = workdir.json("plan")
    reviewed = plan["approvals"]
    assert workdir.json("show")["approvals"] == reviewed
    create = next(a for a in plan["actions"] if a["kind"] == "create" and a["approved"])
    assert workdir.run("skip", create["id"]).returncode == 0  # a colleague, after the script looked

    refused = workdir.run("apply", "--yes", "--expect-approvals", reviewed)
    assert refused.returncode == 1 and "Traceback" not in refused.stderr
    assert "was changed after you confirmed its apply" in refused.stderr and "Nothing was written" in refused.stderr
    assert workdir.json("history")["history"] == []
    malformed = workdir.run("apply", "--yes", "--expect-approvals", "15")
    assert malformed.returncode == 1 and "is not the `approvals` of `qbsync show --json`" in malformed.stderr

    now = workdir.json("show")["approvals"]
    assert now != reviewed and int(now.split(":")[0]) == int(reviewed.split(":")[0]) - 1
    applied = workdir.json("apply", "--yes", "--expect-approvals", now)
    statuses = {result["id"]: result["status"] for result in applied["results"]}
    assert applied["counts"]["applied"] > 0 and statuses.get(create["id"]) != "applied"
