"""Mapping by hand: pick a candidate of an ambiguous match or an unmapped item, or type the other id."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, OptionList, Static
from textual.widgets.option_list import Option

from engine.plan import Action

from ..widgets.cells import value
from ..widgets.fields import TextField

OTHER = "__other__"


class PickCandidate(ModalScreen[str | None]):
    """Which QuickBooks record is this Precoro record? Returns the QuickBooks id, or None.

    The suggestions come first, best first; typing filters them by name or id. The last option
    always stays: another record, by its id.
    """

    BINDINGS = [
        Binding("escape", "cancel", "cancel", id="pick.cancel", tooltip="Close; nothing is linked"),
        Binding("down", "move(1)", "next", id="pick.down", show=False, tooltip="Next candidate"),
        Binding("up", "move(-1)", "previous", id="pick.up", show=False, tooltip="Previous candidate"),
    ]

    def __init__(self, precoro_id: str, name: str, candidates: list[dict[str, Any]]) -> None:
        super().__init__()
        self.precoro_id = precoro_id
        self.name_ = name
        self.candidates = candidates

    @classmethod
    def for_action(cls, action: Action) -> "PickCandidate":
        return cls(action.precoro_id or "", action.name, action.candidates)

    def _options(self, query: str = "") -> list[Option]:
        options = []
        for candidate in self.candidates:
            if not _matches(query, candidate.get("quickbooks_id"), candidate.get("name")):
                continue
            label = Text()
            label.append(f"QuickBooks {candidate['quickbooks_id']}  ", style="bold")
            label.append(value(candidate.get("name")))
            currencies = ", ".join(candidate.get("currencies") or [])
            if currencies:
                label.append("  ")
                label.append(currencies, style="dim")
            if candidate.get("score") is not None:
                reasons = ", ".join(candidate.get("reasons") or [])
                label.append("  ")
                label.append(f"{candidate['score']:.2f}" + (f" ({reasons})" if reasons else ""), style="dim")
            options.append(Option(label, id=str(candidate["quickbooks_id"])))
        options.append(Option(Text("Another QuickBooks record (type its id)…", style="italic"), id=OTHER))
        return options

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Static(Text(f"Link Precoro {self.precoro_id} “{self.name_}” to:", style="bold"), id="dialog-title")
            if self.candidates:
                yield TextField(placeholder="type to filter the suggestions by name or id", id="filter")
            yield OptionList(*self._options(), id="candidates")
            yield Static(Text("enter picks · esc cancels · the link is confirmed before anything is written",
                              style="dim"))

    def on_mount(self) -> None:
        options = self.query_one(OptionList)
        options.highlighted = 0
        for field in self.query(TextField):
            field.focus()
            return
        options.focus()

    @on(TextField.Changed, "#filter")
    def _filter(self, event: TextField.Changed) -> None:
        _refill(self.query_one(OptionList), self._options(event.value))

    @on(TextField.Submitted, "#filter")
    def _submitted(self) -> None:
        _select(self.query_one(OptionList))

    def action_move(self, step: int) -> None:
        _move(self.query_one(OptionList), step)

    @on(OptionList.OptionSelected)
    def _picked(self, event: OptionList.OptionSelected) -> None:
        if event.option.id == OTHER:
            def typed(ids: tuple[str, str] | None) -> None:
                self.dismiss(ids[1] if ids else None)

            self.app.push_screen(MapByHand(self.name_, precoro_id=self.precoro_id), typed)
        else:
            self.dismiss(event.option.id)

    def action_cancel(self) -> None:
        self.dismiss(None)


def _matches(query: str, *values: Any) -> bool:
    """Every word typed appears in the values (case does not matter)."""
    words = query.casefold().split()
    text = " ".join(str(v) for v in values if v not in (None, "")).casefold()
    return all(word in text for word in words)


def _refill(options: OptionList, new: list[Option]) -> None:
    options.clear_options()
    options.add_options(new)
    options.highlighted = 0 if new else None


def _move(options: OptionList, step: int) -> None:
    if options.option_count:
        current = options.highlighted if options.highlighted is not None else -step
        options.highlighted = max(0, min(options.option_count - 1, current + step))


def _select(options: OptionList) -> None:
    if options.highlighted is not None:
        options.action_select()


# Past this many items not mapped, picking each here is slow work: the dialog names the file route.
MANY_BY_HAND = 20
# How much of an item's name a line of the Not-mapped list shows.
NAME_SHOWN = 36


class NotMapped(ModalScreen[tuple[str, str] | None]):
    """The Precoro items no QuickBooks item is linked to (I4). Returns (Precoro id, QuickBooks id).

    Typing filters the list by name, SKU or id; the title keeps a running count of this session:
    how many are still not mapped of all seen unmapped, and how many were mapped here.
    """

    BINDINGS = [
        Binding("escape", "cancel", "cancel", id="not_mapped.cancel", tooltip="Close; nothing is linked"),
        Binding("down", "move(1)", "next", id="not_mapped.down", show=False, tooltip="Next item"),
        Binding("up", "move(-1)", "previous", id="not_mapped.up", show=False, tooltip="Previous item"),
    ]

    def __init__(self, items: list[dict[str, Any]], *, mapped: int = 0, query: str = "", planned: int = 0) -> None:
        super().__init__()
        self.items = items
        self.mapped = mapped
        """How many items were mapped from this list in this session."""
        self.planned = planned
        """How many more the plan links: applying it maps them."""
        self.query_text = query

    @property
    def count_text(self) -> str:
        left, total = len(self.items), len(self.items) + self.mapped
        text = f"Not mapped: {left} of {total} Precoro item{'s' if total != 1 else ''}"
        text += f" · {self.mapped} mapped in this session" if self.mapped else ""
        return text + (f" · {self.planned} more linked by the plan" if self.planned else "")

    def _options(self, query: str = "") -> list[Option]:
        options = []
        for item in self.items:
            if not _matches(query, item.get("precoro_id"), item.get("name"), item.get("sku")):
                continue
            label = Text()
            label.append(f"Precoro {item['precoro_id']}  ", style="bold")
            label.append(_short(value(item.get("name"))))
            details = [f"sku {item['sku']}" if item.get("sku") else "", f"price {item['price']}" if item.get("price") else "",
                       "free of charge" if item.get("free_of_charge") else ""]
            label.append("  ")
            label.append(" · ".join(d for d in details if d), style="dim")
            best = (item.get("candidates") or [None])[0]
            label.append("\n    ")
            if best:
                label.append(f"best: QuickBooks {best['quickbooks_id']} {value(best.get('name'))} ({best['score']:.2f})",
                             style="italic")
            else:
                label.append("no likely QuickBooks item: type its id", style="italic dim")
            options.append(Option(label, id=str(item["precoro_id"])))
        return options

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Static(Text(self.count_text, style="bold"), id="dialog-title")
            if self.items:
                yield TextField(value=self.query_text, placeholder="type to filter by name, SKU or id", id="filter")
                yield OptionList(*self._options(self.query_text), id="candidates")
            else:
                yield Static("Every Precoro item is mapped." if not self.planned else
                             "Every other Precoro item is mapped: applying the plan maps these.")
            yield Static(Text("enter picks a QuickBooks item for it · ↑↓ move · esc closes · only active, unlinked "
                              "QuickBooks items are offered (I4, I9)", style="dim"))
            if len(self.items) > MANY_BY_HAND:
                yield Static(Text("Many at once: qbsync items unmapped --csv > map.csv, fill in quickbooks_id in a "
                                  "spreadsheet, then qbsync items map --from map.csv", style="dim"), id="many-hint")

    def on_mount(self) -> None:
        for options in self.query(OptionList):
            options.highlighted = 0 if options.option_count else None
        for field in self.query(TextField):
            field.focus()

    @on(TextField.Changed, "#filter")
    def _filter(self, event: TextField.Changed) -> None:
        self.query_text = event.value
        _refill(self.query_one(OptionList), self._options(event.value))

    @on(TextField.Submitted, "#filter")
    def _submitted(self) -> None:
        _select(self.query_one(OptionList))

    def action_move(self, step: int) -> None:
        for options in self.query(OptionList):
            _move(options, step)

    @on(OptionList.OptionSelected)
    def _picked(self, event: OptionList.OptionSelected) -> None:
        item = next(i for i in self.items if str(i["precoro_id"]) == event.option.id)

        def picked(quickbooks_id: str | None) -> None:
            if quickbooks_id:
                self.dismiss((str(item["precoro_id"]), quickbooks_id))

        self.app.push_screen(PickCandidate(str(item["precoro_id"]), str(item.get("name") or ""),
                                           item.get("candidates") or []), picked)

    def action_cancel(self) -> None:
        self.dismiss(None)


def _short(text: str, at_most: int = NAME_SHOWN) -> str:
    """A name on one line of the list (a Precoro item name may be 300 characters; picking the item
    shows it whole)."""
    return text if len(text) <= at_most else text[:at_most - 1].rstrip() + "…"


class MapByHand(ModalScreen[tuple[str, str] | None]):
    """Link two records by their ids. Returns (Precoro id, QuickBooks id), or None."""

    BINDINGS = [
        Binding("escape", "cancel", "cancel", id="map.cancel", tooltip="Close; nothing is linked"),
    ]

    def __init__(self, name: str, precoro_id: str | None = None, quickbooks_id: str | None = None) -> None:
        super().__init__()
        self.name_ = name
        self.precoro_id = precoro_id
        self.quickbooks_id = quickbooks_id

    @classmethod
    def for_action(cls, action: Action) -> "MapByHand":
        known_quickbooks = action.quickbooks_id if action.kind not in ("ambiguous", "blocked") else None
        return cls(action.name, action.precoro_id, known_quickbooks)

    def compose(self) -> ComposeResult:
        known_precoro, known_quickbooks = self.precoro_id, self.quickbooks_id
        with Vertical(id="dialog"):
            yield Static(Text(f"Map “{self.name_}” by hand", style="bold"), id="dialog-title")
            yield Static("Precoro id")
            yield TextField(value=known_precoro or "", placeholder="the Precoro supplier's id", id="precoro-id",
                        restrict=r"[0-9A-Za-z_-]*", disabled=bool(known_precoro))
            yield Static("QuickBooks id")
            yield TextField(value=known_quickbooks or "", placeholder="the QuickBooks vendor's Id", id="quickbooks-id",
                        restrict=r"[0-9A-Za-z_-]*", disabled=bool(known_quickbooks))
            yield Static(Text("Only an active record of the same currency can be linked. "
                              "The link is shown for confirmation before anything is written.", style="dim"))
            with Horizontal(id="dialog-buttons"):
                yield Button("Cancel (esc)", id="no")
                yield Button("Plan the link (enter)", id="yes", variant="primary")

    def on_mount(self) -> None:
        for field in self.query(TextField):
            if not field.disabled:
                field.focus()
                break

    @on(TextField.Submitted)
    @on(Button.Pressed, "#yes")
    def _submit(self) -> None:
        precoro = self.query_one("#precoro-id", TextField).value.strip()
        quickbooks = self.query_one("#quickbooks-id", TextField).value.strip()
        if not precoro or not quickbooks:
            self.notify("Both ids are needed.", severity="warning")
            return
        self.dismiss((precoro, quickbooks))

    @on(Button.Pressed, "#no")
    def action_cancel(self) -> None:
        self.dismiss(None)
