"""QuickBooks batches go up to ten at a time (QuickBooks allows 10 concurrent requests a company),
and concurrency changes nothing of W1-W4: every record is written once, every answer is recorded,
and a stop request leaves nothing sent and unrecorded.

A local QuickBooks whose every call takes a while is served behind a gauge that counts, on the
server's side of the wire, how many batch calls are in progress at once.
"""

from __future__ import annotations

import json
import threading
from collections import Counter

import pytest

from engine.budgets import QUICKBOOKS_BATCH_SIZE, QUICKBOOKS_IN_FLIGHT
from engine.local.http import serve_in_thread
from engine.local.quickbooks import QuickBooksApp

REALM = "8301"
SUPPLIERS = [f"Concurrent supplier {n:03}" for n in range(20 * QUICKBOOKS_BATCH_SIZE)]


class InFlightGauge:
    """The most batch calls the wrapped app was answering at the same moment."""

    def __init__(self, app) -> None:
        self.app = app
        self._lock = threading.Lock()
        self._now = 0
        self.most = 0
        self.batches = 0

    def __call__(self, environ, start_response):
        if not environ.get("PATH_INFO", "").endswith("/batch"):
            return self.app(environ, start_response)
        with self._lock:
            self._now += 1
            self.batches += 1
            self.most = max(self.most, self._now)
        try:
            return list(self.app(environ, start_response))
        finally:
            with self._lock:
                self._now -= 1


@pytest.fixture
def slow_quickbooks(servers, fresh_dir):
    """600 Precoro suppliers QuickBooks lacks (20 batches of creates), and a session whose
    QuickBooks takes 0.2 s a call."""
    servers.reset(REALM)
    servers.precoro.bulk_insert("suppliers", [{"name": name, "currencies": ["USD"]} for name in SUPPLIERS])
    gauge = InFlightGauge(QuickBooksApp(servers.quickbooks, latency=0.2))
    served = serve_in_thread(gauge)
    workdir = fresh_dir()

    def session():
        s = servers.session(workdir, REALM)
        (workdir / "rules.yaml").write_text((workdir / "rules.yaml").read_text().replace(servers.qb.url, served.url))
        s.reload_rules()
        return s

    yield gauge, session
    served.close()


def vendor_names(servers) -> Counter:
    found = servers.quickbooks.query(REALM, "SELECT * FROM Vendor WHERE DisplayName LIKE 'Concurrent supplier%' "
                                           "MAXRESULTS 1000")
    return Counter(json.loads(body)["DisplayName"] for body in found.bodies)


def test_w1_quickbooks_batches_go_several_at_a_time_and_each_record_once(servers, slow_quickbooks):
    gauge, session = slow_quickbooks
    with session() as s:
        plan = s.plan(only=["suppliers"])
        report = s.apply(plan.id)
    assert report.ok, report.stopped
    assert report.counts().get("applied") == len(SUPPLIERS)
    assert gauge.batches == len(SUPPLIERS) // QUICKBOOKS_BATCH_SIZE
    assert 1 < gauge.most <= QUICKBOOKS_IN_FLIGHT
    names = vendor_names(servers)
    assert set(names) == set(SUPPLIERS) and set(names.values()) == {1}


def test_w3_a_stop_during_concurrent_batches_records_what_was_in_flight_and_the_rerun_writes_nothing_twice(
        servers, slow_quickbooks):
    gauge, session = slow_quickbooks
    stop = threading.Event()
    with session() as s:
        plan = s.plan(only=["suppliers"])
        first = s.apply(plan.id, stop=stop, on_result=lambda *_: stop.set())
        assert first.stopped
        recorded = first.counts().get("applied", 0)
        # Every vendor QuickBooks holds now was recorded by the stopped run: nothing in flight was lost.
        assert 0 < recorded < len(SUPPLIERS)
        assert sum(vendor_names(servers).values()) == recorded
        sent = gauge.batches
        second = s.apply(plan.id)
    assert second.ok and second.counts().get("applied") == len(SUPPLIERS)
    assert gauge.batches - sent == (len(SUPPLIERS) - recorded) // QUICKBOOKS_BATCH_SIZE
    names = vendor_names(servers)
    assert set(names) == set(SUPPLIERS) and set(names.values()) == {1}
