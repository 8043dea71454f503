"""OAuth 2.0 for QuickBooks: the token pair, a session that refreshes and rotates it, a static token.

QuickBooks access tokens live one hour; every refresh answers with a new refresh token that must be
stored before anything else happens (fact sheet §8), so `OAuthSession` hands rotated tokens to
`on_rotate` before it returns or uses them. A refresh token lives 100 days from its last use, and
since Intuit's 2025 policy no grant outlives five years: asked for it (a request header), the token
endpoint says when that end comes (`x_refresh_token_hard_expires_in`), and the tokens keep it.
Nothing here logs or formats a secret: `OAuthTokens` masks its fields and errors are built from the
endpoint's error code and description only.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from contextlib import nullcontext
from typing import Callable, ContextManager

import httpx

from .errors import AuthenticationFailed, ServerError, ValidationFailed

SERVICE = "quickbooks"
RECONNECT_HINT = "reconnect with `qbsync connect quickbooks`"
DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=10.0)
# Intuit answers `x_refresh_token_hard_expires_in` (seconds left of the grant's five years) only
# when a token request asks for it with this header (Intuit's SDKs: `includeRefreshTokenHardExpiresIn`).
ASK_FOR_THE_GRANTS_END = {"x-include-refresh-token-hard-expires-in": "true"}


@dataclass(frozen=True, repr=False)
class OAuthTokens:
    """An access token and the refresh token that renews it; expiry times are epoch seconds.

    `refresh_expires_at` moves 100 days on with every refresh; `grant_ends_at` does not move: the
    end of the authorization itself (Intuit's five years), after which only the company's owner can
    connect the app again. None where the token endpoint has not said it."""

    access_token: str
    access_expires_at: float
    refresh_token: str
    refresh_expires_at: float | None
    grant_ends_at: float | None = None

    def __repr__(self) -> str:
        return (f"OAuthTokens(access_token='***', access_expires_at={self.access_expires_at}, "
                f"refresh_token='***', refresh_expires_at={self.refresh_expires_at}, "
                f"grant_ends_at={self.grant_ends_at})")

    __str__ = __repr__

    @classmethod
    def from_response(cls, payload: dict, now: float, previous: "OAuthTokens | None" = None) -> "OAuthTokens":
        """Read a token endpoint answer (`access_token`, `expires_in`, `refresh_token`, ...). A
        refresh whose answer does not say the grant's end keeps the end `previous` knew: the grant
        is the same one."""
        hard = payload.get("x_refresh_token_hard_expires_in")
        said = isinstance(hard, (int, float)) and not isinstance(hard, bool) and hard > 0
        return cls(
            access_token=payload["access_token"],
            access_expires_at=now + float(payload["expires_in"]),
            refresh_token=payload["refresh_token"],
            refresh_expires_at=now + float(payload["x_refresh_token_expires_in"]),
            grant_ends_at=now + float(hard) if said else previous.grant_ends_at if previous else None,
        )


class StaticToken:
    """A fixed access token (tests, one-off scripts): it cannot be refreshed."""

    def __init__(self, access_token: str) -> None:
        self._access_token = access_token

    def __repr__(self) -> str:
        return "StaticToken('***')"

    def bearer(self) -> str:
        return self._access_token

    def refresh(self, rejected: str | None = None) -> None:
        raise AuthenticationFailed(
            "QuickBooks refused the access token, and a static token cannot be refreshed",
            service=SERVICE, status=401, code="3200",
        )


class OAuthSession:
    """Keeps a QuickBooks access token fresh, thread-safely (one refresh at a time)."""

    def __init__(
        self,
        token_url: str,
        client_id: str,
        client_secret: str,
        tokens: OAuthTokens | None,
        *,
        on_rotate: Callable[[OAuthTokens], None],
        transport: httpx.BaseTransport | None = None,
        clock: Callable[[], float] = time.time,
        skew_seconds: float = 60,
        revoke_url: str | None = None,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        latest: Callable[[], OAuthTokens | None] | None = None,
        guard: Callable[[], ContextManager[object]] | None = None,
    ) -> None:
        self._token_url = token_url
        # Held across read-stored / refresh / store, so that two processes sharing one state file
        # never both spend the same refresh token (the second finds the first one's rotation).
        self._guard = guard or nullcontext
        # Where `on_rotate` keeps the tokens: read before refreshing, so a process that holds a
        # refresh token another process has since rotated (the TUI beside a CLI run) continues
        # from the stored chain instead of presenting a retired token.
        self._latest = latest
        # Intuit's revocation endpoint lives on another host: pass it; the default fits the local API.
        self._revoke_url = revoke_url or token_url.replace("/tokens/bearer", "/tokens/revoke")
        self._credentials = (client_id, client_secret)
        self._tokens = tokens
        self._on_rotate = on_rotate
        self._clock = clock
        self._skew = skew_seconds
        self._lock = threading.Lock()
        self._http = httpx.Client(transport=transport, timeout=timeout)

    def __repr__(self) -> str:
        return f"OAuthSession(token_url={self._token_url!r}, client_id={self._credentials[0]!r}, tokens={self._tokens!r})"

    def bearer(self) -> str:
        """An access token valid for at least `skew_seconds` more, refreshing first if needed."""
        with self._lock:
            tokens = self._current()
            if tokens.access_expires_at - self._skew <= self._clock():
                tokens = self._refresh()
            return tokens.access_token

    def refresh(self, rejected: str | None = None) -> None:
        """Refresh now (the API refused a token). When `rejected` is given and another thread has
        already replaced that token, nothing is done: one 401 storm costs one refresh."""
        with self._lock:
            if rejected is not None and self._current().access_token != rejected:
                return
            self._refresh()

    def exchange_code(self, code: str, redirect_uri: str) -> OAuthTokens:
        """Finish the authorization-code flow; the new tokens go to `on_rotate` like any rotation."""
        with self._lock:
            payload = self._post_token({"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri},
                                       "authorization code")
            return self._adopt(payload, previous=None)  # a new grant: nothing carries over

    def revoke(self) -> None:
        """End the connection: revoking the refresh token ends the whole grant. The caller
        forgets the tokens it stored; this session holds none afterwards."""
        with self._lock:
            tokens = self._current()
            try:
                response = self._http.post(self._revoke_url, json={"token": tokens.refresh_token},
                                           auth=self._credentials, headers={"Accept": "application/json"})
            except httpx.TransportError as exc:
                raise ServerError(f"could not reach the QuickBooks revocation endpoint ({type(exc).__name__})",
                                  service=SERVICE) from None
            if not response.is_success:
                raise _token_error(response, "refresh token")
            self._tokens = None

    def close(self) -> None:
        self._http.close()

    def _current(self) -> OAuthTokens:
        if self._tokens is None:
            raise AuthenticationFailed(f"not connected to QuickBooks: {RECONNECT_HINT}", service=SERVICE)
        return self._tokens

    def _refresh(self) -> OAuthTokens:
        with self._guard():
            stored = self._latest() if self._latest is not None else None
            if stored is not None and stored.refresh_token != self._current().refresh_token:
                self._tokens = stored
                if stored.access_expires_at - self._skew > self._clock():
                    return stored
            try:
                payload = self._post_token({"grant_type": "refresh_token", "refresh_token": self._current().refresh_token},
                                           "refresh token")
            except AuthenticationFailed as refused:
                raise self._ended(refused) from None
            return self._adopt(payload, previous=self._current())

    def _ended(self, refused: AuthenticationFailed) -> AuthenticationFailed:
        """`refused`, or, when it is the grant's end that the token endpoint refused (its five
        years are over, as it said when asked), that end in words: no other fault to look for."""
        ends = self._current().grant_ends_at
        if refused.code != "invalid_grant" or ends is None or ends > self._clock():
            return refused
        day = time.strftime("%Y-%m-%d", time.gmtime(ends))
        return AuthenticationFailed(
            f"the QuickBooks authorization ended on {day}: Intuit ends every authorization five years after it "
            f"was given; {RECONNECT_HINT} (someone who can authorize the company)",
            service=SERVICE, status=refused.status, code=refused.code, detail=refused.detail)

    def _adopt(self, payload: dict, *, previous: OAuthTokens | None) -> OAuthTokens:
        tokens = OAuthTokens.from_response(payload, self._clock(), previous)
        # Persist first: the old refresh token is already dead, so a crash after this point must
        # find the new one stored. If persisting fails the error propagates and the session keeps
        # the old (dead) tokens: the operator reconnects rather than the app running unsaved.
        self._on_rotate(tokens)
        self._tokens = tokens
        return tokens

    def _post_token(self, form: dict[str, str], what: str) -> dict:
        try:
            response = self._http.post(self._token_url, data=form, auth=self._credentials,
                                       headers={"Accept": "application/json", **ASK_FOR_THE_GRANTS_END})
        except httpx.TransportError as exc:
            # `from None`: the httpx error holds the request, whose headers hold the client secret.
            raise ServerError(f"could not reach the QuickBooks token endpoint ({type(exc).__name__})",
                              service=SERVICE) from None
        if not response.is_success:
            raise _token_error(response, what)
        return response.json()


def _token_error(response: httpx.Response, what: str) -> Exception:
    try:
        body = response.json()
    except ValueError:
        body = {}
    code = body.get("error") if isinstance(body, dict) else None
    detail = body.get("error_description") if isinstance(body, dict) else None
    status = response.status_code
    if code == "invalid_grant":
        return AuthenticationFailed(
            f"QuickBooks refused the {what} (invalid_grant): it expired, was revoked or was already used; "
            f"{RECONNECT_HINT}", service=SERVICE, status=status, code=code, detail=detail)
    if code == "invalid_client" or status == 401:
        return AuthenticationFailed(
            "QuickBooks refused the app's client id or secret (invalid_client): check the app credentials",
            service=SERVICE, status=status, code=code or str(status), detail=detail)
    if status >= 500:
        return ServerError(f"the QuickBooks token endpoint failed (HTTP {status})", service=SERVICE, status=status)
    return ValidationFailed(f"the QuickBooks token endpoint refused the request ({code or status})",
                            service=SERVICE, status=status, code=code, detail=detail)
