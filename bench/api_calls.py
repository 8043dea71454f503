"""API calls of a full first sync, against the least possible and the one-call-per-record way (DESIGN
target: "API calls of a full sync within 5% of the least possible").

    .venv/bin/python bench/api_calls.py              # N = 5,000 suppliers + 5,000 items per side, 2 runs
    .venv/bin/python bench/api_calls.py --n 5001 --runs 1

A full first sync is what `qbsync plan` then `qbsync apply --yes` do, through `SyncSession`: plan
suppliers and items (scale:N seed, fresh state), decide every conflict (take Precoro's value; a first
sync of the scale data has none), apply, then plan again (convergence check, counted apart). Every
request is counted by the local servers themselves (bench/_serve.py), per endpoint.

The least possible, per the DESIGN:
- reads: ceil(rows / 1000) QuickBooks queries per entity, ceil(rows / 200) Precoro pages per list
  read (the item custom fields list that items need is one more list read, counted at its own least);
- Precoro lists carry summaries: a record whose rules map a field only its details hold (a
  supplier's contacts, an item's custom fields: precoro_contract.DETAIL_ONLY_FIELDS) takes one more
  read the first time it is seen;
- writes: ceil(W / 30) QuickBooks batches; Precoro has no batch writes, so one call per record
  written is its least possible, and a create is two (externalId is set by PATCH, never on POST).
The one-call-per-record way reads every record alone (one GET per record per side) and writes every
record alone (W_quickbooks + W_precoro calls).
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._harness import LocalServer, median, record, session_for, workdir  # noqa: E402

TARGET_OVERHEAD = 0.05


def diff(after: dict, before: dict) -> dict:
    """Requests per side and endpoint between two stats snapshots."""
    out = {}
    for side in after:
        endpoints = {}
        for endpoint, codes in after[side]["by_endpoint"].items():
            old = before.get(side, {}).get("by_endpoint", {}).get(endpoint, {})
            delta = {code: n - old.get(code, 0) for code, n in codes.items() if n - old.get(code, 0)}
            if delta:
                endpoints[endpoint] = delta
        out[side] = endpoints
    return out


def total(endpoints: dict, match=lambda name: True) -> int:
    return sum(n for name, codes in endpoints.items() if match(name) for n in codes.values())


class ReadLog:
    """Every list read the session's clients make: what was read and how many rows came back."""

    def __init__(self, conn) -> None:
        self.reads: list[tuple[str, str, int]] = []  # (side, what, rows)
        self.phase = "plan"
        self.by_phase: dict[str, list[tuple[str, str, int]]] = {}
        query_all, list_all = conn.quickbooks.query_all, conn.precoro.list_all

        def qb(entity, where=None, **kw):
            yield from self._count("quickbooks", f"{entity} where {where}", query_all(entity, where, **kw))

        def pc(path, params=None, **kw):
            key = f"{path} {sorted((params or {}).items())} {sorted(kw.items())}"
            yield from self._count("precoro", key, list_all(path, params, **kw))

        conn.quickbooks.query_all, conn.precoro.list_all = qb, pc

    def _count(self, side: str, what: str, rows):
        count = 0
        for row in rows:
            count += 1
            yield row
        self.by_phase.setdefault(self.phase, []).append((side, what, count))

    def least(self, phase: str, side: str) -> int:
        """Each distinct list read once, in full pages (an empty list still takes one call to learn so)."""
        page = 1000 if side == "quickbooks" else 200
        distinct = {what: rows for s, what, rows in self.by_phase.get(phase, []) if s == side}
        return sum(max(1, math.ceil(rows / page)) for rows in distinct.values())

    def details(self, phase: str) -> int:
        """Records read from Precoro lists whose details hold fields the rules map: one read each."""
        from engine.clients.precoro_contract import DETAIL_ONLY_FIELDS

        distinct = {what: rows for s, what, rows in self.by_phase.get(phase, []) if s == "precoro"}
        return sum(rows for what, rows in distinct.items() if what.split()[0] in DETAIL_ONLY_FIELDS)

    def one_per_record(self, phase: str, side: str) -> int:
        distinct = {what: rows for s, what, rows in self.by_phase.get(phase, []) if s == side}
        return sum(max(1, rows) for rows in distinct.values())


def is_read(side: str, endpoint: str) -> bool:
    return endpoint in ("query", "cdc", "preferences") or endpoint.startswith("GET")


