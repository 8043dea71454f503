"""Precoro's caps without babysitting (DESIGN "Living within the APIs' limits").

Precoro allows 1,500 calls an hour and 3,000 a day: a first sync of a few thousand records meets
them. An apply waits out the hourly cap with a countdown and goes on; at the daily cap it stops
cleanly and says when it can go on, or, with until_done, waits for that too. The local Precoro
enforces the caps on a clock the test moves: the apply's waiting moves it, so an "hour" passes at once.
"""

from __future__ import annotations


import pytest

from engine.budgets import apply_cost, calls_left_said, duration, polling_cost, precoro_seconds, reading_left


REALM = "8101"
VENDORS = [f"Capped vendor {n}" for n in range(8)]


@pytest.fixture
def capped(servers, capped_precoro, fresh_dir):
    """A throttled Precoro beside the shared QuickBooks; QuickBooks has 8 vendors Precoro lacks."""
    servers.reset(REALM)
    for name in VENDORS:
        servers.quickbooks.insert(REALM, "Vendor", {"DisplayName": name, "CurrencyRef": {"value": "USD"}})
    workdir = fresh_dir()
    return (lambda: capped_precoro.session(servers, workdir, REALM)), capped_precoro.caps, capped_precoro.clock, \
        capped_precoro.state


def suppliers(state):
    total, rows = state.page("suppliers", limit=200)
    return sorted(row["name"] for row in rows)


def test_the_hourly_cap_is_waited_out_with_a_countdown_and_the_apply_goes_on(capped):
    session, caps, clock, state = capped
    with session() as s:
        plan = s.plan(only=["suppliers"])
        caps(per_hour=4)
        said = []
        report = s.apply(plan.id, on_cap=lambda what, left: said.append((what, left)))
    assert report.ok, report.stopped
    assert suppliers(state) == sorted(VENDORS)  # every one, once
    assert said and "Precoro's hourly limit is reached" in said[0][0]
    assert said[0][1] > said[-1][1]  # counting down
    assert clock.slept >= 3600  # it waited (on the throttle's clock) rather than failing


def test_the_daily_cap_stops_cleanly_says_when_and_until_done_finishes_it(capped):
    session, caps, clock, state = capped
    with session() as s:
        plan = s.plan(only=["suppliers"])
        caps(per_day=4)
        first = s.apply(plan.id)
        assert not first.ok and "Precoro's daily limit is reached; it can go on at" in first.stopped
        assert first.resume_at is not None and "--until-done" in first.stopped
        written = suppliers(state)
        assert 0 < len(written) < len(VENDORS)
        assert clock.slept == 0  # it did not wait

        again = s.apply(plan.id, until_done=True)
    assert again.ok, again.stopped
    assert suppliers(state) == sorted(VENDORS)  # the rest, and nothing twice
    assert clock.slept >= 3600


def test_a_stop_request_ends_the_wait(capped):
    session, caps, clock, state = capped
    import threading

    stop = threading.Event()
    with session() as s:
        plan = s.plan(only=["suppliers"])
        caps(per_hour=4)
        report = s.apply(plan.id, stop=stop, on_cap=lambda what, left: stop.set())
    assert report.stopped and "stopped at your request" in report.stopped
    assert clock.slept <= 1


def test_what_an_apply_costs_is_said_before_it_starts():
    small = apply_cost(quickbooks_writes=61, precoro_writes=0)
    assert small.quickbooks_calls == 3 and small.precoro_calls == 0 and small.text() == "at least 3 QuickBooks calls"
    first_sync = apply_cost(quickbooks_writes=4000, precoro_writes=4000)
    assert first_sync.quickbooks_calls == 134 and first_sync.precoro_calls == 4001
    # 4,001 Precoro calls: a day's 3,000, then the rest the next day.
    assert precoro_seconds(4001) == 86400 + 1001
    assert "at least 1 d" in first_sync.text() and "1,500 calls an hour and 3,000 a day" in first_sync.text()
    assert precoro_seconds(1500) == 1500 and precoro_seconds(1501) == 3601
    assert duration(3660) == "1 h 1 min" and duration(45) == "45 s"
    # A Precoro create is two calls: the POST, then the PATCH that sets its externalId.
    assert apply_cost(quickbooks_writes=0, precoro_writes=4000, precoro_creates=4000).precoro_calls == 8001


def test_w11_what_a_first_read_stopped_at_a_cap_still_costs():
    """Its calls left, and the earliest it can end: the day's 3,000 from when the cap lifts, then the
    rest the next day. A list not begun has no size yet: what is told is then a least."""
    sources = [{"section": "suppliers", "read": 2000, "total": 5000, "calls_left": 3015},
               {"section": "items", "read": 0, "total": 1000, "calls_left": 1005}]
    assert reading_left(sources, "2026-12-02T00:00:00+00:00") == {
        "calls_left": 4020, "calls_known": True, "done_at": "2026-12-03T00:17:00+00:00"}  # 86,400 s + 1,020 calls at 1/s
    begun = [*sources, {"section": "invoices", "read": 0, "total": None, "calls_left": None}]
    assert reading_left(begun, None) == {"calls_left": 4020, "calls_known": False, "done_at": None}
    assert calls_left_said(reading_left(sources, None)) == "about 4,020"
    assert calls_left_said(reading_left(begun, None)) == "at least 4,020"
    # Told by a qbsync of before: no calls_left at all.
    assert reading_left([{"section": "suppliers", "read": 3, "total": 40}], "2026-12-02T00:00:00+00:00") == {
        "calls_left": 0, "calls_known": False, "done_at": None}


def test_u1_what_a_loop_of_runs_costs_precoro_a_day_when_nothing_changes():
    said = polling_cost(10, 300)
    assert said.startswith("a run every 5 min costs about 2,880 Precoro calls a day when nothing changes (10 a run)")
    assert polling_cost(10, 1800) is None  # 480 a day: not said
    assert polling_cost(10, 576) is None and polling_cost(10, 575) is not None  # half of the day's 3,000
