"""Pure views of a plan for reviewing it: filters, grouping, counts and what an apply would write.

Shared by the CLI and the TUI, so that a screen never holds logic the command line would need.
Nothing here does I/O or knows about a screen; everything is one pass over the actions, because
a plan may hold 100,000 of them and the review screen re-filters on every keystroke.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass, field, replace
from itertools import groupby
from operator import attrgetter, itemgetter
from typing import Any, Iterable, Mapping, Sequence

from .budgets import duration
from .entities import BY_KIND, BY_SECTION, ENTITIES
from .errors import UsageError
from .plan import KIND_ORDER, Action, Plan, is_executable, write_target
from .writes import unit_key_of

SECTION_OF = {spec.kind: spec.section for spec in ENTITIES}
# Entities an operator can map and unmap by hand (S7, I4); lists and documents follow their links.
MAPPABLE = frozenset(spec.kind for spec in ENTITIES if spec.mappable)
# Outcomes of an apply that mean "this action did not go through and someone should look".
ERROR_OUTCOMES = frozenset({"failed", "refused"})
# Kinds whose records are linked when the action is planned, so they can be unmapped by hand.
LINKED_KINDS = frozenset({"update", "conflict", "deactivate", "reactivate"})
# U2, U3: what `qbsync run` would hold of the plan were it run now (SyncSession.would_hold says
# why): what waits for a person. Not read off the plan's approvals alone, which cannot tell a run's
# hold from a person's skip: `--which waiting` once approved what the operator had skipped.
WOULD_HOLD = "a run would hold"
SHOW_CHOICES = ("all", "attention", "conflicts", "errors", "not approved", WOULD_HOLD)
# The same as typed on a command line (`--which`); "waiting" is what a run would hold, by its old name.
SHOW_WORDS = {"all": "all", "attention": "attention", "conflicts": "conflicts", "errors": "errors",
              "not-approved": "not approved", "waiting": WOULD_HOLD, "would-hold": WOULD_HOLD}
# The `target` filter: the side an action writes to, or "none" for bookkeeping and waiting actions.
TARGET_CHOICES = ("quickbooks", "precoro", "none")
# Kinds no approval makes go through: a match to choose, or a write to mend in the data first.
WAIT_FOR_DATA = frozenset({"ambiguous", "blocked"})


@dataclass(frozen=True)
class Outcome:
    """What the last apply did with one action (from an apply report or the audit)."""

    status: str  # applied | failed | refused | skipped | pending
    reason: str = ""


def outcome_of(result: Any) -> Outcome:
    """An engine ActionResult (or anything with `status` and `reason`) as an Outcome."""
    return Outcome(str(getattr(result, "status", "")), str(getattr(result, "reason", "") or ""))


def outcomes_from_history(rows: Iterable[Mapping[str, Any]], plan_id: str) -> dict[str, Outcome]:
    """The latest audited outcome of each action of one plan (audit rows come newest first)."""
    found: dict[str, Outcome] = {}
    for row in rows:
        if row.get("plan_id") != plan_id or not row.get("action_id") or row["action_id"] in found:
            continue
        found[row["action_id"]] = Outcome(row.get("status") or "", row.get("reason") or "")
    return found


def write_side(action: Action) -> str:
    """The side an action writes remotely, or "none" (links, unlinks, undecided or waiting actions)."""
    return action.write_target or "none"


def needs_attention(action: Action, outcome: Outcome | None = None) -> bool:
    """An action the operator must act on before it can go through."""
    return (action.needs_decision or action.kind in WAIT_FOR_DATA
            or (outcome is not None and outcome.status in ERROR_OUTCOMES))


def takes_approval(action: Action) -> bool:
    """Whether approving or skipping the action means anything: an ambiguous match or a blocked
    write is never applied, whatever its approval."""
    return action.kind not in WAIT_FOR_DATA


def ready_once_approved(action: Action) -> bool:
    """Whether approving the action lets the next apply carry it out: it takes an approval and is
    not a conflict still waiting for its side to be taken."""
    return takes_approval(action) and not action.needs_decision


def is_error(action: Action, outcome: Outcome | None = None) -> bool:
    return action.kind == "blocked" or (outcome is not None and outcome.status in ERROR_OUTCOMES)


def is_linked_pair(action: Action) -> bool:
    """Whether the action is about two records linked before this plan.

    A blocked action names both records only when it is a linked pair whose update the target
    would refuse; a blocked create or match names one record.
    """
    both = bool(action.precoro_id and action.quickbooks_id)
    return both and (action.kind in LINKED_KINDS or action.kind == "blocked")


def can_unmap(action: Action) -> bool:
    """Whether the action is about a linked pair that an operator could unlink by hand."""
    return action.entity in MAPPABLE and is_linked_pair(action)


def can_map(action: Action) -> bool:
    """Whether the action is about an unlinked record that an operator could link by hand."""
    return (action.entity in MAPPABLE and action.kind in ("create", "ambiguous", "blocked")
            and not is_linked_pair(action) and bool(action.precoro_id or action.quickbooks_id))


@dataclass(frozen=True)
class ReviewFilter:
    """Which actions the reviewer sees. Empty values mean "any"."""

    entity: str | None = None  # "supplier", "item"
    kind: str | None = None  # a plan kind: "update", "conflict", ...
    target: str | None = None  # "quickbooks", "precoro" or "none" (see `write_side`)
    show: str = "all"  # one of SHOW_CHOICES
    search: str = ""  # part of the name, of a record id or of the action id; case does not matter

    @property
    def is_empty(self) -> bool:
        return self == ReviewFilter()

    def matches(self, action: Action, outcome: Outcome | None = None,
                holds: Mapping[str, str] | None = None) -> bool:
        """Whether the filter shows `action`; `holds`: what a run would hold (action id -> why), which
        only WOULD_HOLD asks for."""
        if self.entity and action.entity != self.entity:
            return False
        if self.kind and action.kind != self.kind:
            return False
        if self.target and write_side(action) != self.target:
            return False
        if self.show == "attention" and not needs_attention(action, outcome):
            return False
        if self.show == "conflicts" and action.kind != "conflict":
            return False
        if self.show == "errors" and not is_error(action, outcome):
            return False
        if self.show == "not approved" and (action.approved or action.kind in WAIT_FOR_DATA):
            return False
        if self.show == WOULD_HOLD and action.id not in (holds or {}):
            return False
        if self.search and self.search.casefold() not in search_key(action):
            return False
        return True


def review_filter(entity: str | None = None, kind: str | None = None, target: str | None = None,
                  show: str = "all", search: str = "") -> ReviewFilter:
    """The ReviewFilter a person typed (the CLI's --entity, --kind, --to, --which, --search): an
    entity by its rules section ("suppliers") or its kind ("supplier"), `show` one of SHOW_WORDS.
    A word qbsync does not know is refused with the words it does (UsageError)."""
    def known(what: str, value: str | None, choices: Iterable[str]) -> None:
        if value is not None and value not in choices:
            raise UsageError(f"unknown {what} {value!r}; expected one of {', '.join(choices)}")

    spec = None if entity is None else BY_KIND.get(entity) or BY_SECTION.get(entity)
    known("entity", None if spec else entity, BY_SECTION)
    known("kind", kind, KIND_ORDER)
    known("side", target, TARGET_CHOICES)
    known("selection", show, SHOW_WORDS)
    return ReviewFilter(entity=spec.kind if spec else None, kind=kind, target=target, show=SHOW_WORDS[show],
                        search=search)


def search_key(action: Action) -> str:
    """What the search box looks in: the name, both record ids and the action id, case folded."""
    return f"{action.name}\x00{action.precoro_id or ''}\x00{action.quickbooks_id or ''}\x00{action.id}".casefold()


class SearchIndex:
    """The search keys of a plan's actions, built once, so a keystroke scans strings and nothing else."""

    def __init__(self, actions: Sequence[Action]) -> None:
        self.keys = [search_key(a) for a in actions]

    def hits(self, text: str) -> list[int]:
        needle = text.casefold()
        return [i for i, key in enumerate(self.keys) if needle in key]


@dataclass(frozen=True)
class Group:
    """A run of actions of one entity and kind in the review list."""

    entity: str
    kind: str
    count: int


@dataclass
class ReviewRows:
    """The visible rows: `rows[i] >= 0` is an index into the plan's actions, `-1 - g` is group g.

    Plain ints keep 100,000 rows cheap to build and to index.
    """

    rows: list[int] = field(default_factory=list)
    groups: list[Group] = field(default_factory=list)
    matched: int = 0

    def __len__(self) -> int:
        return len(self.rows)


def review_rows(actions: Sequence[Action], flt: ReviewFilter, outcomes: Mapping[str, Outcome] | None = None,
                grouped: bool = True, index: SearchIndex | None = None,
                runs: Sequence[Run] | None = None, holds: Mapping[str, str] | None = None) -> ReviewRows:
    """The filtered actions in plan order, with a header row before each entity/kind run.

    Plans keep their actions sorted by entity and kind (plan.sort_key), so runs are contiguous;
    `runs` (PlanTally.runs) says where they are without reading the actions, when all are shown.
    With a SearchIndex of `actions`, a search looks only at the actions whose text matches.
    `holds`: what a run would hold (ReviewFilter.matches).
    """
    outcomes = outcomes or {}
    positions: Sequence[int] = range(len(actions))
    if index is not None and flt.search:
        positions = index.hits(flt.search)
        flt = replace(flt, search="")
    if not flt.is_empty:
        positions = [p for p in positions if flt.matches(actions[p], outcomes.get(actions[p].id), holds)]
    if not grouped:
        return ReviewRows(list(positions), [], len(positions))
    rows: list[int] = []
    groups: list[Group] = []
    if isinstance(positions, range):
        # Everything shown: group the plan itself, with C-level iteration (100,000 rows in ~20 ms).
        if runs is None:
            runs = [(*key, len(list(run))) for key, run in groupby(actions, key=attrgetter("entity", "kind"))]
        start = 0
        for entity, kind, count in runs:
            groups.append(Group(entity, kind, count))
            rows.append(-len(groups))
            rows.extend(range(start, start + count))
            start += count
    else:
        for (entity, kind), run in groupby(positions, key=lambda p: (actions[p].entity, actions[p].kind)):
            members = list(run)
            groups.append(Group(entity, kind, len(members)))
            rows.append(-len(groups))
            rows.extend(members)
    return ReviewRows(rows, groups, len(positions))


def choices(runs: Iterable[Run]) -> dict[str, list[str]]:
    """The entities and kinds present in a plan (its PlanTally.runs), for the filter pickers."""
    runs = list(runs)
    return {
        "entity": sorted({entity for entity, _, _ in runs}),
        "kind": sorted({kind for _, kind, _ in runs}, key=lambda k: KIND_ORDER.get(k, 99)),
        "target": list(TARGET_CHOICES),
        "show": list(SHOW_CHOICES),
    }


# Actions that count alike: (entity, kind, undecided conflict, the last outcome's status or "").
CountKey = tuple[str, str, bool, str]
# A run of actions of one entity and kind, in plan order: (entity, kind, how many).
Run = tuple[str, str, int]


# -- what an apply writes ----------------------------------------------------------------------


@dataclass
class ApplySummary:
    """Exactly what applying a plan now would do, counted the way apply folds it.

    `records[side][op]` counts remote records written (one write per record: an update and a
    decided conflict on the same record are one write, as engine.apply builds them); `actions`
    counts the executable actions behind those writes; `held` says why the rest will not run.
    """

    records: dict[str, dict[str, int]] = field(default_factory=lambda: {"quickbooks": {}, "precoro": {}})
    links: int = 0
    unlinks: int = 0
    actions: int = 0
    held: dict[str, int] = field(default_factory=dict)

    def writes(self, side: str) -> int:
        return sum(self.records[side].values())

    @property
    def total_writes(self) -> int:
        return self.writes("quickbooks") + self.writes("precoro")

    @property
    def nothing_to_do(self) -> bool:
        return self.actions == 0


def _hold_reason(kind: str, decision: str | None, approved: bool) -> str:
    """Why an action apply would not carry out now is held (one that could be is waiting for another)."""
    if kind == "ambiguous":
        return "ambiguous"
    if kind == "blocked":
        return "blocked"
    if kind == "conflict" and decision is None:
        return "undecided conflict"
    if kind == "conflict" and decision == "skip":
        return "skipped conflict"
    if not approved:
        return "not approved"
    return "waiting for another action"


# What counting a plan reads of each action, all at once (C-level: a large plan has 260,000 of them);
# a saved plan's listed columns give the same (StoredActions.facts).
Facts = tuple  # (id, entity, kind, target, precoro_id, quickbooks_id, depends_on, decision, approved)
FACTS = attrgetter("id", "entity", "kind", "target", "precoro_id", "quickbooks_id", "depends_on", "decision",
                   "approved")


def apply_summary(actions: Sequence[Action], only: Iterable[str] | None = None) -> ApplySummary:
    """Count what apply would write for `actions` (or only the actions whose ids are in `only`)."""
    return _summary(list(map(FACTS, actions)), set(only) if only is not None else None)


def _summary(facts: list[Facts], wanted: set[str] | None) -> ApplySummary:
    """Writes are folded into one per remote record by the same key (`writes.unit_key`) apply folds
    them by; an update that also (de)activates the record counts as the (de)activation. The TUI
    counts the plan again after decisions, so the per-action work is kept to a few look-ups."""
    ready = _ready(facts)
    summary = ApplySummary()
    held: Counter[str] = Counter()
    records: dict[str, tuple[str, str]] = {}  # unit key -> (side, what it does)
    for aid, entity, kind, target, precoro_id, quickbooks_id, depends_on, decision, approved in facts:
        if wanted is not None and aid not in wanted:
            continue
        if aid not in ready or depends_on and not ready.issuperset(depends_on):
            held[_hold_reason(kind, decision, approved)] += 1
            continue
        summary.actions += 1
        if kind == "link":
            summary.links += 1
        elif kind == "unlink":
            summary.unlinks += 1
        else:
            side = write_target(kind, target, decision)
            what = kind if kind in ("create", "deactivate", "reactivate") else "update"
            key = unit_key_of(side, entity, kind, precoro_id, quickbooks_id)
            if records.get(key, (side, "update"))[1] == "update":
                records[key] = (side, what)
    summary.held = dict(held)
    for side, what in records.values():
        summary.records[side][what] = summary.records[side].get(what, 0) + 1
    return summary


# An open plan older than this says so where it is shown: what changed since is not in it.
OLD_PLAN_SECONDS = 3600


def plan_age_said(latest: Mapping[str, Any] | None) -> str | None:
    """Of `status()["latest_plan"]`: that an open plan is old, and what to do, else None."""
    if not latest or latest.get("state") != "open" or (latest.get("age_seconds") or 0) < OLD_PLAN_SECONDS:
        return None
    return (f"made {duration(latest['age_seconds'])} ago: what changed since is not in it; a new plan "
            "reads it and keeps this one's decisions")


def newer_plan_said(newer_id: str) -> str:
    """Beside a plan about to be applied when another terminal or an unattended run made a later one."""
    return (f"a newer plan, {newer_id}, was made since this one; once this one is applied, that one can no "
            "longer be applied (W6)")


def _ready(facts: list[Facts]) -> set[str]:
    """The actions an apply may run: approved, and decided where they must be."""
    return {aid for aid, _, kind, _, _, _, _, decision, approved in facts if is_executable(kind, decision, approved)}


def approvals_digest(actions: Iterable[Action]) -> str:
    """What an apply of these actions would run, as one word: how many actions, and a digest of
    their ids and decisions in plan order. Taken when an operator confirms an apply and checked
    again under the writer's lock (SyncSession.apply): approvals another terminal or an unattended
    run changed in between are then not applied unseen (W1)."""
    facts = list(map(FACTS, actions))
    ready = _ready(facts)
    runs = [f"{aid}={decision or ''}" for aid, _, _, _, _, _, depends_on, decision, _ in facts
            if aid in ready and (not depends_on or ready.issuperset(depends_on))]
    return f"{len(runs)}:{hashlib.sha256(';'.join(runs).encode()).hexdigest()[:32]}"


def confirmed_count(digest: str) -> int:
    """How many actions an approvals_digest stands for."""
    return int(digest.split(":", 1)[0])


@dataclass
class PlanTally:
    """What a plan's list and counts are made from, counted in one pass over its actions: what
    applying it would write, the conflicts to decide, its runs of entity and kind, and its
    action_groups (with what an apply did, when counted with its outcomes). Saved with the plan
    before any apply (Plan.tally), so that opening a large plan shows all of this without reading
    its 260,000 actions; counted again after decisions and applies."""

    summary: ApplySummary
    undecided: int
    runs: list[Run]
    groups: dict[CountKey, int]

    @property
    def applied(self) -> int:
        """How many of its actions an apply carried out (counted with its outcomes)."""
        return sum(n for (_, _, _, status), n in self.groups.items() if status == "applied")

    def to_json(self) -> dict[str, Any]:
        s = self.summary
        return {"summary": {"records": s.records, "links": s.links, "unlinks": s.unlinks, "actions": s.actions,
                            "held": s.held},
                "undecided": self.undecided, "runs": [list(run) for run in self.runs],
                "groups": [[*key, n] for key, n in self.groups.items()]}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "PlanTally":
        return cls(ApplySummary(**data["summary"]), data["undecided"], [tuple(run) for run in data["runs"]],
                   {(entity, kind, undecided, status): n for entity, kind, undecided, status, n in data["groups"]})


def plan_tally(facts: Iterable[Facts], outcomes: Mapping[str, Outcome] | None = None) -> PlanTally:
    """The PlanTally of actions given by their FACTS, in plan order; its groups with what an apply
    did with them (`outcomes`, as action_groups), if anything."""
    facts = list(facts)
    groups = _groups(facts, outcomes)
    runs = [(entity, kind, len(list(run))) for (entity, kind), run in groupby(facts, key=itemgetter(1, 2))]
    undecided = sum(n for (_, _, undecided, _), n in groups.items() if undecided)
    return PlanTally(_summary(facts, None), undecided, runs, dict(groups))


def tally_of(actions: Iterable[Action], outcomes: Mapping[str, Outcome] | None = None) -> PlanTally:
    return plan_tally(map(FACTS, actions), outcomes)


# -- counts for the overview --------------------------------------------------------------------


@dataclass
class EntityCounts:
    """One entity's line on the overview."""

    entity: str
    linked: int | None = None  # from the store; None when not known
    unlinked: int = 0  # records on one side only: to create, ambiguous or blocked
    pending: int = 0  # executable or waiting actions of the latest plan
    conflicts: int = 0
    undecided: int = 0
    attention: int = 0
    errors: int = 0


def action_groups(plan: Plan | None, outcomes: Mapping[str, Outcome] | None = None) -> dict[CountKey, int]:
    """How many actions of a plan fall in each group (what the counts are made from)."""
    return dict(_groups(map(FACTS, plan.actions) if plan else (), outcomes))


def _groups(facts: Iterable[Facts], outcomes: Mapping[str, Outcome] | None) -> Counter[CountKey]:
    """action_groups of actions given by their FACTS."""
    if not outcomes:
        return Counter((entity, kind, kind == "conflict" and decision is None, "")
                       for _, entity, kind, *_, decision, _ in facts)
    return Counter((entity, kind, kind == "conflict" and decision is None, outcome.status if outcome else "")
                   for aid, entity, kind, *_, decision, _ in facts for outcome in (outcomes.get(aid),))


def entity_counts(plan: Plan | None, outcomes: Mapping[str, Outcome] | None = None,
                  linked: Mapping[str, int] | None = None, entities: Iterable[str] = (),
                  groups: Mapping[CountKey, int] | None = None) -> list[EntityCounts]:
    """Per entity: linked (given), unlinked, pending actions, conflicts and errors of the plan.

    From the plan's actions, or from `groups` already counted (the store counts a saved plan's in SQL)."""
    linked = linked or {}
    table: dict[str, EntityCounts] = {entity: EntityCounts(entity, linked.get(entity)) for entity in entities}
    for (entity, kind, undecided, status), n in (groups if groups is not None else action_groups(plan, outcomes)).items():
        counts = table.get(entity)
        if counts is None:
            counts = table[entity] = EntityCounts(entity, linked.get(entity))
        done = status == "applied"
        failed = status in ERROR_OUTCOMES
        if kind in ("create", "ambiguous", "blocked") and not done:
            counts.unlinked += n
        if not done and kind != "blocked":
            counts.pending += n
        if kind == "conflict":
            counts.conflicts += n
            counts.undecided += n if undecided else 0
        if undecided or kind in WAIT_FOR_DATA or failed:  # needs_attention
            counts.attention += n
        if kind == "blocked" or failed:  # is_error
            counts.errors += n
    return list(table.values())


def result_counts(outcomes: Iterable[Outcome]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for outcome in outcomes:
        counts[outcome.status] = counts.get(outcome.status, 0) + 1
    return counts


# -- decisions ----------------------------------------------------------------------------------------


def approval_after(decision: str, approved: bool) -> bool:
    """Taking a side of a conflict also approves it (the operator just said what to write);
    skipping leaves the approval as it was."""
    return True if decision in ("precoro", "quickbooks") else approved


# -- decisions across plans ---------------------------------------------------------------------


def carried_decisions(previous: Iterable[Action], new: Iterable[Action]) -> list[tuple[str, str | None, bool]]:
    """(action id, decision, approved) of `new` actions that should keep what `previous` said.

    An action keeps the operator's decision and approval when the same action (same id) proposes the
    same changes; anything else is new information and starts undecided. What the previous plan
    itself left unapproved (`unapproved_why`: W9, D9) is no one's word: the new plan says it anew.
    """
    old = {a.id: a for a in previous}
    carried = []
    for action in new:
        before = old.get(action.id)
        if before is None or (before.decision, before.approved) == (action.decision, action.approved):
            continue
        if before.changes == action.changes:
            planned = not before.approved and before.unapproved_why is not None
            approved = action.approved if planned else before.approved
            if (before.decision, approved) != (action.decision, action.approved):
                carried.append((action.id, before.decision, approved))
    return carried


# -- rules problems ------------------------------------------------------------------------------


def source_line(text: str, line: int) -> str | None:
    """Line `line` (1-based) of `text`, or None when the file has no such line."""
    lines = text.splitlines()
    return lines[line - 1] if 1 <= line <= len(lines) else None
