"""Making a plan: each enabled entity, in the registry's order, read from both sides and reconciled.

The I/O edge of planning. For every `EntitySpec` it reads what the spec says (both companies' records
of a paired entity, or the approved Precoro documents), hands them to the pure core with what the
store remembers, and takes in what the entity proposes, so that the entities after it can refer to
records this same plan links or creates (References). W9's checks that need QuickBooks' other names
are made here too. Nothing is written anywhere: the session saves the plan.
"""

from __future__ import annotations

import hashlib
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import cached_property
from typing import Any, Callable, Container, Iterable

from rules.model import Rules

from . import bulk
from .clients.errors import ApiError
from .clients.precoro_contract import APPROVED_UNTIL, DATE_FILTER_FORMAT
from .clients.quickbooks import quote
from .clients.retry import stopped_by
from .documents import APPROVED_STATUSES, plan_documents
from .entities import ACCOUNTS, CREDIT_NOTES, INVOICES, ITEMS, SUPPLIERS, EntitySpec
from .errors import Interrupted
from .lists import options_collection
from .mirror import Mirror, Source
from .payments import PrecoroPayments, plan_payments
from .plan import Action, action_id
from .records import Record, get_path
from .reconcile import EntityPlan, reconcile
from .references import REFERENCED_SECTION, References
from .store import Store
from .targets import name_key

Progress = Callable[[str, int, int | None], None]  # (what, done, total or None)


@dataclass
class Planned:
    """What planning found besides its actions: the agreements to remember now, how to read back writes."""

    agreed: list[dict[str, Any]] = field(default_factory=list)  # {"section", "precoro_id", "quickbooks_id", "fields"}
    readback: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    quiet: list[QuietPairs] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # what was left out on purpose, and why (D4)


@dataclass
class QuietPairs:
    """What one entity's planning found of its linked pairs, to remember with the plan: the pairs
    in agreement (quiet: the next plans need not read them while neither record changes and the
    context is the same) and the pairs that are not (Precoro ids)."""

    section: str
    context: str
    quiet: list[tuple[str, str, bool]]  # (Precoro id, the QuickBooks record's name, active)
    busy: list[str]


def readback(rules: Rules, section: str) -> dict[str, dict[str, Any]]:
    """How apply reads a written record back into canonical values (for the new baseline), without
    the rules: each field's paths and transform, saved with the plan."""
    return {rule.name: {"precoro": rule.precoro, "quickbooks": rule.quickbooks, "transform": rule.transform}
            for rule in rules.entity(section).fields}


