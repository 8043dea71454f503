"""`qbsync`: the command line and composition root. Headless commands never import Textual.

Exit codes scripts can rely on: 0 success / nothing to do, 1 error or a failed action,
2 `plan` found changes (like `terraform plan -detailed-exitcode`).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
from pathlib import Path
from typing import Any, Sequence

EXIT_OK, EXIT_ERROR, EXIT_CHANGES = 0, 1, 2
SHOWN_ACTIONS = 200  # how many actions `plan`, `show` and `apply` print before a summary (`--all`: every one)
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as shells report a ctrl+c


def _print_json(data: Any) -> None:
    print(json.dumps(data, indent=2, ensure_ascii=False, default=str))


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--rules", default="rules.yaml", metavar="PATH", help="the rules file (default: ./rules.yaml)")
    parser.add_argument("--state", default=None, metavar="PATH",
                        help="the state file (default: .qbsync/state.db next to the rules file)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="qbsync",
        description="Keep Precoro and QuickBooks Online in sync: plan, review, apply.",
        epilog="With no command, opens the operator's TUI. Exit codes: 0 ok/nothing to do, 1 error, 2 plan has changes.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("tui", help="open the operator's TUI (the default)")
    _common(p)

    p = sub.add_parser("validate", help="check rules.yaml; print PATH:LINE:COL: message per problem")
    p.add_argument("--rules", default="rules.yaml", metavar="PATH")

    p = sub.add_parser("plan", help="read what changed on both sides and save a plan (changes nothing)")
    _common(p)
    p.add_argument("--only", metavar="ENTITIES",
                   help="comma-separated: chart_of_accounts, classes, locations, taxes, terms, suppliers, items, "
                        "invoices, purchase_orders (default: every one rules.yaml turns on)")
    p.add_argument("--json", action="store_true", help="print the plan as one JSON object")
    p.add_argument("--all", action="store_true", help=f"print every action (default: the first {SHOWN_ACTIONS})")
    p.add_argument("--no-wait", action="store_true",
                   help="if another qbsync is planning or applying on this state file, stop at once (exit 1)")
    p.add_argument("--full", action="store_true",
                   help="read every record of both companies, not only what changed since the last plan")

    p = sub.add_parser("show", help="show a saved plan (the latest by default)")
    _common(p)
    p.add_argument("plan_id", nargs="?", metavar="PLAN_ID", help="a plan id or a prefix of one (default: the latest)")
    p.add_argument("--json", action="store_true", help="print the plan as one JSON object")
    p.add_argument("--all", action="store_true", help=f"print every action (default: the first {SHOWN_ACTIONS})")

    p = sub.add_parser("decide", help="decide a conflict: take Precoro's or QuickBooks' value, or skip")
    _common(p)
    p.add_argument("action_id", metavar="ACTION_ID")
    p.add_argument("decision", choices=["precoro", "quickbooks", "skip"])
    p.add_argument("--plan", dest="plan_id", metavar="PLAN_ID", help="the plan (default: the latest)")

    for name, verb in (("approve", "approve actions of a plan: they are applied"),
                       ("skip", "skip actions of a plan: they are not applied (approve undoes it)")):
        p = sub.add_parser(name, help=verb)
        _common(p)
        p.add_argument("action_ids", nargs="+", metavar="ACTION_ID", help="an action id, or a prefix of one that fits only it")
        p.add_argument("--plan", dest="plan_id", metavar="PLAN_ID", help="the plan (default: the latest)")

    p = sub.add_parser("apply", help="apply a saved plan (the latest by default)")
    _common(p)
    p.add_argument("plan_id", nargs="?", metavar="PLAN_ID")
    p.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    p.add_argument("--json", action="store_true", help='print {"results": [...]} as JSON')
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
        m = ssub.add_parser("map", help=f"link a Precoro {noun} to a QuickBooks record (shown as a plan first)")
        _common(m)
        m.add_argument("precoro_id", metavar="PRECORO_ID")
        m.add_argument("quickbooks_id", metavar="QUICKBOOKS_ID")
        m.add_argument("--yes", action="store_true", help="apply without asking")
        m.add_argument("--no-wait", action="store_true", help="do not wait for another qbsync that is applying")
        m.add_argument("--json", action="store_true")
        u = ssub.add_parser("unmap", help=f"unlink a Precoro {noun} (shown as a plan first)")
        _common(u)
        u.add_argument("precoro_id", metavar="PRECORO_ID")
        u.add_argument("--yes", action="store_true", help="apply without asking")
        u.add_argument("--no-wait", action="store_true", help="do not wait for another qbsync that is applying")
        u.add_argument("--json", action="store_true")
        if section == "items":
            n = ssub.add_parser("unmapped", help="the Not-mapped list: unlinked Precoro items with QuickBooks candidates")
            _common(n)
            n.add_argument("--limit", type=int, default=5, help="candidates per item (default 5)")
            n.add_argument("--json", action="store_true")

    p = sub.add_parser("history", help="list applied actions (the audit)")
    _common(p)
    p.add_argument("--record", metavar="ID_OR_NAME", help="only this record (Precoro id, QuickBooks id or name)")
    p.add_argument("--limit", type=int, default=None)
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("status", help="connections, counts and the latest plan")
    _common(p)
    p.add_argument("--json", action="store_true")

    p = sub.add_parser(
        "doctor", help="check what qbsync assumes of Precoro and QuickBooks against the connected companies",
        description="Checks each assumption qbsync rests on (docs/real-services.md) against the connected "
                    "services: reads only, and one PATCH of an externalId a supplier qbsync created already has. "
                    "Exit 0: nothing differs (some may be unchecked); 1: something differs.")
    _common(p)
    p.add_argument("--json", action="store_true", help='print {"checks": [...], "differs": N} as JSON')

    p = sub.add_parser("connect", help="connect QuickBooks (OAuth 2.0) or Precoro (API key); secrets go to the state file only")
    csub = p.add_subparsers(dest="service", metavar="SERVICE", required=True)
    c = csub.add_parser("quickbooks", help="authorize a QuickBooks company: open the printed URL anywhere, paste back "
                        "the URL the browser ends on (works over SSH)")
    _common(c)
    c.add_argument("--environment", choices=["sandbox", "production", "local"],
                   help="default: connections.quickbooks.environment of the rules")
    c.add_argument("--redirect-uri", metavar="URL",
                   help="a redirect URI registered with the Intuit app (default: http://localhost:8765/callback)")
    c.add_argument("--listen", action="store_true",
                   help="catch the redirect on loopback instead of pasting it (the browser is on this machine)")
    c.add_argument("--listen-timeout", type=float, default=300.0, metavar="SECONDS", help=argparse.SUPPRESS)
    c.add_argument("--authorize-url", metavar="URL", help="the authorization endpoint, when not the environment's (tests)")
    c.add_argument("--token-url", metavar="URL", help="the token endpoint, when not the environment's (tests)")
    c = csub.add_parser("precoro", help="store a Precoro email and API token, checked against Precoro first")
    _common(c)
    c.add_argument("--environment", choices=["com", "us", "local"],
                   help="api.precoro.com or api.precoro.us (default: connections.precoro.environment of the rules)")

    p = sub.add_parser("disconnect", help="revoke and forget stored credentials; links and history are kept")
    dsub = p.add_subparsers(dest="service", metavar="SERVICE", required=True)
    d = dsub.add_parser("quickbooks", help="revoke the QuickBooks grant and delete the stored tokens")
    _common(d)
    d.add_argument("--forget-only", action="store_true", help="delete the stored tokens without revoking them")
    d = dsub.add_parser("precoro", help="forget the stored Precoro key (disable it in Precoro too)")
    _common(d)

    p = sub.add_parser("local", help="the local QuickBooks and Precoro APIs")
    lsub = p.add_subparsers(dest="subcommand", metavar="ACTION", required=True)
    s = lsub.add_parser("serve", help="serve both local APIs; prints one JSON line with URLs and credentials")
    s.add_argument("--data", metavar="FILE", help="sqlite file for their state (default: in memory)")
    s.add_argument("--seed", default="demo", metavar="demo|empty|scale:N",
                   help="demo data (default), nothing, or N generated suppliers and items per side")
    s.add_argument("--quickbooks-port", type=int, default=0, metavar="N", help="0 = any free port")
    s.add_argument("--precoro-port", type=int, default=0, metavar="N", help="0 = any free port")
    s.add_argument("--throttle", action="store_true", help="enforce the real rate limits (429s)")
    s.add_argument("--faults", type=float, default=0.0, metavar="RATE", help="inject 5xx and dropped connections at this rate")
    s.add_argument("--fault-seed", type=int, default=0, metavar="N", help="seed for reproducible faults")
    s.add_argument("--precoro-lists-with-details", action="store_true",
                   help="imitate a Precoro whose lists carry the details (for `qbsync doctor` to find)")
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
    from engine.budgets import apply_cost
    from engine.review import apply_summary

    if assume_yes:
        return True
    summary = apply_summary(plan.actions)
    if not summary.actions:
        return True  # nothing would be written: nothing to confirm
    def side(name: str) -> str:
        ops = summary.records[name]
        return ", ".join(f"{n} {op}" for op, n in sorted(ops.items())) or "nothing"
    cost = apply_cost(summary.writes("quickbooks"), summary.writes("precoro"))
    prompt = (f"Apply plan {plan.id}: QuickBooks records {side('quickbooks')}; Precoro records {side('precoro')}; "
              f"{summary.links} links, {summary.unlinks} unlinks. That is {cost.text()}. Type 'yes' to apply: ")
    if not sys.stdin.isatty():
        print("qbsync: refusing to apply without confirmation; pass --yes to apply non-interactively", file=sys.stderr)
        return False
    # The question goes to stderr, so that `qbsync apply > log` still asks where the operator sees it.
    print(prompt, end="", file=sys.stderr, flush=True)
    answer = sys.stdin.readline()  # "" at ctrl+d: no answer is a no
    if answer.strip().lower() != "yes":
        print("\nqbsync: not applied (the answer was not 'yes'); nothing was written", file=sys.stderr)
        return False
    return True


class _CapCountdown:
    """While a rate cap is waited out: a countdown on one line of a terminal's stderr, or, when
    stderr is a log, a line when the wait begins and one every ten minutes."""

    def __init__(self) -> None:
        self.said_at: float | None = None

    def __call__(self, what: str, seconds_left: float) -> None:
        from engine.budgets import duration

        if sys.stderr.isatty():
            print(f"\rqbsync: {what} (in {duration(seconds_left)})\033[K", end="", file=sys.stderr, flush=True)
        elif self.said_at is None or self.said_at - seconds_left >= 600:
            self.said_at = seconds_left
            print(f"qbsync: {what} (in {duration(seconds_left)})", file=sys.stderr, flush=True)


def _waiting(holder) -> None:
    """W7: said once, on stderr, when another process holds this state file's writer lock."""
    who = holder.describe() if holder else "another qbsync"
    print(f"qbsync: the state file is in use by {who}; waiting (ctrl+c to give up)", file=sys.stderr, flush=True)


