"""Overview: both connections, the last sync, counts per entity, the rules file, what to do next."""

from __future__ import annotations

from typing import Any

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Static

from engine.budgets import calls_left_said
from engine.review import PlanTally, entity_counts, plan_age_said
from rules.model import SIDE_NAMES

from ..reading import held_count
from ..render import minute, no_plan_said, shown_path
from ..widgets.cells import ENTITY_TITLES, plural
from .base import QbsyncScreen
from engine.entities import ENTITIES

SECTION_KIND = {spec.section: spec.kind for spec in ENTITIES}


# Below this many rows the cards lose their frames and keep only what says whether a side works:
# every entity's row must stay in view at 80x24.
COMPACT_BELOW = 32


def connection_card(side: str, info: dict[str, Any] | None, error: str | None, compact: bool = False) -> Group:
    """One side's connection in four lines or so (`compact`: its name, state and company, and an
    error if any): a card must leave room at 80x24 for every entity."""
    lines: list[Any] = []
    if compact:
        lines.append(Text(SIDE_NAMES[side], style="bold"))
    if info is None:
        lines.append(Text(error or "checking…", style="dim" if not error else "red"))
        return Group(*lines)
    reachable = info.get("reachable")
    state = Text()
    if reachable:
        state.append("✓ reachable", style="bold green")
    elif info.get("connected") is False:
        state.append("✗ not connected", style="bold red")
    elif reachable is False:
        state.append("✗ not reachable", style="bold red")
    else:
        state.append("… not checked", style="dim")
    state.append(f" · {info.get('environment', '?')}")
    if compact:
        state.no_wrap, state.overflow = True, "ellipsis"
        if side == "quickbooks" and info.get("company"):
            state.append(f" · {info['company']}")
        lines[0] = Text.assemble(lines[0], " ", state, no_wrap=True, overflow="ellipsis")
        ending = info.get("ending") and info.get("ends_at")
        if ending:  # the day and what to run, which the whole warning would not fit beside the other card
            ending = f"reconnect by {minute(ending)[:10]}: qbsync connect quickbooks"
        for said, style in ((info.get("error"), "red"), (ending, "bold yellow")):
            if said:
                lines.append(Text(str(said), style=style, no_wrap=True, overflow="ellipsis"))
        return Group(*lines)
    lines.append(state)
    if side == "quickbooks":
        lines.append(Text(f"company  {info.get('company') or '?'}", no_wrap=True, overflow="ellipsis"))
        lines.append(Text(f"realm    {info.get('realm_id') or '?'}"))
    lines.append(Text(f"{info.get('base_url', '')}", style="dim", no_wrap=True, overflow="ellipsis"))
    if info.get("error"):
        lines.append(Text(str(info["error"]), style="red"))
    if info.get("ending"):  # the QuickBooks connection ends soon: reconnecting takes its owner
        lines.append(Text(str(info["ending"]), style="bold yellow"))
    return Group(*lines)


