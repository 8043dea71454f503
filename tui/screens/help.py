"""F1: what the screen underneath is for, and every key it takes, generated from its bindings.

The rows come from the same bindings the footer and the command palette read, taken while the
screen underneath is still on top (once the help is open, the App turns the screen keys off), so
the help cannot drift from the keys: a new binding shows up here with its tooltip.
"""

from __future__ import annotations

from typing import NamedTuple

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Static

from ..widgets.cells import MARKS

GENERAL = (
    "Keys are plain letters, digits and F-keys, so they work over SSH and inside tmux. The mouse is "
    "optional: click a tab, a row or a key. Decisions are saved as you make them; nothing is written "
    "to Precoro or QuickBooks until you confirm an apply."
)


class KeyRow(NamedTuple):
    key: str
    description: str
    tooltip: str


class KeyHelp(NamedTuple):
    """A screen's keys, in the order the footer shows them."""

    screen: list[KeyRow]  # the screen's and its focused widget's keys
    everywhere: list[KeyRow]  # the App's: screens, re-plan, help, quit, the command palette
    moving: list[KeyRow]  # keys the footer does not show: moving in a list, between panes


def key_help(screen: Screen) -> KeyHelp:
    """Every key of `screen` now, from its active bindings (call it while the screen is on top)."""
    app = screen.app
    rows = KeyHelp([], [], [])
    seen: set[tuple[int, str]] = set()
    for key, (node, binding, _enabled, tooltip) in screen.active_bindings.items():
        if (id(node), binding.action) in seen:
            continue
        seen.add((id(node), binding.action))
        row = KeyRow(app.get_key_display(binding), binding.description, tooltip or binding.tooltip or "")
        if node is app:
            rows.everywhere.append(row)
        elif binding.show:
            rows.screen.append(row)
        elif binding.id:  # ours (Textual's own hidden keys, such as scrolling sideways, have no id)
            rows.moving.append(row)
    return rows


def _table(rows: list[KeyRow], key_width: int) -> Table:
    """One section's keys: the key, then what it does and (dim) more about it, wrapped at 80 columns.

    `key_width` lines all sections up.
    """
    table = Table(box=None, show_header=False, padding=(0, 1), pad_edge=False, expand=True)
    table.add_column(style="bold", no_wrap=True, min_width=key_width)
    table.add_column(ratio=1)
    for row in rows:
        what = Text(row.description)
        if row.tooltip:
            what.append("  " + row.tooltip, style="dim")
        table.add_row(row.key, what)
    return table


class HelpScreen(ModalScreen[None]):
    """Help for the screen it was opened from."""

    BINDINGS = [
        Binding("escape,f1,q", "close", "close", id="help.close", tooltip="Back to the screen"),
    ]

    def __init__(self, under: Screen) -> None:
        super().__init__()
        self.under = under
        self.keys = key_help(under)
        """Read now: once this screen is on top, the App's keys are off for the one underneath."""

    def compose(self) -> ComposeResult:
        keys = self.keys
        parts = [Text(getattr(self.under, "HELP", "") or ""), Text("")]
        sections = (("This screen", keys.screen), ("Everywhere", keys.everywhere), ("Moving", keys.moving))
        key_width = max((len(row.key) for _title, rows in sections for row in rows), default=0)
        for title, rows in sections:
            if rows:
                parts.extend([Text(title, style="bold underline"), _table(rows, key_width), Text("")])
        if getattr(self.under, "TAB", "") == "review":
            legend = Text("Marks: " + "   ".join(f"{glyph} {meaning}" for glyph, meaning in MARKS.values()))
            parts.extend([legend, Text("")])
        parts.append(Text(GENERAL, style="dim"))
        with Vertical(id="dialog", classes="help"):
            yield Static(Text(f"Help · {(getattr(self.under, 'TAB', '') or 'qbsync').capitalize()}", style="bold"),
                         id="dialog-title")
            with VerticalScroll(id="help-body"):
                yield Static(Group(*parts))
            yield Static(Text("esc closes · ↑ ↓ pgup pgdn scroll", style="dim"))

    def action_close(self) -> None:
        self.dismiss(None)
