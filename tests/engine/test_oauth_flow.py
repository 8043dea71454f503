"""Connecting the real services, against the local APIs served on loopback (real HTTP, no mocks):
the QuickBooks authorization-code flow, stored credentials and their rotation, Precoro keys,
disconnecting (L2)."""

from __future__ import annotations

import re
import threading
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

import rules as rules_pkg
from engine.clients.auth import StaticToken
from engine.clients.errors import AuthenticationFailed
from engine.clients.quickbooks import QuickBooksClient
from engine.connections import (
    QUICKBOOKS_AUTHORIZE_URL,
    QUICKBOOKS_BASE_URLS,
    QUICKBOOKS_REVOKE_URL,
    QUICKBOOKS_TOKEN_URL,
    connect,
    quickbooks_endpoints,
    saved_connections,
)
from engine.errors import NotConnected
from engine.local.serve import LocalApis
from engine.oauth_flow import (
    ACCOUNTING_SCOPE,
    ConnectRefused,
    QuickBooksAuthorization,
    RedirectListener,
    app_credentials,
    check_state,
    connect_precoro,
    disconnect_precoro,
    disconnect_quickbooks,
    flow_endpoints,
    parse_redirect,
)
from engine.store import Store

ROOT = Path(__file__).resolve().parents[2]
# The test's own HTTP (the operator's browser, direct token calls): plain loopback, no CA loading.
browser = httpx.Client(transport=httpx.HTTPTransport(verify=False))


@pytest.fixture(scope="module")
def apis():
    served = LocalApis.start(seed="demo")
    yield served
    served.close()


def write_rules(path: Path, quickbooks: str, precoro: str) -> Path:
    lines = (ROOT / "rules.yaml").read_text().splitlines()
    start = lines.index("connections:")
    end = next(i for i in range(start + 1, len(lines)) if re.match(r"^[a-z]", lines[i]))
    path.write_text("\n".join(lines[:start] + ["connections:", f"  quickbooks: {quickbooks}",
                                               f"  precoro: {precoro}"] + lines[end:]) + "\n")
    return path


@pytest.fixture
def rules(tmp_path, apis):
    info = apis.info()
    return rules_pkg.load(write_rules(
        tmp_path / "rules.yaml", f"{{environment: local, base_url: '{info['quickbooks']['base_url']}'}}",
        f"{{environment: local, base_url: '{info['precoro']['base_url']}'}}"))


@pytest.fixture
def store(tmp_path):
    opened = Store(tmp_path / ".qbsync" / "state.db")
    yield opened
    opened.close()


def browse(url: str) -> str:
    """The operator's browser: open the authorization URL, consent, land on the redirect URI."""
    response = browser.get(url, follow_redirects=False)
    assert response.status_code == 302, response.text
    return response.headers["location"]


def authorize(rules, store, apis, **options) -> QuickBooksAuthorization:
    info = apis.info()["quickbooks"]
    return QuickBooksAuthorization(rules, store, flow_endpoints(rules), info["client_id"], info["client_secret"],
                                   **options)


def token_endpoint(apis, form: dict) -> httpx.Response:
    info = apis.info()["quickbooks"]
    return browser.post(info["token_url"], data=form, auth=(info["client_id"], info["client_secret"]))


def connected_store(rules, store, apis) -> dict:
    """Both services connected through the flows; the stored QuickBooks record."""
    flow = authorize(rules, store, apis)
    flow.finish(browse(flow.url))
    connect_precoro(rules, store, apis.info()["precoro"]["email"], apis.info()["precoro"]["token"])
    return store.get_tokens("quickbooks")


# -- the authorization URL and the pasted answer ------------------------------------------------


def test_authorization_url_asks_for_accounting_with_a_fresh_random_state(rules, store, apis):
    first, second = authorize(rules, store, apis), authorize(rules, store, apis)
    query = parse_qs(urlsplit(first.url).query)
    assert first.url.startswith(apis.info()["quickbooks"]["authorize_url"] + "?")
    assert query["scope"] == [ACCOUNTING_SCOPE] and query["response_type"] == ["code"]
    assert query["client_id"] == ["qbsync-local"] and query["redirect_uri"] == ["http://localhost:8765/callback"]
    assert query["state"] == [first.state] and len(first.state) >= 32 and first.state != second.state


