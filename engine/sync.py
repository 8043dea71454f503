"""The engine's one API, shared by the CLI and the TUI: plan, decide, approve, apply, map, history.

A `SyncSession` owns the rules, the state store and (lazily) the two clients. Nothing here prints
or knows about a screen; long work reports progress through callbacks.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from dataclasses import asdict
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

import rules as rules_pkg
from rules.model import SIDE_NAMES, Rules, other_side

from . import bulk
from .apply import ActionResult, ApplyReport, StopRequested, apply_plan, operator_name, wait_out
from .budgets import calls_left_said, reading_left
from .bulk import rare_gc
from .clients.errors import ApiError, NotFound, RateLimited
from .clients.retry import stopped_by, tries_at_most
from .connections import (Connected, OneSide, connect, connect_side, connection_end, connection_ending_said,
                          saved_connections)
from .entities import BY_SECTION, CREDIT_NOTES, ENTITIES, INVOICES, ITEMS, PAYMENTS, EntitySpec, sort_key
from .doctor import Check, Doctor
from .explain import explain
from .errors import (ApprovalsChanged, DecisionRefused, Interrupted, MappingRefused, NotConnected, PlanNotFound,
                     QbsyncError, ReadsCutShort, SafetyLimitExceeded, StalePlanError, SupersededPlan, UsageError)
from .items import mapping_actions
from .locks import Holder, LockBusy
from .mapping import BulkMapping, MappingRow, RefusedRow
from .payments import PrecoroPayments, paid_between, plan_payments
from .plan import Action, HoldFacts, LinkFacts, Plan, add_to_digest, plan_digest
from .planning import Planner, Progress, QuietPairs, readback
from .policy import fingerprint, judge, judged_part
from .review import (ERROR_OUTCOMES, WOULD_HOLD, CountKey, Outcome, PlanTally, ReviewFilter, approval_after,
                     approvals_digest, carried_decisions, confirmed_count, entity_counts, plan_tally,
                     ready_once_approved, takes_approval, tally_of)
from .reconcile import SyncState
from .run import run_status
from .signoff import RefusedLine, SignOff, SignOffFile
from .store import LET_GO, REPLACED_PLANS_KEPT_HOURS, Store, StoredActions, git_would_take
from .suggest import CandidateIndex
from .writes import build_units, unit_key


NO_FULL_PLAN = "no plan yet: run `qbsync plan` first (a plan made with --only is named by its id)"
# Records a mapping from a file reads one by one when the mirror has not got them; more are refused.
MAPPING_READS_AT_MOST = 100


def _check_decision(decision: str) -> None:
    if decision not in ("precoro", "quickbooks", "skip"):
        raise DecisionRefused("a decision is one of: precoro, quickbooks, skip")


def state_path_for(rules_path: Path, given: str | Path | None = None) -> Path:
    """The state file: the one given (--state), else `.qbsync/state.db` beside the rules file."""
    return Path(given) if given else rules_path.resolve().parent / ".qbsync" / "state.db"


def utc_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _look_at(side: str, client: Any, info: dict[str, Any]) -> None:
    """Whether `side` answers (one cheap read), into its status `info`; QuickBooks names its company."""
    try:
        with tries_at_most(2):  # a look, not a job: one more try for a blip, not 15 s of them
            if side == "quickbooks":
                info["company"] = (client.company_info() or {}).get("CompanyName")
            else:
                next(iter(client.list_all("/suppliers", per_page=10)), None)
        info["reachable"] = True
    except ApiError as exc:
        info["reachable"] = False
        info["error"] = str(exc)


class SyncSession:
    def __init__(self, rules_path: str | Path = "rules.yaml", state_path: str | Path | None = None, *,
                 env: dict[str, str] | None = None, clock: Callable[[], str] = utc_now,
                 local_apis: Callable[[Path], Any] | None = None, sleep: Callable[[float], None] = time.sleep) -> None:
        """`local_apis(state_path)` starts the embedded local APIs when the rules name them (the
        caller's choice: the CLI starts them in-process with demo data beside the state file).
        `sleep` is how an apply waits out a rate cap (tests pass one that moves a fake clock)."""
        self.rules_path = Path(rules_path)
        self.rules: Rules = rules_pkg.load(self.rules_path)
        self.state_path = state_path_for(self.rules_path, state_path)
        self.store = Store(self.state_path)
        self.env = env
        self.clock = clock
        self.sleep = sleep
        self.local_apis = local_apis
        self._connected: Connected | None = None
        self._reads_counted = 0  # of the connection's QuickBooks reads, those counted in the month's tally

    # -- lifecycle -----------------------------------------------------------------------------

    @property
    def connected(self) -> Connected:
        if self._connected is None:
            start = (lambda: self.local_apis(self.state_path)) if self.local_apis else None
            self._connected = connect(self.rules, self.store, env=self.env, local_apis=start)
            self._reads_counted = 0  # a new client counts from nothing
        return self._connected

    @property
    def realm_id(self) -> str:
        return self.connected.realm_id

    def reload_rules(self) -> Rules:
        """Load rules.yaml again (raises RulesError and keeps the old rules when it is invalid)."""
        self.rules = rules_pkg.load(self.rules_path)
        return self.rules

    def close(self) -> None:
        if self._connected is not None:
            self._count_reads()
            self._connected.close()
            self._connected = None
        self.store.close()

    def _count_reads(self) -> None:
        """Keep what this session has read of QuickBooks since it last counted, in this month's tally
        (a month as the session's clock says it). A process killed outright loses what it had not
        counted: the tally is qbsync's own estimate; Intuit's usage chart is the authority."""
        reads = self._connected.quickbooks.reads_sent - self._reads_counted if self._connected else 0
        if reads <= 0:
            return
        try:
            self.store.count_reads("quickbooks", self.clock()[:7], reads)
        except QbsyncError:  # the state file cannot be written now: the next count carries these too
            return
        self._reads_counted += reads

    def reopen_if_replaced(self) -> bool:
        """Open the state file again when another process deleted or replaced it since this session
        opened it (Store.replaced): a long-lived session (the TUI, `run --every`) must not go on
        writing to a file nobody else sees. The connection is made again from the file as it now is."""
        if not self.store.replaced():
            return False
        self.close()
        self.store = Store(self.state_path)
        return True

    def __enter__(self) -> "SyncSession":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # -- reading -------------------------------------------------------------------------------

    def enabled(self, section: str) -> bool:
        return self.rules.entity(section).enabled

    def entities(self, only: Iterable[str] | None = None) -> list[EntitySpec]:
        """The entities to plan, in dependency order: those named (`--only`), or every one turned on."""
        names = list(only) if only else [spec.section for spec in ENTITIES if self.enabled(spec.section)]
        unknown = [n for n in names if n not in BY_SECTION]
        if unknown:
            raise UsageError(f"unknown entity {unknown[0]!r}; expected one of {', '.join(BY_SECTION)}")
        disabled = [n for n in names if not self.enabled(n)]
        if disabled:
            raise UsageError(f"{disabled[0]} are turned off in {self.rules_path}; turn them on there to sync them")
        return [spec for spec in ENTITIES if spec.section in names]  # dependencies first, whatever the order asked

    def planner(self, progress: Progress | None = None, stop: threading.Event | None = None, *,
                full: bool = False) -> Planner:
        conn = self.connected
        return Planner(self.rules, self.store, conn.quickbooks, conn.precoro, conn.realm_id, progress=progress,
                       stop=stop, full=full, documents_since=self.documents_since())

    def documents_since(self) -> date | None:
        """D4: documents approved before this day are not sent: documents.since in rules.yaml, else
        the day QuickBooks was connected (a company's history is not replayed into its books);
        with credentials from the environment or the embedded APIs, no cutoff."""
        if self.rules.documents_since is not None:
            return self.rules.documents_since
        connected = (self.connected.describe.get("quickbooks") or {}).get("connected_at")
        return datetime.fromisoformat(connected).date() if connected else None

    # -- planning ------------------------------------------------------------------------------

    def writer(self, what: str, *, wait: bool = True, on_wait: Callable[[Holder | None], None] | None = None):
        """The state file's writer lock (W7), held while planning or applying.

        Plans take it too, as Terraform's do: a plan read while another process writes to either
        company would be outdated the moment it is saved, and could not tell (W6).
        """
        return self.store.lock("writer").held(what, wait=wait, on_wait=on_wait)

    def plan(self, only: Iterable[str] | None = None, progress: Progress | None = None, *, wait: bool = True,
             on_wait: Callable[[Holder | None], None] | None = None, stop: threading.Event | None = None,
             full: bool = False, until_done: bool = False,
             on_cap: Callable[[str, float], None] | None = None) -> Plan:
        """Read what changed on both sides, reconcile, save and return the plan (W1, W11). Changes
        nothing remote. When nothing changed since the latest plan, that plan is returned again
        (`plan.unchanged`). `full`: read every record of both sides, not only the changes.

        A first read costs a Precoro call per record (its details). At Precoro's hourly cap the plan
        waits (`on_cap(what, seconds left)` counts down) and goes on where it stopped: what was read
        is kept (W11). At the daily cap it stops with ReadsCutShort, unless `until_done`.

        `stop` (set from another thread) ends it within a page read, with Interrupted."""
        stop = stop or threading.Event()
        while True:
            try:
                return self._plan(only, progress, wait=wait, on_wait=on_wait, stop=stop, full=full)
            except ReadsCutShort as cut:
                try:
                    if not wait_out(cut.cap, until_done=until_done, stop=stop, on_cap=on_cap, sleep=self.sleep):
                        raise
                except StopRequested:
                    raise Interrupted("planning was stopped while it waited for Precoro's cap; what was read is "
                                      "kept for the next plan") from None

    def _plan(self, only: Iterable[str] | None, progress: Progress | None, *, wait: bool,
              on_wait: Callable[[Holder | None], None] | None, stop: threading.Event, full: bool) -> Plan:
        specs = self.entities(only)
        scope = self.scope(specs)
        # A request waiting to be sent again (its backoff, a server's Retry-After) ends as the plan is stopped.
        with self.writer("planning", wait=wait, on_wait=on_wait), rare_gc(), stopped_by(stop):
            planner = self.planner(progress, stop, full=full)
            try:
                planner.read_changes(specs)
                if planner.mirror.read_by_changes:
                    latest = self._plan_still_current(specs, scope)
                    if latest is not None:
                        self.store.save_mirror_reads(planner.mirror.reads())
                        return latest
                kept = KeptActions(self.store, self.realm_id, self.rules.digest, self.clock(), scope)
                planned = planner.plan(specs, kept.add)
            except RateLimited as cap:
                resume = cap.resume_at()
                # Told by `qbsync status` until a plan is made: a first read can take days (W11).
                progress = planner.mirror.progress()
                self.store.set_reading(self.realm_id, self.clock(), cap.limit_name,
                                       resume.isoformat(timespec="seconds") if resume else None, progress)
                raise _cut_short(cap, resume, planner.mirror.kept, progress) from cap
            plan = Plan(actions=[], realm_id=self.realm_id, rules_digest=self.rules.digest, created_at=kept.created_at,
                        entities=tuple(spec.section for spec in specs), readback=planned.readback, scope=scope,
                        notes=planned.notes, id=kept.digest.hexdigest()[:12])
            plan.tally = plan_tally(kept.stored.facts()).to_json()  # saved with it: see Plan.tally
            self._save(plan, kept.stored, planned.agreed, planner.mirror.reads(), planned.quiet)
            plan.actions = kept.stored.listed()
            self.store.clear_reading(self.realm_id, plan.entities)
            return plan

    def scope(self, specs: list[EntitySpec]) -> str:
        """A plan's scope: "full" when it covers every entity the rules turn on, else its entities."""
        sections = [spec.section for spec in specs]
        return "full" if sections == [spec.section for spec in self.entities()] else ",".join(sections)

    def _plan_still_current(self, specs: list[EntitySpec], scope: str) -> Plan | None:
        """The latest plan of this scope, when planning again could only make it again: made from the
        same rules, for the same entities, not applied, nothing applied since (W6), and neither company
        changed since (W11: the mirror, just brought up to date by the changes, has not moved)."""
        plan_id = self.store.latest_plan_id(scope=scope)
        row = self.store.plan_row(plan_id) if plan_id else None
        if row is None or row["state"] != "open" or row["realm"] != self.realm_id \
                or row["rules_digest"] != self.rules.digest or row["base_serial"] != self.store.current_serial() \
                or row["mirror_mark"] != self.store.mirror_mark(self.realm_id) \
                or tuple(json.loads(row["entities"])) != tuple(spec.section for spec in specs):
            return None
        plan = self.store.load_plan(plan_id, listed=True)
        plan.unchanged = True
        return plan

    def _save(self, plan: Plan, stored: StoredActions | None = None, agreed: list[dict[str, Any]] = (),
              mirror_reads: list[dict] = (), quiet: list[QuietPairs] = ()) -> None:
        # Both sides agreeing is a fact about now, not a change to anyone's books: remember it at
        # once so that a later one-sided edit is not mistaken for a conflict.
        while self.store.plan_state(plan.id) is not None:  # same content within the same second
            plan.id = hashlib.sha256(plan.id.encode()).hexdigest()[:12]
        with self.store.transaction():
            for entry in agreed:
                self.store.update_baseline(entry["section"], plan.realm_id, entry["precoro_id"], entry["fields"])
            self.store.save_plan(plan, stored)
            self.store.let_go_plans(plan.created_at)  # the plans this one replaced a day ago and more
            self.store.save_mirror_reads(mirror_reads)  # W11: the cursors move with the plan that used them
            for found in quiet:
                self.store.mark_quiet(found.section, plan.realm_id, found.context, found.quiet, found.busy)

    def compact(self, *, wait: bool = True, on_wait: Callable[[Holder | None], None] | None = None) -> tuple[int, int]:
        """Make the state file as small as what it holds (Store.compact): (bytes before, after).
        Under the writer lock, so that no plan or apply writes meanwhile."""
        with self.writer("compacting the state file", wait=wait, on_wait=on_wait):
            return self.store.compact()

    def latest_plan(self) -> Plan | None:
        plan_id = self.store.latest_plan_id()
        return self.store.load_plan(plan_id) if plan_id else None

    def latest_plan_id(self) -> str | None:
        return self.store.latest_plan_id()

    def load_plan(self, plan_id: str | None = None, *, listed: bool = False) -> Plan:
        plan = self.store.load_plan(self.plan_id_for(plan_id), listed=listed)
        if plan is None:
            raise PlanNotFound(NO_FULL_PLAN)
        return plan

    def actions_of(self, plan_id: str | None = None) -> Iterator[Action]:
        """Every action of the named plan (None: the latest), whole and in order, read a page at a
        time: a plan of 260,000 actions printed whole holds one page of them, not all."""
        return self.store.iter_actions(self.plan_id_for(plan_id))

    # -- operator decisions --------------------------------------------------------------------

    def plan_to_review(self) -> tuple[Plan | None, dict[str, Outcome]]:
        """The plan an operator should look at now, with what the last apply did with its actions.

        The plan of an apply that did not finish (to finish it); else the latest plan, unless it
        was applied without a failure: that one is history, and what matters is a new plan (None).
        """
        wanted = self._plan_to_review_id()
        return self.plan_with_outcomes(wanted) if wanted else (None, {})

    def plan_made(self, plan_id: str) -> dict[str, Any]:
        """When a saved plan was made and how long ago (by this session's clock), and its state:
        what review.plan_age_said words for an open plan left for long."""
        row = self.store.plan_row(plan_id)
        return {"id": plan_id, "created_at": row["created_at"], "state": row["state"],
                "age_seconds": _seconds_between(row["created_at"], self.clock())}

    def plan_revision(self, plan_id: str) -> int:
        """How many times the plan's approvals and decisions were changed and its applies ended, here
        or in another process: a face showing the plan tells another terminal's doings by it (both
        only grow, so their sum moves when either does). -1: the plan can no longer be applied (let
        go, or another plan was applied since it was made: W6)."""
        row = self.store.plan_row(plan_id)
        if row is None or row["state"] in LET_GO or \
                row["state"] != "applied" and self.store.applied_after(plan_id, row["base_serial"] or 0):
            return -1
        return row["decided"] + self.store.applies_ended(plan_id)

    def plan_with_outcomes(self, plan_id: str | None) -> tuple[Plan, dict[str, Outcome]]:
        """A saved plan (an id or a prefix), listed, with its tally and what applies did with its
        actions. A tally that decisions made out of date is counted again, and kept for the next.
        The tally's groups are those of review.action_groups with these outcomes (counted in SQL)."""
        plan = self.store.load_plan(self.plan_id_for(plan_id), listed=True)
        if plan.tally is None:
            plan.tally = tally_of(plan.actions).to_json()
            self.store.keep_tally(plan.id, plan.tally, plan.decided)
        outcomes = self.store.outcomes(plan.id, Outcome)
        if outcomes:  # the tally is kept as before any apply
            tally = PlanTally.from_json(plan.tally)
            tally.groups = self.store.action_groups(plan.id)
            plan.tally = tally.to_json()
        return plan, outcomes

    def select(self, matching: ReviewFilter,
               plan_id: str | None = None) -> tuple[Plan, list[Action], dict[str, str] | None]:
        """A saved plan (listed), its actions that `matching` selects as the TUI's filters show them,
        and, when it selects what a run would hold, why each is held (`would_hold`)."""
        plan, outcomes = self.plan_with_outcomes(plan_id)
        holds = self.would_hold(plan.id) if matching.show == WOULD_HOLD else None
        return plan, [a for a in plan.actions if matching.matches(a, outcomes.get(a.id), holds)], holds

    def would_hold(self, plan_id: str | None = None) -> dict[str, str]:
        """U2: what `qbsync run` would hold of a saved plan (the latest by default) were it run now on
        this session's rules: action id -> why. The plan's approvals and decisions as they are, the
        operator's answers to actions runs held, the safety brake. Writes nothing."""
        plan_id = self.plan_id_for(plan_id)
        realm = self.store.plan_row(plan_id)["realm"]
        held_before = self.store.held(realm, waiting=False)
        ids_held = {row["action_id"] for row in held_before}
        actions, prints = [], {}
        with rare_gc():  # read a page at a time, each action cut to what the policy reads of it
            for action in self.store.iter_actions(plan_id, requests=False):
                if action.id in ids_held:
                    prints[action.id] = fingerprint(action)
                actions.append(judged_part(action))
        judged = judge(actions, self.rules, held_before, lambda section: self.store.count_links(section, realm), prints)
        return {a.id: judged.verdicts[a.id].reason for a in actions if judged.holds(a)}

    def _action_groups(self, plan_id: str) -> dict[CountKey, int]:
        """review.action_groups of a saved plan: its tally's before any apply, else counted in SQL."""
        tally = None if self.store.any_outcome(plan_id) else self.store.plan_tally(plan_id)
        return PlanTally.from_json(tally).groups if tally else self.store.action_groups(plan_id)

    def _plan_to_review_id(self) -> str | None:
        unfinished = self.unfinished_apply()
        if unfinished:
            return unfinished["plan_id"]
        latest = self.store.latest_plan_id()
        if latest is None:
            return None
        # Applied without a failure, it is history: none to review.
        if self.store.any_outcome(latest) and not self.store.latest_outcome_in(latest, ERROR_OUTCOMES):
            return None
        return latest

    def decide(self, action_id: str, decision: str, plan_id: str | None = None) -> str:
        """Record a decision on a conflict; returns the action's full id. Taking a side also approves
        it (the operator just said what to write); skipping leaves the approval as it was."""
        return self.decide_all([action_id], decision, plan_id)[0]

    def decide_all(self, action_ids: Iterable[str], decision: str, plan_id: str | None = None) -> list[str]:
        """Record one decision on conflicts named by id or unambiguous prefix, in one write; returns
        their full ids. An id the plan does not have, or of another kind, is refused, and nothing changes."""
        _check_decision(decision)
        plan_id = self.plan_id_for(plan_id)
        named = self._named(plan_id, action_ids)
        for full_id, kind in named:
            if kind != "conflict":
                article = "an" if kind[0] in "aeiou" else "a"
                raise DecisionRefused(f"action {full_id} is {article} {kind}, not a conflict; only conflicts take "
                                      "a decision")
        full_ids = [full_id for full_id, _ in named]
        self._record_decision(plan_id, full_ids, decision)
        return full_ids

    def decide_matching(self, matching: ReviewFilter, decision: str, plan_id: str | None = None) -> list[str]:
        """Record one decision on every conflict of a plan that `matching` selects (its other actions
        are left alone); returns their full ids."""
        _check_decision(decision)
        plan, selected, _ = self.select(matching, plan_id)
        chosen = [a.id for a in selected if a.kind == "conflict"]
        self._record_decision(plan.id, chosen, decision)
        return chosen

    def _record_decision(self, plan_id: str, action_ids: list[str], decision: str) -> None:
        if not action_ids:  # nothing chosen: the plan's tally stays its own
            return
        with self.store.transaction():
            self.store.set_decisions(plan_id, action_ids, decision)
            if approval_after(decision, False):
                self.store.set_approved(plan_id, action_ids, True)
            # U3: an answer to a held action; the next run carries it out.
            self.store.decide_held(action_ids, "skipped" if decision == "skip" else "approved", self.clock())

    def approve(self, action_ids: Iterable[str], approved: bool = True, plan_id: str | None = None) -> list[str]:
        """Approve (or, with approved=False, skip) actions of a plan by id or unambiguous prefix;
        returns their full ids. An id the plan does not have is refused, and nothing changes."""
        plan_id = self.plan_id_for(plan_id)
        full_ids = [full_id for full_id, _ in self._named(plan_id, action_ids)]
        self._record_approval(plan_id, full_ids, approved)
        return full_ids

    def _named(self, plan_id: str, action_ids: Iterable[str]) -> list[tuple[str, str]]:
        """(full id, kind) of each action named by its id or an unambiguous prefix of it; whole ids
        found at once (the TUI's "approve shown" names 100,000s). PlanNotFound for one not found."""
        action_ids = list(action_ids)
        whole = self.store.action_kinds(plan_id, action_ids)
        named = []
        for wanted in action_ids:
            found = (wanted, whole[wanted]) if wanted in whole else self.store.action_kind(plan_id, wanted)
            if found is None:
                raise PlanNotFound(f"plan {plan_id} has no action {wanted!r} (or more than one starts so)")
            named.append(found)
        return named

    def approve_matching(self, matching: ReviewFilter, approved: bool = True,
                         plan_id: str | None = None) -> tuple[list[str], list[Action]]:
        """Approve (or skip) every action of a plan that `matching` selects, as the TUI's "approve
        shown" does: those an approval lets through (see review.ready_once_approved; a skip, every one
        that takes an approval). Returns their full ids, and the selected actions left waiting for
        the operator: conflicts without a side taken, ambiguous matches, blocked writes."""
        plan, chosen, _ = self.select(matching, plan_id)
        goes = ready_once_approved if approved else takes_approval
        full_ids = [a.id for a in chosen if goes(a)]
        self._record_approval(plan.id, full_ids, approved)
        return full_ids, [a for a in chosen if not goes(a)]

    def _record_approval(self, plan_id: str, action_ids: list[str], approved: bool) -> None:
        if not action_ids:
            return
        with self.store.transaction():
            self.store.set_approved(plan_id, action_ids, approved)
            self.store.decide_held(action_ids, "approved" if approved else "skipped", self.clock())  # U3

    def sign_off(self, signed: SignOffFile, plan_id: str | None = None) -> SignOff:
        """Record what a reviewer changed in a plan signed off in a spreadsheet (engine.signoff), in
        one write: the plan the file names (`plan_id`, when given, must be that one). A row as the
        plan has it already changes nothing (an action held by unattended runs stays held: U3). A row
        naming an action the plan does not have, or a decision on an action that is not a conflict,
        is refused with its line; the rest is recorded. Taking a side approves a conflict, unless the
        file says `approved: no` of it too."""
        named = self.plan_id_for(signed.plan_id)
        plan_id = self.plan_id_for(plan_id) if plan_id else named
        if plan_id != named:
            raise UsageError(f"{signed.path} signs off plan {signed.plan_id}, not plan {plan_id}: nothing was recorded")
        known = self.store.action_choices(plan_id, [id_ for a in signed.actions
                                                    for id_ in (a.action_id, a.made_id) if id_])
        done = SignOff(plan_id, refused=list(signed.refused))
        approvals: dict[bool, list[str]] = {True: [], False: []}
        for action in signed.actions:
            full_id = next((id_ for id_ in (action.action_id, action.made_id) if id_ in known), None)
            if full_id is None:
                done.refused.append(RefusedLine(action.line, action.action_id, f"plan {plan_id} has no such action"))
                continue
            kind, decision, approved = known[full_id]
            if action.decision and kind != "conflict":
                done.refused.append(RefusedLine(action.line, action.action_id,
                                                f"a decision on a {kind}: only conflicts take one"))
                continue
            changed = False
            if action.decision and action.decision != decision:
                done.decided.setdefault(action.decision, []).append(full_id)
                approved, changed = approval_after(action.decision, approved), True
            if action.approved is not None and action.approved != approved:
                approvals[action.approved].append(full_id)
                changed = True
            done.as_they_were += not changed
        done.approved, done.skipped = approvals[True], approvals[False]
        done.refused.sort(key=lambda refused: refused.line)
        with self.store.transaction():
            for decision, action_ids in done.decided.items():
                self._record_decision(plan_id, action_ids, decision)
            for approved, action_ids in approvals.items():
                self._record_approval(plan_id, action_ids, approved)
            # Who signed it off, when, from which file (its digest): kept with the plan, shown with it.
            self.store.add_plan_note(plan_id, f"signed off by {operator_name()} at {self.clock()} from {signed.path} "
                                              f"(sha256 {signed.digest[:16]}): {done.note}")
        return done

    def plan_id_for(self, plan_id: str | None) -> str:
        """The full id of the named plan, or of the latest sync plan, without loading its actions."""
        if plan_id is None:
            found = self.store.latest_plan_id()
            if found is None:
                raise PlanNotFound(NO_FULL_PLAN)
            return found
        found = self.store.plan_id_of(plan_id)
        if found is None:
            raise PlanNotFound(f"no saved plan {plan_id!r}")
        state = self.store.plan_state(found)
        if state == "superseded":
            raise SupersededPlan(f"plan {found} was made before another plan was applied, and its actions were let "
                                 "go (it can never be applied): plan again (qbsync plan)")
        if state == "replaced":
            raise SupersededPlan(f"plan {found} was replaced by newer plans more than {REPLACED_PLANS_KEPT_HOURS} hours "
                                 "ago, and its actions were let go: the latest plan (qbsync show) has what it "
                                 "proposed, or plan again (qbsync plan)")
        return found

    # -- applying ------------------------------------------------------------------------------

    def apply(self, plan_id: str | None = None, *, on_result: Callable[[ActionResult, int, int], None] | None = None,
              retry_failed: bool = False, force: bool = False, wait: bool = True,
              on_wait: Callable[[Holder | None], None] | None = None,
              stop: threading.Event | None = None, until_done: bool = False,
              on_cap: Callable[[str, float], None] | None = None, confirmed: str | None = None) -> ApplyReport:
        """Apply a saved plan (the latest sync plan by default), as the only writer of this state
        file (W7): another apply, here or in another process, is waited for (`on_wait` says who
        holds it) or, with `wait=False`, refused with LockBusy.

        `confirmed`: the plan's approvals_digest as the operator confirmed it. When the plan's
        approvals and decisions say otherwise now, nothing is applied (ApprovalsChanged, W1).

        Precoro's hourly cap is waited out (`on_cap(what, seconds left)` counts down); at its daily
        cap the apply stops and says when it can go on, unless `until_done`: then it waits for that too."""
        wanted = self.plan_id_for(plan_id)
        with self.writer(f"applying plan {wanted}", wait=wait, on_wait=on_wait):
            # Read under the lock: decisions and journal as they are now. Listed: each action's
            # details (changes, requests) are read as the apply comes to it and let go once its
            # outcome is recorded, so a plan of 260,000 actions is never held whole.
            plan = self.store.load_plan(wanted, listed=True, background=False)
            if plan is None:
                raise PlanNotFound(NO_FULL_PLAN)
            done = None if retry_failed else self.already_applied(plan)
            if done is not None:  # by another qbsync while this one waited for the lock, most often
                return done
            if confirmed is not None:
                _check_confirmed(plan, confirmed)
            conn = self.connected
            report = apply_plan(self.store, plan, self.rules, conn.quickbooks, conn.precoro, realm_id=conn.realm_id,
                                on_result=on_result, retry_failed=retry_failed, force=force, clock=self.clock,
                                stop=stop, until_done=until_done, on_cap=on_cap, sleep=self.sleep)
            self.store.let_go_plans(self.clock())  # the plans this apply superseded can never be applied
            # U3: an answer to a held action is spent once it was tried, by a run or a person: done, or
            # failed and planned next time as "failed before" (W9), held afresh, not sent again unasked.
            self.store.forget_held(plan.realm_id, [r.id for r in report.results
                                                   if r.status in ("applied", "failed", "refused")])
            if self._plan_to_review_id() == plan.id:
                # Counted and read now, while the apply is waited on anyway: the next `status` or
                # review of a large plan left with failures takes them as kept (Store.action_groups,
                # Store.outcomes).
                self.store.action_groups(plan.id)
                self.store.outcomes(plan.id)
            return report

    def already_applied(self, plan: Plan) -> ApplyReport | None:
        """When every action of the plan that an apply would carry out is applied already (running it
        again would write nothing; an action approved since would still be applied): the report
        that says so, and by whom. Else None."""
        todo = [action.id for action in plan.actions if action.executable]
        outcomes = self.store.outcomes(plan.id) if todo else {}
        if not todo or any(outcomes.get(action_id, ("",))[0] != "applied" for action_id in todo):
            return None
        return ApplyReport(plan.id, already_applied=True, applied_by=self.store.last_apply_run(plan.id))

    # -- payments back: the repair import (D9) ----------------------------------------------------

    def payments_import_plan(self, since: date, until: date, *, wait: bool = True,
                             on_wait: Callable[[Holder | None], None] | None = None) -> Plan:
        """A plan of the QuickBooks payments of a date range not recorded in Precoro yet (D9): read
        by a query, not CDC, so it reaches any range. Each is looked for in Precoro by its externalId
        first, so an import never records a payment twice. Saved as a repair plan, named by its id."""
        if until < since:
            raise UsageError(f"--until {until} is before --since {since}")
        if not self.enabled(PAYMENTS.section):
            raise UsageError(f"payments are turned off in {self.rules_path} (documents.payments); turn them on to import them")
        with self.writer("planning a payments import", wait=wait, on_wait=on_wait):
            conn = self.connected
            result = plan_payments(PAYMENTS, self.rules.entity(PAYMENTS.section),
                                   paid_between(conn.quickbooks, since, until),
                                   self.store.sync_state(INVOICES.section, conn.realm_id),
                                   self.store.sync_state(PAYMENTS.section, conn.realm_id), PrecoroPayments(conn.precoro),
                                   credit_notes=self.store.sync_state(CREDIT_NOTES.section, conn.realm_id),
                                   complete=False)
            plan = Plan(actions=sorted(result.actions, key=sort_key), realm_id=conn.realm_id,
                        rules_digest=self.rules.digest, created_at=self.clock(), entities=(PAYMENTS.section,),
                        purpose="repair", scope=PAYMENTS.section,
                        readback={PAYMENTS.section: readback(self.rules, PAYMENTS.section)})
            self._save(plan)
            return plan

    # -- manual mapping (S7) ------------------------------------------------------------------

    def map_plan(self, section: str, precoro_id: str, quickbooks_id: str) -> Plan:
        """A plan that links two records by hand, with the field changes the link brings."""
        with self.writer(f"planning a mapping of {section}"):
            return self._map_plan(section, precoro_id, quickbooks_id)

    def _map_plan(self, section: str, precoro_id: str, quickbooks_id: str) -> Plan:
        spec = self._mappable(section)
        entity_rules, refs, conn = self.rules.entity(section), self.planner().refs, self.connected
        try:
            p = spec.record(entity_rules, "precoro", conn.precoro.get(f"{spec.precoro}/{precoro_id}"), refs)
        except NotFound:
            raise MappingRefused(f"Precoro has no {spec.label} {precoro_id}") from None
        try:
            q = spec.record(entity_rules, "quickbooks", conn.quickbooks.read(spec.quickbooks, quickbooks_id), refs)
        except NotFound:
            raise MappingRefused(f"QuickBooks has no {spec.quickbooks} {quickbooks_id}") from None
        existing = self.store.link_for(section, self.realm_id, precoro_id=p.id)
        taken = self.store.link_for(section, self.realm_id, quickbooks_id=q.id)
        refused = _mapping_refused(spec, entity_rules, p, q, existing, taken)
        if refused:
            raise MappingRefused(refused)
        return self._save_new(_mapping_actions(spec, self.rules, [(p, q)], refs), section)

    def map_many(self, section: str, rows: Iterable[MappingRow]) -> BulkMapping:
        """One plan that links many pairs by hand (a file an operator filled in): each row that
        cannot be mapped is refused with its reason, and the others are planned; a row already
        mapped as it asks is neither. Records are taken from the mirror as the last plan read them
        (Precoro allows 1,500 calls an hour), and read only when it has not got them; the apply
        refuses a write to a record that changed since, as it does for any plan."""
        with self.writer(f"planning a mapping of {section}"):
            spec = self._mappable(section)
            entity_rules, refs, realm = self.rules.entity(section), self.planner().refs, self.realm_id
            refused: list[RefusedRow] = []
            wanted: list[MappingRow] = []
            first_p: dict[str, int] = {}
            first_q: dict[str, int] = {}
            for row in rows:
                if row.precoro_id in first_p or row.quickbooks_id in first_q:
                    which, line = (("Precoro", first_p[row.precoro_id]) if row.precoro_id in first_p
                                   else ("QuickBooks", first_q[row.quickbooks_id]))
                    refused.append(RefusedRow(row, f"the {which} {spec.label} is mapped on line {line} already"))
                    continue
                first_p[row.precoro_id], first_q[row.quickbooks_id] = row.line, row.line
                wanted.append(row)
            by_p = self.store.links_among(section, realm, "precoro_id", [r.precoro_id for r in wanted])
            by_q = self.store.links_among(section, realm, "quickbooks_id", [r.quickbooks_id for r in wanted])
            already = [r for r in wanted if by_p.get(r.precoro_id, {}).get("quickbooks_id") == r.quickbooks_id]
            wanted = [r for r in wanted if by_p.get(r.precoro_id, {}).get("quickbooks_id") != r.quickbooks_id]
            precoro, quickbooks = self._records(spec, entity_rules, {"precoro": [r.precoro_id for r in wanted],
                                                                     "quickbooks": [r.quickbooks_id for r in wanted]},
                                                refs)
            pairs = []
            for row in wanted:
                p, q = precoro.get(row.precoro_id), quickbooks.get(row.quickbooks_id)
                reason = (f"Precoro has no {spec.label} {row.precoro_id}" if p is None else
                          f"QuickBooks has no {spec.quickbooks} {row.quickbooks_id}" if q is None else
                          _mapping_refused(spec, entity_rules, p, q, by_p.get(p.id), by_q.get(q.id)))
                if reason:
                    refused.append(RefusedRow(row, reason))
                else:
                    pairs.append((p, q))
            plan = self._save_new(_mapping_actions(spec, self.rules, pairs, refs), section) if pairs else None
            return BulkMapping(plan, sorted(refused, key=lambda r: r.row.line), already)

    def _mappable(self, section: str) -> EntitySpec:
        spec = BY_SECTION[section]
        if not spec.mappable:
            raise MappingRefused(f"{spec.plural} are not mapped by hand; they follow their links")
        return spec

    def _records(self, spec: EntitySpec, entity_rules: Any, ids: dict[str, list[str]],
                 refs: Any) -> tuple[dict[str, Any], dict[str, Any]]:
        """The records of each side by id (precoro, quickbooks): from the mirror, else read one by
        one (absent: not found). Many not in the mirror (a new state file, never planned) are refused
        before any is read: reading them one at a time would spend Precoro's calls of hours on what
        a plan reads by the page."""
        readers = {side: spec.reader(entity_rules, side, refs) for side in ids}
        found = {side: {rid: readers[side](bulk.loads(raw)) for rid, raw in
                        self.store.mirror_raws(self.realm_id, side, spec.section, wanted).items()}
                 for side, wanted in ids.items()}
        missing = {side: [rid for rid in dict.fromkeys(wanted) if rid not in found[side]] for side, wanted in ids.items()}
        for side, unknown in missing.items():
            if len(unknown) > MAPPING_READS_AT_MOST:
                raise MappingRefused(
                    f"{len(unknown):,} of the {SIDE_NAMES[side]} records named are not in this state file's copy of "
                    f"{SIDE_NAMES[side]} (it was never planned with, or is new): run `qbsync plan` first, then map; "
                    f"reading them one at a time would cost {len(unknown):,} calls")
        conn = self.connected
        for side, unknown in missing.items():
            for rid in unknown:
                try:
                    raw = (conn.precoro.get(f"{spec.precoro}/{rid}") if side == "precoro"
                           else conn.quickbooks.read(spec.quickbooks, rid))
                except NotFound:
                    continue
                found[side][rid] = readers[side](raw)
        return found["precoro"], found["quickbooks"]

    def unmapped_items(self, limit: int = 5, progress: Progress | None = None) -> list[dict[str, Any]]:
        """The Not-mapped list (I4): unlinked Precoro items, each with ranked QuickBooks candidates.

        Candidates are active, unlinked QuickBooks items only (I4, I9). An item that an approved
        link of the latest plan (a match by name, say) takes says so in `planned` ({"plan_id",
        "quickbooks_id"}): applying that plan maps it, so the faces list it apart from the rest.
        """
        planner = self.planner(progress)
        precoro, quickbooks = planner.fetch(ITEMS, self.rules.items, ITEMS.precoro)
        state = self.store.sync_state(ITEMS.section, self.realm_id)
        taken = {link.quickbooks_id for link in state.links.values()}
        index = CandidateIndex(q for q in quickbooks if q.active and q.id not in taken)
        plan_id = self.store.latest_plan_id()
        planned = self.store.approved_links(plan_id, ITEMS.kind) if plan_id else {}
        unmapped = []
        for p in sorted(precoro, key=lambda r: int(r.id) if r.id.isdigit() else 0):
            if p.id in state.links:
                continue
            linked_to = planned.get(p.id)
            unmapped.append({
                "precoro_id": p.id, "name": p.values.get("name"), "sku": p.values.get("sku"),
                "price": p.values.get("price"), "free_of_charge": bool(p.raw.get("freeOfCharge")),
                # One the plan maps needs no suggestion (a large catalogue's ranking is most of the cost).
                "candidates": [] if linked_to else [s.to_json() for s in index.suggest(p, limit)],
                "planned": {"plan_id": plan_id, "quickbooks_id": linked_to} if linked_to else None,
            })
        return unmapped

    def unmap_plan(self, section: str, precoro_id: str) -> Plan:
        with self.writer(f"planning an unmapping of {section}"):
            return self._unmap_plan(section, precoro_id)

    def _unmap_plan(self, section: str, precoro_id: str) -> Plan:
        spec = BY_SECTION[section]
        existing = self.store.link_for(section, self.realm_id, precoro_id=precoro_id)
        if not existing:
            raise MappingRefused(f"Precoro {spec.label} {precoro_id} is not linked")
        reconciler = spec.reconciler(spec, self.rules.entity(section), [], [], SyncState())
        reconciler.add_action("unlink", None, None, None, precoro_id=precoro_id, quickbooks_id=existing["quickbooks_id"],
                              name=f"{spec.label} {precoro_id}",
                              note="unmapped by hand: it will not be matched to this QuickBooks record again on its own",
                              hold=HoldFacts("unmapped", "precoro", existing["quickbooks_id"]))
        return self._save_new(reconciler.out.actions, section)

    def _save_new(self, actions: list[Action], section: str) -> Plan:
        plan = Plan(actions=actions, realm_id=self.realm_id, rules_digest=self.rules.digest,
                    created_at=self.clock(), entities=(section,), purpose="mapping", scope=section,
                    readback={section: readback(self.rules, section)})
        self._save(plan)
        return plan

    # -- history and status --------------------------------------------------------------------

    def unfinished_apply(self) -> dict[str, Any] | None:
        """The last apply run, when it did not finish: killed (still marked running while nobody
        holds the writer lock) or stopped (by the operator, a rate cap, an outage). Applying its
        plan again finishes it, writing nothing twice."""
        run = self.store.last_apply_run()
        if run is None or run["state"] == "finished":
            return None
        if run["state"] == "running" and self.store.lock("writer").holder() is not None:
            return None  # it is running now, in another process
        return {"plan_id": run["plan_id"], "started_at": run["started_at"], "who": run["who"],
                "state": "interrupted" if run["state"] == "running" else "stopped"}

    def explain(self, entity: str, record: str, *, history: int, live: bool = False) -> dict[str, Any]:
        """What qbsync knows of one record and does with it (`engine.explain`): from the state file,
        nothing sent to either service; `live`: its two sides read now, one request each."""
        conn = self.connected

        def read(side: str, spec: EntitySpec, record_id: str) -> dict | None:
            try:
                return (conn.precoro.get(f"{spec.precoro}/{record_id}") if side == "precoro"
                        else conn.quickbooks.read(spec.quickbooks, record_id))
            except NotFound:
                return None

        return explain(self.store, self.rules, conn.realm_id, entity, record, history=history,
                       read=read if live else None)

    def history(self, record: str | None = None, limit: int | None = None, *, plan_id: str | None = None,
                statuses: Iterable[str] = (), since: date | None = None, until: date | None = None,
                entity: str | None = None, kind: str | None = None) -> list[dict]:
        """The audit, newest first, filtered as asked (Store.history); `plan_id` may be a prefix;
        `since` and `until` are days, both included (UTC, as the audit records them)."""
        return list(self.audit(record, limit, plan_id=plan_id, statuses=statuses, since=since, until=until,
                               entity=entity, kind=kind))

    def runs(self, *, limit: int | None = None, since: date | None = None, failed: bool = False) -> list[dict]:
        """Unattended runs, newest first (Store.runs; kept for RUNS_KEPT_DAYS): `since` a day (UTC).
        Each says whether it is `running` now: a run with no end recorded was killed, unless it is the
        newest and a process holds the run lock."""
        runs = self.store.runs(limit=limit, since=since.isoformat() if since else None, failed=failed)
        going = self.store.last_run() if self.store.lock("run").holder() is not None else None
        for run in runs:
            run["running"] = going is not None and run["id"] == going["id"] and run["finished_at"] is None
        return runs

    def audit(self, record: str | None = None, limit: int | None = None, *, plan_id: str | None = None,
              statuses: Iterable[str] = (), since: date | None = None, until: date | None = None,
              entity: str | None = None, kind: str | None = None) -> Iterator[dict]:
        """`history`, an entry at a time: what prints a long audit whole (`history --json`) without
        holding it. A plan not found is said at once, not at the first entry."""
        if plan_id is not None:
            found = self.store.plan_id_of(plan_id)
            if found is None:
                raise PlanNotFound(f"no saved plan {plan_id!r}")
            plan_id = found
        return self.store.iter_history(record=record, limit=limit, plan_id=plan_id, statuses=statuses,
                                       since=since.isoformat() if since else None,
                                       before=(until + timedelta(days=1)).isoformat() if until else None,
                                       entity=entity, kind=kind)

    def doctor(self) -> list[Check]:
        """What qbsync assumes of both services, checked against the connected companies: reads, and
        one PATCH of an externalId onto a supplier qbsync created, with the value it has already.
        With one side connected so far, its checks run and the other's say what to run."""
        try:
            conn = self.connected
        except NotConnected as exc:
            if exc.side not in SIDE_NAMES:
                raise
            try:
                alone = self._connect_alone(other_side(exc.side))
            except NotConnected as also:  # neither side: both steps are said at once
                raise NotConnected(f"{exc}; and {also}") from None
            try:
                clients = {alone.side: alone.client, exc.side: None}
                return Doctor(clients["precoro"], clients["quickbooks"], self.store, None,
                              missing={exc.side: str(exc)}, quickbooks_said=alone.describe).run()
            finally:
                alone.close()
        return Doctor(conn.precoro, conn.quickbooks, self.store, conn.realm_id,
                      quickbooks_said=conn.describe.get("quickbooks")).run()

    def warnings(self) -> list[str]:
        """What a person should hear of soon, from the connection this session already has (an
        unattended run's summary carries them): nothing is connected for it."""
        if self._connected is None:
            return []
        ending = connection_ending_said(self._connected.describe.get("quickbooks") or {},
                                        datetime.fromisoformat(self.clock()))
        return [ending] if ending else []

    def not_connected(self, side: str) -> str | None:
        """Why `side` cannot be connected as things stand (what to run), or None when it can. Builds
        its client and lets it go: nothing is sent."""
        try:
            self._connect_alone(side).close()
        except NotConnected as exc:
            return str(exc)
        return None

    def _connect_alone(self, side: str) -> OneSide:
        start = (lambda: self.local_apis(self.state_path)) if self.local_apis else None
        return connect_side(self.rules, self.store, side, env=self.env, local_apis=start)

    def _look_at_alone(self, side: str, info: dict[str, Any]) -> None:
        try:
            alone = self._connect_alone(side)
        except NotConnected as exc:
            info.update(reachable=False, connected=False, error=str(exc))
            return
        try:
            info.update(alone.describe)
            _look_at(side, alone.client, info)
        finally:
            alone.close()

    def status(self, *, look: bool = True) -> dict[str, Any]:
        """Connections (reachable or why not), and per-entity counts from the store and the latest plan.
        `look=False`: the connections as the state file knows them, with no request to either service
        (`reachable` None): the status of many companies at once (`status --all`)."""
        out: dict[str, Any] = {"rules": {"path": str(self.rules_path), "valid": True},
                               "state_file": {"path": str(self.state_path), "bytes": self.store.size(),
                                              "free_bytes": self.store.free_bytes(),
                                              "exposed_to_git": git_would_take(Path(self.state_path))}}
        if look:
            realm = self._look_at_connections(out)
        else:
            out["connections"] = saved_connections(self.rules, self.store)
            realm = out["connections"]["quickbooks"]["realm_id"] or self._realm_planned()
        quickbooks = out["connections"].get("quickbooks") or {}
        ending = connection_ending_said(quickbooks, datetime.fromisoformat(self.clock()))
        if ending:  # the words, and the day for a screen with room for no more (the TUI's 80x24)
            quickbooks["ending"] = ending
            quickbooks["ends_at"] = connection_end(quickbooks)[0].isoformat()
        # The same counts as the TUI's overview: of the plan to review (none once it is applied), with
        # its outcomes; counted in the state file, without loading the plan.
        review_id = self._plan_to_review_id()
        groups = self._action_groups(review_id) if review_id else {}
        specs = [spec for spec in ENTITIES if self.enabled(spec.section)]
        linked = {spec.kind: self.store.count_links(spec.section, realm) if realm else 0 for spec in specs}
        rows = {row.entity: row for row in entity_counts(None, None, linked, entities=[s.kind for s in specs],
                                                         groups=groups)}
        out["entities"] = {spec.section: {key: value for key, value in vars(rows[spec.kind]).items() if key != "entity"}
                           for spec in specs}
        latest_id = self.store.latest_plan_id()
        out["latest_plan"] = self.plan_made(latest_id) if latest_id else None
        out["plan_to_review"] = review_id
        # What its applies left undone, by outcome: the failed are tried again with --retry-failed,
        # the refused (changed since the plan, W2) need a new plan.
        out["undone"] = {status: n for status in sorted(ERROR_OUTCOMES)
                         if (n := sum(n for (*_, outcome), n in groups.items() if outcome == status))}
        out["unfinished_apply"] = self.unfinished_apply()
        out["unattended"] = run_status(self.store)  # U1, U3
        out["reading"] = self.store.reading(realm) if realm else None  # W11: a read a cap cut short
        if out["reading"]:  # and what the rest costs: a first read of a large company takes days
            out["reading"].update(reading_left(out["reading"]["sources"], out["reading"]["resume_at"]))
        # W11: full reads of Precoro lists not finished (under way, or cut short by a cap or a kill):
        # where the next plan goes on, and how many records that read has kept so far.
        out["unfinished_reads"] = [
            {"section": listing["section"], "page": listing["page"], "began": listing["began"],
             "kept": self.store.mirror_count(realm, listing["side"], listing["section"], listing["generation"])}
            for listing in (self.store.mirror_listings(realm) if realm else [])
            if self.enabled(listing["section"])]  # one the rules no longer read is not waiting
        # W7: a plan or apply under way in another terminal holds the writer lock; whoever plans or
        # applies next waits for it (an apply run "running" there is not an unfinished one).
        holder = self.store.lock("writer").holder()
        out["in_use"] = asdict(holder) if holder else None
        out["quickbooks_reads"] = self.quickbooks_reads_this_month()
        return out

    def _look_at_connections(self, out: dict[str, Any]) -> str | None:
        """Both connections looked at (a request each) into `out["connections"]`; the realm, if connected."""
        try:
            conn = self.connected
            out["connections"] = conn.describe
            for side in SIDE_NAMES:
                _look_at(side, getattr(conn, side), out["connections"][side])
            return conn.realm_id
        except Exception as exc:  # a missing credential must not hide the rest of the status
            # What the store knows of each side (environment, realm, token expiry), the error on its side.
            out["connections"] = {**saved_connections(self.rules, self.store, exc), "error": str(exc)}
            # The other side is looked at alone: connecting a company is done one side at a time, and
            # each step shows what is left (a Precoro key checked before QuickBooks is connected).
            if getattr(exc, "side", None) in SIDE_NAMES:
                other = other_side(exc.side)
                self._look_at_alone(other, out["connections"][other])
            return None

    def _realm_planned(self) -> str | None:
        """The QuickBooks company of the latest plan: the realm of a company whose rules name none
        (the local APIs', or one connected by environment variables), known without connecting."""
        latest = self.store.latest_plan_id()
        return self.store.plan_row(latest)["realm"] if latest else None

    def quickbooks_reads_this_month(self) -> dict[str, Any]:
        """What this state file's sessions read of QuickBooks this month (`month`, `reads`), this
        session's reads so far included: an Intuit app's reads are capped by the month."""
        self._count_reads()
        month = self.clock()[:7]
        return {"month": month, "reads": self.store.reads_in("quickbooks", month)}


__all__ = ["SyncSession", "Interrupted", "PlanNotFound", "MappingRefused", "StalePlanError", "SupersededPlan", "SafetyLimitExceeded",
           "LockBusy"]


def _mapping_refused(spec: EntitySpec, entity_rules: Any, p: Any, q: Any, p_link: dict | None,
                     q_link: dict | None) -> str | None:
    """Why these two records cannot be linked by hand (None: they can). `p_link`, `q_link`: the
    links each of them is in now."""
    if p_link:
        return (f"Precoro {spec.label} {p.id} is already linked to QuickBooks {p_link['quickbooks_id']}: "
                "unmap it first")
    if q_link:
        return f"QuickBooks {spec.quickbooks} {q.id} is already linked to Precoro {q_link['precoro_id']}"
    if not q.active:
        return f"QuickBooks {spec.quickbooks} {q.id} is inactive; only active records can be mapped"
    if spec is not ITEMS and "currency" in entity_rules.match.keys:
        if len(p.currencies) > 1 and q.currencies and q.currencies[0] not in p.currencies:
            return "the vendor's currency is not one of the supplier's currencies"
        if len(p.currencies) == 1 and q.currencies and p.currencies != q.currencies:
            return (f"currencies differ (Precoro {p.currencies[0]}, QuickBooks {q.currencies[0]}); a vendor's currency "
                    "cannot change in QuickBooks, so a supplier is only linked to a vendor of the same currency")
    return None


def _mapping_actions(spec: EntitySpec, rules: Rules, pairs: list[tuple[Any, Any]], refs: Any) -> list[Action]:
    """The links of pairs mapped by hand, each with the field changes it brings (items: I4-I6)."""
    if spec is ITEMS:
        return mapping_actions(spec, rules.items, pairs, refs)
    reconciler = spec.reconciler(spec, rules.entity(spec.section), [p for p, _ in pairs], [q for _, q in pairs],
                                 SyncState(), refs=refs)
    for p, q in pairs:
        link = reconciler.add_action("link", None, p, q, note="mapped by hand", link=LinkFacts("manual"))
        reconciler.propose_new_pair(p, q, link)
    return reconciler.out.actions


def _seconds_between(earlier: str, later: str) -> float | None:
    """Seconds from one ISO time to another; None when either cannot be read."""
    try:
        return (datetime.fromisoformat(later) - datetime.fromisoformat(earlier)).total_seconds()
    except (TypeError, ValueError):
        return None


def _check_confirmed(plan: Plan, confirmed: str) -> None:
    """Refuse an apply whose plan would now run other actions than the operator confirmed."""
    now = approvals_digest(plan.actions)
    if now == confirmed:
        return
    then, actions = confirmed_count(confirmed), confirmed_count(now)
    raise ApprovalsChanged(
        f"plan {plan.id} was changed after you confirmed its apply (another terminal or an unattended run "
        f"approved, skipped or decided actions): it would now run {actions:,} action{'s' if actions != 1 else ''}, "
        f"not the {then:,} you confirmed. Nothing was written; applying it again shows it as it now is and asks again")


class KeptActions:
    """A plan's actions as it is made, taken entity by entity (Planner.plan's `keep`): what earlier
    applies and plans say of them put on them, then into the plan's id and the form the state file
    keeps them in, in plan order. The whole actions of an entity are let go once kept."""

    def __init__(self, store: Store, realm_id: str, rules_digest: str, created_at: str, scope: str) -> None:
        self.created_at = created_at
        self.digest = plan_digest(realm_id, rules_digest, created_at)
        self.stored = StoredActions()
        self._failures = store.failed_units()
        # Only the previous plan's (of the same scope) decided or unapproved actions: usually none.
        previous_id = store.latest_plan_id(scope=scope)
        self._choices = store.operator_choices(previous_id) if previous_id else []

    def add(self, actions: list[Action]) -> None:
        # Decisions first: a side taken on the previous plan makes its conflict a write only now, and
        # the same write that failed before is marked too. (What the previous plan itself left
        # unapproved is not carried: review.carried_decisions.)
        self._carry_decisions(actions)
        self._mark_failed_before(actions)
        actions = sorted(actions, key=sort_key)
        for action in actions:
            add_to_digest(self.digest, action)
        self.stored.add(actions)

    def _mark_failed_before(self, actions: list[Action]) -> None:
        """W9: the same write failed in an earlier apply: say so, and wait for the operator's approval
        instead of sending it to fail again."""
        if not self._failures:
            return
        for unit in build_units([a for a in actions if a.executable and unit_key(a) in self._failures]):
            failure = self._failures.get(unit.key)
            if failure is None or failure["fingerprint"] != unit.fingerprint():
                continue
            for action in unit.actions:
                action.note = f"{action.note}; failed before: {failure['last_error']}".lstrip("; ")
                action.unapproved_why, action.approved = f"failed before: {failure['last_error']}", False

    def _carry_decisions(self, actions: list[Action]) -> None:
        """Decisions made on the previous plan survive re-planning when the conflict is unchanged."""
        if not self._choices:
            return
        current = {a.id: a for a in actions}
        for action_id, decision, approved in carried_decisions(self._choices, actions):
            current[action_id].decision, current[action_id].approved = decision, approved


def _cut_short(cap: RateLimited, resume: datetime | None, kept: dict[str, int],
               progress: list[dict[str, Any]]) -> ReadsCutShort:
    """What a plan stopped by a cap says: when it can go on, that no read is lost, and what the
    rest costs (W11)."""
    when = f"; it can go on at {resume:%Y-%m-%d %H:%M} UTC" if resume else ""
    read = " and ".join(f"{count:,} {SIDE_NAMES[side]} record{'s' if count != 1 else ''}"
                        for side, count in kept.items() if count)
    after = (f" The {read} read so far are kept: the next plan reads only the rest" if read
             else " Plan again then")
    left = reading_left(progress, resume.isoformat() if resume else None)
    if left["done_at"]:
        after += (f"; the rest is {calls_left_said(left)} Precoro calls, done at the earliest "
                  f"{left['done_at'][:16].replace('T', ' ')} UTC")
    return ReadsCutShort(f"{cap.limit_name} is reached{when}. Nothing was planned.{after} "
                         "(`qbsync plan --until-done` waits for it).", cap)
