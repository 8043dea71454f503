"""The whole flow on the real engine and the local APIs with demo data (W1, S2, S7, W4).

plan -> decide a conflict -> skip one action -> confirm the apply -> see the outcomes -> audit,
then resolve an ambiguous match by picking its candidate. Assertions stay generic about the demo
data (it belongs to the local APIs) but exact about what reached the state file.
"""

from __future__ import annotations

import re
import socket
import time
from pathlib import Path

import pytest

from snapshot_app import make_app, screen_text, settle, shows, until
from tui.dialogs.confirm import ConfirmApply
from tui.dialogs.explained import Explained
from tui.dialogs.mapping import PickCandidate
from tui.widgets.action_table import ActionTable

pytestmark = pytest.mark.anyio
ROOT = Path(__file__).resolve().parents[2]
CLOCK = "2026-11-26T09:00:00+00:00"


@pytest.fixture
def real_app(tmp_path):
    from engine.sync import SyncSession
    from tui.cli import start_local_apis

    sessions = []

    def factory():
        session = SyncSession(ROOT / "rules.yaml", tmp_path / "state.db", clock=lambda: CLOCK, local_apis=start_local_apis)
        sessions.append(session)
        return session

    app = make_app(factory=factory, rules_path=ROOT / "rules.yaml")
    return app, sessions


def another_terminal(tmp_path, at: str = CLOCK):
    """A colleague's qbsync in another terminal: a session of its own on the same state file and local APIs."""
    from engine.sync import SyncSession
    from tui.cli import start_local_apis

    return SyncSession(ROOT / "rules.yaml", tmp_path / "state.db", clock=lambda: at, local_apis=start_local_apis)


async def find(pilot, action_id: str):
    """Put the cursor on one action by searching its id."""
    await pilot.press("slash", *action_id, "enter")
    await settle(pilot)
    current = pilot.app.screen.query_one(ActionTable).current
    assert current is not None and current.id == action_id
    return current


async def test_w1_real_flow_plan_decide_apply_history(real_app):
    app, sessions = real_app
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        plan = app.plan
        assert plan is not None and plan.actions, screen_text(app)
        session = sessions[0]
        await pilot.press("2")
        await settle(pilot)

        conflict = next((a for a in plan.actions if a.kind == "conflict"), None)
        if conflict is not None:
            await find(pilot, conflict.id)
            await pilot.press("p")
            await settle(pilot)
            assert session.load_plan(plan.id).action(conflict.id).decision == "precoro"
            await pilot.press("escape")
            await settle(pilot)

        skipped = next(a for a in plan.actions if a.kind == "create")
        await find(pilot, skipped.id)
        await pilot.press("x")
        await settle(pilot)
        assert session.load_plan(plan.id).action(skipped.id).approved is False
        await pilot.press("escape")
        await settle(pilot)

        await pilot.press("g")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmApply)
        expected = app.screen.summary
        assert session.history() == []  # nothing written before the yes
        await pilot.press("y")
        await settle(pilot)
        assert app.current_mode == "apply" and app.apply_report is not None
        statuses = {r.id: r.status for r in app.apply_results}
        assert statuses[skipped.id] == "skipped"
        if conflict is not None:
            assert statuses[conflict.id] in ("applied", "failed", "refused")
        ran = sum(1 for s in statuses.values() if s in ("applied", "failed", "refused"))
        assert ran == expected.actions
        for result in app.apply_results:
            if result.status == "failed":
                assert result.reason  # the QuickBooks code and message, or Precoro's

        await pilot.press("4")
        await settle(pilot)
        audited = {row["action_id"] for row in app.history_rows}
        assert audited and audited <= {a.id for a in plan.actions}
        assert skipped.id not in audited