@pytest.mark.parametrize("pasted", [
    "http://localhost:8765/callback?code=C1&state=S1&realmId=123",
    "  'http://localhost:8765/callback?code=C1&state=S1&realmId=123#_=_'\n",
    "?code=C1&state=S1&realmId=123",
    "code=C1&state=S1&realmId=123",
    "/callback?code=C1&state=S1&realmId=123",
])
def test_a_pasted_redirect_is_read_whole_or_as_its_query(pasted):
    answer = parse_redirect(pasted)
    assert (answer.code, answer.state, answer.realm_id) == ("C1", "S1", "123")
    assert "C1" not in repr(answer)


@pytest.mark.parametrize("pasted, reason", [
    ("", "no redirect URL"),
    ("http://localhost:8765/callback?state=S1", "no `code`"),
    ("http://localhost:8765/callback?error=access_denied&state=S1", "did not authorize"),
])
def test_a_pasted_redirect_without_a_code_is_refused(pasted, reason):
    with pytest.raises(ConnectRefused, match=reason):
        parse_redirect(pasted)


def test_check_state_refuses_another_request():
    check_state("abc", "abc")
    with pytest.raises(ConnectRefused, match="does not match"):
        check_state("abc", "abd")


# -- the whole flow -----------------------------------------------------------------------------


def test_finish_stores_the_connection_and_remembers_the_realm(rules, store, apis):
    flow = authorize(rules, store, apis)
    result = flow.finish(browse(flow.url))

    stored = store.get_tokens("quickbooks")
    assert set(stored) >= {"client_id", "client_secret", "realm_id", "environment", "access_token",
                           "access_expires_at", "refresh_token", "refresh_expires_at"}
    assert stored["realm_id"] == apis.realm == result["realm_id"] and stored["environment"] == "local"
    assert result["company"] and result["warnings"] == []
    assert result["access_token_expires_at"] and result["refresh_token_expires_at"]
    # What is returned for the operator holds no secret.
    assert not {stored["access_token"], stored["refresh_token"], stored["client_secret"]} & set(map(str, result.values()))
    qb = QuickBooksClient(apis.info()["quickbooks"]["base_url"], stored["realm_id"], StaticToken(stored["access_token"]))
    assert qb.company_info()["CompanyName"] == result["company"]
    qb.close()


def test_state_mismatch_is_refused_and_nothing_is_stored(rules, store, apis):
    flow = authorize(rules, store, apis)
    location = browse(flow.url).replace(f"state={flow.state}", "state=forged")
    with pytest.raises(ConnectRefused, match="state"):
        flow.finish(location)
    assert store.get_tokens("quickbooks") is None


def test_an_authorization_code_works_once(rules, store, apis):
    flow = authorize(rules, store, apis)
    location = browse(flow.url)
    flow.finish(location)
    first = store.get_tokens("quickbooks")
    with pytest.raises(ConnectRefused, match="invalid_grant"):
        flow.finish(location)
    assert store.get_tokens("quickbooks") == first  # the good connection is untouched


def test_the_embedded_local_api_needs_no_connecting(tmp_path, store, apis):
    embedded = rules_pkg.load(write_rules(tmp_path / "r.yaml", "{environment: local}", "{environment: local}"))
    with pytest.raises(ConnectRefused, match="embedded"):
        flow_endpoints(embedded)
    # A served local API named on the command line is fine.
    info = apis.info()["quickbooks"]
    ep = flow_endpoints(embedded, authorize_url=info["authorize_url"], token_url=info["token_url"])
    assert ep.revoke_url == info["token_url"].replace("/bearer", "/revoke")
    with pytest.raises(ConnectRefused, match="embedded"):
        connect_precoro(embedded, store, "a@b.example", "t")


