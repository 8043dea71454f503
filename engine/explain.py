"""What qbsync knows of one record and does with it, in one place: `qbsync explain`.

The answer to an operator's "why did (or didn't) this supplier sync?": the record on each side as
the last plan read it, its link and the values last synced, what keeps it from being created again,
what the latest plan proposes for it and what an apply made of that, what an unattended run would
do with it, and its history. All of it comes from the state file and the rules: nothing is sent to
either service, so the values are those of the last read, and the answer says when that was.
"""

from __future__ import annotations

import re
from copy import copy
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Mapping

from rules.model import SIDE_NAMES, SIDES, Rules, other_side

from . import bulk
from .entities import BY_SECTION, EntitySpec, spec_of
from .errors import QbsyncError, UsageError
from .plan import Action
from .policy import judge
from .reconcile import equivalent
from .references import REFERENCED_SECTION, References
from .store import Store
from .targets import name_key

_SIDE_PREFIX = re.compile(r"^(precoro|quickbooks):(.+)$", re.IGNORECASE)


class RecordNotFound(QbsyncError):
    """No record of that entity answers to the reference, or several do (the message lists them)."""


@dataclass(frozen=True)
class Subject:
    """The record asked about: its id on each side it is known on (a linked pair has both)."""

    precoro: str | None = None
    quickbooks: str | None = None

    @property
    def ids(self) -> dict[str, str | None]:
        return {"precoro": self.precoro, "quickbooks": self.quickbooks}


Read = Callable[[str, EntitySpec, str], Mapping[str, Any] | None]  # (side, spec, id) -> wire JSON, None: not found


def explain(store: Store, rules: Rules, realm: str, entity: str, ref: str, *, history: int,
            read: Read | None = None) -> dict[str, Any]:
    """Everything known of the record `ref` names (`precoro:ID`, `quickbooks:ID`, an id of either
    side, or a name) among `entity`'s (its section or kind), as one JSON-ready dict, with its
    `history` latest audit entries. `read`: the record's sides are read now through it (one request
    each), not taken from the copy the last plan read."""
    try:
        spec = spec_of(entity)
    except KeyError:
        raise UsageError(f"unknown entity {entity!r}; expected one of {', '.join(BY_SECTION)}") from None
    if read is not None and not live_readable(spec):
        raise UsageError(f"{spec.plural} are not read one by one (a plan reads them whole): explain them without --live")
    looker = _Looker(store, rules, realm, spec)
    subject = looker.resolve(ref.strip())
    return looker.explained(subject, history, read)


def live_readable(spec: EntitySpec) -> bool:
    """Whether one record of the entity can be read on its own on both sides (its own Precoro
    collection, not the options of a custom field)."""
    return spec.planned == "pairs" and spec.custom_field is None


