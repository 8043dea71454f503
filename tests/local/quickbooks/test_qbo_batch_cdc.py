"""Batch (30 items, per-item faults, requestid) and change data capture (30 days, 1000 objects)."""

from __future__ import annotations

from datetime import timedelta

import pytest


def test_batch_mixes_creates_faults_and_queries_like_the_real_response(api, create, fault):
    stale = create("Vendor", {"DisplayName": "Stale Vendor"})
    api.post("/vendor", json={"Id": stale["Id"], "SyncToken": "0", "sparse": True, "AcctNum": "1"})
    items = [
        {"bId": "bid1", "operation": "create", "Vendor": {"DisplayName": "Boraski Family Store"}},
        {"bId": "bid2", "operation": "delete", "Bill": {"Id": "129", "SyncToken": "0"}},
        {"bId": "bid3", "operation": "update", "Vendor": {"Id": stale["Id"], "SyncToken": "0", "sparse": True, "AcctNum": "2"}},
        {"bId": "bid4", "Query": "select * from Vendor where DisplayName = 'Stale Vendor'"},
    ]

    response = api.post("/batch", json={"BatchItemRequest": items})

    assert response.status_code == 200
    answers = response.json()["BatchItemResponse"]
    assert [a["bId"] for a in answers] == ["bid1", "bid2", "bid3", "bid4"]
    assert answers[0]["Vendor"]["DisplayName"] == "Boraski Family Store" and answers[0]["Vendor"]["SyncToken"] == "0"
    assert answers[1]["Fault"]["Error"][0]["code"] == "610" and answers[1]["Fault"]["type"] == "ValidationFault"
    assert answers[2]["Fault"]["Error"][0]["code"] == "5010"
    assert answers[3]["QueryResponse"]["Vendor"][0]["AcctNum"] == "1"
    assert set(response.json()) == {"BatchItemResponse", "time"}


def test_s9_a_faulted_batch_item_never_fails_the_others(api, query):
    items = [{"bId": str(n), "operation": "create", "Vendor": {"DisplayName": "Same" if n % 2 else f"V{n}"}}
             for n in range(6)]

    answers = api.post("/batch", json={"BatchItemRequest": items}).json()["BatchItemResponse"]

    assert ["Fault" in a for a in answers] == [False, False, False, True, False, True]
    assert query("SELECT COUNT(*) FROM Vendor")["totalCount"] == 4


def test_batch_item_delete_and_unknown_operation(api, create):
    vendor = create("Vendor", {"DisplayName": "V"})
    item = create("Item", {"Name": "I"})
    bill = api.post("/bill", json={"VendorRef": {"value": vendor["Id"]}, "Line": [
        {"DetailType": "ItemBasedExpenseLineDetail", "Amount": 5,
         "ItemBasedExpenseLineDetail": {"ItemRef": {"value": item["Id"]}}}]}).json()["Bill"]
    items = [{"bId": "a", "operation": "delete", "Bill": {"Id": bill["Id"], "SyncToken": "0"}},
             {"bId": "b", "operation": "merge", "Vendor": {"DisplayName": "X"}},
             {"bId": "c", "operation": "delete", "Vendor": {"Id": vendor["Id"], "SyncToken": "0"}}]

    answers = api.post("/batch", json={"BatchItemRequest": items}).json()["BatchItemResponse"]

    assert answers[0]["Bill"] == {"domain": "QBO", "status": "Deleted", "Id": bill["Id"]}
    assert answers[1]["Fault"]["Error"][0]["code"] == "2170"
    assert answers[2]["Fault"]["Error"][0]["code"] == "500"


def test_batch_of_more_than_30_items_is_refused_whole(api, fault, query):
    items = [{"bId": str(n), "operation": "create", "Vendor": {"DisplayName": f"V{n}"}} for n in range(31)]

    response = api.post("/batch", json={"BatchItemRequest": items})

    assert response.status_code == 400 and fault(response)["code"] == "1040"
    assert query("SELECT COUNT(*) FROM Vendor")["totalCount"] == 0


def test_batch_of_exactly_30_items_is_accepted(api):
    items = [{"bId": str(n), "operation": "create", "Vendor": {"DisplayName": f"V{n}"}} for n in range(30)]

    answers = api.post("/batch", json={"BatchItemRequest": items}).json()["BatchItemResponse"]

    assert len(answers) == 30 and all("Vendor" in a for a in answers)


