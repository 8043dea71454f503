"""A request that is tried again, said on the status line while its wait runs down.

A mixin of the App. Each retry the engine logs comes as RequestRetried (tui.messages): what went
wrong is a notification, and while the App is busy the status line ends with the service, the try
to come and the seconds before it ("· Precoro: try 3 of 6 in 2 s"), counted down each second until
it is sent. An operator on a flaky network sees that qbsync is waiting, not stuck.
"""

from __future__ import annotations

import math
import time
from typing import Any

from .messages import RequestRetried


class Retrying:
    """retry_note for the status line, from the engine's retries."""

    busy: str
    _retry: tuple[str, int, int, float] | None = None  # service, the try to come, of how many, when (monotonic)
    _retry_timer: Any = None

    def on_request_retried(self, message: RequestRetried) -> None:
        self.notify(message.text, severity="warning", timeout=8)  # type: ignore[attr-defined]
        retry = message.retry
        if retry is None:
            return
        self._retry = (retry.label.split(" ")[0], retry.attempt, retry.attempts, time.monotonic() + retry.wait)
        if self._retry_timer is None:
            self._retry_timer = self.set_interval(1.0, self._retry_ticked)  # type: ignore[attr-defined]
        self._update_status_text()  # type: ignore[attr-defined]

    def retry_note(self) -> str:
        """" · SERVICE: try N of M in S s" while a request waits to be sent again and the App is busy."""
        if self._retry is None or not self.busy:
            return ""
        service, attempt, attempts, when = self._retry
        left = when - time.monotonic()
        return f" · {service}: try {attempt} of {attempts} in {math.ceil(left)} s" if left > 0 else ""

    def _retry_ticked(self) -> None:
        if not self.retry_note():  # sent (or the work ended): nothing more to count down
            self._retry = None
            self._retry_timer.stop()
            self._retry_timer = None
        self._update_status_text()  # type: ignore[attr-defined]
