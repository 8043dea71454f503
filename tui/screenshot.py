"""`qbsync tui --screenshot FILE.svg`: what the TUI shows at start (or a given plan on the Review
screen), saved as an SVG for docs and bug reports, without a terminal.

The app runs headless (Textual's `run_test`) at a fixed size, with no animation and no cursor
blink, on the same session the TUI would open; it waits for the app's workers instead of sleeping.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any, Callable

DEFAULT_SIZE = (120, 40)


def save_screenshot(session_factory: Callable[[], Any], rules_path: Path, path: Path, *,
                    plan_id: str | None = None, size: tuple[int, int] = DEFAULT_SIZE) -> Path:
    """Save the screenshot to `path` (an .svg); returns the path written."""
    os.environ["TEXTUAL_ANIMATIONS"] = "none"  # read when Textual is imported: before the import below
    return asyncio.run(_shoot(session_factory, rules_path, Path(path), plan_id, size))


async def _shoot(session_factory, rules_path: Path, path: Path, plan_id: str | None, size: tuple[int, int]) -> Path:
    from .app import QbsyncApp
    from .messages import PlanLoaded

    app = QbsyncApp(session_factory, rules_path=rules_path, watch_rules=False, watch_plan=False, cursor_blink=False)
    app.animation_level = "none"
    async with app.run_test(size=size) as pilot:
        await _settle(pilot)
        if plan_id is not None and app.session is not None:
            with app._engine:  # the lock every reader of the session takes
                plan, outcomes = app.session.plan_with_outcomes(plan_id)
            app.post_message(PlanLoaded(plan, outcomes, False))
            await _settle(pilot)
            await app.switch_mode("review")
            await _settle(pilot)
        path.parent.mkdir(parents=True, exist_ok=True)
        app.save_screenshot(filename=path.name, path=str(path.parent.resolve()))
    return path


SETTLE_SECONDS = 120  # a first plan of the demo takes a second or two; a loaded machine, many more


async def _settle(pilot) -> None:
    """Until every worker is done, every message handled and nothing is under way (a plan read, the
    status probed): one worker's message may start the next, so a fixed number of rounds could
    shoot a screen still opening on a loaded machine."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + SETTLE_SECONDS
    while loop.time() < deadline:
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()
        if not pilot.app.busy and not any(worker.is_running for worker in pilot.app.workers):
            return
        await asyncio.sleep(0.05)  # busy between two workers: a message on its way
