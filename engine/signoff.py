"""A plan signed off in a spreadsheet (W1): `qbsync show --csv` writes the plan a row per field, each
row with the plan's id, the action's id, its approval and its decision. A reviewer sets `approved`
(yes or no) and, on a conflict, `decision` (precoro, quickbooks or skip); `qbsync approve --from FILE`
records what the reviewer changed (SyncSession.sign_off).

A file of another plan, or of more than one, is refused whole. A row that cannot be taken (an
action the plan does not have, a word that is not yes or no, rows of one action that disagree) is
named by its line, and the other rows go on.

A spreadsheet may turn an id of digits into a number (`0012345678` -> `12345678`, `1234e56789` ->
`1.234E+59`). An action's id is made of its entity, kind, target and both records' ids (plan.action_id),
so a row whose id is not the plan's is looked for by those columns too.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .plan import action_id
from .tables import Table, TableError

PLAN_COLUMN, ACTION_COLUMN, APPROVED_COLUMN, DECISION_COLUMN = "plan_id", "action_id", "approved", "decision"
# The columns an action's id is made of (`writes` is its target, for the kinds that write).
ID_COLUMNS = ("entity", "kind", "writes", "precoro_id", "quickbooks_id")
TARGETED_KINDS = frozenset({"create", "update", "deactivate", "reactivate"})
YES, NO = frozenset({"yes", "y", "true", "1", "x"}), frozenset({"no", "n", "false", "0"})
DECISIONS = ("precoro", "quickbooks", "skip")


@dataclass(frozen=True)
class SignedAction:
    """What the file says of one action: its approval and decision (None: left as it is)."""

    line: int  # the first row of it
    action_id: str  # as the file has it
    made_id: str | None  # as its entity, kind, target and records make it, when the file has those columns
    approved: bool | None
    decision: str | None

    def said(self) -> str:
        parts = [f"approved {'yes' if self.approved else 'no'}" if self.approved is not None else "",
                 f"decision {self.decision}" if self.decision else ""]
        return ", ".join(part for part in parts if part) or "nothing"


@dataclass(frozen=True)
class RefusedLine:
    line: int
    action_id: str
    reason: str

    def to_json(self) -> dict:
        return {"line": self.line, "action_id": self.action_id, "reason": self.reason}


@dataclass
class SignOffFile:
    path: str
    digest: str  # sha256 of its bytes: the plan's note names the very file it was signed off from
    plan_id: str
    actions: list[SignedAction]
    refused: list[RefusedLine]


@dataclass
class SignOff:
    """What SyncSession.sign_off changed, by full action id; the actions the file left as the plan has
    them; and the rows it refused."""

    plan_id: str
    approved: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    decided: dict[str, list[str]] = field(default_factory=dict)  # decision -> conflicts
    as_they_were: int = 0
    refused: list[RefusedLine] = field(default_factory=list)

    def to_json(self) -> dict:
        return {"plan_id": self.plan_id, "approved": self.approved, "skipped": self.skipped, "decided": self.decided,
                "as_they_were": self.as_they_were, "refused": [r.to_json() for r in self.refused], "note": self.note}

    @property
    def note(self) -> str:
        """What was changed, in the words the plan keeps it in (`sign_off` adds who, when and the file)."""
        decided = ", ".join(f"{len(ids)} decided {decision}" for decision, ids in self.decided.items())
        return (f"{len(self.approved)} approved, {len(self.skipped)} skipped" + (f", {decided}" if decided else "")
                + f", {self.as_they_were} as they were"
                + (f", {len(self.refused)} row{'s' * (len(self.refused) != 1)} refused" if self.refused else ""))


def read_signoff_file(path: str | Path, text: str | None = None) -> SignOffFile:
    """The approvals and decisions of a plan as `qbsync show --csv` wrote it and a reviewer edited it.
    `text`: the file's content when it is not read from `path` (standard input)."""
    table = Table(path, text, (PLAN_COLUMN, ACTION_COLUMN), (APPROVED_COLUMN, DECISION_COLUMN, *ID_COLUMNS),
                  what="the header row of `qbsync show --csv`")
    if APPROVED_COLUMN not in table.at and DECISION_COLUMN not in table.at:
        raise TableError(f"{path}:1:1: expected a column {APPROVED_COLUMN} or {DECISION_COLUMN}: "
                         "nothing in this file says what to approve")
    plan_id = ""
    by_id: dict[str, SignedAction] = {}
    disputed: set[str] = set()
    refused: list[RefusedLine] = []
    for line, cells in table:
        if not any(cells.values()):
            continue  # an empty row (a spreadsheet keeps some at the end)
        where = f"{path}:{line}:{table.at[PLAN_COLUMN] + 1}"
        if not cells[PLAN_COLUMN]:
            raise TableError(f"{where}: no plan id: a sign-off names the plan it signs; nothing was recorded")
        if plan_id and cells[PLAN_COLUMN] != plan_id:
            raise TableError(f"{where}: this row is of plan {cells[PLAN_COLUMN]}, the rows before it of plan "
                             f"{plan_id}: a sign-off is of one plan; nothing was recorded")
        plan_id = cells[PLAN_COLUMN]
        wanted = cells[ACTION_COLUMN]
        if not wanted:
            refused.append(RefusedLine(line, "", f"no {ACTION_COLUMN} (column {table.at[ACTION_COLUMN] + 1})"))
            continue
        try:
            signed = SignedAction(line, wanted, _made_id(cells), _approval(cells.get(APPROVED_COLUMN, "")),
                                  _decision(cells.get(DECISION_COLUMN, "")))
        except ValueError as problem:
            refused.append(RefusedLine(line, wanted, str(problem)))
            disputed.add(wanted)
            continue
        first = by_id.setdefault(wanted, signed)
        if wanted not in disputed and (first.approved, first.decision) != (signed.approved, signed.decision):
            refused.append(RefusedLine(line, wanted, f"says {signed.said()}, but line {first.line} of the same action "
                                                     f"says {first.said()}: make its rows agree"))
            disputed.add(wanted)
    if not plan_id:
        raise TableError(f"{path}:2:1: no rows: nothing to sign off")
    return SignOffFile(str(path), table.digest, plan_id, [a for a in by_id.values() if a.action_id not in disputed],
                       refused)


def _approval(cell: str) -> bool | None:
    word = cell.strip().lower()
    if not word:
        return None
    if word in YES or word in NO:
        return word in YES
    raise ValueError(f"approved is yes or no (or empty: left as it is); found {cell!r}")


def _decision(cell: str) -> str | None:
    word = cell.strip().lower()
    if not word:
        return None
    if word in DECISIONS:
        return word
    raise ValueError(f"decision is precoro, quickbooks or skip (or empty: left as it is); found {cell!r}")


def _made_id(cells: dict[str, str]) -> str | None:
    if not all(name in cells for name in ID_COLUMNS) or not cells["entity"] or not cells["kind"]:
        return None
    target = cells["writes"] if cells["kind"] in TARGETED_KINDS else None
    return action_id(cells["entity"], cells["kind"], target or None, cells["precoro_id"] or None,
                     cells["quickbooks_id"] or None)
