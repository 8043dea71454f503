"""Injected failures: reproducible, and a client that never repeats a write whose outcome is unknown."""

from __future__ import annotations

import httpx
import pytest

from engine.clients.errors import ServerError
from engine.local.precoro import Faults, PrecoroApp


def _replay(serve, http, faults: Faults) -> list:
    serve(faults=faults)
    for n in range(40):
        for method, options in (("GET", {"params": {"page": n + 1}}), ("POST", {"data": {"name": f"S{n}"}})):
            try:
                http.request(method, "/suppliers", **options)
            except httpx.RemoteProtocolError:
                pass  # an injected drop
    return faults.injected


def test_the_same_seed_injects_the_same_faults(serve, http, state):
    first = _replay(serve, http, Faults(0.3, seed=7))
    state.reset()
    second = _replay(serve, http, Faults(0.3, seed=7))
    state.reset()
    other = _replay(serve, http, Faults(0.3, seed=8))

    assert first == second
    assert first != other
    assert {fault.kind for fault in first} == {"error", "unavailable", "error_after", "drop_after"}


def test_a_fault_before_the_write_stores_nothing_and_is_not_retried(serve, client, state):
    serve(faults=Faults(1.0, kinds=("error",)))

    with pytest.raises(ServerError) as failed:
        client.create("/suppliers", {"name": "Acme"})

    assert failed.value.status == 500
    assert client.requests_sent == 1
    assert state.page("suppliers")[0] == 0


@pytest.mark.parametrize("kind", ["error_after", "drop_after"])
def test_w3_a_write_that_ran_before_the_failure_is_not_retried(serve, client, state, kind):
    serve(faults=Faults(1.0, kinds=(kind,)))

    with pytest.raises(ServerError):
        client.create("/suppliers", {"name": "Acme"})

    assert client.requests_sent == 1
    assert [s["name"] for s in state.page("suppliers")[1]] == ["Acme"]


def test_w3_a_delete_dropped_after_it_ran_is_reported_unknown(serve, client, state):
    supplier = state.insert("suppliers", {"name": "Acme"})
    serve(faults=Faults(1.0, kinds=("drop_after",)))

    with pytest.raises(ServerError):
        client.delete(f"/suppliers/{supplier['id']}")

    assert not state.exists("suppliers", supplier["id"])


def test_reads_retry_through_faults_with_capped_backoff(serve, client, state, clock):
    state.bulk_insert("taxes", [{"name": f"Tax {n}"} for n in range(1000)])
    faults = Faults(0.4, seed=3)
    serve(faults=faults)

    taxes = list(client.list_all("/taxes"))

    assert [tax["name"] for tax in taxes] == [f"Tax {n}" for n in range(1000)]
    assert client.requests_sent == 5 + len(faults.injected)
    assert clock.sleeps and all(delay in (0.5, 1.0, 2.0, 4.0, 8.0) for delay in clock.sleeps)


def test_a_read_that_keeps_failing_gives_up_after_max_retries(serve, make_client, served, clock):
    serve(faults=Faults(1.0, kinds=("unavailable",)))
    client = make_client(served.url, max_retries=3)

    with pytest.raises(ServerError) as failed:
        client.get("/suppliers")

    assert failed.value.status == 503
    assert clock.sleeps == [0.5, 1.0, 2.0]
    assert client.requests_sent == 4


def test_a_drop_through_an_in_process_transport_reads_as_an_unreadable_response(state, make_client, clock):
    app = PrecoroApp(state, faults=Faults(1.0, kinds=("drop_after",)))
    client = make_client("http://precoro.local", transport=httpx.WSGITransport(app=app), max_retries=2)

    with pytest.raises(ServerError, match="unreadable response"):
        client.create("/suppliers", {"name": "Acme"})
    assert client.requests_sent == 1

    with pytest.raises(ServerError, match="unreadable response"):
        client.get("/suppliers")
    assert client.requests_sent == 4
    assert clock.sleeps == [0.5, 1.0]
