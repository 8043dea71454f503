"""The throttle of the local Precoro: the documented rate limits per API user, 429 with the retry time in the body."""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict, deque
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Callable

DUPLICATE_LIMITER = "Route based limiter by minute"
# Our convention: the label of the 1 request/second limiter is not documented.
SECOND_LIMITER = "Concurrency limiter"
HOURLY_LIMITER = "Hourly limiter"
DAILY_LIMITER = "Daily limiter"


@dataclass(frozen=True)
class Refusal:
    """Why a request was refused and when it may be sent again (epoch seconds)."""

    limiter: str
    limit: int
    retry_at: float

    def body(self) -> dict[str, object]:
        """The real 429 body; the time has whole seconds, rounded up so a retry then is admitted."""
        retry = datetime.fromtimestamp(math.ceil(self.retry_at), timezone.utc)
        return {
            "error": "Too many requests for this endpoint",
            "RateLimit-Type": self.limiter,
            "RateLimit-Retry-After": retry.strftime("%Y-%m-%d %H:%M:%S UTC"),
            "RateLimit-Limit": self.limit,
        }


class _Window:
    """A sliding window: at most `limit` admitted requests in any `seconds`."""

    def __init__(self, limiter: str, limit: int, seconds: float) -> None:
        self.limiter, self.limit, self.seconds = limiter, limit, seconds
        self._admitted: deque[float] = deque()

    def refusal(self, now: float) -> Refusal | None:
        while self._admitted and self._admitted[0] <= now - self.seconds:
            self._admitted.popleft()
        if len(self._admitted) < self.limit:
            return None
        return Refusal(self.limiter, self.limit, self._admitted[0] + self.seconds)

    def admit(self, now: float) -> None:
        self._admitted.append(now)


class _UserLimits:
    def __init__(self, throttle: Throttle) -> None:
        self.windows = [
            _Window(limiter, limit, seconds)
            for limiter, limit, seconds in (
                (DAILY_LIMITER, throttle.per_day, 86400.0),
                (HOURLY_LIMITER, throttle.per_hour, 3600.0),
                (SECOND_LIMITER, throttle.per_second, 1.0),
            )
            if limit is not None
        ]
        # target -> when it was last admitted, oldest first
        self.recent_gets: OrderedDict[str, float] = OrderedDict()


class Throttle:
    """Off unless given to the app. Limits are per API user; `None` turns one limit off.

    Refused requests do not count against a limit. Writes are exempt from the duplicate-GET rule
    only: they still count, and are refused, like any request.
    """

    def __init__(
        self,
        per_second: int | None = 1,
        per_hour: int | None = 1500,
        per_day: int | None = 3000,
        duplicate_get_window_seconds: float | None = 60,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.per_second, self.per_hour, self.per_day = per_second, per_hour, per_day
        self.duplicate_get_window_seconds = duplicate_get_window_seconds
        self.clock = clock
        self._lock = threading.Lock()
        self._users: dict[str, _UserLimits] = {}

    def admit(self, user: str, method: str, target: str) -> Refusal | None:
        """Admit and count the request, or say why not. `target` is the path with its query string."""
        with self._lock:
            now = self.clock()
            limits = self._users.setdefault(user, _UserLimits(self))
            refusal = next((r for w in limits.windows if (r := w.refusal(now)) is not None), None)
            if refusal is None and method == "GET":
                refusal = self._duplicate(limits, target, now)
            if refusal is not None:
                return refusal
            for window in limits.windows:
                window.admit(now)
            if method == "GET" and self.duplicate_get_window_seconds is not None:
                limits.recent_gets[target] = now
                limits.recent_gets.move_to_end(target)
            return None

    def reset(self) -> None:
        with self._lock:
            self._users.clear()

    def _duplicate(self, limits: _UserLimits, target: str, now: float) -> Refusal | None:
        window = self.duplicate_get_window_seconds
        if window is None:
            return None
        recent = limits.recent_gets
        while recent and next(iter(recent.values())) <= now - window:
            recent.popitem(last=False)
        if target in recent:
            return Refusal(DUPLICATE_LIMITER, 1, recent[target] + window)
        return None
