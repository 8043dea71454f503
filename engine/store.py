"""The local state file (sqlite, WAL): links, baselines, holds, plans, the apply journal, audit, tokens.

Links, holds and baselines are keyed by QuickBooks realm: they belong to one QuickBooks company
(L2, L3). The file may hold OAuth tokens, so it is created owner-only (0600).
"""

from __future__ import annotations

import contextlib
import json
import os
from datetime import datetime, timedelta
import sqlite3
import stat
import subprocess
import tempfile
import threading
import time
from contextlib import contextmanager
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Mapping, Sequence, TypeVar

import sqlite_utils
from sqlite_utils.migrations import Migrations

from . import bulk
from .bulk import rare_gc
from .errors import InsecureStateFile, StateFileError, database_file_error
from .locks import FileLock

from .plan import Action, ActionGone, ListedAction, Plan
from .reconcile import Hold, LinkState, SyncState

migrations = Migrations("qbsync")
ACTIONS_PER_PAGE = 200  # actions stored per row of action_pages, in list order (seq)
# Unattended runs are kept this long (`qbsync runs`); what they wrote stays in the audit for good.
RUNS_KEPT_DAYS = 90
# And their lists of held and failed actions this long (then their counts only).
RUN_DETAILS_KEPT_DAYS = 7
# An open plan an unattended run made, that newer ones of its scope replaced, keeps its actions this long.
REPLACED_PLANS_KEPT_HOURS = 24
# The states of plans whose actions were let go (Store.let_go_plans): they can never be applied.
LET_GO = ("superseded", "replaced")
LET_GO_NAMED_DAYS = 90  # how long naming such a plan says why (then: no saved plan)


@migrations()
def m001_initial(db: sqlite_utils.Database) -> None:
    db["links"].create(
        {"entity": str, "realm": str, "precoro_id": str, "quickbooks_id": str, "how": str, "since": str,
         "baseline": str, "active": str},
        pk=("entity", "realm", "precoro_id"),
    )
    db["links"].create_index(["entity", "realm", "quickbooks_id"], unique=True)
    db["holds"].create(
        {"entity": str, "realm": str, "precoro_id": str, "reason": str, "quickbooks_id": str, "since": str},
        pk=("entity", "realm", "precoro_id"),
    )
    db["plans"].create(
        {"id": str, "realm": str, "rules_digest": str, "created_at": str, "entities": str, "state": str},
        pk="id",
    )
    db["actions"].create(
        {"plan_id": str, "id": str, "seq": int, "entity": str, "kind": str, "body": str, "decision": str,
         "approved": int},
        pk=("plan_id", "id"),
    )
    db["journal"].create(
        {"plan_id": str, "unit": str, "side": str, "op": str, "action_ids": str, "state": str,
         "requestid": str, "batch_id": str, "attempts": int, "last_error": str, "updated_at": str},
        pk=("plan_id", "unit"),
    )
    db["batches"].create(
        {"id": str, "plan_id": str, "requestid": str, "body": str, "units": str, "state": str}, pk="id"
    )
    db["audit"].create(
        {"id": int, "at": str, "who": str, "plan_id": str, "action_id": str, "entity": str, "kind": str,
         "target": str, "precoro_id": str, "quickbooks_id": str, "name": str, "status": str, "reason": str,
         "before": str, "after": str, "response": str},
        pk="id",
    )
    db["audit"].create_index(["precoro_id"])
    db["audit"].create_index(["quickbooks_id"])
    db["cursors"].create({"name": str, "value": str}, pk="name")
    db["tokens"].create({"service": str, "data": str}, pk="service")


@migrations()
def m002_plan_purpose(db: sqlite_utils.Database) -> None:
    # "sync" plans come from `plan`; "mapping" plans from a manual map/unmap. Only sync plans are
    # the latest plan a later `apply` or the TUI opens.
    db["plans"].add_column("purpose", str, not_null_default="sync")


@migrations()
def m003_holds_both_sides_and_apply_runs(db: sqlite_utils.Database) -> None:
    # Holds keep a surviving record from being recreated on its own: a Precoro record (its vendor was
    # deactivated, or unmapped by hand) or now also a QuickBooks one (its Precoro record was deleted, W8).
    db.execute("ALTER TABLE holds RENAME TO holds_v1")
    db["holds"].create(
        {"entity": str, "realm": str, "side": str, "record_id": str, "reason": str, "other_id": str, "since": str},
        pk=("entity", "realm", "side", "record_id"),
    )
    db.execute("INSERT INTO holds (entity, realm, side, record_id, reason, other_id, since) "
               "SELECT entity, realm, 'precoro', precoro_id, reason, quickbooks_id, since FROM holds_v1")
    db.execute("DROP TABLE holds_v1")
    # W6: every apply run that writes anything takes the next serial; a plan remembers the serial it
    # was made at, and one made before another plan's apply is refused whole.
    db["apply_runs"].create(
        {"serial": int, "plan_id": str, "started_at": str, "finished_at": str, "state": str, "who": str,
         "pid": int, "host": str},
        pk="serial",
    )
    db["plans"].add_column("base_serial", int, not_null_default=0)
    # A write keeps its unit key from plan to plan: the next plan finds what failed before (W9) and
    # what was sent without an answer (W10) by it.
    db["journal"].add_column("fingerprint", str)
    db["journal"].create_index(["unit"])


@migrations()
def m004_plans_carry_their_writes(db: sqlite_utils.Database) -> None:
    # How apply reads back what it wrote, saved with the plan instead of looked up in the rules.
    db["plans"].add_column("readback", str, not_null_default="{}")
    # The id a create made: a later write of the same plan that refers to it finds it after a crash.
    db["journal"].add_column("created_id", str)
    db["audit"].create_index(["plan_id", "action_id"])


@migrations()
def m005_listed_actions(db: sqlite_utils.Database) -> None:
    # What a plan's list shows of each action, in small rows of their own; the whole action (its
    # changes and requests) apart, read for the rows on screen. A 100,000-action plan is listed and
    # counted without reading one body.
    db["action_bodies"].create({"plan_id": str, "id": str, "body": str}, pk=("plan_id", "id"))
    db.execute("INSERT INTO action_bodies (plan_id, id, body) SELECT plan_id, id, body FROM actions")
    for column in ("target", "name", "precoro_id", "quickbooks_id", "depends_on"):
        db["actions"].add_column(column, str)
    db["actions"].transform(drop={"body"})
    db["actions"].create_index(["plan_id", "seq"])


@migrations()
def m006_mirror(db: sqlite_utils.Database) -> None:
    # W11: each company's records as last read (the wire JSON), kept current from the change feeds
    # so that a plan reads only what changed; and, per side and entity, how far that reading got.
    db["mirror"].create({"realm": str, "side": str, "section": str, "record_id": str, "sort_key": int,
                         "generation": str, "raw": str}, pk=("realm", "side", "section", "record_id"))
    db["mirror"].create_index(["realm", "side", "section", "sort_key"])
    db["mirror_reads"].create({"realm": str, "side": str, "section": str, "scope": str, "path": str,
                               "since": str, "full_at": str}, pk=("realm", "side", "section"))
    # Bumped whenever the mirror of a company changes; a plan keeps the mark it was made at, so a
    # plan is known to be current when the mark has not moved since (whoever moved it).
    db["mirror_marks"].create({"realm": str, "mark": int}, pk="realm")
    db["plans"].add_column("mirror_mark", int, not_null_default=0)
    db["cursors"].drop()  # never used: the mirror's reads replace it


@migrations()
def m007_held(db: sqlite_utils.Database) -> None:
    # U3: actions an unattended run held for review, by realm and action id (an action keeps its
    # id from plan to plan), with what they proposed (`fingerprint`): held again unchanged, they are
    # the same question, not a new one. `decision` is the operator's answer (approved | skipped).
    db["held"].create({"realm": str, "action_id": str, "entity": str, "kind": str, "name": str, "reason": str,
                       "fingerprint": str, "plan_id": str, "held_at": str, "seen_at": str, "decision": str,
                       "decided_at": str}, pk=("realm", "action_id"))
    # U1: one row per unattended run, for `qbsync status` (last run, next one when looping).
    db["runs"].create({"id": int, "started_at": str, "finished_at": str, "trigger": str, "plan_id": str,
                       "exit_code": int, "summary": str, "next_at": str}, pk="id")


@migrations()
def m008_plan_scope(db: sqlite_utils.Database) -> None:
    # What a sync plan covers: "full" (every entity the rules turn on) or the entities of a partial
    # plan (`plan --only items` -> "items"). Only a full plan is "the latest" that a bare `apply`,
    # `decide` or the TUI takes; a partial one is named by its id, so it never stands in for a full one.
    db["plans"].add_column("scope", str, not_null_default="full")


@migrations()
def m011_quiet_pairs(db: sqlite_utils.Database) -> None:
    # Plans in proportion to what changed (W11): a linked pair found in agreement is remembered as
    # quiet, with the mirror mark it was found at. While neither of its records changes in the
    # mirror (a row's changed_mark) and nothing it was reconciled against changes (the section's
    # context: the rules and the links its references follow), later plans need not read it.
    db["mirror"].add_column("changed_mark", int, not_null_default=0)
    db["mirror"].create_index(["realm", "section", "changed_mark"])
    db["links"].add_column("quiet_mark", int)
    # What a plan still needs of a quiet pair's QuickBooks record: its name and activity, unchanged
    # while the pair stays quiet (a name a write must not take, W9; a merge's survivor, I10).
    db["links"].add_column("quiet_name", str)
    db["links"].add_column("quiet_active", int)
    db["quiet_contexts"].create({"realm": str, "section": str, "context": str}, pk=("realm", "section"))


@migrations()
def m012_plan_notes(db: sqlite_utils.Database) -> None:
    # What a plan has to say beside its actions, e.g. how many documents the cutoff left out (D4).
    db["plans"].add_column("notes", str, not_null_default="[]")


@migrations()
def m014_attachments(db: sqlite_utils.Database) -> None:
    # D8. Each file a sent document is to carry into QuickBooks, written with the document's link
    # (one transaction) and worked off by apply, whichever run: pending -> done, skipped or failed.
    # Its request id makes a resend after a crash the same upload, answered once (W3).
    db["attachments"].create(
        {"realm": str, "section": str, "precoro_id": str, "attachment_id": str, "document": str,
         "quickbooks_entity": str, "quickbooks_id": str, "file_name": str, "content_type": str, "skip": str,
         "requestid": str, "state": str, "reason": str, "attachable_id": str, "updated_at": str},
        pk=("realm", "section", "precoro_id", "attachment_id"))
    db["attachments"].create_index(["realm", "state"])
    # The split-cost parts sent, with their parent: a parent is never sent after its parts, even once
    # they are no longer read (a part sent by an earlier run may be gone from the approved ones).
    db["split_parts"].create({"realm": str, "section": str, "precoro_id": str, "parent_id": str},
                             pk=("realm", "section", "precoro_id"))


