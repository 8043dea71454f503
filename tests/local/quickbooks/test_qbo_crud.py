"""Create, read, full and sparse update, SyncToken checks, requestid replay, transactions."""

from __future__ import annotations

import pytest


def test_create_answers_the_entity_with_id_synctoken_0_and_metadata(api, clock):
    response = api.post("/vendor", params={"minorversion": 75}, json={"DisplayName": "Boraski Family Store"})

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json;charset=utf-8"
    assert response.headers["intuit_tid"].startswith("1-")
    body = response.json()
    assert set(body) == {"Vendor", "time"}
    vendor = body["Vendor"]
    assert vendor["Id"].isdigit() and vendor["SyncToken"] == "0"
    assert vendor["domain"] == "QBO" and vendor["sparse"] is False
    assert vendor["MetaData"] == {"CreateTime": "2026-01-15T09:30:00-08:00", "LastUpdatedTime": "2026-01-15T09:30:00-08:00"}
    assert body["time"] == "2026-01-15T09:30:00.000-08:00"
    assert vendor["PrintOnCheckName"] == "Boraski Family Store"
    assert vendor["Active"] is True and vendor["Balance"] == 0 and vendor["Vendor1099"] is False


def test_s7_vendor_currency_defaults_to_the_home_currency_of_preferences(api, create):
    preferences = api.get("/preferences").json()["Preferences"]
    assert preferences["CurrencyPrefs"] == {"MultiCurrencyEnabled": True, "HomeCurrency": {"value": "USD"}}

    vendor = create("Vendor", {"DisplayName": "Acme"})
    euro = create("Vendor", {"DisplayName": "Acme GmbH (EUR)", "CurrencyRef": {"value": "EUR"}})

    assert vendor["CurrencyRef"] == {"value": "USD", "name": "United States Dollar"}
    assert euro["CurrencyRef"] == {"value": "EUR", "name": "Euro"}


def test_s7_vendor_currency_cannot_change_after_create(api, create, fault):
    vendor = create("Vendor", {"DisplayName": "Acme", "CurrencyRef": {"value": "EUR"}})

    changed = api.post("/vendor", json={"Id": vendor["Id"], "SyncToken": "0", "sparse": True, "CurrencyRef": {"value": "USD"}})
    same = api.post("/vendor", json={"Id": vendor["Id"], "SyncToken": "0", "sparse": True,
                                     "CurrencyRef": {"value": "EUR"}, "AcctNum": "7"})

    assert changed.status_code == 400 and fault(changed)["element"] == "CurrencyRef"
    assert changed.json()["Fault"]["type"] == "ValidationFault"
    assert same.status_code == 200 and same.json()["Vendor"]["CurrencyRef"]["value"] == "EUR"


def test_read_by_id_and_the_read_errors(api, create, fault):
    vendor = create("Vendor", {"DisplayName": "Books by Bessie"})

    assert api.get(f"/vendor/{vendor['Id']}").json()["Vendor"] == vendor
    missing = api.get("/vendor/99999")
    assert missing.status_code == 400 and fault(missing)["code"] == "610"
    assert fault(missing)["Message"] == "Object Not Found"
    not_a_number = api.get("/vendor/1.5")
    assert not_a_number.status_code == 400
    assert fault(not_a_number) == {"Message": "Invalid ID", "Detail": "Id should be a valid number. Supplied value:1.5",
                                   "code": "2030", "element": "Id"}


def test_unknown_path_is_an_unsupported_operation(api, fault):
    response = api.get("/vendor/1/5")

    assert response.status_code == 400
    assert fault(response)["code"] == "500" and fault(response)["Message"] == "Unsupported Operation"
    assert "/vendor/1/5" in fault(response)["Detail"]


