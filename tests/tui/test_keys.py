"""Keys: every binding has an id and a tooltip, survives SSH and tmux, and is on screen at 80x24."""

from __future__ import annotations

import re

import pytest

from snapshot_app import make_app, screen_text, settle
from textual.binding import Binding
from tui.app import QbsyncApp
from tui.dialogs.confirm import ConfirmApply
from tui.dialogs.mapping import MapByHand, NotMapped, PickCandidate
from tui.dialogs.question import Question
from tui.screens.apply import ApplyScreen
from tui.screens.help import HelpScreen
from tui.screens.history import HistoryScreen
from tui.screens.overview import OverviewScreen
from tui.screens.review import ReviewScreen
from tui.screens.base import QbsyncScreen
from tui.screens.rules import RulesScreen
from tui.widgets.rowlist import RowList

OWNERS = [QbsyncApp, QbsyncScreen, OverviewScreen, ReviewScreen, ApplyScreen, HistoryScreen, RulesScreen, HelpScreen,
          ConfirmApply, PickCandidate, MapByHand, NotMapped, Question, RowList]
# Keys that terminals, SSH or tmux swallow or cannot tell apart.
UNSAFE = ("ctrl+shift", "ctrl+enter", "shift+enter", "ctrl+tab", "super+", "meta+", "ctrl+m", "ctrl+i",
          "ctrl+h", "ctrl+[", "ctrl+b")


def bindings():
    for owner in OWNERS:
        for binding in owner.__dict__.get("BINDINGS", []):
            assert isinstance(binding, Binding), f"{owner.__name__}: use Binding(...) with an id and a tooltip"
            yield owner, binding


@pytest.mark.parametrize("owner,binding", list(bindings()), ids=lambda v: getattr(v, "id", None) or getattr(v, "__name__", ""))
def test_every_binding_has_an_id_and_a_tooltip(owner, binding):
    assert binding.id, f"{owner.__name__} {binding.key}: no id"
    assert binding.tooltip, f"{owner.__name__} {binding.key}: no tooltip"


def test_binding_ids_are_unique():
    ids = [b.id for _, b in bindings()]
    assert len(ids) == len(set(ids))


def test_keys_survive_ssh_and_tmux():
    for owner, binding in bindings():
        for key in binding.key.split(","):
            assert not any(key.startswith(bad) or bad in key for bad in UNSAFE), f"{owner.__name__}: {key}"


MODES = {"overview": OverviewScreen, "review": ReviewScreen, "apply": ApplyScreen, "history": HistoryScreen,
         "rules": RulesScreen}


@pytest.mark.anyio
@pytest.mark.parametrize("mode", list(MODES))
async def test_the_footer_is_one_line_ending_with_f1_at_80x24(mode):
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        app.switch_mode(mode)
        await settle(pilot)
        lines = screen_text(app).splitlines()
        assert app.screen.query_one("KeyBar").size.height == 1
        assert lines[-1].rstrip().endswith("F1 help"), lines[-1]
        assert lines[-2].startswith(" 15 actions · writes "), "the status line sits right above the keys"
        assert lines[-2].rstrip().endswith("2 conflicts to decide"), "and fits 80 columns"
        # The keys shown come in the order the screen declares them (most used first).
        if mode == "review":
            assert lines[-1].split("  ")[:3] == [" ax␣ approve/skip", "pq take side", "n next"]


@pytest.mark.anyio
@pytest.mark.parametrize("mode", list(MODES))
async def test_f1_lists_every_key_of_the_screen_and_the_app(mode):
    """Generated from the bindings: the screen's, its list's and the App's (g, r and 1-5 included)."""
    app = make_app()
    async with app.run_test(size=(120, 80)) as pilot:
        await settle(pilot)
        app.switch_mode(mode)
        await settle(pilot)
        # Every key shown, but one its screen turns off as things are (the Rules screen's i: there is a file).
        hidden = {b.action for b in MODES[mode].BINDINGS if app.screen.check_action(b.action, ()) is False}
        await pilot.press("f1")
        await settle(pilot)
        assert isinstance(app.screen, HelpScreen)
        shown = screen_text(app)
        expected = [b for b in (*MODES[mode].BINDINGS, *QbsyncApp.BINDINGS) if b.show and b.action not in hidden]
        assert mode != "rules" or hidden == {"write_starter"}
        if mode == "review":
            assert re.search(r"█ g +apply… +Apply the approved actions", shown)
        for number, title in enumerate(["Overview", "Review", "Apply", "History", "Rules"], 1):
            assert re.search(rf"█ {number} +{title} +\w", shown), title
        missing = [b.key for b in expected if app.get_key_display(b) not in shown or b.description not in shown]
        assert not missing, f"not in the help of {mode}: {missing}\n{shown}"
        assert "re-plan" in shown and "Read both sides again" in shown
        if mode in ("review", "apply", "history"):  # screens with a list: its moving keys, from its bindings
            assert "↑" in shown and "Previous row" in shown and "pgdn" in shown and "One screen down" in shown
        assert "shift+tab" in shown and "Move to the next pane" in shown
