"""Carry out the approved actions of a saved plan, exactly once (W1-W4), sending the writes the plan holds.

The approved actions are folded into write units, one per remote record, so a record touched by an
update and a decided conflict gets one write against the version the plan saw. Apply reads no
rules: each action carries its request (`plan.Write`); only the ids of records created earlier in
the same apply are filled in, so a first sync is one plan and one apply.

QuickBooks units go in batches of up to 30; each batch is stored with its `requestid` before it is
sent, so after a crash the same request is sent again and QuickBooks answers with the first
response instead of writing twice. Precoro has no request ids: a create is marked right after with
its origin (the QuickBooks id) as `externalId`, set by PATCH (Precoro refuses it on POST), and a
create whose outcome is unknown is looked up by it, or by its name when the PATCH did not happen,
before it is sent again.
Every outcome, with its link, baseline and audit row, is committed in one transaction.
"""

from __future__ import annotations

import contextvars
import getpass
import json
import logging
import os
import socket
import threading
import time
import uuid
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Iterator

from rules.model import Rules, other_side
from rules.transforms import REFERENCE_TRANSFORMS, TRANSFORMS, canonical_scalar

from . import attachments
from .budgets import QUICKBOOKS_BATCH_SIZE, QUICKBOOKS_IN_FLIGHT
from .clients import precoro_contract as contract
from .clients.errors import ApiError, DuplicateName, RateLimited, ServerError, StaleObject
from .clients.precoro import record_key
from .clients.quickbooks import BatchOp, BatchOutcome, quote
from .documents import sent_baseline
from .clients.retry import RetryPolicy, stopped_by
from .entities import BY_KIND, BY_SECTION
from .errors import Interrupted, SafetyLimitExceeded, StalePlanError, SupersededPlan
from .mirror import OVERLAP
from .payments import amount_and_day
from .plan import Action, Plan
from .policy import braked
from .records import DELETED_SUFFIX, get_path
from .store import Store
from .targets import name_key
from .writes import Unresolved, WriteUnit, build_units, precoro_form, quickbooks_body, resolve, waits_of

log = logging.getLogger(__name__)

# Precoro writes that met no answer even after their retries, one after another: the service is down.
UNANSWERED_IN_A_ROW = 3
# Links and unlinks committed together (they write only the state file).
LINKS_PER_COMMIT = 500


class StopRequested(Interrupted):
    """The operator asked the apply to stop, heard between two writes. (Heard while a request waits
    to be sent again, it is the clients' Interrupted: the apply ends the same way for both.)"""


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
    resume_at: str | None = None  # when it can go on, when a daily cap stopped it (UTC, ISO 8601)
    # D8: what became of each document file sent ({"file", "status": uploaded|skipped|failed,
    # "reason"}); a file never fails its document, so these do not count in `ok`.
    attachments: list[dict[str, str]] = field(default_factory=list)
    # Every action it would carry out was applied already, by `applied_by` (the last apply run of
    # the plan: who, started_at, ...), often another qbsync this one waited for: nothing was run.
    already_applied: bool = False
    applied_by: dict[str, Any] | None = None

    def already_said(self) -> str:
        by = self.applied_by or {}
        who = f" by {by['who']} (started {by['started_at']})" if by.get("who") else ""
        return f"Plan {self.plan_id} was already applied{who}; nothing to do."

    @property
    def ok(self) -> bool:
        return self.stopped is None and all(r.status in ("applied", "skipped") for r in self.results)

    def counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for result in self.results:
            counts[result.status] = counts.get(result.status, 0) + 1
        return counts

    def to_json(self, results: bool = True) -> dict[str, Any]:
        """As JSON; without `results`, its place is kept (None) for the caller to write them."""
        return {"plan_id": self.plan_id, "results": [r.to_json() for r in self.results] if results else None,
                "counts": self.counts(), "stopped": self.stopped, "resume_at": self.resume_at,
                "attachments": self.attachments, "already_applied": self.already_applied,
                "applied_by": self.applied_by}


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def operator_name() -> str:
    return os.environ.get("QBSYNC_OPERATOR") or getpass.getuser()


