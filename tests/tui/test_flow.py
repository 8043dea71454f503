"""Pilot tests of the operator's whole flow on a fixed session: plan, decide, approve, apply, audit.

Named after the SPEC rules they defend. They wait for workers and messages (never sleep) and
check what reached the engine as well as what is on screen.
"""

from __future__ import annotations

import threading
from datetime import date, timedelta

import pytest

from snapshot_app import make_app, screen_text, settle, shows, until
from demo_session import CLOCK, FakeSession
from engine.entities import BY_KIND
from engine.errors import NotConnected
from tui import messages
from tui.messages import HistoryFilter
from tui.screens.history import ENTITY_CHOICES, KIND_CHOICES
from tui.dialogs.confirm import ConfirmApply
from tui.dialogs.explained import Explained
from tui.dialogs.runs import RunsDialog
from tui.dialogs.mapping import PickCandidate
from tui.widgets.action_table import ActionTable

# anyio's pytest plugin (installed with httpx) runs the async tests on asyncio (conftest).
pytestmark = pytest.mark.anyio


def recorder():
    seen: list = []

    def hook(message) -> None:
        if type(message).__module__ == messages.__name__:
            seen.append(message)

    return seen, hook


def names(seen) -> list[str]:
    return [type(m).__name__ for m in seen]


async def search(pilot, text: str) -> None:
    await pilot.press("slash", *text, "enter")
    await settle(pilot)


async def on_action(pilot, name: str, key: str) -> None:
    """In Review, on the action found by `name`, press `key`, and wait for what it sets off."""
    await pilot.press("2")
    await search(pilot, name)
    await pilot.press(key)
    await settle(pilot)


def current(app):
    return app.screen.query_one(ActionTable).current