async def test_s7_real_ambiguous_match_mapped_by_picking_the_candidate(real_app):
    app, sessions = real_app
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        ambiguous = next((a for a in app.plan.actions if a.kind == "ambiguous" and a.candidates), None)
        assert ambiguous is not None, "the demo data has two suppliers matching one vendor (Northwind Traders)"
        await pilot.press("2")
        await settle(pilot)
        await find(pilot, ambiguous.id)
        await pilot.press("m")
        await settle(pilot)
        assert isinstance(app.screen, PickCandidate)
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmApply), screen_text(app)
        assert app.screen.summary.links == 1
        await pilot.press("y")
        await settle(pilot)
        session = sessions[0]
        rows = session.history(record=ambiguous.precoro_id)
        assert rows and rows[0]["kind"] == "link" and rows[0]["status"] == "applied"
        # A new plan was made, and this supplier is no longer waiting for a pick.
        assert not any(a.id == ambiguous.id for a in app.plan.actions)


async def test_w4_real_y_tells_the_conflicts_record_story_from_the_state_file(real_app):
    app, _ = real_app
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        conflict = next(a for a in app.plan.actions if a.kind == "conflict")
        await pilot.press("2")
        await settle(pilot)
        await find(pilot, conflict.id)
        await pilot.press("y")
        assert await until(pilot, lambda: isinstance(app.screen, Explained)), screen_text(app)
        shown = screen_text(app)
        assert f"Precoro {conflict.precoro_id}" in shown and f"QuickBooks {conflict.quickbooks_id}" in shown
        assert "fields (Precoro | QuickBooks | last synced; ≠: the two sides differ):" in shown
        for change in conflict.changes:  # the fields it is about differ, as the plan read them
            assert f"≠ {change.field}: " in shown
        assert f"id={conflict.id} (undecided)" in shown
        assert "an unattended run would hold it: a conflict: both sides changed it;" in shown  # wrapped after

        await pilot.press("l")  # its two sides read now from the local APIs
        assert await until(pilot, lambda: isinstance(app.screen, Explained) and app.screen.live), screen_text(app)
        assert "(read now)" in screen_text(app) and f"≠ {conflict.changes[0].field}: " in screen_text(app)


async def test_u1_real_u_lists_the_runs_a_timer_made_in_another_process(real_app, tmp_path):
    from engine.run import run_once
    from tui.dialogs.runs import RunsDialog

    app, _ = real_app
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        with another_terminal(tmp_path) as timer:  # `qbsync run` from a timer, on the same state file
            ran = run_once(timer, trigger="schedule")
        await pilot.press("1", "u")
        assert await until(pilot, lambda: isinstance(app.screen, RunsDialog))
        shown = screen_text(app)
        assert f"{CLOCK[:16].replace('T', ' ')}  schedule  held" in shown
        assert f"plan {ran.plan_id} · applied {ran.counts.get('applied', 0)} · held {len(ran.held)} ({ran.new_held} new)" in shown


async def test_u2_real_the_review_lists_what_a_run_would_hold_of_the_plan_on_screen(real_app, tmp_path):
    """The Review's "a run would hold" on the real engine: what `qbsync run --dry-run` would hold."""
    from engine.run import run_once

    app, sessions = real_app
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("2", *["c"] * 5)
        table = app.screen.query_one(ActionTable)
        assert await until(pilot, lambda: app.holds is not None and table.visible_actions())
        with another_terminal(tmp_path) as look:
            preview = run_once(look, dry_run=True)
        assert preview.plan_id == app.plan.id  # nothing changed: the plan on screen is the run's
        assert {a.id: app.holds[a.id] for a in table.visible_actions()} == {
            row["action_id"]: row["reason"] for row in preview.held}

        # A colleague skips one of them in another terminal: once this TUI looks, it is no longer held.
        create = next(a for a in table.visible_actions() if a.kind == "create")
        with another_terminal(tmp_path) as colleague:
            colleague.approve([create.id], approved=False, plan_id=app.plan.id)
        app.check_plan_elsewhere()
        assert await until(pilot, lambda: app.holds is not None and create.id not in app.holds
                           and create.id not in {a.id for a in table.visible_actions()})


