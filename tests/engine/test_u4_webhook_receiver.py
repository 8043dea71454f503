"""U4: what the webhook receiver accepts, and how a burst of notifications becomes one run."""

from __future__ import annotations

import json
import threading

from engine.local.quickbooks.webhooks import notification
from engine.webhooks import WebhookReceiver, intuit_signature, sections_named

VERIFIER = "verifier-1"


def signed(payload: dict) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(payload).encode()
    return body, {"intuit-signature": intuit_signature(VERIFIER, body)}


def test_u4_the_signature_is_base64_hmac_sha256_of_the_raw_body():
    # Computed independently: printf '{"a":1}' | openssl dgst -sha256 -hmac verifier-1 -binary | base64
    assert intuit_signature(VERIFIER, b'{"a":1}') == "RaHO4EzYC8L2ZoYpSqG4Xrq5Vz9U0aTJtKQoYZa5B3Y="


def test_u4_notifications_name_sections_of_the_company_only():
    payload = notification([("111", "Vendor", "5", "Update", "t"), ("111", "Term", "2", "Create", "t"),
                            ("222", "Item", "9", "Update", "t"), ("111", "Customer", "3", "Update", "t")])
    assert payload["eventNotifications"][0]["dataChangeEvent"]["entities"][0] == {
        "name": "Vendor", "id": "5", "operation": "Update", "lastUpdated": "t"}
    assert sections_named(payload, "111") == {"suppliers", "terms"}
    assert sections_named(payload) == {"suppliers", "terms", "items"}


def test_u4_a_burst_makes_one_run_and_forged_or_unsigned_ones_none():
    runs: list = []
    ran = threading.Event()

    def run(sections):
        runs.append(sections)
        ran.set()

    receiver = WebhookReceiver(run, verifier=VERIFIER, precoro_secret="s3cret", debounce=0.2)
    body, headers = signed(notification([("1", "Vendor", "5", "Update", "t")]))
    assert receiver.handle("POST", "/quickbooks", {}, body).status == 401
    assert receiver.handle("POST", "/quickbooks", {"intuit-signature": "AAAA"}, body).status == 401
    assert receiver.handle("POST", "/precoro/wrong", {}, b"{}").status == 401
    receiver.start()
    try:
        assert receiver.handle("POST", "/quickbooks", headers, body).status == 200
        body, headers = signed(notification([("1", "Item", "7", "Create", "t")]))
        assert receiver.handle("POST", "/quickbooks", headers, body).status == 200
        assert ran.wait(5)
    finally:
        receiver.stop()
    assert runs == [["items", "suppliers"]]


def test_u4_a_precoro_notification_on_the_secret_path_runs_every_entity():
    runs: list = []
    ran = threading.Event()
    receiver = WebhookReceiver(lambda sections: (runs.append(sections), ran.set()), verifier=VERIFIER,
                               precoro_secret="s3cret", debounce=0.05)
    receiver.start()
    try:
        assert receiver.handle("POST", "/precoro/s3cret", {}, b"{}").status == 200
        assert ran.wait(5)
    finally:
        receiver.stop()
    assert runs == [None]
