"""Build the two API clients from rules.connections, the environment and the state store.

Switching between the local APIs and the real services is only a base URL and credentials: the
same clients talk to both. Credentials never come from rules.yaml: they come from environment
variables or from what `qbsync connect` stored in the state file (owner-only). Nothing here puts a
secret in a message or in `Connected.describe`.
"""

from __future__ import annotations

import hashlib
import os
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Mapping

from rules.model import SIDE_NAMES, PrecoroConnection, QuickBooksConnection, Rules

from .clients.auth import OAuthSession, OAuthTokens
from .clients.precoro import PrecoroClient
from .clients.quickbooks import Pacer, QuickBooksClient
from .errors import NotConnected
from .store import Store

QUICKBOOKS_BASE_URLS = {
    "sandbox": "https://sandbox-quickbooks.api.intuit.com/v3",
    "production": "https://quickbooks.api.intuit.com/v3",
}
# Intuit's OAuth endpoints are the same for sandbox and production companies (fact sheet §8).
QUICKBOOKS_AUTHORIZE_URL = "https://appcenter.intuit.com/connect/oauth2"
QUICKBOOKS_TOKEN_URL = "https://oauth.platform.intuit.com/oauth2/v1/tokens/bearer"
QUICKBOOKS_REVOKE_URL = "https://developer.api.intuit.com/v2/oauth2/tokens/revoke"
PRECORO_BASE_URLS = {"com": "https://api.precoro.com", "us": "https://api.precoro.us"}
# Precoro allows one request a second; locally nothing is throttled unless asked.
PRECORO_MIN_INTERVAL = 1.0


@dataclass
class Connected:
    quickbooks: QuickBooksClient
    precoro: PrecoroClient
    realm_id: str
    # Per side: environment, base URL, realm, where the credentials came from, token expiry. No
    # secrets. The QuickBooks entry follows token rotations, so it stays current after a refresh.
    describe: dict[str, Any] = field(default_factory=dict)
    local: Any = None  # the in-process local APIs, when they were started here

    def close(self) -> None:
        for client in (self.quickbooks, self.precoro):
            client.close()
        if self.local is not None:
            self.local.close()


@dataclass(frozen=True)
class QuickBooksEndpoints:
    """Where one QuickBooks environment lives. All None for the embedded local API, which is
    started in-process on demand and needs no connecting."""

    environment: str
    api_base_url: str | None
    authorize_url: str | None
    token_url: str | None
    revoke_url: str | None

    @property
    def embedded(self) -> bool:
        return self.api_base_url is None


def quickbooks_endpoints(qbc: QuickBooksConnection, environment: str | None = None) -> QuickBooksEndpoints:
    """The URLs of `environment` (default: the rules'). The rules' `base_url`/`token_url` apply only
    to the environment the rules name."""
    environment = environment or qbc.environment
    same = environment == qbc.environment
    base = qbc.base_url.rstrip("/") if same and qbc.base_url else None
    token = qbc.token_url if same else None
    if environment == "local":
        if base is None:
            return QuickBooksEndpoints("local", None, None, None, None)
        # The local QuickBooks serves its OAuth endpoints on the API's own host.
        host = base[: -len("/v3")] if base.endswith("/v3") else base
        token = token or f"{host}/oauth2/v1/tokens/bearer"
        return QuickBooksEndpoints("local", base, f"{host}/connect/oauth2", token, revoke_url_for(token))
    token = token or QUICKBOOKS_TOKEN_URL
    return QuickBooksEndpoints(environment, base or QUICKBOOKS_BASE_URLS[environment], QUICKBOOKS_AUTHORIZE_URL,
                               token, revoke_url_for(token))


def revoke_url_for(token_url: str) -> str:
    # Intuit revokes on another host; a local or proxied token endpoint has it beside itself.
    if token_url == QUICKBOOKS_TOKEN_URL:
        return QUICKBOOKS_REVOKE_URL
    return token_url.replace("/tokens/bearer", "/tokens/revoke")


def precoro_base_url(pcc: PrecoroConnection, environment: str | None = None) -> str | None:
    """The API root of `environment` (default: the rules'); None for the embedded local API."""
    environment = environment or pcc.environment
    if environment == pcc.environment and pcc.base_url:
        return pcc.base_url.rstrip("/")
    return PRECORO_BASE_URLS.get(environment)


