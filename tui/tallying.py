"""What the plan under review comes to (engine.review.PlanTally), counted as rarely as possible.

A mixin of the App. A saved plan brings its tally; a decision here makes it out of date, and it is
counted again once per change. The status line and the Overview count a large plan in a worker
(tally_when_counted), so deciding on a plan of 260,000 actions never freezes the screen.
"""

from __future__ import annotations

from typing import Callable

from textual import work

from engine.plan import Plan
from engine.review import PlanTally, Run, tally_of

from .reading import LARGE_PLAN


class Tallying:
    """plan_tally, tally_when_counted and plan_runs of the plan under review, for every screen."""

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

    def tally_when_counted(self, then: Callable[[], None]) -> PlanTally | None:
        """The tally of the plan under review; None while a large plan is counted in a worker,
        and `then` is called once it is (on the UI thread)."""
        plan = self.plan
        assert plan is not None
        key = (id(plan), self.decision_revision)
        if self.counted(key) or len(plan.actions) <= LARGE_PLAN:
            return self.plan_tally()
        if then not in self._tally_then:
            self._tally_then.append(then)
        if self._counting != key:
            self._counting = key
            self._count_in_background(plan, key)
        return None

    def _tally_loaded(self, plan: Plan | None) -> None:
        """A plan is now under review: decisions made here before it was loaded are saved, so the
        tally saved with it is its own."""
        self._tally = (((id(plan), self.decision_revision), PlanTally.from_json(plan.tally))
                       if plan is not None and plan.tally else None)
        self._counting: tuple[int, int] | None = None  # the count under way in a worker
        self._tally_then: list[Callable[[], None]] = []  # called once it is done

    @work(thread=True, group="tally", exit_on_error=False)
    def _count_in_background(self, plan: Plan, key: tuple[int, int]) -> None:
        tally = tally_of(plan.actions)
        self.call_from_thread(self._counted_in_background, plan, key, tally)

    def _counted_in_background(self, plan: Plan, key: tuple[int, int], tally: PlanTally) -> None:
        if self.plan is not plan or key != (id(plan), self.decision_revision):
            return  # more decisions overtook it: whoever shows the tally asks again
        self._tally, self._counting = (key, tally), None
        waiting, self._tally_then = self._tally_then, []
        for then in waiting:
            then()
