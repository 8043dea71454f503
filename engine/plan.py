"""Plans: the proposed actions of one sync, in a stable order, with a content hash (W1)."""

from __future__ import annotations

import copy
import hashlib
import sys
from collections.abc import Mapping
from dataclasses import MISSING, dataclass, field, fields
from functools import cache
from operator import attrgetter
from typing import Any, Callable, Iterable, Iterator, Literal, Sequence

from . import bulk

Kind = Literal[
    "create",  # a new record on `target`
    "update",  # field changes on `target`
    "deactivate",  # make the `target` record inactive (S5)
    "reactivate",  # make the `target` record active again
    "link",  # remember that two existing records are one (S7, I1); no remote write
    "unlink",  # forget a link (S4, I8, I9, manual unmap); no remote write
    "conflict",  # both sides changed a field differently: the operator (or a decision) picks a side (S2)
    "ambiguous",  # several candidates match: the operator picks one (S7)
    "blocked",  # the record cannot be synced as it is; `note` says why
]
Decision = Literal["precoro", "quickbooks", "skip"]

# Kinds that change something when applied (the rest wait for the operator).
# A split-cost part's change naming the whole invoice's total (D8), which the policy goes by (U2).
WHOLE_TOTAL = "split invoice total"
EXECUTABLE = frozenset({"create", "update", "deactivate", "reactivate", "link", "unlink", "conflict"})
# The order actions are listed and applied in: links before the writes that depend on them.
KIND_ORDER = {k: i for i, k in enumerate(
    ["link", "unlink", "create", "update", "conflict", "deactivate", "reactivate", "ambiguous", "blocked"]
)}


def _as_dict(obj: Any) -> dict[str, Any]:
    """A slotted dataclass's fields, shallow (what `__dict__` was before the classes had slots:
    several hundred thousand actions take half the memory with slots)."""
    return {name: getattr(obj, name) for name in obj.__slots__}


# An action's fields the state file keeps in columns of their own (the plan's list reads only those).
LISTED = frozenset({"id", "entity", "kind", "target", "name", "precoro_id", "quickbooks_id", "depends_on",
                    "decision", "approved"})
_REQUIRED = object()


@cache
def _defaults(cls: type) -> dict[str, Any]:
    return {f.name: f.default if f.default is not MISSING
            else f.default_factory() if f.default_factory is not MISSING else _REQUIRED for f in fields(cls)}


@cache
def _kept_fields(cls: type, leave_out: frozenset[str]) -> tuple[tuple[str, ...], Callable[[Any], tuple], tuple]:
    """The fields _set_fields looks at, a getter of all their values at once, and their defaults."""
    names = tuple(name for name in cls.__slots__ if name not in leave_out)
    defaults = _defaults(cls)
    # attrgetter of one name gives that value, not a tuple of it (and of none, no getter at all).
    values_of = attrgetter(*names) if len(names) > 1 else lambda obj: tuple(getattr(obj, name) for name in names)
    return names, values_of, tuple(defaults[name] for name in names)


def _set_fields(obj: Any, leave_out: frozenset[str] = frozenset()) -> dict[str, Any]:
    """A slotted dataclass's fields that differ from their defaults, shallow: what is stored of it
    (a first plan stores a few hundred thousand actions, most fields of most of them at their
    defaults). Built again with the missing ones at their defaults, it is the same object."""
    names, values_of, defaults = _kept_fields(type(obj), leave_out)
    return {name: value for name, value, default in zip(names, values_of(obj), defaults)
            if not (default is value or type(value) is type(default) and value == default)}


@dataclass(slots=True)
class FieldChange:
    """One field of one action.

    For writes, `before` is the target's current value and `after` what will be written there.
    `precoro`, `quickbooks` and `baseline` show the three values the decision was made from, so a
    reviewer sees where the value came from. `note` flags a cut (I3) or another adjustment.
    """

    field: str
    before: Any = None
    after: Any = None
    precoro: Any = None
    quickbooks: Any = None
    baseline: Any = None
    note: str | None = None

    def to_json(self) -> dict[str, Any]:
        return _as_dict(self)

    def stored(self) -> dict[str, Any]:
        """The fields set (_set_fields by hand, every default being None): a first plan stores over
        a million of these, and the generic way took four times as long."""
        data: dict[str, Any] = {"field": self.field}
        if self.before is not None:
            data["before"] = self.before
        if self.after is not None:
            data["after"] = self.after
        if self.precoro is not None:
            data["precoro"] = self.precoro
        if self.quickbooks is not None:
            data["quickbooks"] = self.quickbooks
        if self.baseline is not None:
            data["baseline"] = self.baseline
        if self.note is not None:
            data["note"] = self.note
        return data