async def test_i6_real_name_mismatch_mapping_then_sync_items_renames(real_app):
    """I4-I7 on the real engine: map "Toner black" to "Printer toner, black" from the Not-mapped list,
    with the preview of what mapping imports; the name stays until Sync Items renames it."""
    from tui.dialogs.mapping import NotMapped

    app, sessions = real_app
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        session = sessions[0]
        await pilot.press("2", "i")
        await settle(pilot)
        assert isinstance(app.screen, NotMapped), screen_text(app)
        before = len(app.screen.items)
        toner = next(i for i in app.screen.items if i["name"] == "Toner black")
        await pilot.press(*"toner b")  # the list filters as one types
        await settle(pilot)
        assert "Toner black" in screen_text(app) and "Copy paper" not in screen_text(app)
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, PickCandidate)
        await pilot.press(*"printer")  # the suggestions filter too
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmApply), screen_text(app)
        shown = screen_text(app)
        assert "Printer toner" in shown
        assert "TONER-B → TN-2420" in shown and "58 → 61" in shown
        assert "names stay until the next Sync Items (I6)" in shown
        changes = {c.field: c for a in app.screen.plan.actions if a.kind == "update" for c in a.changes}
        assert "name" not in changes and {"sku", "price"} <= set(changes)
        await pilot.press("y")  # one key confirms
        await settle(pilot)

        item = session.connected.precoro.get(f"/items/{toner['precoro_id']}")
        assert item["name"] == "Toner black"  # the name stays at mapping time (I6)
        assert item["sku"] == "TN-2420" and float(item["price"]) == 61
        # Back on the list, with the running count.
        assert isinstance(app.screen, NotMapped), screen_text(app)
        assert len(app.screen.items) == before - 1
        assert f"{before - 1} of {before} Precoro items · 1 mapped in this session" in screen_text(app)
        await pilot.press("escape")
        await settle(pilot)

        # Sync Items: the linked item takes the QuickBooks name. A full plan: the TUI takes the latest
        # full plan, never a partial one (`plan --only items`, applied by its id).
        with app._engine:
            items_plan = session.plan()
        rename = next(a for a in items_plan.actions if a.precoro_id == toner["precoro_id"] and a.kind == "update")
        assert {c.field: c.after for c in rename.changes}["name"] == "Printer toner, black"
        app.load_plan(fresh=False)
        await settle(pilot)
        assert app.plan.id == items_plan.id
        await pilot.press("g")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmApply)
        await pilot.press("y")
        await settle(pilot)
        assert app.outcomes[rename.id].status == "applied"
        assert session.connected.precoro.get(f"/items/{toner['precoro_id']}")["name"] == "Printer toner, black"


async def test_w1_real_large_plan_opens_from_its_saved_tally_and_counts_again_after_a_decision(tmp_path):
    """A plan of more than one listing page, made by another terminal: the TUI shows it from its
    saved tally and listing (the rows read in the background), and after a skip here counts it again
    exactly as the state file now holds it."""
    from engine.local.serve import LocalApis
    from engine.review import tally_of
    from engine.store import LISTING_PAGE
    from engine.sync import SyncSession

    def factory():
        return SyncSession(ROOT / "rules.yaml", tmp_path / "state.db", clock=lambda: CLOCK, local_apis=lambda state:
                           LocalApis.start(data=Path(state).parent / "local-apis.db", seed="scale:850"))

    with factory() as other:
        made = other.plan()
        whole = other.load_plan(made.id).actions
    assert len(whole) > LISTING_PAGE
    counted = tally_of(whole)
    app = make_app(factory=factory, rules_path=ROOT / "rules.yaml")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        assert app.plan is not None and app.plan.id == made.id and app.plan.tally is not None
        assert app.plan_tally() == counted
        assert app.status_text.startswith(f"{len(whole):,} actions · writes {counted.summary.writes('quickbooks'):,} "
                                          f"QuickBooks · {counted.summary.writes('precoro'):,} Precoro")
        await pilot.press("2")
        await settle(pilot)
        table = app.screen.query_one(ActionTable)
        assert table.rows.matched == len(whole)
        await pilot.press("end")
        await settle(pilot)
        assert table.current.id == whole[-1].id

        skipped = next(a for a in reversed(whole) if a.kind == "create" and a.approved)
        await find(pilot, skipped.id)
        await pilot.press("x")
        await settle(pilot)
        with factory() as other:
            now = tally_of(other.load_plan(made.id).actions)
        assert now.summary.held.get("not approved") == 1 and now != counted
        assert app.plan_tally() == now
        assert f"writes {now.summary.writes('quickbooks'):,} QuickBooks · {now.summary.writes('precoro'):,} Precoro" \
            in app.status_text


