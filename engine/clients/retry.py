"""One retry policy for both API clients and for the apply: when to send again, how long to wait.

Built on tenacity. Whether a failure may be retried is the caller's to say (a read always may; a
QuickBooks write only with a `requestid`; a Precoro write only when the server provably did not run
it, or after the apply has looked for what it may have done). How long to wait is the server's hint
when it gave one (Retry-After, Precoro's RateLimit-Retry-After), otherwise an exponential backoff;
a hint longer than `max_wait` is not slept through: the error goes up for the engine to schedule.
"""

from __future__ import annotations

import logging
import threading
import time
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Callable, Iterator, TypeVar

from tenacity import RetryCallState, Retrying, stop_after_attempt

from ..errors import Interrupted
from .errors import RateLimited

log = logging.getLogger(__name__)
T = TypeVar("T")

# The stops the waits of this thread are under (`stopped_by`): a plan's reader, or an apply's write,
# waiting to send a request again ends as soon as its plan or apply is stopped, not after its backoff
# (up to 30 s; a server's Retry-After, up to two minutes).
_STOPS: ContextVar[tuple[threading.Event, ...]] = ContextVar("qbsync_stops", default=())


@contextmanager
def stopped_by(*stops: threading.Event | None) -> Iterator[None]:
    """Within it, `sleep_unless_stopped` in this thread ends with Interrupted once any stop is set."""
    token = _STOPS.set(_STOPS.get() + tuple(stop for stop in stops if stop is not None))
    try:
        yield
    finally:
        _STOPS.reset(token)


# How many times a request of this thread is sent at the most (`tries_at_most`), if fewer than its policy's.
_MOST_TRIES: ContextVar[int | None] = ContextVar("qbsync_most_tries", default=None)


@contextmanager
def tries_at_most(tries: int) -> Iterator[None]:
    """Within it, a request of this thread is sent `tries` times at the most: a look at a service
    (`qbsync status`) says at once that it cannot be reached, where a job tries again for 15 s."""
    token = _MOST_TRIES.set(tries)
    try:
        yield
    finally:
        _MOST_TRIES.reset(token)


def sleep_unless_stopped(seconds: float) -> None:
    """time.sleep, cut short by a stop of `stopped_by` around the caller: the API clients' wait
    before trying a request again, and between two paced requests."""
    stops = _STOPS.get()
    if not stops:
        time.sleep(seconds)
        return
    ends = time.monotonic() + seconds
    while not any(stop.is_set() for stop in stops):
        left = ends - time.monotonic()
        if left <= 0:
            return
        stops[0].wait(min(left, 0.05))  # wakes at once for the first, looks at the others 20 times a second
    raise Interrupted("stopped while it waited to send a request again")


@dataclass(frozen=True)
class Retry:
    """A request about to be sent again, as the retry log says it: its label ("Precoro GET
    /suppliers"), the seconds until then, which try that will be and of how many."""

    label: str
    wait: float
    attempt: int
    attempts: int


@dataclass(frozen=True)
class RetryPolicy:
    """`attempts` in all (the first included); backoff 0.5 s, 1 s, 2 s, ... up to `max_backoff`."""

    attempts: int = 6
    first_backoff: float = 0.5
    max_backoff: float = 30.0
    max_wait: float = 120.0

    def backoff(self, attempt: int) -> float:
        """The wait after failed attempt number `attempt` (1-based) when the server gave no hint."""
        return min(self.max_backoff, self.first_backoff * 2 ** (attempt - 1))

    def delay(self, error: BaseException | None, attempt: int) -> float:
        if isinstance(error, RateLimited) and error.retry_after is not None:
            return error.retry_after
        return self.backoff(attempt)

    def run(self, call: Callable[[], T], *, retryable: Callable[[BaseException], bool],
            sleep: Callable[[float], None] = time.sleep, label: str = "") -> T:
        """`call()`, retried while `retryable(error)` says so, within the policy's bounds."""

        def should_retry(state: RetryCallState) -> bool:
            error = state.outcome.exception() if state.outcome else None
            if error is None or not retryable(error):
                return False
            if isinstance(error, RateLimited) and (error.fatal or (error.retry_after or 0) > self.max_wait):
                return False  # a daily cap, or a wait too long to sleep through: the engine decides
            return True

        def wait(state: RetryCallState) -> float:
            return self.delay(state.outcome.exception() if state.outcome else None, state.attempt_number)

        def before_sleep(state: RetryCallState) -> None:
            # What went wrong is said once a call, after its first try; the label names the service.
            error = state.outcome.exception() if state.outcome else None
            said = (getattr(error, "message", None) or str(error)) if state.attempt_number == 1 else "failed again"
            # The same as fields (`retry`), for a face that shows the wait as it runs down (the TUI).
            log.info("%s: %s; trying again in %.1f s (try %d of %d)", label, said, state.upcoming_sleep,
                     state.attempt_number + 1, attempts,
                     extra={"retry": Retry(label, state.upcoming_sleep, state.attempt_number + 1, attempts)})

        attempts = min(self.attempts, _MOST_TRIES.get() or self.attempts)
        retrying = Retrying(stop=stop_after_attempt(attempts), wait=wait, retry=should_retry, sleep=sleep,
                            before_sleep=before_sleep, reraise=True)
        return retrying(call)
