"""The lines around every screen: the tab bar on top and the status line above the keys."""

from __future__ import annotations

from rich.style import Style
from rich.text import Text
from textual.binding import Binding
from textual.widgets import Static

# (mode, key, title): the order of the tabs and the keys that switch to them.
TABS = (
    ("overview", "1", "Overview"),
    ("review", "2", "Review"),
    ("apply", "3", "Apply"),
    ("history", "4", "History"),
    ("rules", "5", "Rules"),
)
# The App's bindings of those keys: the tab bar shows them, so the footer leaves them out.
SCREENS_GROUP = Binding.Group("screens", compact=True)


class ScreenTabs(Static):
    """Which screen this is, and the key of every other one."""

    COMPONENT_CLASSES = {"screen-tabs--current", "screen-tabs--key", "screen-tabs--brand"}
    DEFAULT_CSS = """
    ScreenTabs {
        dock: top;
        height: 1;
        background: $panel;
        link-style: none;
        link-style-hover: reverse;
        & > .screen-tabs--current { background: $block-cursor-background; color: $block-cursor-foreground; text-style: bold; }
        & > .screen-tabs--key { color: $text-accent; text-style: bold; }
        & > .screen-tabs--brand { text-style: bold; color: $text-primary; }
    }
    ScreenTabs:nocolor > .screen-tabs--current { text-style: reverse bold; }
    """

    def __init__(self, current: str) -> None:
        super().__init__()
        self.current = current

    def on_mount(self) -> None:
        self.watch(self.app, "plan_label", self._draw)
        self.watch(self.app, "theme", lambda _theme: self._draw(self.app.plan_label), init=False)

    def _draw(self, label: str) -> None:
        text = Text(no_wrap=True, overflow="ellipsis")
        text.append(" qbsync ", style=self.get_component_rich_style("screen-tabs--brand"))
        for mode, key, title in TABS:
            click = Style(meta={"@click": f"app.switch_mode({mode!r})"})
            if mode == self.current:
                text.append(f" {key} {title} ", style=self.get_component_rich_style("screen-tabs--current") + click)
            else:
                text.append(" ")
                text.append(key, style=self.get_component_rich_style("screen-tabs--key") + click)
                text.append(f" {title} ", style=click)
        if label:
            room = self.size.width - text.cell_len - 1 if self.size.width else 0
            if room > 8:
                shown = label if len(label) <= room else label[: room - 1] + "…"
                text.append(" " * (room - len(shown)) + shown, style="dim")
        self.update(text)

    def on_resize(self) -> None:
        self._draw(self.app.plan_label)


class StatusLine(Static):
    """What the app is doing now, or the state of the plan under review."""

    DEFAULT_CSS = """
    StatusLine {
        dock: bottom;
        height: 1;
        padding: 0 1;
        background: $panel;
        color: $text-muted;
        &.-busy { color: $text-warning; text-style: bold; }
        &.-error { color: $text-error; text-style: bold; }
    }
    """

    def on_mount(self) -> None:
        self.watch(self.app, "status_text", self._draw)

    def _draw(self, text: str) -> None:
        busy = self.app.busy
        self.set_class(bool(busy), "-busy")
        self.update(Text(busy or text, no_wrap=True, overflow="ellipsis"))
