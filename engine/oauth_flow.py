"""Connecting the real services: QuickBooks' OAuth 2.0 authorization-code flow, Precoro's API key.

The QuickBooks flow works over SSH with no browser on the machine: `QuickBooksAuthorization` gives
the URL to open anywhere, the operator pastes back the URL the browser ends on (or, with a
browser on this machine, `RedirectListener` catches it on loopback), and `finish()` checks the
`state`, exchanges the code and stores the connection. Secrets live only in the state file's
tokens table (owner-only); nothing returned or raised here contains one.
"""

from __future__ import annotations

import hmac
import http.server
import ipaddress
import secrets
import socket
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx

from rules.model import Rules

from .clients.auth import OAuthSession, OAuthTokens
from .clients.errors import ApiError, AuthenticationFailed, ServerError
from .clients.precoro import PrecoroClient
from .clients.quickbooks import QuickBooksClient
from .connections import (QUICKBOOKS_TOKEN_URL, QuickBooksEndpoints, iso_time, precoro_base_url, quickbooks_endpoints,
                          revoke_url_for)
from .errors import ConnectRefused
from .store import Store

ACCOUNTING_SCOPE = "com.intuit.quickbooks.accounting"
# Any URL registered with the Intuit app works; nothing needs to listen on it unless `--listen`.
DEFAULT_REDIRECT_URI = "http://localhost:8765/callback"
PRECORO_KEY_PAGE = "Configuration -> Integrations -> API Key"


@dataclass(frozen=True, repr=False)
class RedirectAnswer:
    """What QuickBooks put on the redirect URL: the one-time code, the state, the company."""

    code: str
    state: str
    realm_id: str | None

    def __repr__(self) -> str:
        return f"RedirectAnswer(code='***', state='***', realm_id={self.realm_id!r})"


def authorization_url(authorize_url: str, client_id: str, redirect_uri: str, state: str,
                      scope: str = ACCOUNTING_SCOPE) -> str:
    query = urlencode({"client_id": client_id, "response_type": "code", "scope": scope,
                       "redirect_uri": redirect_uri, "state": state})
    return f"{authorize_url}{'&' if '?' in authorize_url else '?'}{query}"


def parse_redirect(pasted: str) -> RedirectAnswer:
    """Read the URL the browser ended on, whole or just its query (`code=...&state=...`)."""
    text = pasted.strip().strip("'\"<>")
    if not text:
        raise ConnectRefused("no redirect URL was given; nothing was saved")
    # A whole URL, `/callback?code=...`, `?code=...` or `code=...`.
    query = urlsplit(text).query if "://" in text else text.split("#", 1)[0].split("?", 1)[-1]
    params = {key: values[0] for key, values in parse_qs(query).items()}
    if "error" in params:
        reason = params.get("error_description") or params["error"]
        raise ConnectRefused(f"QuickBooks did not authorize the app ({params['error']}: {reason}); nothing was saved")
    if not params.get("code") or "state" not in params:
        raise ConnectRefused("the pasted text has no `code` and `state`: paste the whole URL the browser ended on "
                             "(it starts with the redirect URI); nothing was saved")
    return RedirectAnswer(params["code"], params["state"], params.get("realmId"))


def check_state(expected: str, received: str) -> None:
    """Refuse an answer to another request (CSRF, or a stale tab): constant-time comparison."""
    if not hmac.compare_digest(expected.encode(), received.encode()):
        raise ConnectRefused("the `state` in the pasted URL does not match this request (an old browser tab, or "
                             "not ours): run `qbsync connect quickbooks` again; nothing was saved")


def app_credentials(store: Store, environment: str, env: Mapping[str, str]) -> tuple[str | None, str | None]:
    """The Intuit app's client id and secret known without asking: the environment's, else those of
    the stored connection of the same environment (a reconnect needs no retyping). The secret is
    only taken with its own id."""
    stored = store.get_tokens("quickbooks") or {}
    if stored.get("environment") not in (None, environment):
        stored = {}
    client_id = env.get("QUICKBOOKS_CLIENT_ID") or stored.get("client_id")
    secret = env.get("QUICKBOOKS_CLIENT_SECRET") if env.get("QUICKBOOKS_CLIENT_ID") else None
    if not secret and stored.get("client_id") == client_id:
        secret = stored.get("client_secret")
    return client_id or None, secret or None


def flow_endpoints(rules: Rules, environment: str | None = None, *, authorize_url: str | None = None,
                   token_url: str | None = None) -> QuickBooksEndpoints:
    """Where to authorize and exchange for `environment` (default: the rules'), with overrides.
    Refused for the embedded local API, which has nothing to connect."""
    ep = quickbooks_endpoints(rules.connections.quickbooks, environment)
    if ep.embedded and not (authorize_url and token_url):
        raise ConnectRefused(
            "the embedded local QuickBooks needs no connecting (it starts with its own credentials); to connect a "
            "served local API, point connections.quickbooks.base_url at it, or pass --authorize-url and --token-url")
    token = token_url or ep.token_url
    return QuickBooksEndpoints(ep.environment, ep.api_base_url, authorize_url or ep.authorize_url, token,
                               ep.revoke_url if token == ep.token_url else revoke_url_for(token))


