"""Serve both local APIs for a benchmark, in their own process, and count every request they answer.

Run by the benchmarks (`bench/_harness.py` starts it), not by hand:

    python bench/_serve.py --data /tmp/x/local.db --seed scale:100000 [--throttle-window 60] [--latency 0]

It seeds the data file when it does not exist yet (timing the seeding), starts the local QuickBooks
and the local Precoro on loopback exactly as `engine.local.serve.LocalApis.start` does, but with a
`Throttle` whose window and a per-call latency the benchmark chooses, and prints one JSON line: what a
client needs (`info`), `seed_seconds`, and the base URL of a small stats endpoint. It serves until its
standard input closes or it gets SIGTERM.

Every request is counted by a WSGI wrapper, server side, so the numbers do not depend on the client:
`GET <stats_url>/_bench/stats` answers {"quickbooks": {...}, "precoro": {...}} with requests per
endpoint class and status, the 429s, the highest number of requests in flight at once, and (QuickBooks)
the start and end times of every batch call. `POST <stats_url>/_bench/reset` zeroes them.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import signal
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from engine.local import demo  # noqa: E402
from engine.local.http import serve_in_thread  # noqa: E402
from engine.local.precoro import PrecoroApp, PrecoroState  # noqa: E402
from engine.local.quickbooks import QuickBooksApp, QuickBooksState, Throttle  # noqa: E402
from engine.local.serve import LOCAL_CLIENT_ID, LOCAL_PRECORO_EMAIL, seed_data  # noqa: E402

_QB_API = re.compile(r"^/v3/company/[^/]+/(?P<rest>[^?]+)$")


def classify(side: str, method: str, path: str) -> str:
    """A short name for the endpoint a request hit: `query`, `batch`, `POST vendor`, `GET /suppliers`, ..."""
    if side == "quickbooks":
        match = _QB_API.match(path)
        if match is None:
            return "oauth" if path.startswith("/oauth2/") else f"{method} {path}"
        rest = match["rest"]
        if rest in ("query", "batch", "cdc", "preferences"):
            return rest
        parts = rest.split("/")
        return f"{method} {parts[0]}" + ("/{id}" if len(parts) > 1 else "")
    parts = [p for p in path.split("/") if p]
    shape = "/".join(p if not p.isdigit() else "{id}" for p in parts)
    return f"{method} /{shape}"


class Counted:
    """A WSGI wrapper that counts what the wrapped app answers, and serves /_bench/stats itself."""

    def __init__(self, side: str, app, others: list["Counted"]) -> None:
        self.side = side
        self.app = app
        self.others = others  # every counter, so one stats call answers for both sides
        self.lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with getattr(self, "lock", threading.Lock()):
            self.by_endpoint: dict[str, dict[str, int]] = {}
            self.in_flight = 0
            self.max_in_flight = 0
            self.too_many = 0
            self.batches: list[tuple[float, float, int]] = []  # (start, end, status) in monotonic seconds
            self.started = time.monotonic()

    def stats(self) -> dict:
        with self.lock:
            total = sum(sum(codes.values()) for codes in self.by_endpoint.values())
            return {"requests": total, "by_endpoint": self.by_endpoint, "status_429": self.too_many,
                    "max_in_flight": self.max_in_flight,
                    "batches": [(round(s - self.started, 4), round(e - self.started, 4), c) for s, e, c in self.batches]}

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "/")
        method = environ.get("REQUEST_METHOD", "GET").upper()
        if path.startswith("/_bench/"):
            if path == "/_bench/reset" and method == "POST":
                for counter in self.others:
                    counter.reset()
                body = b"{}"
            else:
                body = json.dumps({c.side: c.stats() for c in self.others}).encode()
            start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
            return [body]
        endpoint = classify(self.side, method, path)
        status_box: list[str] = []

        def recording_start_response(status, headers, exc_info=None):
            status_box.append(status.split(" ", 1)[0])
            return start_response(status, headers, exc_info) if exc_info else start_response(status, headers)

        with self.lock:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        began = time.monotonic()
        try:
            return self.app(environ, recording_start_response)
        finally:
            ended = time.monotonic()
            status = status_box[0] if status_box else "???"
            with self.lock:
                self.in_flight -= 1
                codes = self.by_endpoint.setdefault(endpoint, {})
                codes[status] = codes.get(status, 0) + 1
                if status == "429":
                    self.too_many += 1
                if endpoint == "batch":
                    self.batches.append((began, ended, int(status) if status.isdigit() else 0))


def seed(quickbooks: QuickBooksState, precoro: PrecoroState, spec: str, realm: str) -> None:
    """`scale:N` and `demo`/`empty` as `qbsync local serve`; `precoro-suppliers:W`: W suppliers in Precoro only;
    `matched:N`: N suppliers and N items on each side that all match and agree (a first sync only links)."""
    if spec.startswith("matched:"):
        demo.seed_scale(quickbooks, precoro, realm, int(spec.split(":", 1)[1]), matched=1.0)
    elif spec.startswith("precoro-suppliers:"):
        count = int(spec.split(":", 1)[1])
        precoro.bulk_insert("suppliers", demo.scale_suppliers(count))
    else:
        seed_data(quickbooks, precoro, spec, realm)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", required=True)
    parser.add_argument("--seed", default="empty")
    parser.add_argument("--throttle-window", type=float, default=None,
                        help="enforce 500 requests / 40 batches per this many seconds, 10 concurrent")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds every QuickBooks API call takes")
    parser.add_argument("--seeded-ago", type=float, default=0.0,
                        help="date the seeded records this many seconds back (incremental plans skip old changes)")
    parser.add_argument("--precoro-lists-with-details", action="store_true",
                        help="Precoro lists answer whole records (as the doctor may find the real one does)")
    args = parser.parse_args()

    fresh = not Path(args.data).exists()
    quickbooks = QuickBooksState(args.data)
    precoro = PrecoroState(args.data)
    realm = demo.DEMO_REALM
    quickbooks.ensure_realm(realm)
    seed_seconds = None
    if fresh:
        started = time.perf_counter()
        clocks = quickbooks.clock, precoro.clock
        if args.seeded_ago:
            back = timedelta(seconds=args.seeded_ago)
            quickbooks.clock = lambda: clocks[0]() - back
            precoro.clock = lambda: clocks[1]() - back
        seed(quickbooks, precoro, args.seed, realm)
        quickbooks.clock, precoro.clock = clocks
        seed_seconds = time.perf_counter() - started

    throttle = None
    if args.throttle_window:
        throttle = Throttle(requests_per_minute=500, batches_per_minute=40, concurrent=10,
                            window_seconds=args.throttle_window)
    counters: list[Counted] = []
    qb_app = Counted("quickbooks", QuickBooksApp(quickbooks, throttle=throttle, latency=args.latency), counters)
    pc_app = Counted("precoro", PrecoroApp(precoro, lists_with_details=args.precoro_lists_with_details), counters)
    counters += [qb_app, pc_app]
    qb_server = serve_in_thread(qb_app, "127.0.0.1", 0)
    pc_server = serve_in_thread(pc_app, "127.0.0.1", 0)

    client_secret = secrets.token_urlsafe(24)
    quickbooks.register_client(LOCAL_CLIENT_ID, client_secret)
    tokens = quickbooks.issue_tokens(LOCAL_CLIENT_ID, realm)
    precoro_token = secrets.token_hex(20)
    precoro.add_user(LOCAL_PRECORO_EMAIL, precoro_token)
    info = {
        "quickbooks": {"base_url": f"{qb_server.url}/v3", "realm_id": realm,
                       "token_url": f"{qb_server.url}/oauth2/v1/tokens/bearer", "client_id": LOCAL_CLIENT_ID,
                       "client_secret": client_secret, "refresh_token": tokens["refresh_token"],
                       "access_token": tokens["access_token"]},
        "precoro": {"base_url": pc_server.url, "email": LOCAL_PRECORO_EMAIL, "token": precoro_token},
    }
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    threading.Thread(target=lambda: (sys.stdin.read(), stop.set()), daemon=True).start()
    print(json.dumps({"info": info, "seed_seconds": seed_seconds, "stats_url": qb_server.url, "pid": os.getpid()}),
          flush=True)
    try:
        while not stop.wait(0.2):
            pass
    finally:
        qb_server.close()
        pc_server.close()
        quickbooks.close()
        precoro.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
