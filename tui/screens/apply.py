"""Apply: what will be written, a progress bar, each action's outcome as it comes, retry the failed."""

from __future__ import annotations

from typing import Any

from rich.console import Group
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.widgets import ProgressBar, Static

from engine.plan import Action
from engine.review import apply_summary, outcome_of, result_counts

from ..dialogs.confirm import summary_table
from ..widgets.cells import DIRECTION_WIDTH, direction
from ..widgets.rowlist import RowList
from .base import QbsyncScreen

STATUS_MARKS = {"applied": ("✓", "good"), "failed": ("✗", "bad"), "refused": ("⊘", "bad"),
                "skipped": ("–", "dim"), "pending": ("…", "warn")}
PROBLEMS = ("failed", "refused", "pending")


class ResultList(RowList):
    """One row per action outcome, in the order they arrived."""

    def __init__(self, **kwargs) -> None:
        super().__init__(empty="Nothing applied yet. g applies the approved actions of the plan.", **kwargs)
        self.results: list[Any] = []
        self.actions: dict[str, Action] = {}

    def show(self, results: list[Any], actions: dict[str, Action]) -> None:
        follow = self.count == 0 or self.cursor >= self.count - 1
        self.results, self.actions = results, actions
        self.set_count(len(results), len(results) - 1 if follow else self.cursor)

    @property
    def current(self) -> Any:
        return self.results[self.cursor] if self.results and self.cursor < len(self.results) else None

    def header_text(self, width: int) -> Text:
        return Text(f"  {'status':<8} {'kind':<10} {'P  ─  Q':<{DIRECTION_WIDTH}}  name / reason")

    def row_text(self, index: int, width: int) -> Text:
        result = self.results[index]
        glyph, style = STATUS_MARKS.get(result.status, ("?", "warn"))
        text = Text()
        text.append(f"{glyph} {result.status:<8} ", style=self.style_of(style))
        text.append(f"{result.kind:<10} ")
        action = self.actions.get(result.id)
        text.append(f"{direction(action) if action else '':<{DIRECTION_WIDTH}}  ", style=self.style_of("dim"))
        text.append(result.name)
        if result.reason and result.status != "applied":
            text.append(f"  {result.reason}", style=self.style_of("bad" if result.status in PROBLEMS else "dim"))
        return text


class ApplyScreen(QbsyncScreen):
    TAB = "apply"
    HELP = (
        "Applies the approved actions of the plan under review, after a dialog that states exactly how many "
        "records are written on each side. Outcomes arrive live: ✓ applied, ✗ failed (with the QuickBooks "
        "error code or the Precoro message), ⊘ refused because the record changed since the plan (make a new "
        "plan), · skipped. An interrupted apply can be run again: nothing is written twice."
    )

    BINDINGS = [
        Binding("g", "app.apply", "apply…", id="apply.start",
                tooltip="Apply the approved actions (a dialog states every write first)"),
        Binding("f", "app.apply(True)", "retry failed…", id="apply.retry",
                tooltip="Apply the failed actions again (after fixing their cause)"),
        Binding("e", "only_problems", "only problems", id="apply.only_problems",
                tooltip="Show only failed, refused and pending actions, or everything"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.only_problems = False
        self.actions: dict[str, Action] = {}
        self._actions_of: Any = None

    def compose_body(self) -> ComposeResult:
        yield Static(id="apply-plan")
        with Horizontal(id="apply-progress-row"):
            yield ProgressBar(total=None, show_eta=False, id="apply-progress")
            yield Static(id="apply-counts")
        yield ResultList(id="results")
        yield Static(id="result-detail")

    def on_mount(self) -> None:
        self.watch(self.app, "apply_revision", lambda _revision: self.when_shown(self.redraw), init=False)
        self.watch(self.app, "decision_revision", lambda _revision: self.when_shown(self.plan_changed), init=False)
        self.watch(self.app, "plan_revision", lambda _revision: self.when_shown(self.plan_changed), init=False)
        self.redraw()
        self.query_one(ResultList).focus()

    def plan_changed(self) -> None:
        plan = self.app.plan
        if plan is not None and (not self.actions or self._actions_of is not plan):
            self.actions = {a.id: a for a in plan.actions}
            self._actions_of = plan
        if not self.app.apply_running:
            self._draw_plan()

    def _draw_plan(self) -> None:
        app = self.app
        plan = app.plan
        box = self.query_one("#apply-plan", Static)
        if plan is None:
            box.update("No plan yet.")
            return
        summary = apply_summary(plan.actions)
        title = Text(f"Plan {plan.id}", style="bold")
        title.append(f" · {len(plan.actions):,} actions · {summary.actions:,} approved and ready:", style="dim")
        if app.apply_error is not None:
            title.append(f"\nThe last apply did not run: {app.apply_error}", style="bold red")
        box.update(Group(title, summary_table(summary)))

    def redraw(self) -> None:
        app = self.app
        done, total = app.apply_progress
        bar = self.query_one(ProgressBar)
        if total > 0:
            bar.update(total=total, progress=done)
        elif app.apply_report is None and not app.apply_running:
            bar.update(total=None, progress=0)
        results = app.apply_results
        if self.only_problems:
            results = [r for r in results if r.status in PROBLEMS]
        self.plan_changed()
        self.query_one(ResultList).show(results, self.actions)
        counts = result_counts(outcome_of(r) for r in app.apply_results)
        words = " · ".join(f"{STATUS_MARKS.get(s, ('?',))[0]} {counts[s]:,} {s}" for s in STATUS_MARKS if counts.get(s))
        report = app.apply_report
        if app.apply_running or report is None:
            state = "applying…" if app.apply_running else ""
        else:  # an apply that found the plan applied already (by another terminal) ran nothing: it says so
            state = "stopped early" if report.stopped else report.already_said() if report.already_applied else "finished"
        self.query_one("#apply-counts", Static).update(Text(f"{words}  {state}".strip(), no_wrap=True,
                                                            overflow="ellipsis"))
        self._show_result()

    @on(RowList.Highlighted)
    def _show_result(self) -> None:
        result = self.query_one(ResultList).current
        detail = self.query_one("#result-detail", Static)
        if result is None:
            detail.update("")
            return
        text = Text()
        text.append(f"{result.status} ", style="bold")
        text.append(f"{result.kind} {result.name}", style="bold")
        text.append(f"  id {result.id}", style="dim")
        if result.reason:
            text.append("\n" + result.reason, style="red" if result.status in PROBLEMS else None)
        stopped = getattr(self.app.apply_report, "stopped", None)
        if stopped:
            text.append("\n" + stopped, style="bold")
        detail.update(text)

    def action_only_problems(self) -> None:
        self.only_problems = not self.only_problems
        self.redraw()
