"""The engine's one API, shared by the CLI and the TUI: plan, decide, approve, apply, map, history.

A `SyncSession` owns the rules, the state store and (lazily) the two clients. Nothing here prints
or knows about a screen; long work reports progress through callbacks.
"""

from __future__ import annotations

import hashlib
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterable

import rules as rules_pkg
from rules.model import Rules

from .apply import ActionResult, ApplyReport, apply_plan, build_units
from .errors import (DecisionRefused, Interrupted, MappingRefused, PlanNotFound, SafetyLimitExceeded, StalePlanError,
                     SupersededPlan, UsageError)
from .clients.errors import ApiError, NotFound
from .connections import Connected, connect, saved_connections
from .documents import APPROVED_STATUSES, plan_documents
from .entities import CHART_OF_ACCOUNTS, DOCUMENTS, ITEMS, LISTS, SECTIONS, SUPPLIERS, EntityKind, record
from .lists import plan_list
from .locks import Holder, LockBusy
from .items import mapping_actions, reconcile_items
from .references import References
from .suggest import CandidateIndex
from .targets import name_key
from .plan import Action, Plan
from .records import Record
from .reconcile import Reconciler, SyncState, reconcile
from .store import Store

Progress = Callable[[str, int, int | None], None]  # (what, done, total or None)

# Entities in the order they are planned: items refer to accounts and suppliers, documents to all
# of them, through their links.
SUPPORTED = ("chart_of_accounts", "classes", "locations", "taxes", "terms", "suppliers", "items", "invoices",
             "purchase_orders")


def default_state_path(rules_path: Path) -> Path:
    return rules_path.resolve().parent / ".qbsync" / "state.db"


def utc_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


