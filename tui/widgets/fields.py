"""Text fields that follow the App's cursor-blink setting (off in tests, so screenshots are stable)."""

from __future__ import annotations

from textual.widgets import Input


class TextField(Input):
    """An Input whose cursor blinks only when the App says so."""

    def on_mount(self) -> None:
        self.cursor_blink = getattr(self.app, "cursor_blink", True)
