"""Every screen and every dialog at 80x24 and 120x40, plus help, the light theme and NO_COLOR.

The data is fixed (demo_session), the clock too, animations and cursor blink are off, and every
picture is taken after all workers finished. Review the SVGs after `--snapshot-update`.
"""

from __future__ import annotations

import pytest

from snapshot_app import make_app, settle
from demo_session import FakeSession

SIZES = [pytest.param((80, 24), id="80x24"), pytest.param((120, 40), id="120x40")]


def run(*steps: str | tuple[str, ...]):
    """A run_before that waits for the engine, takes each step (a key, or keys typed together) and
    waits after it, then clears toasts."""

    async def before(pilot) -> None:
        await settle(pilot)
        for step in steps:
            await pilot.press(*((step,) if isinstance(step, str) else step))
            await settle(pilot)
        pilot.app.clear_notifications()
        await pilot.pause()

    return before


@pytest.mark.parametrize("size", SIZES)
def test_overview(snap_compare, here, size):
    assert snap_compare(make_app(), terminal_size=size, run_before=run())


@pytest.mark.parametrize("size", SIZES)
def test_review_on_a_conflict(snap_compare, here, size):
    # n jumps to the first conflict: the three-way diff with its keys.
    assert snap_compare(make_app(), terminal_size=size, run_before=run("2", "n"))


@pytest.mark.parametrize("size", SIZES)
def test_review_conflicts_filter_after_a_decision(snap_compare, here, size):
    # Taking Precoro's side turns the arrow towards QuickBooks; the filter then shows conflicts only.
    assert snap_compare(make_app(), terminal_size=size, run_before=run("2", "n", "p", "c", "c"))


@pytest.mark.parametrize("size", SIZES)
def test_u2_review_what_a_run_would_hold(snap_compare, here, size):
    # c's last choice: what `qbsync run` would hold of the plan, each row saying why, the reason whole below.
    assert snap_compare(make_app(), terminal_size=size, run_before=run("2", ("c",) * 5, "down"))


def test_review_create_with_a_cut_name(snap_compare, here):
    assert snap_compare(make_app(), terminal_size=(80, 24), run_before=run("2", ("slash", *"consolidated", "enter")))


@pytest.mark.parametrize("size", SIZES)
def test_s7_pick_candidate_dialog(snap_compare, here, size):
    # An ambiguous match: its candidates, best first, and the way out (type another id).
    assert snap_compare(make_app(), terminal_size=size, run_before=run("2", ("slash", *"stark", "enter"), "m"))


@pytest.mark.parametrize("size", SIZES)
def test_w4_why_dialog(snap_compare, here, size):
    # y: the highlighted record's story, its differing fields marked, the plan's action on it.
    assert snap_compare(make_app(), terminal_size=size, run_before=run("2", ("slash", *"müller", "enter"), "y"))


@pytest.mark.parametrize("size", SIZES)
def test_u1_runs_dialog(snap_compare, here, size):
    # u on the Overview: the latest unattended runs, newest first, a failed one with its reason.
    assert snap_compare(make_app(), terminal_size=size, run_before=run("u"))


@pytest.mark.parametrize("size", SIZES)
def test_s7_map_by_hand_dialog(snap_compare, here, size):
    # A create with no candidate: both ids typed, the Precoro one known already.
    assert snap_compare(make_app(), terminal_size=size, run_before=run("2", ("slash", *"northwind", "enter"), "m"))


@pytest.mark.parametrize("size", SIZES)
def test_s7_confirm_unmap_dialog(snap_compare, here, size):
    assert snap_compare(make_app(), terminal_size=size, run_before=run("2", ("slash", *"fabrikam", "enter"), "u"))


@pytest.mark.parametrize("size", SIZES)
def test_i6_confirm_item_mapping_dialog(snap_compare, here, size):
    # The dialog that ran off the bottom at 80x24: what mapping imports scrolls, the buttons stay.
    assert snap_compare(make_app(), terminal_size=size, run_before=run("2", "i", "enter", "enter"))


@pytest.mark.parametrize("size", SIZES)
def test_w3_stop_and_quit_question_dialog(snap_compare, here, size):
    from tui.app import stop_and_quit_question

    async def before(pilot) -> None:
        await run("3")(pilot)
        pilot.app.push_screen(stop_and_quit_question())
        await settle(pilot)

    assert snap_compare(make_app(), terminal_size=size, run_before=before)


@pytest.mark.parametrize("size", SIZES)
def test_confirm_apply_dialog(snap_compare, here, size):
    assert snap_compare(make_app(), terminal_size=size, run_before=run("2", "n", "p", "g"))


