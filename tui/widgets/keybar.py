"""The footer: one line of the keys that matter most here, with F1 (every key) always at its end.

At 80x24 a screen cannot spare more than one line for keys, and the review screen has more keys
than fit on one; the rest are one F1 away, in a help generated from the same bindings. Entries
come in the order the screen declares its bindings (most used first), then the App's own; the
screen keys 1-5 are left to the tab bar, which shows them. Bindings that share a `Binding.Group`
are one entry ("pq take side"); disabled ones are dimmed. Clicking an entry presses its key (the
mouse is optional, never required).
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.style import Style
from rich.text import Text
from textual import events
from textual.widgets import Static

from .frame import SCREENS_GROUP


@dataclass
class Entry:
    keys: list[tuple[str, str]]  # (key, how it is shown)
    description: str
    enabled: bool
    pinned: bool = False  # always shown, at the end of the line (F1: every other key is in the help)

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
        height: 1;
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
        """Every entry the footer could show, most important first; the help entry (pinned) is last."""
        entries: list[Entry] = []
        seen_actions: set[str] = set()
        groups: dict[str, Entry] = {}
        palette_key = self.app.COMMAND_PALETTE_BINDING
        palette = help_ = None
        for key, (_node, binding, enabled, _tooltip) in self.screen.active_bindings.items():
            if key == palette_key:
                palette = Entry([(key, self.app.get_key_display(binding))], "commands", True)
                continue
            if not binding.show or binding.action in seen_actions or binding.group is SCREENS_GROUP:
                continue
            seen_actions.add(binding.action)
            shown = self.app.get_key_display(binding)
            if binding.action == "help":
                help_ = Entry([(key, shown)], binding.description, enabled, pinned=True)
                continue
            if binding.group is not None:
                entry = groups.get(binding.group.description)
                if entry is None:
                    entry = groups[binding.group.description] = Entry([], binding.group.description, enabled)
                    entries.append(entry)
                entry.keys.append((key, shown))
                entry.enabled = entry.enabled or enabled
                continue
            entries.append(Entry([(key, shown)], binding.description, enabled))
        entries.extend(e for e in (palette, help_) if e is not None)
        return entries

    def shown_entries(self, width: int) -> list[Entry]:
        """What fits on one line of `width` cells: the help entry always, then the others in order.

        An entry too wide for what is left is left out, and a shorter one after it may still fit:
        the order on screen stays the declared one.
        """
        entries = self.entries()
        pinned = entries.pop() if entries and entries[-1].pinned else None
        room = width - (pinned.width + 2 if pinned else 0)
        shown: list[Entry] = []
        used = 0
        for entry in entries:
            need = entry.width + (2 if shown else 0)
            if used + need <= room:
                shown.append(entry)
                used += need
        return shown + ([pinned] if pinned else [])

    def rebuild(self) -> None:
        if not self.is_attached:
            return
        width = max(20, self.size.width - 2 if self.size.width else self.app.size.width - 2)
        key_style = self.get_component_rich_style("keybar--key", partial=True)
        text = Text(no_wrap=True, overflow="crop")
        # Under a dialog these keys do nothing (the dialog says its own): show none rather than wrong ones.
        entries = self.shown_entries(width) if self.screen.is_active else []
        for number, entry in enumerate(entries):
            if number:
                text.append("  ")
            dim = "" if entry.enabled else "dim"
            for key, shown in entry.keys:
                action = Style(meta={"@click": f"app.simulate_key({key!r})"})
                text.append(shown, style=key_style + Style.parse(dim or "none") + action)
            text.append(" " + entry.description, style=Style.parse("dim") if not entry.enabled else None)
        # Unchanged keys must not cost a layout pass: this runs at every cursor move.
        if text.markup != self._shown:
            self._shown = text.markup
            self.update(text)
