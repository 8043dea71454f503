"""OAuthSession against the local token endpoint: refresh, rotation order, errors, code flow, revoke."""

from __future__ import annotations

import threading
import time
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from engine.clients.auth import OAuthSession, OAuthTokens
from engine.clients.errors import AuthenticationFailed, ServerError

NOW = 1_800_000_000.0


@pytest.fixture
def rotations() -> list[OAuthTokens]:
    return []


@pytest.fixture
def session_for(server, credentials, rotations):
    sessions: list[OAuthSession] = []

    def build(token_response: dict | None, *, access_left: float = 3600, **options) -> OAuthSession:
        tokens = None
        if token_response:
            tokens = OAuthTokens(token_response["access_token"], NOW + access_left,
                                 token_response["refresh_token"], NOW + 86400)
        options.setdefault("on_rotate", rotations.append)
        options.setdefault("clock", lambda: NOW)
        sessions.append(OAuthSession(f"{server.url}/oauth2/v1/tokens/bearer", *credentials, tokens, **options))
        return sessions[-1]

    yield build
    for session in sessions:
        session.close()


def test_bearer_is_the_current_token_while_it_has_time_left(session_for, tokens, rotations):
    session = session_for(tokens, access_left=61)

    assert session.bearer() == tokens["access_token"] and rotations == []


def test_bearer_refreshes_inside_the_skew_and_hands_the_rotation_over_first(session_for, tokens, rotations, api):
    seen_by_on_rotate: list[str] = []
    session = session_for(tokens, access_left=59, on_rotate=lambda new: (rotations.append(new),
                                                                           seen_by_on_rotate.append("stored")))

    bearer = session.bearer()

    assert seen_by_on_rotate == ["stored"] and len(rotations) == 1
    assert bearer == rotations[0].access_token != tokens["access_token"]
    assert rotations[0].refresh_token != tokens["refresh_token"]
    assert rotations[0].access_expires_at == NOW + 3600
    assert session.bearer() == bearer and len(rotations) == 1
    assert api.get("/preferences", headers={"Authorization": f"Bearer {bearer}"}).status_code == 200


def test_a_failing_on_rotate_stops_the_new_token_from_being_used(session_for, tokens):
    def refuse(_: OAuthTokens) -> None:
        raise OSError("disk full")

    session = session_for(tokens, access_left=0, on_rotate=refuse)

    with pytest.raises(OSError):
        session.bearer()
    with pytest.raises(AuthenticationFailed, match="qbsync connect quickbooks"):
        session.bearer()  # the old refresh token died with the rotation: reconnect


def test_a_used_refresh_token_is_invalid_grant_telling_the_operator_to_reconnect(session_for, tokens, server,
                                                                                  credentials):
    httpx.post(f"{server.url}/oauth2/v1/tokens/bearer", auth=credentials,
               data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]})
    session = session_for(tokens)

    with pytest.raises(AuthenticationFailed) as refused:
        session.refresh()

    assert refused.value.code == "invalid_grant" and "qbsync connect quickbooks" in str(refused.value)
    assert tokens["refresh_token"] not in str(refused.value)


def test_a_refresh_after_the_grants_five_years_says_the_authorization_ended(server, credentials, state, realm,
                                                                            clock, tokens):
    state.oauth.end_grants(realm, clock.now)  # its five years are over at the token endpoint
    clock.advance(seconds=1)
    said_end = NOW - 86400  # and the session knew that end from an earlier answer
    session = OAuthSession(f"{server.url}/oauth2/v1/tokens/bearer", *credentials,
                           OAuthTokens(tokens["access_token"], 0, tokens["refresh_token"], NOW, said_end),
                           on_rotate=lambda _: None, clock=lambda: NOW)

    with pytest.raises(AuthenticationFailed) as refused:
        session.bearer()

    said = time.strftime("%Y-%m-%d", time.gmtime(said_end))
    assert refused.value.message == (
        f"the QuickBooks authorization ended on {said}: Intuit ends every authorization five years after it was given; "
        "reconnect with `qbsync connect quickbooks` (someone who can authorize the company)")
    assert refused.value.code == "invalid_grant"
    session.close()


