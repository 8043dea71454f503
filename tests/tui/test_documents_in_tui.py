"""D6, D7 in the TUI: a sent invoice edited in Precoro is reviewed like a supplier update, header
field by field and line by line, QuickBooks' current value struck through beside the new one."""

from __future__ import annotations

from pathlib import Path

import pytest

from snapshot_app import make_app, screen_text, settle
from tui.widgets.action_table import ActionTable

pytestmark = pytest.mark.anyio
ROOT = Path(__file__).resolve().parents[2]
CLOCK = "2026-11-26T09:00:00+00:00"


def sent_then_edited(tmp_path: Path) -> None:
    """The demo synced twice (the invoice waits for its supplier's link), then its first line
    edited in Precoro: 10 reams of paper become 5."""
    from engine.local.precoro.state import PrecoroState
    from engine.sync import SyncSession
    from tui.cli import start_local_apis

    with SyncSession(ROOT / "rules.yaml", tmp_path / "state.db", clock=lambda: CLOCK, local_apis=start_local_apis) as session:
        for _ in range(2):
            plan = session.plan()
            for action in plan.actions:
                if action.kind == "conflict":
                    session.decide(action.id, "quickbooks", plan.id)
            session.apply(plan.id)
    precoro = PrecoroState(str(tmp_path / "local-apis.db"))
    try:
        total, _ = precoro.page("invoices", limit=1)
        [doc] = [d for d in precoro.page("invoices", limit=total)[1] if d["invoiceNumber"] == "INV-2026-0042"]
        doc = precoro.get("invoices", doc["idn"])
        lines = [{"id": line["id"], "item": (line["item"] or {}).get("id"), "name": line["name"],
                  "quantity": 5 if number == 0 else line["quantity"], "price": line["price"],
                  "itemCustomFields": {str(c["itemCustomField"]["id"]): c["option"]["id"]
                                       for c in line["dataItemCustomFields"]["data"]}}
                 for number, line in enumerate(doc["items"])]
        precoro.update("invoices", doc["idn"], {"items": lines})
    finally:
        precoro.close()


async def test_d6_an_edited_invoice_shows_its_line_diff_in_the_review(tmp_path):
    from engine.sync import SyncSession
    from tui.cli import start_local_apis

    sent_then_edited(tmp_path)
    app = make_app(factory=lambda: SyncSession(ROOT / "rules.yaml", tmp_path / "state.db", clock=lambda: CLOCK,
                                               local_apis=start_local_apis), rules_path=ROOT / "rules.yaml")
    async with app.run_test(size=(160, 45)) as pilot:
        await settle(pilot)
        if app.plan is None or not any(a.entity == "invoice" for a in app.plan.actions):
            await pilot.press("r")  # plan again
            await settle(pilot)
        [update] = [a for a in app.plan.actions if a.entity == "invoice"]
        assert (update.kind, update.target) == ("update", "quickbooks")
        await pilot.press("2")
        await settle(pilot)
        await pilot.press("slash", *update.id, "enter")
        await settle(pilot)
        assert app.screen.query_one(ActionTable).current.id == update.id
        shown = screen_text(app)
        assert "line 1" in shown and "10.0 x 4.2 = 42.0" in shown and "5.0 x 4.2 = 21.0" in shown, shown
        assert "edited in Precoro since it was sent" in shown