async def test_w1_plan_decide_approve_apply_history(session: FakeSession):
    seen, hook = recorder()
    app = make_app(session)
    async with app.run_test(size=(120, 40), message_hook=hook) as pilot:
        await settle(pilot)
        assert [n for n in names(seen) if n != "PlanProgressed"][:2] == ["SessionOpened", "PlanLoaded"]
        assert app.plan is not None and len(app.plan.actions) == 15

        # Decide a conflict: take Precoro's values.
        await pilot.press("2", "n")
        await settle(pilot)
        assert current(app).name == "Fabrikam, Inc."
        await pilot.press("p")
        await settle(pilot)
        fabrikam = current(app)
        assert session.plans[app.plan.id].action(fabrikam.id).decision == "precoro"
        assert "DecisionsSaved" in names(seen)

        # Skip one action.
        await search(pilot, "initech")
        await pilot.press("x")
        await settle(pilot)
        initech = current(app)
        assert session.plans[app.plan.id].action(initech.id).approved is False

        # Nothing is written until the dialog is confirmed.
        await pilot.press("escape", "escape", "g")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmApply)
        summary = app.screen.summary
        assert (summary.writes("quickbooks"), summary.writes("precoro")) == (5, 4)
        assert summary.records["quickbooks"] == {"create": 2, "update": 3}
        assert not any(call[0] == "apply" for call in session.calls)

        await pilot.press("y")
        await settle(pilot)
        assert "ActionsApplied" in names(seen) and "ApplyFinished" in names(seen)
        assert app.current_mode == "apply"
        failed = [r for r in app.apply_results if r.status == "failed"]
        assert [r.name for r in failed] == ["Northwind Traders"]
        assert "6240" in failed[0].reason
        assert app.outcomes[fabrikam.id].status == "applied"

        # Retry the failed one.
        await pilot.press("f")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmApply)
        assert app.screen.summary.writes("quickbooks") == 1
        await pilot.press("y")
        await settle(pilot)
        assert ("apply", app.plan.id, True) in session.calls
        assert not [r for r in app.apply_results if r.status == "failed"]

        # The audit lists what was applied, newest first, with the remote response.
        await pilot.press("4")
        await settle(pilot)
        assert "HistoryLoaded" in names(seen)
        rows = app.history_rows
        assert rows[0]["name"] == "Northwind Traders" and rows[0]["status"] == "applied"
        assert any(r["name"] == "Fabrikam, Inc." for r in rows)

        # Filter the audit by record.
        await pilot.press("slash", *"106", "enter")
        await settle(pilot)
        assert {r["precoro_id"] for r in app.history_rows} == {"106"}

        # Only what did not go through (the first try of Northwind), then everything again.
        await pilot.press("escape", "f")
        await settle(pilot)
        assert [(r["name"], r["status"]) for r in app.history_rows] == [("Northwind Traders", "failed")]
        assert "failed only · f: all" in screen_text(app) and "6240" in screen_text(app)
        await pilot.press("f")
        await settle(pilot)
        assert app.history_rows == rows and "failed only · f: all" not in screen_text(app)

        # One entity, then one kind of action as well, as the Review screen filters; escape: all again.
        await pilot.press(*"e" * (ENTITY_CHOICES.index("item") + 1))
        await settle(pilot)
        assert app.history_rows and {r["entity"] for r in app.history_rows} == {"item"}
        assert app.history_filter.entity == "item" and " items " in screen_text(app)
        await pilot.press(*"k" * (KIND_CHOICES.index("update") + 1))
        await settle(pilot)
        assert app.history_rows == [r for r in rows if r["entity"] == "item" and r["kind"] == "update"]
        assert "update only" in screen_text(app)
        await pilot.press(*"k" * (len(KIND_CHOICES) - KIND_CHOICES.index("update")))  # past the last: every kind
        await settle(pilot)
        assert app.history_filter.kind is None and app.history_rows == [r for r in rows if r["entity"] == "item"]
        await pilot.press("escape", *"k" * (KIND_CHOICES.index("create") + 1))
        await settle(pilot)
        created = [r for r in rows if r["kind"] == "create"]
        assert created and len(created) < len(rows) and app.history_rows == created
        await pilot.press("escape")
        await settle(pilot)
        assert app.history_rows == rows and app.history_filter == HistoryFilter()

        # By days (UTC, as recorded): the day it was applied, then one before it; a typo is said, not run.
        day = date.fromisoformat(CLOCK[:10])
        await pilot.press("d", *f"{day}", "enter")
        await settle(pilot)
        assert app.history_rows == rows and app.history_filter.since == app.history_filter.until == day
        await pilot.press("d", *f"..{day - timedelta(days=1)}", "enter")  # focused, the field's text is selected
        await settle(pilot)
        assert app.history_rows == [] and "Nothing was applied on those days." in screen_text(app)
        await pilot.press("d", "x", "enter")
        await settle(pilot)
        assert any("is not a day (YYYY-MM-DD) or a range FROM..TO" in n.message for n in app._notifications)
        assert app.history_rows == [] and app.history_filter.until == day - timedelta(days=1)
        await pilot.press("escape")
        await settle(pilot)
        assert app.history_rows == rows and app.history_filter == messages.HistoryFilter()
        assert "latest" not in screen_text(app)

        # Only the plan on screen: an entry of an older plan (applied from another terminal) is left out.
        session.audit.append({**rows[-1], "id": 0, "plan_id": "0a1d0a000000", "name": "Older Plan Ltd"})
        await pilot.press("p")
        await settle(pilot)
        assert app.history_rows == rows and app.history_filter.plan_id == app.plan.id
        assert f"plan {app.plan.id} · p: all" in screen_text(app)
        await pilot.press("p")
        await settle(pilot)
        assert [r["name"] for r in app.history_rows] == [r["name"] for r in rows] + ["Older Plan Ltd"]
        assert app.history_filter.plan_id is None and "p: all" not in screen_text(app)
        session.audit.pop()

        # A long audit is cut to its latest entries, and the bar says so; one just as long is not cut.
        app.history_limit = 2
        await pilot.press("escape")
        await settle(pilot)
        assert app.history_rows == rows[:2] and "latest 2 · d, / narrow" in screen_text(app)
        app.history_limit = len(rows)
        await pilot.press("escape")
        await settle(pilot)
        assert app.history_rows == rows and "· d, / narrow" not in screen_text(app)


async def test_overview_names_a_side_not_connected_and_what_to_run(session: FakeSession):
    # As `SyncSession.status` says it when Precoro has no key yet: no credentials to try is not
    # "not reachable", and the card says what to run.
    status = session.status()
    status["connections"]["precoro"].update(
        reachable=False, connected=False,
        error="Precoro is not connected: run `qbsync connect precoro`, or export PRECORO_EMAIL and PRECORO_TOKEN")
    session.status = lambda: status

    def no_plan():
        raise NotConnected(status["connections"]["precoro"]["error"], "precoro")

    session.make_plan = no_plan
    app = make_app(session)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        assert [n.message for n in app._notifications] == [f"Planning failed: {status['connections']['precoro']['error']}"]
        app.clear_notifications()  # the notice sits over the Precoro card
        await pilot.pause()
        text = " ".join(screen_text(app).split())
        assert "✗ not connected · local" in text and "run `qbsync connect precoro`" in text
        assert "✓ reachable · local" in text  # QuickBooks, connected
        # r would only fail the same way: the next step is connecting.
        said = "Connect Precoro first (in a shell: its card on the Overview says how); then r plans."
        assert app.plan is None and app.status_text == said and text.count(said) == 2  # the Overview, the status line


