"""U1, U3: one unattended cycle: plan what changed, apply what the policy allows, hold the rest.

`run_once` is what `qbsync run` (cron, a systemd timer), `qbsync run --every` and the webhook
receiver call. It never overlaps itself: a second run on the same state file while one is going
does nothing and says so. Held actions persist in the state file (U3): held again unchanged they
are the same question, not a new one; an operator's answer (approve, decide or skip, in the CLI
or the TUI) is carried out by the next run, or at once by `qbsync apply`.
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Iterable

from .budgets import QUICKBOOKS_READS_A_MONTH, duration, month_reads_warning, polling_cost
from .entities import BY_SECTION
from .errors import Interrupted, ReadsCutShort
from .locks import Holder, LockBusy
from .plan import short_name
from .policy import fingerprint, judge

EXIT_OK, EXIT_ERROR, EXIT_HELD = 0, 1, 3
RESULTS = {EXIT_OK: "ok", EXIT_HELD: "held", EXIT_ERROR: "FAILED"}  # a run's exit code, in a table
SHOWN_HELD = 20  # held actions a summary names (the rest are counted)


@dataclass
class RunSummary:
    """What one run did, for its caller, the state file (`qbsync status`), the log and notifications."""

    started_at: str
    trigger: str = "manual"  # manual | schedule | webhook
    run_id: int | None = None  # its row in the state file
    finished_at: str = ""
    plan_id: str | None = None
    entities: list[str] = field(default_factory=list)  # what it planned
    unchanged: bool = False  # nothing changed since the previous plan
    counts: dict[str, int] = field(default_factory=dict)  # apply outcomes: applied, failed, skipped, ...
    held: list[dict[str, Any]] = field(default_factory=list)  # every action waiting for a person
    new_held: int = 0  # of which held by this run for the first time
    failures: list[dict[str, Any]] = field(default_factory=list)  # actions that failed or were refused
    error: str | None = None  # why the run failed, if it did
    skipped: str | None = None  # why the run did nothing (another run was going)
    stopped: str | None = None  # why the run stopped early (a stop request, a rate cap)
    notify_problems: list[str] = field(default_factory=list)  # a notification that could not go (U5)
    precoro_calls: int | None = None  # what the run cost of Precoro's day (None: not connected)
    quickbooks_reads: int | None = None  # and of the Intuit app's monthly reads (CorePlus calls)
    quickbooks_reads_month: dict[str, Any] | None = None  # this state file's reads this month: {"month", "reads"}
    warnings: list[str] = field(default_factory=list)  # soon a problem: the QuickBooks connection ending
    new_warnings: int = 0  # of which not said by the run before (a day's count changes it): told once a day
    # The day a person was told of this run's error: a run failing as the one before it did, on the
    # day that was told, is not told again (an ended connection, runs every 15 minutes, all night).
    error_told_on: str | None = None
    error_told_before: bool = False
    recovered_from: str | None = None  # the error the runs before this one failed with: working again is news
    # `qbsync run --dry-run`: what the policy would apply (`would_apply`) and hold (`held`), with nothing
    # applied, approved, held or recorded as a run.
    dry_run: bool = False
    would_apply: list[dict[str, Any]] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        if self.error or self.failures:
            return EXIT_ERROR
        return EXIT_HELD if self.held else EXIT_OK

    @property
    def worth_telling(self) -> bool:
        """U5: a person should hear of it: it failed (an error not told today already), held something
        new, warns of something new, or works again after failing."""
        return (bool(self.failures) or (bool(self.error) and not self.error_told_before) or self.new_held > 0
                or self.new_warnings > 0 or self.recovered_from is not None)

    def text(self) -> str:
        """One line, then the held and failed actions (at most SHOWN_HELD of each)."""
        if self.skipped:
            return f"run skipped: {self.skipped}"
        if self.dry_run and not self.error and self.plan_id is not None:
            return self._dry_run_text()
        if self.error:
            head = f"run failed: {self.error}"
        elif self.stopped and self.plan_id is None:
            head = f"run stopped before its plan: {self.stopped}"
        else:
            done = ", ".join(f"{n} {status}" for status, n in sorted(self.counts.items())) or "nothing to apply"
            head = (f"run {'stopped' if self.stopped else 'done'}: plan {self.plan_id}"
                    f"{' (nothing changed)' if self.unchanged else ''}: {done}; {len(self.held)} held for review"
                    f" ({self.new_held} new)" + (f"; stopped: {self.stopped}" if self.stopped else ""))
        lines = [head] + [f"  warning: {warning}" for warning in self.warnings]
        if self.recovered_from:
            lines.append(f"  works again; the runs before failed: {self.recovered_from}")
        for row in self.failures[:SHOWN_HELD]:
            lines.append(f"  failed: {short_name(row['name'])} ({row['kind']}, action {row['id']}): {row['reason']}")
        for row in self.held[:SHOWN_HELD]:
            lines.append(f"  held: {short_name(row['name'])} ({row['entity']} {row['kind']}, action {row['action_id']}): {row['reason']}")
        for problem in self.notify_problems:
            lines.append(f"  not notified: {problem}")
        hidden = max(0, len(self.held) - SHOWN_HELD) + max(0, len(self.failures) - SHOWN_HELD)
        if hidden:
            lines.append(f"  ... and {hidden} more (`qbsync held`)")
        return "\n".join(lines)

    def _dry_run_text(self) -> str:
        kinds = Counter(row["kind"] for row in self.would_apply)
        said = ", ".join(f"{n} {kind}" for kind, n in sorted(kinds.items()))
        lines = [f"dry run: plan {self.plan_id}{' (nothing changed)' if self.unchanged else ''}: the policy would apply "
                 f"{len(self.would_apply)}{f' ({said})' if said else ''} and hold {len(self.held)} for review "
                 f"({self.new_held} new); nothing was applied, approved or held"]
        lines += [f"  warning: {warning}" for warning in self.warnings]
        for row in self.held[:SHOWN_HELD]:
            lines.append(f"  would hold: {short_name(row['name'])} ({row['entity']} {row['kind']}, action "
                         f"{row['action_id']}): {row['reason']}")
        for row in self.would_apply[:SHOWN_HELD]:
            lines.append(f"  would apply: {short_name(row['name'])} ({row['entity']} {row['kind']}, action {row['action_id']})")
        hidden = max(0, len(self.held) - SHOWN_HELD) + max(0, len(self.would_apply) - SHOWN_HELD)
        if hidden:
            lines.append(f"  ... and {hidden} more (`--json` lists them all)")
        return "\n".join(lines)

    def to_json(self) -> dict[str, Any]:
        if self.dry_run:  # every action: a dry run is read before trusting the policy with the books
            return {**self._json(), "dry_run": True, "held_actions": self.held, "would_apply": self.would_apply}
        return self._json()

    def _json(self) -> dict[str, Any]:
        return {"started_at": self.started_at, "finished_at": self.finished_at, "trigger": self.trigger,
                "plan_id": self.plan_id, "entities": self.entities, "unchanged": self.unchanged, "counts": self.counts,
                "held": len(self.held), "new_held": self.new_held, "held_actions": self.held[:SHOWN_HELD],
                "failures": self.failures[:SHOWN_HELD], "error": self.error, "skipped": self.skipped,
                "stopped": self.stopped, "notify_problems": self.notify_problems, "precoro_calls": self.precoro_calls,
                "quickbooks_reads": self.quickbooks_reads, "quickbooks_reads_month": self.quickbooks_reads_month,
                "warnings": self.warnings, "error_told_on": self.error_told_on, "recovered_from": self.recovered_from,
                "exit_code": self.exit_code}


Notify = Callable[[RunSummary, str], list[str]]
OnCap = Callable[[str, float], None]  # (what is waited for, seconds left): a rate cap's countdown


def run_once(session: Any, *, only: Iterable[str] | None = None, trigger: str = "manual",
             stop: threading.Event | None = None, on_wait: Callable[[Holder | None], None] | None = None,
             notify: Notify | None = None, on_cap: OnCap | None = None, dry_run: bool = False) -> RunSummary:
    """One cycle over `session` (a SyncSession). Never raises for a failed run: the summary says
    what went wrong, is recorded in the state file, and `notify(summary, where)` tells a person
    when it failed or held something new (U5). `on_cap(what, seconds left)` is told while its plan
    or apply waits out Precoro's hourly cap: up to an hour in which a run would otherwise say nothing.
    `dry_run`: plan, and say what the policy would apply and hold; nothing else is written (no
    approval, no held action, no run recorded, no notification)."""
    summary = RunSummary(started_at=session.clock(), trigger=trigger, dry_run=dry_run)
    try:
        with session.store.lock("run").held(f"qbsync run ({trigger}{', dry run' if dry_run else ''})", wait=False):
            before = (session.store.last_run() or {}).get("summary") or {}
            run_id = summary.run_id = None if dry_run else session.store.start_run(summary.started_at, trigger)
            sent = _requests(session)
            try:
                _cycle(session, summary, only, stop, on_wait, on_cap)
            except (Interrupted, ReadsCutShort) as exc:
                # A cap is no failure: like an apply at Precoro's daily cap, the run stops and says
                # when it can go on; what its plan read is kept, and the next run goes on from there.
                summary.stopped = str(exc)
            except Exception as exc:  # recorded and reported, never a traceback (errors carry no secrets)
                summary.error = str(exc) if getattr(exc, "exit_code", None) else f"{type(exc).__name__}: {exc}"
            summary.finished_at = session.clock()
            summary.warnings = session.warnings()
            summary.new_warnings = sum(warning not in (before.get("warnings") or []) for warning in summary.warnings)
            _told_before(summary, before)
            if sent is not None:
                now = _requests(session)
                summary.precoro_calls, summary.quickbooks_reads = now[0] - sent[0], now[1] - sent[1]
                summary.quickbooks_reads_month = session.quickbooks_reads_this_month()
            if dry_run:
                return summary
            if notify is not None:
                summary.notify_problems = notify(summary, company_name(session.rules_path))
            session.store.finish_run(run_id, summary.finished_at, summary.plan_id, summary.exit_code, summary.to_json())
    except LockBusy as busy:
        who = busy.holder.describe() if busy.holder else "another qbsync run"
        summary.skipped = f"{who} is running on this state file"
        summary.finished_at = session.clock()
    return summary


def _told_before(summary: RunSummary, before: dict[str, Any]) -> None:
    """What the run before (its summary) already told a person: the same error today, or an error
    this run no longer has."""
    today = summary.started_at[:10]
    if summary.error:
        summary.error_told_before = summary.error == before.get("error") and before.get("error_told_on") == today
        summary.error_told_on = before["error_told_on"] if summary.error_told_before else today
    elif before.get("error"):
        summary.recovered_from = before["error"]


def _requests(session: Any) -> tuple[int, int] | None:
    """The requests sent to Precoro and the reads sent to QuickBooks so far by this session (None:
    it cannot connect; the run says why)."""
    try:
        connected = session.connected
        return connected.precoro.requests_sent, connected.quickbooks.reads_sent
    except Exception:  # the run itself fails on it, and says why
        return None


def company_name(rules_path: Any) -> str:
    """How a notification or a table names a company: its directory (one per company pair)."""
    from pathlib import Path

    path = Path(rules_path).resolve()
    return path.parent.name or str(path)


def _cycle(session: Any, summary: RunSummary, only: Iterable[str] | None, stop: threading.Event | None,
           on_wait: Callable[[Holder | None], None] | None, on_cap: OnCap | None) -> None:
    store = session.store
    session.reload_rules()  # a loop runs on the rules as they are now
    plan = session.plan(only=only, wait=True, on_wait=on_wait, stop=stop, on_cap=on_cap)
    summary.plan_id, summary.unchanged, summary.entities = plan.id, plan.unchanged, list(plan.entities)
    realm = plan.realm_id
    actions = list(plan.actions)
    saved = {a.id: a.approved for a in actions}  # as the plan's rows say them
    judged = judge(actions, session.rules, store.held(realm, waiting=False),
                   lambda section: store.count_links(section, realm))
    verdict, rows = judged.verdicts, judged.held_before
    dry_run = summary.dry_run
    if not dry_run:
        for approved in (True, False):
            ids = [a.id for a in actions if a.approved is approved and saved[a.id] is not approved]
            if ids:
                store.set_approved(plan.id, ids, approved)

    now = session.clock()
    planned_kinds = {BY_SECTION[section].kind for section in plan.entities}
    gone = [aid for aid, row in rows.items() if row["entity"] in planned_kinds and aid not in verdict]
    held_rows = []
    for action in actions:
        if not judged.holds(action):
            continue  # to be applied, or skipped by the operator
        before = rows.get(action.id)
        same = before is not None and before["fingerprint"] == judged.prints.get(action.id)
        if not same:
            summary.new_held += 1
        held_rows.append({"realm": realm, "action_id": action.id, "entity": action.entity, "kind": action.kind,
                          "name": action.name, "reason": verdict[action.id].reason,
                          "fingerprint": judged.prints.get(action.id) or fingerprint(action), "plan_id": plan.id,
                          "held_at": before["held_at"] if same else now, "seen_at": now,
                          # An answer waits with its action for what that depends on (a held link).
                          "decision": before["decision"] if same else None,
                          "decided_at": before["decided_at"] if same else None})
    if dry_run:
        summary.held = held_summary(held_rows)
        summary.would_apply = [{"action_id": a.id, "entity": a.entity, "kind": a.kind, "name": a.name}
                               for a in actions if verdict[a.id].apply and a.executable]
        return
    store.forget_held(realm, gone)
    store.put_held(held_rows)

    if any(verdict[a.id].apply and a.executable for a in actions):
        # The brake was applied by the judge, to what the policy lets go alone; what goes beyond it
        # a person approved, action by action (U3). The apply's own brake would count those too, and
        # fail every run from then on.
        report = session.apply(plan.id, wait=True, on_wait=on_wait, stop=stop, on_cap=on_cap, force=True)
        summary.counts = report.counts()
        summary.stopped = report.stopped
        summary.failures = [r.to_json() for r in report.results if r.status in ("failed", "refused")]
    summary.held = held_summary(store.held(realm))


def held_summary(rows: Iterable[dict]) -> list[dict[str, Any]]:
    """Held rows as `qbsync held --json` and run summaries show them."""
    return [{"action_id": row["action_id"], "entity": row["entity"], "kind": row["kind"], "name": row["name"],
             "reason": row["reason"], "plan_id": row["plan_id"], "held_at": row["held_at"]} for row in rows]


def parse_every(text: str) -> float:
    """`30m`, `1h`, `90s`, `2h30m` or `1d` -> seconds; at least a minute (both services count calls)."""
    import re

    parts = re.findall(r"(\d+)([smhd])", text.strip().lower())
    if not parts or "".join(n + u for n, u in parts) != text.strip().lower():
        raise ValueError(f"{text!r} is not a duration like 30m, 1h or 90s")
    seconds = sum(int(n) * {"s": 1, "m": 60, "h": 3600, "d": 86400}[u] for n, u in parts)
    if seconds < 60:
        raise ValueError(f"{text!r} is shorter than a minute")
    return float(seconds)


def run_every(session: Any, every: float, stop: threading.Event, report: Callable[[RunSummary], Any], *,
              only: Iterable[str] | None = None, now: Callable[[], datetime] | None = None,
              notify: Notify | None = None, on_cap: OnCap | None = None,
              warn: Callable[[str], None] | None = None) -> None:
    """Run, then wait `every` seconds, until `stop` is set (SIGTERM): a run in progress stops
    between two writes. One loop per state file: a second one is refused (LockBusy). `warn` is told
    once when runs this often would spend most of Precoro's day finding that nothing changed."""
    now = now or (lambda: datetime.now(timezone.utc))
    warned = False
    with session.store.lock("loop").held("qbsync run --every", wait=False):
        while not stop.is_set():
            reopen_if_replaced(session, warn)
            summary = run_once(session, only=only, trigger="schedule", stop=stop, notify=notify, on_cap=on_cap)
            if warn is not None and not warned and summary.unchanged and summary.precoro_calls:
                # A run where nothing changed costs what the loop costs on a quiet day.
                said = polling_cost(summary.precoro_calls, every)
                if said:
                    warn(said)
                    warned = True
            if summary.run_id is not None and not stop.is_set():
                session.store.set_next_run(summary.run_id, (now() + timedelta(seconds=every)).isoformat(timespec="seconds"))
            report(summary)
            stop.wait(every)


