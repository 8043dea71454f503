"""The footer: every active binding, wrapped over as many lines as the width needs.

Textual's Footer is one line that scrolls sideways, so at 80 columns most keys of the review
screen would be out of sight; an operator must see every key without scrolling. Bindings that
share a `Binding.Group` are shown as one entry ("pq take side"); disabled ones are dimmed.
Clicking an entry presses its key (the mouse is optional, never required).
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.style import Style
from rich.text import Text
from textual import events
from textual.widgets import Static


@dataclass
class Entry:
    keys: list[tuple[str, str]]  # (key, how it is shown)
    description: str
    enabled: bool

    @property
    def width(self) -> int:
        shown = "".join(k for _, k in self.keys) if len(self.keys) > 1 else self.keys[0][1]
        return len(shown) + 1 + len(self.description)


class KeyBar(Static):
    """All keys of the screen, never scrolled out of sight."""

    COMPONENT_CLASSES = {"keybar--key"}
    _shown: str | None = None  # the markup on screen, to skip identical updates

    DEFAULT_CSS = """
    KeyBar {
        dock: bottom;
        height: auto;
        width: 1fr;
        background: $footer-background;
        color: $footer-description-foreground;
        padding: 0 1;
        link-style: none;
        link-style-hover: reverse;
        & > .keybar--key { color: $footer-key-foreground; text-style: bold; }
    }
    """

    def on_mount(self) -> None:
        self.screen.bindings_updated_signal.subscribe(self, lambda _screen: self.rebuild())
        self.rebuild()

    def on_unmount(self) -> None:
        self.screen.bindings_updated_signal.unsubscribe(self)

    def on_resize(self, event: events.Resize) -> None:
        self.rebuild()

    def entries(self) -> list[Entry]:
        entries: list[Entry] = []
        seen_actions: set[str] = set()
        groups: dict[str, Entry] = {}
        palette_key = self.app.COMMAND_PALETTE_BINDING
        palette = None
        for key, (_node, binding, enabled, _tooltip) in self.screen.active_bindings.items():
            if key == palette_key:
                palette = Entry([(key, self.app.get_key_display(binding))], "commands", True)
                continue
            if not binding.show or binding.action in seen_actions:
                continue
            seen_actions.add(binding.action)
            shown = self.app.get_key_display(binding)
            if binding.group is not None:
                entry = groups.get(binding.group.description)
                if entry is None:
                    entry = groups[binding.group.description] = Entry([], binding.group.description, enabled)
                    entries.append(entry)
                entry.keys.append((key, shown))
                entry.enabled = entry.enabled or enabled
                continue
            entries.append(Entry([(key, shown)], binding.description, enabled))
        if palette is not None:
            entries.append(palette)
        return entries

    def rebuild(self) -> None:
        if not self.is_attached:
            return
        width = max(20, self.size.width - 2 if self.size.width else self.app.size.width - 2)
        key_style = self.get_component_rich_style("keybar--key", partial=True)
        text = Text(no_wrap=True, overflow="crop")
        used = 0
        for entry in self.entries():
            need = entry.width + (2 if used else 0)
            if used and used + need > width:
                text.append("\n")
                used = 0
                need = entry.width
            elif used:
                text.append("  ")
            dim = "" if entry.enabled else "dim"
            for key, shown in entry.keys:
                action = Style(meta={"@click": f"app.simulate_key({key!r})"})
                text.append(shown, style=key_style + Style.parse(dim or "none") + action)
            text.append(" " + entry.description, style=Style.parse("dim") if not entry.enabled else None)
            used += need
        # Unchanged keys must not cost a layout pass: this runs at every cursor move.
        if text.markup != self._shown:
            self._shown = text.markup
            self.update(text)
