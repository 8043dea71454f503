"""W1 at scale: a plan printed whole as JSON (`qbsync show --json`, `plan --json`) is written an action
at a time (render.write_plan_json), and the text is the one json.dumps gives for the whole plan."""

from __future__ import annotations

import io
import json
from dataclasses import replace

from demo_session import FakeSession
from tui.render import plan_json, write_plan_json


def dumped(data) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n"


def test_w1_a_plan_written_an_action_at_a_time_is_the_json_of_the_whole_plan():
    session = FakeSession()
    plan = session.plan()
    assert len(plan.actions) > 3
    out = io.StringIO()
    write_plan_json(plan, out)
    assert out.getvalue() == dumped(plan_json(plan))

    chosen = [a for a in plan.actions if a.kind == "conflict"]
    out = io.StringIO()
    write_plan_json(plan, out, chosen, chosen=len(chosen))
    assert out.getvalue() == dumped(plan_json(plan, chosen))

    empty = replace(plan, actions=[])
    out = io.StringIO()
    write_plan_json(empty, out)
    assert out.getvalue() == dumped(plan_json(empty)) and json.loads(out.getvalue())["actions"] == []