@dataclass
class QuickBooksAuthorization:
    """One run of the authorization-code flow: `url` to open, then `finish(pasted)`."""

    rules: Rules
    store: Store
    endpoints: QuickBooksEndpoints
    client_id: str
    client_secret: str = field(repr=False)
    redirect_uri: str = DEFAULT_REDIRECT_URI
    transport: httpx.BaseTransport | None = None
    clock: Callable[[], float] = time.time
    state: str = field(default_factory=lambda: secrets.token_urlsafe(24), repr=False)

    def __post_init__(self) -> None:
        self.environment = self.endpoints.environment
        if not self.redirect_uri.startswith(("http://", "https://")):
            raise ConnectRefused(f"the redirect URI must be an http(s) URL registered with the Intuit app; "
                                 f"got {self.redirect_uri!r}")

    @property
    def url(self) -> str:
        return authorization_url(self.endpoints.authorize_url, self.client_id, self.redirect_uri, self.state)

    def finish(self, pasted: str) -> dict[str, Any]:
        """Check the answer, exchange its code, store the connection; returns what to tell the
        operator (no secrets): environment, realm, company, token expiry, warnings."""
        answer = parse_redirect(pasted)
        check_state(self.state, answer.state)
        if not answer.realm_id:
            raise ConnectRefused("the pasted URL has no `realmId`: QuickBooks names the company there; paste the whole "
                                 "URL; nothing was saved")
        record = {
            "client_id": self.client_id, "client_secret": self.client_secret, "realm_id": answer.realm_id,
            "environment": self.environment, "token_url": self.endpoints.token_url,
            "revoke_url": self.endpoints.revoke_url, "connected_at": iso_time(self.clock()),
        }

        def persist(tokens: OAuthTokens) -> None:
            # A new grant: whatever was stored before (another company, an older chain) is replaced.
            self.store.set_tokens("quickbooks", {
                **record, "access_token": tokens.access_token, "access_expires_at": tokens.access_expires_at,
                "refresh_token": tokens.refresh_token, "refresh_expires_at": tokens.refresh_expires_at,
                "grant_ends_at": tokens.grant_ends_at,
            })

        session = OAuthSession(self.endpoints.token_url, self.client_id, self.client_secret, None, on_rotate=persist,
                               revoke_url=self.endpoints.revoke_url, transport=self.transport, clock=self.clock)
        try:
            try:
                tokens = session.exchange_code(answer.code, self.redirect_uri)
            except ApiError as exc:
                # A code works once and for minutes; a wrong client secret shows here too.
                raise ConnectRefused(f"{exc}; nothing was saved") from None
            result = {
                "environment": self.environment, "realm_id": answer.realm_id, "company": None,
                "access_token_expires_at": iso_time(tokens.access_expires_at),
                "refresh_token_expires_at": iso_time(tokens.refresh_expires_at),
                "grant_ends_at": iso_time(tokens.grant_ends_at),
                "warnings": self._warnings(answer.realm_id),
            }
            if self.endpoints.api_base_url:
                try:
                    client = QuickBooksClient(self.endpoints.api_base_url, answer.realm_id, session,
                                              transport=self.transport, max_retries=1)
                    try:
                        result["company"] = client.company_info().get("CompanyName")
                    finally:
                        client.close()
                except ApiError as exc:  # connected all the same; status will say more
                    result["warnings"].append(f"connected, but the company's name could not be read: {exc}")
            return result
        finally:
            session.close()

    def _warnings(self, realm: str) -> list[str]:
        qbc = self.rules.connections.quickbooks
        out = []
        if qbc.environment != self.environment:
            out.append(f"rules.yaml says connections.quickbooks.environment: {qbc.environment}; set it to "
                       f"{self.environment} to sync with this connection")
        if qbc.realm_id and qbc.realm_id != realm:
            out.append(f"rules.yaml names company {qbc.realm_id} but you chose {realm}; syncs use the one in "
                       f"rules.yaml: change connections.quickbooks.realm_id or remove it")
        return out


