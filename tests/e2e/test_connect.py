"""Connecting the real services end to end: `qbsync connect/disconnect/status` in subprocesses
against `qbsync local serve` over HTTP, with no credentials in the environment. The test plays the
operator's browser: it follows the printed authorization URL and pastes where it lands."""

from __future__ import annotations

import asyncio
import importlib.util
import json
import os
import re
import select
import sqlite3
import stat
import subprocess
import sys
import zlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx
import pytest


def _e2e_helpers():
    # By path: `from conftest import ...` would find whichever conftest.py was imported last.
    spec = importlib.util.spec_from_file_location("e2e_conftest_helpers", Path(__file__).with_name("conftest.py"))
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look themselves up there
    spec.loader.exec_module(module)
    return module


_helpers = _e2e_helpers()
LocalApis, rules_for, start_local_apis = _helpers.LocalApis, _helpers.rules_for, _helpers.start_local_apis
pytestmark = pytest.mark.e2e

# The operator's browser and direct calls to the token endpoint.
browser = httpx.Client(transport=httpx.HTTPTransport(verify=False))


def stop(apis: LocalApis) -> None:
    apis.process.terminate()
    apis.process.wait(timeout=10)


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """One served pair of local APIs for the tests that only connect (each has its own state file)."""
    apis = start_local_apis(tmp_path_factory.mktemp("served"))
    yield apis
    stop(apis)