async def test_w3_a_service_that_does_not_answer_is_said_while_it_is_tried_again(tmp_path):
    from engine.sync import SyncSession
    from tui.cli import start_local_apis

    with socket.socket() as probe:  # a port nothing listens on, for Precoro; QuickBooks stays the local one
        probe.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{probe.getsockname()[1]}"
    rules = tmp_path / "rules.yaml"
    shipped = (ROOT / "rules.yaml").read_text()
    precoro_environment = "    environment: local\n    # Optional: base_url:"  # the precoro block's
    assert precoro_environment in shipped
    rules.write_text(shipped.replace(precoro_environment, f"    environment: local\n    base_url: {closed}\n"
                                                          "    # Optional: base_url:", 1))
    env = {"PRECORO_EMAIL": "operator@example.com", "PRECORO_TOKEN": "a-token"}
    app = make_app(factory=lambda: SyncSession(rules, tmp_path / "state.db", env=env, clock=lambda: CLOCK,
                                               local_apis=start_local_apis), rules_path=rules)
    async with app.run_test(size=(120, 40)) as pilot:
        said: list[str] = []
        for _ in range(200):
            said = [n.message for n in app._notifications if "trying again" in n.message]
            if said:
                break
            await pilot.pause(0.05)
        assert said, ([n.message for n in app._notifications], app.busy, app.status_text)
        assert said[0].startswith("Precoro GET /") and f"cannot reach {closed} (" in said[0], said
        assert said[0].endswith("nothing was sent; trying again in 0.5 s (try 2 of 6)")
        assert app.busy.startswith("making a plan")  # still at it
        # The status line says it too, the wait counted down: the plan waits, it is not stuck.
        assert await until(pilot, lambda: re.search(r" · Precoro: try [2-6] of 6 in \d+ s$", app.status_text)), \
            app.status_text
        assert app.status_text.startswith("⟳ making a plan")
        started = time.monotonic()
        await pilot.press("ctrl+q")  # quitting stops the plan, its request's wait included
    assert time.monotonic() - started < 10  # not the rest of the retries' backoff (15 s)