class OverviewScreen(QbsyncScreen):
    TAB = "overview"
    HELP = (
        "Where things stand: both connections (reachable or why not), the last apply, per entity how many "
        "records are linked and what the latest plan proposes, and whether the rules file is valid. "
        "enter opens the plan review."
    )
    _redraw_pending = False

    BINDINGS = [
        Binding("enter", "app.switch_mode('review')", "review plan", id="overview.review",
                tooltip="Open the plan review"),
        Binding("s", "app.refresh_status", "refresh", id="overview.refresh",
                tooltip="Check both connections again and recount"),
        Binding("w", "app.waiting", "waiting for you", id="overview.waiting", show=False,
                tooltip="Review what unattended runs held for a person"),
        Binding("u", "runs", "unattended runs", id="overview.runs", show=False,
                tooltip="What the latest unattended runs did, newest first (qbsync runs)"),
    ]

    def compose_body(self) -> ComposeResult:
        with VerticalScroll(id="overview-body"):
            with Horizontal(id="connections"):
                yield Static(id="quickbooks-card", classes="card")
                yield Static(id="precoro-card", classes="card")
            yield Static(id="sync-info")
            yield Static(id="counts")
            yield Static(id="next-step")

    def on_mount(self) -> None:
        self.query_one("#quickbooks-card").border_title = "QuickBooks Online"
        self.query_one("#precoro-card").border_title = "Precoro"
        for name in ("status_revision", "plan_revision", "decision_revision", "rules_revision"):
            self.watch(self.app, name, lambda _revision: self.when_shown(self._redraw_soon), init=False)
        self.redraw()

    def on_resize(self) -> None:
        self.redraw()  # the cards fold at small sizes

    def _redraw_soon(self) -> None:
        # A new plan bumps several revisions at once: draw once for all of them (counting a large
        # plan's rows is not free).
        if not self._redraw_pending:
            self._redraw_pending = True
            self.call_after_refresh(self.redraw)

    def _recounted(self) -> None:
        # Hidden (an apply's progress on screen 3), it draws once shown: no count meanwhile.
        self.when_shown(self._redraw_soon)

    def redraw(self) -> None:
        self._redraw_pending = False
        app = self.app
        status = app.status or {}
        connections = status.get("connections") or {}
        error = connections.get("error")
        if app.session is None and app.rules_error is not None:
            error = "not connected: the rules file has problems (5 Rules)"
        compact = self.size.height < COMPACT_BELOW
        self.query_one("#connections").set_class(compact, "compact")
        for side in ("quickbooks", "precoro"):
            card = connection_card(side, connections.get(side), error, compact=compact)
            self.query_one(f"#{side}-card", Static).update(card)
        # While a worker counts a large plan: its last count (None before any), drawn again once counted.
        tally = (app.tally_when_counted(then=self._recounted, latest=True)
                 if app.plan is not None and app.plan.actions else None)
        self.query_one("#sync-info", Static).update(self._sync_info(tally))
        self.query_one("#counts", Static).update(self._counts(status, tally))
        self.query_one("#next-step", Static).update(self._next_step(tally))

    def action_runs(self) -> None:
        self.app.list_runs()

    def _sync_info(self, tally: PlanTally | None) -> Text:
        """Three lines that never wrap (so the counts below keep their place at 80x24)."""
        app = self.app
        text = Text(no_wrap=True, overflow="ellipsis")
        last = app.last_sync
        text.append("Last apply   ", style="bold")
        if last:
            text.append(f"{minute(last.get('at'))} UTC by {last.get('who')}: "
                        f"{last.get('status')} {last.get('kind')} {last.get('name')}")
        else:
            text.append("never", style="dim")
        # Not "latest" once another terminal or an unattended run made a later one (named below, L shows it).
        text.append("\nShown plan   " if app.newer_plan else "\nLatest plan  ", style="bold")
        plan = app.plan
        if plan is not None:
            made = app.shown_plan_made()
            state = made.get("state")
            text.append(" · ".join([plan.id, *([state] if state else []), plural(len(plan.actions), "action")]))
            undecided = tally.undecided if tally else 0
            if undecided:
                text.append(f" · {plural(undecided, 'conflict')} to decide", style="bold yellow")
            if app.newer_plan:  # made in another terminal or by an unattended run (Reading.check_plan_elsewhere)
                text.append(f" · newer: {app.newer_plan} (L)", style="bold yellow")
            aged = plan_age_said(made)
            if aged:
                text.append("\nPlan age     ", style="bold")
                text.append(f"{aged} (r)", style="yellow")
            if plan.notes:  # the latest: who signed the plan off and from which file, what it left out (D4)
                text.append("\nPlan note    ", style="bold")
                text.append(plan.notes[-1] + ("" if len(plan.notes) == 1 else f" (and {len(plan.notes) - 1} more)"))
        else:
            text.append("none yet" if not app.busy else app.busy, style="dim")
        reading = (app.status or {}).get("reading")
        if reading:  # W11: the reads of a plan stopped at a cap; the next plan goes on (`qbsync status` per list)
            text.append("\nReading      ", style="bold")
            text.append(reading["cap"], style="bold yellow")
            if reading.get("resume_at"):
                text.append(f" until {reading['resume_at'][5:16].replace('T', ' ')} UTC")
            known = [source for source in reading["sources"] if source["total"]]
            if known:
                text.append(f" · {sum(s['read'] for s in known):,}/{sum(s['total'] for s in known):,} read")
            if reading.get("done_at"):  # under Precoro's limits, the rest of a first read takes days
                text.append(f"\n             {calls_left_said(reading)} calls left · done "
                            f"{reading['done_at'][5:16].replace('T', ' ')} UTC at the earliest")
        elif (app.status or {}).get("unfinished_reads"):  # W11: full reads under way, or cut short by a kill
            reads = app.status["unfinished_reads"]
            text.append("\nReading      ", style="bold")
            text.append("not finished", style="bold yellow")
            text.append(" · " + ", ".join(f"Precoro {read['section']} at page {read['page']:,}" for read in reads))
            text.append(f" · {sum(read['kept'] for read in reads):,} kept")  # the next plan goes on at that page
        exposed = ((app.status or {}).get("state_file") or {}).get("exposed_to_git")
        if exposed:  # credentials on their way to a repository (engine.store.git_would_take)
            text.append("\nState file   ", style="bold")
            text.append(exposed, style="bold red")
        last_run = ((app.status or {}).get("unattended") or {}).get("last_run") or {}
        if last_run.get("error"):  # a timer's runs fail unseen: the next person to open qbsync sees why
            text.append("\nLast run     ", style="bold")
            text.append(f"failed {minute(last_run.get('started_at'))} UTC ({last_run.get('trigger')}): "
                        f"{last_run['error']}", style="bold red")
            text.append(" · u lists the runs")
        held = held_count(app.status)
        if held:
            text.append("\nWaiting      ", style="bold")
            text.append(f"{held:,} held for you by unattended runs · w shows them · u the runs", style="bold yellow")
        text.append("\nRules        ", style="bold")
        text.append(shown_path(app.rules_path))
        if app.rules_error is not None:
            count = len(getattr(app.rules_error, "problems", ()) or ()) or 1
            text.append(f"  ✗ {plural(count, 'problem')} (5 Rules)", style="bold red")
        elif app.session is not None:
            text.append("  ✓ valid", style="green")
        return text

    def _counts(self, status: dict[str, Any], tally: PlanTally | None) -> Table:
        app = self.app
        entities = status.get("entities") or {}
        linked = {SECTION_KIND.get(section, section): counts.get("linked") for section, counts in entities.items()}
        plan = app.plan
        if plan is None or not plan.actions:
            groups: dict | None = {}
        else:  # None: a worker is counting the plan
            groups = tally.groups if tally else None
        counting = groups is None
        rows = entity_counts(None, None, linked, entities=list(linked), groups=groups or {})
        # Two spaces between columns: the longest entity and every header fit 80 columns.
        table = Table(box=None, padding=(0, 1), header_style="bold", pad_edge=False)
        table.add_column("entity", no_wrap=True)
        for column in ("linked", "unlinked", "pending", "conflicts", "to decide", "errors"):
            table.add_column(column, justify="right", no_wrap=True)
        for counts in rows:
            if counting:  # the plan's columns, once a worker has counted it
                table.add_row(ENTITY_TITLES.get(counts.entity, counts.entity),
                              "?" if counts.linked is None else f"{counts.linked:,}", *["…"] * 5)
                continue
            table.add_row(
                ENTITY_TITLES.get(counts.entity, counts.entity),
                "?" if counts.linked is None else f"{counts.linked:,}",
                f"{counts.unlinked:,}", f"{counts.pending:,}", f"{counts.conflicts:,}",
                Text(f"{counts.undecided:,}", style="bold yellow" if counts.undecided else "", justify="right"),
                Text(f"{counts.errors:,}", style="bold red" if counts.errors else "", justify="right"),
            )
        if not rows:
            table.add_row(Text("no counts yet", style="dim"), "", "", "", "", "", "")
        return table

    def _next_step(self, tally: PlanTally | None) -> Text:
        app = self.app
        plan = app.plan
        if app.session is None:
            return Text("Fix the rules file (5 Rules); qbsync reloads it when you save.", style="bold")
        if plan is None:
            return Text(no_plan_said(app.status), style="bold")
        if not plan.actions:
            return Text("Both sides are in sync. r makes a new plan.", style="bold")
        if tally is None:
            return Text(f"Counting the plan's {len(plan.actions):,} actions…", style="bold")
        summary, undecided = tally.summary, tally.undecided
        text = Text()
        if tally.applied:
            left = summary.actions - tally.applied
            text.append(f"Applied: {tally.applied:,} of its {summary.actions:,} approved actions"
                        + (f"; {left:,} left (g in Review applies them)." if left > 0 else "."), style="bold")
        else:
            text.append(f"Approved to apply: {summary.writes('quickbooks'):,} QuickBooks and "
                        f"{summary.writes('precoro'):,} Precoro writes.", style="bold")
        if undecided:
            text.append(f" {undecided:,} conflict{'s wait' if undecided != 1 else ' waits'} for you.", style="bold yellow")
        if tally.applied and tally.applied >= summary.actions and not undecided:
            text.append("\nr makes a new plan of what changed since · enter reviews this one.")
        else:
            text.append("\nenter reviews the plan · g (in Review) applies it after a confirmation.")
        return text
