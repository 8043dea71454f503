"""Stopping (a ctrl+c) and bad input end with one clear line, never a traceback, and lose nothing."""

from __future__ import annotations

import json
import os
import pty
import select
import signal
import subprocess
import sys
import time

import pytest
from journal_watch import wait_for_journal

pytestmark = pytest.mark.e2e


def spawn(workdir, *args: str, **kwargs) -> subprocess.Popen:
    env = {**os.environ, **workdir.apis.env, "QBSYNC_OPERATOR": "e2e-tester"}
    return subprocess.Popen([sys.executable, "-m", "tui.cli", *args], cwd=workdir.path, env=env, text=True,
                            preexec_fn=ctrl_c_as_from_a_terminal,
                            **{"stdout": subprocess.PIPE, "stderr": subprocess.PIPE, **kwargs})


def ctrl_c_as_from_a_terminal() -> None:
    """In the child, before it runs: SIGINT as a terminal delivers it. A test run started in the
    background by a script (`.ci/run &`) ignores SIGINT, children inherit that, and Python then
    leaves it ignored: the ctrl+c these tests send would never arrive."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_w3_ctrl_c_during_an_apply_stops_between_two_writes_and_status_offers_to_finish(workdir):
    _, pc = workdir.clients()
    names = [f"Interrupted supplier {i:03d}" for i in range(240)]
    for name in names:
        pc.create("/suppliers", {"name": name, "currencies": ["USD"]})
    plan = workdir.json("plan")
    process = spawn(workdir, "apply", plan["plan_id"], "--yes")
    wait_for_journal(workdir, process, "state = 'done'")
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=30)

    assert process.returncode == 130, stderr
    assert "stopping after the current write" in stderr and "Traceback" not in stderr
    status = workdir.run("status")
    assert f"plan {plan['plan_id']} was stopped" in status.stdout and f"qbsync apply {plan['plan_id']}" in status.stdout
    finished = workdir.run("apply", plan["plan_id"], "--yes")
    assert finished.returncode in (0, 1) and "Traceback" not in finished.stderr
    qb, _ = workdir.clients()
    vendors = [v["DisplayName"] for v in qb.query_all("Vendor") if v["DisplayName"].startswith("Interrupted supplier")]
    assert sorted(vendors) == names  # each exactly once
    assert "was stopped" not in workdir.run("status").stdout

    # The audit is long now: reading it into a pipe that closes early is not an error (W4).
    history = spawn(workdir, "history", "--json")
    assert history.stdout.readline()
    history.stdout.close()
    history.wait(timeout=30)
    assert "Traceback" not in history.stderr.read() and history.returncode == 0


def test_w1_ctrl_c_during_a_plan_stops_within_a_second_and_says_nothing_changed(make_workdir):
    workdir = make_workdir(seed="scale:20000")
    process = spawn(workdir, "plan", "--only", "suppliers")
    time.sleep(1.5)  # reading 20,000 records a side takes several seconds
    assert process.poll() is None, "the plan finished before it could be interrupted"
    interrupted = time.monotonic()
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=30)
    took = time.monotonic() - interrupted

    assert process.returncode == 130 and took < 1.5, (took, stderr)
    assert "plan interrupted; nothing was changed" in stderr
    assert "apply" not in stderr and "Traceback" not in stderr
    assert workdir.run("show").returncode == 1  # no plan was saved


def test_w1_ctrl_d_at_the_apply_prompt_is_a_no(workdir):
    workdir.run("plan", check=True)
    main, child = pty.openpty()
    process = spawn(workdir, "apply", stdin=child)
    os.close(child)
    deadline = time.monotonic() + 30
    asked = ""
    while "Type 'yes'" not in asked and time.monotonic() < deadline:  # the question is asked on stderr
        ready, _, _ = select.select([process.stderr], [], [], 0.5)
        if ready:
            asked += os.read(process.stderr.fileno(), 4096).decode()
    assert "Type 'yes'" in asked
    os.write(main, b"\x04")  # ctrl+d
    stdout, stderr = process.communicate(timeout=30)
    os.close(main)
    stderr = asked + stderr

    assert process.returncode == 1 and "Traceback" not in stderr and "nothing was written" in stderr
    qb, _ = workdir.clients()
    assert "O'Brien & Sons Ltd." not in [v["DisplayName"] for v in qb.query_all("Vendor")]


def test_w5_a_rules_path_that_is_a_directory_a_loop_or_huge_is_one_clear_line(workdir):
    (workdir.path / "loop1").symlink_to("loop2")
    (workdir.path / "loop2").symlink_to("loop1")
    (workdir.path / "huge.yaml").write_text("version: 1\nsuppliers:\n  conflict: " + "x" * 10_000_000 + "\n")
    for args in (("validate", "--rules", "."), ("plan", "--rules", "."), ("validate", "--rules", "loop1"),
                 ("plan", "--rules", "loop1"), ("plan", "--rules", "huge.yaml")):
        result = workdir.run(*args)
        output = result.stdout + result.stderr
        assert result.returncode == 1 and "Traceback" not in output, (args, output[-2000:])
        assert len(output) < 1000, (args, len(output))
    huge = workdir.run("validate", "--rules", "huge.yaml").stdout
    assert "huge.yaml:3:13:" in huge and "10,000,000 characters" in huge


def test_w7_a_state_file_that_cannot_be_used_is_named_not_the_rules(workdir):
    (workdir.path / "afile").write_text("not a directory")
    for state in ("afile/state.db", "."):
        result = workdir.run("status", "--state", state)
        assert result.returncode == 1 and "Traceback" not in result.stderr
        assert "cannot use the state file" in result.stderr and "rules" not in result.stderr


def test_a_credential_with_a_trailing_newline_still_works(workdir):
    env = {**os.environ, **workdir.apis.env}
    env["PRECORO_TOKEN"] += "\n"
    env["QUICKBOOKS_REFRESH_TOKEN"] += " \n"
    result = subprocess.run([sys.executable, "-m", "tui.cli", "plan", "--json"], cwd=workdir.path, env=env, text=True,
                            capture_output=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["actions"]
