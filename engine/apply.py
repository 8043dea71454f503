"""Carry out the approved actions of a saved plan, exactly once (W1-W4).

The approved actions are folded into write units, one per remote record, so a record touched by an
update and a decided conflict gets one write against the version the plan saw. QuickBooks units go
in batches of up to 30; each batch is stored with its `requestid` before it is sent, so after a
crash the same request is sent again and QuickBooks answers with the first response instead of
writing twice. Precoro has no request ids: its creates carry `externalId` (the QuickBooks id) and a
create whose outcome is unknown is looked up by it before it is sent again. Every outcome, with its
link, baseline and audit row, is committed in one transaction.
"""

from __future__ import annotations

import getpass
import hashlib
import json
import os
import socket
import threading
import time
import uuid
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Callable

from rules.model import Rules, Side, other_side
from rules.transforms import normalize_key

from .clients.errors import ApiError, DuplicateName, RateLimited, ServerError, StaleObject
from .clients.quickbooks import BatchOp, quote
from .clients.retry import RetryPolicy
from .errors import SafetyLimitExceeded, StalePlanError, SupersededPlan
from .entities import DOCUMENTS, KINDS, LISTS, EntityKind, precoro_form, precoro_record, quickbooks_body, quickbooks_record
from .plan import Action, Plan
from .records import get_path
from .references import References
from .store import Store

QUICKBOOKS_BATCH_SIZE = 30
# Precoro writes that met no answer even after their retries, one after another: the service is down.
UNANSWERED_IN_A_ROW = 3


class StopRequested(Exception):
    """The operator asked the apply to stop (it does, between two writes)."""


@dataclass
class ActionResult:
    id: str
    status: str  # applied | failed | refused | skipped | pending
    reason: str = ""
    name: str = ""
    kind: str = ""
    target: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "status": self.status, "reason": self.reason, "name": self.name,
                "kind": self.kind, "target": self.target}


@dataclass
class ApplyReport:
    plan_id: str
    results: list[ActionResult] = field(default_factory=list)
    stopped: str | None = None  # why the apply stopped early (a rate cap, a lost connection)

    @property
    def ok(self) -> bool:
        return self.stopped is None and all(r.status in ("applied", "skipped") for r in self.results)

    def counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for result in self.results:
            counts[result.status] = counts.get(result.status, 0) + 1
        return counts

    def to_json(self) -> dict[str, Any]:
        return {"plan_id": self.plan_id, "results": [r.to_json() for r in self.results],
                "counts": self.counts(), "stopped": self.stopped}


@dataclass
class WriteUnit:
    """Everything one remote record receives from this plan."""

    key: str
    side: Side
    kind: EntityKind
    op: str  # create | update
    record_id: str | None  # the target record (None for a create)
    precoro_id: str | None
    quickbooks_id: str | None
    version: str | None
    name: str
    fields: dict[str, Any] = field(default_factory=dict)  # canonical values to write
    base: dict[str, Any] = field(default_factory=dict)  # current nested QuickBooks objects the write touches
    body: dict[str, Any] | None = None  # a whole QuickBooks body built by the planner (documents)
    request: dict[str, Any] | None = None  # a whole Precoro request built by the planner (lists): path, form
    sources: dict[str, Any] = field(default_factory=dict)  # the other side's value of each field
    active: bool | None = None
    actions: list[Action] = field(default_factory=list)

    def fingerprint(self) -> str:
        """What this write sends, as a digest: the next plan knows the same write failed before (W9)."""
        sent = {"fields": self.fields, "active": self.active, "body": self.body, "request": self.request}
        return hashlib.sha1(json.dumps(sent, sort_keys=True, default=str).encode()).hexdigest()


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def operator_name() -> str:
    return os.environ.get("QBSYNC_OPERATOR") or getpass.getuser()