async def test_u5_overview_warns_of_a_quickbooks_connection_about_to_end(session: FakeSession):
    status = session.status()
    said = ("the QuickBooks connection ends on 2026-12-08 09:00 UTC (in 12 days) unless authorized again: run "
            "`qbsync connect quickbooks` before then (unattended runs stop when it ends)")
    status["connections"]["quickbooks"].update(ending=said, ends_at="2026-12-08T09:00:00+00:00")
    session.status = lambda: status
    app = make_app(session)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        app.clear_notifications()  # a notice of the start (U3's "waiting for you") may sit over the cards
        await pilot.pause()
        assert said in " ".join(screen_text(app).replace("│", " ").split())
    async with make_app(session).run_test(size=(80, 24)) as pilot:  # compact cards: the day, whole
        await settle(pilot)
        pilot.app.clear_notifications()
        assert " reconnect by 2026-12-08: qbsync conn" in await shows(pilot, "reconnect by")


async def test_u1_overview_says_why_the_last_unattended_run_failed_and_a_state_file_git_would_take(session):
    status = session.status()
    status["unattended"]["last_run"] = {"started_at": "2026-11-26T08:30:00+00:00", "trigger": "schedule",
                                        "exit_code": 1, "error": "Precoro error 401: Invalid X-AUTH-TOKEN"}
    status["state_file"] = {"path": "books.db", "exposed_to_git": "the state file books.db is inside the git work "
                                                                  "tree /srv/books and not ignored"}
    session.status = lambda: status
    app = make_app(session)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        app.clear_notifications()  # a toast may cover the cards' right end
        failed = "Last run     failed 2026-11-26 08:30 UTC (schedule): Precoro error 401: Invalid X-AUTH-TOKEN"
        exposed = "State file   the state file books.db is inside the git work tree /srv/books and not ignored"
        shown = await shows(pilot, failed, exposed)
        assert failed in shown and exposed in shown


async def test_u1_u_on_the_overview_lists_the_unattended_runs_and_esc_goes_back(session: FakeSession):
    app = make_app(session)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("u")
        assert await until(pilot, lambda: isinstance(app.screen, RunsDialog))
        assert ("runs", 50, None, False) in session.calls
        shown = screen_text(app)
        assert "2026-11-26 08:30  schedule  FAILED     4 s" in shown
        assert "Precoro error 401: Invalid X-AUTH-TOKEN" in shown
        assert "2026-11-26 08:00  webhook   held       41 s" in shown
        assert "plan a1b2c3d4e5f6 · applied 12 · held 1 (1 new)" in shown
        await pilot.press("escape")
        await settle(pilot)
        assert not isinstance(app.screen, RunsDialog)


async def test_w1_cancelled_confirmation_writes_nothing(session: FakeSession):
    app = make_app(session)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("2", "g")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmApply)
        await pilot.press("n")
        await settle(pilot)
        assert not isinstance(app.screen, ConfirmApply)
        assert not any(call[0] == "apply" for call in session.calls)


async def test_s2_conflict_skip_and_quickbooks_side(session: FakeSession):
    app = make_app(session)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("2", "n", "q")
        await settle(pilot)
        action = current(app)
        assert action.decision == "quickbooks" and action.write_target == "precoro"
        await pilot.press("x")
        await settle(pilot)
        assert session.plans[app.plan.id].action(action.id).decision == "skip"
        # Approving an undecided conflict is refused with a hint; nothing is saved.
        await pilot.press("n")
        await settle(pilot)
        other = current(app)
        assert other.kind == "conflict" and other.decision is None
        await pilot.press("a")
        await settle(pilot)
        assert session.plans[app.plan.id].action(other.id).decision is None


async def test_approve_and_skip_follow_the_filter(session: FakeSession):
    app = make_app(session)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("2", "e")  # entity: item (the first entity of the plan)
        await settle(pilot)
        shown = app.screen.query_one(ActionTable).visible_actions()
        assert {a.entity for a in shown} == {"item"} and len(shown) == 2
        await pilot.press("X")
        await settle(pilot)
        stored = session.plans[app.plan.id]
        assert [a.approved for a in stored.actions if a.entity == "item"] == [False, False]
        assert all(a.approved for a in stored.actions if a.entity == "supplier")
        await pilot.press("escape", "A")
        await settle(pilot)
        assert all(a.approved for a in session.plans[app.plan.id].actions)