@dataclass(slots=True)
class Write:
    """The exact request an applied action sends, built when the plan was made: apply sends it as it
    is and never reads the rules (a plan under other rules is refused whole).

    `values` maps wire paths to wire values (`BillAddr.City`, `supplier.id`, `Line`); a value
    `{"$created": <action id>}` stands for the id of a record that action creates in this plan,
    filled in at apply once it exists. QuickBooks replaces a nested object as a whole, so `base`
    holds the current ones the paths live in, sent whole with the changed paths set.
    """

    side: str  # "quickbooks" | "precoro"
    op: str  # "create" | "update"
    collection: str  # the QuickBooks entity ("Vendor") or the Precoro collection ("/suppliers")
    record_id: str | None = None  # the record written (None for a create)
    version: str | None = None  # what the record must still be at: SyncToken, updateDate (W2)
    values: dict[str, Any] = field(default_factory=dict)
    base: dict[str, Any] = field(default_factory=dict)
    lists: dict[str, list] = field(default_factory=dict)  # Precoro sub-resources: "contacts[].email" -> [...]
    active: bool | None = None  # made active (True) or inactive (False)

    def to_json(self) -> dict[str, Any]:
        return _as_dict(self)


class SideValues(Mapping):
    """One field's value on each side, as the mapping {side: value}, in two slots: what a link
    remembers both sides agreed on. A first plan holds one for every field of every new link (at
    100,000 suppliers, 60,000 links of a dozen fields each), and a dict of two keys is four times
    the size. Stored and sent as a dict (bulk's JSON turns any mapping into one)."""

    __slots__ = ("precoro", "quickbooks")

    def __init__(self, precoro: Any, quickbooks: Any) -> None:
        self.precoro, self.quickbooks = precoro, quickbooks

    def __getitem__(self, side: str) -> Any:
        if side == "precoro":
            return self.precoro
        if side == "quickbooks":
            return self.quickbooks
        raise KeyError(side)

    def __iter__(self) -> Iterator[str]:
        return iter(("precoro", "quickbooks"))

    def __len__(self) -> int:
        return 2

    def __repr__(self) -> str:
        return repr(dict(self))


@dataclass(slots=True)
class LinkFacts:
    """What a link action stores: how it came about, and what both sides already agree on."""

    how: str = "matched"  # matched | manual | merged | reactivated | origin
    baseline: dict[str, Mapping[str, Any]] = field(default_factory=dict)  # field -> {side: value} (or SideValues)
    active: dict[str, bool] = field(default_factory=dict)  # side -> active

    def to_json(self) -> dict[str, Any]:
        data = _as_dict(self)
        data["baseline"] = {name: dict(sides) for name, sides in self.baseline.items()}
        return data

    def stored(self) -> dict[str, Any]:
        """As a saved plan keeps it: a field whose two sides hold one value (most fields of a new
        link) as [value], not {side: value} (a first plan's links were two thirds of its pages)."""
        data = _set_fields(self)
        if self.baseline:
            data["baseline"] = {name: _stored_sides(sides) for name, sides in self.baseline.items()}
        return data

    @classmethod
    def from_stored(cls, data: dict[str, Any]) -> "LinkFacts":
        data = dict(data)
        if "baseline" in data:
            data["baseline"] = {name: {"precoro": value[0], "quickbooks": copy.copy(value[0])} if isinstance(value, list)
                                else value for name, value in data["baseline"].items()}
        return cls(**data)


def _stored_sides(sides: Mapping[str, Any]) -> Any:
    """[value] when both sides hold one value, else {side: value}."""
    if type(sides) is SideValues:  # most of a first plan's: read as slots, not through the Mapping
        precoro, quickbooks = sides.precoro, sides.quickbooks
        same = type(precoro) is type(quickbooks) and precoro == quickbooks
        return [precoro] if same else {"precoro": precoro, "quickbooks": quickbooks}
    return [sides["precoro"]] if _same_on_both(sides) else dict(sides)


def _same_on_both(sides: Mapping[str, Any]) -> bool:
    """Both sides' values are one value (1 and True are equal, yet not the same value)."""
    if len(sides) != 2 or "precoro" not in sides or "quickbooks" not in sides:
        return False
    precoro, quickbooks = sides["precoro"], sides["quickbooks"]
    return type(precoro) is type(quickbooks) and precoro == quickbooks


