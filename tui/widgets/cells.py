"""How plan values, directions and states are drawn in terminal cells, in one place.

Precoro is always on the left and QuickBooks on the right, in the list and in the diff, so an
arrow reads the same everywhere. Every state has a glyph as well as a colour: with NO_COLOR (or a
monochrome terminal) the glyph still says it.
"""

from __future__ import annotations

from typing import Any

from rich.cells import cell_len, set_cell_size

from engine.entities import ENTITIES
from engine.plan import Action
from engine.review import Outcome, can_map
from rules.model import SIDE_NAMES as RULE_SIDE_NAMES
from ..render import cancels_document, plural

SIDE_NAMES = {**RULE_SIDE_NAMES, None: "qbsync"}
KIND_LABELS = {
    "create": "create", "update": "update", "deactivate": "deactivate", "reactivate": "reactivate",
    "link": "link", "unlink": "unlink", "conflict": "conflict", "ambiguous": "ambiguous", "blocked": "blocked",
}
ENTITY_TITLES = {spec.kind: spec.plural.capitalize() for spec in ENTITIES}

TO_QUICKBOOKS = "P ──▶ Q"
TO_PRECORO = "P ◀── Q"
LINK = "P ═══ Q"
UNLINK = "P ─╳─ Q"
UNDECIDED = "P ◀?▶ Q"
SKIPPED = "P  ╳  Q"
AMBIGUOUS = "P ─?─ Q"
BLOCKED = "P  !  Q"
DIRECTION_WIDTH = 7

# Mark column: one glyph per action state (see `mark`).
MARKS = {
    "approved": ("✓", "approved: will be applied"),
    "skipped": ("✗", "skipped: will not be applied"),
    "decide": ("?", "waits for your decision"),
    "problem": ("!", "blocked, or the last apply failed"),
    "done": ("•", "applied"),
}


def direction(action: Action) -> str:
    """The arrow between P(recoro) and Q(uickBooks) for an action."""
    if action.kind == "link":
        return LINK
    if action.kind == "unlink":
        return UNLINK
    if action.kind == "ambiguous":
        return AMBIGUOUS
    if action.kind == "blocked":
        return BLOCKED
    if action.kind == "conflict" and action.decision in (None, "skip"):
        return UNDECIDED if action.decision is None else SKIPPED
    side = action.write_target
    return TO_QUICKBOOKS if side == "quickbooks" else TO_PRECORO if side == "precoro" else "       "


def mark(action: Action, outcome: Outcome | None = None) -> str:
    """The state of an action: a key of MARKS."""
    if outcome is not None and outcome.status in ("failed", "refused"):
        return "problem"
    if outcome is not None and outcome.status == "applied":
        return "done"
    if action.kind == "blocked":
        return "problem"
    if action.needs_decision or action.kind == "ambiguous":
        return "decide"
    if not action.approved or (action.kind == "conflict" and action.decision == "skip"):
        return "skipped"
    return "approved"


def value(v: Any) -> str:
    """A field value for a table cell: lists joined, nothing shown as an empty-set sign."""
    if v is None or v == "" or v == ():
        return "∅"
    if isinstance(v, (list, tuple)):
        return ", ".join(value(x) for x in v) if v else "∅"
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def what(action: Action) -> str:
    """A few words on what the action touches, for the list's last column."""
    if action.kind == "ambiguous":
        return plural(len(action.candidates), "candidate")
    if action.kind in ("blocked", "unlink", "link") or not action.changes:
        return action.note.split(":")[0] if action.note else ""
    if action.kind == "create":
        return plural(len(action.changes), "field")
    names = [c.field for c in action.changes]
    return ", ".join(names)


def ids(action: Action) -> str:
    parts = []
    if action.precoro_id:
        parts.append(f"Precoro {action.precoro_id}")
    if action.quickbooks_id:
        parts.append(f"QuickBooks {action.quickbooks_id}")
    return " ⇄ ".join(parts)


def sentence(action: Action) -> str:
    """What applying the action does, in words."""
    fields = len(action.changes)
    plural = "s" if fields != 1 else ""
    if action.kind == "create":
        return f"Creates it in {SIDE_NAMES[action.target]} from {SIDE_NAMES[_other(action.target)]} ({fields} field{plural})."
    if action.kind == "update":
        return f"Writes {fields} field{plural} to {SIDE_NAMES[action.target]}, from {SIDE_NAMES[_other(action.target)]}."
    cancelled = cancels_document(action)
    if cancelled == "delete":
        return f"Deletes the {SIDE_NAMES[action.target]} document (cancelled in Precoro)."
    if cancelled == "void":
        return f"Voids the {SIDE_NAMES[action.target]} document: its amounts go to 0 (cancelled in Precoro)."
    if action.kind == "deactivate":
        return f"Makes the {SIDE_NAMES[action.target]} record inactive."
    if action.kind == "reactivate":
        return f"Makes the {SIDE_NAMES[action.target]} record active again."
    if action.kind == "link":
        return "Links the two records (no remote write)."
    if action.kind == "unlink":
        return "Removes the link (no remote write)."
    if action.kind == "conflict":
        if action.decision == "precoro":
            return f"Takes Precoro's value{plural}: writes {fields} field{plural} to QuickBooks."
        if action.decision == "quickbooks":
            return f"Takes QuickBooks' value{plural}: writes {fields} field{plural} to Precoro."
        if action.decision == "skip":
            return "Skipped: neither side is written."
        return "Both changed: p keeps Precoro, q keeps QuickBooks, x skips."
    if action.kind == "ambiguous":
        return "Several records match: m picks one by hand."
    # Only what `m` can really do is offered: documents and linked pairs are fixed at their source.
    if can_map(action):
        return "Cannot be synced as it is: fix what the note says, or m maps it by hand."
    return "Cannot be synced as it is: fix what the note says; the next plan tries again."


def _other(side: str | None) -> str | None:
    return {"quickbooks": "precoro", "precoro": "quickbooks"}.get(side or "")


def fit(text: str, width: int) -> str:
    """`text` in exactly `width` terminal cells: padded, or cut with an ellipsis (wide characters count twice)."""
    if width <= 0:
        return ""
    if cell_len(text) <= width:
        return set_cell_size(text, width)
    return set_cell_size(text, width - 1) + "…"
