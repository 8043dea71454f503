"""OAuth 2.0 grants of the local QuickBooks: clients, authorization codes, access and refresh tokens.

Lifetimes follow the fact sheet §8: access tokens live 1 hour and refresh tokens 100 days, both by
the state's clock; a grant (an authorization and every refresh that follows it) ends five years
after it was given (Intuit's policy of 2025), and each answer tells how long it has left
(`x_refresh_token_hard_expires_in`; the HTTP app sends it only to a request that asks). No refresh
token outlives its grant (our convention: Intuit has not said how the last 100 days are cut).
Deliberately stricter than Intuit (our convention): a refresh token works once; the refresh answers
with a new one and the old one is dead at once (Intuit keeps the old one for about 24 h), so a
client that fails to store the rotated token is caught here, not in production.
Authorization codes live 10 minutes and work once (our convention). Only SHA-256 hashes of
secrets and tokens are stored.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import sqlite3
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Protocol


class TokenStore(Protocol):
    """What the token authority needs of the company's state (QuickBooksState): its database, its clock,
    and the realms it serves. Named here so that the state may hold an authority without a circle."""

    def atomic(self) -> AbstractContextManager[sqlite3.Connection]: ...

    def ensure_realm(self, realm: str) -> None: ...

    def now(self) -> datetime: ...

ACCESS_TOKEN_SECONDS = 3600
REFRESH_TOKEN_SECONDS = 100 * 24 * 3600
GRANT_SECONDS = 5 * 365 * 24 * 3600  # 157,680,000: the value Intuit's answers give a new grant
CODE_SECONDS = 600
_LABELS = {"code": "authorization code", "refresh": "refresh token"}


class OAuthError(Exception):
    """An OAuth error response: `error` is the RFC 6749 code (`invalid_grant`, `invalid_client`...)."""

    def __init__(self, error: str, description: str, status: int = 400) -> None:
        super().__init__(f"{error}: {description}")
        self.error = error
        self.description = description
        self.status = status


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class TokenAuthority:
    """Issues and checks tokens; the authorization server of the local QuickBooks."""

    def __init__(self, state: TokenStore) -> None:
        self._state = state

    def register_client(self, client_id: str, client_secret: str) -> None:
        with self._state.atomic() as db:
            db.execute(
                "INSERT OR REPLACE INTO qbo_clients (client_id, secret_hash) VALUES (?, ?)",
                (client_id, _hash(client_secret)),
            )

    def authenticate_client(self, client_id: str, client_secret: str) -> None:
        with self._state.atomic() as db:
            row = db.execute("SELECT secret_hash FROM qbo_clients WHERE client_id = ?", (client_id,)).fetchone()
        if row is None or not hmac.compare_digest(row[0], _hash(client_secret)):
            raise OAuthError("invalid_client", "Client authentication failed.", status=401)

    def known_client(self, client_id: str) -> bool:
        with self._state.atomic() as db:
            return db.execute("SELECT 1 FROM qbo_clients WHERE client_id = ?", (client_id,)).fetchone() is not None

    def authorize(self, client_id: str, redirect_uri: str, realm: str) -> str:
        """The consent step for a test user: returns a one-time authorization code for `realm`."""
        self._state.ensure_realm(realm)
        code = secrets.token_urlsafe(24)
        self._store(code, "code", client_id, realm, secrets.token_hex(8), CODE_SECONDS, redirect_uri)
        return code

    def issue(self, client_id: str, realm: str) -> dict:
        """A fresh grant for `realm`, as if the user had just connected the app."""
        if not self.known_client(client_id):
            raise OAuthError("invalid_client", "Unknown client.", status=401)
        return self._pair(client_id, realm, secrets.token_hex(8))

    def exchange_code(self, client_id: str, code: str, redirect_uri: str) -> dict:
        row = self._take(code, "code", client_id)
        if row["redirect_uri"] != redirect_uri:
            raise OAuthError("invalid_grant", "The redirect_uri does not match the authorization request.")
        return self._pair(client_id, row["realm"], row["grant_id"])

    def refresh(self, client_id: str, refresh_token: str) -> dict:
        row = self._take(refresh_token, "refresh", client_id)
        return self._pair(client_id, row["realm"], row["grant_id"])

    def revoke(self, client_id: str, token: str) -> None:
        """Revoking any token of a grant ends the whole grant; unknown tokens are ignored (RFC 7009)."""
        with self._state.atomic() as db:
            row = db.execute(
                "SELECT grant_id FROM qbo_tokens WHERE token_hash = ? AND client_id = ?", (_hash(token), client_id)
            ).fetchone()
            if row:
                db.execute("DELETE FROM qbo_tokens WHERE grant_id = ?", (row[0],))
                db.execute("DELETE FROM qbo_grants WHERE grant_id = ?", (row[0],))

    def end_grants(self, realm: str, at: datetime) -> None:
        """Every grant of `realm` ends at `at`: the five years brought near, as a connection made in
        2023 meets them in 2028 (tests, and trying what an operator is told before it happens)."""
        with self._state.atomic() as db:
            grants = [row[0] for row in db.execute("SELECT DISTINCT grant_id FROM qbo_tokens WHERE realm = ?", (realm,))]
            db.executemany("INSERT OR REPLACE INTO qbo_grants (grant_id, ends_at) VALUES (?, ?)",
                           [(grant, at.timestamp()) for grant in grants])
            db.executemany("UPDATE qbo_tokens SET expires_at = min(expires_at, ?) WHERE grant_id = ?",
                           [(at.timestamp(), grant) for grant in grants])

    def access_problem(self, token: str, realm: str) -> str | None:
        """Why a bearer token may not be used for `realm`, or None when it may."""
        with self._state.atomic() as db:
            row = db.execute(
                "SELECT realm, expires_at FROM qbo_tokens WHERE token_hash = ? AND kind = 'access'", (_hash(token),)
            ).fetchone()
        if row is None:
            return "Token invalid: unknown or revoked access token"
        if row[1] <= self._state.now().timestamp():
            return "Token expired: the access token is older than one hour"
        if row[0] != realm:
            return "Token invalid: the access token was issued for another company"
        return None

    def _pair(self, client_id: str, realm: str, grant_id: str) -> dict:
        access_token = secrets.token_urlsafe(48)
        refresh_token = secrets.token_urlsafe(32)
        grant_left = self._grant_left(grant_id)
        refresh_lifetime = min(REFRESH_TOKEN_SECONDS, grant_left)
        self._store(access_token, "access", client_id, realm, grant_id, ACCESS_TOKEN_SECONDS)
        self._store(refresh_token, "refresh", client_id, realm, grant_id, refresh_lifetime)
        return {
            "token_type": "bearer",
            "expires_in": ACCESS_TOKEN_SECONDS,
            "refresh_token": refresh_token,
            "x_refresh_token_expires_in": refresh_lifetime,
            "x_refresh_token_hard_expires_in": grant_left,
            "access_token": access_token,
        }

    def _grant_left(self, grant_id: str) -> int:
        """Whole seconds left of the grant, which starts now if it is new (or older than this table)."""
        now = self._state.now().timestamp()
        with self._state.atomic() as db:
            row = db.execute("SELECT ends_at FROM qbo_grants WHERE grant_id = ?", (grant_id,)).fetchone()
            if row is None:
                db.execute("INSERT INTO qbo_grants (grant_id, ends_at) VALUES (?, ?)", (grant_id, now + GRANT_SECONDS))
                return GRANT_SECONDS
        return max(0, int(row[0] - now))

    def _store(
        self, token: str, kind: str, client_id: str, realm: str, grant_id: str, lifetime: int,
        redirect_uri: str | None = None,
    ) -> None:
        with self._state.atomic() as db:
            db.execute(
                "INSERT INTO qbo_tokens (token_hash, kind, client_id, realm, grant_id, expires_at, redirect_uri)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (_hash(token), kind, client_id, realm, grant_id,
                 self._state.now().timestamp() + lifetime, redirect_uri),
            )

    def _take(self, token: str, kind: str, client_id: str) -> dict:
        """Use up a one-time token (a code or a refresh token): it is deleted whatever happens next."""
        with self._state.atomic() as db:
            row = db.execute(
                "SELECT realm, grant_id, expires_at, redirect_uri FROM qbo_tokens"
                " WHERE token_hash = ? AND kind = ? AND client_id = ?",
                (_hash(token), kind, client_id),
            ).fetchone()
            if row is None:
                raise OAuthError("invalid_grant", f"The {_LABELS[kind]} is unknown, used or revoked.")
            db.execute("DELETE FROM qbo_tokens WHERE token_hash = ?", (_hash(token),))
            realm, grant_id, expires_at, redirect_uri = row
        if expires_at <= self._state.now().timestamp():
            raise OAuthError("invalid_grant", f"The {_LABELS[kind]} has expired.")
        return {"realm": realm, "grant_id": grant_id, "redirect_uri": redirect_uri}