@migrations()
def m015_action_pages(db: sqlite_utils.Database) -> None:
    # An action's whole form (its changes and requests) moves from a row of its own to pages of
    # ACTIONS_PER_PAGE actions in list order, holding only the fields set beside the listed columns:
    # saving a 260,000-action plan wrote a row, an index entry and ~900 bytes per action.
    db["action_pages"].create({"plan_id": str, "page": int, "bodies": str}, pk=("plan_id", "page"))
    rows = db.execute("select a.plan_id, a.seq, b.body from actions a join action_bodies b "
                      "on b.plan_id = a.plan_id and b.id = a.id order by a.plan_id, a.seq")
    page: list[str] = []
    at: tuple[str, int] | None = None
    for plan_id, seq, body in rows:
        if at is not None and at != (plan_id, seq // ACTIONS_PER_PAGE):
            db.execute("insert into action_pages values (?, ?, ?)", [*at, "[" + ",".join(page) + "]"])
            page = []
        at = (plan_id, seq // ACTIONS_PER_PAGE)
        page.append(body)  # a whole body is a stored form too: the columns take precedence when read
    if at is not None:
        db.execute("insert into action_pages values (?, ?, ?)", [*at, "[" + ",".join(page) + "]"])
    db["action_bodies"].drop()


@migrations()
def m016_reading(db: sqlite_utils.Database) -> None:
    # W11: a plan whose reads a service's cap cut short says so here, per company, until a plan is
    # made: when, the cap, when it lifts, and how far each Precoro list read in full got, for
    # `qbsync status` (a first read of more records than a day's calls takes days).
    db["reading"].create({"realm": str, "at": str, "cap": str, "resume_at": str, "sources": str}, pk="realm")


@migrations()
def m017_mirror_listing(db: sqlite_utils.Database) -> None:
    # W11: where a Precoro list being read in full has got to (kept page by page, forgotten when
    # the read ends), so that a read cut short goes on at that page instead of reading every page
    # before it again: the read's
    # generation, the page, its first record (moved: the pages before it changed) and all its
    # records then (JSON: one deleted since is not taken from the mirror), the path and scope it
    # was read with, and when the read began (the next cursor).
    db["mirror_listing"].create({"realm": str, "side": str, "section": str, "path": str, "scope": str,
                                 "generation": str, "page": int, "anchor": str, "page_ids": str, "began": str},
                                pk=("realm", "side", "section"))


@migrations()
def m018_mirror_reads_ended(db: sqlite_utils.Database) -> None:
    # W11: the cursor of a full read that ended after the last plan was saved (a plan that then
    # failed): the next plan reads from it, by changes, instead of reading every page again. Kept
    # apart from mirror_reads, whose cursors stay those of the latest plan (an apply checks
    # Precoro's changes since them, W2); a plan that reads the source again takes its place.
    db["mirror_reads_ended"].create({"realm": str, "side": str, "section": str, "scope": str, "path": str,
                                     "since": str, "full_at": str}, pk=("realm", "side", "section"))


@migrations()
def m019_mirror_changes_kept(db: sqlite_utils.Database) -> None:
    # W11: per record id, when the read by changes that read it began (JSON); a read cut short
    # (Precoro's hourly cap) also puts its records in the mirror. The next pass from the same cursor
    # trusts those copies while their summary is dated before then. Dropped when the cursor moves.
    db["mirror_changes_kept"].create({"realm": str, "side": str, "section": str, "read": str},
                                     pk=("realm", "side", "section"))


def _freeze(value: Any) -> Any:
    """JSON gives lists back; canonical values use tuples (they must compare equal to records')."""
    if isinstance(value, list):
        return tuple(_freeze(v) for v in value)
    if isinstance(value, dict):
        return {k: _freeze(v) for k, v in value.items()}
    return value


def _frozen_baseline(baseline: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """A link's baseline ({field: {side: value}}) as canonical values: _freeze, with the scalars
    (most values) passed by without a call: every plan reads every link's baseline."""
    return {name: {side: _freeze(value) if isinstance(value, (list, dict)) else value for side, value in sides.items()}
            for name, sides in baseline.items()}


# Each action's latest audit row in one plan (an action tried again has several): its id as audit_id.
_LATEST_AUDIT = ("select action_id, max(id) as audit_id from audit where plan_id = ? and action_id is not null "
                 "group by action_id")


# A plan with this many outcomes keeps them whole (Store.outcomes); fewer are read in milliseconds.
OUTCOMES_KEPT_FROM = 5_000
T = TypeVar("T")


def _sort_key(record_id: str) -> int:
    """Numeric ids sort as numbers (QuickBooks and Precoro ids are); anything else after them."""
    return int(record_id) if record_id.isdigit() and len(record_id) < 18 else 2**62


def _prefixed(prefix: str) -> tuple[str, str]:
    """The ids a prefix names, as a range of the index (`id >= lo and id < hi`): `like 'abc%'` is
    case-insensitive, so sqlite reads every action of the plan for it (87 ms at 260,000 actions,
    each id of an approval of many). Ids are lowercase hex, so the prefix is taken in lowercase."""
    prefix = prefix.lower()
    return prefix, prefix + "\U0010ffff"


def _named(rows: list[tuple], wanted: str) -> tuple | None:
    """The one row (id first) named by `wanted`, its id or an unambiguous prefix of it."""
    exact = [row for row in rows if row[0] == wanted]
    rows = exact or rows
    return tuple(rows[0]) if len(rows) == 1 else None


LISTED_COLUMNS = "id, entity, kind, target, name, precoro_id, quickbooks_id, depends_on, decision, approved"


def _before(at: str, **delta: float) -> str:
    """The ISO time `delta` before the ISO time `at`, as the state file writes times (to the second)."""
    return (datetime.fromisoformat(at) - timedelta(**delta)).isoformat(timespec="seconds")


def _like(text: str) -> str:
    """A LIKE pattern (with `escape '\\'`) that finds `text` anywhere, its wildcards taken as they are."""
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _action(listed: tuple, stored: dict[str, Any]) -> Action:
    """A saved action whole: its stored fields, and its listed columns (where its decision and
    approval change) over them."""
    (stored["id"], stored["entity"], stored["kind"], stored["target"], stored["name"], stored["precoro_id"],
     stored["quickbooks_id"], depends_on, stored["decision"], approved) = listed[:10]
    stored["depends_on"] = json.loads(depends_on) if depends_on else []
    stored["approved"] = bool(approved)
    return Action.from_json(stored)


class LastPage:
    """The page of stored actions parsed last, each of its actions handed out once (the caller owns
    what it gets): reading a plan's actions in order parses each page once, not once an action."""

    def __init__(self) -> None:
        self._key: Any = None
        self._actions: list[dict[str, Any] | None] = []

    def take(self, key: Any, at: int, parse: Callable[[], list[dict[str, Any]]]) -> dict[str, Any]:
        """Action `at` of page `key`, parsed by `parse` when this page is not the one kept (or that
        action was handed out already)."""
        if self._key != key or self._actions[at] is None:
            self._key, self._actions = key, parse()
        stored, self._actions[at] = self._actions[at], None
        return stored  # type: ignore[return-value]


class StoredActions:
    """A plan's actions as the state file keeps them: their LISTED columns, and pages of the rest as
    compressed JSON (bulk.packed). Built entity by entity while a plan is made, each entity's whole
    actions let go once added: holding a first plan's 260,000 whole actions until it was saved was
    most of its memory."""

    def __init__(self) -> None:
        self.rows: list[tuple] = []  # LISTED_COLUMNS of each action, in plan order
        self._pages: list[bytes] = []  # ACTIONS_PER_PAGE stored actions each (bulk.packed)
        self._tail: list[dict[str, Any]] | None = []  # the stored actions not yet a whole page (None: all in)
        self._seq: dict[str, int] | None = None  # action id -> its place, once one is read whole
        self._parsed = LastPage()
        self._lock = threading.Lock()  # the TUI reads actions from its UI thread and from workers

    @classmethod
    def of(cls, actions: Iterable[Action]) -> "StoredActions":
        stored = cls()
        stored.add(actions)
        return stored

    def add(self, actions: Iterable[Action]) -> None:
        """Append actions (in plan order) as they will be saved."""
        if self._tail is None:
            raise ValueError("the plan's pages are made: no action can be added")
        for a in actions:
            self.rows.append((a.id, a.entity, a.kind, a.target, a.name, a.precoro_id, a.quickbooks_id,
                              bulk.dumps(a.depends_on) if a.depends_on else None, a.decision, int(a.approved)))
            self._tail.append(a.stored())
            if len(self._tail) == ACTIONS_PER_PAGE:
                self._pages.append(bulk.packed(self._tail))
                self._tail = []

    def pages(self) -> list[bytes]:
        """The pages of all the actions: none can be added after."""
        if self._tail is not None:
            if self._tail:
                self._pages.append(bulk.packed(self._tail))
            self._tail = None
        return self._pages

    def listed(self) -> PlanListing:
        """The actions as a plan read back from the state file lists them, each read whole from
        these pages when first asked for (so from memory: a plan just made is shown at once)."""
        return PlanListing(len(self.rows), lambda start, stop: self.rows[start:stop], self.action)

    def facts(self) -> Iterator[tuple]:
        """review.FACTS of each action, from its listed columns."""
        for aid, entity, kind, target, _, pid, qid, depends_on, decision, approved in self.rows:
            yield aid, entity, kind, target, pid, qid, bulk.loads(depends_on) if depends_on else (), decision, bool(approved)

    def action(self, action_id: str) -> Action:
        with self._lock:
            if self._seq is None:
                self._seq = {row[0]: seq for seq, row in enumerate(self.rows)}
            seq = self._seq[action_id]
            number, at = divmod(seq, ACTIONS_PER_PAGE)
            stored = self._parsed.take(number, at, lambda: bulk.unpacked(self.pages()[number]))
        return _action(self.rows[seq], stored)


LISTING_PAGE = 2000  # actions made ListedActions at a time, when first asked for
LISTING_PAUSE = 0.01  # seconds the background reading of a listing waits after each page (a few ms of work)


class PlanListing(Sequence[ListedAction]):
    """A saved plan's actions as listed (ListedAction), made from their rows a page at a time when
    first asked for, while a thread reads the rest: a plan of 260,000 actions is on screen once its
    counts (Plan.tally) and the rows on screen are read, not after every row.

    `read_rows(start, stop)` gives the rows (LISTED_COLUMNS) at those places, always from the
    plan as it was when listed: a saved plan's rows are read in one read transaction of its own, so
    a plan that another terminal's apply lets go meanwhile (W6) still lists what it held. `done` is
    called once every row is read (it ends that transaction). `let_go` ends the transaction before
    then, the rows left being read as the state file has them when asked for: after the background
    read failed, for a read transaction kept open keeps sqlite from ever emptying its WAL (the file
    grows with every apply while the TUI runs, and `qbsync compact` waits on it)."""

    def __init__(self, count: int, read_rows: Callable[[int, int], list[tuple]], load: Callable[[str], Action],
                 done: Callable[[], None] = lambda: None, let_go: Callable[[], None] = lambda: None) -> None:
        self._read_rows, self._load, self._done, self._let_go = read_rows, load, done, let_go
        self._items: list[ListedAction | None] = [None] * count
        self._unread = set(range(-(-count // LISTING_PAGE)))  # pages not read yet
        self._lock = threading.Lock()
        if not self._unread:
            done()

    def __len__(self) -> int:
        return len(self._items)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, (list, PlanListing)) and list(self) == list(other)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"<PlanListing of {len(self):,} actions>"

    @property
    def complete(self) -> bool:
        """Every action is listed (read from the state file)."""
        return not self._unread

    def __getitem__(self, index):  # type: ignore[override]
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self._items)))]
        item = self._items[index]
        if item is None:
            page = index % len(self._items) // LISTING_PAGE
            with self._lock:
                if page in self._unread:  # else read meanwhile, by the other thread
                    self._read(page)
            item = self._items[index]
        return item

    def __iter__(self) -> Iterator[ListedAction]:
        """Page by page, each read when reached: `any(...)` over a large plan stops early."""
        items = self._items
        for page, start in enumerate(range(0, len(items), LISTING_PAGE)):
            if page in self._unread:
                with self._lock:
                    if page in self._unread:
                        self._read(page)
            yield from items[start:start + LISTING_PAGE]  # type: ignore[misc]

    def read_in_background(self) -> None:
        """Read the pages not read yet in a thread of their own, a page at a time with a pause after
        each (LISTING_PAUSE): the screen that shows the plan gets the interpreter most of the time,
        and reads the page it shows itself when it gets there first."""
        def read_rest() -> None:
            try:
                while self._unread:
                    with self._lock:
                        if self._unread:
                            self._read(min(self._unread))
                    time.sleep(LISTING_PAUSE)
            except sqlite3.Error:  # the state file failed under it: pages are read when asked for
                with self._lock:
                    if self._unread:  # else read to its end meanwhile, and done
                        self._let_go()
        if self._unread:
            threading.Thread(target=read_rest, name="qbsync-plan-listing", daemon=True).start()

    def _read(self, page: int) -> None:
        """Make the ListedActions of a page not read yet (the lock held): once only, for the TUI
        records decisions on them."""
        start = page * LISTING_PAGE
        items, load = self._items, self._load
        for at, row in enumerate(self._read_rows(start, min(len(items), start + LISTING_PAGE)), start):
            items[at] = ListedAction(*row, load)
        self._unread.discard(page)
        if not self._unread:
            self._done()


def _dumps(value: Any) -> str:
    return bulk.dumps(value, sort_keys=True)




@migrations()
def m020_plan_tally(db: sqlite_utils.Database) -> None:
    # A plan's counts (review.PlanTally, JSON) saved with it, and how many times its decisions and
    # approvals changed since: the tally is that of the plan when `decided` equals its own.
    db["plans"].add_column("tally", str)
    db["plans"].add_column("decided", int, not_null_default=0)


@migrations()
def m021_plan_outcome_groups(db: sqlite_utils.Database) -> None:
    # A plan's action_groups counted with its outcomes (JSON), kept until its next outcome or decision.
    db["plans"].add_column("outcome_groups", str)


@migrations()
def m022_plan_outcomes(db: sqlite_utils.Database) -> None:
    # A plan's latest outcome per action (Store.outcomes), kept whole while no audit row came after
    # `mark`: [[status, reason, [action ids]], ...], packed. A table of its own, so that reading a
    # plan's row never reads megabytes with it.
    db["plan_outcomes"].create({"plan_id": str, "mark": int, "body": bytes}, pk="plan_id")


@migrations()
def m023_service_reads(db: sqlite_utils.Database) -> None:
    # The reads this state file's sessions sent to a service, by month (YYYY-MM): Intuit meters an
    # app's QuickBooks reads by the month (engine.budgets.QUICKBOOKS_READS_A_MONTH).
    db["service_reads"].create({"month": str, "service": str, "reads": int}, pk=("month", "service"))


@migrations()
def m024_plans_by_scope(db: sqlite_utils.Database) -> None:
    # The latest plan of a purpose and scope is asked for several times a plan and a run: a timer
    # keeps 90 days of plans' rows (8,640 at every 15 minutes), which a scan and a sort would read each time.
    db["plans"].create_index(["purpose", "scope", "created_at"])


def _identity(path: Path) -> tuple[int, int] | None:
    """Which file a path names now (device, inode); None when there is none."""
    try:
        found = path.stat()
    except OSError:
        return None
    return found.st_dev, found.st_ino


STATE_DIR_GITIGNORE = ("# Made by qbsync: the state file holds credentials and both companies' data. Never commit it.\n"
                       "*\n")


def ignored_by_git(folder: Path) -> None:
    """A .gitignore of everything in qbsync's own folder (`.qbsync/`, beside rules.yaml), written
    with a new state file: operators keep rules.yaml in git, and `git add .` beside it must not
    take the credentials along. Never in a folder of the operator's (a --state elsewhere), and
    never over a .gitignore already there."""
    if folder.name == ".qbsync":
        with contextlib.suppress(FileExistsError):
            # Owner-only like everything qbsync keeps there.
            made = os.open(folder / ".gitignore", os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
            with os.fdopen(made, "w", encoding="utf-8") as out:
                out.write(STATE_DIR_GITIGNORE)


def git_would_take(path: Path) -> str | None:
    """Why git would take the state file (credentials, both companies' data) into a repository, or
    None: it is not in a git work tree, is ignored there, or git is not installed to ask. Operators
    keep rules.yaml in git; a state file beside it named by --state, or a .gitignore deleted, is
    the usual way a secret reaches a remote."""
    def git(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(["git", "-C", str(path.parent), *args], capture_output=True, text=True, timeout=10)

    try:
        top = git("rev-parse", "--show-toplevel")
        if top.returncode != 0:
            return None
        if git("ls-files", "--error-unmatch", "--", path.name).returncode == 0:
            return (f"the state file {path} is tracked by git in {top.stdout.strip()}: the credentials it holds are "
                    "in that repository's history; `git rm --cached` it, ignore it, and connect again (new tokens)")
        if git("check-ignore", "-q", "--", path.name).returncode == 0:
            return None
    except (OSError, subprocess.SubprocessError):
        return None
    return (f"the state file {path} is inside the git work tree {top.stdout.strip()} and not ignored: `git add .` "
            "would take its credentials along; add it to .gitignore")


class Store:
    """One state file. Safe to share between the UI thread and one worker thread."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        try:
            self._open(path)
        except (OSError, sqlite3.Error) as exc:
            said = database_file_error(exc, path)
            if said is not None:
                raise said from None
            reason = getattr(exc, "strerror", None) or str(exc)
            raise StateFileError(f"cannot use the state file {path}: {reason} (choose another with --state, or "
                                 "make it writable)") from None

    def _open(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        if self.path.is_dir():
            raise IsADirectoryError(21, "it is a directory, not a file")
        if self.path.parent.exists() and not self.path.parent.is_dir():
            raise NotADirectoryError(20, f"{self.path.parent} is a file, not a directory")
        if str(path) != ":memory:":
            self.path.parent.mkdir(parents=True, exist_ok=True)
            if not self.path.exists():
                os.close(os.open(self.path, os.O_CREAT | os.O_WRONLY, 0o600))
                ignored_by_git(self.path.parent)
            mode = self.path.stat().st_mode
            if mode & (stat.S_IRWXG | stat.S_IRWXO):
                raise InsecureStateFile(
                    f"{self.path} is readable by other users (mode {stat.filemode(mode)}); it may hold "
                    f"credentials. Run: chmod 600 {self.path}"
                )
        # Autocommit outside `transaction()`; inside it sqlite-utils issues BEGIN/COMMIT (and savepoints).
        conn = sqlite3.connect(str(path), check_same_thread=False, timeout=30, isolation_level=None)
        self.db = sqlite_utils.Database(conn)
        self._identity = _identity(self.path)  # the file as opened (Store.replaced)
        if str(path) != ":memory:":
            self.db.enable_wal()
        self._lock = threading.RLock()
        self._upserts: dict[tuple, str] = {}  # (table, columns, pk) -> its SQL (see _upsert)
        self._reader: sqlite3.Connection | None = None
        self._reader_lock = threading.Lock()
        self._pages: dict[tuple[str, int], bytes | str] = {}  # (plan id, page) -> its stored actions, packed (_page)
        self._parsed = LastPage()  # of `action`
        # In one immediate transaction: two processes opening a new state file at once must not
        # both apply the migrations.
        with self.transaction():
            migrations.apply(self.db)

    def replaced(self) -> bool:
        """Whether the file at this store's path is no longer the one it writes to: deleted, moved away
        or replaced by another process (a colleague's `rm -r .qbsync`, a backup restored). What this
        store writes then is lost to every other qbsync, and it no longer sees what they write (W7)."""
        return str(self.path) != ":memory:" and _identity(self.path) != self._identity

    def size(self) -> int:
        """The state file's size on disk, its write-ahead log included, in bytes."""
        files = (self.path, self.path.with_name(self.path.name + "-wal"))
        return sum(f.stat().st_size for f in files if f.exists())

    def free_bytes(self) -> int:
        """What `compact` would give back at the least: the file's free pages (what was let go and not
        used again yet), without the write-ahead log's share."""
        free = self.db.execute("pragma freelist_count").fetchone()[0]
        return free * self.db.execute("pragma page_size").fetchone()[0]

    def compact(self) -> tuple[int, int]:
        """Give the space of what was let go (superseded plans, records deleted from the mirror) back
        to the file system: sqlite reuses freed pages but never makes the file smaller on its own.
        Returns the size before and after (`size`). The caller holds the writer lock."""
        before = self.size()
        with self._reader_lock:
            self._pages.clear()
        self.db.execute("vacuum")  # rewrites the file in place: its mode (0600) stays
        self.db.execute("pragma wal_checkpoint(truncate)")
        return before, self.size()

    def close(self) -> None:
        if self._reader is not None and self._reader is not self.db.conn:
            self._reader.close()
        self.db.conn.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """All-or-nothing: an outcome, its link, baseline and audit row land together (W3, W4).

        The outermost level is BEGIN IMMEDIATE: it waits (up to the busy timeout) for another
        process's write to finish, where a deferred BEGIN that reads first and writes later would
        fail at once with "database is locked". Nested levels are savepoints.

        What sqlite says of the file itself (a full disk, say) ends it as a StateFileError that
        says what to do; what was kept before it stays (a plan's pages read, an apply's outcomes).
        """
        with self._lock:
            conn = self.db.conn
            if conn.in_transaction:
                with self.db.atomic():
                    yield
                return
            try:
                conn.execute("BEGIN IMMEDIATE")
                try:
                    yield
                except BaseException:
                    if conn.in_transaction:
                        conn.execute("ROLLBACK")
                    raise
                conn.execute("COMMIT")
            except sqlite3.Error as exc:
                said = database_file_error(exc, self.path)
                if said is None:
                    raise
                if conn.in_transaction:  # a COMMIT that could not be written
                    conn.execute("ROLLBACK")
                raise said from exc

    def _upsert(self, table: str, row: dict[str, Any], pk: tuple[str, ...]) -> None:
        """Insert `row`, or update the given columns of the row with the same `pk` (none: insert).
        sqlite-utils' upsert does this too, but reads the table's schema on every call: the rows an
        apply writes per record (link, journal, audit) cost most of a large first sync's time."""
        columns = tuple(row)
        sql = self._upserts.get((table, columns, pk))
        if sql is None:
            names = ", ".join(f"[{c}]" for c in columns)
            sql = f"insert into [{table}] ({names}) values ({', '.join('?' * len(columns))})"
            updates = ", ".join(f"[{c}] = excluded.[{c}]" for c in columns if c not in pk)
            if pk:
                keys = ", ".join(f"[{c}]" for c in pk)
                sql += f" on conflict ({keys}) do " + (f"update set {updates}" if updates else "nothing")
            self._upserts[(table, columns, pk)] = sql
        self.db.execute(sql, [row[c] for c in columns])

    # -- links, baselines, holds ---------------------------------------------------------------

    def sync_state(self, entity: str, realm: str, quiet: Mapping[str, tuple[str, str, bool]] | None = None) -> SyncState:
        """The links, baselines and holds of one entity; `quiet` pairs (quiet_pairs) are known only
        as linked: their baselines are not read."""
        links = {}
        loads = bulk.loads
        quiet = quiet or {}
        select = "select precoro_id, quickbooks_id, baseline, active, how from links where entity = ? and realm = ?"
        rows = self.db.execute(select + " and quiet_mark is null", [entity, realm]).fetchall()
        # Marked quiet, but a record changed since (or another context): read in full too.
        stale = [pid for (pid,) in self.db.execute("select precoro_id from links where entity = ? and realm = ? "
                                                   "and quiet_mark is not null", [entity, realm]) if pid not in quiet]
        for start in range(0, len(stale), 500):
            chunk = stale[start:start + 500]
            rows += self.db.execute(select + f" and precoro_id in ({','.join('?' * len(chunk))})",
                                    [entity, realm, *chunk]).fetchall()
        for precoro_id, quickbooks_id, baseline, active, how in rows:
            links[precoro_id] = LinkState(precoro_id=precoro_id, quickbooks_id=quickbooks_id,
                                          baseline=_frozen_baseline(loads(baseline or "{}")),
                                          active=loads(active or "{}"), how=how)
        holds: dict[str, dict[str, Hold]] = {"precoro": {}, "quickbooks": {}}
        for row in self.db.query("select * from holds where entity = ? and realm = ?", [entity, realm]):
            holds[row["side"]][row["record_id"]] = Hold(row["record_id"], row["reason"], row["other_id"])
        return SyncState(links=links, holds=holds["precoro"], quickbooks_holds=holds["quickbooks"],
                         quiet={pid: entry[0] for pid, entry in quiet.items()})

    def all_links(self, realm: str) -> dict[str, list[tuple[str, str]]]:
        """Every link of one QuickBooks company: section -> [(Precoro id, QuickBooks id)]."""
        found: dict[str, list[tuple[str, str]]] = {}
        for entity, precoro_id, quickbooks_id in self.db.execute(
                "select entity, precoro_id, quickbooks_id from links where realm = ?", [realm]):
            found.setdefault(entity, []).append((precoro_id, quickbooks_id))
        return found

    def link_for(self, entity: str, realm: str, *, precoro_id: str | None = None, quickbooks_id: str | None = None) -> dict | None:
        column, value = ("precoro_id", precoro_id) if precoro_id is not None else ("quickbooks_id", quickbooks_id)
        rows = list(self.db.query(f"select * from links where entity = ? and realm = ? and {column} = ?", [entity, realm, value]))
        return rows[0] if rows else None

    def links_among(self, entity: str, realm: str, column: str, record_ids: list[str]) -> dict[str, dict]:
        """The links of these records, by their id in `column` (precoro_id or quickbooks_id)."""
        assert column in ("precoro_id", "quickbooks_id")
        found: dict[str, dict] = {}
        for start in range(0, len(record_ids), 500):
            chunk = record_ids[start:start + 500]
            found.update((row[column], row) for row in self.db.query(
                f"select * from links where entity = ? and realm = ? and {column} in ({','.join('?' * len(chunk))})",
                [entity, realm, *chunk]))
        return found

    def put_link(self, entity: str, realm: str, precoro_id: str, quickbooks_id: str, *, how: str, since: str,
                 baseline: dict, active: dict) -> None:
        with self.transaction():
            # Linked again (matched or mapped): neither record is held back any more.
            self.db.execute("delete from holds where entity = ? and realm = ? and ((side = 'precoro' and record_id = ?) "
                            "or (side = 'quickbooks' and record_id = ?))", [entity, realm, precoro_id, quickbooks_id])
            self._upsert("links", {"entity": entity, "realm": realm, "precoro_id": precoro_id,
                                   "quickbooks_id": quickbooks_id, "how": how, "since": since,
                                   "baseline": _dumps(baseline), "active": _dumps(active), "quiet_mark": None},
                         ("entity", "realm", "precoro_id"))

    def update_baseline(self, entity: str, realm: str, precoro_id: str, fields: dict[str, dict[str, Any]],
                        active: dict[str, bool] | None = None) -> None:
        """Merge `fields` ({field: {side: value}}) into a link's baseline."""
        with self.transaction():
            rows = list(self.db.query(
                "select baseline, active from links where entity = ? and realm = ? and precoro_id = ?",
                [entity, realm, precoro_id]))
            if not rows:
                return
            baseline = json.loads(rows[0]["baseline"] or "{}")
            for name, sides in fields.items():
                baseline.setdefault(name, {}).update(sides)
            current_active = json.loads(rows[0]["active"] or "{}")
            if active:
                current_active.update(active)
            self.db.execute(
                "update links set baseline = ?, active = ?, quiet_mark = null where entity = ? and realm = ? "
                "and precoro_id = ?",
                [_dumps(baseline), _dumps(current_active), entity, realm, precoro_id],
            )

    def remove_link(self, entity: str, realm: str, precoro_id: str, *, hold: str | None = None,
                    hold_side: str = "precoro", hold_quickbooks_id: str | None = None, since: str = "") -> None:
        """Forget a link; `hold` (a reason) keeps the record on `hold_side` from being recreated on its own."""
        with self.transaction():
            row = self.db.execute("select quickbooks_id from links where entity = ? and realm = ? and precoro_id = ?",
                                  [entity, realm, precoro_id]).fetchone()
            self.db.execute("delete from links where entity = ? and realm = ? and precoro_id = ?", [entity, realm, precoro_id])
            if not hold:
                return
            quickbooks_id = hold_quickbooks_id or (row[0] if row else None)
            record_id, other_id = (precoro_id, quickbooks_id) if hold_side == "precoro" else (quickbooks_id, precoro_id)
            if record_id:
                self.db["holds"].upsert(
                    {"entity": entity, "realm": realm, "side": hold_side, "record_id": record_id, "reason": hold,
                     "other_id": other_id, "since": since},
                    pk=("entity", "realm", "side", "record_id"),
                )

    def holds_of(self, entity: str, realm: str, record_ids: Mapping[str, str | None]) -> list[dict]:
        """What keeps these records ({side: id}) from being created again on their own, if anything."""
        return [row for side, rid in record_ids.items() if rid for row in self.db.query(
            "select * from holds where entity = ? and realm = ? and side = ? and record_id = ?", [entity, realm, side, rid])]

    def count_links(self, entity: str, realm: str) -> int:
        return self.db.execute("select count(*) from links where entity = ? and realm = ?", [entity, realm]).fetchone()[0]

    # -- plans ---------------------------------------------------------------------------------

    def save_plan(self, plan: Plan, stored: StoredActions | None = None) -> None:
        """Save `plan`; its actions as `stored` holds them when they were kept that way while it
        was made (then `plan.actions` is not read), else as `plan.actions` has them. Its tally
        (Plan.tally), if counted, is saved with it."""
        with self.transaction():
            # W6: the plan is made against the state as of the latest apply run.
            plan.base_serial = self.current_serial()
            plan.mirror_mark = self.mirror_mark(plan.realm_id)
            self.db.execute("delete from actions where plan_id = ?", [plan.id])
            self.db.execute("delete from action_pages where plan_id = ?", [plan.id])
            with self._reader_lock:
                self._pages.clear()
                self._parsed = LastPage()
            self.db["plans"].upsert(
                {"id": plan.id, "realm": plan.realm_id, "rules_digest": plan.rules_digest,
                 "created_at": plan.created_at, "entities": _dumps(list(plan.entities)), "state": "open",
                 "purpose": plan.purpose, "base_serial": plan.base_serial, "readback": _dumps(plan.readback),
                 "mirror_mark": plan.mirror_mark, "scope": plan.scope, "notes": _dumps(plan.notes),
                 "tally": _dumps({**plan.tally, "decided": 0}) if plan.tally is not None else None, "decided": 0,
                 "outcome_groups": None},
                pk="id",
            )
            stored = stored or StoredActions.of(plan.actions)
            # Plain executemany: sqlite-utils' insert_all costs seconds per 100,000 actions.
            self.db.conn.executemany(
                "insert into actions (plan_id, id, seq, entity, kind, target, name, precoro_id, quickbooks_id, "
                "depends_on, decision, approved) values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                ((plan.id, row[0], seq, *row[1:]) for seq, row in enumerate(stored.rows)))
            self.db.conn.executemany(
                "insert into action_pages (plan_id, page, bodies) values (?, ?, ?)",
                ((plan.id, page, bodies) for page, bodies in enumerate(stored.pages())))

    def plan_id_of(self, plan_id: str) -> str | None:
        """The full id of a saved plan named by its id or an unambiguous prefix."""
        found = _named(self.db.execute("select id from plans where id >= ? and id < ?", _prefixed(plan_id)).fetchall(),
                       plan_id.lower())
        return found[0] if found else None

    def load_plan(self, plan_id: str, *, listed: bool = False, background: bool = True) -> Plan | None:
        """A saved plan by id or unambiguous prefix. `listed`: its actions as a PlanListing of
        ListedActions, which read their details (changes, requests) only when asked, with its tally
        when one is kept: how a large plan is reviewed. `background`: the listing's rows are read in
        a thread of their own; else when first asked for."""
        full_id = self.plan_id_of(plan_id)
        if full_id is None:
            return None
        if listed:
            return self._listed_plan(full_id, background)
        row = next(self.db.query("select * from plans where id = ?", [full_id]))
        with rare_gc():
            actions = list(self.iter_actions(full_id))
        return self._plan(row, actions)

    def iter_actions(self, plan_id: str, *, requests: bool = True) -> Iterator[Action]:
        """A saved plan's actions whole, in plan order, read a page at a time: what prints every action
        of a large plan (`show --json`) without holding them all. Not `requests`: without what only
        an apply reads (the requests, and a new link's baseline), a third of the decoding."""
        pages = (body for (body,) in self.db.execute(
            "select bodies from action_pages where plan_id = ? order by page", [plan_id]))
        stored = (body for page in pages for body in bulk.unpacked(page))
        for listed_row, body in zip(self.db.execute(
                f"select {LISTED_COLUMNS} from actions where plan_id = ? order by seq", [plan_id]), stored):
            if not requests:
                body.pop("write", None), body.pop("alternatives", None)
                if body.get("link"):
                    body["link"].pop("baseline", None)
            yield _action(listed_row, body)

    def _listed_plan(self, plan_id: str, background: bool) -> Plan | None:
        """The plan listed from a read transaction of its own (PlanListing), which ends once every
        row is read: in the background, seconds after the listing is made for the largest plans."""
        memory = str(self.path) == ":memory:"
        conn = self.db.conn if memory else sqlite3.connect(str(self.path), check_same_thread=False, timeout=30,
                                                           isolation_level=None)
        if not memory:
            conn.execute("begin")  # the snapshot starts at the first read, below

        def done() -> None:
            if not memory:
                conn.rollback()  # nothing was written: this only ends the read
                conn.close()

        def let_go() -> None:
            if not memory:
                conn.rollback()  # the rows left are read outside a transaction (autocommit) when asked for

        cursor = conn.execute("select * from plans where id = ?", [plan_id])
        names = [column[0] for column in cursor.description]
        found = cursor.fetchone()
        if found is None:  # let go since it was named
            done()
            return None
        row = dict(zip(names, found))
        count = conn.execute("select count(*) from actions where plan_id = ?", [plan_id]).fetchone()[0]

        def read_rows(start: int, stop: int) -> list[tuple]:
            return conn.execute(f"select {LISTED_COLUMNS} from actions where plan_id = ? and seq >= ? and seq < ? "
                                "order by seq", [plan_id, start, stop]).fetchall()

        listing = PlanListing(count, read_rows, partial(self.action, plan_id), done, let_go)
        if memory:
            list(listing)  # one connection, shared with the store's other users: read it all now
        elif background:
            listing.read_in_background()
        plan = self._plan(row, listing)
        plan.tally = self._tally(row)
        return plan

    def plan_tally(self, plan_id: str) -> dict[str, Any] | None:
        """The tally kept of a saved plan (review.PlanTally as JSON), if it is still its own."""
        row = self.db.execute("select tally, decided from plans where id = ?", [plan_id]).fetchone()
        return self._tally({"tally": row[0], "decided": row[1]}) if row else None

    @staticmethod
    def _tally(row: Mapping[str, Any]) -> dict[str, Any] | None:
        tally = json.loads(row["tally"]) if row["tally"] else None
        return tally if tally is not None and tally.get("decided") == row["decided"] else None

    @staticmethod
    def _plan(row: Mapping[str, Any], actions: Sequence[Action]) -> Plan:
        return Plan(actions=actions, realm_id=row["realm"], rules_digest=row["rules_digest"],  # type: ignore[arg-type]
                    created_at=row["created_at"], entities=tuple(json.loads(row["entities"])), id=row["id"],
                    purpose=row["purpose"], base_serial=row["base_serial"], readback=json.loads(row["readback"]),
                    scope=row["scope"], notes=json.loads(row["notes"]), decided=row["decided"])

    def keep_tally(self, plan_id: str, tally: dict[str, Any], decided: int) -> None:
        """Keep the tally counted of a plan whose decisions had changed `decided` times: it is the
        plan's own while they have not changed again (another terminal may have decided since)."""
        with self.transaction():
            self.db.execute("update plans set tally = ? where id = ?", [_dumps({**tally, "decided": decided}), plan_id])

    def action(self, plan_id: str, action_id: str) -> Action:
        """One action of a saved plan, whole. Asked from the UI thread while a worker may be using
        the main connection, so it reads through a connection of its own (WAL lets both read)."""
        with self._reader_lock:
            if self._reader is None:
                self._reader = (self.db.conn if str(self.path) == ":memory:"
                                else sqlite3.connect(str(self.path), check_same_thread=False, timeout=30))
            listed = self._reader.execute(f"select {LISTED_COLUMNS}, seq from actions where plan_id = ? and id = ?",
                                          [plan_id, action_id]).fetchone()
            if listed is None:  # let go since it was listed (superseded by another process's apply)
                raise ActionGone(f"plan {plan_id} no longer holds action {action_id}")
            page, at = divmod(listed[-1], ACTIONS_PER_PAGE)
            stored = self._parsed.take((plan_id, page), at, lambda: self._page(self._reader, plan_id, page))
            return _action(listed, stored)

    def _page(self, conn: sqlite3.Connection, plan_id: str, page: int) -> list[dict]:
        """One page of a saved plan's stored actions, parsed afresh (the caller owns what it gets).
        The last few pages are kept as saved: the rows on screen are looked at one by one, and a saved
        plan's pages never change."""
        key = (plan_id, page)
        if key not in self._pages:
            if len(self._pages) >= 8:
                del self._pages[next(iter(self._pages))]
            self._pages[key] = conn.execute("select bodies from action_pages where plan_id = ? and page = ?",
                                            key).fetchone()[0]
        return bulk.unpacked(self._pages[key])

    def operator_choices(self, plan_id: str) -> list[Action]:
        """The actions of a plan an operator decided or unapproved, their changes' values canonical
        (_freeze), as a new plan makes them: the next plan keeps a decision while its action
        proposes the same changes (review.carried_decisions)."""
        rows = self.db.execute(f"select {LISTED_COLUMNS}, seq from actions where plan_id = ? and "
                               "(decision is not null or approved = 0) order by seq", [plan_id]).fetchall()
        actions, page, stored = [], -1, []
        with self._reader_lock:
            for row in rows:
                if row[-1] // ACTIONS_PER_PAGE != page:
                    page = row[-1] // ACTIONS_PER_PAGE
                    stored = self._page(self.db.conn, plan_id, page)
                actions.append(_action(row, stored[row[-1] % ACTIONS_PER_PAGE]))
        for action in actions:
            action.changes = [replace(c, before=_freeze(c.before), after=_freeze(c.after), precoro=_freeze(c.precoro),
                                      quickbooks=_freeze(c.quickbooks), baseline=_freeze(c.baseline))
                              for c in action.changes]
        return actions

    def actions_of_record(self, plan_id: str, entity: str, record_ids: Mapping[str, str | None]) -> list[Action]:
        """A plan's actions, whole, of this entity (its kind) on either of these records ({side: id})."""
        exact = {side: rid for side, rid in record_ids.items() if rid}
        if not exact:
            return []
        rows = self.db.execute(
            f"select {LISTED_COLUMNS}, seq from actions where plan_id = ? and entity = ? and ("
            + " or ".join(f"{side}_id = ?" for side in exact) + ") order by seq",
            [plan_id, entity, *exact.values()]).fetchall()
        with self._reader_lock:
            return [_action(row, self._page(self.db.conn, plan_id, row[-1] // ACTIONS_PER_PAGE)[row[-1] % ACTIONS_PER_PAGE])
                    for row in rows]

    def records_named(self, plan_id: str | None, entity: str, text: str) -> list[tuple[str, str | None, str | None]]:
        """(name, Precoro id, QuickBooks id) of the records whose name holds `text` (ASCII case
        ignored), as a plan's actions and the audit name them: documents, which no mirror names."""
        like = _like(text)
        rows = self.db.execute("select distinct name, precoro_id, quickbooks_id from actions where plan_id = ? and "
                               "entity = ? and name like ? escape '\\'", [plan_id, entity, like]).fetchall()
        rows += self.db.execute("select distinct name, precoro_id, quickbooks_id from audit where entity = ? and "
                                "name like ? escape '\\' order by id desc limit 100", [entity, like]).fetchall()
        return list(dict.fromkeys(rows))

    def latest_plan_covering(self, section: str) -> str | None:
        """The latest sync plan that planned this entity (a full plan, or one made with --only it)."""
        for plan_id, entities in self.db.execute(
                "select id, entities from plans where purpose = 'sync' order by created_at desc, rowid desc"):
            if section in json.loads(entities or "[]"):
                return plan_id
        return None

    def latest_plan_id(self, purpose: str = "sync", scope: str = "full") -> str | None:
        """The latest plan of this purpose and scope (by default: the latest full sync plan)."""
        row = self.db.execute("select id from plans where purpose = ? and scope = ? "
                              "order by created_at desc, rowid desc limit 1", [purpose, scope]).fetchone()
        return row[0] if row else None

    def plan_ids(self, prefix: str = "", limit: int = 50) -> list[str]:
        """Saved plans' ids that start with `prefix`, newest first (what a shell completes)."""
        return [row[0] for row in self.db.execute(
            "select id from plans where id >= ? and id < ? order by created_at desc, rowid desc limit ?",
            [*_prefixed(prefix), limit])]

    def action_ids(self, plan_id: str, prefix: str = "", kinds: Iterable[str] = (), limit: int = 200) -> list[str]:
        """A plan's action ids that start with `prefix` (of these kinds only, when given), in plan order."""
        kinds = list(kinds)
        only = f" and kind in ({', '.join('?' for _ in kinds)})" if kinds else ""
        return [row[0] for row in self.db.execute(
            f"select id from actions where plan_id = ? and id >= ? and id < ?{only} order by seq limit ?",
            [plan_id, *_prefixed(prefix), *kinds, limit])]

    def approved_links(self, plan_id: str, entity: str) -> dict[str, str]:
        """The plan's approved links of one entity's records: Precoro id -> QuickBooks id."""
        return dict(self.db.execute(
            "select precoro_id, quickbooks_id from actions where plan_id = ? and entity = ? and kind = 'link' "
            "and approved", [plan_id, entity]).fetchall())

    def action_kind(self, plan_id: str, action_id: str) -> tuple[str, str] | None:
        """(full action id, kind) of an action of a plan, found by id or an unambiguous prefix."""
        return _named(self.db.execute("select id, kind from actions where plan_id = ? and id >= ? and id < ?",
                                      [plan_id, *_prefixed(action_id)]).fetchall(), action_id.lower())

    def action_kinds(self, plan_id: str, action_ids: Iterable[str]) -> dict[str, str]:
        """The kinds of those of these that are whole ids of the plan's actions, at once (an approval
        of many names them so)."""
        return {id_: kind for id_, (kind, _, _) in self.action_choices(plan_id, action_ids).items()}

    def action_choices(self, plan_id: str, action_ids: Iterable[str]) -> dict[str, tuple[str, str | None, bool]]:
        """(kind, decision, approved) of those of these that are whole ids of the plan's actions, at once."""
        wanted = list(action_ids)
        found: dict[str, tuple[str, str | None, bool]] = {}
        for start in range(0, len(wanted), 500):
            chunk = wanted[start:start + 500]
            for id_, kind, decision, approved in self.db.execute(
                    f"select id, kind, decision, approved from actions where plan_id = ? and id in "
                    f"({','.join('?' * len(chunk))})", [plan_id, *chunk]):
                found[id_] = (kind, decision, bool(approved))
        return found

    def plan_row(self, plan_id: str) -> dict | None:
        rows = list(self.db.query("select id, realm, rules_digest, created_at, entities, state, purpose, base_serial, "
                                  "mirror_mark, scope, decided from plans where id = ?", [plan_id]))
        return rows[0] if rows else None

    def plan_state(self, plan_id: str) -> str | None:
        row = self.db.execute("select state from plans where id = ?", [plan_id]).fetchone()
        return row[0] if row else None

    def add_plan_note(self, plan_id: str, note: str) -> None:
        """A note kept with a saved plan and shown with it (`show`, the apply's confirmation)."""
        with self.transaction():
            row = self.db.execute("select notes from plans where id = ?", [plan_id]).fetchone()
            if row is not None:
                self.db.execute("update plans set notes = ? where id = ?", [_dumps([*json.loads(row[0]), note]), plan_id])

    def set_plan_state(self, plan_id: str, state: str) -> None:
        with self.transaction():
            self.db.execute("update plans set state = ? where id = ?", [state, plan_id])

    def set_decisions(self, plan_id: str, action_ids: Iterable[str], decision: str | None) -> None:
        with self.transaction():
            self.db.conn.executemany("update actions set decision = ? where plan_id = ? and id = ?",
                                     [(decision, plan_id, aid) for aid in action_ids])
            self._decided(plan_id)

    def set_approved(self, plan_id: str, action_ids: Iterable[str], approved: bool) -> None:
        with self.transaction():
            self.db.conn.executemany(
                "update actions set approved = ? where plan_id = ? and id = ?",
                [(int(approved), plan_id, aid) for aid in action_ids],
            )
            self._decided(plan_id)

    def applies_ended(self, plan_id: str) -> int:
        """How many applies of the plan ended (finished or stopped; one killed never ends)."""
        return self.db.execute("select count(*) from apply_runs where plan_id = ? and state != 'running'",
                               [plan_id]).fetchone()[0]

    def _decided(self, plan_id: str) -> None:
        """The plan's decisions changed: its tally is no longer its own (load_plan)."""
        self.db.execute("update plans set decided = decided + 1 where id = ?", [plan_id])

    # -- apply runs (W6) -----------------------------------------------------------------------

    def current_serial(self) -> int:
        """The serial of the latest apply run that wrote anything (0: none yet)."""
        return self.db.execute("select coalesce(max(serial), 0) from apply_runs").fetchone()[0]

    def applied_since(self, plan: Plan) -> dict | None:
        """The first run of *another* plan after `plan` was made: it makes `plan` superseded (W6)."""
        return self.applied_after(plan.id, plan.base_serial)

    def applied_after(self, plan_id: str, base_serial: int) -> dict | None:
        """applied_since of a plan known by its id and the serial it was made at."""
        rows = list(self.db.query("select * from apply_runs where serial > ? and plan_id != ? order by serial limit 1",
                                  [base_serial, plan_id]))
        return rows[0] if rows else None

    def let_go_plans(self, now: str) -> dict[str, str]:
        """Let go of the actions of open plans nobody can or will apply, never applied (no write
        journaled) and not the latest plan of their purpose and scope (the one reviewed, and whose
        decisions carry over): those made before another plan's apply (`superseded`: W6 refuses
        them whole), and those an unattended run made that newer plans replaced more than
        REPLACED_PLANS_KEPT_HOURS before `now` (`replaced`: a timer whose runs hold everything makes a
        plan every few minutes, each with every held record's actions; what a person planned stays
        open, say for a sign-off that takes days). Their rows stay, so that naming one says why; the pages they
        free are reused by later plans. Without this, each re-plan of a 100,000-record first sync kept
        ~165 MB for good. Returns {plan id: its new state}."""
        replaced_before = _before(now, hours=REPLACED_PLANS_KEPT_HOURS)
        with self.transaction():
            rows = self.db.execute("select id, purpose, scope, base_serial, created_at from plans where state = 'open' "
                                   "order by created_at, rowid").fetchall()
            latest = {self.latest_plan_id(purpose, scope) for _, purpose, scope, *_ in rows}
            let_go = {}
            for plan_id, _, _, base_serial, created_at in rows:
                if plan_id in latest:
                    continue
                later = self.db.execute("select 1 from apply_runs where serial > ? and plan_id != ? limit 1",
                                        [base_serial, plan_id]).fetchone()
                why = "superseded" if later else "replaced" if created_at < replaced_before and \
                    self.db.execute("select 1 from runs where plan_id = ? limit 1", [plan_id]).fetchone() else None
                if why is None or self.db.execute("select 1 from journal where plan_id = ? limit 1", [plan_id]).fetchone():
                    continue
                self.db.execute("delete from actions where plan_id = ?", [plan_id])
                self.db.execute("delete from action_pages where plan_id = ?", [plan_id])
                # Its row stays, to say why when it is named, without what only an apply would read.
                self.db.execute("update plans set state = ?, readback = '{}', tally = null where id = ?", [why, plan_id])
                let_go[plan_id] = why
            # And after LET_GO_NAMED_DAYS, the row goes too (a plan a run: 35,000 rows a year).
            self.db.execute(f"delete from plans where state in ({', '.join('?' * len(LET_GO))}) and created_at < ?",
                            [*LET_GO, _before(now, days=LET_GO_NAMED_DAYS)])
            return let_go

    def begin_apply_run(self, plan_id: str, *, who: str, at: str, pid: int, host: str) -> int:
        """Take the next serial for a run about to write (inside the transaction of its first write)."""
        with self.transaction():
            cursor = self.db.execute(
                "insert into apply_runs (plan_id, started_at, state, who, pid, host) values (?, ?, 'running', ?, ?, ?)",
                [plan_id, at, who, pid, host])
            return cursor.lastrowid

    def finish_apply_run(self, serial: int, state: str, at: str) -> None:
        with self.transaction():
            self.db.execute("update apply_runs set state = ?, finished_at = ? where serial = ?", [state, at, serial])

    def last_apply_run(self, plan_id: str | None = None) -> dict | None:
        """The latest apply run (of this plan, when named)."""
        where, params = ("where plan_id = ? ", [plan_id]) if plan_id else ("", [])
        rows = list(self.db.query(f"select * from apply_runs {where}order by serial desc limit 1", params))
        return rows[0] if rows else None

    def lock(self, purpose: str) -> FileLock:
        """The cross-process lock `purpose` ("apply", "token") of this state file (W7)."""
        if str(self.path) == ":memory:":
            return FileLock(Path(tempfile.gettempdir()) / f"qbsync-memory-{os.getpid()}-{id(self)}.{purpose}.lock", purpose)
        return FileLock(self.path.with_name(f"{self.path.name}.{purpose}.lock"), purpose)

    # -- apply journal -------------------------------------------------------------------------

    def journal(self, plan_id: str) -> dict[str, dict]:
        return {row["unit"]: row for row in self.db.query("select * from journal where plan_id = ?", [plan_id])}

    def failed_units(self) -> dict[str, dict]:
        """The write units, of any plan, whose latest journal entry says they failed (W9): usually few."""
        latest: dict[str, dict] = {}
        for row in self.db.query(
                "select unit, state, last_error, fingerprint from journal where unit in "
                "(select unit from journal where state = 'failed') order by updated_at, rowid"):
            latest[row["unit"]] = row
        return {unit: row for unit, row in latest.items() if row["state"] == "failed"}

    def unanswered_elsewhere(self, plan_id: str, units: Iterable[str]) -> set[str]:
        """Which of these write units another plan sent without ever learning the outcome (W10)."""
        wanted = list(units)
        found: set[str] = set()
        for start in range(0, len(wanted), 500):
            chunk = wanted[start:start + 500]
            found.update(row[0] for row in self.db.execute(
                f"select unit from journal where state = 'sent' and plan_id != ? and unit in ({','.join('?' * len(chunk))})",
                [plan_id, *chunk]))
        return found

    def put_journal(self, plan_id: str, unit: str, **fields: Any) -> None:
        """Record a write unit's state; inside another transaction it commits with it (a savepoint)."""
        row = {"plan_id": plan_id, "unit": unit, **fields}
        if "action_ids" in row and not isinstance(row["action_ids"], str):
            row["action_ids"] = _dumps(row["action_ids"])
        with self.transaction():
            self._upsert("journal", row, ("plan_id", "unit"))

    def open_batches(self, plan_id: str) -> list[dict]:
        return list(self.db.query("select * from batches where plan_id = ? and state = 'sent' order by rowid", [plan_id]))

    def put_batch(self, batch_id: str, plan_id: str, requestid: str, body: dict, units: list[str]) -> None:
        """Remember a batch before it is sent, so a crash resends the same request id (W3)."""
        with self.transaction():
            self.db["batches"].upsert(
                {"id": batch_id, "plan_id": plan_id, "requestid": requestid, "body": _dumps(body),
                 "units": _dumps(units), "state": "sent"}, pk="id")
            for unit in units:
                self.put_journal(plan_id, unit, state="sent", requestid=requestid, batch_id=batch_id)

    def close_batch(self, batch_id: str) -> None:
        with self.transaction():
            self.db.execute("update batches set state = 'done' where id = ?", [batch_id])

    # -- unattended runs (U1, U3) ---------------------------------------------------------------

    def held(self, realm: str | None = None, *, waiting: bool = True) -> list[dict]:
        """Held actions, oldest first: those still waiting for a person, or (waiting=False) all."""
        sql, params = "select * from held where 1", []
        if realm is not None:
            sql, params = sql + " and realm = ?", [realm]
        if waiting:
            sql += " and decision is null"
        return list(self.db.query(sql + " order by held_at, rowid", params))

    def put_held(self, rows: Iterable[dict]) -> None:
        with self.transaction():
            self.db["held"].upsert_all(list(rows), pk=("realm", "action_id"))

    def forget_held(self, realm: str, action_ids: Iterable[str]) -> None:
        ids = list(action_ids)
        with self.transaction():
            for start in range(0, len(ids), 500):
                chunk = ids[start:start + 500]
                self.db.execute(f"delete from held where realm = ? and action_id in ({','.join('?' * len(chunk))})",
                                [realm, *chunk])

    def decide_held(self, action_ids: Iterable[str], decision: str, at: str) -> None:
        """The operator answered held actions (approve, decide or skip them in any plan)."""
        with self.transaction():
            # Each by its whole key, and only those held: by `action_id` alone (not the start of the
            # key) each update would read every held row, and 100,000 approvals against 5,000 held
            # actions took minutes.
            answered = set(action_ids)
            self.db.conn.executemany(
                "update held set decision = ?, decided_at = ? where realm = ? and action_id = ?",
                [(decision, at, realm, action_id)
                 for realm, action_id in self.db.execute("select realm, action_id from held").fetchall()
                 if action_id in answered])

    def start_run(self, at: str, trigger: str) -> int:
        with self.transaction():
            return self.db.execute("insert into runs (started_at, trigger) values (?, ?)", [at, trigger]).lastrowid

    def finish_run(self, run_id: int, at: str, plan_id: str | None, exit_code: int, summary: dict) -> None:
        """Record how a run ended, and keep the runs table as small as `RUNS_KEPT_DAYS` and
        `RUN_DETAILS_KEPT_DAYS` say: a timer every 15 minutes that holds the same 14 actions each time
        would otherwise add 150 MB a year of the same lists."""
        with self.transaction():
            self.db.execute("update runs set finished_at = ?, plan_id = ?, exit_code = ?, summary = ? where id = ?",
                            [at, plan_id, exit_code, _dumps(summary), run_id])
            self.db.execute("delete from runs where started_at < ? and id != ?",
                            [_before(at, days=RUNS_KEPT_DAYS), run_id])
            # The held actions are in `held` and the failures in the audit: an old run keeps its counts.
            self.db.execute("update runs set summary = json_remove(summary, '$.held_actions', '$.failures') "
                            "where started_at < ? and id != ? and json_type(summary, '$.held_actions') is not null",
                            [_before(at, days=RUN_DETAILS_KEPT_DAYS), run_id])

    def runs(self, *, limit: int | None = None, since: str | None = None, failed: bool = False) -> list[dict]:
        """Unattended runs, newest first, each with its summary: the last `limit`, those started on or
        after `since` (an ISO day or time), only the failed ones."""
        where, params = [], []
        if since:
            where.append("started_at >= ?")
            params.append(since)
        if failed:
            where.append("exit_code = 1")
        sql = "select * from runs" + (f" where {' and '.join(where)}" if where else "") + " order by id desc"
        if limit is not None:
            sql += f" limit {int(limit)}"
        rows = list(self.db.query(sql, params))
        for row in rows:
            row["summary"] = json.loads(row["summary"]) if row.get("summary") else None
        return rows

    def set_next_run(self, run_id: int, at: str | None) -> None:
        with self.transaction():
            self.db.execute("update runs set next_at = ? where id = ?", [at, run_id])

    def last_run(self) -> dict | None:
        return next(iter(self.runs(limit=1)), None)

    # -- documents' attachments and split parts (D8) ---------------------------------------------

    def keep_attachments(self, rows: list[dict[str, Any]]) -> None:
        """Files to send with a document just created (inside its transaction); a file already kept
        (the same document adopted again) stays as it is."""
        for row in rows:
            row = {**row, "state": "pending"}
            self.db.execute(f"insert or ignore into attachments ({', '.join(row)}) values ({', '.join('?' * len(row))})",
                            list(row.values()))

    def pending_attachments(self, realm: str) -> list[dict]:
        return list(self.db.query("select * from attachments where realm = ? and state = 'pending' order by rowid",
                                  [realm]))

    def attachment_outcome(self, row: dict, state: str, reason: str, at: str, attachable_id: str | None = None) -> None:
        with self.transaction():
            self.db.execute("update attachments set state = ?, reason = ?, attachable_id = ?, updated_at = ? where "
                            "realm = ? and section = ? and precoro_id = ? and attachment_id = ?",
                            [state, reason, attachable_id, at, row["realm"], row["section"], row["precoro_id"],
                             row["attachment_id"]])

    def keep_split_part(self, realm: str, section: str, precoro_id: str, parent_id: str) -> None:
        self._upsert("split_parts", {"realm": realm, "section": section, "precoro_id": precoro_id,
                                     "parent_id": parent_id}, ("realm", "section", "precoro_id"))

    def split_parts(self, realm: str, section: str) -> dict[str, list[str]]:
        """The split-cost parts sent, by their parent's Precoro id."""
        found: dict[str, list[str]] = {}
        for row in self.db.query("select precoro_id, parent_id from split_parts where realm = ? and section = ? "
                                 "order by rowid", [realm, section]):
            found.setdefault(row["parent_id"], []).append(row["precoro_id"])
        return found

    # -- audit ---------------------------------------------------------------------------------

    def add_audit(self, **row: Any) -> None:
        for key in ("before", "after", "response"):
            if key in row and not isinstance(row[key], str):
                row[key] = _dumps(row[key])
        self._upsert("audit", row, ())

    def history(self, **asked: Any) -> list[dict]:
        """The audit as `iter_history` reads it, in a list."""
        return list(self.iter_history(**asked))

    def iter_history(self, *, record: str | None = None, limit: int | None = None, plan_id: str | None = None,
                     statuses: Iterable[str] = (), since: str | None = None, before: str | None = None,
                     entity: str | None = None, kind: str | None = None,
                     record_ids: Mapping[str, str | None] | None = None) -> Iterator[dict]:
        """The audit, newest first, an entry at a time: of one record (its id, or a part of its name),
        one plan, these statuses, from `since` on and before `before` (ISO dates or times, UTC, as `at`
        is written), of one entity and one kind of action; `record_ids` ({side: id}): of exactly
        these records (either of them)."""
        where: list[str] = []
        params: list[Any] = []
        for column, value in (("entity", entity), ("kind", kind)):
            if value:
                where.append(f"{column} = ?")
                params.append(value)
        if record:
            where.append("(precoro_id = ? or quickbooks_id = ? or name like ?)")
            params += [record, record, f"%{record}%"]
        exact = {side: rid for side, rid in (record_ids or {}).items() if rid}
        if record_ids is not None:
            where.append("(" + (" or ".join(f"{side}_id = ?" for side in exact) or "0") + ")")
            params += list(exact.values())
        if plan_id:
            where.append("plan_id = ?")
            params.append(plan_id)
        statuses = sorted(statuses)
        if statuses:
            where.append(f"status in ({', '.join('?' for _ in statuses)})")
            params += statuses
        if since:
            where.append("at >= ?")
            params.append(since)
        if before:
            where.append("at < ?")
            params.append(before)
        sql = "select * from audit" + (" where " + " and ".join(where) if where else "") + " order by id desc"
        if limit is not None:
            sql += f" limit {max(0, int(limit))}"
        for row in self.db.query(sql, params):
            for key in ("before", "after", "response"):
                row[key] = json.loads(row[key]) if row.get(key) else None
            yield row

    def audit_count(self) -> int:
        return self.db.execute("select count(*) from audit").fetchone()[0]

    def action_groups(self, plan_id: str) -> dict[tuple[str, str, bool, str], int]:
        """review.action_groups of a saved plan, counted in SQL: (entity, kind, undecided, last
        outcome) -> actions. A 100,000-action plan's counts without loading one action.

        Kept with the plan until its next outcome or decision: after an apply of 260,000 actions
        they take a second or two to count, and `status` and each open of the plan ask for them.
        What they were counted at is read first, so outcomes that land while they are counted
        leave them taken for out of date, never the other way round."""
        marks = self._outcome_marks(plan_id)
        row = self.db.execute("select outcome_groups from plans where id = ?", [plan_id]).fetchone()
        kept = json.loads(row[0]) if row and row[0] else None
        if kept is not None and kept["marks"] == marks:
            return {(entity, kind, undecided, status): n for entity, kind, undecided, status, n in kept["groups"]}
        # Each action's latest outcome is found once, then joined by its id: a join through
        # `id in (...)` made sqlite go through every outcome for each action (minutes after an
        # apply of 260,000).
        groups = {(entity, kind, bool(undecided), status): n for entity, kind, undecided, status, n in self.db.execute(
            "select a.entity, a.kind, a.kind = 'conflict' and a.decision is null, coalesce(audit.status, ''), count(*) "
            f"from actions a left join ({_LATEST_AUDIT}) latest on latest.action_id = a.id "
            "left join audit on audit.id = latest.audit_id where a.plan_id = ? group by 1, 2, 3, 4",
            [plan_id, plan_id])}
        if row is not None:
            with self.transaction():
                self.db.execute("update plans set outcome_groups = ? where id = ?",
                                [_dumps({"marks": marks, "groups": [[*key, n] for key, n in groups.items()]}), plan_id])
        return groups

    def _outcome_marks(self, plan_id: str) -> list[int]:
        """What a plan's counts by outcome depend on besides its actions: how many times its
        decisions changed, and the latest audit row of any plan (one more outcome: counted again)."""
        decided = self.db.execute("select decided from plans where id = ?", [plan_id]).fetchone()
        return [decided[0] if decided else 0, self._latest_audit_id()]

    def _latest_audit_id(self) -> int:
        """The mark of what is kept of outcomes: audit rows are only ever added, so a later row means
        an outcome since (of any plan: one lookup, where this plan's latest would be a search)."""
        return self.db.execute("select coalesce(max(id), 0) from audit").fetchone()[0]

    def any_outcome(self, plan_id: str) -> bool:
        """Whether an apply has carried out (or tried) any action of the plan."""
        return self.db.execute("select 1 from audit where plan_id = ? and action_id is not null limit 1",
                               [plan_id]).fetchone() is not None

    def outcomes(self, plan_id: str, make: Callable[[str, str], T] = lambda status, reason: (status, reason)
                 ) -> dict[str, T]:
        """The latest audited outcome of each action of a plan: action id -> make(status, reason),
        one object for each outcome told apart (after a large apply most are ("applied", "")).

        Many outcomes (OUTCOMES_KEPT_FROM) are kept with the plan, marked with the latest audit row:
        found in the audit, each action's latest row is a lookup among wide rows (2-3 s for 260,000
        on a slow machine), which every open of a plan that an apply left with failures waited for.
        The mark is read first, so an outcome that lands meanwhile leaves them out of date, never wrong."""
        mark = self._latest_audit_id()
        kept = self.db.execute("select mark, body from plan_outcomes where plan_id = ?", [plan_id]).fetchone()
        if kept is not None and kept[0] == mark:
            groups = bulk.unpacked(kept[1])
        else:
            by_outcome: dict[tuple[str, str], list[str]] = {}
            for action_id, status, reason in self.db.execute(
                    f"select action_id, status, reason from audit where id in (select audit_id from ({_LATEST_AUDIT}))",
                    [plan_id]):
                by_outcome.setdefault((status or "", reason or ""), []).append(action_id)
            groups = [[status, reason, ids] for (status, reason), ids in by_outcome.items()]
            if sum(len(ids) for ids in by_outcome.values()) >= OUTCOMES_KEPT_FROM:
                with self.transaction():
                    self.db.execute("insert or replace into plan_outcomes (plan_id, mark, body) values (?, ?, ?)",
                                    [plan_id, mark, bulk.packed(groups)])
        found: dict[str, T] = {}
        for status, reason, ids in groups:
            found.update(dict.fromkeys(ids, make(status, reason)))
        return found

    def latest_outcome_in(self, plan_id: str, statuses: Iterable[str]) -> bool:
        """Whether any action's latest outcome is one of `statuses`: a row of one of them with no
        later one of its action (the index on plan and action finds it; not every outcome grouped)."""
        statuses = sorted(statuses)
        return self.db.execute(
            f"select 1 from audit a where a.plan_id = ? and a.action_id is not null and a.status in "
            f"({', '.join('?' for _ in statuses)}) and not exists (select 1 from audit b where b.plan_id = a.plan_id "
            "and b.action_id = a.action_id and b.id > a.id) limit 1", [plan_id, *statuses]).fetchone() is not None

    # -- the mirror (W11) ------------------------------------------------------------------------

    def mirror_read(self, realm: str, side: str, section: str) -> dict | None:
        """How far the mirror of one side of one entity got: its scope, path, `since` and `full_at`.
        A full read that ended since the latest plan's got further (save_ended_read)."""
        for table in ("mirror_reads_ended", "mirror_reads"):
            rows = list(self.db.query(f"select * from {table} where realm = ? and side = ? and section = ?",
                                      [realm, side, section]))
            if rows:
                return rows[0]
        return None

    def mirror_since(self, realm: str, side: str) -> datetime | None:
        """The earliest cursor of one side: every change there since is read, or to be read, by a plan."""
        row = self.db.execute("select min(since) from mirror_reads where realm = ? and side = ? and since != ''",
                              [realm, side]).fetchone()
        return datetime.fromisoformat(row[0]) if row and row[0] else None

    def save_mirror_reads(self, reads: Iterable[dict]) -> None:
        """Advance the mirror's cursors with the plan that used them (W11)."""
        with self.transaction():
            for read in reads:
                self._upsert("mirror_reads", read, ("realm", "side", "section"))
                for table in ("mirror_reads_ended", "mirror_changes_kept"):
                    self.db.execute(f"delete from {table} where realm = ? and side = ? and section = ?",
                                    [read["realm"], read["side"], read["section"]])

    def save_ended_read(self, read: dict) -> None:
        """The cursor of a full read that has just ended, before (or without) a plan: what the next
        plan reads from if this one fails. From a reader thread: plain SQL."""
        with self.transaction():
            self._upsert("mirror_reads_ended", read, ("realm", "side", "section"))
            self.db.execute("delete from mirror_changes_kept where realm = ? and side = ? and section = ?",
                            [read["realm"], read["side"], read["section"]])

    def changes_kept(self, realm: str, side: str, section: str) -> dict[str, str]:
        """Records the reads by changes from the current cursor have read: id -> when that read
        began (keep_changes_read)."""
        row = self.db.execute("select read from mirror_changes_kept where realm = ? and side = ? and section = ?",
                              [realm, side, section]).fetchone()
        return json.loads(row[0]) if row else {}

    def keep_changes_read(self, realm: str, side: str, section: str, raws: list[tuple[str, str]],
                          read: dict[str, str]) -> None:
        """What a read by changes read: each record's id with when that read began, beside those of
        earlier passes from the same cursor, and `raws` (when it was cut short) into the mirror."""
        with self.transaction():
            self.mirror_put(realm, side, section, raws)
            self._upsert("mirror_changes_kept", {"realm": realm, "side": side, "section": section,
                                                 "read": _dumps({**self.changes_kept(realm, side, section), **read})},
                         ("realm", "side", "section"))

    def mirror_put(self, realm: str, side: str, section: str, raws: Iterable[tuple[str, str]],
                   generation: str = "") -> None:
        """Store records as read: (record id, wire JSON) pairs."""
        raws = list(raws)
        if not raws:
            return
        with self.transaction():
            mark = self._mirror_moved(realm)
            self.db.conn.executemany(
                "insert or replace into mirror (realm, side, section, record_id, sort_key, generation, raw, changed_mark) "
                "values (?, ?, ?, ?, ?, ?, ?, ?)",
                ((realm, side, section, rid, _sort_key(rid), generation, raw, mark) for rid, raw in raws))

    def mirror_delete(self, realm: str, side: str, section: str, record_ids: Iterable[str]) -> None:
        record_ids = list(record_ids)
        if not record_ids:
            return
        with self.transaction():
            self.db.conn.executemany(
                "delete from mirror where realm = ? and side = ? and section = ? and record_id = ?",
                ((realm, side, section, rid) for rid in record_ids))
            self._end_quiet(realm, side, section, record_ids)
            self._mirror_moved(realm)

    def _mirror_moved(self, realm: str) -> int:
        """The next mark of this company's mirror, taken (inside the caller's transaction)."""
        self.db.execute("insert into mirror_marks (realm, mark) values (?, 1) "
                        "on conflict (realm) do update set mark = mark + 1", [realm])
        return self.mirror_mark(realm)

    def mirror_mark(self, realm: str) -> int:
        """How often the mirror of this company has changed: a plan made at this mark saw all of it."""
        row = self.db.execute("select mark from mirror_marks where realm = ?", [realm]).fetchone()
        return row[0] if row else 0

    def mirror_prune(self, realm: str, side: str, section: str, generation: str) -> int:
        """After a full read: drop what it did not see (deleted since). Returns how many."""
        where = "realm = ? and side = ? and section = ? and generation != ?"
        with self.transaction():
            gone = [rid for (rid,) in self.db.execute(f"select record_id from mirror where {where}",
                                                     [realm, side, section, generation])]
            if gone:
                self.db.execute(f"delete from mirror where {where}", [realm, side, section, generation])
                self._end_quiet(realm, side, section, gone)
                self._mirror_moved(realm)
            return len(gone)

    def set_reading(self, realm: str, at: str, cap: str, resume_at: str | None, sources: list[dict]) -> None:
        """A plan's reads stopped at a cap (W11): what `reading` tells until a plan is saved."""
        with self.transaction():
            self._upsert("reading", {"realm": realm, "at": at, "cap": cap, "resume_at": resume_at,
                                     "sources": _dumps(sources)}, ("realm",))

    def reading(self, realm: str) -> dict | None:
        row = self.db.execute("select at, cap, resume_at, sources from reading where realm = ?", [realm]).fetchone()
        return {"at": row[0], "cap": row[1], "resume_at": row[2], "sources": json.loads(row[3])} if row else None

    def clear_reading(self, realm: str, sections: Iterable[str]) -> None:
        """These sections were read whole by a plan: no longer left to read (the note goes with the last)."""
        with self.transaction():
            reading = self.reading(realm)
            if reading is None:
                return
            done = set(sections)
            left = [source for source in reading["sources"] if source["section"] not in done]
            if left:
                self.db.execute("update reading set sources = ? where realm = ?", [_dumps(left), realm])
            else:
                self.db.execute("delete from reading where realm = ?", [realm])

    def mirror_count(self, realm: str, side: str, section: str, generation: str | None = None) -> int:
        """Records of one side of one entity in the mirror (`generation`: of that full read only)."""
        where, args = "realm = ? and side = ? and section = ?", [realm, side, section]
        if generation is not None:
            where, args = where + " and generation = ?", args + [generation]
        return self.db.execute(f"select count(*) from mirror where {where}", args).fetchone()[0]

    def mirror_raws(self, realm: str, side: str, section: str, record_ids: list[str] | None = None) -> dict[str, str]:
        """record id -> wire JSON of these records (None: all of them), to compare with a fresh read."""
        where = "realm = ? and side = ? and section = ?"
        if record_ids is None:
            return dict(self.db.execute(f"select record_id, raw from mirror where {where}", [realm, side, section]))
        found: dict[str, str] = {}
        for start in range(0, len(record_ids), 500):
            chunk = record_ids[start:start + 500]
            found.update(self.db.execute(
                f"select record_id, raw from mirror where {where} and record_id in ({','.join('?' * len(chunk))})",
                [realm, side, section, *chunk]))
        return found

    def mirror_containing(self, realm: str, side: str, section: str, words: Sequence[str]) -> Iterator[tuple[str, str]]:
        """The mirrored records (id, wire JSON) whose JSON holds every one of `words` (ASCII case
        ignored): the few worth parsing when a record is looked for by its name."""
        likes = [_like(word) for word in words]
        yield from self.db.execute("select record_id, raw from mirror where realm = ? and side = ? and section = ?"
                                   + " and raw like ? escape '\\'" * len(likes), [realm, side, section, *likes])

    def mirror_listing(self, realm: str, side: str, section: str) -> dict | None:
        """Where a full read of this list got to (m017): kept page by page, forgotten when it ends."""
        rows = list(self.db.query("select * from mirror_listing where realm = ? and side = ? and section = ?",
                                  [realm, side, section]))
        return rows[0] if rows else None

    def mirror_listings(self, realm: str) -> list[dict]:
        """The full reads of this company's lists under way or cut short, by section."""
        return list(self.db.query("select * from mirror_listing where realm = ? order by section", [realm]))

    def save_mirror_listing(self, listing: dict) -> None:
        with self.transaction():
            self._upsert("mirror_listing", listing, ("realm", "side", "section"))

    def forget_mirror_listing(self, realm: str, side: str, section: str) -> None:
        with self.transaction():
            self.db.conn.execute("delete from mirror_listing where realm = ? and side = ? and section = ?",
                                 [realm, side, section])

    def mirror_rows(self, realm: str, side: str, section: str,
                    generation: str | None = None) -> Iterator[tuple[str, str]]:
        """The mirrored records' (id, wire JSON), in id order (as a full read returns them); only
        those a full read of `generation` put there, when given."""
        # Both sides of an entity are read at once, in two threads: each reads through a connection
        # of its own, so that neither waits for the other's whole read.
        own = str(self.path) != ":memory:"
        conn = sqlite3.connect(str(self.path), check_same_thread=False, timeout=30) if own else self.db.conn
        try:
            of_generation = "" if generation is None else " and generation = ?"
            cursor = conn.execute(
                f"select record_id, raw from mirror where realm = ? and side = ? and section = ?{of_generation} "
                "order by sort_key, record_id", [realm, side, section, *([] if generation is None else [generation])])
            while rows := cursor.fetchmany(2000):
                yield from rows
        finally:
            if own:
                conn.close()

    # -- quiet pairs (W11: plans in proportion to what changed) --------------------------------------

    def quiet_pairs(self, section: str, realm: str, context: str) -> dict[str, tuple[str, str, bool]]:
        """Linked pairs found in agreement under this same context, neither of whose records has
        changed in the mirror since: Precoro id -> (QuickBooks id, its name, active). Records deleted
        from the mirror end their pair's quiet at once (mirror_delete, mirror_prune)."""
        row = self.db.execute("select context from quiet_contexts where realm = ? and section = ?",
                              [realm, section]).fetchone()
        if row is None or row[0] != context:
            return {}
        found = {pid: (qid, name, bool(active), mark) for pid, qid, name, active, mark in self.db.execute(
            "select precoro_id, quickbooks_id, quiet_name, quiet_active, quiet_mark from links "
            "where entity = ? and realm = ? and quiet_mark is not null", [section, realm])}
        if not found:
            return {}
        # Only the few records changed since the oldest mark are looked at (an index on changed_mark).
        oldest = min(entry[3] for entry in found.values())
        changed = {(side, rid): mark for side, rid, mark in self.db.execute(
            "select side, record_id, changed_mark from mirror where realm = ? and section = ? and changed_mark > ?",
            [realm, section, oldest])}
        return {pid: (qid, name, active) for pid, (qid, name, active, mark) in found.items()
                if changed.get(("precoro", pid), 0) <= mark and changed.get(("quickbooks", qid), 0) <= mark}

    def mark_quiet(self, section: str, realm: str, context: str, quiet: Iterable[tuple[str, str, bool]],
                   busy: Iterable[str]) -> None:
        """After planning `section` under `context`: these links ((Precoro id, QuickBooks name,
        active)) were found in agreement at the mirror's current mark, and these (Precoro ids) were
        not. Inside the plan's transaction."""
        with self.transaction():
            mark = self.mirror_mark(realm)
            self.db.execute("insert or replace into quiet_contexts (realm, section, context) values (?, ?, ?)",
                            [realm, section, context])
            self.db.conn.executemany(
                "update links set quiet_mark = ?, quiet_name = ?, quiet_active = ? "
                "where entity = ? and realm = ? and precoro_id = ?",
                ((mark, name, active, section, realm, pid) for pid, name, active in quiet))
            self.db.conn.executemany("update links set quiet_mark = null where entity = ? and realm = ? and precoro_id = ?",
                                     ((section, realm, pid) for pid in busy))

    def _end_quiet(self, realm: str, side: str, section: str, record_ids: Iterable[str]) -> None:
        """These records left the mirror: their pairs must be reconciled again (W8)."""
        column = "precoro_id" if side == "precoro" else "quickbooks_id"
        self.db.conn.executemany(f"update links set quiet_mark = null where entity = ? and realm = ? and {column} = ?",
                                 ((section, realm, rid) for rid in record_ids))

    # -- a service's reads by the month ------------------------------------------------------------

    def count_reads(self, service: str, month: str, reads: int) -> None:
        """Add `reads` to what this state file's sessions read of `service` in `month` (YYYY-MM)."""
        with self.transaction():
            self.db.execute("insert into service_reads (month, service, reads) values (?, ?, ?) "
                            "on conflict (month, service) do update set reads = reads + excluded.reads",
                            [month, service, reads])

    def reads_in(self, service: str, month: str) -> int:
        row = self.db.execute("select reads from service_reads where month = ? and service = ?",
                              [month, service]).fetchone()
        return row[0] if row else 0

    # -- tokens --------------------------------------------------------------------------------

    def get_tokens(self, service: str) -> dict | None:
        row = self.db.execute("select data from tokens where service = ?", [service]).fetchone()
        return json.loads(row[0]) if row and row[0] else None

    def set_tokens(self, service: str, data: dict | None) -> None:
        with self.transaction():
            if data is None:
                self.db.execute("delete from tokens where service = ?", [service])
            else:
                self.db["tokens"].upsert({"service": service, "data": _dumps(data)}, pk="service")
