"""The app of the local Precoro: a plain WSGI app doing auth, paging, filters, form writes, throttling, faults.

The route table is `routes.py`; the endpoints it is built from are declared in `resources.py`.
"""

from __future__ import annotations

import math
import re
import time
from datetime import date, timedelta
from dataclasses import dataclass, field
from email.utils import formatdate
from functools import cached_property
from http import HTTPStatus
from typing import Any, Callable, Iterable, Mapping
from urllib.parse import quote

from . import faults as fault_kinds
from . import routes
from .dates import parse_modified_since
from .faults import Faults
from .forms import Field, FieldError, FormErrors, FormValue, parse_php_form, validate
from .kinds import KINDS
from .render import compact_json
from .resources import DEFAULT_PER_PAGE, EXTERNAL_ID, PAGE_SIZES, Collection
from .routes import NoRoute
from .state import InvalidChange, PrecoroState, UnknownRecord
from .throttle import Throttle

FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"
ATTACHMENT_PATH = re.compile(r"/attachments/(\d+)")


@dataclass
class Response:
    status: int
    body: Any = None  # JSON-able; None sends no body
    headers: list[tuple[str, str]] = field(default_factory=list)
    file: bytes | None = None  # sent as it is (an attachment's content), with its Content-Type in headers


class HttpError(Exception):
    """Ends a request with this response."""

    def __init__(self, status: int, body: Any) -> None:
        super().__init__(status)
        self.response = Response(status, body)


def _message(status: int, message: str) -> HttpError:
    return HttpError(status, {"code": status, "message": message})


def _validation(errors: dict[str, str], status: int = 422) -> HttpError:
    # The shape the real API uses for field errors (seen with `sumPaid`).
    return HttpError(status, {"errors": {"errors": errors}})


@dataclass
class Request:
    environ: dict[str, Any]

    @property
    def method(self) -> str:
        return self.environ["REQUEST_METHOD"].upper()

    @property
    def path(self) -> str:
        return self.environ.get("PATH_INFO") or "/"

    @property
    def target(self) -> str:
        """Path and query: what makes two GETs identical for the duplicate-request limit."""
        query = self.environ.get("QUERY_STRING", "")
        return f"{self.path}?{query}" if query else self.path

    @cached_property
    def query(self) -> dict[str, FormValue]:
        try:
            return parse_php_form(self.environ.get("QUERY_STRING", ""))
        except FormErrors as errors:
            raise _validation(errors.errors, 400) from None

    def form(self) -> dict[str, FormValue]:
        """The form body. JSON and other bodies are refused: the real API reads forms only."""
        length = int(self.environ.get("CONTENT_LENGTH") or 0)
        body = self.environ["wsgi.input"].read(length) if length > 0 else b""
        content_type = self.environ.get("CONTENT_TYPE", "").split(";")[0].strip().lower()
        if content_type != FORM_CONTENT_TYPE and (content_type or body):
            raise _message(415, f"Unsupported content type {content_type or '(none)'}: send {FORM_CONTENT_TYPE}.")
        try:
            return parse_php_form(body.decode("utf-8"))
        except UnicodeDecodeError:
            raise _message(400, "The body is not valid UTF-8.") from None
        except FormErrors as errors:
            raise _validation(errors.errors) from None


Handler = Callable[[Request, Collection, int | None, int | None], Response]