async def test_s2_take_one_side_of_every_conflict_shown(session: FakeSession):
    app = make_app(session)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("2", "Q")
        await settle(pilot)
        conflicts = [a for a in session.plans[app.plan.id].actions if a.kind == "conflict"]
        assert {a.name: (a.decision, a.approved) for a in conflicts} == {
            "Fabrikam, Inc.": ("quickbooks", True), "Société Générale d'Équipement": ("quickbooks", True)}
        assert any(n.message == "Took QuickBooks' side of 2 conflicts shown." for n in app._notifications)
        # Only what the search shows.
        await search(pilot, "fabrikam")
        await pilot.press("P")
        await settle(pilot)
        decided = {a.name: a.decision for a in session.plans[app.plan.id].actions if a.kind == "conflict"}
        assert decided == {"Fabrikam, Inc.": "precoro", "Société Générale d'Équipement": "quickbooks"}
        await pilot.press("escape", "e")  # entity: item, which has no conflict
        await settle(pilot)
        await pilot.press("P")
        await settle(pilot)
        assert any(n.message.startswith("No conflict is shown") for n in app._notifications)
        assert {a.name: a.decision for a in session.plans[app.plan.id].actions if a.kind == "conflict"} == decided


async def test_search_and_filters_narrow_the_list(session: FakeSession):
    app = make_app(session)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("2")
        await search(pilot, "müller")
        assert [a.name for a in app.screen.query_one(ActionTable).visible_actions()] == ["Bürobedarf Müller GmbH"]
        await pilot.press("escape")
        await settle(pilot)
        await pilot.press("t")  # target: QuickBooks
        await settle(pilot)
        assert {a.write_target for a in app.screen.query_one(ActionTable).visible_actions()} == {"quickbooks"}
        await pilot.press("escape", "c")  # show: needs attention
        await settle(pilot)
        kinds = sorted(a.kind for a in app.screen.query_one(ActionTable).visible_actions())
        assert kinds == ["ambiguous", "blocked", "conflict", "conflict"]


async def test_s7_ambiguous_match_resolved_by_picking_a_candidate(session: FakeSession):
    seen, hook = recorder()
    app = make_app(session)
    async with app.run_test(size=(80, 24), message_hook=hook) as pilot:
        await settle(pilot)
        # A decision made before the mapping must survive the re-plan that follows it.
        await pilot.press("2", "n", "p")
        await settle(pilot)
        fabrikam = current(app).id
        await search(pilot, "stark")
        await pilot.press("m")
        await settle(pilot)
        assert isinstance(app.screen, PickCandidate)
        await pilot.press("down", "enter")
        await settle(pilot)
        assert ("map", "suppliers", "110", "72") in session.calls
        assert isinstance(app.screen, ConfirmApply)
        assert app.screen.summary.links == 1 and app.screen.summary.total_writes == 0
        await pilot.press("y")
        await settle(pilot)
        assert "MappingPlanned" in names(seen)
        assert not any(a.kind == "ambiguous" for a in app.plan.actions)
        assert app.plan.action(fabrikam).decision == "precoro"
        assert session.plans[app.plan.id].action(fabrikam).decision == "precoro"


async def test_s7_unmap_by_hand_is_confirmed_first(session: FakeSession):
    app = make_app(session)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await on_action(pilot, "o'brien", "u")
        assert ("unmap", "suppliers", "103") in session.calls
        assert isinstance(app.screen, ConfirmApply)
        await pilot.press("n")
        await settle(pilot)
        assert not any(call[0] == "apply" for call in session.calls)


async def test_map_by_hand_asks_for_the_other_id(session: FakeSession):
    app = make_app(session)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await on_action(pilot, "northwind", "m")
        await pilot.press(*"99", "enter")
        await settle(pilot)
        assert ("map", "suppliers", "104", "99") in session.calls


async def test_w4_y_tells_the_highlighted_records_story_and_esc_goes_back(session: FakeSession):
    app = make_app(session)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await on_action(pilot, "müller", "y")

        assert ("explain", "suppliers", "precoro:102", False) in session.calls
        assert isinstance(app.screen, Explained)
        shown = screen_text(app)
        assert 'Why · supplier "Bürobedarf Müller GmbH" (as read 2026-11-26 09:00 UTC)' in shown
        assert '≠ city: "München" | "Munich" | "Munich"   (both ways)' in shown
        assert "an unattended run would hold it: a test" in shown
        assert "as the last plan read them · l: read now" in shown

        await pilot.press("l")  # its two sides read now, in place of the copy's story
        await settle(pilot)
        assert session.calls[-1] == ("explain", "suppliers", "precoro:102", True)
        assert isinstance(app.screen, Explained) and app.screen.live
        assert 'Why · supplier "Bürobedarf Müller GmbH" (read now)' in screen_text(app)
        assert "as read just now" in screen_text(app)
        await pilot.press("escape")
        await settle(pilot)
        assert app.screen.TAB == "review"