def iso_time(epoch: float | None) -> str | None:
    """Epoch seconds as UTC ISO 8601, for status and messages."""
    if not epoch:
        return None
    return datetime.fromtimestamp(float(epoch), timezone.utc).isoformat(timespec="seconds")


# A month to reach the person who can authorize the QuickBooks company again.
CONNECTION_WARNING_DAYS = 30


def connection_end(quickbooks: Mapping[str, Any]) -> tuple[datetime, bool] | None:
    """When the QuickBooks connection (as `describe` or the store has it) ends, and whether it is
    the grant's own end: the earlier of two ends the token endpoint said, its refresh token's
    (`refresh_token_expires_at`, 100 days on from each refresh) and the grant's (`grant_ends_at`:
    Intuit's five years, which no refresh moves). None when neither is known, or for the embedded API."""
    if quickbooks.get("credentials") == "embedded":
        return None
    ends = [(datetime.fromisoformat(at), grant) for at, grant in
            ((quickbooks.get("refresh_token_expires_at"), False), (quickbooks.get("grant_ends_at"), True)) if at]
    # A refresh token cut to its grant's end ends with the grant: the grant's is the end to name.
    return min(ends, key=lambda end: (end[0], not end[1])) if ends else None


def connection_ending_said(quickbooks: Mapping[str, Any], now: datetime) -> str | None:
    """A warning when the QuickBooks connection ends (`connection_end`) within
    CONNECTION_WARNING_DAYS or has ended, else None: a connection left unused is warned of as its
    100 days run out, any connection as its five years do."""
    end = connection_end(quickbooks)
    if end is None:
        return None
    at, grant = end
    why = ": Intuit ends every authorization five years after it was given;" if grant else ":"
    left = at - now
    if left <= timedelta(0):
        return f"the QuickBooks connection ended on {at:%Y-%m-%d}{why} run `qbsync connect quickbooks` to authorize it again"
    if left > timedelta(days=CONNECTION_WARNING_DAYS):
        return None
    when = "today" if left.days == 0 else f"in {left.days} day{'s' if left.days != 1 else ''}"
    unless = "" if grant else " unless authorized again"
    return (f"the QuickBooks connection ends on {at:%Y-%m-%d %H:%M} UTC ({when}){unless}{why} run "
            "`qbsync connect quickbooks` before then (unattended runs stop when it ends)")


def fingerprint(secret: str) -> str:
    """A one-way mark of a secret: lets the store tell whether an environment token is the one a
    stored chain of rotations started from, without keeping that token."""
    return hashlib.sha256(secret.encode()).hexdigest()


def connect(rules: Rules, store: Store, *, env: Mapping[str, str] | None = None,
            local_apis: Callable[[], Any] | None = None) -> Connected:
    """Both clients, as rules.yaml and the credentials say. A side that is `environment: local`
    without a base_url is the embedded local API: `local_apis` starts it (the composition root,
    the CLI, decides how; the engine never starts a server of its own)."""
    env, local = _environment(rules, env, local_apis, tuple(SIDE_NAMES))
    quickbooks = None
    try:
        quickbooks, realm, qb_describe = _side_client(rules, store, env, "quickbooks")
        precoro, _, pc_describe = _side_client(rules, store, env, "precoro")
    except BaseException:
        if quickbooks is not None:
            quickbooks.close()
        if local is not None:
            local.close()
        raise
    return Connected(quickbooks, precoro, realm, {"quickbooks": qb_describe, "precoro": pc_describe}, local)


@dataclass
class OneSide:
    """One side's client alone (`connect_side`), with what it started: for a status that looks at
    each side even when the other one cannot be connected."""

    side: str
    client: QuickBooksClient | PrecoroClient
    describe: dict[str, Any]
    local: Any = None

    def close(self) -> None:
        self.client.close()
        if self.local is not None:
            self.local.close()


def connect_side(rules: Rules, store: Store, side: str, *, env: Mapping[str, str] | None = None,
                 local_apis: Callable[[], Any] | None = None) -> OneSide:
    """`side`'s client ("quickbooks" or "precoro") as `connect` builds it, the other side untouched."""
    env, local = _environment(rules, env, local_apis, (side,))
    try:
        client, _realm, describe = _side_client(rules, store, env, side)
    except BaseException:
        if local is not None:
            local.close()
        raise
    return OneSide(side, client, describe, local)


