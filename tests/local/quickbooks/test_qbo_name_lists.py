"""Name-list rules: shared unique names, length limits, " (deleted)" on deactivation, reactivation."""

from __future__ import annotations

import pytest


def test_s9_display_names_are_unique_across_vendor_customer_and_employee(api, create, fault):
    create("Customer", {"DisplayName": "Weiskopf Consulting"})

    as_vendor = api.post("/vendor", json={"DisplayName": "Weiskopf Consulting"})
    as_employee = api.post("/employee", json={"DisplayName": "weiskopf CONSULTING"})

    for response in (as_vendor, as_employee):
        assert response.status_code == 400
        error = fault(response)
        assert error["code"] == "6240" and error["Message"] == "Duplicate Name Exists Error"
        assert error["Detail"].startswith("The name supplied already exists.")


def test_s9_a_rename_onto_a_taken_name_is_refused_and_the_record_keeps_its_name(api, create, fault):
    create("Vendor", {"DisplayName": "Acme"})
    other = create("Vendor", {"DisplayName": "Acme Two"})

    response = api.post("/vendor", json={"Id": other["Id"], "SyncToken": "0", "sparse": True, "DisplayName": "ACME"})

    assert fault(response)["code"] == "6240"
    assert api.get(f"/vendor/{other['Id']}").json()["Vendor"]["DisplayName"] == "Acme Two"


def test_i1_item_names_are_unique_among_items_only(api, create, fault):
    create("Item", {"Name": "Rock Fountain"})
    create("Vendor", {"DisplayName": "Rock Fountain"})

    duplicate = api.post("/item", json={"Name": "rock fountain"})

    assert fault(duplicate)["code"] == "6240"


LIMITS = [
    ("Vendor", "DisplayName", 500, {}),
    ("Vendor", "CompanyName", 100, {"DisplayName": "V"}),
    ("Vendor", "PrintOnCheckName", 100, {"DisplayName": "V"}),
    ("Vendor", "GivenName", 100, {"DisplayName": "V"}),
    ("Vendor", "Title", 16, {"DisplayName": "V"}),
    ("Vendor", "AcctNum", 100, {"DisplayName": "V"}),
    ("Vendor", "TaxIdentifier", 20, {"DisplayName": "V"}),
    ("Vendor", "PrimaryPhone.FreeFormNumber", 30, {"DisplayName": "V"}),
    ("Vendor", "PrimaryEmailAddr.Address", 100, {"DisplayName": "V"}),
    ("Vendor", "BillAddr.Line1", 500, {"DisplayName": "V"}),
    ("Vendor", "BillAddr.City", 255, {"DisplayName": "V"}),
    ("Vendor", "BillAddr.PostalCode", 30, {"DisplayName": "V"}),
    ("Vendor", "BillAddr.Country", 255, {"DisplayName": "V"}),
    ("Vendor", "WebAddr.URI", 1000, {"DisplayName": "V"}),
    ("Item", "Name", 100, {}),
    ("Item", "Sku", 100, {"Name": "I"}),
    ("Item", "Description", 4000, {"Name": "I"}),
    ("Item", "PurchaseDesc", 1000, {"Name": "I"}),
]


def _nested(path: str, value: str) -> dict:
    head, _, rest = path.partition(".")
    return {head: _nested(rest, value) if rest else value}


def _fill(path: str, length: int) -> str:
    return "a@b.c" + "x" * (length - 5) if path.endswith("Address") else "x" * length


@pytest.mark.parametrize(("entity", "path", "limit", "base"), LIMITS, ids=[f"{e}.{p}" for e, p, _, _ in LIMITS])
def test_i3_length_limits_of_the_fact_sheet_are_enforced_naming_the_element(api, fault, entity, path, limit, base):
    at_limit = api.post(f"/{entity.lower()}", json={**base, **_nested(path, _fill(path, limit))})
    over = api.post(f"/{entity.lower()}", json={**base, **_nested(path, _fill(path, limit + 1)), "Active": True})

    assert at_limit.status_code == 200, at_limit.text
    assert over.status_code == 400
    error = fault(over)
    assert error["code"] == "2050" and error["element"] == path
    assert f"Max:{limit} supported. Supplied length:{limit + 1}" in error["Detail"]


@pytest.mark.parametrize("name", ["Parent:Child", "Tab\there", "New\nline"])
def test_display_name_refuses_colon_tab_and_newline(api, fault, name):
    response = api.post("/vendor", json={"DisplayName": name})

    assert fault(response)["code"] == "2040" and fault(response)["element"] == "DisplayName"


