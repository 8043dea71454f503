"""W4: the History screen's days, as typed in its bar (a day, a range, either side left out)."""

from __future__ import annotations

import re
from datetime import date

import pytest

from tui.messages import HistoryFilter
from tui.screens.history import KIND_CHOICES, days_asked, next_choice, nothing_shown

NOV_1, NOV_30 = date(2026, 11, 1), date(2026, 11, 30)


@pytest.mark.parametrize("typed, asked", [
    ("", (None, None)),
    ("  ", (None, None)),
    ("2026-11-30", (NOV_30, NOV_30)),
    ("2026-11-01..2026-11-30", (NOV_1, NOV_30)),
    (" 2026-11-01 .. 2026-11-30 ", (NOV_1, NOV_30)),
    ("2026-11-01..", (NOV_1, None)),
    ("..2026-11-30", (None, NOV_30)),
])
def test_w4_days_are_a_day_or_a_range_with_either_side_left_out(typed, asked):
    assert days_asked(typed) == asked


@pytest.mark.parametrize("typed, said", [
    ("yesterday", "'yesterday' is not a day (YYYY-MM-DD) or a range FROM..TO"),
    ("2026-11-31", "is not a day"),
    ("2026-11-30..2026-11-01", "days: 2026-11-01 is before 2026-11-30"),
])
def test_w4_days_that_are_not_are_said_with_what_was_expected(typed, said):
    with pytest.raises(ValueError, match=re.escape(said)):
        days_asked(typed)


def test_w4_an_empty_history_says_what_was_asked():
    assert nothing_shown(HistoryFilter()) == "Nothing has been applied yet."
    assert nothing_shown(HistoryFilter(record="106")) == "Nothing was applied to “106”."
    assert nothing_shown(HistoryFilter(undone=True, since=NOV_1)) == "Nothing failed or was refused on those days."
    assert nothing_shown(HistoryFilter(entity="item", kind="create")) == "Nothing was applied (items · create)."


def test_w4_the_entity_and_kind_filters_step_through_every_choice_and_back_to_all():
    choices = ["supplier", "item"]
    steps, current = [], None
    for _ in range(3):
        current = next_choice(choices, current)
        steps.append(current)
    assert steps == ["supplier", "item", None]
    assert KIND_CHOICES[:3] == ["link", "unlink", "create"] and "blocked" not in KIND_CHOICES