def test_unknown_property_is_2010_and_missing_names_are_2020(api, fault):
    unknown = api.post("/vendor", json={"DisplayName": "X", "BadJson": True})
    nameless_vendor = api.post("/vendor", json={"CompanyName": "No display name"})
    nameless_item = api.post("/item", json={"Sku": "A-1"})
    not_json = api.post("/vendor", content=b"{not json", headers={"Content-Type": "application/json"})

    assert unknown.status_code == 400 and fault(unknown)["code"] == "2010" and "BadJson" in fault(unknown)["Detail"]
    assert fault(nameless_vendor)["code"] == "2020" and fault(nameless_vendor)["element"] == "DisplayName"
    assert fault(nameless_item) == {
        "Message": "Required param missing, need to supply the required value for the API",
        "Detail": "Required parameter Name is missing in the request", "code": "2020", "element": "Name"}
    assert fault(not_json)["code"] == "2010"


def test_display_name_is_built_from_name_parts_when_missing(create):
    vendor = create("Vendor", {"GivenName": "Tony", "FamilyName": "Rondonuwu"})

    assert vendor["DisplayName"] == "Tony Rondonuwu" and vendor["PrintOnCheckName"] == "Tony Rondonuwu"


def test_sparse_update_changes_only_the_given_fields_and_bumps_synctoken(api, create, clock):
    vendor = create("Vendor", {"DisplayName": "Acme", "AcctNum": "1345", "PrimaryPhone": {"FreeFormNumber": "555"}})
    clock.advance(minutes=5)

    response = api.post("/vendor", json={"Id": vendor["Id"], "SyncToken": "0", "sparse": True, "AcctNum": "9"})

    updated = response.json()["Vendor"]
    assert updated["AcctNum"] == "9" and updated["PrimaryPhone"] == {"FreeFormNumber": "555"}
    assert updated["SyncToken"] == "1"
    assert updated["MetaData"] == {"CreateTime": "2026-01-15T09:30:00-08:00", "LastUpdatedTime": "2026-01-15T09:35:00-08:00"}


def test_full_update_clears_omitted_writable_fields_and_keeps_read_only_ones(api, create):
    vendor = create("Vendor", {"DisplayName": "Acme", "AcctNum": "1345", "CurrencyRef": {"value": "CAD"},
                               "PrimaryPhone": {"FreeFormNumber": "555"}})

    response = api.post("/vendor", json={"Id": vendor["Id"], "SyncToken": "0", "DisplayName": "Acme Ltd"})

    updated = response.json()["Vendor"]
    assert "AcctNum" not in updated and "PrimaryPhone" not in updated
    assert updated["DisplayName"] == "Acme Ltd" and updated["PrintOnCheckName"] == "Acme Ltd"
    assert updated["CurrencyRef"]["value"] == "CAD" and updated["Balance"] == 0 and updated["Active"] is True


def test_w2_an_older_synctoken_is_a_5010_stale_object_error(api, create, fault):
    vendor = create("Vendor", {"DisplayName": "Acme"})
    assert api.post("/vendor", json={"Id": vendor["Id"], "SyncToken": "0", "sparse": True, "AcctNum": "1"}).status_code == 200

    stale = api.post("/vendor", json={"Id": vendor["Id"], "SyncToken": "0", "sparse": True, "AcctNum": "2"})

    assert stale.status_code == 400
    error = fault(stale)
    assert error["code"] == "5010" and error["Message"] == "Stale Object Error" and error["element"] == ""
    assert error["Detail"].startswith("Stale Object Error : You and ")
    assert error["Detail"].endswith("finished before you did, so your work was not saved.")
    assert api.get(f"/vendor/{vendor['Id']}").json()["Vendor"]["AcctNum"] == "1"


def test_update_needs_a_synctoken_and_a_known_id(api, create, fault):
    vendor = create("Vendor", {"DisplayName": "Acme"})

    without_token = api.post("/vendor", json={"Id": vendor["Id"], "sparse": True, "AcctNum": "1"})
    unknown = api.post("/vendor", json={"Id": "424242", "SyncToken": "0", "sparse": True})

    assert fault(without_token)["code"] == "2020" and fault(without_token)["element"] == "SyncToken"
    assert fault(unknown)["code"] == "610"


