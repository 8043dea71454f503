"""W11: a first read that Precoro's cap cuts short goes on where it stopped.

Precoro's lists are summaries, so a first plan reads each record's details: one call a record,
3,000 a day. A company of 10,000 suppliers cannot be read in one day, whatever qbsync does. What
qbsync can do is never read a record twice: every record read is kept in the mirror as it comes,
and the next plan takes from the mirror each summary that equals a record kept (updateDate among
its fields), so it reads only the details it does not have yet. The plan that stopped says so.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from engine.errors import Interrupted, QbsyncError
from engine.local.demo import scale_suppliers

ROOT = Path(__file__).resolve().parents[2]
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
    # What the rest costs: a details call per supplier left, and the page it goes on at.
    assert f"the rest is about {SUPPLIERS - len(read_before) + 1} Precoro calls, done at the earliest" in said
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


def test_u1_an_unattended_run_says_while_it_waits_out_the_hourly_cap(capped):
    """An hour in which `qbsync run` (a systemd service, a loop) said nothing would look stuck: the
    run tells each wait, and `qbsync run --all` which company waits."""
    from engine.run import company_name, run_all, run_once

    session, cap, log, clock = capped
    cap(per_hour=25)
    said: list[tuple[str, float]] = []
    with session() as s:
        summary = run_once(s, only=["suppliers"], on_cap=lambda what, left: said.append((what, left)))
        rules = s.rules_path
    assert summary.error is None and summary.stopped is None and summary.plan_id
    assert said and said[0][0].startswith("Precoro's hourly limit is reached: going on at") and said[0][1] > 0
    assert clock.slept >= 3600 - 60

    cap(per_hour=25)
    said.clear()
    [company] = run_all([rules], lambda path: session(), on_cap=lambda what, left: said.append((what, left)))
    assert company.summary.error is None, company.summary.error
    assert said and said[0][0].startswith(f"{company_name(rules)}: Precoro's hourly limit is reached")


def test_w11_status_tells_how_far_a_read_cut_short_got_until_a_plan_is_made(capped):
    """A first read that takes days is followed in `qbsync status` (and its --json): the cap, when
    it lifts, per Precoro list how many of its records are read, and what the rest costs: its
    calls, and when, under Precoro's limits, the read can end at the earliest."""
    import json

    session, cap, log, clock = capped
    cap(per_day=25)
    with session() as s, pytest.raises(QbsyncError):
        s.plan(only=["suppliers"])
    read_before = len(supplier_details(log)) - 1  # the last one asked is the one the cap refused
    with session() as s:
        reading = s.status()["reading"]
        env, rules, state = {**os.environ, **s.env}, s.rules_path, s.state_path
    assert reading["cap"] == "Precoro's daily limit" and reading["resume_at"] > reading["at"]
    left = SUPPLIERS - read_before + 1  # a details call per supplier not read, and the page it goes on at
    assert reading["sources"] == [{"section": "suppliers", "read": read_before, "total": SUPPLIERS, "calls_left": left}]
    assert reading["calls_left"] == left and reading["calls_known"]
    assert reading["done_at"] > reading["resume_at"]  # at a call a second, after the cap lifts

    shown = subprocess.run([sys.executable, "-m", "tui.cli", "status", "--rules", str(rules), "--state", str(state)],
                           capture_output=True, text=True, env=env, cwd=ROOT, timeout=60)
    assert shown.returncode == 0, shown.stderr
    assert "reading: stopped at Precoro's daily limit" in shown.stdout and "it goes on at" in shown.stdout
    assert f"Precoro suppliers: {read_before:,} of {SUPPLIERS} read ({read_before * 100 // SUPPLIERS}%), " \
           f"about {left} calls left" in shown.stdout
    assert f"about {left} Precoro calls left: under Precoro's limits (3,000 calls a day) done at the earliest " \
           f"{reading['done_at'][:16].replace('T', ' ')} UTC" in shown.stdout
    as_json = subprocess.run([sys.executable, "-m", "tui.cli", "status", "--json", "--rules", str(rules), "--state",
                              str(state)], capture_output=True, text=True, env=env, cwd=ROOT, timeout=60)
    assert json.loads(as_json.stdout)["reading"] == reading

    cap()  # the next day: the plan is made, and there is nothing more to tell
    with session() as s:
        s.plan(only=["suppliers"])
        assert s.status()["reading"] is None


