"""A first sync through the CLI, as an operator runs it: `qbsync plan`, `approve --all`, `apply --yes`,
each command in its own process, against N suppliers + N items per side of the local APIs over
loopback HTTP. Per command: qbsync's CPU (user + system, the servers apart), wall time, peak RSS, and
the requests the servers answered.

No target of DESIGN.md names the apply, but an apply that held more than the plan it carries out
would be the first thing to fail on a small machine: it reads a plan's details (changes, requests)
as it comes to each action and lets them go once the outcome is recorded.

    .venv/bin/python bench/first_sync.py --n 20000
    git worktree add /tmp/base HEAD~3
    .venv/bin/python bench/first_sync.py --n 20000 --against /tmp/base   # the two in turn, alike seeded

Each run seeds a server of its own: an apply changes what it holds.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._harness import LocalServer, fmt, median, record, workdir  # noqa: E402

STEPS = (("plan", ["plan"]), ("approve", ["approve", "--all"]), ("apply", ["apply", "--yes"]))


# `qbsync`, run by this interpreter (with its dependencies) on the checkout its PYTHONPATH names.
QBSYNC = [sys.executable, "-c", "import sys; from tui.cli import main; sys.exit(main())"]


def run_once(n: int, checkout: Path, lists_with_details: bool) -> dict:
    with workdir("first-sync") as directory, LocalServer(directory / "data.db", f"scale:{n}", seeded_ago=7200,
                                                         precoro_lists_with_details=lists_with_details) as server:
        work = directory / "work"
        work.mkdir()
        (work / "rules.yaml").write_text(server.rules_yaml())
        env = {**os.environ, **server.env}
        steps = {}
        for name, args in STEPS:
            before = server.stats()
            steps[name] = measured = step(QBSYNC + args, checkout, work, env)
            after = server.stats()
            measured["requests"] = {side: after[side]["requests"] - before[side]["requests"] for side in after}
        return steps


def step(command: list[str], checkout: Path, cwd: Path, env: dict[str, str]) -> dict:
    """One command in a process of its own: its CPU, wall time and peak RSS, from wait4 (its own,
    not the servers'). Reaped here, so Popen never waits for it."""
    started = time.perf_counter()
    with open(os.devnull, "w") as quiet:
        process = subprocess.Popen(command, cwd=cwd, env={**env, "PYTHONPATH": str(checkout)},
                                   stdout=subprocess.PIPE, stderr=quiet, text=True)
        out = process.stdout.read()
        _, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)  # reaped here: Popen must not wait again
    if process.returncode not in (0, 1):  # 1: some actions were left (blocked writes, refusals)
        raise RuntimeError(f"{' '.join(command[3:])} exited {process.returncode}")
    return {"cpu_s": usage.ru_utime + usage.ru_stime, "wall_s": time.perf_counter() - started,
            "peak_rss_mb": usage.ru_maxrss / 1024, "last_line": out.strip().splitlines()[-1] if out.strip() else ""}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20_000, help="suppliers and items per side (default 20,000)")
    parser.add_argument("--runs", type=int, default=1, help="runs of each checkout, alternating; medians are reported")
    parser.add_argument("--against", type=Path, help="another checkout of qbsync, run in turn with this one")
    parser.add_argument("--lists-with-details", action="store_true",
                        help="the local Precoro's lists answer whole records (no detail read per record)")
    args = parser.parse_args()

    checkouts = {"this": ROOT} | ({"against": args.against.resolve()} if args.against else {})
    runs: dict[str, list[dict]] = {name: [] for name in checkouts}
    print(f"first_sync: N = {args.n:,} suppliers + {args.n:,} items per side, {args.runs} run(s) each", flush=True)
    for number in range(args.runs):
        for name, checkout in checkouts.items():
            result = run_once(args.n, checkout, args.lists_with_details)
            runs[name].append(result)
            print(f"  run {number + 1} ({name}): " + "; ".join(
                f"{step_name} {fmt(r['cpu_s'])} CPU, {fmt(r['peak_rss_mb'], 'MB', 0)}, requests {r['requests']}"
                for step_name, r in result.items()),
                flush=True)
    print("\n== first_sync (medians) ==")
    summary = {}
    for name, results in runs.items():
        summary[name] = {}
        for step_name, _ in STEPS:
            values = {key: median([r[step_name][key] for r in results]) for key in ("cpu_s", "wall_s", "peak_rss_mb")}
            summary[name][step_name] = values
            print(f"{name:8} {step_name:8} qbsync's CPU {fmt(values['cpu_s']):>9}  wall {fmt(values['wall_s']):>9}  "
                  f"peak RSS {fmt(values['peak_rss_mb'], 'MB', 0):>7}  ({results[-1][step_name]['last_line'][:90]})")
    record("first_sync", {"n": args.n, "runs": args.runs, "against": str(args.against) if args.against else None,
                          "lists_with_details": args.lists_with_details, "summary": summary, "raw": runs})


if __name__ == "__main__":
    main()