@dataclass
class Operator:
    """A working directory with rules pointing at the served APIs, and no secrets in the environment."""

    path: Path
    apis: LocalApis
    outputs: list[str] = field(default_factory=list)  # every stdout and stderr, for the secrets scan

    @property
    def state(self) -> Path:
        return self.path / ".qbsync" / "state.db"

    @property
    def env(self) -> dict[str, str]:
        clean = {k: v for k, v in os.environ.items() if not k.startswith(("QUICKBOOKS_", "PRECORO_"))}
        return {**clean, "QBSYNC_OPERATOR": "e2e-tester"}

    def run(self, *args: str, input: str | None = None) -> subprocess.CompletedProcess:
        result = subprocess.run([sys.executable, "-m", "tui.cli", *args], cwd=self.path, env=self.env, text=True,
                                capture_output=True, input=input, timeout=120)
        self.outputs += [result.stdout, result.stderr]
        return result

    def connect_quickbooks(self, *args: str, paste=lambda location, state: location, app: bool = True):
        """Run `connect quickbooks`, typing the app's id and secret, then act as the browser: open
        the printed URL, paste where it lands (through `paste(location, state)`)."""
        qb = self.apis.info["quickbooks"]
        process = subprocess.Popen(
            [sys.executable, "-m", "tui.cli", "connect", "quickbooks", "--environment", "local", *args], cwd=self.path,
            env=self.env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        if app:
            process.stdin.write(f"{qb['client_id']}\n{qb['client_secret']}\n")
            process.stdin.flush()
        url = first_line(process)
        assert url.startswith(qb["authorize_url"]), (url, process.communicate(timeout=30))
        state = httpx.URL(url).params["state"]
        location = browser.get(url, follow_redirects=False).headers["location"]
        stdout, stderr = process.communicate(paste(location, state) + "\n", timeout=60)
        self.outputs += [url, stdout, stderr]
        return subprocess.CompletedProcess(process.args, process.returncode, url + "\n" + stdout, stderr), location

    def connect_precoro(self, token: str | None = None) -> subprocess.CompletedProcess:
        pc = self.apis.info["precoro"]
        return self.run("connect", "precoro", "--environment", "local", input=f"{pc['email']}\n{token or pc['token']}\n")

    def connect_both(self) -> dict:
        result, _ = self.connect_quickbooks()
        assert result.returncode == 0, result.stderr
        assert self.connect_precoro().returncode == 0
        return self.tokens("quickbooks")

    def tokens(self, service: str) -> dict | None:
        with sqlite3.connect(self.state) as db:
            row = db.execute("select data from tokens where service = ?", [service]).fetchone()
        return json.loads(row[0]) if row else None

    def edit_tokens(self, **changes) -> dict:
        data = {**self.tokens("quickbooks"), **changes}
        with sqlite3.connect(self.state) as db:
            db.execute("update tokens set data = ? where service = 'quickbooks'", [json.dumps(data)])
        return data

    def count_links(self) -> int:
        with sqlite3.connect(self.state) as db:
            return db.execute("select count(*) from links").fetchone()[0]


def first_line(process: subprocess.Popen, timeout: float = 60) -> str:
    """The first stdout line, or "" (the process killed) if none comes in time: a run waiting for
    input the test did not give must fail, not hang."""
    ready, _, _ = select.select([process.stdout], [], [], timeout)
    if not ready:
        process.kill()
        return ""
    return process.stdout.readline().strip()


def make_operator(tmp_path: Path, apis: LocalApis) -> Operator:
    (tmp_path / "work").mkdir()
    qb = apis.info["quickbooks"]
    # Only where the APIs are, as for a real company: no realm, no token URL (both are learnt or derived).
    rules = rules_for(apis).replace(
        f"  quickbooks: {{environment: local, base_url: '{qb['base_url']}', realm_id: '{qb['realm_id']}', "
        f"token_url: '{qb['token_url']}'}}", f"  quickbooks: {{environment: local, base_url: '{qb['base_url']}'}}")
    assert "realm_id" not in rules.split("suppliers:")[0]
    (tmp_path / "work" / "rules.yaml").write_text(rules)
    return Operator(tmp_path / "work", apis)


@pytest.fixture
def operator(tmp_path, served) -> Operator:
    return make_operator(tmp_path, served)


def refresh_at_endpoint(apis: LocalApis, refresh_token: str) -> httpx.Response:
    qb = apis.info["quickbooks"]
    return browser.post(qb["token_url"], data={"grant_type": "refresh_token", "refresh_token": refresh_token},
                        auth=(qb["client_id"], qb["client_secret"]))


def assert_clean_failure(result: subprocess.CompletedProcess, *expected: str) -> None:
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    for text in expected:
        assert text in result.stderr, result.stderr


# -- connecting QuickBooks ----------------------------------------------------------------------


def test_connect_quickbooks_then_plan_with_stored_credentials_only(operator):
    result, _ = operator.connect_quickbooks()

    assert result.returncode == 0, result.stderr
    qb = operator.apis.info["quickbooks"]
    assert "Connected to QuickBooks (local)" in result.stdout and qb["realm_id"] in result.stdout
    stored = operator.tokens("quickbooks")
    assert stored["realm_id"] == qb["realm_id"] and stored["environment"] == "local"
    assert stored["client_id"] == qb["client_id"] and stored["client_secret"] == qb["client_secret"]
    assert stored["access_token"] and stored["refresh_token"] and stored["refresh_expires_at"]
    assert stored["grant_ends_at"] > stored["refresh_expires_at"]  # a new grant: five years, not 100 days
    assert re.search(r"until the authorization ends on \S+ \(Intuit's five years\)\.", result.stdout)
    # The state file and its WAL companions are the owner's only.
    for path in operator.state.parent.iterdir():
        assert stat.S_IMODE(path.stat().st_mode) & 0o077 == 0, path

    assert operator.connect_precoro().returncode == 0
    plan = operator.run("plan", "--json")
    assert plan.returncode == 0, plan.stderr  # planned, with nothing but the stored credentials
    assert json.loads(plan.stdout)["realm_id"] == qb["realm_id"]


def test_d4_without_documents_since_the_cutoff_is_the_day_quickbooks_was_connected(operator):
    """A company's history is not replayed into its books: documents approved before the day of
    `connect quickbooks` are not sent, and the plan says how many."""
    operator.connect_both()
    plan = json.loads(operator.run("plan", "--json").stdout)
    assert [a["kind"] for a in plan["actions"] if a["entity"] == "invoice"] == ["create"]  # approved today
    assert plan["notes"] == []
    # Connected tomorrow, as far as the state file knows: today's invoice is history.
    tomorrow = (datetime.now(timezone.utc) + timedelta(days=1)).replace(microsecond=0)
    operator.edit_tokens(connected_at=tomorrow.isoformat())
    plan = json.loads(operator.run("plan", "--json").stdout)
    assert not [a for a in plan["actions"] if a["entity"] == "invoice"]
    assert plan["notes"] == [f"1 invoice approved before {tomorrow.date().isoformat()} (documents.since) is not sent (D4)"]
    assert f"Note: 1 invoice approved before {tomorrow.date().isoformat()}" in operator.run("plan").stdout


def test_state_mismatch_is_refused_and_nothing_stored(operator):
    result, _ = operator.connect_quickbooks(paste=lambda location, state: location.replace(state, "forged-state"))
    assert_clean_failure(result, "state", "nothing was saved")
    assert operator.tokens("quickbooks") is None


def test_an_authorization_code_is_refused_the_second_time(operator):
    first, location = operator.connect_quickbooks()
    assert first.returncode == 0
    kept = operator.tokens("quickbooks")
    old_code = httpx.URL(location).params["code"]
    # A second run, answered with the first run's code (and this run's state, so only the code is wrong).
    again, _ = operator.connect_quickbooks(
        app=False, paste=lambda location, state: location.replace(httpx.URL(location).params["code"], old_code))
    assert_clean_failure(again, "invalid_grant")
    assert operator.tokens("quickbooks") == kept


def test_client_id_and_secret_are_reused_from_the_last_connection(operator):
    operator.connect_both()
    result, _ = operator.connect_quickbooks(app=False)  # nothing typed but the pasted URL
    assert result.returncode == 0, result.stderr


def test_listen_catches_the_redirect_on_loopback(operator):
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]

    def land(location, state):
        # The browser follows the redirect to the listener; nothing is pasted.
        assert browser.get(location).status_code == 200
        return ""

    result, _ = operator.connect_quickbooks("--listen", "--redirect-uri", f"http://127.0.0.1:{port}/callback",
                                            paste=land)
    assert result.returncode == 0, result.stderr
    assert operator.tokens("quickbooks")["realm_id"] == operator.apis.info["quickbooks"]["realm_id"]