def reopen_if_replaced(session: Any, warn: Callable[[str], None] | None) -> None:
    """Before a run of a long-lived session (`run --every`, `webhooks serve`): the state file as it now
    is, when another process deleted or replaced it since (W7): never written on to a file nobody
    else sees."""
    if session.reopen_if_replaced() and warn is not None:
        warn(f"the state file {session.state_path} was deleted or replaced by another process since the last run: "
             "this run uses it as it now is")


def run_status(store: Any) -> dict[str, Any]:
    """For `qbsync status`: the last run, the next one (while a loop is running) and how many wait."""
    last = store.last_run()
    looping = store.lock("loop").holder() is not None
    return {"last_run": ({"started_at": last["started_at"], "finished_at": last["finished_at"],
                          "trigger": last["trigger"], "plan_id": last["plan_id"], "exit_code": last["exit_code"],
                          # why it failed: runs on a timer fail unseen but for this (and a notification)
                          "error": (last.get("summary") or {}).get("error")}
                         if last else None),
            "next_run": last["next_at"] if last and looping else None,
            "held": len(store.held())}


@dataclass
class CompanyRun:
    """One company's run within `run --all`."""

    company: str
    rules: str
    summary: RunSummary

    def to_json(self) -> dict[str, Any]:
        return {"company": self.company, "rules": self.rules, "exit_code": self.summary.exit_code,
                **{key: value for key, value in self.summary.to_json().items() if key != "exit_code"}}


