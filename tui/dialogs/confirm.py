"""The one gate before anything is written: exactly how many writes go where, then yes or no."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Static

from engine.budgets import cost_of
from engine.plan import Plan
from engine.review import ApplySummary

from ..widgets.cells import SIDE_NAMES, plural
from ..widgets.diff import field_table

OPS = (("create", "created"), ("update", "updated"), ("deactivate", "deactivated"), ("reactivate", "reactivated"))


def summary_table(summary: ApplySummary) -> Table:
    table = Table(box=None, show_header=False, padding=(0, 1), pad_edge=False)
    table.add_column(style="bold", no_wrap=True)
    table.add_column(justify="right", no_wrap=True)
    table.add_column()
    for side, title in (("quickbooks", "QuickBooks"), ("precoro", "Precoro")):
        ops = summary.records[side]
        detail = ", ".join(f"{ops[op]:,} {word}" for op, word in OPS if ops.get(op)) or "nothing"
        table.add_row(title, f"{summary.writes(side):,}", f"{'record' if summary.writes(side) == 1 else 'records'}: {detail}")
    local = []
    if summary.links:
        local.append(plural(summary.links, "link"))
    if summary.unlinks:
        local.append(plural(summary.unlinks, "unlink"))
    table.add_row("qbsync", f"{summary.links + summary.unlinks:,}", (", ".join(local) or "no link changes")
                  + " (no remote write)")
    return table


class ConfirmApply(ModalScreen[bool]):
    """Apply? Cancel is the default; `y` applies."""

    BINDINGS = [
        Binding("y", "answer(True)", "apply", id="confirm.yes", tooltip="Write exactly what this dialog lists"),
        Binding("n,escape", "answer(False)", "cancel", id="confirm.no", tooltip="Close; nothing is written"),
        # The focus stays on Cancel; these scroll what is written when it is longer than the screen.
        Binding("down", "scroll_body(1)", "scroll down", show=False, id="confirm.down", tooltip="Scroll down"),
        Binding("up", "scroll_body(-1)", "scroll up", show=False, id="confirm.up", tooltip="Scroll up"),
        Binding("pagedown", "scroll_body(10)", "page down", show=False, id="confirm.page_down",
                tooltip="Scroll a page down"),
        Binding("pageup", "scroll_body(-10)", "page up", show=False, id="confirm.page_up", tooltip="Scroll a page up"),
    ]

    def __init__(self, title: str, summary: ApplySummary, plan: Plan | None = None,
                 notes: list[str] | None = None) -> None:
        super().__init__()
        self.title_text = title
        self.summary = summary
        self.plan = plan
        self.extra_notes = list(notes or [])
        """Lines said after the plan's own notes (e.g. a free-of-charge item keeps its price, I7)."""

    def compose(self) -> ComposeResult:
        summary = self.summary
        with Vertical(id="dialog"):
            # The question and what is written scroll when longer than the terminal (a mapping's field
            # changes at 80x24); the promise and the buttons stay in sight below them. (The title is in
            # the scrolling part: beside it, a docked foot and `max-height: 1fr` would overlap.)
            with VerticalScroll(id="dialog-body"):
                yield Static(Text(self.title_text, style="bold"), id="dialog-title")
                yield Static(summary_table(summary), id="confirm-writes")
                held = ", ".join(f"{n:,} {why}" for why, n in sorted(summary.held.items(), key=lambda kv: -kv[1]))
                if held:
                    yield Static(Text(f"Not applied: {held}.", style="dim"), id="confirm-held")
                yield from self._changes_and_notes()
            with Vertical(id="dialog-foot"):
                yield Static(Text(self._promise(), style="dim"), id="confirm-promise")
                with Horizontal(id="dialog-buttons"):
                    yield Button("Cancel (n)", id="no", variant="default")
                    yield Button("Apply (y)", id="yes", variant="warning")

    def _promise(self) -> str:
        summary = self.summary
        total = summary.total_writes
        words = (f"{total:,} remote write{'s' if total != 1 else ''}, "
                 f"{cost_of(summary).text()}" if total
                 else "link changes only")
        return f"Nothing is written until you confirm. This makes {words}."

    def _changes_and_notes(self) -> ComposeResult:
        if self.plan is None:
            notes = []
        elif self.plan.purpose == "mapping":
            # Exactly what the mapping writes, in the review's diff pane (I5, I6).
            for action in self.plan.actions:
                table = field_table(action) if action.kind != "link" else None
                if table is not None:
                    yield Static(Text(f"{action.kind} {action.entity} “{action.name}” in "
                                      f"{SIDE_NAMES.get(action.target or '', action.target)}:", style="bold"),
                                 classes="confirm-changes-title")
                    yield Static(table, classes="confirm-changes")
            notes = list(dict.fromkeys(n for a in self.plan.actions for n in (a.note or "").split("; ") if n))
        else:
            notes = [a.note for a in self.plan.actions if a.note][:1]
        notes += self.extra_notes
        if notes:
            yield Static(Text("\n".join(notes), style="italic"), id="confirm-note")

    def on_mount(self) -> None:
        self.query_one("#no", Button).focus()
        self.call_after_refresh(self._say_when_it_scrolls)

    def _say_when_it_scrolls(self) -> None:
        # At 80x24 a mapping's notes may be below the fold: the operator must know there is more.
        if self.query_one("#dialog-body", VerticalScroll).max_scroll_y > 0:
            self.query_one("#confirm-promise", Static).update(
                Text(f"{self._promise()} The list above goes on: ↓ scrolls it.", style="dim"))

    @on(Button.Pressed, "#yes")
    def _yes(self) -> None:
        self.dismiss(True)

    @on(Button.Pressed, "#no")
    def _no(self) -> None:
        self.dismiss(False)

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)

    def action_scroll_body(self, lines: int) -> None:
        self.query_one("#dialog-body", VerticalScroll).scroll_relative(y=lines, animate=False)
