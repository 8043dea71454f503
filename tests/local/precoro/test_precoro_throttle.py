"""Rate limits: the real 429 body, and a client that waits exactly as long as it is told."""

from __future__ import annotations

import pytest

from engine.clients.errors import RateLimited
from engine.local.precoro import Throttle


@pytest.fixture
def throttled(serve, clock):
    """Serve with a throttle on the fake clock; only the limits a test names are on."""

    def start(*, per_second=None, per_hour=None, per_day=None, duplicate_get_window_seconds=None):
        throttle = Throttle(per_second, per_hour, per_day, duplicate_get_window_seconds, clock=clock.time)
        return serve(throttle=throttle)

    return start


def test_an_identical_get_within_a_minute_is_refused_with_the_real_body(throttled, http, clock):
    throttled(duplicate_get_window_seconds=60)
    assert http.get("/suppliers?page=1").status_code == 200
    clock.advance(10)

    refused = http.get("/suppliers?page=1")

    assert refused.status_code == 429
    assert refused.json() == {
        "error": "Too many requests for this endpoint",
        "RateLimit-Type": "Route based limiter by minute",
        "RateLimit-Retry-After": "2026-11-26 09:01:00 UTC",
        "RateLimit-Limit": 1,
    }
    assert refused.headers["date"] == "Thu, 26 Nov 2026 09:00:10 GMT"


def test_a_different_query_or_a_minute_later_the_same_get_is_admitted(throttled, http, clock):
    throttled(duplicate_get_window_seconds=60)
    http.get("/suppliers?page=1")

    assert http.get("/suppliers?page=2").status_code == 200
    clock.advance(60)
    assert http.get("/suppliers?page=1").status_code == 200


def test_writes_are_exempt_from_the_duplicate_rule(throttled, http):
    throttled(duplicate_get_window_seconds=60)

    statuses = [http.post("/suppliers", data={"name": "Same"}).status_code for _ in range(2)]

    assert statuses == [201, 201]


def test_the_per_second_limit_counts_every_request(throttled, http):
    throttled(per_second=2)
    http.get("/suppliers?page=1")
    http.post("/suppliers", data={"name": "A"})

    refused = http.get("/suppliers?page=2")

    assert refused.status_code == 429
    assert refused.json()["RateLimit-Type"] == "Concurrency limiter"
    assert refused.json()["RateLimit-Limit"] == 2
    assert refused.json()["RateLimit-Retry-After"] == "2026-11-26 09:00:01 UTC"


def test_the_hourly_limit_and_refused_requests_do_not_count(throttled, http, clock):
    throttled(per_hour=2)
    http.get("/suppliers?page=1")
    clock.advance(600)
    http.get("/suppliers?page=2")

    refused = [http.get(f"/suppliers?page={n}") for n in (3, 4)]
    clock.advance(3000)  # the first request leaves the window; the refused ones never entered it

    assert [r.json()["RateLimit-Type"] for r in refused] == ["Hourly limiter"] * 2
    assert refused[0].json()["RateLimit-Retry-After"] == "2026-11-26 10:00:00 UTC"
    assert http.get("/suppliers?page=5").status_code == 200
    assert http.get("/suppliers?page=6").status_code == 429


def test_the_daily_limit(throttled, http):
    throttled(per_day=1)
    http.get("/suppliers")

    refused = http.get("/taxes")

    assert refused.json()["RateLimit-Type"] == "Daily limiter"
    assert refused.json()["RateLimit-Retry-After"] == "2026-11-27 09:00:00 UTC"


def test_limits_are_per_api_user(throttled, http, state):
    throttled(per_day=1)
    state.add_user("other@example.com", "other-token")
    http.get("/suppliers")

    other = http.get("/suppliers", headers={"email": "other@example.com", "X-AUTH-TOKEN": "other-token"})

    assert other.status_code == 200


def test_reset_clears_the_counters(throttled, http, served):
    throttled(per_day=1)
    http.get("/suppliers")

    http.post(f"{served.url}/_local/reset")

    assert http.get("/suppliers").status_code == 200


def test_the_client_waits_out_a_duplicate_get_and_retries(throttled, client, clock):
    throttled(duplicate_get_window_seconds=60)
    client.get("/suppliers")
    clock.advance(15)

    assert client.get("/suppliers")["data"] == []
    assert clock.sleeps == [45.0]
    assert client.requests_sent == 3


def test_the_client_paces_pages_through_the_per_second_limit(throttled, client, clock, state):
    throttled(per_second=1)
    state.bulk_insert("taxes", [{"name": f"Tax {n}"} for n in range(450)])

    assert len(list(client.list_all("/taxes"))) == 450
    assert clock.sleeps == [1.0, 1.0]
    assert client.requests_sent == 5


def test_min_interval_keeps_the_client_under_the_per_second_limit(throttled, make_client, served, clock, state):
    throttled(per_second=1)
    state.bulk_insert("taxes", [{"name": f"Tax {n}"} for n in range(450)])
    client = make_client(served.url, min_interval=1.0)

    assert len(list(client.list_all("/taxes"))) == 450
    assert clock.sleeps == [1.0, 1.0]
    assert client.requests_sent == 3


def test_a_write_refused_by_429_was_not_executed_and_is_retried_once(throttled, client, clock):
    throttled(per_second=1)
    client.create("/suppliers", {"name": "First"})

    client.create("/suppliers", {"name": "Second"})

    assert [s["name"] for s in client.list_all("/suppliers")] == ["First", "Second"]
    assert clock.sleeps[0] == 1.0


def test_the_daily_limit_is_fatal_and_not_retried(throttled, client):
    throttled(per_day=1)
    client.get("/suppliers")

    with pytest.raises(RateLimited) as limited:
        client.get("/taxes")

    assert limited.value.fatal is True
    assert limited.value.retry_after == 86400.0
    assert client.requests_sent == 2


def test_a_wait_longer_than_max_wait_is_raised_for_the_engine_to_schedule(throttled, make_client, served, clock):
    throttled(per_hour=1)
    client = make_client(served.url, max_wait=120)
    client.get("/suppliers")
    clock.advance(600)

    with pytest.raises(RateLimited) as limited:
        client.create("/suppliers", {"name": "Later"})

    assert (limited.value.fatal, limited.value.retry_after) == (False, 3000.0)
    assert clock.sleeps == []
