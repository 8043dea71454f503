"""The httpx QuickBooks client against the local API over HTTP: paging, errors, retries, pacing."""

from __future__ import annotations

import math
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from types import SimpleNamespace

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.clients.auth import OAuthSession, OAuthTokens, StaticToken
from engine.clients.errors import (
    AuthenticationFailed,
    DuplicateName,
    NotFound,
    RateLimited,
    ServerError,
    StaleObject,
    ValidationFailed,
)
from engine.clients.quickbooks import BatchOp, Pacer, QuickBooksClient, quote
from engine.local.quickbooks import Faults, QuickBooksApp, QuickBooksState, Throttle


def test_quote_escapes_backslash_then_apostrophe():
    assert quote("Amy's Bird Sanctuary") == "'Amy\\'s Bird Sanctuary'"
    assert quote("C:\\path\\") == "'C:\\\\path\\\\'"
    assert quote("It\\'s") == "'It\\\\\\'s'"


NAMES = st.text(st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=60).filter(
    lambda name: ":" not in name and name.strip())


@settings(max_examples=60, deadline=None)
@given(name=NAMES)
def test_s1_any_name_round_trips_through_quote_and_the_query_parser(name):
    state = QuickBooksState()
    state.insert("1", "Vendor", {"DisplayName": name})

    found = state.query("1", f"SELECT * FROM Vendor WHERE DisplayName = {quote(name)}").response()

    assert [vendor["DisplayName"] for vendor in found["Vendor"]] == [name]
    state.close()


def test_the_client_also_runs_in_process_through_wsgi_transport(state, realm, tokens):
    transport = httpx.WSGITransport(app=QuickBooksApp(state))
    client = QuickBooksClient("http://qbo.local/v3", realm, StaticToken(tokens["access_token"]), transport=transport)

    created = client.create("Vendor", {"DisplayName": "In Process"})

    assert client.read("Vendor", created["Id"])["DisplayName"] == "In Process"
    assert [v["Id"] for v in client.query_all("Vendor")] == [created["Id"]]
    client.close()


@pytest.fixture
def company(state, realm):
    """2,500 vendors of which 3 inactive."""
    vendors = state.bulk_insert(realm, "Vendor", [{"DisplayName": f"Vendor {n:04d}"} for n in range(2500)])
    for vendor in vendors[:3]:
        state.update(realm, "Vendor", {"Id": vendor["Id"], "SyncToken": "0", "sparse": True, "Active": False})
    return vendors


def test_query_all_reads_n_records_in_ceil_n_over_1000_calls(make_client, server, counting, company):
    client = make_client(server, transport=counting)

    vendors = list(client.query_all("Vendor"))

    assert len(vendors) == 2500 and [v["Id"] for v in vendors] == [v["Id"] for v in company]
    assert len(counting.requests) == math.ceil(2500 / 1000)
    sent = [r.content.decode() for r in counting.requests]
    assert sent[0] == "SELECT * FROM Vendor WHERE Active IN (true, false) ORDERBY Id STARTPOSITION 1 MAXRESULTS 1000"
    assert sent[2].endswith("STARTPOSITION 2001 MAXRESULTS 1000")
    assert all(r.headers["content-type"] == "application/text" for r in counting.requests)
    assert all(r.url.params["minorversion"] == "75" for r in counting.requests)


def test_query_all_filters_and_can_leave_inactive_records_out(make_client, server, counting, company):
    client = make_client(server, transport=counting)

    active = list(client.query_all("Vendor", include_inactive=False, page_size=500))
    chosen = list(client.query_all("Vendor", f"DisplayName = {quote('Vendor 0007')}"))

    assert len(active) == 2497 and len(counting.requests) == 5 + 1
    assert [v["DisplayName"] for v in chosen] == ["Vendor 0007"]


def test_count_counts_inactive_records_too_by_default(client, company):
    assert client.count("Vendor") == 2500
    assert client.count("Vendor", include_inactive=False) == 2497
    assert client.count("Vendor", "DisplayName LIKE 'Vendor 000%'") == 10
    assert client.count("Bill") == 0


