"""A fixed, in-memory stand-in for `SyncSession` and the plan it serves, for TUI tests and snapshots.

It has the same methods as engine.sync.SyncSession and behaves like it where the TUI can tell
(plans are saved and loaded as copies, decisions persist per plan, apply reports results through
`on_result`), but everything is fixed: the clock, the data, the outcome of every write.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Callable, Iterable

from engine.apply import ActionResult, ApplyReport
from engine.budgets import reading_left
from engine.entities import ENTITIES, sort_key
from engine.errors import ApprovalsChanged
from engine.signoff import RefusedLine, SignOff
from engine.review import ERROR_OUTCOMES, Outcome, approvals_digest, outcomes_from_history
from engine.plan import EXECUTABLE, Action, FieldChange, HoldFacts, LinkFacts, Plan, Write, action_id
from engine.policy import fingerprint, judge

CLOCK = "2026-11-26T09:00:00+00:00"
RULES = Path(__file__).resolve().parent / "rules.yaml"
LINKED = {"chart_of_accounts": 12, "classes": 4, "locations": 3, "taxes": 2, "terms": 5, "suppliers": 42, "items": 17,
          "invoices": 230, "purchase_orders": 1_184}
REALM = "9341453172069118"


def _write(side: str, kind: str, entity: str, pid: str | None, qid: str | None, values: dict[str, Any]) -> Write:
    """A write as the planner would make it (the paths are the fields' names: the TUI shows fields)."""
    record = pid if side == "precoro" else qid
    create = kind == "create"
    return Write(side=side, op="create" if create else "update",
                 collection=("/" + entity + "s") if side == "precoro" else entity.capitalize(),
                 record_id=None if create else record, version=None if create else "3", values=values,
                 active={"deactivate": False, "reactivate": True}.get(kind))


def _action(kind: str, target: str | None, name: str, pid: str | None, qid: str | None, *changes: FieldChange,
            entity: str = "supplier", **kw: Any) -> Action:
    action = Action(id=action_id(entity, kind, target, pid, qid), entity=entity, kind=kind, target=target, name=name,
                    precoro_id=pid, quickbooks_id=qid, changes=list(changes),
                    versions={k: v for k, v in (("precoro", "2026-11-20T18:00:00+00:00" if pid else None),
                                                ("quickbooks", "3" if qid else None)) if v}, **kw)
    return with_writes(action)


def with_writes(action: Action) -> Action:
    """Give a write action the request(s) the planner would have given it."""
    kind, entity, pid, qid, changes = action.kind, action.entity, action.precoro_id, action.quickbooks_id, action.changes
    if kind in ("create", "update", "deactivate", "reactivate"):
        action.write = _write(action.target, kind, entity, pid, qid, {c.field: c.after for c in changes})
    if kind == "conflict":
        action.alternatives = {"precoro": _write("quickbooks", kind, entity, pid, qid, {c.field: c.precoro for c in changes}),
                               "quickbooks": _write("precoro", kind, entity, pid, qid, {c.field: c.quickbooks for c in changes})}
    return action


def demo_actions() -> list[Action]:
    """One action of every kind, with the awkward data real companies have."""
    fc = FieldChange
    link = _action("link", None, "Acme Office Supplies", "101", "58", note="same name and currency",
                   link=LinkFacts("matched"))
    long_name = "Consolidated Widgets & Fasteners International Holdings " + "Ltd " * 15
    actions = [
        link,
        _action("update", "quickbooks", "Acme Office Supplies", "101", "58",
                fc("phone", before="+1 555 0100", after="+1 555 0142", precoro="+1 555 0142", quickbooks="+1 555 0100"),
                depends_on=[link.id]),
        _action("update", "quickbooks", "Bürobedarf Müller GmbH", "102", "59",
                fc("city", before="Munich", after="München", precoro="München", quickbooks="Munich", baseline="Munich"),
                fc("postalCode", before="80331", after="80333", precoro="80333", quickbooks="80331", baseline="80331")),
        _action("update", "precoro", "O'Brien & Sons", "103", "60",
                fc("emails", before=("ap@obrien.ie",), after=("ap@obrien.ie", "billing@obrien.ie"),
                   precoro=("ap@obrien.ie",), quickbooks=("ap@obrien.ie", "billing@obrien.ie"), baseline=("ap@obrien.ie",))),
        _action("create", "quickbooks", "Northwind Traders", "104", None,
                fc("name", after="Northwind Traders", precoro="Northwind Traders"),
                fc("currency", after="USD", precoro="USD"),
                fc("city", after="Seattle", precoro="Seattle"),
                fc("emails", after=("orders@northwind.example",), precoro=("orders@northwind.example",)),
                note="new in Precoro, no match in QuickBooks"),
        _action("create", "quickbooks", long_name.strip(), "105", None,
                fc("name", after=long_name[:100], precoro=long_name.strip(),
                   note=f"cut from {len(long_name.strip())} to 100 characters to fit QuickBooks"),
                fc("currency", after="EUR", precoro="EUR"),
                note="new in Precoro, no match in QuickBooks"),
        _action("create", "precoro", "Contoso Ltd", None, "61",
                fc("name", after="Contoso Ltd", quickbooks="Contoso Ltd"),
                fc("currency", after="GBP", quickbooks="GBP"),
                note="new in QuickBooks, no match in Precoro"),
        _action("conflict", None, "Fabrikam, Inc.", "106", "62",
                fc("phone", precoro="+1 425 555 0100", quickbooks="+1 425 555 0199", baseline="+1 425 555 0111"),
                fc("city", precoro="Redmond", quickbooks="Bellevue", baseline="Kirkland"),
                note="changed on both sides since the last sync: take Precoro's or QuickBooks' value, or skip"),
        _action("conflict", None, "Société Générale d'Équipement", "107", "63",
                fc("accountNumber", precoro="FR-2231", quickbooks="FR-2213", baseline="FR-2200"),
                note="changed on both sides since the last sync: take Precoro's or QuickBooks' value, or skip"),
        _action("deactivate", "quickbooks", "Initech", "108", "64",
                note="deactivated in Precoro: QuickBooks never deletes, the record is made inactive"),
        _action("unlink", None, "Umbrella Corp", "109", "65", hold=HoldFacts("quickbooks_inactive", "precoro", "65"),
                note="deactivated in QuickBooks: the Precoro record stays active and becomes not integrated"),
        _action("ambiguous", None, "Stark Industries", "110", None,
                candidates=[{"quickbooks_id": "71", "name": "Stark Industries", "currencies": ["USD"]},
                            {"quickbooks_id": "72", "name": "STARK INDUSTRIES ", "currencies": ["USD"]}],
                note="2 QuickBooks records match: pick one by hand (qbsync suppliers map)"),
        _action("blocked", None, "Wayne Enterprises", "111", None,
                candidates=[{"quickbooks_id": "73", "name": "Wayne Enterprises", "currencies": ["USD"]}],
                note="trades in several currencies (USD, EUR): not matched or created automatically; map it by hand"),
        _action("update", "precoro", "Printer paper A4, 500 sheets", "201", "81",
                fc("price", before="4.50", after="4.75", precoro="4.50", quickbooks="4.75", baseline="4.50"),
                entity="item"),
        _action("update", "precoro", "Toner cartridge (black)", "202", "82",
                fc("description", before="Black toner", after="Black toner, 3000 pages", precoro="Black toner",
                   quickbooks="Black toner, 3000 pages", baseline="Black toner"),
                entity="item"),
    ]
    return actions


def demo_plan(created_at: str = CLOCK, plan_id: str = "5e1f0a000001") -> Plan:
    # A fixed id: the engine's content hash may change with its internals; the pictures must not.
    return Plan(actions=sorted(demo_actions(), key=sort_key), realm_id=REALM, rules_digest="d1" * 32,
                created_at=created_at, entities=("suppliers", "items"), id=plan_id)


# QuickBooks items as the Not-mapped list's suggestions name them, with what mapping imports (I5, I6).
QUICKBOOKS_ITEMS = {
    "83": {"name": "Printer toner, black", "sku": "TN-2420", "description": "High-yield toner cartridge", "price": "61"},
}


def _item_mapping(item: dict[str, Any], quickbooks_id: str) -> list[Action]:
    """A manual item mapping as the engine plans it: the link, then the fields Precoro takes (I6)."""
    link = _action("link", None, item["name"], item["precoro_id"], quickbooks_id, link=LinkFacts("manual"),
                   entity="item", note="mapped by hand; names stay until the next Sync Items (I6)")
    other = QUICKBOOKS_ITEMS.get(quickbooks_id)
    if other is None:
        return [link]
    changes = [FieldChange(name, before=item.get(name), after=other[name], precoro=item.get(name), quickbooks=other[name])
               for name in ("sku", "description", "price") if other[name] != item.get(name)]
    update = _action("update", "precoro", item["name"], item["precoro_id"], quickbooks_id, *changes, entity="item",
                     depends_on=[link.id],
                     note="supplier not written: QuickBooks vendor 8 is not linked to a Precoro supplier (sync "
                          "suppliers first); chart_of_accounts not written: QuickBooks account 2 is not among "
                          "Precoro's chart-of-accounts options (import the chart of accounts first)")
    return [link, update]


DUPLICATE_NAME = ("QuickBooks error 6240: Duplicate Name Exists Error (The name supplied already exists. "
                  "Another vendor, customer or employee is already using this name.) [field DisplayName]")


def shipped_rules():
    """The test rules.yaml beside this file, loaded for real (the Rules screen shows what is in force)."""
    import rules

    return rules.load(RULES)


@dataclass
class FakeSession:
    """Same methods as SyncSession; fixed data and outcomes.

    `fail` maps an action name to the reason its write fails (once: a retry succeeds, as after the
    operator renamed the record in QuickBooks).
    """

    rules_path: Path = RULES
    plans: dict[str, Plan] = field(default_factory=dict)
    latest: str | None = None
    audit: list[dict[str, Any]] = field(default_factory=list)
    fail: dict[str, str] = field(default_factory=lambda: {"Northwind Traders": DUPLICATE_NAME})
    make_plan: Callable[[], Plan] = demo_plan
    rules: Any = field(default_factory=shipped_rules)
    calls: list[tuple] = field(default_factory=list)
    revisions: dict[str, int] = field(default_factory=dict)  # plan id -> changes of its approvals
    reload_error: Exception | None = None
    done: set[str] = field(default_factory=set)
    held: int = 0  # U3: how many actions unattended runs hold for review (the status says so)
    answers: dict[str, str] = field(default_factory=dict)  # U3: action id -> a person's answer to it held
    reading: dict[str, Any] | None = None  # W11: the latest plan's reads stopped at a cap (the status says so)
    unfinished_reads: list[dict[str, Any]] = field(default_factory=list)  # W11: full reads not finished (a kill)
    gate: Any = None  # a threading.Event: each write waits for it (a long apply), and `stop` is honoured
    unmapped: list[dict[str, Any]] = field(default_factory=lambda: [
        {"precoro_id": "203", "name": "Toner black", "sku": "TONER-B", "price": "58", "free_of_charge": False,
         "candidates": [{"quickbooks_id": "83", "name": "Printer toner, black", "score": 0.356,
                         "reasons": ["name 43% alike", "similar price"]},
                        {"quickbooks_id": "84", "name": "Toner, colour", "score": 0.21, "reasons": ["name 30% alike"]}]},
        {"precoro_id": "204", "name": "Café filters (x100)", "sku": None, "price": "3.5", "free_of_charge": True,
         "candidates": []},
    ])
    _ids: dict[tuple, str] = field(default_factory=dict)

    # -- plans ---------------------------------------------------------------------------------

    def _plan_id(self, plan: Plan) -> str:
        """Fixed ids, one per distinct content, in the order plans were made."""
        content = tuple(a.id for a in plan.actions)
        known = self._ids.setdefault(content, f"{0x5e1f0a000001 + len(self._ids):012x}")
        return known

    def _keep(self, plan: Plan) -> Plan:
        self.plans[plan.id] = copy.deepcopy(plan)
        if plan.purpose == "sync":  # as in the engine, a mapping never becomes the latest plan
            self.latest = plan.id
        return plan

    def plan(self, only=None, progress=None, *, wait=True, on_wait=None, stop=None, full=False, until_done=False,
             on_cap=None) -> Plan:
        self.calls.append(("plan", full))
        if progress:
            progress("reading QuickBooks Vendor records", 0, None)
        plan = self.make_plan()
        # Applied actions are gone from the next plan: the two sides agree now (convergence).
        plan.actions = [a for a in plan.actions if a.id not in self.done]
        plan.id = self._plan_id(plan)
        previous = self.plans.get(self.latest or "")
        if previous:
            old = {a.id: a for a in previous.actions}
            for action in plan.actions:
                if action.id in old:
                    action.decision, action.approved = old[action.id].decision, old[action.id].approved
        return copy.deepcopy(self._keep(plan))

    def latest_plan(self) -> Plan | None:
        return copy.deepcopy(self.plans[self.latest]) if self.latest else None

    def latest_plan_id(self) -> str | None:
        return self.latest

    def reopen_if_replaced(self) -> bool:
        return False  # no state file

    def load_plan(self, plan_id: str | None = None, *, listed: bool = False) -> Plan:
        return copy.deepcopy(self.plans[plan_id or self.latest])

    def plan_with_outcomes(self, plan_id: str | None) -> tuple[Plan, dict[str, Outcome]]:
        plan = self.load_plan(plan_id)
        return plan, outcomes_from_history(self.audit, plan.id)

    def plan_revision(self, plan_id: str) -> int:
        return self.revisions.get(plan_id, 0) if plan_id in self.plans else -1

    def plan_to_review(self) -> tuple[Plan | None, dict[str, Outcome]]:
        """As the engine's: the latest plan, unless it was applied without a failure."""
        plan = self.latest_plan()
        if plan is None:
            return None, {}
        outcomes = outcomes_from_history(self.audit, plan.id)
        if outcomes and not any(o.status in ERROR_OUTCOMES for o in outcomes.values()):
            return None, {}
        return plan, outcomes

    # -- decisions -----------------------------------------------------------------------------

    def decide(self, action_id: str, decision: str, plan_id: str | None = None) -> Action:
        self.calls.append(("decide", action_id, decision))
        action = self.plans[plan_id or self.latest].action(action_id)
        if action.kind != "conflict":
            raise ValueError(f"action {action.id} is a {action.kind}, not a conflict")
        action.decision = decision
        self._changed(plan_id or self.latest)
        return copy.deepcopy(action)

    def _changed(self, plan_id: str) -> None:
        """As the state file counts a plan's changes of approvals and decisions (plan_revision)."""
        self.revisions[plan_id] = self.revisions.get(plan_id, 0) + 1

    def decide_all(self, action_ids, decision: str, plan_id: str | None = None) -> list[Action]:
        return [self.decide(action_id, decision, plan_id) for action_id in action_ids]

    def approve(self, action_ids, approved: bool = True, plan_id: str | None = None) -> None:
        ids = set(action_ids)
        self.calls.append(("approve", len(ids), approved))
        self.answers.update(dict.fromkeys(ids, "approved" if approved else "skipped"))
        for action in self.plans[plan_id or self.latest].actions:
            if action.id in ids:
                action.approved = approved
        self._changed(plan_id or self.latest)

    def actions_of(self, plan_id: str | None = None):
        return iter(self.plans[plan_id or self.latest].actions)

    def sign_off(self, signed, plan_id: str | None = None) -> SignOff:
        """The rows' approvals and decisions, recorded on the fixed plan (no digest, no note)."""
        plan = self.plans[plan_id or signed.plan_id]
        self.calls.append(("sign_off", plan.id, len(signed.actions)))
        by_id = {a.id: a for a in plan.actions}
        done = SignOff(plan.id, refused=list(signed.refused))
        for row in signed.actions:
            action = by_id.get(row.action_id)
            if action is None:
                done.refused.append(RefusedLine(row.line, row.action_id, f"plan {plan.id} has no such action"))
                continue
            if row.decision and row.decision != action.decision:
                action.decision = row.decision
                done.decided.setdefault(row.decision, []).append(action.id)
            if row.approved is not None and row.approved != action.approved:
                action.approved = row.approved
                (done.approved if row.approved else done.skipped).append(action.id)
        self._changed(plan.id)
        return done

    # -- apply ---------------------------------------------------------------------------------

    def apply(self, plan_id: str | None = None, *, on_result=None, retry_failed: bool = False, force=False, wait=True,
              on_wait=None, stop=None, until_done=False, on_cap=None, confirmed=None):
        plan = self.plans[plan_id or self.latest]
        self.calls.append(("apply", plan.id, retry_failed))
        if confirmed is not None and approvals_digest(plan.actions) != confirmed:
            raise ApprovalsChanged(f"plan {plan.id} was changed after you confirmed its apply")
        by_id = {a.id: a for a in plan.actions}
        results = []
        total = len(plan.actions)

        def report(action, status, reason="", audit=True):
            result = ActionResult(action.id, status, reason, action.name, action.kind, action.target)
            results.append(result)
            if audit and status in ("applied", "failed", "refused"):
                self.audit.insert(0, {
                    "id": len(self.audit) + 1, "at": CLOCK, "who": "operator", "plan_id": plan.id,
                    "action_id": action.id, "entity": action.entity, "kind": action.kind, "target": action.target,
                    "precoro_id": action.precoro_id, "quickbooks_id": action.quickbooks_id, "name": action.name,
                    "status": status, "reason": reason,
                    "before": {c.field: c.before for c in action.changes},
                    "after": {c.field: c.after for c in action.changes},
                    "response": {"Vendor": {"Id": action.quickbooks_id or "90", "SyncToken": "4",
                                            "DisplayName": action.name}} if status == "applied" else None,
                })
            if on_result:
                on_result(result, len(results), total)

        stopped = None
        for action in plan.actions:
            if self.gate is not None:
                self.gate.wait(5)
            if stop is not None and stop.is_set():
                stopped = "stopped at your request between two writes"
                break
            if action.id in self.done:  # done by an earlier run: reported, not written or audited again
                report(action, "applied", audit=False)
                continue
            if not action.executable:
                continue
            missing = [d for d in action.depends_on if not by_id[d].executable]
            if missing:
                report(action, "skipped", f"depends on action {missing[0]}, which is not approved")
                continue
            reason = self.fail.pop(action.name, None)
            if reason:
                report(action, "failed", reason)
            else:
                self.done.add(action.id)
                report(action, "applied")
        seen = {r.id for r in results}
        for action in plan.actions:
            if action.id not in seen:
                reason = ("not approved" if not action.approved else "conflict not decided"
                          if action.needs_decision else "skipped by decision" if action.kind == "conflict"
                          else "several candidates: map it by hand" if action.kind == "ambiguous" else action.note)
                results.append(ActionResult(action.id, "skipped", reason, action.name, action.kind, action.target))
        self._changed(plan.id)  # an apply that ended counts, as the state file counts it
        return ApplyReport(plan.id, results, stopped=stopped)

    # -- mapping -------------------------------------------------------------------------------

    def map_plan(self, section: str, precoro_id: str, quickbooks_id: str) -> Plan:
        self.calls.append(("map", section, precoro_id, quickbooks_id))
        item = next((u for u in self.unmapped if u["precoro_id"] == precoro_id), None) if section == "items" else None
        name = item["name"] if item else next(
            (a.name for a in self.plans[self.latest].actions if a.precoro_id == precoro_id), precoro_id)
        actions = _item_mapping(item, quickbooks_id) if item else [
            _action("link", None, name, precoro_id, quickbooks_id, note="mapped by hand", link=LinkFacts("manual"))]
        plan = Plan(actions=actions, realm_id=REALM, rules_digest="d1" * 32, created_at=CLOCK,
                    entities=(section,), id=f"{0x3a90000001 + len(self.plans):012x}", purpose="mapping")
        self.unmapped = [u for u in self.unmapped if u["precoro_id"] != precoro_id]
        # Once linked, the planner sees no ambiguity for this supplier any more.
        for action in self.make_plan().actions:
            if action.precoro_id == precoro_id and action.kind in ("ambiguous", "blocked", "create"):
                self.done.add(action.id)
        return copy.deepcopy(self._keep(plan))

    def unmap_plan(self, section: str, precoro_id: str) -> Plan:
        self.calls.append(("unmap", section, precoro_id))
        current = self.plans[self.latest]
        qid = next(a.quickbooks_id for a in current.actions if a.precoro_id == precoro_id and a.quickbooks_id)
        unlink = _action("unlink", None, f"supplier {precoro_id}", precoro_id, qid, note="unmapped by hand",
                         hold=HoldFacts("unmapped", "precoro", qid))
        plan = Plan(actions=[unlink], realm_id=REALM, rules_digest="d1" * 32, created_at=CLOCK,
                    entities=(section,), id=f"{0x3a90000001 + len(self.plans):012x}", purpose="mapping")
        return copy.deepcopy(self._keep(plan))

    # -- reading -------------------------------------------------------------------------------

    def unfinished_apply(self) -> dict[str, Any] | None:
        return None

    def history(self, record: str | None = None, limit: int | None = None, *, plan_id: str | None = None,
                statuses: Iterable[str] = (), since: date | None = None, until: date | None = None,
                entity: str | None = None, kind: str | None = None) -> list[dict]:
        statuses = set(statuses)
        rows = [r for r in self.audit if (not record or record in (r["precoro_id"], r["quickbooks_id"])
                                          or record.casefold() in r["name"].casefold())
                and (not plan_id or r["plan_id"].startswith(plan_id)) and (not statuses or r["status"] in statuses)
                and (not since or r["at"][:10] >= since.isoformat())
                and (not until or r["at"][:10] <= until.isoformat())
                and (not entity or r["entity"] == entity) and (not kind or r["kind"] == kind)]
        return copy.deepcopy(rows[:limit] if limit else rows)

    def explain(self, entity: str, record: str, *, history: int, live: bool = False) -> dict[str, Any]:
        """The record's story as engine.explain tells it, from the latest plan's actions on it (the
        fields they change, side by side) and the fixed audit."""
        self.calls.append(("explain", entity, record, live))
        side, _, record_id = record.partition(":")
        plan = self.plans[self.latest]
        mine = [a for a in plan.actions if getattr(a, f"{side}_id") == record_id]
        ids = {"precoro": next((a.precoro_id for a in mine if a.precoro_id), None),
               "quickbooks": next((a.quickbooks_id for a in mine if a.quickbooks_id), None)}
        fields = {c.field: c for a in mine for c in a.changes}
        linked = ids["precoro"] and ids["quickbooks"]
        return {
            "entity": entity, "label": entity.rstrip("s"), "planned": "pairs", "name": mine[0].name, "as_of": CLOCK,
            "live": live, "readable_now": True,
            "records": {s: {"id": rid, "found": True, "written_since": None, "active": True,
                            "updated_at": "2026-11-20T18:00:00+00:00", "currencies": ["USD"], "origin": None}
                        if rid else None for s, rid in ids.items()},
            "link": {"precoro_id": ids["precoro"], "quickbooks_id": ids["quickbooks"], "how": "matched",
                     "since": "2026-11-02T10:00:00+00:00"} if linked else None,
            "held_back": [],
            "fields": [{"field": name, "precoro": c.precoro, "quickbooks": c.quickbooks, "last_synced": c.baseline,
                        "agree": c.precoro == c.quickbooks if linked else None, "direction": "both", "updated": True}
                       for name, c in fields.items()],
            "plan": {"id": plan.id, "state": "open", "created_at": plan.created_at,
                     "actions": [{**a.to_json(), "outcome": None, "unattended": {"apply": False, "held": True, "reason": "a test"}}
                                 for a in mine]},
            "history": [r for r in self.audit if r["precoro_id"] == ids["precoro"]][:history],
        }

    def runs(self, *, limit: int | None = None, since: date | None = None, failed: bool = False) -> list[dict]:
        """Two runs of a timer: one that held the demo's conflict, one that failed (newest first)."""
        self.calls.append(("runs", limit, since, failed))
        runs = [
            {"id": 2, "started_at": "2026-11-26T08:30:00+00:00", "finished_at": "2026-11-26T08:30:04+00:00",
             "trigger": "schedule", "plan_id": None, "exit_code": 1,
             "summary": {"counts": {}, "held": 1, "new_held": 0, "error": "Precoro error 401: Invalid X-AUTH-TOKEN"}},
            {"id": 1, "started_at": "2026-11-26T08:00:00+00:00", "finished_at": "2026-11-26T08:00:41+00:00",
             "trigger": "webhook", "plan_id": "a1b2c3d4e5f6", "exit_code": 3,
             "summary": {"counts": {"applied": 12}, "held": 1, "new_held": 1}},
        ]
        return [run for run in runs if run["exit_code"] == 1 or not failed][:limit]

    def would_hold(self, plan_id: str | None = None) -> dict[str, str]:
        """The engine's own judgement (engine.policy.judge) of the plan's actions, on the shipped
        rules, with no safety brake (no links are counted here). While `held` says runs held some,
        the actions `make_plan` leaves unapproved are held rows, answered as this session was told."""
        self.calls.append(("would_hold", plan_id))
        actions = [copy.copy(a) for a in self.load_plan(plan_id).actions]  # judging sets their approvals
        held = [{"action_id": a.id, "decision": self.answers.get(a.id), "fingerprint": fingerprint(a)}
                for a in self.make_plan().actions if self.held and not a.approved and a.kind in EXECUTABLE]
        judged = judge(actions, self.rules, held)
        return {a.id: judged.verdicts[a.id].reason for a in actions if judged.holds(a)}

    def status(self, *, look: bool = True) -> dict[str, Any]:
        plan = self.plans.get(self.latest or "")
        return {
            "rules": {"path": str(self.rules_path), "valid": True},
            "connections": {
                "quickbooks": {"environment": "local", "base_url": "http://127.0.0.1:8765/v3", "realm_id": REALM,
                               "reachable": True, "company": "Sandbox Company US 7f3c"},
                "precoro": {"environment": "local", "base_url": "http://127.0.0.1:8766", "reachable": False,
                            "error": "Precoro error 401: Invalid X-AUTH-TOKEN"},
            },
            # Every entity of the registry, as the engine counts them: the Overview lists them all.
            "entities": {spec.section: {"linked": LINKED.get(spec.section, 0) + (len(self.done) if spec.kind == "supplier"
                                                                                else 0)} for spec in ENTITIES},
            "latest_plan": {"id": plan.id, "created_at": plan.created_at, "state": "open"} if plan else None,
            "unattended": {"last_run": None, "next_run": None, "held": self.held},
            # What the engine tells of a read a cap stopped, and what the rest costs (engine.budgets).
            "reading": {**self.reading, **reading_left(self.reading["sources"], self.reading["resume_at"])}
            if self.reading else None,
            "unfinished_reads": self.unfinished_reads,
        }

    def unmapped_items(self, limit: int = 5, progress=None) -> list[dict[str, Any]]:
        self.calls.append(("unmapped_items",))
        return copy.deepcopy(self.unmapped)

    def reload_rules(self):
        self.calls.append(("reload_rules",))
        if self.reload_error:
            raise self.reload_error
        return self.rules

    def close(self) -> None:
        self.calls.append(("close",))


def scale_plan(n: int = 100_000) -> Plan:
    """`n` actions of every kind, as a big company's first sync would plan them (for the scale test)."""
    kinds = [("update", "quickbooks"), ("update", "precoro"), ("create", "quickbooks"), ("create", "precoro"),
             ("link", None), ("conflict", None)]
    actions = []
    for i in range(n):
        kind, target = kinds[i % len(kinds)]
        entity = "supplier" if i % 2 == 0 else "item"
        pid, qid = str(10_000 + i), str(500_000 + i)
        changes = [FieldChange("city", before=f"City {i}", after=f"Town {i}", precoro=f"Town {i}",
                               quickbooks=f"City {i}", baseline=f"City {i}")]
        actions.append(with_writes(Action(id=f"{i:010x}", entity=entity, kind=kind, target=target,
                                          name=f"Supplier {i:06d}", precoro_id=pid, quickbooks_id=qid, changes=changes)))
    # The id is given so the content hash (a second of JSON for 100k actions) is not part of the measure.
    return Plan(actions=actions, realm_id=REALM, rules_digest="d1" * 32, created_at=CLOCK, id="scale0000000")


class ScaleSession(FakeSession):
    """A session serving one huge plan as it is (no copies: the measure is the TUI, not the fake)."""

    def __init__(self, plan: Plan) -> None:
        super().__init__()
        self.big = plan

    def latest_plan(self) -> Plan:
        return self.big

    def latest_plan_id(self) -> str:
        return self.big.id

    def load_plan(self, plan_id: str | None = None, *, listed: bool = False) -> Plan:
        return self.big

    def plan_to_review(self) -> tuple[Plan, dict]:
        return self.big, {}

    def approve(self, action_ids, approved: bool = True, plan_id: str | None = None) -> None:
        self.calls.append(("approve", len(set(action_ids)), approved))

    def decide(self, action_id: str, decision: str, plan_id: str | None = None) -> Action:
        self.calls.append(("decide", action_id, decision))
        return self.big.action(action_id)