def test_s3_comma_separated_emails_are_accepted_and_malformed_ones_refused(api, create, fault):
    vendor = create("Vendor", {"DisplayName": "Nat", "PrimaryEmailAddr": {"Address": "a@intuit.com, b@intuit.com"}})
    bad = api.post("/vendor", json={"DisplayName": "Bad Mail", "PrimaryEmailAddr": {"Address": "not-an-address"}})

    assert vendor["PrimaryEmailAddr"]["Address"] == "a@intuit.com, b@intuit.com"
    assert fault(bad)["code"] == "2210" and fault(bad)["element"] == "PrimaryEmailAddr.Address"


def deactivate(api, record: dict, entity: str = "Vendor") -> dict:
    response = api.post(f"/{entity.lower()}", json={"Id": record["Id"], "SyncToken": record["SyncToken"],
                                                     "sparse": True, "Active": False})
    assert response.status_code == 200, response.text
    return response.json()[entity]


def test_s5_deactivating_appends_deleted_bumps_synctoken_and_keeps_print_on_check_name(api, create):
    vendor = create("Vendor", {"DisplayName": "United States Treasury"})

    inactive = deactivate(api, vendor)

    assert inactive["Active"] is False and inactive["SyncToken"] == "1"
    assert inactive["DisplayName"] == "United States Treasury (deleted)"
    assert inactive["PrintOnCheckName"] == "United States Treasury"


def test_i9_inactive_items_get_the_suffix_on_name_and_fully_qualified_name(api, create):
    item = create("Item", {"Name": "Pump"})

    inactive = deactivate(api, item, "Item")

    assert inactive["Name"] == inactive["FullyQualifiedName"] == "Pump (deleted)"


def test_s4_inactive_records_are_hidden_from_queries_unless_active_is_mentioned(api, create, query):
    create("Vendor", {"DisplayName": "Kept"})
    gone = deactivate(api, create("Vendor", {"DisplayName": "Gone"}))

    assert [v["DisplayName"] for v in query("SELECT * FROM Vendor")["Vendor"]] == ["Kept"]
    assert query("SELECT COUNT(*) FROM Vendor")["totalCount"] == 1
    everyone = query("SELECT * FROM Vendor WHERE Active IN (true, false)")["Vendor"]
    assert [v["DisplayName"] for v in everyone] == ["Kept", "Gone (deleted)"]
    assert [v["Id"] for v in query("SELECT * FROM Vendor WHERE Active = false")["Vendor"]] == [gone["Id"]]


def test_s9_the_name_of_an_inactive_record_can_be_used_again(api, create):
    deactivate(api, create("Vendor", {"DisplayName": "Reusable"}))

    again = api.post("/vendor", json={"DisplayName": "Reusable"})

    assert again.status_code == 200


def test_s4_reactivating_restores_the_original_name(api, create):
    inactive = deactivate(api, create("Vendor", {"DisplayName": "Phoenix"}))

    revived = api.post("/vendor", json={"Id": inactive["Id"], "SyncToken": "1", "sparse": True, "Active": True})

    assert revived.json()["Vendor"]["DisplayName"] == "Phoenix" and revived.json()["Vendor"]["SyncToken"] == "2"


def test_s4_reactivating_with_a_new_name_takes_that_name(api, create):
    inactive = deactivate(api, create("Vendor", {"DisplayName": "Phoenix"}))

    revived = api.post("/vendor", json={"Id": inactive["Id"], "SyncToken": "1", "sparse": True, "Active": True,
                                        "DisplayName": "Phoenix Reborn"})

    assert revived.json()["Vendor"]["DisplayName"] == "Phoenix Reborn"


def test_s9_reactivating_onto_a_name_taken_meanwhile_is_6240(api, create, fault):
    inactive = deactivate(api, create("Vendor", {"DisplayName": "Phoenix"}))
    create("Customer", {"DisplayName": "Phoenix"})

    revived = api.post("/vendor", json={"Id": inactive["Id"], "SyncToken": "1", "sparse": True, "Active": True})

    assert fault(revived)["code"] == "6240"


def test_a_full_update_echoing_the_deleted_name_keeps_a_single_suffix(api, create):
    inactive = deactivate(api, create("Account", {"Name": "Fees Billed", "AccountType": "Income"}), "Account")

    again = api.post("/account", json={"Id": inactive["Id"], "SyncToken": "1", "sparse": True,
                                       "Active": False, "Name": "Fees Billed (deleted)"})

    assert again.json()["Account"]["Name"] == "Fees Billed (deleted)"
    assert again.json()["Account"]["Classification"] == "Revenue"


def test_i9_items_cannot_reference_an_inactive_account(api, create, fault):
    account = deactivate(api, create("Account", {"Name": "Old Income", "AccountType": "Income"}), "Account")

    response = api.post("/item", json={"Name": "Widget", "IncomeAccountRef": {"value": account["Id"]}})

    assert fault(response)["code"] == "610" and fault(response)["element"] == "IncomeAccountRef"
