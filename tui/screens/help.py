"""F1: what the screen underneath is for, and every key it takes with what the key does."""

from __future__ import annotations

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
    "Keys are plain letters, digits and F1, so they work over SSH and inside tmux. ctrl+p opens the "
    "command palette with this screen's commands. The mouse is optional: click a tab, a row or a key. "
    "Decisions are saved as you make them; nothing is written to Precoro or QuickBooks until you "
    "confirm an apply."
)


class HelpScreen(ModalScreen[None]):
    """Help for the screen it was opened from."""

    BINDINGS = [
        Binding("escape,f1,q", "close", "close", id="help.close", tooltip="Back to the screen"),
    ]

    def __init__(self, under: Screen) -> None:
        super().__init__()
        self.under = under

    def compose(self) -> ComposeResult:
        keys = Table(box=None, show_header=False, padding=(0, 1), pad_edge=False, expand=True)
        keys.add_column(style="bold", no_wrap=True)
        keys.add_column(no_wrap=True)
        keys.add_column(style="dim", ratio=1)
        seen = set()
        for _key, (_node, binding, _enabled, tooltip) in self.under.active_bindings.items():
            # Hidden bindings are the lists' own movement keys, summed up in MOVING below.
            if binding.action in seen or not binding.show:
                continue
            seen.add(binding.action)
            keys.add_row(self.app.get_key_display(binding), binding.description, tooltip or binding.tooltip)
        moving = Text("↑ ↓ pgup pgdn home end move in a list; tab moves between the list, the search and the "
                      "detail pane.", style="dim")
        parts = [Text(getattr(self.under, "HELP", "") or ""), Text(""), keys, moving, Text("")]
        if getattr(self.under, "TAB", "") == "review":
            legend = Text("Marks: " + "   ".join(f"{glyph} {meaning}" for glyph, meaning in MARKS.values()))
            parts.extend([legend, Text("")])
        parts.append(Text(GENERAL, style="dim"))
        with Vertical(id="dialog", classes="help"):
            yield Static(Text(f"Help · {(getattr(self.under, 'TAB', '') or 'qbsync').capitalize()}", style="bold"),
                         id="dialog-title")
            with VerticalScroll(id="help-body"):
                yield Static(Group(*parts))
            yield Static(Text("esc closes", style="dim"))

    def action_close(self) -> None:
        self.dismiss(None)
