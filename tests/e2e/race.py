"""Race driver for the W7 test: two `qbsync apply` and a `qbsync plan` started at the same instant.

    python tests/e2e/race.py WORKDIR TRIALS        (credentials in the environment, as for qbsync)

Runs in its own process, which imports qbsync once and forks one child per command, so twenty
trials take seconds rather than minutes of interpreter start-ups. Each child is an ordinary qbsync
process: its own sqlite connections, locks and HTTP clients, opened after the fork. Before each
trial the driver adds new records on both sides (so there is something to write) and expires the
stored QuickBooks access token (so the three processes also race to refresh it). Prints one JSON
line: per trial, the children's exit codes and what they wrote to stderr, and the names created.
"""

from __future__ import annotations

import json
import os
import sqlite3
import sys
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from engine.clients.auth import StaticToken  # noqa: E402
from engine.clients.precoro import PrecoroClient  # noqa: E402
from engine.clients.quickbooks import QuickBooksClient  # noqa: E402
from tui import cli  # noqa: E402


def child(argv: list[str], out: Path) -> int:
    """Fork a child that runs `qbsync ARGV` with stdout and stderr in `out`.*; returns its pid."""
    pid = os.fork()
    if pid:
        return pid
    code = 99
    try:
        with open(out.with_suffix(".out"), "w") as stdout, open(out.with_suffix(".err"), "w") as stderr:
            os.dup2(stdout.fileno(), 1)
            os.dup2(stderr.fileno(), 2)
            sys.stdout = os.fdopen(1, "w", closefd=False)
            sys.stderr = os.fdopen(2, "w", closefd=False)
            try:
                code = cli.main(argv)
            except SystemExit as exit_:
                code = int(exit_.code or 0)
            except BaseException:
                traceback.print_exc()
            sys.stdout.flush()
            sys.stderr.flush()
    finally:
        os._exit(code)


def wait(pids: list[int]) -> list[int]:
    return [os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) for pid in pids]


def planned(out: Path) -> str:
    """Plan the suppliers in a child; the id of that partial plan (a bare `apply` would not take it)."""
    wait([child(["plan", "--only", "suppliers", "--json"], out)])
    return json.loads(out.with_suffix(".out").read_text())["plan_id"]


def expire_access_token(state: Path) -> None:
    if not state.exists():
        return
    with sqlite3.connect(state) as db:
        row = db.execute("select data from tokens where service = 'quickbooks'").fetchone()
        if row:
            data = json.loads(row[0])
            data["access_expires_at"] = 0
            db.execute("update tokens set data = ? where service = 'quickbooks'", [json.dumps(data)])


def main() -> None:
    workdir, trials = Path(sys.argv[1]), int(sys.argv[2])
    os.chdir(workdir)
    info = json.loads(os.environ["RACE_LOCAL_INFO"])
    qb, pc = info["quickbooks"], info["precoro"]
    quickbooks = QuickBooksClient(qb["base_url"], qb["realm_id"], StaticToken(qb["access_token"]))
    precoro = PrecoroClient(pc["base_url"], pc["email"], pc["token"])
    state = workdir / ".qbsync" / "state.db"
    logs = workdir / "logs"
    logs.mkdir(exist_ok=True)
    results = []
    for trial in range(trials):
        names = {"precoro": [f"Race {trial} supplier {i}" for i in range(3)],
                 "quickbooks": [f"Race {trial} vendor {i}" for i in range(3)]}
        for name in names["precoro"]:
            precoro.create("/suppliers", {"name": name, "currency": "USD", "currencies": ["USD"]})
        for name in names["quickbooks"]:
            quickbooks.create("Vendor", {"DisplayName": name, "CurrencyRef": {"value": "USD"}})
        plan_id = planned(logs / f"{trial}-first-plan")
        expire_access_token(state)
        # `status` takes no writer lock: it races the others for the token refresh only.
        commands = [["apply", plan_id, "--yes"], ["apply", plan_id, "--yes"], ["plan", "--only", "suppliers"], ["status"]]
        codes = wait([child(argv, logs / f"{trial}-{n}") for n, argv in enumerate(commands)])
        stderr = [(logs / f"{trial}-{n}.err").read_text() for n in range(len(commands))]
        results.append({"trial": trial, "codes": codes, "stderr": stderr, "names": names})
    # What an operator would do next: plan and apply once more, so everything is written once.
    last = wait([child(["apply", planned(logs / "last-plan"), "--yes"], logs / "last-apply")])
    print(json.dumps({"trials": results, "last_apply": last[0],
                      "last_apply_stderr": (logs / "last-apply.err").read_text()}))


if __name__ == "__main__":
    main()
