"""The state of the local QuickBooks: its companies in sqlite (records, deletions, stored responses, realms).

One connection guarded by one re-entrant lock, so the threaded server and tests may share a state;
tables are prefixed `qbo_` because the local Precoro may use the same file. Each record is a row
with the columns that queries filter and sort on (id, active, name, times) plus the JSON body as
QuickBooks returns it, so a page of a query decodes only the rows it returns.

This is also the Python API that seeds and tests use to bypass HTTP (`insert`, `bulk_insert`,
`get`, `merge`, `reset`); the same rules apply as over HTTP.
"""

from __future__ import annotations

import copy
import json
import sqlite3
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from functools import lru_cache
from typing import Callable, Iterable, Iterator

from . import errors
from .entities import (
    COMMON,
    ENTITIES,
    KEPT_BY_FULL_UPDATE,
    PARTY,
    Entity,
    WriteContext,
    check_properties,
    check_references,
    is_numeric_id,
    deleted_name,
    name_key,
    guess_content_type,
    refused_type,
    repoint_references,
    shape,
    without_empty,
)
from .oauth import TokenAuthority
from .payments import PAYMENT_LINK_TYPES, SETTLED, is_voided, settled, settled_by, settled_on, voided
from .query import compile_query, parse

DEFAULT_REALM = "9341453050518735"
CDC_LOOKBACK = timedelta(days=30)
CDC_MAX_OBJECTS = 1000
# CDC does not cover these (fact sheet §5); they must be re-read by query.
CDC_UNSUPPORTED = frozenset({"TaxCode", "TaxRate", "Preferences", "CompanyInfo"})
SINGLETON_ID = 1
# One encoder for every stored body (json.dumps with options builds a new encoder per call).
_encode = json.JSONEncoder(ensure_ascii=False).encode

SCHEMA = """
CREATE TABLE IF NOT EXISTS qbo_realms (realm TEXT PRIMARY KEY, next_id INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS qbo_records (
    realm TEXT NOT NULL, entity TEXT NOT NULL, id INTEGER NOT NULL,
    active INTEGER NOT NULL, name TEXT, name_scope TEXT, name_key TEXT,
    created_at REAL NOT NULL, updated_at REAL NOT NULL, body TEXT NOT NULL,
    PRIMARY KEY (realm, entity, id));
CREATE INDEX IF NOT EXISTS qbo_records_active ON qbo_records (realm, entity, active, id);
CREATE INDEX IF NOT EXISTS qbo_records_name ON qbo_records (realm, entity, name);
CREATE INDEX IF NOT EXISTS qbo_records_updated ON qbo_records (realm, entity, updated_at);
-- Active name-list records hold their name; inactive ones have name_key NULL and hold none.
CREATE UNIQUE INDEX IF NOT EXISTS qbo_records_unique_name ON qbo_records (realm, name_scope, name_key)
    WHERE name_key IS NOT NULL;
CREATE TABLE IF NOT EXISTS qbo_tombstones (
    realm TEXT NOT NULL, entity TEXT NOT NULL, id INTEGER NOT NULL,
    deleted_at REAL NOT NULL, deleted_time TEXT NOT NULL, PRIMARY KEY (realm, entity, id));
-- The files of Attachables (the record holds their name, size and type; this, their bytes).
CREATE TABLE IF NOT EXISTS qbo_files (
    realm TEXT NOT NULL, id INTEGER NOT NULL, content BLOB NOT NULL, PRIMARY KEY (realm, id));
CREATE TABLE IF NOT EXISTS qbo_requests (
    realm TEXT NOT NULL, requestid TEXT NOT NULL, status INTEGER NOT NULL, body BLOB NOT NULL,
    PRIMARY KEY (realm, requestid));
CREATE TABLE IF NOT EXISTS qbo_clients (client_id TEXT PRIMARY KEY, secret_hash TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS qbo_tokens (
    token_hash TEXT PRIMARY KEY, kind TEXT NOT NULL, client_id TEXT NOT NULL, realm TEXT NOT NULL,
    grant_id TEXT NOT NULL, expires_at REAL NOT NULL, redirect_uri TEXT);
CREATE INDEX IF NOT EXISTS qbo_tokens_grant ON qbo_tokens (grant_id);
-- When each grant ends (Intuit's five years from the authorization), whatever its refreshes.
CREATE TABLE IF NOT EXISTS qbo_grants (grant_id TEXT PRIMARY KEY, ends_at REAL NOT NULL);
"""


