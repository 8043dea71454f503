"""Open a saved large plan in the real TUI, and ask for the status (DESIGN targets: "a saved 100k plan
opens in the real TUI in < 1.5 s and < 400 MB; status < 0.5 s").

    .venv/bin/python bench/tui_open.py                 # N = 100,000 suppliers + items per side, 2 runs
    .venv/bin/python bench/tui_open.py --n 20000 --runs 3

1. The local APIs are seeded `scale:N` in their own process (bench/_serve.py) and one plan is made
   and saved, as `qbsync plan` makes it (a first sync: about 2.6 N actions). The local Precoro's lists
   carry whole records here: what is measured is the open, and a plan read from summaries (a detail
   call per record) is the same plan, made in 6 minutes instead of 45 s at 100k.
2. `open` (a fresh process per run): the real `QbsyncApp` on a real `SyncSession` over that state
   file, headless (Textual's run_test at 120x40), measured from the app's start until the plan is on
   the Review screen (key 2 pressed, the list filled and drawn), and the process's peak RSS. Also
   told: when every action is listed (a large plan's rows are read in the background after its first
   page), and the imports before the app's start (not in the figure).
3. `status` (a fresh process per run): `SyncSession.status()` as `qbsync status` asks it, wall time
   (connecting to the local APIs included).
4. `explain` (a fresh process per run): `SyncSession.explain` as `qbsync explain` asks it, of one
   supplier by its name and of another by its Precoro id, each timed alone (the session's opening
   apart), and no request to either service (the local APIs' counts before and after).
5. `would_hold` (a fresh process per run): `SyncSession.would_hold` of the plan, as the Review's "a run
   would hold" and `qbsync show --which would-hold` ask it: every action judged by the policy.
With `--applied`, before the runs every action gets the outcome an apply records for it, three of
them failed: the plan an apply left with failures, which is the plan to review again, its counts
with those outcomes. The audit rows are written through the state file's own `add_audit`, as the
apply writes them, and its counts by outcome and its outcomes are then kept, as an apply that leaves
failures ends (`SyncSession.apply`); a real apply of 160,000 creates under QuickBooks' limits takes hours.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench._harness import Endpoints, LocalServer, fmt, median, peak_rss_mb, record, run_child, session_for, workdir  # noqa: E402

SCRIPT = Path(__file__).resolve()


def child_plan(server_json: str, directory: Path) -> dict:
    session = session_for(Endpoints(json.loads(server_json)["info"]), directory)
    started = time.perf_counter()
    plan = session.plan()
    out = {"plan_seconds": time.perf_counter() - started, "actions": len(plan.actions), "plan_id": plan.id}
    session.close()
    return out


def child_applied(server_json: str, directory: Path) -> dict:
    """The outcomes an apply of the whole plan records, the first three failed (see the docstring)."""
    from engine.store import Store

    store = Store(directory / "state.db")
    plan_id = store.latest_plan_id()
    actions = store.db.execute("select id, entity, kind from actions where plan_id = ? order by seq", [plan_id]).fetchall()
    with store.transaction():
        for n, (aid, entity, kind) in enumerate(actions):
            store.add_audit(at="2026-12-01T12:00:00+00:00", who="bench", plan_id=plan_id, action_id=aid, entity=entity,
                            kind=kind, status="failed" if n < 3 else "applied", reason="")
    started = time.perf_counter()
    # As SyncSession.apply ends, a plan left with failures: its counts and outcomes kept.
    store.action_groups(plan_id)
    store.outcomes(plan_id)
    counted = time.perf_counter() - started
    store.close()
    return {"outcomes": len(actions), "counted_seconds": counted}


def child_open(server_json: str, directory: Path) -> dict:
    import os

    os.environ["TEXTUAL_ANIMATIONS"] = "none"
    imported = time.perf_counter()
    from textual import events

    from engine.sync import SyncSession
    from tui.app import QbsyncApp
    from tui.screens.review import ReviewScreen
    from tui.widgets.action_table import ActionTable

    imported = time.perf_counter() - imported
    env = Endpoints(json.loads(server_json)["info"]).env

    async def run() -> dict:
        # Each wait below lets the screen handle its messages and draw (Pilot.pause with a delay); a
        # bare pause() would wait until the whole process is idle, the plan's background read too
        # (Textual's wait_for_idle compares the process's CPU time with the clock).
        started = time.perf_counter()
        app = QbsyncApp(lambda: SyncSession(directory / "rules.yaml", directory / "state.db", env=env),
                        rules_path=directory / "rules.yaml", watch_rules=False, cursor_blink=False)
        async with app.run_test(size=(120, 40)) as pilot:
            while app.plan is None or app.busy:
                await pilot.pause(0.01)
            loaded = time.perf_counter() - started
            # The key as a terminal sends it: Pilot.press would also wait until the process is idle.
            app.post_message(events.Key("2", "2"))
            while not isinstance(app.screen, ReviewScreen) or not app.screen.query(ActionTable) \
                    or app.screen.query_one(ActionTable).rows.matched != len(app.plan.actions):
                await pilot.pause(0.01)
            await pilot.pause(0.01)  # and drawn
            shown = time.perf_counter() - started
            table = app.screen.query_one(ActionTable)
            listing = app.plan.actions
            while not getattr(listing, "complete", True):  # every action listed: the read in the background
                await pilot.pause(0.01)
            return {"loaded_seconds": loaded, "shown_seconds": shown, "rows": table.rows.matched,
                    "listed_seconds": time.perf_counter() - started, "actions": len(app.plan.actions),
                    "imports_seconds": imported}

    out = asyncio.run(run())
    out["peak_rss_mb"] = peak_rss_mb()
    return out


def child_status(server_json: str, directory: Path) -> dict:
    from engine.sync import SyncSession

    env = Endpoints(json.loads(server_json)["info"]).env
    started = time.perf_counter()
    with SyncSession(directory / "rules.yaml", directory / "state.db", env=env) as session:
        status = session.status()
    return {"status_seconds": time.perf_counter() - started, "peak_rss_mb": peak_rss_mb(),
            "pending": sum(counts.get("pending", 0) for counts in status["entities"].values())}


def child_explain(server_json: str, directory: Path) -> dict:
    from engine.sync import SyncSession

    env = Endpoints(json.loads(server_json)["info"]).env
    started = time.perf_counter()
    with SyncSession(directory / "rules.yaml", directory / "state.db", env=env) as session:
        session.realm_id  # connected: what explain reads comes after
        opened = time.perf_counter() - started
        timed = {}
        for how, ref in (("by_name", "supplier 054321"), ("by_id", "precoro:70001")):
            began = time.perf_counter()
            said = session.explain("suppliers", ref, history=5)
            timed[f"{how}_seconds"] = time.perf_counter() - began
            assert said["plan"]["actions"], said  # the plan's action on it was found
    return {**timed, "open_seconds": opened, "peak_rss_mb": peak_rss_mb()}


def child_would_hold(server_json: str, directory: Path) -> dict:
    from engine.sync import SyncSession

    env = Endpoints(json.loads(server_json)["info"]).env
    with SyncSession(directory / "rules.yaml", directory / "state.db", env=env) as session:
        started = time.process_time(), time.perf_counter()
        holds = session.would_hold()
        cpu, wall = time.process_time() - started[0], time.perf_counter() - started[1]
    return {"cpu_seconds": cpu, "wall_seconds": wall, "held": len(holds), "peak_rss_mb": peak_rss_mb()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=100_000, help="suppliers and items per side (default 100,000)")
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--applied", action="store_true",
                        help="measure the plan an apply left with failures (its outcomes recorded first)")
    parser.add_argument("--child", choices=["plan", "applied", "open", "status", "explain", "would_hold"],
                        help=argparse.SUPPRESS)
    parser.add_argument("--server", help=argparse.SUPPRESS)
    parser.add_argument("--dir", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child = {"plan": child_plan, "applied": child_applied, "open": child_open, "status": child_status,
                 "explain": child_explain, "would_hold": child_would_hold}[args.child]
        print(json.dumps(child(args.server, Path(args.dir))))
        return 0

    with workdir("tui") as tmp:
        print(f"tui_open: N = {args.n:,} suppliers + {args.n:,} items per side; seeding...", flush=True)
        with LocalServer(tmp / "local.db", f"scale:{args.n}", precoro_lists_with_details=True) as server:
            hello = json.dumps({"info": server.info})
            made = run_child(SCRIPT, "--child", "plan", "--server", hello, "--dir", str(tmp / "work"))
            print(f"  plan made: {made['actions']:,} actions in {made['plan_seconds']:.1f} s", flush=True)
            if args.applied:
                outcomes = run_child(SCRIPT, "--child", "applied", "--server", hello, "--dir", str(tmp / "work"))
                print(f"  {outcomes['outcomes']:,} outcomes recorded, 3 of them failed; counted by outcome and kept at the "
                      f"apply's end in {outcomes['counted_seconds']:.2f} s", flush=True)
            opened, status, explained, judged = [], [], [], []
            for run in range(args.runs):
                result = run_child(SCRIPT, "--child", "open", "--server", hello, "--dir", str(tmp / "work"))
                opened.append(result)
                print(f"  open run {run + 1}: plan loaded {result['loaded_seconds']:.2f} s, on the Review screen "
                      f"{result['shown_seconds']:.2f} s, every action listed {result['listed_seconds']:.2f} s, "
                      f"peak RSS {result['peak_rss_mb']:.0f} MB, {result['rows']:,} rows (imports before the start: "
                      f"{result['imports_seconds']:.2f} s)", flush=True)
                result = run_child(SCRIPT, "--child", "status", "--server", hello, "--dir", str(tmp / "work"))
                status.append(result)
                print(f"  status run {run + 1}: {result['status_seconds']:.2f} s, peak RSS {result['peak_rss_mb']:.0f} MB",
                      flush=True)
                if not args.applied:  # a first plan's records: one supplier matched by name, one to create
                    asked = {side: counts["requests"] for side, counts in server.stats().items()}
                    result = run_child(SCRIPT, "--child", "explain", "--server", hello, "--dir", str(tmp / "work"))
                    result["requests"] = {side: counts["requests"] - asked[side] for side, counts in server.stats().items()}
                    explained.append(result)
                    print(f"  explain run {run + 1}: by name {result['by_name_seconds']:.2f} s, by id "
                          f"{result['by_id_seconds']:.2f} s (the session opened in {result['open_seconds']:.2f} s), "
                          f"peak RSS {result['peak_rss_mb']:.0f} MB, requests {result['requests']}", flush=True)
                result = run_child(SCRIPT, "--child", "would_hold", "--server", hello, "--dir", str(tmp / "work"))
                judged.append(result)
                print(f"  would_hold run {run + 1}: {result['held']:,} held, {result['cpu_seconds']:.2f} s of CPU "
                      f"({result['wall_seconds']:.2f} s wall), peak RSS {result['peak_rss_mb']:.0f} MB", flush=True)
    summary = {"actions": made["actions"],
               "shown_seconds": median([r["shown_seconds"] for r in opened]),
               "loaded_seconds": median([r["loaded_seconds"] for r in opened]),
               "listed_seconds": median([r["listed_seconds"] for r in opened]),
               "imports_seconds": median([r["imports_seconds"] for r in opened]),
               "open_peak_rss_mb": median([r["peak_rss_mb"] for r in opened]),
               "status_seconds": median([r["status_seconds"] for r in status]),
               **({"explain_by_name_seconds": median([r["by_name_seconds"] for r in explained]),
                   "explain_by_id_seconds": median([r["by_id_seconds"] for r in explained])} if explained else {}),
               "would_hold_cpu_seconds": median([r["cpu_seconds"] for r in judged]),
               "would_hold_peak_rss_mb": median([r["peak_rss_mb"] for r in judged])}
    path = record("tui_open", {"n": args.n, "runs": args.runs, "applied": args.applied, "summary": summary,
                               "open": opened, "status": status, "explain": explained, "would_hold": judged})
    print(f"A saved {summary['actions']:,}-action plan on the Review screen: {fmt(summary['shown_seconds'])} "
          f"(target < 1.5 s), peak RSS {fmt(summary['open_peak_rss_mb'], 'MB', 0)} (target < 400 MB); "
          f"status {fmt(summary['status_seconds'])} (target < 0.5 s). Results: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