async def test_w4_y_in_history_tells_the_entrys_record_story(session: FakeSession):
    app = make_app(session)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("2", "g")
        await settle(pilot)
        await pilot.press("y")  # apply
        await settle(pilot)
        await pilot.press("4")
        await settle(pilot)
        top = app.history_rows[0]
        await pilot.press("y")
        await settle(pilot)

        spec = BY_KIND[top["entity"]]
        assert ("explain", spec.section, f"precoro:{top['precoro_id']}", False) in session.calls
        assert isinstance(app.screen, Explained)
        assert f'Why · {spec.label} "{top["name"]}"' in screen_text(app)


async def test_w5_invalid_rules_at_start_then_fixed(tmp_path, monkeypatch):
    import rules

    monkeypatch.chdir(tmp_path)
    path = tmp_path / "rules.yaml"
    path.write_text("version: 1\nsuppliers:\n  conflict: maybe\n", encoding="utf-8")
    session = FakeSession()

    def factory():
        rules.load("rules.yaml")
        return session

    seen, hook = recorder()
    app = make_app(factory=factory, rules_path="rules.yaml")
    async with app.run_test(size=(80, 24), message_hook=hook) as pilot:
        await settle(pilot)
        assert names(seen)[0] == "SessionFailed"
        assert app.current_mode == "rules"
        body = screen_text(app)
        assert "rules.yaml:3:13" in body and "conflict: maybe" in body
        path.write_text("version: 1\nsuppliers:\n  conflict: ask\n", encoding="utf-8")
        await pilot.press("l")
        await settle(pilot)
        assert "SessionOpened" in names(seen) and app.plan is not None
        assert app.rules_error is None


async def test_w5_no_rules_file_says_where_it_looked_and_the_file_once_there_is_read(tmp_path, monkeypatch):
    import rules

    monkeypatch.chdir(tmp_path)
    session = FakeSession()

    def factory():
        rules.load("rules.yaml")
        return session

    app = make_app(factory=factory, rules_path="rules.yaml")
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(pilot)
        assert app.current_mode == "rules"
        body = " ".join(screen_text(app).split())
        assert f"no rules file rules.yaml in {tmp_path}: run qbsync in the folder that holds it, name it with " \
               "--rules PATH, or write a commented start with `qbsync init`" in body and "Errno" not in body
        (tmp_path / "rules.yaml").write_text("version: 1\n", encoding="utf-8")
        await pilot.press("l")
        await settle(pilot)
        assert app.rules_error is None and app.plan is not None


async def test_w5_with_no_rules_file_i_writes_the_commented_start_and_qbsync_runs_on_it(tmp_path, monkeypatch):
    import rules

    monkeypatch.chdir(tmp_path)
    session = FakeSession()

    def factory():
        session.rules = rules.load("rules.yaml")
        return session

    app = make_app(factory=factory, rules_path="rules.yaml")
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(pilot)
        assert app.current_mode == "rules" and "i write a commented start" in screen_text(app)
        await pilot.press("i")
        await settle(pilot)
        assert (tmp_path / "rules.yaml").read_text(encoding="utf-8") == rules.starter()
        assert app.rules_error is None and app.plan is not None
        # The error said of the missing file is gone with it.
        assert [n.message for n in app._notifications] == ["The rules file is valid now; reading the plan."]
        assert "rules.yaml is valid and in force." in screen_text(app)
        await pilot.press("5")
        await settle(pilot)
        assert "write a commented start" not in screen_text(app)  # a file is there now: the key is gone
        await pilot.press("i")  # and does nothing to it
        await settle(pilot)
        assert (tmp_path / "rules.yaml").read_text(encoding="utf-8") == rules.starter()