# -- tokens at work -----------------------------------------------------------------------------


def test_refresh_rotates_and_the_new_refresh_token_is_stored(operator):
    before = operator.connect_both()
    operator.edit_tokens(access_expires_at=0)  # the access token's hour is over

    status = operator.run("status", "--json")

    assert status.returncode == 0 and json.loads(status.stdout)["connections"]["quickbooks"]["reachable"] is True
    after = operator.tokens("quickbooks")
    assert after["refresh_token"] != before["refresh_token"] and after["access_expires_at"] > 0
    refused = refresh_at_endpoint(operator.apis, before["refresh_token"])
    assert refused.status_code == 400 and refused.json()["error"] == "invalid_grant"  # the old one is dead
    assert refresh_at_endpoint(operator.apis, after["refresh_token"]).status_code == 200  # the stored one lives


def test_a_401_refreshes_and_retries(operator):
    before = operator.connect_both()
    operator.edit_tokens(access_token="revoked-or-garbage")
    plan = operator.run("plan")
    assert plan.returncode == 0, plan.stderr
    assert operator.tokens("quickbooks")["refresh_token"] != before["refresh_token"]


def test_invalid_grant_says_reconnect(operator):
    before = operator.connect_both()
    assert refresh_at_endpoint(operator.apis, before["refresh_token"]).status_code == 200  # used up elsewhere
    operator.edit_tokens(access_expires_at=0)
    assert_clean_failure(operator.run("plan"), "invalid_grant", "qbsync connect quickbooks")


def test_a_world_readable_state_file_is_refused(operator):
    operator.connect_both()
    os.chmod(operator.state, 0o644)
    for command in (("status",), ("plan",), ("connect", "precoro")):
        assert_clean_failure(operator.run(*command, input=""), "chmod 600")


# -- Precoro, status, disconnect ------------------------------------------------------------------


def test_connect_precoro_checks_the_key_before_saving(operator):
    refused = operator.connect_precoro(token="0" * 40)
    assert_clean_failure(refused, "Precoro refused", "nothing was saved")
    assert operator.tokens("precoro") is None
    accepted = operator.connect_precoro()
    assert accepted.returncode == 0 and "Connected to Precoro" in accepted.stdout
    assert operator.tokens("precoro")["email"] == operator.apis.info["precoro"]["email"]
    forget = operator.run("disconnect", "precoro")
    assert forget.returncode == 0 and operator.tokens("precoro") is None