def test_w3_requestid_on_a_batch_replays_the_whole_response(api, query, clock):
    items = [{"bId": str(n), "operation": "create", "Vendor": {"DisplayName": f"V{n}"}} for n in range(3)]

    first = api.post("/batch", params={"requestid": "batch-1"}, json={"BatchItemRequest": items})
    clock.advance(seconds=5)
    again = api.post("/batch", params={"requestid": "batch-1"}, json={"BatchItemRequest": items})

    assert again.content == first.content
    assert query("SELECT COUNT(*) FROM Vendor")["totalCount"] == 3


@pytest.fixture
def since(clock) -> str:
    return clock.now.isoformat()


def test_cdc_returns_changed_objects_grouped_by_entity_including_inactive(api, create, clock, since):
    early = create("Vendor", {"DisplayName": "Before"})
    clock.advance(minutes=1)
    cutoff = clock.now.isoformat()
    changed = create("Vendor", {"DisplayName": "After"})
    clock.advance(seconds=10)
    api.post("/vendor", json={"Id": early["Id"], "SyncToken": "0", "sparse": True, "Active": False})
    item = create("Item", {"Name": "Pump"})

    response = api.get("/cdc", params={"entities": "Vendor,Item,Customer", "changedSince": cutoff})

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"CDCResponse", "time"}
    groups = body["CDCResponse"][0]["QueryResponse"]
    vendors, items, customers = groups
    assert [v["DisplayName"] for v in vendors["Vendor"]] == ["After", "Before (deleted)"]
    assert vendors["startPosition"] == 1 and vendors["maxResults"] == 2
    assert items["Item"][0]["Id"] == item["Id"] and customers == {}
    assert changed["Id"] in {v["Id"] for v in vendors["Vendor"]}


def test_cdc_reports_deleted_transactions_as_stubs_after_the_others(api, create, since):
    vendor = create("Vendor", {"DisplayName": "V"})
    item = create("Item", {"Name": "I"})
    line = {"DetailType": "ItemBasedExpenseLineDetail", "Amount": 5,
            "ItemBasedExpenseLineDetail": {"ItemRef": {"value": item["Id"]}}}
    kept = api.post("/bill", json={"VendorRef": {"value": vendor["Id"]}, "Line": [line]}).json()["Bill"]
    gone = api.post("/bill", json={"VendorRef": {"value": vendor["Id"]}, "Line": [line]}).json()["Bill"]
    api.post("/bill", params={"operation": "delete"}, json={"Id": gone["Id"], "SyncToken": "0"})

    bills = api.get("/cdc", params={"entities": "bill", "changedSince": since}).json()["CDCResponse"][0]["QueryResponse"][0]

    assert [b["Id"] for b in bills["Bill"]] == [kept["Id"], gone["Id"]]
    assert bills["Bill"][1] == {"domain": "QBO", "status": "Deleted", "Id": gone["Id"],
                                "MetaData": {"LastUpdatedTime": "2026-01-15T09:30:00-08:00"}}


def test_cdc_looks_back_at_most_30_days(api, clock, fault):
    too_old = (clock.now - timedelta(days=30, seconds=1)).isoformat()
    fine = clock.now.date().replace(day=1).isoformat()

    refused = api.get("/cdc", params={"entities": "Vendor", "changedSince": too_old})
    accepted = api.get("/cdc", params={"entities": "Vendor", "changedSince": fine})

    assert refused.status_code == 400 and fault(refused)["element"] == "changedSince"
    assert accepted.status_code == 200


def test_cdc_returns_at_most_1000_objects_in_all(api, state, realm, since):
    state.bulk_insert(realm, "Vendor", [{"DisplayName": f"V{n}"} for n in range(700)])
    state.bulk_insert(realm, "Item", [{"Name": f"I{n}"} for n in range(700)])

    groups = api.get("/cdc", params={"entities": "Vendor,Item", "changedSince": since}).json()["CDCResponse"][0]["QueryResponse"]

    assert [g["maxResults"] for g in groups] == [700, 300]


def test_cdc_refuses_entities_it_does_not_cover_and_needs_both_parameters(api, since, fault):
    tax = api.get("/cdc", params={"entities": "TaxCode", "changedSince": since})
    missing = api.get("/cdc", params={"entities": "Vendor"})

    assert tax.status_code == 400 and fault(tax)["element"] == "entities"
    assert fault(missing)["code"] == "2020" and fault(missing)["element"] == "changedSince"
