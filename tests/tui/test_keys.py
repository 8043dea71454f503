"""Keys: every binding has an id and a tooltip, survives SSH and tmux, and is on screen at 80x24."""

from __future__ import annotations

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
from tui.screens.rules import RulesScreen
from tui.widgets.rowlist import RowList

OWNERS = [QbsyncApp, OverviewScreen, ReviewScreen, ApplyScreen, HistoryScreen, RulesScreen, HelpScreen,
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


@pytest.mark.anyio
@pytest.mark.parametrize("mode", ["overview", "review", "apply", "history", "rules"])
async def test_every_key_of_a_screen_is_in_its_footer_at_80x24(mode):
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        app.switch_mode(mode)
        await settle(pilot)
        footer = "\n".join(screen_text(app).splitlines()[-4:])
        missing = []
        for _key, (_node, binding, _enabled, _tooltip) in app.screen.active_bindings.items():
            if binding.show and app.get_key_display(binding) not in footer.replace(" ", ""):
                missing.append(binding.key)
            if binding.show and binding.group is None and binding.description not in footer:
                missing.append(binding.description)
        assert not missing, f"not in the footer of {mode}: {missing}\n{footer}"