def companies(root: Any) -> list[Any]:
    """The rules files of a directory of companies: `<root>/<company>/rules.yaml`, by name."""
    from pathlib import Path

    return sorted(path for path in Path(root).glob("*/rules.yaml") if path.is_file())


def run_all(rules_files: Iterable[Any], open_session: Callable[[Any], Any], *, jobs: int = 4,
            stop: threading.Event | None = None, notify: Notify | None = None,
            clock: Callable[[], str] | None = None, on_cap: OnCap | None = None) -> list[CompanyRun]:
    """One run per company, `jobs` at a time, each on its own session (its own rules, state file,
    locks and rate budgets). A company that fails, even to open, is one failed row: the others go on.
    `on_cap` is told which company waits ("<company>: Precoro's hourly limit ...")."""
    from concurrent.futures import ThreadPoolExecutor

    clock = clock or (lambda: datetime.now(timezone.utc).isoformat(timespec="seconds"))

    def one(rules_path: Any) -> CompanyRun:
        name = company_name(rules_path)
        try:
            with open_session(rules_path) as session:
                told = (lambda what, left: on_cap(f"{name}: {what}", left)) if on_cap else None
                summary = run_once(session, stop=stop, notify=notify, on_cap=told)
        except Exception as exc:  # an invalid rules file, an unusable state file: this company only
            summary = RunSummary(started_at=clock(), finished_at=clock(), error=first_line(exc))
        return CompanyRun(name, str(rules_path), summary)

    with ThreadPoolExecutor(max_workers=max(1, jobs), thread_name_prefix="qbsync-company") as pool:
        return list(pool.map(one, rules_files))


