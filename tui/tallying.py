"""What the plan under review comes to (engine.review.PlanTally), counted as rarely as possible.

A mixin of the App. A saved plan brings its tally; a decision here makes it out of date, and it is
counted again once per change. The status line of a large plan counts it in a worker after the keys
stop, so deciding on a plan of 260,000 actions never freezes the screen while it is counted.
"""

from __future__ import annotations

from typing import Any

from textual import work

from engine.plan import Plan
from engine.review import CountKey, PlanTally, Run, action_groups, tally_of


class Tallying:
    """plan_tally, plan_runs and action_groups of the plan under review, for every screen."""

    _tally: tuple[tuple[int, int], PlanTally] | None

    def plan_tally(self) -> PlanTally:
        """review.PlanTally of the plan under review: as saved with it until a decision here changes
        it, then counted once per change."""
        plan = self.plan
        assert plan is not None
        key = (id(plan), self.decision_revision)
        if not self.counted(key):
            self._tally = (key, tally_of(plan.actions))
        return self._tally[1]

    def counted(self, key: tuple[int, int]) -> bool:
        return self._tally is not None and self._tally[0] == key

    def plan_runs(self) -> list[Run]:
        """The runs of entity and kind of the plan under review: decisions never change them, so
        any tally of this plan gives them (a decision does not make the Review list count it again)."""
        if self._tally is not None and self._tally[0][0] == id(self.plan):
            return self._tally[1].runs
        return self.plan_tally().runs

    def action_groups(self) -> dict[CountKey, int]:
        """review.action_groups of the plan under review, with its outcomes."""
        if self.plan is None:
            return {}
        return action_groups(self.plan, self.outcomes) if self.outcomes else self.plan_tally().groups

    def _tally_loaded(self, plan: Plan | None) -> None:
        """A plan is now under review: decisions made here before it was loaded are saved, so the
        tally saved with it is its own."""
        self._tally = (((id(plan), self.decision_revision), PlanTally.from_json(plan.tally))
                       if plan is not None and plan.tally else None)

    @work(thread=True, group="tally", exclusive=True, exit_on_error=False)
    def count_in_background(self, plan: Plan, key: tuple[int, int], then: Any) -> None:
        """Count `plan` as it is at `key` (its decision revision) off the UI thread, then call `then`
        there; a count that more decisions overtook is let go."""
        tally = tally_of(plan.actions)
        self.call_from_thread(self._counted_in_background, plan, key, tally, then)

    def _counted_in_background(self, plan: Plan, key: tuple[int, int], tally: PlanTally, then: Any) -> None:
        if self.plan is plan and key == (id(plan), self.decision_revision):
            self._tally = (key, tally)
            then()
