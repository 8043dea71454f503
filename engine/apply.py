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
import json
import os
import socket
import uuid
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Callable

from rules.model import Rules, Side, other_side

from .clients.errors import ApiError, RateLimited, ServerError, StaleObject
from .clients.quickbooks import BatchOp
from .entities import DOCUMENTS, KINDS, LISTS, EntityKind, precoro_form, precoro_record, quickbooks_body, quickbooks_record
from .plan import Action, Plan
from .references import References
from .store import Store

QUICKBOOKS_BATCH_SIZE = 30


class StalePlanError(Exception):
    """The plan no longer fits the rules or the company it was made for: make a new one."""


class SupersededPlan(StalePlanError):
    """Another plan was applied after this one was made (W6): its view of the state is out of date."""


class SafetyLimitExceeded(Exception):
    """The plan changes a larger share of linked records than rules.yaml's `safety` allows."""


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
                 clock: Callable[[], str] | None = None) -> None:
        self.store = store
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
        for start in range(0, len(remaining), QUICKBOOKS_BATCH_SIZE):
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
        for op, unit in zip(ops, units):
            if unit is None:  # the plan no longer asks for it (e.g. it was unapproved after a crash)
                continue
            outcome = by_bid.get(op.bid)
            if outcome is None or outcome.error is not None:
                self._unit_failed(unit, outcome.error if outcome else ServerError("no answer for this item", service="QuickBooks"))
            else:
                self._quickbooks_done(unit, outcome.obj)
        self.store.close_batch(batch_id)

    def _quickbooks_done(self, unit: WriteUnit, obj: dict) -> None:
        with self.store.transaction():
            if unit.kind in DOCUMENTS:  # sent once: the link is what says so (D1)
                self.store.put_link(unit.kind.section, self.realm, unit.precoro_id, str(obj["Id"]), how="created",
                                    since=self.clock(), baseline={}, active={})
            elif unit.op == "create":
                rules = self.rules.entity(unit.kind.section)
                written = quickbooks_record(unit.kind, rules, obj, self.refs)
                baseline = {r.name: {"precoro": unit.sources.get(r.name), "quickbooks": written.values.get(r.name)} for r in rules.fields}
                self.store.put_link(unit.kind.section, self.realm, unit.precoro_id, written.id, how="created",
                                    since=self.clock(), baseline=baseline, active={"precoro": True, "quickbooks": written.active})
            else:
                rules = self.rules.entity(unit.kind.section)
                written = quickbooks_record(unit.kind, rules, obj, self.refs)
                fields = {name: {"precoro": unit.sources.get(name, written.values.get(name)), "quickbooks": written.values.get(name)}
                          for name in unit.fields}
                active = {"precoro": written.active, "quickbooks": written.active} if unit.active is not None else None
                self.store.update_baseline(unit.kind.section, self.realm, unit.precoro_id, fields, active)
            self.store.put_journal(self.plan.id, unit.key, side=unit.side, op=unit.op, state="done",
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
                                    action_ids=[a.id for a in unit.actions], last_error=reason, updated_at=self.clock())
            for action in unit.actions:
                self._audit(action, status, reason)
        for action in unit.actions:
            self._result(action, status, reason)

    # -- Precoro -------------------------------------------------------------------------------

    def _apply_precoro(self, units: list[WriteUnit], journal: dict) -> None:
        if not units:
            return
        # Only records this apply updates can be stale; creates and list options need no check.
        changed = self._precoro_changed_since_plan({u.kind for u in units if u.op == "update" and u.kind not in LISTS})
        for unit in units:
            state = journal.get(unit.key, {}).get("state")
            current = changed.get((unit.kind.precoro, unit.record_id))
            if unit.op == "update" and state != "sent" and current is not None and str(current.get("updateDate")) != unit.version:
                self._unit_failed(unit, StaleObject("the record was edited in Precoro after the plan", service="Precoro"))
                continue
            with self.store.transaction():
                self._begin_write()
                self.store.put_journal(self.plan.id, unit.key, side=unit.side, op=unit.op, state="sent",
                                       action_ids=[a.id for a in unit.actions], updated_at=self.clock())
            try:
                obj = self._precoro_write(unit, recovering=state == "sent")
            except (RateLimited, ServerError):
                raise
            except ApiError as exc:
                self._unit_failed(unit, exc)
                continue
            self._precoro_done(unit, obj)

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

    def _precoro_done(self, unit: WriteUnit, obj: dict) -> None:
        with self.store.transaction():
            if unit.kind in LISTS:
                if unit.op == "create":
                    self.store.put_link(unit.kind.section, self.realm, str(obj["id"]), unit.quickbooks_id,
                                        how="created", since=self.clock(), baseline={}, active={})
            elif unit.op == "create":
                rules = self.rules.entity(unit.kind.section)
                written = precoro_record(unit.kind, rules, obj, self.refs)
                baseline = {r.name: {"precoro": written.values.get(r.name), "quickbooks": unit.sources.get(r.name)} for r in rules.fields}
                self.store.put_link(unit.kind.section, self.realm, written.id, unit.quickbooks_id, how="created",
                                    since=self.clock(), baseline=baseline, active={"precoro": written.active, "quickbooks": True})
            else:
                rules = self.rules.entity(unit.kind.section)
                written = precoro_record(unit.kind, rules, obj, self.refs)
                fields = {name: {"precoro": written.values.get(name), "quickbooks": unit.sources.get(name, written.values.get(name))}
                          for name in unit.fields}
                active = {"precoro": written.active, "quickbooks": written.active} if unit.active is not None else None
                self.store.update_baseline(unit.kind.section, self.realm, unit.precoro_id, fields, active)
            self.store.put_journal(self.plan.id, unit.key, side=unit.side, op=unit.op, state="done",
                                    action_ids=[a.id for a in unit.actions], updated_at=self.clock())
            for action in unit.actions:
                self._audit(action, "applied", response=obj)
        for action in unit.actions:
            self._result(action, "applied")


def apply_plan(store: Store, plan: Plan, rules: Rules, quickbooks, precoro, *, realm_id: str,
               on_result: Callable[[ActionResult, int, int], None] | None = None, retry_failed: bool = False,
               refs: References | None = None, force: bool = False, clock: Callable[[], str] | None = None) -> ApplyReport:
    return Applier(store, plan, rules, quickbooks, precoro, realm_id=realm_id, on_result=on_result,
                   retry_failed=retry_failed, refs=refs, force=force, clock=clock).run()
