"""The TUI's engine calls that read: the session, the status, the plan to review, history, rules.

A mixin of the App: each call runs in a thread worker and answers with a message (tui.messages),
handled here by name (`on_<message>`). The App holds the state these fill in.
"""

from __future__ import annotations

import gc
from pathlib import Path
from typing import Any

from textual import work

from engine.review import ERROR_OUTCOMES
from rules import RulesError

from .dialogs.explained import Explained
from .dialogs.runs import RunsDialog
from .messages import (
    HistoryFilter,
    HistoryLoaded,
    PlanChangedElsewhere,
    PlanJudged,
    PlanLoaded,
    PlanningFailed,
    PlanProgressed,
    RecordExplained,
    RulesRefused,
    RulesReloaded,
    RunsListed,
    SessionFailed,
    SessionOpened,
    StateFileReopened,
    StatusLoaded,
)
from .render import explained_text

# Above this many actions, a plan is a million long-lived objects (see on_plan_loaded).
LARGE_PLAN = 20_000
EXPLAIN_HISTORY = 5  # the audit entries y's story shows of a record (History lists every one)
SHOWN_RUNS = 50  # the runs u lists (`qbsync runs --all` prints every one kept)


class Reading:
    """Opening the session, reading the status, the plan to review, the history and the rules."""

    holds: dict[str, str] | None = None  # what a run would hold of the plan on screen (None: being asked)
    holds_key: tuple[str, int, int] | None = None  # the plan, its revisions, `holds` was asked for

    @work(thread=True, exclusive=True, group="session", exit_on_error=False)
    def open_session(self) -> None:
        try:
            session = self._session_factory()
        except Exception as exc:  # an invalid rules file is the usual reason; the Rules screen shows it
            self.post_message(SessionFailed(exc))
        else:
            self.post_message(SessionOpened(session))

    def on_session_opened(self, message: SessionOpened) -> None:
        if self.rules_error is not None:
            self.clear_notifications()  # the error said of the file is old news (an error toast outlives others)
            self.notify("The rules file is valid now; reading the plan.", timeout=4)
        self.session = message.session
        self.rules_path = Path(getattr(self.session, "rules_path", self.rules_path))
        self._rules_mtime = self._mtime()
        self.rules_error = None
        self.rules_revision += 1
        self.busy = ""
        self.load_plan(fresh=False, announce=False)

    def on_session_failed(self, message: SessionFailed) -> None:
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

    def on_status_loaded(self, message: StatusLoaded) -> None:
        self.status = message.status
        self.last_sync = message.last_sync
        self.status_revision += 1
        self._update_status_text()  # with no plan, the status line says what comes first (render.no_plan_said)
        if held_count(message.status) and self.plan is not None and not self.opened_waiting:
            self.opened_waiting = True  # U3: open on what waits, once; the operator goes where they like after
            self.call_later(self.action_waiting)

    @work(thread=True, exclusive=True, group="plan", exit_on_error=False)
    def load_plan(self, fresh: bool, announce: bool = True, full: bool = False, plan_id: str | None = None) -> None:
        """Show the latest saved plan (or `plan_id`), or make one (`fresh`, or when there is none
        yet; `full`: reading every record of both sides, not only what changed)."""
        session = self.session
        if session is None:
            return
        self.call_from_thread(setattr, self, "busy", "making a plan: reading both sides…" if fresh else "loading the plan…")

        def progress(what: str, done: int, total: int | None) -> None:
            self.post_message(PlanProgressed(what, done, total))

        def waiting_for_cap(what: str, seconds_left: float) -> None:
            from engine.budgets import duration

            self.call_from_thread(setattr, self, "busy", f"making a plan: {what} (in {duration(seconds_left)})…")

        self._plan_stop.clear()
        made = fresh
        try:
            with self._engine:
                self._write_pending()
                self.unfinished = session.unfinished_apply()
                plan, outcomes = (None, {}) if fresh else \
                    session.plan_with_outcomes(plan_id) if plan_id else session.plan_to_review()
                made = plan is None
                if plan is None:
                    self.call_from_thread(setattr, self, "busy", "making a plan: reading both sides…")
                    plan = session.plan(progress=progress, stop=self._plan_stop, on_wait=self._writer_busy, full=full,
                                        on_cap=waiting_for_cap)
                revision = session.plan_revision(plan.id)
        except Exception as exc:
            self.post_message(PlanningFailed(exc, making=made))
            return
        self.post_message(PlanLoaded(plan, outcomes, made and announce, revision))

    def _writer_busy(self, holder: Any) -> None:
        """W7, from a worker: another qbsync holds the state file; say whom we wait for."""
        who = holder.describe() if holder else "another qbsync"
        self.call_from_thread(setattr, self, "busy", f"waiting for {who} to finish with this state file…")

    def on_plan_progressed(self, message: PlanProgressed) -> None:
        count = f" {message.done:,}" + (f"/{message.total:,}" if message.total else "") if message.done else ""
        self.busy = f"making a plan: {message.what}{count}…"

    def on_plan_loaded(self, message: PlanLoaded) -> None:
        if len(message.plan.actions) > LARGE_PLAN:
            # A big plan is a million long-lived objects; without this, every full collection of
            # Python's cyclic GC walks them all and the UI stutters (opening the review took three
            # times as long). Plans hold no reference cycles, so a replaced plan is still freed.
            gc.freeze()
        self.plan = message.plan
        self.outcomes = message.outcomes
        self.plan_seen = message.revision
        if message.made or self.newer_plan == message.plan.id:
            self.newer_plan = None
        self.busy = ""
        if self.apply_plan_id != message.plan.id and not self.apply_running:
            self.apply_results, self.apply_report, self.apply_error = [], None, None
            self.apply_progress = (0, 0)
            self.apply_plan_id = message.plan.id
            self.apply_revision += 1
        self._plan_changed()
        self.plan_revision += 1
        if message.made and message.plan.unchanged:
            self.notify(f"Nothing changed in either company since plan {message.plan.id} was made: it is still "
                        "the plan to review.", timeout=4)
        elif message.made:
            self.notify(f"New plan {message.plan.id}: {len(message.plan.actions):,} actions.", timeout=3)
        if self.unfinished and self.unfinished["plan_id"] == message.plan.id:
            self.notify(f"The last apply of plan {message.plan.id} was {self.unfinished['state']} (started "
                        f"{self.unfinished['started_at']} by {self.unfinished['who']}). Press g to finish it: nothing "
                        "is written twice.", severity="warning", timeout=20)
        self.load_status()

    def on_planning_failed(self, message: PlanningFailed) -> None:
        self.busy = ""
        self._update_status_text()
        if _is_rules_error(message.error):
            self.rules_error = message.error
            self.rules_revision += 1
        self.notify(f"{'Planning' if message.making else 'Loading the plan'} failed: {message.error}", severity="error",
                    timeout=10)
        self.load_status()

    def shown_plan_made(self) -> dict[str, Any]:
        """What the status says of the plan on screen (SyncSession.plan_made: its state, its age) when
        it is the latest plan; {} otherwise."""
        latest = (self.status or {}).get("latest_plan") or {}
        return latest if self.plan is not None and latest.get("id") == self.plan.id else {}

    # -- another terminal ----------------------------------------------------------------------

    def check_plan_elsewhere(self) -> None:
        """Every few seconds (watch_plan): whether another terminal changed the plan on screen. Not
        while this one is busy with it, nor with its own changes still being saved."""
        plan = self.plan
        if plan is None or self.session is None or self.busy or self.apply_running or self._pending \
                or self._flushing or self.plan_seen is None:
            return
        self._plan_elsewhere(plan.id, self.plan_seen)

    @work(thread=True, exclusive=True, group="plan-watch", exit_on_error=False)
    def _plan_elsewhere(self, plan_id: str, seen: int) -> None:
        if not self._engine.acquire(blocking=False):
            return  # busy with the engine: the next look
        try:
            if self.session.reopen_if_replaced():
                self.post_message(StateFileReopened(str(getattr(self.session, "state_path", ""))))
                return
            revision = self.session.plan_revision(plan_id)
            latest = self.session.latest_plan_id()
        finally:
            self._engine.release()
        if revision != seen or latest not in (plan_id, self.newer_plan):
            self.post_message(PlanChangedElsewhere(plan_id, revision, latest))

    def on_plan_changed_elsewhere(self, message: PlanChangedElsewhere) -> None:
        if self.plan is None or self.plan.id != message.plan_id or self.busy:
            return
        newer = message.latest if message.latest not in (None, message.plan_id) else None
        if newer is not None and newer != self.newer_plan:
            self.newer_plan = newer  # said once; L shows it when the operator is ready (no switch underfoot)
            self.status_revision += 1  # the Overview names it beside the plan on screen
            if message.revision >= 0:
                self.notify(f"A newer plan, {newer}, was made in another terminal or by an unattended run. L shows "
                            f"it; plan {message.plan_id} stays on screen until then.", timeout=20)
        if self.plan_seen == message.revision:
            return
        self.plan_seen = message.revision  # one notice per change, however long the reading takes
        if message.revision < 0:
            # Not read again: a new plan reads both sides, which the operator asks for (r) when ready.
            then = f"L shows the latest plan, {newer}; r makes a new one" if newer else "r makes a new plan"
            self.notify(f"Plan {message.plan_id} can no longer be applied: another plan was applied since it was "
                        f"made, or newer plans replaced it a day ago (W6). {then}.", severity="warning", timeout=20)
            return
        self.notify(f"Plan {message.plan_id} was changed in another terminal (approvals, decisions or an apply): it "
                    "is shown as it now is.", severity="warning", timeout=8)
        self.load_plan(fresh=False, plan_id=message.plan_id)
        self.load_history()  # an apply there added to the audit the History screen lists

    def on_state_file_reopened(self, message: StateFileReopened) -> None:
        # W7: what this TUI saved in the old file since is gone with it; nothing is written to it again.
        self.notify(f"The state file {message.path} was deleted or replaced by another process: qbsync opened it "
                    "again as it now is, and shows its plan (or makes one).", severity="error", timeout=20)
        self.plan_seen, self.newer_plan = None, None
        self.load_plan(fresh=False)

    def action_latest_plan(self) -> None:
        """L: show the latest plan, when another terminal or an unattended run made one after that on screen."""
        if self.session is None or self.busy:
            return
        if self.newer_plan is None:
            shown = f"plan {self.plan.id} is the latest plan" if self.plan is not None else "there is no plan yet"
            self.notify(f"Nothing newer: {shown}. r makes a new plan.", timeout=4)
            return
        # Takes the place of the notice that announced it (one toast at a time): it is old news now.
        self.notify(f"Showing plan {self.newer_plan}, the latest.", timeout=4)
        self.load_plan(fresh=False, plan_id=self.newer_plan)

    # -- history-----------------------------------------------------------------------------

    @work(thread=True, exclusive=True, group="history", exit_on_error=False)
    def load_history(self, asked: HistoryFilter | None = None) -> None:
        """The audit as `asked` (None: as the History screen shows it now)."""
        if self.session is None:
            return
        asked = asked or self.history_filter
        try:
            with self._engine:
                # One more than is listed: only then is the audit known to be cut.
                rows = self.session.history(record=asked.record, limit=self.history_limit + 1,
                                            statuses=sorted(ERROR_OUTCOMES) if asked.undone else (),
                                            since=asked.since, until=asked.until, plan_id=asked.plan_id,
                                            entity=asked.entity, kind=asked.kind)
        except Exception as exc:
            self.call_from_thread(self.notify, f"Could not read the history: {exc}", severity="error")
            return
        self.post_message(HistoryLoaded(rows[:self.history_limit], asked, cut=len(rows) > self.history_limit))

    def on_history_loaded(self, message: HistoryLoaded) -> None:
        self.history_rows = message.rows
        self.history_cut = message.cut
        self.history_filter = message.asked
        self.history_revision += 1

    # -- one record's story (y in Review) ---------------------------------------------------------

    @work(thread=True, exclusive=True, group="explain", exit_on_error=False)
    def explain_record(self, entity: str, record: str, live: bool = False) -> None:
        """`qbsync explain` of one record, for the Explained dialog: from the state file only, or
        (`live`) its two sides read now."""
        if self.session is None:
            return
        try:
            with self._engine:
                said = self.session.explain(entity, record, history=EXPLAIN_HISTORY, live=live)
        except Exception as exc:
            self.post_message(RecordExplained(None, exc))
        else:
            self.post_message(RecordExplained(said, asked=(entity, record)))

    def on_record_explained(self, message: RecordExplained) -> None:
        if message.error is not None:
            self.notify(f"Could not tell this record's story: {message.error}", severity="error")
            return
        said = message.said
        story = explained_text(said).split("\n", 1)
        entity, record = message.asked
        shown = Explained(f"Why · {story[0]}", story[1] if len(story) > 1 else "", entity=entity, record=record,
                          live=said["live"], can_read_now=said["readable_now"])
        if isinstance(self.screen, Explained):  # read again now: the same record, its fresher story
            self.switch_screen(shown)
        else:
            self.push_screen(shown)

    # -- unattended runs (u on the Overview) ------------------------------------------------------

    @work(thread=True, exclusive=True, group="runs", exit_on_error=False)
    def list_runs(self) -> None:
        """The latest runs, for the Runs dialog (`qbsync runs`)."""
        if self.session is None:
            return
        try:
            with self._engine:
                runs = self.session.runs(limit=SHOWN_RUNS)
        except Exception as exc:
            self.post_message(RunsListed(None, exc))
        else:
            self.post_message(RunsListed(runs))

    def on_runs_listed(self, message: RunsListed) -> None:
        if message.error is not None:
            self.notify(f"Could not read the runs: {message.error}", severity="error")
            return
        self.push_screen(RunsDialog(message.runs))

    # -- what a run would hold (the Review's filter) ---------------------------------------------

    def holds_of_plan(self) -> dict[str, str] | None:
        """U2: what `qbsync run` would hold of the plan on screen, were it run now (action id -> why);
        None while the policy is being asked, once per plan and state of its decisions."""
        if self.plan is None:
            return {}
        key = (self.plan.id, self.plan_revision, self.decision_revision)  # read again (another terminal), decided
        if self.holds_key != key:
            if self.holds_key is None or self.holds_key[0] != key[0]:
                self.holds = None  # another plan; the same one's answer stands until the new one comes
            self.holds_key = key
            self.judge_plan(key)
        return self.holds

    @work(thread=True, exclusive=True, group="holds", exit_on_error=False)
    def judge_plan(self, key: tuple[str, int, int]) -> None:
        try:
            with self._engine:
                self._write_pending(key[0])  # the decisions on screen first: they change what a run holds
                holds, error = self.session.would_hold(key[0]), None
        except Exception as exc:
            holds, error = {}, exc
        self.post_message(PlanJudged(key, holds, error))

    def on_plan_judged(self, message: PlanJudged) -> None:
        if message.key != self.holds_key:
            return  # another plan, or other decisions, since: asked again
        if message.error is not None:
            self.notify(f"Could not ask the policy what a run would hold: {message.error}", severity="error")
            self.holds_key = None  # asked again when the view is drawn again, not at once
            return
        self.holds = message.holds
        self.holds_revision += 1

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

    def on_rules_reloaded(self) -> None:
        if self.rules_error is not None:
            self.clear_notifications()  # as when a session opens on a mended file
        self.rules_error = None
        self.rules_revision += 1
        self.notify("Rules reloaded; making a new plan.", timeout=3)
        self.load_plan(fresh=True)

    def on_rules_refused(self, message: RulesRefused) -> None:
        self.rules_error = message.error
        self.rules_revision += 1
        self._update_status_text()
        self.notify("The rules file has problems; the rules in force did not change. See 5 Rules.",
                    severity="error", timeout=8)


def held_count(status: dict | None) -> int:
    """How many actions unattended runs hold for review (U3), from the engine's status."""
    return int(((status or {}).get("unattended") or {}).get("held") or 0)


def _is_rules_error(error: Exception) -> bool:
    return isinstance(error, RulesError)