def test_python_quickbooks_style_empty_strings_and_int_synctoken_are_accepted(api):
    body = {"DisplayName": "Empty Strings Ltd", "Title": "", "GivenName": "", "SyncToken": 0, "sparse": False,
            "domain": "QBO", "BillAddr": {"City": "", "Line1": "", "PostalCode": ""}, "TaxIdentifier": ""}

    vendor = api.post("/vendor", json=body).json()["Vendor"]

    assert "Title" not in vendor and "BillAddr" not in vendor and vendor["SyncToken"] == "0"


def test_w3_requestid_replays_the_first_response_byte_for_byte(api, clock, query):
    first = api.post("/vendor", params={"requestid": "c0ffee-1"}, json={"DisplayName": "Once Only"})
    clock.advance(seconds=30)
    again = api.post("/vendor", params={"requestid": "c0ffee-1"}, json={"DisplayName": "Once Only"})

    assert first.status_code == again.status_code == 200
    assert again.content == first.content
    assert query("SELECT COUNT(*) FROM Vendor")["totalCount"] == 1


def test_w3_requestid_is_per_realm_and_replays_faults_too(api, issue, create, fault, server):
    create("Vendor", {"DisplayName": "Taken"})
    clash = api.post("/vendor", params={"requestid": "r-1"}, json={"DisplayName": "Taken"})
    repeat = api.post("/vendor", params={"requestid": "r-1"}, json={"DisplayName": "Something Else"})
    other_realm_token = issue("555")["access_token"]
    elsewhere = api.post(f"{server.url}/v3/company/555/vendor", params={"requestid": "r-1"},
                         json={"DisplayName": "Taken"}, headers={"Authorization": f"Bearer {other_realm_token}"})

    assert fault(clash)["code"] == "6240" and repeat.content == clash.content
    assert elsewhere.status_code == 200


def test_requestid_longer_than_50_characters_is_refused(api, fault):
    response = api.post("/vendor", params={"requestid": "x" * 51}, json={"DisplayName": "Long Id"})

    assert response.status_code == 400 and fault(response)["code"] == "6000"
    assert "50 characters" in fault(response)["Detail"]


@pytest.fixture
def purchasing(create) -> dict:
    """A vendor, an item and an expense account to hang transactions on."""
    return {
        "vendor": create("Vendor", {"DisplayName": "Norton Lumber"}),
        "item": create("Item", {"Name": "Pump", "PurchaseCost": 10}),
        "account": create("Account", {"Name": "Rent or Lease", "AccountType": "Expense"}),
    }


def bill_body(purchasing: dict, **extra) -> dict:
    return {
        "VendorRef": {"value": purchasing["vendor"]["Id"]},
        "Line": [
            {"DetailType": "ItemBasedExpenseLineDetail", "Amount": 80.0, "Description": "Fountain Pump",
             "ItemBasedExpenseLineDetail": {"ItemRef": {"value": purchasing["item"]["Id"]}, "Qty": 8, "UnitPrice": 10}},
            {"DetailType": "AccountBasedExpenseLineDetail", "Amount": 900.5,
             "AccountBasedExpenseLineDetail": {"AccountRef": {"value": purchasing["account"]["Id"]}}},
        ],
        **extra,
    }


def test_d2_bill_with_item_and_category_lines_gets_totals_names_and_line_ids(api, purchasing):
    bill = api.post("/bill", json=bill_body(purchasing)).json()["Bill"]

    assert bill["TotalAmt"] == 980.5 and bill["Balance"] == 980.5
    assert bill["VendorRef"] == {"value": purchasing["vendor"]["Id"], "name": "Norton Lumber"}
    assert [line["Id"] for line in bill["Line"]] == ["1", "2"] and [line["LineNum"] for line in bill["Line"]] == [1, 2]
    assert bill["Line"][0]["ItemBasedExpenseLineDetail"]["ItemRef"]["name"] == "Pump"
    assert bill["Line"][1]["AccountBasedExpenseLineDetail"]["AccountRef"]["name"] == "Rent or Lease"
    assert bill["TxnDate"] == "2026-01-15" and bill["CurrencyRef"]["value"] == "USD"


def test_d1_purchase_order_is_open_by_default(api, purchasing):
    order = api.post("/purchaseorder", json=bill_body(purchasing)).json()["PurchaseOrder"]

    assert order["POStatus"] == "Open" and order["TotalAmt"] == 980.5


