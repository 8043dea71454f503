"""What qbsync knows of each company between plans: the mirror (W11).

A first plan reads every record of both companies, and the mirror keeps their wire JSON in the
state file. Later plans ask each side only for what changed since (QuickBooks CDC, Precoro
`modifiedSince`) and take the rest from the mirror: a plan costs calls in proportion to what changed,
and one where nothing changed costs one CDC call (plus the tax codes, which CDC does not cover) and
one Precoro read per collection.

A side of an entity is read in full instead when:
- it was never read, `plan --full` asks for it, or what is read changed (filters, custom field);
- QuickBooks: the cursor is older than CDC reaches back (30 days, less a day of margin), CDC does
  not cover the entity, or a CDC answer held 1,000 objects (it may have been cut short);
- Precoro: it reports no deletions, so a full read at least once a day (PRECORO_FULL_EVERY) finds
  records deleted there, and a custom field's options that can no longer be found are looked up again.

Precoro's lists answer summaries; the mirror keeps whole records (lines, contacts, custom fields).
A summary whose fields equal the mirrored record's is that record, unchanged; the others are read
from `/{id|idn}` (clients.precoro_contract says which collections and fields). A record the apply
updated is dropped from the mirror, so the next plan reads its details again: Precoro's dates are to
the second and cannot tell that write from a read in the same second.

A Precoro list read in full is kept page by page with its listing (the page reached): a read cut
short, by a cap or by the process being killed, goes on at the next full read at that page
(`_full_read`), rather than reading every page before it again.

Cursors are times on the service's own clock (the `time` of QuickBooks' answers, the `Date` of
Precoro's), less an overlap that covers changes committed while a read was under way: reading a
change twice is harmless. The mirror is written as soon as a read has the records. A read by
changes moves its cursor only with the plan that used it (the session saves both in one
transaction), so a plan that fails reads the same changes again (each record it read noted with
when it began, so that a pass after a cap's wait does not read those details again: `_kept_as_read`);
a full read also leaves its cursor as it ends (`Store.save_ended_read`), so a plan that fails after
it does not make the next one read every page again.
"""

from __future__ import annotations

import itertools
import re
import time
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Any, Callable, Container, Iterable, Iterator, Mapping

from rules.model import Side

from . import bulk
from .clients import precoro_contract as contract
from .clients.errors import NotFound
from .clients.precoro import LIST_PAGE
from .clients.quickbooks import CDC_LOOKBACK_DAYS, CDC_MAX_OBJECTS, CDC_UNSUPPORTED
from .store import Store

OVERLAP = timedelta(minutes=5)
CDC_REACH = timedelta(days=CDC_LOOKBACK_DAYS - 1)
PRECORO_FULL_EVERY = timedelta(hours=24)
PAGE_OF_WRITES = 1000
PAGE_OF_DETAILS = 200  # summaries looked up in the mirror at a time
# A Precoro list this small is read whole (one request) rather than by changes and a count (two).
SMALL_LIST = 200