class Planner:
    """One plan's reading and reconciling, over the session's clients and store."""

    def __init__(self, rules: Rules, store: Store, quickbooks: Any, precoro: Any, realm: str, *,
                 progress: Progress | None = None, stop: threading.Event | None = None, full: bool = False,
                 documents_since: date | None = None) -> None:
        self.rules = rules
        self.documents_since = documents_since  # D4: documents approved before it are not read nor sent
        self.store = store
        self.quickbooks = quickbooks
        self.precoro = precoro
        self.realm = realm
        self.progress = progress
        self.stop = stop
        self.mirror = Mirror(store, realm, quickbooks, precoro, full=full, find_options=self._find_options)
        self._small_lists: dict[str, list[dict]] = {}
        self._item_records: list[Record] | None = None
        self._accounts: dict[str, str | None] = {}  # QuickBooks account name -> its id (D5)
        self._vendor_currencies: dict[str, str | None] = {}  # QuickBooks vendor id -> its currency (W9)

    def _vendor_currency(self, vendor_id: str) -> str | None:
        """A QuickBooks vendor's currency as the mirror last read it (documents are booked in it)."""
        if vendor_id not in self._vendor_currencies:
            raw = self.store.mirror_raws(self.realm, "quickbooks", SUPPLIERS.section, [vendor_id]).get(vendor_id)
            self._vendor_currencies[vendor_id] = get_path(bulk.loads(raw), "CurrencyRef.value") if raw else None
        return self._vendor_currencies[vendor_id]

    @cached_property
    def refs(self) -> References:
        """The links of this QuickBooks company, and where Precoro keeps item account references."""
        chart = None
        if self._wants_accounts():
            chart = self._collection(ACCOUNTS)
        return References.build(self.store.all_links(self.realm), chart.rsplit("/", 2)[1] if chart else None)

    def read_changes(self, specs: Iterable[EntitySpec]) -> None:
        """What changed on both sides since the last plan, for these entities (W11): read before
        anything is planned, so that a plan where nothing changed need not be made again."""
        sources = []
        for spec in specs:
            sides = {"documents": ("precoro",), "payments": ("quickbooks",)}.get(spec.planned, ("quickbooks", "precoro"))
            sources += [self._source(spec, side) for side in sides]
        if any(spec.planned == "documents" for spec in specs) and ITEMS not in specs:
            sources.append(self._source(ITEMS, "precoro"))  # the items' accounts (D2)
        self._say("reading what changed")
        self.mirror.prepare(sources)

    def plan(self, specs: Iterable[EntitySpec], keep: Callable[[list[Action]], None]) -> Planned:
        """Plan each entity in turn; its actions go to `keep` as soon as they are made (nothing here
        holds them: a first plan's are most of its memory)."""
        specs = list(specs)
        if not self.mirror.prepared:
            self.read_changes(specs)
        out = Planned()
        for spec in specs:
            if self.stop is not None and self.stop.is_set():
                raise Interrupted("planning was stopped; nothing was saved")
            result, quiet = self.entity(spec)
            if quiet is not None:
                out.quiet.append(quiet)
            if spec.planned == "documents" and self.documents_since is not None \
                    and not self.mirror.by_changes(self._source(spec, "precoro")):
                out.notes += self._before_cutoff(spec)  # counted when read in full: not a call in every plan
            self.refs.propose(spec.section, result.actions)
            out.agreed += [{**entry, "section": spec.section} for entry in result.agreed_baselines]
            out.readback[spec.section] = readback(self.rules, spec.section)
            keep(result.actions)
            del result  # not held while the next entity is planned
        self._item_records = None  # read for the documents' accounts (D2): not held while the plan is saved
        return out

    def entity(self, spec: EntitySpec) -> tuple[EntityPlan, QuietPairs | None]:
        """One entity's plan, and what it found of its linked pairs (None: it has none to tell)."""
        rules = self.rules.entity(spec.section)
        if spec.planned == "payments":  # D9
            self._say("reading QuickBooks payments")
            return plan_payments(spec, rules, self.mirror.records(self._source(spec, "quickbooks")),
                                 self.store.sync_state(INVOICES.section, self.realm),
                                 self.store.sync_state(spec.section, self.realm), PrecoroPayments(self.precoro),
                                 credit_notes=self.store.sync_state(CREDIT_NOTES.section, self.realm)), None
        if spec.planned == "documents":
            state = self.store.sync_state(spec.section, self.realm)
            self._say(f"reading Precoro {spec.plural}")
            docs = list(self.mirror.records(self._source(spec, "precoro")))
            account, problem = self._default_account(rules.default_account)
            if problem:
                return EntityPlan(actions=[Action(
                    id=action_id(spec.kind, "blocked", None, None, None), entity=spec.kind, kind="blocked", target=None,
                    name=f"{spec.plural}: default_account", note=problem)]), None
            return plan_documents(spec, rules, docs, state, self.refs, self._item_accounts() if docs else {},
                                  default_account=account, books=lambda ids: self._books(spec, ids),
                                  sent_parts=self.store.split_parts(self.realm, spec.section),
                                  vendor_currency=self._vendor_currency), None
        collection = self._collection(spec)
        if spec.custom_field:
            if collection is None:
                return EntityPlan(actions=[Action(
                    id=action_id(spec.kind, "blocked", None, None, None), entity=spec.kind, kind="blocked",
                    target=None, name=spec.custom_field,
                    note=f"Precoro has no custom field named {spec.custom_field!r}: create it in Precoro, then plan again")]), None
        context = self._context(rules)
        quiet = self._quiet_pairs(spec, context)
        state = self.store.sync_state(spec.section, self.realm, quiet)
        precoro, quickbooks = self.fetch(spec, rules, collection, set(quiet), {entry[0] for entry in quiet.values()})
        if spec is ITEMS and not quiet:
            self._item_records = precoro
        # A quiet pair's QuickBooks record is known by its name and activity alone (never merged or written).
        quiet_names = [Record("quickbooks", spec.kind, qid, "", active, {"name": name})
                       for qid, name, active in quiet.values()]
        self.refs.names[spec.section] = {q.id: str(q.values.get("name") or "") for q in (*quickbooks, *quiet_names)}
        self._say(f"planning {spec.plural}")
        options = {"refs": self.refs, "precoro_collection": collection, "quiet_names": quiet_names}
        result = reconcile(spec, rules, precoro, quickbooks, state, **options)
        if spec.shares_names_with:
            # W9: a vendor's name must not be a customer's or an employee's either. They are read
            # only when the plan writes vendor names, and the entity planned again only on a clash.
            written = _names_written(result.actions, rules, spec)
            if written:
                elsewhere = self._names_elsewhere(spec)
                if written & elsewhere.keys():
                    result = reconcile(spec, rules, precoro, quickbooks, state, names_elsewhere=elsewhere, **options)
        return result, _quiet_after(spec.section, context, state, result, precoro, quickbooks)

    # -- quiet pairs: plans in proportion to what changed (W11) -------------------------------------

    def _context(self, rules: Any) -> str:
        """What a linked pair is reconciled against besides its two records and its link: the rules,
        and the links (stored, and proposed by this plan so far) that its reference fields follow."""
        digest = hashlib.sha256(self.rules.digest.encode())
        for section in sorted({REFERENCED_SECTION[r.transform] for r in rules.fields if r.transform in REFERENCED_SECTION}):
            digest.update(bulk.dumps([section, self.refs.to_quickbooks.get(section, {}),
                                      self.refs.to_precoro.get(section, {}), self.refs.chart_field_id],
                                     sort_keys=True).encode())
        return digest.hexdigest()

    def _quiet_pairs(self, spec: EntitySpec, context: str) -> dict[str, tuple[str, str, bool]]:
        """The linked pairs this plan need not read: found in agreement under the same context by an
        earlier plan, and unchanged on both sides since (both read by their changes)."""
        if not all(self.mirror.by_changes(self._source(spec, side)) for side in ("quickbooks", "precoro")):
            return {}
        return self.store.quiet_pairs(spec.section, self.realm, context)

    def fetch(self, spec: EntitySpec, rules: Any, collection: str, skip_precoro: Container[str] = (),
              skip_quickbooks: Container[str] = ()) -> tuple[list[Record], list[Record]]:
        """Both sides' records of one entity: one paged read per side, inactive records included.

        The two sides are read at the same time: each mostly waits on its own service. Either
        reader ends after its current page when `stop` is set or the caller is interrupted (a ctrl+c
        lands in the waiting thread), so stopping a plan never waits for the rest of a company.
        """
        halt = threading.Event()
        # Made here, before the readers start: made in a reader it would read the state file from
        # two threads at once over one connection (sqlite-utils' savepoints then collide).
        refs = self.refs
        complete, lookup = spec.quickbooks_complete, {}
        if spec.quickbooks_lookup:  # a small list (a company's tax rates), read whole each plan
            lookup = {str(raw["Id"]): raw for raw in self.quickbooks.query_all(spec.quickbooks_lookup, include_inactive=True)}

        def read(side: str, pages, label: str, total: Callable[[], int | None] = lambda: None) -> list[Record]:
            record = spec.reader(rules, side, refs)
            records = []
            with stopped_by(halt, self.stop):  # a reader's own thread: see SyncSession._plan
                for raw in pages:
                    if halt.is_set() or (self.stop is not None and self.stop.is_set()):
                        raise Interrupted("planning was stopped; nothing was saved")
                    if side == "quickbooks" and spec.quickbooks_filter and not spec.quickbooks_filter(raw):
                        continue
                    if side == "quickbooks" and complete:
                        raw = complete(raw, lookup)
                    records.append(record(raw))
                    if self.progress and len(records) % 1000 == 0:
                        self.progress(label, len(records), total())
            return records

        precoro_source = self._source(spec, "precoro")
        precoro_label = f"reading Precoro {spec.plural}"
        going_on = self.mirror.goes_on_at(precoro_source, collection)
        if going_on is not None:  # a read cut short before (a cap, a killed plan): say so at once
            precoro_label += f", going on at page {going_on:,}"
            self._say(precoro_label)
        precoro_pages = self.mirror.records(precoro_source, collection, skip=skip_precoro)
        quickbooks_pages = self.mirror.records(self._source(spec, "quickbooks"), skip=skip_quickbooks)
        with ThreadPoolExecutor(max_workers=2, thread_name_prefix="fetch") as pool:
            try:
                quickbooks = pool.submit(read, "quickbooks", quickbooks_pages, f"reading QuickBooks {spec.quickbooks} records")
                # Of how many: a Precoro list read in full says how many records it holds.
                precoro = pool.submit(read, "precoro", precoro_pages, precoro_label,
                                      lambda: self.mirror.totals.get(precoro_source.key))
                return precoro.result(), quickbooks.result()
            except BaseException:
                halt.set()
                raise

    # -- helpers -----------------------------------------------------------------------------------

    def _source(self, spec: EntitySpec, side: str) -> Source:
        mapped = None
        if spec.planned not in ("documents", "payments"):
            mapped = [rule.precoro for rule in self.rules.entity(spec.section).fields]
        return Source.of(spec, side, approved_from=self.documents_since, mapped=mapped)

    def _say(self, what: str) -> None:
        if self.progress:
            self.progress(what, 0, None)

    def _read_once(self, path: str) -> list[dict]:
        """A small Precoro list (the custom fields), read once per plan: several lists and the item
        references look in it, and Precoro refuses an identical GET within a minute."""
        if path not in self._small_lists:
            self._small_lists[path] = list(self.precoro.list_all(path))
        return self._small_lists[path]

    def _collection(self, spec: EntitySpec) -> str | None:
        """Where Precoro keeps the entity: its collection, or its custom field's options (found by
        the field's name; remembered from the last read when this one reads only changes)."""
        if not spec.custom_field:
            return spec.precoro
        return self.mirror.options_path(self._source(spec, "precoro"))

    def _find_options(self, source: Source) -> str | None:
        return options_collection(source.path, source.custom_field, self._read_once)

    def _wants_accounts(self) -> bool:
        return self.rules.entity(ACCOUNTS.section).enabled or any(
            rule.transform == "account_link" for rule in self.rules.items.fields)

    def _item_accounts(self) -> dict[str, str]:
        """Precoro item id -> the QuickBooks account of its chart-of-accounts option (D2)."""
        if self._item_records is None:
            rules = self.rules.items
            record = ITEMS.reader(rules, "precoro", self.refs)
            self._item_records = [record(raw) for raw in self.mirror.records(self._source(ITEMS, "precoro"))]
        found = {}
        for item in self._item_records:
            account = item.values.get("chart_of_accounts")
            if account and not str(account).startswith("precoro:"):
                found[item.id] = account
        return found

    def _before_cutoff(self, spec: EntitySpec) -> list[str]:
        """D4: how many documents the cutoff leaves out (one count, not a read of them). Asked when
        the documents are read in full (the first plan, a new cutoff, once a day), so that a plan
        made by changes costs no call more for it."""
        assert self.documents_since is not None
        query = {name: value for name, value in spec.precoro_query.items() if name != "status"}
        query["status"] = sorted(APPROVED_STATUSES)
        query[APPROVED_UNTIL] = (self.documents_since - timedelta(days=1)).strftime(DATE_FILTER_FORMAT)
        try:
            older = self.precoro.count(spec.precoro, query)
        except ApiError:
            return []  # the plan stands without the count
        if not older:
            return []
        return [f"{older:,} {spec.plural if older != 1 else spec.label} approved before "
                f"{self.documents_since.isoformat()} (documents.since) {'are' if older != 1 else 'is'} not sent (D4)"]

    def _books(self, spec: EntitySpec, ids: list[str]) -> dict[str, dict]:
        """These QuickBooks documents as they are now (D6, D7: their version, and what pays them)."""
        found: dict[str, dict] = {}
        for start in range(0, len(ids), 100):
            listed = ", ".join(quote(i) for i in ids[start:start + 100])
            found.update((str(raw["Id"]), raw) for raw in self.quickbooks.query_all(spec.quickbooks, f"Id IN ({listed})"))
        return found

    def _default_account(self, name: str | None) -> tuple[str | None, str]:
        """The QuickBooks account the rules' default_account names (D5), or why there is none."""
        if name is None:
            return None, ""
        if name not in self._accounts:
            rows = list(self.quickbooks.query_all("Account", f"FullyQualifiedName = {quote(name)}"))
            self._accounts[name] = str(rows[0]["Id"]) if rows else None
        if self._accounts[name] is None:
            return None, (f"rules.yaml names default_account {name!r}, and QuickBooks has no account of that name: "
                          "correct the name (its full name, e.g. 'Expenses:Office') and plan again")
        return self._accounts[name], ""

    def _names_elsewhere(self, spec: EntitySpec) -> dict[str, str]:
        """Names of the QuickBooks entities `spec` shares its namespace with (active or not) -> who holds each."""
        found: dict[str, str] = {}
        for entity in spec.shares_names_with:
            for raw in self.quickbooks.query_all(entity, include_inactive=True):
                name = str(raw.get("DisplayName") or "")
                shown = name[: -len(" (deleted)")] if name.endswith(" (deleted)") else name
                inactive = "" if raw.get("Active", True) else " (inactive)"
                found.setdefault(name_key(name), f"{entity.lower()} {raw['Id']} {shown!r}{inactive}")
        return found


