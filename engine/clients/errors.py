"""Typed errors raised by both API clients, so the engine never parses a Fault or a Precoro body."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import httpx

from rules.model import SIDE_NAMES

from ..errors import QbsyncError


class ApiError(QbsyncError):
    """A request the remote API refused or could not answer.

    `code` is the remote's own error code as a string (QuickBooks Fault `code`, e.g. "6240";
    Precoro: the HTTP status), `field` the element/field the remote blamed, when it said.
    Messages never contain credentials: clients build them from the response body only.
    """

    def __init__(
        self,
        message: str,
        *,
        service: str,
        status: int | None = None,
        code: str | None = None,
        detail: str | None = None,
        field: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.service = service
        self.status = status
        self.code = code
        self.detail = detail
        self.field = field

    def __str__(self) -> str:
        parts = [SIDE_NAMES.get(self.service, self.service)]
        if self.code:
            parts.append(f"error {self.code}")
        text = " ".join(parts) + f": {self.message}"
        if self.detail and self.detail != self.message:
            text += f" ({self.detail})"
        if self.field:
            text += f" [field {self.field}]"
        return text


class NotFound(ApiError):
    """The record does not exist (QuickBooks 610, Precoro 404)."""


class StaleObject(ApiError):
    """The record changed since its version was read (QuickBooks 5010)."""


class DuplicateName(ApiError):
    """The name is already used (QuickBooks 6240: vendors, customers and employees share names)."""


class ValidationFailed(ApiError):
    """The remote refused the content of the request; `field` says which field when known."""


class AuthenticationFailed(ApiError):
    """Credentials missing, expired or revoked (QuickBooks 3200/401, Precoro 401)."""


class RateLimited(ApiError):
    """Throttled (HTTP 429). `retry_after` is seconds to wait, when the server said."""

    def __init__(self, message: str, *, retry_after: float | None = None, fatal: bool = False, **kw) -> None:
        super().__init__(message, **kw)
        self.retry_after = retry_after
        # Precoro's daily cap: waiting minutes will not help, the apply must stop and resume later.
        self.fatal = fatal

    def resume_at(self) -> datetime | None:
        """When the cap lifts, if the service said: now plus its Retry-After."""
        return datetime.now(timezone.utc) + timedelta(seconds=self.retry_after) if self.retry_after is not None else None

    @property
    def limit_name(self) -> str:
        """"Precoro's daily limit", "QuickBooks' hourly limit": the cap, as an operator reads it."""
        return f"{SIDE_NAMES.get(self.service, self.service)}'s {'daily' if self.fatal else 'hourly'} limit"


class ServerError(ApiError):
    """5xx or a dropped connection: the outcome of a write is unknown."""


def no_answer(exc: httpx.TransportError, service: str, where: object, method: str, path: str, *,
              reading: bool) -> ServerError:
    """A request that got no response (httpx's TransportError), in words an operator can act on:
    never sent (the service could not be reached: nothing changed), or sent and not answered (a
    write's outcome is then unknown, and the apply looks for what it may have done)."""
    reason = str(exc) or type(exc).__name__
    if isinstance(exc, (httpx.ConnectError, httpx.ConnectTimeout)):
        return ServerError(f"cannot reach {where} ({reason}): check the network and the base_url in rules.yaml; "
                           "nothing was sent", service=service)
    return ServerError(f"no answer to {method} {path} ({reason})" + ("" if reading else "; the outcome is unknown"),
                       service=service)
