"""Answering many actions while unattended runs hold some (U3): `Store.decide_held`, CPU.

Every approval, skip or decision also answers the actions it names that unattended runs held, so
"approve shown" on a large plan (the TUI's `A`, `qbsync approve --all`) passes every id it approves.
Before 2026-12-02 each id was looked for among the held rows by `action_id` alone, which is not the
start of that table's key: 20,000 approvals against 5,000 held actions took 6.6 s, growing with
the product of the two. Now it is one read of the held rows and an update by key for those answered.

    .venv/bin/python bench/answers_held.py --held 5000 --answered 100000
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
    parser.add_argument("--held", type=int, default=5000, help="actions held by unattended runs (default 5,000)")
    parser.add_argument("--answered", type=int, default=100_000,
                        help="actions approved at once, every held one among them (default 100,000)")
    args = parser.parse_args()

    from engine.store import Store

    with tempfile.TemporaryDirectory() as tmp:
        store = Store(Path(tmp) / "state.db")
        held = [{"realm": "bench", "action_id": f"held{i:07}", "entity": "supplier", "kind": "create", "name": "x",
                 "reason": "policy", "fingerprint": "f", "plan_id": "p", "held_at": "t", "seen_at": "t",
                 "decision": None, "decided_at": None} for i in range(args.held)]
        with store.transaction():
            store.db["held"].upsert_all(held, pk=("realm", "action_id"))
        answered = [row["action_id"] for row in held] + [f"new{i:07}" for i in range(args.answered - args.held)]
        started = time.process_time()
        store.decide_held(answered, "approved", "2026-12-02T00:00:00+00:00")
        cpu = time.process_time() - started
        left = store.db.execute("select count(*) from held where decision is null").fetchone()[0]
        store.close()
    assert left == 0, f"{left} held actions were not answered"
    print(f"answers_held: {args.answered:,} answered, {args.held:,} of them held: {fmt(cpu)} of CPU")
    record("answers_held", {"held": args.held, "answered": args.answered, "cpu_seconds": cpu})


if __name__ == "__main__":
    main()