async def test_w1_a_plan_signed_off_elsewhere_says_so_on_the_overview(tmp_path):
    """A plan signed off from a spreadsheet in another terminal (`qbsync approve --from`): the TUI
    opens it with who signed it off and from which file, as the plan's note."""
    import csv
    import io

    from engine.signoff import read_signoff_file
    from engine.sync import SyncSession
    from tui.cli import start_local_apis
    from tui.render import plan_csv

    def factory():
        return SyncSession(ROOT / "rules.yaml", tmp_path / "state.db", clock=lambda: CLOCK, local_apis=start_local_apis)

    with factory() as other:
        made = other.plan()
        exported = io.StringIO()
        plan_csv(made.id, other.actions_of(made.id), exported)
        rows = list(csv.DictReader(io.StringIO(exported.getvalue())))
        skipped = next(a for a in made.actions if a.kind == "create")
        signed = io.StringIO()
        writer = csv.DictWriter(signed, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows({**row, "approved": "no"} if row["action_id"] == skipped.id else row for row in rows)
        done = other.sign_off(read_signoff_file("signed.csv", signed.getvalue()))
    assert done.skipped == [skipped.id]
    app = make_app(factory=factory, rules_path=ROOT / "rules.yaml")
    async with app.run_test(size=(160, 40)) as pilot:
        await settle(pilot)
        assert app.plan is not None and app.plan.id == made.id
        shown = screen_text(app)
        assert "Plan note    signed off by " in shown and f" at {CLOCK} from signed.csv (sha256 " in shown


async def test_w1_a_skip_made_in_another_terminal_while_the_tui_asks_is_not_overridden(real_app, tmp_path):
    """Two terminals on one state file: the TUI asks about the plan as it shows it; a colleague skips
    one of its creates meanwhile (`qbsync skip`). The yes then writes nothing: the TUI says why and
    reads the plan again, and the next question counts it as it now is."""

    app, sessions = real_app
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        plan = app.plan
        create = next(a for a in plan.actions if a.kind == "create" and a.executable)
        await pilot.press("2", "g")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmApply)
        asked = app.screen.summary.actions
        with another_terminal(tmp_path) as colleague:
            colleague.approve([create.id], approved=False, plan_id=plan.id)
        await pilot.press("y")
        await settle(pilot)
        assert sessions[0].history() == []  # nothing written
        assert await until(pilot, lambda: app.plan is not None and not app.plan.action(create.id).approved)
        assert app.apply_report is None and not app.apply_running

        await pilot.press("2", "g")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmApply) and app.screen.summary.actions == asked - 1
        await pilot.press("y")
        await settle(pilot)
        assert app.apply_report is not None
        audited = {row["action_id"] for row in sessions[0].history()}
        assert audited and create.id not in audited


async def test_i4_the_not_mapped_list_leaves_to_the_plan_the_items_it_links(real_app):
    """Items the plan links by name are not offered for mapping by hand: applying the plan maps
    them. The title counts them; skipping such a link gives the item back to the list."""
    from tui.dialogs.mapping import NotMapped

    app, sessions = real_app
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        linked = {a.precoro_id: a for a in app.plan.actions if a.entity == "item" and a.kind == "link"}
        assert linked
        await pilot.press("2", "i")
        await settle(pilot)
        assert isinstance(app.screen, NotMapped), screen_text(app)
        offered = {i["precoro_id"] for i in app.screen.items}
        assert offered and not offered & set(linked)
        assert f"· {len(linked)} more linked by the plan" in screen_text(app)
        await pilot.press("escape")
        await settle(pilot)

        skipped = next(iter(linked.values()))
        await find(pilot, skipped.id)
        await pilot.press("x")  # this one is not to be linked so: the operator maps it by hand instead
        await settle(pilot)
        await pilot.press("escape", "i")
        await settle(pilot)
        assert isinstance(app.screen, NotMapped), screen_text(app)
        assert {i["precoro_id"] for i in app.screen.items} == offered | {skipped.precoro_id}
        assert f"· {len(linked) - 1} more linked by the plan" in screen_text(app)


async def test_w1_after_an_apply_the_overview_says_how_far_it_got_not_what_it_would_write(real_app):
    """Once a plan is applied, its writes are history: the Overview and the status line say how many
    of its approved actions went through, and what is left once a conflict is decided afterwards."""
    app, sessions = real_app
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        conflict = next(a for a in app.plan.actions if a.kind == "conflict" and a.decision is None)
        await pilot.press("2", "g")
        await settle(pilot)
        ready = app.screen.summary.actions
        await pilot.press("y")
        await settle(pilot)
        applied = sum(1 for r in app.apply_results if r.status == "applied")
        assert applied and app.apply_report is not None
        await pilot.press("1")
        shown = await shows(pilot, "Applied: ")
        assert f"Applied: {applied} of its {ready} approved actions" in shown and "Approved to apply" not in shown
        assert f"{applied} of {ready} applied" in app.status_text and "writes" not in app.status_text

        await pilot.press("2")
        await settle(pilot)
        await find(pilot, conflict.id)
        await pilot.press("q")  # decided after the apply: one more to apply
        await settle(pilot)
        await pilot.press("escape", "1")
        shown = await shows(pilot, "left (g in Review applies them)")
        assert f"Applied: {applied} of its {ready + 1} approved actions; 1 left" in shown