@dataclass(frozen=True)
class Source:
    """One side of one entity, as it is read: a QuickBooks entity, or a Precoro collection with
    the filters a full read sends (a custom field's options are found by the field's name)."""

    side: Side
    section: str
    entity: str = ""  # QuickBooks
    path: str = ""  # Precoro: the collection, or where the custom field below lives
    custom_field: str | None = None
    query: Mapping[str, Any] = field(default_factory=dict)
    details: tuple[str, ...] | None = None  # Precoro: the detail-only fields wanted (None: every one)

    @classmethod
    def of(cls, spec: Any, side: Side, approved_from: date | None = None,
           mapped: Iterable[str] | None = None) -> "Source":
        """The source of one side of a registered entity (an EntitySpec). `approved_from`: a
        document collection is read from that day of approval on (D4: documents.since). `mapped`:
        the Precoro paths the entity's rules map; of the fields only a record's details hold, only
        those are read (a supplier's details only when its contacts or payment terms are mapped).
        None: documents, whose lines are always read."""
        if side == "quickbooks":
            return cls("quickbooks", spec.section, entity=spec.quickbooks)
        query = dict(spec.precoro_query)
        if approved_from is not None and spec.planned == "documents":
            query[contract.APPROVED_FROM] = approved_from.strftime(contract.DATE_FILTER_FORMAT)
        details = None
        if mapped is not None:
            tops = {re.split(r"[.\[]", path, maxsplit=1)[0] for path in mapped}
            details = tuple(name for name in contract.DETAIL_ONLY_FIELDS.get(spec.precoro, ()) if name in tops)
        return cls("precoro", spec.section, path=spec.precoro, custom_field=spec.custom_field, query=query,
                   details=details)

    @property
    def key(self) -> tuple[str, str]:
        return self.side, self.section

    @property
    def scope(self) -> str:
        """What is read: a mirror made from another scope is read again in full."""
        if self.side == "quickbooks":
            return self.entity
        # The details read are part of it: a mirror of summaries is no mirror of whole records.
        return bulk.dumps({"path": self.path, "custom_field": self.custom_field, "query": dict(self.query),
                           "details": self.detail_only}, sort_keys=True)

    @property
    def detail_only(self) -> tuple[str, ...]:
        """What Precoro's list leaves out of this source's records that the plan needs, read from
        `/{id|idn}` (none wanted: the list's summaries are the records)."""
        if self.side != "precoro" or self.custom_field:
            return ()
        return contract.DETAIL_ONLY_FIELDS.get(self.path, ()) if self.details is None else self.details

    def covers(self, raw: Mapping[str, Any]) -> bool:
        """Whether a changed Precoro record is one a full read would return (its filters)."""
        for name, wanted in self.query.items():
            if name == contract.APPROVED_FROM:  # D4: approved on or after that day
                approved = str(raw.get("approvalDate") or "")[:10]
                if not approved or approved < datetime.strptime(wanted, contract.DATE_FILTER_FORMAT).date().isoformat():
                    return False
                continue
            if name == contract.SENT_TO_EXTERNAL:  # sent: an integration has set its externalId
                value: Any = int(raw.get(contract.EXTERNAL_ID) not in (None, ""))
            else:
                value = raw.get(name)
            if isinstance(wanted, (list, tuple)) and value not in wanted or not isinstance(wanted, (list, tuple)) \
                    and value != wanted:
                return False
        return True


def _last_read(previous: Mapping[str, Any] | None) -> datetime | None:
    """The second the last read of a source began (its cursor is that, less the overlap)."""
    if previous is None or not previous.get("since"):
        return None
    return (datetime.fromisoformat(previous["since"]) + OVERLAP).replace(microsecond=0)


def _dated_from(row: Mapping[str, Any], moment: datetime | None) -> bool:
    """Whether a Precoro record's updateDate is at or after `moment` (an unreadable one counts)."""
    if moment is None:
        return False
    try:
        updated = datetime.fromisoformat(str(row.get("updateDate")))
    except ValueError:
        return True
    if updated.tzinfo is None:
        updated = updated.replace(tzinfo=timezone.utc)
    return updated >= moment


def record_id(side: str, raw: Mapping[str, Any]) -> str:
    return str(raw["Id"] if side == "quickbooks" else raw["id"])


def _chunks(rows: Iterable[dict], size: int) -> Iterator[list[dict]]:
    chunk: list[dict] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


@dataclass
class PagesRead:
    """How far a full read of a Precoro list has got, as `Mirror._pages` reads it: the page asked
    last and the ids on the last two (a record's details may be read a page behind the list),
    whether the read went on at a listing's page, and whether its summaries are completed one by
    one (a record may cost a call)."""

    page: int | None = None
    ids: dict[int, list[str]] = field(default_factory=dict)  # page -> its records' ids
    page_of: dict[str, int] = field(default_factory=dict)  # record id -> its page
    resumed: bool = False
    details: bool = False

    def turned(self, page: int, records: list[dict]) -> None:
        """A new page was listed."""
        self.page = page
        self.ids = {p: kept for p, kept in self.ids.items() if p == page - 1}
        self.ids[page] = [record_id("precoro", record) for record in records]
        self.page_of = {rid: p for p, kept in self.ids.items() for rid in kept}


