"""Builds the app the way tests and snapshots need it: fixed data and clock, nothing timing-dependent.

`TEXTUAL_ANIMATIONS=none` is set before Textual is imported; the snapshot plugin may have imported
Textual already, so `make_app` also sets the level on the app itself. Cursor blink is off and the
rules file is not watched (tests trigger a reload themselves).
"""

from __future__ import annotations

import asyncio
import os

os.environ["TEXTUAL_ANIMATIONS"] = "none"

from pathlib import Path  # noqa: E402

from demo_session import RULES, FakeSession  # noqa: E402
from tui.app import QbsyncApp  # noqa: E402


def make_app(session=None, *, rules_path: str | Path = RULES, factory=None, **kwargs) -> QbsyncApp:
    """The app on a FakeSession (or `factory`), as a snapshot needs it: nothing depends on time."""
    session = session if session is not None else FakeSession(rules_path=Path(rules_path))
    kwargs.setdefault("watch_plan", False)  # a test looks for another terminal's changes itself
    app = QbsyncApp(factory or (lambda: session), rules_path=rules_path, watch_rules=False, cursor_blink=False,
                    **kwargs)
    app.animation_level = "none"
    return app


async def settle(pilot) -> None:
    """Wait until every worker is done and every message handled (never sleep)."""
    for _ in range(5):
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()
        if not any(w.is_running for w in pilot.app.workers):
            return


async def shows(pilot, *texts: str, timeout: float = 10.0) -> str:
    """The screen's text once it shows every one of `texts` (a layout that settles in more than one
    refresh, as the Overview's cards folding at 80x24, under a loaded machine); else what it shows."""
    await until(pilot, lambda: all(text in screen_text(pilot.app) for text in texts), timeout)
    return screen_text(pilot.app)


async def until(pilot, condition, timeout: float = 10.0) -> bool:
    """Whether `condition()` came to hold within `timeout`, the app running meanwhile: what a key
    sets off may take more than one refresh on a loaded machine (a screen switched to and drawn)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() > deadline:
            return False
        await pilot.pause(0.02)
    return True


def screen_text(app) -> str:
    """What the terminal shows now, as plain text."""
    return "\n".join(strip.text for strip in app.screen._compositor.render_strips())
