"""What the plan under review comes to (engine.review.PlanTally), counted as rarely as possible.

A mixin of the App. A saved plan brings its tally; a decision or an apply's progress here makes it
out of date, and it is counted again once per change. The status line and the Overview count a
large plan in a worker (tally_when_counted), so deciding on a plan of 260,000 actions, or applying
it, never freezes the screen.
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
        """review.PlanTally of the plan under review, its groups with the outcomes of its applies:
        as saved with it until a decision or an apply here changes it, then counted once per change."""
        plan = self.plan
        assert plan is not None
        key = self._revision()
        if not self.counted(key):
            self._tally = (key, tally_of(plan.actions, self.outcomes))
        return self._tally[1]

    def counted(self, key: tuple[int, int]) -> bool:
        return self._tally is not None and self._tally[0] == key

    def counted_now(self) -> bool:
        """The plan under review is counted as it is now (plan_tally costs nothing)."""
        return self.counted(self._revision())

    def _revision(self) -> tuple[int, int]:
        """The plan under review as it is now: which plan, and how many changes it has seen here."""
        return id(self.plan), self.decision_revision

    def _latest(self) -> PlanTally | None:
        """The last count of the plan under review, maybe a change or more behind."""
        return self._tally[1] if self._tally is not None and self._tally[0][0] == id(self.plan) else None

    def plan_runs(self) -> list[Run]:
        """The runs of entity and kind of the plan under review: decisions never change them, so
        any tally of this plan gives them (a decision does not make the Review list count it again)."""
        latest = self._latest()
        return latest.runs if latest is not None else self.plan_tally().runs

    def tally_when_counted(self, then: Callable[[], None], *, latest: bool = False) -> PlanTally | None:
        """The tally of the plan under review; while a large plan is counted in a worker, None (or
        with `latest`, its last count, a change or more behind), and `then` is called on the UI
        thread once the count is done. One count runs at a time: an apply's progress changes the
        plan's counts several times a second, each count of 260,000 actions takes about one."""
        plan = self.plan
        assert plan is not None
        if self.counted_now() or len(plan.actions) <= LARGE_PLAN:
            return self.plan_tally()
        if then not in self._tally_then:
            self._tally_then.append(then)
        if self._counting is None:
            self._counting = self._revision()
            self._count_in_background(plan, self._counting, dict(self.outcomes))
        return self._latest() if latest else None

    def _tally_loaded(self, plan: Plan | None) -> None:
        """A plan is now under review: decisions made here before it was loaded are saved, so the
        tally it came with is its own (its groups with the outcomes it came with)."""
        self._tally = (self._revision(), PlanTally.from_json(plan.tally)) if plan is not None and plan.tally else None
        self._counting: tuple[int, int] | None = None  # the count under way in a worker
        self._tally_then: list[Callable[[], None]] = []  # called once it is done

    @work(thread=True, group="tally", exit_on_error=False)
    def _count_in_background(self, plan: Plan, key: tuple[int, int], outcomes: dict) -> None:
        tally = tally_of(plan.actions, outcomes)
        self.call_from_thread(self._counted_in_background, plan, key, tally)

    def _counted_in_background(self, plan: Plan, key: tuple[int, int], tally: PlanTally) -> None:
        if self.plan is not plan:
            return  # another plan is under review: its counts are asked for anew
        self._counting = None
        if self._latest() is None or self._tally[0][1] <= key[1]:
            self._tally = (key, tally)  # this plan's latest count, even when changes overtook it
        # Everyone waiting asks again: an overtaken count starts the next one (tally_when_counted).
        waiting, self._tally_then = self._tally_then, []
        for then in waiting:
            then()