@dataclass(slots=True)
class FollowUp:
    """What applying a document's create also leaves to do or to remember, with its link (D8)."""

    attachments: list[dict[str, Any]] = field(default_factory=list)  # the files to send after it (engine/attachments.py)
    split_parent: str | None = None  # the split-cost invoice it is a part of (Precoro idn)


@dataclass(slots=True)
class HoldFacts:
    """An unlink that keeps the surviving record from being recreated (or re-matched) on its own."""

    reason: str  # quickbooks_inactive | unmapped | quickbooks_deleted | precoro_deleted
    side: str = "precoro"  # the side of the record held back
    other_id: str | None = None  # the record it was linked to (not matched to it again when `unmapped`)


class Decidable:
    """What an action is, from its kind, decision and approval alone: shared by the full Action and
    the light one a large plan is listed with."""

    __slots__ = ()
    kind: str
    target: str | None
    decision: str | None
    approved: bool
    alternatives: dict
    write: Any

    @property
    def needs_decision(self) -> bool:
        return self.kind == "conflict" and self.decision is None

    @property
    def write_target(self) -> str | None:
        """The side this action writes to when applied (a decided conflict writes the losing side)."""
        return write_target(self.kind, self.target, self.decision)

    @property
    def chosen_write(self) -> "Write | None":
        """What applying it now would send: its write, or the decided conflict's."""
        if self.kind == "conflict":
            return self.alternatives.get(self.decision or "")
        return self.write

    @property
    def executable(self) -> bool:
        """Whether apply would carry it out now."""
        return is_executable(self.kind, self.decision, self.approved)

    def drop_details(self) -> None:
        """Let go of what was read of it beyond its listed columns (nothing, for a whole action)."""


def write_target(kind: str, target: str | None, decision: str | None) -> str | None:
    """The side an action of this kind, target and decision writes to when applied."""
    if kind == "conflict":
        return {"precoro": "quickbooks", "quickbooks": "precoro"}.get(decision or "")
    return target if kind in ("create", "update", "deactivate", "reactivate") else None


@cache
def is_executable(kind: str, decision: str | None, approved: bool) -> bool:
    """Whether apply would carry out an action of this kind, decision and approval now: a few
    combinations in any plan, so counting a large one asks this once for each, not per action."""
    if not approved or kind not in EXECUTABLE:
        return False
    if kind == "conflict":
        return decision in ("precoro", "quickbooks")
    return True


@dataclass(slots=True)
class Action(Decidable):
    """One proposed change. `versions` are the remote versions it was computed against (W2)."""

    id: str
    entity: str  # the entity's kind: "supplier", "item", "account", ...
    kind: str
    target: str | None  # "quickbooks", "precoro", or None for link bookkeeping
    name: str
    precoro_id: str | None = None
    quickbooks_id: str | None = None
    changes: list[FieldChange] = field(default_factory=list)
    note: str = ""
    versions: dict[str, str] = field(default_factory=dict)
    depends_on: list[str] = field(default_factory=list)
    candidates: list[dict[str, Any]] = field(default_factory=list)  # ambiguous: [{"quickbooks_id", "name"}]
    write: Write | None = None  # what applying it sends (create, update, deactivate, reactivate)
    alternatives: dict[str, Write] = field(default_factory=dict)  # a conflict: the write of each decision
    link: LinkFacts | None = None  # a link: what is stored with it
    hold: HoldFacts | None = None  # an unlink: the record held back, if any
    decision: str | None = None  # conflicts: "precoro" | "quickbooks" | "skip"
    approved: bool = True
    follow_up: FollowUp | None = None  # a document's create (D8)
    # Why the plan itself leaves it unapproved, for a person to look at first (W9: the same write
    # failed before; D9: a payment QuickBooks took back): not a person's skip.
    unapproved_why: str | None = None

    def to_json(self) -> dict[str, Any]:
        # By hand rather than dataclasses.asdict: plans of 100,000+ actions are saved and hashed,
        # and asdict's recursive deep copy was most of that time.
        data = _as_dict(self)
        data["changes"] = [c.to_json() for c in self.changes]
        data["write"] = self.write.to_json() if self.write else None
        data["alternatives"] = {k: w.to_json() for k, w in self.alternatives.items()}
        data["link"] = self.link.to_json() if self.link else None
        data["hold"] = _as_dict(self.hold) if self.hold else None
        data["follow_up"] = _as_dict(self.follow_up) if self.follow_up else None
        return data

    def stored(self) -> dict[str, Any]:
        """What the state file keeps of it beside its LISTED columns: the fields set, nested ones
        included (`from_json` of this and the columns gives the action back)."""
        data = _set_fields(self, LISTED)
        if self.changes:
            data["changes"] = [c.stored() for c in self.changes]
        if self.write:
            data["write"] = _set_fields(self.write)
        if self.alternatives:
            data["alternatives"] = {k: _set_fields(w) for k, w in self.alternatives.items()}
        if self.link:
            data["link"] = self.link.stored()
        for name in ("hold", "follow_up"):
            if name in data:
                data[name] = _set_fields(data[name])
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "Action":
        data = dict(data)
        data["changes"] = [FieldChange(**c) for c in data.get("changes", [])]
        data["write"] = Write(**data["write"]) if data.get("write") else None
        data["alternatives"] = {k: Write(**w) for k, w in (data.get("alternatives") or {}).items()}
        data["link"] = LinkFacts.from_stored(data["link"]) if data.get("link") is not None else None
        data["hold"] = HoldFacts(**data["hold"]) if data.get("hold") is not None else None
        data["follow_up"] = FollowUp(**data["follow_up"]) if data.get("follow_up") is not None else None
        return cls(**data)