async def test_w1_the_overview_says_when_the_open_plan_is_old(tmp_path):
    """A plan left open for days is still the plan under review (its decisions are kept), but the
    Overview says how old it is and that r reads what changed since."""
    from engine.sync import SyncSession
    from tui.cli import start_local_apis

    now = [CLOCK]
    app = make_app(factory=lambda: SyncSession(ROOT / "rules.yaml", tmp_path / "state.db", clock=lambda: now[0],
                                               local_apis=start_local_apis), rules_path=ROOT / "rules.yaml")
    async with app.run_test(size=(160, 40)) as pilot:
        await settle(pilot)
        assert app.plan is not None and "Plan age" not in screen_text(app)
        now[0] = "2026-11-28T10:00:00+00:00"  # two days and an hour later, the plan still open
        await pilot.press("s")
        shown = await shows(pilot, "Plan age")
        assert "Plan age     made 2 d 1 h ago: what changed since is not in it; a new plan reads it and keeps " \
               "this one's decisions (r)" in shown
        await pilot.press("2", "g")  # the question about applying it says so too
        await settle(pilot)
        assert isinstance(app.screen, ConfirmApply)
        assert "This plan was made 2 d 1 h ago: what changed since is not in it" in " ".join(screen_text(app).split())


async def test_w1_the_tui_shows_what_another_terminal_changed_in_the_plan_on_screen(real_app, tmp_path):
    """Two terminals on one plan: a skip and a decision made in the other one show here within a
    look (every few seconds; the test looks itself), said in a notice; this TUI's own changes
    are not taken for another terminal's."""

    app, sessions = real_app
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        plan = app.plan
        creates = [a for a in plan.actions if a.kind == "create" and a.approved]
        await pilot.press("2")
        await settle(pilot)
        await find(pilot, creates[0].id)
        await pilot.press("x")  # this terminal's own skip
        await settle(pilot)
        app.check_plan_elsewhere()
        await settle(pilot)
        assert not any("another terminal" in n.message for n in app._notifications)

        with another_terminal(tmp_path) as colleague:
            colleague.approve([creates[1].id], approved=False, plan_id=plan.id)
        assert app.plan.action(creates[1].id).approved  # not seen yet
        app.check_plan_elsewhere()
        await settle(pilot)
        assert any(f"Plan {plan.id} was changed in another terminal" in n.message for n in app._notifications)
        assert await until(pilot, lambda: not app.plan.action(creates[1].id).approved)
        assert not app.plan.action(creates[0].id).approved  # this terminal's skip is kept too
        assert app.plan.id == plan.id


async def test_w1_watching_the_plan_sees_another_terminals_decision_by_itself(tmp_path):
    from engine.sync import SyncSession
    from tui.cli import start_local_apis

    def factory():
        return SyncSession(ROOT / "rules.yaml", tmp_path / "state.db", clock=lambda: CLOCK, local_apis=start_local_apis)

    app = make_app(factory=factory, rules_path=ROOT / "rules.yaml", watch_plan=True, plan_poll_seconds=0.2)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        conflict = next(a for a in app.plan.actions if a.kind == "conflict" and a.decision is None)
        with factory() as colleague:
            colleague.decide(conflict.id, "quickbooks", app.plan.id)
        assert await until(pilot, lambda: app.plan.action(conflict.id).decision == "quickbooks", timeout=20)
        assert "1 conflict to decide" not in app.status_text