# -- a long list goes on at the page where it stopped ---------------------------------------------------

LONG_LIST = 450  # three pages of 200


@pytest.fixture
def long_list(servers, capped_precoro, fresh_dir):
    """A Precoro of LONG_LIST suppliers, with caps the test sets, and its request log."""
    capped_precoro.state.bulk_insert("suppliers", scale_suppliers(LONG_LIST))
    servers.reset(REALM)
    workdir = fresh_dir()
    return (lambda: capped_precoro.session(servers, workdir, REALM)), capped_precoro, workdir


def list_pages(log) -> list[int]:
    """The pages of the suppliers' list asked for, in order (a refused ask included)."""
    return [int(dict(pair.split("=") for pair in query.split("&"))["page"])
            for method, path, query in log.seen if method == "GET" and path == "/suppliers"]


def test_w11_a_list_longer_than_an_hour_s_calls_is_read_to_its_end(long_list):
    """Going on after the cap, the read begins at the page it reached, not at the first: a list of
    more pages than the hourly cap allows would otherwise read its first pages again every hour,
    and never get further (here: 3 calls an hour, one of them the item custom fields each plan
    looks up; 3 pages; no details wanted)."""
    session, precoro, workdir = long_list
    precoro.caps(per_hour=3)
    waits: list[float] = []  # each wait's first count
    stop = threading.Event()

    def on_cap(what: str, left: float) -> None:
        if not waits or left > last[0]:
            waits.append(left)
        last[0] = left
        if len(waits) > 3:  # reading the same pages hour after hour: stop, rather than wait forever
            stop.set()

    last = [0.0]
    with session() as s:
        rules = workdir / "rules.yaml"
        rules.write_text(rules.read_text().replace("transform: email_list}", "transform: email_list, enabled: false}"))
        s.reload_rules()
        plan = s.plan(only=["suppliers"], on_cap=on_cap, stop=stop)
    assert len(waits) == 1  # the cap was met once, and waited out
    assert list_pages(precoro.log) == [1, 2, 3, 2, 3]  # page 3 refused; then page 2 again (its first record unmoved)
    creates = [a for a in plan.actions if a.entity == "supplier" and a.kind == "create"]
    assert len(creates) == LONG_LIST and len({a.precoro_id for a in creates}) == LONG_LIST
    with session() as s:
        assert s.store.mirror_listing(REALM, "precoro", "suppliers") is None  # the read ended: nothing to go on from


def test_w11_a_first_read_cut_short_goes_on_the_next_day_at_its_page_reading_nothing_twice(long_list):
    session, precoro, _ = long_list
    precoro.caps(per_day=300)  # page 1 and its 200 suppliers' details, page 2 and 98 of its own
    with session() as s, pytest.raises(QbsyncError):
        s.plan(only=["suppliers"])
    read_before = supplier_details(precoro.log)[:-1]  # the last one asked is the one the cap refused
    assert list_pages(precoro.log) == [1, 2]

    precoro.log.seen.clear()
    precoro.caps()  # the next day
    with session() as s:
        plan = s.plan(only=["suppliers"])
    assert list_pages(precoro.log) == [2, 3]  # the first page is not read again
    read_after = supplier_details(precoro.log)
    assert not set(read_after) & set(read_before)  # nothing read twice
    assert len(read_before) + len(read_after) == LONG_LIST  # and nothing left out
    creates = [a for a in plan.actions if a.entity == "supplier" and a.kind == "create"]
    assert len({a.precoro_id for a in creates}) == LONG_LIST


