"""W3: a request that is tried again is said on the status line while the TUI is busy, its wait
counted down, and the note goes once the request is sent: a plan or an apply waiting on a flaky
network looks like waiting, not like a hang."""

from __future__ import annotations

import pytest
from snapshot_app import make_app, settle, until

from engine.clients.retry import Retry
from tui.messages import RequestRetried

pytestmark = pytest.mark.anyio

BUSY = "making a plan: reading both sides…"


async def test_w3_a_retry_is_counted_down_on_the_status_line_and_goes_once_the_request_is_sent():
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        idle = app.status_text
        said = "QuickBooks POST /query: no answer (ReadTimeout); trying again in 2.5 s (try 3 of 6)"
        app.post_message(RequestRetried(said, Retry("QuickBooks POST /query", 2.5, 3, 6)))
        assert await until(pilot, lambda: any(n.message == said for n in app._notifications))
        assert app.status_text == idle  # idle, the status line is the plan's account

        app.busy = BUSY
        app.post_message(RequestRetried(said, Retry("QuickBooks POST /query", 2.5, 3, 6)))
        assert await until(pilot, lambda: app.status_text == f"⟳ {BUSY} · QuickBooks: try 3 of 6 in 3 s"), app.status_text
        assert await until(pilot, lambda: app.status_text.endswith(" s") and not app.status_text.endswith("in 3 s")), \
            app.status_text  # counted down
        assert await until(pilot, lambda: app.status_text == f"⟳ {BUSY}"), app.status_text  # sent: the note is gone
