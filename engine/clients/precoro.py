"""httpx client of the Precoro API (api.precoro.com, api.precoro.us, or the local one).

Reads page to the end; writes are form-encoded with PHP-style keys (`encode_form`); failures
become the typed errors of `errors.py`. Retries (the shared `RetryPolicy`): reads on 429, 5xx and
connection errors; writes only when the server provably did not run them (429, which is refused
before execution, or a connection that never opened). A write that met a 5xx or a broken
connection raises ServerError at once: its outcome is unknown, and the apply looks for what it may
have done before it sends it again.
"""

from __future__ import annotations

import math
import time
from datetime import datetime, timezone
from decimal import Decimal
from email.utils import parsedate_to_datetime
from typing import Any, Callable, Iterator, Mapping
from urllib.parse import urlencode

import httpx

from .. import bulk
from . import precoro_contract as contract
from .retry import RetryPolicy, sleep_unless_stopped
from .errors import (
    ApiError,
    AuthenticationFailed,
    NotFound,
    RateLimited,
    ServerError,
    ValidationFailed,
    no_answer,
)

SERVICE = "precoro"
PAGE_SIZES = contract.PAGE_SIZES
LIST_PAGE = PAGE_SIZES[-1]  # records a page `list_all` asks for: the most Precoro gives
DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=10.0)
# The real service allows 1 request/second; pass this as `min_interval` for it.
REAL_SERVICE_MIN_INTERVAL = contract.REQUEST_INTERVAL
DAILY_LIMITER = contract.DAILY_LIMITER
_BACKOFF_FIRST = 0.5  # an unreadable retry time waits one backoff step
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout)

Form = Mapping[str, Any]


def encode_form(data: Form) -> list[tuple[str, str]]:
    """Flatten a dict into PHP-style form pairs, the only write format Precoro reads.

    Lists become `key[]` (an empty list sends nothing), dicts `key[sub]`, booleans lowercase
    "true"/"false" (Python's "True" is refused by the API), None an empty value (clears a field).
    """
    pairs: list[tuple[str, str]] = []
    for key, value in data.items():
        _flatten(str(key), value, pairs)
    return pairs


def _flatten(key: str, value: Any, pairs: list[tuple[str, str]]) -> None:
    if isinstance(value, Mapping):
        for sub, item in value.items():
            _flatten(f"{key}[{sub}]", item, pairs)
    elif isinstance(value, (list, tuple)):
        for item in value:
            if isinstance(item, (Mapping, list, tuple)):
                raise TypeError(f"{key}: lists of lists or dicts have no unambiguous form encoding")
            pairs.append((f"{key}[]", _scalar(item)))
    else:
        pairs.append((key, _scalar(value)))


def _scalar(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):  # before int: bool is an int
        return "true" if value else "false"
    if isinstance(value, (str, int, float, Decimal)):
        return str(value)
    raise TypeError(f"cannot form-encode a {type(value).__name__}")


def format_modified_since(moment: datetime | str) -> str:
    """`modifiedSince` as the API reads it: "YYYY-MM-DDTHH:MM:SS" (aware datetimes sent in UTC)."""
    if isinstance(moment, str):
        return moment
    if moment.tzinfo is not None:
        moment = moment.astimezone(timezone.utc)
    return moment.strftime(contract.MODIFIED_SINCE_FORMAT)