async def test_w5_rules_changed_on_disk_reload_and_replan(session: FakeSession, tmp_path):
    import rules

    path = tmp_path / "rules.yaml"
    path.write_text("version: 1\n", encoding="utf-8")
    seen, hook = recorder()
    app = make_app(session, rules_path=path)
    session.rules_path = path
    async with app.run_test(size=(80, 24), message_hook=hook) as pilot:
        await settle(pilot)
        plans_before = sum(1 for c in session.calls if c[0] == "plan")
        # A broken save: refused, the rules in force and the plan stay.
        path.write_text("version: 1\nsuppliers: {conflict: maybe}\n", encoding="utf-8")
        session.reload_error = _rules_error(rules, path)
        app._rules_mtime = -1  # as if the file changed since the last look (mtime resolution is coarse)
        app._check_rules_file()
        await settle(pilot)
        assert "RulesRefused" in names(seen) and app.rules_error is not None
        assert app.plan is not None
        # Fixed: reloaded and planned again.
        session.reload_error = None
        app._rules_mtime = -1
        app._check_rules_file()
        await settle(pilot)
        assert "RulesReloaded" in names(seen) and app.rules_error is None
        assert sum(1 for c in session.calls if c[0] == "plan") == plans_before + 1


async def test_w11_r_plans_again_and_the_palette_can_read_everything(session: FakeSession):
    seen, hook = recorder()
    app = make_app(session)
    async with app.run_test(size=(120, 40), message_hook=hook) as pilot:
        await settle(pilot)
        plans_before = [c for c in session.calls if c[0] == "plan"]
        await pilot.press("r")
        await settle(pilot)
        assert [c for c in session.calls if c[0] == "plan"] == plans_before + [("plan", False)]
        assert names(seen).count("PlanLoaded") == 2
        app.action_replan(full=True)
        await settle(pilot)
        assert [c for c in session.calls if c[0] == "plan"][-1] == ("plan", True)


def _rules_error(rules, path):
    try:
        rules.load(path)
    except rules.RulesError as exc:
        return exc
    raise AssertionError("the file should be invalid")


async def test_apply_refused_for_a_stale_plan_is_shown(session: FakeSession):
    class StalePlanError(Exception):
        pass

    def stale(*args, **kwargs):
        raise StalePlanError("rules.yaml changed since this plan was made; make a new plan (qbsync plan)")

    seen, hook = recorder()
    app = make_app(session)
    async with app.run_test(size=(80, 24), message_hook=hook) as pilot:
        await settle(pilot)
        session.apply = stale
        await pilot.press("2", "g", "y")
        await settle(pilot)
        assert "ApplyFailed" in names(seen)
        assert "The last apply did not run: rules.yaml changed" in screen_text(app)


async def test_engine_calls_run_off_the_ui_thread(session: FakeSession):
    threads: list[str] = []
    for name in ("plan", "latest_plan", "decide", "approve", "apply", "history", "status"):
        original = getattr(session, name)

        def spy(*args, _original=original, **kwargs):
            threads.append(threading.current_thread().name)
            return _original(*args, **kwargs)

        setattr(session, name, spy)
    app = make_app(session)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("2", "n", "p", "a", "g", "y", "4")
        await settle(pilot)
    assert threads and threading.main_thread().name not in threads


async def test_palette_offers_the_screens_commands(session: FakeSession):
    app = make_app(session)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("2", "n")
        await settle(pilot)
        titles = [c.title for c in app.get_system_commands(app.screen)]
        assert {"Take Precoro", "Take QuickBooks", "Approve shown", "Apply…", "Go to History"} <= set(titles)
        await pilot.press("1")
        await settle(pilot)
        titles = [c.title for c in app.get_system_commands(app.screen)]
        assert "Take Precoro" not in titles and "Refresh" in titles


async def test_w3_quitting_during_an_apply_asks_then_stops_it_between_two_writes(session: FakeSession):
    from tui.dialogs.question import Question

    session.gate = threading.Event()  # every write waits for the gate: a long apply
    app = make_app(session)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("2", "g", "y")
        await pilot.pause()
        assert app.apply_running
        await pilot.press("ctrl+q")
        await pilot.pause()
        assert isinstance(app.screen, Question)
        await pilot.press("n")
        await pilot.pause()
        assert app.is_running and not isinstance(app.screen, Question)
        await pilot.press("ctrl+q", "y")
        await pilot.pause()
        assert app.is_running and "stopping the apply" in app.busy  # the writer is not left behind
        session.gate.set()  # the write in progress completes; the apply sees the stop and ends
        for _ in range(50):
            if not app.is_running:
                break
            await pilot.pause(0.05)
    assert app.return_code == 0
    assert len(session.done) < sum(1 for a in session.plans[session.latest].actions if a.executable)