def build_units(actions: list[Action]) -> list[WriteUnit]:
    units: dict[str, WriteUnit] = {}
    for action in actions:
        kind = KINDS[action.entity]
        if action.kind == "conflict":
            side: Side = other_side(action.decision)  # taking Precoro's value writes QuickBooks
            values = action.extra.get("writes", {}).get(side, {})
            sources = {c.field: getattr(c, action.decision) for c in action.changes}
        elif action.kind in ("create", "update", "deactivate", "reactivate"):
            side = action.target
            source_side = other_side(side)
            values = {c.field: c.after for c in action.changes}
            sources = {c.field: getattr(c, source_side) for c in action.changes}
        else:
            continue
        record_id = action.precoro_id if side == "precoro" else action.quickbooks_id
        if action.kind == "create":
            key = f"{side}:{kind.kind}:new:{action.precoro_id or action.quickbooks_id}"
        else:
            key = f"{side}:{kind.kind}:{record_id}"
        unit = units.get(key)
        if unit is None:
            unit = units[key] = WriteUnit(
                key=key, side=side, kind=kind, op="create" if action.kind == "create" else "update",
                record_id=None if action.kind == "create" else record_id,
                precoro_id=action.precoro_id, quickbooks_id=action.quickbooks_id,
                version=action.versions.get(side), name=action.name,
            )
        unit.fields.update(values)
        unit.sources.update(sources)
        unit.base.update(action.extra.get("quickbooks_base") or {})
        unit.body = action.extra.get("quickbooks_body", unit.body)
        unit.request = action.extra.get("precoro_request", unit.request)
        if action.kind in ("deactivate", "reactivate"):
            unit.active = action.kind == "reactivate"
            if action.kind == "reactivate" and side == "quickbooks" and action.extra.get("name"):
                # QuickBooks keeps " (deleted)" on the name of a reactivated record unless told otherwise.
                unit.fields.setdefault("name", action.extra["name"])
        unit.actions.append(action)
    return list(units.values())