class ActionGone(LookupError):
    """A listed action the state file no longer holds: its plan was let go since it was listed."""


class ListedAction(Decidable):
    """An action of a large plan as its list sees it; the rest (changes, note, requests) is read
    from the state file when first asked for, for the few rows on screen and the one looked at."""

    __slots__ = ("id", "entity", "kind", "target", "name", "precoro_id", "quickbooks_id", "decision", "approved",
                 "depends_on", "_load", "_full")

    def __init__(self, id: str, entity: str, kind: str, target: str | None, name: str, precoro_id: str | None,
                 quickbooks_id: str | None, depends_on: str | None, decision: str | None, approved: int,
                 load: "Callable[[str], Action]") -> None:
        """As the state file holds it (its LISTED_COLUMNS, in their order): `depends_on` a JSON list
        (or None), `approved` 0 or 1."""
        # A few words, repeated in every row: sqlite gives each row its own copy of them.
        self.entity, self.kind = sys.intern(entity), sys.intern(kind)
        self.target = sys.intern(target) if target is not None else None
        self.id, self.name = id, name
        self.precoro_id, self.quickbooks_id, self.decision = precoro_id, quickbooks_id, decision
        self.approved = bool(approved)
        # Decoded now, not when first asked for: counting a plan asks it of every action, and an
        # attribute is read several times faster than a property that decodes.
        self.depends_on: Sequence[str] = bulk.loads(depends_on) if depends_on else ()
        self._load = load
        self._full: Action | None = None

    def full(self) -> "Action":
        """The whole action, read once; its decision and approval are this one's (they may change).
        A plan let go meanwhile (another terminal's apply superseded it) gives what the list knew."""
        if self._full is None:
            try:
                self._full = self._load(self.id)
            except ActionGone:
                self._full = Action(self.id, self.entity, self.kind, self.target, self.name, self.precoro_id,
                                    self.quickbooks_id, depends_on=list(self.depends_on),
                                    note="this plan was let go: another plan was applied since it was made. Plan again")
        self._full.decision, self._full.approved = self.decision, self.approved
        return self._full

    def drop_details(self) -> None:
        """Let go of the whole action read for it: it is read again if asked for. An apply does this
        once an action's outcome is recorded, so that it holds a large plan's details only while
        it works on them."""
        self._full = None

    def __getattr__(self, name: str) -> Any:  # changes, note, candidates, versions, write, ...
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self.full(), name)


def short_name(name: str) -> str:
    """A record's name cut to 60 characters for a line of a list (a Precoro name may be 255)."""
    return name if len(name) <= 60 else name[:59] + "…"


def action_id(entity: str, kind: str, target: str | None, precoro_id: str | None, quickbooks_id: str | None) -> str:
    """A short id that stays the same when the same action is planned again."""
    return hashlib.sha1(f"{entity}|{kind}|{target}|{precoro_id}|{quickbooks_id}".encode()).hexdigest()[:10]


def plan_digest(realm_id: str, rules_digest: str, created_at: str) -> "hashlib._Hash":
    """The start of a plan's content hash (its id), which add_to_digest takes each action into, in
    plan order: every action id (made of its kind, target and both records) with the versions it
    was computed against, so another state gives another id. Built as the plan is made, entity by
    entity, or at once (Plan.content_hash)."""
    return hashlib.sha256(f"{realm_id}|{rules_digest}|{created_at}".encode())