class SyncSession:
    def __init__(self, rules_path: str | Path = "rules.yaml", state_path: str | Path | None = None, *,
                 env: dict[str, str] | None = None, clock: Callable[[], str] = utc_now,
                 local_seed: str = "demo") -> None:
        self.rules_path = Path(rules_path)
        self.rules: Rules = rules_pkg.load(self.rules_path)
        self.state_path = Path(state_path) if state_path else default_state_path(self.rules_path)
        self.store = Store(self.state_path)
        self.env = env
        self.clock = clock
        self.local_seed = local_seed
        self._connected: Connected | None = None
        self._fields_cache: dict[str, list[dict]] | None = None  # set while a plan is made

    # -- lifecycle -----------------------------------------------------------------------------

    @property
    def connected(self) -> Connected:
        if self._connected is None:
            self._connected = connect(self.rules, self.store, state_dir=self.state_path.parent, env=self.env,
                                      local_seed=self.local_seed)
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
            self._connected.close()
            self._connected = None
        self.store.close()

    def __enter__(self) -> "SyncSession":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # -- reading -------------------------------------------------------------------------------

    def enabled(self, section: str) -> bool:
        if section in ("invoices", "purchase_orders"):
            return getattr(self.rules.documents, section)
        if SECTIONS[section] in LISTS:
            return getattr(self.rules.lists, section)
        return self.rules.entity(section).enabled

    def entities(self, only: Iterable[str] | None = None) -> list[EntityKind]:
        names = list(only) if only else [s for s in SUPPORTED if self.enabled(s)]
        unknown = [n for n in names if n not in SECTIONS]
        if unknown:
            raise UsageError(f"unknown entity {unknown[0]!r}; expected one of {', '.join(SECTIONS)}")
        names = [s for s in SUPPORTED if s in names]  # dependencies first, whatever order was asked
        disabled = [n for n in names if not self.enabled(n)]
        if disabled:
            raise UsageError(f"{disabled[0]} are turned off in {self.rules_path}; turn them on there to sync them")
        return [SECTIONS[n] for n in names]

    def references(self) -> References:
        """What item and document references need: supplier and chart-of-accounts links of this company."""
        realm = self.realm_id
        suppliers = self.store.sync_state(SUPPLIERS.section, realm).links.values()
        accounts = self.store.sync_state(CHART_OF_ACCOUNTS.section, realm).links.values()
        chart_field, options = self._list_options(CHART_OF_ACCOUNTS)
        return References.build(((l.precoro_id, l.quickbooks_id) for l in suppliers),
                                chart_field.rsplit("/", 2)[1] if chart_field else None,
                                ((l.precoro_id, l.quickbooks_id) for l in accounts),
                                {str(o["id"]): str(o.get("name") or "") for o in options})

    def _list_options(self, kind: EntityKind) -> tuple[str | None, list[dict]]:
        """Where a list's Precoro records live (None: its custom field is missing), and the records."""
        collection = kind.precoro
        if kind.custom_field:
            fields = [f for f in self._read_once(kind.precoro)
                      if str(f.get("name") or "").strip().casefold() == kind.custom_field.casefold()]
            if not fields:
                return None, []
            collection = f"{kind.precoro}/{fields[0]['id']}/options"
        return collection, self._read_once(collection)

    def _read_once(self, path: str) -> list[dict]:
        """A small Precoro list (custom fields, their options), read once per plan: several lists and
        the item references need them, and Precoro refuses an identical GET within a minute."""
        if self._fields_cache is None:
            return list(self.connected.precoro.list_all(path))
        if path not in self._fields_cache:
            self._fields_cache[path] = list(self.connected.precoro.list_all(path))
        return self._fields_cache[path]

    def _plan_list(self, kind: EntityKind) -> list[Action]:
        """One QuickBooks list mirrored as Precoro options (L1-L3)."""
        collection, options = self._list_options(kind)
        quickbooks = self.connected.quickbooks.query_all(kind.quickbooks, include_inactive=True)
        links = {l.precoro_id: l.quickbooks_id for l in self.store.sync_state(kind.section, self.realm_id).links.values()}
        return plan_list(kind, quickbooks, options, links, collection)

    def fetch(self, kind: EntityKind, progress: Progress | None = None, refs: References | None = None,
              stop: threading.Event | None = None):
        """Both sides' records of one entity: one paged read per side, inactive records included.

        The two sides are read at the same time: each mostly waits on its own service. Either
        reader ends after its current page when `stop` is set or the caller is interrupted (a ctrl+c
        lands in the waiting thread), so stopping a plan never waits for the rest of a company.
        """
        entity_rules = self.rules.entity(kind.section)
        conn = self.connected
        halt = threading.Event()

        def read(side: str, pages, label: str) -> list[Record]:
            records = []
            for raw in pages:
                if halt.is_set() or (stop is not None and stop.is_set()):
                    raise Interrupted("planning was stopped; nothing was saved")
                records.append(record(kind, entity_rules, side, raw, refs))
                if progress and len(records) % 1000 == 0:
                    progress(label, len(records), None)
            return records

        with ThreadPoolExecutor(max_workers=2, thread_name_prefix="fetch") as pool:
            try:
                quickbooks = pool.submit(read, "quickbooks", conn.quickbooks.query_all(kind.quickbooks, include_inactive=True),
                                         f"reading QuickBooks {kind.quickbooks} records")
                precoro = pool.submit(read, "precoro", conn.precoro.list_all(kind.precoro),
                                      f"reading Precoro {kind.precoro.strip('/')}")
                return precoro.result(), quickbooks.result()
            except BaseException:
                halt.set()
                raise

    # -- planning ------------------------------------------------------------------------------

    def writer(self, what: str, *, wait: bool = True, on_wait: Callable[[Holder | None], None] | None = None):
        """The state file's writer lock (W7), held while planning or applying.

        Plans take it too, as Terraform's do: a plan read while another process writes to either
        company would be outdated the moment it is saved, and could not tell (W6).
        """
        return self.store.lock("writer").held(what, wait=wait, on_wait=on_wait)

    def plan(self, only: Iterable[str] | None = None, progress: Progress | None = None, *, wait: bool = True,
             on_wait: Callable[[Holder | None], None] | None = None, stop: threading.Event | None = None) -> Plan:
        """Read both sides, reconcile, save and return the plan (W1). Changes nothing remote.

        `stop` (set from another thread) ends it within a page read, with Interrupted."""
        kinds = self.entities(only)
        with self.writer("planning", wait=wait, on_wait=on_wait):
            realm = self.realm_id
            self._fields_cache = {}
            try:
                return self._plan(kinds, realm, progress, stop)
            finally:
                self._fields_cache = None

    def _plan(self, kinds: list[EntityKind], realm: str, progress: Progress | None,
              stop: threading.Event | None = None) -> Plan:
        actions: list[Action] = []
        agreed: list[dict[str, Any]] = []
        items: list[Record] | None = None
        for kind in kinds:
            if kind in DOCUMENTS:
                actions.extend(self._plan_documents(kind, progress, items))
                continue
            if kind in LISTS:
                actions.extend(self._plan_list(kind))
                continue
            if stop is not None and stop.is_set():
                raise Interrupted("planning was stopped; nothing was saved")
            refs = self.references() if kind is ITEMS else None
            precoro, quickbooks = self.fetch(kind, progress, refs, stop)
            if progress:
                progress(f"planning {kind.section}", 0, None)
            state = self.store.sync_state(kind.section, realm)
            if kind is ITEMS:
                items = precoro
                result = reconcile_items(self.rules.items, precoro, quickbooks, state, refs)
            else:
                entity_rules = self.rules.entity(kind.section)
                result = reconcile(entity_rules, kind.kind, precoro, quickbooks, state)
                written = _names_written(result.actions, entity_rules, kind)
                if kind is SUPPLIERS and written:
                    # W9: a vendor's name must not be a customer's or an employee's either. Read them
                    # only when the plan writes vendor names, and plan again only on a clash.
                    elsewhere = self._names_elsewhere()
                    if written & elsewhere.keys():
                        result = reconcile(entity_rules, kind.kind, precoro, quickbooks, state, elsewhere)
            actions.extend(result.actions)
            agreed.extend({**entry, "section": kind.section} for entry in result.agreed_baselines)
        self._mark_failed_before(actions)
        plan = Plan(actions=actions, realm_id=realm, rules_digest=self.rules.digest, created_at=self.clock(),
                    entities=tuple(k.section for k in kinds))
        self._carry_decisions(plan)
        self._save(plan, agreed)
        return plan

    def _mark_failed_before(self, actions: list[Action]) -> None:
        """W9: the same write failed in an earlier apply: say so, and wait for the operator's approval
        instead of sending it to fail again."""
        units = build_units([a for a in actions if a.executable])
        failures = self.store.failed_before(unit.key for unit in units)
        for unit in units:
            failure = failures.get(unit.key)
            if failure is None or failure["fingerprint"] != unit.fingerprint():
                continue
            for action in unit.actions:
                action.note = f"{action.note}; failed before: {failure['last_error']}".lstrip("; ")
                action.approved = False

    def _names_elsewhere(self) -> dict[str, str]:
        """QuickBooks customers' and employees' names (active or not) -> who holds each."""
        found: dict[str, str] = {}
        for entity in ("Customer", "Employee"):
            for raw in self.connected.quickbooks.query_all(entity, include_inactive=True):
                name = str(raw.get("DisplayName") or "")
                inactive = "" if raw.get("Active", True) else " (inactive)"
                found.setdefault(name_key(name), f"{entity.lower()} {raw['Id']} {name_key_label(name)!r}{inactive}")
        return found

    def _plan_documents(self, kind: EntityKind, progress: Progress | None, items: list[Record] | None) -> list[Action]:
        """Approved documents not sent yet (D1, D2): no QuickBooks read, Precoro items read once."""
        conn, realm = self.connected, self.realm_id
        refs = self.references()
        item_links = {l.precoro_id: l.quickbooks_id for l in self.store.sync_state(ITEMS.section, realm).links.values()}
        if items is None:
            items = [record(ITEMS, self.rules.items, "precoro", raw, refs) for raw in conn.precoro.list_all(ITEMS.precoro)]
        item_accounts = {}
        for item in items:
            account = item.values.get("chart_of_accounts")
            if account and not str(account).startswith("precoro:"):
                item_accounts[item.id] = account
        if progress:
            progress(f"reading Precoro {kind.precoro.strip('/')}", 0, None)
        docs = conn.precoro.list_all(kind.precoro, params={"status": sorted(APPROVED_STATUSES)})
        sent = set(self.store.sync_state(kind.section, realm).links)
        return plan_documents(kind, docs, sent, refs, item_links, item_accounts)

    def _save(self, plan: Plan, agreed: list[dict[str, Any]] = ()) -> None:
        # Both sides agreeing is a fact about now, not a change to anyone's books: remember it at
        # once so that a later one-sided edit is not mistaken for a conflict.
        while self.store.plan_state(plan.id) is not None:  # same content within the same second
            plan.id = hashlib.sha256(plan.id.encode()).hexdigest()[:12]
        with self.store.transaction():
            for entry in agreed:
                self.store.update_baseline(entry["section"], plan.realm_id, entry["precoro_id"], entry["fields"])
            self.store.save_plan(plan)

    def _carry_decisions(self, plan: Plan) -> None:
        """Decisions made on the previous plan survive re-planning when the conflict is unchanged.

        Only the previous plan's decided or unapproved actions are read: usually none of them.
        """
        previous_id = self.store.latest_plan_id()
        if previous_id is None or previous_id == plan.id:
            return
        current = {a.id: a for a in plan.actions}
        for old in self.store.operator_choices(previous_id):
            action = current.get(old.id)
            if action is not None and [c.__dict__ for c in action.changes] == [c.__dict__ for c in old.changes]:
                action.decision = old.decision
                action.approved = old.approved

    def latest_plan(self) -> Plan | None:
        plan_id = self.store.latest_plan_id()
        return self.store.load_plan(plan_id) if plan_id else None

    def load_plan(self, plan_id: str | None = None) -> Plan:
        plan = self.store.load_plan(plan_id) if plan_id else self.latest_plan()
        if plan is None:
            raise PlanNotFound(f"no saved plan {plan_id!r}" if plan_id else "no plan yet: run `qbsync plan` first")
        return plan

    # -- operator decisions --------------------------------------------------------------------

    def decide(self, action_id: str, decision: str, plan_id: str | None = None) -> str:
        """Record a decision on a conflict; returns the action's full id."""
        if decision not in ("precoro", "quickbooks", "skip"):
            raise DecisionRefused("a decision is one of: precoro, quickbooks, skip")
        plan_id = self._plan_id(plan_id)
        found = self.store.action_kind(plan_id, action_id)
        if found is None:
            raise PlanNotFound(f"plan {plan_id} has no action {action_id!r}")
        full_id, kind = found
        if kind != "conflict":
            raise DecisionRefused(f"action {full_id} is a {kind}, not a conflict; only conflicts take a decision")
        self.store.set_decision(plan_id, full_id, decision)
        return full_id

    def approve(self, action_ids: Iterable[str], approved: bool = True, plan_id: str | None = None) -> None:
        self.store.set_approved(self._plan_id(plan_id), action_ids, approved)

    def _plan_id(self, plan_id: str | None) -> str:
        """The full id of the named plan, or of the latest sync plan, without loading its actions."""
        if plan_id is None:
            found = self.store.latest_plan_id()
            if found is None:
                raise PlanNotFound("no plan yet: run `qbsync plan` first")
            return found
        state = self.store.plan_state(plan_id)
        if state is None:
            plan = self.store.load_plan(plan_id)  # a prefix: resolve it once
            if plan is None:
                raise PlanNotFound(f"no saved plan {plan_id!r}")
            return plan.id
        return plan_id

    # -- applying ------------------------------------------------------------------------------

    def apply(self, plan_id: str | None = None, *, on_result: Callable[[ActionResult, int, int], None] | None = None,
              retry_failed: bool = False, force: bool = False, wait: bool = True,
              on_wait: Callable[[Holder | None], None] | None = None,
              stop: threading.Event | None = None) -> ApplyReport:
        """Apply a saved plan (the latest sync plan by default), as the only writer of this state
        file (W7): another apply, here or in another process, is waited for (`on_wait` says who
        holds it) or, with `wait=False`, refused with LockBusy."""
        wanted = self._plan_id(plan_id)
        with self.writer(f"applying plan {wanted}", wait=wait, on_wait=on_wait):
            plan = self.load_plan(wanted)  # read under the lock: decisions and journal as they are now
            conn = self.connected
            refs = self.references() if any(a.entity != "supplier" for a in plan.actions) else None
            return apply_plan(self.store, plan, self.rules, conn.quickbooks, conn.precoro, realm_id=conn.realm_id,
                              on_result=on_result, retry_failed=retry_failed, refs=refs, force=force, clock=self.clock,
                              stop=stop)

    # -- manual mapping (S7) ------------------------------------------------------------------

    def map_plan(self, section: str, precoro_id: str, quickbooks_id: str) -> Plan:
        """A plan that links two records by hand, with the field changes the link brings."""
        with self.writer(f"planning a mapping of {section}"):
            return self._map_plan(section, precoro_id, quickbooks_id)

    def _map_plan(self, section: str, precoro_id: str, quickbooks_id: str) -> Plan:
        kind = SECTIONS[section]
        entity_rules = self.rules.entity(section)
        realm = self.realm_id
        conn = self.connected
        refs = self.references() if kind is ITEMS else None
        try:
            p = record(kind, entity_rules, "precoro", conn.precoro.get(f"{kind.precoro}/{precoro_id}"), refs)
        except NotFound:
            raise MappingRefused(f"Precoro has no {kind.kind} {precoro_id}") from None
        try:
            q = record(kind, entity_rules, "quickbooks", conn.quickbooks.read(kind.quickbooks, quickbooks_id), refs)
        except NotFound:
            raise MappingRefused(f"QuickBooks has no {kind.quickbooks} {quickbooks_id}") from None
        existing = self.store.link_for(section, realm, precoro_id=p.id)
        if existing:
            raise MappingRefused(f"Precoro {kind.kind} {p.id} is already linked to QuickBooks {existing['quickbooks_id']}: unmap it first")
        taken = self.store.link_for(section, realm, quickbooks_id=q.id)
        if taken:
            raise MappingRefused(f"QuickBooks {kind.quickbooks} {q.id} is already linked to Precoro {taken['precoro_id']}")
        if not q.active:
            raise MappingRefused(f"QuickBooks {kind.quickbooks} {q.id} is inactive; only active records can be mapped")
        if kind is ITEMS:
            return self._save_new(mapping_actions(self.rules.items, p, q, refs), section)
        if kind.section == "suppliers":
            if len(p.currencies) > 1 and q.currencies and q.currencies[0] not in p.currencies:
                raise MappingRefused("the vendor's currency is not one of the supplier's currencies")
            if len(p.currencies) == 1 and q.currencies and p.currencies != q.currencies:
                raise MappingRefused(
                    f"currencies differ (Precoro {p.currencies[0]}, QuickBooks {q.currencies[0]}); a vendor's currency "
                    "cannot change in QuickBooks, so a supplier is only linked to a vendor of the same currency")
        reconciler = Reconciler(entity_rules, kind.kind, [p], [q], SyncState())
        link = reconciler.add_action("link", None, p, q, note="mapped by hand", extra={"how": "manual"})
        reconciler.propose_new_pair(p, q, link)
        return self._save_new(reconciler.out.actions, section)

    def unmapped_items(self, limit: int = 5, progress: Progress | None = None) -> list[dict[str, Any]]:
        """The Not-mapped list (I4): unlinked Precoro items, each with ranked QuickBooks candidates.

        Candidates are active, unlinked QuickBooks items only (I4, I9).
        """
        refs = self.references()
        precoro, quickbooks = self.fetch(ITEMS, progress, refs)
        state = self.store.sync_state(ITEMS.section, self.realm_id)
        taken = {link.quickbooks_id for link in state.links.values()}
        index = CandidateIndex(q for q in quickbooks if q.active and q.id not in taken)
        unmapped = []
        for p in sorted(precoro, key=lambda r: int(r.id) if r.id.isdigit() else 0):
            if p.id in state.links:
                continue
            unmapped.append({
                "precoro_id": p.id, "name": p.values.get("name"), "sku": p.values.get("sku"),
                "price": p.values.get("price"), "free_of_charge": bool(p.raw.get("freeOfCharge")),
                "candidates": [s.to_json() for s in index.suggest(p, limit)],
            })
        return unmapped

    def unmap_plan(self, section: str, precoro_id: str) -> Plan:
        with self.writer(f"planning an unmapping of {section}"):
            return self._unmap_plan(section, precoro_id)

    def _unmap_plan(self, section: str, precoro_id: str) -> Plan:
        kind = SECTIONS[section]
        existing = self.store.link_for(section, self.realm_id, precoro_id=precoro_id)
        if not existing:
            raise MappingRefused(f"Precoro {kind.kind} {precoro_id} is not linked")
        reconciler = Reconciler(self.rules.entity(section), kind.kind, [], [], SyncState())
        reconciler.add_action("unlink", None, None, None, precoro_id=precoro_id, quickbooks_id=existing["quickbooks_id"],
                           name=f"{kind.kind} {precoro_id}",
                           note="unmapped by hand: it will not be matched to this QuickBooks record again on its own",
                           extra={"hold": "unmapped", "hold_quickbooks_id": existing["quickbooks_id"]})
        return self._save_new(reconciler.out.actions, section)

    def _save_new(self, actions: list[Action], section: str) -> Plan:
        plan = Plan(actions=actions, realm_id=self.realm_id, rules_digest=self.rules.digest,
                    created_at=self.clock(), entities=(section,), purpose="mapping")
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

    def history(self, record: str | None = None, limit: int | None = None) -> list[dict]:
        return self.store.history(record=record, limit=limit)

    def status(self) -> dict[str, Any]:
        """Connections (reachable or why not), and per-entity counts from the store and the latest plan."""
        out: dict[str, Any] = {"rules": {"path": str(self.rules_path), "valid": True}}
        try:
            conn = self.connected
            out["connections"] = conn.describe
            for side, probe in (("quickbooks", lambda: conn.quickbooks.company_info()),
                                ("precoro", lambda: next(iter(conn.precoro.list_all("/suppliers", per_page=10)), None))):
                try:
                    result = probe()
                    out["connections"][side]["reachable"] = True
                    if side == "quickbooks" and isinstance(result, dict):
                        out["connections"][side]["company"] = result.get("CompanyName")
                except ApiError as exc:
                    out["connections"][side]["reachable"] = False
                    out["connections"][side]["error"] = str(exc)
            realm = conn.realm_id
        except Exception as exc:  # a missing credential must not hide the rest of the status
            # What the store knows of each side (environment, realm, token expiry), the error on its side.
            out["connections"] = {**saved_connections(self.rules, self.store, exc), "error": str(exc)}
            realm = None
        plan = self.latest_plan()
        entities = {}
        for section in (s for s in SUPPORTED if self.enabled(s)):
            counts = {"linked": self.store.count_links(section, realm) if realm else 0}
            if plan:
                kind = SECTIONS[section].kind
                mine = [a for a in plan.actions if a.entity == kind]
                counts["pending_actions"] = sum(1 for a in mine if a.kind not in ("blocked",))
                counts["conflicts"] = sum(1 for a in mine if a.kind == "conflict")
                counts["needs_attention"] = sum(1 for a in mine if a.kind in ("ambiguous", "blocked"))
            entities[section] = counts
        out["entities"] = entities
        out["latest_plan"] = {"id": plan.id, "created_at": plan.created_at, "state": self.store.plan_state(plan.id)} if plan else None
        out["unfinished_apply"] = self.unfinished_apply()
        return out


def _names_written(actions: Iterable[Action], entity_rules, kind: EntityKind) -> set[str]:
    """The name keys a plan writes to QuickBooks (creates, renames, reactivations)."""
    name_fields = {r.name for r in entity_rules.fields if r.quickbooks == kind.quickbooks_name}
    names = set()
    for action in actions:
        if action.target != "quickbooks":
            continue
        for change in action.changes:
            if change.field in name_fields and isinstance(change.after, str):
                names.add(name_key(change.after))
        if isinstance(action.extra.get("name"), str):
            names.add(name_key(action.extra["name"]))
    return names


def name_key_label(name: str) -> str:
    return name[: -len(" (deleted)")] if name.endswith(" (deleted)") else name


__all__ = ["SyncSession", "Interrupted", "PlanNotFound", "MappingRefused", "StalePlanError", "SupersededPlan", "SafetyLimitExceeded",
           "LockBusy"]
