"""What is wrong with a rules file, said with file, line and column (W5)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


QUOTE_LIMIT = 60


def quoted(value: object) -> str:
    """A value of the file in quotes, cut short: a problem about a 10 MB value must not repeat it."""
    text = str(value)
    if len(text) > QUOTE_LIMIT:
        text = f"{text[:QUOTE_LIMIT - 20]}…{text[-10:]}' ({len(text):,} characters)"
        return "'" + text
    return f"'{text}'"


@dataclass(frozen=True)
class RuleProblem:
    """One problem at one place in a rules file; line and column are 1-based."""

    path: str  # the file, as given to `rules.load`
    line: int
    column: int
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.column}: {self.message}"


class RulesError(Exception):
    """A rules file that cannot run: every problem found, the most telling one first.

    `best` (the headline, e.g. jsonschema's `best_match`) leads; the rest follow in file order.
    Duplicates are dropped, so one mistake seen by two checks is reported once.
    """

    def __init__(self, problems: Iterable[RuleProblem], best: RuleProblem | None = None) -> None:
        rest = sorted(set(problems) - {best}, key=lambda p: (p.line, p.column, p.message))
        self.problems: tuple[RuleProblem, ...] = ((best,) if best else ()) + tuple(rest)
        super().__init__(str(self))

    def __str__(self) -> str:
        return "\n".join(str(problem) for problem in self.problems)