class Applier:
    """One apply run over one saved plan."""

    def __init__(self, store: Store, plan: Plan, rules: Rules, quickbooks, precoro, *, realm_id: str,
                 on_result: Callable[[ActionResult, int, int], None] | None = None,
                 retry_failed: bool = False, refs: References | None = None, force: bool = False,
                 clock: Callable[[], str] | None = None, stop: threading.Event | None = None,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.store = store
        # Set by another thread (the TUI quitting, a first ctrl+c): the run ends at the next safe
        # point, between two writes, with nothing half recorded.
        self.stop = stop or threading.Event()
        self.sleep = sleep
        self.retry = RetryPolicy()
        self.force = force
        self.clock = clock or _now
        self.refs = refs
        self.plan = plan
        self.rules = rules
        self.qb = quickbooks
        self.pc = precoro
        self.realm = realm_id
        self.on_result = on_result
        self.retry_failed = retry_failed
        self.who = operator_name()
        self.report = ApplyReport(plan.id)
        self._total = 0
        self._results: dict[str, ActionResult] = {}
        self._run_serial: int | None = None  # taken by this run's first write (W6)
        self._recent_indexes: dict[EntityKind, tuple[dict, dict]] = {}

    # -- bookkeeping ---------------------------------------------------------------------------

    def _result(self, action: Action, status: str, reason: str = "") -> None:
        result = ActionResult(action.id, status, reason, action.name, action.kind, action.target)
        self._results[action.id] = result
        if self.on_result:
            self.on_result(result, len(self._results), self._total)

    def _audit(self, action: Action, status: str, reason: str = "", response: Any = None) -> None:
        if action.kind == "conflict":
            before = {c.field: {"precoro": c.precoro, "quickbooks": c.quickbooks} for c in action.changes}
            after = action.extra["writes"][action.write_target] if action.write_target else {}
        else:
            before = {c.field: c.before for c in action.changes}
            after = {c.field: c.after for c in action.changes}
        self.store.add_audit(
            at=self.clock(), who=self.who, plan_id=self.plan.id, action_id=action.id, entity=action.entity,
            kind=action.kind, target=action.write_target or action.target, precoro_id=action.precoro_id,
            quickbooks_id=action.quickbooks_id, name=action.name, status=status, reason=reason,
            before=before, after=after, response=response,
        )

    # -- the run -------------------------------------------------------------------------------

    def _begin_write(self) -> None:
        """Called inside the transaction of each write: the run's first one takes the next serial,
        which makes every plan made before it superseded (W6)."""
        if self._run_serial is None:
            self._run_serial = self.store.begin_apply_run(self.plan.id, who=self.who, at=self.clock(),
                                                          pid=os.getpid(), host=socket.gethostname())

    def run(self) -> ApplyReport:
        if self.plan.rules_digest != self.rules.digest:
            raise StalePlanError("rules.yaml changed since this plan was made; make a new plan (qbsync plan)")
        if self.plan.realm_id != self.realm:
            raise StalePlanError(
                f"this plan was made for QuickBooks company {self.plan.realm_id}, but {self.realm} is connected")
        later = self.store.applied_since(self.plan)
        if later is not None:
            raise SupersededPlan(
                f"plan {self.plan.id} was made before plan {later['plan_id']} was applied ({later['started_at']}); "
                "what it would write may no longer be right: plan again (qbsync plan). Nothing was written")
        if not self.force:
            self._check_safety()
        try:
            return self._run()
        finally:
            if self._run_serial is not None:
                self.store.finish_apply_run(self._run_serial, "stopped" if self.report.stopped else "finished",
                                            self.clock())

    def _run(self) -> ApplyReport:
        journal = self.store.journal(self.plan.id)
        todo = self._select(journal)
        self._total = len(self.plan.actions)
        self.store.set_plan_state(self.plan.id, "applying")

        for action in todo:
            if action.kind in ("link", "unlink"):
                self._apply_local(action)
        writes = []
        for action in todo:
            if action.kind in ("link", "unlink"):
                continue
            failed = [d for d in action.depends_on if d in self._results and self._results[d].status != "applied"]
            if failed:  # e.g. the link it builds on was refused
                self._result(action, "skipped", f"depends on action {failed[0]}, which was not applied")
            else:
                writes.append(action)
        units = build_units(writes)
        for unit in units:
            if self._settled(unit, journal):
                previous = journal[unit.key]
                status = "applied" if previous["state"] == "done" else previous["state"]
                for action in unit.actions:
                    self._result(action, status, previous.get("last_error") or "")
        pending = [u for u in units if not self._settled(u, journal)]
        try:
            self._apply_quickbooks([u for u in pending if u.side == "quickbooks"])
            self._apply_precoro([u for u in pending if u.side == "precoro"], journal)
        except StopRequested:
            self.report.stopped = ("stopped at your request between two writes; nothing is half recorded. Run the same "
                                   "apply again to finish; nothing will be written twice.")
        except RateLimited as exc:
            self.report.stopped = f"{exc.service} rate limit reached: {exc.message}. Run the same apply again later to finish."
        except ServerError as exc:
            self.report.stopped = f"{exc.service} did not answer ({exc.message}). Run the same apply again to finish; nothing will be written twice."
        for action in self.plan.actions:
            self.report.results.append(self._results.get(action.id) or ActionResult(
                action.id, "pending" if action.executable else "skipped",
                "" if action.executable else self._skip_reason(action), action.name, action.kind, action.target))
        self.store.set_plan_state(self.plan.id, "applied" if self.report.ok else "partial")
        return self.report

    def _check_safety(self) -> None:
        """octoDNS's brake: refuse to rewrite most of a company at once unless the operator forces it."""
        limit = self.rules.safety
        touched: dict[str, set[str]] = {}
        for action in self.plan.actions:
            if action.executable and action.kind in ("update", "deactivate", "conflict") and action.precoro_id:
                touched.setdefault(action.entity, set()).add(action.precoro_id)
        for entity, records in touched.items():
            section = KINDS[entity].section
            linked = self.store.count_links(section, self.realm)
            if linked >= limit.min_linked and len(records) > limit.max_change_share * linked:
                raise SafetyLimitExceeded(
                    f"this plan changes {len(records)} of {linked} linked {section} ({len(records) / linked:.0%}), more "
                    f"than safety.max_change_share ({limit.max_change_share:.0%}) in rules.yaml allows. Read the plan; "
                    "if it is right, apply it with --force")

    def _settled(self, unit: WriteUnit, journal: dict) -> bool:
        previous = journal.get(unit.key)
        if not previous:
            return False
        return previous["state"] in ("done", "refused") or (previous["state"] == "failed" and not self.retry_failed)

    @staticmethod
    def _skip_reason(action: Action) -> str:
        if not action.approved:
            return "not approved"
        if action.kind == "conflict":
            return "skipped by decision" if action.decision == "skip" else "conflict not decided"
        if action.kind == "ambiguous":
            return "several candidates: map it by hand"
        if action.kind == "blocked":
            return action.note
        return ""

    def _select(self, journal: dict) -> list[Action]:
        """Executable actions whose dependencies are executable too."""
        by_id = {a.id: a for a in self.plan.actions}
        chosen = []
        for action in self.plan.actions:
            if not action.executable:
                continue
            missing = [d for d in action.depends_on if d not in by_id or not by_id[d].executable]
            if missing:
                self._result(action, "skipped", f"depends on action {missing[0]}, which is not approved")
                continue
            done = journal.get(f"local:{action.id}")
            if done and done["state"] == "done":
                self._result(action, "applied")
                continue
            chosen.append(action)
        return chosen

    # -- links ---------------------------------------------------------------------------------

    def _apply_local(self, action: Action) -> None:
        kind = KINDS[action.entity]
        with self.store.transaction():
            self._begin_write()
            if action.kind == "link":
                clash = self.store.link_for(kind.section, self.realm, quickbooks_id=action.quickbooks_id)
                if clash and clash["precoro_id"] != action.precoro_id:
                    reason = f"QuickBooks record {action.quickbooks_id} is already linked to Precoro {clash['precoro_id']}"
                    self.store.put_journal(self.plan.id, f"local:{action.id}", side="local", op="link", state="refused", last_error=reason, updated_at=self.clock())
                    self._audit(action, "refused", reason)
                    self._result(action, "refused", reason)
                    return
                self.store.put_link(kind.section, self.realm, action.precoro_id, action.quickbooks_id,
                                    how=action.extra.get("how", "matched"), since=self.clock(),
                                    baseline=action.extra.get("baseline", {}),
                                    active=action.extra.get("active", {"precoro": True, "quickbooks": True}))
            else:
                self.store.remove_link(kind.section, self.realm, action.precoro_id, hold=action.extra.get("hold"),
                                       hold_side=action.extra.get("hold_side", "precoro"),
                                       hold_quickbooks_id=action.extra.get("hold_quickbooks_id"), since=self.clock())
            self.store.put_journal(self.plan.id, f"local:{action.id}", side="local", op=action.kind,
                                    action_ids=[action.id], state="done", updated_at=self.clock())
            self._audit(action, "applied")
        self._result(action, "applied")

    # -- QuickBooks ----------------------------------------------------------------------------

    def _apply_quickbooks(self, units: list[WriteUnit]) -> None:
        by_key = {u.key: u for u in units}
        # First finish batches a previous run sent without seeing the answer: same body, same request id.
        for batch in self.store.open_batches(self.plan.id):
            self._begin_write()
            keys = json.loads(batch["units"])
            ops = [BatchOp(**op) for op in json.loads(batch["body"])]
            self._send_batch(batch["id"], batch["requestid"], ops, [by_key.get(k) for k in keys])
        journal = self.store.journal(self.plan.id)
        remaining = [u for u in units if not self._settled(u, journal)]
        # W10: a create another plan sent without seeing the answer (a crash, then a re-plan) may
        # have landed: look for it by name (or number) first, and link it instead of creating.
        doubtful = self.store.unanswered_elsewhere(self.plan.id, [u.key for u in remaining if u.op == "create"])
        if doubtful:
            found = self._quickbooks_origins([u for u in remaining if u.key in doubtful])
            for unit, obj in found:
                self._created(unit, obj, adopted="found in QuickBooks by its name: an earlier, interrupted apply "
                                                 "created it (W10)")
            adopted = {unit.key for unit, _ in found}
            remaining = [u for u in remaining if u.key not in adopted]
        for start in range(0, len(remaining), QUICKBOOKS_BATCH_SIZE):
            if self.stop.is_set():
                raise StopRequested()
            chunk = remaining[start:start + QUICKBOOKS_BATCH_SIZE]
            ops = [self._quickbooks_op(i, unit) for i, unit in enumerate(chunk)]
            batch_id = uuid.uuid4().hex
            requestid = uuid.uuid4().hex  # <= 36 characters, as batch request ids must be
            with self.store.transaction():
                self._begin_write()
                for unit in chunk:
                    self.store.put_journal(self.plan.id, unit.key, side=unit.side, op=unit.op,
                                            action_ids=[a.id for a in unit.actions], updated_at=self.clock())
                self.store.put_batch(batch_id, self.plan.id, requestid, [asdict(op) for op in ops], [u.key for u in chunk])
            self._send_batch(batch_id, requestid, ops, chunk)

    def _quickbooks_op(self, index: int, unit: WriteUnit) -> BatchOp:
        if unit.body is not None:
            return BatchOp(bid=f"b{index}", operation=unit.op, entity=unit.kind.quickbooks, body=unit.body)
        rules = self.rules.entity(unit.kind.section)
        body = quickbooks_body(rules, unit.fields, unit.base)
        if unit.active is not None:
            body["Active"] = unit.active
        if unit.op == "update":
            body.update({"Id": unit.record_id, "SyncToken": unit.version, "sparse": True})
        return BatchOp(bid=f"b{index}", operation=unit.op, entity=unit.kind.quickbooks, body=body)

    def _send_batch(self, batch_id: str, requestid: str, ops: list[BatchOp], units: list[WriteUnit | None]) -> None:
        outcomes = self.qb.batch(ops, requestid=requestid)
        by_bid = {o.bid: o for o in outcomes}
        taken_names: list[WriteUnit] = []
        for op, unit in zip(ops, units):
            if unit is None:  # the plan no longer asks for it (e.g. it was unapproved after a crash)
                continue
            outcome = by_bid.get(op.bid)
            if outcome is not None and isinstance(outcome.error, DuplicateName) and unit.op == "create":
                taken_names.append(unit)  # perhaps by this very record, created earlier: looked up below
            elif outcome is None or outcome.error is not None:
                self._unit_failed(unit, outcome.error if outcome else ServerError("no answer for this item", service="QuickBooks"))
            else:
                self._created(unit, outcome.obj) if unit.op == "create" else self._updated(unit, outcome.obj)
        if taken_names:
            found = {unit.key: obj for unit, obj in self._quickbooks_origins(taken_names)}
            errors = {u.key: by_bid[op.bid].error for op, u in zip(ops, units) if u is not None and op.bid in by_bid}
            for unit in taken_names:
                if unit.key in found:
                    self._created(unit, found[unit.key], adopted="QuickBooks already had it under this name, unlinked: "
                                                                 "linked instead of created (W10)")
                else:
                    self._unit_failed(unit, errors[unit.key])
        self.store.close_batch(batch_id)

    def _quickbooks_origins(self, units: list[WriteUnit]) -> list[tuple[WriteUnit, dict]]:
        """The records QuickBooks already holds for these creates: same entity, same name (a
        vendor: same currency too), not linked to anything. Documents are matched by DocNumber and
        vendor. One query per entity and up to 100 names."""
        found: list[tuple[WriteUnit, dict]] = []
        by_entity: dict[EntityKind, list[tuple[WriteUnit, str]]] = {}
        for unit in units:
            body = self._quickbooks_op(0, unit).body
            name = get_path(body, unit.kind.quickbooks_name) if isinstance(body, dict) else None
            if isinstance(name, str) and name:
                by_entity.setdefault(unit.kind, []).append((unit, name))
        for kind, wanted in by_entity.items():
            existing: dict[str, list[dict]] = {}
            for start in range(0, len(wanted), 100):
                names = ", ".join(quote(name) for _, name in wanted[start:start + 100])
                for row in self.qb.query_all(kind.quickbooks, f"{kind.quickbooks_name} IN ({names})"):
                    existing.setdefault(str(row.get(kind.quickbooks_name)).casefold(), []).append(row)
            for unit, name in wanted:
                for row in existing.get(name.casefold(), []):
                    if self._adoptable(unit, row):
                        found.append((unit, row))
                        break
        return found

    def _adoptable(self, unit: WriteUnit, row: dict) -> bool:
        if self.store.link_for(unit.kind.section, self.realm, quickbooks_id=str(row["Id"])):
            return False  # it is another record's counterpart
        if unit.kind in DOCUMENTS:
            body = unit.body or {}
            return get_path(row, "VendorRef.value") == get_path(body, "VendorRef.value")
        if row.get("Active") is False:
            return False
        currency = unit.fields.get("currency")
        return not currency or get_path(row, "CurrencyRef.value") in (None, currency)

    def _created(self, unit: WriteUnit, obj: dict, adopted: str = "") -> None:
        """A create's outcome on either side: `obj` is the new record, or (`adopted`, W10) the one
        found there instead. An adopted record's fields are remembered as agreed only where they
        equal the other side's: the next plan merges the rest like any newly linked pair."""
        side = unit.side
        with self.store.transaction():
            if unit.kind in DOCUMENTS:  # sent once: the link is what says so (D1)
                self.store.put_link(unit.kind.section, self.realm, unit.precoro_id, str(obj["Id"]), how="created",
                                    since=self.clock(), baseline={}, active={})
            elif unit.kind in LISTS:
                self.store.put_link(unit.kind.section, self.realm, str(obj["id"]), unit.quickbooks_id,
                                    how="adopted" if adopted else "created", since=self.clock(), baseline={}, active={})
            else:
                rules = self.rules.entity(unit.kind.section)
                to_record = quickbooks_record if side == "quickbooks" else precoro_record
                written = to_record(unit.kind, rules, obj, self.refs)
                source = other_side(side)
                baseline = {}
                for rule in rules.fields:
                    value = written.values.get(rule.name)
                    if adopted and value != unit.fields.get(rule.name):
                        continue
                    baseline[rule.name] = {side: value, source: unit.sources.get(rule.name)}
                precoro_id, quickbooks_id = (unit.precoro_id, written.id) if side == "quickbooks" else (written.id, unit.quickbooks_id)
                self.store.put_link(unit.kind.section, self.realm, precoro_id, quickbooks_id,
                                    how="adopted" if adopted else "created", since=self.clock(), baseline=baseline,
                                    active={side: written.active, source: True})
            self.store.put_journal(self.plan.id, unit.key, side=side, op=unit.op, state="done",
                                   action_ids=[a.id for a in unit.actions], last_error=adopted or None,
                                   updated_at=self.clock())
            for action in unit.actions:
                self._audit(action, "applied", adopted, response=obj)
        for action in unit.actions:
            self._result(action, "applied", adopted)

    def _updated(self, unit: WriteUnit, obj: dict) -> None:
        """An update's outcome on either side: the fields written become the link's new baseline."""
        side, source = unit.side, other_side(unit.side)
        with self.store.transaction():
            if unit.kind not in LISTS:
                rules = self.rules.entity(unit.kind.section)
                to_record = quickbooks_record if side == "quickbooks" else precoro_record
                written = to_record(unit.kind, rules, obj, self.refs)
                fields = {name: {side: written.values.get(name), source: unit.sources.get(name, written.values.get(name))}
                          for name in unit.fields}
                active = {"precoro": written.active, "quickbooks": written.active} if unit.active is not None else None
                self.store.update_baseline(unit.kind.section, self.realm, unit.precoro_id, fields, active)
            self.store.put_journal(self.plan.id, unit.key, side=side, op=unit.op, state="done",
                                   action_ids=[a.id for a in unit.actions], updated_at=self.clock())
            for action in unit.actions:
                self._audit(action, "applied", response=obj)
        for action in unit.actions:
            self._result(action, "applied")

    def _unit_failed(self, unit: WriteUnit, error: ApiError) -> None:
        if isinstance(error, StaleObject):
            status = "refused"
            reason = f"changed in {error.service} since the plan was made (W2): make a new plan. {error}"
        else:
            status = "failed"
            reason = str(error)
        with self.store.transaction():
            self.store.put_journal(self.plan.id, unit.key, side=unit.side, op=unit.op, state=status,
                                   action_ids=[a.id for a in unit.actions], last_error=reason, updated_at=self.clock(),
                                   fingerprint=unit.fingerprint())
            for action in unit.actions:
                self._audit(action, status, reason)
        for action in unit.actions:
            self._result(action, status, reason)

    # -- Precoro -------------------------------------------------------------------------------

    def _apply_precoro(self, units: list[WriteUnit], journal: dict) -> None:
        if not units:
            return
        # One list read per entity of what changed in Precoro since the plan: an updated record is
        # checked against it (W2), and a create against what appeared meanwhile (W10).
        recent = self._precoro_changed_since_plan({u.kind for u in units if u.kind not in LISTS})
        unanswered = 0
        for unit in units:
            if self.stop.is_set():
                raise StopRequested()
            state = journal.get(unit.key, {}).get("state")
            current = recent.get((unit.kind.precoro, unit.record_id))
            if unit.op == "update" and state != "sent" and current is not None and str(current.get("updateDate")) != unit.version:
                self._unit_failed(unit, StaleObject("the record was edited in Precoro after the plan", service="Precoro"))
                continue
            if unit.op == "create" and unit.kind not in LISTS:
                found, problem = self._precoro_origin(unit, recent)
                if problem:
                    self._unit_failed(unit, StaleObject(problem, service="Precoro"))
                    continue
                if found is not None:
                    self._created(unit, found, adopted="found in Precoro " + (
                        "by its externalId: an earlier, interrupted apply created it" if str(found.get("externalId")) ==
                        unit.quickbooks_id else "under the same name, created since the plan: linked instead") + " (W10)")
                    continue
            with self.store.transaction():
                self._begin_write()
                self.store.put_journal(self.plan.id, unit.key, side=unit.side, op=unit.op, state="sent",
                                       action_ids=[a.id for a in unit.actions], updated_at=self.clock())
            try:
                obj = self._precoro_write_retried(unit, recovering=state == "sent")
            except ServerError as exc:
                # Still no answer: what it did is unknown, so the journal keeps it "sent" and the next
                # run looks before it writes again. Several in a row: Precoro is down, stop here.
                unanswered += 1
                for action in unit.actions:
                    self._result(action, "failed", f"{exc}; the next apply checks whether it was written")
                if unanswered >= UNANSWERED_IN_A_ROW:
                    raise
                continue
            except RateLimited:
                raise
            except ApiError as exc:
                self._unit_failed(unit, exc)
                continue
            unanswered = 0
            self._created(unit, obj) if unit.op == "create" else self._updated(unit, obj)

    def _precoro_write_retried(self, unit: WriteUnit, *, recovering: bool) -> dict:
        """The write, sent again after a 5xx or a lost answer (W3): every attempt after one whose
        outcome is unknown first looks for what it may have done (a create by its externalId)."""
        attempts = [recovering]

        def attempt() -> dict:
            try:
                return self._precoro_write(unit, recovering=attempts[-1])
            finally:
                attempts.append(True)

        return self.retry.run(attempt, retryable=lambda error: isinstance(error, ServerError), sleep=self.sleep,
                              label=f"Precoro {unit.op} {unit.name!r}")

    def _precoro_origin(self, unit: WriteUnit, recent: dict[tuple[str, str], dict]) -> tuple[dict | None, str | None]:
        """W10: a Precoro record this create would duplicate, among those changed since the plan.

        Ours (its externalId is this record's QuickBooks id) or one somebody created meanwhile under
        the same match key; either only when not linked to anything. Two of the latter: refused.
        """
        by_origin, by_key = self._recent_index(unit.kind, recent)
        free = [raw for raw in by_origin.get(str(unit.quickbooks_id), [])
                if not self.store.link_for(unit.kind.section, self.realm, precoro_id=str(raw["id"]))]
        if free:
            return min(free, key=lambda raw: int(raw["id"])), None
        rules = self.rules.entity(unit.kind.section)
        same = [raw for raw in by_key.get(_match_key(rules, unit.fields), [])
                if not self.store.link_for(unit.kind.section, self.realm, precoro_id=str(raw["id"]))]
        if len(same) > 1:
            return None, (f"{len(same)} Precoro records with the same {' and '.join(rules.match.keys)} appeared since the "
                          "plan was made: plan again to choose")
        return (same[0] if same else None), None

    def _recent_index(self, kind: EntityKind, recent: dict[tuple[str, str], dict]):
        """The records of `kind` changed since the plan, by externalId and by match key (built once)."""
        if kind not in self._recent_indexes:
            rules = self.rules.entity(kind.section)
            by_origin: dict[str, list[dict]] = {}
            by_key: dict[tuple, list[dict]] = {}
            for (path, _), raw in recent.items():
                if path != kind.precoro:
                    continue
                if raw.get("externalId") not in (None, ""):
                    by_origin.setdefault(str(raw["externalId"]), []).append(raw)
                key = _match_key(rules, precoro_record(kind, rules, raw, self.refs).values)
                if key is not None:
                    by_key.setdefault(key, []).append(raw)
            self._recent_indexes[kind] = (by_origin, by_key)
        return self._recent_indexes[kind]

    def _precoro_changed_since_plan(self, kinds: set[EntityKind]) -> dict[tuple[str, str], dict]:
        """One list read per entity instead of one GET per record (W2)."""
        created = datetime.fromisoformat(self.plan.created_at)
        # A day of margin: the remote's clock and time zone are not ours; versions are compared exactly.
        since = (created - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%S")
        found = {}
        for kind in kinds:
            for raw in self.pc.list_all(kind.precoro, modified_since=since):
                found[(kind.precoro, str(raw["id"]))] = raw
        return found

    def _precoro_write(self, unit: WriteUnit, *, recovering: bool) -> dict:
        if unit.request is not None:
            return self._precoro_request(unit, recovering=recovering)
        rules = self.rules.entity(unit.kind.section)
        form, lists = precoro_form(rules, unit.fields, self.refs)
        if unit.active is not None:
            form["enable"] = unit.active
        path = unit.kind.precoro
        if unit.op == "create":
            existing = None
            if recovering:  # the create may have happened before the crash: find it by our external id
                existing = next(iter(self.pc.list_all(path, params={"external_id": [unit.quickbooks_id]})), None)
            if existing is None:
                form["externalId"] = unit.quickbooks_id
                currency = form.get("currency")
                if currency and "currencies" not in form:
                    form["currencies"] = [currency]
                existing = self.pc.create(path, form)
            obj = existing
        else:
            obj = self.pc.update(f"{path}/{unit.record_id}", form) if form else None
        record_id = str(obj["id"]) if obj else unit.record_id
        for _name, (collection, attribute, wanted) in lists.items():
            self._sync_sub_resources(f"{path}/{record_id}", collection, attribute, wanted, obj if unit.op == "create" and not recovering else None)
        if obj is None or lists:
            obj = self.pc.get(f"{path}/{record_id}")
        return obj

    def _precoro_request(self, unit: WriteUnit, *, recovering: bool) -> dict:
        """A list option: created with the QuickBooks id as externalId, or renamed."""
        path, form = unit.request["path"], unit.request["form"]
        if unit.op == "update":
            return self.pc.update(path, form)
        if recovering:
            found = next(iter(self.pc.list_all(path, params={"external_id": [unit.quickbooks_id]})), None)
            if found is not None:
                return found
        return self.pc.create(path, {**form, "externalId": unit.quickbooks_id})

    def _sync_sub_resources(self, path: str, collection: str, attribute: str, wanted: list, known: dict | None) -> None:
        """Make the sub-resources (contacts) hold exactly `wanted`, in order (S3)."""
        current_obj = known if known is not None else self.pc.get(path)
        current = current_obj.get(collection) or []
        if isinstance(current, dict):
            current = current.get("data") or []
        have = {str(item.get(attribute) or "").strip().casefold(): item for item in current}
        wanted_keys = [str(v).strip().casefold() for v in wanted]
        for key, item in have.items():
            if key not in wanted_keys:
                self.pc.delete(f"{path}/{collection}/{item['id']}")
        for value, key in zip(wanted, wanted_keys):
            if key not in have:
                self.pc.create(f"{path}/{collection}", {attribute: value, "name": str(value).split("@")[0]})


def _match_key(rules, values: dict[str, Any]) -> tuple[str, ...] | None:
    """The matching rule's key of a record's canonical values (S7), or None when one is blank."""
    parts = []
    for key in rules.match.keys:
        value = values.get(key)
        if value in (None, "", ()):
            return None
        parts.append(normalize_key(",".join(map(str, value)) if isinstance(value, (list, tuple)) else value,
                                   rules.match.normalize))
    return tuple(parts)


def apply_plan(store: Store, plan: Plan, rules: Rules, quickbooks, precoro, *, realm_id: str,
               on_result: Callable[[ActionResult, int, int], None] | None = None, retry_failed: bool = False,
               refs: References | None = None, force: bool = False, clock: Callable[[], str] | None = None,
               stop: threading.Event | None = None) -> ApplyReport:
    return Applier(store, plan, rules, quickbooks, precoro, realm_id=realm_id, on_result=on_result, stop=stop,
                   retry_failed=retry_failed, refs=refs, force=force, clock=clock).run()
