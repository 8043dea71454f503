"""Stopping (a ctrl+c) and bad input end with one clear line, never a traceback, and lose nothing."""

from __future__ import annotations

import json
import os
import pty
import select
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

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


def test_w1_ctrl_c_during_a_plan_stops_at_once_and_says_nothing_changed(make_workdir):
    workdir = make_workdir(seed="scale:20000")
    process = spawn(workdir, "plan", "--only", "suppliers")
    time.sleep(1.5)  # reading 20,000 records a side takes several seconds
    assert process.poll() is None, "the plan finished before it could be interrupted"
    interrupted = time.monotonic()
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=30)
    took = time.monotonic() - interrupted

    # It stops within a second here; the bound only tells a stop at once from a plan read to its end
    # (20,000 records a side: over 10 s), loosely enough for a loaded machine.
    assert process.returncode == 130 and took < 5, (took, stderr)
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


def files_at_most(size: int):
    """For a child, before it runs: no file it writes may grow past `size` bytes (the write fails, as
    on a full disk; SIGXFSZ, which would kill it instead, is ignored)."""
    import resource

    def limit() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (size, size))
    return limit


def test_w3_a_state_file_its_disk_cannot_grow_is_one_clear_line_and_the_plan_is_made_after(workdir):
    assert workdir.run("status").returncode == 0  # the state file made
    folder = workdir.path / ".qbsync"
    limit = max(f.stat().st_size for f in folder.iterdir()) + 20_000
    env = {**os.environ, **workdir.apis.env}
    result = subprocess.run([sys.executable, "-m", "tui.cli", "plan"], cwd=workdir.path, env=env, text=True,
                            capture_output=True, timeout=120, preexec_fn=files_at_most(limit))
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr[-2000:]
    assert f"the state file {folder / 'state.db'}" in result.stderr and "then run it again" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert workdir.run("plan").returncode == 0


def test_w3_the_demos_local_apis_that_could_not_seed_their_data_say_so_and_seed_it_whole_next_time(tmp_path):
    # The shipped rules.yaml: the local APIs start in-process, their demo data beside the state file.
    (tmp_path / "rules.yaml").write_text((Path(__file__).resolve().parents[2] / "rules.yaml").read_text())
    env = {key: value for key, value in os.environ.items() if not key.startswith(("QUICKBOOKS_", "PRECORO_"))}

    def plan(*preexec) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "tui.cli", "plan", "--json"], cwd=tmp_path, env=env, text=True,
                              capture_output=True, timeout=120, preexec_fn=preexec[0] if preexec else None)

    data = tmp_path / ".qbsync" / "local-apis.db"
    history = subprocess.run([sys.executable, "-m", "tui.cli", "history"], cwd=tmp_path, env=env, capture_output=True)
    assert history.returncode == 0 and not data.exists()  # the state file made, the local APIs not started
    room = max(f.stat().st_size for f in data.parent.iterdir()) + 20_000
    stopped = plan(files_at_most(room))  # room for the state file's writes, not for the demo data
    assert stopped.returncode == 1 and "Traceback" not in stopped.stderr, stopped.stderr[-2000:]
    assert f"the local APIs' data file {data}" in stopped.stderr
    assert not data.exists()  # not left half seeded
    made = plan()
    assert made.returncode == 0, made.stderr[-2000:]
    assert {"link", "create", "conflict"} <= {action["kind"] for action in json.loads(made.stdout)["actions"]}


def test_w7_a_damaged_state_file_is_named_with_what_to_do_not_a_traceback(workdir):
    assert workdir.run("plan").returncode == 0
    state = workdir.path / ".qbsync" / "state.db"
    with sqlite3.connect(state) as db:  # the plans' table damaged where it begins (a bad sector, say)
        db.execute("pragma wal_checkpoint(truncate)")
        page_size = db.execute("pragma page_size").fetchone()[0]
        root = db.execute("select rootpage from sqlite_master where name = 'plans'").fetchone()[0]
    db.close()
    with open(state, "r+b") as damaged:
        damaged.seek((root - 1) * page_size)
        damaged.write(b"\xff" * page_size)
    for command in ("status", "show"):
        result = workdir.run(command)
        assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr[-2000:]
        assert f"the state file {state} is damaged" in result.stderr and "Move it aside" in result.stderr


def precoro_at_a_closed_port(workdir) -> str:
    """The workdir's rules point Precoro at a port nothing listens on; its address."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{probe.getsockname()[1]}"
    rules = workdir.path / "rules.yaml"
    rules.write_text(rules.read_text().replace(workdir.apis.info["precoro"]["base_url"], closed))
    return closed


def test_w3_a_service_that_cannot_be_reached_says_so_while_it_is_tried_again_then_names_it(workdir):
    closed = precoro_at_a_closed_port(workdir)

    result = workdir.run("plan", "--json")

    assert result.returncode == 1 and result.stdout == "" and "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    asked = lines[0].split(": cannot reach ")[0]  # its first read, "qbsync: Precoro GET /..."
    assert asked.startswith("qbsync: Precoro GET /") and lines[0].startswith(f"{asked}: cannot reach {closed} (")
    assert lines[0].endswith("; trying again in 0.5 s (try 2 of 6)")
    assert lines[1:-1] == [f"{asked}: failed again; trying again in {wait:.1f} s (try {n} of 6)"
                           for n, wait in ((3, 1), (4, 2), (5, 4), (6, 8))]
    assert lines[-1] == (f"qbsync: Precoro: cannot reach {closed} ({lines[-1].split(' (', 1)[1].split(')')[0]}): "
                         "check the network and the base_url in rules.yaml; nothing was sent")


def test_w3_status_says_at_once_that_a_service_cannot_be_reached(workdir):
    closed = precoro_at_a_closed_port(workdir)

    result = workdir.run("status", "--json")

    precoro = json.loads(result.stdout)["connections"]["precoro"]
    assert precoro["reachable"] is False and f"cannot reach {closed}" in precoro["error"]
    # One more try for a blip, not the six over 15 s a plan makes.
    [retried] = result.stderr.strip().splitlines()
    assert retried.endswith("trying again in 0.5 s (try 2 of 2)")


def test_w5_no_rules_file_where_qbsync_runs_says_where_it_looked_and_what_to_do(workdir, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {**os.environ, **workdir.apis.env}
    for command in (["plan"], ["status"], ["apply", "--yes"], ["history"]):
        result = subprocess.run([sys.executable, "-m", "tui.cli", *command], cwd=elsewhere, env=env, text=True,
                                capture_output=True, timeout=60)
        assert result.returncode == 1 and result.stdout == "", command
        assert result.stderr == (f"qbsync: no rules file rules.yaml in {elsewhere}: run qbsync in the folder that "
                                 "holds it, name it with --rules PATH, or write a commented start with `qbsync "
                                 "init`\n"), command
    assert not (elsewhere / ".qbsync").exists()  # nothing made where there are no rules
