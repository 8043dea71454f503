"""The TUI's approvals and decisions: shown at once, written to the state file in a worker.

A mixin of the App. A keypress changes the action on screen and queues the change; one worker
writes what is queued (the last word per action wins), so approving 100,000 rows stays instant.
What a decision means (taking a side approves) is the engine's rule, not the screen's.
"""

from __future__ import annotations

from typing import Iterable

from textual import work

from engine.plan import Action
from engine.review import approval_after

from .messages import DecisionsFailed, DecisionsSaved


class Deciding:
    """Approve, skip and decide, on screen now and in the state file soon after."""

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

    def decide(self, conflicts: Iterable[Action], decision: str) -> None:
        """Decide conflicts (precoro, quickbooks or skip); the engine says what it does to approval."""
        with self._pending_lock:
            for action in conflicts:
                action.decision = decision
                action.approved = approval_after(decision, action.approved)
                self._pending.setdefault(action.id, {})["decision"] = decision
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
                # Alike together, in one write each: taking a side of 10,000 conflicts shown is one.
                decisions: dict[str, list[str]] = {}
                approvals: dict[bool, list[str]] = {True: [], False: []}
                for action_id, change in batch.items():
                    if "decision" in change:
                        decisions.setdefault(change["decision"], []).append(action_id)
                    if "approved" in change:
                        approvals[change["approved"]].append(action_id)
                for decision, ids in decisions.items():
                    self.session.decide_all(ids, decision, plan_id)
                for approved, ids in approvals.items():
                    if ids:
                        self.session.approve(ids, approved, plan_id)
                saved += len(batch)
                if self.plan is not None and plan_id == self.plan.id:
                    # These changes are this terminal's own: not "changed elsewhere" (check_plan_elsewhere).
                    self.plan_seen = self.session.plan_revision(plan_id)
            except Exception:
                with self._pending_lock:
                    self._flushing = False
                raise

    def on_decisions_saved(self, message: DecisionsSaved) -> None:
        self.log(f"{message.count} decisions saved")

    def on_decisions_failed(self, message: DecisionsFailed) -> None:
        self.notify(f"Could not save a decision: {message.error}. The plan was read back.", severity="error",
                    timeout=10)
        self.load_plan(fresh=False)
