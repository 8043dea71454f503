"""The app of the local QuickBooks Online: a WSGI app with the real paths, envelopes and status codes.

Served over loopback HTTP (`engine.local.http.serve_in_thread`) or in-process
(`httpx.WSGITransport(app=...)`). The routes are few and are matched here (`_route`, then
`_dispatch` under `/v3`), not in a table of their own. Paths, all on one host:

- `/v3/company/{realm}/...` — the Accounting API: `{entity}` create/update/delete, `{entity}/{id}`
  read, `preferences`, `companyinfo/{id}`, `query` (GET `?query=` or POST `application/text`),
  `batch`, `cdc`. Every call needs `Authorization: Bearer <access token of that realm>`.
- `/oauth2/v1/tokens/bearer`, `/oauth2/v1/tokens/revoke`, `/connect/oauth2` (the authorize step of
  a test user; `realmId=` picks the company, as the consent screen would) and the discovery
  document `/.well-known/openid_configuration`, so `intuitlib.AuthClient` can use this host.
- `/_local/{realm}/merge/{entity}`, `/_local/{realm}/purge/{entity}` and `/_local/{realm}/reset` — acts only the QuickBooks web UI can
  do. No bearer token; refused unless the caller is on loopback. `GET /_local/{realm}/download/{id}`:
  an Attachable's file, where the real service hands out a signed S3 address (TempDownloadUri).
- `/v3/company/{realm}/upload` — files to attach (multipart), answered per file (AttachableResponse).

A write with `?requestid=` is answered once and its response stored: a repeat with the same id
(per realm) gets the stored bytes back without running again, whatever time has passed (the
real retention window is unconfirmed).
"""

from __future__ import annotations

import base64
import binascii
import email.policy
import itertools
import json
import re
import time
from dataclasses import dataclass, field
from email.parser import BytesParser
from http import HTTPStatus
from typing import Callable, Iterable
from urllib.parse import parse_qs, urlencode

from . import errors
from .entities import BY_PATH, ENTITIES, Entity
from .errors import QboError
from .faults import Faults, after_write
from .throttle import Throttle
from .oauth import OAuthError
from .state import QuickBooksState

ACCOUNTING_SCOPE = "com.intuit.quickbooks.accounting"
MAX_BATCH_ITEMS = 30
# Intuit's limits on requestid length (fact sheet §3); the refusal text is the real one.
MAX_REQUESTID = 50
MAX_BATCH_REQUESTID = 36
JSON_OK = "application/json;charset=utf-8"
JSON_ERROR = "application/json"
_API_PATH = re.compile(r"^/v3/company/(?P<realm>[^/]+)/(?P<rest>.+)$")
_ADMIN_PATH = re.compile(r"^/_local/(?P<realm>[^/]+)/(?P<rest>.+)$")


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    base_url: str
    remote_addr: str

    @classmethod
    def from_environ(cls, environ: dict) -> "Request":
        length = int(environ.get("CONTENT_LENGTH") or 0)
        # Read the whole body even when unused: closing a socket with unread input resets it.
        body = environ["wsgi.input"].read(length) if length else b""
        query = {key: values[0] for key, values in parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True).items()}
        headers = {key[5:].replace("_", "-").lower(): value for key, value in environ.items() if key.startswith("HTTP_")}
        if environ.get("CONTENT_TYPE"):
            headers["content-type"] = environ["CONTENT_TYPE"]
        host = environ.get("HTTP_HOST") or f"{environ.get('SERVER_NAME', '127.0.0.1')}:{environ.get('SERVER_PORT', '80')}"
        return cls(environ["REQUEST_METHOD"].upper(), environ.get("PATH_INFO", "/"), query, headers, body,
                   f"{environ.get('wsgi.url_scheme', 'http')}://{host}", environ.get("REMOTE_ADDR", ""))

    def json(self) -> dict:
        try:
            parsed = json.loads(self.body or b"null")
        except (ValueError, UnicodeDecodeError) as exc:
            raise errors.unreadable_body(f"Unable to parse the request body as JSON: {exc}") from None
        if not isinstance(parsed, dict):
            raise errors.unreadable_body("The request body must be a JSON object")
        return parsed

    def form(self) -> dict[str, str]:
        """Form fields, or the fields of a JSON object body (the revoke endpoint takes either)."""
        if self.headers.get("content-type", "").startswith("application/json"):
            try:
                parsed = json.loads(self.body or b"{}")
            except (ValueError, UnicodeDecodeError):
                return {}
            return {key: str(value) for key, value in parsed.items()} if isinstance(parsed, dict) else {}
        return {key: values[0] for key, values in parse_qs(self.body.decode("utf-8", "replace")).items()}


