"""The state of the local Precoro: records of every kind in sqlite, plus the state API used by seeds and tests.

The state API speaks *stored fields* (see `kinds.py`): references are plain ids, e.g.
`insert("items", {"name": "Desk", "supplier": 5, "itemCustomFields": {3: 17}})`. It bypasses HTTP
validation on purpose (seeds may hold data the API would refuse) but refuses unknown field names,
so a typo in a test fails loudly. Dangling references render as null.
"""

from __future__ import annotations

import base64
import hmac
import json
import mimetypes
import sqlite3
import threading
from contextlib import contextmanager
from decimal import Decimal
from typing import Any, Iterable, Iterator, Mapping

from .dates import Clock, format_timestamp, sortable_utc, utc_now
from . import payments as payment_rules
from .kinds import APPROVED, KINDS, Kind
from .render import Row, compact_json, render

# Chunk size of `IN (...)` lookups, well under sqlite's bound-parameter limit.
_IN_CHUNK = 500
_LINE_FIELDS = frozenset({"id", "item", "name", "quantity", "price", "itemCustomFields", "taxes"})


class UnknownRecord(LookupError):
    """No record of that kind has that id (or idn)."""


class InvalidChange(ValueError):
    """A change the data refuses; `field` names the field to blame (HTTP 422 on that field)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class PrecoroState:
    """All records of one local Precoro company, safe to share between server threads."""

    def __init__(self, path: str = ":memory:", *, clock: Clock = utc_now) -> None:
        self.clock = clock
        self._lock = threading.RLock()
        self._db = sqlite3.connect(path, check_same_thread=False)
        if path != ":memory:":
            # The local QuickBooks may share the file: WAL lets readers and one writer coexist.
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA busy_timeout=5000")
            self._db.execute("PRAGMA synchronous=NORMAL")
        self._create_schema()

    # -- users ---------------------------------------------------------------------------------

    def add_user(self, email: str, token: str) -> None:
        """Register API credentials (the `email` and `X-AUTH-TOKEN` headers)."""
        with self._transaction():
            self._db.execute(
                "INSERT INTO precoro_users(email, token) VALUES (?, ?) ON CONFLICT(email) DO UPDATE SET token = excluded.token",
                (email, token),
            )

    def is_user(self, email: str, token: str) -> bool:
        with self._lock:
            row = self._db.execute("SELECT token FROM precoro_users WHERE email = ?", (email,)).fetchone()
        return row is not None and hmac.compare_digest(row[0].encode(), token.encode())

    # -- records -------------------------------------------------------------------------------

    def insert(self, kind: str, obj: Mapping[str, Any]) -> dict[str, Any]:
        """Create one record (ids, idn and dates assigned) and return it as the API shows it."""
        (key,) = self.bulk_insert(kind, [obj])
        return self.get(kind, key)

    def bulk_insert(self, kind: str, objs: Iterable[Mapping[str, Any]]) -> list[int]:
        """Create many records in one transaction; returns their keys (idn for documents, else id).

        Suppliers may carry `contacts` (a list of contact fields) to create with them.
        """
        spec = KINDS[kind]
        with self._transaction():
            return self._insert(spec, list(objs), format_timestamp(self.clock()))

    def get(self, kind: str, key: int) -> dict[str, Any]:
        """The record as the API shows it; `key` is the idn for documents, else the id."""
        spec = KINDS[kind]
        with self._lock:
            return render(spec, [self._row(spec, key)], self)[0]

    def exists(self, kind: str, key: int) -> bool:
        spec = KINDS[kind]
        with self._lock:
            return self._db.execute(f"SELECT 1 FROM {spec.table} WHERE {spec.key} = ?", (key,)).fetchone() is not None

    def owner_of(self, kind: str, key: int) -> int | None:
        """The id of the record owning this one (a contact's supplier, an option's custom field); None if absent."""
        spec = KINDS[kind]
        with self._lock:
            try:
                return self._row(spec, key)[1][spec.owner]
            except UnknownRecord:
                return None

    def update(self, kind: str, key: int, fields: Mapping[str, Any]) -> dict[str, Any]:
        """Change the given fields, as an edit in the Precoro UI or a file import would: bumps updateDate.

        Custom-field choices (`itemCustomFields`, `documentCustomFields`) merge into the record's
        own: only the custom fields given change, and a None option clears that custom field.
        """
        spec = KINDS[kind]
        with self._transaction():
            now = format_timestamp(self.clock())
            id_, doc = self._row(spec, key)
            self._check_fields(spec, fields)
            doc.update(self._normalised(spec, fields, current=doc))
            self._complete(spec, doc, now, updated=fields.get("updateDate", now))
            self._store(spec, [(id_, doc)], insert=False)
            if spec.name == "contacts":
                self._touch_suppliers({doc["supplier"]}, now)
        return self.get(kind, key)

    def delete(self, kind: str, key: int) -> None:
        """Remove a record. A supplier still used by items or documents is refused (InvalidChange)."""
        spec = KINDS[kind]
        with self._transaction():
            id_, doc = self._row(spec, key)
            if spec.name == "suppliers":
                self._refuse_if_supplier_used(id_)
                self._db.execute("DELETE FROM precoro_contacts WHERE supplier_id = ?", (id_,))
            self._db.execute(f"DELETE FROM {spec.table} WHERE id = ?", (id_,))
            if spec.name == "contacts":
                self._touch_suppliers({doc["supplier"]}, format_timestamp(self.clock()))

    def page(
        self,
        kind: str,
        *,
        equals: Mapping[str, Any] | None = None,
        any_of: Mapping[str, list[Any]] | None = None,
        updated_since: str | None = None,
        is_set: Mapping[str, bool] | None = None,
        ranges: Mapping[str, tuple[str | None, str | None]] | None = None,
        offset: int = 0,
        limit: int = 200,
    ) -> tuple[int, list[dict[str, Any]]]:
        """(total matching, one page of them in id order). Filters name indexed columns of the kind.

        `updated_since` is a UTC "YYYY-MM-DDTHH:MM:SS" (see `dates.parse_modified_since`); `is_set`
        wants a column to hold a value (True) or none (False); `ranges` keeps a text column within
        [low, high) (either end may be None).
        """
        spec = KINDS[kind]
        clauses, params = [], []
        for column, value in (equals or {}).items():
            clauses.append(f"{self._column(spec, column)} = ?")
            params.append(int(value) if isinstance(value, bool) else value)
        for column, values in (any_of or {}).items():
            clauses.append(f"{self._column(spec, column)} IN ({','.join('?' * len(values))})")
            params += values
        if updated_since is not None:
            clauses.append(f"{self._column(spec, 'updated')} >= ?")
            params.append(updated_since)
        for column, wanted in (is_set or {}).items():
            column = self._column(spec, column)
            clauses.append(f"coalesce({column}, '') <> ''" if wanted else f"coalesce({column}, '') = ''")
        for column, (low, high) in (ranges or {}).items():
            column = self._column(spec, column)
            if low is not None:
                clauses.append(f"{column} >= ?")
                params.append(low)
            if high is not None:
                clauses.append(f"{column} < ?")
                params.append(high)
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        with self._lock:
            (total,) = self._db.execute(f"SELECT count(*) FROM {spec.table} {where}", params).fetchone()
            rows = self._db.execute(
                f"SELECT id, doc FROM {spec.table} {where} ORDER BY id LIMIT ? OFFSET ?", [*params, limit, offset]
            ).fetchall()
            return total, render(spec, [(id_, json.loads(doc)) for id_, doc in rows], self)

    def reset(self) -> None:
        """Forget every record and restart ids; registered users stay."""
        with self._transaction():
            for spec in KINDS.values():
                self._db.execute(f"DELETE FROM {spec.table}")
            self._db.execute("DELETE FROM precoro_sequences")

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # -- lookups for rendering (render.Lookup) -------------------------------------------------

    def records(self, kind: str, ids: Iterable[int]) -> dict[int, dict[str, Any]]:
        table = KINDS[kind].table
        found: dict[int, dict[str, Any]] = {}
        ids = list(ids)
        with self._lock:
            for start in range(0, len(ids), _IN_CHUNK):
                chunk = ids[start : start + _IN_CHUNK]
                query = f"SELECT id, doc FROM {table} WHERE id IN ({','.join('?' * len(chunk))})"
                found.update((id_, json.loads(doc)) for id_, doc in self._db.execute(query, chunk))
        return found

    def children(self, kind: str, column: str, owner_ids: list[int]) -> dict[int, list[Row]]:
        spec = KINDS[kind]
        column = self._column(spec, column)
        by_owner: dict[int, list[Row]] = {}
        with self._lock:
            for start in range(0, len(owner_ids), _IN_CHUNK):
                chunk = owner_ids[start : start + _IN_CHUNK]
                query = (
                    f"SELECT {column}, id, doc FROM {spec.table} "
                    f"WHERE {column} IN ({','.join('?' * len(chunk))}) ORDER BY {column}, id"
                )
                for owner, id_, doc in self._db.execute(query, chunk):
                    by_owner.setdefault(owner, []).append((id_, json.loads(doc)))
        return by_owner

    # -- internals -----------------------------------------------------------------------------

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        with self._lock, self._db:
            yield

    def _create_schema(self) -> None:
        with self._transaction():
            self._db.execute("CREATE TABLE IF NOT EXISTS precoro_users (email TEXT PRIMARY KEY, token TEXT NOT NULL)")
            self._db.execute("CREATE TABLE IF NOT EXISTS precoro_sequences (name TEXT PRIMARY KEY, last INTEGER NOT NULL)")
            for spec in KINDS.values():
                columns = "".join(f", {column}" for column in spec.all_columns)
                self._db.execute(f"CREATE TABLE IF NOT EXISTS {spec.table} (id INTEGER PRIMARY KEY{columns}, doc TEXT NOT NULL)")
                self._add_new_columns(spec)
                for column in spec.all_columns:
                    unique = "UNIQUE " if column in ("idn", "unique_code") else ""
                    self._db.execute(
                        f"CREATE {unique}INDEX IF NOT EXISTS {spec.table}_{column} ON {spec.table}({column})"
                        + (f" WHERE {column} IS NOT NULL" if unique else "")
                    )

    def _add_new_columns(self, spec: Kind) -> None:
        """A data file made by an earlier version lacks the columns added since (documents'
        `logic_type` and `approval_date`): add them, filled from the stored documents."""
        have = {row[1] for row in self._db.execute(f"PRAGMA table_info({spec.table})")}
        for column, source in spec.columns.items():
            if column not in have:
                self._db.execute(f"ALTER TABLE {spec.table} ADD COLUMN {column}")
                default = spec.fields.get(source)
                self._db.execute(f"UPDATE {spec.table} SET {column} = coalesce(json_extract(doc, ?), ?)",
                                 (f"$.{source}", default))

    def _insert(self, spec: Kind, objs: list[Mapping[str, Any]], now: str, *, new_suppliers: bool = False) -> list[int]:
        ids = self._take_ids(spec.name, len(objs), spec.first_id)
        idns = self._take_ids(f"{spec.name}.idn", len(objs), 1) if spec.numbered else ids
        rows, contacts = [], []
        for id_, idn, obj in zip(ids, idns, objs):
            obj = dict(obj)
            if spec.name == "suppliers":
                contacts += [{**contact, "supplier": id_} for contact in obj.pop("contacts", [])]
            doc = self._new_doc(spec, obj, now)
            if spec.numbered:
                doc["idn"] = idn
            rows.append((id_, doc))
        if spec.name == "payments":
            self._record_payments(rows, now)
        self._store(spec, rows, insert=True)
        if contacts:
            self._insert(KINDS["contacts"], contacts, now, new_suppliers=True)
        if spec.name == "contacts" and not new_suppliers:
            self._touch_suppliers({doc["supplier"] for _, doc in rows}, now)
        return list(idns)

    def _take_ids(self, sequence: str, count: int, first: int) -> range:
        row = self._db.execute("SELECT last FROM precoro_sequences WHERE name = ?", (sequence,)).fetchone()
        start = row[0] + 1 if row else first
        self._db.execute(
            "INSERT INTO precoro_sequences(name, last) VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET last = excluded.last",
            (sequence, start + count - 1),
        )
        return range(start, start + count)

    def _row(self, spec: Kind, key: int) -> Row:
        row = self._db.execute(f"SELECT id, doc FROM {spec.table} WHERE {spec.key} = ?", (key,)).fetchone()
        if row is None:
            raise UnknownRecord(f"{spec.name} {key} does not exist")
        return row[0], json.loads(row[1])

    @staticmethod
    def _column(spec: Kind, column: str) -> str:
        # Column names are interpolated into SQL: only the kind's own are accepted.
        if column not in spec.all_columns:
            raise ValueError(f"{spec.name} cannot be filtered on {column!r}")
        return column

    @staticmethod
    def _check_fields(spec: Kind, obj: Mapping[str, Any]) -> None:
        if not obj.keys() <= spec.settable:
            unknown = ", ".join(sorted(obj.keys() - spec.settable))
            raise ValueError(f"{spec.name} have no settable field(s) {unknown}")

    def _new_doc(self, spec: Kind, obj: Mapping[str, Any], now: str) -> dict[str, Any]:
        self._check_fields(spec, obj)
        doc = spec.defaults()
        doc.update(self._normalised(spec, obj))
        if spec.dated:
            doc["createDate"] = doc["createDate"] or now
        self._complete(spec, doc, now, updated=obj.get("updateDate", now))
        return doc

    def _normalised(self, spec: Kind, fields: Mapping[str, Any], current: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Fields in stored form: choice maps keyed by text ids (merged into `current`'s), lines completed."""
        out = dict(fields)
        for name in ("itemCustomFields", "documentCustomFields"):
            if name in out:
                merged = dict(current[name]) if current is not None else {}
                merged.update((str(int(cf)), option) for cf, option in out[name].items())
                out[name] = _choice_map(merged)
        if spec.numbered and "items" in out:
            out["items"] = self._lines(out["items"])
        if spec.numbered and "attachments" in out:
            out["attachments"] = self._files(out["attachments"])
        if "currencies" in out:
            out["currencies"] = list(out["currencies"])
        for name in ("price", "percent"):
            if name in out:
                out[name] = float(Decimal(str(out[name])))
        return out

    def _lines(self, lines: list[Mapping[str, Any]]) -> list[dict[str, Any]]:
        unknown = sorted({name for line in lines for name in line} - _LINE_FIELDS)
        if unknown:
            raise ValueError(f"document lines have no field(s) {', '.join(unknown)}")
        items = self.records("items", {line["item"] for line in lines if line.get("item")})
        new_ids = iter(self._take_ids("lines", sum(1 for line in lines if not line.get("id")), 1))
        out = []
        for line in lines:
            quantity = Decimal(str(line.get("quantity", 1)))
            price = Decimal(str(line.get("price", 0)))
            item = line.get("item")
            out.append(
                {
                    "id": line.get("id") or next(new_ids),
                    "item": item,
                    "name": line.get("name") or (items[item]["name"] if item in items else None),
                    "quantity": float(quantity),
                    "price": float(price),
                    "sum": float((quantity * price).quantize(Decimal("0.01"))),
                    "itemCustomFields": _choice_map(line.get("itemCustomFields", {})),
                    "taxes": [int(tax) for tax in line.get("taxes") or []],
                }
            )
        return out

    def _files(self, files: list[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """A document's attachments as stored: ids given (unique across documents), content as base64."""
        unknown = sorted({name for file in files for name in file} - {"id", "name", "contentType", "content"})
        if unknown:
            raise ValueError(f"attachments have no field(s) {', '.join(unknown)}")
        new_ids = iter(self._take_ids("attachments", sum(1 for file in files if not file.get("id")), 1))
        out = []
        for file in files:
            content = file.get("content") or b""
            if isinstance(content, str):
                content = content.encode()
            out.append({"id": file.get("id") or next(new_ids), "name": file["name"],
                        "contentType": file.get("contentType") or mimetypes.guess_type(file["name"])[0]
                        or "application/octet-stream", "size": len(content),
                        "content": base64.b64encode(bytes(content)).decode("ascii")})
        return out

    def attachment(self, attachment_id: int) -> dict[str, Any] | None:
        """One document attachment with its content (bytes), wherever it is attached; None if none."""
        with self._lock:
            for kind in ("invoices", "purchaseorders"):
                row = self._db.execute(
                    f"SELECT value FROM {KINDS[kind].table}, json_each({KINDS[kind].table}.doc, '$.attachments')"
                    " WHERE json_extract(value, '$.id') = ? LIMIT 1", (attachment_id,)).fetchone()
                if row:
                    found = json.loads(row[0])
                    return {**found, "content": base64.b64decode(found["content"])}
        return None

    @staticmethod
    def _complete(spec: Kind, doc: dict[str, Any], now: str, *, updated: str) -> None:
        """Derived fields: updateDate, approvalDate on approval, document totals."""
        if spec.dated:
            sortable_utc(updated)  # refuses a malformed explicit date early
            doc["updateDate"] = updated
        if doc.get("status") == APPROVED and "approvalDate" in doc and doc["approvalDate"] is None:
            doc["approvalDate"] = now
        if spec.numbered and "items" in doc:  # documents (payments are numbered too, without lines)
            total = sum(Decimal(str(line["sum"])) for line in doc["items"])
            # No taxes are modelled, so the net sum is the sum (our convention).
            doc["sum"] = doc["netSum"] = float(total)

    def _store(self, spec: Kind, rows: list[Row], *, insert: bool) -> None:
        columns = spec.all_columns
        values = [(*spec.column_values(doc), compact_json(doc), id_) for id_, doc in rows]
        if insert:
            sql = f"INSERT INTO {spec.table} ({', '.join(columns + ('doc', 'id'))}) VALUES ({', '.join('?' * (len(columns) + 2))})"
        else:
            sql = f"UPDATE {spec.table} SET {''.join(f'{column} = ?, ' for column in columns)}doc = ? WHERE id = ?"
        try:
            self._db.executemany(sql, values)
        except sqlite3.IntegrityError as error:
            if "unique_code" in str(error):
                raise InvalidChange("uniqueCode", "This value is already used.") from None
            raise

    def _record_payments(self, payments: list[Row], now: str) -> None:
        """Payments about to be stored: each checked against its invoice (InvalidChange), and the
        invoice moved to partly paid or paid (payments.py)."""
        invoices = KINDS["invoices"]
        ids = sorted({doc["invoice"] for _, doc in payments})
        stored = self.records("invoices", ids)
        before = self.children("payments", "invoice_id", ids)
        changed = []
        for invoice_id in ids:
            if invoice_id not in stored:
                raise InvalidChange("invoice", "This value is not valid.")
            invoice = stored[invoice_id]
            recorded = [doc for _, doc in before.get(invoice_id, [])]
            for _, doc in payments:
                if doc["invoice"] != invoice_id:
                    continue
                refused = payment_rules.refusal(invoice, payment_rules.paid_sum(recorded), doc["sumPaid"])
                if refused:
                    raise InvalidChange(*refused)
                recorded.append(doc)
            after = payment_rules.invoice_after(invoice, recorded)
            after["updateDate"] = now
            changed.append((invoice_id, after))
        self._store(invoices, changed, insert=False)

    def _touch_suppliers(self, supplier_ids: set[int], now: str) -> None:
        """A contact change is a change of its supplier: it must show up in `modifiedSince` reads."""
        suppliers = KINDS["suppliers"]
        touched = []
        for id_, doc in self.records("suppliers", supplier_ids).items():
            doc["updateDate"] = now
            touched.append((id_, doc))
        self._store(suppliers, touched, insert=False)

    def _refuse_if_supplier_used(self, supplier_id: int) -> None:
        for kind in ("items", "invoices", "purchaseorders"):
            used = self._db.execute(f"SELECT 1 FROM {KINDS[kind].table} WHERE supplier_id = ? LIMIT 1", (supplier_id,))
            if used.fetchone():
                raise InvalidChange("supplier", f"The supplier is used by {kind} and cannot be deleted; disable it instead.")


def _choice_map(chosen: Mapping[Any, Any]) -> dict[str, int]:
    """`{custom field id: option id}` with text keys, as JSON stores them; None options dropped."""
    return {str(int(cf)): int(option) for cf, option in chosen.items() if option is not None}
