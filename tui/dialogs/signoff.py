"""A plan signed off in a spreadsheet, from the TUI: written out for a reviewer, read back once signed.

The same round trip as `qbsync show --csv` and `qbsync approve --from FILE`: the file is the plan's
CSV, a row per field an action changes, whose `approved` and `decision` columns the reviewer edits.
"""

from __future__ import annotations

from typing import Callable

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Static

from ..widgets.fields import TextField


class SignOff(ModalScreen[tuple[str, str] | None]):
    """Returns ("write", path) or ("read", path); None when closed."""

    BINDINGS = [
        Binding("escape", "cancel", "close", id="signoff.cancel", tooltip="Close; nothing is written or read"),
    ]

    def __init__(self, plan_id: str, path: str, exists: Callable[[str], bool]) -> None:
        super().__init__()
        self.plan_id = plan_id
        self.path = path
        self.exists = exists  # whether a path names a file there already

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Static(Text(f"Sign off plan {self.plan_id} in a spreadsheet", style="bold"), id="dialog-title")
            yield Static("The file (next to rules.yaml unless the path says otherwise)")
            yield TextField(value=self.path, placeholder="plan.csv", id="signoff-path")
            yield Static(Text("Write it, and the reviewer sets approved (yes/no) and decision (precoro, quickbooks "
                              "or skip) per action; read it back to record what they changed, kept with the plan "
                              "as its note. A row that does not fit the plan is named by its line; the rest "
                              "goes on. enter writes a file not there yet, else reads it back.", style="dim"))
            with Horizontal(id="dialog-buttons"):
                yield Button("Close (esc)", id="no")
                yield Button("Write it", id="write")
                yield Button("Read it back", id="read", variant="primary")

    def on_mount(self) -> None:
        self.query_one(TextField).focus()

    @on(TextField.Submitted)
    def _submitted(self) -> None:
        self._done("read" if self.exists(self.query_one(TextField).value.strip()) else "write")

    @on(Button.Pressed, "#read")
    def _read(self) -> None:
        self._done("read")

    @on(Button.Pressed, "#write")
    def _write(self) -> None:
        self._done("write")

    def _done(self, what: str) -> None:
        path = self.query_one(TextField).value.strip()
        if not path:
            self.notify("Name the file first.", severity="warning")
            return
        self.dismiss((what, path))

    @on(Button.Pressed, "#no")
    def action_cancel(self) -> None:
        self.dismiss(None)
