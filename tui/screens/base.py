"""What every qbsync screen has: the tab bar, a body, the status line and the keys."""

from __future__ import annotations

from typing import Callable, ClassVar

from textual.app import ComposeResult
from textual.screen import Screen

from ..widgets.frame import ScreenTabs, StatusLine
from ..widgets.keybar import KeyBar


class QbsyncScreen(Screen):
    """A top-level screen (one of the App's modes)."""

    TAB: ClassVar[str] = ""
    """The mode name, for the tab bar."""
    HELP: ClassVar[str] = ""
    """What the screen is for, shown by F1 above its keys."""

    def __init__(self) -> None:
        super().__init__()
        self._deferred: dict[str, Callable[[], None]] = {}

    def when_shown(self, work: Callable[[], None]) -> None:
        """Run `work` now if this screen is on top, else once it is shown again.

        Screens follow the App's state even when hidden; redrawing a hidden screen at every apply
        batch would cost a 100,000-action plan a full pass each time for nothing.
        """
        if self.is_current:
            work()
        else:
            self._deferred[getattr(work, "__name__", repr(work))] = work

    def on_screen_resume(self) -> None:
        deferred, self._deferred = self._deferred, {}
        for work in deferred.values():
            work()

    def compose(self) -> ComposeResult:
        yield ScreenTabs(self.TAB)
        yield from self.compose_body()
        yield StatusLine()
        yield KeyBar()

    def compose_body(self) -> ComposeResult:
        yield from ()
