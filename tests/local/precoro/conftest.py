"""Fixtures: a local Precoro on loopback (or in-process), a fake clock, clients with credentials."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Callable, Iterator

import httpx
import pytest

from engine.clients.precoro import PrecoroClient
from engine.local.http import ServedApp, serve_in_thread
from engine.local.precoro import PrecoroApp, PrecoroState

EMAIL = "buyer@example.com"
TOKEN = "local-precoro-token"
START = datetime(2026, 11, 26, 9, 0, tzinfo=timezone.utc)


class FakeClock:
    """One clock for the server's dates, the throttle and the client's sleeps: sleeping advances it."""

    def __init__(self, start: datetime = START) -> None:
        self.now = start.timestamp()
        self.sleeps: list[float] = []

    def time(self) -> float:
        return self.now

    def datetime(self) -> datetime:
        return datetime.fromtimestamp(self.now, timezone.utc)

    def advance(self, seconds: float) -> None:
        self.now += seconds

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def credentials() -> tuple[str, str]:
    """(email, token) of the registered API user."""
    return EMAIL, TOKEN


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def state(clock: FakeClock) -> Iterator[PrecoroState]:
    state = PrecoroState(clock=clock.datetime)
    state.add_user(EMAIL, TOKEN)
    yield state
    state.close()


class _Mount:
    """The app of the running test. One loopback server serves the whole session: stopping a
    server waits out its 0.5 s poll, which per test would be most of the suite's time."""

    app: PrecoroApp | None = None

    def __call__(self, environ, start_response):
        return self.app(environ, start_response)


@pytest.fixture(scope="session")
def _loopback() -> Iterator[tuple[_Mount, ServedApp]]:
    mount = _Mount()
    with serve_in_thread(mount) as served:
        yield mount, served


@pytest.fixture
def serve(state: PrecoroState, _loopback) -> Iterator[Callable[..., ServedApp]]:
    """Serve this test's app over real HTTP on loopback; keyword arguments go to PrecoroApp."""
    mount, served = _loopback

    def start(**app_options) -> ServedApp:
        mount.app = PrecoroApp(state, **app_options)
        return served

    yield start
    mount.app = None


@pytest.fixture
def served(serve: Callable[..., ServedApp]) -> ServedApp:
    return serve()


@pytest.fixture
def make_client(clock: FakeClock) -> Iterator[Callable[..., PrecoroClient]]:
    """A PrecoroClient whose sleeps advance the fake clock (no test ever really waits)."""
    clients: list[PrecoroClient] = []

    def make(base_url: str, **options) -> PrecoroClient:
        options = {"sleep": clock.sleep, "clock": clock.time, **options}
        clients.append(PrecoroClient(base_url, EMAIL, TOKEN, **options))
        return clients[-1]

    yield make
    for client in clients:
        client.close()


@pytest.fixture
def client(served: ServedApp, make_client: Callable[..., PrecoroClient]) -> PrecoroClient:
    return make_client(served.url)


@pytest.fixture
def http(served: ServedApp) -> Iterator[httpx.Client]:
    """A bare httpx client with credentials, to look at the wire format itself."""
    with httpx.Client(base_url=served.url, headers={"X-AUTH-TOKEN": TOKEN, "email": EMAIL}, timeout=10) as http:
        yield http


@pytest.fixture
def in_process(state: PrecoroState) -> Iterator[httpx.Client]:
    """The same, through httpx.WSGITransport: no sockets, for the fast wire checks."""
    transport = httpx.WSGITransport(app=PrecoroApp(state))
    with httpx.Client(transport=transport, base_url="http://precoro.local", headers={"X-AUTH-TOKEN": TOKEN, "email": EMAIL}) as http:
        yield http
