"""Run both local APIs on loopback: for `qbsync local serve`, for `environment: local`, and for tests.

State lives in one sqlite file (or memory) shared by the two servers. Credentials are minted at
every start: the client secret, the tokens and the Precoro API token are random, so nothing secret
is fixed in the code.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import signal
import sqlite3
import sys
import threading
from contextlib import closing
from pathlib import Path
from typing import Any

from ..errors import database_file_error
from .http import ServedApp, serve_in_thread
from . import demo
from .precoro import Faults as PrecoroFaults
from .precoro import PrecoroApp, PrecoroState
from .precoro import Throttle as PrecoroThrottle
from .quickbooks import Faults as QuickBooksFaults
from .quickbooks import QuickBooksApp, QuickBooksState
from .quickbooks import Throttle as QuickBooksThrottle
from .quickbooks.webhooks import WebhookSender

LOCAL_CLIENT_ID = "qbsync-local"
LOCAL_PRECORO_EMAIL = "operator@demo.precoro.example"


class LocalApis:
    """Both local APIs, served. `info()` is what a client needs; `close()` stops them."""

    def __init__(self, quickbooks: QuickBooksState, precoro: PrecoroState, qb_server: ServedApp, pc_server: ServedApp,
                 realm: str, credentials: dict[str, Any]) -> None:
        self.quickbooks = quickbooks
        self.precoro = precoro
        self.qb_server = qb_server
        self.pc_server = pc_server
        self.realm = realm
        self._credentials = credentials

    @classmethod
    def start(cls, data: str | Path | None = None, seed: str = "demo", *, quickbooks_port: int = 0,
              precoro_port: int = 0, throttle: bool = False, faults: float = 0.0, fault_seed: int = 0,
              host: str = "127.0.0.1", webhook_url: str | None = None,
              webhook_verifier: str | None = None, precoro_lists_with_details: bool = False) -> "LocalApis":
        """`webhook_url`: the local QuickBooks POSTs notifications of its writes there, signed with
        `webhook_verifier` (U4), as Intuit does. `precoro_lists_with_details`: a Precoro whose lists
        carry the details (for `qbsync doctor` to find)."""
        path = str(data) if data else ":memory:"
        fresh = data is None or not Path(data).exists()
        if data:
            Path(data).parent.mkdir(parents=True, exist_ok=True)
        realm = demo.DEMO_REALM
        try:
            # The authorize step's test user consents to the served company unless `realmId=` picks another.
            quickbooks = QuickBooksState(path, default_realm=realm)
            precoro = PrecoroState(path)
            quickbooks.ensure_realm(realm)
            if fresh:
                seed_data(quickbooks, precoro, seed, realm)
        except sqlite3.Error as exc:
            said = database_file_error(exc, data, "the local APIs' data file")
            if said is None:
                raise
            if fresh:  # half seeded: gone, so that the next start seeds it whole
                for suffix in ("", "-wal", "-shm"):
                    Path(f"{data}{suffix}").unlink(missing_ok=True)
            raise said from exc
        sender = None
        if webhook_url:
            if not webhook_verifier:
                raise ValueError("a webhook URL needs a verifier token to sign with (QUICKBOOKS_WEBHOOK_VERIFIER)")
            sender = quickbooks.on_change = WebhookSender(webhook_url, webhook_verifier)

        qb_app = QuickBooksApp(quickbooks, throttle=QuickBooksThrottle() if throttle else None,
                               faults=QuickBooksFaults(faults, fault_seed) if faults else None)
        pc_app = PrecoroApp(precoro, throttle=PrecoroThrottle() if throttle else None,
                            faults=PrecoroFaults(faults, fault_seed) if faults else None,
                            lists_with_details=precoro_lists_with_details)
        qb_server = serve_in_thread(qb_app, host, quickbooks_port)
        pc_server = serve_in_thread(pc_app, host, precoro_port)

        # The app's secret and the API user's token are the data file's own: a second process serving
        # it (a second terminal) must not lock the first one out by registering new ones. Each start
        # still gets a grant of its own, as each connection of a real app does.
        seed = _credentials_seed(path)
        client_secret = _derived(seed, "quickbooks client secret")
        quickbooks.register_client(LOCAL_CLIENT_ID, client_secret)
        tokens = quickbooks.issue_tokens(LOCAL_CLIENT_ID, realm)
        precoro_token = _derived(seed, "precoro token")
        precoro.add_user(LOCAL_PRECORO_EMAIL, precoro_token)
        credentials = {"client_secret": client_secret, "tokens": tokens, "precoro_token": precoro_token}
        apis = cls(quickbooks, precoro, qb_server, pc_server, realm, credentials)
        apis.webhooks = sender
        return apis

    def info(self) -> dict[str, Any]:
        tokens = self._credentials["tokens"]
        return {
            "quickbooks": {
                "base_url": f"{self.qb_server.url}/v3",
                "realm_id": self.realm,
                "token_url": f"{self.qb_server.url}/oauth2/v1/tokens/bearer",
                "authorize_url": f"{self.qb_server.url}/connect/oauth2",
                "client_id": LOCAL_CLIENT_ID,
                "client_secret": self._credentials["client_secret"],
                "refresh_token": tokens["refresh_token"],
                "access_token": tokens["access_token"],
            },
            "precoro": {
                "base_url": self.pc_server.url,
                "email": LOCAL_PRECORO_EMAIL,
                "token": self._credentials["precoro_token"],
            },
        }

    webhooks: WebhookSender | None = None

    def close(self) -> None:
        if self.webhooks is not None:
            self.webhooks.close()
        self.qb_server.close()
        self.pc_server.close()
        self.quickbooks.close()
        self.precoro.close()


def _credentials_seed(path: str) -> str:
    """A random secret kept in the data file (made by its first start), from which the local
    credentials are derived: every process serving the same file serves the same credentials."""
    if path == ":memory:":
        return secrets.token_hex(32)
    with closing(sqlite3.connect(path, timeout=30)) as db, db:
        db.execute("CREATE TABLE IF NOT EXISTS local_credentials "
                   "(id INTEGER PRIMARY KEY CHECK (id = 1), seed TEXT NOT NULL)")
        db.execute("INSERT OR IGNORE INTO local_credentials (id, seed) VALUES (1, ?)", [secrets.token_hex(32)])
        return db.execute("SELECT seed FROM local_credentials").fetchone()[0]


def _derived(seed: str, what: str) -> str:
    return hmac.new(seed.encode(), what.encode(), hashlib.sha256).hexdigest()[:40]


def seed_data(quickbooks: QuickBooksState, precoro: PrecoroState, seed: str, realm: str) -> None:
    if seed == "demo":
        accounts = demo.seed_quickbooks(quickbooks, realm)
        demo.seed_precoro(precoro, accounts)
    elif seed.startswith("scale:"):
        count = int(seed.split(":", 1)[1])
        demo.seed_scale(quickbooks, precoro, realm, count)
    elif seed != "empty":
        raise ValueError(f"unknown seed {seed!r}: expected demo, empty or scale:N")


def serve_until_signalled(**options: Any) -> int:
    """`qbsync local serve`: print one JSON line, then serve until SIGINT or SIGTERM."""
    apis = LocalApis.start(options.pop("data"), options.pop("seed"), **options)
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    print(json.dumps(apis.info()), flush=True)
    try:
        while not stop.wait(0.5):
            pass
    finally:
        apis.close()
    print("qbsync local serve: stopped", file=sys.stderr)
    return 0
