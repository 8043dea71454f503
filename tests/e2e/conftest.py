"""End-to-end: the `qbsync` CLI in subprocesses against `qbsync local serve` over real HTTP."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from engine.local.precoro import PrecoroState

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class LocalApis:
    info: dict
    process: subprocess.Popen

    @property
    def env(self) -> dict[str, str]:
        qb, pc = self.info["quickbooks"], self.info["precoro"]
        return {
            "QUICKBOOKS_CLIENT_ID": qb["client_id"],
            "QUICKBOOKS_CLIENT_SECRET": qb["client_secret"],
            "QUICKBOOKS_REFRESH_TOKEN": qb["refresh_token"],
            "QUICKBOOKS_ACCESS_TOKEN": qb["access_token"],
            "PRECORO_EMAIL": pc["email"],
            "PRECORO_TOKEN": pc["token"],
        }


def start_local_apis(tmp_path: Path, seed: str = "demo", *extra: str) -> LocalApis:
    tmp_path.mkdir(parents=True, exist_ok=True)
    process = subprocess.Popen(
        [sys.executable, "-m", "tui.cli", "local", "serve", "--seed", seed, "--data", str(tmp_path / "local.db"), *extra],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
    )
    line = process.stdout.readline()
    if not line:
        process.kill()
        raise RuntimeError("qbsync local serve printed nothing: " + process.stderr.read())
    return LocalApis(json.loads(line), process)


@pytest.fixture
def local_apis(tmp_path):
    apis = start_local_apis(tmp_path)
    yield apis
    apis.process.terminate()
    apis.process.wait(timeout=10)


def rules_for(apis: LocalApis, extra: str = "") -> str:
    """The shipped rules.yaml with its connections pointed at the served local APIs."""
    qb, pc = apis.info["quickbooks"], apis.info["precoro"]
    lines = (ROOT / "rules.yaml").read_text().splitlines()
    start = lines.index("connections:")
    end = next(i for i in range(start + 1, len(lines)) if re.match(r"^[a-z]", lines[i]))
    connections = [
        "connections:",
        f"  quickbooks: {{environment: local, base_url: '{qb['base_url']}', realm_id: '{qb['realm_id']}', token_url: '{qb['token_url']}'}}",
        f"  precoro: {{environment: local, base_url: '{pc['base_url']}'}}",
    ]
    return "\n".join(lines[:start] + connections + lines[end:]) + "\n" + extra


@dataclass
class Workdir:
    path: Path
    apis: LocalApis

    def run(self, *args: str, input: str | None = None, check: bool = False) -> subprocess.CompletedProcess:
        env = {**os.environ, **self.apis.env, "QBSYNC_OPERATOR": "e2e-tester"}
        result = subprocess.run(
            [sys.executable, "-m", "tui.cli", *args], cwd=self.path, env=env, text=True, capture_output=True,
            input=input, timeout=120,
        )
        if check and result.returncode not in (0, 2):
            raise AssertionError(f"qbsync {' '.join(args)} exited {result.returncode}:\n{result.stdout}\n{result.stderr}")
        return result

    def json(self, *args: str) -> dict:
        result = self.run(*args, "--json")
        assert result.returncode in (0, 1, 2), result.stderr
        return json.loads(result.stdout)

    def clients(self):
        """Our own clients, to read and edit both companies the way their users would."""
        from engine.clients.auth import StaticToken
        from engine.clients.precoro import PrecoroClient
        from engine.clients.quickbooks import QuickBooksClient

        qb, pc = self.apis.info["quickbooks"], self.apis.info["precoro"]
        return (QuickBooksClient(qb["base_url"], qb["realm_id"], StaticToken(qb["access_token"])),
                PrecoroClient(pc["base_url"], pc["email"], pc["token"]))

    def first_sync(self):
        """Plan the demo pair, decide its first-link conflict for QuickBooks, apply everything.

        A second round sends what waited for the first one's links (item accounts and suppliers,
        documents), as an operator would. Returns the first plan and its report.
        """
        plan = self.json("plan")
        conflict = next(a for a in plan["actions"] if a["kind"] == "conflict")
        assert self.run("decide", conflict["id"], "quickbooks").returncode == 0
        report = self.json("apply", "--yes")
        self.run("plan", check=True)
        self.run("apply", "--yes")
        return plan, report


@pytest.fixture
def workdir(tmp_path, local_apis) -> Workdir:
    (tmp_path / "work").mkdir()
    (tmp_path / "work" / "rules.yaml").write_text(rules_for(local_apis))
    return Workdir(tmp_path / "work", local_apis)


@pytest.fixture
def make_workdir(tmp_path):
    """A workdir on local APIs started with other options (faults, throttling, another seed)."""
    started = []

    def make(*serve_args: str, seed: str = "demo", edit=lambda text: text) -> Workdir:
        apis = start_local_apis(tmp_path / f"apis{len(started)}", seed, *serve_args)
        started.append(apis)
        work = tmp_path / f"work{len(started)}"
        work.mkdir()
        (work / "rules.yaml").write_text(edit(rules_for(apis)))
        return Workdir(work, apis)

    yield make
    for apis in started:
        apis.process.terminate()
        apis.process.wait(timeout=10)


DEMO_INVOICE = 1  # the demo's approved invoice (idn), whose supplier and lines the documents below copy


class Precoro:
    """The served Precoro's own state: documents are not created over its API, so a test adds them here."""

    def __init__(self, workdir) -> None:
        served = workdir.apis.process.args  # `qbsync local serve ... --data <file>`
        self.state = PrecoroState(served[served.index("--data") + 1])
        demo = self.state.get("invoices", DEMO_INVOICE)
        self.supplier = demo["supplier"]["id"]
        self.lines = [{"item": line["item"]["id"] if line["item"] else None, "name": line["name"],
                       "quantity": line["quantity"], "price": line["price"],
                       "itemCustomFields": {str(value["itemCustomField"]["id"]): value["option"]["id"]
                                            for value in line["dataItemCustomFields"]["data"]}}
                      for line in demo["items"]]

    def invoice(self, number: str, **more) -> int:
        return self.state.insert("invoices", {"status": 2, "supplier": self.supplier, "invoiceNumber": number,
                                              "items": self.lines, **more})["idn"]

    def close(self) -> None:
        self.state.close()


@pytest.fixture
def precoro():
    opened = []

    def open_for(workdir) -> Precoro:
        opened.append(Precoro(workdir))
        return opened[-1]

    yield open_for
    for each in opened:
        each.close()


class _Posted(BaseHTTPRequestHandler):
    """A chat webhook of U5's notifications: keeps what is posted, as JSON."""

    def do_POST(self) -> None:  # noqa: N802
        self.server.received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args) -> None:
        return


@pytest.fixture
def chat_hook():
    """A chat webhook on loopback: `.url` to give as QBSYNC_NOTIFY_URL, `.received` what was posted."""
    hook = ThreadingHTTPServer(("127.0.0.1", 0), _Posted)
    hook.received = []
    hook.url = f"http://127.0.0.1:{hook.server_address[1]}/hooks/T0KEN-in-the-path"
    threading.Thread(target=hook.serve_forever, daemon=True).start()
    yield hook
    hook.shutdown()
    hook.server_close()
