"""W11: a first read that Precoro's cap cuts short goes on where it stopped.

Precoro's lists are summaries, so a first plan reads each record's details: one call a record,
3,000 a day. A company of 10,000 suppliers cannot be read in one day, whatever qbsync does. What
qbsync can do is never read a record twice: every record read is kept in the mirror as it comes,
and the next plan takes from the mirror each summary that equals a record kept (updateDate among
its fields), so it reads only the details it does not have yet. The plan that stopped says so.
"""

from __future__ import annotations

import threading

import pytest

from engine.errors import Interrupted, QbsyncError
from engine.local.demo import scale_suppliers

REALM = "8102"
SUPPLIERS = 40


@pytest.fixture
def capped(servers, capped_precoro, fresh_dir):
    """A Precoro of SUPPLIERS suppliers, with caps the test sets, and its request log."""
    capped_precoro.state.bulk_insert("suppliers", scale_suppliers(SUPPLIERS))
    servers.reset(REALM)
    workdir = fresh_dir()
    return (lambda: capped_precoro.session(servers, workdir, REALM)), capped_precoro.caps, capped_precoro.log, \
        capped_precoro.clock


def supplier_details(log) -> list[str]:
    return [path for method, path, _ in log.seen
            if method == "GET" and path.startswith("/suppliers/") and path.rsplit("/", 1)[-1].isdigit()]


def test_w11_a_first_read_cut_short_by_the_daily_cap_goes_on_where_it_stopped(capped):
    session, cap, log, clock = capped
    cap(per_day=25)  # the lists before, then some suppliers' details, then the cap
    with session() as s, pytest.raises(QbsyncError) as stopped:
        s.plan(only=["suppliers"])
    asked = supplier_details(log)
    read_before = asked[:-1]  # the last one asked is the one the cap refused
    assert 0 < len(read_before) < SUPPLIERS
    said = str(stopped.value)
    assert "daily limit is reached; it can go on at" in said and "Nothing was planned" in said
    assert f"The {len(read_before)} Precoro records read so far are kept" in said
    assert clock.slept == 0  # the daily cap is not waited for unless asked

    log.seen.clear()
    cap()  # the next day
    with session() as s:
        plan = s.plan(only=["suppliers"])
    read_after = supplier_details(log)
    assert not set(read_after) & set(read_before)  # nothing read twice
    assert len(read_before) + len(read_after) == SUPPLIERS  # and nothing left out
    creates = [a for a in plan.actions if a.entity == "supplier" and a.kind == "create"]
    assert len(creates) == SUPPLIERS  # QuickBooks has none of them: every one of the 40 is planned


def test_w11_the_hourly_cap_is_waited_out_and_the_plan_goes_on_reading_nothing_twice(capped):
    session, cap, log, clock = capped
    cap(per_hour=25)
    said = []
    with session() as s:
        plan = s.plan(only=["suppliers"], on_cap=lambda what, left: said.append((what, left)))
    assert said and "Precoro's hourly limit is reached: going on at" in said[0][0]
    assert said[0][1] > said[-1][1]  # counting down
    assert clock.slept >= 3600 - 60  # it waited (on the throttle's clock) rather than failing
    asked = supplier_details(log)
    assert len(asked) == SUPPLIERS + 1  # each supplier's details once, and the one the cap refused again
    assert len([a for a in plan.actions if a.entity == "supplier" and a.kind == "create"]) == SUPPLIERS


def test_w11_until_done_waits_for_the_daily_cap_too(capped):
    session, cap, log, clock = capped
    cap(per_day=25)
    with session() as s:
        plan = s.plan(only=["suppliers"], until_done=True)
    assert clock.slept >= 3600  # waited for the day's window to move
    assert len(supplier_details(log)) == SUPPLIERS + 1
    assert len([a for a in plan.actions if a.entity == "supplier" and a.kind == "create"]) == SUPPLIERS


def test_w11_a_stop_request_ends_the_wait_for_the_cap_and_keeps_what_was_read(capped):
    session, cap, log, clock = capped
    cap(per_hour=25)
    stop = threading.Event()
    with session() as s, pytest.raises(Interrupted) as stopped:
        s.plan(only=["suppliers"], stop=stop, on_cap=lambda what, left: stop.set())
    assert "what was read is kept" in str(stopped.value)
    assert clock.slept < 60  # it did not sit out the hour
    read_before = supplier_details(log)[:-1]  # the last one asked is the one the cap refused
    log.seen.clear()
    cap()
    with session() as s:
        s.plan(only=["suppliers"])
    assert not set(supplier_details(log)) & set(read_before)  # nothing read twice


def test_u1_an_unattended_run_cut_short_by_the_daily_cap_stops_and_says_when_it_goes_on(capped):
    """Not a failure, as an apply at the cap is not: `qbsync run --every` would otherwise report an
    error (and notify a person) at every cycle of the day the first read takes."""
    from engine.run import run_once

    session, cap, log, clock = capped
    cap(per_day=25)
    with session() as s:
        summary = run_once(s, only=["suppliers"], trigger="schedule")
    assert summary.error is None and summary.exit_code == 0 and not summary.worth_telling
    assert summary.text().startswith("run stopped before its plan: Precoro's daily limit is reached; it can go on at")
    assert "read so far are kept" in summary.text()


def test_w11_status_tells_how_far_a_read_cut_short_got_until_a_plan_is_made(capped):
    """A first read that takes days is followed in `qbsync status` (and its --json): the cap, when
    it lifts, and per Precoro list how many of its records are read."""
    import json
    import os
    import subprocess
    import sys
    from pathlib import Path

    session, cap, log, clock = capped
    cap(per_day=25)
    with session() as s, pytest.raises(QbsyncError):
        s.plan(only=["suppliers"])
    read_before = len(supplier_details(log)) - 1  # the last one asked is the one the cap refused
    with session() as s:
        reading = s.status()["reading"]
        env, rules, state = {**os.environ, **s.env}, s.rules_path, s.state_path
    assert reading["cap"] == "Precoro's daily limit" and reading["resume_at"] > reading["at"]
    assert reading["sources"] == [{"section": "suppliers", "read": read_before, "total": SUPPLIERS}]

    root = Path(__file__).resolve().parents[2]
    shown = subprocess.run([sys.executable, "-m", "tui.cli", "status", "--rules", str(rules), "--state", str(state)],
                           capture_output=True, text=True, env=env, cwd=root, timeout=60)
    assert shown.returncode == 0, shown.stderr
    assert "reading: stopped at Precoro's daily limit" in shown.stdout and "it goes on at" in shown.stdout
    assert f"Precoro suppliers: {read_before:,} of {SUPPLIERS} read ({read_before * 100 // SUPPLIERS}%)" in shown.stdout
    as_json = subprocess.run([sys.executable, "-m", "tui.cli", "status", "--json", "--rules", str(rules), "--state",
                              str(state)], capture_output=True, text=True, env=env, cwd=root, timeout=60)
    assert json.loads(as_json.stdout)["reading"]["sources"] == reading["sources"]

    cap()  # the next day: the plan is made, and there is nothing more to tell
    with session() as s:
        s.plan(only=["suppliers"])
        assert s.status()["reading"] is None
