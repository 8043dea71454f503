"""The plan's actions as a virtual table, grouped by entity and kind."""

from __future__ import annotations

from typing import Mapping, Sequence

from rich.text import Text

from engine.plan import Action
from engine.review import Outcome, ReviewRows

from .cells import DIRECTION_WIDTH, ENTITY_TITLES, MARKS, direction, fit, mark, plural, what
from .rowlist import RowList

MARK_STYLES = {"approved": "good", "skipped": "dim", "decide": "warn", "problem": "bad", "done": "dim"}
KIND_WIDTH = 10


class ActionTable(RowList):
    """One row per action; a header row before each entity/kind run. Rows are drawn on demand."""

    def __init__(self, **kwargs) -> None:
        super().__init__(empty="No actions match. esc clears the filters.", **kwargs)
        self.actions: Sequence[Action] = ()
        self.rows = ReviewRows()
        self.outcomes: Mapping[str, Outcome] = {}
        self.why: Mapping[str, str] = {}

    def show(self, actions: Sequence[Action], rows: ReviewRows, outcomes: Mapping[str, Outcome],
             keep: str | None = None, why: Mapping[str, str] | None = None) -> None:
        """Show `rows` of `actions`; keep the cursor on action id `keep` when it is still listed.
        `why`: what the last column says of an action instead of its fields (why a run would hold it)."""
        self.actions, self.rows, self.outcomes, self.why = actions, rows, outcomes, why or {}
        cursor = 0
        if keep is not None:
            for position, index in enumerate(rows.rows):
                if index >= 0 and actions[index].id == keep:
                    cursor = position
                    break
            else:
                cursor = min(self.cursor, max(0, len(rows.rows) - 1))
        self.set_count(len(rows.rows), cursor)

    @property
    def current(self) -> Action | None:
        if not self.count or self.cursor >= len(self.rows.rows):
            return None
        index = self.rows.rows[self.cursor]
        return self.actions[index] if index >= 0 else None

    def visible_actions(self) -> list[Action]:
        return [self.actions[i] for i in self.rows.rows if i >= 0]

    def selectable(self, index: int) -> bool:
        return self.rows.rows[index] >= 0

    def _widths(self, width: int) -> tuple[int, int]:
        rest = width - (2 + KIND_WIDTH + 1 + DIRECTION_WIDTH + 2)
        what_width = max(0, min(40, rest * 2 // 5)) if rest > 30 else 0
        return rest - what_width - (1 if what_width else 0), what_width

    def header_text(self, width: int) -> Text:
        name_width, what_width = self._widths(width)
        text = Text(f"  {'kind':<{KIND_WIDTH}} {'P  ─  Q':<{DIRECTION_WIDTH}}  {'name':<{name_width}}")
        if what_width:
            text.append(f" {'fields / why':<{what_width}}")
        return text

    def row_text(self, index: int, width: int) -> Text:
        row = self.rows.rows[index]
        if row < 0:
            group = self.rows.groups[-1 - row]
            title = f"{ENTITY_TITLES.get(group.entity, group.entity)} · {group.kind} · {plural(group.count, 'action')}"
            return Text(f"── {title} ", style=self.style_of("group"))
        action = self.actions[row]
        outcome = self.outcomes.get(action.id)
        state = mark(action, outcome)
        name_width, what_width = self._widths(width)
        text = Text()
        text.append(MARKS[state][0] + " ", style=self.style_of(MARK_STYLES[state]))
        kind_style = self.style_of("warn") if action.kind in ("conflict", "ambiguous") else self.style_of("bad") if action.kind == "blocked" else None
        text.append(f"{action.kind:<{KIND_WIDTH}} ", style=kind_style)
        text.append(f"{direction(action):<{DIRECTION_WIDTH}}  ")
        text.append(fit(action.name, name_width), style=self.style_of("dim") if state in ("skipped", "done") else None)
        if what_width:
            detail = self.why.get(action.id) or what(action)
            if outcome is not None and outcome.status in ("failed", "refused"):
                detail = f"{outcome.status}: {outcome.reason}"
            text.append(" " + fit(detail, what_width), style=self.style_of("bad") if state == "problem" else self.style_of("dim"))
        return text
