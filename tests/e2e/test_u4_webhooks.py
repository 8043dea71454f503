"""U4 end to end: the local QuickBooks sends signed notifications of its writes; `qbsync webhooks serve`
verifies them and runs for the entities named; unsigned or forged ones are refused."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import select
import signal
import socket
import subprocess
import sys
import time
from contextlib import contextmanager

import httpx
import pytest

from engine.clients.quickbooks import quote

pytestmark = pytest.mark.e2e

VERIFIER = "test-verifier-token-0f4c"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def read_line(process: subprocess.Popen, timeout: float = 60) -> dict:
    ready, _, _ = select.select([process.stdout], [], [], timeout)
    assert ready, "qbsync webhooks serve printed nothing in time"
    line = process.stdout.readline()
    assert line, process.stderr.read()
    return json.loads(line)


@contextmanager
def serving(workdir, port: int):
    """`qbsync webhooks serve --json` on `port`, stopped at the end by SIGTERM, as a service manager
    stops it (it must exit 0)."""
    server = subprocess.Popen([sys.executable, "-m", "tui.cli", "webhooks", "serve", "--port", str(port),
                               "--debounce", "0.3", "--json"], cwd=workdir.path, env={**os.environ, **workdir.apis.env},
                              text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        yield server
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            assert server.wait(timeout=60) == 0
        finally:
            if server.poll() is None:
                server.kill()


def test_u4_a_signed_notification_triggers_a_run_and_a_forged_one_is_refused(make_workdir, monkeypatch):
    port = free_port()
    monkeypatch.setenv("QUICKBOOKS_WEBHOOK_VERIFIER", VERIFIER)  # for the local QuickBooks, which signs
    workdir = make_workdir("--webhook-url", f"http://127.0.0.1:{port}/quickbooks")
    with serving(workdir, port) as server:
        url = read_line(server)["listening"] + "/quickbooks"
        body = json.dumps([{"specversion": "1.0", "id": "e-1", "source": "intuit.test", "type": "qbo.vendor.updated.v1",
                            "datacontenttype": "application/json", "time": "2026-11-30T10:00:00Z",
                            "intuitentityid": "1", "intuitaccountid": workdir.apis.info["quickbooks"]["realm_id"],
                            "data": {}}])
        # Unsigned, forged (signed with another token) and tampered with: refused, and nothing runs.
        assert httpx.post(url, content=body).status_code == 401
        forged = base64.b64encode(hmac.new(b"not-the-verifier", body.encode(), hashlib.sha256).digest()).decode()
        assert httpx.post(url, content=body, headers={"intuit-signature": forged}).status_code == 401
        signed = base64.b64encode(hmac.new(VERIFIER.encode(), body.encode(), hashlib.sha256).digest()).decode()
        assert httpx.post(url, content=body + " ", headers={"intuit-signature": signed}).status_code == 401
        assert workdir.json("status")["unattended"]["last_run"] is None
        health = url.replace("/quickbooks", "/health")
        assert httpx.get(health).json() == {"ok": True, "running": False, "waiting": False, "last_run": None}

        # An edit in QuickBooks, as its user would make it: the local QuickBooks notifies, signed.
        qb, _ = workdir.clients()
        vendor = next(iter(qb.query_all("Vendor", f"DisplayName = {quote('Robertson & Associates')}")))
        qb.update("Vendor", {"Id": vendor["Id"], "SyncToken": vendor["SyncToken"], "sparse": True,
                             "PrimaryPhone": {"FreeFormNumber": "(650) 555-0199"}})
        summary = read_line(server)
        assert summary["trigger"] == "webhook" and summary["entities"] == ["suppliers"]
        assert summary["error"] is None and summary["exit_code"] in (0, 3)
        assert workdir.json("status")["unattended"]["last_run"]["trigger"] == "webhook"
        # An uptime monitor's view: up, and how the last run ended (once the run has handed its summary
        # back, a moment after printing it).
        deadline = time.monotonic() + 30
        while (answer := httpx.get(health)).json()["last_run"] is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert answer.status_code == 200 and answer.headers["content-type"] == "application/json"
        assert answer.json()["last_run"] == {key: summary[key] for key in ("started_at", "finished_at", "plan_id",
                                                                           "exit_code", "error", "skipped")}
    logs = server.stderr.read() + server.stdout.read()
    assert VERIFIER not in logs


def test_w7_a_webhook_server_whose_state_file_was_deleted_runs_on_the_file_as_it_now_is(make_workdir, monkeypatch):
    """`webhooks serve` runs for days on one session: a state file removed under it (`rm .qbsync/state.db*`)
    is opened again before the next run, which says so, and that run is in the file every qbsync reads."""
    port = free_port()
    monkeypatch.setenv("QUICKBOOKS_WEBHOOK_VERIFIER", VERIFIER)
    workdir = make_workdir("--webhook-url", f"http://127.0.0.1:{port}/quickbooks")
    qb, _ = workdir.clients()

    def edit_a_vendor(phone: str) -> None:  # as a QuickBooks user would: the local QuickBooks notifies, signed
        vendor = next(iter(qb.query_all("Vendor", f"DisplayName = {quote('Robertson & Associates')}")))
        qb.update("Vendor", {"Id": vendor["Id"], "SyncToken": vendor["SyncToken"], "sparse": True,
                             "PrimaryPhone": {"FreeFormNumber": phone}})

    with serving(workdir, port) as server:
        read_line(server)  # listening
        edit_a_vendor("(650) 555-0101")
        first = read_line(server)
        assert first["trigger"] == "webhook" and first["error"] is None
        for name in ("state.db", "state.db-wal", "state.db-shm"):
            (workdir.path / ".qbsync" / name).unlink(missing_ok=True)
        edit_a_vendor("(650) 555-0102")
        second = read_line(server)
        assert second["trigger"] == "webhook" and second["error"] is None, second
        last = workdir.json("status")["unattended"]["last_run"]
        assert last is not None and last["started_at"] == second["started_at"]  # in the file as it now is
    stderr = server.stderr.read()
    assert "was deleted or replaced by another process since the last run" in stderr, stderr