@dataclass
class Response:
    status: int
    body: bytes = b""
    content_type: str = JSON_OK
    headers: list[tuple[str, str]] = field(default_factory=list)


def _multipart(request: Request) -> dict[str, dict[str, bytes]]:
    """The parts of a multipart/form-data body by file number: {"01": {"metadata": ..., "content": ...}}."""
    content_type = request.headers.get("content-type", "")
    if not content_type.startswith("multipart/form-data"):
        raise errors.unreadable_body("The request must be multipart/form-data")
    message = BytesParser(policy=email.policy.HTTP).parsebytes(
        f"Content-Type: {content_type}\r\n\r\n".encode("latin-1") + request.body)
    files: dict[str, dict[str, bytes]] = {}
    for part in message.iter_parts() if message.is_multipart() else ():
        name = part.get_param("name", header="content-disposition") or ""
        found = re.fullmatch(r"file_(metadata|content)_(\d+)", str(name))
        if found:
            files.setdefault(found[2], {})[found[1]] = part.get_payload(decode=True) or b""
    return files


def _json_response(status: int, payload: object, headers: Iterable[tuple[str, str]] = ()) -> Response:
    content_type = JSON_OK if status < 400 else JSON_ERROR
    return Response(status, json.dumps(payload, ensure_ascii=False).encode(), content_type, list(headers))