def test_status_json_has_company_realm_expiry_and_reachability_without_secrets(operator):
    stored = operator.connect_both()
    result = operator.run("status", "--json")
    assert result.returncode == 0, result.stderr
    connections = json.loads(result.stdout)["connections"]
    qb, pc = connections["quickbooks"], connections["precoro"]
    assert qb["reachable"] is True and qb["company"] and qb["realm_id"] == stored["realm_id"]
    assert qb["environment"] == "local" and qb["credentials"] == "stored"
    assert qb["access_token_expires_at"] and qb["refresh_token_expires_at"]
    # Asked for at the code exchange: the grant's end, five years on (Intuit's policy of 2025).
    five_years = datetime.fromisoformat(qb["grant_ends_at"]) - datetime.now(timezone.utc)
    assert timedelta(days=5 * 365 - 1) < five_years <= timedelta(days=5 * 365)
    assert pc["reachable"] is True and pc["email"] == operator.apis.info["precoro"]["email"]
    for secret in (stored["client_secret"], stored["access_token"], stored["refresh_token"],
                   operator.tokens("precoro")["token"]):
        assert secret not in result.stdout
    text = operator.run("status")
    assert f"company {qb['company']!r}" in text.stdout and "refresh token until" in text.stdout
    assert f"; authorized until {qb['grant_ends_at']}" in text.stdout


def test_status_without_a_connection_says_what_to_run_for_each_side(operator):
    result = operator.run("status", "--json")
    assert result.returncode == 0
    connections = json.loads(result.stdout)["connections"]
    qb, pc = connections["quickbooks"], connections["precoro"]
    assert "qbsync connect quickbooks" in qb["error"] and (qb["reachable"], qb["connected"]) == (False, False)
    # The other side is not hidden behind the first one's problem: both steps left are named at once.
    assert "qbsync connect precoro" in pc["error"] and (pc["reachable"], pc["connected"]) == (False, False)
    text = operator.run("status").stdout.splitlines()
    assert text[1].startswith("quickbooks: local ") and text[1].endswith(", not connected")
    assert text[2].startswith("precoro: local ") and text[2].endswith(", Precoro is not connected: run `qbsync "
                                                                      "connect precoro`, or export PRECORO_EMAIL "
                                                                      "and PRECORO_TOKEN")

    # Connecting one side at a time: the side connected first is looked at while the other is not.
    connected = operator.connect_precoro()
    assert connected.returncode == 0 and connected.stdout.endswith("\nNext: `qbsync connect quickbooks`.\n")
    connections = json.loads(operator.run("status", "--json").stdout)["connections"]
    qb, pc = connections["quickbooks"], connections["precoro"]
    assert qb["connected"] is False and "qbsync connect quickbooks" in connections["error"]
    assert pc["reachable"] is True and "error" not in pc and "connected" not in pc
    assert (pc["email"], pc["credentials"]) == (operator.apis.info["precoro"]["email"], "stored")
    assert operator.tokens("precoro")["token"] not in operator.run("status").stdout

    both, _ = operator.connect_quickbooks()
    assert both.returncode == 0 and both.stdout.endswith(
        "\nNext: `qbsync doctor` checks what qbsync assumes of both companies; `qbsync plan` reads both and changes "
        "nothing.\n")


def test_w11_doctor_with_one_side_connected_checks_it_and_says_what_the_other_needs(operator):
    neither = operator.run("doctor")
    assert neither.returncode == 1 and neither.stdout == ""
    assert "run `qbsync connect quickbooks`" in neither.stderr and "run `qbsync connect precoro`" in neither.stderr

    assert operator.connect_precoro().returncode == 0
    result = operator.run("doctor", "--json")
    assert result.returncode == 0, result.stderr
    checks = {check["key"]: check for check in json.loads(result.stdout)["checks"]}
    assert checks["list_summaries"]["result"] == checks["details_complete"]["result"] == "holds"
    for key in ("cdc", "minorversion"):
        assert checks[key]["result"] == "could not check" and "qbsync connect quickbooks" in checks[key]["saw"]
    # Which suppliers qbsync created is kept per QuickBooks company: not known before it is connected.
    assert checks["external_id_patch"]["result"] == "could not check"
    assert "QuickBooks is not connected yet" in checks["external_id_patch"]["saw"]


