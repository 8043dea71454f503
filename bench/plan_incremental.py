"""Plans after the first read only what changed (W11). DESIGN targets: "No-change plan at 100k per
side: <= 10 calls per side and < 3 s. Changed records cost in proportion to the change."

    .venv/bin/python bench/plan_incremental.py                  # N = 100,000 per side, 100 changed, 2 runs
    .venv/bin/python bench/plan_incremental.py --n 20000 --changed 100 --runs 3
    .venv/bin/python bench/plan_incremental.py --synced   # the steady state: every record linked and in sync

1. The local APIs are seeded `scale:N` in their own process (bench/_serve.py), dated an hour back
   (a fresh seed would fall inside the overlap a changes read repeats: engine/mirror.py OVERLAP).
2. `first` (a fresh process, fresh state file): `SyncSession.plan()` as `qbsync plan` runs it, a full
   read that also fills the mirror: wall, qbsync's own CPU, peak RSS, calls per side.
3. `again` (a fresh process per run, same state file): nothing changed. Wall, CPU, calls per side,
   and whether the plan was the latest one returned (`plan.unchanged`).
4. Then K vendors change in QuickBooks and K suppliers in Precoro (over HTTP, not counted), and
   `changed` (a fresh process) plans: wall, CPU, calls per side, the update actions found.
With `--synced` both companies hold the same N suppliers and N items (seed `matched:N`), and the first
plan (200,000 links at N = 100,000) is applied before anything else is measured: the state a company
is in after its first sync, in which every later plan is made.
Calls are counted by the servers, per endpoint; the OAuth token endpoint is not a QuickBooks API call.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench._harness import Endpoints, LocalServer, fmt, median, peak_rss_mb, record, run_child, session_for, workdir  # noqa: E402

SCRIPT = Path(__file__).resolve()
TARGET_CALLS, TARGET_SECONDS = 10, 3.0


def child(server_json: str, directory: Path, apply: bool = False) -> dict:
    from engine.sync import SyncSession

    server = Endpoints(json.loads(server_json)["info"])
    if (directory / "rules.yaml").exists():
        session = SyncSession(directory / "rules.yaml", directory / "state.db", env=server.env)
    else:
        session = session_for(server, directory)
    started, cpu = time.perf_counter(), time.process_time()
    plan = session.plan()
    out = {"seconds": time.perf_counter() - started, "cpu_seconds": time.process_time() - cpu,
           "peak_rss_mb": peak_rss_mb(), "actions": len(plan.actions), "unchanged": plan.unchanged}
    if apply:
        started = time.perf_counter()
        report = session.apply(plan.id)
        out["applied"] = report.counts()
        out["apply_seconds"] = time.perf_counter() - started
    session.close()
    return out


def change(server: LocalServer, directory: Path, count: int) -> None:
    """`count` vendors and `count` suppliers get a new phone number, the way a colleague would."""
    from engine.sync import SyncSession

    with SyncSession(directory / "rules.yaml", directory / "state.db", env=server.env) as session:
        quickbooks, precoro = session.connected.quickbooks, session.connected.precoro
        vendors = quickbooks.query(f"SELECT * FROM Vendor STARTPOSITION 1 MAXRESULTS {count}").get("Vendor", [])
        for n, vendor in enumerate(vendors):
            quickbooks.update("Vendor", {"Id": vendor["Id"], "SyncToken": vendor["SyncToken"],
                                         "PrimaryPhone": {"FreeFormNumber": f"+1 555 01{n:04}"}})
        suppliers = []
        for supplier in precoro.list_all("/suppliers", per_page=200):
            suppliers.append(supplier)
            if len(suppliers) == count:
                break
        for n, supplier in enumerate(suppliers):
            precoro.update(f"/suppliers/{supplier['id']}", {"phone": f"+44 20 7946 {n:04}"})


def calls(stats: dict) -> dict[str, int]:
    return {side: sum(sum(codes.values()) for endpoint, codes in side_stats["by_endpoint"].items()
                      if "oauth" not in endpoint and "token" not in endpoint)
            for side, side_stats in stats.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=100_000, help="suppliers and items per side (default 100,000)")
    parser.add_argument("--changed", type=int, default=100, help="records changed per side before the last plan")
    parser.add_argument("--runs", type=int, default=2, help="no-change plans measured (default 2)")
    parser.add_argument("--synced", action="store_true",
                        help="all records match; the first plan is applied (the steady state after a first sync)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--apply", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--server", help=argparse.SUPPRESS)
    parser.add_argument("--dir", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.server, Path(args.dir), args.apply)))
        return 0

    print(f"plan_incremental: N = {args.n:,} suppliers + {args.n:,} items per side; seeding...", flush=True)
    seed = f"matched:{args.n}" if args.synced else f"scale:{args.n}"
    with workdir("incremental") as tmp, LocalServer(tmp / "local.db", seed, seeded_ago=3600) as server:
        hello = json.dumps({"info": server.info})
        state = tmp / "work"

        def measured(label: str, *more: str) -> dict:
            server.reset()
            result = run_child(SCRIPT, "--child", "--server", hello, "--dir", str(state), *more)
            stats = server.stats()
            result["calls"] = calls(stats)
            # Which endpoints the calls went to: where a budget goes when it is exceeded.
            result["endpoints"] = {side: {endpoint: sum(codes.values()) for endpoint, codes in side_stats["by_endpoint"].items()}
                                   for side, side_stats in stats.items()}
            print(f"  {label}: {result['seconds']:.2f} s (qbsync's CPU {result['cpu_seconds']:.2f} s), peak RSS "
                  f"{result['peak_rss_mb']:.0f} MB, calls {result['calls']}, {result['actions']:,} actions"
                  + (", the latest plan returned" if result["unchanged"] else "")
                  + (f"; applied in {result['apply_seconds']:.1f} s: {result['applied']}" if "applied" in result else ""),
                  flush=True)
            return result

        first = measured("first plan (full read)", *(["--apply"] if args.synced else []))
        again = [measured(f"nothing changed, run {run + 1}") for run in range(args.runs)]
        change(server, state, args.changed)
        changed = measured(f"{args.changed} changed per side")

    summary = {
        "n": args.n, "synced": args.synced, "first": first, "again": again, "changed": changed, "changed_per_side": args.changed,
        "again_seconds": median([r["seconds"] for r in again]),
        "again_calls_max": {side: max(r["calls"][side] for r in again) for side in again[0]["calls"]},
    }
    path = record("plan_incremental", summary)
    ok_calls = all(n <= TARGET_CALLS for n in summary["again_calls_max"].values())
    ok_time = summary["again_seconds"] < TARGET_SECONDS
    print(f"\nNo-change plan: {fmt(summary['again_seconds'])} [{'met' if ok_time else 'NOT met'}: < 3 s], calls "
          f"{summary['again_calls_max']} [{'met' if ok_calls else 'NOT met'}: <= 10 per side]")
    print(f"{args.changed} changed per side: {fmt(changed['seconds'])} (qbsync's CPU {fmt(changed['cpu_seconds'])}), "
          f"calls {changed['calls']} (the first plan's: {first['calls']})")
    print(f"Results: {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
