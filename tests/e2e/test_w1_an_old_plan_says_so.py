"""W1 with old plans: a plan is what both sides held when it was made. `show`, `apply` and `status`
say so of an open plan left for more than an hour, and what to do; a fresh plan says nothing."""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta, timezone

import pytest

pytestmark = pytest.mark.e2e

SAID = "what changed since is not in it; a new plan reads it and keeps this one's decisions (`qbsync plan`)"


def test_w1_show_apply_and_status_say_an_open_plan_is_days_old(workdir):
    plan = workdir.json("plan")
    fresh = workdir.run("show")
    assert fresh.returncode in (0, 2) and "ago" not in fresh.stderr

    # Three days and two hours go by (the plan's time, as the state file keeps it).
    made = (datetime.now(timezone.utc) - timedelta(days=3, hours=2, minutes=5)).isoformat(timespec="seconds")
    with sqlite3.connect(workdir.path / ".qbsync" / "state.db") as db:
        db.execute("update plans set created_at = ? where id = ?", [made, plan["plan_id"]])
    shown = workdir.run("show")
    assert f"qbsync: this plan was made 3 d 2 h ago: {SAID}" in shown.stderr
    assert "ago" not in shown.stdout  # the plan's text is as before: scripts read it
    status = workdir.run("status").stdout
    assert f"  made 3 d 2 h ago: {SAID}" in status
    assert 3 * 86400 + 2 * 3600 <= workdir.json("status")["latest_plan"]["age_seconds"] < 3 * 86400 + 3 * 3600
    applied = workdir.run("apply", "--yes")
    assert "this plan was made 3 d 2 h ago" in applied.stderr

    # Applied, it is history: nothing more to say of its age.
    assert "ago" not in workdir.run("status").stdout
