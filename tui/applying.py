"""The TUI's engine calls that write: applying a plan, and mapping records by hand.

A mixin of the App: each asks first (a dialog with the exact writes), then runs in a thread worker
that reports progress and outcomes as messages, handled here by name (`on_<message>`).
"""

from __future__ import annotations

import time
from typing import Any

from textual import work

from engine.budgets import duration
from engine.errors import ApprovalsChanged
from engine.review import apply_summary, approvals_digest, newer_plan_said, outcome_of, plan_age_said

from .dialogs.confirm import ConfirmApply
from .dialogs.mapping import NotMapped
from .messages import (
    ActionsApplied,
    ApplyFailed,
    ApplyFinished,
    MappingFailed,
    MappingPlanned,
    UnmappedItemsLoaded,
)

# How often an apply reports progress to the UI: often enough to look live, rarely enough that a
# 100,000-action apply does not flood the message queue.
APPLY_REPORT_EVERY = 0.1


class Applying:
    """Apply (with its confirmation and live progress), map and unmap, the Not-mapped list."""

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
                # What the dialog counted, decisions made since it opened included: another
                # terminal's changes to the plan are not applied unseen (W1).
                self.start_apply(plan.id, retry_failed=retry_failed, confirmed=approvals_digest(plan.actions))

        aged = plan_age_said(self.shown_plan_made())
        notes = [f"This plan was {aged}."] if aged else []
        if self.newer_plan:  # said by the look at the plan elsewhere (Reading.check_plan_elsewhere)
            said = newer_plan_said(self.newer_plan)
            notes.append(f"{said[0].upper()}{said[1:]}: L shows it.")
        self.push_screen(ConfirmApply(title, summary, notes=notes), answered)

    def start_apply(self, plan_id: str, *, retry_failed: bool = False, purpose: str = "plan",
                    confirmed: str | None = None) -> None:
        if purpose == "plan":
            self.apply_running = True
            self.apply_plan_id = plan_id
            # A run reports every action again (done ones as applied), so the list starts afresh.
            self.apply_results = []
            self.apply_report, self.apply_error = None, None
            self.apply_progress = (0, 0)
            self.apply_revision += 1
        self.busy = "applying…" if purpose == "plan" else "applying the mapping…"
        self._apply(plan_id, retry_failed, purpose, confirmed)

    @work(thread=True, exclusive=True, group="apply", exit_on_error=False)
    def _apply(self, plan_id: str, retry_failed: bool, purpose: str, confirmed: str | None) -> None:
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
                try:
                    report = self.session.apply(plan_id, on_result=on_result if purpose == "plan" else None,
                                                retry_failed=retry_failed, stop=self._apply_stop,
                                                on_wait=self._writer_busy, on_cap=self._capped, confirmed=confirmed)
                finally:
                    if self.plan is not None and self.plan.id == plan_id:  # this terminal's apply, not another's
                        self.plan_seen = self.session.plan_revision(plan_id)
        except Exception as exc:
            if batch:
                self.post_message(ActionsApplied(plan_id, list(batch), -1, -1))
            self.post_message(ApplyFailed(plan_id, exc, purpose))
            return
        if batch:
            self.post_message(ActionsApplied(plan_id, list(batch), -1, -1))
        self.post_message(ApplyFinished(plan_id, report, purpose))

    def _capped(self, what: str, seconds_left: float) -> None:
        """From the apply's worker, about once a second while a rate cap is waited out."""
        self.call_from_thread(setattr, self, "busy",
                              f"{what} (in {duration(seconds_left)}; ctrl+q stops between two writes)")

    def on_actions_applied(self, message: ActionsApplied) -> None:
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

    def on_apply_finished(self, message: ApplyFinished) -> None:
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
        if report.already_applied:  # by another terminal, most often, while this one waited for it
            self.apply_revision += 1
            self.notify(f"{report.already_said()} It is shown with its outcomes.", timeout=10)
            self.load_plan(fresh=False, plan_id=message.plan_id)
            self.load_history()
            return
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
        self.load_history()

    def on_apply_failed(self, message: ApplyFailed) -> None:
        self.busy = ""
        if self._quit_when_stopped:
            self.exit(1, message=f"qbsync: the apply stopped: {message.error}")
            return
        if message.purpose == "plan":
            self.apply_running = False
            self.apply_error = message.error
            self.apply_revision += 1
        self._update_status_text()
        if isinstance(message.error, ApprovalsChanged):
            self.notify(f"Not applied: {message.error}. The plan is read again as it is now.", severity="warning",
                        timeout=15)
            self.load_plan(fresh=False, plan_id=message.plan_id)
            return
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

    def on_mapping_planned(self, message: MappingPlanned) -> None:
        summary = apply_summary(message.plan.actions)

        def answered(yes: bool | None) -> None:
            if yes:
                self.start_apply(message.plan.id, purpose="mapping", confirmed=approvals_digest(message.plan.actions))
            else:
                self._mapping_from_list = None
                self.notify("Nothing was changed.", timeout=3)

        self.push_screen(ConfirmApply(message.title, summary, plan=message.plan, notes=message.notes), answered)

    def on_mapping_failed(self, message: MappingFailed) -> None:
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
        self.load_plan(fresh=True)
        self.load_history()
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

    def on_unmapped_items_loaded(self, message: UnmappedItemsLoaded) -> None:
        self.busy = ""

        # Items mapped here that show up unmapped again (unmapped since) no longer count as mapped.
        self.items_mapped -= {str(i["precoro_id"]) for i in message.items}
        # Those the plan links are mapped by applying it: counted in the title, not offered.
        by_hand = [item for item in message.items if not item.get("planned")]
        screen = NotMapped(by_hand, mapped=len(self.items_mapped), query=self.not_mapped_query,
                           planned=len(message.items) - len(by_hand))

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