async def test_w1_an_apply_of_the_plan_on_screen_made_in_another_terminal_shows_its_outcomes(real_app, tmp_path):
    app, sessions = real_app
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        plan = app.plan
        assert not app.outcomes
        with another_terminal(tmp_path) as colleague:
            applied = {r.id for r in colleague.apply(plan.id).results if r.status == "applied"}
        assert applied
        app.check_plan_elsewhere()
        await settle(pilot)
        assert any(f"Plan {plan.id} was changed in another terminal (approvals, decisions or an apply)" in n.message
                   for n in app._notifications)
        assert await until(pilot, lambda: {aid for aid, o in app.outcomes.items() if o.status == "applied"} == applied)
        assert app.plan.id == plan.id
        assert await until(pilot, lambda: {row["action_id"] for row in app.history_rows} == applied)  # History too

        # This terminal's own apply (of what is left: a conflict decided here) is not another's.
        shown = len(app._notifications)
        conflict = next(a for a in app.plan.actions if a.kind == "conflict" and a.decision is None)
        await pilot.press("2")
        await settle(pilot)
        await find(pilot, conflict.id)
        await pilot.press("q", "g")
        await settle(pilot)
        await pilot.press("y")
        await settle(pilot)
        assert app.apply_report is not None, (screen_text(app), [n.message for n in app._notifications])
        app.check_plan_elsewhere()
        await settle(pilot)
        assert not any("another terminal" in n.message for n in list(app._notifications)[shown:])


async def test_w6_a_plan_on_screen_that_another_terminals_apply_superseded_says_so_once(real_app, tmp_path):
    """Another terminal (or an unattended run) plans and applies while this TUI reviews an older plan:
    that one can no longer be applied (W6). The TUI says so once, and does not plan on its own."""

    app, sessions = real_app
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        plan = app.plan
        with another_terminal(tmp_path, "2026-11-26T09:05:00+00:00") as colleague:
            newer = colleague.plan(only=["items"])  # Sync Items, say
            assert newer.id != plan.id
            assert colleague.apply(newer.id).counts().get("applied")
        for _ in range(2):
            app.check_plan_elsewhere()
            await settle(pilot)
        said = [n.message for n in app._notifications if "can no longer be applied" in n.message]
        assert said == [f"Plan {plan.id} can no longer be applied: another plan was applied since it was made, "
                        "or newer plans replaced it a day ago (W6). "
                        "r makes a new plan."]
        assert app.plan.id == plan.id  # still on screen, as the operator left it


async def test_w1_a_newer_plan_made_in_another_terminal_is_said_once_and_shown_on_asking(real_app, tmp_path):
    """Another terminal (or an unattended run) makes a plan while this TUI reviews one: the TUI says so
    once and keeps the plan on screen (no switch under the operator's feet); L shows the newer one."""

    app, sessions = real_app
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        plan = app.plan
        await pilot.press("2", "L")
        await settle(pilot)
        assert any(f"Nothing newer: plan {plan.id} is the latest plan" in n.message for n in app._notifications)
        with another_terminal(tmp_path, "2026-11-26T09:05:00+00:00") as colleague:
            newer = colleague.plan(full=True)
        assert newer.id != plan.id
        for _ in range(2):
            app.check_plan_elsewhere()
            await settle(pilot)
        said = [n.message for n in app._notifications if "newer plan" in n.message]
        assert said == [f"A newer plan, {newer.id}, was made in another terminal or by an unattended run. L shows it; "
                        f"plan {plan.id} stays on screen until then."]
        assert app.plan.id == plan.id
        await pilot.press("1")
        await settle(pilot)
        assert f"Shown plan   {plan.id}" in screen_text(app) and f"newer: {newer.id} (L)" in screen_text(app)
        await pilot.press("2", "g")  # applying this one is still possible, and the question says what it costs
        await settle(pilot)
        assert isinstance(app.screen, ConfirmApply)
        assert f"A newer plan, {newer.id}, was made since this one" in " ".join(screen_text(app).split())
        await pilot.press("escape")
        await settle(pilot)
        await pilot.press("L")
        assert await until(pilot, lambda: app.plan is not None and app.plan.id == newer.id)
        assert app.newer_plan is None
        await pilot.press("1")
        assert await until(pilot, lambda: f"Latest plan  {newer.id}" in screen_text(app))
        assert "newer:" not in screen_text(app)
        # The notice that announced it is gone with it, and another look does not say it again.
        assert [n.message for n in app._notifications] == [f"Showing plan {newer.id}, the latest."]
        app.check_plan_elsewhere()
        await settle(pilot)
        assert not [n for n in app._notifications if "newer plan" in n.message]


