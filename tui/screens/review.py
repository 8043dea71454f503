"""Plan review: every action, filters and search, the field diff, approve/skip, decide, map by hand."""

from __future__ import annotations

from dataclasses import replace

from rich.style import Style
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.widgets import Static

from engine.entities import BY_KIND
from engine.plan import Action
from engine.review import (
    MAPPABLE,
    SECTION_OF,
    WOULD_HOLD,
    ReviewFilter,
    SearchIndex,
    can_map,
    can_unmap,
    choices,
    is_linked_pair,
    needs_attention,
    ready_once_approved,
    review_rows,
    takes_approval,
)

from ..dialogs.mapping import MapByHand, PickCandidate
from ..render import decided_text
from ..widgets.action_table import ActionTable
from ..widgets.cells import plural
from ..widgets.diff import ActionDetail
from ..widgets.fields import TextField
from .base import QbsyncScreen

APPROVE = Binding.Group("approve/skip", compact=True)
SHOWN = Binding.Group("all shown", compact=True)
SIDES = Binding.Group("take side", compact=True)
FILTERS = Binding.Group("filter", compact=True)
MAPPING = Binding.Group("map", compact=True)
KIND_NOUNS = {"create": "a create", "update": "an update", "deactivate": "a deactivation",
              "reactivate": "a reactivation", "link": "a link", "unlink": "an unlink",
              "ambiguous": "an ambiguous match", "blocked": "a blocked action"}
TARGET_LABELS = {"quickbooks": "→QuickBooks", "precoro": "→Precoro", "none": "no write"}