def _progress(what: str, done: int, total: int | None) -> None:
    if sys.stderr.isatty():
        print(f"\r{what}: {done}{'/' + str(total) if total else ''}   ", end="", file=sys.stderr, flush=True)


def cmd_validate(args) -> int:
    import rules

    try:
        rules.load(Path(args.rules))
    except rules.RulesError as exc:
        print(str(exc))
        return EXIT_ERROR
    except FileNotFoundError:
        print(f"{args.rules}: no such file")
        return EXIT_ERROR
    except OSError as exc:
        print(f"{args.rules}: cannot be read: {exc.strerror or exc}")
        return EXIT_ERROR
    print(f"{args.rules}: valid")
    return EXIT_OK


def cmd_plan(args) -> int:
    from tui import render

    only = [s.strip() for s in args.only.split(",")] if args.only else None
    with _session(args) as session:
        plan = session.plan(only=only, progress=None if args.json else _progress, wait=not args.no_wait,
                            on_wait=_waiting, full=args.full)
    if sys.stderr.isatty() and not args.json:
        print("\r", end="", file=sys.stderr)
    if args.json:
        _print_json(render.plan_json(plan))
    else:
        print(render.plan_text(plan, None if args.all else SHOWN_ACTIONS))
    return EXIT_CHANGES if _has_changes(plan) else EXIT_OK