def local_now() -> datetime:
    return datetime.now().astimezone()


def meta_time(moment: datetime) -> str:
    """MetaData times look like `2020-09-29T08:13:18-07:00`."""
    return moment.isoformat(timespec="seconds")


def _seed_preferences(home_currency: str) -> dict:
    return {
        "AccountingInfoPrefs": {"TrackDepartments": False, "ClassTrackingPerTxn": False,
                                "ClassTrackingPerTxnLine": False, "CustomerTerminology": "Customers"},
        "ProductAndServicesPrefs": {"ForSales": True, "ForPurchase": True, "QuantityWithPriceAndRate": True,
                                    "QuantityOnHand": True},
        "VendorAndPurchasesPrefs": {"TrackingByCustomer": True, "BillableExpenseTracking": True},
        "TaxPrefs": {"UsingSalesTax": False},
        "CurrencyPrefs": {"MultiCurrencyEnabled": True, "HomeCurrency": {"value": home_currency}},
        "ReportPrefs": {"ReportBasis": "Accrual", "CalcAgingReportFromTxnDate": False},
    }


def _seed_company_info(realm: str) -> dict:
    return {
        "CompanyName": "Local Company",
        "LegalName": "Local Company",
        "CompanyAddr": {"Line1": "1 Loopback Way", "City": "Localhost", "CountrySubDivisionCode": "CA",
                        "PostalCode": "94043", "Country": "US"},
        "Country": "US",
        "Email": {"Address": f"admin-{realm}@example.com"},
        "FiscalYearStartMonth": "January",
        "SupportedLanguages": "en",
    }


@dataclass(frozen=True)
class QueryResult:
    """One page of a query (or its COUNT), rendered as the `QueryResponse` object."""

    entity: str
    start_position: int
    bodies: tuple[str, ...] = ()
    total_count: int | None = None

    def response(self) -> dict:
        return json.loads(self.response_json())

    def response_json(self) -> str:
        """The `QueryResponse` as JSON text, splicing the stored rows in without decoding them:
        a page of 1000 records is the hot path of a full read."""
        if self.total_count is not None:
            return json.dumps({"totalCount": self.total_count})
        if not self.bodies:
            return "{}"
        return (f'{{"{self.entity}": [{", ".join(self.bodies)}], '
                f'"startPosition": {self.start_position}, "maxResults": {len(self.bodies)}}}')


