"""W1, U3: approving or deciding many actions at once (the TUI's "approve shown", `P`/`Q`, `qbsync
approve --all`) costs the state file in proportion to the actions named, not to the plan times them.

Counted, not timed: sqlite's progress handler counts the virtual machine's instructions on the
session's connection. Each id found with `like 'ID%'` (which the index cannot answer) read the whole
plan, and each held action was looked for by a column that is not the start of its table's key:
about 12,700 instructions an id at 2,000 actions, growing with the plan, where finding and writing
an id by its key takes about 50 (bench/approve_many.py has the times).
"""

from __future__ import annotations

from pathlib import Path

from engine.plan import Action, Plan
from engine.review import ReviewFilter
from engine.sync import SyncSession

ROOT = Path(__file__).resolve().parents[2]
ACTIONS = 2000
PER_ID = 1000  # instructions an id may cost: about 20 times what it does, a twentieth of a scan


def session_with_a_plan(tmp_path: Path) -> tuple[SyncSession, Plan]:
    session = SyncSession(ROOT / "rules.yaml", tmp_path / "state.db")
    actions = [Action(f"{i:010x}", "supplier", "conflict", None, f"Supplier {i}", precoro_id=str(i),
                      quickbooks_id=str(i)) if i % 4 == 0 else
               Action(f"{i:010x}", "supplier", "create", "quickbooks", f"Supplier {i}", precoro_id=str(i),
                      approved=False) for i in range(ACTIONS)]
    plan = Plan(actions=actions, realm_id="r", rules_digest=session.rules.digest,
                created_at="2026-12-02T09:00:00+00:00")
    session.store.save_plan(plan)
    held = [{"realm": "r", "action_id": a.id, "entity": "supplier", "kind": a.kind, "name": a.name,
             "reason": "policy", "fingerprint": "f", "plan_id": plan.id, "held_at": "t", "seen_at": "t",
             "decision": None, "decided_at": None} for a in actions[::5]]
    with session.store.transaction():
        session.store.db["held"].upsert_all(held, pk=("realm", "action_id"))
    return session, plan


def instructions(session: SyncSession, work) -> int:
    counted = [0]

    def tick() -> int:
        counted[0] += 1
        return 0  # go on

    session.store.db.conn.set_progress_handler(tick, 100)
    try:
        work()
    finally:
        session.store.db.conn.set_progress_handler(None, 100)
    return counted[0] * 100


def test_w1_approving_or_deciding_many_actions_costs_the_state_file_in_proportion_to_them(tmp_path):
    session, plan = session_with_a_plan(tmp_path)
    ids = [a.id for a in plan.actions]
    conflicts = [a.id for a in plan.actions if a.kind == "conflict"]

    assert instructions(session, lambda: session.approve(ids, True, plan.id)) < PER_ID * len(ids)
    assert instructions(session, lambda: session.decide_all(conflicts, "quickbooks", plan.id)) < PER_ID * len(conflicts)
    assert instructions(session, lambda: session.approve_matching(ReviewFilter(), False, plan.id)) < PER_ID * len(ids)

    # And they did what they say: every action answered, every held one no longer waiting.
    saved = {a.id: a for a in session.load_plan(plan.id).actions}
    assert all(saved[i].decision == "quickbooks" for i in conflicts)
    assert not any(a.approved for a in saved.values())  # the last word: skip --all
    assert all(row["decision"] == "skipped" for row in session.store.held())
    session.close()