def test_transactions_need_vendor_and_lines_and_valid_references(api, purchasing, fault, create):
    no_vendor = api.post("/bill", json={"Line": bill_body(purchasing)["Line"]})
    no_lines = api.post("/bill", json={"VendorRef": {"value": purchasing["vendor"]["Id"]}})
    bad_detail = api.post("/bill", json=bill_body(purchasing, Line=[{"DetailType": "SalesItemLineDetail", "Amount": 1}]))
    unknown_vendor = api.post("/bill", json=bill_body(purchasing, VendorRef={"value": "999999"}))
    gone = create("Vendor", {"DisplayName": "Gone Vendor"})
    api.post("/vendor", json={"Id": gone["Id"], "SyncToken": "0", "sparse": True, "Active": False})
    inactive_vendor = api.post("/bill", json=bill_body(purchasing, VendorRef={"value": gone["Id"]}))

    assert fault(no_vendor)["code"] == "2020" and fault(no_vendor)["element"] == "VendorRef"
    assert fault(no_lines)["code"] == "2020" and fault(no_lines)["element"] == "Line"
    assert fault(bad_detail)["code"] == "2170"
    assert fault(unknown_vendor)["code"] == "2500" and fault(unknown_vendor)["element"] == "VendorRef"
    assert fault(inactive_vendor)["code"] == "610" and fault(inactive_vendor)["element"] == "VendorRef"


def test_transactions_are_hard_deleted_and_name_lists_are_not(api, purchasing, fault):
    bill = api.post("/bill", json=bill_body(purchasing)).json()["Bill"]

    stale = api.post("/bill", params={"operation": "delete"}, json={"Id": bill["Id"], "SyncToken": "7"})
    deleted = api.post("/bill", params={"operation": "delete"}, json={"Id": bill["Id"], "SyncToken": "0"})
    vendor = purchasing["vendor"]
    refused = api.post("/vendor", params={"operation": "delete"}, json={"Id": vendor["Id"], "SyncToken": "0"})

    assert fault(stale)["code"] == "5010"
    assert deleted.json()["Bill"] == {"domain": "QBO", "status": "Deleted", "Id": bill["Id"]}
    assert fault(api.get(f"/bill/{bill['Id']}"))["code"] == "610"
    assert refused.status_code == 400 and fault(refused)["code"] == "500"
    assert api.get(f"/vendor/{vendor['Id']}").json()["Vendor"]["Active"] is True


def test_preferences_and_company_info_are_seeded_per_realm(api, realm):
    preferences = api.get("/preferences").json()["Preferences"]
    company = api.get(f"/companyinfo/{realm}").json()["CompanyInfo"]

    assert preferences["Id"] == "1" and preferences["SyncToken"] == "0"
    assert company["CompanyName"] and company["Country"] == "US"
    updated = api.post("/preferences", json={"SyncToken": "0", "sparse": True,
                                             "ReportPrefs": {"ReportBasis": "Cash"}}).json()["Preferences"]
    assert updated["ReportPrefs"] == {"ReportBasis": "Cash"} and updated["CurrencyPrefs"]["HomeCurrency"]["value"] == "USD"


def test_every_entity_of_the_surface_can_be_created_and_read(api, create):
    bodies = {
        "Customer": {"DisplayName": "Amy's Bird Sanctuary"},
        "Employee": {"GivenName": "Emily", "FamilyName": "Platt"},
        "Item": {"Name": "Concrete", "Type": "Service"},
        "Account": {"Name": "Inventory Asset", "AccountType": "Other Current Asset"},
        "TaxCode": {"Name": "California", "Taxable": True},
        "TaxRate": {"Name": "California", "RateValue": 8},
        "Term": {"Name": "Net 30", "DueDays": 30},
        "Class": {"Name": "Landscaping"},
        "Department": {"Name": "North"},
    }
    for entity, body in bodies.items():
        created = create(entity, body)
        assert api.get(f"/{entity.lower()}/{created['Id']}").json()[entity] == created
    assert create("Account", {"Name": "Cash", "AccountType": "Bank"})["Classification"] == "Asset"
