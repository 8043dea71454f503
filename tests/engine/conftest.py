"""Both local APIs served in-process on loopback, and SyncSessions on them with real rules files."""

from __future__ import annotations

import io
import itertools
import logging
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import pytest

from engine.clients.retry import log as retry_log
from engine.local.demo import DEMO_REALM, seed_precoro, seed_quickbooks
from engine.local.http import ServedApp, serve_in_thread
from engine.local.precoro import PrecoroApp, PrecoroState
from engine.local.precoro.throttle import Throttle
from engine.local.quickbooks import QuickBooksApp, QuickBooksState
from engine.sync import SyncSession

ROOT = Path(__file__).resolve().parents[2]
CLIENT_ID, CLIENT_SECRET = "engine-tests", "engine-tests-secret"
PRECORO_EMAIL, PRECORO_TOKEN = "engine@example.com", "engine-token"


class RequestLog:
    """Every request a local API answers, as (method, path, query string): what a plan or an apply
    cost, counted on the server's side of the wire."""

    def __init__(self, app) -> None:
        self.app = app
        self.seen: list[tuple[str, str, str]] = []

    def __call__(self, environ, start_response):
        what = environ.get("QUERY_STRING", "")
        if environ.get("PATH_INFO", "").endswith("/query"):  # the query language travels in the body
            length = int(environ.get("CONTENT_LENGTH") or 0)
            body = environ["wsgi.input"].read(length)
            environ["wsgi.input"] = io.BytesIO(body)
            what = body.decode("utf-8", "replace")
        self.seen.append((environ["REQUEST_METHOD"], environ.get("PATH_INFO", ""), what))
        return self.app(environ, start_response)


@dataclass
class Servers:
    precoro_credentials = (PRECORO_EMAIL, PRECORO_TOKEN)  # a user tests may add to a Precoro of their own
    request_log = RequestLog  # for an app a test serves itself (tests cannot import a conftest by name)
    quickbooks: QuickBooksState
    precoro: PrecoroState
    qb: ServedApp
    pc: ServedApp
    qb_log: RequestLog
    pc_log: RequestLog

    def requests(self) -> dict[str, list[tuple[str, str, str]]]:
        """The requests each API answered since the last call (the token endpoint left out)."""
        seen = {"quickbooks": [r for r in self.qb_log.seen if "/oauth2/" not in r[1]], "precoro": list(self.pc_log.seen)}
        self.qb_log.seen.clear()
        self.pc_log.seen.clear()
        return seen

    def reset(self, *realms: str) -> None:
        for realm in realms:
            self.quickbooks.reset(realm)
        self.precoro.reset()
        self.precoro.add_user(PRECORO_EMAIL, PRECORO_TOKEN)

    def rules_text(self, realm: str) -> str:
        """The shipped rules.yaml, pointed at these servers and this QuickBooks company."""
        text = (ROOT / "rules.yaml").read_text().replace("    environment: local\n", "", 2)
        text = text.replace("  quickbooks:\n", f"  quickbooks:\n    environment: local\n    base_url: {self.qb.url}/v3\n"
                            f"    realm_id: '{realm}'\n    token_url: {self.qb.url}/oauth2/v1/tokens/bearer\n", 1)
        return text.replace("  precoro:\n", f"  precoro:\n    environment: local\n    base_url: {self.pc.url}\n", 1)

    def first_sync(self, workdir: Path, realm: str, state: Path, rounds: int = 1) -> None:
        """The demo pair of companies, afresh, after a first sync: planned, conflicts taken from
        QuickBooks, applied (`rounds` times: a second round sends what waited for the first's links)."""
        self.reset(realm)
        seed_precoro(self.precoro, seed_quickbooks(self.quickbooks, realm))
        with self.session(workdir, realm, state) as first:
            for _ in range(rounds):
                plan = first.plan()
                for action in plan.actions:
                    if action.kind == "conflict":
                        first.decide(action.id, "quickbooks", plan.id)
                first.apply(plan.id)

    def session(self, workdir: Path, realm: str, state: Path | None = None) -> SyncSession:
        workdir.mkdir(parents=True, exist_ok=True)
        (workdir / "rules.yaml").write_text(self.rules_text(realm))
        tokens = self.quickbooks.issue_tokens(CLIENT_ID, realm)
        env = {"QUICKBOOKS_CLIENT_ID": CLIENT_ID, "QUICKBOOKS_CLIENT_SECRET": CLIENT_SECRET,
               "QUICKBOOKS_REFRESH_TOKEN": tokens["refresh_token"], "QUICKBOOKS_ACCESS_TOKEN": tokens["access_token"],
               "PRECORO_EMAIL": PRECORO_EMAIL, "PRECORO_TOKEN": PRECORO_TOKEN}
        return SyncSession(workdir / "rules.yaml", state or workdir / "state.db", env=env)


