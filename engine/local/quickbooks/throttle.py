"""The throttle of the local QuickBooks: optional per-realm limits, as the real API limits apps (fact sheet §7).

Documented limits: 500 requests per minute (batch calls included), 40 batch calls per minute and
10 concurrent requests, per realm. A refused request gets HTTP 429 and Fault code 3001 with the
message string integrators report (`message=ThrottleExceeded; errorCode=003001; statusCode=429`),
in the JSON form of the XML fault Intuit sends (`type` "SERVICE"). Our conventions, since Intuit's
exact 429 is unconfirmed: a `Retry-After` header in whole seconds (when the oldest request leaves
the window; 1 for the concurrency limit), and refused requests do not count against the window.
"""

from __future__ import annotations

import math
import threading
import time
from collections import defaultdict, deque
from typing import Callable


class Throttle:
    """Sliding-window and concurrency limits; `window_seconds` is short in tests."""

    def __init__(
        self,
        requests_per_minute: int = 500,
        batches_per_minute: int = 40,
        concurrent: int = 10,
        window_seconds: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.requests_per_minute = requests_per_minute
        self.batches_per_minute = batches_per_minute
        self.concurrent = concurrent
        self.window_seconds = window_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._requests: dict[str, deque[float]] = defaultdict(deque)
        self._batches: dict[str, deque[float]] = defaultdict(deque)
        self._in_flight: dict[str, int] = defaultdict(int)

    def enter(self, realm: str, *, batch: bool) -> int | None:
        """Admit a request (None) or refuse it with the seconds to wait. Admitted ones must `leave`."""
        with self._lock:
            now = self._clock()
            windows = [(self._requests[realm], self.requests_per_minute)]
            if batch:
                windows.append((self._batches[realm], self.batches_per_minute))
            waits = []
            for window, limit in windows:
                while window and window[0] <= now - self.window_seconds:
                    window.popleft()
                if len(window) >= limit:
                    waits.append(window[len(window) - limit] + self.window_seconds - now)
            if waits:
                return max(1, math.ceil(max(waits)))
            if self._in_flight[realm] >= self.concurrent:
                return 1
            for window, _ in windows:
                window.append(now)
            self._in_flight[realm] += 1
            return None

    def leave(self, realm: str) -> None:
        with self._lock:
            self._in_flight[realm] -= 1
