"""The /_local admin surface: merges done in the QuickBooks web UI, and resetting a company."""

from __future__ import annotations

import httpx
import pytest

from engine.local.quickbooks import QuickBooksApp


@pytest.fixture
def admin(server, realm):
    with httpx.Client(base_url=f"{server.url}/_local/{realm}", timeout=10) as client:
        yield client


@pytest.fixture
def bill_on(api):
    def create_bill(vendor: dict, item: dict) -> dict:
        response = api.post("/bill", json={"VendorRef": {"value": vendor["Id"]}, "Line": [
            {"DetailType": "ItemBasedExpenseLineDetail", "Amount": 12.5,
             "ItemBasedExpenseLineDetail": {"ItemRef": {"value": item["Id"]}}}]})
        assert response.status_code == 200, response.text
        return response.json()["Bill"]

    return create_bill


def test_i10_merging_items_renames_the_duplicate_and_moves_its_lines(admin, api, create, bill_on, clock):
    vendor = create("Vendor", {"DisplayName": "Norton"})
    duplicate = create("Item", {"Name": "Landscape"})
    survivor = create("Item", {"Name": "Landscaping"})
    bill = bill_on(vendor, duplicate)
    order = api.post("/purchaseorder", json={"VendorRef": {"value": vendor["Id"]}, "Line": [
        {"DetailType": "ItemBasedExpenseLineDetail", "Amount": 1,
         "ItemBasedExpenseLineDetail": {"ItemRef": {"value": duplicate["Id"]}}}]}).json()["PurchaseOrder"]
    clock.advance(minutes=1)

    response = admin.post("/merge/item", json={"duplicate": duplicate["Id"], "survivor": survivor["Id"]})

    assert response.status_code == 200
    merged = api.get(f"/item/{duplicate['Id']}").json()["Item"]
    kept = api.get(f"/item/{survivor['Id']}").json()["Item"]
    assert merged["Active"] is False and merged["Name"] == merged["FullyQualifiedName"] == "Landscaping (deleted)"
    assert merged["SyncToken"] == "1" and kept["SyncToken"] == "1" and kept["Name"] == "Landscaping"
    moved_bill = api.get(f"/bill/{bill['Id']}").json()["Bill"]
    moved_order = api.get(f"/purchaseorder/{order['Id']}").json()["PurchaseOrder"]
    for document in (moved_bill, moved_order):
        assert document["Line"][0]["ItemBasedExpenseLineDetail"]["ItemRef"] == {"value": survivor["Id"], "name": "Landscaping"}
        assert document["SyncToken"] == "1"
    changed = api.get("/cdc", params={"entities": "Item,Bill", "changedSince": clock.now.isoformat()}).json()
    groups = changed["CDCResponse"][0]["QueryResponse"]
    assert {i["Id"] for i in groups[0]["Item"]} == {duplicate["Id"], survivor["Id"]}
    assert [b["Id"] for b in groups[1]["Bill"]] == [bill["Id"]]


def test_i10_merging_vendors_moves_their_bills(admin, api, create, bill_on):
    duplicate = create("Vendor", {"DisplayName": "Acme Inc"})
    survivor = create("Vendor", {"DisplayName": "Acme"})
    bill = bill_on(duplicate, create("Item", {"Name": "Pump"}))

    admin.post("/merge/vendor", json={"duplicate": duplicate["Id"], "survivor": survivor["Id"]})

    assert api.get(f"/bill/{bill['Id']}").json()["Bill"]["VendorRef"] == {"value": survivor["Id"], "name": "Acme"}
    assert api.get(f"/vendor/{duplicate['Id']}").json()["Vendor"]["DisplayName"] == "Acme (deleted)"
    assert api.get(f"/vendor/{duplicate['Id']}").json()["Vendor"]["PrintOnCheckName"] == "Acme Inc"


def test_merge_refuses_unknown_or_inactive_records(admin, create, fault):
    item = create("Item", {"Name": "Only"})

    unknown = admin.post("/merge/item", json={"duplicate": item["Id"], "survivor": "9999"})
    itself = admin.post("/merge/item", json={"duplicate": item["Id"], "survivor": item["Id"]})

    assert fault(unknown)["code"] == "610" and fault(itself)["code"] == "6000"


def test_reset_empties_the_company_and_seeds_it_again(admin, api, create, query):
    create("Vendor", {"DisplayName": "Temporary"})

    assert admin.post("/reset").status_code == 200

    assert query("SELECT COUNT(*) FROM Vendor")["totalCount"] == 0
    assert api.get("/preferences").json()["Preferences"]["CurrencyPrefs"]["HomeCurrency"]["value"] == "USD"


def test_admin_paths_are_for_loopback_callers_only(state, realm):
    transport = httpx.WSGITransport(app=QuickBooksApp(state), remote_addr="192.0.2.10")
    with httpx.Client(transport=transport, base_url="http://qbo.test") as outsider:
        response = outsider.post(f"/_local/{realm}/reset")

    assert response.status_code == 403


def test_state_api_merge_and_get_bypass_http(state, realm):
    duplicate, survivor = state.bulk_insert(realm, "Item", [{"Name": "Dup"}, {"Name": "Keep"}])

    merged, kept = state.merge(realm, "Item", duplicate["Id"], survivor["Id"])

    assert state.get(realm, "Item", duplicate["Id"]) == merged and merged["Name"] == "Keep (deleted)"
    assert kept["SyncToken"] == "1"
