"""httpx client of the QuickBooks Online Accounting API (the real one or the local one).

Every failure becomes a typed `ApiError` built from the response body only (never a token or a
header). Retries happen only where they are safe: on 429, 5xx and dropped connections, always for
reads and for writes only when they carry a `requestid` (the server then answers a repeat with the
first response instead of writing twice). A 401 triggers one token refresh and one retry. An
optional `Pacer` keeps a run under the documented limits so that it never meets a 429.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections import deque
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable, Iterator, Protocol

import httpx

from .. import bulk
from .retry import RetryPolicy, sleep_unless_stopped
from .errors import (
    ApiError,
    AuthenticationFailed,
    DuplicateName,
    NotFound,
    RateLimited,
    ServerError,
    StaleObject,
    ValidationFailed,
    no_answer,
)

SERVICE = "quickbooks"
DEFAULT_TIMEOUT = httpx.Timeout(60.0, connect=10.0)
MAX_BATCH_ITEMS = 30
MAX_PAGE_SIZE = 1000
# The API's documented caps (fact sheet §3, §5): a CDC answer holding this many objects may be
# cut short, so the caller must fall back to a full read.
CDC_MAX_OBJECTS = 1000
# CDC covers at most 30 days back, and not these entities (they must be read by query).
CDC_LOOKBACK_DAYS = 30
CDC_UNSUPPORTED = frozenset({"JournalCode", "TimeActivity", "TaxAgency", "TaxCode", "TaxRate"})
MAX_REQUESTID = 50
MAX_BATCH_REQUESTID = 36
MAX_BATCH_BID_WITH_REQUESTID = 10
NAME_LISTS = frozenset({"Vendor", "Customer", "Employee", "Item", "Account", "TaxCode", "TaxRate", "Term",
                        "Class", "Department"})
_TYPED_BY_CODE = {"610": NotFound, "5010": StaleObject, "6240": DuplicateName}

log = logging.getLogger(__name__)


def quote(value: object) -> str:
    """A query string literal: backslash escaped first, then the apostrophe (`Amy's` -> `'Amy\\'s'`)."""
    return "'" + str(value).replace("\\", "\\\\").replace("'", "\\'") + "'"


class TokenSource(Protocol):
    def bearer(self) -> str: ...

    def refresh(self, rejected: str | None = None) -> None: ...


@dataclass(frozen=True)
class BatchOp:
    """One batch item: operation "create" | "update" | "delete" with the entity body, or "query"
    with the SQL text as `body` (and `entity` naming the queried entity, for reading the answer)."""

    bid: str
    operation: str
    entity: str
    body: dict | str


@dataclass(frozen=True)
class BatchOutcome:
    """The answer to one batch item: `obj` (the entity, the delete stub or the QueryResponse) or `error`."""

    bid: str
    obj: dict | None
    error: ApiError | None


class Pacer:
    """Client-side pacing under QuickBooks' per-realm limits, shared by every thread of a run.

    A request occupies a concurrency slot while in flight and counts against the sliding window
    from its start until `window_seconds` after it completes: later than the server counts it, so
    the pacer errs on the safe side.
    """

    def __init__(
        self,
        requests_per_minute: int = 500,
        batches_per_minute: int = 40,
        concurrent: int = 10,
        window_seconds: float = 60.0,
    ) -> None:
        self._limits = {False: requests_per_minute, True: batches_per_minute}
        self._concurrent = concurrent
        self._window = window_seconds
        self._cond = threading.Condition()
        self._done: dict[bool, deque[float]] = {False: deque(), True: deque()}
        self._in_flight: dict[bool, int] = {False: 0, True: 0}

    @contextmanager
    def slot(self, *, batch: bool) -> Iterator[None]:
        self._acquire(batch)
        try:
            yield
        finally:
            self._release(batch)

    def _acquire(self, batch: bool) -> None:
        with self._cond:
            while True:
                wait = self._wait_needed(batch)
                if wait is None:
                    break
                self._cond.wait(timeout=wait)
            self._in_flight[False] += 1
            if batch:
                self._in_flight[True] += 1

    def _wait_needed(self, batch: bool) -> float | None:
        now = time.monotonic()
        for done in self._done.values():
            while done and done[0] <= now - self._window:
                done.popleft()
        if self._in_flight[False] >= self._concurrent:
            return 1.0  # woken earlier by a release
        waits = []
        for kind in (False, True) if batch else (False,):
            done, limit = self._done[kind], self._limits[kind]
            used = len(done) + self._in_flight[kind]
            if used >= limit:
                # The oldest completions leave the window first; in-flight ones have not entered it.
                excess = used - limit
                waits.append(done[excess] + self._window - now if excess < len(done) else self._window)
        return max(waits) if waits else None

    def _release(self, batch: bool) -> None:
        with self._cond:
            now = time.monotonic()
            for kind in (False, True) if batch else (False,):
                self._in_flight[kind] -= 1
                self._done[kind].append(now)
            self._cond.notify_all()


class QuickBooksClient:
    """One realm of QuickBooks Online. `base_url` is the `/v3` root, e.g. `http://127.0.0.1:8000/v3`."""

    def __init__(
        self,
        base_url: str,
        realm_id: str,
        auth: TokenSource,
        *,
        transport: httpx.BaseTransport | None = None,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        minorversion: int = 75,
        max_retries: int = 5,
        sleep: Callable[[float], None] = sleep_unless_stopped,
        pace: Pacer | None = None,
    ) -> None:
        self.realm_id = realm_id
        self.minorversion = minorversion
        # QuickBooks' Retry-After is seconds within its one-minute windows: always worth waiting.
        self.retry = RetryPolicy(attempts=max_retries + 1, max_wait=float("inf"))
        self._auth = auth
        self._sleep = sleep
        self._pace = pace
        # Reads sent (queries, GETs, CDC; retries included): what Intuit meters by the month as
        # "CorePlus" calls, per app, all its companies together. Writes are not counted there.
        self.reads_sent = 0
        self.server_time: datetime | None = None
        """The time on QuickBooks' clock of its latest answer (the answer's `time`): where a later
        CDC read starts, free of this machine's clock (W11)."""
        self._http = httpx.Client(
            base_url=f"{base_url.rstrip('/')}/company/{realm_id}", transport=transport, timeout=timeout,
        )

    def __repr__(self) -> str:
        return f"QuickBooksClient(base_url={str(self._http.base_url)!r})"

    def close(self) -> None:
        self._http.close()

    # -- reads ----------------------------------------------------------------------------------

    def query(self, sql: str) -> dict:
        """The `QueryResponse` of one query (POST `application/text`: no URL length limit)."""
        answer = self._send("POST", "/query", content=sql.encode(), content_type="application/text", retry=True)
        return answer["QueryResponse"]

    def query_all(
        self, entity: str, where: str | None = None, *, include_inactive: bool = True, page_size: int = MAX_PAGE_SIZE
    ) -> Iterator[dict]:
        """Every record matching `where`, in Id order, read page by page: ceil(N / page_size) calls
        (one more, returning nothing, when N is an exact multiple). `include_inactive` adds
        `Active IN (true, false)` on name lists; leave it off when `where` filters on Active."""
        if not 1 <= page_size <= MAX_PAGE_SIZE:
            raise ValueError(f"page_size must be between 1 and {MAX_PAGE_SIZE}")
        base = f"SELECT * FROM {entity}{self._where(entity, where, include_inactive)} ORDERBY Id"
        start = 1
        while True:
            rows = self.query(f"{base} STARTPOSITION {start} MAXRESULTS {page_size}").get(entity, [])
            yield from rows
            if len(rows) < page_size:
                return
            start += len(rows)

    def count(self, entity: str, where: str | None = None, include_inactive: bool = True) -> int:
        answer = self.query(f"SELECT COUNT(*) FROM {entity}{self._where(entity, where, include_inactive)}")
        return int(answer.get("totalCount", 0))

    def read(self, entity: str, record_id: str) -> dict:
        return self._send("GET", f"/{entity.lower()}/{record_id}", retry=True)[entity]

    def preferences(self) -> dict:
        return self._send("GET", "/preferences", retry=True)["Preferences"]

    def company_info(self) -> dict:
        return self._send("GET", f"/companyinfo/{self.realm_id}", retry=True)["CompanyInfo"]

    def refresh_token(self) -> None:
        """Refresh the access token now (what every hour's first request does anyway): `qbsync
        doctor` looks at what the token endpoint answers."""
        self._auth.refresh()

    def cdc(self, entities: list[str], changed_since: datetime | str) -> dict[str, list[dict]]:
        """Objects of `entities` changed since then (at most 30 days back), by entity name.

        Deleted transactions come as `{"Id", "status": "Deleted"}` stubs. When the answer holds
        `CDC_MAX_OBJECTS` objects in all it may be incomplete: read those entities in full instead.
        """
        since = changed_since.isoformat() if isinstance(changed_since, datetime) else changed_since
        answer = self._send("GET", "/cdc", params={"entities": ",".join(entities), "changedSince": since}, retry=True)
        changed: dict[str, list[dict]] = {entity: [] for entity in entities}
        for block in answer["CDCResponse"]:
            for group in block.get("QueryResponse", []):
                for key, value in group.items():
                    if isinstance(value, list):
                        changed.setdefault(key, []).extend(value)
        return changed

    # -- writes ---------------------------------------------------------------------------------

    def create(self, entity: str, body: dict, *, requestid: str | None = None) -> dict:
        return self._write(entity, body, requestid)

    def update(self, entity: str, body: dict, *, sparse: bool = True, requestid: str | None = None) -> dict:
        """`body` needs Id and SyncToken; a full update (`sparse=False`) clears every omitted writable field."""
        return self._write(entity, {**body, "sparse": sparse}, requestid)

    def batch(self, ops: list[BatchOp], *, requestid: str | None = None) -> list[BatchOutcome]:
        """Up to 30 operations in one call; each succeeds or fails on its own. Outcomes follow `ops`."""
        _check_batch(ops, requestid)
        items = []
        for op in ops:
            if op.operation == "query":
                items.append({"bId": op.bid, "Query": op.body})
            else:
                items.append({"bId": op.bid, "operation": op.operation, op.entity: op.body})
        answer = self._send("POST", "/batch", params=_requestid(requestid), json_body={"BatchItemRequest": items},
                            retry=requestid is not None, batch=True)
        by_bid = {item.get("bId"): item for item in answer.get("BatchItemResponse", [])}
        outcomes = []
        for op in ops:
            item = by_bid.get(op.bid)
            if item is None:
                outcomes.append(BatchOutcome(op.bid, None, ServerError(f"no answer for batch item {op.bid}", service=SERVICE)))
            elif "Fault" in item:
                outcomes.append(BatchOutcome(op.bid, None, error_from_fault(item["Fault"], 200)))
            else:
                key = "QueryResponse" if op.operation == "query" else op.entity
                outcomes.append(BatchOutcome(op.bid, item.get(key), None))
        return outcomes

    def upload(self, file_name: str, content_type: str, content: bytes, attach_to: tuple[str, str], *,
               requestid: str | None = None) -> dict:
        """Attach one file to a record (`attach_to`: its entity and Id): `POST /upload`, multipart,
        `file_metadata_01` (the Attachable) and `file_content_01` (the file). The new Attachable, or
        the typed error of the file's Fault (a type QuickBooks refuses, a record that is gone)."""
        metadata = {"AttachableRef": [{"EntityRef": {"type": attach_to[0], "value": attach_to[1]},
                                       "IncludeOnSend": False}],
                    "FileName": file_name, "ContentType": content_type}
        boundary = f"qbsync-{uuid.uuid4().hex}"
        body = b"".join([
            f'--{boundary}\r\nContent-Disposition: form-data; name="file_metadata_01"\r\n'
            f"Content-Type: application/json\r\n\r\n".encode(), json.dumps(metadata).encode(), b"\r\n",
            f'--{boundary}\r\nContent-Disposition: form-data; name="file_content_01"; filename="{_header_safe(file_name)}"'
            f"\r\nContent-Type: {content_type}\r\n\r\n".encode(), content, b"\r\n", f"--{boundary}--\r\n".encode()])
        answer = self._send("POST", "/upload", params=_requestid(requestid), content=body,
                            content_type=f"multipart/form-data; boundary={boundary}", retry=requestid is not None)
        [item] = answer.get("AttachableResponse") or [{}]
        if "Fault" in item:
            raise error_from_fault(item["Fault"], 200)
        return item["Attachable"]

    # -- plumbing -------------------------------------------------------------------------------

    @staticmethod
    def _where(entity: str, where: str | None, include_inactive: bool) -> str:
        conditions = [where] if where else []
        if include_inactive and entity in NAME_LISTS:
            conditions.append("Active IN (true, false)")
        return f" WHERE {' AND '.join(conditions)}" if conditions else ""

    def _write(self, entity: str, body: dict, requestid: str | None) -> dict:
        if requestid is not None and len(requestid) > MAX_REQUESTID:
            raise ValueError(f"requestid is limited to {MAX_REQUESTID} characters")
        answer = self._send("POST", f"/{entity.lower()}", params=_requestid(requestid), json_body=body,
                            retry=requestid is not None)
        return answer[entity]

    def _send(
        self,
        method: str,
        path: str,
        *,
        params: dict | None = None,
        json_body: dict | None = None,
        content: bytes | None = None,
        content_type: str | None = None,
        retry: bool,
        batch: bool = False,
    ) -> dict:
        params = {**(params or {}), "minorversion": self.minorversion}
        refreshed = False

        def attempt() -> dict:
            nonlocal refreshed
            while True:
                bearer = self._auth.bearer()
                headers = {"Authorization": f"Bearer {bearer}", "Accept": "application/json"}
                if content_type:
                    headers["Content-Type"] = content_type
                if method == "GET" or path == "/query":
                    self.reads_sent += 1
                try:
                    with self._pace.slot(batch=batch) if self._pace else nullcontext():
                        response = self._http.request(method, path, params=params, json=json_body, content=content,
                                                      headers=headers)
                except httpx.TransportError as exc:
                    raise no_answer(exc, SERVICE, self._http.base_url, method, path,
                                    reading=method == "GET" or path == "/query") from None
                log.debug("QuickBooks %s %s -> %s (intuit_tid %s)", method, path, response.status_code,
                          response.headers.get("intuit_tid"))
                if response.status_code == 401 and not refreshed:
                    # Rejected before it ran: safe to send again, once, with a fresh token.
                    refreshed = True
                    self._auth.refresh(bearer)
                    continue
                if response.is_success:
                    answer = bulk.loads(response.content)
                    self.server_time = _server_time(answer.get("time")) or self.server_time
                    if "Fault" not in answer:
                        return answer
                    raise error_from_fault(answer["Fault"], response.status_code)
                raise error_from_response(response)

        return self.retry.run(attempt, retryable=lambda error: retry and _retryable(error), sleep=self._sleep,
                              label=f"QuickBooks {method} {path}")


