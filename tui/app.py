"""The operator's TUI: review plans, decide conflicts, approve and apply, audit.

The App owns what every screen shares (the engine session, the plan under review, the outcomes of
the last apply, the connections' status) and runs every engine call in a thread worker; results
come back as messages (tui.messages) and screens follow the App's reactive revision counters. The
engine session is handed in through the constructor (a factory, because opening it reads
rules.yaml, which may be invalid), so tests pass their own.
"""

from __future__ import annotations

import gc
import threading
import time
from functools import partial
from pathlib import Path
from typing import Any, Callable, Iterable

from textual import on, work
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.reactive import reactive
from textual.screen import ModalScreen, Screen

from engine.plan import Action, Plan
from rules import RulesError
from engine.review import Outcome, apply_summary, carried_decisions, outcome_of, outcomes_from_history

from .dialogs.confirm import ConfirmApply
from .dialogs.mapping import NotMapped
from .dialogs.question import Question
from .messages import (
    ActionsApplied,
    ApplyFailed,
    ApplyFinished,
    DecisionsFailed,
    DecisionsSaved,
    HistoryLoaded,
    MappingFailed,
    MappingPlanned,
    PlanLoaded,
    PlanningFailed,
    PlanProgressed,
    RulesRefused,
    RulesReloaded,
    SessionFailed,
    SessionOpened,
    StatusLoaded,
    UnmappedItemsLoaded,
)
from .screens.apply import ApplyScreen
from .screens.help import HelpScreen
from .screens.history import HistoryScreen
from .screens.overview import OverviewScreen
from .screens.review import ReviewScreen
from .screens.rules import RulesScreen

SessionFactory = Callable[[], Any]
SCREENS_GROUP = Binding.Group("screens", compact=True)
# How often an apply reports progress to the UI: often enough to look live, rarely enough that a
# 100,000-action apply does not flood the message queue.
APPLY_REPORT_EVERY = 0.1
HISTORY_LIMIT = 10_000
# Above this many actions, counts that need a pass over the plan wait until the keys stop.
LARGE_PLAN = 20_000