@pytest.fixture(scope="module")
def servers():
    quickbooks, precoro = QuickBooksState(), PrecoroState()
    qb_log, pc_log = RequestLog(QuickBooksApp(quickbooks)), RequestLog(PrecoroApp(precoro))
    qb, pc = serve_in_thread(qb_log), serve_in_thread(pc_log)
    quickbooks.register_client(CLIENT_ID, CLIENT_SECRET)
    precoro.add_user(PRECORO_EMAIL, PRECORO_TOKEN)
    yield Servers(quickbooks, precoro, qb, pc, qb_log, pc_log)
    qb.close()
    pc.close()


@pytest.fixture
def demo_synced(servers, fresh_dir):
    """The demo pair after a first sync of two rounds (what waited for the first round's links goes
    in the second), and a factory of sessions on it: `session(edit)` edits the rules text first."""
    workdir = fresh_dir()
    state = workdir / "state.db"
    servers.first_sync(workdir, DEMO_REALM, state, rounds=2)

    def session(edit=lambda text: text):
        s = servers.session(workdir, DEMO_REALM, state)
        (workdir / "rules.yaml").write_text(edit((workdir / "rules.yaml").read_text()))
        s.reload_rules()
        return s

    return session


_dirs = itertools.count()


@pytest.fixture
def fresh_dir(tmp_path):
    """A new directory per call (hypothesis runs many examples in one test)."""
    return lambda: tmp_path / f"run{next(_dirs)}"


class ServiceClock:
    """A throttled service's clock (its limits, its records' dates, its answers' Date); the
    engine's waits (`session.sleep`) move it, so an hour's cap passes at once."""

    def __init__(self) -> None:
        self.now = time.time()
        self.slept = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds
        self.slept += seconds


@dataclass
class CappedPrecoro:
    """A Precoro of its own with Precoro's caps, off until `caps` sets them, and its request log."""

    state: PrecoroState
    throttle: Throttle
    clock: ServiceClock
    log: RequestLog
    url: str

    def caps(self, per_hour: int | None = None, per_day: int | None = None) -> None:
        self.throttle.per_hour, self.throttle.per_day = per_hour, per_day
        self.throttle.reset()  # counting starts again, with these limits

    def session(self, servers: Servers, workdir: Path, realm: str) -> SyncSession:
        """A session on the shared QuickBooks and this Precoro, waiting on this clock."""
        session = servers.session(workdir, realm)
        rules = workdir / "rules.yaml"
        rules.write_text(rules.read_text().replace(servers.pc.url, self.url))
        session.reload_rules()
        session.sleep = self.clock.sleep
        return session


@pytest.fixture
def capped_precoro(servers):
    clock = ServiceClock()
    throttle = Throttle(per_second=None, per_hour=None, per_day=None, duplicate_get_window_seconds=None, clock=clock)
    # One service, one clock: its records' dates and its answers' Date (a create found again after
    # a refused PATCH is looked for among the records changed since Precoro's latest answer).
    state = PrecoroState(clock=lambda: datetime.fromtimestamp(clock.now, timezone.utc))
    state.add_user(PRECORO_EMAIL, PRECORO_TOKEN)
    log = RequestLog(PrecoroApp(state, throttle=throttle))
    served = serve_in_thread(log)
    yield CappedPrecoro(state, throttle, clock, log, served.url)
    served.close()


class _FirstRetry(logging.Handler):
    """Sets its event once a request failed and waits to be tried again (the engine's retry log)."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.seen = threading.Event()

    def emit(self, record: logging.LogRecord) -> None:
        self.seen.set()


@pytest.fixture
def retried():
    """An event set once any request waits to be tried again: a test stops the work then."""
    handler = _FirstRetry()
    level = retry_log.level
    retry_log.addHandler(handler)
    retry_log.setLevel(logging.INFO)
    yield handler.seen
    retry_log.removeHandler(handler)
    retry_log.setLevel(level)
