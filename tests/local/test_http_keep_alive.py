"""The local APIs' HTTP server keeps connections alive, as QuickBooks and Precoro do (engine/local/http.py).

The client's port (REMOTE_PORT) tells which connection a request came on. Real HTTP on loopback throughout; the clients are httpx's and ours.
"""

from __future__ import annotations

import time
from datetime import datetime, timezone

import httpx
import pytest

from engine.clients.precoro import PrecoroClient
from engine.local.http import serve_in_thread
from engine.local.precoro import PrecoroApp, PrecoroState
from engine.local.precoro.faults import DROP_AFTER, Faults


def _echo(environ, start_response):
    """Answers which connection (the client's port) it came on, its path and how much body it read."""
    path = environ["PATH_INFO"]
    read = b""
    if path == "/read":
        read = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
    body = f"{environ['REMOTE_PORT']} {path} {len(read)}".encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]


def _answer(response: httpx.Response) -> tuple[str, str, int]:
    port, path, read = response.text.split()
    return port, path, int(read)


def test_requests_of_one_client_share_one_connection():
    with serve_in_thread(_echo) as served, httpx.Client(base_url=served.url) as client:
        answers = [_answer(client.get(f"/n{i}")) for i in range(5)]
    assert [path for _, path, _ in answers] == [f"/n{i}" for i in range(5)]
    assert len({port for port, _, _ in answers}) == 1


def test_a_body_the_app_did_not_read_does_not_spill_into_the_next_request():
    with serve_in_thread(_echo) as served, httpx.Client(base_url=served.url) as client:
        first = _answer(client.post("/ignored", content=b"x" * 70_000))
        second = _answer(client.post("/read", content=b"y" * 1_000))
        third = _answer(client.get("/after"))
    assert (first[1:], second[1:], third[1:]) == (("/ignored", 0), ("/read", 1000), ("/after", 0))
    assert first[0] == second[0] == third[0]  # the same connection all along


def test_a_client_asking_to_close_gets_its_connection_closed():
    with serve_in_thread(_echo) as served, httpx.Client(base_url=served.url) as client:
        first = _answer(client.get("/a", headers={"Connection": "close"}))
        second = _answer(client.get("/b"))
    assert first[0] != second[0]


def test_a_connection_idle_too_long_is_closed_and_the_client_opens_another():
    with serve_in_thread(_echo, idle_seconds=0.2) as served, httpx.Client(base_url=served.url) as client:
        first = _answer(client.get("/before"))
        time.sleep(0.6)  # the server closes the idle connection meanwhile
        second = _answer(client.get("/after"))
    assert second[1] == "/after"
    assert first[0] != second[0]


def test_a_stopped_server_answers_nothing_more_on_its_kept_connections():
    served = serve_in_thread(_echo)
    with httpx.Client(base_url=served.url) as client:
        client.get("/before")
        served.close()
        with pytest.raises(httpx.TransportError):
            client.get("/after")


EMAIL, TOKEN = "buyer@example.com", "local-precoro-token"


@pytest.fixture
def precoro_state():
    state = PrecoroState(clock=lambda: datetime(2026, 11, 26, 9, 0, tzinfo=timezone.utc))
    state.add_user(EMAIL, TOKEN)
    yield state
    state.close()


def test_w3_a_write_after_the_server_closed_the_idle_connection_is_made_once(precoro_state):
    """What a long-lived client meets against the real services: its pooled connection was closed
    by the server while idle. The next request goes out on a new connection, once."""
    app = PrecoroApp(precoro_state)
    with serve_in_thread(app, idle_seconds=0.2) as served:
        client = PrecoroClient(served.url, EMAIL, TOKEN, sleep=lambda seconds: None)
        client.list_all("/suppliers")
        time.sleep(0.6)
        made = client.create("/suppliers", {"name": "Kept Alive Ltd"})
        client.close()
    suppliers = precoro_state.records("suppliers", range(1, int(made["id"]) + 10))
    assert [row["name"] for row in suppliers.values()] == ["Kept Alive Ltd"]


def test_w3_a_dropped_answer_closes_the_connection_and_the_next_request_is_answered(precoro_state):
    """A fault cuts an answer short (headers, then half the body): the connection cannot serve
    another request, so the server closes it; the client's retry gets a whole answer."""
    app = PrecoroApp(precoro_state, faults=Faults(1.0, kinds=(DROP_AFTER,)))
    with serve_in_thread(app) as served, httpx.Client(base_url=served.url, headers={"X-AUTH-TOKEN": TOKEN, "email": EMAIL}) as client:
        with pytest.raises(httpx.TransportError):
            client.get("/suppliers")
        app.faults = None
        answer = client.get("/suppliers")
    assert answer.status_code == 200 and "data" in answer.json()