class QuickBooksApp:
    """WSGI callable serving every realm of `state`. Throttling and fault injection are off unless given."""

    def __init__(
        self,
        state: QuickBooksState,
        *,
        throttle: Throttle | None = None,
        faults: Faults | None = None,
        latency: float = 0.0,
    ) -> None:
        self.state = state
        self.throttle = throttle
        self.faults = faults
        # Seconds every Accounting API call takes: makes concurrency limits and benchmarks realistic.
        self.latency = latency
        self._tids = itertools.count(1)

    def __call__(self, environ: dict, start_response: Callable) -> list[bytes]:
        request = Request.from_environ(environ)
        response = self._route(request)
        headers = [("Content-Type", response.content_type), ("Content-Length", str(len(response.body))),
                   ("intuit_tid", self._next_tid()), *response.headers]
        start_response(f"{response.status} {HTTPStatus(response.status).phrase}", headers)
        return [response.body]

    def _next_tid(self) -> str:
        return f"1-{int(self.state.now().timestamp()):08x}-{next(self._tids):024x}"

    def _time(self) -> str:
        return self.state.now().isoformat(timespec="milliseconds")

    def _ok(self, payload: dict) -> Response:
        return _json_response(200, {**payload, "time": self._time()})

    def _fault(self, error: QboError) -> Response:
        return _json_response(error.status, {"Fault": error.fault(), "time": self._time()})

    # -- routing --------------------------------------------------------------------------------

    def _route(self, request: Request) -> Response:
        path = request.path
        if path.startswith("/v3/"):
            match = _API_PATH.match(path)
            if match is None:
                return self._fault(self._unsupported_path(request))
            return self._api(request, match["realm"], match["rest"])
        if path.startswith("/_local/"):
            match = _ADMIN_PATH.match(path)
            if match and request.method == "POST":
                return self._admin(request, match["realm"], match["rest"])
            if match and request.method == "GET" and match["rest"].startswith("download/"):
                return self._download(match["realm"], match["rest"].removeprefix("download/"))
        routes = {
            ("POST", "/oauth2/v1/tokens/bearer"): self._token,
            ("POST", "/oauth2/v1/tokens/revoke"): self._revoke,
            ("GET", "/connect/oauth2"): self._authorize,
            ("GET", "/.well-known/openid_configuration"): self._discovery,
        }
        handler = routes.get((request.method, path.rstrip("/") or "/"))
        if handler is None:
            return _json_response(404, {"error": "not_found", "error_description": f"No resource at {path}"})
        return handler(request)

    @staticmethod
    def _unsupported_path(request: Request) -> QboError:
        return errors.unsupported_operation(
            f"Operation Could not find resource for relative : {request.path} of full path: "
            f"{request.base_url}{request.path} is not supported."
        )

    # -- the Accounting API -----------------------------------------------------------------------

    def _api(self, request: Request, realm: str, rest: str) -> Response:
        problem = self._bearer_problem(request, realm)
        if problem:
            return self._unauthorized(problem)
        if self.throttle:
            wait = self.throttle.enter(realm, batch=rest == "batch")
            if wait is not None:
                return self._throttled(wait)
        try:
            fault = self.faults.draw(request.method, request.path) if self.faults else None
            if fault and not after_write(fault):
                return self._injected(fault)
            if self.latency:
                time.sleep(self.latency)
            try:
                response = self._dispatch(request, realm, rest)
            except QboError as error:
                response = self._fault(error)
            # An after-write fault: the work is done (and stored under its requestid), the answer is lost.
            return self._injected(fault) if fault else response
        finally:
            if self.throttle:
                self.throttle.leave(realm)

    def _bearer_problem(self, request: Request, realm: str) -> str | None:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return "Token invalid: no bearer token in the Authorization header"
        return self.state.oauth.access_problem(token.strip(), realm)

    def _unauthorized(self, detail: str) -> Response:
        # The 401 comes from Intuit's gateway, in its own lower-case envelope (error__401__0.json).
        payload = {
            "warnings": None, "intuitObject": None,
            "fault": {"error": [{"message": "message=AuthenticationFailed; errorCode=003200; statusCode=401",
                                 "detail": detail, "code": "3200", "element": None}],
                      "type": "AUTHENTICATION"},
            "report": None, "queryResponse": None, "batchItemResponse": [], "attachableResponse": [],
            "syncErrorResponse": None, "requestId": None, "time": int(self.state.now().timestamp() * 1000),
            "status": None, "cdcresponse": [],
        }
        return _json_response(401, payload, [("WWW-Authenticate", 'Bearer realm="Intuit", error="invalid_token"')])

    def _throttled(self, wait: int) -> Response:
        error = QboError("3001", "message=ThrottleExceeded; errorCode=003001; statusCode=429",
                         "The request limit was reached.  Try again later", status=429, fault_type="SERVICE")
        response = self._fault(error)
        response.headers.append(("Retry-After", str(wait)))
        return response

    def _injected(self, kind: str) -> Response:
        if kind.startswith("drop"):
            # wsgiref treats this as the client going away: it closes the socket and sends nothing.
            raise ConnectionAbortedError("fault injection: connection dropped")
        status = 503 if kind == "error_503" else 500
        error = QboError("10000", "An application error has occurred while processing your request",
                         "System Failure Error: fault injected by the local QuickBooks", status=status,
                         fault_type="SystemFault")
        return self._fault(error)

    def _dispatch(self, request: Request, realm: str, rest: str) -> Response:
        parts = rest.split("/")
        name = parts[0].lower()
        method = request.method
        if name == "query" and len(parts) == 1 and method in ("GET", "POST"):
            text = request.query.get("query", "") if method == "GET" else request.body.decode("utf-8", "replace")
            if not text.strip():
                raise errors.query_parser_error("Encountered <EOF>: the query is empty")
            found = self.state.query(realm, text).response_json()
            body = f'{{"QueryResponse": {found}, "time": {json.dumps(self._time())}}}'
            return Response(200, body.encode())
        if name == "batch" and len(parts) == 1 and method == "POST":
            return self._stored_once(request, realm, MAX_BATCH_REQUESTID, lambda: self._batch(request, realm))
        if name == "cdc" and len(parts) == 1 and method == "GET":
            return self._cdc(request, realm)
        if name == "upload" and len(parts) == 1 and method == "POST":
            return self._stored_once(request, realm, MAX_REQUESTID, lambda: self._upload(request, realm))
        entity = BY_PATH.get(name)
        if entity is not None:
            if method == "GET" and (len(parts) == 2 or (len(parts) == 1 and entity.kind == "singleton")):
                record_id = "1" if entity.kind == "singleton" else parts[1]
                return self._ok({entity.name: self.state.read(realm, entity, record_id)})
            if method == "POST" and len(parts) == 1:
                return self._stored_once(request, realm, MAX_REQUESTID, lambda: self._write(request, realm, entity))
        raise self._unsupported_path(request)

    def _stored_once(self, request: Request, realm: str, max_length: int, produce: Callable[[], Response]) -> Response:
        """Run a write once per `requestid`; a repeat gets the first response byte for byte."""
        requestid = request.query.get("requestid", "")
        if not requestid:
            return produce()
        if len(requestid) > max_length:
            raise errors.business_rule(
                f"You cannot enter more than {max_length} characters in the request_id field. "
                f"You tried entering {len(requestid)} characters.", "requestid")
        with self.state.atomic():
            stored = self.state.recall(realm, requestid)
            if stored:
                status, body = stored
                return Response(status, body, JSON_OK if status < 400 else JSON_ERROR)
            try:
                response = produce()
            except QboError as error:
                response = self._fault(error)
            self.state.remember(realm, requestid, response.status, response.body)
            return response

    def _write(self, request: Request, realm: str, entity: Entity) -> Response:
        body = request.json()
        operation = request.query.get("operation", "")
        if operation == "delete":
            result = self.state.delete(realm, entity.name, body)
        elif operation == "update" and request.query.get("include") == "void":
            result = self.state.void(realm, entity.name, body)
        elif operation in ("", "create", "update"):
            is_update = entity.kind == "singleton" or body.get("Id") not in (None, "")
            result = (self.state.update if is_update else self.state.insert)(realm, entity.name, body)
        else:
            raise errors.unsupported_operation(f"Operation {operation} is not supported.")
        return self._ok({entity.name: result})

    def _batch(self, request: Request, realm: str) -> Response:
        items = request.json().get("BatchItemRequest")
        if not isinstance(items, list) or not items:
            raise errors.required_missing("BatchItemRequest")
        if len(items) > MAX_BATCH_ITEMS:
            raise errors.batch_too_large(MAX_BATCH_ITEMS)
        answers = []
        for item in items:
            bid = item.get("bId") if isinstance(item, dict) else None
            try:
                if not bid:
                    raise errors.required_missing("bId")
                answers.append({**self._batch_item(realm, item), "bId": bid})
            except QboError as error:
                answers.append({"Fault": error.fault(), "bId": bid})
        return self._ok({"BatchItemResponse": answers})

    def _batch_item(self, realm: str, item: dict) -> dict:
        if "Query" in item:
            return {"QueryResponse": self.state.query(realm, str(item["Query"])).response()}
        named = [key for key in item if key in ENTITIES]
        if len(named) != 1 or not isinstance(item[named[0]], dict):
            raise errors.required_missing("BatchItemRequest entity")
        entity, body = named[0], item[named[0]]
        operations = {"create": self.state.insert, "update": self.state.update, "delete": self.state.delete}
        if item.get("operation") == "update" and item.get("optionsData") == "void":
            operations["update"] = self.state.void
        operation = operations.get(item.get("operation", ""))
        if operation is None:
            raise errors.invalid_enumeration("operation", item.get("operation"))
        return {entity: operation(realm, entity, body)}

    def _upload(self, request: Request, realm: str) -> Response:
        """`POST /upload`, multipart/form-data: for each NN a `file_metadata_NN` part (the Attachable
        as JSON) and its `file_content_NN` (the file, raw or base64 with Content-Transfer-Encoding).
        Each file succeeds or fails alone: `AttachableResponse[]` holds an Attachable or a Fault
        per file, in the order of their numbers (attachment__create_for_invoice__0,
        attachment__error_estimate__0)."""
        files = _multipart(request)
        if not files:
            raise errors.required_missing("file_content_01")
        answers = []
        for number in sorted(files):
            metadata, content = files[number].get("metadata"), files[number].get("content")
            try:
                if content is None:
                    raise errors.required_missing(f"file_content_{number}")
                try:
                    parsed = json.loads(metadata or b"{}")
                except ValueError:
                    raise errors.unreadable_body(f"file_metadata_{number} is not JSON") from None
                if not isinstance(parsed, dict):
                    raise errors.unreadable_body(f"file_metadata_{number} must be a JSON object")
                answers.append({"Attachable": self.state.attach(realm, parsed, content, request.base_url)})
            except QboError as error:
                answers.append({"Fault": error.fault()})
        return self._ok({"AttachableResponse": answers})

    def _cdc(self, request: Request, realm: str) -> Response:
        for name in ("entities", "changedSince"):
            if not request.query.get(name):
                raise errors.required_missing(name)
        names = [name for name in request.query["entities"].split(",") if name.strip()]
        found = self.state.cdc(realm, names, request.query["changedSince"])
        return self._ok({"CDCResponse": [{"QueryResponse": found}]})

    # -- OAuth ----------------------------------------------------------------------------------

    def _token(self, request: Request) -> Response:
        try:
            form = request.form()
            client_id = self._client(request, form)
            grant_type = form.get("grant_type", "")
            if grant_type == "refresh_token" and form.get("refresh_token"):
                tokens = self.state.oauth.refresh(client_id, form["refresh_token"])
            elif grant_type == "authorization_code" and form.get("code") and form.get("redirect_uri"):
                tokens = self.state.oauth.exchange_code(client_id, form["code"], form["redirect_uri"])
            elif grant_type in ("refresh_token", "authorization_code"):
                raise OAuthError("invalid_request", "A required parameter is missing.")
            else:
                raise OAuthError("unsupported_grant_type", f"Unsupported grant_type {grant_type!r}.")
        except OAuthError as error:
            return self._oauth_error(error)
        if request.headers.get("x-include-refresh-token-hard-expires-in", "").lower() != "true":
            tokens.pop("x_refresh_token_hard_expires_in")  # Intuit says the grant's end only when asked
        return _json_response(200, tokens, [("Cache-Control", "no-store"), ("Pragma", "no-cache")])

    def _revoke(self, request: Request) -> Response:
        try:
            form = request.form()
            client_id = self._client(request, form)
            if not form.get("token"):
                raise OAuthError("invalid_request", "The token parameter is missing.")
        except OAuthError as error:
            return self._oauth_error(error)
        self.state.oauth.revoke(client_id, form["token"])
        return Response(200, b"", JSON_OK)

    def _client(self, request: Request, form: dict[str, str]) -> str:
        """Authenticate the app: HTTP Basic (`client_secret_basic`) or form fields (`client_secret_post`)."""
        scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() == "basic":
            try:
                client_id, _, client_secret = base64.b64decode(encoded.strip()).decode().partition(":")
            except (binascii.Error, UnicodeDecodeError):
                raise OAuthError("invalid_client", "Malformed Basic credentials.", status=401) from None
        else:
            client_id, client_secret = form.get("client_id", ""), form.get("client_secret", "")
        self.state.oauth.authenticate_client(client_id, client_secret)
        return client_id

    @staticmethod
    def _oauth_error(error: OAuthError) -> Response:
        headers = [("WWW-Authenticate", 'Basic realm="Intuit"')] if error.status == 401 else []
        return _json_response(error.status, {"error": error.error, "error_description": error.description}, headers)

    def _authorize(self, request: Request) -> Response:
        params = request.query
        redirect_uri = params.get("redirect_uri", "")
        if not self.state.oauth.known_client(params.get("client_id", "")):
            return self._oauth_error(OAuthError("invalid_client", "Unknown client_id."))
        if not redirect_uri.startswith(("http://", "https://")):
            return self._oauth_error(OAuthError("invalid_request", "A valid redirect_uri is required."))
        if params.get("response_type") != "code":
            return self._oauth_error(OAuthError("unsupported_response_type", "Only response_type=code is supported."))
        if ACCOUNTING_SCOPE not in params.get("scope", "").split():
            return self._oauth_error(OAuthError("invalid_scope", f"The scope must include {ACCOUNTING_SCOPE}."))
        realm = params.get("realmId") or self.state.default_realm
        code = self.state.oauth.authorize(params["client_id"], redirect_uri, realm)
        answer = {"code": code, "state": params.get("state", ""), "realmId": realm}
        separator = "&" if "?" in redirect_uri else "?"
        return Response(302, b"", JSON_OK, [("Location", f"{redirect_uri}{separator}{urlencode(answer)}")])

    def _discovery(self, request: Request) -> Response:
        base = request.base_url
        return _json_response(200, {
            "issuer": base,
            "authorization_endpoint": f"{base}/connect/oauth2",
            "token_endpoint": f"{base}/oauth2/v1/tokens/bearer",
            "revocation_endpoint": f"{base}/oauth2/v1/tokens/revoke",
            # Not served here; present because intuitlib reads them from the document.
            "userinfo_endpoint": f"{base}/v1/openid_connect/userinfo",
            "jwks_uri": f"{base}/op/v1/jwks",
            "response_types_supported": ["code"],
            "scopes_supported": [ACCOUNTING_SCOPE],
            "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic"],
        })

    # -- admin ----------------------------------------------------------------------------------

    def _download(self, realm: str, record_id: str) -> Response:
        """An Attachable's file at its TempDownloadUri (the real one is a signed S3 address)."""
        record = self.state.get(realm, "Attachable", record_id) if record_id.isdigit() else None
        content = self.state.file(realm, record_id) if record else None
        if content is None:
            return _json_response(404, {"error": "not_found", "error_description": "No such file"})
        return Response(200, content, record.get("ContentType") or "application/octet-stream")

    def _admin(self, request: Request, realm: str, rest: str) -> Response:
        if not (request.remote_addr.startswith("127.") or request.remote_addr == "::1"):
            return _json_response(403, {"error": "forbidden", "error_description": "/_local is for loopback only"})
        parts = rest.split("/")
        try:
            if parts == ["reset"]:
                self.state.reset(realm)
                return self._ok({"reset": realm})
            if len(parts) == 2 and parts[0] == "merge" and parts[1].lower() in BY_PATH:
                body = request.json()
                duplicate, survivor = self.state.merge(
                    realm, BY_PATH[parts[1].lower()].name, body.get("duplicate"), body.get("survivor"))
                return self._ok({"duplicate": duplicate, "survivor": survivor})
            if len(parts) == 2 and parts[0] == "purge" and parts[1].lower() in BY_PATH:
                gone = self.state.purge(realm, BY_PATH[parts[1].lower()].name, request.json().get("Id"))
                return self._ok({"purged": gone})
        except QboError as error:
            return self._fault(error)
        return _json_response(404, {"error": "not_found", "error_description": f"No admin action {rest}"})
