"""Items at scale: Sync Items over N items per side, and ranked suggestions for unmapped items.

    .venv/bin/python bench/items_scale.py                       # N = 100,000; 10,000 unmapped; 2 runs
    .venv/bin/python bench/items_scale.py --n 20000 --unmapped 2000 --runs 3
    .venv/bin/python bench/items_scale.py --skip-plan           # suggestions only (no servers)

1. Sync Items: `SyncSession.plan(only=["items"])` as `qbsync plan --only items` runs it, against the local
   APIs seeded `scale:N` and served over loopback HTTP (a fresh process per run: wall time and peak
   RSS), and the pure reconcile of items alone (`engine.reconcile.reconcile(ITEMS, ...)`, which runs
   `ItemReconciler`, as the Planner calls it) on the items already read (in memory).
2. Suggestions (I4): `CandidateIndex` over N QuickBooks item records in memory, then `suggest(item, 5)`
   for `--unmapped` Precoro items, on two catalogues:
   - `scale`: engine/local/demo.py's generator, as `unmapped_items` would see it on the scale seed
     (QuickBooks "Part Q060000", Precoro "Part P060000", equal SKUs): every name shares the word "part".
   - `varied`: a catalogue made here with a vocabulary of a few thousand words, names of 3-5 words;
     half the unmapped items are edited copies of a QuickBooks item (a word dropped, a typo, words
     swapped), so the ranking's recall (is that item in the top 5?) is measured too.
   Reported: index build time, ranking time in total and per item (median, p95, max), peak RSS.
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench._harness import Endpoints, LocalServer, median, peak_rss_mb, record, run_child, session_for, workdir  # noqa: E402

SCRIPT = Path(__file__).resolve()
PLAN_SCRIPT = ROOT / "bench" / "plan_scale.py"


# -- catalogues -------------------------------------------------------------------------------------


def _records(side: str, raws):
    import rules as rules_pkg
    from engine.entities import ITEMS
    from engine.references import References

    item_rules = rules_pkg.load(ROOT / "rules.yaml").items
    refs = References()
    return [ITEMS.record(item_rules, side, raw, refs) for raw in raws]


def scale_catalogue(n: int, unmapped: int):
    from engine.local.demo import scale_items

    quickbooks = _records("quickbooks", ({"Id": str(i + 1), "SyncToken": "0", "Active": True, **item}
                                         for i, item in enumerate(scale_items(n, "quickbooks"))))
    first = n * 6 // 10  # the first 60% have the same name on both sides; the rest are unmatched
    precoro_all = list(scale_items(n, "precoro"))
    chosen = precoro_all[first:first + unmapped]
    precoro = _records("precoro", ({"id": first + i + 1, "updateDate": "2026-01-01T00:00:00+00:00", **item}
                                   for i, item in enumerate(chosen)))
    return quickbooks, precoro, {}


def varied_catalogue(n: int, unmapped: int, seed: int = 7):
    rng = random.Random(seed)
    letters = "bcdfghjklmnprstvz"
    vowels = "aeiou"

    def word() -> str:
        return "".join(rng.choice(letters) + rng.choice(vowels) for _ in range(rng.randint(2, 4)))

    vocabulary = sorted({word() for _ in range(6000)})
    weights = [1 / (rank + 1) ** 0.8 for rank in range(len(vocabulary))]  # a few common words, a long tail

    def name() -> str:
        words = rng.choices(vocabulary, weights, k=rng.randint(3, 5))
        return " ".join(words).capitalize() + f" {rng.randint(1, 500)}{rng.choice(['mm', 'ml', 'g', 'pcs', ''])}"

    qb_raw = []
    for i in range(n):
        qb_raw.append({"Id": str(i + 1), "SyncToken": "0", "Active": True, "Name": name()[:100], "Sku": f"V-{i:06d}",
                       "Type": "NonInventory", "PurchaseCost": round(rng.uniform(1, 500), 2)})
    pc_raw, source = [], {}
    for j in range(unmapped):
        if j % 2 == 0:  # an edited copy of a QuickBooks item
            original = rng.choice(qb_raw)
            words = original["Name"].split()
            edit = j % 6
            if edit == 0 and len(words) > 2:
                words.pop(rng.randrange(len(words)))
            elif edit == 2:
                k = rng.randrange(len(words))
                w = words[k]
                if len(w) > 3:
                    p = rng.randrange(1, len(w) - 1)
                    words[k] = w[:p] + w[p + 1] + w[p] + w[p + 2:]
            else:
                rng.shuffle(words)
            sku = original["Sku"] if j % 4 == 0 else f"PC-{j}"
            price = round(original["PurchaseCost"] * rng.uniform(0.9, 1.1), 2)
            pc_raw.append({"id": j + 1, "name": " ".join(words), "sku": sku, "price": price})
            source[str(j + 1)] = original["Id"]
        else:
            pc_raw.append({"id": j + 1, "name": name(), "sku": f"PC-{j}", "price": round(rng.uniform(1, 500), 2)})
    return _records("quickbooks", qb_raw), _records("precoro", [{**r, "updateDate": "2026-01-01T00:00:00+00:00"} for r in pc_raw]), source


def child_suggest(catalogue: str, n: int, unmapped: int) -> dict:
    from engine.suggest import CandidateIndex

    started = time.perf_counter()
    quickbooks, precoro, source = (scale_catalogue if catalogue == "scale" else varied_catalogue)(n, unmapped)
    built_records = time.perf_counter() - started
    gc.collect()
    started = time.perf_counter()
    index = CandidateIndex(q for q in quickbooks if q.active)
    index_seconds = time.perf_counter() - started
    per_item, top1, top5 = [], 0, 0
    started, cpu_started = time.perf_counter(), time.process_time()
    for p in precoro:
        t = time.perf_counter()
        suggestions = index.suggest(p, 5)
        per_item.append(time.perf_counter() - t)
        wanted = source.get(p.id)
        if wanted:
            ids = [s.quickbooks_id for s in suggestions]
            top1 += bool(ids) and ids[0] == wanted
            top5 += wanted in ids
    rank_seconds = time.perf_counter() - started
    rank_cpu_seconds = time.process_time() - cpu_started  # the wall time less the other jobs' share
    per_item.sort()
    return {
        "catalogue": catalogue, "candidates": len(index.records), "unmapped": len(precoro),
        "records_seconds": built_records, "index_seconds": index_seconds, "rank_seconds": rank_seconds,
        "rank_cpu_seconds": rank_cpu_seconds,
        "per_item_ms": {"median": statistics.median(per_item) * 1000, "p95": per_item[int(len(per_item) * 0.95)] * 1000,
                        "max": per_item[-1] * 1000},
        "recall": {"derived": len(source), "top1": top1, "top5": top5} if source else None,
        "peak_rss_mb": peak_rss_mb(),
    }


def child_reconcile(server_json: str, directory: Path, repeats: int) -> dict:
    """Items read as `plan --only items` reads them (the Planner's fetch, its stored references), then
    the pure reconcile of items alone, as `Planner.entity` calls it, `repeats` times."""
    from engine.entities import ITEMS
    from engine.reconcile import reconcile

    session = session_for(Endpoints(json.loads(server_json)["info"]), directory)
    planner = session.planner()
    item_rules = session.rules.items
    precoro, quickbooks = planner.fetch(ITEMS, item_rules, ITEMS.precoro)
    planner.refs.names[ITEMS.section] = {q.id: str(q.values.get("name") or "") for q in quickbooks}
    state = session.store.sync_state(ITEMS.section, session.realm_id)
    runs, actions = [], 0
    for _ in range(repeats):
        gc.collect()
        started = time.perf_counter()
        result = reconcile(ITEMS, item_rules, precoro, quickbooks, state, refs=planner.refs,
                           precoro_collection=ITEMS.precoro)
        runs.append(time.perf_counter() - started)
        actions = len(result.actions)
    session.close()
    return {"reconcile_runs": runs, "actions": actions, "peak_rss_mb": peak_rss_mb()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=100_000, help="items per side / candidates (default 100,000)")
    parser.add_argument("--unmapped", type=int, default=10_000, help="Precoro items to rank (default 10,000)")
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--catalogues", default="scale,varied")
    parser.add_argument("--skip-plan", action="store_true")
    parser.add_argument("--skip-suggest", action="store_true")
    parser.add_argument("--child", choices=["suggest", "reconcile"], help=argparse.SUPPRESS)
    parser.add_argument("--catalogue", help=argparse.SUPPRESS)
    parser.add_argument("--server", help=argparse.SUPPRESS)
    parser.add_argument("--dir", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child == "suggest":
        print(json.dumps(child_suggest(args.catalogue, args.n, args.unmapped)))
        return 0
    if args.child == "reconcile":
        print(json.dumps(child_reconcile(args.server, Path(args.dir), 3)))
        return 0

    plan_runs, reconcile_runs, seed_seconds = [], [], None
    if not args.skip_plan:
        with workdir("items") as tmp, LocalServer(tmp / "local.db", f"scale:{args.n}") as server:
            seed_seconds = server.seed_seconds
            print(f"items_scale: seeded scale:{args.n} in {seed_seconds:.1f} s", flush=True)
            hello = json.dumps({"info": server.info})
            for run in range(args.runs):
                result = run_child(PLAN_SCRIPT, "--child", "e2e", "--only", "items", "--server", hello,
                                   "--dir", str(tmp / f"plan{run}"))
                plan_runs.append(result)
                print(f"  plan --only items run {run + 1}: {result['plan_seconds']:.1f} s, peak RSS "
                      f"{result['peak_rss_mb']:.0f} MB, {result['by_kind']}", flush=True)
                result = run_child(SCRIPT, "--child", "reconcile", "--server", hello, "--dir", str(tmp / f"rec{run}"))
                reconcile_runs.append(result)
                print(f"  reconcile items alone run {run + 1}: {[round(t, 2) for t in result['reconcile_runs']]} s",
                      flush=True)

    suggest_runs = []
    catalogues = [] if args.skip_suggest else [c for c in args.catalogues.split(",") if c]
    for catalogue in catalogues:
        for run in range(args.runs):
            result = run_child(SCRIPT, "--child", "suggest", "--catalogue", catalogue, "--n", str(args.n),
                               "--unmapped", str(args.unmapped), timeout=3600)
            suggest_runs.append(result)
            print(f"  suggestions [{catalogue}] run {run + 1}: index {result['index_seconds']:.1f} s, rank "
                  f"{result['rank_seconds']:.1f} s ({result['rank_cpu_seconds']:.1f} s CPU) for {result['unmapped']:,} items "
                  f"(median {result['per_item_ms']['median']:.1f} ms, p95 {result['per_item_ms']['p95']:.1f} ms, "
                  f"max {result['per_item_ms']['max']:.1f} ms), "
                  f"recall {result['recall']}, peak RSS {result['peak_rss_mb']:.0f} MB", flush=True)

    record("items_scale", {"n": args.n, "unmapped": args.unmapped, "seed_seconds": seed_seconds,
                           "plan": plan_runs, "reconcile": reconcile_runs, "suggest": suggest_runs})
    print(f"\n== items_scale (medians): N = {args.n:,} items per side ==")
    if plan_runs:
        print(f"plan --only items over HTTP     {median([r['plan_seconds'] for r in plan_runs]):.1f} s, peak RSS "
              f"{median([r['peak_rss_mb'] for r in plan_runs]):.0f} MB, actions {plan_runs[0]['by_kind']}")
        print(f"reconcile items alone           {median([t for r in reconcile_runs for t in r['reconcile_runs']]):.2f} s")
    for catalogue in catalogues:
        mine = [r for r in suggest_runs if r["catalogue"] == catalogue]
        print(f"suggestions [{catalogue:<6}] index {median([r['index_seconds'] for r in mine]):.1f} s over "
              f"{mine[0]['candidates']:,} candidates; rank {mine[0]['unmapped']:,} items "
              f"{median([r['rank_seconds'] for r in mine]):.1f} s, {median([r['rank_cpu_seconds'] for r in mine]):.1f} s CPU "
              f"(per item median {median([r['per_item_ms']['median'] for r in mine]):.1f} ms, "
              f"p95 {median([r['per_item_ms']['p95'] for r in mine]):.1f} ms, max {median([r['per_item_ms']['max'] for r in mine]):.1f} ms); "
              f"peak RSS {median([r['peak_rss_mb'] for r in mine]):.0f} MB"
              + (f"; derived items found top-1 {mine[0]['recall']['top1']}/{mine[0]['recall']['derived']}, "
                 f"top-5 {mine[0]['recall']['top5']}/{mine[0]['recall']['derived']}" if mine[0]["recall"] else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
