"""y in Review: the highlighted record's story, as `qbsync explain` tells it (engine/explain.py)."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static


class Explained(ModalScreen[None]):
    """Both sides of one record, its link, the plan's actions on it and its history: read only."""

    BINDINGS = [
        Binding("escape,y,q", "close", "close", id="explained.close", tooltip="Back to the plan"),
    ]

    def __init__(self, title: str, story: str) -> None:
        super().__init__()
        self.title_text = title
        self.story = story

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog", classes="help"):
            yield Static(Text(self.title_text, style="bold"), id="dialog-title")
            with VerticalScroll(id="help-body"):
                yield Static(Text(self.story))
            yield Static(Text("esc closes · ↑ ↓ pgup pgdn scroll · values as the last plan read them",
                              style="dim"))

    def on_mount(self) -> None:
        self.query_one("#help-body", VerticalScroll).focus()

    def action_close(self) -> None:
        self.dismiss(None)