def _side_client(rules: Rules, store: Store, env: Mapping[str, str],
                 side: str) -> tuple[Any, str | None, dict[str, Any]]:
    """One side's client, its realm (QuickBooks') and its description."""
    if side == "quickbooks":
        return _connect_quickbooks(rules.connections.quickbooks, store, env, embedded=_embedded(rules, side))
    client, describe = _connect_precoro(rules.connections.precoro, store, env, embedded=_embedded(rules, side))
    return client, None, describe


def _embedded(rules: Rules, side: str) -> bool:
    connection = getattr(rules.connections, side)
    return connection.environment == "local" and not connection.base_url


def _environment(rules: Rules, env: Mapping[str, str] | None, local_apis: Callable[[], Any] | None,
                 sides: tuple[str, ...]) -> tuple[dict[str, str], Any]:
    """The variables `sides`' clients read their credentials from, and the embedded local APIs when
    one of them names them (started here, for the caller to close)."""
    env = os.environ if env is None else env
    # A credential pasted or read from a file often ends in a newline or a space: never part of it
    # (and sent in a header, it would fail as a protocol error instead of a clear message).
    env = {key: value.strip() if key.startswith(("QUICKBOOKS_", "PRECORO_")) else value for key, value in env.items()}
    embedded = [side for side in sides if _embedded(rules, side)]
    if not embedded:
        return env, None
    if local_apis is None:
        raise NotConnected("rules.yaml names the embedded local APIs (environment: local, no base_url), and "
                           "nothing here starts them: run qbsync from its command line, or give a base_url")
    local = local_apis()
    # Only the embedded side takes the local credentials: a real company on the other side keeps its own.
    prefixes = tuple(f"{side.upper()}_" for side in embedded)
    return {**env, **{k: v for k, v in _local_env(local.info()).items() if k.startswith(prefixes)}}, local


