"""Paging at size: 10,000 suppliers with contacts are listed whole in 50 pages of 200 (summaries).

How long seeding and reading 100,000 records take is measured in bench/local_apis_scale.py.
"""

from __future__ import annotations

import httpx

from engine.local.precoro import PrecoroApp


def test_10000_suppliers_with_contacts_listed_in_50_pages_of_summaries(state, make_client):
    state.bulk_insert(
        "suppliers",
        ({"name": f"Supplier {n}", "city": "Lyon", "contacts": [{"name": "Buyer", "email": f"buyer{n}@example.com"}]}
         for n in range(10_000)),
    )
    client = make_client("http://precoro.local", transport=httpx.WSGITransport(app=PrecoroApp(state)))

    suppliers = list(client.list_all("/suppliers"))

    assert len(suppliers) == 10_000 and client.requests_sent == 50
    assert len({s["id"] for s in suppliers}) == 10_000
    assert not any("contacts" in s for s in suppliers)  # the contacts come with each supplier's details
    assert client.details("/suppliers", suppliers[-1])["contacts"]["data"][0]["email"] == "buyer9999@example.com"
