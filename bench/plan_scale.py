"""Plan N suppliers + N items per side against the local APIs over loopback HTTP (DESIGN target:
"Full first plan, 100,000 suppliers + 100,000 items per side: qbsync's own CPU < 10 s (the local
servers' share excluded), < 700 MB RSS").

    .venv/bin/python bench/plan_scale.py               # N = 100,000, 2 runs of each measurement
    .venv/bin/python bench/plan_scale.py --n 20000 --runs 3
    .venv/bin/python bench/plan_scale.py --profile     # + a cProfile of one staged run (top 30, cumulative)
    .venv/bin/python bench/plan_scale.py --reads-only --lists-with-details  # the reads alone, mirror on and off

What happens:

1. Seeding: `bench/_serve.py` seeds `scale:N` (engine/local/demo.py: 60% of names match across sides)
   into a temporary sqlite file, in its own process, and serves both APIs from it on loopback.
2. `e2e` (a fresh Python process per run, fresh state store): `SyncSession.plan()` exactly as
   `qbsync plan` runs it: wall time and the process's peak RSS (ru_maxrss). This is the number the
   target is about, measured end to end; the local servers run in another process on the same 2 cores.
3. `staged` (a fresh process per run): the same steps as `SyncSession.plan()` one by one, timed apart:
   per entity, each side's paged read (HTTP + JSON) and the conversion of wire JSON into Records
   (the readers `EntitySpec.reader` makes), the pure reconcile (`engine.reconcile.reconcile` as
   `engine.planning` calls it: the spec's reconciler, `ItemReconciler` for items; on the records in
   memory, repeated `--reconcile-repeats` times), keeping each entity's actions as they are made
   (`engine.sync.KeptActions`: failed before, carried decisions, the sort by `entities.sort_key`, the
   content hash and the stored form), and saving the plan. Resident memory is sampled between steps.

The report says which parts are the pure reconcile (what the engine can make fast on its own) and
which are the reads; both are shown against the 10 s / 700 MB target.
"""

from __future__ import annotations

import argparse
import cProfile
import functools
import gc
import io
import json
import pstats
import sqlite3
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._harness import (  # noqa: E402
    Endpoints, LocalServer, fmt, median, peak_rss_mb, record, run_child, session_for, workdir,
)

SCRIPT = Path(__file__).resolve()
TARGET_SECONDS = 10.0
TARGET_RSS_MB = 700.0
# The steps from the reconciled actions to the saved plan (SyncSession.plan after the Planner).
BUILD_AND_SAVE = ("mark failed before", "carry decisions", "sort actions (entities.sort_key)",
                  "keep actions: content hash, stored form", "save plan")


def current_rss_mb() -> float:
    with open("/proc/self/statm") as statm:
        pages = int(statm.read().split()[1])
    import resource

    return pages * resource.getpagesize() / 2**20


# -- children (one fresh interpreter each) --------------------------------------------------------------


def child_e2e(server_json: str, directory: Path, only: list[str] | None = None, replan: bool = False) -> dict:
    server = Endpoints(json.loads(server_json)["info"])
    session = session_for(server, directory)
    started, cpu = time.perf_counter(), time.process_time()
    plan = session.plan(only=only)
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    summary = plan.summary()
    out = {"plan_seconds": wall, "cpu_seconds": cpu, "peak_rss_mb": peak_rss_mb(), "actions": summary["actions"],
           "by_kind": summary["by_kind"]}
    if replan:
        # Planning again with that plan saved: decisions are carried over from it (_carry_decisions).
        del plan
        gc.collect()
        started = time.perf_counter()
        session.plan(only=only)
        out["replan_seconds"] = time.perf_counter() - started
        out["replan_peak_rss_mb"] = peak_rss_mb()
    session.close()
    return out