class QbsyncApp(App[int]):
    """qbsync's operator console."""

    CSS_PATH = "app.tcss"
    TITLE = "qbsync"
    MODES = {
        "overview": OverviewScreen,
        "review": ReviewScreen,
        "apply": ApplyScreen,
        "history": HistoryScreen,
        "rules": RulesScreen,
    }
    DEFAULT_MODE = "overview"

    BINDINGS = [
        Binding("1", "switch_mode('overview')", "Overview", id="screen.overview", group=SCREENS_GROUP,
                tooltip="Connections, counts, the latest plan and the rules file"),
        Binding("2", "switch_mode('review')", "Review", id="screen.review", group=SCREENS_GROUP,
                tooltip="Review the plan: approve, skip, decide conflicts, map by hand"),
        Binding("3", "switch_mode('apply')", "Apply", id="screen.apply", group=SCREENS_GROUP,
                tooltip="Apply the approved actions and follow their progress"),
        Binding("4", "switch_mode('history')", "History", id="screen.history", group=SCREENS_GROUP,
                tooltip="The audit of every applied action"),
        Binding("5", "switch_mode('rules')", "Rules", id="screen.rules", group=SCREENS_GROUP,
                tooltip="The rules file: problems, reload"),
        Binding("r", "replan", "re-plan", id="plan.replan",
                tooltip="Read both sides again and make a new plan (changes nothing remote)"),
        Binding("f1", "help", "help", id="app.help", tooltip="Keys and what this screen is for"),
        Binding("ctrl+q", "quit", "quit", id="app.quit", tooltip="Leave qbsync (decisions are already saved)",
                priority=True),
    ]

    plan_label: reactive[str] = reactive("")
    """Top-right label of every screen: the plan under review."""
    status_text: reactive[str] = reactive("")
    """The status line: what is running, or a one-line account of the plan."""
    busy: reactive[str] = reactive("")
    """What the engine is doing now ("" when idle)."""
    plan_revision: reactive[int] = reactive(0, init=False)
    """Bumped when the plan is replaced."""
    decision_revision: reactive[int] = reactive(0, init=False)
    """Bumped when approvals, decisions or outcomes change within the same plan."""
    status_revision: reactive[int] = reactive(0, init=False)
    """Bumped when connections and counts were read again."""
    apply_revision: reactive[int] = reactive(0, init=False)
    """Bumped when an apply made progress, finished or failed."""
    history_revision: reactive[int] = reactive(0, init=False)
    """Bumped when audit rows were read."""
    rules_revision: reactive[int] = reactive(0, init=False)
    """Bumped when the rules file was (re)read, valid or not."""

    def __init__(self, session_factory: SessionFactory, *, rules_path: str | Path = "rules.yaml",
                 watch_rules: bool = True, rules_poll_seconds: float = 1.0, cursor_blink: bool = True) -> None:
        super().__init__()
        self.cursor_blink = cursor_blink
        """Whether text cursors blink (tests turn it off so screenshots do not depend on timing)."""
        self._session_factory = session_factory
        self.rules_path = Path(rules_path)
        self.watch_rules = watch_rules
        self.rules_poll_seconds = rules_poll_seconds
        self.session: Any = None
        self.plan: Plan | None = None
        self.outcomes: dict[str, Outcome] = {}
        self.status: dict[str, Any] | None = None
        self.last_sync: dict[str, Any] | None = None
        self.history_rows: list[dict[str, Any]] = []
        self.history_record: str | None = None
        self.rules_error: Exception | None = None
        # The apply screen's live list: results as they come, in order, for the plan in `apply_plan_id`.
        self.apply_results: list[Any] = []
        self.apply_plan_id: str | None = None
        self.apply_progress: tuple[int, int] = (0, 0)
        self.apply_running = False
        self.apply_report: Any = None
        self.apply_error: Exception | None = None
        # The session serves one caller at a time: the state file is shared by the UI's workers.
        self._engine = threading.Lock()
        # Approvals and decisions wait here until a worker writes them (last one per action wins).
        self._pending: dict[str, dict[str, Any]] = {}
        self._pending_lock = threading.Lock()
        self._flushing = False
        self._rules_mtime: float | None = None
        self._status_timer: Any = None
        # The Not-mapped list (I4): items mapped from it in this session (its running count), the
        # filter last typed there, and the mapping under way that came from it (the list reopens after).
        self.items_mapped: set[str] = set()
        self.not_mapped_query = ""
        self._mapping_from_list: str | None = None
        # Set to stop the apply (or the plan) under way at its next safe point (quitting, W3).
        self._apply_stop = threading.Event()
        self._plan_stop = threading.Event()
        self._quit_when_stopped = False
        self.unfinished: dict[str, Any] | None = None
        """The last apply run, when it did not finish (killed or stopped): its plan is reviewed first."""

    # -- lifecycle -------------------------------------------------------------------------------

    def on_mount(self) -> None:
        self.busy = "opening the session…"
        self._rules_mtime = self._mtime()
        self.open_session()
        if self.watch_rules:
            self.set_interval(self.rules_poll_seconds, self._check_rules_file)

    def on_unmount(self) -> None:
        if self.session is not None and self._engine.acquire(timeout=5):
            try:
                self.session.close()
            finally:
                self._engine.release()

    def _mtime(self) -> float | None:
        try:
            return self.rules_path.stat().st_mtime
        except OSError:
            return None

    def _check_rules_file(self) -> None:
        mtime = self._mtime()
        if mtime != self._rules_mtime:
            self._rules_mtime = mtime
            self.notify(f"{self.rules_path.name} changed on disk: reloading", timeout=3)
            self.reload_rules()

    # -- status line -----------------------------------------------------------------------------

    def watch_busy(self) -> None:
        self._update_status_text()

    def _update_status_text(self) -> None:
        if self.busy:
            self.status_text = "⟳ " + self.busy
            return
        if self.plan is not None and len(self.plan.actions) > LARGE_PLAN:
            # A full count per keypress would make approving feel slow on a huge plan: count once
            # the keys stop.
            if self._status_timer is not None:
                self._status_timer.stop()
            self._status_timer = self.set_timer(0.2, self._count_status_text)
            return
        self._count_status_text()

    def _count_status_text(self) -> None:
        self._status_timer = None
        if self.busy:
            return
        plan = self.plan
        if plan is None:
            self.status_text = "No plan yet: press r to make one." if self.session else (
                "The rules file has problems: see 5 Rules." if self.rules_error else "")
            return
        summary = apply_summary(plan.actions)
        undecided = sum(1 for a in plan.actions if a.needs_decision)
        parts = [f"plan {plan.id}", f"{len(plan.actions):,} actions",
                 f"writes {summary.writes('quickbooks'):,} QuickBooks · {summary.writes('precoro'):,} Precoro"]
        if undecided:
            parts.append(f"{undecided:,} conflict{'s' if undecided != 1 else ''} to decide")
        failed = sum(1 for o in self.outcomes.values() if o.status in ("failed", "refused"))
        if failed:
            parts.append(f"{failed:,} failed")
        self.status_text = " · ".join(parts)

    def _plan_changed(self) -> None:
        plan = self.plan
        self.plan_label = f"plan {plan.id} · {plan.created_at[:16].replace('T', ' ')}" if plan else ""
        self._update_status_text()

    # -- the engine, in workers ------------------------------------------------------------------

    @work(thread=True, exclusive=True, group="session", exit_on_error=False)
    def open_session(self) -> None:
        try:
            session = self._session_factory()
        except Exception as exc:  # an invalid rules file is the usual reason; the Rules screen shows it
            self.post_message(SessionFailed(exc))
        else:
            self.post_message(SessionOpened(session))

    @on(SessionOpened)
    def _session_opened(self, message: SessionOpened) -> None:
        if self.rules_error is not None:
            self.notify("The rules file is valid now; reading the plan.", timeout=4)
        self.session = message.session
        self.rules_path = Path(getattr(self.session, "rules_path", self.rules_path))
        self._rules_mtime = self._mtime()
        self.rules_error = None
        self.rules_revision += 1
        self.busy = ""
        self.load_plan(fresh=False, announce=False)

    @on(SessionFailed)
    def _session_failed(self, message: SessionFailed) -> None:
        self.busy = ""
        self.rules_error = message.error
        self.rules_revision += 1
        self._update_status_text()
        if _is_rules_error(message.error) or isinstance(message.error, FileNotFoundError):
            self.switch_mode("rules")
            self.notify("The rules file cannot be used; fix it and qbsync reloads it.", severity="error", timeout=8)
        else:
            self.notify(f"Could not start: {message.error}", severity="error", timeout=15)

    @work(thread=True, exclusive=True, group="status", exit_on_error=False)
    def load_status(self) -> None:
        session = self.session
        if session is None:
            return
        with self._engine:
            try:
                status = session.status()
                last = session.history(limit=1)
            except Exception as exc:
                status, last = {"connections": {"error": str(exc)}, "entities": {}}, []
        self.post_message(StatusLoaded(status, last[0] if last else None))

    @on(StatusLoaded)
    def _status_loaded(self, message: StatusLoaded) -> None:
        self.status = message.status
        self.last_sync = message.last_sync
        self.status_revision += 1

    @work(thread=True, exclusive=True, group="plan", exit_on_error=False)
    def load_plan(self, fresh: bool, previous: Plan | None = None, announce: bool = True) -> None:
        """Show the latest saved plan, or make one (`fresh`, or when there is none yet)."""
        session = self.session
        if session is None:
            return
        self.call_from_thread(setattr, self, "busy", "making a plan: reading both sides…" if fresh else "loading the plan…")

        def progress(what: str, done: int, total: int | None) -> None:
            self.post_message(PlanProgressed(what, done, total))

        self._plan_stop.clear()
        try:
            with self._engine:
                self._write_pending()
                unfinished = session.unfinished_apply()
                self.unfinished = unfinished
                plan = None if fresh else (session.load_plan(unfinished["plan_id"]) if unfinished
                                           else session.latest_plan())
                outcomes: dict[str, Outcome] = {}
                if plan is not None:
                    outcomes = outcomes_from_history(
                        session.history(limit=max(HISTORY_LIMIT, 2 * len(plan.actions))), plan.id)
                    # A plan applied without a failure is history: what matters now is a new one.
                    finished = not (unfinished and unfinished["plan_id"] == plan.id)
                    if finished and outcomes and not any(o.status in ("failed", "refused") for o in outcomes.values()):
                        plan, outcomes = None, {}
                made = plan is None
                if plan is None:
                    self.call_from_thread(setattr, self, "busy", "making a plan: reading both sides…")
                    plan = session.plan(progress=progress, stop=self._plan_stop, on_wait=self._writer_busy)
                if previous is not None and previous.id != plan.id:
                    self._carry(previous, plan)
        except Exception as exc:
            self.post_message(PlanningFailed(exc))
            return
        self.post_message(PlanLoaded(plan, outcomes, made and announce))

    def _carry(self, previous: Plan, plan: Plan) -> None:
        """Keep the operator's decisions across a re-plan the engine did not carry (after a map)."""
        carried = carried_decisions(previous, plan)
        by_id = {a.id: a for a in plan.actions}
        approvals: dict[bool, list[str]] = {True: [], False: []}
        for action_id, decision, approved in carried:
            action = by_id[action_id]
            if decision != action.decision and decision is not None and action.kind == "conflict":
                self.session.decide(action_id, decision, plan.id)
                action.decision = decision
            if approved != action.approved:
                approvals[approved].append(action_id)
                action.approved = approved
        for approved, ids in approvals.items():
            if ids:
                self.session.approve(ids, approved, plan.id)

    def _writer_busy(self, holder: Any) -> None:
        """W7, from a worker: another qbsync holds the state file; say whom we wait for."""
        who = holder.describe() if holder else "another qbsync"
        self.call_from_thread(setattr, self, "busy", f"waiting for {who} to finish with this state file…")

    @on(PlanProgressed)
    def _plan_progressed(self, message: PlanProgressed) -> None:
        count = f" {message.done:,}" + (f"/{message.total:,}" if message.total else "") if message.done else ""
        self.busy = f"making a plan: {message.what}{count}…"

    @on(PlanLoaded)
    def _plan_loaded(self, message: PlanLoaded) -> None:
        if len(message.plan.actions) > LARGE_PLAN:
            # A big plan is a million long-lived objects; without this, every full collection of
            # Python's cyclic GC walks them all and the UI stutters (opening the review took three
            # times as long). Plans hold no reference cycles, so a replaced plan is still freed.
            gc.freeze()
        self.plan = message.plan
        self.outcomes = message.outcomes
        self.busy = ""
        if self.apply_plan_id != message.plan.id and not self.apply_running:
            self.apply_results, self.apply_report, self.apply_error = [], None, None
            self.apply_progress = (0, 0)
            self.apply_plan_id = message.plan.id
            self.apply_revision += 1
        self._plan_changed()
        self.plan_revision += 1
        if message.made:
            self.notify(f"New plan {message.plan.id}: {len(message.plan.actions):,} actions.", timeout=3)
        if self.unfinished and self.unfinished["plan_id"] == message.plan.id:
            self.notify(f"The last apply of plan {message.plan.id} was {self.unfinished['state']} (started "
                        f"{self.unfinished['started_at']} by {self.unfinished['who']}). Press g to finish it: nothing "
                        "is written twice.", severity="warning", timeout=20)
        self.load_status()

    @on(PlanningFailed)
    def _planning_failed(self, message: PlanningFailed) -> None:
        self.busy = ""
        self._update_status_text()
        if _is_rules_error(message.error):
            self.rules_error = message.error
            self.rules_revision += 1
        self.notify(f"Planning failed: {message.error}", severity="error", timeout=10)
        self.load_status()

    # -- approvals and decisions -----------------------------------------------------------------

    def set_approved(self, actions: Iterable[Action], approved: bool) -> int:
        """Approve or skip actions now on screen; the state file follows in a worker."""
        changed = 0
        with self._pending_lock:
            for action in actions:
                if action.approved != approved:
                    action.approved = approved
                    self._pending.setdefault(action.id, {})["approved"] = approved
                    changed += 1
        if changed:
            self._decisions_changed()
        return changed

    def decide(self, action: Action, decision: str) -> None:
        """Decide a conflict (precoro, quickbooks or skip); taking a side also approves it."""
        with self._pending_lock:
            action.decision = decision
            pending = self._pending.setdefault(action.id, {})
            pending["decision"] = decision
            if decision != "skip" and not action.approved:
                action.approved = True
                pending["approved"] = True
        self._decisions_changed()

    def _decisions_changed(self) -> None:
        self.decision_revision += 1
        self._update_status_text()
        start = False
        with self._pending_lock:
            if self._pending and not self._flushing:
                self._flushing = start = True
        if start:
            self._save_decisions(self.plan.id if self.plan else None)

    @work(thread=True, group="decisions", exit_on_error=False)
    def _save_decisions(self, plan_id: str | None) -> None:
        try:
            with self._engine:
                saved = self._write_pending(plan_id)
        except Exception as exc:
            self.post_message(DecisionsFailed(exc))
        else:
            self.post_message(DecisionsSaved(saved))

    def _write_pending(self, plan_id: str | None = None) -> int:
        """Write waiting approvals and decisions (the caller holds the engine lock)."""
        saved = 0
        plan_id = plan_id or (self.plan.id if self.plan else None)
        while True:
            with self._pending_lock:
                batch, self._pending = self._pending, {}
                if not batch:
                    self._flushing = False
                    return saved
            try:
                approvals: dict[bool, list[str]] = {True: [], False: []}
                for action_id, change in batch.items():
                    if "decision" in change:
                        self.session.decide(action_id, change["decision"], plan_id)
                    if "approved" in change:
                        approvals[change["approved"]].append(action_id)
                for approved, ids in approvals.items():
                    if ids:
                        self.session.approve(ids, approved, plan_id)
                saved += len(batch)
            except Exception:
                with self._pending_lock:
                    self._flushing = False
                raise

    @on(DecisionsSaved)
    def _decisions_saved(self, message: DecisionsSaved) -> None:
        self.log(f"{message.count} decisions saved")

    @on(DecisionsFailed)
    def _decisions_failed(self, message: DecisionsFailed) -> None:
        self.notify(f"Could not save a decision: {message.error}. The plan was read back.", severity="error",
                    timeout=10)
        self.load_plan(fresh=False)

    # -- apply -----------------------------------------------------------------------------------

    def action_apply(self, retry_failed: bool = False) -> None:
        """Ask, with exact counts, then apply the plan under review."""
        plan = self.plan
        if plan is None or self.session is None:
            self.notify("No plan to apply yet.", severity="warning")
            return
        if self.apply_running:
            self.notify("An apply is already running.", severity="warning")
            return
        if retry_failed:
            failed = [aid for aid, o in self.outcomes.items() if o.status == "failed"]
            if not failed:
                self.notify("Nothing failed in this plan's last apply.", severity="information")
                return
            summary = apply_summary(plan.actions, only=failed)
            title = f"Retry {len(failed):,} failed actions of plan {plan.id}?"
        else:
            summary = apply_summary(plan.actions)
            title = f"Apply plan {plan.id}?"
        if summary.nothing_to_do:
            self.notify("Nothing to apply: no approved action can run. Approve some, or decide conflicts.",
                        severity="warning", timeout=6)
            return

        def answered(yes: bool | None) -> None:
            if yes:
                self.switch_mode("apply")
                self.start_apply(plan.id, retry_failed=retry_failed)

        self.push_screen(ConfirmApply(title, summary), answered)

    def start_apply(self, plan_id: str, *, retry_failed: bool = False, purpose: str = "plan") -> None:
        if purpose == "plan":
            self.apply_running = True
            self.apply_plan_id = plan_id
            # A run reports every action again (done ones as applied), so the list starts afresh.
            self.apply_results = []
            self.apply_report, self.apply_error = None, None
            self.apply_progress = (0, 0)
            self.apply_revision += 1
        self.busy = "applying…" if purpose == "plan" else "applying the mapping…"
        self._apply(plan_id, retry_failed, purpose)

    @work(thread=True, exclusive=True, group="apply", exit_on_error=False)
    def _apply(self, plan_id: str, retry_failed: bool, purpose: str) -> None:
        batch: list[Any] = []
        last = [time.monotonic()]

        def on_result(result: Any, done: int, total: int) -> None:
            batch.append(result)
            now = time.monotonic()
            if now - last[0] >= APPLY_REPORT_EVERY or done >= total:
                last[0] = now
                self.post_message(ActionsApplied(plan_id, list(batch), done, total))
                batch.clear()

        self._apply_stop.clear()
        try:
            with self._engine:
                self._write_pending()
                report = self.session.apply(plan_id, on_result=on_result if purpose == "plan" else None,
                                            retry_failed=retry_failed, stop=self._apply_stop,
                                            on_wait=self._writer_busy)
        except Exception as exc:
            if batch:
                self.post_message(ActionsApplied(plan_id, list(batch), -1, -1))
            self.post_message(ApplyFailed(plan_id, exc, purpose))
            return
        if batch:
            self.post_message(ActionsApplied(plan_id, list(batch), -1, -1))
        self.post_message(ApplyFinished(plan_id, report, purpose))

    @on(ActionsApplied)
    def _actions_applied(self, message: ActionsApplied) -> None:
        if message.plan_id != self.apply_plan_id:
            return
        self.apply_results.extend(message.results)
        for result in message.results:
            self.outcomes[result.id] = outcome_of(result)
        if message.done >= 0:
            self.apply_progress = (message.done, message.total)
            self.busy = f"applying: {message.done:,}/{message.total:,}"
        self.apply_revision += 1
        self.decision_revision += 1

    @on(ApplyFinished)
    def _apply_finished(self, message: ApplyFinished) -> None:
        self.busy = ""
        if self._quit_when_stopped:
            self.exit(0, message=f"qbsync: the apply of plan {message.plan_id} stopped between two writes; "
                                 f"run it again (qbsync apply {message.plan_id}) to finish, nothing is written twice")
            return
        self.unfinished = None
        report = message.report
        if message.purpose != "plan":
            self._mapping_applied(report)
            return
        self.apply_running = False
        self.apply_report = report
        seen = {r.id for r in self.apply_results}
        for result in report.results:
            self.outcomes[result.id] = outcome_of(result)
            if result.id not in seen:
                self.apply_results.append(result)
        total = len(report.results)
        self.apply_progress = (total, total)
        self.apply_revision += 1
        self.decision_revision += 1
        self._update_status_text()
        counts = report.counts()
        words = ", ".join(f"{n:,} {status}" for status, n in sorted(counts.items()))
        bad = counts.get("failed", 0) + counts.get("refused", 0)
        self.notify(f"Apply finished: {words}." + (" f retries the failed ones." if counts.get("failed") else ""),
                    severity="warning" if bad or report.stopped else "information", timeout=8)
        if report.stopped:
            self.notify(report.stopped, severity="warning", timeout=15)
        self.load_status()
        self.load_history(self.history_record)

    @on(ApplyFailed)
    def _apply_failed(self, message: ApplyFailed) -> None:
        self.busy = ""
        if self._quit_when_stopped:
            self.exit(1, message=f"qbsync: the apply stopped: {message.error}")
            return
        if message.purpose == "plan":
            self.apply_running = False
            self.apply_error = message.error
            self.apply_revision += 1
        self._update_status_text()
        self.notify(f"Apply failed: {message.error}", severity="error", timeout=15)

    # -- manual mapping --------------------------------------------------------------------------

    @work(thread=True, exclusive=True, group="mapping", exit_on_error=False)
    def plan_mapping(self, section: str, precoro_id: str, quickbooks_id: str | None, title: str,
                     notes: list[str] | None = None) -> None:
        """Plan a manual map (both ids) or unmap (no QuickBooks id); the operator confirms it next."""
        try:
            with self._engine:
                if quickbooks_id is None:
                    plan = self.session.unmap_plan(section, precoro_id)
                else:
                    plan = self.session.map_plan(section, precoro_id, quickbooks_id)
        except Exception as exc:
            self.post_message(MappingFailed(exc))
            return
        self.post_message(MappingPlanned(plan, title, notes or []))

    @on(MappingPlanned)
    def _mapping_planned(self, message: MappingPlanned) -> None:
        summary = apply_summary(message.plan.actions)

        def answered(yes: bool | None) -> None:
            if yes:
                self.start_apply(message.plan.id, purpose="mapping")
            else:
                self._mapping_from_list = None
                self.notify("Nothing was changed.", timeout=3)

        self.push_screen(ConfirmApply(message.title, summary, plan=message.plan, notes=message.notes), answered)

    @on(MappingFailed)
    def _mapping_failed(self, message: MappingFailed) -> None:
        self.busy = ""
        self._mapping_from_list = None
        self.notify(f"Refused: {message.error}", severity="error", timeout=10)

    def _mapping_applied(self, report: Any) -> None:
        problems = [r for r in report.results if r.status in ("failed", "refused")]
        from_list, self._mapping_from_list = self._mapping_from_list, None
        if problems:
            self.notify(f"The mapping was not applied: {problems[0].reason}", severity="error", timeout=15)
        else:
            self.notify("Done. Making a new plan with the new link…", timeout=4)
            if from_list is not None:
                self.items_mapped.add(from_list)
        self.load_plan(fresh=True, previous=self.plan)
        self.load_history(self.history_record)
        if from_list is not None:
            self.load_unmapped_items()  # back to the list, one fewer (or the same, if it failed)

    @work(thread=True, exclusive=True, group="mapping", exit_on_error=False)
    def load_unmapped_items(self) -> None:
        """The Not-mapped list (I4), read from both sides; the operator picks from it next."""
        if self.session is None or not hasattr(self.session, "unmapped_items"):
            return
        self.call_from_thread(setattr, self, "busy", "reading the items not mapped…")
        try:
            with self._engine:
                items = self.session.unmapped_items(limit=5)
        except Exception as exc:
            self.post_message(MappingFailed(exc))
            return
        self.post_message(UnmappedItemsLoaded(items))

    @on(UnmappedItemsLoaded)
    def _unmapped_items_loaded(self, message: UnmappedItemsLoaded) -> None:
        self.busy = ""

        # Items mapped here that show up unmapped again (unmapped since) no longer count as mapped.
        self.items_mapped -= {str(i["precoro_id"]) for i in message.items}
        screen = NotMapped(message.items, mapped=len(self.items_mapped), query=self.not_mapped_query)

        def picked(ids: tuple[str, str] | None) -> None:
            self.not_mapped_query = screen.query_text
            if ids:
                item = next((i for i in message.items if str(i["precoro_id"]) == ids[0]), {})
                name = str(item.get("name") or ids[0])
                candidate = next((c for c in item.get("candidates") or [] if str(c["quickbooks_id"]) == ids[1]), None)
                title = (f"Map Precoro item {ids[0]} “{name}” to QuickBooks item {ids[1]}"
                         + (f" “{candidate['name']}”" if candidate and candidate.get("name") else "") + "?")
                notes = ["free of charge: the price is kept, never taken from QuickBooks (I7)"] \
                    if item.get("free_of_charge") else []
                self._mapping_from_list = ids[0]
                self.plan_mapping("items", ids[0], ids[1], title, notes)

        self.push_screen(screen, picked)

    # -- history ---------------------------------------------------------------------------------

    @work(thread=True, exclusive=True, group="history", exit_on_error=False)
    def load_history(self, record: str | None = None) -> None:
        if self.session is None:
            return
        try:
            with self._engine:
                rows = self.session.history(record=record or None, limit=HISTORY_LIMIT)
        except Exception as exc:
            self.call_from_thread(self.notify, f"Could not read the history: {exc}", severity="error")
            return
        self.post_message(HistoryLoaded(rows, record))

    @on(HistoryLoaded)
    def _history_loaded(self, message: HistoryLoaded) -> None:
        self.history_rows = message.rows
        self.history_record = message.record
        self.history_revision += 1

    # -- rules -----------------------------------------------------------------------------------

    def reload_rules(self) -> None:
        """Read rules.yaml again: through the session, or by opening one when the file kept it from starting."""
        if self.session is None:
            self.busy = "reading the rules…"
            self.open_session()
        else:
            self._reload_rules()

    @work(thread=True, exclusive=True, group="rules", exit_on_error=False)
    def _reload_rules(self) -> None:
        try:
            with self._engine:
                self.session.reload_rules()
        except Exception as exc:
            self.post_message(RulesRefused(exc))
        else:
            self.post_message(RulesReloaded())

    @on(RulesReloaded)
    def _rules_reloaded(self) -> None:
        self.rules_error = None
        self.rules_revision += 1
        self.notify("Rules reloaded; making a new plan.", timeout=3)
        self.load_plan(fresh=True, previous=self.plan)

    @on(RulesRefused)
    def _rules_refused(self, message: RulesRefused) -> None:
        self.rules_error = message.error
        self.rules_revision += 1
        self._update_status_text()
        self.notify("The rules file has problems; the rules in force did not change. See 5 Rules.",
                    severity="error", timeout=8)

    # -- actions and commands --------------------------------------------------------------------

    def action_replan(self) -> None:
        if self.session is None:
            self.notify("No session: fix the rules file first (5 Rules).", severity="warning")
            return
        self.load_plan(fresh=True, previous=self.plan)

    async def action_quit(self) -> None:
        if self._quit_when_stopped:
            return  # already stopping
        if not self.apply_running:
            self._plan_stop.set()  # a plan being read ends within a page; nothing of it is saved
            self.exit(0)
            return

        def answered(yes: bool | None) -> None:
            if yes:
                # Never leave a writer behind: the apply stops between two writes, then qbsync quits.
                self._quit_when_stopped = True
                self._apply_stop.set()
                self.busy = "stopping the apply after the current write, then quitting…"

        self.push_screen(Question("An apply is running. Stop it and quit?",
                                  "It stops between two writes, with nothing half recorded. Running the same apply "
                                  "again finishes the rest without writing anything twice."), answered)

    def action_help(self) -> None:
        if isinstance(self.screen, HelpScreen):
            self.pop_screen()
            return
        self.push_screen(HelpScreen(self.screen))

    def get_key_display(self, binding: Binding) -> str:
        display = super().get_key_display(binding)
        return display.upper() if display[:1] == "f" and display[1:].isdigit() else display

    def action_refresh_status(self) -> None:
        self.load_status()

    def action_reload_rules(self) -> None:
        self.reload_rules()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # A dialog is a question: while it is open, keys meant for the screens underneath do nothing.
        if isinstance(self.screen, ModalScreen) and action in ("switch_mode", "replan", "apply", "help"):
            return action == "help" and isinstance(self.screen, HelpScreen)
        if action == "quit" and isinstance(self.screen, Question):
            return False
        return True

    def action_toggle_dark(self) -> None:
        self.theme = "textual-light" if self.current_theme.dark else "textual-dark"

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        """The palette: this screen's commands first, then moving around, then Textual's own."""
        seen: set[str] = set()
        for _key, (node, binding, enabled, _tooltip) in screen.active_bindings.items():
            if node is self or not binding.show or not enabled or binding.action in seen:
                continue
            seen.add(binding.action)
            yield SystemCommand(_title(binding.description), binding.tooltip or binding.description,
                                partial(self.run_action, binding.action, node))
        for mode, title in (("overview", "Overview"), ("review", "Review"), ("apply", "Apply"),
                            ("history", "History"), ("rules", "Rules")):
            yield SystemCommand(f"Go to {title}", f"Switch to the {title} screen", partial(self.switch_mode, mode))
        yield SystemCommand("Re-plan", "Read both sides again and make a new plan", self.action_replan)
        yield SystemCommand("Reload rules", "Read rules.yaml again and re-plan", self.reload_rules)
        yield SystemCommand("Apply…", "Apply the approved actions of the plan (asks first)", self.action_apply)
        yield SystemCommand("Light or dark", "Switch between the light and the dark theme", self.action_toggle_dark)
        yield from super().get_system_commands(screen)


def _title(description: str) -> str:
    return description[:1].upper() + description[1:]


def _is_rules_error(error: Exception) -> bool:
    return isinstance(error, RulesError)


def run_app(rules_path: Path, state_path: str | None) -> int:
    """`qbsync` / `qbsync tui`: open the TUI on `rules_path` (the local APIs with demo data by default)."""
    from engine.sync import SyncSession

    app = QbsyncApp(lambda: SyncSession(rules_path, state_path), rules_path=rules_path)
    result = app.run()
    return int(result or 0)