def test_intuit_endpoints_for_sandbox_and_production(rules):
    for environment in ("sandbox", "production"):
        ep = quickbooks_endpoints(rules.connections.quickbooks, environment)
        assert (ep.authorize_url, ep.token_url, ep.revoke_url) == (
            QUICKBOOKS_AUTHORIZE_URL, QUICKBOOKS_TOKEN_URL, QUICKBOOKS_REVOKE_URL)
        # The rules' local base_url belongs to the local environment only.
        assert ep.api_base_url == QUICKBOOKS_BASE_URLS[environment]


def test_listener_catches_the_redirect_on_loopback(rules, store, apis):
    with RedirectListener("http://127.0.0.1:0/callback") as probe:  # a free port
        port = probe._server.server_address[1]
    redirect = f"http://127.0.0.1:{port}/callback"
    flow = authorize(rules, store, apis, redirect_uri=redirect)
    with RedirectListener(redirect) as listener:
        pages = []
        user = threading.Thread(target=lambda: pages.append(browser.get(browse(flow.url))))
        user.start()
        pasted = listener.wait(timeout=10)
        user.join(10)
    assert pages[0].status_code == 200 and "close this tab" in pages[0].text
    assert flow.finish(pasted)["realm_id"] == apis.realm


def test_listener_needs_a_loopback_redirect_uri():
    with pytest.raises(ConnectRefused, match="--listen"):
        RedirectListener("https://example.com/callback")


# -- stored credentials at work -----------------------------------------------------------------


def test_stored_credentials_alone_connect(rules, store, apis, tmp_path):
    connected_store(rules, store, apis)
    conn = connect(rules, store, env={})
    try:
        assert conn.realm_id == apis.realm and conn.quickbooks.company_info()["CompanyName"]
        assert next(iter(conn.precoro.list_all("/suppliers", per_page=10)))
        assert conn.describe["quickbooks"]["credentials"] == conn.describe["precoro"]["credentials"] == "stored"
    finally:
        conn.close()


def test_an_expiring_access_token_is_refreshed_and_the_rotation_stored_before_use(rules, store, apis, tmp_path):
    before = connected_store(rules, store, apis)
    store.set_tokens("quickbooks", {**before, "access_expires_at": 0})
    conn = connect(rules, store, env={})
    try:
        conn.quickbooks.company_info()
    finally:
        conn.close()
    after = store.get_tokens("quickbooks")
    assert after["refresh_token"] != before["refresh_token"] and after["access_token"] != before["access_token"]
    assert after["access_expires_at"] > before["access_expires_at"] - 5
    assert conn.describe["quickbooks"]["access_token_expires_at"]  # status shows the new expiry
    # The old refresh token is dead: only the stored one carries the connection on.
    old = token_endpoint(apis, {"grant_type": "refresh_token", "refresh_token": before["refresh_token"]})
    assert old.status_code == 400 and old.json()["error"] == "invalid_grant"


def test_a_refused_access_token_is_refreshed_once(rules, store, apis, tmp_path):
    before = connected_store(rules, store, apis)
    store.set_tokens("quickbooks", {**before, "access_token": "not-a-token"})
    conn = connect(rules, store, env={})
    try:
        assert conn.quickbooks.company_info()["CompanyName"]
    finally:
        conn.close()
    assert store.get_tokens("quickbooks")["refresh_token"] != before["refresh_token"]


def test_a_dead_refresh_token_says_reconnect(rules, store, apis, tmp_path):
    before = connected_store(rules, store, apis)
    token_endpoint(apis, {"grant_type": "refresh_token", "refresh_token": before["refresh_token"]})  # used up elsewhere
    store.set_tokens("quickbooks", {**before, "access_expires_at": 0})
    conn = connect(rules, store, env={})
    try:
        with pytest.raises(AuthenticationFailed, match="qbsync connect quickbooks") as caught:
            conn.quickbooks.company_info()
    finally:
        conn.close()
    assert before["refresh_token"] not in str(caught.value)


