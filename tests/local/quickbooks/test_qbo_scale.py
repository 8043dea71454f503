"""Paging at size: a bulk-seeded company is read back whole in pages of 1,000, in Id order.

How long seeding and reading 100,000 records take is measured in bench/local_apis_scale.py.
"""

from __future__ import annotations


def test_10000_vendors_read_back_in_10_full_pages_in_id_order(state, realm, make_client, server, counting):
    state.bulk_insert(realm, "Vendor", ({"DisplayName": f"Vendor {n:05d}", "AcctNum": str(n)} for n in range(10_000)))
    client = make_client(server, transport=counting)

    pages = [client.query(f"SELECT * FROM Vendor WHERE Active IN (true, false) ORDERBY Id "
                          f"STARTPOSITION {start} MAXRESULTS 1000") for start in range(1, 10_000, 1000)]

    assert len(counting.requests) == 10 and all(page["maxResults"] == 1000 for page in pages)
    ids = [int(v["Id"]) for page in pages for v in page["Vendor"]]
    assert ids == sorted(ids) and len(set(ids)) == 10_000
    assert pages[-1]["Vendor"][-1]["DisplayName"] == "Vendor 09999"
