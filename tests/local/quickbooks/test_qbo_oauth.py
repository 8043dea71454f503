"""The local OAuth server: rotation, expiry, the 401 envelope, authorize redirect, revocation."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest


@pytest.fixture
def oauth(server, credentials):
    """Raw HTTP to the OAuth endpoints, authenticated as the app with HTTP Basic."""
    with httpx.Client(base_url=server.url, auth=credentials, timeout=10) as client:
        yield client


def refresh(oauth: httpx.Client, refresh_token: str, *, ask_for_the_grants_end: bool = False) -> httpx.Response:
    headers = {"x-include-refresh-token-hard-expires-in": "true"} if ask_for_the_grants_end else {}
    return oauth.post("/oauth2/v1/tokens/bearer", data={"grant_type": "refresh_token", "refresh_token": refresh_token},
                      headers=headers)


def test_refresh_answers_like_the_documented_token_response(oauth, tokens):
    response = refresh(oauth, tokens["refresh_token"])

    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "bearer" and body["expires_in"] == 3600
    assert body["x_refresh_token_expires_in"] == 100 * 24 * 3600
    assert body["access_token"] != tokens["access_token"] and body["refresh_token"] != tokens["refresh_token"]
    assert response.headers["cache-control"] == "no-store"


def test_refresh_tokens_rotate_and_the_old_one_dies_at_once(oauth, tokens):
    rotated = refresh(oauth, tokens["refresh_token"]).json()

    reused = refresh(oauth, tokens["refresh_token"])

    assert reused.status_code == 400 and reused.json()["error"] == "invalid_grant"
    assert refresh(oauth, rotated["refresh_token"]).status_code == 200


def test_a_grant_ends_five_years_after_it_was_given_and_says_so_only_when_asked(oauth, tokens, clock):
    unasked = refresh(oauth, tokens["refresh_token"]).json()
    assert "x_refresh_token_hard_expires_in" not in unasked  # Intuit's answer without the header
    clock.advance(days=10)

    asked = refresh(oauth, unasked["refresh_token"], ask_for_the_grants_end=True).json()

    # The grant's five years run from the authorization, not from the refresh: 10 days are gone.
    assert asked["x_refresh_token_hard_expires_in"] == 157_680_000 - 10 * 86400
    assert asked["x_refresh_token_expires_in"] == 100 * 86400  # the rolling 100 days, as before


def test_no_refresh_token_outlives_its_grant(oauth, tokens, state, clock, realm):
    state.oauth.end_grants(realm, clock.now + timedelta(days=12))  # a grant of 2023 in 2028

    near = refresh(oauth, tokens["refresh_token"], ask_for_the_grants_end=True).json()
    assert near["x_refresh_token_hard_expires_in"] == near["x_refresh_token_expires_in"] == 12 * 86400
    clock.advance(days=12, seconds=1)

    ended = refresh(oauth, near["refresh_token"])
    assert ended.status_code == 400 and ended.json()["error"] == "invalid_grant"


def test_token_endpoint_refuses_bad_client_credentials_and_grants(server, tokens, credentials, real_payload):
    with httpx.Client(base_url=server.url, timeout=10) as anonymous:
        wrong = anonymous.post("/oauth2/v1/tokens/bearer", auth=(credentials[0], "wrong"),
                               data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]})
        posted = anonymous.post("/oauth2/v1/tokens/bearer", data={
            "grant_type": "refresh_token", "refresh_token": tokens["refresh_token"],
            "client_id": credentials[0], "client_secret": credentials[1]})
        odd = anonymous.post("/oauth2/v1/tokens/bearer", auth=credentials, data={"grant_type": "password"})

    assert wrong.status_code == 401 and wrong.json()["error"] == "invalid_client"
    assert posted.status_code == 200
    assert odd.status_code == 400 and odd.json()["error"] == "unsupported_grant_type"
    assert set(wrong.json()) == set(real_payload("intuit-QuickBooks-V3-DotNET-SDK/failure_token_response.json"))


def test_access_tokens_expire_after_one_hour_with_the_real_401_envelope(api, clock):
    assert api.get("/preferences").status_code == 200
    clock.advance(minutes=59)
    assert api.get("/preferences").status_code == 200
    clock.advance(minutes=1)

    response = api.get("/preferences")

    assert response.status_code == 401
    assert response.headers["www-authenticate"] == 'Bearer realm="Intuit", error="invalid_token"'
    body = response.json()
    error = body["fault"]["error"][0]
    assert error["message"] == "message=AuthenticationFailed; errorCode=003200; statusCode=401"
    assert error["code"] == "3200" and error["element"] is None and error["detail"].startswith("Token expired: ")
    assert body["fault"]["type"] == "AUTHENTICATION" and isinstance(body["time"], int)


@pytest.mark.parametrize("header", [None, "Bearer not-a-token", "Basic abc"])
def test_every_v3_call_needs_a_valid_bearer_token(server, realm, header):
    headers = {"Authorization": header} if header else {}

    response = httpx.get(f"{server.url}/v3/company/{realm}/preferences", headers=headers)

    assert response.status_code == 401 and response.json()["fault"]["error"][0]["code"] == "3200"


def test_a_token_only_opens_the_realm_it_was_issued_for(server, tokens, issue):
    issue("4620816365000001")

    response = httpx.get(f"{server.url}/v3/company/4620816365000001/preferences",
                         headers={"Authorization": f"Bearer {tokens['access_token']}"})

    assert response.status_code == 401


def test_authorize_redirects_with_code_state_and_realm_and_the_code_works_once(server, credentials, realm):
    redirect_uri = "http://127.0.0.1:9/callback"
    params = {"client_id": credentials[0], "redirect_uri": redirect_uri, "response_type": "code",
              "scope": "com.intuit.quickbooks.accounting", "state": "xyz-123"}

    response = httpx.get(f"{server.url}/connect/oauth2", params=params)

    assert response.status_code == 302
    location = urlsplit(response.headers["location"])
    answer = {key: values[0] for key, values in parse_qs(location.query).items()}
    assert f"{location.scheme}://{location.netloc}{location.path}" == redirect_uri
    assert answer["state"] == "xyz-123" and answer["realmId"] == realm and answer["code"]
    exchange = {"grant_type": "authorization_code", "code": answer["code"], "redirect_uri": redirect_uri}
    first = httpx.post(f"{server.url}/oauth2/v1/tokens/bearer", auth=credentials, data=exchange)
    second = httpx.post(f"{server.url}/oauth2/v1/tokens/bearer", auth=credentials, data=exchange)
    assert first.status_code == 200 and second.json()["error"] == "invalid_grant"
    company = httpx.get(f"{server.url}/v3/company/{realm}/companyinfo/{realm}",
                        headers={"Authorization": f"Bearer {first.json()['access_token']}"})
    assert company.status_code == 200


def test_authorize_can_pick_another_company_and_binds_the_redirect_uri(server, credentials):
    params = {"client_id": credentials[0], "redirect_uri": "https://app.example/cb", "response_type": "code",
              "scope": "com.intuit.quickbooks.accounting openid", "realmId": "123145"}

    answer = parse_qs(urlsplit(httpx.get(f"{server.url}/connect/oauth2", params=params).headers["location"]).query)
    wrong_uri = httpx.post(f"{server.url}/oauth2/v1/tokens/bearer", auth=credentials, data={
        "grant_type": "authorization_code", "code": answer["code"][0], "redirect_uri": "https://evil.example/cb"})

    assert answer["realmId"] == ["123145"]
    assert wrong_uri.json()["error"] == "invalid_grant"


@pytest.mark.parametrize(("change", "error"), [
    ({"client_id": "nobody"}, "invalid_client"),
    ({"response_type": "token"}, "unsupported_response_type"),
    ({"scope": "openid"}, "invalid_scope"),
    ({"redirect_uri": "javascript:alert(1)"}, "invalid_request"),
])
def test_authorize_refuses_bad_requests(server, credentials, change, error):
    params = {"client_id": credentials[0], "redirect_uri": "http://127.0.0.1:9/cb", "response_type": "code",
              "scope": "com.intuit.quickbooks.accounting", **change}

    response = httpx.get(f"{server.url}/connect/oauth2", params=params)

    assert response.status_code in (400, 401) and response.json()["error"] == error


@pytest.mark.parametrize("as_json", [True, False])
def test_revoking_a_refresh_token_ends_the_whole_grant(oauth, api, tokens, as_json):
    payload = {"token": tokens["refresh_token"]}
    revoked = oauth.post("/oauth2/v1/tokens/revoke", **({"json": payload} if as_json else {"data": payload}))

    assert revoked.status_code == 200
    assert refresh(oauth, tokens["refresh_token"]).json()["error"] == "invalid_grant"
    assert api.get("/preferences").status_code == 401


def test_discovery_document_points_at_this_host(server, real_payload):
    document = httpx.get(f"{server.url}/.well-known/openid_configuration").json()
    real = real_payload("intuit-QuickBooks-V3-DotNET-SDK/discovery.json")

    assert document["token_endpoint"] == f"{server.url}/oauth2/v1/tokens/bearer"
    assert document["authorization_endpoint"] == f"{server.url}/connect/oauth2"
    assert {"issuer", "authorization_endpoint", "token_endpoint", "revocation_endpoint", "userinfo_endpoint",
            "jwks_uri"} <= set(document) <= set(real)