def test_w11_a_read_whose_earlier_pages_changed_meanwhile_is_read_from_its_start(long_list):
    """A supplier deleted on a page before the one the read stopped at moves every later record up
    a place: the page it would go on at no longer begins where it did. Going on there would skip a
    record and keep the deleted one; the list is read from its start instead (the details read
    before are still not read again)."""
    session, precoro, _ = long_list
    precoro.caps(per_day=300)
    with session() as s, pytest.raises(QbsyncError):
        s.plan(only=["suppliers"])
    read_before = supplier_details(precoro.log)[:-1]
    deleted = int(read_before[4].rsplit("/", 1)[1])  # on the first page
    precoro.state.delete("suppliers", deleted)

    precoro.log.seen.clear()
    precoro.caps()
    with session() as s:
        plan = s.plan(only=["suppliers"])
        kept = s.store.mirror_count(REALM, "precoro", "suppliers")
    assert list_pages(precoro.log) == [2, 1, 2, 3]  # page 2 no longer begins with its record: from the start
    read_after = supplier_details(precoro.log)
    assert not set(read_after) & set(read_before)
    creates = {a.precoro_id for a in plan.actions if a.entity == "supplier" and a.kind == "create"}
    assert len(creates) == LONG_LIST - 1 and str(deleted) not in creates
    assert kept == LONG_LIST - 1  # nor is it kept in the mirror (the next plan's count would not match)


def test_w11_a_record_deleted_from_the_page_a_read_goes_on_at_is_not_planned(long_list):
    """The page it goes on at still begins with its record, but one it held then is gone: that
    one's copy in the mirror is not taken for the rest of the list."""
    session, precoro, _ = long_list
    precoro.caps(per_day=300)  # the cut falls within page 2
    with session() as s, pytest.raises(QbsyncError):
        s.plan(only=["suppliers"])
    read_before = supplier_details(precoro.log)[:-1]
    deleted = int(read_before[250].rsplit("/", 1)[1])  # on page 2, read before the cut, not its first
    precoro.state.delete("suppliers", deleted)

    precoro.log.seen.clear()
    precoro.caps()
    with session() as s:
        plan = s.plan(only=["suppliers"])
    assert list_pages(precoro.log) == [2, 3]  # it went on at page 2
    assert not set(supplier_details(precoro.log)) & set(read_before)
    creates = {a.precoro_id for a in plan.actions if a.entity == "supplier" and a.kind == "create"}
    assert len(creates) == LONG_LIST - 1 and str(deleted) not in creates


def test_w11_a_read_that_went_on_reads_next_the_changes_since_it_first_began(long_list):
    """Its first pages were read hours before it ended: the next plan asks Precoro for what changed
    since the read first began, not since it went on (a change made in between would be lost)."""
    session, precoro, _ = long_list
    precoro.caps(per_day=300)
    with session() as s, pytest.raises(QbsyncError):
        s.plan(only=["suppliers"])
    changed = int(supplier_details(precoro.log)[3].rsplit("/", 1)[1])  # on the first page
    precoro.clock.sleep(2 * 3600)
    precoro.state.update("suppliers", changed, {"phone": "+1 555 9999999"})
    precoro.clock.sleep(2 * 3600)

    precoro.caps()
    with session() as s:
        first = s.plan(only=["suppliers"])  # it goes on at page 2: page 1's records as they were read
        assert list_pages(precoro.log)[-2:] == [2, 3]
        assert _phone(first, changed) == "+1 555 0000003"
        precoro.log.seen.clear()
        second = s.plan(only=["suppliers"])  # by changes
    asked = [query for method, path, query in precoro.log.seen if method == "GET" and path == "/suppliers"]
    assert asked and all("modifiedSince" in query for query in asked)  # by its changes (and a count)
    assert _phone(second, changed) == "+1 555 9999999"