class PrecoroClient:
    """One Precoro company seen through one API user's key.

    `min_interval` spaces requests (REAL_SERVICE_MIN_INTERVAL for the real service, 0 locally).
    A 429 whose retry time is more than `max_wait` seconds away is raised (RateLimited with
    `retry_after`) instead of slept through, so the engine can stop and resume later.
    `requests_sent` counts HTTP requests, retries included.
    """

    def __init__(
        self,
        base_url: str,
        email: str,
        token: str,
        *,
        transport: httpx.BaseTransport | None = None,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        min_interval: float = 0.0,
        max_retries: int = 5,
        max_wait: float = 120.0,
        sleep: Callable[[float], None] = sleep_unless_stopped,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._http = httpx.Client(
            base_url=base_url.rstrip("/"),
            headers={"X-AUTH-TOKEN": token, "email": email, "Accept": "application/json"},
            transport=transport,
            timeout=timeout,
        )
        self.min_interval = min_interval
        self.retry = RetryPolicy(attempts=max_retries + 1, max_wait=max_wait)
        self._sleep = sleep
        self._clock = clock
        self._last_sent: float | None = None
        self.requests_sent = 0
        self.server_time: datetime | None = None
        """The time on Precoro's clock of its latest answer (its Date header): where a later
        `modifiedSince` read starts, free of this machine's clock (W11)."""

    # -- reads -----------------------------------------------------------------------------------

    def list_all(
        self,
        path: str,
        params: Form | None = None,
        *,
        per_page: int = LIST_PAGE,
        modified_since: datetime | str | None = None,
        on_total: Callable[[int], None] | None = None,
        start_page: int = 1,
        on_page: Callable[[int, list[dict[str, Any]]], None] | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Every record of a list endpoint, page after page: ceil(N / per_page) requests.
        `on_total(n)`: told how many records the list holds, from the first page's pagination.
        `start_page`: where to begin (a read cut short goes on there); `on_page(page, records)`:
        told of each page before its records are handed out."""
        if per_page not in PAGE_SIZES:
            raise ValueError(f"per_page must be one of {PAGE_SIZES}")
        query = encode_form(params or {})
        if modified_since is not None:
            query.append((contract.MODIFIED_SINCE, format_modified_since(modified_since)))
        page = start_page
        while True:
            body = self._request("GET", path, params=[("page", str(page)), ("per_page", str(per_page)), *query])
            records = body.get("data", [])
            pagination = body.get("meta", {}).get("pagination", {})
            total = pagination.get(contract.PAGINATION_TOTAL)
            if page == start_page and on_total is not None and isinstance(total, int):
                on_total(total)
            if on_page is not None:
                on_page(page, records)
            yield from records
            if not _has_next_page(pagination, len(records), per_page):
                return
            page += 1

    def count(self, path: str, params: Form | None = None) -> int | None:
        """How many records a list holds, from its pagination's `total`, in one small request; None
        when the answer does not say. Its `modifiedSince`, long before any record, varies with the
        clock only so that two counts are never identical GETs (refused within a minute)."""
        moment = datetime.fromtimestamp(time.time(), timezone.utc)
        query = [("page", "1"), ("per_page", str(PAGE_SIZES[0])), *encode_form(params or {}),
                 ("modifiedSince", f"2000-01-01T00:{moment:%M:%S}")]
        pagination = self._request("GET", path, params=query).get("meta", {}).get("pagination", {})
        total = pagination.get(contract.PAGINATION_TOTAL)
        return total if isinstance(total, int) else None

    def first_page(self, path: str, params: Form | None = None, *, per_page: int = 10) -> dict[str, Any]:
        """The whole answer (data and meta) of a list's first page: for looking, not for reading a list."""
        query = [("page", "1"), ("per_page", str(per_page)), *encode_form(params or {})]
        return self._request("GET", path, params=query)

    def get(self, path: str) -> dict[str, Any]:
        return self._request("GET", path)

    def download(self, path: str) -> tuple[bytes, str]:
        """A file (a document's attachment): its bytes and its Content-Type."""
        return self._request("GET", path, raw=True)

    def details(self, collection: str, summary: Mapping[str, Any]) -> dict[str, Any]:
        """The full record of a list's summary row: lists answer summaries, `/{id}` (documents:
        `/{idn}`) the lines, contacts and custom fields (the contract's DETAIL_ONLY_FIELDS)."""
        return self.get(f"{collection}/{record_key(collection, summary)}")

    def find_by_external_id(self, collection: str, external_id: str) -> dict[str, Any] | None:
        """The first record of a collection whose externalId is this one (a summary), or None."""
        found = self.list_all(collection, params={contract.EXTERNAL_ID_FILTER: [external_id]}, per_page=10)
        return next(iter(found), None)

    def set_external_id(self, collection: str, key: Any, external_id: str) -> dict[str, Any] | None:
        """PATCH the record's externalId: the only way Precoro sets it (never on POST)."""
        return self.patch(f"{collection}/{key}", {contract.EXTERNAL_ID: external_id})

    # -- writes ----------------------------------------------------------------------------------

    def create(self, path: str, data: Form) -> dict[str, Any]:
        return self._request("POST", path, form=data)

    def update(self, path: str, data: Form) -> dict[str, Any]:
        """PUT: the fields given change, others stay."""
        return self._request("PUT", path, form=data)

    def patch(self, path: str, data: Form) -> dict[str, Any]:
        """PATCH: sets `externalId` on the record."""
        return self._request("PATCH", path, form=data)

    def delete(self, path: str) -> None:
        self._request("DELETE", path)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> PrecoroClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the one request path --------------------------------------------------------------------

    def _request(
        self, method: str, path: str, *, params: list[tuple[str, str]] | None = None, form: Form | None = None,
        raw: bool = False,
    ) -> Any:
        """The parsed JSON answer (None for an empty body), after the retries `method` allows; `raw`:
        the body as it came, with its Content-Type."""
        content = headers = None
        if form is not None:
            content = urlencode(encode_form(form)).encode("ascii")
            headers = {"Content-Type": contract.FORM_CONTENT_TYPE}

        def attempt() -> Any:
            self._wait_turn()
            self.requests_sent += 1
            return self._exchange(method, path, params, content, headers, raw)

        def retryable(error: BaseException) -> bool:
            if isinstance(error, RateLimited):
                return True  # refused before it ran: safe to send again, writes included
            # A read may be sent again; a write only if the connection never opened.
            return isinstance(error, ServerError) and (method == "GET" or isinstance(error.__cause__, _NOT_SENT))

        return self.retry.run(attempt, retryable=retryable, sleep=self._sleep, label=f"Precoro {method} {path}")

    def _exchange(
        self, method: str, path: str, params: list[tuple[str, str]] | None, content: bytes | None, headers: dict | None,
        raw: bool = False,
    ) -> Any:
        try:
            response = self._http.request(method, path, params=params, content=content, headers=headers)
        except httpx.TransportError as exc:
            raise no_answer(exc, SERVICE, self._http.base_url, method, path, reading=method == "GET") from exc
        self.server_time = _server_date(response.headers.get("Date")) or self.server_time
        if response.status_code >= 400:
            raise _error(response, method, path)
        if raw:
            return response.content, response.headers.get("Content-Type", "application/octet-stream")
        if not response.content:
            return None
        try:
            return bulk.loads(response.content)
        except ValueError:
            # A 2xx whose body was cut short: the server or a proxy died mid-response.
            raise ServerError(
                f"{method} {path}: unreadable response", service=SERVICE, status=response.status_code
            ) from None

    def _wait_turn(self) -> None:
        if self.min_interval > 0 and self._last_sent is not None:
            wait = self._last_sent + self.min_interval - self._clock()
            if wait > 0:
                self._sleep(wait)
        self._last_sent = self._clock()


def _has_next_page(pagination: Mapping[str, Any], count: int, per_page: int) -> bool:
    if contract.PAGINATION_NEXT in pagination:
        return bool(pagination[contract.PAGINATION_NEXT])
    # Older payloads carry only current_page/total_pages.
    current, pages = contract.PAGINATION_PAGES
    if current in pagination and pages in pagination:
        return int(pagination[current]) < int(pagination[pages])
    return count == per_page


def record_key(collection: str, record: Mapping[str, Any]) -> Any:
    """What addresses a record in its collection: a document's (or a payment's) idn, anything else's id."""
    return record["idn"] if collection in contract.IDN_COLLECTIONS else record["id"]


def _body(response: httpx.Response) -> dict[str, Any]:
    try:
        body = bulk.loads(response.content)
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _error(response: httpx.Response, method: str, path: str) -> ApiError:
    """The typed error of a 4xx/5xx answer; the message comes from the body only."""
    status = response.status_code
    if status == 429:
        return _rate_limited(response, method, path)
    body = _body(response)
    errors = body.get("errors")
    field_errors = errors.get("errors") if isinstance(errors, dict) else None
    kwargs = {"service": SERVICE, "status": status, "code": str(status)}
    if isinstance(field_errors, dict) and field_errors:
        detail = "; ".join(f"{field}: {message}" for field, message in field_errors.items())
        field = next(iter(field_errors))
        return ValidationFailed(f"{method} {path}: {field_errors[field]}", detail=detail, field=field, **kwargs)
    message = f"{method} {path}: {body.get('message') or body.get('error') or f'HTTP {status}'}"
    if status == 401:
        return AuthenticationFailed(message, **kwargs)
    if status == 404:
        return NotFound(message, **kwargs)
    if status in (400, 415, 422):
        return ValidationFailed(message, **kwargs)
    if status >= 500:
        return ServerError(message, **kwargs)
    return ApiError(message, **kwargs)


def _rate_limited(response: httpx.Response, method: str, path: str) -> RateLimited:
    body = _body(response)
    limiter = str(body.get("RateLimit-Type", ""))
    return RateLimited(
        f"{method} {path}: {body.get('error', 'Too many requests')} ({limiter or 'unknown limiter'})",
        retry_after=_seconds_until(body.get("RateLimit-Retry-After"), response.headers.get("Date")),
        fatal=limiter == DAILY_LIMITER,
        service=SERVICE,
        status=429,
        code="429",
        detail=limiter or None,
    )


def _server_date(header: str | None) -> datetime | None:
    try:
        return parsedate_to_datetime(header) if header else None
    except (TypeError, ValueError):
        return None


def _seconds_until(retry_at: Any, server_date: str | None) -> float:
    """Seconds to wait, measured on the server's clock (its Date header) when it sent one.

    Precoro puts the retry time in the body as "YYYY-MM-DD HH:MM:SS UTC". Subtracting the
    response's own Date keeps a skewed local clock out of it. Unknown -> one backoff step.
    """
    try:
        retry = datetime.strptime(str(retry_at), contract.RETRY_AFTER_FORMAT).replace(tzinfo=timezone.utc)
    except ValueError:
        return _BACKOFF_FIRST
    now = _server_date(server_date) or datetime.now(timezone.utc)
    return float(max(0, math.ceil((retry - now).total_seconds())))