class Mirror:
    """One plan's reading of both companies through the mirror."""

    def __init__(self, store: Store, realm: str, quickbooks: Any, precoro: Any, *, full: bool = False,
                 find_options: Callable[[Source], str | None] = lambda source: None,
                 now: Callable[[], datetime] = lambda: datetime.now(timezone.utc)) -> None:
        self.store = store
        self.realm = realm
        self.quickbooks = quickbooks
        self.precoro = precoro
        self.full = full
        self.now = now
        self._previous: dict[tuple[str, str], dict] = {}
        self._listings: dict[tuple[str, str], dict] = {}  # Precoro lists read in part: where they stopped
        self.find_options = find_options  # where a custom field's options live, found by its name
        self._paths: dict[str, str | None] = {}  # section -> where its custom field's options live
        self._absent: set[str] = set()  # sections whose custom field Precoro does not have
        self._asked: set[tuple[str, str]] = set()
        self._by_changes: set[tuple[str, str]] = set()  # read by changes (else in full)
        self.changed: dict[tuple[str, str], int] = {}  # records changed or deleted, per source read by changes
        self._reads: dict[tuple[str, str], dict] = {}  # the cursors to save with the plan
        self._changes_read: dict[str, tuple[list[dict], datetime]] = {}  # path -> (summaries, when), this plan's
        self.kept: dict[str, int] = {"quickbooks": 0, "precoro": 0}  # records a full read put in the mirror, per side
        self.totals: dict[tuple[str, str], int] = {}  # Precoro sources read in full: how many records the list holds
        self._under_way: dict[tuple[str, str], PagesRead] = {}  # Precoro sources read in full: how far each got

    # -- before planning: what changed --------------------------------------------------------

    def prepare(self, sources: list[Source]) -> None:
        """Decide how each source is read, and read every change now: one CDC call for the
        QuickBooks entities; per Precoro collection one `modifiedSince` read and one count (a
        deletion shows as a count the mirror does not reach), or, for a list of one page, that page."""
        self._asked.update(s.key for s in sources)
        for source in sources:
            previous = self.store.mirror_read(self.realm, source.side, source.section)
            if previous is not None:
                self._previous[source.key] = previous
            listing = self.store.mirror_listing(self.realm, source.side, source.section) \
                if source.side == "precoro" else None
            if not self._needs_full_read(source, previous):
                self._by_changes.add(source.key)
                if listing is not None:
                    # A full read cut short (`plan --full`) while the cursor was still good: reads by
                    # changes keep the mirror up to date from now on, and a record they put there is
                    # no longer of that read's generation. Going on at its page later would leave
                    # each such record out of the plan and prune it: a full read begins afresh.
                    self.store.forget_mirror_listing(self.realm, source.side, source.section)
                    listing = None
                if source.custom_field:
                    self._paths[source.section] = previous["path"]
            elif source.custom_field:
                # Found by the field's name; when Precoro has no such field there is nothing to read
                # on either side (the plan says to create the field).
                self._paths[source.section] = path = self.find_options(source)
                if path is None:
                    self._absent.add(source.section)
            if listing is not None:
                self._listings[source.key] = listing
        by_changes = [s for s in sources if s.key in self._by_changes]
        self._quickbooks_changes([s for s in by_changes if s.side == "quickbooks" and s.entity not in CDC_UNSUPPORTED])
        small = {s.key for s in by_changes if s.side == "precoro"
                 and self.store.mirror_count(self.realm, "precoro", s.section) <= SMALL_LIST}
        # Collections that share a path (invoices and credit notes are both /invoices) have their
        # changes read once, from the earliest cursor: one call fewer, and never the same GET twice
        # within a minute, which Precoro refuses.
        changes_from: dict[str, datetime] = {}
        for source in by_changes:
            if source.side == "precoro" and source.key not in small:
                path, since = self._previous[source.key]["path"], datetime.fromisoformat(self._previous[source.key]["since"])
                changes_from[path] = min(since, changes_from.get(path, since))
        for source in by_changes:
            if source.side == "quickbooks" and source.entity in CDC_UNSUPPORTED:
                self._read_and_compare(source)
            elif source.key in small:
                self._read_and_compare(source, self._previous[source.key]["path"] or source.path)
            elif source.side == "precoro":
                self._precoro_changes(source, changes_from[self._previous[source.key]["path"]])

    @property
    def prepared(self) -> bool:
        return bool(self._asked)

    @property
    def read_by_changes(self) -> bool:
        """Every source was read by its changes (none waits for a full read)."""
        return all(key in self._by_changes or key[1] in self._absent for key in self._asked)

    def options_path(self, source: Source) -> str | None:
        """Where a custom field's options live (None: Precoro has no such field)."""
        if source.key not in self._asked:
            self.prepare([source])
        return self._paths.get(source.section)

    def reads(self) -> list[dict]:
        """The cursors this plan's reads reached, to save with the plan."""
        return list(self._reads.values())

    def _needs_full_read(self, source: Source, previous: dict | None) -> bool:
        if self.full or previous is None or previous["scope"] != source.scope or not previous["since"]:
            return True
        if source.side == "quickbooks":
            return datetime.fromisoformat(previous["since"]) < self.now() - CDC_REACH
        full_at = datetime.fromisoformat(previous["full_at"])
        return full_at < self.now() - PRECORO_FULL_EVERY or (source.custom_field is not None and not previous["path"])

    def _quickbooks_changes(self, sources: list[Source]) -> None:
        if not sources:
            return
        since = min(datetime.fromisoformat(self._previous[s.key]["since"]) for s in sources)
        started = time.monotonic()
        changes = self.quickbooks.cdc(sorted({s.entity for s in sources}), since)
        if sum(len(rows) for rows in changes.values()) >= CDC_MAX_OBJECTS:
            # The answer may have been cut short: these entities are read in full instead.
            self._by_changes.difference_update(s.key for s in sources)
            return
        until = self._server_now(self.quickbooks, started)
        for source in sources:
            rows = changes.get(source.entity, [])
            gone = [str(row["Id"]) for row in rows if row.get("status") == "Deleted"]
            kept = [row for row in rows if row.get("status") != "Deleted"]
            self._store_changes(source, [(record_id("quickbooks", raw), bulk.dumps(raw)) for raw in kept], gone)
            self._reached(source, until, full_at=self._previous[source.key]["full_at"])

    def _precoro_changes(self, source: Source, since: datetime) -> None:
        previous = self._previous[source.key]
        path = previous["path"]
        try:
            rows, until = self._changed_rows(path, since)
            kept = self._kept_as_read(source, self._completed(
                source, path, [r for r in rows if source.covers(r)], unsure_from=_last_read(previous),
                read_from=self._read_from(source)), lambda: until)
            self._store_changes(source, [(record_id("precoro", r), bulk.dumps(r)) for r in kept],
                                [record_id("precoro", r) for r in rows if not source.covers(r)])
            total = self.precoro.count(path, dict(source.query) or None)
        except NotFound:
            self._lost(source)
            return
        if total is not None and total != self.store.mirror_count(self.realm, "precoro", source.section):
            # Fewer records there than here: some were deleted, and Precoro does not say which.
            self._by_changes.discard(source.key)
            return
        self._reached(source, until, full_at=previous["full_at"], path=path)

    def _changed_rows(self, path: str, since: datetime) -> tuple[list[dict], datetime]:
        """The summaries of a Precoro collection changed since `since`, read once per plan, and the
        service's time the read began."""
        if path not in self._changes_read:
            started = time.monotonic()
            rows = list(self.precoro.list_all(path, modified_since=since))
            self._changes_read[path] = rows, self._server_now(self.precoro, started)
        return self._changes_read[path]

    def _read_and_compare(self, source: Source, path: str = "") -> None:
        """A small list read whole (one request) and compared with the mirror: its changes and
        deletions, exactly."""
        started = time.monotonic()
        previous = self._previous.get(source.key)
        client = self.quickbooks if source.side == "quickbooks" else self.precoro
        try:
            pages = self._kept_as_read(source, self._pages(source, path, _last_read(previous),
                                                           read_from=self._read_from(source)),
                                       lambda: self._server_now(client, started))
        except NotFound:
            self._lost(source)
            return
        began = self._server_now(client, started)
        known = self.store.mirror_raws(self.realm, source.side, source.section)
        fresh = {record_id(source.side, raw): bulk.dumps(raw) for raw in pages}
        self._store_changes(source, list(fresh.items()), [rid for rid in known if rid not in fresh], known)
        self._reached(source, began, full_at=began + OVERLAP, path=path)

    def _kept_as_read(self, source: Source, records: Iterable[dict], began: Callable[[], datetime]) -> list[dict]:
        """The records of a Precoro read by changes, each noted with when this read began (`began()`,
        on Precoro's clock, less the overlap: Store.keep_changes_read) until the cursor moves; when
        the read is cut short (the hourly cap, a dropped connection), those read so far go into the
        mirror first. A plan that the cap restarts (SyncSession.plan) reads from the same cursor
        again, and takes each such record from the mirror while its summary is dated before then,
        instead of reading its details again: otherwise every record changed since the last plan
        was read again after each hourly wait, and more of them than an hour's calls (a bulk import
        of suppliers) were never all read."""
        read: list[dict] = []
        try:
            for record in records:
                read.append(record)
        except Exception:
            self._note_read(source, read, began, into_mirror=True)
            raise
        self._note_read(source, read, began, into_mirror=False)  # the caller puts them in the mirror
        return read

    def _note_read(self, source: Source, read: list[dict], began: Callable[[], datetime], *, into_mirror: bool) -> None:
        if not read or source.side != "precoro":
            return
        moment = began().isoformat()
        ids = [record_id(source.side, record) for record in read]
        raws = [(rid, bulk.dumps(record)) for rid, record in zip(ids, read)] if into_mirror else []
        self.store.keep_changes_read(self.realm, source.side, source.section, raws, dict.fromkeys(ids, moment))

    def _read_from(self, source: Source) -> dict[str, datetime]:
        """Records an earlier pass of this read by changes, from the same cursor, read (in a plan
        that a cap then restarted): id -> the second from which a summary must be read again
        whatever it says (as `_last_read`)."""
        return {rid: _last_read({"since": since}) for rid, since in
                self.store.changes_kept(self.realm, source.side, source.section).items()}

    def _lost(self, source: Source) -> None:
        """The collection is gone (a custom field deleted, or made again): look it up and read it whole."""
        self._by_changes.discard(source.key)
        if source.custom_field:
            self._paths[source.section] = path = self.find_options(source)
            if path is None:
                self._absent.add(source.section)

    def _store_changes(self, source: Source, fresh: list[tuple[str, str]], gone: list[str],
                       known: dict[str, str] | None = None) -> None:
        """Put what was read into the mirror; count only what differs from it (an overlap reads some
        changes twice; a change read twice is not a change)."""
        if known is None:
            known = self.store.mirror_raws(self.realm, source.side, source.section, [rid for rid, _ in fresh] + gone)
        changed = [(rid, raw) for rid, raw in fresh if known.get(rid) != raw]
        deleted = [rid for rid in gone if rid in known]
        self.store.mirror_put(self.realm, source.side, source.section, changed)
        self.store.mirror_delete(self.realm, source.side, source.section, deleted)
        self.changed[source.key] = len(changed) + len(deleted)

    # -- while planning: the records ---------------------------------------------------------------

    def by_changes(self, source: Source) -> bool:
        """Whether this source was read by its changes: its mirror is current and was not rewritten."""
        return source.key in self._by_changes

    def records(self, source: Source, path: str | None = None, skip: Container[str] = ()) -> Iterator[dict]:
        """Every record of the source: from the mirror when it was read by changes, else read in
        full (and mirrored as it comes). `path`: the Precoro collection, when it is not `source.path`.
        `skip`: ids not wanted from the mirror (quiet pairs' records)."""
        if source.key not in self._asked:
            self.prepare([source])
        if source.key in self._by_changes:
            for rid, raw in self.store.mirror_rows(self.realm, source.side, source.section):
                if rid not in skip:
                    yield bulk.loads(raw)
            return
        yield from self._full_read(source, path or source.path)

    def _full_read(self, source: Source, path: str) -> Iterator[dict]:
        """Every record of the source, read page after page and mirrored as it comes.

        A Precoro list is kept page by page: each page's records go into the mirror with its
        listing (the page, its records' ids, when the read began), so a read cut short, by a cap or
        by the process being killed, goes on at the next full read at the page it had reached, when
        the first record of that page is still the one it was: the pages before it are as they
        were, and their records are taken from the mirror, as that read left them. Otherwise, and
        for QuickBooks, the list is read from its start."""
        listing = self._listing(source, path)
        fresh = uuid.uuid4().hex[:12]
        started = time.monotonic()
        at = self._under_way[source.key] = PagesRead()
        read: set[str] = set()  # a resumed read: the records this pass listed (the mirror has the rest)
        batch: list[tuple[str, str]] = []
        reached: int | None = None  # the page of the last record read
        began: str | None = None  # when the read first began, on Precoro's clock

        def generation() -> str:
            # A read that went on keeps its first pass's generation. One read from its start after
            # all has its own: what it no longer lists is let go with the older ones (mirror_prune).
            return listing["generation"] if at.resumed else fresh

        def worth_keeping() -> bool:
            # Each commit costs: a page whose records each cost a call of their own (their details)
            # is kept as it ends; a list of whole records, every PAGE_OF_WRITES of them.
            return at.details or len(batch) >= PAGE_OF_WRITES

        def keep(page: int | None) -> None:
            """Put what was read into the mirror, with where the read can go on: at `page`, every
            record of the pages before it being in the mirror."""
            nonlocal began, batch
            with self.store.transaction():
                self.store.mirror_put(self.realm, source.side, source.section, batch, generation())
                ids = at.ids.get(page) if page is not None else None
                if source.side == "precoro" and ids is not None:
                    began = listing["began"] if at.resumed else began or self._server_now(self.precoro, started).isoformat()
                    self.store.save_mirror_listing({
                        "realm": self.realm, "side": source.side, "section": source.section, "path": path,
                        "scope": source.scope, "generation": generation(), "page": page,
                        "anchor": ids[0] if ids else "", "page_ids": bulk.dumps(ids), "began": began})
            batch = []

        try:
            for raw in self._pages(source, path, listing=listing, at=at):
                rid = record_id(source.side, raw)
                page = at.page_of.get(rid)
                if page is not None and page != reached:
                    reached = page
                    if batch and worth_keeping():  # the page before ended on a record no longer there
                        keep(page)
                if at.resumed:
                    read.add(rid)
                batch.append((rid, bulk.dumps(raw)))
                self.kept[source.side] += 1
                if page is None and len(batch) >= PAGE_OF_WRITES \
                        or page is not None and rid == at.ids[page][-1] and worth_keeping():
                    keep(page)  # a page ended: the read can go on at it (asking for it again only)
                yield raw
            if at.resumed:  # the pages before the one it went on at, as the read left them
                for rid, raw in self.store.mirror_rows(self.realm, source.side, source.section, generation()):
                    if rid not in read:
                        self.kept[source.side] += 1
                        yield bulk.loads(raw)
        except Exception:
            # A read cut short (Precoro's daily cap, a dropped connection) keeps what it read:
            # the next full read takes each of these records from the mirror instead of reading its
            # details again (`_completed`), and begins at the page this one reached.
            keep(reached if reached is not None else at.page)
            raise
        if at.resumed:
            since = datetime.fromisoformat(listing["began"])  # the cursor: from when the read first began
        else:
            since = self._server_now(self.quickbooks if source.side == "quickbooks" else self.precoro, started)
        self._reached(source, since, full_at=since + OVERLAP, path=path if source.side == "precoro" else "")
        with self.store.transaction():
            self.store.mirror_put(self.realm, source.side, source.section, batch, generation())
            self.store.mirror_prune(self.realm, source.side, source.section, generation())
            self.store.forget_mirror_listing(self.realm, source.side, source.section)
            # Unlike a read by changes, a full read leaves its cursor as it ends, not only with its
            # plan: every record it read is in the mirror, marked as changed after any pair was found
            # quiet, so nothing it read can be taken for unchanged. A plan that fails after it (killed
            # while reconciling, a cap met reading the next entity) then costs the next one a read of
            # what changed since, not every page again: at 100,000 suppliers, 500 of Precoro's
            # 1,500 calls an hour, at each hourly wait of a first read that takes days.
            self.store.save_ended_read(self._reads[source.key])

    def goes_on_at(self, source: Source, path: str | None = None) -> int | None:
        """The page a full read of this source goes on at (a read of it was cut short), if it is
        read in full; None: it is read from its start, or by its changes."""
        if source.key not in self._asked:
            self.prepare([source])
        if source.key in self._by_changes:
            return None
        listing = self._listing(source, path or source.path)
        return listing["page"] if listing is not None else None

    def _listing(self, source: Source, path: str) -> dict | None:
        """Where the last full read of this Precoro list stopped, if it was cut short and it read
        what this one reads."""
        listing = self._listings.get(source.key)
        if listing is None or listing["path"] != path or listing["scope"] != source.scope:
            return None
        return listing

    def _pages(self, source: Source, path: str, unsure_from: datetime | None = None, *,
               listing: dict | None = None, at: PagesRead | None = None,
               read_from: Mapping[str, datetime] | None = None) -> Iterator[dict]:
        """The source's records as its list answers them (Precoro's completed with their details).
        `listing`: begin at the page it names, if that page still begins with its record; `at`: how
        far the read has got (PagesRead)."""
        if source.side == "quickbooks":
            yield from self.quickbooks.query_all(source.entity, include_inactive=True)
            return
        at = PagesRead() if at is None else at

        def listed(start_page: int = 1) -> Iterator[dict]:
            return self.precoro.list_all(path, params=dict(source.query) or None, start_page=start_page,
                                         on_page=at.turned, on_total=lambda total: self.totals.__setitem__(source.key, total))

        if listing is not None:
            pages = listed(listing["page"])
            first = next(pages, None)
            if first is not None and record_id("precoro", first) == listing["anchor"]:
                at.resumed = True
                # What that page held then and no longer does was deleted meanwhile (or moved on,
                # to be read again where it is now): it leaves the mirror, not to be taken from it.
                gone = set(bulk.loads(listing["page_ids"])) - set(at.ids[listing["page"]])
                self.store.mirror_delete(self.realm, "precoro", source.section, sorted(gone))
                yield from self._completed(source, path, itertools.chain([first], pages), unsure_from=unsure_from,
                                           at=at)
                return
            # Records were added or deleted on the pages before it: the list is read from its start.
        yield from self._completed(source, path, listed(), unsure_from=unsure_from, at=at, read_from=read_from)

    def _completed(self, source: Source, path: str, summaries: Iterable[dict],
                   unsure_from: datetime | None = None, at: PagesRead | None = None,
                   read_from: Mapping[str, datetime] | None = None) -> Iterator[dict]:
        """Whole records from a Precoro list's summaries: a summary whose fields equal the mirrored
        record's (its updateDate among them) is that record, unchanged; only the others are read
        from `/{id|idn}`, one call each. A record deleted between the two reads is left out.

        Whether lists lack those fields is an assumption (precoro_contract). A list whose first row
        carries them, equal to that record's details, carries them whole: the rest of it is taken as
        it is, so a Precoro that answers more than documented costs one detail read per list read,
        not one per record (`qbsync doctor` says which it is).

        `unsure_from`: the second the last read began. Precoro's dates count seconds, so a record
        changed in the second it was read carries the same updateDate as the copy read then: a
        summary dated from then on is read again whatever it says. `at.details` is set when the
        summaries are completed one by one (a record may cost a call). `read_from`: the records an
        earlier pass of a read by changes kept (`_kept_as_read`), each unsure from when that began."""
        if not source.detail_only:
            yield from summaries
            return
        summaries = iter(summaries)
        first = next(summaries, None)
        if first is None:
            return
        if all(name in first for name in source.detail_only):
            try:
                whole = self.precoro.details(path, first)
            except NotFound:
                whole = None
            if whole is not None and all(whole.get(name) == first[name] for name in source.detail_only):
                yield whole
                yield from summaries
                return
        summaries = itertools.chain([first], summaries)
        if at is not None:
            at.details = True
        for chunk in _chunks(summaries, PAGE_OF_DETAILS):
            known = self.store.mirror_raws(self.realm, "precoro", source.section,
                                           [record_id("precoro", row) for row in chunk])
            for row in chunk:
                rid = record_id("precoro", row)
                mirrored = known.get(rid)
                unsure = read_from.get(rid, unsure_from) if read_from else unsure_from
                if mirrored is not None and not _dated_from(row, unsure):
                    record = bulk.loads(mirrored)
                    # Kept whole, with the details now wanted (a mapping just turned on: read them).
                    if all(record.get(name) == value for name, value in row.items()) \
                            and all(name in record for name in source.detail_only):
                        yield record
                        continue
                try:
                    yield self.precoro.details(path, row)
                except NotFound:
                    continue

    def progress(self) -> list[dict[str, Any]]:
        """How far the Precoro sources this plan reads in full have got: records in the mirror, of
        how many, and about how many calls the rest costs (None: not known yet, the read has not
        begun). What a read cut short by a cap tells `qbsync status` until a plan is made (W11)."""
        found = []
        for side, section in sorted(self._asked - self._by_changes):
            if side == "precoro" and section not in self._absent:
                read, total = self.store.mirror_count(self.realm, side, section), self.totals.get((side, section))
                found.append({"section": section, "read": read if total is None else min(read, total), "total": total,
                              "calls_left": self._calls_left((side, section), read, total)})
        return found

    def _calls_left(self, key: tuple[str, str], read: int, total: int | None) -> int | None:
        """About what the rest of a full read costs: a page of the list per LIST_PAGE records (the
        page it goes on at among them), and a details call per record when the list's summaries lack
        them (known from the read's first page, as its total is)."""
        at = self._under_way.get(key)
        if total is None or at is None:
            return None
        left = max(total - read, 0)
        return -(-left // LIST_PAGE) + (left if at.details else 0)

    # -- cursors -------------------------------------------------------------------------------------

    def _server_now(self, client: Any, started: float) -> datetime:
        """The service's time when a read began, less the overlap: its latest answer's time, less
        how long the read took on our clock (our clock measures only the duration)."""
        latest = client.server_time or self.now()
        if latest.tzinfo is None:
            latest = latest.replace(tzinfo=timezone.utc)
        return latest - timedelta(seconds=time.monotonic() - started) - OVERLAP

    def _reached(self, source: Source, since: datetime, *, full_at: Any, path: str = "") -> None:
        full_at = full_at.isoformat() if isinstance(full_at, datetime) else full_at
        self._reads[source.key] = {"realm": self.realm, "side": source.side, "section": source.section,
                                   "scope": source.scope, "path": path, "since": since.isoformat(), "full_at": full_at}