async def test_i4_items_not_mapped_pick_a_candidate(session: FakeSession):
    from tui.dialogs.mapping import NotMapped

    app = make_app(session)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("2", "i")
        await settle(pilot)
        assert isinstance(app.screen, NotMapped)
        await pilot.press("enter")  # Toner black
        await settle(pilot)
        assert isinstance(app.screen, PickCandidate)
        await pilot.press("enter")  # its best candidate
        await settle(pilot)
        assert ("map", "items", "203", "83") in session.calls
        assert isinstance(app.screen, ConfirmApply)
        await pilot.press("y")
        await settle(pilot)
        # The link, then what mapping imports into Precoro (I6), newest first.
        assert [row["kind"] for row in session.history(record="203")] == ["update", "link"]


async def test_i4_many_items_not_mapped_name_the_file_route(session: FakeSession):
    from tui.dialogs.mapping import MANY_BY_HAND, NotMapped

    app = make_app(session)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("2", "i")
        await settle(pilot)
        assert isinstance(app.screen, NotMapped) and "items map --from" not in screen_text(app)
        await pilot.press("escape")
        await settle(pilot)
        first = session.unmapped[0]
        session.unmapped = [{**first, "precoro_id": str(9000 + n), "name": f"Widget {n}"} for n in range(MANY_BY_HAND + 1)]
        await pilot.press("i")
        await settle(pilot)
        assert "qbsync items map --from map.csv" in screen_text(app)


async def test_w1_a_plan_applied_without_failure_is_replaced_at_start(session: FakeSession):
    first = make_app(session)
    async with first.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        session.fail.clear()
        await pilot.press("2", "g", "y")
        await settle(pilot)
        applied = first.plan.id
    plans_made = sum(1 for c in session.calls if c[0] == "plan")
    again = make_app(session)
    async with again.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert again.plan.id != applied
        assert sum(1 for c in session.calls if c[0] == "plan") == plans_made + 1
        # What was applied is gone; what still needs the operator is still there.
        assert {a.kind for a in again.plan.actions} == {"conflict", "ambiguous", "blocked"}


async def test_w3_a_plan_with_failures_is_kept_at_start_to_retry(session: FakeSession):
    first = make_app(session)
    async with first.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("2", "g", "y")
        await settle(pilot)
        applied = first.plan.id
    again = make_app(session)
    async with again.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        assert again.plan.id == applied
        failed = [aid for aid, o in again.outcomes.items() if o.status == "failed"]
        assert [again.plan.action(aid).name for aid in failed] == ["Northwind Traders"]
        await pilot.press("2", "c", "c", "c")  # show: errors
        await settle(pilot)
        assert "6240" in screen_text(again)


async def test_the_mouse_is_optional_but_works(session: FakeSession):
    from tui.widgets.frame import ScreenTabs

    app = make_app(session)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        top = screen_text(app).splitlines()[0]
        await pilot.click(ScreenTabs, offset=(top.index("2 Review"), 0))
        await settle(pilot)
        assert app.current_mode == "review"
        table = app.screen.query_one(ActionTable)
        await pilot.click(ActionTable, offset=(20, 3))  # the header line, a group line, then rows
        await settle(pilot)
        first = app.plan.actions[0]  # suppliers come first: items depend on their links
        assert table.current is not None and table.current.name == first.name
        footer = screen_text(app).splitlines()[-1]  # one line
        await pilot.click("KeyBar", offset=(footer.index("g apply"), 0))
        await settle(pilot)
        assert isinstance(app.screen, ConfirmApply)


async def test_i4_not_mapped_filters_counts_and_says_free_of_charge_keeps_its_price(session: FakeSession):
    from tui.dialogs.mapping import MapByHand, NotMapped

    app = make_app(session)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("2", "i")
        await settle(pilot)
        assert isinstance(app.screen, NotMapped)
        assert "Not mapped: 2 of 2 Precoro items" in screen_text(app)
        await pilot.press(*"toner-b")  # by SKU
        await settle(pilot)
        assert "Toner black" in screen_text(app) and "Café" not in screen_text(app)
        await pilot.press(*"xyz")
        await settle(pilot)
        assert "Toner black" not in screen_text(app)
        await pilot.press(*["backspace"] * 10, *"204")  # by id
        await settle(pilot)
        assert "Café filters" in screen_text(app) and "Toner black" not in screen_text(app)
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, PickCandidate)
        await pilot.press("enter")  # no suggestion: the "type its id" fallback
        await settle(pilot)
        assert isinstance(app.screen, MapByHand)
        await pilot.press(*"90", "enter")
        await settle(pilot)
        assert ("map", "items", "204", "90") in session.calls
        assert isinstance(app.screen, ConfirmApply)
        assert "free of charge: the price is kept" in screen_text(app)
        await pilot.press("y")
        await settle(pilot)
        # The list comes back, one fewer, with the running count and the filter kept.
        assert isinstance(app.screen, NotMapped), screen_text(app)
        assert "Not mapped: 1 of 2 Precoro items · 1 mapped in this session" in screen_text(app)
        assert app.screen.query_text == "204"
        await pilot.press(*["backspace"] * 3, "down", "enter")
        await settle(pilot)
        assert isinstance(app.screen, PickCandidate)
        await pilot.press(*"colour", "enter")  # the suggestions filter; the best one is not it
        await settle(pilot)
        assert ("map", "items", "203", "84") in session.calls


