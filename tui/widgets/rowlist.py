"""A virtual list with a fixed header line: it draws only the rows on screen.

A stock DataTable builds every row up front, which for a 100,000-action plan takes seconds; this
widget asks its subclass for the text of a row only when that row is painted (Line API), so a
plan of any size opens and scrolls at the cost of one screenful.
"""

from __future__ import annotations

from rich.style import Style
from rich.text import Text
from textual import events
from textual.binding import Binding
from textual.geometry import Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

# Rendered rows kept between paints; one screen is at most a few hundred.
CACHE_LIMIT = 2000


class RowList(ScrollView, can_focus=True):
    """Rows `0..count-1`, drawn on demand by `row_text`; a cursor that skips unselectable rows."""

    BINDINGS = [
        Binding("up", "cursor(-1)", "up", show=False, id="list.up", tooltip="Previous row"),
        Binding("down", "cursor(1)", "down", show=False, id="list.down", tooltip="Next row"),
        Binding("pageup", "page(-1)", "page up", show=False, id="list.page_up", tooltip="One screen up"),
        Binding("pagedown", "page(1)", "page down", show=False, id="list.page_down", tooltip="One screen down"),
        Binding("home", "edge(-1)", "first", show=False, id="list.first", tooltip="First row"),
        Binding("end", "edge(1)", "last", show=False, id="list.last", tooltip="Last row"),
    ]

    COMPONENT_CLASSES = {
        "row-list--header",
        "row-list--cursor",
        "row-list--group",
        "row-list--dim",
        "row-list--good",
        "row-list--bad",
        "row-list--warn",
        "row-list--empty",
    }

    DEFAULT_CSS = """
    RowList {
        overflow-x: hidden;
        overflow-y: auto;
        scrollbar-size-vertical: 1;
        background: $surface;
        & > .row-list--header { text-style: bold; color: $text-muted; background: $panel; }
        & > .row-list--cursor { background: $block-cursor-blurred-background; }
        &:focus > .row-list--cursor { background: $block-cursor-background; color: $block-cursor-foreground; text-style: bold; }
        & > .row-list--group { text-style: bold; color: $accent; }
        & > .row-list--dim { color: $text-muted; }
        & > .row-list--good { color: $text-success; }
        & > .row-list--bad { color: $text-error; }
        & > .row-list--warn { color: $text-warning; }
        & > .row-list--empty { color: $text-muted; text-style: italic; }
    }
    RowList:nocolor:focus > .row-list--cursor { text-style: reverse bold; }
    """

    cursor: reactive[int] = reactive(0, always_update=True, init=False)
    """Index of the highlighted row (always a selectable one while any exists)."""

    class Highlighted(Message):
        """The cursor moved to another row."""

        def __init__(self, row_list: "RowList", index: int) -> None:
            super().__init__()
            self.row_list = row_list
            self.index = index

        @property
        def control(self) -> "RowList":
            return self.row_list

    def __init__(self, *, empty: str = "Nothing to show.", name: str | None = None, id: str | None = None,
                 classes: str | None = None) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.count = 0
        self.empty = empty
        self._cache: dict[tuple, Strip] = {}
        self._generation = 0

    # -- what subclasses provide -----------------------------------------------------------------

    def header_text(self, width: int) -> Text:
        return Text("")

    def row_text(self, index: int, width: int) -> Text:
        raise NotImplementedError

    def selectable(self, index: int) -> bool:
        return True

    # -- data ------------------------------------------------------------------------------------

    def set_count(self, count: int, cursor: int | None = None) -> None:
        """New rows: forget what was drawn and put the cursor on `cursor` (or the nearest selectable row)."""
        self.count = count
        self.invalidate()
        self.virtual_size = Size(self.size.width, count + 1)
        wanted = self.cursor if cursor is None else cursor
        self._move_to(self._nearest(max(0, min(wanted, count - 1)), 1), force=True)

    def invalidate(self) -> None:
        """Row contents changed (not their number): draw again."""
        self._generation += 1
        self._cache.clear()
        self.refresh()

    # -- cursor ----------------------------------------------------------------------------------

    def _nearest(self, index: int, step: int) -> int:
        if self.count == 0:
            return 0
        i = index
        while 0 <= i < self.count:
            if self.selectable(i):
                return i
            i += step
        i = index - step
        while 0 <= i < self.count:
            if self.selectable(i):
                return i
            i -= step
        return index

    def _move_to(self, index: int, force: bool = False) -> None:
        previous = self.cursor
        if self.count:
            index = max(0, min(index, self.count - 1))
        else:
            index = 0
        if index == previous and not force:
            return
        self.set_reactive(RowList.cursor, index)
        self._cache.pop(("row", previous), None)
        self._cache.pop(("row", index), None)
        self.scroll_to_cursor()
        self.refresh()
        self.post_message(self.Highlighted(self, index))

    def move_cursor(self, index: int) -> None:
        self._move_to(self._nearest(index, 1 if index >= self.cursor else -1))

    def scroll_to_cursor(self) -> None:
        visible = max(1, self.size.height - 1)
        top = round(self.scroll_y)
        if self.cursor < top:
            self.scroll_to(y=self.cursor, animate=False, immediate=True)
        elif self.cursor >= top + visible:
            self.scroll_to(y=self.cursor - visible + 1, animate=False, immediate=True)

    def action_cursor(self, step: int) -> None:
        target = self.cursor + step
        while 0 <= target < self.count and not self.selectable(target):
            target += step
        if 0 <= target < self.count:
            self._move_to(target)
        elif step < 0 and self.cursor > 0:
            self.scroll_to(y=0, animate=False)  # show the group header above the first row

    def action_page(self, direction: int) -> None:
        page = max(1, self.size.height - 2)
        self._move_to(self._nearest(max(0, min(self.cursor + direction * page, self.count - 1)), direction))

    def action_edge(self, direction: int) -> None:
        self._move_to(self._nearest(0 if direction < 0 else self.count - 1, -direction if direction > 0 else 1))
        if direction < 0:
            self.scroll_to(y=0, animate=False)

    def on_mount(self) -> None:
        # Row strips carry theme colours: a new theme must draw them again.
        self.watch(self.app, "theme", lambda _theme: self.invalidate(), init=False)

    def on_focus(self) -> None:
        self.invalidate()

    def on_blur(self) -> None:
        self.invalidate()

    def on_resize(self, event: events.Resize) -> None:
        self.virtual_size = Size(event.size.width, self.count + 1)
        self._cache.clear()

    def on_click(self, event: events.Click) -> None:
        offset = event.get_content_offset(self)
        if offset is None or offset.y == 0:
            return
        index = round(self.scroll_y) + offset.y - 1
        if 0 <= index < self.count and self.selectable(index):
            self._move_to(index)
        self.focus()

    # -- drawing ---------------------------------------------------------------------------------

    def _strip(self, text: Text, width: int, style: Style) -> Strip:
        text.no_wrap = True
        text.overflow = "ellipsis"
        text.truncate(width, overflow="ellipsis", pad=True)
        text.stylize_before(style)
        segments = [s for s in text.render(self.app.console) if s.text != "\n"]
        return Strip(segments, width).adjust_cell_length(width, style)

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        base = self.rich_style
        if y == 0:
            key = ("header", width)
            strip = self._cache.get(key)
            if strip is None:
                header_style = base + self.get_component_rich_style("row-list--header")
                strip = self._cache[key] = self._strip(self.header_text(width), width, header_style)
            return strip
        index = round(self.scroll_y) + y - 1
        if index >= self.count:
            if self.count == 0 and y == 1:
                return self._strip(Text(" " + self.empty), width, base + self.get_component_rich_style("row-list--empty"))
            return Strip.blank(width, base)
        key = ("row", index)
        strip = self._cache.get(key)
        if strip is None or strip.cell_length != width:
            style = base
            if index == self.cursor:
                style = base + self.get_component_rich_style("row-list--cursor")
            strip = self._strip(self.row_text(index, width), width, style)
            if len(self._cache) > CACHE_LIMIT:
                self._cache.clear()
            self._cache[key] = strip
        return strip

    def style_of(self, component: str) -> Style:
        return self.get_component_rich_style(f"row-list--{component}")

