"""Fixtures: a local QuickBooks on loopback (or in-process), a settable clock, tokens and clients."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Callable, Iterator

import httpx
import pytest

from engine.clients.auth import StaticToken
from engine.clients.quickbooks import QuickBooksClient
from engine.local.http import ServedApp, serve_in_thread
from engine.local.quickbooks import Faults, QuickBooksApp, QuickBooksState

# Real captured QuickBooks payloads (public data; where each comes from: tests/fixtures/qbo/SOURCES.md).
FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "qbo"
REALM = "9130357766271234"
CLIENT_ID = "ABlocalclientid"
CLIENT_SECRET = "local-client-secret"
PACIFIC = timezone(timedelta(hours=-8))
START = datetime(2026, 1, 15, 9, 30, 0, tzinfo=PACIFIC)


class Clock:
    """The state's clock: a fixed instant that tests move forward by hand."""

    def __init__(self, start: datetime = START) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


def loopback_transport() -> httpx.HTTPTransport:
    # Plain HTTP on loopback: skip loading CA certificates (40-70 ms per client otherwise).
    return httpx.HTTPTransport(verify=False)


class CountingTransport(httpx.BaseTransport):
    """Real HTTP, with a record of every request sent (method, path, query, bearer)."""

    def __init__(self) -> None:
        self._inner = loopback_transport()
        self.requests: list[httpx.Request] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self._inner.handle_request(request)

    def close(self) -> None:
        self._inner.close()

    def bearers(self) -> list[str]:
        return [r.headers.get("Authorization", "").removeprefix("Bearer ") for r in self.requests]


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def state(clock: Clock) -> Iterator[QuickBooksState]:
    state = QuickBooksState(clock=clock, default_realm=REALM)
    state.register_client(CLIENT_ID, CLIENT_SECRET)
    state.ensure_realm(REALM)
    yield state
    state.close()


@pytest.fixture
def realm() -> str:
    return REALM


@pytest.fixture
def credentials() -> tuple[str, str]:
    """The OAuth client id and secret registered in `state`."""
    return CLIENT_ID, CLIENT_SECRET


@pytest.fixture
def issue(state: QuickBooksState) -> Callable[[str], dict]:
    """Connect the app to a realm: a fresh token response."""
    return lambda realm: state.issue_tokens(CLIENT_ID, realm)


@pytest.fixture
def tokens(issue) -> dict:
    return issue(REALM)


class _Slot:
    """A loopback server whose app each test swaps in.

    Stopping a `serve_in_thread` server waits out its 0.5 s poll; starting one per test would
    spend most of the suite waiting, so each worker keeps its servers and tests lend them.
    """

    def __init__(self) -> None:
        self.app: QuickBooksApp | None = None
        self.served = serve_in_thread(self, "127.0.0.1", 0)

    def __call__(self, environ: dict, start_response: Callable) -> list[bytes]:
        return self.app(environ, start_response)


@pytest.fixture(scope="session")
def _slots() -> Iterator[list[_Slot]]:
    slots: list[_Slot] = []
    yield slots
    for slot in slots:
        slot.served.close()


@pytest.fixture
def serve(_slots: list[_Slot]) -> Iterator[Callable[[QuickBooksApp], ServedApp]]:
    """Serve an app over real HTTP on 127.0.0.1 for the length of the test."""
    lent: list[_Slot] = []

    def start(app: QuickBooksApp) -> ServedApp:
        slot = next((slot for slot in _slots if slot.app is None), None)
        if slot is None:
            slot = _Slot()
            _slots.append(slot)
        slot.app = app
        lent.append(slot)
        return slot.served

    yield start
    for slot in lent:
        slot.app = None


@pytest.fixture
def server(serve, state: QuickBooksState) -> ServedApp:
    return serve(QuickBooksApp(state))


@pytest.fixture
def api(server: ServedApp, tokens: dict) -> Iterator[httpx.Client]:
    """Raw HTTP to the company's `/v3/company/<realm>` root, with a valid bearer token."""
    with httpx.Client(
        base_url=f"{server.url}/v3/company/{REALM}",
        transport=loopback_transport(),
        headers={"Authorization": f"Bearer {tokens['access_token']}", "Accept": "application/json"},
        timeout=10,
    ) as client:
        yield client


@pytest.fixture
def counting() -> CountingTransport:
    """A transport that records requests; pass it as `transport=` to `make_client`."""
    return CountingTransport()


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def make_client(tokens: dict, sleeps: list[float]) -> Iterator[Callable[..., QuickBooksClient]]:
    """A QuickBooksClient for a served app; its sleeps are recorded, not slept."""
    clients: list[QuickBooksClient] = []

    def build(served: ServedApp, **options) -> QuickBooksClient:
        options.setdefault("auth", StaticToken(tokens["access_token"]))
        options.setdefault("transport", loopback_transport())
        options.setdefault("sleep", sleeps.append)
        clients.append(QuickBooksClient(f"{served.url}/v3", REALM, **options))
        return clients[-1]

    yield build
    for client in clients:
        client.close()


@pytest.fixture
def client(make_client, server: ServedApp) -> QuickBooksClient:
    return make_client(server)


@pytest.fixture
def seed_for() -> Callable[..., int]:
    """The first seed whose opening fault decisions are exactly `pattern` (a kind or None each)."""

    def find(rate: float, pattern: list[str | None], kinds: tuple[str, ...] | None = None) -> int:
        for seed in range(10_000):
            faults = Faults(rate, seed, **({"kinds": kinds} if kinds else {}))
            if [faults.draw("GET", "/") for _ in pattern] == pattern:
                return seed
        raise AssertionError(f"no seed gives {pattern}")

    return find


@pytest.fixture
def create(api: httpx.Client) -> Callable[..., dict]:
    """POST a new entity and return it (asserting success)."""

    def post(entity: str, body: dict) -> dict:
        response = api.post(f"/{entity.lower()}", json=body)
        assert response.status_code == 200, response.text
        return response.json()[entity]

    return post


@pytest.fixture
def query(api: httpx.Client) -> Callable[[str], dict]:
    """GET /query and return the QueryResponse (asserting success)."""

    def run(sql: str) -> dict:
        response = api.get("/query", params={"query": sql})
        assert response.status_code == 200, response.text
        return response.json()["QueryResponse"]

    return run


@pytest.fixture
def fault() -> Callable[[httpx.Response], dict]:
    """The first Error of a Fault response."""
    return lambda response: response.json()["Fault"]["Error"][0]


@pytest.fixture
def real_payload() -> Callable[[str], object]:
    """A captured QuickBooks payload by its path under qbo_fixtures/ (a list of rows for .jsonl)."""
    # Missing payloads are a broken checkout, not a reason to pass: fail loudly.
    assert FIXTURES.is_dir(), f"the captured QuickBooks payloads are not at {FIXTURES}"

    def load(name: str) -> object:
        text = (FIXTURES / name).read_text()
        return [json.loads(line) for line in text.splitlines()] if name.endswith(".jsonl") else json.loads(text)

    return load
