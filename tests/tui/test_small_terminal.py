"""The TUI at 80x24 (issue 14): everything fits and reads, every key says what it did or why not,
toasts stay out of the way, and the chosen theme is remembered."""

from __future__ import annotations

import json

import pytest

from demo_session import FakeSession, demo_plan
from engine.entities import ENTITIES
from engine.plan import Action
from snapshot_app import make_app, screen_text, settle, shows
from textual.widgets import Button
from tui.app import QbsyncApp, stop_and_quit_question
from tui.dialogs.confirm import ConfirmApply
from tui.dialogs.explained import Explained
from tui.dialogs.mapping import MapByHand, NotMapped, PickCandidate
from tui.dialogs.question import Question
from tui.screens.help import HelpScreen
from tui.widgets.action_table import ActionTable

pytestmark = pytest.mark.anyio

# How to open each dialog from a fresh app: the keys, and what opens.
DIALOGS = {
    "confirm apply": (["2", "n", "p", "g"], ConfirmApply),
    "confirm item mapping": (["2", "i", "enter", "enter"], ConfirmApply),
    "confirm unmap": (["2", ("slash", *"fabrikam", "enter"), "u"], ConfirmApply),
    "pick candidate": (["2", ("slash", *"stark", "enter"), "m"], PickCandidate),
    "map by hand": (["2", ("slash", *"northwind", "enter"), "m"], MapByHand),
    "not mapped": (["2", "i"], NotMapped),
    "help": (["2", "f1"], HelpScreen),
    "why": (["2", ("slash", *"müller", "enter"), "y"], Explained),
}


async def press(pilot, *steps) -> None:
    for step in steps:
        await pilot.press(*((step,) if isinstance(step, str) else step))
        await settle(pilot)


def in_sight(app, widget) -> bool:
    """The widget is what the terminal shows at its first and its last line (not scrolled or cut off)."""
    region = widget.region
    if not region or region.bottom > app.size.height or region.right > app.size.width:
        return False
    return all(app.screen.get_widget_at(region.x + 1, y)[0] in (widget, *widget.walk_children())
               for y in (region.y, region.bottom - 1))


@pytest.mark.parametrize("name", list(DIALOGS))
async def test_w1_every_dialog_fits_80x24_with_its_buttons_in_sight(name):
    steps, kind = DIALOGS[name]
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await press(pilot, *steps)
        assert isinstance(app.screen, kind), screen_text(app)
        dialog = app.screen.query_one("#dialog")
        assert dialog.region.height <= 24 and dialog.region.width <= 80
        assert in_sight(app, dialog)
        for button in app.screen.query(Button):
            assert in_sight(app, button), f"{name}: {button.label} is out of sight\n{screen_text(app)}"
        # The last line of every dialog (its buttons or its hint) is inside the frame.
        assert in_sight(app, list(dialog.children)[-1])
        if name != "confirm item mapping":  # nothing below the fold: no word about scrolling
            assert "↓ scrolls it" not in screen_text(app)


async def test_w3_the_stop_and_quit_question_fits_80x24():
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        app.push_screen(stop_and_quit_question())
        await settle(pilot)
        assert isinstance(app.screen, Question)
        assert all(in_sight(app, button) for button in app.screen.query(Button))


async def test_i6_a_long_mapping_scrolls_in_its_dialog_and_the_keys_scroll_it():
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await press(pilot, "2", "i", "enter", "enter")
        body = app.screen.query_one("#dialog-body")
        assert body.max_scroll_y > 0, "the item mapping is taller than 80x24 allows: it scrolls"
        assert "Precoro's chart-of-accounts options" not in screen_text(app)
        assert "The list above goes on: ↓ scrolls it." in screen_text(app)
        await press(pilot, "pagedown")
        assert body.scroll_y == body.max_scroll_y
        assert "Precoro's chart-of-accounts options" in screen_text(app)
        assert app.screen.query_one("#no", Button).has_focus  # Cancel keeps the focus: enter still cancels