def test_a_state_file_git_would_take_along_is_warned_of_where_secrets_go_into_it(operator):
    subprocess.run(["git", "init", "-q", str(operator.path)], check=True)  # rules.yaml kept in git
    connected = operator.run("connect", "precoro", "--state", "books.db", input="\n".join(
        [operator.apis.info["precoro"]["email"], operator.apis.info["precoro"]["token"]]) + "\n")
    assert connected.returncode == 0, connected.stderr
    said = (f"the state file books.db is inside the git work tree {operator.path} and not ignored: `git add .` "
            "would take its credentials along; add it to .gitignore")  # the path as the operator gave it
    assert f"qbsync: warning: {said}\n" in connected.stderr
    status = operator.run("status", "--state", "books.db").stdout
    assert status.startswith(f"warning: {said}\n")
    assert re.search(r"^state file: books\.db, \d+\.\d MB$", status, re.M)  # small: no word of compacting
    # The default state file, in .qbsync/, comes with its .gitignore: nothing to say.
    assert operator.connect_precoro().returncode == 0
    assert json.loads(operator.run("status", "--json").stdout)["state_file"]["exposed_to_git"] is None


def test_u5_a_quickbooks_connection_about_to_end_is_warned_of_in_status_and_runs_once_a_day(tmp_path, monkeypatch,
                                                                                              chat_hook):
    apis = start_local_apis(tmp_path)  # its own: runs write to the companies
    hook = chat_hook
    monkeypatch.setenv("QBSYNC_NOTIFY_URL", hook.url)
    try:
        operator = make_operator(tmp_path, apis)
        operator.connect_both()
        assert "warning" not in operator.run("status").stdout  # 100 days ahead: nothing to say
        assert operator.run("run").returncode == 3 and len(hook.received) == 1  # held something new: told
        assert operator.run("run").returncode == 3 and len(hook.received) == 1  # the same: not told again

        # As the token endpoint last said (a connection unused for 88 days): 12 days and a bit left.
        ends = datetime.now(timezone.utc) + timedelta(days=12, hours=1)
        operator.edit_tokens(refresh_expires_at=ends.timestamp())
        said = (f"the QuickBooks connection ends on {ends:%Y-%m-%d %H:%M} UTC (in 12 days) unless authorized "
                "again: run `qbsync connect quickbooks` before then (unattended runs stop when it ends)")
        status = operator.run("status")
        assert f"\n  warning: {said}\n" in status.stdout
        assert json.loads(operator.run("status", "--json").stdout)["connections"]["quickbooks"]["ending"] == said

        run = operator.run("run")
        assert run.returncode == 3 and f"  warning: {said}" in run.stdout.splitlines()
        assert len(hook.received) == 2  # a warning is news of its own
        assert hook.received[1]["text"].startswith(f"qbsync (work): {said}\n")
        assert hook.received[1]["qbsync"]["warnings"] == [said]
        assert operator.run("run").returncode == 3 and len(hook.received) == 2  # said today already
    finally:
        stop(apis)


def test_l2_disconnect_keeps_links(tmp_path):
    apis = start_local_apis(tmp_path)  # its own: this test writes to the companies
    try:
        operator = make_operator(tmp_path, apis)
        stored = operator.connect_both()
        assert operator.run("plan").returncode == 0
        assert operator.run("apply", "--yes").returncode in (0, 1)  # the demo has a record QuickBooks refuses
        links = operator.count_links()
        linked = json.loads(operator.run("status", "--json").stdout)["entities"]
        assert links > 0 and linked["suppliers"]["linked"] > 0

        result = operator.run("disconnect", "quickbooks")

        assert result.returncode == 0 and "kept" in result.stdout
        assert operator.tokens("quickbooks") is None and operator.count_links() == links
        refused = refresh_at_endpoint(apis, stored["refresh_token"])
        assert refused.json()["error"] == "invalid_grant"  # revoked at QuickBooks
        # Reconnecting the same company picks the links up again.
        assert operator.connect_quickbooks()[0].returncode == 0  # disconnect forgot the app's secret too
        assert json.loads(operator.run("status", "--json").stdout)["entities"] == linked
    finally:
        stop(apis)


