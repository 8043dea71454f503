"""A first plan killed outright, then run again: what the second one asks of Precoro (W11).

    .venv/bin/python bench/plan_killed.py                 # N = 5,000 suppliers + 5,000 items, killed at 60%
    .venv/bin/python bench/plan_killed.py --n 20000 --at 0.3
    .venv/bin/python bench/plan_killed.py --list items --at 0.3   # killed once the suppliers were read to their end

Precoro's real lists are summaries, so a first plan reads each record's details, one call each: at
Precoro's caps (1,500 calls an hour, 3,000 a day) a first read of a large company takes days, and a
plan killed on the way (a dropped SSH session, a reboot) must not spend that budget again. Here
`qbsync plan` runs in a process of its own against the local APIs (whose lists are summaries, as the
real ones), and is killed (SIGKILL: nothing of it runs after) once it has read the details of the
share `--at` of the suppliers (or, `--list items`, of the items: the suppliers were then read to
their end); then the same command runs to its end. Counted on the server's side: calls to each list
(its pages, or a read of its changes and a count) and detail reads, and the details read twice
(both plans' detail reads, less one per record). The company's records are dated a day back, as a
real company's are older than the plan: a read of changes returns only what changed meanwhile.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench._harness import LocalServer, record, workdir  # noqa: E402

LISTS = ("GET /suppliers", "GET /items")
DETAILS = ("GET /suppliers/{id}", "GET /items/{id}")
LIST_NAMES = ("suppliers", "items")


def calls(stats: dict, endpoints: tuple[str, ...]) -> int:
    by_endpoint = stats["precoro"]["by_endpoint"]
    return sum(sum(by_endpoint.get(endpoint, {}).values()) for endpoint in endpoints)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=5000, help="suppliers and items per side (default 5,000)")
    parser.add_argument("--at", type=float, default=0.6,
                        help="kill the first plan once it has read this share of the list's details (default 0.6)")
    parser.add_argument("--list", choices=["suppliers", "items"], default="suppliers",
                        help="the list whose details --at counts (default suppliers)")
    args = parser.parse_args()
    watched = DETAILS[LIST_NAMES.index(args.list)]

    with workdir("plan-killed") as tmp, LocalServer(tmp / "local.db", f"scale:{args.n}", seeded_ago=86400) as server:
        (tmp / "rules.yaml").write_text(server.rules_yaml())
        command = [sys.executable, "-m", "tui.cli", "plan", "--only", "suppliers,items",
                   "--rules", str(tmp / "rules.yaml"), "--state", str(tmp / "state.db")]
        env = {**os.environ, **server.env}
        server.reset()
        planning = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wanted = int(args.n * args.at)
        while planning.poll() is None and calls(server.stats(), (watched,)) < wanted:
            time.sleep(0.05)
        planning.kill()
        planning.wait()
        first = server.stats()
        server.reset()
        started = time.perf_counter()
        again = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
        seconds = time.perf_counter() - started
        second = server.stats()
        if again.returncode not in (0, 2):
            print(again.stderr[-2000:], file=sys.stderr)
            return 1

    result = {
        "n": args.n, "at": args.at, "list": args.list,
        "killed": {"list_pages": calls(first, LISTS), "details": calls(first, DETAILS)},
        "again": {"list_pages": calls(second, LISTS), "details": calls(second, DETAILS), "seconds": round(seconds, 2),
                  "by_list": {name: calls(second, (endpoint,)) for name, endpoint in zip(LIST_NAMES, LISTS)}},
    }
    result["details_read_twice"] = result["killed"]["details"] + result["again"]["details"] - 2 * args.n
    least_pages = 2 * -(-args.n // 200)
    record("plan_killed", result)
    by_list = ", ".join(f"{name} {count}" for name, count in result["again"]["by_list"].items())
    print(f"== plan_killed: N = {args.n:,} suppliers + {args.n:,} items, killed after {result['killed']['details']:,} "
          f"detail reads ({result['killed']['list_pages']} list calls) ==")
    print(f"the plan run again: {result['again']['list_pages']} list calls ({by_list}; a read from the start: "
          f"{least_pages}), {result['again']['details']:,} detail reads, {seconds:.1f} s")
    print(f"details read twice: {result['details_read_twice']:,} (at most a page, 200, per list being read)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
