"""The pure core alone: `engine.reconcile` of a first plan's suppliers and items, CPU per entity.

A change to the core moves a first plan's CPU by a second or two, and a whole plan on these machines
varies by more than that (plan_scale.py: 35.5 against 38.1 s for the same code, one run apart). This
takes the reads, the mirror and the store out of the measure: it builds the Records once from a kept
state file's mirror (wire JSON as both APIs answered), then times `reconcile` on them, the best of
`--repeats` runs with the cyclic collector off, in a fresh interpreter per checkout, alternating.

    .venv/bin/python bench/plan_scale.py --n 100000 --runs 1 --lists-with-details --keep-state /tmp/state100k.db
    git worktree add /tmp/base HEAD~1      # a checkout older than this script: copy it into its bench/
    .venv/bin/python bench/reconcile_alone.py /tmp/state100k.db --against /tmp/base

The rules are the checkout's own rules.yaml; references (links of lists) are empty, as a first plan
finds them before its lists are applied. A floor of the core's time, not of a plan's.
"""

from __future__ import annotations

import argparse
import gc
import json
import sqlite3
import sys
import time
from pathlib import Path

SCRIPT = Path(__file__).resolve()
ROOT = SCRIPT.parent.parent
sys.path.insert(0, str(ROOT))

from bench._harness import record, run_child  # noqa: E402


def child(state_file: str, repeats: int) -> dict:
    import orjson

    import rules
    from engine.entities import ITEMS, SUPPLIERS
    from engine.reconcile import SyncState, reconcile
    from engine.references import References

    ruleset = rules.load(ROOT / "rules.yaml")
    db = sqlite3.connect(f"file:{state_file}?mode=ro", uri=True)
    out: dict = {}
    for spec in (SUPPLIERS, ITEMS):
        entity_rules, refs = ruleset.entity(spec.section), References()
        sides = []
        for side in ("precoro", "quickbooks"):
            read = spec.reader(entity_rules, side, refs)
            sides.append([read(orjson.loads(raw)) for (raw,) in db.execute(
                "select raw from mirror where side = ? and section = ? order by sort_key", [side, spec.section])])
        times = []
        for _ in range(repeats):
            gc.collect()
            gc.disable()
            started = time.process_time()
            planned = reconcile(spec, entity_rules, sides[0], sides[1], SyncState(), refs=refs)
            times.append(time.process_time() - started)
            gc.enable()
            actions = len(planned.actions)
            del planned
        out[spec.section] = {"best": min(times), "runs": times, "records": [len(sides[0]), len(sides[1])],
                             "actions": actions}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("state", help="a state file kept by plan_scale.py --keep-state")
    parser.add_argument("--repeats", type=int, default=3, help="reconcile runs per child (the best is taken)")
    parser.add_argument("--runs", type=int, default=3, help="children per checkout, alternating")
    parser.add_argument("--against", metavar="CHECKOUT", help="another checkout, run in turn with this one")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.state, args.repeats)))
        return
    state = str(Path(args.state).resolve())
    checkouts = [("this checkout", ROOT)] + ([(Path(args.against).resolve().name, Path(args.against).resolve())]
                                             if args.against else [])
    results: dict[str, list[dict]] = {name: [] for name, _ in checkouts}
    for run in range(args.runs):
        for name, checkout in reversed(checkouts):  # the other checkout first, as plan_scale.py --against
            result = run_child(checkout / "bench" / SCRIPT.name, state, "--child", "--repeats", str(args.repeats),
                               cwd=checkout)
            results[name].append(result)
            print(f"  {name} run {run + 1}: " + ", ".join(
                f"{section} {r['best']:.2f} s ({r['actions']:,} actions)" for section, r in result.items()), flush=True)
    print("\n== reconcile alone (best of each child's repeats; CPU seconds) ==")
    for name, runs in results.items():
        for section in runs[0]:
            figures = [r[section]["best"] for r in runs]
            print(f"{name:<16} {section:<10} best {min(figures):.2f} s   each run {', '.join(f'{f:.2f}' for f in figures)}")
    record("reconcile_alone", {"state": state, "repeats": args.repeats, "results": results,
                               "against": str(Path(args.against).resolve()) if args.against else None})


if __name__ == "__main__":
    main()
