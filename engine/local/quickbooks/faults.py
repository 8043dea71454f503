"""The faults of the local QuickBooks: optional HTTP 500/503 and dropped connections, reproducible from a seed.

Each /v3 request draws one decision from a seeded random generator, in arrival order, so the same
seed and the same sequence of requests give the same faults. The `*_after_write` kinds let the
request run (a write is executed and its response stored under its `requestid`) and then lose the
response: exactly the case a client's exactly-once logic must survive. Token endpoint, discovery
and `/_local` admin paths are never touched. A dropped connection closes the socket without a
byte of response; under `httpx.WSGITransport` it surfaces as `ConnectionAbortedError` instead.
"""

from __future__ import annotations

import random
import threading

KINDS = ("error_500", "error_503", "drop", "error_500_after_write", "drop_after_write")


class Faults:
    """Inject a fault into a share `rate` (0..1) of requests, chosen by `seed`."""

    def __init__(self, rate: float, seed: int, kinds: tuple[str, ...] = KINDS) -> None:
        unknown = set(kinds) - set(KINDS)
        if unknown or not kinds:
            raise ValueError(f"fault kinds must be among {KINDS}")
        self.rate = rate
        self.kinds = kinds
        self._random = random.Random(seed)
        self._lock = threading.Lock()
        self.injected: list[tuple[str, str]] = []
        """(kind, "METHOD path") of every fault injected so far, in order."""

    def draw(self, method: str, path: str) -> str | None:
        """The fault for the next request, or None."""
        with self._lock:
            roll = self._random.random()
            kind = self._random.choice(self.kinds)
            if roll >= self.rate:
                return None
            self.injected.append((kind, f"{method} {path}"))
            return kind


def after_write(kind: str | None) -> bool:
    return kind is not None and kind.endswith("_after_write")