class QuickBooksState:
    """All local QuickBooks companies (realms) and the OAuth grants that reach them."""

    def __init__(
        self,
        path: str = ":memory:",
        *,
        clock: Callable[[], datetime] = local_now,
        default_realm: str = DEFAULT_REALM,
    ) -> None:
        self.clock = clock
        self.default_realm = default_realm
        self._lock = threading.RLock()
        self._depth = 0
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA busy_timeout = 5000")
        if path != ":memory:":
            self._db.execute("PRAGMA journal_mode = WAL")
        self._db.executescript(SCHEMA)
        self.oauth = TokenAuthority(self)
        # Told of every API write (realm, entity, id, operation, lastUpdated): the webhook sender.
        self.on_change: Callable[[str, str, str, str, str], None] | None = None

    def _changed(self, realm: str, kind: Entity, record: dict, operation: str) -> None:
        if self.on_change is not None:
            when = (record.get("MetaData") or {}).get("LastUpdatedTime") or meta_time(self.now())
            self.on_change(realm, kind.name, str(record.get("Id")), operation, when)

    # -- plumbing -------------------------------------------------------------------------------

    @contextmanager
    def atomic(self) -> Iterator[sqlite3.Connection]:
        """One transaction (a savepoint when nested) under the state's lock."""
        with self._lock:
            savepoint = f"qbo_sp{self._depth}"
            self._db.execute(f"SAVEPOINT {savepoint}")
            self._depth += 1
            try:
                yield self._db
            except BaseException:
                self._db.execute(f"ROLLBACK TO {savepoint}")
                self._db.execute(f"RELEASE {savepoint}")
                raise
            else:
                self._db.execute(f"RELEASE {savepoint}")
            finally:
                self._depth -= 1

    def now(self) -> datetime:
        moment = self.clock()
        return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # -- realms ---------------------------------------------------------------------------------

    def ensure_realm(self, realm: str) -> None:
        """Create the company on first use, seeded with Preferences (multicurrency, USD) and CompanyInfo."""
        with self.atomic() as db:
            if db.execute("SELECT 1 FROM qbo_realms WHERE realm = ?", (realm,)).fetchone():
                return
            db.execute("INSERT INTO qbo_realms (realm, next_id) VALUES (?, 1)", (realm,))
            created = meta_time(self.now())
            for entity, body in (("Preferences", _seed_preferences("USD")), ("CompanyInfo", _seed_company_info(realm))):
                self._insert_row(realm, ENTITIES[entity], self._stamped(body, SINGLETON_ID, created))

    def reset(self, realm: str) -> None:
        """Forget every record of the company and seed it afresh; OAuth grants stay valid."""
        with self.atomic() as db:
            for table in ("qbo_records", "qbo_tombstones", "qbo_requests", "qbo_files", "qbo_realms"):
                db.execute(f"DELETE FROM {table} WHERE realm = ?", (realm,))
            self.ensure_realm(realm)

    # -- OAuth (the rest lives on `self.oauth`) ---------------------------------------------------

    def register_client(self, client_id: str, client_secret: str) -> None:
        self.oauth.register_client(client_id, client_secret)

    def issue_tokens(self, client_id: str, realm: str) -> dict:
        """A token response as the token endpoint gives it, for `qbsync local serve` and tests."""
        self.ensure_realm(realm)
        return self.oauth.issue(client_id, realm)

    # -- reads ----------------------------------------------------------------------------------

    def get(self, realm: str, entity: str, record_id: str | int) -> dict | None:
        with self._lock:
            row = self._db.execute(
                "SELECT body FROM qbo_records WHERE realm = ? AND entity = ? AND id = ?",
                (realm, entity, int(record_id)),
            ).fetchone()
        return json.loads(row[0]) if row else None

    def read(self, realm: str, entity: Entity, record_id: str) -> dict:
        """GET /<entity>/<id> semantics: 2030 for a non-numeric id, 610 for an unknown one."""
        found = self.get(realm, entity.name, _numeric_id(record_id))
        if found is None:
            raise errors.not_found()
        return found

    def query(self, realm: str, text: str) -> QueryResult:
        """Run a query; the rows stay JSON text until someone needs them as objects."""
        parsed = parse(text)
        compiled = compile_query(parsed)
        where = f"FROM qbo_records WHERE realm = ? AND entity = ? AND {compiled.where}"
        params = (realm, parsed.entity.name, *compiled.params)
        with self._lock:
            if parsed.count:
                (total,) = self._db.execute(f"SELECT COUNT(*) {where}", params).fetchone()
                return QueryResult(parsed.entity.name, parsed.start_position, total_count=total)
            rows = self._db.execute(
                f"SELECT body {where} ORDER BY {compiled.order} LIMIT ? OFFSET ?",
                (*params, parsed.max_results, parsed.start_position - 1),
            ).fetchall()
        return QueryResult(parsed.entity.name, parsed.start_position, tuple(body for (body,) in rows))

    def cdc(self, realm: str, entity_names: Iterable[str], changed_since: str) -> list[dict]:
        """The `QueryResponse` list of a CDC call: one element per entity asked, `{}` when none changed.

        Inactive records come as ordinary objects; deleted transactions as `status: Deleted`
        stubs after them. At most 1000 objects in all: entities late in the list may come back
        short, as with the real API.
        """
        entities = [_cdc_entity(name) for name in entity_names]
        since = _parse_changed_since(changed_since)
        if since < self.now() - CDC_LOOKBACK:
            # The 30-day limit is documented; the code and wording of the refusal are our convention.
            raise errors.business_rule("changedSince must be within the last 30 days.", "changedSince")
        budget = CDC_MAX_OBJECTS
        found = []
        with self._lock:
            for entity in entities:
                key = (realm, entity.name, since.timestamp())
                rows = self._db.execute(
                    "SELECT body FROM qbo_records WHERE realm = ? AND entity = ? AND updated_at >= ?"
                    " ORDER BY updated_at, id LIMIT ?", (*key, budget)).fetchall()
                objects = [json.loads(body) for (body,) in rows]
                deleted = self._db.execute(
                    "SELECT id, deleted_time FROM qbo_tombstones WHERE realm = ? AND entity = ? AND deleted_at >= ?"
                    " ORDER BY deleted_at, id LIMIT ?", (*key, budget - len(objects))).fetchall()
                objects += [{"domain": "QBO", "status": "Deleted", "Id": str(record_id),
                             "MetaData": {"LastUpdatedTime": when}} for record_id, when in deleted]
                budget -= len(objects)
                found.append({entity.name: objects, "startPosition": 1, "maxResults": len(objects)} if objects else {})
        return found

    # -- writes ---------------------------------------------------------------------------------

    def insert(self, realm: str, entity: str, obj: dict) -> dict:
        """Create a record as `POST /<entity>` does: assigns Id, SyncToken "0" and MetaData."""
        kind = _entity(entity)
        if kind.kind == "singleton":
            raise errors.unsupported_operation(f"Operation Create is not supported for {kind.name}.")
        body = without_empty(obj)
        check_properties(kind, body)
        self.ensure_realm(realm)
        with self.atomic():
            fields = {key: value for key, value in body.items() if key not in COMMON}
            shaped = self._shaped(realm, kind, fields, None, body)
            stored = self._stamped(shaped, self._allocate_ids(realm, 1), meta_time(self.now()))
            self._insert_row(realm, kind, stored)
            settled_now = self._settle(realm, None, stored) if kind.name == "BillPayment" else []
        self._changed(realm, kind, stored, "Create")
        self._settled_changed(realm, settled_now)
        return stored

    def bulk_insert(self, realm: str, entity: str, objs: Iterable[dict]) -> list[dict]:
        """Insert many records in one transaction (seeds and benchmarks); same rules as `insert`.

        References are not checked here, so that seeds may load lists in any order.
        """
        kind = _entity(entity)
        self.ensure_realm(realm)
        context = self._context(realm)
        now = self.now()
        shaped = []
        for obj in objs:
            body = without_empty(obj)
            check_properties(kind, body)
            shaped.append(shape(kind, {k: v for k, v in body.items() if k not in COMMON}, None, body, context))
        with self.atomic():
            first = self._allocate_ids(realm, len(shaped))
            created = meta_time(now)
            stored = [self._stamped(obj, first + offset, created) for offset, obj in enumerate(shaped)]
            self._insert_rows(realm, kind, stored)
        return stored

    def update(self, realm: str, entity: str, body: dict) -> dict:
        """`POST /<entity>` with Id and SyncToken: a full update, or sparse with `"sparse": true`."""
        kind = _entity(entity)
        check_properties(kind, body)
        record_id = SINGLETON_ID if kind.kind == "singleton" and not body.get("Id") else _numeric_id(body.get("Id"))
        if body.get("SyncToken") in (None, ""):
            raise errors.required_missing("SyncToken")
        with self.atomic():
            before = self._current(realm, kind, record_id, str(body["SyncToken"]))
            requested = {key: value for key, value in body.items() if key not in COMMON}
            if body.get("sparse") is True:
                fields = {key: value for key, value in before.items() if key not in COMMON}
                for key, value in requested.items():
                    if value is None or value == "":
                        fields.pop(key, None)
                    else:
                        fields[key] = without_empty(value)
            else:
                fields = {key: value for key, value in before.items() if key in KEPT_BY_FULL_UPDATE - COMMON}
                fields.update(without_empty(requested))
            shaped = self._shaped(realm, kind, fields, before, requested)
            stored = self._restamped(shaped, before, self.now())
            self._update_row(realm, kind, stored)
            settled_now = self._settle(realm, before, stored) if kind.name == "BillPayment" else []
        self._changed(realm, kind, stored, "Update")
        self._settled_changed(realm, settled_now)
        return stored

    def void(self, realm: str, entity: str, body: dict) -> dict:
        """`POST /<entity>?operation=update&include=void` (batch: `optionsData: "void"`): the
        record stays, its amounts become 0 (payments.py). Only BillPayment voids here."""
        kind = _entity(entity)
        if kind.name != "BillPayment":
            raise errors.unsupported_operation(f"Operation Void is not supported for {kind.name}.")
        record_id = _numeric_id(body.get("Id"))
        if body.get("SyncToken") in (None, ""):
            raise errors.required_missing("SyncToken")
        with self.atomic():
            before = self._current(realm, kind, record_id, str(body["SyncToken"]))
            stored = self._restamped(voided(before), before, self.now())
            self._update_row(realm, kind, stored)
            settled_now = self._settle(realm, before, stored)
        self._changed(realm, kind, stored, "Void")
        self._settled_changed(realm, settled_now)
        return stored

    def delete(self, realm: str, entity: str, body: dict) -> dict:
        """`POST /<entity>?operation=delete`: hard delete, for transactions only (fact sheet §3)."""
        kind = _entity(entity)
        if kind.kind not in ("transaction", "attachment"):
            raise errors.unsupported_operation(f"Operation Delete is not supported for {kind.name}.")
        record_id = _numeric_id(body.get("Id"))
        if body.get("SyncToken") in (None, ""):
            raise errors.required_missing("SyncToken")
        with self.atomic() as db:
            before = self._current(realm, kind, record_id, str(body["SyncToken"]))
            now = self.now()
            db.execute("DELETE FROM qbo_records WHERE realm = ? AND entity = ? AND id = ?", (realm, kind.name, record_id))
            db.execute(
                "INSERT OR REPLACE INTO qbo_tombstones (realm, entity, id, deleted_at, deleted_time) VALUES (?, ?, ?, ?, ?)",
                (realm, kind.name, record_id, now.timestamp(), meta_time(now)),
            )
            settled_now = self._settle(realm, before, None) if kind.name == "BillPayment" else []
        self._changed(realm, kind, {"Id": record_id}, "Delete")
        self._settled_changed(realm, settled_now)
        return {"domain": "QBO", "status": "Deleted", "Id": str(record_id)}

    def attach(self, realm: str, metadata: dict, content: bytes, base_url: str) -> dict:
        """One file of `POST /upload`: an Attachable (its metadata, with Size, ContentType and the
        download addresses filled in) and the file's bytes. Refused like the real service refuses it:
        a type it does not take, a record to link that does not exist (a Fault for this file only)."""
        kind = ENTITIES["Attachable"]
        body = without_empty(metadata)
        check_properties(kind, body)
        name = str(body.get("FileName") or "")
        if not name:
            raise errors.required_missing("FileName")
        refused_type(name)
        self.ensure_realm(realm)
        with self.atomic() as db:
            fields = {key: value for key, value in body.items() if key not in COMMON}
            fields.update(Size=len(content), ContentType=fields.get("ContentType") or guess_content_type(name))
            shaped = self._shaped(realm, kind, fields, None, body)
            record_id = self._allocate_ids(realm, 1)
            shaped["FileAccessUri"] = f"/v3/company/{realm}/download/{record_id}"
            shaped["TempDownloadUri"] = f"{base_url}/_local/{realm}/download/{record_id}"
            stored = self._stamped(shaped, record_id, meta_time(self.now()))
            self._insert_row(realm, kind, stored)
            db.execute("INSERT INTO qbo_files (realm, id, content) VALUES (?, ?, ?)", (realm, record_id, content))
        self._changed(realm, kind, stored, "Create")
        return stored

    def file(self, realm: str, record_id: str | int) -> bytes | None:
        """The bytes of an Attachable's file (None: no such file)."""
        with self._lock:
            row = self._db.execute("SELECT content FROM qbo_files WHERE realm = ? AND id = ?",
                                   (realm, int(record_id))).fetchone()
        return bytes(row[0]) if row else None

    def purge(self, realm: str, entity: str, record_id: str | int) -> dict:
        """A record the API stops returning, whatever its kind: queries skip it, reads answer 610.

        What a merged-away record may become (fact sheet §11, unconfirmed), or one this app's user
        lost access to; the tests' way to make a linked QuickBooks record vanish (W8).
        """
        kind = _entity(entity)
        key = _numeric_id(record_id)
        with self.atomic() as db:
            gone = self.read(realm, kind, str(key))
            now = self.now()
            db.execute("DELETE FROM qbo_records WHERE realm = ? AND entity = ? AND id = ?", (realm, kind.name, key))
            db.execute(
                "INSERT OR REPLACE INTO qbo_tombstones (realm, entity, id, deleted_at, deleted_time) VALUES (?, ?, ?, ?, ?)",
                (realm, kind.name, key, now.timestamp(), meta_time(now)),
            )
        return gone

    def merge(self, realm: str, entity: str, duplicate_id: str | int, survivor_id: str | int) -> tuple[dict, dict]:
        """What the QuickBooks web UI does when a name-list record is renamed onto another one.

        The duplicate becomes inactive named "<survivor name> (deleted)"; transactions (and items)
        that referenced it now reference the survivor; every touched record gets a new SyncToken
        and LastUpdatedTime, so CDC reports them. Returns (duplicate, survivor).
        """
        kind = _entity(entity)
        if not kind.is_name_list:
            raise errors.unsupported_operation(f"Merge is not supported for {kind.name}.")
        with self.atomic():
            duplicate = self.read(realm, kind, str(duplicate_id))
            survivor = self.read(realm, kind, str(survivor_id))
            if duplicate["Id"] == survivor["Id"] or not (duplicate.get("Active") and survivor.get("Active")):
                raise errors.business_rule("Only two different active records can be merged.")
            now = self.now()
            merged_name = deleted_name(survivor[kind.name_field])
            duplicate_fields = dict(duplicate, Active=False, **{kind.name_field: merged_name})
            if kind.has_fully_qualified_name:
                duplicate_fields["FullyQualifiedName"] = merged_name
            duplicate = self._restamped(duplicate_fields, duplicate, now)
            survivor = self._restamped(survivor, survivor, now)
            self._update_row(realm, kind, duplicate)
            self._update_row(realm, kind, survivor)
            new_ref = {"value": survivor["Id"], "name": survivor.get("FullyQualifiedName") or survivor[kind.name_field]}
            for other in ENTITIES.values():
                if kind.name in other.refs.values():
                    self._repoint(realm, other, kind.name, duplicate["Id"], new_ref, now)
        self._changed(realm, kind, duplicate, "Merge")
        return duplicate, survivor

    # -- stored responses for `requestid` -------------------------------------------------------

    def recall(self, realm: str, requestid: str) -> tuple[int, bytes] | None:
        with self._lock:
            row = self._db.execute(
                "SELECT status, body FROM qbo_requests WHERE realm = ? AND requestid = ?", (realm, requestid)
            ).fetchone()
        return (row[0], bytes(row[1])) if row else None

    def remember(self, realm: str, requestid: str, status: int, body: bytes) -> None:
        with self.atomic() as db:
            db.execute(
                "INSERT INTO qbo_requests (realm, requestid, status, body) VALUES (?, ?, ?, ?)",
                (realm, requestid, status, body),
            )

    # -- internals ------------------------------------------------------------------------------

    def _context(self, realm: str) -> WriteContext:
        preferences = self.get(realm, "Preferences", SINGLETON_ID) or {}
        home = preferences.get("CurrencyPrefs", {}).get("HomeCurrency", {}).get("value", "USD")
        return WriteContext(
            home_currency=home,
            today=self.now().date().isoformat(),
            lookup=lambda target, record_id: self.get(realm, target, record_id) if is_numeric_id(record_id) else None,
        )

    def _shaped(self, realm: str, kind: Entity, fields: dict, before: dict | None, requested: dict) -> dict:
        context = self._context(realm)
        shaped = shape(kind, fields, before, requested, context)
        check_references(kind, shaped, context.lookup)
        if kind.name in SETTLED and before is not None:
            # An edited Bill stays paid by what its payments paid (a VendorCredit applied by what they applied).
            paid = settled_on({**shaped, "Id": before["Id"]}, kind.name, context.lookup)
            shaped["Balance"] = round(float(shaped["TotalAmt"]) - paid, 2)
        return shaped

    def _settle(self, realm: str, before: dict | None, after: dict | None) -> list[tuple[str, dict]]:
        """Each Bill a payment paid (`before`) or pays (`after`; None: deleted), and each VendorCredit
        it applied or applies, made to agree with its payments: Balance and LinkedTxn, with a new
        SyncToken. Returns the records changed, each with its entity."""
        payment_id = str((after or before or {}).get("Id"))
        now = self.now()
        changed = []
        for txn_type in SETTLED:
            touched = set(settled_by(before or {}, txn_type)) | set(settled_by(after or {}, txn_type))
            for txn_id in sorted(touched, key=int):
                record = self.get(realm, txn_type, txn_id)
                if record is None:
                    continue
                payments = [payment for linked in record.get("LinkedTxn") or []
                            if linked.get("TxnType") in PAYMENT_LINK_TYPES and str(linked.get("TxnId")) != payment_id
                            for payment in [self.get(realm, "BillPayment", linked["TxnId"])] if payment is not None]
                if after is not None and not is_voided(after) and txn_id in settled_by(after, txn_type):
                    payments.append(after)
                stored = self._restamped(settled(record, txn_type, payments), record, now)
                self._update_row(realm, ENTITIES[txn_type], stored)
                changed.append((txn_type, stored))
        return changed

    def _settled_changed(self, realm: str, records: list[tuple[str, dict]]) -> None:
        for txn_type, record in records:
            self._changed(realm, ENTITIES[txn_type], record, "Update")

    def _current(self, realm: str, kind: Entity, record_id: int, sync_token: str) -> dict:
        before = self.get(realm, kind.name, record_id)
        if before is None:
            raise errors.not_found()
        if before["SyncToken"] != sync_token:
            raise errors.stale_object()
        return before

    def _allocate_ids(self, realm: str, count: int) -> int:
        """Reserve `count` ids; returns the first. Ids are unique across the entities of a realm."""
        with self.atomic() as db:
            (after,) = db.execute(
                "UPDATE qbo_realms SET next_id = next_id + ? WHERE realm = ? RETURNING next_id", (count, realm)
            ).fetchone()
        return after - count

    @staticmethod
    def _stamped(fields: dict, record_id: int, created: str) -> dict:
        fields.update(domain="QBO", sparse=False, Id=str(record_id), SyncToken="0",
                      MetaData={"CreateTime": created, "LastUpdatedTime": created})
        return fields

    @staticmethod
    def _restamped(fields: dict, before: dict, now: datetime) -> dict:
        kept = {key: value for key, value in fields.items() if key not in COMMON}
        return {**kept, "domain": "QBO", "sparse": False, "Id": before["Id"],
                "SyncToken": str(int(before["SyncToken"]) + 1),
                "MetaData": {"CreateTime": before["MetaData"]["CreateTime"], "LastUpdatedTime": meta_time(now)}}

    def _row(self, realm: str, kind: Entity, obj: dict) -> tuple:
        active = bool(obj.get("Active", True))
        name = obj.get(kind.name_field) if kind.name_field else None
        return (
            int(active), name, kind.name_scope if kind.is_name_list else None,
            name_key(name) if kind.is_name_list and active and name else None,
            _epoch(obj["MetaData"]["CreateTime"]),
            _epoch(obj["MetaData"]["LastUpdatedTime"]),
            _encode(obj), realm, kind.name, int(obj["Id"]),
        )

    def _insert_row(self, realm: str, kind: Entity, obj: dict) -> None:
        self._insert_rows(realm, kind, [obj])

    def _insert_rows(self, realm: str, kind: Entity, objs: list[dict]) -> None:
        with self._unique_names(kind):
            self._db.executemany(
                "INSERT INTO qbo_records (active, name, name_scope, name_key, created_at, updated_at, body,"
                " realm, entity, id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (self._row(realm, kind, obj) for obj in objs),
            )

    def _update_row(self, realm: str, kind: Entity, obj: dict) -> None:
        with self._unique_names(kind):
            self._db.execute(
                "UPDATE qbo_records SET active = ?, name = ?, name_scope = ?, name_key = ?, created_at = ?,"
                " updated_at = ?, body = ? WHERE realm = ? AND entity = ? AND id = ?",
                self._row(realm, kind, obj),
            )

    @contextmanager
    def _unique_names(self, kind: Entity) -> Iterator[None]:
        """The unique index is the one place name clashes are detected; it answers 6240."""
        try:
            yield
        except sqlite3.IntegrityError as exc:
            if "name_key" not in str(exc):
                raise
            label = {"Item": "product or service"}.get(kind.name, kind.name.lower())
            raise errors.duplicate_name("customer, vendor or employee" if kind.name in PARTY else label) from None

    def _repoint(self, realm: str, kind: Entity, target: str, old_id: str, new_ref: dict, now: datetime) -> None:
        # The LIKE is only a cheap pre-filter; repoint_references decides on the parsed body.
        rows = self._db.execute(
            "SELECT body FROM qbo_records WHERE realm = ? AND entity = ? AND body LIKE ?",
            (realm, kind.name, f'%"value": "{old_id}"%'),
        ).fetchall()
        for (body,) in rows:
            obj = json.loads(body)
            changed = copy.deepcopy(obj)
            if repoint_references(kind, changed, target, old_id, new_ref):
                self._update_row(realm, kind, self._restamped(changed, obj, now))


@lru_cache(maxsize=4096)
def _epoch(meta_time_text: str) -> float:
    # Cached: a bulk insert stamps thousands of rows with the same time.
    return datetime.fromisoformat(meta_time_text).timestamp()


def _entity(name: str) -> Entity:
    try:
        return ENTITIES[name]
    except KeyError:
        raise errors.unsupported_operation(f"Operation for entity {name} is not supported.") from None


def _cdc_entity(name: str) -> Entity:
    by_lower = {entity.name.lower(): entity for entity in ENTITIES.values()}
    entity = by_lower.get(name.strip().lower())
    if entity is None or entity.name in CDC_UNSUPPORTED:
        raise errors.invalid_enumeration("entities", name)
    return entity


def _numeric_id(value: object) -> int:
    text = str(value) if value is not None else ""
    if not is_numeric_id(text):
        if not text:
            raise errors.required_missing("Id")
        raise errors.invalid_id(text)
    return int(text)


def _parse_changed_since(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise errors.invalid_enumeration("changedSince", text) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)
