"""Optional throttling (429, Retry-After, concurrency) and seeded fault injection."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from engine.local.quickbooks import Faults, QuickBooksApp, QuickBooksState, Throttle


class Monotonic:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def served_api(serve, state, realm, tokens, **options) -> httpx.Client:
    served = serve(QuickBooksApp(state, **options))
    return httpx.Client(base_url=f"{served.url}/v3/company/{realm}", timeout=10,
                        headers={"Authorization": f"Bearer {tokens['access_token']}"})


def test_requests_over_the_per_minute_limit_get_429_3001_with_retry_after(serve, state, realm, tokens, fault):
    ticks = Monotonic()
    api = served_api(serve, state, realm, tokens, throttle=Throttle(requests_per_minute=3, clock=ticks))

    statuses = [api.get("/preferences").status_code for _ in range(3)]
    ticks.now += 20
    refused = api.get("/preferences")

    assert statuses == [200, 200, 200]
    assert refused.status_code == 429 and refused.headers["retry-after"] == "40"
    assert fault(refused) == {"Message": "message=ThrottleExceeded; errorCode=003001; statusCode=429",
                              "Detail": "The request limit was reached.  Try again later", "code": "3001"}
    assert refused.json()["Fault"]["type"] == "SERVICE"
    ticks.now += 40
    assert api.get("/preferences").status_code == 200


def test_batch_calls_have_their_own_limit_within_the_request_limit(serve, state, realm, tokens):
    api = served_api(serve, state, realm, tokens, throttle=Throttle(requests_per_minute=10, batches_per_minute=2,
                                                                   clock=Monotonic()))
    batch = {"BatchItemRequest": [{"bId": "1", "Query": "select * from Vendor"}]}

    statuses = [api.post("/batch", json=batch).status_code for _ in range(3)]

    assert statuses == [200, 200, 429]
    assert api.get("/preferences").status_code == 200


def test_a_short_window_frees_up_in_real_time(serve, state, realm, tokens):
    api = served_api(serve, state, realm, tokens, throttle=Throttle(requests_per_minute=2, window_seconds=0.5))

    statuses = [api.get("/preferences").status_code for _ in range(3)]
    time.sleep(0.55)

    assert statuses == [200, 200, 429]
    assert api.get("/preferences").status_code == 200


def test_throttling_is_per_realm(serve, state, realm, tokens, issue):
    served = serve(QuickBooksApp(state, throttle=Throttle(requests_per_minute=1, clock=Monotonic())))
    other = issue("4620816365000002")

    def get(company: str, token: str) -> int:
        return httpx.get(f"{served.url}/v3/company/{company}/preferences",
                         headers={"Authorization": f"Bearer {token}"}).status_code

    assert get(realm, tokens["access_token"]) == 200
    assert get(realm, tokens["access_token"]) == 429
    assert get("4620816365000002", other["access_token"]) == 200


def test_more_concurrent_requests_than_allowed_get_429(serve, state, realm, tokens):
    served = serve(QuickBooksApp(state, throttle=Throttle(concurrent=2), latency=0.3))

    def call(_: int) -> httpx.Response:
        return httpx.get(f"{served.url}/v3/company/{realm}/preferences",
                         headers={"Authorization": f"Bearer {tokens['access_token']}"}, timeout=10)

    with ThreadPoolExecutor(max_workers=6) as pool:
        responses = list(pool.map(call, range(6)))

    statuses = sorted(r.status_code for r in responses)
    assert statuses.count(200) >= 2 and statuses.count(429) >= 1 and set(statuses) == {200, 429}
    assert all(r.headers["retry-after"] == "1" for r in responses if r.status_code == 429)


def run_script(serve, realm, seed: int, credentials) -> tuple[list, list]:
    """The same 20 requests against a fresh company with Faults(0.3, seed)."""
    state = QuickBooksState()
    state.register_client(*credentials)
    token = state.issue_tokens(credentials[0], realm)["access_token"]
    faults = Faults(0.3, seed)
    served = serve(QuickBooksApp(state, faults=faults))
    outcomes = []
    with httpx.Client(base_url=f"{served.url}/v3/company/{realm}", timeout=10,
                      headers={"Authorization": f"Bearer {token}"}) as api:
        for n in range(20):
            try:
                outcomes.append(api.post("/vendor", json={"DisplayName": f"V{n}"}).status_code)
            except httpx.TransportError:
                outcomes.append("dropped")
    return faults.injected, outcomes


def test_fault_injection_is_reproducible_from_the_seed(serve, realm, credentials):
    first = run_script(serve, realm, 42, credentials)
    again = run_script(serve, realm, 42, credentials)
    other = run_script(serve, realm, 43, credentials)

    assert first == again
    assert first != other
    assert {kind for kind, _ in first[0]} <= {"error_500", "error_503", "drop", "error_500_after_write",
                                             "drop_after_write"}
    assert 0 < len(first[0]) < 20


@pytest.mark.parametrize(("kind", "answer", "written"), [
    ("error_500", 500, False), ("error_503", 503, False), ("drop", "dropped", False),
    ("error_500_after_write", 500, True), ("drop_after_write", "dropped", True)])
def test_w3_a_fault_before_loses_the_write_and_one_after_loses_only_the_answer(
        serve, state, realm, tokens, seed_for, kind, answer, written):
    faults = Faults(0.5, seed_for(0.5, [kind, None]))
    api = served_api(serve, state, realm, tokens, faults=faults)

    def vendors() -> int:
        return state.query(realm, "SELECT COUNT(*) FROM Vendor").total_count

    try:
        status = api.post("/vendor", params={"requestid": "w-1"}, json={"DisplayName": "Exactly Once"}).status_code
    except httpx.TransportError:
        status = "dropped"
    stored_before_retry = vendors()
    retry = api.post("/vendor", params={"requestid": "w-1"}, json={"DisplayName": "Exactly Once"})

    assert status == answer and faults.injected == [(kind, f"POST /v3/company/{realm}/vendor")]
    assert stored_before_retry == int(written)
    assert retry.status_code == 200 and retry.json()["Vendor"]["DisplayName"] == "Exactly Once"
    assert vendors() == 1


def test_faults_never_touch_the_token_endpoint_discovery_or_admin_paths(serve, state, realm, tokens, credentials):
    served = serve(QuickBooksApp(state, faults=Faults(1.0, 1)))

    refreshed = httpx.post(f"{served.url}/oauth2/v1/tokens/bearer", auth=credentials,
                           data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]})
    discovery = httpx.get(f"{served.url}/.well-known/openid_configuration")
    reset = httpx.post(f"{served.url}/_local/{realm}/reset")

    assert [refreshed.status_code, discovery.status_code, reset.status_code] == [200, 200, 200]