class Applier:
    """One apply run over one saved plan."""

    def __init__(self, store: Store, plan: Plan, rules: Rules, quickbooks, precoro, *, realm_id: str,
                 on_result: Callable[[ActionResult, int, int], None] | None = None,
                 retry_failed: bool = False, force: bool = False,
                 clock: Callable[[], str] | None = None, stop: threading.Event | None = None,
                 sleep: Callable[[float], None] = time.sleep, until_done: bool = False,
                 on_cap: Callable[[str, float], None] | None = None) -> None:
        self.store = store
        self.until_done = until_done  # wait for Precoro's daily cap too, instead of stopping at it
        self.on_cap = on_cap  # (what is waited for, seconds left), about once a second while waiting
        # Set by another thread (the TUI quitting, a first ctrl+c): the run ends at the next safe
        # point, between two writes, with nothing half recorded. A write waiting to be sent again
        # (a retry's backoff, a server's Retry-After of up to two minutes) stops waiting at once: it
        # stays in the journal as sent (a batch, open), so the next run sends it again under the
        # same requestid, or looks for it in Precoro first, as after a crash.
        self.stop = stop or threading.Event()
        self.sleep = sleep
        self.retry = RetryPolicy()
        self.force = force
        self.clock = clock or _now
        self.plan = plan
        self.rules = rules  # only to check the plan was made under these rules, and for the safety brake
        self.qb = quickbooks
        self.pc = precoro
        self.realm = realm_id
        self.on_result = on_result
        self.retry_failed = retry_failed
        self.who = operator_name()
        self.report = ApplyReport(plan.id)
        self._total = 0
        self._results: dict[str, ActionResult] = {}
        self._created: dict[str, str] = {}  # action id -> the id of the record it created (placeholders)
        self._run_serial: int | None = None  # taken by this run's first write (W6)
        self._recent_indexes: dict[str, tuple[dict, dict]] = {}
        self._to_mark: list[tuple[str, str, str]] = []  # documents sent, to mark in Precoro (D3)
        self._create_sent_at: dict[str, datetime | None] = {}  # unit -> Precoro's time before its create

    # -- bookkeeping ---------------------------------------------------------------------------

    def _result(self, action: Action, status: str, reason: str = "") -> None:
        result = ActionResult(action.id, status, reason, action.name, action.kind, action.target)
        self._results[action.id] = result
        action.drop_details()  # its outcome is recorded: nothing of this run reads them again
        if self.on_result:
            self.on_result(result, len(self._results), self._total)

    def _audit(self, action: Action, status: str, reason: str = "", response: Any = None,
               created: tuple[str, str] | None = None) -> None:
        """`created`: the (Precoro id, QuickBooks id) pair a create made, so that its row names both."""
        if action.kind == "conflict":
            before = {c.field: {"precoro": c.precoro, "quickbooks": c.quickbooks} for c in action.changes}
            after = {c.field: getattr(c, action.decision) for c in action.changes} if action.write_target else {}
        else:
            before = {c.field: c.before for c in action.changes}
            after = {c.field: c.after for c in action.changes}
        self.store.add_audit(
            at=self.clock(), who=self.who, plan_id=self.plan.id, action_id=action.id, entity=action.entity,
            kind=action.kind, target=action.write_target or action.target,
            precoro_id=created[0] if created else action.precoro_id,
            quickbooks_id=created[1] if created else action.quickbooks_id, name=action.name, status=status, reason=reason,
            before=before, after=after, response=response,
        )

    def _begin_write(self) -> None:
        """Called inside the transaction of each write: the run's first one takes the next serial,
        which makes every plan made before it superseded (W6)."""
        if self._run_serial is None:
            self._run_serial = self.store.begin_apply_run(self.plan.id, who=self.who, at=self.clock(),
                                                          pid=os.getpid(), host=socket.gethostname())

    def _created_id(self, action_id: str) -> str | None:
        return self._created.get(action_id)

    # -- the run -------------------------------------------------------------------------------

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
        # What on_result counts to: the actions this run carries out (the rest are reported as
        # skipped at the end, all at once).
        self._total = sum(1 for action in self.plan.actions if action.executable)
        todo = self._select(journal)
        self.store.set_plan_state(self.plan.id, "applying")
        for row in journal.values():  # what earlier runs of this plan created: placeholders resolve to it
            for action_id in json.loads(row.get("action_ids") or "[]"):
                if row.get("created_id"):
                    self._created[action_id] = row["created_id"]

        self._apply_links([a for a in todo if a.kind in ("link", "unlink")])
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
        for action in writes:  # each unit holds what it sends; the audit reads an action's changes again
            action.drop_details()
        for unit in units:
            if self._settled(unit, journal):
                previous = journal[unit.key]
                status = "applied" if previous["state"] == "done" else previous["state"]
                for action in unit.actions:
                    self._result(action, status, previous.get("last_error") or "")
        pending = [u for u in units if not self._settled(u, journal)]
        try:
            with stopped_by(self.stop):
                self._in_waves(pending, journal)
                # D8: the files of the documents created (by this run or an earlier one that stopped).
                self.report.attachments += attachments.send_pending(
                    self.store, self.realm, self.qb, self.pc, within_caps=self._within_caps, clock=self.clock)
        except Interrupted:  # StopRequested, or a retry's wait ended by the stop
            self.report.stopped = ("stopped at your request between two writes; nothing is half recorded. Run the same "
                                   "apply again to finish; nothing will be written twice.")
        except RateLimited as exc:
            resume = exc.resume_at()
            if resume is not None:
                self.report.resume_at = resume.isoformat(timespec="seconds")
                self.report.stopped = (
                    f"{exc.limit_name} is reached; it can go on at {resume:%Y-%m-%d %H:%M} UTC. Run the same apply "
                    "again then (or `qbsync apply --until-done`, which waits); nothing will be written twice.")
            else:
                self.report.stopped = f"{exc.service} rate limit reached: {exc.message}. Run the same apply again later to finish."
        except ServerError as exc:
            self.report.stopped = f"{exc.service} did not answer ({exc.message}). Run the same apply again to finish; nothing will be written twice."
        for action in self.plan.actions:
            self.report.results.append(self._results.get(action.id) or ActionResult(
                action.id, "pending" if action.executable else "skipped",
                "" if action.executable else self._skip_reason(action), action.name, action.kind, action.target))
            action.drop_details()
        self.store.set_plan_state(self.plan.id, "applied" if self.report.ok else "partial")
        return self.report

    def _in_waves(self, pending: list[WriteUnit], journal: dict) -> None:
        """Send what can go now, then what waited for it: a write that refers to a record created in
        this apply goes once that record exists, in a later batch."""
        first = True
        while pending:
            ready, waiting = [], []
            for unit in pending:
                waits = [a for a in self._waits(unit) if a not in self._created]
                gone = [a for a in waits if a in self._results and self._results[a].status != "applied"]
                if gone:
                    for action in unit.actions:
                        self._result(action, "skipped", f"depends on action {gone[0]}, which was not applied")
                elif waits:
                    waiting.append(unit)
                else:
                    ready.append(unit)
            if not ready:
                for unit in waiting:
                    for action in unit.actions:
                        self._result(action, "skipped", "depends on a record this apply did not create")
                return
            self._apply_quickbooks([u for u in ready if u.side == "quickbooks"], resend_open=first)
            self._mark_documents()
            self._apply_precoro([u for u in ready if u.side == "precoro"], journal)
            first = False
            pending = waiting

    @staticmethod
    def _waits(unit: WriteUnit) -> list[str]:
        return waits_of(unit.write.values)

    def _check_safety(self) -> None:
        """octoDNS's brake: refuse to rewrite most of a company at once unless the operator forces it."""
        limit = self.rules.safety
        for section, (changed, linked) in braked(self.plan.actions, limit,
                                                 lambda section: self.store.count_links(section, self.realm)).items():
            raise SafetyLimitExceeded(
                f"this plan changes {changed} of {linked} linked {section} ({changed / linked:.0%}), more "
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

    def _apply_links(self, actions: list[Action]) -> None:
        """Links and unlinks touch only the state file, so many share one commit: a commit waits for
        the disk (a first sync of 100,000 matched records is 200,000 links). Results are told once
        their commit is done."""
        for start in range(0, len(actions), LINKS_PER_COMMIT):
            outcomes = []
            with self.store.transaction():
                self._begin_write()
                for action in actions[start:start + LINKS_PER_COMMIT]:
                    outcomes.append((action, self._apply_link(action)))
            for action, refused in outcomes:
                self._result(action, "refused" if refused else "applied", refused)

    def _apply_link(self, action: Action) -> str:
        """One link or unlink, inside the caller's transaction; returns why it was refused, or ""."""
        section = BY_KIND[action.entity].section
        if action.kind == "link":
            clash = self.store.link_for(section, self.realm, quickbooks_id=action.quickbooks_id)
            if clash and clash["precoro_id"] != action.precoro_id:
                reason = f"QuickBooks record {action.quickbooks_id} is already linked to Precoro {clash['precoro_id']}"
                self.store.put_journal(self.plan.id, f"local:{action.id}", side="local", op="link", state="refused",
                                       last_error=reason, updated_at=self.clock())
                self._audit(action, "refused", reason)
                return reason
            facts = action.link
            self.store.put_link(section, self.realm, action.precoro_id, action.quickbooks_id,
                                how=facts.how if facts else "matched", since=self.clock(),
                                baseline=facts.baseline if facts else {},
                                active=facts.active if facts and facts.active else {"precoro": True, "quickbooks": True})
        else:
            hold = action.hold
            self.store.remove_link(section, self.realm, action.precoro_id, hold=hold.reason if hold else None,
                                   hold_side=hold.side if hold else "precoro",
                                   hold_quickbooks_id=hold.other_id if hold and hold.side == "precoro" else None,
                                   since=self.clock())
        self.store.put_journal(self.plan.id, f"local:{action.id}", side="local", op=action.kind,
                               action_ids=[action.id], state="done", updated_at=self.clock())
        self._audit(action, "applied")
        return ""

    # -- QuickBooks ----------------------------------------------------------------------------

    def _apply_quickbooks(self, units: list[WriteUnit], *, resend_open: bool) -> None:
        by_key = {u.key: u for u in units}
        if resend_open:
            # First finish batches a previous run sent without seeing the answer: same body, same request id.
            self._send_batches(
                (batch["id"], batch["requestid"], [BatchOp(**op) for op in json.loads(batch["body"])],
                 [by_key.get(k) for k in json.loads(batch["units"])])
                for batch in self.store.open_batches(self.plan.id))
        journal = self.store.journal(self.plan.id)
        remaining = [u for u in units if not self._settled(u, journal)]
        # W10: a create another plan sent without seeing the answer (a crash, then a re-plan) may
        # have landed: look for it by name (or number) first, and link it instead of creating.
        doubtful = self.store.unanswered_elsewhere(self.plan.id, [u.key for u in remaining if u.op == "create"])
        # D3: a document may be in the books though this state file does not know it (a lost state
        # file, a second install): every document is looked for by its number and vendor first.
        doubtful |= {u.key for u in remaining if u.op == "create" and BY_KIND[u.entity].planned == "documents"}
        if doubtful:
            found = self._quickbooks_origins([u for u in remaining if u.key in doubtful])
            for unit, obj in found:
                self._created_unit(unit, obj, adopted=(
                    "found in QuickBooks by its number and vendor: sent before (D3)"
                    if BY_KIND[unit.entity].planned == "documents"
                    else "found in QuickBooks by its name: an earlier, interrupted apply created it (W10)"))
            adopted = {unit.key for unit, _ in found}
            remaining = [u for u in remaining if u.key not in adopted]
        self._send_batches(self._new_batch(remaining[start:start + QUICKBOOKS_BATCH_SIZE])
                           for start in range(0, len(remaining), QUICKBOOKS_BATCH_SIZE))

    def _new_batch(self, chunk: list[WriteUnit]) -> tuple[str, str, list[BatchOp], list[WriteUnit | None]]:
        """Journal a batch before it is sent, so a crash leaves it open and the next run resends it
        under the same request id."""
        ops = [BatchOp(bid=f"b{index}", operation=unit.op, entity=unit.write.collection,
                       body=quickbooks_body(unit.write, self._created_id)) for index, unit in enumerate(chunk)]
        batch_id = uuid.uuid4().hex
        requestid = uuid.uuid4().hex  # <= 36 characters, as batch request ids must be
        with self.store.transaction():
            self._begin_write()
            for unit in chunk:
                self.store.put_journal(self.plan.id, unit.key, side=unit.side, op=unit.op,
                                       action_ids=[a.id for a in unit.actions], updated_at=self.clock())
            self.store.put_batch(batch_id, self.plan.id, requestid, [asdict(op) for op in ops], [u.key for u in chunk])
        return batch_id, requestid, ops, list(chunk)

    def _send_batches(self, batches: Iterator[tuple[str, str, list[BatchOp], list[WriteUnit | None]]]) -> None:
        """Up to QUICKBOOKS_IN_FLIGHT batches at once: with real batch latencies (1-3 s) one at a
        time stays far below the 40 batches a minute QuickBooks allows. Only the HTTP calls run on
        the pool (the client's Pacer keeps them under the limits); journaling a batch before it goes
        and recording its answers happen here, on this thread, so the state file has one writer.
        The batches of one wave never refer to each other's records, so their order does not matter.
        A stop request or an error ends the sending; what is in flight is still answered and recorded."""
        failure: BaseException | None = None
        with ThreadPoolExecutor(QUICKBOOKS_IN_FLIGHT, thread_name_prefix="qbsync-batch") as pool:
            in_flight: dict[Future, tuple[str, list[BatchOp], list[WriteUnit | None]]] = {}
            pending = iter(batches)
            while True:
                while failure is None and len(in_flight) < QUICKBOOKS_IN_FLIGHT:
                    if self.stop.is_set():
                        failure = StopRequested()
                        break
                    batch = next(pending, None)
                    if batch is None:
                        break
                    batch_id, requestid, ops, chunk = batch
                    # In this thread's context: its retry waits end at a stop (stopped_by), as here.
                    call = contextvars.copy_context().run
                    in_flight[pool.submit(call, self.qb.batch, ops, requestid=requestid)] = (batch_id, ops, chunk)
                if not in_flight:
                    break
                done, _ = wait(in_flight, return_when=FIRST_COMPLETED)
                for future in done:
                    batch_id, ops, chunk = in_flight.pop(future)
                    try:
                        outcomes = future.result()
                    except (ApiError, Interrupted) as exc:  # the batch stays open: the next run resends it
                        failure = failure or exc
                        continue
                    self._record_batch(batch_id, ops, chunk, outcomes)
        if failure is not None:
            raise failure

    def _record_batch(self, batch_id: str, ops: list[BatchOp], units: list[WriteUnit | None],
                      outcomes: list[BatchOutcome]) -> None:
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
                self._created_unit(unit, outcome.obj) if unit.op == "create" else self._updated(unit, outcome.obj)
        if taken_names:
            found = {unit.key: obj for unit, obj in self._quickbooks_origins(taken_names)}
            errors = {u.key: by_bid[op.bid].error for op, u in zip(ops, units) if u is not None and op.bid in by_bid}
            for unit in taken_names:
                if unit.key in found:
                    self._created_unit(unit, found[unit.key], adopted="QuickBooks already had it under this name, "
                                                                      "unlinked: linked instead of created (W10)")
                else:
                    self._unit_failed(unit, errors[unit.key])
        self.store.close_batch(batch_id)

    def _quickbooks_origins(self, units: list[WriteUnit]) -> list[tuple[WriteUnit, dict]]:
        """The records QuickBooks already holds for these creates: same entity, same name (a
        vendor: same currency too), not linked to anything. Documents are matched by DocNumber and
        vendor. One query per entity and up to 100 names."""
        found: list[tuple[WriteUnit, dict]] = []
        by_entity: dict[str, list[tuple[WriteUnit, str]]] = {}
        for unit in units:
            name = unit.write.values.get(BY_KIND[unit.entity].quickbooks_name)
            if isinstance(name, str) and name:
                by_entity.setdefault(BY_KIND[unit.entity].quickbooks, []).append((unit, name))
        for entity, wanted in by_entity.items():
            name_path = BY_KIND[wanted[0][0].entity].quickbooks_name
            existing: dict[str, list[dict]] = {}
            for start in range(0, len(wanted), 100):
                names = ", ".join(quote(name) for _, name in wanted[start:start + 100])
                for row in self.qb.query_all(entity, f"{name_path} IN ({names})"):
                    existing.setdefault(str(row.get(name_path)).casefold(), []).append(row)
            for unit, name in wanted:
                for row in existing.get(name.casefold(), []):
                    if self._adoptable(unit, row):
                        found.append((unit, row))
                        break
        return found

    def _adoptable(self, unit: WriteUnit, row: dict) -> bool:
        if self.store.link_for(BY_KIND[unit.entity].section, self.realm, quickbooks_id=str(row["Id"])):
            return False  # it is another record's counterpart
        if BY_KIND[unit.entity].planned == "documents":
            return get_path(row, "VendorRef.value") == get_path(quickbooks_body(unit.write, self._created_id),
                                                                "VendorRef.value")
        if row.get("Active") is False:
            return False
        currency = unit.write.values.get("CurrencyRef.value")
        return not currency or get_path(row, "CurrencyRef.value") in (None, currency)

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

    # -- outcomes --------------------------------------------------------------------------------

    def _read_back(self, unit: WriteUnit, obj: dict, name: str) -> Any:
        """A field's canonical value in the written record, as the plan's readback says to read it.
        A reference keeps the value the plan meant: translating it back needs the links."""
        how = self.plan.readback.get(BY_KIND[unit.entity].section, {}).get(name)
        if how is None or how.get("transform") in REFERENCE_TRANSFORMS:
            return unit.sources.get(name)
        value = get_path(obj, how[unit.side])
        if unit.side == "quickbooks" and how[unit.side] == BY_KIND[unit.entity].quickbooks_name and isinstance(value, str) \
                and value.endswith(DELETED_SUFFIX):
            value = value[: -len(DELETED_SUFFIX)]
        transform = how.get("transform")
        return TRANSFORMS[transform].to_canonical(unit.side, value) if transform else canonical_scalar(value)

    def _created_unit(self, unit: WriteUnit, obj: dict, adopted: str = "") -> None:
        """A create's outcome on either side: `obj` is the new record, or (`adopted`, W10) the one
        found there instead. An adopted record's fields are remembered as agreed only where they
        equal the other side's: the next plan merges the rest like any newly linked pair."""
        side, source = unit.side, other_side(unit.side)
        new_id = str(obj["Id"] if side == "quickbooks" else obj["id"])
        baseline = {}
        if BY_KIND[unit.entity].planned == "documents":  # the body it was sent with: its revisions are told from it (D6)
            baseline = sent_baseline(self._sent(unit))
        else:
            for name in self.plan.readback.get(BY_KIND[unit.entity].section, {}):
                value = self._read_back(unit, obj, name)
                if adopted and value != unit.sources.get(name):
                    continue
                baseline[name] = {side: value, source: unit.sources.get(name)}
        precoro_id, quickbooks_id = (unit.precoro_id, new_id) if side == "quickbooks" else (new_id, unit.quickbooks_id)
        active = obj.get("Active", True) is not False if side == "quickbooks" else obj.get("enable", True) is not False
        with self.store.transaction():
            self.store.put_link(BY_KIND[unit.entity].section, self.realm, precoro_id, quickbooks_id,
                                how="adopted" if adopted else "created", since=self.clock(), baseline=baseline,
                                active={side: active, source: True})
            self.store.put_journal(self.plan.id, unit.key, side=side, op=unit.op, state="done",
                                   action_ids=[a.id for a in unit.actions], last_error=adopted or None,
                                   created_id=new_id, updated_at=self.clock())
            for action in unit.actions:
                self._audit(action, "applied", adopted, response=obj, created=(precoro_id, quickbooks_id))
                if action.follow_up and side == "quickbooks":
                    self._keep_follow_up(unit, action, precoro_id, new_id, adopted=bool(adopted))
        for action in unit.actions:
            self._created[action.id] = new_id
            self._result(action, "applied", adopted)
        if BY_KIND[unit.entity].planned == "documents" and side == "quickbooks":
            self._to_mark.append((BY_KIND[unit.entity].section, precoro_id, new_id))

    def _sent(self, unit: WriteUnit) -> dict[str, Any]:
        """What a document write sent, by wire path, with the ids of records created in this apply."""
        return {path: resolve(value, self._created_id) for path, value in unit.write.values.items()}

    def _keep_follow_up(self, unit: WriteUnit, action: Action, precoro_id: str, quickbooks_id: str, *,
                        adopted: bool) -> None:
        """D8, with a document's link: the files to send after it, the split invoice it is a part of."""
        spec = BY_KIND[unit.entity]
        self.store.keep_attachments(attachments.to_keep(
            self.realm, spec.section, precoro_id, action.name, (spec.quickbooks, quickbooks_id),
            action.follow_up.attachments, adopted=adopted))
        if action.follow_up.split_parent:
            self.store.keep_split_part(self.realm, spec.section, precoro_id, action.follow_up.split_parent)

    def _mark_documents(self) -> None:
        """D3: each document sent to QuickBooks gets the id of its QuickBooks document as externalId
        in Precoro, so that no install sends it again (another state file links it again by that
        id); Precoro's own integrations mark theirs alike. A mark that fails is
        said in the log and not retried: the check against QuickBooks before any create (number and
        vendor) still keeps the document from going twice."""
        marks, self._to_mark = self._to_mark, []
        for section, idn, quickbooks_id in marks:
            try:
                self._within_caps(lambda: self.pc.set_external_id(BY_SECTION[section].precoro, idn, quickbooks_id))
            except ApiError as exc:
                log.warning("Precoro %s %s not marked as sent (QuickBooks %s): %s", section, idn, quickbooks_id, exc)

    def _updated(self, unit: WriteUnit, obj: dict) -> None:
        """An update's outcome on either side: the fields written become the link's new baseline."""
        side, source = unit.side, other_side(unit.side)
        section = BY_KIND[unit.entity].section
        with self.store.transaction():
            if BY_KIND[unit.entity].planned == "documents":
                if unit.op == "delete":  # cancelled in Precoro (D7): nothing of it is left to follow
                    self.store.remove_link(section, self.realm, unit.precoro_id)
                else:
                    self.store.update_baseline(section, self.realm, unit.precoro_id, sent_baseline(self._sent(unit)))
            else:
                fields = {name: {side: self._read_back(unit, obj, name), source: unit.sources.get(name)}
                          for name in unit.sources}
                active = None
                if unit.active is not None:
                    active = {"precoro": unit.active, "quickbooks": unit.active}
                self.store.update_baseline(section, self.realm, unit.precoro_id, fields, active)
            self.store.put_journal(self.plan.id, unit.key, side=side, op=unit.op, state="done",
                                   action_ids=[a.id for a in unit.actions], updated_at=self.clock())
            for action in unit.actions:
                self._audit(action, "applied", response=obj)
        for action in unit.actions:
            self._result(action, "applied")

    # -- Precoro -------------------------------------------------------------------------------

    def _apply_precoro(self, units: list[WriteUnit], journal: dict) -> None:
        if not units:
            return
        # One list read per collection of what changed in Precoro since the plan: an updated record
        # is checked against it (W2), and a create against what appeared meanwhile (W10). List
        # options are left out: they carry no dates to read them by.
        recent = self._within_caps(lambda: self._precoro_changed_since_plan(
            {u.write.collection for u in units if not BY_KIND[u.entity].custom_field}))
        unanswered = 0
        for unit in units:
            if self.stop.is_set():
                raise StopRequested()
            state = journal.get(unit.key, {}).get("state")
            current = recent.get((unit.write.collection, unit.write.record_id))
            if unit.op == "update" and state != "sent" and current is not None and str(current.get("updateDate")) != unit.write.version:
                self._unit_failed(unit, StaleObject("the record was edited in Precoro after the plan", service="Precoro"))
                continue
            if unit.op == "create" and not BY_KIND[unit.entity].custom_field:
                found, problem = self._precoro_origin(unit, recent)
                if problem:
                    self._unit_failed(unit, StaleObject(problem, service="Precoro"))
                    continue
                if found is not None:
                    ours = str(found.get(contract.EXTERNAL_ID)) == unit.quickbooks_id
                    if not ours and state == "sent" and found.get(contract.EXTERNAL_ID) in (None, ""):
                        # Made by an interrupted attempt of this create, stopped before its PATCH.
                        try:
                            found = self._within_caps(lambda: self._mark_origin(
                                unit.write.collection, found, str(unit.write.values.get(contract.EXTERNAL_ID) or
                                                                  unit.quickbooks_id)))
                        except ApiError as exc:
                            self._unit_failed(unit, exc)
                            continue
                        how = "under its name, made by an earlier, interrupted apply before it set the externalId (set now)"
                    elif ours:
                        how = "by its externalId: an earlier, interrupted apply created it"
                    else:
                        how = "under the same name, created since the plan: linked instead"
                    self._created_unit(unit, found, adopted=f"found in Precoro {how} (W10)")
                    continue
            with self.store.transaction():
                self._begin_write()
                self.store.put_journal(self.plan.id, unit.key, side=unit.side, op=unit.op, state="sent",
                                       action_ids=[a.id for a in unit.actions], updated_at=self.clock())
            try:
                obj = self._precoro_within_caps(unit, recovering=state == "sent")
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
            except Unresolved as missing:
                for action in unit.actions:
                    self._result(action, "skipped", f"depends on action {missing}, which was not applied")
                continue
            except ApiError as exc:
                self._unit_failed(unit, exc)
                continue
            unanswered = 0
            if unit.op != "create":
                # Its details are read again by the next plan: Precoro's dates are to the second, so
                # an updateDate alone may not tell this write from the plan's read (W11).
                self.store.mirror_delete(self.realm, "precoro", BY_KIND[unit.entity].section, [unit.write.record_id])
            self._created_unit(unit, obj) if unit.op == "create" else self._updated(unit, obj)

    def _precoro_within_caps(self, unit: WriteUnit, *, recovering: bool) -> dict:
        """The write, sent again after Precoro's hourly cap (or, with until_done, its daily one)."""
        looked = [recovering]
        # Sent again, it looks first: the refused request may have followed one that went through
        # (a contact after its supplier).
        return self._within_caps(lambda: self._precoro_write_retried(unit, recovering=looked[-1]),
                                 again=lambda: looked.append(True))

    def _within_caps(self, call: Callable[[], Any], again: Callable[[], None] = lambda: None) -> Any:
        while True:
            try:
                return call()
            except RateLimited as exc:
                self._wait_out(exc)
                again()

    def _wait_out(self, cap: RateLimited) -> None:
        if not wait_out(cap, until_done=self.until_done, stop=self.stop, on_cap=self.on_cap, sleep=self.sleep):
            raise cap

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

    def _precoro_write(self, unit: WriteUnit, *, recovering: bool) -> dict:
        write = unit.write
        form = precoro_form(write, self._created_id)
        path = write.collection
        if write.op == "create":
            # Precoro sets externalId by PATCH only: the create goes without it, the PATCH right after.
            origin = write.values.get(contract.EXTERNAL_ID)
            if not contract.EXTERNAL_ID_ON_CREATE:
                form.pop(contract.EXTERNAL_ID, None)
            # The create may have happened (its answer lost, or a crash before the PATCH): find it.
            existing = self._own_create(unit, str(origin)) if recovering and origin is not None else None
            if existing is None:
                # Precoro's time before it creates: where a lost create is looked for (_own_create).
                self._create_sent_at.setdefault(unit.key, self.pc.server_time)
                existing = self.pc.create(path, form)
            obj = existing
            if origin is not None and str(obj.get(contract.EXTERNAL_ID) or "") != str(origin):
                obj = self._mark_origin(path, obj, str(origin))
        else:
            obj = self.pc.update(f"{path}/{write.record_id}", form) if form else None
        record_id = str(obj["id"]) if obj else write.record_id
        for list_path, wanted in write.lists.items():
            collection, attribute = list_path.split("[].", 1)
            # The record as its write answered, when that answer holds the list; else read once.
            # Never read twice: Precoro refuses an identical GET within a minute.
            known = obj if obj is not None and collection in obj and not (write.op == "create" and recovering) else None
            obj = self._sync_sub_resources(f"{path}/{record_id}", collection, attribute, wanted, known)
        if obj is None:
            obj = self.pc.get(f"{path}/{record_id}")
        return obj

    def _mark_origin(self, path: str, obj: dict, origin: str) -> dict:
        """PATCH a record qbsync created with its origin (the QuickBooks id) as externalId: by it the
        record is found again after a crash (W10). Its answer is the record; if it has none, the
        record as created, with the externalId set."""
        answer = self.pc.set_external_id(path, record_key(path, obj), origin)
        return answer if isinstance(answer, dict) and answer.get("id") is not None else {**obj, contract.EXTERNAL_ID: origin}

    def _own_create(self, unit: WriteUnit, origin: str) -> dict | None:
        """The record an earlier attempt of this create made, if it made one: by its externalId; else,
        its PATCH not having happened, the one record of the same name (and currency) without an
        externalId or a link, changed since Precoro's time before the first attempt (else the plan's)."""
        path = unit.write.collection
        found = self.pc.find_by_external_id(path, origin)
        if found is not None:
            return found
        key = _same_record_key(unit.write.values)
        if key is None:
            return None
        if BY_KIND[unit.entity].custom_field:
            rows = self.pc.list_all(path)  # a custom field's options: a short list, read whole
        else:
            # Precoro's own time before the create, less a second (its dates are to the second); else
            # the plan's time on this machine's clock, less the overlap that covers clock skew.
            sent_at = self._create_sent_at.get(unit.key)
            since = sent_at - timedelta(seconds=1) if sent_at else datetime.fromisoformat(self.plan.created_at) - OVERLAP
            rows = self.pc.list_all(path, modified_since=since)
        section = BY_KIND[unit.entity].section
        same = [raw for raw in rows if raw.get(contract.EXTERNAL_ID) in (None, "") and _same_record_key(raw) == key
                and not self.store.link_for(section, self.realm, precoro_id=str(raw["id"]))]
        if len(same) > 1:
            raise StaleObject(f"{len(same)} Precoro records named {unit.name!r} without an externalId appeared while "
                              "this one was created: plan again to choose", service="Precoro")
        return same[0] if same else None

    def _sync_sub_resources(self, path: str, collection: str, attribute: str, wanted: list, known: dict | None) -> dict:
        """Make the sub-resources (contacts) hold exactly `wanted`, in order (S3). Returns the record
        with the list as it now is, built from the answers (not read again)."""
        record = dict(known) if known is not None else self.pc.get(path)
        current = record.get(collection) or []
        wrapped = isinstance(current, dict)
        if wrapped:
            current = current.get("data") or []
        have = {str(item.get(attribute) or "").strip().casefold(): item for item in current}
        wanted_keys = [str(v).strip().casefold() for v in wanted]
        for key, item in have.items():
            if key not in wanted_keys:
                self.pc.delete(f"{path}/{collection}/{item['id']}")
        # As Precoro lists them after this: the ones kept, in their order, then the new ones.
        now = [item for key, item in have.items() if key in wanted_keys]
        for value, key in zip(wanted, wanted_keys):
            if key not in have:
                now.append(self.pc.create(f"{path}/{collection}", {attribute: value, "name": str(value).split("@")[0]})
                           or {attribute: value})
        record[collection] = {"data": now} if wrapped else now
        return record

    def _precoro_origin(self, unit: WriteUnit, recent: dict[tuple[str, str], dict]) -> tuple[dict | None, str | None]:
        """W10: a Precoro record this create would duplicate, among those changed since the plan.

        Ours (its externalId is this record's QuickBooks id) or one somebody created meanwhile under
        the same name (and currency, when it has one); either only when not linked to anything. Two
        of the latter: refused, plan again.
        """
        by_origin, by_name = self._recent_index(unit.write.collection, recent)
        free = [raw for raw in by_origin.get(str(unit.quickbooks_id), [])
                if not self.store.link_for(BY_KIND[unit.entity].section, self.realm, precoro_id=str(raw["id"]))]
        if free:
            return min(free, key=lambda raw: int(raw["id"])), None
        key = _same_record_key(unit.write.values)
        same = [raw for raw in by_name.get(key, []) if key is not None
                and not self.store.link_for(BY_KIND[unit.entity].section, self.realm, precoro_id=str(raw["id"]))]
        if len(same) > 1:
            return None, f"{len(same)} Precoro records of the same name appeared since the plan was made: plan again to choose"
        return (same[0] if same else None), None

    def _recent_index(self, collection: str, recent: dict[tuple[str, str], dict]) -> tuple[dict, dict]:
        """The records of a collection changed since the plan, by externalId and by name (built once)."""
        if collection not in self._recent_indexes:
            by_origin: dict[str, list[dict]] = {}
            by_name: dict[tuple, list[dict]] = {}
            for (path, _), raw in recent.items():
                if path != collection:
                    continue
                if raw.get("externalId") not in (None, ""):
                    by_origin.setdefault(str(raw["externalId"]), []).append(raw)
                key = _same_record_key(raw)
                if key is not None:
                    by_name.setdefault(key, []).append(raw)
            self._recent_indexes[collection] = (by_origin, by_name)
        return self._recent_indexes[collection]

    def _precoro_changed_since_plan(self, collections: set[str]) -> dict[tuple[str, str], dict]:
        """One list read per collection instead of one GET per record (W2), from where the plan's
        reads of Precoro began, on Precoro's clock (the mirror's cursor, W11). Without one, a day
        before the plan: our clock and time zone are not Precoro's; versions are compared exactly."""
        since: Any = self.store.mirror_since(self.realm, "precoro")
        if since is None:
            since = (datetime.fromisoformat(self.plan.created_at) - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%S")
        found = {}
        for path in sorted(collections):
            for raw in self.pc.list_all(path, modified_since=since):
                found[(path, str(raw["id"]))] = raw
        return found


def _same_record_key(values: dict[str, Any]) -> tuple[str, ...] | None:
    """How a Precoro record is told to be "the same" as one about to be created: its name (as
    QuickBooks compares names) and its currency; a payment (D9), which has no name, by its invoice,
    amount and day: found so, an interrupted create whose externalId was never set is not made twice."""
    nested = values.get("invoice")  # a payment as Precoro lists it; the write names `invoice.id`
    invoice = values.get(contract.PAYMENT_INVOICE) or (nested.get("id") if isinstance(nested, dict) else None)
    if invoice is not None:
        return (str(invoice), *amount_and_day(values))
    name = values.get("name")
    if not isinstance(name, str) or not name.strip():
        return None
    currency = values.get("currency")
    return name_key(name), str(currency.get("code") if isinstance(currency, dict) else currency or "")


def apply_plan(store: Store, plan: Plan, rules: Rules, quickbooks, precoro, *, realm_id: str,
               on_result: Callable[[ActionResult, int, int], None] | None = None, retry_failed: bool = False,
               force: bool = False, clock: Callable[[], str] | None = None,
               stop: threading.Event | None = None, until_done: bool = False,
               on_cap: Callable[[str, float], None] | None = None,
               sleep: Callable[[float], None] = time.sleep) -> ApplyReport:
    return Applier(store, plan, rules, quickbooks, precoro, realm_id=realm_id, on_result=on_result, stop=stop,
                   retry_failed=retry_failed, force=force, clock=clock, until_done=until_done, on_cap=on_cap,
                   sleep=sleep).run()


def wait_out(cap: RateLimited, *, until_done: bool, stop: threading.Event,
             on_cap: Callable[[str, float], None] | None, sleep: Callable[[float], None]) -> bool:
    """Sleep until a rate cap lifts, a second at a time so that a stop request is heard (it raises
    StopRequested), counting down with `on_cap(what, seconds left)`. False, at once, when the cap is
    not to be waited for: the daily one without until_done, or one that said no time."""
    resume = cap.resume_at()
    if resume is None or (cap.fatal and not until_done):
        return False
    what = f"{cap.limit_name} is reached: going on at {resume:%Y-%m-%d %H:%M:%S} UTC"
    log.info("%s", what)
    left = cap.retry_after
    while left > 0:
        if stop.is_set():
            raise StopRequested()
        if on_cap:
            on_cap(what, left)
        step = min(1.0, left)
        sleep(step)
        left -= step
    return True
