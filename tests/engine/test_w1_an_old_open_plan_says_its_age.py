"""W1 and W11: a plan is what both sides held when it was made. An open plan older than an hour says
so in `status` (and the Overview, and `qbsync status`): what changed since is not in it, and a new
plan reads it while keeping the decisions made on this one."""

from __future__ import annotations

from engine.local.demo import seed_scale
from engine.review import OLD_PLAN_SECONDS, plan_age_said

REALM = "8132"


def test_w1_an_open_plan_older_than_an_hour_says_its_age_and_what_to_do(servers, fresh_dir):
    servers.reset(REALM)
    seed_scale(servers.quickbooks, servers.precoro, REALM, 10)
    workdir = fresh_dir()
    with servers.session(workdir, REALM) as s:
        s.clock = lambda: "2026-11-27T09:00:00+00:00"
        made = s.plan()
        s.clock = lambda: "2026-11-27T09:59:00+00:00"
        latest = s.status()["latest_plan"]
        assert latest["id"] == made.id and latest["age_seconds"] == 59 * 60
        assert plan_age_said(latest) is None  # within the hour: nothing to say

        s.clock = lambda: "2026-11-30T11:30:00+00:00"
        latest = s.status()["latest_plan"]
        assert latest["age_seconds"] == 3 * 86400 + 2.5 * 3600 >= OLD_PLAN_SECONDS
        assert plan_age_said(latest) == ("made 3 d 2 h ago: what changed since is not in it; a new plan reads it "
                                         "and keeps this one's decisions")
        s.apply(made.id)
        assert plan_age_said(s.status()["latest_plan"]) is None  # applied: history, not a plan to act on


def test_w1_a_plan_age_that_cannot_be_read_says_nothing():
    assert plan_age_said(None) is None
    assert plan_age_said({"id": "p", "state": "open", "created_at": "?", "age_seconds": None}) is None
