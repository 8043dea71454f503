"""Approving a large plan at once: the TUI's "approve shown" (`A`, every id it shows, through
`SyncSession.approve`), its "QuickBooks for shown" (`Q`: `SyncSession.decide_all`) and `qbsync
skip --all` (`SyncSession.approve_matching`), CPU, while unattended runs hold some of the plan's
actions (U3).

Two lookups made this grow with the square of the plan (found 2026-12-02, eighth session):
- each id was found with `id like 'ID%'`, which sqlite cannot answer from the index (LIKE ignores
  case), so it read the plan's actions for every id: 87 ms an id at 260,000 actions, hours for all;
- each held action was looked for by `action_id` alone, not the start of the held table's key:
  100,000 approvals against 5,000 held actions took 37 s.
And decisions were saved one at a time, a write each: 2,000 conflicts took 7 s, now one write.

    .venv/bin/python bench/approve_many.py --actions 260000 --held 5000

The plan is made of creates (no API is asked: approving touches the state file only).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._harness import fmt, record  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--actions", type=int, default=260_000, help="actions in the plan (default 260,000)")
    parser.add_argument("--held", type=int, default=5000, help="of them held by unattended runs (default 5,000)")
    parser.add_argument("--conflicts", type=int, default=20_000, help="of them conflicts (default 20,000)")
    parser.add_argument("--ids-only", action="store_true",
                        help="only the approval by id (a checkout older than approve_matching, to compare)")
    args = parser.parse_args()

    from engine.plan import Action, Plan
    from engine.sync import SyncSession

    with tempfile.TemporaryDirectory() as tmp:
        session = SyncSession(ROOT / "rules.yaml", Path(tmp) / "state.db")
        actions = [Action(f"{i:010x}", "supplier", "conflict", None, f"Supplier {i}", precoro_id=str(i),
                          quickbooks_id=str(i)) if i < args.conflicts else
                   Action(f"{i:010x}", "supplier", "create", "quickbooks", f"Supplier {i}", precoro_id=str(i),
                          approved=False) for i in range(args.actions)]
        plan = Plan(actions=actions, realm_id="bench", rules_digest=session.rules.digest,
                    created_at="2026-12-02T00:00:00+00:00")
        session.store.save_plan(plan)
        held = [{"realm": "bench", "action_id": a.id, "entity": "supplier", "kind": "create", "name": a.name,
                 "reason": "policy", "fingerprint": "f", "plan_id": plan.id, "held_at": "t", "seen_at": "t",
                 "decision": None, "decided_at": None} for a in actions[:args.held]]
        with session.store.transaction():
            session.store.db["held"].upsert_all(held, pk=("realm", "action_id"))
        ids = [a.id for a in actions]

        started = time.process_time()
        assert len(session.approve(ids, True, plan.id)) == len(ids)
        shown = time.process_time() - started
        everything = decided = None
        if not args.ids_only:
            from engine.review import ReviewFilter

            started = time.process_time()
            assert len(session.decide_all(ids[:args.conflicts], "quickbooks", plan.id)) == args.conflicts
            decided = time.process_time() - started

            started = time.process_time()
            skipped, left = session.approve_matching(ReviewFilter(), False, plan.id)
            everything = time.process_time() - started
            assert len(skipped) == len(ids) and not left
        session.close()
    print(f"approve_many: {args.actions:,} actions, {args.held:,} held, {args.conflicts:,} conflicts; CPU: approve "
          f"by id (the TUI's A) {fmt(shown)}, one side of every conflict (Q) {fmt(decided)}, skip --all "
          f"(approve_matching) {fmt(everything)}")
    record("approve_many", {"actions": args.actions, "held": args.held, "conflicts": args.conflicts,
                            "approve_ids_cpu_seconds": shown, "decide_all_cpu_seconds": decided,
                            "approve_matching_cpu_seconds": everything})


if __name__ == "__main__":
    main()