def _has_changes(plan) -> bool:
    return any(a.kind != "blocked" for a in plan.actions)


def cmd_show(args) -> int:
    from tui import render

    with _session(args) as session:
        plan = session.load_plan(args.plan_id)
    if args.json:
        _print_json(render.plan_json(plan))
    else:
        print(render.plan_text(plan, None if args.all else SHOWN_ACTIONS))
    return EXIT_CHANGES if _has_changes(plan) else EXIT_OK


def cmd_decide(args) -> int:
    with _session(args) as session:
        action_id = session.decide(args.action_id, args.decision, args.plan_id)
    print(f"{action_id}: {args.decision}")
    return EXIT_OK


def cmd_approve(args) -> int:
    approved = args.command == "approve"
    with _session(args) as session:
        for action_id in session.approve(args.action_ids, approved, args.plan_id):
            print(f"{action_id}: {'approved' if approved else 'skipped'}")
    return EXIT_OK


def _apply_and_report(session, plan, args) -> int:
    from tui import render

    if not _confirm(plan, args.yes):
        return EXIT_ERROR
    stop = threading.Event()

    def first_ctrl_c(signum, frame) -> None:
        # The first ctrl+c ends the apply between two writes (nothing half recorded); a second one
        # stops at once, which is safe too: every outcome is committed whole or not at all.
        if stop.is_set():
            raise KeyboardInterrupt
        stop.set()
        print("\nqbsync: stopping after the current write (ctrl+c again to stop at once)", file=sys.stderr, flush=True)

    previous = signal.signal(signal.SIGINT, first_ctrl_c)
    try:
        report = session.apply(plan.id, retry_failed=getattr(args, "retry_failed", False),
                               force=getattr(args, "force", False), wait=not getattr(args, "no_wait", False),
                               on_wait=_waiting, stop=stop, until_done=getattr(args, "until_done", False),
                               on_cap=_CapCountdown())
    finally:
        signal.signal(signal.SIGINT, previous)
    if args.json:
        _print_json(report.to_json())
    else:
        print(render.report_text(report))
    if stop.is_set():
        return EXIT_INTERRUPTED
    return EXIT_OK if report.ok else EXIT_ERROR


