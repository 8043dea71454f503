"""U4: what the webhook receiver accepts, and how a burst of notifications becomes one run."""

from __future__ import annotations

import json
import threading

from engine.local.quickbooks.webhooks import notification
from engine.webhooks import WebhookReceiver, intuit_signature, sections_named

VERIFIER = "verifier-1"


def signed(payload: dict | list) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(payload).encode()
    return body, {"intuit-signature": intuit_signature(VERIFIER, body)}


def test_u4_the_signature_is_base64_hmac_sha256_of_the_raw_body():
    # Computed independently: printf '{"a":1}' | openssl dgst -sha256 -hmac verifier-1 -binary | base64
    assert intuit_signature(VERIFIER, b'{"a":1}') == "RaHO4EzYC8L2ZoYpSqG4Xrq5Vz9U0aTJtKQoYZa5B3Y="


def test_u4_cloudevents_name_sections_of_the_company_only():
    payload = notification([("111", "Vendor", "5", "Update", "2026-12-03T10:00:00Z"), ("111", "Term", "2", "Create", "t"),
                            ("222", "Item", "9", "Update", "t"), ("111", "Customer", "3", "Update", "t"),
                            ("111", "BillPayment", "4", "Void", "t")])
    first = payload[0]
    assert first.pop("id") and first == {
        "specversion": "1.0", "source": "intuit.local-quickbooks", "type": "qbo.vendor.updated.v1",
        "datacontenttype": "application/json", "time": "2026-12-03T10:00:00Z", "intuitentityid": "5",
        "intuitaccountid": "111", "data": {}}
    assert payload[-1]["type"] == "qbo.billpayment.voided.v1"
    assert sections_named(payload, "111") == {"suppliers", "terms", "payments"}
    assert sections_named(payload) == {"suppliers", "terms", "items", "payments"}
    # Events qbsync does not sync, or that are not Intuit's, name nothing.
    assert sections_named([{"type": "qbo.estimate.created.v1", "intuitaccountid": "111"}, {"type": "vendor"}, "x"]) == set()


def test_u4_the_notifications_of_before_cloudevents_are_understood_too():
    legacy = {"eventNotifications": [
        {"realmId": "111", "dataChangeEvent": {"entities": [
            {"name": "Vendor", "id": "5", "operation": "Update", "lastUpdated": "2026-05-01T10:00:00Z"},
            {"name": "Customer", "id": "3", "operation": "Update", "lastUpdated": "2026-05-01T10:00:00Z"}]}},
        {"realmId": "222", "dataChangeEvent": {"entities": [
            {"name": "Item", "id": "9", "operation": "Create", "lastUpdated": "2026-05-01T10:00:00Z"}]}}]}
    assert sections_named(legacy, "111") == {"suppliers"}
    assert sections_named(legacy) == {"suppliers", "items"}
    assert sections_named({"something": "else"}) == set() and sections_named(None) == set()


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