def child_reads(server_json: str, directory: Path, mirror: bool) -> dict:
    """The first plan's reads of suppliers and items, both sides, one after another, and nothing else:
    qbsync's CPU before any planning (HTTP, JSON, each record's id, the mirror). Without `mirror`, the
    records are not written into the state file's mirror: a measure of that share only (a plan keeps them)."""
    from engine.entities import ITEMS, SUPPLIERS
    from engine.store import Store

    if not mirror:
        Store.mirror_put = lambda self, *args, **kwargs: None
    session = session_for(Endpoints(json.loads(server_json)["info"]), directory)
    planner = session.planner(None, threading.Event(), full=True)
    started, cpu = time.perf_counter(), time.process_time()
    records = sum(1 for spec in (SUPPLIERS, ITEMS) for side in ("quickbooks", "precoro")
                  for _ in planner.mirror.records(planner._source(spec, side)))
    out = {"records": records, "cpu_seconds": time.process_time() - cpu, "wall_seconds": time.perf_counter() - started,
           "mirror": mirror, "peak_rss_mb": peak_rss_mb()}
    session.close()
    return out


def reads_only(args, tmp: Path, server: LocalServer, hello: str) -> int:
    results = []
    for run in range(args.runs):
        for mirror in (True, False):
            result = run_child(SCRIPT, "--child", "reads", "--server", hello, "--dir", str(tmp / f"reads{run}{mirror}"),
                               *([] if mirror else ["--no-mirror"]))
            results.append(result)
            print(f"  reads run {run + 1}, mirror {'on' if mirror else 'off'}: {result['records']:,} records, qbsync's "
                  f"CPU {result['cpu_seconds']:.2f} s, wall {result['wall_seconds']:.1f} s (servers included)", flush=True)
    path = record("plan_scale_reads", {"n": args.n, "runs": args.runs, "lists_with_details": args.lists_with_details,
                                       "results": results})
    on = median([r["cpu_seconds"] for r in results if r["mirror"]])
    off = median([r["cpu_seconds"] for r in results if not r["mirror"]])
    print(f"\n== the first plan's reads alone (medians) ==\nqbsync's CPU {on:.2f} s with the mirror, {off:.2f} s "
          f"without it (its writes: {on - off:.2f} s), against the whole plan's target of {TARGET_SECONDS:.0f} s")
    print(f"\n(raw results appended to {path})")
    return 0


class Stages:
    """Exclusive wall time per named stage: a stage nested in another is not counted twice.

    Thread-aware: `Planner.fetch` reads both sides at once, so each thread keeps its own stack.
    Overlapping stages then add up to more than the wall time: "other" may be negative.
    """

    def __init__(self) -> None:
        self.times: dict[str, float] = {}
        self.rss: dict[str, float] = {}
        self._local = threading.local()
        self._lock = threading.Lock()

    @property
    def _stack(self) -> list[list]:
        if not hasattr(self._local, "stack"):
            self._local.stack = []  # [name, started, time spent in nested stages]
        return self._local.stack

    def enter(self, name: str) -> None:
        self._stack.append([name, time.perf_counter(), 0.0])

    def leave(self, sample_rss: bool = True) -> None:
        stack = self._stack
        name, started, nested = stack.pop()
        elapsed = time.perf_counter() - started
        with self._lock:
            self.times[name] = self.times.get(name, 0.0) + elapsed - nested
        if stack:
            stack[-1][2] += elapsed
        if sample_rss:
            self.rss[name] = current_rss_mb()

    def wrap(self, name, fn, sample_rss: bool = True):
        def timed(*args, **kwargs):
            self.enter(name(*args, **kwargs) if callable(name) else name)
            try:
                return fn(*args, **kwargs)
            finally:
                self.leave(sample_rss)
        return timed

    def wrap_iter(self, name: str, iterator):
        """Time spent producing each element (a paged read: HTTP + JSON), not the consumer's."""
        iterator = iter(iterator)
        while True:
            self.enter(name)
            try:
                value = next(iterator)
            except StopIteration:
                self.leave(False)
                self.rss[name] = current_rss_mb()
                return
            self.leave(False)
            yield value


def _collection(path: str) -> str:
    """A Precoro path without its ids: "/suppliers", "/itemcustomfields/7/options" -> "itemcustomfields/options"."""
    return "/".join(part for part in path.strip("/").split("/") if not part.isdigit())


