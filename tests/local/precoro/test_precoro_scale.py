"""Scale: a company of 100,000 suppliers (with contacts) and 100,000 items, seeded and read whole."""

from __future__ import annotations

import time

import httpx

from engine.local.precoro import PrecoroApp

# Generous bounds against shared CI machines; typical figures are a third of these.
SEED_SECONDS = 20.0
SERVER_READ_SECONDS = 15.0


class _TimedApp:
    """Adds up the time spent inside the app: the server's share of a read, without the client's."""

    def __init__(self, app: PrecoroApp) -> None:
        self.app = app
        self.seconds = 0.0

    def __call__(self, environ, start_response):
        started = time.perf_counter()
        try:
            return self.app(environ, start_response)
        finally:
            self.seconds += time.perf_counter() - started


def test_100000_suppliers_with_contacts_read_in_500_pages_within_seconds(state, make_client):
    started = time.perf_counter()
    state.bulk_insert(
        "suppliers",
        ({"name": f"Supplier {n}", "city": "Lyon", "contacts": [{"name": "Buyer", "email": f"buyer{n}@example.com"}]} for n in range(100_000)),
    )
    state.bulk_insert("items", ({"name": f"Item {n}", "sku": f"SKU-{n}", "price": 9.5, "supplier": n % 100 + 1} for n in range(100_000)))
    seeding = time.perf_counter() - started
    timed = _TimedApp(PrecoroApp(state))
    client = make_client("http://precoro.local", transport=httpx.WSGITransport(app=timed))

    count = sum(1 for supplier in client.list_all("/suppliers") if supplier["contacts"]["data"])

    assert count == 100_000
    assert client.requests_sent == 500
    assert seeding < SEED_SECONDS
    assert timed.seconds < SERVER_READ_SECONDS
