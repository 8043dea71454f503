"""Mapping many items by hand from a file (`qbsync items map --from FILE`, `SyncSession.map_many`):
CPU, wall time and the calls it costs, after a first plan of the scale seed.

Every Precoro item the first plan could not match is paired with a QuickBooks item no plan links
(as an operator's filled-in export would pair them), and the pairs are planned at once. The records
come from the mirror that plan left, so the mapping should cost no detail read of Precoro (1,500
calls an hour) and no QuickBooks read; the servers count what they answer.

    .venv/bin/python bench/map_many.py               # N = 5,000 per side: about 2,000 pairs
    .venv/bin/python bench/map_many.py --n 20000     # about 8,000 pairs
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._harness import LocalServer, fmt, record, session_for, workdir  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=5000, help="suppliers and items per side (default 5,000)")
    args = parser.parse_args()

    from engine.mapping import MappingRow

    with workdir("map-many") as directory, \
            LocalServer(directory / "data.db", f"scale:{args.n}", seeded_ago=7200) as server:
        session = session_for(server, directory / "work")
        plan = session.plan()
        items = [a for a in plan.actions if a.entity == "item"]
        linked = {a.quickbooks_id for a in items if a.kind == "link"}
        unmatched = [a.precoro_id for a in items if a.kind != "link" and a.precoro_id]
        free = sorted(q for q in session.store.mirror_raws(session.realm_id, "quickbooks", "items") if q not in linked)
        rows = [MappingRow(line, p, q) for line, (p, q) in enumerate(zip(unmatched, free), start=2)]
        server.reset()
        wall, cpu = time.perf_counter(), time.process_time()
        mapped = session.map_many("items", rows)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        calls = {side: seen["by_endpoint"] for side, seen in server.stats().items()}
        session.close()
    assert mapped.plan is not None and not mapped.refused, mapped.refused[:3]
    links = sum(a.kind == "link" for a in mapped.plan.actions)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"map_many: {len(rows):,} pairs -> {links:,} links, {len(mapped.plan.actions):,} actions; "
          f"CPU {fmt(cpu)}, wall {fmt(wall)}, peak RSS {peak:.0f} MB; calls while mapping: {calls}")
    record("map_many", {"n": args.n, "pairs": len(rows), "actions": len(mapped.plan.actions), "cpu_seconds": cpu,
                        "wall_seconds": wall, "calls": calls})


if __name__ == "__main__":
    main()