def test_create_read_update_and_settings(client, realm):
    created = client.create("Vendor", {"DisplayName": "Books by Bessie", "AcctNum": "1345"})
    sparse = client.update("Vendor", {"Id": created["Id"], "SyncToken": created["SyncToken"], "CompanyName": "BbB"})
    full = client.update("Vendor", {"Id": created["Id"], "SyncToken": sparse["SyncToken"], "DisplayName": "Bessie"},
                         sparse=False)

    assert sparse["AcctNum"] == "1345" and sparse["CompanyName"] == "BbB"
    assert full["DisplayName"] == "Bessie" and "AcctNum" not in full and full["SyncToken"] == "2"
    assert client.read("Vendor", created["Id"]) == full
    assert client.preferences()["CurrencyPrefs"]["HomeCurrency"]["value"] == "USD"
    assert client.company_info()["Id"] == "1"


def test_fault_codes_become_typed_errors_with_body_messages(client):
    vendor = client.create("Vendor", {"DisplayName": "Taken"})
    client.update("Vendor", {"Id": vendor["Id"], "SyncToken": "0", "AcctNum": "1"})

    with pytest.raises(NotFound) as not_found:
        client.read("Vendor", "99999")
    with pytest.raises(StaleObject) as stale:
        client.update("Vendor", {"Id": vendor["Id"], "SyncToken": "0", "AcctNum": "2"})
    with pytest.raises(DuplicateName) as duplicate:
        client.create("Customer", {"DisplayName": "taken"})
    with pytest.raises(ValidationFailed) as too_long:
        client.create("Vendor", {"DisplayName": "x" * 501})
    with pytest.raises(ValidationFailed) as bad_query:
        client.query("SELECT * FROM Vendor WHERE")

    assert not_found.value.code == "610" and not_found.value.status == 400
    assert stale.value.code == "5010" and stale.value.message == "Stale Object Error"
    assert duplicate.value.code == "6240" and duplicate.value.service == "quickbooks"
    assert too_long.value.field == "DisplayName" and too_long.value.code == "2050"
    assert bad_query.value.code == "4000" and bad_query.value.field is None


def test_a_refused_token_is_an_authentication_error_that_never_shows_the_token(make_client, server):
    secret = "s3cr3t-access-token-value"
    client = make_client(server, auth=StaticToken(secret))

    with pytest.raises(AuthenticationFailed) as refused:
        client.preferences()

    for text in (str(refused.value), repr(refused.value), repr(client), repr(StaticToken(secret))):
        assert secret not in text


def test_reads_retry_server_errors_with_capped_exponential_backoff(make_client, serve, state, sleeps, seed_for):
    served = serve(QuickBooksApp(state, faults=Faults(0.5, seed_for(0.5, ["error_503", "drop", None]))))
    client = make_client(served)

    assert client.preferences()["Id"] == "1"
    assert len(sleeps) == 2 and 0.5 <= sleeps[0] <= 1.0 and 1.0 <= sleeps[1] <= 2.0


def test_retries_stop_after_max_retries(make_client, serve, state, sleeps):
    served = serve(QuickBooksApp(state, faults=Faults(1.0, 3, kinds=("error_500",))))
    client = make_client(served, max_retries=3)

    with pytest.raises(ServerError) as failed:
        client.preferences()

    assert failed.value.status == 500 and len(sleeps) == 3


def test_w3_a_write_without_requestid_is_never_retried(make_client, serve, state, realm, sleeps, seed_for):
    served = serve(QuickBooksApp(state, faults=Faults(0.5, seed_for(0.5, ["error_500_after_write", None]))))
    client = make_client(served)

    with pytest.raises(ServerError):
        client.create("Vendor", {"DisplayName": "Written Anyway"})

    assert sleeps == []
    assert state.query(realm, "SELECT COUNT(*) FROM Vendor").total_count == 1