async def test_w1_overview_at_80x24_shows_whole_headers_and_every_entity():
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        header = "entity             linked  unlinked  pending  conflicts  to decide  errors"
        shown = await shows(pilot, header, ENTITIES[-1].plural.capitalize())
        assert header in shown
        for spec in ENTITIES:  # the last one too
            assert spec.plural.capitalize() in shown, spec.plural


async def test_w1_the_footer_is_blank_under_a_dialog_and_back_after():
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await press(pilot, "2", "g")
        assert isinstance(app.screen, ConfirmApply)
        assert screen_text(app).splitlines()[-1].strip() == ""  # the review's keys do nothing now
        await press(pilot, "escape")
        assert "g apply…" in screen_text(app).splitlines()[-1]


# -- keys that cannot act say why -----------------------------------------------------------------

def blocked_invoice() -> Action:
    return Action(id="b10c0000001", entity="invoice", kind="blocked", target=None, name="invoice INV-7",
                  precoro_id="7", note="not sent: line 1: item 55 is not linked to a QuickBooks item")


def plan_with_a_blocked_invoice():
    plan = demo_plan()
    plan.actions.append(blocked_invoice())
    return plan


async def highlight(pilot, text: str) -> Action:
    await press(pilot, "escape", ("slash", *text, "enter"))
    current = pilot.app.screen.query_one(ActionTable).current
    assert current is not None, screen_text(pilot.app)
    return current


async def said(pilot, key: str) -> list[str]:
    pilot.app.clear_notifications()
    await press(pilot, key)
    return [n.message for n in pilot.app._notifications]


async def test_d1_a_blocked_invoice_says_what_is_true_and_m_says_why_not():
    app = make_app(FakeSession(make_plan=plan_with_a_blocked_invoice))
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await press(pilot, "2")
        assert (await highlight(pilot, "INV-7")).kind == "blocked"
        shown = screen_text(app)
        assert "m maps it by hand" not in shown
        assert "fix what the note says; the next plan tries again" in shown
        assert await said(pilot, "m") == ["Invoices are not mapped by hand (only suppliers and items are)."]
        assert await said(pilot, "u") == ["Invoices are not mapped by hand (only suppliers and items are)."]
        assert await said(pilot, "a") == ["A blocked action cannot be applied: fix what its note says; the next "
                                          "plan tries again."]
        assert not isinstance(app.screen, (PickCandidate, MapByHand))


async def test_w9_a_blocked_supplier_that_says_m_maps_it_is_mapped_by_m():
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await press(pilot, "2")
        assert (await highlight(pilot, "wayne")).kind == "blocked"
        assert "fix what the note says, or m maps it by hand" in screen_text(app)
        await press(pilot, "m")
        assert isinstance(app.screen, PickCandidate)


@pytest.mark.parametrize("search,key,reason", [
    ("acme office", "m", "This plan links it already: apply makes the link."),
    ("acme office", "u", "Not linked yet: this plan links it; once applied, u can unlink it."),
    ("fabrikam", "m", "Already linked (Precoro 106 ⇄ QuickBooks 62): u unlinks it first."),
    ("umbrella", "m", "This plan unlinks it: once that is applied, m can link it to another record."),
    ("umbrella", "u", "This plan unlinks it already."),
    ("stark", "u", "Not linked: only a linked pair can be unmapped (m links it)."),
    ("stark", "x", "An ambiguous match is neither approved nor skipped: m picks its record."),
    ("initech", "p", "p and q decide a conflict; this is a deactivation."),
    ("nothing like this", "m", "Nothing is highlighted: no actions match. esc clears the filters."),
    ("nothing like this", "a", "Nothing is highlighted: no actions match. esc clears the filters."),
])
async def test_s7_a_key_that_cannot_act_says_why(search, key, reason):
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await press(pilot, "2", "escape", ("slash", *search, "enter"))
        before = app.screen
        assert await said(pilot, key) == [reason]
        assert app.screen is before  # nothing opened


