"""Intuit's webhooks as the local QuickBooks sends them: after writes, a signed POST to a URL.

The real payload shape since Intuit's move to CloudEvents (mandatory from July 2026): a JSON array
of events, each `{"specversion": "1.0", "id", "source", "type": "qbo.vendor.updated.v1",
"datacontenttype", "time", "intuitentityid", "intuitaccountid", "data": {}}`, signed in the
`intuit-signature` header with the verifier token, and batched over a short moment as Intuit batches
them. Delivery is best effort, as Intuit's is: a failed POST is dropped (the receiver's periodic
runs catch up), and it never fails the write.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import uuid
from typing import Any

import httpx

from ...webhooks import intuit_signature

log = logging.getLogger(__name__)


# The state's operations, as a CloudEvent's type says them.
ACTIONS = {"Create": "created", "Update": "updated", "Delete": "deleted", "Merge": "merged", "Void": "voided"}


def notification(events: list[tuple[str, str, str, str, str]]) -> list[dict[str, Any]]:
    """The body for (realm, entity, id, operation, lastUpdated) events: one CloudEvent each."""
    return [{"specversion": "1.0", "id": str(uuid.uuid4()), "source": "intuit.local-quickbooks",
             "type": f"qbo.{entity.lower()}.{ACTIONS.get(operation, operation.lower())}.v1",
             "datacontenttype": "application/json", "time": when, "intuitentityid": str(record_id),
             "intuitaccountid": realm, "data": {}}
            for realm, entity, record_id, operation, when in events]


class WebhookSender:
    """Called by the state after each write; POSTs what changed to `url` from a thread of its own."""

    def __init__(self, url: str, verifier: str, *, batch_seconds: float = 0.2) -> None:
        self.url = url
        self._verifier = verifier
        self.batch_seconds = batch_seconds
        self._events: queue.Queue = queue.Queue()
        self._thread = threading.Thread(target=self._deliver, name="local-qbo-webhooks", daemon=True)
        self._thread.start()

    def __call__(self, realm: str, entity: str, record_id: str, operation: str, when: str) -> None:
        self._events.put((realm, entity, record_id, operation, when))

    def close(self) -> None:
        self._events.put(None)
        self._thread.join(timeout=5)

    def _deliver(self) -> None:
        while True:
            first = self._events.get()
            if first is None:
                return
            events, closing = [first], False
            try:
                while True:
                    event = self._events.get(timeout=self.batch_seconds)
                    if event is None:
                        closing = True
                        break
                    events.append(event)
            except queue.Empty:
                pass
            body = json.dumps(notification(events)).encode()
            try:
                httpx.post(self.url, content=body, timeout=10,
                           headers={"intuit-signature": intuit_signature(self._verifier, body),
                                    "content-type": "application/json"})
            except httpx.HTTPError as exc:
                log.warning("local QuickBooks: webhook to %s not delivered (%s)", self.url, type(exc).__name__)
            if closing:
                return
