"""The pure core: (rules, both sides' records, what we remember) -> proposed actions.

No I/O, no clock, no randomness: the same inputs always give the same actions, so every SPEC rule is
tested here by building records in memory. One pass over each side and dictionary look-ups only:
planning 100,000 records per side stays linear.

How a linked pair is merged (S2): the store keeps, per field, the value each side had when the two
last agreed (the baseline, one per side, because a cut or a transform can make the two sides'
stored forms differ). A side whose value differs from its baseline changed. One side changed ->
copy it over; both changed to equivalent values -> nothing to write; both changed differently ->
the field's conflict policy decides, and `ask` leaves it to the operator.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from typing import Any, Callable, Iterable, Mapping

from rules.model import SIDE_NAMES, EntityRules, FieldRule, Side, other_side
from rules.transforms import key_normalizer, truncate

from .plan import Action, FieldChange, HoldFacts, LinkFacts, SideValues, action_id
from .records import Record, from_canonical
from .references import References
from .targets import Refusal, name_key, name_taken, stored_form, text_checker
from .writes import build_write


@dataclass(frozen=True)
class LinkState:
    """A remembered link and the baselines of its last agreement."""

    precoro_id: str
    quickbooks_id: str
    baseline: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)  # field -> {side: value}
    active: Mapping[str, bool] = field(default_factory=dict)  # side -> active at the last sync
    how: str = "matched"


@dataclass(frozen=True)
class Hold:
    """A record that must not be created on the other side (or re-linked) on its own.

    Precoro records: `quickbooks_inactive`: its vendor was deactivated in QuickBooks (S4); it may be
    matched again by the matching rule, but is never pushed as a new vendor. `unmapped`: the operator
    unlinked it by hand; it is not matched to `other_id` again. `quickbooks_deleted`: its QuickBooks
    record is gone (W8). QuickBooks records: `precoro_deleted`: its Precoro record is gone (W8).
    """

    record_id: str
    reason: str
    other_id: str | None = None  # the record on the other side it was linked to


@dataclass(frozen=True)
class SyncState:
    """What the store remembers for one entity in one QuickBooks company."""

    links: Mapping[str, LinkState] = field(default_factory=dict)  # by precoro_id
    holds: Mapping[str, Hold] = field(default_factory=dict)  # Precoro records, by precoro_id
    quickbooks_holds: Mapping[str, Hold] = field(default_factory=dict)  # QuickBooks records, by quickbooks_id
    # Linked pairs known to be in agreement and unchanged (W11): linked, not read, not reconciled.
    quiet: Mapping[str, str] = field(default_factory=dict)  # precoro_id -> quickbooks_id


@dataclass
class EntityPlan:
    actions: list[Action] = field(default_factory=list)
    agreed_baselines: list[dict[str, Any]] = field(default_factory=list)


def fit(value: Any, rule: FieldRule, side: Side) -> tuple[Any, str | None]:
    """The value as `side` will hold it (cut to the rules' length, I3; in the form the side keeps,
    e.g. trimmed by Precoro), and a note when it had to be cut."""
    value = stored_form(side, value)
    limit = rule.max_length.get(side)
    if not isinstance(value, str) or limit is None:
        return value, None
    cut, was_cut = truncate(value, limit)
    if was_cut:
        return cut, f"cut from {len(value)} to {limit} characters to fit {SIDE_NAMES[side]}"
    return cut, None




def equivalent(precoro_value: Any, quickbooks_value: Any, rule: FieldRule) -> bool:
    """Whether the two sides already hold the same value, allowing for a cut on either side."""
    if precoro_value == quickbooks_value:
        return True
    return fit(precoro_value, rule, "quickbooks")[0] == quickbooks_value or fit(quickbooks_value, rule, "precoro")[0] == precoro_value


def _newer(precoro: Record, quickbooks: Record) -> Side:
    def parse(stamp: str | None) -> datetime | None:
        try:
            return datetime.fromisoformat(stamp) if stamp else None
        except ValueError:
            return None

    p, q = parse(precoro.updated_at), parse(quickbooks.updated_at)
    if p and q and p.tzinfo and q.tzinfo:
        return "precoro" if p > q else "quickbooks"
    # Without comparable timestamps nothing says which is newer; QuickBooks holds the books.
    return "quickbooks"


def _write_change(rule: FieldRule, target: Side, precoro: Any, quickbooks: Any, baseline: Any) -> FieldChange:
    source_value = precoro if target == "quickbooks" else quickbooks
    after, note = fit(source_value, rule, target)
    before = quickbooks if target == "quickbooks" else precoro
    return FieldChange(rule.name, before=before, after=after, precoro=precoro, quickbooks=quickbooks, baseline=baseline, note=note)


def merge_fields(
    rules: EntityRules, p: Record, q: Record, link: LinkState | None, fields: Iterable[FieldRule] | None = None
) -> tuple[list[FieldChange], list[FieldChange], list[FieldChange], dict[str, SideValues]]:
    """Three-way merge of one linked pair.

    Returns (writes to QuickBooks, writes to Precoro, conflicts, agreed) where `agreed` holds the
    fields whose two sides now agree but whose baseline says otherwise (to be remembered).
    """
    to_qb: list[FieldChange] = []
    to_pc: list[FieldChange] = []
    conflicts: list[FieldChange] = []
    agreed: dict[str, SideValues] = {}  # two slots a field, not a dict: a first plan holds many
    baseline = link.baseline if link else {}
    for rule in fields if fields is not None else rules.fields:
        if not rule.update:
            continue
        pv, qv = p.values.get(rule.name), q.values.get(rule.name)
        base = baseline.get(rule.name)
        bp, bq = (base.get("precoro"), base.get("quickbooks")) if base else (None, None)

        if pv == qv:  # the two sides agree (what the branches below conclude too, at more cost)
            if base is None or (bp, bq) != (pv, qv):
                agreed[rule.name] = SideValues(pv, qv)
            continue
        if rule.direction != "both":
            # One-way: the source side is the truth and the other side is kept equal to it; a source
            # with no value at all (a QuickBooks item without a purchase cost) erases nothing.
            target: Side = "quickbooks" if rule.direction == "to_quickbooks" else "precoro"
            source_value = pv if target == "quickbooks" else qv
            current = qv if target == "quickbooks" else pv
            if source_value in (None, ()) and current not in (None, ()):
                continue
            if fit(source_value, rule, target)[0] != current and not equivalent(pv, qv, rule):
                # (Equivalent: the target holds the source's value whole where the source could only
                # keep it cut, e.g. an item created from a 300-character Precoro name: nothing to write.)
                (to_qb if target == "quickbooks" else to_pc).append(_write_change(rule, target, pv, qv, bp))
            elif base is None or (bp, bq) != (pv, qv):
                agreed[rule.name] = SideValues(pv, qv)
            continue

        if equivalent(pv, qv, rule):
            if base is None or (bp, bq) != (pv, qv):
                agreed[rule.name] = SideValues(pv, qv)
            continue
        precoro_changed = base is None or pv != bp
        quickbooks_changed = base is None or qv != bq
        if precoro_changed and not quickbooks_changed:
            winner: Side | None = "precoro"
        elif quickbooks_changed and not precoro_changed:
            winner = "quickbooks"
        elif not precoro_changed and not quickbooks_changed:
            continue
        else:
            policy = rule.policy(rules.conflict)
            winner = {"precoro_wins": "precoro", "quickbooks_wins": "quickbooks"}.get(policy)
            if policy == "newest_wins":
                winner = _newer(p, q)
        if winner is None:
            conflicts.append(FieldChange(rule.name, precoro=pv, quickbooks=qv, baseline=bp))
            continue
        target = other_side(winner)
        if not rule.writes_to(target):
            continue
        (to_qb if target == "quickbooks" else to_pc).append(_write_change(rule, target, pv, qv, bp))
    return to_qb, to_pc, conflicts, agreed


class Reconciler:
    """Builds the actions for one entity. A class only to share the inputs between small steps."""

    def __init__(self, spec: Any, rules: EntityRules, precoro: Iterable[Record], quickbooks: Iterable[Record],
                 state: SyncState, *, refs: References | None = None, names_elsewhere: Mapping[str, str] | None = None,
                 precoro_collection: str | None = None, quiet_names: Iterable[Record] = ()) -> None:
        self.spec = spec  # the entity's EntitySpec: its kind, and where each side keeps it
        self.rules = rules
        self.kind = spec.kind
        self.refs = refs or References()
        # Where Precoro keeps the records (list options live under their custom field's id).
        self.precoro_collection = precoro_collection or spec.precoro
        self.precoro = {r.id: r for r in precoro}
        self.quickbooks = {r.id: r for r in quickbooks}
        # The QuickBooks records of quiet pairs, read for their name and activity only: a name a
        # write must not take (W9), a merge's survivor (I10). Never merged or written.
        self.quiet_names = {r.id: r for r in quiet_names}
        self.state = state
        self.out = EntityPlan()
        # QuickBooks names this entity shares its namespace with, held by other entities
        # (customers and employees for vendors): name_key -> who holds it.
        self.names_elsewhere = names_elsewhere or {}
        self._names: dict[str, tuple[str | None, Record | str]] | None = None  # name key -> (holder id, holder)

    # -- helpers -------------------------------------------------------------------------------

    def add_action(self, kind: str, target: str | None, p: Record | None, q: Record | None, *,
                   precoro_id: str | None = None, quickbooks_id: str | None = None, name: str | None = None,
                   restore_name: str | None = None, **kw: Any) -> Action:
        """Propose one action about p and/or q (ids may be given instead of a missing record).

        A write (create, update, deactivate, reactivate, and each side of a conflict) gets the exact
        request it will send, checked against what its target is certain to refuse (W9).
        """
        pid, qid = (p.id if p else precoro_id), (q.id if q else quickbooks_id)
        versions = {}
        if p:
            versions["precoro"] = p.version
        if q:
            versions["quickbooks"] = q.version
        action = Action(
            id=action_id(self.kind, kind, target, pid, qid),
            entity=self.kind,
            kind=kind,
            target=target,
            name=name or (p.label if p else q.label if q else "?"),
            precoro_id=pid,
            quickbooks_id=qid,
            versions=versions,
            **kw,
        )
        if kind in ("create", "update", "reactivate") and target in ("precoro", "quickbooks"):
            refusals = self.refusals(action, restore_name)
            if refusals:
                return self._blocked_write(action, refusals)
        if kind in ("create", "update", "deactivate", "reactivate"):
            fields = {c.field: c.after for c in action.changes}
            if restore_name is not None and self.rules.has_field("name"):
                fields["name"] = restore_name  # QuickBooks keeps " (deleted)" on a reactivated name unless told
            active = {"deactivate": False, "reactivate": True}.get(kind)
            action.write = self._write(target, "create" if kind == "create" else "update", fields, p, q, action, active)
        elif kind == "conflict":
            # Taking Precoro's value writes QuickBooks, and the other way round.
            for decision in ("precoro", "quickbooks"):
                side = other_side(decision)
                fields = {c.field: fit(getattr(c, decision), self.rules.field(c.field), side)[0] for c in action.changes}
                action.alternatives[decision] = self._write(side, "update", fields, p, q, action)
        self.out.actions.append(action)
        return action

    def _write(self, side: Side, op: str, fields: dict[str, Any], p: Record | None, q: Record | None, action: Action,
               active: bool | None = None):
        record = q if side == "quickbooks" else p
        collection = self.spec.quickbooks if side == "quickbooks" else self.precoro_collection
        write, waits = build_write(
            self.rules, side, op, collection, fields, refs=self.refs, active=active,
            record_id=record.id if op == "update" and record else None,
            version=record.version if op == "update" and record else None,
            current=q.raw if side == "quickbooks" and q else None,
            origin=q.id if side == "precoro" and op == "create" and q else None)
        if side == "precoro" and op == "create":
            for path, value in self.spec.precoro_create.items():
                write.values.setdefault(path, value)  # what Precoro requires that no rule maps (a tax's percent)
        action.depends_on += [w for w in waits if w not in action.depends_on]
        return write

    # -- W9: writes the target is certain to refuse are planned as blocked -----------------------

    def refusals(self, action: Action, restore_name: str | None = None) -> list[Refusal]:
        """What the target will refuse in this write: lengths, characters, emails, a taken name."""
        side: Side = action.target
        checks = self._checks[side]
        found = []
        for change in action.changes:
            check = checks.get(change.field)
            refusal = check(change.after) if check else None
            if refusal:
                found.append(refusal)
        if side == "quickbooks":
            name = restore_name if action.kind == "reactivate" else \
                next((c.after for c in action.changes if c.field in self._name_fields), None)
            if isinstance(name, str):
                holder = self._name_holder(name, action.quickbooks_id)
                if holder is not None:
                    found.append(name_taken(holder))
        return found

    @cached_property
    def _checks(self) -> dict[Side, dict[str, Callable[[Any], Refusal | None]]]:
        """Per side, each field's check of a value written there: targets.text_checker of the
        value as written (its transform undone), prepared once for the plan's every write."""
        def check(rule: FieldRule, side: Side) -> Callable[[Any], Refusal | None]:
            entity = self.spec.quickbooks if side == "quickbooks" else self.spec.precoro
            path = rule.path(side)
            checker = text_checker(side, entity, path, rule.name, path == self.spec.quickbooks_name)
            if rule.transform:
                return lambda value: checker(from_canonical(rule, side, value))
            return checker
        return {side: {rule.name: check(rule, side) for rule in self.rules.fields} for side in ("quickbooks", "precoro")}

    @cached_property
    def _name_fields(self) -> frozenset[str]:
        """The fields written as the QuickBooks record's name (its DisplayName or Name)."""
        return frozenset(rule.name for rule in self.rules.fields if rule.quickbooks == self.spec.quickbooks_name)

    def _name_holder(self, name: str, own_id: str | None) -> str | None:
        """Who else holds `name` in QuickBooks (this plan's earlier creates included), else None."""
        if self._names is None:
            self._names = {}
            for _, q in sorted({**self.quickbooks, **self.quiet_names}.items(), key=id_order):  # as a full read has them
                label = q.values.get("name")
                if isinstance(label, str):
                    self._names.setdefault(name_key(label), (q.id, q))  # described only when a write meets it
            for key, holder in self.names_elsewhere.items():
                self._names.setdefault(key, (None, holder))
        key = name_key(name)
        holder = self._names.get(key)
        if holder is None or (own_id is not None and holder[0] == own_id):
            if own_id is None:  # a create claims the name: a second create of it in this plan is refused
                self._names[key] = ("", f"another record this plan creates, {name!r}")
            return None
        who = holder[1]
        if isinstance(who, Record):
            return f"{self.spec.quickbooks.lower()} {who.id} {who.values['name']!r}" + ("" if who.active else " (inactive)")
        return who

    def _blocked_write(self, action: Action, refusals: list[Refusal]) -> Action:
        """A create with a refusal is blocked whole; an update keeps its other fields."""
        refused = {r.field for r in refusals}
        kept = [c for c in action.changes if c.field not in refused]
        shown = [c for c in action.changes if c.field in refused] or action.changes
        note = f"{SIDE_NAMES[action.target]} would refuse this: " + "; ".join(r.text() for r in refusals)
        if action.kind == "update" and kept:
            action.changes = kept
            self.out.actions.append(action)
        blocked = Action(id=action_id(self.kind, "blocked", None, action.precoro_id, action.quickbooks_id),
                         entity=self.kind, kind="blocked", target=None, name=action.name,
                         precoro_id=action.precoro_id, quickbooks_id=action.quickbooks_id, versions=action.versions,
                         changes=shown, note=note)
        self.out.actions.append(blocked)
        return action if action.kind == "update" and kept else blocked

    def match_key(self, record: Record) -> tuple[str, ...]:
        """The matching rule's key (S7, I1), on values as both sides would hold them: an item whose
        300-character name QuickBooks keeps cut to 100 still matches the item created from it."""
        values, normalize = record.values, self._normalize
        return tuple(normalize(_scalar(held(values.get(name)))) for name, held in self._key_fields)

    @cached_property
    def _normalize(self) -> Callable[[Any], str]:
        return key_normalizer(tuple(self.rules.match.normalize))

    @cached_property
    def _key_fields(self) -> tuple[tuple[str, Callable[[Any], Any]], ...]:
        return tuple((name, self._held_by_both(name)) for name in self.rules.match.keys)

    def _held_by_both(self, field_name: str) -> Callable[[Any], Any]:
        """A value of `field_name` as both sides would hold it once written to each in turn."""
        if not self.rules.has_field(field_name):
            return lambda value: value
        rule = self.rules.field(field_name)
        limits = [limit for limit in rule.max_length.values() if limit is not None]
        if not limits:  # nothing is cut: only the form each side keeps
            return lambda value: stored_form("precoro", stored_form("quickbooks", value))
        shortest = min(limits)

        def held(value: Any) -> Any:
            if type(value) is str and len(value) <= shortest:  # cut by neither side: only trimmed by Precoro
                return value.strip() or None
            return fit(fit(value, rule, "quickbooks")[0], rule, "precoro")[0]
        return held

    # -- the steps -----------------------------------------------------------------------------

    def run(self) -> EntityPlan:
        linked_p, linked_q = self.reconcile_links()
        self.match_and_create(linked_p, linked_q)
        return self.out

    def reconcile_links(self) -> tuple[set[str], set[str]]:
        """Every remembered link: gone on one side (W8) or merged as a pair. Returns the linked ids."""
        linked_p = {link.precoro_id for link in self.state.links.values()} | self.state.quiet.keys()
        linked_q = {link.quickbooks_id for link in self.state.links.values()} | set(self.state.quiet.values())
        for link in self.state.links.values():
            p = self.precoro.get(link.precoro_id)
            q = self.quickbooks.get(link.quickbooks_id)
            if p is None or q is None:
                self.record_gone(link, p, q)
            else:
                self.reconcile_linked(p, q, link, linked_q)
        return linked_p, linked_q

    def reconcile_linked(self, p: Record, q: Record, link: LinkState, linked_q: set[str]) -> None:
        """A hook for a linked pair whose records both exist (items tell a merge from a deactivation)."""
        self.reconcile_pair(p, q, link)

    def record_gone(self, link: LinkState, p: Record | None, q: Record | None) -> None:
        """W8: a linked record is gone from one side (deleted, merged away, unreadable).

        The link is dropped with the reason; the rules' `when_deleted` says what follows for the
        record that survives: kept and held back from being recreated on its own (`unlink`), created
        again where it vanished (`recreate`), or, for a supplier deleted in Precoro, its vendor made
        inactive (`deactivate_in_quickbooks`).
        """
        ids = {"precoro_id": link.precoro_id, "quickbooks_id": link.quickbooks_id}
        if p is None and q is None:
            self.add_action("unlink", None, None, None, **ids, name=f"{self.kind} {link.precoro_id}",
                            note="gone from both sides: the link is removed")
            return
        gone: Side = "precoro" if p is None else "quickbooks"
        survivor = q if p is None else p
        policy = getattr(self.rules.when_deleted, f"in_{gone}")
        gone_id = link.precoro_id if gone == "precoro" else link.quickbooks_id
        note = (f"the {SIDE_NAMES[gone]} {self.kind} {gone_id} no longer exists (deleted, merged away or not "
                f"readable): the link is removed")
        if policy == "recreate" and survivor.active:
            unlink = self.add_action("unlink", None, p, q, **ids, note=note + "; it is created again (when_deleted: recreate)")
            self.propose_create(survivor, gone, depends_on=[unlink.id])
        elif policy == "deactivate_in_quickbooks" and survivor.active:
            unlink = self.add_action("unlink", None, p, q, **ids, note=note)
            self.add_action("deactivate", "quickbooks", None, q, precoro_id=link.precoro_id, depends_on=[unlink.id],
                            note="deleted in Precoro: the QuickBooks record is made inactive (when_deleted: deactivate_in_quickbooks)")
        else:
            self.add_action("unlink", None, p, q, **ids,
                            note=note + f"; the {SIDE_NAMES[survivor.side]} record stays and is not recreated on its own",
                            hold=HoldFacts(f"{gone}_deleted", survivor.side,
                                           link.quickbooks_id if survivor.side == "precoro" else link.precoro_id))

    def reconcile_pair(self, p: Record, q: Record, link: LinkState | None, depends_on: list[str] | None = None) -> dict[str, Any]:
        """Propose what a pair needs; returns the fields both sides already agree on."""
        if link is not None and self.reconcile_activity(p, q, link):
            return {}
        if not (p.active and q.active):
            return {}
        to_qb, to_pc, conflicts, agreed = merge_fields(self.rules, p, q, link, self.fields_for(p))
        to_pc, blocked_notes = self.writable_to_precoro(to_pc)
        deps = list(depends_on or [])
        if to_qb:
            self.add_action("update", "quickbooks", p, q, changes=to_qb, depends_on=deps)
        if to_pc:
            self.add_action("update", "precoro", p, q, changes=to_pc, depends_on=deps, note="; ".join(blocked_notes))
        elif blocked_notes:
            self.add_action("blocked", None, p, q, note="; ".join(blocked_notes))
        if conflicts:
            self.add_action(
                "conflict", None, p, q, changes=conflicts, depends_on=deps,
                note=("changed on both sides since the last sync" if link else "the two sides differ and were never synced")
                + ": take Precoro's or QuickBooks' value, or skip",
            )
        if agreed and link is not None:
            self.out.agreed_baselines.append({"precoro_id": p.id, "quickbooks_id": q.id, "fields": agreed})
        return agreed

    def fields_for(self, p: Record) -> tuple[FieldRule, ...]:
        """The fields merged for this pair (items leave out the price of a free-of-charge item)."""
        return self.rules.fields

    def writable_to_precoro(self, changes: list[FieldChange]) -> tuple[list[FieldChange], list[str]]:
        """Drop writes Precoro cannot take (a reference with no counterpart); say why."""
        return changes, []

    def reconcile_activity(self, p: Record, q: Record, link: LinkState) -> bool:
        """Deactivation and reactivation of a linked pair (S4, S5). True when it decided the pair."""
        was_p = link.active.get("precoro", True)
        was_q = link.active.get("quickbooks", True)
        policy = self.rules.when_inactive
        if p.active and not q.active:
            if was_q:  # deactivated in QuickBooks since the last sync (S4)
                if policy.in_quickbooks == "unlink":
                    self.add_action("unlink", None, p, q, hold=HoldFacts("quickbooks_inactive", "precoro", q.id),
                                 note="deactivated in QuickBooks: the Precoro record stays active and becomes not integrated; it is not pushed back as a new record")
                elif policy.in_quickbooks == "deactivate_in_precoro":
                    self.add_action("deactivate", "precoro", p, q, note="deactivated in QuickBooks")
                return True
            if not was_p:  # reactivated in Precoro while QuickBooks stayed inactive
                self.add_action("reactivate", "quickbooks", p, q, note="reactivated in Precoro",
                                restore_name=fit(p.values.get("name"), self.rules.field("name"), "quickbooks")[0]
                                if self.rules.has_field("name") else None)
            return True
        if q.active and not p.active:
            if was_p:  # deactivated in Precoro since the last sync (S5)
                if policy.in_precoro == "deactivate_in_quickbooks":
                    self.add_action("deactivate", "quickbooks", p, q, note="deactivated in Precoro: QuickBooks never deletes, the record is made inactive")
                elif policy.in_precoro == "unlink":
                    self.add_action("unlink", None, p, q, note="deactivated in Precoro")
                return True
            if not was_q and policy.in_quickbooks != "ignore":  # reactivated in QuickBooks while Precoro stayed inactive
                self.add_action("reactivate", "precoro", p, q, note="reactivated in QuickBooks")
            return True
        return not (p.active and q.active)

    def match_and_create(self, linked_p: set[str], linked_q: set[str]) -> None:
        free_p = [r for pid, r in sorted(self.precoro.items(), key=id_order) if pid not in linked_p and r.active]
        free_p, free_q_ids = self.before_matching(free_p, linked_q)
        linked_q = linked_q | free_q_ids
        free_q = [r for qid, r in sorted(self.quickbooks.items(), key=id_order) if qid not in linked_q and r.active]
        uses_currency = "currency" in self.rules.match.keys

        # Each key computed once, kept beside its record (a dict of 200,000 keys by record was a
        # large first plan's biggest passing allocation).
        p_keys = [self.match_key(p) for p in free_p]
        q_keys = [self.match_key(q) for q in free_q]
        q_by_key: dict[tuple[str, ...], list[Record]] = {}
        for q, key in zip(free_q, q_keys):
            q_by_key.setdefault(key, []).append(q)
        p_count = Counter(p_keys)  # how many Precoro records hold each key

        claimed_q: set[str] = set()
        for p, key in zip(free_p, p_keys):
            hold = self.state.holds.get(p.id)
            unmapped_from = hold.other_id if hold and hold.reason == "unmapped" else None
            candidates = [q for q in q_by_key.get(key, []) if q.id != unmapped_from]
            claimed_q.update(q.id for q in candidates)
            if uses_currency and len(p.currencies) > 1:
                self.add_action("blocked", None, p, None, candidates=_candidates(candidates),
                             note=f"trades in several currencies ({', '.join(p.currencies)}): not matched or created automatically; map it by hand")
                continue
            rivals = p_count[key]
            if len(candidates) == 1 and rivals == 1:
                q = candidates[0]
                link = self.add_action("link", None, p, q, note=f"same {' and '.join(self.rules.match.keys)}",
                                       link=LinkFacts("matched"))
                self.propose_new_pair(p, q, link)
            elif candidates:
                note = (f"{len(candidates)} QuickBooks records match" if len(candidates) > 1
                        else f"{rivals} Precoro records match the same QuickBooks record")
                self.add_action("ambiguous", None, p, None, candidates=_candidates(candidates),
                             note=note + ": pick one by hand (qbsync suppliers map)")
            elif hold is None and self.rules.create.allows("quickbooks"):
                self.propose_create(p, "quickbooks")

        if self.rules.create.allows("precoro"):
            for q, key in zip(free_q, q_keys):
                if q.id not in claimed_q and key not in p_count and q.id not in self.state.quickbooks_holds:
                    self.propose_create(q, "precoro")

    def before_matching(self, free_p: list[Record], linked_q: set[str]) -> tuple[list[Record], set[str]]:
        """Links that come before the matching rule; returns (still free, newly taken).

        W10: a Precoro record created from a QuickBooks record (its externalId is that record's id)
        whose name agrees with it is linked back to it, even where the matching rule would not match
        them (a name the other side trimmed or cut): a re-plan after a crash never creates it twice.
        The name must agree too: an externalId alone may name a record of another company (L3).
        """
        still_free, taken = [], set()
        for p in free_p:
            q = self.quickbooks.get(p.origin) if p.origin else None
            if (q is not None and q.active and q.id not in linked_q and q.id not in taken
                    and self._same_name(p, q)):
                link = self.add_action("link", None, p, q, link=LinkFacts("origin"),
                                       note="created from this QuickBooks record (its externalId says so): linked back to it")
                self.propose_new_pair(p, q, link)
                taken.add(q.id)
            else:
                still_free.append(p)
        return still_free, taken

    def _same_name(self, p: Record, q: Record) -> bool:
        if not self.rules.has_field("name"):
            return False
        held = self._held_by_both("name")
        names = (held(p.values.get("name")), held(q.values.get("name")))
        return isinstance(names[0], str) and isinstance(names[1], str) and name_key(names[0]) == name_key(names[1])

    def propose_new_pair(self, p: Record, q: Record, link_action: Action) -> None:
        """Field changes for a pair that is linked by this plan; they wait for the link (no baseline yet)."""
        link_action.link.baseline = self.reconcile_pair(p, q, None, depends_on=[link_action.id])
        link_action.link.active = {"precoro": p.active, "quickbooks": q.active}

    def propose_create(self, source: Record, target: Side, depends_on: list[str] | None = None) -> None:
        changes = []
        for rule in self.rules.fields:
            value = source.values.get(rule.name)
            if value in (None, (), ""):
                continue
            after, note = fit(value, rule, target)
            changes.append(FieldChange(rule.name, before=None, after=after, note=note, precoro=value)
                           if source.side == "precoro" else
                           FieldChange(rule.name, before=None, after=after, note=note, quickbooks=value))
        note = f"new in {SIDE_NAMES[source.side]}, no match in {SIDE_NAMES[target]}"
        p, q = (source, None) if source.side == "precoro" else (None, source)
        self.add_action("create", target, p, q, changes=changes, note=note, depends_on=list(depends_on or []))


def id_order(item: tuple[str, Record]) -> tuple[int, str]:
    key = item[0]
    return (int(key), key) if key.isdigit() else (1 << 62, key)


def _scalar(value: Any) -> Any:
    if isinstance(value, (tuple, list)):
        return ",".join(str(v) for v in value)
    return value


def _candidates(records: list[Record]) -> list[dict[str, Any]]:
    return [{"quickbooks_id": r.id, "name": r.label, "currencies": list(r.currencies)} for r in records]


def reconcile(spec: Any, rules: EntityRules, precoro: Iterable[Record], quickbooks: Iterable[Record], state: SyncState,
              **options: Any) -> EntityPlan:
    """Plan one entity with its spec's reconciler: the single entry point of the pure core."""
    return spec.reconciler(spec, rules, precoro, quickbooks, state, **options).run()