def first_line(exc: Exception) -> str:
    """An error in one line, for a company's row of a table (how many lines more it had)."""
    text = str(exc).strip() or type(exc).__name__
    lines = text.splitlines()
    return lines[0] + (f" (and {len(lines) - 1} more)" if len(lines) > 1 else "")


def all_exit_code(runs: Iterable[CompanyRun]) -> int:
    """1 when any company failed, else 3 when any holds something for review, else 0."""
    return worst_exit(run.summary.exit_code for run in runs)


def worst_exit(codes: Iterable[int]) -> int:
    """The exit code of many companies' own: 1 when any is 1, else 3 when any is 3, else 0."""
    codes = set(codes)
    return EXIT_ERROR if EXIT_ERROR in codes else EXIT_HELD if EXIT_HELD in codes else EXIT_OK


def reads_said(runs: list[CompanyRun]) -> str | None:
    """What a pass over the companies read of QuickBooks, against the app's monthly budget: one
    Intuit app serves every company, so their reads add up (docs/unattended.md). With what their
    state files read this month so far, and `month_reads_warning`."""
    total = sum(run.summary.quickbooks_reads or 0 for run in runs)
    if not total:
        return None
    said = (f"QuickBooks reads in this pass: {total:,}. Intuit counts an app's reads by the month, all its "
            f"companies together ({QUICKBOOKS_READS_A_MONTH:,} on the Builder tier): about "
            f"{QUICKBOOKS_READS_A_MONTH // total:,} passes like this one a month.")
    months = [run.summary.quickbooks_reads_month for run in runs if run.summary.quickbooks_reads_month]
    if months:
        month, so_far = months[0]["month"], sum(m["reads"] for m in months)
        said += f" These companies read {so_far:,} in {month} so far."
        warning = month_reads_warning(so_far)
        if warning:
            said += f" {warning}"
    return said


