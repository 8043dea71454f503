"""U1, W6: weeks of a timer whose runs hold what they find and change little keep a bounded state file.

Every run makes a plan with every held record's actions (a colleague edits a supplier between runs,
so none is "nothing changed"), and records its summary with the held list. Real runs on a real
state file against the local APIs, the session's clock moved 8 hours a run.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from engine.local.demo import seed_precoro, seed_quickbooks
from engine.run import EXIT_HELD, run_once
from engine.store import REPLACED_PLANS_KEPT_HOURS, RUN_DETAILS_KEPT_DAYS

REALM = "4620816365401"
STEP = timedelta(hours=8)
RUNS = 24  # eight days


def test_u1_w6_a_timer_that_holds_for_weeks_keeps_plans_and_runs_bounded(servers, fresh_dir):
    servers.reset(REALM)
    seed_precoro(servers.precoro, seed_quickbooks(servers.quickbooks, REALM))
    start = datetime(2026, 10, 1, 6, 0, tzinfo=timezone.utc)
    total, _ = servers.precoro.page("suppliers", limit=1)
    muller = next(s for s in servers.precoro.page("suppliers", limit=total)[1] if s["name"] == "Müller Büromaterial GmbH")
    plans = []
    with servers.session(fresh_dir(), REALM) as session:
        db = session.store.db
        for n in range(RUNS):
            at = (start + n * STEP).isoformat(timespec="seconds")
            session.clock = lambda: at
            servers.precoro.update("suppliers", muller["id"], {"legalAddress": f"Königstraße {n + 1}"})
            summary = run_once(session)
            assert summary.exit_code == EXIT_HELD and summary.error is None
            plans.append(summary.plan_id)
        assert len(set(plans)) == RUNS  # a plan a run

        states = dict(db.execute("select id, state from plans").fetchall())
        kept = [plan_id for plan_id in plans if db.execute("select 1 from actions where plan_id = ? limit 1",
                                                           [plan_id]).fetchone()]
        # Plans replaced less than a day ago, and those an apply made history, keep their actions.
        recent = REPLACED_PLANS_KEPT_HOURS // 8 + 1
        assert set(plans[-recent:]) <= set(kept)
        assert all(states[plan_id] in ("applied", "replaced", "superseded") for plan_id in plans[:-recent])
        assert all(states[plan_id] == "applied" for plan_id in set(kept) - set(plans[-recent:]))

        runs = session.runs()
        assert len(runs) == RUNS
        detailed = [run for run in runs if "held_actions" in (run["summary"] or {})]
        assert len(detailed) == RUN_DETAILS_KEPT_DAYS * 3 + 1  # a week of runs keeps its lists, and the run of now
        assert all(run["summary"]["held"] > 0 for run in runs)  # the others keep their counts