async def test_u3_held_actions_open_waiting_for_you_once_and_w_returns_there():
    from engine.review import WOULD_HOLD
    from test_snapshots import held_by_a_run
    from tui.screens.review import ReviewScreen

    app = make_app(FakeSession(make_plan=held_by_a_run, held=4))
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, ReviewScreen) and app.screen.filter.show == WOULD_HOLD
        await pilot.press("escape", "1")
        await settle(pilot)
        assert app.current_mode == "overview"  # opened there once; the operator goes where they like
        await pilot.press("w")
        await settle(pilot)
        assert isinstance(app.screen, ReviewScreen) and app.screen.filter.show == WOULD_HOLD
    app = make_app(FakeSession(make_plan=held_by_a_run, held=0))
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        assert app.current_mode == "overview"  # nothing held: the Overview, as always


async def test_w1_a_plan_that_cannot_be_loaded_says_loading_failed_not_planning_failed():
    """L on a newer plan let go before it was pressed (W6): what failed is reading it, not planning."""
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        app.newer_plan = "0000deadbeef"
        await pilot.press("L")
        await settle(pilot)
        said = [n.message for n in app._notifications if "failed" in n.message]
        assert said and said[-1].startswith("Loading the plan failed: "), said


async def test_u2_the_review_shows_what_a_run_would_hold_and_why_and_follows_the_decisions():
    """c's last choice lists what `qbsync run` would hold of the plan were it run now (the engine's
    judge, asked in a worker), each saying why; what is skipped there is an answer, and leaves it."""
    from engine.review import WOULD_HOLD
    from tui.screens.review import ReviewScreen

    session = FakeSession()
    app = make_app(session)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("2", *["c"] * 5)
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, ReviewScreen) and screen.filter.show == WOULD_HOLD
        held = session.would_hold()
        listed = {a.id for a in screen.table.visible_actions()}
        assert listed == set(held) and 0 < len(listed) < len(app.plan.actions)
        assert "c:a run would hold" in screen_text(app)
        said = " ".join(screen_text(app).split())  # the detail pane wraps a long reason
        assert f"A run would hold it: {held[current(app).id]}" in said

        await search(pilot, "Northwind")  # a new supplier: the shipped policy holds it
        northwind = current(app)
        assert northwind.name == "Northwind Traders" and "policy.creates" in held[northwind.id]
        await pilot.press("x")  # skipped: the person's answer; a run leaves it alone
        assert await until(pilot, lambda: app.holds is not None and northwind.id not in app.holds)
        assert not screen.table.visible_actions()  # the search alone is left: nothing of it is held now
        await pilot.press("slash", *["backspace"] * len("Northwind"), "enter")
        await settle(pilot)
        assert screen.filter.show == WOULD_HOLD and not screen.filter.search
        assert {a.id for a in screen.table.visible_actions()} == set(held) - {northwind.id}
        asked = [call[0] for call in session.calls if call[0] in ("approve", "would_hold")]
        assert asked[-2:] == ["approve", "would_hold"]  # the skip was saved before the policy was asked again


async def test_u2_a_policy_that_cannot_be_asked_is_said_and_asked_again_on_the_next_look():
    class Failing(FakeSession):
        tries = 0

        def would_hold(self, plan_id=None):
            self.tries += 1
            if self.tries == 1:
                raise NotConnected("the state file is locked by another process")
            return super().would_hold(plan_id)

    session = Failing()
    app = make_app(session)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("2", *["c"] * 5)
        assert await until(pilot, lambda: any(
            n.message == "Could not ask the policy what a run would hold: the state file is locked by another process"
            for n in app._notifications))
        assert app.holds is None and not app.screen.query_one(ActionTable).visible_actions()
        await pilot.press("escape", *["c"] * 5)  # the view drawn again: asked again
        assert await until(pilot, lambda: app.screen.query_one(ActionTable).visible_actions())
        assert session.tries == 2