def all_table(runs: list[CompanyRun]) -> str:
    """The one summary table of `run --all`."""
    rows = [("company", "result", "applied", "held", "new", "failed", "note")]
    for run in runs:
        s = run.summary
        result = RESULTS[s.exit_code]
        note = s.error or s.skipped or s.stopped or ""
        rows.append((run.company, result, str(s.counts.get("applied", 0)), str(len(s.held)), str(s.new_held),
                     str(len(s.failures)), note))
    return aligned(rows)


def runs_table(rows: Iterable[dict[str, Any]]) -> str:
    """`qbsync runs`: a line a recorded run (Store.runs), newest first."""
    table = [("started (UTC)", "trigger", "result", "took", "plan", "applied", "held", "new", "failed", "note")]
    for row in rows:
        s = row["summary"] or {}
        counts = s.get("counts") or {}
        took = (duration((datetime.fromisoformat(row["finished_at"]) - datetime.fromisoformat(row["started_at"]))
                         .total_seconds()) if row["finished_at"] else "-")
        # A run with no end recorded was killed, or is going on now (SyncSession.runs says which).
        result = RESULTS.get(row["exit_code"], "running" if row.get("running") else "unfinished")
        note = s.get("error") or s.get("stopped") or ("nothing changed" if s.get("unchanged") else "")
        table.append((row["started_at"][:19].replace("T", " "), row["trigger"], result, took,
                      row["plan_id"] or "-", str(counts.get("applied", 0)), str(s.get("held", "-")),
                      str(s.get("new_held", "-")), str(counts.get("failed", 0) + counts.get("refused", 0)), note))
    return aligned(table)


def aligned(rows: list[tuple[str, ...]], last_width: int = 70) -> str:
    """Rows as a table of aligned columns; the last (a note) is free and cut to `last_width`."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    return "\n".join(("  ".join(cell.ljust(width) for cell, width in zip(row, widths)) + "  "
                      + (row[-1] if len(row[-1]) <= last_width else row[-1][:last_width - 1] + "…")).rstrip()
                     for row in rows)
