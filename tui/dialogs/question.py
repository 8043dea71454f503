"""A yes/no question for the rare moment that needs one (leaving while an apply runs)."""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Static


class Question(ModalScreen[bool]):
    """`question`, with No as the default; `y` answers yes."""

    BINDINGS = [
        Binding("y", "answer(True)", "yes", id="question.yes", tooltip="Yes"),
        Binding("n,escape", "answer(False)", "no", id="question.no", tooltip="No: back to where you were"),
    ]

    def __init__(self, question: str, detail: str = "") -> None:
        super().__init__()
        self.question = question
        self.detail = detail

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Static(Text(self.question, style="bold"), id="dialog-title")
            if self.detail:
                yield Static(Text(self.detail, style="dim"), id="question-detail")
            with Horizontal(id="dialog-buttons"):
                yield Button("No (n)", id="no")
                yield Button("Yes (y)", id="yes", variant="warning")

    def on_mount(self) -> None:
        self.query_one("#no", Button).focus()

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)
