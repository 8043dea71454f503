"""U4: webhooks in: signed QuickBooks notifications (and Precoro ones) trigger debounced incremental runs.

QuickBooks signs each notification: the `intuit-signature` header is the base64 HMAC-SHA256 of the
raw body, keyed with the app's verifier token. Anything unsigned or forged is refused (401) before
its body is even parsed. A notification names the changed entities. Since Intuit's move to
CloudEvents (mandatory from July 2026) it is a JSON array of events, each with `type`
`qbo.<entity>.<action>.v1` (`qbo.vendor.updated.v1`), `intuitaccountid` (the realm) and
`intuitentityid`; the format before it, `eventNotifications[].dataChangeEvent.entities[].name`
(QuickBooks entity names such as Vendor), is still understood. The receiver collects the entities
and, once no notification came for `debounce` seconds, runs once for them (U1), so a burst of edits
makes one run. Precoro's webhooks carry no signature: they
are accepted on a path holding a shared secret, and trigger a run of every entity.

The verifier token and the Precoro secret are never logged, echoed or put in a summary.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import re
import threading
import time
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Iterable

from .entities import ENTITIES

log = logging.getLogger(__name__)

MAX_BODY = 1_000_000  # Intuit's notifications are small; anything larger is not one
SECTION_OF_QUICKBOOKS = {spec.quickbooks: spec.section for spec in ENTITIES}
# A CloudEvent names its entity in lower case within its type: qbo.billpayment.created.v1.
SECTION_OF_EVENT_ENTITY = {spec.quickbooks.lower(): spec.section for spec in ENTITIES}
EVENT_TYPE = re.compile(r"^qbo\.([a-z]+)\.([a-z]+)\.v\d+$")
EVERY_ENTITY = None  # a run of every entity the rules turn on


def intuit_signature(verifier: str, body: bytes) -> str:
    """The `intuit-signature` of a body: base64 of its HMAC-SHA256 keyed with the verifier token."""
    return base64.b64encode(hmac.new(verifier.encode(), body, hashlib.sha256).digest()).decode()


def signed_by(verifier: str, body: bytes, signature: str | None) -> bool:
    return bool(signature) and hmac.compare_digest(intuit_signature(verifier, body), signature.strip())


def sections_named(payload: Any, realm: str | None = None) -> set[str]:
    """The rules sections a QuickBooks notification names (of `realm` only, when given): a list of
    CloudEvents, or the `eventNotifications` of before. Entities qbsync does not sync name none."""
    found = set()
    if isinstance(payload, list):
        for event in payload:
            if not isinstance(event, dict) or (realm and str(event.get("intuitaccountid")) != realm):
                continue
            kind = EVENT_TYPE.match(str(event.get("type", "")).lower())
            section = SECTION_OF_EVENT_ENTITY.get(kind.group(1)) if kind else None
            if section:
                found.add(section)
        return found
    notifications = payload.get("eventNotifications") if isinstance(payload, dict) else None
    for event in notifications or []:
        if realm and str(event.get("realmId")) != realm:
            continue
        for entity in ((event.get("dataChangeEvent") or {}).get("entities") or []):
            section = SECTION_OF_QUICKBOOKS.get(str(entity.get("name")))
            if section:
                found.add(section)
    return found


@dataclass(frozen=True)
class Answer:
    status: int
    text: str


class WebhookReceiver:
    """What to do with one request (`handle`), and the debounced runs it leads to (`start`)."""

    def __init__(self, run: Callable[[list[str] | None], Any], *, verifier: str, precoro_secret: str | None = None,
                 realm: Callable[[], str | None] = lambda: None, debounce: float = 5.0,
                 retry: float = 30.0) -> None:
        """`run(sections or None)` runs once (None: every entity) and returns its RunSummary."""
        self._run = run
        self._verifier = verifier
        self._precoro_secret = precoro_secret
        self._realm = realm
        self.debounce = debounce
        self.retry = retry  # when a run was skipped (another one was going): try again after this
        self._pending: set[str] | None = set()  # None stands for every entity
        self._wanted = False
        self._last = 0.0
        self._changed = threading.Condition()
        self._stop = threading.Event()
        self._worker: threading.Thread | None = None
        self._running = False
        self._last_run: Any = None  # the RunSummary of the last run, for GET /health

    # -- requests ---------------------------------------------------------------------------------

    def handle(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Answer:
        if method == "GET" and path == "/health":
            return Answer(HTTPStatus.OK, json.dumps(self.health()))
        if method != "POST":
            return Answer(HTTPStatus.METHOD_NOT_ALLOWED, "POST notifications here (GET /health says how runs go)")
        if path == "/quickbooks":
            if not signed_by(self._verifier, body, headers.get("intuit-signature")):
                log.warning("refused a QuickBooks notification: missing or wrong intuit-signature")
                return Answer(HTTPStatus.UNAUTHORIZED, "missing or wrong intuit-signature")
            try:
                payload = json.loads(body)
            except ValueError:
                return Answer(HTTPStatus.BAD_REQUEST, "not JSON")
            sections = sections_named(payload, self._realm())
            if sections:
                self._want(sections)
            return Answer(HTTPStatus.OK, "ok")
        if self._precoro_secret and path.startswith("/precoro/"):
            if not hmac.compare_digest(path[len("/precoro/"):], self._precoro_secret):
                return Answer(HTTPStatus.UNAUTHORIZED, "unknown path")
            self._want(EVERY_ENTITY)
            return Answer(HTTPStatus.OK, "ok")
        return Answer(HTTPStatus.NOT_FOUND, "POST to /quickbooks")

    def health(self) -> dict[str, Any]:
        """For a load balancer or an uptime monitor: the server answers (200), whether a run is going
        or waits for a quiet moment, and how the last one ended (its exit code: 0, 3 held, 1 failed).
        Nothing of the notifications, and no secret."""
        last = self._last_run
        return {"ok": True, "running": self._running, "waiting": self._wanted,
                "last_run": None if last is None else {
                    "started_at": last.started_at, "finished_at": last.finished_at, "plan_id": last.plan_id,
                    "exit_code": last.exit_code, "error": last.error, "skipped": last.skipped}}

    def _want(self, sections: Iterable[str] | None) -> None:
        with self._changed:
            if sections is None or self._pending is None:
                self._pending = None
            else:
                self._pending |= set(sections)
            self._wanted = True
            self._last = time.monotonic()
            self._changed.notify()

    # -- runs -------------------------------------------------------------------------------------

    def start(self) -> None:
        self._worker = threading.Thread(target=self._loop, name="qbsync-webhook-runs", daemon=True)
        self._worker.start()

    def stop(self) -> None:
        self._stop.set()
        with self._changed:
            self._changed.notify()
        if self._worker is not None:
            self._worker.join(timeout=600)  # a run in progress stops between two writes

    @property
    def stopping(self) -> threading.Event:
        return self._stop

    def _loop(self) -> None:
        while not self._stop.is_set():
            with self._changed:
                while not self._wanted and not self._stop.is_set():
                    self._changed.wait()
                quiet_for = time.monotonic() - self._last
                if quiet_for < self.debounce:  # more may come: wait for a quiet moment
                    self._changed.wait(self.debounce - quiet_for)
                    continue
                sections, self._pending, self._wanted = self._pending, set(), False
            if self._stop.is_set():
                return
            self._running = True
            try:
                summary = self._run(sorted(sections) if sections is not None else None)
            finally:
                self._running = False
            if summary is not None:  # None: only entities the rules do not sync were named
                self._last_run = summary
            if getattr(summary, "skipped", None):  # another run was going: this change still needs one
                self._want(sections)
                self._stop.wait(self.retry)


def serve(receiver: WebhookReceiver, host: str, port: int) -> ThreadingHTTPServer:
    """An HTTP server for `receiver` (started by the caller with `serve_forever`)."""

    class Handler(BaseHTTPRequestHandler):
        server_version = "qbsync-webhooks"

        def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_BODY:
                self._answer(Answer(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, "too large"))
                return
            body = self.rfile.read(length) if length else b""
            headers = {key.lower(): value for key, value in self.headers.items()}
            self._answer(receiver.handle("POST", self.path.split("?", 1)[0], headers, body))

        def do_GET(self) -> None:  # noqa: N802
            self._answer(receiver.handle("GET", self.path, {}, b""))

        def _answer(self, answer: Answer) -> None:
            data = answer.text.encode()
            self.send_response(answer.status)
            json_body = answer.text.startswith("{")
            self.send_header("Content-Type", "application/json" if json_body else "text/plain; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            # The default access log prints the path, and a Precoro path holds its secret.
            return

    return ThreadingHTTPServer((host, port), Handler)