class ReviewScreen(QbsyncScreen):
    TAB = "review"
    HELP = (
        "Every action of the plan, grouped by entity and kind. Precoro is on the left and QuickBooks on "
        "the right: P ──▶ Q writes QuickBooks, P ◀── Q writes Precoro, P ═══ Q links, P ◀?▶ Q waits for "
        "your decision. The mark in the first column says what apply will do: ✓ apply, ✗ skip, ? decide, "
        "! blocked or failed, • applied. Decisions are saved as you make them; nothing is written to "
        "either side until you confirm an apply (g)."
    )

    # The order is the footer's (what fits on one line, most used first) and the help's.
    BINDINGS = [
        Binding("a", "approve", "approve", id="review.approve", group=APPROVE,
                tooltip="Approve this action: apply will carry it out"),
        Binding("x", "skip", "skip", id="review.skip", group=APPROVE,
                tooltip="Skip this action (a conflict: decide to skip it)"),
        Binding("space", "toggle", "toggle", id="review.toggle", group=APPROVE, key_display="␣",
                tooltip="Approve or skip this action"),
        Binding("p", "take('precoro')", "take Precoro", id="review.take_precoro", group=SIDES,
                tooltip="Conflict: keep Precoro's values (writes QuickBooks)"),
        Binding("q", "take('quickbooks')", "take QuickBooks", id="review.take_quickbooks", group=SIDES,
                tooltip="Conflict: keep QuickBooks' values (writes Precoro)"),
        Binding("n", "next_attention", "next", id="review.next",
                tooltip="Jump to the next action that needs you"),
        Binding("g", "app.apply", "apply…", id="review.apply",
                tooltip="Apply the approved actions (a dialog states every write first)"),
        Binding("slash", "search", "search", id="review.search", key_display="/",
                tooltip="Search names, record ids and action ids"),
        Binding("m", "map", "map", id="review.map", group=MAPPING,
                tooltip="Link this record by hand: pick a candidate or type the other side's id"),
        Binding("u", "unmap", "unmap", id="review.unmap", group=MAPPING,
                tooltip="Unlink this pair by hand (confirmed first)"),
        Binding("i", "not_mapped", "items not mapped…", id="review.not_mapped", group=MAPPING,
                tooltip="The Precoro items with no QuickBooks item (I4): pick one for each"),
        Binding("A", "approve_shown", "approve shown", id="review.approve_shown", group=SHOWN,
                tooltip="Approve every action the filters show"),
        Binding("X", "skip_shown", "skip shown", id="review.skip_shown", group=SHOWN,
                tooltip="Skip every action the filters show"),
        Binding("P", "take_shown('precoro')", "Precoro for shown", id="review.take_precoro_shown", group=SHOWN,
                tooltip="Every conflict the filters show: keep Precoro's values (writes QuickBooks)"),
        Binding("Q", "take_shown('quickbooks')", "QuickBooks for shown", id="review.take_quickbooks_shown",
                group=SHOWN, tooltip="Every conflict the filters show: keep QuickBooks' values (writes Precoro)"),
        Binding("e", "cycle('entity')", "filter by entity", id="review.filter_entity", group=FILTERS,
                tooltip="Filter by entity"),
        Binding("k", "cycle('kind')", "filter by kind", id="review.filter_kind", group=FILTERS,
                tooltip="Filter by kind of action"),
        Binding("t", "cycle('target')", "filter by side written", id="review.filter_target", group=FILTERS,
                tooltip="Filter by the side written: QuickBooks, Precoro, none"),
        Binding("c", "cycle('show')", "show what needs you", id="review.filter_show", group=FILTERS,
                tooltip="Show all, what needs attention, conflicts, errors, what is not approved, what "
                        "unattended runs held, or what a run would hold of this plan (and why)"),
        Binding("y", "why", "why?", id="review.why",
                tooltip="This record's story: both sides as last read, its link, the plan's actions on it, "
                        "what an unattended run would do, its history (qbsync explain)"),
        Binding("o", "app.sign_off", "sign off in a file…", id="review.sign_off",
                tooltip="Write the plan as CSV for a reviewer, or read the signed file back (W1)"),
        Binding("escape", "clear", "clear filters", id="review.clear", tooltip="Clear the filters and the search"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.filter = ReviewFilter()
        self._index: SearchIndex | None = None
        self._index_of: object = None
        self._by_id: dict[str, Action] = {}
        self._by_id_of: object = None
        self.options: dict[str, list[str]] = {"entity": [], "kind": [], "target": [], "show": []}

    def compose_body(self) -> ComposeResult:
        with Horizontal(id="filter-bar"):
            yield Static(id="filters")
            yield TextField(placeholder="/ search", id="search")
        yield ActionTable(id="actions")
        yield ActionDetail(id="detail")

    def on_mount(self) -> None:
        self.watch(self.app, "plan_revision", lambda _revision: self.when_shown(self.plan_replaced), init=False)
        self.watch(self.app, "decision_revision", lambda _revision: self.when_shown(self.decisions_changed),
                   init=False)
        self.watch(self.app, "holds_revision", lambda _revision: self.when_shown(self.holds_known), init=False)
        self.plan_replaced()
        self.query_one(ActionTable).focus()

    # -- data ------------------------------------------------------------------------------------

    @property
    def table(self) -> ActionTable:
        return self.query_one(ActionTable)

    @property
    def current(self) -> Action | None:
        # Also asked while the screen is being taken down (bindings are re-checked then).
        tables = self.query(ActionTable)
        return tables.first().current if tables else None

    def plan_replaced(self) -> None:
        plan = self.app.plan
        self.options = choices(self.app.plan_runs() if plan else ())
        # A filter value the new plan does not have would hide everything: drop it.
        flt = self.filter
        if flt.entity and flt.entity not in self.options["entity"]:
            flt = replace(flt, entity=None)
        if flt.kind and flt.kind not in self.options["kind"]:
            flt = replace(flt, kind=None)
        self.filter = flt
        self.rebuild()

    def rebuild(self) -> None:
        plan = self.app.plan
        current = self.current
        actions = plan.actions if plan else []
        holds = self.app.holds_of_plan() if self.filter.show == WOULD_HOLD else None
        rows = review_rows(actions, self.filter, self.app.outcomes, index=self._search_index(plan),
                           runs=self.app.plan_runs() if plan else None, holds=holds)
        self.table.empty = self._nothing_shown(plan, holds)
        self.table.show(actions, rows, self.app.outcomes, keep=current.id if current else None, why=holds)
        self._draw_filters(len(actions), rows.matched)
        self._show_detail()

    def _nothing_shown(self, plan, holds: dict[str, str] | None) -> str:
        """What the list says when it lists nothing."""
        if plan is None:
            return "No plan yet."
        if not plan.actions:
            return "Nothing to do: both sides are in sync."
        if self.filter.show == WOULD_HOLD and holds is None:
            return "Asking the policy what a run would hold… (esc clears the filters)"
        if self.filter == ReviewFilter(show=WOULD_HOLD):
            return "A run would hold none of it: it would apply all it can."
        return "No actions match. esc clears the filters."

    def _search_index(self, plan) -> SearchIndex | None:
        """Built on the first search of each plan; a plan that is never searched never pays for it."""
        if plan is None or not self.filter.search:
            return None
        if self._index_of is not plan:
            self._index, self._index_of = SearchIndex(plan.actions), plan
        return self._index

    def holds_known(self) -> None:
        if self.filter.show == WOULD_HOLD:
            self.rebuild()

    def decisions_changed(self) -> None:
        flt = self.filter
        if flt.target or flt.show not in ("all", "conflicts"):
            self.rebuild()  # what is shown depends on the decisions
        else:
            self.table.invalidate()
            self._show_detail()
        self.refresh_bindings()

    def _draw_filters(self, total: int, matched: int) -> None:
        flt = self.filter
        text = Text(no_wrap=True, overflow="ellipsis")
        for name, key, shown in (("entity", "e", flt.entity or "all"), ("kind", "k", flt.kind or "all"),
                                 ("target", "t", TARGET_LABELS.get(flt.target or "", "any")),
                                 ("show", "c", flt.show)):
            click = Style(meta={"@click": f"screen.cycle({name!r})"})
            active = shown not in ("all", "any")
            text.append(f"{key}:", style=Style(dim=True) + click)
            text.append(f"{shown} ", style=Style(bold=active, reverse=active) + click if active else click)
            text.append(" ")
        text.append(f"{matched:,}/{total:,}", style="dim")
        self.query_one("#filters", Static).update(text)

    def _show_detail(self) -> None:
        action = self.current
        others = None
        if action is not None and action.depends_on and self.app.plan is not None:
            if self._by_id_of is not self.app.plan:
                self._by_id, self._by_id_of = {a.id: a for a in self.app.plan.actions}, self.app.plan
            others = self._by_id
        held = (self.app.holds or {}).get(action.id) if action and self.filter.show == WOULD_HOLD else None
        self.query_one(ActionDetail).show(action, self.app.outcomes.get(action.id) if action else None, others, held)

    @on(ActionTable.Highlighted)
    def _highlighted(self) -> None:
        self._show_detail()
        self.refresh_bindings()

    # -- filters and search ----------------------------------------------------------------------

    def action_cycle(self, name: str) -> None:
        values = [None, *self.options.get(name, [])] if name != "show" else list(self.options["show"])
        current = getattr(self.filter, name)
        position = values.index(current) if current in values else 0
        self.filter = replace(self.filter, **{name: values[(position + 1) % len(values)]})
        self.rebuild()

    def show_only(self, show: str) -> None:
        """Open on one `show` filter, the others cleared (the app's `w`: what a run would hold, U3)."""
        self.filter = ReviewFilter(show=show)
        self.query_one("#search", TextField).value = ""
        self.rebuild()

    def action_search(self) -> None:
        self.query_one("#search", TextField).focus()

    @on(TextField.Changed, "#search")
    def _search_changed(self, event: TextField.Changed) -> None:
        self.filter = replace(self.filter, search=event.value.strip())
        self.rebuild()

    @on(TextField.Submitted, "#search")
    def _search_submitted(self) -> None:
        self.table.focus()

    def action_clear(self) -> None:
        search = self.query_one("#search", TextField)
        if search.has_focus and search.value:
            search.value = ""
            return
        if search.has_focus:
            self.table.focus()
            return
        if self.filter == ReviewFilter():
            self.notify("No filter or search to clear: every action is shown.", timeout=2)
            return
        self.filter = ReviewFilter()
        search.value = ""
        self.rebuild()

    # -- decisions -------------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Keys that make no sense for the highlighted action are shown dimmed (and say why: `why_not`)."""
        current = self.current
        if action == "take":
            return current is not None and current.kind == "conflict" or None
        if action in ("approve", "skip", "toggle"):
            return current is not None and takes_approval(current) or None
        if action == "map":
            return current is not None and can_map(current) or None
        if action == "unmap":
            return current is not None and can_unmap(current) or None
        if action == "why":
            return current is not None and bool(current.precoro_id or current.quickbooks_id) or None
        return True

    def why_not(self, action: str) -> str:
        """Why a dimmed key cannot act on the highlighted action, and what would."""
        current = self.current
        if current is None:
            empty = self.table.empty
            return f"Nothing is highlighted: {empty[:1].lower()}{empty[1:]}"
        if action == "take":
            return f"p and q decide a conflict; this is {KIND_NOUNS.get(current.kind, current.kind)}."
        if action in ("approve", "skip", "toggle"):
            if current.kind == "ambiguous":
                return "An ambiguous match is neither approved nor skipped: m picks its record."
            fix = "m maps it by hand" if can_map(current) else "fix what its note says; the next plan tries again"
            return f"A blocked action cannot be applied: {fix}."
        spec = BY_KIND.get(current.entity)
        if current.entity not in MAPPABLE:
            plural = spec.plural if spec else current.entity + "s"
            return f"{plural.capitalize()} are not mapped by hand (only {_mappable()} are)."
        if action == "map":
            if is_linked_pair(current):
                return (f"Already linked (Precoro {current.precoro_id} ⇄ QuickBooks {current.quickbooks_id}): "
                        "u unlinks it first.")
            if current.kind == "link":
                return "This plan links it already: apply makes the link."
            return "This plan unlinks it: once that is applied, m can link it to another record."
        if current.kind == "link":
            return "Not linked yet: this plan links it; once applied, u can unlink it."
        if current.kind == "unlink":
            return "This plan unlinks it already."
        return "Not linked: only a linked pair can be unmapped" + (" (m links it)." if can_map(current) else ".")

    def action_approve(self) -> None:
        action = self.current
        if action is None:
            return
        if action.needs_decision:
            self.notify("Decide this conflict first: p takes Precoro's value, q takes QuickBooks'.", severity="warning")
            return
        if not self.app.set_approved([action], True):
            self.notify("Already approved.", timeout=2)

    def action_skip(self) -> None:
        action = self.current
        if action is None:
            return
        if action.kind == "conflict":
            self.app.decide([action], "skip")
        elif not self.app.set_approved([action], False):
            self.notify("Already skipped.", timeout=2)

    def action_toggle(self) -> None:
        action = self.current
        if action is None:
            return
        if action.kind == "conflict":
            self.action_skip() if action.decision != "skip" and not action.needs_decision else self.notify(
                "p takes Precoro's value, q takes QuickBooks'.", severity="warning")
        elif action.approved:
            self.action_skip()
        else:
            self.action_approve()

    def action_take(self, side: str) -> None:
        action = self.current
        if action is not None and action.kind == "conflict":
            self.app.decide([action], side)

    def action_take_shown(self, side: str) -> None:
        conflicts = [a for a in self.table.visible_actions() if a.kind == "conflict"]
        if not conflicts:
            self.notify("No conflict is shown (k filters by kind).", severity="warning", timeout=4)
            return
        self.app.decide(conflicts, side)
        self.notify(f"{decided_text(side, len(conflicts))} shown.", timeout=4)

    def action_approve_shown(self) -> None:
        shown = self.table.visible_actions()
        ready = [a for a in shown if ready_once_approved(a)]
        waiting = len(shown) - len(ready)
        changed = self.app.set_approved(ready, True)
        message = f"Approved {plural(changed, 'action')}."
        if waiting:
            message += f" {plural(waiting, 'action')} still need you (n jumps to the next)."
        self.notify(message, timeout=4)

    def action_skip_shown(self) -> None:
        shown = [a for a in self.table.visible_actions() if takes_approval(a)]
        changed = self.app.set_approved(shown, False)
        self.notify(f"Skipped {plural(changed, 'action')}.", timeout=4)

    def action_next_attention(self) -> None:
        table = self.table
        rows = table.rows.rows
        count = len(rows)
        for step in range(1, count + 1):
            position = (table.cursor + step) % count
            index = rows[position]
            if index >= 0:
                action = table.actions[index]
                if needs_attention(action, self.app.outcomes.get(action.id)):
                    table.move_cursor(position)
                    return
        self.notify("Nothing shown needs your attention.", timeout=3)

    # -- mapping by hand -------------------------------------------------------------------------

    def action_map(self) -> None:
        action = self.current
        if action is None or not can_map(action):
            self.notify(self.why_not("map"), severity="warning")
            return
        section = SECTION_OF.get(action.entity, action.entity + "s")

        def picked(quickbooks_id: str | None) -> None:
            if quickbooks_id:
                self.app.plan_mapping(section, action.precoro_id, quickbooks_id,
                                      f"Link Precoro {action.precoro_id} “{action.name}” to QuickBooks {quickbooks_id}?")

        def typed(ids: tuple[str, str] | None) -> None:
            if ids:
                self.app.plan_mapping(section, ids[0], ids[1],
                                      f"Link Precoro {ids[0]} to QuickBooks {ids[1]} (“{action.name}”)?")

        if action.candidates and action.precoro_id:
            self.app.push_screen(PickCandidate.for_action(action), picked)
        else:
            self.app.push_screen(MapByHand.for_action(action), typed)

    def action_why(self) -> None:
        action = self.current
        if action is None:
            self.notify(self.why_not("why"), severity="warning")
            return
        side, record_id = ("precoro", action.precoro_id) if action.precoro_id else ("quickbooks", action.quickbooks_id)
        self.app.explain_record(SECTION_OF.get(action.entity, action.entity + "s"), f"{side}:{record_id}")

    def action_not_mapped(self) -> None:
        self.app.load_unmapped_items()

    def action_unmap(self) -> None:
        action = self.current
        if action is None or not can_unmap(action):
            self.notify(self.why_not("unmap"), severity="warning")
            return
        section = SECTION_OF.get(action.entity, action.entity + "s")
        self.app.plan_mapping(section, action.precoro_id, None,
                              f"Unlink Precoro {action.precoro_id} “{action.name}” from QuickBooks {action.quickbooks_id}?")



def _mappable() -> str:
    return " and ".join(spec.plural for spec in BY_KIND.values() if spec.kind in MAPPABLE)