class PrecoroApp:
    """WSGI callable. Serve it with `engine.local.http.serve_in_thread` or `httpx.WSGITransport`."""

    def __init__(
        self, state: PrecoroState, *, throttle: Throttle | None = None, faults: Faults | None = None,
        lists_with_details: bool = False,
    ) -> None:
        self.state = state
        self.throttle = throttle
        self.faults = faults
        # Like the real API, lists answer summaries and `/{id}` the details. True imitates a Precoro
        # that behaves otherwise, for `qbsync doctor` to find.
        self.lists_with_details = lists_with_details
        self._handlers: dict[str, Handler] = {
            routes.LIST: self._list,
            routes.SHOW: self._show,
            routes.CREATE: self._create,
            routes.UPDATE: self._update,
            routes.PATCH: self._patch,
            routes.DELETE: self._delete,
        }

    def __call__(self, environ: dict[str, Any], start_response: Callable) -> Iterable[bytes]:
        request = Request(environ)
        dropped = False
        try:
            if request.path.startswith("/_local/"):
                response = self._admin(request)
            else:
                response, dropped = self._api(request)
        except HttpError as error:
            response = error.response
        return self._send(response, start_response, dropped=dropped)

    # -- request flow ----------------------------------------------------------------------------

    def _api(self, request: Request) -> tuple[Response, bool]:
        email = request.environ.get("HTTP_EMAIL", "")
        token = request.environ.get("HTTP_X_AUTH_TOKEN", "")
        if not (email and token and self.state.is_user(email, token)):
            raise _message(401, "Invalid credentials: send the X-AUTH-TOKEN and email headers of an API user.")
        if self.throttle is not None:
            refusal = self.throttle.admit(email, request.method, request.target)
            if refusal is not None:
                raise HttpError(429, refusal.body())
        download = ATTACHMENT_PATH.fullmatch(request.path)
        if download and request.method == "GET":
            return self._attachment(int(download[1])), False
        collection, handler, parent, key = self._route(request)
        fault = self.faults.draw(request.method, request.path) if self.faults is not None else None
        if fault == fault_kinds.ERROR:
            raise _message(500, "Internal Server Error")
        if fault == fault_kinds.UNAVAILABLE:
            raise _message(503, "Service Unavailable")
        try:
            response = handler(request, collection, parent, key)
        except HttpError as error:
            response = error.response
        except UnknownRecord as missing:  # deleted by another request since the checks
            response = _message(404, str(missing)).response
        if fault == fault_kinds.ERROR_AFTER:
            raise _message(500, "Internal Server Error")
        return response, fault == fault_kinds.DROP_AFTER

    def _attachment(self, attachment_id: int) -> Response:
        """A document attachment's file, by its id (Precoro's docs: "Download document attachment by
        ID"; the path is our reading, precoro_contract.ATTACHMENT_DOWNLOAD)."""
        found = self.state.attachment(attachment_id)
        if found is None:
            raise _message(404, f"attachment {attachment_id} does not exist")
        disposition = "attachment; filename*=UTF-8''" + quote(found["name"])
        return Response(200, headers=[("Content-Type", found["contentType"]), ("Content-Disposition", disposition)],
                        file=found["content"])

    def _admin(self, request: Request) -> Response:
        if request.path != "/_local/reset":
            raise _message(404, f'No route found for "{request.method} {request.path}"')
        if request.method != "POST":
            raise HttpError(405, {"code": 405, "message": "Method Not Allowed"})
        self.state.reset()
        if self.throttle is not None:
            self.throttle.reset()
        return Response(204)

    def _route(self, request: Request) -> tuple[Collection, Handler, int | None, int | None]:
        try:
            found = routes.match(request.method, request.path)
        except NoRoute as missing:
            if missing.allowed:
                error = _message(405, "Method Not Allowed")
                error.response.headers.append(("Allow", ", ".join(sorted(missing.allowed))))
                raise error from None
            raise _message(404, f'No route found for "{request.method} {request.path}"') from None
        return found.collection, self._handlers[found.action], found.parent, found.key

    # -- handlers --------------------------------------------------------------------------------

    def _list(self, request: Request, collection: Collection, parent: int | None, key: int | None) -> Response:
        self._check_parent(collection, parent)
        query = request.query
        page = _page_number(query.get("page", "1"))
        per_page = _page_size(query.get("per_page", str(DEFAULT_PER_PAGE)))
        spec = KINDS[collection.kind]
        equals: dict[str, Any] = {}
        any_of: dict[str, list[Any]] = {}
        is_set: dict[str, bool] = {}
        ranges: dict[str, tuple[str | None, str | None]] = {}
        updated_since = None
        try:
            for name, list_filter in collection.filters.items():
                if name not in query:
                    continue
                if list_filter.how == "dates":
                    ranges[list_filter.column] = _date_range(query[name], name, list_filter.parse)
                    continue
                values = [list_filter.parse(raw, name) for raw in _values(query[name], name)]
                if list_filter.how == "set" and len(values) == 1:
                    is_set[list_filter.column] = values[0]
                elif list_filter.many:
                    any_of[list_filter.column] = values
                elif len(values) == 1:
                    equals[list_filter.column] = values[0]
                else:
                    raise FieldError(name, "This value should be a single value.")
            if spec.linkable and "external_id" in query:
                any_of["external_id"] = _values(query["external_id"], "external_id")
            if spec.dated and "modifiedSince" in query:
                updated_since = _modified_since(query["modifiedSince"])
        except FieldError as error:
            raise _validation({error.field: error.message}, 400) from None
        if parent is not None:
            equals[spec.owner_column] = parent
        total, records = self.state.page(
            collection.kind,
            equals=equals,
            any_of=any_of,
            updated_since=updated_since,
            is_set=is_set,
            ranges=ranges,
            offset=(page - 1) * per_page,
            limit=per_page,
        )
        if collection.detail_only and not self.lists_with_details:
            records = [{k: v for k, v in record.items() if k not in collection.detail_only} for record in records]
        total_pages = max(1, math.ceil(total / per_page))
        pagination = {
            "total": total,
            "count": len(records),
            "per_page": per_page,
            "current_page": page,
            "total_pages": total_pages,
            "has_next_page": page < total_pages,
        }
        return Response(200, {"data": records, "meta": {"pagination": pagination}})

    def _show(self, request: Request, collection: Collection, parent: int | None, key: int | None) -> Response:
        self._check_member(collection, parent, key)
        return Response(200, self.state.get(collection.kind, key))

    def _create(self, request: Request, collection: Collection, parent: int | None, key: int | None) -> Response:
        self._check_parent(collection, parent)
        values = self._validated(request.form(), collection.create, creating=True)
        if collection.prepare is not None:
            values = collection.prepare(values, None)
        if parent is not None:
            values[KINDS[collection.kind].owner] = parent
        return Response(201, self._write(lambda: self.state.insert(collection.kind, values)))

    def _update(self, request: Request, collection: Collection, parent: int | None, key: int | None) -> Response:
        self._check_member(collection, parent, key)
        values = self._validated(request.form(), collection.update, creating=False)
        if collection.prepare is not None:
            values = collection.prepare(values, self.state.get(collection.kind, key))
        return Response(200, self._write(lambda: self.state.update(collection.kind, key, values)))

    def _patch(self, request: Request, collection: Collection, parent: int | None, key: int | None) -> Response:
        self._check_member(collection, parent, key)
        values = self._validated(request.form(), EXTERNAL_ID, creating=False)
        if "externalId" not in values:
            raise _validation({"externalId": "This value should not be blank."})
        return Response(200, self._write(lambda: self.state.update(collection.kind, key, values)))

    def _delete(self, request: Request, collection: Collection, parent: int | None, key: int | None) -> Response:
        self._check_member(collection, parent, key)
        self._write(lambda: self.state.delete(collection.kind, key))
        return Response(204)

    # -- helpers ---------------------------------------------------------------------------------

    def _validated(self, form: dict[str, FormValue], schema: Mapping[str, Field], *, creating: bool) -> dict[str, Any]:
        try:
            return validate(form, schema, self.state, creating=creating)
        except FormErrors as errors:
            raise _validation(errors.errors) from None

    def _write(self, write: Callable[[], Any]) -> Any:
        try:
            return write()
        except InvalidChange as change:
            raise _validation({change.field: change.message}) from None

    def _check_parent(self, collection: Collection, parent: int | None) -> None:
        if parent is not None and not self.state.exists(collection.parent_kind, parent):
            raise _not_found(collection.parent_kind, parent)

    def _check_member(self, collection: Collection, parent: int | None, key: int) -> None:
        self._check_parent(collection, parent)
        if parent is not None:
            if self.state.owner_of(collection.kind, key) != parent:
                raise _not_found(collection.kind, key)
        elif not self.state.exists(collection.kind, key):
            raise _not_found(collection.kind, key)

    def _send(self, response: Response, start_response: Callable, *, dropped: bool) -> list[bytes]:
        payload = response.file if response.file is not None else \
            b"" if response.body is None else compact_json(response.body).encode("utf-8")
        headers = [*response.headers, ("Date", formatdate(self._wall_clock(), usegmt=True))]
        if response.body is not None:
            headers.append(("Content-Type", "application/json"))
        status = HTTPStatus(response.status)
        if dropped:
            # Promise the whole body (at least one byte), send half of it; the server then closes.
            # A 204 cannot promise a body, so the cut-short answer claims to be a 200.
            headers.append(("Content-Length", str(max(len(payload), 1))))
            payload = payload[: len(payload) // 2]
            if status is HTTPStatus.NO_CONTENT:
                status = HTTPStatus.OK
        elif status is not HTTPStatus.NO_CONTENT:  # a 204 must not carry a Content-Length
            headers.append(("Content-Length", str(len(payload))))
        start_response(f"{status.value} {status.phrase}", headers)
        return [payload]

    def _wall_clock(self) -> float:
        # The throttle's clock when there is one, so the Date and the retry time in a 429 agree.
        return self.throttle.clock() if self.throttle is not None else time.time()


def _not_found(kind: str, key: int) -> HttpError:
    return _message(404, f"{kind} {key} was not found.")


def _values(raw: FormValue, name: str) -> list[str]:
    if isinstance(raw, str):
        return [raw]
    if isinstance(raw, list):
        return raw
    raise FieldError(name, "This value should be a list.")


def _date_range(raw: FormValue, name: str, parse: Callable[[str, str], str]) -> tuple[str | None, str | None]:
    """`name[left_date]` and `name[right_date]` (DD.MM.YYYY, both days included) as [low, high)."""
    if not isinstance(raw, dict) or not raw or set(raw) - {"left_date", "right_date"}:
        raise FieldError(name, f"This value should be sent as {name}[left_date] and/or {name}[right_date].")
    low = parse(_scalar(raw["left_date"], f"{name}[left_date]"), f"{name}[left_date]") if "left_date" in raw else None
    high = None
    if "right_date" in raw:
        last = parse(_scalar(raw["right_date"], f"{name}[right_date]"), f"{name}[right_date]")
        high = (date.fromisoformat(last) + timedelta(days=1)).isoformat()
    return low, high


def _scalar(raw: FormValue, name: str) -> str:
    if not isinstance(raw, str):
        raise FieldError(name, "This value should be a single value.")
    return raw


def _page_number(raw: FormValue) -> int:
    if isinstance(raw, str) and raw.isdigit() and int(raw) >= 1:
        return int(raw)
    raise _validation({"page": "This value should be a whole number of 1 or more."}, 400)


def _page_size(raw: FormValue) -> int:
    if isinstance(raw, str) and raw.isdigit() and int(raw) in PAGE_SIZES:
        return int(raw)
    raise _validation({"per_page": f"This value should be one of {', '.join(map(str, PAGE_SIZES))}."}, 400)


def _modified_since(raw: FormValue) -> str:
    if isinstance(raw, str):
        try:
            return parse_modified_since(raw)
        except ValueError:
            pass
    raise FieldError("modifiedSince", "This value should be a date and time as YYYY-MM-DDTHH:MM:SS.")
