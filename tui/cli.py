"""`qbsync`: the command line and composition root. Headless commands never import Textual.

Exit codes scripts can rely on: 0 success / nothing to do, 1 error or a failed action, 130 stopped
by ctrl+c. `plan --detailed-exitcode` (like Terraform's): 0 no changes, 2 changes, 3 only blocked or
held actions (nothing apply could write), 1 error.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import signal
import sys
import threading
import time
from functools import cache
from pathlib import Path
from typing import Any, Callable, Sequence

EXIT_OK, EXIT_ERROR, EXIT_CHANGES, EXIT_ONLY_HELD = 0, 1, 2, 3
SHOWN_ACTIONS = 200  # how many actions `plan`, `show` and `apply` print before a summary (`--all`: every one)
EXPLAIN_HISTORY = 5  # the audit entries `explain` shows of a record
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as shells report a ctrl+c


def _print_json(data: Any) -> None:
    print(json.dumps(data, indent=2, ensure_ascii=False, default=str))


class _Parser(argparse.ArgumentParser):
    """argparse, but a bad command line exits 1 like any other error: its usual 2 would read as
    "the plan has changes" to a script using `plan --detailed-exitcode`."""

    def error(self, message: str):
        self.print_usage(sys.stderr)
        self.exit(EXIT_ERROR, f"{self.prog}: error: {message}\n")


def _common_options() -> argparse.ArgumentParser:
    """The options every command takes (argparse's parent parser): where the rules and the state are."""
    common = _Parser(add_help=False)
    group = common.add_argument_group("common options")
    group.add_argument("--rules", default="rules.yaml", metavar="PATH", help="the rules file (default: ./rules.yaml)")
    group.add_argument("--state", default=None, metavar="PATH",
                       help="the state file (default: .qbsync/state.db next to the rules file)")
    return common


def _positive(text: str) -> int:
    """An argparse type: a whole number of at least 1 (0 or -1 would silently mean "everything")."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1 (got {value})")
    return value


PLAN_ID_HELP = ("a plan id, or a prefix of one that fits only it (default: the latest full plan; "
                "a plan made with --only is named by its id)")
EXIT_CODES = ("Exit codes: 0 success or nothing to do, 1 an error (a bad command line too) or a failed action, "
              "130 stopped by ctrl+c; "
              "`plan --detailed-exitcode`: 0 no changes, 2 changes, 3 only blocked or held actions")


def _port(text: str) -> int:
    """An argparse type: a TCP port, 0 (any free one) to 65535."""
    if not text.isdigit() or int(text) > 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port (0 to 65535)")
    return int(text)


def _size(text: str) -> tuple[int, int]:
    """An argparse type: a terminal size written COLSxROWS, at least 80x24."""
    cols, _, rows = text.lower().partition("x")
    if not (cols.isdigit() and rows.isdigit()):
        raise argparse.ArgumentTypeError(f"{text!r} is not COLSxROWS (like 120x40)")
    if int(cols) < 80 or int(rows) < 24:
        raise argparse.ArgumentTypeError(f"{text} is smaller than 80x24, the smallest size qbsync supports")
    return int(cols), int(rows)


def _day(text: str):
    """An argparse type: a calendar day written YYYY-MM-DD."""
    from datetime import date

    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a day as YYYY-MM-DD (like 2026-01-31)") from None


# What an apply records of an action (engine.apply: applied, or one of review.ERROR_OUTCOMES); named
# here, not imported, so that parsing a command line never loads the engine.
AUDIT_STATUSES = ("applied", "failed", "refused")


def _audit_statuses(text: str) -> tuple[str, ...]:
    """An argparse type: outcomes of the audit, comma-separated."""
    statuses = tuple(s.strip() for s in text.split(",") if s.strip())
    unknown = [s for s in statuses if s not in AUDIT_STATUSES]
    if unknown or not statuses:
        raise argparse.ArgumentTypeError(f"{text!r}: each is one of {', '.join(AUDIT_STATUSES)}")
    return statuses


# The words of a plan's kinds and entities, named here (not imported) so that parsing a command line
# never loads the engine; engine.review.review_filter checks them, and a test holds the two alike.
KINDS = ("link", "unlink", "create", "update", "conflict", "deactivate", "reactivate", "ambiguous", "blocked")
ENTITY_SECTIONS = ("chart_of_accounts", "classes", "locations", "taxes", "terms", "suppliers", "items", "invoices",
                   "purchase_orders", "credit_notes", "payments")
SIDES = ("quickbooks", "precoro", "none")  # --to: the side an action writes
RUNS_KEPT_DAYS, RUN_DETAILS_KEPT_DAYS = 90, 7  # engine.store's, for `runs --help` (a test holds them alike)
SHOWN_RUNS = 50  # the runs `qbsync runs` prints unless told otherwise
WHICH = ("all", "attention", "conflicts", "errors", "not-approved", "waiting", "would-hold")  # --which


def _selection_options(parser: argparse.ArgumentParser, does: str) -> None:
    """The options that choose a plan's actions as the TUI's filters and search do (all must hold)."""
    group = parser.add_argument_group("choose actions", f"{does} the actions of the plan that fit all of these "
                                                         "(as the TUI's filters and search do)")
    group.add_argument("--entity", metavar="ENTITY",
                       help=f"one of {', '.join(ENTITY_SECTIONS)} (or its singular: supplier)")
    group.add_argument("--kind", metavar="KIND", choices=KINDS, help=f"one of {', '.join(KINDS)}")
    group.add_argument("--to", dest="target", metavar="SIDE", choices=SIDES,
                       help="the side it writes: quickbooks, precoro, or none (links, unlinks and what waits for you)")
    group.add_argument("--which", default="all", metavar="WHICH", choices=WHICH,
                       help="attention (what needs you), conflicts, errors (blocked, or failed or refused by an "
                            "apply), not-approved, would-hold (what `qbsync run` would hold of this plan were it run now, "
                            "and why: what waits for you; `waiting` says the same)")
    group.add_argument("--search", default="", metavar="TEXT",
                       help="part of its name, of a record id or of its id (case does not matter)")


def _selection(args):
    """The engine's ReviewFilter of the selection options, or None when none was given."""
    from engine.review import review_filter

    if args.entity is None and args.kind is None and args.target is None and args.which == "all" and not args.search:
        return None
    return review_filter(args.entity, args.kind, args.target, args.which, args.search)


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("qbsync")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown (not installed)"


MAPPING_JSON_HELP = ('print the plan made as JSON (`plan --json`\'s form); with --from also {"mapping": {"refused", '
                     '"already_mapped", ...}}')


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="qbsync",
        description="Keep Precoro and QuickBooks Online in sync: plan, review, apply.",
        epilog=f"With no command, opens the operator's TUI. Every command takes --rules and --state. {EXIT_CODES}.",
    )
    parser.add_argument("--version", action="version", version=f"qbsync {_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    common = _common_options()

    def command(subparsers, name: str, help: str, **kwargs) -> argparse.ArgumentParser:
        kwargs.setdefault("description", help)
        return subparsers.add_parser(name, help=help, parents=[common], **kwargs)

    p = command(sub, "tui", "open the operator's TUI (the default)")
    p.add_argument("--screenshot", metavar="FILE.svg",
                   help="do not open the TUI: save what it shows at start as an SVG (for docs and bug reports)")
    p.add_argument("--plan", dest="plan_id", metavar="PLAN_ID",
                   help="with --screenshot: show this plan (an id, or a prefix of one) on the Review screen")
    p.add_argument("--size", metavar="COLSxROWS", type=_size,
                   help="with --screenshot: the terminal size (default 120x40; 80x24 is the smallest supported)")

    p = command(sub, "web", "serve the TUI to a browser (textual-serve), behind a token printed once",
                description="Each browser session runs `qbsync tui` on the same rules and state. Listens on "
                            "127.0.0.1 unless --host says otherwise: from another machine, use an SSH tunnel. "
                            "Prints the address to open, with a token made anew at each start; any request "
                            "without it is refused (403).")
    p.add_argument("--host", default="127.0.0.1", help="the address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=_port, default=8000, metavar="N", help="the port (default 8000; 0 = any free port)")
    p.add_argument("--public-url", metavar="URL",
                   help="the address browsers reach the server by, when not http://HOST:PORT (a proxy, another "
                        "tunnel port)")

    p = sub.add_parser("init", help="write a commented rules.yaml to start from (the local APIs with demo data "
                                    "unless told otherwise)",
                       description="Writes the rules file qbsync ships with, every key commented and set to its "
                                   "default, into a folder that has none. Never overwrites a file.")
    p.add_argument("--rules", default="rules.yaml", metavar="PATH", help="where to write it (default: ./rules.yaml)")
    p.add_argument("--quickbooks", choices=["local", "sandbox", "production"], default="local",
                   help="connections.quickbooks.environment (default local: the embedded API with demo data)")
    p.add_argument("--precoro", choices=["local", "com", "us"], default="local",
                   help="connections.precoro.environment: api.precoro.com or api.precoro.us (default local)")

    p = command(sub, "validate", "check the rules file; print PATH:LINE:COL: problem, one per line (exit 1 if any)")
    p.add_argument("--json", action="store_true",
                   help='print {"valid": ..., "problems": [{"path", "line", "column", "message"}]} (for editors and hooks)')

    p = command(sub, "plan", "read what changed on both sides and save a plan (changes nothing)")
    p.add_argument("--only", metavar="ENTITIES",
                   help=f"comma-separated: {', '.join(ENTITY_SECTIONS)} (default: every one rules.yaml turns on). "
                        "Such a partial plan never becomes the latest plan: apply it by its id")
    p.add_argument("--json", action="store_true", help="print the plan as one JSON object")
    p.add_argument("--all", action="store_true", help=f"print every action (default: the first {SHOWN_ACTIONS})")
    p.add_argument("--no-wait", action="store_true",
                   help="if another qbsync is planning or applying on this state file, stop at once (exit 1)")
    p.add_argument("--full", action="store_true",
                   help="read every record of both companies, not only what changed since the last plan")
    p.add_argument("--detailed-exitcode", action="store_true",
                   help="exit 0 when there is nothing to do, 2 when the plan has changes, 3 when it has only blocked "
                        "or held actions (nothing apply could write), 1 on an error")
    p.add_argument("--until-done", action="store_true",
                   help="a first read costs a Precoro call per record: at Precoro's daily cap, wait for the next day "
                        "and go on (default: stop, and the next plan goes on where this one stopped); the hourly "
                        "cap is always waited out")

    p = command(sub, "show", "show a saved plan (the latest by default)")
    p.add_argument("plan_id", nargs="?", metavar="PLAN_ID", help=PLAN_ID_HELP)
    form = p.add_mutually_exclusive_group()
    form.add_argument("--json", action="store_true", help="print the plan as one JSON object")
    form.add_argument("--csv", action="store_true",
                      help="every action chosen as CSV, a row per field it changes (a spreadsheet to review or sign off)")
    p.add_argument("--all", action="store_true", help=f"print every action (default: the first {SHOWN_ACTIONS})")
    p.add_argument("--detailed-exitcode", action="store_true", help="exit 0, 2 or 3 as `plan --detailed-exitcode`")
    _selection_options(p, "Show only")

    p = command(sub, "decide", "decide a conflict: take Precoro's or QuickBooks' value, or skip",
                epilog="Several at once: `qbsync decide precoro --entity suppliers --search acme` decides every "
                       "conflict chosen (the other actions chosen are left alone); `--all`: every conflict.")
    p.add_argument("action_id", nargs="?", metavar="ACTION_ID",
                   help="the conflict's id (`id=` in the plan), or a prefix of it; or choose conflicts below")
    p.add_argument("decision", choices=["precoro", "quickbooks", "skip"],
                   help="precoro or quickbooks: that side's values are written to the other; skip: neither")
    p.add_argument("--plan", dest="plan_id", metavar="PLAN_ID", help=PLAN_ID_HELP)
    p.add_argument("--all", action="store_true", help="every conflict of the plan")
    p.add_argument("--json", action="store_true", help='print {"plan_id": ..., "decided": [ids]} as JSON')
    _selection_options(p, "Decide")

    for name, verb, done in (("approve", "approve actions of a plan: they are applied", "Approve"),
                             ("skip", "skip actions of a plan: they are not applied (approve undoes it)", "Skip")):
        signed_off = (" Signed off in a spreadsheet: `qbsync show --csv > plan.csv`, set its approved (and, on "
                      "conflicts, decision) column, then `qbsync approve --from plan.csv`." if name == "approve" else "")
        p = command(sub, name, verb, epilog=f"Several at once: `qbsync {name} --entity items --kind link`; every "
                                            f"action of the plan: `qbsync {name} --all`. Conflicts without a side "
                                            "taken, ambiguous matches and blocked writes are left as they are, and "
                                            "said." + signed_off)
        p.add_argument("action_ids", nargs="*", metavar="ACTION_ID",
                       help="an action id, or a prefix of one that fits only it; or choose actions below")
        p.add_argument("--plan", dest="plan_id", metavar="PLAN_ID", help=PLAN_ID_HELP)
        p.add_argument("--all", action="store_true", help="every action of the plan")
        p.add_argument("--json", action="store_true",
                       help=f'print {{"plan_id": ..., "{"approved" if name == "approve" else "skipped"}": [ids], '
                            '"left": [actions]} as JSON')
        _selection_options(p, done)
        if name == "approve":
            p.add_argument("--from", dest="from_file", metavar="FILE",
                           help="a plan signed off in a spreadsheet: `qbsync show --csv` with its approved column set "
                                "to yes or no and, on conflicts, decision to precoro, quickbooks or skip (- reads "
                                "standard input); a row that cannot be taken is printed as FILE:LINE: why (exit 1), "
                                "the rest is recorded")

    p = command(sub, "apply", "apply a saved plan (the latest by default); progress goes to stderr",
                description="Show the plan, ask, then write exactly the approved actions, each once (an apply run "
                            "again finishes what one before it left, writing nothing twice). What is applied is "
                            "what the question was about: if another terminal or an unattended run approves, "
                            "skips or decides any of its actions before the yes, nothing is written. Exit codes: 0 "
                            "every approved action went through, 1 an error, a failed or refused action, or an "
                            "apply a cap stopped (it says when it can go on), 130 stopped by ctrl+c.")
    p.add_argument("plan_id", nargs="?", metavar="PLAN_ID", help=PLAN_ID_HELP)
    p.add_argument("--yes", action="store_true",
                   help="do not ask for confirmation: apply the plan as the state file holds it when the apply starts")
    p.add_argument("--json", action="store_true", help='print {"results": [...]} as JSON')
    p.add_argument("--expect-approvals", metavar="APPROVALS",
                   help="apply only if the plan would still run what it did when a script reviewed it: the "
                        "`approvals` of `show --json` or `plan --json` then (else nothing is written, exit 1)")
    p.add_argument("--retry-failed", action="store_true", help="try actions that failed in an earlier run again")
    p.add_argument("--force", action="store_true",
                   help="apply even if the plan changes more linked records than rules.yaml's safety allows")
    p.add_argument("--no-wait", action="store_true",
                   help="if another qbsync is applying to this state file, stop at once (exit 1) instead of waiting")
    p.add_argument("--until-done", action="store_true",
                   help="at Precoro's daily limit, wait for the next day and go on instead of stopping "
                        "(its hourly limit is always waited out)")

    for section, noun in (("suppliers", "supplier"), ("items", "item")):
        extra = "; list the ones not mapped" if section == "items" else ""
        p = sub.add_parser(section, help=f"map or unmap {noun}s by hand{extra}")
        ssub = p.add_subparsers(dest="subcommand", metavar="ACTION", required=True)
        m = command(ssub, "map", f"link a Precoro {noun} to a QuickBooks record, or many from a file "
                                 "(shown as a plan first)",
                    description=f"Link a Precoro {noun} to a QuickBooks record by hand, or every pair of a CSV file "
                                "(--from FILE, - for standard input): a header row names the columns precoro_id and "
                                "quickbooks_id, other columns are ignored"
                                + (" (`qbsync items unmapped --csv` writes one to fill in)" if section == "items"
                                   else "") + ". A row that cannot be mapped is named by its line and the others are "
                                "planned; a row with no quickbooks_id is left out. Exit code 1 when a row was refused.")
        m.add_argument("precoro_id", metavar="PRECORO_ID", nargs="?", help=f"the Precoro {noun}'s id")
        m.add_argument("quickbooks_id", metavar="QUICKBOOKS_ID", nargs="?",
                       help=f"the id of the QuickBooks {'vendor' if section == 'suppliers' else 'item'} to link it to")
        m.add_argument("--from", dest="from_file", metavar="FILE",
                       help="map every pair of this CSV file (columns precoro_id, quickbooks_id; - reads stdin)")
        m.add_argument("--yes", action="store_true", help="apply without asking")
        m.add_argument("--no-wait", action="store_true", help="do not wait for another qbsync that is applying")
        m.add_argument("--json", action="store_true", help=MAPPING_JSON_HELP)
        u = command(ssub, "unmap", f"unlink a Precoro {noun} (shown as a plan first)")
        u.add_argument("precoro_id", metavar="PRECORO_ID", help=f"the linked Precoro {noun}'s id")
        u.add_argument("--yes", action="store_true", help="apply without asking")
        u.add_argument("--no-wait", action="store_true", help="do not wait for another qbsync that is applying")
        u.add_argument("--json", action="store_true", help=MAPPING_JSON_HELP)
        if section == "items":
            n = command(ssub, "unmapped", "the Not-mapped list: unlinked Precoro items with QuickBooks candidates")
            n.add_argument("--limit", type=_positive, default=5, metavar="N", help="candidates per item (default 5)")
            n.add_argument("--json", action="store_true",
                           help='print {"unmapped": [...]} as JSON: each item (precoro_id, name, sku, ...) with its '
                                '`candidates`, best first, and whether the latest plan links it (`planned`)')
            n.add_argument("--csv", action="store_true",
                           help="one row per item with its best candidate and an empty quickbooks_id to fill in, "
                                "for `qbsync items map --from FILE`")
            n.add_argument("--all", action="store_true",
                           help="also the items the latest plan links (applying it maps them; --json lists them "
                                "always, with `planned`)")

    p = command(sub, "run", "one unattended cycle: plan, apply what rules.yaml's policy allows, hold the rest for review",
                description="Plan what changed (incrementally), apply what the `policy:` of rules.yaml allows without "
                            "a person, hold the rest for review (`qbsync held`). Never overlaps itself. Exit codes: 0 "
                            "nothing held, 3 something is held for review, 1 an error or a failed action.")
    p.add_argument("--only", metavar="ENTITIES", help="comma-separated entities (default: every one rules.yaml turns on)")
    p.add_argument("--every", metavar="DURATION",
                   help="run again every DURATION (30m, 1h, 90s) in the foreground until SIGTERM or ctrl+c")
    p.add_argument("--json", action="store_true", help="print each run's summary as one JSON line")
    p.add_argument("--log-format", choices=["text", "json"], default="text",
                   help="json: also log each run as one JSON line on stderr (for journald and log shippers)")
    p.add_argument("--all", metavar="DIR", dest="all_dir",
                   help="run every company of DIR (each DIR/<company>/rules.yaml, with its own state) and print "
                        "one table; exit 1 if any failed, else 3 if any holds something, else 0")
    p.add_argument("--jobs", type=_positive, default=4, metavar="N", help="with --all: companies run at a time (default 4)")
    p.add_argument("--dry-run", action="store_true",
                   help="plan, and list what the policy would apply and what it would hold, with its reasons; "
                        "nothing is applied, approved or held, and no run is recorded (before trusting a timer "
                        "with the books; --json lists every action)")

    p = sub.add_parser("payments", help="payments back (D9): re-import QuickBooks payments of a date range")
    psub = p.add_subparsers(dest="subcommand", metavar="ACTION", required=True)
    i = command(psub, "import", "record in Precoro the QuickBooks payments of a date range that are not there yet",
                description="A repair: reads the QuickBooks BillPayments dated from --since to --until (a query, so "
                            "any range, not only CDC's 30 days) and plans a Precoro payment for each line that pays a "
                            "Bill qbsync sent and is not recorded yet. A payment Precoro already holds (by its "
                            "externalId) is linked, never recorded twice. Shown as a plan first; applied with --yes "
                            "or `qbsync apply PLAN_ID`. Exit codes: 0 applied or nothing to import, 2 saved, not "
                            "applied, 1 an error or a failed action.")
    i.add_argument("--since", required=True, type=_day, metavar="YYYY-MM-DD", help="the first payment day to read")
    i.add_argument("--until", type=_day, metavar="YYYY-MM-DD", help="the last payment day to read (default: today)")
    i.add_argument("--yes", action="store_true", help="apply without asking")
    i.add_argument("--no-wait", action="store_true", help="do not wait for another qbsync that is applying")
    i.add_argument("--json", action="store_true", help="print the plan (and with --yes, the apply's report) as JSON")

    p = command(sub, "held", "list the actions unattended runs held for review (approve, decide or skip them)")
    p.add_argument("--json", action="store_true", help='print {"held": [...]} as JSON (every one)')
    p.add_argument("--all", action="store_true", help=f"list every one (else the oldest {SHOWN_ACTIONS} and a count "
                                                       "of them all by entity and kind)")

    p = command(sub, "compact", "make the state file as small as what it holds (after plans were let go); "
                                 "changes nothing it holds",
                description="sqlite reuses the space of superseded plans and deleted records but never gives "
                            "it back: this rewrites the state file without it. It waits for a plan or apply "
                            "of another qbsync to end; a 400 MB state file takes about 2 s.")
    p.add_argument("--json", action="store_true", help='print {"before_bytes": N, "after_bytes": N}')
    p.add_argument("--no-wait", action="store_true",
                   help="if another qbsync is planning or applying on this state file, stop at once (exit 1)")

    p = command(sub, "history", "list applied actions (the audit)")
    p.add_argument("--record", metavar="ID_OR_NAME",
                   help="only this record: its Precoro or QuickBooks id, or a part of its name (any case)")
    p.add_argument("--plan", dest="plan_id", metavar="PLAN_ID", help="only what applies of this plan did (an id, or a prefix)")
    p.add_argument("--status", type=_audit_statuses, default=(), metavar="STATUS[,STATUS]",
                   help=f"only entries of these outcomes: {', '.join(AUDIT_STATUSES)} (e.g. failed,refused)")
    p.add_argument("--since", type=_day, metavar="YYYY-MM-DD", help="only entries from this day on (UTC, as they are recorded)")
    p.add_argument("--until", type=_day, metavar="YYYY-MM-DD", help="only entries up to this day, that day included (UTC)")
    p.add_argument("--entity", metavar="ENTITY",
                   help=f"only entries of this entity: one of {', '.join(ENTITY_SECTIONS)}")
    p.add_argument("--kind", metavar="KIND", choices=KINDS,
                   help=f"only actions of this kind: one of {', '.join(KINDS)}")
    p.add_argument("--limit", type=_positive, default=None, metavar="N",
                   help=f"the N latest entries (default: the latest {SHOWN_ACTIONS}; with --json or --csv, every one)")
    p.add_argument("--all", action="store_true", help="print every entry")
    form = p.add_mutually_exclusive_group()
    form.add_argument("--json", action="store_true", help='print {"history": [...]}, newest first')
    form.add_argument("--csv", action="store_true",
                      help="print CSV, newest first, a row per entry and its changed fields in one column (for a spreadsheet)")

    p = command(sub, "runs", "list the unattended runs (`qbsync run`, timers, webhooks), newest first",
                epilog=f"Runs are kept {RUNS_KEPT_DAYS} days (the lists of what each held or failed, "
                       f"{RUN_DETAILS_KEPT_DAYS}); what they wrote stays in `qbsync history` for good. Exit 1 with "
                       "--failed when any run failed.")
    p.add_argument("--since", type=_day, metavar="YYYY-MM-DD", help="only runs started on this day or later (UTC)")
    p.add_argument("--failed", action="store_true", help="only the runs that failed (exit 1 when there are any)")
    p.add_argument("--limit", type=_positive, default=None, metavar="N",
                   help=f"the N latest runs (default: the latest {SHOWN_RUNS}; with --json, every one)")
    p.add_argument("--all", action="store_true", help="print every run kept")
    p.add_argument("--json", action="store_true", help='print {"runs": [...]}, newest first, each with its summary')

    p = command(sub, "explain", "why qbsync does (or does not) sync one record: both sides as last read, its link, "
                "the latest plan's actions, the policy's verdict and its history",
                epilog="From the state file alone: nothing is sent to either service, so the values are those of "
                       "the last plan's read (`--live` reads the record now). Examples: `qbsync explain suppliers "
                       "'Acme Supplies'`, `qbsync explain items quickbooks:16`.")
    p.add_argument("entity", metavar="ENTITY", choices=ENTITY_SECTIONS,
                   help=f"the record's entity: one of {', '.join(ENTITY_SECTIONS)}")
    p.add_argument("record", metavar="RECORD",
                   help="precoro:ID or quickbooks:ID, an id of either side, or the record's name (any case)")
    p.add_argument("--history", type=_positive, default=EXPLAIN_HISTORY, metavar="N",
                   help=f"the N latest audit entries of the record (default {EXPLAIN_HISTORY}; `qbsync history "
                        "--record ID` lists them all)")
    p.add_argument("--live", action="store_true",
                   help="read the record on both sides now (one request each) instead of taking it from the copy "
                        "the last plan read (suppliers and items)")
    p.add_argument("--json", action="store_true", help="print it as one JSON object")

    p = command(sub, "completion", "print what a shell sources to complete qbsync's commands, options and ids",
                epilog='bash: add `eval "$(qbsync completion bash)"` to ~/.bashrc; zsh: the same with zsh, in '
                       "~/.zshrc; fish: `qbsync completion fish > ~/.config/fish/completions/qbsync.fish`. Plan and "
                       "action ids are completed from the state file the line names (--rules, --state).")
    p.add_argument("shell", choices=("bash", "zsh", "fish"), help="the shell to print it for")

    p = command(sub, "status", "connections, counts, the latest plan, unattended runs and a read a cap cut short",
                epilog="Exit codes with --all: 0 every company is fine, 3 something waits for a person (held actions, "
                       "conflicts to decide, a QuickBooks authorization ending within a month, an unfinished apply), "
                       "1 something is wrong (a failed last run, an ended authorization, a company that cannot be "
                       "read).")
    p.add_argument("--json", action="store_true",
                   help="print it all as one JSON object (connections, entities, latest_plan, in_use, ...)")
    p.add_argument("--all", metavar="DIR", dest="all_dir",
                   help="every company of DIR (each DIR/<company>/rules.yaml, as `run --all`), one line each, from "
                        "their state files alone (no request to either service), and the month's QuickBooks reads "
                        "of them all")
    p.add_argument("--notify", action="store_true",
                   help="with --all: tell a person of the companies with a problem as runs tell theirs "
                        "(QBSYNC_NOTIFY_URL, QBSYNC_SMTP_*): when one is new, and once a day while it lasts, "
                        "remembered in DIR/.qbsync-status.json; for a check on a timer of its own, with --late")
    p.add_argument("--late", metavar="DURATION",
                   help="with --all: a company whose last run started longer ago than DURATION (90m, 2h, 1d) is a "
                        "problem (exit 1): its timer stopped, or its runs hang")

    p = command(
        sub, "doctor", "check what qbsync assumes of Precoro and QuickBooks against the connected companies",
        description="Checks each assumption qbsync rests on (docs/real-services.md) against the connected "
                    "services: reads only, and one PATCH of an externalId a supplier qbsync created already has. "
                    "Exit 0: nothing differs (some may be unchecked); 1: something differs.")
    p.add_argument("--json", action="store_true", help='print {"checks": [...], "differs": N} as JSON')

    p = sub.add_parser("connect", help="connect QuickBooks (OAuth 2.0) or Precoro (API key); secrets go to the state file only")
    csub = p.add_subparsers(dest="service", metavar="SERVICE", required=True)
    c = command(csub, "quickbooks", "authorize a QuickBooks company: open the printed URL anywhere, paste back "
                        "the URL the browser ends on (works over SSH)")
    c.add_argument("--environment", choices=["sandbox", "production", "local"],
                   help="default: connections.quickbooks.environment of the rules")
    c.add_argument("--redirect-uri", metavar="URL",
                   help="a redirect URI registered with the Intuit app (default: http://localhost:8765/callback)")
    c.add_argument("--listen", action="store_true",
                   help="catch the redirect on loopback instead of pasting it (the browser is on this machine)")
    c.add_argument("--listen-timeout", type=float, default=300.0, metavar="SECONDS", help=argparse.SUPPRESS)
    c.add_argument("--authorize-url", metavar="URL", help="the authorization endpoint, when not the environment's (tests)")
    c.add_argument("--token-url", metavar="URL", help="the token endpoint, when not the environment's (tests)")
    c = command(csub, "precoro", "store a Precoro email and API token, checked against Precoro first")
    c.add_argument("--environment", choices=["com", "us", "local"],
                   help="api.precoro.com or api.precoro.us (default: connections.precoro.environment of the rules)")

    p = sub.add_parser("disconnect", help="revoke and forget stored credentials; links and history are kept")
    dsub = p.add_subparsers(dest="service", metavar="SERVICE", required=True)
    d = command(dsub, "quickbooks", "revoke the QuickBooks grant and delete the stored tokens")
    d.add_argument("--forget-only", action="store_true", help="delete the stored tokens without revoking them")
    d = command(dsub, "precoro", "forget the stored Precoro key (disable it in Precoro too)")

    p = sub.add_parser("local", help="the local QuickBooks and Precoro APIs")
    lsub = p.add_subparsers(dest="subcommand", metavar="ACTION", required=True)
    s = lsub.add_parser("serve", help="serve both local APIs; prints one JSON line with URLs and credentials",
                        description="Serve the local QuickBooks and Precoro APIs (the real wire formats, demo or "
                                    "generated data) until SIGTERM or ctrl+c; prints one JSON line with their URLs "
                                    "and credentials, for rules.yaml's base_url and the environment.")
    s.add_argument("--data", metavar="FILE", help="sqlite file for their state (default: in memory)")
    s.add_argument("--seed", default="demo", metavar="demo|empty|scale:N",
                   help="demo data (default), nothing, or N generated suppliers and items per side")
    s.add_argument("--quickbooks-port", type=int, default=0, metavar="N", help="0 = any free port")
    s.add_argument("--precoro-port", type=int, default=0, metavar="N", help="0 = any free port")
    s.add_argument("--throttle", action="store_true", help="enforce the real rate limits (429s)")
    s.add_argument("--faults", type=float, default=0.0, metavar="RATE", help="inject 5xx and dropped connections at this rate")
    s.add_argument("--fault-seed", type=int, default=0, metavar="N", help="seed for reproducible faults")
    s.add_argument("--webhook-url", metavar="URL",
                   help="the local QuickBooks POSTs signed notifications of its writes here (as Intuit's webhooks "
                        "do), signed with QUICKBOOKS_WEBHOOK_VERIFIER from the environment")
    s.add_argument("--precoro-lists-with-details", action="store_true",
                   help="imitate a Precoro whose lists carry the details (for `qbsync doctor` to find)")

    p = sub.add_parser("webhooks", help="receive QuickBooks (and Precoro) webhooks and run on them")
    wsub = p.add_subparsers(dest="subcommand", metavar="ACTION", required=True)
    w = command(
        wsub, "serve", "serve until SIGTERM: signed notifications trigger a debounced run of the entities named",
        description="POST /quickbooks takes Intuit's notifications, verified with QUICKBOOKS_WEBHOOK_VERIFIER "
                    "(refused with 401 otherwise); POST /precoro/<QBSYNC_PRECORO_WEBHOOK_SECRET> takes Precoro's, "
                    "when that variable is set. Each burst of notifications makes one `qbsync run` of the entities "
                    "they name. Put it behind an HTTPS reverse proxy: Intuit only calls https URLs.")
    w.add_argument("--port", type=_port, required=True, metavar="N", help="the port to listen on (0 = any free port)")
    w.add_argument("--host", default="127.0.0.1", help="the address to listen on (default 127.0.0.1)")
    w.add_argument("--debounce", type=float, default=5.0, metavar="SECONDS",
                   help="run once no notification came for this long (default 5)")
    w.add_argument("--json", action="store_true", help="print each run's summary as one JSON line")
    w.add_argument("--log-format", choices=["text", "json"], default="text",
                   help="json: also log each run as one JSON line on stderr")
    return parser


def _session(args: argparse.Namespace):
    from engine.sync import SyncSession

    return SyncSession(Path(args.rules), args.state, local_apis=start_local_apis)


def start_local_apis(state_path: Path):
    """How this program provides the embedded local APIs, when the rules name them: started
    in-process on loopback, their data (demo data at first) kept beside the state file."""
    from engine.local.serve import LocalApis

    return LocalApis.start(data=Path(state_path).parent / "local-apis.db", seed="demo")


def _confirm(plan, assume_yes: bool) -> bool:
    from engine.budgets import cost_of
    from engine.review import apply_summary
    from tui.render import plural

    if assume_yes:
        return True
    summary = apply_summary(plan.actions)
    if not summary.actions:
        return True  # nothing would be written: nothing to confirm
    def side(name: str) -> str:
        ops = summary.records[name]
        return ", ".join(f"{n} {op}" for op, n in sorted(ops.items())) or "nothing"
    cost = cost_of(summary)
    prompt = (f"Apply plan {plan.id}: QuickBooks records {side('quickbooks')}; Precoro records {side('precoro')}; "
              f"{plural(summary.links, 'link')}, {plural(summary.unlinks, 'unlink')}. That is {cost.text()}. "
              "Type 'yes' to apply: ")
    if not sys.stdin.isatty():
        print("qbsync: refusing to apply without confirmation; pass --yes to apply non-interactively", file=sys.stderr)
        return False
    with _terminal() as terminal:
        print(prompt, end="", file=terminal, flush=True)
        answer = sys.stdin.readline()  # "" at ctrl+d: no answer is a no
        if answer.strip().lower() != "yes":
            print("\nqbsync: not applied (the answer was not 'yes'); nothing was written", file=terminal, flush=True)
            return False
    return True


@contextlib.contextmanager
def _terminal():
    """Where a question to the operator goes: never stdout (`qbsync apply > log` must still ask
    where it is seen); stderr when it is a terminal, else the terminal itself (`> log 2>&1`)."""
    if sys.stderr.isatty():
        yield sys.stderr
        return
    try:
        tty = open("/dev/tty", "w")
    except OSError:  # no controlling terminal (cron, a container): stderr is all there is
        yield sys.stderr
        return
    with tty:
        yield tty


class _StatusLine:
    """One line of a terminal's stderr, rewritten in place and rubbed out at the end, so that what
    follows starts on a clean line; nothing of it when stderr is not a terminal."""

    def __init__(self) -> None:
        self.tty = sys.stderr.isatty()
        self.shown = False

    def show(self, text: str) -> None:
        if self.tty:
            self.shown = True
            # \033[K clears what a longer earlier text left after this one.
            print(f"\r{text}\033[K", end="", file=sys.stderr, flush=True)

    def close(self) -> None:
        if self.shown:
            print("\r\033[K", end="", file=sys.stderr, flush=True)


class _CapCountdown:
    """While a rate cap is waited out: a countdown on the status line of a terminal, or, when
    stderr is a log, a line when the wait begins and one every ten minutes (with `json_log`, a JSON
    event line: `qbsync run --log-format json`)."""

    def __init__(self, line: _StatusLine, json_log: bool = False) -> None:
        self.line = line
        self.json_log = json_log
        self.said: dict[str, float] = {}  # what is waited for -> the seconds left when last said

    def __call__(self, what: str, seconds_left: float) -> None:
        from engine.budgets import duration

        if self.line.tty and not self.json_log:
            self.line.show(f"qbsync: {what} (in {duration(seconds_left)})")
            return
        said = self.said.get(what)
        if said is not None and said - seconds_left < 600 and seconds_left <= said:
            return
        self.said[what] = seconds_left
        _log(self.json_log, "qbsync.wait", f"{what} (in {duration(seconds_left)})", what=what,
             seconds_left=round(seconds_left))


def _log(json_log: bool, event: str, text: str, **fields: Any) -> None:
    """One line on stderr for a log: `qbsync: text`, or with --log-format json a JSON event."""
    if json_log:
        print(json.dumps({"event": event, **fields}, ensure_ascii=False), file=sys.stderr, flush=True)
    else:
        print(f"qbsync: {text}", file=sys.stderr, flush=True)


def _waiting(holder) -> None:
    """W7: said once, on stderr, when another process holds this state file's writer lock."""
    who = holder.describe() if holder else "another qbsync"
    print(f"qbsync: the state file is in use by {who}; waiting (ctrl+c to give up)", file=sys.stderr, flush=True)


class _PlanProgress(_StatusLine):
    """A plan's reading (`what: done/total`) on the status line of a terminal."""

    def __call__(self, what: str, done: int, total: int | None) -> None:
        self.show(f"{what}: {done:,}{f'/{total:,}' if total else ''}")


class _ApplyProgress:
    """An apply's progress on stderr. On a terminal: the status line (done/total, rate, time left),
    which a rate cap's countdown takes over while it is waited out. In a log: a line at every tenth
    of the way, and the cap waits as _CapCountdown says them."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.line = _StatusLine()
        self.on_cap = _CapCountdown(self.line)
        self.close = self.line.close
        self.clock = clock
        self.started = clock()
        self.tenths_said = 0

    def on_result(self, result, done: int, total: int) -> None:
        from engine.budgets import duration

        if total <= 0:
            return
        if self.line.tty:
            rate = done / max(self.clock() - self.started, 1e-6)
            left = f", about {duration((total - done) / rate)} left" if done < total and rate > 0 else ""
            self.line.show(f"applying: {done:,}/{total:,} ({done * 100 // total}%), {rate:,.1f}/s{left}")
            return
        tenths = done * 10 // total
        if tenths > self.tenths_said:
            self.tenths_said = tenths
            print(f"qbsync: applied {done:,} of {total:,} actions ({tenths * 10}%)", file=sys.stderr, flush=True)


def cmd_init(args) -> int:
    import rules
    from tui import render

    path = Path(args.rules)
    try:
        made = rules.write_starter(path, quickbooks=args.quickbooks, precoro=args.precoro)
    except FileExistsError:
        print(f"qbsync: {path} already exists; nothing was written (qbsync never rewrites a rules file: "
              "move it away first to start anew)", file=sys.stderr)
        return EXIT_ERROR
    named = render.rules_option(args.rules)
    print(f"wrote {path}{f' (a new folder, {path.parent})' if made else ''}: the rules qbsync ships with, every "
          "key commented; edit it to change what is synced.")
    if args.quickbooks == args.precoro == "local":
        print(f"Next: `qbsync{named}` opens the TUI on the local APIs with demo data (nothing to connect). For real "
              "companies, set connections: in the file, or start again with --quickbooks and --precoro.")
        return EXIT_OK
    steps = [f"qbsync connect {service}{named}" for service, environment in
             (("quickbooks", args.quickbooks), ("precoro", args.precoro)) if environment != "local"]
    print("Next: " + ", then ".join(f"`{step}`" for step in steps) + f"; `qbsync doctor{named}` checks the "
          f"companies against what qbsync assumes; `qbsync plan{named}` reads both and changes nothing.")
    return EXIT_OK


def cmd_validate(args) -> int:
    from dataclasses import asdict

    import rules

    problems: list = []  # rules.RuleProblem: each at its file:line:col
    unreadable = None  # what keeps the file itself from being read: it has no line or column
    try:
        rules.load(Path(args.rules))
    except rules.RulesError as exc:
        problems = list(exc.problems)
    except FileNotFoundError:
        unreadable = "no such file"
    except OSError as exc:
        unreadable = f"cannot be read: {exc.strerror or exc}"
    if args.json:
        found = [asdict(problem) for problem in problems]
        if unreadable:
            found.append({"path": args.rules, "line": None, "column": None, "message": unreadable})
        print(json.dumps({"valid": not found, "problems": found}))
    elif unreadable or problems:
        print(f"{args.rules}: {unreadable}" if unreadable else "\n".join(map(str, problems)))
    else:
        print(f"{args.rules}: valid")
    return EXIT_ERROR if problems or unreadable else EXIT_OK


def cmd_plan(args) -> int:
    from tui import render

    only = [s.strip() for s in args.only.split(",")] if args.only else None
    progress = None if args.json else _PlanProgress()
    countdown = _CapCountdown(progress or _StatusLine())
    try:
        with _session(args) as session:
            plan = session.plan(only=only, progress=progress, wait=not args.no_wait, on_wait=_waiting, full=args.full,
                                until_done=args.until_done, on_cap=countdown)
            if args.json:
                render.write_plan_json(plan, sys.stdout, session.actions_of(plan.id))
    finally:
        if progress is not None:
            progress.close()
    if not args.json:
        print(render.plan_text(plan, None if args.all else SHOWN_ACTIONS))
    return _plan_exit(plan, args.detailed_exitcode)


def _plan_exit(plan, detailed: bool) -> int:
    """0 on success; with --detailed-exitcode, what the plan comes to: 0 nothing to do, 2 something
    to apply or decide, 3 only blocked actions or ones held back from the apply (not approved: skipped,
    or a write that failed before, W9), which need a fix in the data or the operator's approval."""
    if not detailed or not plan.actions:
        return EXIT_OK
    if any(a.executable or a.needs_decision or a.kind == "ambiguous" for a in plan.actions):
        return EXIT_CHANGES
    return EXIT_ONLY_HELD


def cmd_show(args) -> int:
    from tui import render

    with _session(args) as session:
        selection = _selection(args)
        if selection is None:
            plan, chosen, holds = session.load_plan(args.plan_id, listed=True), None, None  # as the TUI lists it
        else:
            plan, chosen, holds = session.select(selection, args.plan_id)
        if not (args.json or args.csv or args.all):
            print(render.plan_text(plan, SHOWN_ACTIONS, chosen, holds))
            _say_age(session, plan.id)
            return _plan_exit(plan, args.detailed_exitcode)
        # Printed whole: the actions are read a page at a time as they are written, never all held at
        # once (a first plan of 100,000 records per side is 260,000 actions).
        wanted = None if chosen is None else {a.id for a in chosen}
        every = (a for a in session.actions_of(plan.id) if wanted is None or a.id in wanted)
        if args.json:
            render.write_plan_json(plan, sys.stdout, every, holds, **({} if chosen is None else {"chosen": len(chosen)}))
        elif args.csv:
            render.plan_csv(plan.id, every, sys.stdout)
        else:
            sys.stdout.writelines(line + "\n" for line in render.plan_lines(plan, None, chosen, every=every, holds=holds))
    return _plan_exit(plan, args.detailed_exitcode)


def _chosen(args, named: list[str], *, everything: bool = False):
    """The selection an approve, skip or decide acts on when no id is `named`: the selection options'
    (or every action, `everything`). Ids and a selection together, or neither, are refused."""
    from engine.errors import UsageError
    from engine.review import ReviewFilter

    selection = ReviewFilter() if everything else _selection(args)
    if named and selection is not None:
        raise UsageError("name actions by id or choose them (--entity, --kind, --to, --which, --search, --all), "
                         "not both")
    if not named and selection is None:
        raise UsageError("name actions by id, or choose them with --entity, --kind, --to, --which or --search, "
                         "or --all")
    return selection


def cmd_decide(args) -> int:
    from tui.render import decided_text

    named = [args.action_id] if args.action_id else []
    selection = _chosen(args, named, everything=args.all)
    with _session(args) as session:
        plan_id = session.plan_id_for(args.plan_id)
        if named:
            decided = [session.decide(args.action_id, args.decision, plan_id)]
        else:
            decided = session.decide_matching(selection, args.decision, plan_id)
    if args.json:
        _print_json({"plan_id": plan_id, "decision": args.decision, "decided": decided})
    elif named:
        print(f"{decided[0]}: {args.decision}")
    elif decided:
        print(f"{decided_text(args.decision, len(decided))} of plan {plan_id}.")
    else:
        print(f"No conflict of plan {plan_id} is chosen: nothing decided.")
    return EXIT_OK


def cmd_approve(args) -> int:
    from tui.render import left_waiting, plural

    if getattr(args, "from_file", None) is not None:
        return _sign_off(args)
    approved = args.command == "approve"
    done = "approved" if approved else "skipped"
    selection = _chosen(args, args.action_ids, everything=args.all)
    with _session(args) as session:
        plan_id = session.plan_id_for(args.plan_id)
        if args.action_ids:
            ids, left = session.approve(args.action_ids, approved, plan_id), []
        else:
            ids, left = session.approve_matching(selection, approved, plan_id)
    if args.json:
        _print_json({"plan_id": plan_id, done: ids, "left": [{"id": a.id, "kind": a.kind, "name": a.name,
                                                              "needs_decision": a.needs_decision} for a in left]})
    elif args.action_ids:
        for action_id in ids:
            print(f"{action_id}: {done}")
    else:
        print(f"{done.capitalize()} {plural(len(ids), 'action')} of plan {plan_id}." if ids or left else
              f"No action of plan {plan_id} is chosen: nothing {done}.")
        if left:
            print(f"Left as they are: {left_waiting(left)}.")
    return EXIT_OK


def _from_file(args) -> tuple[str, str | None]:
    """The file a `--from FILE` names, as its errors name it, and its text when it is standard input
    (`-`; else None: read from the file)."""
    if args.from_file == "-":
        return "<stdin>", sys.stdin.read()
    return args.from_file, None


def _sign_off(args) -> int:
    """`qbsync approve --from FILE`: the approvals and decisions of a plan signed off in a spreadsheet."""
    from engine.errors import UsageError
    from engine.signoff import read_signoff_file
    from tui.render import signoff_text

    if args.action_ids or args.all or _selection(args) is not None:
        raise UsageError("approve from a file (--from) or name actions (ids, --all, --entity, ...), not both")
    name, text = _from_file(args)
    signed = read_signoff_file(name, text)
    with _session(args) as session:
        done = session.sign_off(signed, args.plan_id)
    for refused in done.refused:
        print(f"{name}:{refused.line}: {refused.reason}", file=sys.stderr)
    if args.json:
        _print_json(done.to_json())
    else:
        print(signoff_text(done, name))
    return EXIT_ERROR if done.refused else EXIT_OK


def _apply_and_report(session, plan, args, said: dict | None = None) -> int:
    if not _confirm(plan, args.yes):
        return EXIT_ERROR
    return _apply(session, plan.id, args, said, confirmed=_confirmed(plan, args))


def _say_age(session, plan_id: str) -> None:
    """On stderr, beside a plan shown: that it is an open plan left for long (review.plan_age_said),
    or that a later full plan was made since (review.newer_plan_said)."""
    from engine.review import newer_plan_said, plan_age_said

    made = session.plan_made(plan_id)
    aged = plan_age_said(made)
    if aged:
        print(f"qbsync: this plan was {aged} (`qbsync plan`)", file=sys.stderr)
    latest = session.latest_plan_id()
    if latest not in (None, plan_id) and session.plan_made(latest)["created_at"] >= made["created_at"]:
        print(f"qbsync: {newer_plan_said(latest)}; `qbsync show {latest}` shows it", file=sys.stderr)


def _confirmed(plan, args) -> str | None:
    """What the operator was shown and confirmed, for the apply to hold to (W1), or what a script
    reviewed (`--expect-approvals`); `--yes` alone applies the plan as it is when the apply starts."""
    from engine.errors import UsageError
    from engine.review import approvals_digest

    expected = getattr(args, "expect_approvals", None)
    if expected is not None:
        if not re.fullmatch(r"\d+:[0-9a-f]{32}", expected):
            raise UsageError(f"--expect-approvals {expected!r} is not the `approvals` of `qbsync show --json`")
        return expected
    return None if args.yes else approvals_digest(plan.actions)


def _apply(session, plan_id: str, args, said: dict | None = None, confirmed: str | None = None) -> int:
    """Apply a plan the operator confirmed (`confirmed`: its approvals_digest as shown); print its
    report. Exit 0 when every action went through."""
    stop = threading.Event()

    def first_ctrl_c(signum, frame) -> None:
        # The first ctrl+c ends the apply between two writes (nothing half recorded); a second one
        # stops at once, which is safe too: every outcome is committed whole or not at all.
        if stop.is_set():
            raise KeyboardInterrupt
        stop.set()
        print("\nqbsync: stopping after the current write (ctrl+c again to stop at once)", file=sys.stderr, flush=True)

    previous = signal.signal(signal.SIGINT, first_ctrl_c)
    progress = _ApplyProgress()
    try:
        report = session.apply(plan_id, retry_failed=getattr(args, "retry_failed", False),
                               force=getattr(args, "force", False), wait=not getattr(args, "no_wait", False),
                               on_wait=_waiting, stop=stop, until_done=getattr(args, "until_done", False),
                               on_result=progress.on_result, on_cap=progress.on_cap, confirmed=confirmed)
    finally:
        progress.close()
        signal.signal(signal.SIGINT, previous)
    _print_report(report, args, said)
    if stop.is_set():
        return EXIT_INTERRUPTED
    return EXIT_OK if report.ok else EXIT_ERROR


def _print_report(report, args, said: dict | None = None) -> None:
    from tui import render

    if args.json:
        # Written a result at a time: an apply of 260,000 actions has as many.
        head = {**report.to_json(results=False), **(said or {})}
        render.write_json(head, "results", (result.to_json() for result in report.results), sys.stdout)
    else:
        print(render.report_text(report))


def cmd_apply(args) -> int:
    from tui import render

    with _session(args) as session:
        plan = session.load_plan(args.plan_id, listed=True)  # as `show` lists it: never read whole here
        done = session.already_applied(plan)
        if done is not None:  # running it again would only list the same outcomes again: no question
            _print_report(done, args)
            return EXIT_OK
        if not args.json:
            print(render.plan_text(plan, SHOWN_ACTIONS))
            print()
            _say_age(session, plan.id)
        plan_id, confirmed = plan.id, _confirmed(plan, args)
        if not _confirm(plan, args.yes):
            return EXIT_ERROR
        del plan  # the apply lists the plan again, under the writer lock: one listing held, not two
        return _apply(session, plan_id, args, confirmed=confirmed)


def cmd_map(args) -> int:
    from engine.errors import UsageError

    if args.subcommand == "unmapped":
        return cmd_unmapped(args)
    if args.subcommand == "map":
        if (args.from_file is not None) == (args.precoro_id is not None):
            raise UsageError("name one pair (PRECORO_ID QUICKBOOKS_ID) or a file of pairs (--from FILE), not both")
        if args.from_file is not None:
            return _map_from_file(args)
        if args.quickbooks_id is None:
            raise UsageError("name the QuickBooks record to link it to: qbsync "
                             f"{args.command} map {args.precoro_id} QUICKBOOKS_ID")
    with _session(args) as session:
        if args.subcommand == "map":
            plan = session.map_plan(args.command, args.precoro_id, args.quickbooks_id)
        else:
            plan = session.unmap_plan(args.command, args.precoro_id)
        return _show_then_apply(session, plan, args)


def _map_from_file(args) -> int:
    """`qbsync items|suppliers map --from FILE`: every row that can be mapped in one plan; each
    refused row named as FILE:LINE: why (exit 1 when there is one), the rest goes on."""
    from engine.mapping import read_mapping_file
    from tui import render

    name, text = _from_file(args)
    table = read_mapping_file(name, text)
    with _session(args) as session:
        mapped = session.map_many(args.command, table.rows)
        refused = sorted(table.refused + mapped.refused, key=lambda r: r.row.line)
        said = {"mapping": {"refused": [r.to_json() for r in refused], "already_mapped": len(mapped.already),
                            "left_empty": table.left_empty}}
        for row in refused:
            print(f"{name}:{row.row.line}: {row.reason}", file=sys.stderr)
        print(render.mapping_file_said(len(refused), len(mapped.already), table.left_empty), file=sys.stderr)
        if mapped.plan is None:
            if args.json:
                _print_json({"plan": None, **said})
            return EXIT_ERROR if refused else EXIT_OK
        code = _show_then_apply(session, mapped.plan, args, said)
        return EXIT_ERROR if refused and code in (EXIT_OK, EXIT_CHANGES) else code


def _show_then_apply(session, plan, args, said: dict | None = None) -> int:
    """A plan made for one purpose (a mapping, a repair): shown, then applied after the confirmation
    (or `--yes`); with no terminal to confirm on, saved for `qbsync apply` instead. `said`: more
    keys for the JSON printed."""
    from tui import render

    if not args.json:
        print(render.plan_text(plan, SHOWN_ACTIONS))
        print()
    if not args.yes and not _can_ask(args):
        if args.json:
            _print_json({**render.plan_json(plan), **(said or {})})
        print(f"Saved as plan {plan.id}; apply it with `qbsync apply {plan.id}` or rerun with --yes.", file=sys.stderr)
        return EXIT_CHANGES
    return _apply_and_report(session, plan, args, said)


def _can_ask(args) -> bool:
    """Whether the confirmation can be asked: a terminal, and not the one the pairs were read from."""
    return sys.stdin.isatty() and getattr(args, "from_file", None) != "-"


def cmd_payments(args) -> int:
    """`qbsync payments import`: a repair plan of a date range's payments, applied like a mapping's."""
    from datetime import date

    from tui import render

    with _session(args) as session:
        plan = session.payments_import_plan(args.since, args.until or date.today(), wait=not args.no_wait,
                                            on_wait=_waiting)
        if not plan.actions:
            if args.json:
                _print_json(render.plan_json(plan))
            else:
                print(f"Every QuickBooks payment from {args.since} to {args.until or date.today()} of a Bill qbsync "
                      "sent is recorded in Precoro already; nothing to import.")
            return EXIT_OK
        return _show_then_apply(session, plan, args)


def cmd_unmapped(args) -> int:
    from tui import render

    progress = _PlanProgress()  # reading a large catalogue and ranking its candidates takes a while
    try:
        with _session(args) as session:
            items = session.unmapped_items(limit=args.limit, progress=progress)
    finally:
        progress.close()
    if args.json:
        _print_json({"unmapped": items})
        return EXIT_OK
    # Items the latest plan links are mapped by applying it: listed apart, unless --all.
    planned = [] if args.all else [item for item in items if item["planned"]]
    if planned:  # by their flag, not by comparing items: a catalogue of 100,000 leaves out 60,000
        items = [item for item in items if not item["planned"]]
    if args.csv:
        written = render.unmapped_csv(items, sys.stdout)
        print(f"{written:,} not mapped. Fill in quickbooks_id (or copy suggested_id where it is right), then: "
              "qbsync items map --from FILE", file=sys.stderr)
        if planned:
            print(render.planned_links_said(planned), file=sys.stderr)
    else:
        print(render.unmapped_text(items, planned))
    return EXIT_OK


def cmd_run(args) -> int:
    from engine import run
    from engine.notify import Notifier

    only = [s.strip() for s in args.only.split(",")] if args.only else None
    every = None
    if args.every:
        try:
            every = run.parse_every(args.every)
        except ValueError as exc:
            print(f"qbsync: --every: {exc}", file=sys.stderr)
            return EXIT_ERROR
    stop, report, notify = threading.Event(), _run_reporter(args), Notifier.from_env(os.environ)
    if args.dry_run and (every is not None or args.all_dir):
        print("qbsync: --dry-run is one look at one company: not with --every or --all", file=sys.stderr)
        return EXIT_ERROR
    if args.all_dir:
        return _run_all(args, stop, notify) if every is None else _refuse_every_with_all()
    on_cap = _run_waits(args)
    with _graceful_stop(stop), _session(args) as session:
        if every is None:
            return report(run.run_once(session, only=only, stop=stop, on_wait=_waiting, notify=notify, on_cap=on_cap,
                                       dry_run=args.dry_run))
        run.run_every(session, every, stop, report, only=only, notify=notify, on_cap=on_cap, warn=_run_warning(args))
    return EXIT_OK  # the loop stopped on request


def _run_warning(args) -> Callable[[str], None]:
    """How a loop of runs warns (its cost to Precoro's day): on stderr, as text or a JSON event."""
    return lambda text: _log(args.log_format == "json", "qbsync.warning", f"warning: {text}", what=text)


def _run_waits(args) -> "_CapCountdown":
    """How a run tells that it waits out Precoro's hourly cap (up to an hour of silence otherwise):
    on stderr, as text or, with --log-format json, as a JSON event line."""
    return _CapCountdown(_StatusLine(), json_log=args.log_format == "json")


def _refuse_every_with_all() -> int:
    print("qbsync: --every and --all do not go together: schedule `qbsync run --all DIR` with a timer "
          "(docs/scale.md)", file=sys.stderr)
    return EXIT_ERROR


def _companies_in(directory: str) -> list[Path]:
    """The companies' rules files of `--all DIR`; none is said on stderr."""
    from engine import run

    found = run.companies(directory)
    if not found:
        print(f"qbsync: no company in {directory} (expected {directory}/<company>/rules.yaml)", file=sys.stderr)
    return found


def _run_all(args, stop: threading.Event, notify) -> int:
    from engine import run
    from engine.sync import SyncSession

    found = _companies_in(args.all_dir)
    if not found:
        return EXIT_ERROR
    with _graceful_stop(stop):
        runs = run.run_all(found, lambda rules: SyncSession(rules, local_apis=start_local_apis), jobs=args.jobs,
                           stop=stop, notify=notify, on_cap=_run_waits(args))
    for company in runs:
        if args.log_format == "json":
            print(json.dumps({"event": "qbsync.run", **company.to_json()}, ensure_ascii=False, default=str),
                  file=sys.stderr, flush=True)
    code = run.all_exit_code(runs)
    if args.json:
        print(json.dumps({"companies": [c.to_json() for c in runs], "exit_code": code,
                          "quickbooks_reads": sum(c.summary.quickbooks_reads or 0 for c in runs)},
                         ensure_ascii=False, default=str))
    else:
        print(run.all_table(runs))
        said = run.reads_said(runs)
        if said:
            print(f"\n{said}")
    return code


def _run_reporter(args):
    """How runs are told: their summary on stdout (text, or a JSON line with --json) and, with
    --log-format json, a JSON line on stderr too. Returns the run's exit code."""

    def report(summary) -> int:
        if args.json:
            print(json.dumps(summary.to_json(), ensure_ascii=False, default=str), flush=True)
        else:
            print(summary.text(), flush=True)
        if args.log_format == "json":
            print(json.dumps({"event": "qbsync.run", "rules": str(args.rules), **summary.to_json()},
                             ensure_ascii=False, default=str), file=sys.stderr, flush=True)
        return summary.exit_code

    return report


@contextlib.contextmanager
def _graceful_stop(stop: threading.Event):
    """SIGTERM (systemd stopping the service) or a first ctrl+c sets `stop`: a run in progress stops
    between two writes and a loop or server ends; a second ctrl+c stops at once."""

    def stop_gracefully(signum, frame) -> None:
        if stop.is_set() and signum == signal.SIGINT:
            raise KeyboardInterrupt
        stop.set()
        print("\nqbsync: stopping after the current write", file=sys.stderr, flush=True)

    previous = {sig: signal.signal(sig, stop_gracefully) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def cmd_webhooks(args) -> int:
    from engine import run, webhooks
    from engine.notify import Notifier

    verifier = os.environ.get("QUICKBOOKS_WEBHOOK_VERIFIER", "").strip()
    if not verifier:
        print("qbsync: set QUICKBOOKS_WEBHOOK_VERIFIER to the verifier token of the Intuit app's webhooks "
              "(developer.intuit.com > your app > Webhooks); unsigned notifications are never accepted",
              file=sys.stderr)
        return EXIT_ERROR
    stop, report, notify = threading.Event(), _run_reporter(args), Notifier.from_env(os.environ)
    on_cap = _run_waits(args)
    warn = _run_warning(args)
    with _graceful_stop(stop), _session(args) as session:
        def run_for(sections):
            wanted = [s for s in sections if session.enabled(s)] if sections is not None else None
            if wanted == []:
                return None  # only entities these rules do not sync changed
            run.reopen_if_replaced(session, warn)
            summary = run.run_once(session, only=wanted, trigger="webhook", stop=stop, notify=notify, on_cap=on_cap)
            report(summary)
            return summary

        receiver = webhooks.WebhookReceiver(
            run_for, verifier=verifier, debounce=args.debounce,
            precoro_secret=os.environ.get("QBSYNC_PRECORO_WEBHOOK_SECRET", "").strip() or None,
            realm=lambda: session.rules.connections.quickbooks.realm_id)
        server = webhooks.serve(receiver, args.host, args.port)
        listening = f"http://{args.host}:{server.server_address[1]}"
        print(json.dumps({"listening": listening}) if args.json else f"qbsync: listening on {listening}", flush=True)
        receiver.start()
        threading.Thread(target=server.serve_forever, name="qbsync-webhooks-http", daemon=True).start()
        try:
            while not stop.wait(0.5):  # signals reach the main thread between waits
                pass
        finally:
            server.shutdown()
            server.server_close()
            receiver.stop()
    return EXIT_OK


def cmd_held(args) -> int:
    from collections import Counter

    from engine.plan import short_name
    from engine.run import held_summary
    from engine.store import Store
    from engine.sync import state_path_for

    # Only the state file: listing what waits needs no connection (and no valid credentials).
    path = state_path_for(Path(args.rules), args.state)
    rows = []
    if path.exists():  # no state file yet: nothing ran, so nothing is held (and none is made here)
        store = Store(path)
        try:
            rows = held_summary(store.held())
        finally:
            store.close()
    if args.json:
        _print_json({"held": rows})
        return EXIT_OK
    if not rows:
        print("Nothing is held for review.")
        return EXIT_OK
    for row in rows if args.all else rows[:SHOWN_ACTIONS]:
        print(f"{row['action_id']}  {row['entity']} {row['kind']}: {short_name(row['name'])}: {row['reason']} "
              f"(held since {row['held_at']}, plan {row['plan_id']})")
    if not args.all and len(rows) > SHOWN_ACTIONS:
        print(f"... and {len(rows) - SHOWN_ACTIONS:,} more: `qbsync held --all` lists them all, `--json` too")
    kinds = Counter((row["entity"], row["kind"]) for row in rows).most_common()
    print(f"\n{len(rows):,} held: " + ", ".join(f"{count:,} {entity} {kind}" for (entity, kind), count in kinds) + ".")
    print("`qbsync approve ID --plan PLAN` or `qbsync decide ID precoro|quickbooks --plan PLAN` "
          "lets the next run apply one (`qbsync apply PLAN --yes` applies it at once); `qbsync skip ID --plan PLAN` "
          "drops it; `qbsync show PLAN` shows the plan; `qbsync explain ENTITY NAME` tells a record's story. "
          "(--plan: only when it is not the latest plan.) Many at once: `qbsync approve --which waiting --entity "
          "items` (or --kind, --search).")
    return EXIT_OK


def cmd_history(args) -> int:
    from engine.review import review_filter
    from tui import render

    chosen = review_filter(args.entity, args.kind)  # the words checked, an entity named by its kind
    asked = {"record": args.record, "plan": args.plan_id, "status": " or ".join(args.status),
             "since": args.since.isoformat() if args.since else None,
             "until": args.until.isoformat() if args.until else None, "entity": args.entity, "kind": args.kind}
    # As text, the latest SHOWN_ACTIONS unless told otherwise: a first sync of 100,000 records is
    # 260,000 entries, which no terminal wants at once. One more is read to know whether any are left.
    shown = None if args.json or args.csv or args.all or args.limit else SHOWN_ACTIONS
    with _session(args) as session:
        entries = session.audit(record=args.record, limit=args.limit or (shown and shown + 1), plan_id=args.plan_id,
                                statuses=args.status, since=args.since, until=args.until, entity=chosen.entity,
                                kind=chosen.kind)
        if args.json or args.csv:  # every entry asked for, written as it is read (an audit grows for years)
            if args.json:
                render.write_json({}, "history", entries, sys.stdout)
            else:
                render.history_csv(entries, sys.stdout)
            return EXIT_OK
        rows = list(entries)
        total = session.store.audit_count() if not rows else 0
    print(render.history_text(rows[:shown], {name: value for name, value in asked.items() if value}, total))
    if shown is not None and len(rows) > shown:
        print("… older entries are not shown: `qbsync history --all` prints every one, `--limit N` the N latest.")
    return EXIT_OK


def cmd_runs(args) -> int:
    from engine.run import runs_table

    shown = None if args.json or args.all or args.limit else SHOWN_RUNS
    with _session(args) as session:
        rows = session.runs(limit=args.limit or (shown and shown + 1), since=args.since, failed=args.failed)
    code = EXIT_ERROR if args.failed and rows else EXIT_OK
    if args.json:
        _print_json({"runs": rows})
        return code
    if not rows:
        print("No failed run." if args.failed else "No unattended run yet (`qbsync run`, docs/unattended.md)."
              if not args.since else f"No run since {args.since.isoformat()}.")
        return code
    print(runs_table(rows[:shown]))
    if shown is not None and len(rows) > shown:
        print("… older runs are not shown: `qbsync runs --all` prints every one kept, `--limit N` the N latest.")
    return code


def cmd_explain(args) -> int:
    from tui import render

    with _session(args) as session:
        said = session.explain(args.entity, args.record, history=args.history, live=args.live)
    if args.json:
        _print_json(said)
    else:
        print(render.explained_text(said))
    return EXIT_OK


def cmd_compact(args) -> int:
    with _session(args) as session:
        before, after = session.compact(wait=not args.no_wait, on_wait=_waiting)
        path = session.store.path
    if args.json:
        _print_json({"before_bytes": before, "after_bytes": after})
    else:
        print(f"{path}: {before / 2**20:,.1f} MB -> {after / 2**20:,.1f} MB")
    return EXIT_OK


def cmd_completion(args) -> int:
    from tui.completion import shell_code

    print(shell_code(args.shell))
    return EXIT_OK


# Free space in the state file worth a line in `status`: below it, compacting is not worth a thought.
COMPACT_WORTH = 64 * 2**20


def cmd_status(args) -> int:
    from engine.review import plan_age_said
    from tui import render

    if args.all_dir:
        return _status_all(args)
    if args.late or args.notify:
        print(f"qbsync: {'--late' if args.late else '--notify'} goes with --all", file=sys.stderr)
        return EXIT_ERROR
    with _session(args) as session:
        status = session.status()
    if args.json:
        _print_json(status)
        return EXIT_OK
    state_file = status.get("state_file") or {}
    if state_file.get("exposed_to_git"):
        print(f"warning: {state_file['exposed_to_git']}")
    conns = status.get("connections", {})
    if "error" in conns:
        print(f"connections: {conns['error']}")
    for side in ("quickbooks", "precoro"):
        info = conns.get(side)
        if info:
            print(_connection_line(side, info, conns.get("error")))
    for section, counts in status["entities"].items():
        print(f"{section}: " + ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in counts.items()))
    latest = status.get("latest_plan")
    print(f"latest plan: {latest['id']} ({latest['state']}, {latest['created_at']})" if latest else "latest plan: none")
    aged = plan_age_said(latest)
    if aged:
        print(f"  {aged} (`qbsync plan`)")
    if state_file.get("bytes") is not None:  # plans let go leave free pages: compact gives them back
        free = state_file.get("free_bytes") or 0
        print(f"state file: {render.shown_path(state_file['path'])}, {state_file['bytes'] / 2**20:,.1f} MB"
              + (f", of which {free / 2**20:,.1f} MB free (`qbsync compact` gives it back)" if free >= COMPACT_WORTH
                 else ""))
    in_use = status.get("in_use")
    if in_use:
        print(f"in use: process {in_use['pid']} on {in_use['host']} is {in_use['what']} (since {in_use['since']}); "
              "a plan or apply started now waits for it")
    undone, review_id = status.get("undone"), status.get("plan_to_review")
    if undone and review_id:
        then = [f"`qbsync apply {review_id} --retry-failed` tries the failed again"] if "failed" in undone else []
        then += ["a new plan (`qbsync plan`) takes the refused, changed since"] if "refused" in undone else []
        print(f"plan {review_id}: {', '.join(f'{n:,} {status}' for status, n in undone.items())} in its applies "
              f"(`qbsync history --plan {review_id} --status failed,refused` says why); " + "; ".join(then))
    _print_unattended(status.get("unattended"))
    _print_reads(status.get("quickbooks_reads"))
    _print_reading(status.get("reading"))
    told = {source["section"] for source in (status.get("reading") or {}).get("sources", [])}
    _print_unfinished_reads([read for read in status.get("unfinished_reads") or [] if read["section"] not in told])
    unfinished = status.get("unfinished_apply")
    if unfinished:
        print(f"last apply: plan {unfinished['plan_id']} was {unfinished['state']} (started {unfinished['started_at']} "
              f"by {unfinished['who']}); `qbsync apply {unfinished['plan_id']}` finishes it, writing nothing twice")
    return EXIT_OK


def _status_all(args) -> int:
    from engine import companies, run
    from engine.notify import Notifier
    from engine.sync import SyncSession

    try:
        late = run.parse_every(args.late) if args.late else None
    except ValueError as exc:
        print(f"qbsync: --late: {exc}", file=sys.stderr)
        return EXIT_ERROR
    notifier = Notifier.from_env(os.environ) if args.notify else None
    if args.notify and notifier is None:
        print("qbsync: --notify: set QBSYNC_NOTIFY_URL, or QBSYNC_SMTP_HOST and QBSYNC_NOTIFY_EMAIL_TO "
              "(docs/unattended.md)", file=sys.stderr)
        return EXIT_ERROR
    found = _companies_in(args.all_dir)
    if not found:
        return EXIT_ERROR
    told = companies.status_all(found, SyncSession, late)  # no local APIs started: nothing is asked of them
    if notifier is not None:
        _tell_news(notifier, told, Path(args.all_dir) / STATUS_TOLD)
    code, reads = companies.status_all_exit_code(told), companies.month_reads(told)
    if args.json:
        _print_json({"companies": [company.to_json() for company in told], "quickbooks_reads": reads, "exit_code": code})
        return code
    print(companies.companies_table(told))
    if reads:
        from engine.budgets import month_reads_said

        print("\n" + month_reads_said(reads["month"], reads["reads"], "these companies' state files"))
    return code


STATUS_TOLD = ".qbsync-status.json"  # what `status --all --notify` told last, in DIR


def _tell_news(notifier, told: list, memory: Path) -> None:
    """`status --all --notify`: the companies' problems, told as engine.companies.news_of says."""
    from datetime import datetime, timezone

    from engine import companies

    try:
        before = json.loads(memory.read_text())
    except (OSError, ValueError):
        before = None  # never told, or a file not ours to read: told afresh
    news, remember = companies.news_of(told, before, datetime.now(timezone.utc).date().isoformat())
    if news is not None:
        subject, text = news
        for problem in notifier.send(subject, text, {"companies": [c.to_json() for c in told if c.problems]},
                                     "`qbsync status --all DIR` says how every company stands."):
            print(f"qbsync: warning: {problem}", file=sys.stderr)
    try:
        memory.write_text(json.dumps(remember) + "\n")
    except OSError as exc:
        print(f"qbsync: warning: could not keep what was told in {memory} ({exc.strerror}): the next check "
              "tells it again", file=sys.stderr)


def _print_unattended(info: dict | None) -> None:
    """U1, U3: the last unattended run, the next one (while `run --every` is going) and what waits."""
    if not info:
        return
    last = info["last_run"]
    outcome = {0: "nothing held", 1: "FAILED", 3: "held some for review"}
    print(f"last run: {last['started_at']} ({last['trigger']}, {outcome.get(last['exit_code'], 'running')})"
          + (f": {last['error']}" if last.get("error") else "") if last else "last run: none")
    print(f"next run: {info['next_run']}" if info["next_run"] else "next run: not scheduled (no `qbsync run --every`)")
    print(f"held for review: {info['held']}" + (" (`qbsync held`)" if info["held"] else ""))


def _print_reads(reads: dict | None) -> None:
    """What this state file read of QuickBooks this month, against an Intuit app's monthly reads."""
    if reads is None:
        return
    from engine.budgets import month_reads_said

    print(month_reads_said(reads["month"], reads["reads"], "this state file"))


def _print_reading(reading: dict | None) -> None:
    """W11: the latest plan's reads stopped at a cap: when it goes on, and how far each list got."""
    if not reading:
        return
    from engine.budgets import PRECORO_PER_DAY, calls_left_said
    from tui import render

    when = f"; it goes on at {render.minute(reading['resume_at'])} UTC" if reading["resume_at"] else ""
    print(f"reading: stopped at {reading['cap']} ({render.minute(reading['at'])}){when}. "
          "The next plan or run reads only what is left")
    for source in reading["sources"]:
        read, total, left = source["read"], source["total"], source.get("calls_left")
        if total is None:
            print(f"  Precoro {source['section']}: " + (f"{read:,} read so far" if read else "not read yet"))
        else:
            print(f"  Precoro {source['section']}: {read:,} of {total:,} read ({read * 100 // max(total, 1)}%)"
                  + (f", about {left:,} calls left" if left is not None else ""))
    if reading.get("calls_left"):  # a first read of a large company takes days: when it can end
        until = (f": under Precoro's limits ({PRECORO_PER_DAY:,} calls a day) done at the earliest "
                 f"{render.minute(reading['done_at'])} UTC" if reading.get("done_at") else "")
        print(f"  {calls_left_said(reading)} Precoro calls left{until}")


def _print_unfinished_reads(reads: list[dict]) -> None:
    """W11: full reads of Precoro lists under way, or cut short by a killed plan (one a cap cut
    short is told of with the cap): where the next plan goes on."""
    if not reads:
        return
    from tui import render

    print("reading in full, not finished (under way, or cut short): the next plan goes on where each got to")
    for read in reads:
        print(f"  Precoro {read['section']}: at page {read['page']:,} of its list, {read['kept']:,} records kept "
              f"(begun {render.minute(read['began'])} UTC)")


def cmd_doctor(args) -> int:
    from engine.doctor import DIFFERS, differs

    with _session(args) as session:
        checks = session.doctor()
    if args.json:
        _print_json({"checks": [c.to_json() for c in checks], "differs": sum(c.result == DIFFERS for c in checks)})
    else:
        wide = max(len(f"{c.service} {c.key}") for c in checks)
        for check in checks:
            print(f"{check.result:<15} {f'{check.service} {check.key}':<{wide}}  {check.says}")
            print(f"{'':<15} {'':<{wide}}  saw: {check.saw}")
    return EXIT_ERROR if differs(checks) else EXIT_OK


def _connection_line(side: str, info: dict, shared_error: str | None) -> str:
    if info.get("reachable"):
        reach = "reachable"
    elif info.get("error") and info["error"] != shared_error:
        reach = f"NOT reachable: {info['error']}"
    else:
        reach = "not reachable" if info.get("reachable") is False else "not checked"
    if info.get("connected") is False:  # the error says what to run
        reach = info["error"] if info.get("error") and info["error"] != shared_error else "not connected"
    parts = [f"{side}: {info.get('environment')}", info.get("base_url") or "(embedded)"]
    if info.get("realm_id"):
        parts.append(f"realm {info['realm_id']}")
    if info.get("company"):
        parts.append(f"company {info['company']!r}")
    if info.get("email"):
        parts.append(f"as {info['email']}")
    line = " ".join(parts) + f", {reach}"
    if info.get("credentials"):
        line += f"\n  credentials: {info['credentials']}"
        if info.get("access_token_expires_at"):
            line += f"; access token until {info['access_token_expires_at']}"
        if info.get("refresh_token_expires_at"):
            line += f"; refresh token until {info['refresh_token_expires_at']}"
        if info.get("grant_ends_at"):  # Intuit's five years: no refresh goes past it
            line += f"; authorized until {info['grant_ends_at']}"
    if info.get("ending"):  # the QuickBooks connection ends soon (engine.connections.connection_ending_said)
        line += f"\n  warning: {info['ending']}"
    return line


def _ask(prompt: str, *, secret: bool = False) -> str:
    """One answer from the operator: hidden when secret on a terminal; a plain stdin line when
    stdin is not a terminal (scripts, tests). Never echoed back."""
    if sys.stdin.isatty():
        if secret:
            import getpass

            return getpass.getpass(prompt, stream=sys.stderr).strip()
        print(prompt, end="", file=sys.stderr, flush=True)
        return input().strip()
    print(prompt, file=sys.stderr, flush=True)
    line = sys.stdin.readline()
    if not line:
        from engine.errors import ConnectRefused

        raise ConnectRefused(f"no answer to {prompt.strip().rstrip(':')!r} (end of input); nothing was saved")
    return line.strip()


def cmd_connect(args) -> int:
    from engine import oauth_flow as flow
    from rules.model import other_side
    from engine.store import git_would_take
    from tui import render

    with _session(args) as session:
        if args.service == "precoro":
            if os.environ.get("PRECORO_TOKEN"):
                print("qbsync: using PRECORO_TOKEN from the environment", file=sys.stderr)
            email = os.environ.get("PRECORO_EMAIL", "").strip() or _ask("Precoro email (of the user who made the API key): ")
            token = os.environ.get("PRECORO_TOKEN", "").strip() or _ask("Precoro API token (input hidden): ", secret=True)
            result = flow.connect_precoro(session.rules, session.store, email, token, environment=args.environment)
            summary = (f"Connected to Precoro ({result['environment']}, {result['base_url']}) as {result['email']}: "
                       f"the key is stored in {session.state_path} (owner-only).")
        else:
            endpoints = flow.flow_endpoints(session.rules, args.environment, authorize_url=args.authorize_url,
                                            token_url=args.token_url)
            client_id, secret = flow.app_credentials(session.store, endpoints.environment, os.environ)
            if client_id:
                print(f"qbsync: QuickBooks app client id {client_id} (from the environment or the last connection)",
                      file=sys.stderr)
            client_id = client_id or _ask("QuickBooks app client id (developer.intuit.com > your app > Keys): ")
            secret = secret or _ask("QuickBooks app client secret (input hidden): ", secret=True)
            auth = flow.QuickBooksAuthorization(session.rules, session.store, endpoints, client_id, secret,
                                                redirect_uri=args.redirect_uri or flow.DEFAULT_REDIRECT_URI)
            listener = flow.RedirectListener(auth.redirect_uri) if args.listen else None
            try:
                print("Open this URL in a browser (on any machine), sign in and choose the QuickBooks company:",
                      file=sys.stderr)
                print(auth.url, flush=True)
                if listener is not None:
                    print(f"Waiting for the browser to come back to {auth.redirect_uri} ...", file=sys.stderr, flush=True)
                    pasted = listener.wait(args.listen_timeout)
                else:
                    pasted = _ask(f"Then paste the URL the browser ends on (it starts with {auth.redirect_uri}; "
                                  "that page may fail to load, which is fine):")
            finally:
                if listener is not None:
                    listener.close()
            result = auth.finish(pasted)
            company = f"company {result['company']!r}, " if result["company"] else ""
            summary = (f"Connected to QuickBooks ({result['environment']}): {company}realm {result['realm_id']}. "
                       f"Tokens are stored in {session.state_path} (owner-only); the refresh token is good until "
                       f"{result['refresh_token_expires_at']} and is renewed by every sync"
                       + (f", until the authorization ends on {result['grant_ends_at']} (Intuit's five years)."
                          if result.get("grant_ends_at") else "."))
        other = other_side(args.service)
        missing = session.not_connected(other)
    for warning in result["warnings"]:
        print(f"qbsync: warning: {warning}", file=sys.stderr)
    exposed = git_would_take(Path(session.state_path))
    if exposed:  # the moment secrets went into it
        print(f"qbsync: warning: {exposed}", file=sys.stderr)
    print(summary)
    named = render.rules_option(args.rules)
    print(f"Next: `qbsync connect {other}{named}`." if missing else
          f"Next: `qbsync doctor{named}` checks what qbsync assumes of both companies; `qbsync plan{named}` reads "
          "both and changes nothing.")
    return EXIT_OK


def cmd_disconnect(args) -> int:
    from engine import oauth_flow as flow

    with _session(args) as session:
        if args.service == "precoro":
            had = flow.disconnect_precoro(session.store)
            print("Forgot the stored Precoro key. Precoro cannot revoke keys through its API: disable it at "
                  f"{flow.PRECORO_KEY_PAGE}." if had else "No stored Precoro key; nothing to forget.")
            leftover = "PRECORO_TOKEN"
        else:
            result = flow.disconnect_quickbooks(session.store, forget_only=args.forget_only)
            if not result["stored"]:
                print("No stored QuickBooks connection; nothing to disconnect.")
            else:
                done = "revoked and deleted" if result["revoked"] else "deleted"
                print(f"QuickBooks (realm {result['realm_id']}): the tokens were {done}. Links, lists and history "
                      "are kept: reconnecting the same company picks them up again.")
                if result["note"]:
                    print(f"qbsync: note: {result['note']}", file=sys.stderr)
            leftover = "QUICKBOOKS_REFRESH_TOKEN"
    if os.environ.get(leftover):
        print(f"qbsync: note: {leftover} is still set in the environment; unset it too", file=sys.stderr)
    return EXIT_OK


def cmd_local(args) -> int:
    from engine.local.serve import serve_until_signalled

    return serve_until_signalled(
        data=args.data, seed=args.seed, quickbooks_port=args.quickbooks_port, precoro_port=args.precoro_port,
        throttle=args.throttle, faults=args.faults, fault_seed=args.fault_seed,
        webhook_url=args.webhook_url, webhook_verifier=os.environ.get("QUICKBOOKS_WEBHOOK_VERIFIER", "").strip() or None,
        precoro_lists_with_details=args.precoro_lists_with_details,
    )


def cmd_tui(args) -> int:
    if args.screenshot is None and (args.plan_id or args.size):
        raise_usage = "--plan and --size go with --screenshot FILE.svg"
        print(f"qbsync tui: error: {raise_usage}", file=sys.stderr)
        return EXIT_ERROR
    try:
        from tui.app import run_app
    except ImportError:
        print("qbsync: the TUI is not available in this build; see `qbsync --help` for the headless commands",
              file=sys.stderr)
        return EXIT_ERROR
    if args.screenshot:
        from tui.screenshot import DEFAULT_SIZE, save_screenshot

        path = save_screenshot(lambda: _session(args), Path(args.rules), Path(args.screenshot), plan_id=args.plan_id,
                               size=args.size or DEFAULT_SIZE)
        print(f"Saved {path}")
        return EXIT_OK
    from engine.sync import state_path_for

    state = state_path_for(Path(args.rules), args.state)
    return run_app(lambda: _session(args), Path(args.rules), state)  # the remembered theme from the first frame


def cmd_web(args) -> int:
    try:
        from tui import web
    except ImportError:
        print("qbsync: `qbsync web` needs textual-serve: pip install textual-serve", file=sys.stderr)
        return EXIT_ERROR
    return web.serve(Path(args.rules), Path(args.state) if args.state else None, args.host, args.port,
                     args.public_url)


COMMANDS = {
    "init": cmd_init, "validate": cmd_validate, "plan": cmd_plan, "show": cmd_show, "decide": cmd_decide, "apply": cmd_apply,
    "approve": cmd_approve, "skip": cmd_approve,
    "suppliers": cmd_map, "items": cmd_map, "history": cmd_history, "runs": cmd_runs, "explain": cmd_explain, "compact": cmd_compact, "status": cmd_status, "doctor": cmd_doctor, "local": cmd_local,
    "tui": cmd_tui, "connect": cmd_connect, "disconnect": cmd_disconnect, "run": cmd_run, "held": cmd_held, "webhooks": cmd_webhooks,
    "payments": cmd_payments, "web": cmd_web, "completion": cmd_completion,
}


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    if "_ARGCOMPLETE" in os.environ:  # a shell asking what a tab completes (tui/completion.py)
        from tui.completion import complete

        complete(parser, ENTITY_SECTIONS)
    argv = list(sys.argv[1:] if argv is None else argv)
    if not any(arg in COMMANDS for arg in argv) and not {"-h", "--help", "--version"} & set(argv):
        argv = ["tui", *argv]  # `qbsync` and `qbsync --rules X` open the TUI
    args = parser.parse_args(argv)
    if args.command not in ("tui", "web"):  # their screens say it themselves
        _say_retries()
    streams = sys.stdout, sys.stderr
    if args.command not in READERS | {"tui", "web"}:
        sys.stdout, sys.stderr = _Unbreakable(sys.stdout), _Unbreakable(sys.stderr)
    try:
        return COMMANDS[args.command](args)
    except KeyboardInterrupt:
        return _interrupted(args.command)
    except BrokenPipeError:
        # The reader went away (`qbsync history | head -1`): not an error. Later writes (and the
        # interpreter's final flush) go nowhere instead of raising again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
    except FileNotFoundError as exc:
        if getattr(args, "rules", None) and exc.filename == args.rules:
            from tui.render import no_rules_file

            print(f"qbsync: {no_rules_file(args.rules)}", file=sys.stderr)
            return EXIT_ERROR
        return _report_error(exc, _state_path(args))
    except Exception as exc:  # every failure ends as one clear line, never a traceback with secrets
        return _report_error(exc, _state_path(args))
    finally:
        sys.stdout, sys.stderr = streams


# Commands that only print: when their reader goes away (`qbsync history | head -1`) they stop.
READERS = frozenset({"show", "history", "runs", "held", "explain", "status", "completion", "validate", "doctor"})


class _Unbreakable:
    """sys.stdout or sys.stderr of a command that changes something (an apply, a plan, a run, a
    server): when its reader goes away (`qbsync apply --yes 2>&1 | head -1`, a log pipe that died),
    the work goes on to its end and its exit code says how it went; what it would have printed goes
    nowhere. Stopping at the first progress line instead left an apply half done, exiting 0."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        try:
            return self._stream.write(text)
        except BrokenPipeError:
            self._gone()
            return len(text)

    def flush(self) -> None:
        try:
            self._stream.flush()
        except BrokenPipeError:
            self._gone()

    def _gone(self) -> None:
        # The rest (and the interpreter's last flush) goes to /dev/null instead of raising again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), self._stream.fileno())

    def __getattr__(self, name: str) -> Any:  # isatty, fileno, encoding... as the stream has them
        return getattr(self._stream, name)


@cache  # once a process: main may run more than once in one
def _say_retries() -> None:
    """Each request that failed and is tried again says so on stderr: an unreachable service is
    otherwise a silent wait of several seconds before its error."""
    import logging

    from engine.clients.retry import log as retries

    class ToStderr(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            print(f"qbsync: {record.getMessage()}", file=sys.stderr, flush=True)  # stderr as it is now

    retries.addHandler(ToStderr(logging.INFO))
    retries.setLevel(logging.INFO)
    retries.propagate = False


def _interrupted(command: str) -> int:
    if command in ("apply", "suppliers", "items", "payments"):
        print("\nqbsync: interrupted; whatever was written is recorded, and running the same apply again finishes "
              "the rest without writing anything twice", file=sys.stderr)
    else:
        print(f"\nqbsync: {command} interrupted; nothing was changed", file=sys.stderr)
    return EXIT_INTERRUPTED


def _state_path(args: argparse.Namespace) -> Path | None:
    """The state file the command used, to name it in an error; None if it has none to name."""
    from engine.sync import state_path_for

    try:
        return state_path_for(Path(args.rules), args.state) if getattr(args, "rules", None) else None
    except (OSError, RuntimeError):  # a rules path that cannot be resolved (a symlink loop): it is the error
        return None


def _report_error(exc: Exception, state: Path | None = None) -> int:
    import rules
    from engine.errors import Interrupted, QbsyncError, database_file_error

    # What sqlite says of the state file itself outside a write (a read), which the Store does not turn into one.
    exc = (database_file_error(exc, state) if state else None) or exc

    if isinstance(exc, rules.RulesError):
        print(str(exc), file=sys.stderr)
        print("qbsync: the rules file is not valid; nothing was run", file=sys.stderr)
        return EXIT_ERROR
    if isinstance(exc, Interrupted):
        print(f"\nqbsync: {exc}", file=sys.stderr)
        return exc.exit_code
    if isinstance(exc, QbsyncError):
        print(f"qbsync: {exc}", file=sys.stderr)
        return exc.exit_code
    if isinstance(exc, FileNotFoundError):
        print(f"qbsync: {exc.filename}: no such file", file=sys.stderr)
        return EXIT_ERROR
    if isinstance(exc, OSError):  # a directory given as a file, a symlink loop, no permission, ...
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"qbsync: {where}{exc.strerror or exc}", file=sys.stderr)
        return EXIT_ERROR
    raise exc


if __name__ == "__main__":
    sys.exit(main())
