"""y in Review: the highlighted record's story, as `qbsync explain` tells it (engine/explain.py)."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static


class Explained(ModalScreen[None]):
    """Both sides of one record, its link, the plan's actions on it and its history: read only.
    `l` reads its two sides now (`qbsync explain --live`), where the entity allows it."""

    BINDINGS = [
        Binding("escape,y,q", "close", "close", id="explained.close", tooltip="Back to the plan"),
        Binding("l", "live", "read now", id="explained.live",
                tooltip="Read the record on both sides now (one request each), not as the last plan read it"),
    ]

    def __init__(self, title: str, story: str, *, entity: str, record: str, live: bool, can_read_now: bool) -> None:
        super().__init__()
        self.title_text = title
        self.story = story
        self.entity, self.record = entity, record  # what `l` asks for again
        self.live = live
        self.can_read_now = can_read_now

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog", classes="help"):
            yield Static(Text(self.title_text, style="bold"), id="dialog-title")
            with VerticalScroll(id="help-body"):
                yield Static(Text(self.story))
            said = "as read just now" if self.live else \
                "as the last plan read them" + (" · l: read now" if self.can_read_now else "")
            yield Static(Text(f"esc closes · ↑ ↓ scroll · {said}", style="dim"))

    def on_mount(self) -> None:
        self.query_one("#help-body", VerticalScroll).focus()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "live":
            return self.can_read_now and not self.live or None
        return True

    def action_live(self) -> None:
        self.app.explain_record(self.entity, self.record, live=True)

    def action_close(self) -> None:
        self.dismiss(None)