def _phone(plan, precoro_id: int) -> str:
    create = next(a for a in plan.actions if a.kind == "create" and a.precoro_id == str(precoro_id))
    return next(c.after for c in create.changes if c.field == "phone")


# -- a read killed outright goes on too -----------------------------------------------------------------


class Held:
    """Holds the `nth` request `wanted` picks until released, then refuses it: the plan that asked
    can be killed while it waits there, between two of its reads."""

    def __init__(self, app, wanted, nth: int = 1) -> None:
        self.app, self.wanted, self.left = app, wanted, nth
        self.reached, self.release = threading.Event(), threading.Event()

    def __call__(self, environ, start_response):
        if self.wanted(environ["PATH_INFO"], environ.get("QUERY_STRING", "")):
            self.left -= 1
            if self.left == 0:
                self.reached.set()
                self.release.wait(60)
                start_response("503 Service Unavailable", [("Content-Type", "application/json")])
                return [b'{"message": "held"}']
        return self.app(environ, start_response)


def plan_killed_at(long_list, held: Held) -> None:
    """`qbsync plan --only suppliers` in a process of its own, killed (SIGKILL: nothing of it runs
    after) while Precoro holds the request `held` picks."""
    session, precoro, _ = long_list
    with session() as s:
        env, rules, state = {**os.environ, **s.env}, s.rules_path, s.state_path
    precoro.log.app, app = held, precoro.log.app
    try:
        planning = subprocess.Popen([sys.executable, "-m", "tui.cli", "plan", "--only", "suppliers", "--rules",
                                     str(rules), "--state", str(state)], cwd=ROOT,
                                    env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            reached = held.reached.wait(120)
        finally:
            planning.kill()
            stderr = planning.communicate(timeout=60)[1]
        assert reached, stderr.decode()[-2000:]
    finally:
        held.release.set()
        precoro.log.app = app


def test_w11_a_read_killed_between_two_pages_goes_on_at_the_page_it_reached(long_list):
    """Killed while it asks for page 3: pages 1 and 2 are in the mirror, each kept as it ended
    with where the read got to. The next plan asks for page 2 again (the page it can check is where
    it was), and for page 3, and reads no record's details twice."""
    session, precoro, _ = long_list
    plan_killed_at(long_list, Held(precoro.log.app, lambda path, query: path == "/suppliers" and "page=3&" in query))
    assert list_pages(precoro.log) == [1, 2, 3]  # page 3 held, never answered
    read_before = supplier_details(precoro.log)
    assert len(read_before) == 400  # pages 1 and 2
    with session() as s:  # `qbsync status` says where it got to (and its --json)
        unfinished = s.status()["unfinished_reads"]
        env, rules, state = {**os.environ, **s.env}, s.rules_path, s.state_path
    assert [{k: v for k, v in read.items() if k != "began"} for read in unfinished] == [
        {"section": "suppliers", "page": 2, "kept": 400}]
    shown = subprocess.run([sys.executable, "-m", "tui.cli", "status", "--rules", str(rules), "--state", str(state)],
                           capture_output=True, text=True, env=env, cwd=ROOT, timeout=60)
    assert "  Precoro suppliers: at page 2 of its list, 400 records kept (begun " in shown.stdout, shown.stderr
    with session() as s:  # suppliers no longer synced: nothing waits (the listing stays, should they be again)
        on = "suppliers are not synced at all.\n  enabled: true"
        assert on in rules.read_text()
        rules.write_text(rules.read_text().replace(on, on.replace("true", "false")))
        s.reload_rules()
        assert s.status()["unfinished_reads"] == []

    precoro.log.seen.clear()
    said = []
    with session() as s:
        plan = s.plan(only=["suppliers"], progress=lambda what, done, total: said.append(what))
    assert "reading Precoro suppliers, going on at page 2" in said  # the operator is told
    assert list_pages(precoro.log) == [2, 3]
    read_after = supplier_details(precoro.log)
    assert not set(read_after) & set(read_before) and len(read_after) == LONG_LIST - 400
    creates = {a.precoro_id for a in plan.actions if a.entity == "supplier" and a.kind == "create"}
    assert len(creates) == LONG_LIST
    with session() as s:
        assert s.store.mirror_listing(REALM, "precoro", "suppliers") is None  # the read ended
        assert s.status()["unfinished_reads"] == []


def test_w11_a_read_killed_within_a_page_reads_again_at_most_that_page(long_list):
    """Killed while reading the details of page 3's tenth supplier: what page 3 had read was not
    kept yet (a page is kept when it ends), so those nine are read again; nothing before them is."""
    session, precoro, _ = long_list
    details = lambda path, query: path.startswith("/suppliers/") and path.rsplit("/", 1)[-1].isdigit()  # noqa: E731
    plan_killed_at(long_list, Held(precoro.log.app, details, nth=410))
    read_before = supplier_details(precoro.log)[:-1]  # the last one asked is the one held, never answered
    assert len(read_before) == 409

    precoro.log.seen.clear()
    with session() as s:
        plan = s.plan(only=["suppliers"])
    assert list_pages(precoro.log) == [2, 3]  # page 2 again, as a check, and then page 3
    read_after = supplier_details(precoro.log)
    assert set(read_after) & set(read_before) == set(read_before[400:])  # page 3's nine, and no other
    assert len(read_after) == LONG_LIST - 400
    creates = {a.precoro_id for a in plan.actions if a.entity == "supplier" and a.kind == "create"}
    assert len(creates) == LONG_LIST


# -- a read that ended is not read again when its plan fails --------------------------------------------


def full_pages(log, path: str = "/suppliers") -> list[int]:
    """The pages of a list read in full (not by its changes), in order."""
    return [int(dict(pair.split("=") for pair in query.split("&"))["page"])
            for method, where, query in log.seen if method == "GET" and where == path and "modifiedSince" not in query]


def test_w11_a_read_that_ended_in_a_plan_that_failed_is_not_read_again(long_list, servers):
    """The suppliers were read to their end, then the plan was stopped before it was saved (here
    while it went on to the items; killed while reconciling is the same). Every record read is in
    the mirror: the next plan reads what changed since, not every page again, and still sees a
    change made in between."""
    session, precoro, _ = long_list
    precoro.clock.sleep(3600)  # the suppliers were made an hour before (else each is read again: its second)
    stop = threading.Event()
    with session() as s, pytest.raises(Interrupted):
        s.plan(only=["suppliers", "items"], stop=stop,
               progress=lambda what, done, total: what == "planning suppliers" and stop.set())
    assert full_pages(precoro.log) == [1, 2, 3]
    read_before = supplier_details(precoro.log)
    assert len(read_before) == LONG_LIST
    changed = int(read_before[7].rsplit("/", 1)[1])
    precoro.clock.sleep(3600)
    precoro.state.update("suppliers", changed, {"phone": "+1 555 9999999"})
    precoro.clock.sleep(3600)

    precoro.log.seen.clear()
    servers.requests()
    with session() as s:
        plan = s.plan(only=["suppliers", "items"])
    assert full_pages(precoro.log) == []  # by its changes and a count
    assert supplier_details(precoro.log) == [f"/suppliers/{changed}"]  # the one changed, and no other
    quickbooks = servers.requests()["quickbooks"]
    assert not [r for r in quickbooks if r[1].endswith("/query") and "FROM Vendor" in r[2]]  # CDC instead
    assert [r for r in quickbooks if r[1].endswith("/cdc")]
    creates = {a.precoro_id for a in plan.actions if a.entity == "supplier" and a.kind == "create"}
    assert len(creates) == LONG_LIST
    assert _phone(plan, changed) == "+1 555 9999999"


def test_w11_a_cap_met_after_a_list_was_read_to_its_end_does_not_read_that_list_again(long_list):
    """A first read that takes days waits out Precoro's hourly cap many times, each time in some
    list after the first. Going on after the wait, the lists read to their end are read by their
    changes: at 100,000 suppliers their pages alone are 500 of the hour's 1,500 calls."""
    from engine.local.precoro.throttle import HOURLY_LIMITER, Refusal

    session, precoro, _ = long_list
    precoro.clock.sleep(3600)  # the suppliers were made an hour before (else each is read again: its second)
    app = precoro.log.app
    refused: list[str] = []

    def hourly_cap_at_the_items(environ, start_response):
        if environ["PATH_INFO"] == "/items" and not refused:  # the cap falls on the items' first page
            refused.append(environ.get("QUERY_STRING", ""))
            start_response("429 Too Many Requests", [("Content-Type", "application/json")])
            return [json.dumps(Refusal(HOURLY_LIMITER, 1500, precoro.clock.now + 3600).body()).encode()]
        return app(environ, start_response)

    precoro.log.app = hourly_cap_at_the_items
    try:
        with session() as s:
            plan = s.plan(only=["suppliers", "items"])
    finally:
        precoro.log.app = app
    assert refused and precoro.clock.slept >= 3600 - 60  # the cap was met at the items, and waited out
    assert full_pages(precoro.log) == [1, 2, 3]  # once, before the wait; after it, by its changes
    assert len(supplier_details(precoro.log)) == LONG_LIST
    creates = {a.precoro_id for a in plan.actions if a.entity == "supplier" and a.kind == "create"}
    assert len(creates) == LONG_LIST


def test_w11_a_full_read_cut_short_then_overtaken_by_reads_of_changes_begins_afresh(long_list):
    """`plan --full` met the daily cap within the list; the plans after it read by their changes
    (their cursor was still good) and put a changed supplier into the mirror. A later full read
    does not go on at the old page: it would take the pages before it as that cut read left them,
    without the change, and let the changed supplier go from the mirror and the plan."""
    session, precoro, _ = long_list
    precoro.clock.sleep(3600)  # the suppliers were made an hour before
    with session() as s:
        s.plan(only=["suppliers"])
    precoro.clock.sleep(3600)
    precoro.log.seen.clear()
    precoro.caps(per_day=3)  # the custom fields looked up, pages 1 and 2: page 3 is refused
    with session() as s, pytest.raises(QbsyncError):
        s.plan(only=["suppliers"], full=True)
    assert full_pages(precoro.log) == [1, 2, 3]
    precoro.caps()
    changed = 5  # on the first page
    precoro.state.update("suppliers", changed, {"phone": "+1 555 9999999"})
    precoro.clock.sleep(3600)
    with session() as s:
        by_changes = s.plan(only=["suppliers"])
        assert _phone(by_changes, changed) == "+1 555 9999999"
        assert s.status()["unfinished_reads"] == []  # nothing to go on with

    precoro.log.seen.clear()
    with session() as s:
        plan = s.plan(only=["suppliers"], full=True)
    assert full_pages(precoro.log) == [1, 2, 3]  # from its start
    creates = {a.precoro_id for a in plan.actions if a.entity == "supplier" and a.kind == "create"}
    assert len(creates) == LONG_LIST
    assert _phone(plan, changed) == "+1 555 9999999"


def test_w2_a_full_read_that_ended_in_a_failed_plan_hides_no_edit_from_the_apply(capped, capped_precoro, servers):
    """The cursor a full read leaves as it ends is the next plan's only: an apply of the latest
    saved plan still asks Precoro what changed since that plan's reads (W2). A colleague's edit
    made after that plan is refused, not overwritten, though a plan that failed has read past it."""
    session, cap, log, clock = capped
    clock.sleep(3600)  # the suppliers were made an hour before
    with session() as s:
        s.apply(s.plan(only=["suppliers"]).id)  # the vendors created, and linked
    [vendor] = servers.quickbooks.query(REALM, "SELECT * FROM Vendor WHERE Id = '1'").response()["Vendor"]
    _, suppliers = capped_precoro.state.page("suppliers", limit=SUPPLIERS)
    [supplier] = [row for row in suppliers if row["name"] == vendor["DisplayName"]]
    servers.quickbooks.update(REALM, "Vendor", {"Id": vendor["Id"], "SyncToken": vendor["SyncToken"], "sparse": True,
                                                "AcctNum": "QB-1"})
    clock.sleep(600)
    with session() as s:
        plan = s.plan(only=["suppliers"])
    [update] = [a for a in plan.actions if a.kind == "update" and a.target == "precoro"]
    assert update.precoro_id == str(supplier["id"])
    clock.sleep(600)
    capped_precoro.state.update("suppliers", supplier["id"], {"city": "Elsewhere"})  # a colleague, after the plan
    clock.sleep(600)
    stop = threading.Event()
    with session() as s:
        with pytest.raises(Interrupted):  # reads the suppliers in full (and the edit), then fails
            s.plan(only=["suppliers", "items"], full=True, stop=stop,
                   progress=lambda what, done, total: what == "planning suppliers" and stop.set())
        report = s.apply(plan.id)
    assert [r.status for r in report.results if r.id == update.id] == ["refused"]
    assert capped_precoro.state.page("suppliers", limit=SUPPLIERS)[1][suppliers.index(supplier)]["accountNumber"] \
        == supplier["accountNumber"]


def test_w11_a_first_read_of_a_long_list_says_of_how_many_records(servers, capped_precoro, fresh_dir):
    """A first read that takes hours shows its progress against the list's size (Precoro's first
    page says it): "reading Precoro suppliers: 1,000/1,100", not a bare count."""
    capped_precoro.state.bulk_insert("suppliers", scale_suppliers(1100))
    servers.reset(REALM)
    said: list[tuple[str, int, int | None]] = []
    with capped_precoro.session(servers, fresh_dir(), REALM) as s:
        s.plan(only=["suppliers"], progress=lambda what, done, total: said.append((what, done, total)))
    assert [(done, total) for what, done, total in said if what == "reading Precoro suppliers" and done] == [
        (1000, 1100)]


def test_w11_more_changes_than_an_hour_s_calls_are_each_read_once_across_the_waits(long_list):
    """A bulk edit in Precoro changed more suppliers than an hour's calls can read the details of.
    The plan waits out the cap and reads from the same cursor again: the changes read before the
    wait are taken from the mirror, not read again, so the plan ends (it used to read the same
    first ones after every wait, and never end)."""
    session, precoro, _ = long_list
    precoro.clock.sleep(3600)  # the suppliers were made an hour before the first plan
    with session() as s:
        s.plan(only=["suppliers"])
    precoro.clock.sleep(3600)
    changed = range(1, 61)
    for n in changed:
        precoro.state.update("suppliers", n, {"phone": f"+1 555 77{n:05}"})
    precoro.clock.sleep(60)
    precoro.log.seen.clear()
    precoro.caps(per_hour=25)
    waits: list[float] = []
    stop = threading.Event()

    def on_cap(what: str, left: float) -> None:
        if not waits or left > waits[-1]:
            waits.append(left)
            if len(waits) > 6:  # reading the same changes hour after hour: stop, rather than wait forever
                stop.set()
        waits[-1] = left

    with session() as s:
        plan = s.plan(only=["suppliers"], on_cap=on_cap, stop=stop)
    asked = supplier_details(precoro.log)
    assert sorted(set(asked)) == sorted(f"/suppliers/{n}" for n in changed)
    assert len(asked) == len(changed) + len(waits)  # each once, and each one a cap refused once more
    assert all(_phone(plan, n) == f"+1 555 77{n:05}" for n in changed)
