"""When the QuickBooks connection (its refresh token) nears its end, qbsync says so a month ahead:
re-authorizing takes the company's owner, and unattended runs stop the day it ends (U5)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from engine.connections import CONNECTION_WARNING_DAYS, connection_ending_said

NOW = datetime(2028, 9, 1, 12, 0, tzinfo=timezone.utc)


def ending(**left) -> str | None:
    at = (NOW + timedelta(**left)).isoformat(timespec="seconds")
    return connection_ending_said({"credentials": "stored", "refresh_token_expires_at": at}, NOW)


def test_u5_a_connection_is_warned_of_from_a_month_before_its_end():
    assert ending(days=CONNECTION_WARNING_DAYS, seconds=1) is None
    assert ending(days=CONNECTION_WARNING_DAYS) == (
        "the QuickBooks connection ends on 2028-10-01 12:00 UTC (in 30 days) unless authorized again: run "
        "`qbsync connect quickbooks` before then (unattended runs stop when it ends)")
    assert "(in 1 day)" in ending(days=1, hours=3)
    assert "(today)" in ending(hours=5)


def test_u5_an_ended_connection_says_so_and_what_to_run():
    assert ending(seconds=0).startswith("the QuickBooks connection ended on 2028-09-01: ")
    assert ending(days=-3) == ("the QuickBooks connection ended on 2028-08-29: run `qbsync connect quickbooks` to "
                               "authorize it again")


def test_u5_nothing_is_said_of_an_end_not_known_or_of_the_embedded_api():
    assert connection_ending_said({"credentials": "stored", "refresh_token_expires_at": None}, NOW) is None
    at = (NOW + timedelta(days=2)).isoformat()
    assert connection_ending_said({"credentials": "embedded", "refresh_token_expires_at": at}, NOW) is None
