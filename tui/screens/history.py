"""History: the audit of applied actions, filterable by record, outcome, days and plan, with before/after
and the response."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date
from typing import Any

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Static

from engine.entities import BY_KIND, ENTITIES
from engine.plan import EXECUTABLE, KIND_ORDER
from rules.model import SIDE_NAMES

from ..messages import HistoryFilter
from ..render import minute
from ..widgets.cells import value
from ..widgets.fields import TextField
from ..widgets.rowlist import RowList
from .base import QbsyncScreen

STATUS_STYLE = {"applied": "good", "failed": "bad", "refused": "bad"}
RESPONSE_LINES = 40
FILTERS = Binding.Group("filter", compact=True)
# What `e` and `k` step through: every entity, in the registry's order, and every kind of action an
# apply carries out (what the audit can hold), in the order plans list them.
ENTITY_CHOICES = [spec.kind for spec in ENTITIES]
KIND_CHOICES = sorted(EXECUTABLE, key=KIND_ORDER.__getitem__)


def days_asked(text: str) -> tuple[date | None, date | None]:
    """The days typed in the History bar, as (since, until), both included: `YYYY-MM-DD` is that
    day, `FROM..TO` a range whose either side may be left out, nothing every day. A ValueError
    says what was expected."""
    text = text.strip()
    first, dots, last = text.partition("..")
    if not dots:
        last = first
    try:
        since, until = (date.fromisoformat(day.strip()) if day.strip() else None for day in (first, last))
    except ValueError:
        raise ValueError(f"days: {text!r} is not a day (YYYY-MM-DD) or a range FROM..TO, "
                         "as 2026-11-01..2026-11-30") from None
    if since and until and until < since:
        raise ValueError(f"days: {until} is before {since}")
    return since, until


def nothing_shown(asked: HistoryFilter) -> str:
    """What the list says when the audit holds nothing as asked."""
    if asked == HistoryFilter():
        return "Nothing has been applied yet."
    said = "Nothing failed or was refused" if asked.undone else "Nothing was applied"
    if asked.record:
        said += f" to “{asked.record}”"
    if asked.plan_id:
        said += f" of plan {asked.plan_id}"
    if asked.since or asked.until:
        said += " on those days"
    among = [BY_KIND[asked.entity].plural] if asked.entity else []
    among += [asked.kind] if asked.kind else []
    if among:
        said += f" ({' · '.join(among)})"
    return said + "."


def next_choice(choices: list[str], current: str | None) -> str | None:
    """The choice after `current` (None: every one); after the last, every one again."""
    steps = [None, *choices]
    return steps[(steps.index(current) + 1) % len(steps)] if current in steps else choices[0]


class HistoryList(RowList):
    """One row per audit entry, newest first."""

    def __init__(self, **kwargs) -> None:
        super().__init__(empty="Nothing has been applied yet.", **kwargs)
        self.entries: list[dict[str, Any]] = []

    def show(self, rows: list[dict[str, Any]]) -> None:
        self.entries = rows
        self.set_count(len(rows), 0)

    @property
    def current(self) -> dict[str, Any] | None:
        return self.entries[self.cursor] if self.entries and self.cursor < len(self.entries) else None

    def header_text(self, width: int) -> Text:
        return Text(f" {'when (UTC)':<16} {'status':<8} {'kind':<10} {'side':<10} name")

    def row_text(self, index: int, width: int) -> Text:
        row = self.entries[index]
        text = Text()
        text.append(f" {minute(row.get('at')):<16} ", style=self.style_of("dim"))
        text.append(f"{row.get('status') or '':<8} ", style=self.style_of(STATUS_STYLE.get(row.get("status"), "dim")))
        text.append(f"{row.get('kind') or '':<10} ")
        side = SIDE_NAMES.get(row.get("target")) or ("decided" if row.get("kind") == "conflict" else "qbsync")
        text.append(f"{side:<10} ", style=self.style_of("dim"))
        text.append(str(row.get("name") or ""))
        return text


def describe_entry(row: dict[str, Any]) -> Group:
    parts: list[Any] = []
    title = Text()
    title.append(f"{row.get('status')} {row.get('kind')} ", style="bold")
    title.append(str(row.get("name") or ""), style="bold")
    ids = " ⇄ ".join(f"{side} {row[key]}" for side, key in (("Precoro", "precoro_id"), ("QuickBooks", "quickbooks_id"))
                     if row.get(key))
    title.append(f"   {row.get('entity')} · {ids}", style="dim")
    parts.append(title)
    parts.append(Text(f"{row.get('at')} by {row.get('who')} · plan {row.get('plan_id')} · action {row.get('action_id')}",
                      style="dim"))
    if row.get("reason"):
        parts.append(Text(str(row["reason"]), style="red" if row.get("status") in ("failed", "refused") else None))
    before, after = row.get("before") or {}, row.get("after") or {}
    fields = sorted(set(before) | set(after))
    if fields:
        table = Table(box=None, expand=True, pad_edge=False, padding=(0, 1), header_style="bold")
        table.add_column("field", no_wrap=True)
        table.add_column("before", ratio=1, overflow="fold")
        table.add_column("after", ratio=1, overflow="fold")
        for name in fields:
            table.add_row(Text(name, style="bold"), Text(value(before.get(name))), Text(value(after.get(name))))
        parts.append(table)
    response = row.get("response")
    if response:
        lines = json.dumps(response, indent=2, ensure_ascii=False, default=str).splitlines()
        shown = lines[:RESPONSE_LINES]
        if len(lines) > RESPONSE_LINES:
            shown.append(f"… {len(lines) - RESPONSE_LINES} more lines")
        parts.append(Text("Remote response:", style="bold"))
        parts.append(Text("\n".join(shown), style="dim"))
    return Group(*parts)


class HistoryScreen(QbsyncScreen):
    TAB = "history"
    HELP = (
        "The audit: every applied, failed or refused action with who, when, before/after and the remote "
        "response, newest first. Filter by a record: a Precoro id, a QuickBooks id or part of a name; "
        "by days: d, then a day (2026-11-30) or a range (2026-11-01..2026-11-30, either side may be left "
        "out), in UTC as the audit records them; p shows only the plan on screen; e steps through the "
        "entities and k through the kinds of action, as on the Review screen; f shows only what failed or "
        "was refused (why is in each entry). Escape shows everything again. A long audit is "
        "listed from its latest entries, and the bar says when older ones are left out (qbsync history "
        "--csv exports every one)."
    )

    BINDINGS = [
        Binding("slash", "filter", "record", id="history.filter", key_display="/",
                tooltip="Show only one record's history (Precoro id, QuickBooks id or name)"),
        Binding("d", "days", "days", id="history.days",
                tooltip="Show only some days: a day (YYYY-MM-DD) or a range FROM..TO"),
        Binding("p", "this_plan", "plan", id="history.plan",
                tooltip="Show only what was applied of the plan on screen, or every plan's again"),
        Binding("e", "cycle('entity')", "filter by entity", id="history.filter_entity", group=FILTERS,
                tooltip="Show only one entity's entries: the next entity, or every one again"),
        Binding("k", "cycle('kind')", "filter by kind", id="history.filter_kind", group=FILTERS,
                tooltip="Show only one kind of action: the next kind, or every one again"),
        Binding("f", "undone", "failed only", id="history.undone", group=FILTERS,
                tooltip="Show only what failed or was refused, or everything again"),
        Binding("y", "why", "why?", id="history.why",
                tooltip="This entry's record now: both sides as last read, its link, the plan's actions on it "
                        "(qbsync explain)"),
        Binding("escape", "clear", "show all", id="history.clear",
                tooltip="Show every record, outcome, day, entity and kind again"),
    ]

    def compose_body(self) -> ComposeResult:
        with Horizontal(id="history-bar"):
            yield Static(Text("record ", style="bold"), classes="history-label")
            yield TextField(placeholder="Precoro id, QuickBooks id or name · enter", id="record")
            yield Static(Text("days ", style="bold"), classes="history-label")
            yield TextField(placeholder="YYYY-MM-DD or FROM..TO", id="days")
            yield Static(id="history-note")
        yield HistoryList(id="history")
        with VerticalScroll(id="history-detail"):
            yield Static(id="history-entry")

    def on_mount(self) -> None:
        self.watch(self.app, "history_revision", lambda _revision: self.when_shown(self.redraw), init=False)
        self.redraw()
        self.query_one(HistoryList).focus()

    def on_screen_resume(self) -> None:
        self.app.load_history()

    def redraw(self) -> None:
        asked = self.app.history_filter
        history = self.query_one(HistoryList)
        history.empty = nothing_shown(asked)
        rows = self.app.history_rows
        history.show(rows)
        notes = [f"plan {asked.plan_id} · p: all"] if asked.plan_id else []
        notes += [BY_KIND[asked.entity].plural] if asked.entity else []
        notes += [f"{asked.kind} only"] if asked.kind else []
        notes += ["failed only · f: all"] if asked.undone else []
        if self.app.history_cut:
            notes.append(f"latest {len(rows):,} · d, / narrow")
        self.query_one("#history-note", Static).update(Text(f" {' · '.join(notes)} ", style="bold") if notes else "")
        self._show_entry()

    @on(RowList.Highlighted)
    def _show_entry(self) -> None:
        row = self.query_one(HistoryList).current
        self.query_one("#history-entry", Static).update(describe_entry(row) if row else "")

    def action_why(self) -> None:
        row = self.query_one(HistoryList).current
        if row is None or BY_KIND.get(row["entity"]) is None:
            self.notify("Nothing is highlighted: pick an entry first.", severity="warning")
            return
        side = "precoro" if row.get("precoro_id") else "quickbooks"
        self.app.explain_record(BY_KIND[row["entity"]].section, f"{side}:{row[side + '_id']}")

    def action_filter(self) -> None:
        self.query_one("#record", TextField).focus()

    @on(TextField.Submitted, "#record")
    def _filter_submitted(self, event: TextField.Submitted) -> None:
        self.app.load_history(replace(self.app.history_filter, record=event.value.strip() or None))
        self.query_one(HistoryList).focus()

    def action_days(self) -> None:
        self.query_one("#days", TextField).focus()

    @on(TextField.Submitted, "#days")
    def _days_submitted(self, event: TextField.Submitted) -> None:
        try:
            since, until = days_asked(event.value)
        except ValueError as problem:
            self.notify(str(problem), severity="error", timeout=8)  # the field keeps the text, to mend
            return
        self.app.load_history(replace(self.app.history_filter, since=since, until=until))
        self.query_one(HistoryList).focus()

    def action_this_plan(self) -> None:
        asked, plan = self.app.history_filter, self.app.plan
        if asked.plan_id is None and plan is None:
            self.notify("No plan is open: make one (r) or open one first.", severity="warning")
            return
        self.app.load_history(replace(asked, plan_id=None if asked.plan_id else plan.id))

    def action_cycle(self, name: str) -> None:
        asked = self.app.history_filter
        choices = ENTITY_CHOICES if name == "entity" else KIND_CHOICES
        self.app.load_history(replace(asked, **{name: next_choice(choices, getattr(asked, name))}))

    def action_undone(self) -> None:
        asked = self.app.history_filter
        self.app.load_history(replace(asked, undone=not asked.undone))

    def action_clear(self) -> None:
        for field in self.query(TextField):
            field.value = ""
        self.app.load_history(HistoryFilter())
        self.query_one(HistoryList).focus()