def _header_safe(file_name: str) -> str:
    """A file name as a multipart header can carry it (its quotes and line breaks would end the header)."""
    return file_name.replace("\\", "_").replace('"', "'").replace("\r", " ").replace("\n", " ")


def _requestid(requestid: str | None) -> dict:
    return {"requestid": requestid} if requestid else {}


def _check_batch(ops: list[BatchOp], requestid: str | None) -> None:
    if not ops:
        raise ValueError("a batch needs at least one operation")
    if len(ops) > MAX_BATCH_ITEMS:
        raise ValueError(f"a batch holds at most {MAX_BATCH_ITEMS} operations, got {len(ops)}")
    if len({op.bid for op in ops}) != len(ops):
        raise ValueError("batch bIds must be unique")
    if requestid is not None:
        if len(requestid) > MAX_BATCH_REQUESTID:
            raise ValueError(f"a batch requestid is limited to {MAX_BATCH_REQUESTID} characters")
        if any(len(op.bid) > MAX_BATCH_BID_WITH_REQUESTID for op in ops):
            raise ValueError(f"with a requestid, bIds are limited to {MAX_BATCH_BID_WITH_REQUESTID} characters")


def _retryable(error: BaseException) -> bool:
    return isinstance(error, ServerError) or (isinstance(error, RateLimited) and not error.fatal)