def add_to_digest(digest: "hashlib._Hash", action: Action) -> None:
    versions = action.versions
    digest.update(f"|{action.id}:{versions.get('precoro', '')}:{versions.get('quickbooks', '')}".encode())


@dataclass
class Plan:
    """A saved dry run. `id` is derived from the content and the time it was made.

    The time is part of it so that a later plan with the same content never inherits the apply
    journal of an earlier one (a journal entry says "done, do not send again").
    """

    actions: list[Action]
    realm_id: str
    rules_digest: str
    created_at: str
    entities: tuple[str, ...] = ()
    id: str = ""
    purpose: str = "sync"  # "sync" (qbsync plan) or "mapping" (a manual map/unmap)
    # "full" (every entity the rules turn on), or the entities of a partial plan ("items"): only a
    # full sync plan is the latest plan that a bare apply, decide or the TUI takes.
    scope: str = "full"
    base_serial: int = 0  # the state's apply serial when the plan was made (W6), set when it is saved
    mirror_mark: int = 0  # how far the mirror of both companies had changed (W11), set when it is saved
    # How apply reads a written record back into canonical values, per section: field -> paths and
    # transform, as the rules said when the plan was made (apply never reads the rules).
    readback: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    # What the plan has to say beside its actions: what it left out on purpose, and why (D4).
    notes: list[str] = field(default_factory=list)
    # Not saved: this is an earlier plan, returned again because nothing changed since it was made (W11).
    unchanged: bool = field(default=False, compare=False)
    # review.PlanTally of its actions as saved (JSON), when known: a large plan is shown with its
    # counts without reading every action. None after a decision or approval changed them.
    tally: dict[str, Any] | None = field(default=None, compare=False)
    # How many times its decisions or approvals were changed since it was saved (a tally counted
    # at one of these is kept for it).
    decided: int = field(default=0, compare=False)

    def __post_init__(self) -> None:
        if not self.id:
            self.id = self.content_hash()[:12]

    def content_hash(self) -> str:
        digest = plan_digest(self.realm_id, self.rules_digest, self.created_at)
        for action in self.actions:
            add_to_digest(digest, action)
        return digest.hexdigest()

    def action(self, action_id: str) -> Action:
        for action in self.actions:
            if action.id == action_id or action.id.startswith(action_id) and len(action_id) >= 4:
                return action
        raise KeyError(action_id)

    @property
    def partial(self) -> bool:
        """A sync plan of some entities only (`plan --only`): named by its id, never the latest."""
        return self.purpose == "sync" and self.scope != "full"

    @property
    def is_empty(self) -> bool:
        return not self.actions

    def kinds(self) -> tuple[dict[str, int], int]:
        """How many actions of each kind (in KIND_ORDER), and the conflicts waiting for a decision:
        from its tally when it has one (a large plan's, without reading its actions)."""
        by_kind: dict[str, int] = {}
        if self.tally is not None:
            for _, kind, count in self.tally["runs"]:
                by_kind[kind] = by_kind.get(kind, 0) + count
            undecided = self.tally["undecided"]
        else:
            for action in self.actions:
                by_kind[action.kind] = by_kind.get(action.kind, 0) + 1
            undecided = sum(1 for a in self.actions if a.needs_decision)
        return dict(sorted(by_kind.items(), key=lambda kv: KIND_ORDER.get(kv[0], 99))), undecided

    def summary(self) -> dict[str, Any]:
        by_kind, undecided = self.kinds()
        writes = {"quickbooks": 0, "precoro": 0}
        for action in self.actions:
            if action.executable and action.write_target in writes:
                writes[action.write_target] += 1
        return {"actions": len(self.actions), "by_kind": by_kind, "undecided_conflicts": undecided, "writes": writes}

    def to_json(self, actions: Iterable[Action] | None = None) -> dict[str, Any]:
        """The plan as JSON, with its actions or those given (`qbsync show --kind ...`)."""
        return {
            "plan_id": self.id,
            "realm_id": self.realm_id,
            "created_at": self.created_at,
            "rules_digest": self.rules_digest,
            "entities": list(self.entities),
            "purpose": self.purpose,
            "scope": self.scope,
            "base_serial": self.base_serial,
            "unchanged": self.unchanged,
            "readback": self.readback,
            "notes": self.notes,
            "actions": [a.to_json() for a in (self.actions if actions is None else actions)],
            "summary": self.summary(),
        }