@pytest.mark.parametrize("size", SIZES)
def test_apply_finished_with_a_failure(snap_compare, here, size):
    # The failed create is highlighted: its QuickBooks error code and message are on screen.
    async def before(pilot) -> None:
        await run("2", "n", "p", "g", "y")(pilot)
        screen = pilot.app.screen
        results = screen.query_one("#results")
        failed = next(i for i, r in enumerate(results.results) if r.status == "failed")
        results.move_cursor(failed)
        await pilot.pause()

    assert snap_compare(make_app(), terminal_size=size, run_before=before)


def test_apply_finished_notice_covers_the_plan_label_whole(snap_compare, here):
    # The notice sits at the top right, over the plan label; none of the label may show through
    # beside it (Textual's toast rack kept a column for a scrollbar it never draws).
    async def before(pilot) -> None:
        await run("2", "n", "p", "g")(pilot)
        await pilot.press("y")
        await settle(pilot)

    assert snap_compare(make_app(), terminal_size=(120, 40), run_before=before)


@pytest.mark.parametrize("size", SIZES)
def test_history_after_apply(snap_compare, here, size):
    assert snap_compare(make_app(), terminal_size=size, run_before=run("2", "n", "p", "g", "y", "4"))


@pytest.mark.parametrize("size", SIZES)
def test_rules_valid(snap_compare, here, size):
    assert snap_compare(make_app(), terminal_size=size, run_before=run("5"))


@pytest.mark.parametrize("size", SIZES)
def test_rules_with_problems(snap_compare, tmp_path, monkeypatch, size):
    import rules

    monkeypatch.chdir(tmp_path)
    (tmp_path / "rules.yaml").write_text(
        "version: 1\nsuppliers:\n  enabled: yes\n  conflict: maybe\n  fields:\n    name: {precoro: name}\n",
        encoding="utf-8")

    def factory():
        rules.load("rules.yaml")  # raises RulesError, as SyncSession's constructor would
        return FakeSession()

    app = make_app(factory=factory, rules_path="rules.yaml")
    assert snap_compare(app, terminal_size=size, run_before=run())


@pytest.mark.parametrize("size", SIZES)
def test_help(snap_compare, here, size):
    assert snap_compare(make_app(), terminal_size=size, run_before=run("2", "f1"))


@pytest.mark.parametrize("size", SIZES)
def test_command_palette_in_review(snap_compare, here, size):
    assert snap_compare(make_app(), terminal_size=size, run_before=run("2", "ctrl+p"))


def test_review_light_theme(snap_compare, here):
    app = make_app()
    app.theme = "textual-light"
    assert snap_compare(app, terminal_size=(120, 40), run_before=run("2", "n"))


def test_review_no_color(snap_compare, here, monkeypatch):
    monkeypatch.setenv("NO_COLOR", "1")
    assert snap_compare(make_app(), terminal_size=(80, 24), run_before=run("2", "n"))


@pytest.mark.parametrize("size", SIZES)
def test_items_not_mapped_dialog(snap_compare, here, size):
    # The Not-mapped list (I4): its running count, the search field and the best suggestion of each item.
    assert snap_compare(make_app(), terminal_size=size, run_before=run("2", "i"))


def held_by_a_run():
    """The demo plan as an unattended run leaves it: the creates not approved, held for a person (U3)."""
    from demo_session import demo_plan

    plan = demo_plan()
    for action in plan.actions:
        if action.kind == "create":
            action.approved = False
    return plan


def test_u3_opens_on_waiting_for_you(snap_compare, here):
    session = FakeSession(make_plan=held_by_a_run, held=4)
    assert snap_compare(make_app(session), terminal_size=(80, 24), run_before=run())


def test_u3_overview_says_what_is_waiting(snap_compare, here):
    session = FakeSession(make_plan=held_by_a_run, held=4)
    assert snap_compare(make_app(session), terminal_size=(80, 24), run_before=run("1"))


def test_w11_overview_says_how_far_a_read_cut_short_got(snap_compare, here):
    """A first read of more Precoro records than a day's calls: the Overview says where it stopped,
    and when, under Precoro's limits, it can end at the earliest."""
    session = FakeSession(reading={"at": "2026-11-26T09:00:00+00:00", "cap": "Precoro's daily limit",
                                   "resume_at": "2026-11-27T00:00:00+00:00",
                                   "sources": [{"section": "suppliers", "read": 2950, "total": 10000, "calls_left": 7086},
                                               {"section": "items", "read": 0, "total": None, "calls_left": None}]})
    assert snap_compare(make_app(session), terminal_size=(80, 24), run_before=run("1"))


def test_w11_overview_says_where_a_killed_read_goes_on(snap_compare, here):
    """A first plan killed while reading: the Overview says the read is not finished and where the
    next plan goes on."""
    session = FakeSession(unfinished_reads=[{"section": "suppliers", "page": 16, "kept": 3000,
                                             "began": "2026-11-26T09:00:00+00:00"}])
    assert snap_compare(make_app(session), terminal_size=(80, 24), run_before=run("1"))
