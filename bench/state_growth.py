"""How large the state file grows under a timer, over months (no DESIGN target; U1, W6).

An unattended `qbsync run` every few minutes makes a plan each time something changed, holds what
the policy does not allow (the demo holds 14 actions a run) and records its summary. Nothing here
should grow with the number of runs for good: plans replaced more than a day ago are let go
(`Store.let_go_plans`), runs are kept 90 days and their held lists 7 (`Store.finish_run`). This runs
the demo company with a colleague editing one supplier between runs (so that no run is "nothing
changed"), on a session clock moved `--every` a run, and prints the state file's size as the days go
by, with its largest tables at the end.

    .venv/bin/python bench/state_growth.py                       # 150 days, a run every 6 hours (600 runs)
    .venv/bin/python bench/state_growth.py --days 100 --every 15m  # 9,600 runs: about half an hour
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._harness import Endpoints, record, session_for, workdir  # noqa: E402


def state_bytes(path: Path) -> int:
    """The file as it would be with its write-ahead log folded in (what a backup copies)."""
    db = sqlite3.connect(path)
    try:
        db.execute("pragma wal_checkpoint(truncate)")
    finally:
        db.close()
    return path.stat().st_size


def largest_tables(path: Path, count: int = 6) -> list[tuple[str, int]]:
    db = sqlite3.connect(path)
    try:
        return db.execute("select name, sum(pgsize) from dbstat group by name order by 2 desc limit ?", [count]).fetchall()
    finally:
        db.close()


def main() -> int:
    from engine.local.serve import LocalApis
    from engine.run import parse_every, run_once

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--days", type=int, default=150, help="days of runs (default 150: past every retention)")
    parser.add_argument("--every", default="6h", help="time between runs on the session's clock (default 6h)")
    args = parser.parse_args()
    step = timedelta(seconds=parse_every(args.every))
    runs = int(timedelta(days=args.days) / step)
    start = datetime(2026, 1, 1, tzinfo=timezone.utc)
    said_every = max(1, runs // 10)
    sizes = []
    with workdir("state-growth") as directory:
        apis = LocalApis.start(directory / "apis.db", seed="demo")
        try:
            total, _ = apis.precoro.page("suppliers", limit=1)
            edited = apis.precoro.page("suppliers", limit=total)[1][0]
            session = session_for(Endpoints(apis.info()), directory / "company")
            state = directory / "company" / "state.db"
            began = time.perf_counter()
            print(f"{runs:,} runs, one every {args.every}, over {args.days} days", flush=True)
            with session:
                for n in range(runs):
                    at = (start + n * step).isoformat(timespec="seconds")
                    session.clock = lambda: at
                    apis.precoro.update("suppliers", edited["id"], {"legalAddress": f"Street {n + 1}"})
                    run_once(session)
                    if (n + 1) % said_every == 0 or n + 1 == runs:
                        size = state_bytes(state)
                        sizes.append({"run": n + 1, "day": (n * step).days, "bytes": size})
                        print(f"  day {(n * step).days:>4}: run {n + 1:>6,}  state file {size / 2**20:6.2f} MB  "
                              f"({time.perf_counter() - began:.0f} s)", flush=True)
            tables = largest_tables(state)
        finally:
            apis.close()
    print("largest tables: " + ", ".join(f"{name} {size / 2**20:.2f} MB" for name, size in tables))
    record("state_growth", {"days": args.days, "every": args.every, "runs": runs, "sizes": sizes, "tables": tables})
    return 0


if __name__ == "__main__":
    sys.exit(main())
