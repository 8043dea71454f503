"""The faults of the local Precoro: reproducible 500/503 before the work, 500 or a drop after it."""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass

# Refused before anything ran: safe to retry.
ERROR = "error"  # 500
UNAVAILABLE = "unavailable"  # 503
# The request ran (a write is stored) and then failed: a client cannot know the outcome.
ERROR_AFTER = "error_after"  # 500
DROP_AFTER = "drop_after"  # the connection closes mid-response

KINDS = (ERROR, UNAVAILABLE, ERROR_AFTER, DROP_AFTER)


@dataclass(frozen=True)
class InjectedFault:
    method: str
    path: str
    kind: str


class Faults:
    """Each request fails with probability `rate` with one of `kinds`; the same seed and the same
    requests give the same faults (`injected` lists them).

    A drop sends the headers and half the body, then closes: over HTTP the client sees a broken
    connection; through an in-process transport (which cannot drop) it sees a truncated body.
    """

    def __init__(self, rate: float, seed: int = 0, *, kinds: tuple[str, ...] = KINDS,
                 methods: tuple[str, ...] | None = None) -> None:
        if not 0.0 <= rate <= 1.0:
            raise ValueError("rate must be between 0 and 1")
        if not kinds or set(kinds) - set(KINDS):
            raise ValueError(f"kinds must be some of {KINDS}")
        self.rate = rate
        self.kinds = kinds
        self.methods = methods  # only requests of these methods fail (None: any)
        self._random = random.Random(seed)
        self._lock = threading.Lock()
        self.injected: list[InjectedFault] = []

    def draw(self, method: str, path: str) -> str | None:
        """The fault to inject into this request, if any (one of KINDS)."""
        if self.methods is not None and method not in self.methods:
            return None
        with self._lock:
            if self._random.random() >= self.rate:
                return None
            fault = InjectedFault(method, path, self._random.choice(self.kinds))
            self.injected.append(fault)
            return fault.kind