def test_w3_a_write_whose_answer_was_lost_says_its_outcome_is_unknown(make_client, serve, state, realm, sleeps,
                                                                      seed_for):
    served = serve(QuickBooksApp(state, faults=Faults(0.5, seed_for(0.5, ["drop_after_write", None]))))
    client = make_client(served)

    with pytest.raises(ServerError) as failed:
        client.create("Vendor", {"DisplayName": "Written, Answer Lost"})

    assert str(failed.value).startswith("QuickBooks: no answer to POST /vendor (")
    assert str(failed.value).endswith("; the outcome is unknown") and sleeps == []
    assert state.query(realm, "SELECT COUNT(*) FROM Vendor").total_count == 1


def test_w3_a_quickbooks_that_cannot_be_reached_is_named_and_nothing_was_sent(make_client, realm, sleeps):
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        closed = SimpleNamespace(url=f"http://127.0.0.1:{probe.getsockname()[1]}")
    client = make_client(closed, max_retries=2)

    with pytest.raises(ServerError) as failed:
        client.create("Vendor", {"DisplayName": "Never Sent"}, requestid="apply-1-action-1")

    said = str(failed.value)
    assert said.startswith(f"QuickBooks: cannot reach {closed.url}/v3/company/{realm}/ (")
    assert said.endswith("check the network and the base_url in rules.yaml; nothing was sent")
    assert len(sleeps) == 2  # a connection that never opened is tried again, a write included


@pytest.mark.parametrize("kind", ["drop_after_write", "error_500_after_write", "drop", "error_503"])
def test_w3_a_write_with_requestid_is_retried_and_lands_exactly_once(make_client, serve, state, realm, seed_for, kind):
    served = serve(QuickBooksApp(state, faults=Faults(0.5, seed_for(0.5, [kind, None]))))
    client = make_client(served)

    vendor = client.create("Vendor", {"DisplayName": "Exactly Once"}, requestid="apply-7-action-1")

    assert vendor["DisplayName"] == "Exactly Once"
    assert state.query(realm, "SELECT COUNT(*) FROM Vendor").total_count == 1


def test_w3_a_batch_with_requestid_is_retried_without_duplicates(make_client, serve, state, realm, seed_for):
    served = serve(QuickBooksApp(state, faults=Faults(0.5, seed_for(0.5, ["drop_after_write", None]))))
    client = make_client(served)
    ops = [BatchOp(f"b{n}", "create", "Vendor", {"DisplayName": f"Batch {n}"}) for n in range(5)]

    outcomes = client.batch(ops, requestid="apply-7-batch-1")

    assert [o.obj["DisplayName"] for o in outcomes] == [f"Batch {n}" for n in range(5)]
    assert state.query(realm, "SELECT COUNT(*) FROM Vendor").total_count == 5


def test_429_is_retried_after_the_servers_retry_after(make_client, serve, state):
    ticks = [500.0]
    served = serve(QuickBooksApp(state, throttle=Throttle(requests_per_minute=1, clock=lambda: ticks[0])))
    waited: list[float] = []

    def sleep(seconds: float) -> None:
        waited.append(seconds)
        ticks[0] += seconds

    client = make_client(served, sleep=sleep)
    client.preferences()

    assert client.preferences()["Id"] == "1"
    assert waited == [60.0]


def test_429_on_a_write_without_requestid_is_raised_not_retried(make_client, serve, state, sleeps):
    served = serve(QuickBooksApp(state, throttle=Throttle(requests_per_minute=1, clock=lambda: 0.0)))
    client = make_client(served)
    client.preferences()

    with pytest.raises(RateLimited) as throttled:
        client.create("Vendor", {"DisplayName": "Later"})

    assert throttled.value.retry_after == 60.0 and throttled.value.code == "3001" and sleeps == []