def one_run(n: int, run: int) -> dict:
    from engine.writes import build_units

    with workdir(f"calls{run}") as tmp, LocalServer(tmp / "local.db", f"scale:{n}", seeded_ago=3600) as server:
        session = session_for(server, tmp / "work")
        log = ReadLog(session.connected)  # connects first: the token exchange is not part of a sync's calls
        s0 = server.stats()
        started = time.perf_counter()
        plan = session.plan()
        plan_seconds = time.perf_counter() - started
        s1 = server.stats()
        conflicts = [a for a in plan.actions if a.kind == "conflict"]
        for action in conflicts:
            session.decide(action.id, "precoro", plan.id)
        plan = session.load_plan(plan.id)
        summary = plan.summary()
        # What apply may write: one write per remote record (units), as the applier folds actions.
        units = build_units([a for a in plan.actions if a.executable and a.kind not in ("link", "unlink")])
        w_qb = sum(1 for u in units if u.side == "quickbooks")
        w_pc = sum(1 for u in units if u.side == "precoro")
        pc_updates = sum(1 for u in units if u.side == "precoro" and u.op == "update")
        pc_creates = sum(1 for u in units if u.side == "precoro" and u.op == "create")
        log.phase = "apply"
        started = time.perf_counter()
        report = session.apply(plan.id)
        apply_seconds = time.perf_counter() - started
        s2 = server.stats()
        log.phase = "replan"
        again = session.plan()
        s3 = server.stats()
        session.close()
    plan_calls, apply_calls, replan_calls = diff(s1, s0), diff(s2, s1), diff(s3, s2)
    actual = {
        "quickbooks reads": total(plan_calls["quickbooks"]) + total(apply_calls["quickbooks"], lambda e: is_read("quickbooks", e)),
        "quickbooks writes": total(apply_calls["quickbooks"], lambda e: not is_read("quickbooks", e)),
        "precoro reads": total(plan_calls["precoro"]) + total(apply_calls["precoro"], lambda e: is_read("precoro", e)),
        "precoro writes": total(apply_calls["precoro"], lambda e: not is_read("precoro", e)),
    }
    # Apply needs a read only to check Precoro updates for staleness (W2): one list read at least.
    least = {
        "quickbooks reads": log.least("plan", "quickbooks"),
        "quickbooks writes": math.ceil(w_qb / 30),
        "precoro reads": log.least("plan", "precoro") + log.details("plan") + (1 if pc_updates else 0),
        "precoro writes": w_pc + pc_creates,
    }
    naive = {
        "quickbooks reads": log.one_per_record("plan", "quickbooks"),
        "quickbooks writes": w_qb,
        "precoro reads": log.one_per_record("plan", "precoro"),
        "precoro writes": w_pc,
    }
    table = {name: (actual[name], least[name], naive[name]) for name in actual}
    table["total"] = tuple(sum(column) for column in zip(*table.values()))
    return {
        "n": n, "plan_seconds": plan_seconds, "apply_seconds": apply_seconds,
        "plan_summary": summary, "conflicts_decided": len(conflicts), "apply_counts": report.counts(),
        "apply_stopped": report.stopped, "replan_actions": again.summary()["by_kind"],
        "writes": {"quickbooks": w_qb, "precoro": w_pc, "precoro_updates": pc_updates},
        "calls": {"plan": plan_calls, "apply": apply_calls, "replan": replan_calls},
        "list_reads": log.by_phase, "table": table,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=5000, help="suppliers and items per side (default 5,000)")
    parser.add_argument("--runs", type=int, default=2)
    args = parser.parse_args()
    runs = []
    for run in range(args.runs):
        result = one_run(args.n, run)
        runs.append(result)
        print(f"run {run + 1}: plan {result['plan_seconds']:.1f} s, apply {result['apply_seconds']:.1f} s, "
              f"apply {result['apply_counts']}, writes {result['writes']}", flush=True)
    first = runs[0]
    same = all(r["table"] == first["table"] for r in runs)
    record("api_calls", {"n": args.n, "runs": runs})
    print(f"\n== api_calls: full first sync of N = {args.n:,} suppliers + {args.n:,} items per side ==")
    print(f"plan: {first['plan_summary']['by_kind']}; conflicts decided: {first['conflicts_decided']}; "
          f"apply: {first['apply_counts']}{'; stopped: ' + first['apply_stopped'] if first['apply_stopped'] else ''}")
    print(f"re-plan after apply: {first['replan_actions']}")
    print(f"{'':<20}{'actual':>9}{'least':>9}{'over least':>12}{'one-per-record':>16}")
    for name, (actual, least, naive) in first["table"].items():
        over = (actual - least) / least if least else 0.0
        print(f"{name:<20}{actual:>9,}{least:>9,}{over:>11.1%}{naive:>16,}")
    actual, least, _ = first["table"]["total"]
    overall = (actual - least) / least
    qb_actual = first["table"]["quickbooks reads"][0] + first["table"]["quickbooks writes"][0]
    qb_least = first["table"]["quickbooks reads"][1] + first["table"]["quickbooks writes"][1]
    print(f"\nTARGET within 5% of least: total {overall:+.1%} [{'met' if overall <= TARGET_OVERHEAD else 'NOT met'}]; "
          f"QuickBooks alone {(qb_actual - qb_least) / qb_least:+.1%} "
          f"[{'met' if (qb_actual - qb_least) / qb_least <= TARGET_OVERHEAD else 'NOT met'}]")
    print("counts identical across runs" if same else "counts DIFFER across runs: see bench/results/api_calls.jsonl")
    print("\nrequests by endpoint (run 1):")
    for phase in ("plan", "apply", "replan"):
        for side, endpoints in first["calls"][phase].items():
            if endpoints:
                print(f"  {phase:<7}{side:<11}{endpoints}")
    print("\nlist reads made by the clients (side, what, rows):")
    for phase in ("plan", "apply"):
        for side, what, rows in first["list_reads"].get(phase, []):
            print(f"  {phase:<7}{side:<11}{rows:>7,} rows  {what}")
    print(f"median plan {median([r['plan_seconds'] for r in runs]):.1f} s, apply {median([r['apply_seconds'] for r in runs]):.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