def test_wrong_client_secret_is_invalid_client(server, tokens, credentials):
    session = OAuthSession(f"{server.url}/oauth2/v1/tokens/bearer", credentials[0], "wrong",
                           OAuthTokens(tokens["access_token"], 0, tokens["refresh_token"], NOW), on_rotate=lambda _: None)

    with pytest.raises(AuthenticationFailed) as refused:
        session.bearer()

    assert refused.value.code == "invalid_client" and "wrong" not in str(refused.value)
    session.close()


def test_one_refresh_for_many_threads_hit_by_401_at_once(session_for, tokens, rotations):
    session = session_for(tokens)
    rejected = session.bearer()
    barrier = threading.Barrier(8)
    failures: list[Exception] = []

    def on_401() -> None:
        barrier.wait()
        try:
            session.refresh(rejected)
        except Exception as exc:  # noqa: BLE001 - collected for the assertion below
            failures.append(exc)

    threads = [threading.Thread(target=on_401) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert failures == [] and len(rotations) == 1


def test_authorization_code_flow_yields_stored_tokens(session_for, server, credentials, rotations, realm):
    redirect_uri = "http://127.0.0.1:9/connected"
    location = httpx.get(f"{server.url}/connect/oauth2", params={
        "client_id": credentials[0], "redirect_uri": redirect_uri, "response_type": "code",
        "scope": "com.intuit.quickbooks.accounting", "state": "s"}).headers["location"]
    code = parse_qs(urlsplit(location).query)["code"][0]
    session = session_for(None)

    tokens = session.exchange_code(code, redirect_uri)

    assert rotations == [tokens] and session.bearer() == tokens.access_token
    preferences = httpx.get(f"{server.url}/v3/company/{realm}/preferences",
                            headers={"Authorization": f"Bearer {tokens.access_token}"})
    assert preferences.status_code == 200


def test_revoke_ends_the_connection(session_for, tokens, api):
    session = session_for(tokens)

    session.revoke()

    assert api.get("/preferences").status_code == 401
    with pytest.raises(AuthenticationFailed, match="not connected"):
        session.bearer()


def test_an_unreachable_token_endpoint_is_a_server_error(credentials, tokens):
    session = OAuthSession("http://127.0.0.1:9/oauth2/v1/tokens/bearer", *credentials,
                           OAuthTokens(tokens["access_token"], 0, tokens["refresh_token"], NOW), on_rotate=lambda _: None)

    with pytest.raises(ServerError):
        session.bearer()
    session.close()


def test_secrets_never_show_in_reprs(session_for, tokens, credentials):
    session = session_for(tokens)
    stored = OAuthTokens("access-secret", NOW, "refresh-secret", NOW)

    for text in (repr(stored), str(stored), repr(session)):
        for secret in ("access-secret", "refresh-secret", tokens["access_token"], tokens["refresh_token"],
                       credentials[1]):
            assert secret not in text


def test_the_session_asks_for_the_grants_end_and_a_refresh_that_does_not_say_it_keeps_it(session_for, tokens,
                                                                                          rotations):
    session = session_for(tokens, access_left=59)

    session.bearer()  # a refresh: the local token endpoint says the grant's end only when asked

    assert rotations[0].grant_ends_at == NOW + 157_680_000  # five years: the grant was just given
    # An answer without it (an older token endpoint) is the same grant: its end stays known.
    silent = {"access_token": "a", "expires_in": 3600, "refresh_token": "r", "x_refresh_token_expires_in": 8_640_000}
    assert OAuthTokens.from_response(silent, NOW + 5, rotations[0]).grant_ends_at == rotations[0].grant_ends_at
    assert OAuthTokens.from_response(silent, NOW + 5).grant_ends_at is None
    assert "grant_ends_at" in repr(rotations[0]) and rotations[0].refresh_token not in repr(rotations[0])
