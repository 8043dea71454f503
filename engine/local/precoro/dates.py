"""Timestamps as the Precoro API writes them, and the `modifiedSince` values it reads."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Callable

Clock = Callable[[], datetime]

_MODIFIED_SINCE_FORMAT = "%Y-%m-%dT%H:%M:%S"


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


def format_timestamp(moment: datetime) -> str:
    """ISO 8601 with seconds and offset: "2026-11-26T09:00:00+00:00"."""
    if moment.tzinfo is None:
        raise ValueError("timestamps must be timezone-aware")
    return moment.replace(microsecond=0).isoformat()


def sortable_utc(timestamp: str) -> str:
    """The UTC "YYYY-MM-DDTHH:MM:SS" of a stored timestamp: what `modifiedSince` compares against."""
    if timestamp.endswith("+00:00") and len(timestamp) == 25:
        return timestamp[:19]  # already UTC: the common case, and bulk inserts hit it 100,000 times
    return datetime.fromisoformat(timestamp).astimezone(timezone.utc).strftime(_MODIFIED_SINCE_FORMAT)


def parse_modified_since(text: str) -> str:
    """Read `modifiedSince` ("YYYY-MM-DDTHH:MM:SS", read as UTC; an explicit offset is honoured)."""
    moment = datetime.fromisoformat(text.strip())
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc).strftime(_MODIFIED_SINCE_FORMAT)