def _connect_quickbooks(qbc: QuickBooksConnection, store: Store, env: Mapping[str, str], *,
                        embedded: bool) -> tuple[QuickBooksClient, str, dict[str, Any]]:
    endpoints = quickbooks_endpoints(qbc)
    stored = {} if embedded else (store.get_tokens("quickbooks") or {})
    mismatch = _stored_mismatch(stored, qbc)
    usable = stored if stored.get("refresh_token") and not mismatch else {}

    realm = qbc.realm_id or env.get("QUICKBOOKS_REALM_ID") or usable.get("realm_id")
    if not realm:
        raise NotConnected(mismatch or "no QuickBooks company: run `qbsync connect quickbooks`, or set "
                               "connections.quickbooks.realm_id or QUICKBOOKS_REALM_ID", "quickbooks")
    # The app's id and secret go together: never the environment's id with a stored secret of another app.
    client_id = env.get("QUICKBOOKS_CLIENT_ID") or usable.get("client_id")
    client_secret = env.get("QUICKBOOKS_CLIENT_SECRET") if env.get("QUICKBOOKS_CLIENT_ID") else None
    if not client_secret and usable.get("client_id") == client_id:
        client_secret = usable.get("client_secret")
    if not client_id or not client_secret:
        raise NotConnected(mismatch or "QuickBooks is not connected: run `qbsync connect quickbooks`, or export "
                               "QUICKBOOKS_CLIENT_ID, QUICKBOOKS_CLIENT_SECRET and QUICKBOOKS_REFRESH_TOKEN", "quickbooks")

    env_refresh = env.get("QUICKBOOKS_REFRESH_TOKEN")
    # Every refresh retires the refresh token it used, so a chain stored by an earlier run supersedes
    # the environment's token it started from. An environment token the chain did not start from
    # is one the operator exported since: it wins and starts a new chain.
    use_stored = (bool(usable) and usable.get("client_id") == client_id and usable.get("realm_id") in (None, realm)
                  and not (env_refresh and usable.get("seed") and usable["seed"] != fingerprint(env_refresh)))
    if use_stored:
        tokens = OAuthTokens(
            access_token=usable.get("access_token") or "",
            access_expires_at=float(usable.get("access_expires_at") or 0),
            refresh_token=usable["refresh_token"],
            refresh_expires_at=usable.get("refresh_expires_at"),
            grant_ends_at=usable.get("grant_ends_at"),
        )
        source, seed, token_url = "stored", usable.get("seed"), usable.get("token_url")
    else:
        if not env_refresh:
            raise NotConnected(mismatch or "QuickBooks is not connected: run `qbsync connect quickbooks`, or "
                                   "export QUICKBOOKS_REFRESH_TOKEN", "quickbooks")
        access = env.get("QUICKBOOKS_ACCESS_TOKEN") or ""
        # An access token from the environment is of unknown age: trusted for less than its hour,
        # and refreshed (and rejected with a 401 refresh) like any other.
        tokens = OAuthTokens(access_token=access, access_expires_at=time.time() + 3000 if access else 0.0,
                             refresh_token=env_refresh, refresh_expires_at=None)
        source, seed, token_url = ("embedded" if embedded else "environment"), fingerprint(env_refresh), None
    token_url = qbc.token_url or env.get("QUICKBOOKS_TOKEN_URL") or token_url or endpoints.token_url
    revoke_url = revoke_url_for(token_url)
    base = endpoints.api_base_url or env["QUICKBOOKS_BASE_URL"]

    describe: dict[str, Any] = {
        "environment": qbc.environment, "base_url": base, "realm_id": realm, "credentials": source,
        "connected_at": usable.get("connected_at") if use_stored else None,
    }
    _describe_expiry(describe, tokens, known=use_stored)

    def persist(new: OAuthTokens) -> None:
        _describe_expiry(describe, new, known=True)
        if embedded:
            # The embedded API mints fresh credentials at every start; storing its tokens would
            # only overwrite a real connection kept for when the rules point back at it.
            return
        store.set_tokens("quickbooks", {
            **(store.get_tokens("quickbooks") or {}),
            "client_id": client_id, "client_secret": client_secret, "realm_id": realm,
            "environment": qbc.environment, "token_url": token_url, "revoke_url": revoke_url, "seed": seed,
            "access_token": new.access_token, "access_expires_at": new.access_expires_at,
            "refresh_token": new.refresh_token, "refresh_expires_at": new.refresh_expires_at,
            "grant_ends_at": new.grant_ends_at,
        })

    def latest() -> OAuthTokens | None:
        saved = store.get_tokens("quickbooks") or {}
        if embedded or saved.get("client_id") != client_id or saved.get("realm_id") not in (None, realm) \
                or not saved.get("refresh_token"):
            return None
        return OAuthTokens(access_token=saved.get("access_token") or "",
                           access_expires_at=float(saved.get("access_expires_at") or 0),
                           refresh_token=saved["refresh_token"], refresh_expires_at=saved.get("refresh_expires_at"),
                           grant_ends_at=saved.get("grant_ends_at"))

    auth = OAuthSession(token_url, client_id, client_secret, tokens, on_rotate=persist, revoke_url=revoke_url,
                        latest=latest, guard=None if embedded else lambda: store.lock("token").held("refreshing the QuickBooks token"))
    # Intuit's limits per company (500 requests and 40 batches a minute, 10 at once): an apply paces
    # itself under them instead of meeting 429s. The local API is unthrottled unless asked.
    pace = None if qbc.environment == "local" else Pacer()
    return QuickBooksClient(base, realm, auth, pace=pace), realm, describe


def _describe_expiry(describe: dict[str, Any], tokens: OAuthTokens, *, known: bool) -> None:
    describe["access_token_expires_at"] = iso_time(tokens.access_expires_at) if known else None
    describe["refresh_token_expires_at"] = iso_time(tokens.refresh_expires_at)
    describe["grant_ends_at"] = iso_time(tokens.grant_ends_at)


def _stored_mismatch(stored: dict, qbc: QuickBooksConnection) -> str | None:
    """Why a stored QuickBooks connection does not fit the rules, or None."""
    if not stored:
        return None
    environment = stored.get("environment")
    if environment and environment != qbc.environment:
        return (f"the stored QuickBooks connection is for {environment} but rules.yaml says {qbc.environment}: run "
                f"`qbsync connect quickbooks --environment {qbc.environment}`, or set "
                f"connections.quickbooks.environment: {environment}")
    if qbc.realm_id and stored.get("realm_id") and stored["realm_id"] != qbc.realm_id:
        return (f"the stored QuickBooks connection is for company {stored['realm_id']} but rules.yaml names "
                f"{qbc.realm_id}: run `qbsync connect quickbooks` and choose that company, or change "
                f"connections.quickbooks.realm_id")
    return None


