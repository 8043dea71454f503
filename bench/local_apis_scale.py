"""The local APIs at scale: seeding 100,000 records per entity and reading them back whole.

    .venv/bin/python bench/local_apis_scale.py              # N = 100,000, 2 runs
    .venv/bin/python bench/local_apis_scale.py --n 20000 --runs 3

QuickBooks: 100,000 vendors and 100,000 items bulk-inserted, then every vendor read over loopback HTTP
in pages of 1,000 (`SELECT * FROM Vendor WHERE Active IN (true, false) ORDERBY Id ...`).
Precoro: 100,000 suppliers (one contact each) and 100,000 items, then every supplier read in pages of
200; the server's own share of that read is timed inside the WSGI app.
These were wall-clock assertions in the test suite; on a shared 2-core machine they belong here.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench._harness import fmt, median, record  # noqa: E402


def quickbooks_run(n: int) -> dict:
    import httpx

    from engine.clients.auth import StaticToken
    from engine.clients.quickbooks import QuickBooksClient
    from engine.local.http import serve_in_thread
    from engine.local.quickbooks import QuickBooksApp, QuickBooksState

    realm = "9130357766271234"
    state = QuickBooksState()
    state.ensure_realm(realm)
    started = time.perf_counter()
    state.bulk_insert(realm, "Vendor", (
        {"DisplayName": f"Vendor {i:06d}", "CompanyName": f"Company {i}", "PrimaryEmailAddr": {"Address": f"v{i}@example.com"},
         "BillAddr": {"Line1": f"{i} Main St", "City": "Springfield", "PostalCode": "12345"}, "AcctNum": str(i)}
        for i in range(n)))
    state.bulk_insert(realm, "Item", ({"Name": f"Item {i:06d}", "Sku": f"SKU-{i}", "PurchaseCost": 1.5} for i in range(n)))
    seeded = time.perf_counter() - started
    state.register_client("bench", "bench-secret")
    token = state.issue_tokens("bench", realm)["access_token"]
    served = serve_in_thread(QuickBooksApp(state))
    client = QuickBooksClient(f"{served.url}/v3", realm, StaticToken(token), transport=httpx.HTTPTransport(verify=False))
    started = time.perf_counter()
    count = sum(1 for _ in client.query_all("Vendor"))
    read = time.perf_counter() - started
    client.close()
    served.close()
    assert count == n
    return {"seed_seconds": seeded, "read_seconds": read}


def precoro_run(n: int) -> dict:
    import httpx

    from engine.clients.precoro import PrecoroClient
    from engine.local.precoro import PrecoroApp, PrecoroState

    state = PrecoroState()
    state.add_user("bench@example.com", "bench-token")
    started = time.perf_counter()
    state.bulk_insert("suppliers", ({"name": f"Supplier {i}", "city": "Lyon",
                                     "contacts": [{"name": "Buyer", "email": f"buyer{i}@example.com"}]} for i in range(n)))
    state.bulk_insert("items", ({"name": f"Item {i}", "sku": f"SKU-{i}", "price": 9.5, "supplier": i % 100 + 1}
                                for i in range(n)))
    seeded = time.perf_counter() - started
    app = PrecoroApp(state)
    server_seconds = [0.0]

    def timed(environ, start_response):
        began = time.perf_counter()
        try:
            return app(environ, start_response)
        finally:
            server_seconds[0] += time.perf_counter() - began

    client = PrecoroClient("http://precoro.local", "bench@example.com", "bench-token",
                           transport=httpx.WSGITransport(app=timed))
    started = time.perf_counter()
    count = sum(1 for _ in client.list_all("/suppliers"))
    read = time.perf_counter() - started
    assert count == n
    return {"seed_seconds": seeded, "read_seconds": read, "server_read_seconds": server_seconds[0],
            "requests": client.requests_sent}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory():
        runs = [{"quickbooks": quickbooks_run(args.n), "precoro": precoro_run(args.n)} for _ in range(args.runs)]
    summary = {side: {key: median([run[side][key] for run in runs]) for key in runs[0][side]}
               for side in ("quickbooks", "precoro")}
    path = record("local_apis_scale", {"n": args.n, "runs": runs, "median": summary})
    qb, pc = summary["quickbooks"], summary["precoro"]
    print(f"local QuickBooks, {args.n:,} vendors + {args.n:,} items: seed {fmt(qb['seed_seconds'])}, "
          f"read all vendors {fmt(qb['read_seconds'])}")
    print(f"local Precoro, {args.n:,} suppliers + {args.n:,} items: seed {fmt(pc['seed_seconds'])}, "
          f"read all suppliers {fmt(pc['read_seconds'])} ({fmt(pc['server_read_seconds'])} in the server, "
          f"{int(pc['requests'])} requests)")
    print(f"results: {path}")


if __name__ == "__main__":
    main()