def _quiet_after(section: str, context: str, state: Any, result: EntityPlan, precoro: list[Record],
                 quickbooks: list[Record]) -> QuietPairs:
    """Which of the linked pairs this plan read are in agreement: both records there, no action about
    either, no agreement to remember."""
    if not state.links:  # a first plan: no pair to tell of
        return QuietPairs(section, context, [], [])
    touched_p = {a.precoro_id for a in result.actions} | {entry["precoro_id"] for entry in result.agreed_baselines}
    touched_q = {a.quickbooks_id for a in result.actions}
    here_p, here_q = {r.id for r in precoro}, {r.id for r in quickbooks}
    names = {r.id: (r.values.get("name"), r.active) for r in quickbooks}
    quiet, busy = [], []
    for precoro_id, link in state.links.items():
        if (precoro_id in here_p and link.quickbooks_id in here_q
                and precoro_id not in touched_p and link.quickbooks_id not in touched_q):
            quiet.append((precoro_id, *names[link.quickbooks_id]))
        else:
            busy.append(precoro_id)
    return QuietPairs(section, context, quiet, busy)


def _names_written(actions: Iterable[Action], rules: Any, spec: EntitySpec) -> set[str]:
    """The name keys a plan writes to QuickBooks (creates, renames, reactivations)."""
    names = set()
    for action in actions:
        write = action.write if action.target == "quickbooks" else None
        value = write.values.get(spec.quickbooks_name) if write else None
        if isinstance(value, str):
            names.add(name_key(value))
        for change in action.changes if action.target == "quickbooks" else ():
            if rules.has_field(change.field) and rules.field(change.field).quickbooks == spec.quickbooks_name \
                    and isinstance(change.after, str):
                names.add(name_key(change.after))
    return names