async def test_w6_a_plan_superseded_by_a_newer_full_plans_apply_points_to_that_plan(real_app, tmp_path):
    """An unattended run planned everything and applied what its policy allows: the plan on screen can
    no longer be applied, and the notice names the plan that can be looked at instead (L)."""

    app, sessions = real_app
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        plan = app.plan
        with another_terminal(tmp_path, "2026-11-26T09:05:00+00:00") as colleague:
            newer = colleague.plan(full=True)
            assert colleague.apply(newer.id).counts().get("applied")
        app.check_plan_elsewhere()
        await settle(pilot)
        said = [n.message for n in app._notifications if plan.id in n.message]
        assert said == [f"Plan {plan.id} can no longer be applied: another plan was applied since it was made, "
                        "or newer plans replaced it a day ago (W6). "
                        f"L shows the latest plan, {newer.id}; r makes a new one."]
        await pilot.press("L")
        assert await until(pilot, lambda: app.plan is not None and app.plan.id == newer.id)


async def test_w7_a_plan_another_terminal_applied_while_the_tui_asked_is_not_applied_again(real_app, tmp_path):
    """The TUI asks about the plan; a colleague applies it meanwhile (`qbsync apply --yes`). The yes
    then writes nothing and reports nothing as its own: the TUI says who applied it and shows its
    outcomes."""

    app, sessions = real_app
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        plan = app.plan
        await pilot.press("2", "g")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmApply)
        with another_terminal(tmp_path) as colleague:
            applied = colleague.apply(plan.id).counts()["applied"]
        written = len(sessions[0].history())
        await pilot.press("y")
        await settle(pilot)
        assert len(sessions[0].history()) == written == applied  # nothing written twice
        assert app.apply_report is not None and app.apply_report.already_applied and not app.apply_results
        assert any(f"Plan {plan.id} was already applied by " in n.message for n in app._notifications)
        assert f"Plan {plan.id} was already applied by" in screen_text(app)  # the Apply screen, not "finished"
        assert await until(pilot, lambda: sum(o.status == "applied" for o in app.outcomes.values()) == applied)
        assert await until(pilot, lambda: len(app.history_rows) == applied)  # what the other one wrote


async def test_w7_a_state_file_deleted_under_the_tui_is_opened_again_not_written_on_unseen(real_app, tmp_path):
    """A colleague removes the state file while the TUI is open (`rm .qbsync/state.db*`): the TUI's
    next look says so and opens it again as it now is, with a plan in it, instead of saving its
    decisions into a file no other qbsync sees."""
    from engine.store import Store

    app, sessions = real_app
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        assert app.plan is not None
        for name in ("state.db", "state.db-wal", "state.db-shm"):
            (tmp_path / name).unlink(missing_ok=True)
        app.check_plan_elsewhere()
        await settle(pilot)
        assert any("was deleted or replaced by another process: qbsync opened it again" in n.message
                   for n in app._notifications)

        def latest_in_the_file() -> str | None:
            if not (tmp_path / "state.db").exists():
                return None
            store = Store(tmp_path / "state.db")
            try:
                return store.latest_plan_id()
            finally:
                store.close()

        assert await until(pilot, lambda: latest_in_the_file() is not None and not app.busy)
        assert latest_in_the_file() == app.plan.id  # the plan on screen is in the file everyone uses
