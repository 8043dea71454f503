"""The detail pane: one action's field-level diff, with the direction of every write spelled out.

Columns are always Precoro | last synced | QuickBooks, left to right as in the list's arrows. The
column that will be written shows `current → new`; a column that is only read shows its value.
"""

from __future__ import annotations

from typing import Mapping

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from textual.containers import VerticalScroll
from textual.widgets import Static

from engine.plan import Action
from engine.review import Outcome

from .cells import MARKS, SIDE_NAMES, direction, ids, mark, sentence, value

ARROW = " → "


def _written_side(action: Action) -> str | None:
    if action.kind in ("create", "update"):
        return action.target
    if action.kind == "conflict" and action.decision in ("precoro", "quickbooks"):
        return "quickbooks" if action.decision == "precoro" else "precoro"
    return None


def _cell(current, new, written: bool) -> Text:
    if not written:
        return Text(value(current))
    text = Text()
    if current not in (None, "", ()):
        text.append(value(current), style="strike dim")
        text.append(ARROW)
    else:
        text.append("+ ", style="bold")
    text.append(value(new), style="bold")
    return text


def field_table(action: Action) -> Table | None:
    if not action.changes:
        return None
    written = _written_side(action)
    show_baseline = any(c.baseline not in (None, "", ()) for c in action.changes)
    table = Table(box=None, expand=True, pad_edge=False, show_edge=False, padding=(0, 1),
                  header_style="bold")
    table.add_column("field", no_wrap=True, ratio=None)
    labels = {side: SIDE_NAMES[side] + (" ✎" if side == written else "") for side in ("precoro", "quickbooks")}
    table.add_column(labels["precoro"], ratio=2 if written == "precoro" else 1, overflow="fold")
    if show_baseline:
        table.add_column("last synced", ratio=1, overflow="fold", style="dim")
    table.add_column(labels["quickbooks"], ratio=2 if written == "quickbooks" else 1, overflow="fold")
    for change in action.changes:
        if action.kind == "conflict":  # the decided side's value goes to the other side
            new = change.precoro if written == "quickbooks" else change.quickbooks
        else:
            new = change.after
        precoro_current = change.before if written == "precoro" and action.kind != "conflict" else change.precoro
        quickbooks_current = change.before if written == "quickbooks" and action.kind != "conflict" else change.quickbooks
        if action.kind == "create":
            precoro_current = change.precoro if written == "quickbooks" else None
            quickbooks_current = change.quickbooks if written == "precoro" else None
        cells = [Text(change.field, style="bold"),
                 _cell(precoro_current, new, written == "precoro")]
        if show_baseline:
            cells.append(Text(value(change.baseline)))
        cells.append(_cell(quickbooks_current, new, written == "quickbooks"))
        table.add_row(*cells)
    return table


def describe(action: Action, outcome: Outcome | None = None,
             others: Mapping[str, Action] | None = None, held: str | None = None) -> RenderableType:
    """Everything a reviewer needs to decide on one action; `held`: why a run would hold it."""
    parts: list[RenderableType] = []
    state = mark(action, outcome)
    title = Text(no_wrap=True, overflow="ellipsis")
    title.append(f"{MARKS[state][0]} {action.kind}  ", style="bold")
    title.append(action.name, style="bold")
    title.append(f"  · {action.entity} · {ids(action)}", style="dim")
    parts.append(title)
    line = Text()
    line.append(direction(action) + "  ", style="bold")
    line.append(sentence(action))
    parts.append(line)
    if held is not None:  # what the view of what a run would hold is about: first, before the fields
        parts.append(Text(f"A run would hold it: {held}", style="bold"))
    table = field_table(action)
    if table is not None:
        parts.append(table)
    for change in action.changes:
        if change.note:
            parts.append(Text(f"⚠ {change.field}: {change.note}", style="italic"))
    if action.candidates:
        parts.append(Text("Candidates (m picks one):", style="bold"))
        for number, candidate in enumerate(action.candidates, 1):
            currencies = ", ".join(candidate.get("currencies") or [])
            parts.append(Text(f"  {number}. QuickBooks {candidate['quickbooks_id']}  {value(candidate.get('name'))!s}"
                              + (f"  ({currencies})" if currencies else "")))
    if action.note:
        parts.append(Text(action.note, style="italic dim"))
    if action.depends_on:
        named = [f"{others[d].kind} {others[d].name}" if others and d in others else f"action {d}"
                 for d in action.depends_on]
        parts.append(Text(f"Runs after: {', '.join(named)} (skipped if that is skipped)", style="dim"))
    parts.append(Text(f"{MARKS[state][1]} · action {action.id}", style="dim"))
    if outcome is not None and outcome.status not in ("skipped", "pending"):
        style = "bold red" if outcome.status in ("failed", "refused") else "green"
        text = Text(f"Last apply: {outcome.status}", style=style)
        if outcome.reason:
            text.append(f": {outcome.reason}")
        parts.append(text)
    return Group(*parts)


class ActionDetail(VerticalScroll, can_focus=True):
    """The selected action, explained."""

    DEFAULT_CSS = """
    ActionDetail { height: auto; }
    ActionDetail > Static { width: 1fr; height: auto; padding: 0 1; }
    """

    def compose(self):
        yield Static("Select an action to see what it changes.", id="detail-body")

    def show(self, action: Action | None, outcome: Outcome | None = None,
             others: Mapping[str, Action] | None = None, held: str | None = None) -> None:
        body = self.query_one("#detail-body", Static)
        if action is None:
            body.update("Select an action to see what it changes.")
        else:
            body.update(describe(action, outcome, others, held))
        self.scroll_home(animate=False)