def test_batch_outcomes_follow_the_ops_with_typed_errors(client):
    vendor = client.create("Vendor", {"DisplayName": "Existing"})
    ops = [
        BatchOp("1", "create", "Vendor", {"DisplayName": "New One"}),
        BatchOp("2", "update", "Vendor", {"Id": vendor["Id"], "SyncToken": "9", "sparse": True}),
        BatchOp("3", "create", "Vendor", {"DisplayName": "existing"}),
        BatchOp("4", "delete", "Bill", {"Id": "4242", "SyncToken": "0"}),
        BatchOp("5", "query", "Vendor", "SELECT * FROM Vendor WHERE DisplayName = 'Existing'"),
    ]

    outcomes = client.batch(ops)

    assert [o.bid for o in outcomes] == ["1", "2", "3", "4", "5"]
    assert outcomes[0].obj["DisplayName"] == "New One" and outcomes[0].error is None
    assert isinstance(outcomes[1].error, StaleObject)
    assert isinstance(outcomes[2].error, DuplicateName)
    assert isinstance(outcomes[3].error, NotFound)
    assert outcomes[4].obj["Vendor"][0]["Id"] == vendor["Id"]


def test_batch_limits_are_checked_before_sending(client):
    too_many = [BatchOp(str(n), "create", "Vendor", {"DisplayName": str(n)}) for n in range(31)]
    long_bid = [BatchOp("x" * 11, "create", "Vendor", {"DisplayName": "x"})]

    with pytest.raises(ValueError, match="at most 30"):
        client.batch(too_many)
    with pytest.raises(ValueError, match="10 characters"):
        client.batch(long_bid, requestid="r")
    with pytest.raises(ValueError, match="36 characters"):
        client.batch([BatchOp("a", "create", "Vendor", {})], requestid="r" * 37)


def test_cdc_groups_changed_records_by_entity(client, clock):
    since = clock.now
    vendor = client.create("Vendor", {"DisplayName": "Changed"})

    changed = client.cdc(["Vendor", "Item"], since)

    assert [v["Id"] for v in changed["Vendor"]] == [vendor["Id"]] and changed["Item"] == []


def test_401_refreshes_once_and_retries_with_the_rotated_token(make_client, server, tokens, credentials, clock, counting):
    events: list[tuple[str, str]] = []
    session = OAuthSession(
        f"{server.url}/oauth2/v1/tokens/bearer", *credentials,
        OAuthTokens(tokens["access_token"], time.time() + 3600, tokens["refresh_token"], time.time() + 86400),
        on_rotate=lambda new: events.append(("rotated", new.access_token)),
    )
    client = make_client(server, auth=session, transport=counting)
    client.preferences()
    clock.advance(minutes=61)  # the server now finds the token expired; the session does not know

    assert client.preferences()["Id"] == "1"

    bearers = counting.bearers()
    assert bearers[:2] == [tokens["access_token"]] * 2 and len(bearers) == 3
    assert events == [("rotated", bearers[2])]
    session.close()


def test_pacing_keeps_a_run_under_the_throttle_without_any_429(make_client, serve, state, sleeps):
    served = serve(QuickBooksApp(state, throttle=Throttle(requests_per_minute=4, window_seconds=0.3)))
    client = make_client(served, pace=Pacer(requests_per_minute=4, window_seconds=0.3))

    started = time.monotonic()
    for _ in range(10):
        client.preferences()

    assert sleeps == []
    assert time.monotonic() - started >= 0.55


def test_pacing_keeps_concurrency_under_the_limit(make_client, serve, state, sleeps):
    served = serve(QuickBooksApp(state, throttle=Throttle(concurrent=2), latency=0.05))
    client = make_client(served, pace=Pacer(concurrent=2))
    peak = {"now": 0, "max": 0}
    lock = threading.Lock()

    def read(_: int) -> str:
        with lock:
            peak["now"] += 1
            peak["max"] = max(peak["max"], peak["now"])
        try:
            return client.preferences()["Id"]
        finally:
            with lock:
                peak["now"] -= 1

    with ThreadPoolExecutor(max_workers=6) as pool:
        assert list(pool.map(read, range(12))) == ["1"] * 12

    assert sleeps == [] and peak["max"] > 2
