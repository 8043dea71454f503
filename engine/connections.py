"""Build the two API clients from rules.connections, the environment and the state store.

Switching between the local APIs and the real services is only a base URL and credentials: the
same clients talk to both. Credentials never come from rules.yaml.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from rules.model import Rules

from .clients.auth import OAuthSession, OAuthTokens
from .clients.precoro import PrecoroClient
from .clients.quickbooks import QuickBooksClient
from .store import Store

QUICKBOOKS_BASE_URLS = {
    "sandbox": "https://sandbox-quickbooks.api.intuit.com/v3",
    "production": "https://quickbooks.api.intuit.com/v3",
}
QUICKBOOKS_TOKEN_URL = "https://oauth.platform.intuit.com/oauth2/v1/tokens/bearer"
PRECORO_BASE_URLS = {"com": "https://api.precoro.com", "us": "https://api.precoro.us"}
# Precoro allows one request a second; locally nothing is throttled unless asked.
PRECORO_MIN_INTERVAL = 1.0


class ConnectionError_(Exception):
    """A connection cannot be made: a credential or a setting is missing. The message says which."""


@dataclass
class Connected:
    quickbooks: QuickBooksClient
    precoro: PrecoroClient
    realm_id: str
    describe: dict[str, Any] = field(default_factory=dict)  # environment and base URL of each side, no secrets
    local: Any = None  # the in-process local APIs, when they were started here

    def close(self) -> None:
        for client in (self.quickbooks, self.precoro):
            client.close()
        if self.local is not None:
            self.local.close()


def _need(env: Mapping[str, str], name: str) -> str:
    value = env.get(name)
    if not value:
        raise ConnectionError_(f"{name} is not set: export it, or run `qbsync connect` to store credentials")
    return value


def connect(rules: Rules, store: Store, *, state_dir: Path, env: Mapping[str, str] | None = None,
            local_seed: str = "demo") -> Connected:
    env = os.environ if env is None else env
    qbc, pcc = rules.connections.quickbooks, rules.connections.precoro
    local = None
    if (qbc.environment == "local" and not qbc.base_url) or (pcc.environment == "local" and not pcc.base_url):
        from .local.serve import LocalApis

        local = LocalApis.start(data=state_dir / "local-apis.db", seed=local_seed)
        info = local.info()
        env = {**_local_env(info), **{k: v for k, v in env.items() if k.startswith("QBSYNC_")}}

    # QuickBooks
    if qbc.base_url:
        qb_base = qbc.base_url.rstrip("/")
    elif qbc.environment == "local":
        qb_base = env["QUICKBOOKS_BASE_URL"]
    else:
        qb_base = QUICKBOOKS_BASE_URLS[qbc.environment]
    token_url = qbc.token_url or env.get("QUICKBOOKS_TOKEN_URL") or QUICKBOOKS_TOKEN_URL
    stored = store.get_tokens("quickbooks") or {}
    realm = qbc.realm_id or env.get("QUICKBOOKS_REALM_ID") or stored.get("realm_id")
    if not realm:
        raise ConnectionError_("no QuickBooks company: set connections.quickbooks.realm_id, QUICKBOOKS_REALM_ID, or run `qbsync connect quickbooks`")
    client_id = env.get("QUICKBOOKS_CLIENT_ID") or stored.get("client_id")
    client_secret = env.get("QUICKBOOKS_CLIENT_SECRET") or stored.get("client_secret")
    if not client_id or not client_secret:
        raise ConnectionError_("QUICKBOOKS_CLIENT_ID and QUICKBOOKS_CLIENT_SECRET are not set: export them, or run `qbsync connect quickbooks`")
    # A refresh token rotated by an earlier run lives in the store and supersedes the environment's,
    # which QuickBooks has already retired.
    # The local APIs mint fresh tokens at every start, so only real services use stored ones.
    if local is None and stored.get("refresh_token") and stored.get("client_id") == client_id and stored.get("realm_id") in (None, realm):
        tokens = OAuthTokens(
            access_token=stored.get("access_token") or "",
            access_expires_at=float(stored.get("access_expires_at") or 0),
            refresh_token=stored["refresh_token"],
            refresh_expires_at=stored.get("refresh_expires_at"),
        )
    else:
        access = env.get("QUICKBOOKS_ACCESS_TOKEN") or ""
        tokens = OAuthTokens(
            access_token=access,
            access_expires_at=time.time() + 3000 if access else 0.0,
            refresh_token=_need(env, "QUICKBOOKS_REFRESH_TOKEN"),
            refresh_expires_at=None,
        )

    def persist(new: OAuthTokens) -> None:
        store.set_tokens("quickbooks", {
            **(store.get_tokens("quickbooks") or {}),
            "client_id": client_id, "client_secret": client_secret, "realm_id": realm,
            "access_token": new.access_token, "access_expires_at": new.access_expires_at,
            "refresh_token": new.refresh_token, "refresh_expires_at": new.refresh_expires_at,
        })

    auth = OAuthSession(token_url, client_id, client_secret, tokens, on_rotate=persist)
    quickbooks = QuickBooksClient(qb_base, realm, auth)

    # Precoro
    if pcc.base_url:
        pc_base = pcc.base_url.rstrip("/")
    elif pcc.environment == "local":
        pc_base = env["PRECORO_BASE_URL"]
    else:
        pc_base = PRECORO_BASE_URLS[pcc.environment]
    stored_pc = store.get_tokens("precoro") or {}
    email = env.get("PRECORO_EMAIL") or stored_pc.get("email")
    token = env.get("PRECORO_TOKEN") or stored_pc.get("token")
    if not email or not token:
        raise ConnectionError_("PRECORO_EMAIL and PRECORO_TOKEN are not set: export them, or run `qbsync connect precoro`")
    local_precoro = pcc.environment == "local"
    precoro = PrecoroClient(pc_base, email, token, min_interval=0.0 if local_precoro else PRECORO_MIN_INTERVAL)

    describe = {
        "quickbooks": {"environment": qbc.environment, "base_url": qb_base, "realm_id": realm},
        "precoro": {"environment": pcc.environment, "base_url": pc_base},
    }
    return Connected(quickbooks, precoro, realm, describe, local)


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