class _Looker:
    """One explanation's reads of the state file, for one entity of one QuickBooks company."""

    def __init__(self, store: Store, rules: Rules, realm: str, spec: EntitySpec) -> None:
        self.store, self.rules, self.realm, self.spec = store, rules, realm, spec
        self.entity_rules = rules.entity(spec.section)
        self.paired = spec.planned == "pairs"
        refs = References.build(store.all_links(realm))
        self.readers = {side: spec.reader(self.entity_rules, side, refs) for side in SIDES} if self.paired else {}

    # -- which record -------------------------------------------------------------------------------

    def resolve(self, ref: str) -> Subject:
        if not ref:
            raise UsageError("name the record: its Precoro or QuickBooks id (precoro:ID, quickbooks:ID) or its name")
        prefixed = _SIDE_PREFIX.match(ref)
        if prefixed:
            return self._by_id(prefixed.group(1).lower(), prefixed.group(2).strip())
        found = [self._by_id(side, ref, quiet=True) for side in SIDES]
        found = list(dict.fromkeys(subject for subject in found if subject is not None))
        if len(found) == 1:
            return found[0]
        if len(found) > 1:
            raise RecordNotFound(f"{ref!r} is the id of {self._named(found)}: say which, as precoro:{ref} or "
                                 f"quickbooks:{ref}")
        return self._by_name(ref)

    def _by_id(self, side: str, record_id: str, *, quiet: bool = False) -> Subject | None:
        """The subject a record id of `side` stands for: the record and whatever it is linked to."""
        link = self.store.link_for(self.spec.section, self.realm, **{f"{side}_id": record_id})
        if link is not None:
            return Subject(link["precoro_id"], link["quickbooks_id"])
        alone = Subject(**{side: record_id})
        planned = self._planned(alone)[1]
        # Not linked yet, but the plan pairs it (a link it proposes, a conflict of a first match): that pair.
        others = {getattr(action, f"{other_side(side)}_id") for action in planned
                  if action.precoro_id and action.quickbooks_id and action.kind != "ambiguous"}
        if len(others) == 1:
            return Subject(**{side: record_id, other_side(side): others.pop()})
        known = (planned or self.store.mirror_raws(self.realm, side, self.spec.section, [record_id])
                 or self.store.holds_of(self.spec.section, self.realm, {side: record_id}))
        if known:
            return alone
        if quiet:
            return None
        raise RecordNotFound(f"no {SIDE_NAMES[side]} {self.spec.label} {record_id} in this state file ("
                             f"{self._read_said()}): look at its id, or run `qbsync plan` to read the companies again")

    def _by_name(self, name: str) -> Subject:
        wanted = name_key(name)
        # Its runs of letters and digits narrow the search in sqlite (a name's JSON may escape the
        # rest); the records found are then compared by their canonical name.
        words = re.findall(r"[A-Za-z0-9]+", name)
        matches: dict[str, list[tuple[str, str]]] = {}
        close: list[str] = []
        for side in SIDES:
            if not self.paired:
                continue
            for record_id, raw in self.store.mirror_containing(self.realm, side, self.spec.section, words):
                record = self.readers[side](bulk.loads(raw))
                label = str(record.values.get("name") or "")
                if name_key(label) == wanted:
                    matches.setdefault(side, []).append((record_id, label))
                elif wanted in name_key(label) and len(close) < 10:
                    close.append(f"{SIDE_NAMES[side]} {record_id} {label!r}")
        if not matches:  # what plans and applies named it (a document, which no mirror names)
            for label, precoro_id, quickbooks_id in self.store.records_named(
                    self.store.latest_plan_covering(self.spec.section), self.spec.kind, max(words, key=len, default="")):
                if wanted in (name_key(label), name_key(label).removeprefix(name_key(self.spec.label) + " ")):
                    side, record_id = ("precoro", precoro_id) if precoro_id else ("quickbooks", quickbooks_id)
                    matches.setdefault(side, []).append((record_id, label))
        subjects: list[Subject] = []
        for side, found in matches.items():
            for record_id, _ in found:
                subject = self._by_id(side, record_id)
                if subject is not None and subject not in subjects:
                    subjects.append(subject)
        unlinked = {side: [s for s in subjects if s.ids[side] and not s.ids[other_side(side)]] for side in SIDES}
        if len(subjects) == 2 and len(unlinked["precoro"]) == 1 and len(unlinked["quickbooks"]) == 1:
            # One record of that name on each side, not linked yet: the pair a plan would match.
            return Subject(unlinked["precoro"][0].precoro, unlinked["quickbooks"][0].quickbooks)
        if len(subjects) == 1:
            return subjects[0]
        if subjects:
            raise RecordNotFound(f"{name!r} names {self._named(subjects)}: say which, as precoro:ID or quickbooks:ID")
        hint = f"; names that hold it: {', '.join(close)}" if close else ""
        what = "with the id or the name" if name.isdigit() else "named"
        raise RecordNotFound(f"no {self.spec.label} {what} {name!r} in this state file ({self._read_said()}){hint}")

    def _named(self, subjects: Iterable[Subject]) -> str:
        said = []
        for subject in subjects:
            parts = [f"{SIDE_NAMES[side]} {rid}" for side, rid in subject.ids.items() if rid]
            name = self._name_of(subject)
            said.append(" <-> ".join(parts) + (f" {name!r}" if name else "")
                        + ("" if subject.precoro and subject.quickbooks else " (not linked)"))
        return f"{len(said)} {self.spec.plural}: " + "; ".join(said)

    def _name_of(self, subject: Subject) -> str:
        for side, record in self._records(subject).items():
            if record is not None and record.values.get("name"):
                return str(record.values["name"])
        return ""

    def _read_said(self) -> str:
        reads = [self.store.mirror_read(self.realm, side, self.spec.section) for side in SIDES]
        counts = [f"{self.store.mirror_count(self.realm, side, self.spec.section):,} {SIDE_NAMES[side]}"
                  for side, read in zip(SIDES, reads) if read]
        return f"as last read: {' and '.join(counts)} {self.spec.plural}" if counts else f"no plan has read {self.spec.plural} yet"

    # -- what is known of it ------------------------------------------------------------------------

    def _records(self, subject: Subject) -> dict[str, Any]:
        out = {}
        for side, record_id in subject.ids.items():
            raw = self.store.mirror_raws(self.realm, side, self.spec.section, [record_id]).get(record_id) if record_id else None
            out[side] = self.readers[side](bulk.loads(raw)) if raw and self.paired else None
        return out

    def _planned(self, subject: Subject) -> tuple[str | None, list[Action]]:
        plan_id = self.store.latest_plan_covering(self.spec.section)
        if plan_id is None:
            return None, []
        return plan_id, self.store.actions_of_record(plan_id, self.spec.kind, subject.ids)

    def _read_now(self, subject: Subject, read: Read) -> dict[str, Any]:
        return {side: self.readers[side](raw) if record_id and (raw := read(side, self.spec, record_id)) is not None
                else None for side, record_id in subject.ids.items()}

    def explained(self, subject: Subject, history: int, read: Read | None = None) -> dict[str, Any]:
        spec, store = self.spec, self.store
        records = self._records(subject) if read is None else self._read_now(subject, read)
        link = store.link_for(spec.section, self.realm, precoro_id=subject.precoro) if subject.precoro else None
        if link is not None and link["quickbooks_id"] != subject.quickbooks:
            link = None
        plan_id, actions = self._planned(subject)
        audit = list(store.iter_history(entity=spec.kind, record_ids=subject.ids, limit=history))
        name = self._name_of(subject) or next((a.name for a in actions), "") or next((r["name"] for r in audit), "")
        as_of = (store.plan_row(plan_id) or {}).get("created_at") if plan_id else None
        written = self._written_since(plan_id, as_of, subject)
        return {
            "entity": spec.section, "label": spec.label, "planned": spec.planned, "name": name,
            # The records as the latest plan read them (`as_of`): the state file's copy of both companies;
            # or as read now (`live`).
            "as_of": as_of, "live": read is not None, "readable_now": live_readable(spec),
            "records": {side: self._record_said(subject.ids[side], records[side], None if read else written.get(side))
                        for side in SIDES},
            "link": self._link_said(link),
            "held_back": [{"side": row["side"], "record_id": row["record_id"], "reason": row["reason"],
                           "since": row["since"]} for row in store.holds_of(spec.section, self.realm, subject.ids)],
            "fields": self._fields(records, link) if self.paired else [],
            "plan": self._plan_said(plan_id, actions, subject),
            "history": [{key: value for key, value in row.items() if key not in ("id", "response")} for row in audit],
        }

    def _written_since(self, plan_id: str | None, as_of: str | None, subject: Subject) -> dict[str, str]:
        """Side -> when an apply last wrote the record after the plan's read: its values here are
        from before. The audit is to the second, so an entry of that very second counts when it is
        the plan's own apply or a later plan's, not an earlier plan's applied just before it."""
        if plan_id is None or as_of is None:
            return {}
        made: dict[str, str] = {}

        def after_the_read(entry: dict) -> bool:
            if entry["at"] > as_of or entry["plan_id"] == plan_id:
                return True
            if entry["plan_id"] not in made:
                made[entry["plan_id"]] = (self.store.plan_row(entry["plan_id"]) or {}).get("created_at") or ""
            return made[entry["plan_id"]] > as_of

        entries = self.store.iter_history(entity=self.spec.kind, record_ids=subject.ids, statuses=["applied"],
                                          since=as_of)
        return {entry["target"]: entry["at"] for entry in reversed(list(entries)) if after_the_read(entry)}

    def _record_said(self, record_id: str | None, record: Any, written_at: str | None) -> dict[str, Any] | None:
        if record_id is None:
            return None
        said: dict[str, Any] = {"id": record_id, "found": record is not None if self.paired else None,
                                "written_since": written_at}
        if record is not None:
            said.update(active=record.active, updated_at=record.updated_at, currencies=list(record.currencies),
                        origin=record.origin)
        return said

    @staticmethod
    def _link_said(link: dict | None) -> dict[str, Any] | None:
        if link is None:
            return None
        return {"precoro_id": link["precoro_id"], "quickbooks_id": link["quickbooks_id"], "how": link["how"],
                "since": link["since"]}

    def _fields(self, records: dict[str, Any], link: dict | None) -> list[dict[str, Any]]:
        """Each of the rules' fields: its value on each side as last read, as last synced, whether
        the two agree (as the planner compares them: canonical values, a cut to fit allowed), which
        way it syncs and whether an update carries it (or only a create)."""
        baseline = bulk.loads(link["baseline"] or "{}") if link else {}
        out = []
        for rule in self.entity_rules.fields:
            values = {side: records[side].values.get(rule.name) if records[side] is not None else None for side in SIDES}
            synced = baseline.get(rule.name)
            if isinstance(synced, dict) and len({bulk.dumps(v) for v in synced.values()}) == 1:
                synced = next(iter(synced.values()))  # both sides last synced to the same value
            both_read = all(records[side] is not None for side in SIDES)
            named = self._reference_names(rule.transform, [*values.values(), synced])
            out.append({"field": rule.name, **values, "last_synced": synced, **({"names": named} if named else {}),
                        # A field written only when a record is created may differ for good: not a difference.
                        "agree": equivalent(values["precoro"], values["quickbooks"], rule)
                        if both_read and rule.update else None,
                        "direction": rule.direction, "updated": rule.update})
        return out

    def _reference_names(self, transform: str | None, values: list[Any]) -> dict[str, str]:
        """The names of the records a reference field's values stand for (an item's supplier "8":
        QuickBooks vendor 8's name; "precoro:12", an unlinked Precoro supplier's), as last read."""
        section = REFERENCED_SECTION.get(transform or "")
        if section is None:
            return {}
        spec, names = spec_of(section), {}
        for value in {v for v in values if isinstance(v, str) and v}:
            side, _, record_id = value.rpartition(":") if value.startswith("precoro:") else ("quickbooks", "", value)
            raw = self.store.mirror_raws(self.realm, side, section, [record_id]).get(record_id)
            if raw is not None:
                name = spec.reader(self.rules.entity(section), side)(bulk.loads(raw)).values.get("name")
                if name:
                    names[value] = str(name)
        return names

    def _plan_said(self, plan_id: str | None, actions: list[Action], subject: Subject) -> dict[str, Any] | None:
        if plan_id is None:
            return None
        row = self.store.plan_row(plan_id) or {}
        outcomes = {}
        # Newest first: the latest outcome of each of the plan's actions on the record.
        for entry in self.store.iter_history(plan_id=plan_id, entity=self.spec.kind, record_ids=subject.ids):
            outcomes.setdefault(entry["action_id"], {"status": entry["status"], "reason": entry["reason"]})
        policy = self._would_run(plan_id, actions)
        return {"id": plan_id, "state": row.get("state"), "created_at": row.get("created_at"),
                "actions": [{**action.to_json(), "outcome": outcomes.get(action.id),
                             "unattended": policy.get(action.id)} for action in actions]}

    def _would_run(self, plan_id: str, actions: list[Action]) -> dict[str, dict[str, Any]]:
        """What an unattended run would do with each action, counting what it waits for and the
        operator's answers to what runs held (the safety brake, which looks at the whole plan, aside)."""
        involved = {action.id: action for action in actions}
        waiting = [d for action in actions for d in action.depends_on if d not in involved]
        while waiting:  # dependencies may chain: a document on a supplier on a link
            found = self.store.action_choices(plan_id, waiting)
            more = [self.store.action(plan_id, action_id) for action_id in found if action_id not in involved]
            involved.update((action.id, action) for action in more)
            waiting = [d for action in more for d in action.depends_on if d not in involved]
        # Copies: judging sets their approvals, and the plan's own are shown as they are.
        copies = {action_id: copy(action) for action_id, action in involved.items()}
        judged = judge(list(copies.values()), self.rules, self.store.held(self.realm, waiting=False))
        # `held`: left waiting for a person (not applied, and not what a person skipped).
        return {action.id: {"apply": judged.verdicts[action.id].apply, "held": judged.holds(copies[action.id]),
                            "reason": judged.verdicts[action.id].reason} for action in actions}