def _connect_precoro(pcc: PrecoroConnection, store: Store, env: Mapping[str, str], *,
                     embedded: bool) -> tuple[PrecoroClient, dict[str, Any]]:
    base = env["PRECORO_BASE_URL"] if embedded else precoro_base_url(pcc)
    stored = {} if embedded else (store.get_tokens("precoro") or {})
    mismatch = None
    if stored.get("environment") and stored["environment"] != pcc.environment:
        mismatch = (f"the stored Precoro key is for {stored['environment']} but rules.yaml says {pcc.environment}: "
                    f"run `qbsync connect precoro --environment {pcc.environment}`, or set "
                    f"connections.precoro.environment: {stored['environment']}")
        stored = {}
    # Precoro keys do not rotate: the environment, when it has both, simply wins.
    if env.get("PRECORO_EMAIL") and env.get("PRECORO_TOKEN"):
        email, token, source = env["PRECORO_EMAIL"], env["PRECORO_TOKEN"], "embedded" if embedded else "environment"
    elif stored.get("email") and stored.get("token"):
        email, token, source = stored["email"], stored["token"], "stored"
    else:
        raise NotConnected(mismatch or "Precoro is not connected: run `qbsync connect precoro`, or export "
                               "PRECORO_EMAIL and PRECORO_TOKEN", "precoro")
    client = PrecoroClient(base, email, token, min_interval=0.0 if pcc.environment == "local" else PRECORO_MIN_INTERVAL)
    describe = {"environment": pcc.environment, "base_url": base, "email": email, "credentials": source,
                "connected_at": stored.get("connected_at") if source == "stored" else None}
    return client, describe


def saved_connections(rules: Rules, store: Store, error: Exception | None = None) -> dict[str, Any]:
    """What is known of both connections without reaching them (for a status when connecting
    failed): environment, realm, expiry from the store. `error` lands on the side it names."""
    qbc, pcc = rules.connections.quickbooks, rules.connections.precoro
    qb = store.get_tokens("quickbooks") or {}
    pc = store.get_tokens("precoro") or {}
    out = {
        "quickbooks": {
            "environment": qbc.environment, "base_url": quickbooks_endpoints(qbc).api_base_url,
            "realm_id": qbc.realm_id or qb.get("realm_id"), "credentials": "stored" if qb else None,
            "connected_at": qb.get("connected_at"), "access_token_expires_at": iso_time(qb.get("access_expires_at")),
            "refresh_token_expires_at": iso_time(qb.get("refresh_expires_at")),
            "grant_ends_at": iso_time(qb.get("grant_ends_at")), "reachable": None,
        },
        "precoro": {
            "environment": pcc.environment, "base_url": precoro_base_url(pcc), "email": pc.get("email"),
            "credentials": "stored" if pc else None, "connected_at": pc.get("connected_at"), "reachable": None,
        },
    }
    if error is not None:
        sides = [error.side] if getattr(error, "side", None) in out else list(out)
        for side in sides:
            out[side]["reachable"] = False
            out[side]["error"] = str(error)
            if isinstance(error, NotConnected):  # no credentials to try, rather than a service that did not answer
                out[side]["connected"] = False
    return out


def _local_env(info: dict[str, Any]) -> dict[str, str]:
    qb, pc = info["quickbooks"], info["precoro"]
    return {
        "QUICKBOOKS_BASE_URL": qb["base_url"],
        "QUICKBOOKS_TOKEN_URL": qb["token_url"],
        "QUICKBOOKS_REALM_ID": qb["realm_id"],
        "QUICKBOOKS_CLIENT_ID": qb["client_id"],
        "QUICKBOOKS_CLIENT_SECRET": qb["client_secret"],
        "QUICKBOOKS_REFRESH_TOKEN": qb["refresh_token"],
        "QUICKBOOKS_ACCESS_TOKEN": qb["access_token"],
        "PRECORO_BASE_URL": pc["base_url"],
        "PRECORO_EMAIL": pc["email"],
        "PRECORO_TOKEN": pc["token"],
    }