def child_staged(server_json: str, directory: Path, repeats: int, profile: bool) -> dict:
    """`SyncSession.plan()` itself, with timers slipped around its steps (whatever order it takes them in).

    Each hook is patched where the code looks it up: the clients' paged reads on the session's client
    objects, the readers of `EntitySpec.reader` (every wire record of either side becomes a Record
    through one), the pure core as `engine.planning` calls it (`planning.reconcile`, once per paired
    entity, dispatching to the spec's reconciler), `planning.plan_documents`, the Planner's helpers,
    each entity's actions as `engine.sync.KeptActions` keeps them (its steps, and the sort as
    `engine.sync` looks `sorted` up) and the session's `_save`.
    """
    import engine.planning as planning
    import engine.sync as sync
    from engine.entities import EntitySpec

    server = Endpoints(json.loads(server_json)["info"])
    session = session_for(server, directory)
    stages = Stages()
    conn = session.connected  # the Planner is given these same client objects (SyncSession.planner)
    query_all, list_all = conn.quickbooks.query_all, conn.precoro.list_all
    conn.quickbooks.query_all = lambda entity, *a, **k: stages.wrap_iter(f"read quickbooks {entity}", query_all(entity, *a, **k))
    conn.precoro.list_all = lambda path, *a, **k: stages.wrap_iter(f"read precoro {_collection(path)}", list_all(path, *a, **k))
    reader = EntitySpec.reader

    def timed_reader(spec, rules, side, *args, **kwargs):
        return stages.wrap(f"wire JSON -> Record ({spec.section}, {side})", reader(spec, rules, side, *args, **kwargs),
                           sample_rss=False)

    EntitySpec.reader = timed_reader

    # The pure core, per entity; its inputs are kept to run it again on the same records afterwards.
    pure = planning.reconcile
    captured: list[tuple[str, tuple, dict]] = []

    def reconcile(spec, *args, **kwargs):
        name = f"reconcile {spec.section} (pure)"
        captured.append((name, (spec, *args), kwargs))
        stages.enter(name)
        try:
            return pure(spec, *args, **kwargs)
        finally:
            stages.leave()

    planning.reconcile = reconcile
    planning.plan_documents = stages.wrap(lambda spec, *a, **k: f"plan_documents {spec.section}", planning.plan_documents)
    Planner = planning.Planner
    refs = functools.cached_property(stages.wrap("references (stored links)", Planner.refs.func))
    refs.__set_name__(Planner, "refs")
    Planner.refs = refs
    Planner._names_elsewhere = stages.wrap("names elsewhere (W9)", Planner._names_elsewhere)
    Planner._item_accounts = stages.wrap("item accounts (for documents)", Planner._item_accounts)
    # `sorted` as engine.sync looks it up (its module globals before the builtins): each entity's sort.
    sync.sorted = stages.wrap("sort actions (entities.sort_key)", sorted)
    # Each entity's actions as they are kept (KeptActions.add): the steps below, then the content
    # hash and the stored form (what is left of "keep actions" once they are taken out).
    Kept = sync.KeptActions
    Kept.add = stages.wrap("keep actions: content hash, stored form", Kept.add)
    Kept._mark_failed_before = stages.wrap("mark failed before", Kept._mark_failed_before)
    Kept._carry_decisions = stages.wrap("carry decisions", Kept._carry_decisions)
    session._save = stages.wrap("save plan", session._save)

    profiler = cProfile.Profile() if profile else None
    if profiler:
        profiler.enable()
    started = time.perf_counter()
    plan = session.plan()
    total = time.perf_counter() - started
    if profiler:
        profiler.disable()
        for order, count in (("cumulative", 35), ("tottime", 25)):
            out = io.StringIO()
            pstats.Stats(profiler, stream=out).sort_stats(order).print_stats(count)
            sys.stderr.write(out.getvalue())
    times = dict(stages.times)
    # A hook that never fired means the engine no longer looks that step up where it is patched:
    # its time then hides in "other". Say so rather than report a step as free.
    silent = [name for name in BUILD_AND_SAVE if name not in times]
    silent += [what for what in ("read ", "wire JSON", "reconcile ") if not any(name.startswith(what) for name in times)]
    if silent:
        sys.stderr.write(f"plan_scale staged: these hooks never fired (engine changed?): {silent}\n")
    times["other"] = total - sum(times.values())
    actions = len(plan.actions)
    by_kind = plan.summary()["by_kind"]
    del plan

    # The pure reconcile again, on the same records in memory, to see its spread. One sample of an
    # entity = every reconcile the plan made of it (W9 plans suppliers again on a name clash).
    reconcile_runs: dict[str, list[float]] = {}
    for name in dict.fromkeys(name for name, _, _ in captured):
        calls = [(args, kwargs) for called, args, kwargs in captured if called == name]
        runs = reconcile_runs[name] = [times.get(name, 0.0)]
        for _ in range(repeats - 1):
            gc.collect()
            t = time.perf_counter()
            for args, kwargs in calls:
                pure(*args, **kwargs)
            runs.append(time.perf_counter() - t)
    session.close()
    return {"stages": times, "rss_after_mb": stages.rss, "reconcile_runs": reconcile_runs, "total_seconds": total,
            "peak_rss_mb": peak_rss_mb(), "actions": actions, "by_kind": by_kind}


