"""U5 end to end: a run that held something new or failed is told to a local HTTP server (a JSON
POST with a Slack-compatible `text`) and by email to a local SMTP sink; no secret is in either."""

from __future__ import annotations

import json
import os
import socketserver
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

pytestmark = pytest.mark.e2e

URL_SECRET = "T0KEN-in-the-path-9d3b"


class Hook(BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # noqa: N802
        self.server.received.append(self.rfile.read(int(self.headers["Content-Length"])).decode())
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args) -> None:
        return


class SmtpSink(socketserver.StreamRequestHandler):
    """Just enough SMTP to take a message: the test's mail server."""

    def handle(self) -> None:
        self.wfile.write(b"220 sink\r\n")
        lines, in_data = [], False
        for raw in self.rfile:
            line = raw.decode().rstrip("\r\n")
            if in_data:
                if line == ".":
                    self.server.received.append("\n".join(lines))
                    lines, in_data = [], False
                    self.wfile.write(b"250 queued\r\n")
                else:
                    lines.append(line[1:] if line.startswith("..") else line)
                continue
            verb = line[:4].upper()
            if verb == "DATA":
                in_data = True
                self.wfile.write(b"354 go on\r\n")
            elif verb == "QUIT":
                self.wfile.write(b"221 bye\r\n")
                return
            else:
                self.wfile.write(b"250 ok\r\n")


@pytest.fixture
def listeners():
    hook = ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    smtp = socketserver.ThreadingTCPServer(("127.0.0.1", 0), SmtpSink)
    hook.received, smtp.received = [], []
    for server in (hook, smtp):
        threading.Thread(target=server.serve_forever, daemon=True).start()
    yield hook, smtp
    for server in (hook, smtp):
        server.shutdown()
        server.server_close()


def test_u5_held_and_failed_runs_are_posted_and_mailed_without_secrets(workdir, listeners, monkeypatch):
    hook, smtp = listeners
    monkeypatch.setenv("QBSYNC_NOTIFY_URL", f"http://127.0.0.1:{hook.server_address[1]}/hook/{URL_SECRET}")
    monkeypatch.setenv("QBSYNC_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("QBSYNC_SMTP_PORT", str(smtp.server_address[1]))
    monkeypatch.setenv("QBSYNC_SMTP_STARTTLS", "false")
    monkeypatch.setenv("QBSYNC_NOTIFY_EMAIL_TO", "controller@example.com")
    secrets = [URL_SECRET, *(v for k, v in workdir.apis.env.items() if "TOKEN" in k or "SECRET" in k)]

    assert workdir.run("run").returncode == 3  # held something new
    assert len(hook.received) == 1 and len(smtp.received) == 1
    posted = json.loads(hook.received[0])
    assert "new held for review" in posted["text"] and "amy's bird sanctuary" in posted["text"]
    assert posted["qbsync"]["exit_code"] == 3 and posted["qbsync"]["where"] == "work"
    assert "Subject: qbsync (work):" in smtp.received[0] and "controller@example.com" in smtp.received[0]

    assert workdir.run("run").returncode == 3  # the same held actions: no news, nothing sent
    assert len(hook.received) == 1 and len(smtp.received) == 1

    # A run that fails (Precoro refuses the key): told too, and the wrong key is nowhere in it.
    wrong = "wrong-precoro-key-5be1"
    env = {**os.environ, **workdir.apis.env, "PRECORO_TOKEN": wrong}
    result = subprocess.run([sys.executable, "-m", "tui.cli", "run", "--log-format", "json"], cwd=workdir.path,
                            env=env, text=True, capture_output=True, timeout=120)
    assert result.returncode == 1, result.stdout + result.stderr
    assert len(hook.received) == 2 and len(smtp.received) == 2
    assert "the run failed" in json.loads(hook.received[1])["text"]
    logged = json.loads(result.stderr.strip().splitlines()[-1])
    assert logged["event"] == "qbsync.run" and logged["exit_code"] == 1 and logged["error"]
    # Whoever looks next sees why: `qbsync status` (and the TUI's Overview) name the last run's error.
    assert workdir.json("status")["unattended"]["last_run"]["error"] == logged["error"]
    assert f"(manual, FAILED): {logged['error']}\n" in workdir.run("status").stdout

    # Failing the same way again the same day (runs every 15 minutes, all night): not told again.
    again = subprocess.run([sys.executable, "-m", "tui.cli", "run"], cwd=workdir.path, env=env, text=True,
                           capture_output=True, timeout=120)
    assert again.returncode == 1 and len(hook.received) == 2 and len(smtp.received) == 2
    # Working again is news: told once.
    assert workdir.run("run").returncode == 3
    assert len(hook.received) == 3 and len(smtp.received) == 3
    recovered = json.loads(hook.received[2])
    assert recovered["text"].startswith("qbsync (work): runs work again\n")
    assert recovered["qbsync"]["recovered_from"] == logged["error"]
    assert workdir.run("run").returncode == 3 and len(hook.received) == 3  # and only once
    for text in [*hook.received, *smtp.received, result.stdout, result.stderr, again.stdout, again.stderr]:
        for secret in [*secrets, wrong]:
            assert secret not in text