# -- secrets never leak ---------------------------------------------------------------------------


def render_tui(operator: Operator) -> str:
    """The overview screen on the stored connection, as SVG and text."""
    os.environ.setdefault("TEXTUAL_ANIMATIONS", "none")
    from engine.sync import SyncSession
    from tui.app import QbsyncApp

    rules = operator.path / "rules.yaml"
    app = QbsyncApp(lambda: SyncSession(rules, operator.state, env={}), rules_path=rules, watch_rules=False,
                    cursor_blink=False)

    async def run() -> str:
        async with app.run_test(size=(140, 45)) as pilot:
            for _ in range(20):
                await app.workers.wait_for_complete()
                await pilot.pause()
                if app.status is not None and not any(w.is_running for w in app.workers):
                    break
            text = "\n".join(strip.text for strip in app.screen._compositor.render_strips())
            return app.export_screenshot() + "\n" + text

    return asyncio.run(run())


def test_secrets_never_appear_in_output_state_rules_or_screens(tmp_path):
    apis = start_local_apis(tmp_path)
    try:
        operator = make_operator(tmp_path, apis)
        secrets = {apis.info["quickbooks"]["client_secret"], apis.info["quickbooks"]["refresh_token"],
                   apis.info["quickbooks"]["access_token"], apis.info["precoro"]["token"], "b" * 40}

        def remember_tokens() -> None:
            for service, keys in (("quickbooks", ("access_token", "refresh_token", "client_secret")),
                                  ("precoro", ("token",))):
                data = operator.tokens(service) or {}
                secrets.update(data[k] for k in keys if data.get(k))

        operator.connect_both()
        remember_tokens()
        operator.edit_tokens(access_expires_at=0)  # the session includes a rotation
        for command in (("plan",), ("plan", "--json"), ("apply", "--yes", "--json"), ("history", "--json"),
                        ("status", "--json"), ("status",), ("show", "no-such-plan"), ("validate",)):
            operator.run(*command)
            remember_tokens()
        assert operator.connect_precoro(token="b" * 40).returncode == 1  # a refused key, in an error message
        screens = ""
        try:
            screens = render_tui(operator)
            remember_tokens()
            assert "qbsync" in screens
        except ImportError:  # the TUI is not in this build
            pass
        # A dead grant, in an error message.
        dead = operator.tokens("quickbooks")["refresh_token"]
        assert refresh_at_endpoint(apis, dead).status_code == 200
        operator.edit_tokens(access_expires_at=0)
        assert_clean_failure(operator.run("plan", "--json"), "qbsync connect quickbooks")
        remember_tokens()
        assert len(secrets) >= 8  # client secret, several access/refresh tokens, Precoro keys

        with sqlite3.connect(operator.state) as db:
            tables = [row[0] for row in db.execute("select name from sqlite_master where type = 'table'")]
            assert {"plans", "actions", "audit", "journal", "tokens"} <= set(tables)
            # A plan's pages are compressed: scanned as the text they hold.
            readable = lambda value: zlib.decompress(value).decode() if isinstance(value, bytes) else value
            saved = {table: json.dumps([[readable(value) for value in row]
                                        for row in db.execute(f"select * from {table}").fetchall()])
                     for table in tables if table != "tokens"}
            tokens = json.dumps(db.execute("select * from tokens").fetchall())
        assert sum(secret in tokens for secret in secrets) >= 4  # the scan would see them: they are real
        assert saved["audit"] != "[]" and saved["actions"] != "[]"  # the scan looks at real rows
        assert "versions" in saved["action_pages"]  # and inside the pages
        places = {"rules.yaml": (operator.path / "rules.yaml").read_text(), "tui": screens,
                  **{f"table {name}": text for name, text in saved.items()},
                  **{f"output {i}": text for i, text in enumerate(operator.outputs)}}
        leaks = [(place, secret[:4] + "…") for place, text in places.items() for secret in secrets if secret in text]
        assert leaks == []
    finally:
        stop(apis)