# -- the orchestrator ---------------------------------------------------------------------------------


def keep_state(directory: Path, to: Path) -> None:
    """The run's state file, whole (its write-ahead log folded in), at `to`."""
    source = next(directory.rglob("state.db"))
    to.unlink(missing_ok=True)
    to.touch(mode=0o600)  # it holds the local APIs' tokens, as any state file does
    db, copy = sqlite3.connect(source), sqlite3.connect(to)
    try:
        db.backup(copy)
    finally:
        db.close()
        copy.close()
    print(f"  state file kept at {to}", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=100_000, help="suppliers and items per side (default 100,000)")
    parser.add_argument("--runs", type=int, default=2, help="runs of each measurement; medians are reported")
    parser.add_argument("--reconcile-repeats", type=int, default=3, help="pure reconcile runs per staged run")
    parser.add_argument("--profile", action="store_true", help="print a cProfile of one staged run to stderr")
    parser.add_argument("--skip-e2e", action="store_true", help="only the staged runs")
    parser.add_argument("--replan", action="store_true",
                        help="in each e2e run, plan a second time with the first plan saved (warm store)")
    parser.add_argument("--lists-with-details", action="store_true",
                        help="the local Precoro's lists answer whole records: no detail read per record (see DESIGN's "
                             "target; the real Precoro's lists are summaries unless `qbsync doctor` finds otherwise)")
    parser.add_argument("--keep-state", metavar="FILE",
                        help="copy the first e2e run's state file here (its mirror: bench/experiments/columnar_suppliers.py)")
    parser.add_argument("--against", metavar="CHECKOUT",
                        help="another checkout of qbsync (e.g. `git worktree add /tmp/base HEAD~3`): its full plan is "
                             "run in turn with this one's, against the same seeded server, and both are reported side "
                             "by side (no staged runs): how to compare two versions on a noisy machine")
    parser.add_argument("--reads-only", action="store_true",
                        help="only the first plan's reads of suppliers and items (both sides, one after another), "
                             "with the mirror and without it: qbsync's CPU before any planning")
    parser.add_argument("--child", choices=["e2e", "staged", "reads"], help=argparse.SUPPRESS)
    parser.add_argument("--no-mirror", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--server", help=argparse.SUPPRESS)
    parser.add_argument("--dir", help=argparse.SUPPRESS)
    parser.add_argument("--only", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.child == "e2e":
        print(json.dumps(child_e2e(args.server, Path(args.dir), args.only.split(",") if args.only else None, args.replan)))
        return 0
    if args.child == "staged":
        print(json.dumps(child_staged(args.server, Path(args.dir), args.reconcile_repeats, args.profile)))
        return 0
    if args.child == "reads":
        print(json.dumps(child_reads(args.server, Path(args.dir), mirror=not args.no_mirror)))
        return 0

    with workdir("plan") as tmp:
        print(f"plan_scale: N = {args.n:,} suppliers + {args.n:,} items per side; seeding...", flush=True)
        with LocalServer(tmp / "local.db", f"scale:{args.n}",
                         precoro_lists_with_details=args.lists_with_details) as server:
            print(f"  seeded in {server.seed_seconds:.1f} s (server ready in {server.ready_seconds:.1f} s)", flush=True)
            hello = json.dumps({"info": server.info})
            if args.reads_only:
                return reads_only(args, tmp, server, hello)
            e2e, staged, against = [], [], []
            for run in range(args.runs):
                if args.against:
                    other = Path(args.against).resolve()
                    result = run_child(other / "bench" / "plan_scale.py", "--child", "e2e", "--server", hello,
                                       "--dir", str(tmp / f"against{run}"), cwd=other)
                    against.append(result)
                    print(f"  {other.name} run {run + 1}: plan {result['plan_seconds']:.1f} s (qbsync's CPU "
                          f"{result['cpu_seconds']:.1f} s), peak RSS {result['peak_rss_mb']:.0f} MB", flush=True)
                if not args.skip_e2e:
                    result = run_child(SCRIPT, "--child", "e2e", "--server", hello, "--dir", str(tmp / f"e2e{run}"),
                                       *(["--replan"] if args.replan else []))
                    e2e.append(result)
                    print(f"  e2e run {run + 1}: plan {result['plan_seconds']:.1f} s (qbsync's CPU {result['cpu_seconds']:.1f} s), peak RSS {result['peak_rss_mb']:.0f} MB, "
                          f"{result['actions']:,} actions"
                          + (f"; plan again {result['replan_seconds']:.1f} s (peak RSS then {result['replan_peak_rss_mb']:.0f} MB)"
                             if args.replan else ""), flush=True)
                    if args.keep_state and run == 0:
                        keep_state(tmp / "e2e0", Path(args.keep_state))
                if args.against:
                    continue
                extra = ["--profile"] if args.profile and run == 0 else []
                result = run_child(SCRIPT, "--child", "staged", "--server", hello, "--dir", str(tmp / f"staged{run}"),
                                   "--reconcile-repeats", str(args.reconcile_repeats), *extra)
                staged.append(result)
                print(f"  staged run {run + 1}: total {result['total_seconds']:.1f} s, pure reconcile "
                      f"{sum(v[0] for v in result['reconcile_runs'].values()):.2f} s, "
                      f"peak RSS {result['peak_rss_mb']:.0f} MB", flush=True)
            server_stats = server.stats()
            server_rss = server.peak_rss_mb()

    if args.against:
        path = record("plan_scale", {"n": args.n, "runs": args.runs, "lists_with_details": args.lists_with_details,
                                     "e2e": e2e, "against": {"checkout": str(Path(args.against).resolve()), "e2e": against}})
        print(f"\n== plan_scale side by side (N = {args.n:,}; each run: the other checkout, then this one) ==")
        for name, results in (("this checkout", e2e), (Path(args.against).resolve().name, against)):
            cpu = ", ".join(f"{r['cpu_seconds']:.2f}" for r in results)
            rss = ", ".join(f"{r['peak_rss_mb']:.0f}" for r in results)
            print(f"{name:<24} qbsync's CPU {cpu} s   peak RSS {rss} MB")
        print(f"\n(raw results appended to {path})")
        return 0
    summary = summarise(args.n, server, e2e, staged, server_stats, server_rss)
    path = record("plan_scale", {"n": args.n, "runs": args.runs, "lists_with_details": args.lists_with_details, "summary": summary, "e2e": e2e, "staged": staged})
    print_summary(summary)
    print(f"\n(raw results appended to {path.relative_to(Path.cwd()) if path.is_relative_to(Path.cwd()) else path})")
    return 0


def summarise(n, server, e2e, staged, server_stats, server_rss) -> dict:
    stage_names = []
    for r in staged:
        stage_names += [name for name in r["stages"] if name not in stage_names]
    stages = {name: median([r["stages"].get(name, 0.0) for r in staged]) for name in stage_names}
    pure_names = sorted({name for r in staged for name in r["reconcile_runs"]})
    # One "pure reconcile" sample = every reconcile of one plan, same repeat index.
    samples = [sum(r["reconcile_runs"][name][i] for name in pure_names)
               for r in staged for i in range(min(len(r["reconcile_runs"][name]) for name in pure_names))] if pure_names else []
    reads = sum(v for k, v in stages.items() if k.startswith("read "))
    conversion = sum(v for k, v in stages.items() if k.startswith("wire JSON"))
    pure_first = sum(stages.get(name, 0.0) for name in pure_names)
    after_reads = pure_first + sum(stages.get(k, 0.0) for k in BUILD_AND_SAVE)
    return {
        "seed_seconds": server.seed_seconds,
        "e2e_plan_seconds": median([r["plan_seconds"] for r in e2e]),
        "e2e_peak_rss_mb": median([r["peak_rss_mb"] for r in e2e]),
        "e2e_cpu_seconds": median([r.get("cpu_seconds") for r in e2e]),
        "e2e_runs": [round(r["plan_seconds"], 2) for r in e2e],
        "e2e_by_kind": e2e[0]["by_kind"] if e2e else None,
        "e2e_replan_seconds": median([r.get("replan_seconds") for r in e2e]),
        "e2e_replan_peak_rss_mb": median([r.get("replan_peak_rss_mb") for r in e2e]),
        "staged_total_seconds": median([r["total_seconds"] for r in staged]),
        "staged_peak_rss_mb": median([r["peak_rss_mb"] for r in staged]),
        "stages": stages,
        "reads_seconds": reads,
        "record_conversion_seconds": conversion,
        "reconcile_pure_seconds": median(samples),
        "reconcile_pure_samples": [round(t, 3) for t in samples],
        "reconcile_pure_by_entity": {name: median([t for r in staged for t in r["reconcile_runs"][name]]) for name in pure_names},
        "reconcile_plus_build_plus_save": after_reads,
        "rss_after_mb": {k: median([r["rss_after_mb"].get(k) for r in staged]) for k in stage_names},
        "actions": staged[0]["actions"] if staged else None,
        "server_requests": {side: s["requests"] for side, s in server_stats.items()},
        "server_peak_rss_mb": server_rss,
    }


def print_summary(s: dict) -> None:
    print("\n== plan_scale (medians) ==")
    print(f"seeding (server process, not counted)      {fmt(s['seed_seconds'])}")
    ok_cpu = s["e2e_cpu_seconds"] is not None and s["e2e_cpu_seconds"] < TARGET_SECONDS
    ok_rss = s["e2e_peak_rss_mb"] is not None and s["e2e_peak_rss_mb"] < TARGET_RSS_MB
    print(f"TARGET  full plan over HTTP (qbsync plan)   qbsync's CPU {fmt(s['e2e_cpu_seconds'])}  "
          f"[{'met' if ok_cpu else 'NOT met'}: < 10 s], wall {fmt(s['e2e_plan_seconds'])} (servers included)"
          f"   peak RSS {fmt(s['e2e_peak_rss_mb'], 'MB', 0)}  [{'met' if ok_rss else 'NOT met'}: < 700 MB]")
    if s["e2e_replan_seconds"] is not None:
        print(f"        plan again, previous plan saved     {fmt(s['e2e_replan_seconds'])}   peak RSS {fmt(s['e2e_replan_peak_rss_mb'], 'MB', 0)}")
    rec = s["reconcile_pure_seconds"]
    print(f"        pure reconcile on in-memory records {fmt(rec)}  [{'met' if rec is not None and rec < TARGET_SECONDS else 'NOT met'}: < 10 s]")
    print("        per entity: " + ", ".join(f"{k} {v:.2f} s" for k, v in s["reconcile_pure_by_entity"].items()))
    print(f"        records in memory -> saved plan    {fmt(s['reconcile_plus_build_plus_save'])}  (reconcile + keep actions: failed before, decisions, sort, hash, stored form + save)")
    print(f"staged plan (timers around SyncSession.plan's steps): total {fmt(s['staged_total_seconds'])}, "
          f"peak RSS {fmt(s['staged_peak_rss_mb'], 'MB', 0)}; exclusive time per step:")
    for name, value in s["stages"].items():
        print(f"    {name:<44} {fmt(value):>9}   (RSS after {fmt(s['rss_after_mb'].get(name), 'MB', 0)})")
    print(f"reads (HTTP + JSON, both sides)            {fmt(s['reads_seconds'])}")
    print(f"wire JSON -> Records                       {fmt(s['record_conversion_seconds'])}")
    print(f"actions in the plan                        {s['actions']:,}")
    print(f"server requests (all runs)                 {s['server_requests']}   server peak RSS {fmt(s['server_peak_rss_mb'], 'MB', 0)}")


if __name__ == "__main__":
    sys.exit(main())
