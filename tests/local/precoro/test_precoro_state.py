"""The state API that seeds and tests use, and the sqlite file behind it."""

from __future__ import annotations

import json
import sqlite3
from concurrent.futures import ThreadPoolExecutor

import pytest

from engine.local.precoro import PrecoroState, UnknownRecord
from engine.local.precoro.kinds import KINDS


def test_unknown_and_computed_fields_are_refused(state):
    with pytest.raises(ValueError, match="nmae"):
        state.insert("suppliers", {"nmae": "typo"})
    with pytest.raises(ValueError, match="sum"):
        state.insert("invoices", {"sum": 10})
    with pytest.raises(ValueError, match="qty"):
        state.insert("invoices", {"items": [{"qty": 1}]})


def test_bulk_insert_returns_keys_ids_for_master_data_and_idns_for_documents(state):
    assert state.bulk_insert("suppliers", [{"name": "A"}, {"name": "B"}]) == [1, 2]
    assert state.bulk_insert("invoices", [{}, {}]) == [1, 2]
    assert [state.get("invoices", idn)["id"] for idn in (1, 2)] == [10001, 10002]


def test_ids_are_never_reused_after_a_delete(state):
    first = state.insert("items", {"name": "Desk"})
    state.delete("items", first["id"])

    assert state.insert("items", {"name": "Chair"})["id"] == first["id"] + 1


def test_get_update_and_delete_of_a_missing_record_raise_unknown_record(state):
    with pytest.raises(UnknownRecord):
        state.get("suppliers", 1)
    with pytest.raises(UnknownRecord):
        state.update("suppliers", 1, {"name": "x"})
    with pytest.raises(UnknownRecord):
        state.delete("items", 1)


def test_s1_update_keeps_other_fields_and_bumps_update_date_only(state, clock):
    supplier = state.insert("suppliers", {"name": "Acme", "city": "Lyon"})
    clock.advance(90)

    updated = state.update("suppliers", supplier["id"], {"phone": "555"})

    assert {**supplier, "phone": "555", "updateDate": "2026-11-26T09:01:30+00:00"} == updated


def test_seeds_may_set_their_own_dates(state):
    supplier = state.insert("suppliers", {"name": "Old", "createDate": "2025-01-01T08:00:00+01:00", "updateDate": "2025-02-01T08:00:00+01:00"})

    assert (supplier["createDate"], supplier["updateDate"]) == ("2025-01-01T08:00:00+01:00", "2025-02-01T08:00:00+01:00")
    assert state.page("suppliers", updated_since="2025-02-01T07:00:00")[0] == 1
    assert state.page("suppliers", updated_since="2025-02-01T07:00:01")[0] == 0


def test_a_file_keeps_records_and_id_sequences_across_restarts(tmp_path, clock):
    path = str(tmp_path / "local.sqlite")
    first = PrecoroState(path, clock=clock.datetime)
    first.insert("suppliers", {"name": "Acme", "contacts": [{"email": "a@acme.test"}]})
    first.add_user("buyer@example.com", "token")
    first.close()

    again = PrecoroState(path, clock=clock.datetime)

    assert again.get("suppliers", 1)["contacts"]["data"][0]["email"] == "a@acme.test"
    assert again.is_user("buyer@example.com", "token")
    assert again.insert("suppliers", {"name": "Next"})["id"] == 2
    again.close()


def test_concurrent_writes_over_http_all_land_with_distinct_ids(make_client, served, state):
    clients = [make_client(served.url) for _ in range(8)]

    def create_many(worker: int) -> list[int]:
        return [clients[worker].create("/suppliers", {"name": f"S{worker}-{n}"})["id"] for n in range(25)]

    with ThreadPoolExecutor(max_workers=8) as pool:
        ids = [id_ for batch in pool.map(create_many, range(8)) for id_ in batch]

    assert sorted(ids) == list(range(1, 201))
    assert state.page("suppliers")[0] == 200


def test_a_data_file_from_before_the_document_filters_gets_their_columns(tmp_path):
    """`qbsync local serve --data` and the embedded APIs keep their data: an older file lacks the
    columns the logicType and approval-date filters read, and gets them, filled from its documents."""
    path = tmp_path / "older.db"
    doc = {k: v for k, v in KINDS["invoices"].defaults().items() if k not in ("logicType", "parentData")}
    doc.update(idn=1, status=2, approvalDate="2026-11-26T09:00:00+00:00", updateDate="2026-11-26T09:00:00+00:00")
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE precoro_invoices (id INTEGER PRIMARY KEY, updated, external_id, idn, status, "
                   "supplier_id, doc TEXT NOT NULL)")
        db.execute("INSERT INTO precoro_invoices VALUES (10001, '2026-11-26T09:00:00', NULL, 1, 2, NULL, ?)",
                   (json.dumps(doc),))
    state = PrecoroState(str(path))
    try:
        total, [invoice] = state.page("invoices", any_of={"logic_type": [0]},
                                      ranges={"approval_date": ("2026-11-26", None)})
    finally:
        state.close()
    assert total == 1 and invoice["idn"] == 1 and invoice["parentData"] is None
