"""Plans: the proposed actions of one sync, in a stable order, with a content hash (W1)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any, Literal

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
EXECUTABLE = frozenset({"create", "update", "deactivate", "reactivate", "link", "unlink", "conflict"})
# The order actions are listed and applied in: links before the writes that depend on them.
KIND_ORDER = {k: i for i, k in enumerate(
    ["link", "unlink", "create", "update", "conflict", "deactivate", "reactivate", "ambiguous", "blocked"]
)}


@dataclass
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


@dataclass
class Action:
    """One proposed change. `versions` are the remote versions it was computed against (W2)."""

    id: str
    entity: str  # "supplier", "item"
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
    extra: dict[str, Any] = field(default_factory=dict)  # entity-specific data the writer needs
    decision: str | None = None  # conflicts: "precoro" | "quickbooks" | "skip"
    approved: bool = True

    @property
    def needs_decision(self) -> bool:
        return self.kind == "conflict" and self.decision is None

    @property
    def write_target(self) -> str | None:
        """The side this action writes to when applied (a decided conflict writes the losing side)."""
        if self.kind == "conflict":
            return {"precoro": "quickbooks", "quickbooks": "precoro"}.get(self.decision or "")
        return self.target if self.kind in ("create", "update", "deactivate", "reactivate") else None

    @property
    def executable(self) -> bool:
        """Whether apply would carry it out now."""
        if not self.approved or self.kind not in EXECUTABLE:
            return False
        if self.kind == "conflict":
            return self.decision in ("precoro", "quickbooks")
        return True

    def to_json(self) -> dict[str, Any]:
        # By hand rather than dataclasses.asdict: plans of 100,000+ actions are saved and hashed,
        # and asdict's recursive deep copy was most of that time.
        data = dict(self.__dict__)
        data["changes"] = [dict(c.__dict__) for c in self.changes]
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "Action":
        data = dict(data)
        data["changes"] = [FieldChange(**c) for c in data.get("changes", [])]
        return cls(**data)


def action_id(entity: str, kind: str, target: str | None, precoro_id: str | None, quickbooks_id: str | None) -> str:
    """A short id that stays the same when the same action is planned again."""
    key = "|".join(str(part) for part in (entity, kind, target, precoro_id, quickbooks_id))
    return hashlib.sha1(key.encode()).hexdigest()[:10]


# Entities in the order they depend on each other: lists, suppliers, items, documents.
ENTITY_ORDER = {e: i for i, e in enumerate(
    ["account", "class", "location", "tax", "term", "supplier", "item", "invoice", "purchase_order"])}


def sort_key(action: Action) -> tuple:
    return (ENTITY_ORDER.get(action.entity, 99), action.entity, KIND_ORDER.get(action.kind, 99), action.name.casefold(), action.precoro_id or "", action.quickbooks_id or "", action.id)


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
    base_serial: int = 0  # the state's apply serial when the plan was made (W6), set when it is saved

    def __post_init__(self) -> None:
        self.actions.sort(key=sort_key)
        if not self.id:
            self.id = self.content_hash()[:12]

    def content_hash(self) -> str:
        """A digest of what the plan is about: every action id (made of its kind, target and both
        records) with the versions it was computed against, so another state gives another id."""
        digest = hashlib.sha256(f"{self.realm_id}|{self.rules_digest}|{self.created_at}".encode())
        for action in self.actions:
            versions = action.versions
            digest.update(f"|{action.id}:{versions.get('precoro', '')}:{versions.get('quickbooks', '')}".encode())
        return digest.hexdigest()

    def action(self, action_id: str) -> Action:
        for action in self.actions:
            if action.id == action_id or action.id.startswith(action_id) and len(action_id) >= 4:
                return action
        raise KeyError(action_id)

    @property
    def is_empty(self) -> bool:
        return not self.actions

    def summary(self) -> dict[str, Any]:
        by_kind: dict[str, int] = {}
        for action in self.actions:
            by_kind[action.kind] = by_kind.get(action.kind, 0) + 1
        writes = {"quickbooks": 0, "precoro": 0}
        for action in self.actions:
            if action.executable and action.write_target in writes:
                writes[action.write_target] += 1
        return {
            "actions": len(self.actions),
            "by_kind": dict(sorted(by_kind.items(), key=lambda kv: KIND_ORDER.get(kv[0], 99))),
            "undecided_conflicts": sum(1 for a in self.actions if a.needs_decision),
            "writes": writes,
        }

    def to_json(self) -> dict[str, Any]:
        return {
            "plan_id": self.id,
            "realm_id": self.realm_id,
            "created_at": self.created_at,
            "rules_digest": self.rules_digest,
            "entities": list(self.entities),
            "purpose": self.purpose,
            "base_serial": self.base_serial,
            "actions": [a.to_json() for a in self.actions],
            "summary": self.summary(),
        }