def error_from_response(response: httpx.Response) -> ApiError:
    """The typed error for a failed HTTP response, from its body and status only."""
    try:
        body = bulk.loads(response.content)
    except ValueError:
        body = None
    error: dict = {}
    if isinstance(body, dict) and isinstance(body.get("Fault"), dict):
        error = (body["Fault"].get("Error") or [{}])[0]
    elif isinstance(body, dict) and isinstance(body.get("fault"), dict):
        # Intuit's gateway (401 and friends) answers in its own lower-case envelope.
        lower = (body["fault"].get("error") or [{}])[0]
        error = {"Message": lower.get("message"), "Detail": lower.get("detail"), "code": lower.get("code"),
                 "element": lower.get("element")}
    return _typed(response.status_code, error, _retry_after(response.headers.get("Retry-After")))


def error_from_fault(fault: dict, status: int) -> ApiError:
    """The typed error for a `Fault` object (a batch item's, or a body's)."""
    return _typed(status, (fault.get("Error") or [{}])[0], None)


def _typed(status: int, error: dict, retry_after: float | None) -> ApiError:
    code = str(error["code"]) if error.get("code") not in (None, "") else None
    message = error.get("Message") or f"HTTP {status}"
    detail = error.get("Detail") or None
    fields = {"service": SERVICE, "status": status, "code": code, "detail": detail}
    if status == 429 or code == "3001":
        return RateLimited(message, retry_after=retry_after, **fields)
    if status in (401, 403) or code == "3200":
        # Auth details may echo part of the token ("Token expired: <token>"): keep only the reason.
        fields["detail"] = detail.split(":", 1)[0] if detail else None
        return AuthenticationFailed(message, **fields)
    if status >= 500:
        return ServerError(message, **fields)
    kind = _TYPED_BY_CODE.get(code or "", ValidationFailed)
    return kind(message, field=error.get("element") or None, **fields)


def _retry_after(value: str | None) -> float | None:
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


def _server_time(value: Any) -> datetime | None:
    """An answer's `time`: ISO 8601 ("2026-11-30T07:36:19.393-08:00"), or epoch milliseconds."""
    try:
        if isinstance(value, (int, float)):
            return datetime.fromtimestamp(value / 1000, timezone.utc)
        return datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None
