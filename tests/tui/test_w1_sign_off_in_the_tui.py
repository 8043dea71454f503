"""W1 from the TUI: a plan signed off in a spreadsheet without leaving it. `o` in Review writes the
plan as `qbsync show --csv` does (next to rules.yaml, never over a file there), and reads the signed
file back as `qbsync approve --from FILE` does: what the reviewer changed is recorded and shown, a
row that does not fit is named by its line, and the plan keeps the sign-off as its note."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import pytest

from snapshot_app import make_app, screen_text, settle, shows
from tui.dialogs.signoff import SignOff

pytestmark = pytest.mark.anyio
ROOT = Path(__file__).resolve().parents[2]
CLOCK = "2026-11-26T09:00:00+00:00"


@pytest.fixture
def app_in(tmp_path):
    from engine.sync import SyncSession
    from tui.cli import start_local_apis

    rules = tmp_path / "rules.yaml"
    shutil.copy(ROOT / "rules.yaml", rules)
    sessions = []

    def factory():
        sessions.append(SyncSession(rules, tmp_path / "state.db", clock=lambda: CLOCK, local_apis=start_local_apis))
        return sessions[-1]

    return make_app(factory=factory, rules_path=rules), sessions


def rows_of(path: Path) -> list[dict]:
    with path.open(newline="", encoding="utf-8") as file:
        return list(csv.DictReader(file))


async def test_w1_the_plan_is_written_for_sign_off_and_read_back_signed(app_in, tmp_path):
    app, sessions = app_in
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        plan = app.plan
        create = next(a for a in plan.actions if a.kind == "create" and a.approved)
        conflict = next(a for a in plan.actions if a.kind == "conflict" and a.decision is None)
        await pilot.press("2", "x")  # a skip made here before the file is written is in it
        await settle(pilot)
        skipped_here = app.screen.query_one("ActionTable").current
        await pilot.press("o")
        await settle(pilot)
        assert isinstance(app.screen, SignOff)
        await pilot.press("enter")  # no such file yet: enter writes it
        await settle(pilot)
        written = tmp_path / f"plan-{plan.id}.csv"
        rows = rows_of(written)
        assert {r["plan_id"] for r in rows} == {plan.id}
        assert {r["action_id"] for r in rows} == {a.id for a in plan.actions}
        assert {r["approved"] for r in rows if r["action_id"] == skipped_here.id} == {"no"}
        assert any(f"Wrote {len(rows)} rows to {written}." in n.message for n in app._notifications)  # where, whole

        # The reviewer skips a create, takes QuickBooks' side of the conflict, and names an action
        # the plan does not have.
        for row in rows:
            if row["action_id"] == create.id:
                row["approved"] = "no"
            if row["action_id"] == conflict.id:
                row["decision"] = "quickbooks"
        rows.append({**rows[0], "action_id": "0000000000", "precoro_id": "999999", "quickbooks_id": "999999"})
        with written.open("w", newline="", encoding="utf-8") as file:
            writer = csv.DictWriter(file, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)

        await pilot.press("o")
        await settle(pilot)
        await pilot.press("enter")  # the file is there: enter reads it back
        await settle(pilot)
        said = [n.message for n in app._notifications if n.message.startswith("Signed off plan")]
        assert said and "1 approved" not in said[-1] and "1 decided quickbooks" in said[-1]
        assert f"plan-{plan.id}.csv:{len(rows) + 1}: plan {plan.id} has no such action" in said[-1]
        stored = sessions[0].load_plan(plan.id)
        assert stored.action(create.id).approved is False
        assert stored.action(conflict.id).decision == "quickbooks" and stored.action(conflict.id).approved
        assert not app.plan.action(create.id).approved  # the plan on screen follows the file
        app.check_plan_elsewhere()
        await settle(pilot)
        assert not any("another terminal" in n.message for n in app._notifications)  # this one's own doing
        await pilot.press("1")
        assert "Plan note    signed off by " in await shows(pilot, "Plan note")


async def test_w1_writing_never_replaces_a_file_and_a_bad_file_records_nothing(app_in, tmp_path):
    app, sessions = app_in
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        plan = app.plan
        signed = tmp_path / f"plan-{plan.id}.csv"
        signed.write_text("a reviewer's work\n")
        await pilot.press("2", "o")
        await settle(pilot)
        assert isinstance(app.screen, SignOff)
        await pilot.click("#write")
        await settle(pilot)
        assert signed.read_text() == "a reviewer's work\n"  # never written over
        assert any("exists already: read it back, or name another file" in n.message for n in app._notifications)

        await pilot.press("o")
        await settle(pilot)
        await pilot.press("enter")  # there: read back, and refused whole with where and why
        await settle(pilot)
        assert any(n.message.startswith("Nothing was recorded: ") and f"{signed}:1:1: expected" in n.message
                   for n in app._notifications), [n.message for n in app._notifications]
        assert sessions[0].store.plan_row(plan.id) and not sessions[0].load_plan(plan.id).notes
        assert app.busy == "" and "⟳" not in screen_text(app)


async def test_w1_a_file_not_there_or_in_no_folder_is_said_plainly(app_in, tmp_path):
    app, _ = app_in
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(pilot)
        await pilot.press("2", "o")
        await settle(pilot)
        field = app.screen.query_one("#signoff-path")
        field.value = "nowhere/plan.csv"
        await pilot.click("#write")
        await settle(pilot)
        assert any(f"Nothing was written: {tmp_path / 'nowhere'}: no such folder" in n.message
                   for n in app._notifications), [n.message for n in app._notifications]
        await pilot.press("o")
        await settle(pilot)
        app.screen.query_one("#signoff-path").value = "signed.csv"
        await pilot.click("#read")
        await settle(pilot)
        assert any(n.message.startswith("Nothing was recorded: ") and "signed.csv: no such file" in n.message
                   for n in app._notifications), [n.message for n in app._notifications]