async def test_w1_approving_twice_says_so():
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await press(pilot, "2")
        await highlight(pilot, "northwind")
        assert await said(pilot, "a") == ["Already approved."]
        assert await said(pilot, "x") == []  # it did something: the mark says it
        assert await said(pilot, "x") == ["Already skipped."]


async def test_w1_typing_in_the_search_never_counts_as_a_key():
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await press(pilot, "2", "slash")
        assert await said(pilot, "m") == [] and await said(pilot, "u") == []
        assert app.screen.query_one("#search").value == "mu"


# -- toasts -----------------------------------------------------------------------------------------

async def test_w1_one_toast_at_a_time_and_an_error_stays():
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        app.clear_notifications()
        for message in ("one", "two", "three"):
            app.notify(message)
        await pilot.pause()
        assert [n.message for n in app._notifications] == ["three"]
        app.notify("it failed", severity="error")
        app.notify("four")
        await pilot.pause()
        assert [n.message for n in app._notifications] == ["it failed", "four"]
        app.notify("it failed again", severity="error")
        await pilot.pause()
        assert [n.message for n in app._notifications] == ["it failed again"]


async def test_w1_toasts_sit_at_the_top_right_away_from_the_detail_pane():
    app = make_app()
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await settle(pilot)
        await press(pilot, "2")
        app.notify("Approved 3 actions.")
        for _ in range(20):  # the toast is mounted a message or two later
            await pilot.pause()
            if app.screen.query("Toast"):
                break
        toast = app.screen.query_one("Toast")
        detail = app.screen.query_one("#detail")
        assert toast.region.y <= 1 and toast.region.right >= 78 and toast.region.height == 1
        assert not toast.region.overlaps(detail.region)


# -- the theme ------------------------------------------------------------------------------------

class StateSession(FakeSession):
    """A FakeSession that, like SyncSession, knows where its state file is."""

    def __init__(self, state_path) -> None:
        super().__init__()
        self.state_path = state_path


async def test_the_chosen_theme_is_remembered_beside_the_state_file(tmp_path):
    state = tmp_path / ".qbsync" / "state.db"
    first = make_app(StateSession(state))
    async with first.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert first.theme == "textual-dark"
        first.action_toggle_dark()
        await settle(pilot)
    assert json.loads((state.parent / "tui.json").read_text()) == {"theme": "textual-light"}

    again = make_app(StateSession(state))
    async with again.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert again.theme == "textual-light"


async def test_a_settings_path_given_up_front_is_used_from_the_first_frame(tmp_path):
    (tmp_path / "tui.json").write_text('{"theme": "nord"}')
    app = QbsyncApp(lambda: FakeSession(), watch_rules=False, watch_plan=False, cursor_blink=False,
                    settings_path=tmp_path / "tui.json")
    async with app.run_test(size=(80, 24)) as pilot:
        assert app.theme == "nord"  # before the session is even open
        await settle(pilot)
        app.theme = "gruvbox"
        await settle(pilot)
    assert json.loads((tmp_path / "tui.json").read_text()) == {"theme": "gruvbox"}


@pytest.mark.parametrize("content", ["not json", '["a list"]', '{"theme": "no-such-theme"}'])
async def test_an_unreadable_or_unknown_theme_setting_keeps_the_default(tmp_path, content):
    (tmp_path / "tui.json").write_text(content)
    app = QbsyncApp(lambda: FakeSession(), watch_rules=False, watch_plan=False, cursor_blink=False,
                    settings_path=tmp_path / "tui.json")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert app.theme == "textual-dark"


async def test_w1_esc_with_nothing_to_clear_says_so():
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await press(pilot, "2")
        assert await said(pilot, "escape") == ["No filter or search to clear: every action is shown."]
        await press(pilot, "slash", *"contoso", "enter")
        assert await said(pilot, "escape") == []  # it cleared the search
        assert app.screen.query_one("#search").value == ""