def cmd_apply(args) -> int:
    from tui import render

    with _session(args) as session:
        plan = session.load_plan(args.plan_id)
        if not args.json:
            print(render.plan_text(plan, SHOWN_ACTIONS))
            print()
        return _apply_and_report(session, plan, args)


def cmd_map(args) -> int:
    from tui import render

    if args.subcommand == "unmapped":
        return cmd_unmapped(args)
    with _session(args) as session:
        if args.subcommand == "map":
            plan = session.map_plan(args.command, args.precoro_id, args.quickbooks_id)
        else:
            plan = session.unmap_plan(args.command, args.precoro_id)
        if not args.json:
            print(render.plan_text(plan, SHOWN_ACTIONS))
            print()
        if not args.yes and not sys.stdin.isatty():
            if args.json:
                _print_json(render.plan_json(plan))
            print(f"Saved as plan {plan.id}; apply it with `qbsync apply {plan.id}` or rerun with --yes.", file=sys.stderr)
            return EXIT_CHANGES
        return _apply_and_report(session, plan, args)


def cmd_unmapped(args) -> int:
    from tui import render

    with _session(args) as session:
        items = session.unmapped_items(limit=args.limit)
    if args.json:
        _print_json({"unmapped": items})
    else:
        print(render.unmapped_text(items))
    return EXIT_OK


def cmd_history(args) -> int:
    from tui import render

    with _session(args) as session:
        rows = session.history(record=args.record, limit=args.limit)
    if args.json:
        _print_json({"history": rows})
    else:
        print(render.history_text(rows))
    return EXIT_OK


def cmd_status(args) -> int:
    with _session(args) as session:
        status = session.status()
    if args.json:
        _print_json(status)
        return EXIT_OK
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
    unfinished = status.get("unfinished_apply")
    if unfinished:
        print(f"last apply: plan {unfinished['plan_id']} was {unfinished['state']} (started {unfinished['started_at']} "
              f"by {unfinished['who']}); `qbsync apply {unfinished['plan_id']}` finishes it, writing nothing twice")
    return EXIT_OK


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
                       f"{result['refresh_token_expires_at']} and is renewed by every sync.")
    for warning in result["warnings"]:
        print(f"qbsync: warning: {warning}", file=sys.stderr)
    print(summary)
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
        precoro_lists_with_details=args.precoro_lists_with_details,
    )


def cmd_tui(args) -> int:
    try:
        from tui.app import run_app
    except ImportError:
        print("qbsync: the TUI is not available in this build; see `qbsync --help` for the headless commands",
              file=sys.stderr)
        return EXIT_ERROR
    return run_app(lambda: _session(args), Path(args.rules))


COMMANDS = {
    "validate": cmd_validate, "plan": cmd_plan, "show": cmd_show, "decide": cmd_decide, "apply": cmd_apply,
    "approve": cmd_approve, "skip": cmd_approve,
    "suppliers": cmd_map, "items": cmd_map, "history": cmd_history, "status": cmd_status, "doctor": cmd_doctor, "local": cmd_local,
    "tui": cmd_tui, "connect": cmd_connect, "disconnect": cmd_disconnect,
}


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    if not any(arg in COMMANDS for arg in argv) and not {"-h", "--help"} & set(argv):
        argv = ["tui", *argv]  # `qbsync` and `qbsync --rules X` open the TUI
    args = parser.parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except KeyboardInterrupt:
        return _interrupted(args.command)
    except BrokenPipeError:
        # The reader went away (`qbsync history | head -1`): not an error. Later writes (and the
        # interpreter's final flush) go nowhere instead of raising again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
    except Exception as exc:  # every failure ends as one clear line, never a traceback with secrets
        return _report_error(exc)


def _interrupted(command: str) -> int:
    if command in ("apply", "suppliers", "items"):
        print("\nqbsync: interrupted; whatever was written is recorded, and running the same apply again finishes "
              "the rest without writing anything twice", file=sys.stderr)
    else:
        print(f"\nqbsync: {command} interrupted; nothing was changed", file=sys.stderr)
    return EXIT_INTERRUPTED


def _report_error(exc: Exception) -> int:
    import rules
    from engine.errors import Interrupted, QbsyncError

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
