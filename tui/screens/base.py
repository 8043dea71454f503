"""What every qbsync screen has: the tab bar, a body, the status line and the keys."""

from __future__ import annotations

from typing import Callable, ClassVar

from textual import events
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen

from ..widgets.frame import ScreenTabs, StatusLine
from ..widgets.keybar import KeyBar


class QbsyncScreen(Screen):
    """A top-level screen (one of the App's modes)."""

    # Textual's own tab keys, again with an id and a tooltip so that F1 can list them.
    BINDINGS = [
        Binding("tab", "app.focus_next", "next pane", show=False, id="screen.focus_next",
                tooltip="Move to the next pane (list, search field, detail)"),
        Binding("shift+tab", "app.focus_previous", "previous pane", show=False, id="screen.focus_previous",
                tooltip="Move to the previous pane"),
    ]

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

    def on_key(self, event: events.Key) -> None:
        """A key of this screen that cannot act now says why, instead of doing nothing.

        The key reaches the screen before the App tries the bindings (it bubbles up from the
        focused widget, and a text field keeps the keys it types), and a binding the screen's
        `check_action` turned off would do nothing.
        """
        active = self.active_bindings.get(event.key)
        if active is not None and not active.enabled and active.node is self:
            event.stop()
            self.notify(self.why_not(active.binding.action.split("(")[0]), severity="warning", timeout=4)

    def why_not(self, action: str) -> str:
        """Why `action` (a binding's action name) cannot act now; screens that turn keys off say more."""
        return "That key does nothing here right now."

    def compose(self) -> ComposeResult:
        yield ScreenTabs(self.TAB)
        yield from self.compose_body()
        yield StatusLine()
        yield KeyBar()

    def compose_body(self) -> ComposeResult:
        yield from ()