def test_stored_rotation_wins_over_the_retired_environment_token(rules, store, apis, tmp_path):
    info = apis.info()["quickbooks"]
    grant = apis.quickbooks.issue_tokens(info["client_id"], apis.realm)
    env = {"QUICKBOOKS_CLIENT_ID": info["client_id"], "QUICKBOOKS_CLIENT_SECRET": info["client_secret"],
           "QUICKBOOKS_REFRESH_TOKEN": grant["refresh_token"], "QUICKBOOKS_REALM_ID": apis.realm,
           "PRECORO_EMAIL": apis.info()["precoro"]["email"], "PRECORO_TOKEN": apis.info()["precoro"]["token"]}
    for _ in range(2):  # the second run would fail with the environment's (now retired) token
        conn = connect(rules, store, env=env)
        try:
            conn.quickbooks.company_info()
        finally:
            conn.close()
    assert store.get_tokens("quickbooks")["refresh_token"] != grant["refresh_token"]
    # A token the operator exports afterwards (a new grant) is not the chain's seed: it wins.
    fresh = apis.quickbooks.issue_tokens(info["client_id"], apis.realm)
    conn = connect(rules, store, env={**env, "QUICKBOOKS_REFRESH_TOKEN": fresh["refresh_token"]})
    try:
        assert conn.describe["quickbooks"]["credentials"] == "environment"
        conn.quickbooks.company_info()
    finally:
        conn.close()


def test_a_stored_connection_for_another_environment_is_not_used(tmp_path, rules, store, apis):
    connected_store(rules, store, apis)
    sandbox = rules_pkg.load(write_rules(tmp_path / "s.yaml", "{environment: sandbox}", "{environment: com}"))
    with pytest.raises(NotConnected, match="stored QuickBooks connection is for local") as caught:
        connect(sandbox, store, env={})
    assert caught.value.side == "quickbooks"
    status = saved_connections(sandbox, store, caught.value)
    assert status["quickbooks"]["error"] and status["precoro"].get("error") is None
    assert store.get_tokens("quickbooks")["client_secret"] not in repr(status)


def test_app_credentials_come_from_the_environment_or_the_same_environment_connection(rules, store, apis):
    assert app_credentials(store, "local", {}) == (None, None)
    stored = connected_store(rules, store, apis)
    assert app_credentials(store, "local", {}) == (stored["client_id"], stored["client_secret"])
    assert app_credentials(store, "sandbox", {}) == (None, None)
    # Another app's id never pairs with the stored secret.
    assert app_credentials(store, "local", {"QUICKBOOKS_CLIENT_ID": "other"}) == ("other", None)


# -- Precoro ------------------------------------------------------------------------------------


def test_precoro_key_is_checked_before_it_is_stored(rules, store, apis):
    email = apis.info()["precoro"]["email"]
    with pytest.raises(ConnectRefused, match="refused that email and API token"):
        connect_precoro(rules, store, email, "wrong-token")
    assert store.get_tokens("precoro") is None
    result = connect_precoro(rules, store, email, apis.info()["precoro"]["token"])
    assert result["email"] == email and store.get_tokens("precoro")["token"] == apis.info()["precoro"]["token"]
    assert disconnect_precoro(store) and store.get_tokens("precoro") is None


# -- disconnecting ------------------------------------------------------------------------------


def test_l2_disconnect_revokes_the_grant_and_keeps_links(rules, store, apis):
    stored = connected_store(rules, store, apis)
    store.put_link("suppliers", stored["realm_id"], "1", "56", how="matched", since="2026-01-01", baseline={}, active={})

    result = disconnect_quickbooks(store)

    assert result["revoked"] and store.get_tokens("quickbooks") is None
    assert store.count_links("suppliers", stored["realm_id"]) == 1
    refused = token_endpoint(apis, {"grant_type": "refresh_token", "refresh_token": stored["refresh_token"]})
    assert refused.json()["error"] == "invalid_grant"
    assert disconnect_quickbooks(store)["stored"] is False


def test_disconnect_forgets_a_token_that_was_already_dead(rules, store, apis):
    stored = connected_store(rules, store, apis)
    store.set_tokens("quickbooks", {**stored, "client_secret": "changed-since"})
    result = disconnect_quickbooks(store)
    assert result["revoked"] is False and "already unusable" in result["note"]
    assert store.get_tokens("quickbooks") is None
