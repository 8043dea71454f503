"""`qbsync runs` (U1): the unattended runs of a state file, newest first, kept for a bounded time.

A timer every 15 minutes that holds the same actions each time records the same list 35,000 times a
year: old runs lose their lists after RUN_DETAILS_KEPT_DAYS and go after RUNS_KEPT_DAYS (what they
wrote stays in the audit). Real runs on a real state file against the local APIs, on a moved clock.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

from engine.local.demo import seed_precoro, seed_quickbooks
from engine.run import EXIT_ERROR, EXIT_HELD, run_once, runs_table
from engine.store import RUN_DETAILS_KEPT_DAYS, RUNS_KEPT_DAYS
from tui import cli

REALM = "4620816365301"
START = datetime(2026, 9, 1, 6, 0, tzinfo=timezone.utc)


def test_u1_runs_are_listed_newest_first_and_old_ones_thinned_then_let_go(servers, fresh_dir):
    servers.reset(REALM)
    seed_precoro(servers.precoro, seed_quickbooks(servers.quickbooks, REALM))
    workdir = fresh_dir()

    def run_on(session, day: int):
        at = (START + timedelta(days=day)).isoformat(timespec="seconds")
        session.clock = lambda: at
        return run_once(session)

    with servers.session(workdir, REALM) as session:
        first = run_on(session, 0)
        assert first.exit_code == EXIT_HELD and first.held
        [kept] = session.runs()
        assert len(kept["summary"]["held_actions"]) == len(first.held)  # a recent run keeps its list

        run_on(session, RUN_DETAILS_KEPT_DAYS + 1)
        newest, oldest = session.runs()
        assert newest["started_at"] > oldest["started_at"]
        assert "held_actions" in newest["summary"]
        # A week on, the first run keeps its counts, not its lists (`qbsync held` has what waits).
        assert "held_actions" not in oldest["summary"] and "failures" not in oldest["summary"]
        assert oldest["summary"]["held"] == len(first.held) and oldest["exit_code"] == EXIT_HELD

    with servers.session(workdir, REALM) as session:
        session.env["PRECORO_TOKEN"] = "revoked"  # a run that fails
        assert run_on(session, RUNS_KEPT_DAYS + 1).exit_code == EXIT_ERROR
        runs = session.runs()
        assert [run["started_at"][:10] for run in runs] == [
            (START + timedelta(days=RUNS_KEPT_DAYS + 1)).date().isoformat(),
            (START + timedelta(days=RUN_DETAILS_KEPT_DAYS + 1)).date().isoformat()]  # the first is let go
        assert [run["exit_code"] for run in session.runs(failed=True)] == [EXIT_ERROR]
        since = (START + timedelta(days=RUNS_KEPT_DAYS)).date()
        assert len(session.runs(since=since)) == 1 and len(session.runs(limit=1)) == 1
        assert session.runs(since=date(2030, 1, 1)) == []

        table = runs_table(runs).splitlines()
        assert table[0].split()[:3] == ["started", "(UTC)", "trigger"]
        assert " FAILED " in table[1] and "revoked" not in table[1]  # an error says what, never the secret
        assert table[2].split()[3] == "held"


def test_u1_the_clis_retention_words_are_the_stores():
    assert (cli.RUNS_KEPT_DAYS, cli.RUN_DETAILS_KEPT_DAYS) == (RUNS_KEPT_DAYS, RUN_DETAILS_KEPT_DAYS)


def test_u1_a_run_with_no_end_is_running_while_it_holds_the_run_lock_else_it_was_killed(servers, fresh_dir):
    with servers.session(fresh_dir(), REALM) as session:
        killed = session.store.start_run("2026-12-03T08:00:00+00:00", "schedule")  # SIGKILLed: never finished
        going = session.store.start_run("2026-12-03T08:15:00+00:00", "schedule")
        with session.store.lock("run").held("qbsync run (schedule)", wait=False):  # as run_once holds it
            runs = session.runs()
            assert [(run["id"], run["running"]) for run in runs] == [(going, True), (killed, False)]
            assert [line.split()[3] for line in runs_table(runs).splitlines()[1:]] == ["running", "unfinished"]
        assert [run["running"] for run in session.runs()] == [False, False]  # the lock let go: killed too