class RedirectListener:
    """A one-shot HTTP listener on the loopback redirect URI, for when the browser is on this
    machine. Bound when made (so the port is ready before the URL is shown); `wait()` returns the
    full URL of the first request carrying `code` or `error`."""

    def __init__(self, redirect_uri: str) -> None:
        parts = urlsplit(redirect_uri)
        host = parts.hostname or ""
        if parts.scheme != "http" or not _is_loopback(host):
            raise ConnectRefused(f"--listen needs an http://localhost or http://127.0.0.1 redirect URI; got {redirect_uri!r}")
        self.redirect_uri = redirect_uri
        self._path = parts.path or "/"
        self._received: str | None = None
        listener = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
                target = urlsplit(self.path)
                params = parse_qs(target.query)
                if target.path != listener._path or not ({"code", "error"} & set(params)):
                    self.send_error(404)
                    return
                listener._received = f"{parts.scheme}://{parts.netloc}{self.path}"
                body = (b"<!doctype html><title>qbsync</title><p>qbsync received QuickBooks' answer. "
                        b"You can close this tab and go back to the terminal.</p>")
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:  # the query holds the code: never logged
                pass

        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        server_class = type("Server", (http.server.HTTPServer,), {"address_family": family})
        bind_host = "127.0.0.1" if host == "localhost" else host
        try:
            self._server = server_class((bind_host, 80 if parts.port is None else parts.port), Handler)
        except OSError as exc:
            raise ConnectRefused(f"cannot listen on {parts.netloc} ({exc.strerror}); paste the URL instead of "
                                 f"--listen, or choose another --redirect-uri") from None

    def wait(self, timeout: float = 300.0) -> str:
        deadline = time.monotonic() + timeout
        while self._received is None:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise ConnectRefused(f"no answer reached {self.redirect_uri} within {timeout:.0f} s; nothing was saved")
            self._server.timeout = min(remaining, 1.0)
            self._server.handle_request()
        return self._received

    def close(self) -> None:
        self._server.server_close()

    def __enter__(self) -> "RedirectListener":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def connect_precoro(rules: Rules, store: Store, email: str, token: str, *, environment: str | None = None,
                    transport: httpx.BaseTransport | None = None, clock: Callable[[], float] = time.time) -> dict[str, Any]:
    """Check an email and API key against Precoro, then store them. A refused key stores nothing."""
    pcc = rules.connections.precoro
    environment = environment or pcc.environment
    base = precoro_base_url(pcc, environment)
    if base is None:
        raise ConnectRefused("the embedded local Precoro needs no connecting (it starts with its own key); to connect "
                             "a served local API, point connections.precoro.base_url at it")
    email, token = email.strip(), token.strip()
    if not email or not token:
        raise ConnectRefused("both the email and the API token are needed; nothing was saved")
    client = PrecoroClient(base, email, token, transport=transport, max_retries=1)
    try:
        # Any authenticated read proves the pair (the key belongs to that user); suppliers are what
        # the sync reads first, so this also proves the key may read them. per_page=20, not the
        # status probe's 10: Precoro refuses an identical GET within a minute.
        next(iter(client.list_all("/suppliers", per_page=20)), None)
    except AuthenticationFailed:
        raise ConnectRefused(f"Precoro refused that email and API token: check both (the key is shown once, at "
                             f"{PRECORO_KEY_PAGE}, and belongs to the user who made it); nothing was saved") from None
    except ApiError as exc:
        raise ConnectRefused(f"could not check the key with Precoro: {exc}; nothing was saved") from None
    finally:
        client.close()
    store.set_tokens("precoro", {"email": email, "token": token, "environment": environment, "base_url": base,
                                 "connected_at": iso_time(clock())})
    warnings = []
    if pcc.environment != environment:
        warnings.append(f"rules.yaml says connections.precoro.environment: {pcc.environment}; set it to "
                        f"{environment} to sync with this key")
    return {"environment": environment, "base_url": base, "email": email, "warnings": warnings}


def disconnect_quickbooks(store: Store, *, forget_only: bool = False,
                          transport: httpx.BaseTransport | None = None) -> dict[str, Any]:
    """Revoke the stored grant at Intuit, then forget the tokens. Links, baselines, plans and
    history stay (L2): reconnecting the same company picks them up again."""
    stored = store.get_tokens("quickbooks")
    if not stored:
        return {"stored": False, "revoked": False, "note": "no stored QuickBooks connection"}
    result: dict[str, Any] = {"stored": True, "revoked": False, "realm_id": stored.get("realm_id"), "note": None}
    if not forget_only:
        tokens = OAuthTokens(stored.get("access_token") or "", float(stored.get("access_expires_at") or 0),
                             stored.get("refresh_token") or "", stored.get("refresh_expires_at"))
        token_url = stored.get("token_url") or QUICKBOOKS_TOKEN_URL
        session = OAuthSession(token_url, stored.get("client_id", ""), stored.get("client_secret", ""), tokens,
                               on_rotate=lambda _: None, revoke_url=stored.get("revoke_url") or revoke_url_for(token_url),
                               transport=transport)
        try:
            session.revoke()
            result["revoked"] = True
        except AuthenticationFailed as exc:
            # Already dead (expired, revoked, or a client secret changed since): nothing left to revoke.
            result["note"] = f"QuickBooks did not accept the stored token ({exc.code}): it was already unusable"
        except ServerError:
            raise ConnectRefused("could not reach QuickBooks to revoke the connection; the tokens are kept so you can "
                                 "try again. `qbsync disconnect quickbooks --forget-only` deletes them without revoking "
                                 "(then remove the app in QuickBooks: Settings -> Manage connected apps)") from None
        finally:
            session.close()
    store.set_tokens("quickbooks", None)
    return result


def disconnect_precoro(store: Store) -> bool:
    """Forget the stored Precoro key (Precoro has no revocation endpoint: disable the key there)."""
    had = store.get_tokens("precoro") is not None
    store.set_tokens("precoro", None)
    return had
