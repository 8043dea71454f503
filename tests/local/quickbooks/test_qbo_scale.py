"""Scale: 100,000 vendors and 100,000 items seed in seconds, and a full read is 100 fast queries."""

from __future__ import annotations

import time

# Targets are "a few seconds"; the bounds leave room for a loaded CI machine while still catching
# a regression to per-row JSON work or an unindexed sort (which cost minutes, not seconds).
SEED_BOUND_SECONDS = 20.0
READ_BOUND_SECONDS = 12.0


def test_100000_vendors_and_items_seed_and_read_back_in_100_paged_queries(state, realm, make_client, server, counting):
    started = time.perf_counter()
    state.bulk_insert(realm, "Vendor", (
        {"DisplayName": f"Vendor {n:06d}", "CompanyName": f"Company {n}", "PrimaryEmailAddr": {"Address": f"v{n}@example.com"},
         "BillAddr": {"Line1": f"{n} Main St", "City": "Springfield", "PostalCode": "12345"}, "AcctNum": str(n)}
        for n in range(100_000)))
    state.bulk_insert(realm, "Item", ({"Name": f"Item {n:06d}", "Sku": f"SKU-{n}", "PurchaseCost": 1.5}
                                      for n in range(100_000)))
    seeded = time.perf_counter() - started
    client = make_client(server, transport=counting)

    started = time.perf_counter()
    pages = [client.query(f"SELECT * FROM Vendor WHERE Active IN (true, false) ORDERBY Id "
                          f"STARTPOSITION {start} MAXRESULTS 1000") for start in range(1, 100_000, 1000)]
    read = time.perf_counter() - started

    assert len(counting.requests) == 100 and all(page["maxResults"] == 1000 for page in pages)
    assert pages[-1]["Vendor"][-1]["DisplayName"] == "Vendor 099999"
    assert seeded < SEED_BOUND_SECONDS, f"seeding 200,000 records took {seeded:.1f} s"
    assert read < READ_BOUND_SECONDS, f"reading 100,000 vendors took {read:.1f} s"
