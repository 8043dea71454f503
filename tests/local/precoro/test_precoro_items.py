"""Items: free of charge, supplier reference, and the chart-of-accounts item custom field."""

from __future__ import annotations

import pytest

from engine.clients.errors import NotFound, ValidationFailed


@pytest.fixture
def chart(state):
    """The chart of accounts as QuickBooks lists become Precoro options (L1): an item custom field."""
    field = state.insert("itemcustomfields", {"name": "Chart of Accounts"})
    office = state.insert("itemcustomfield_options", {"customField": field["id"], "name": "Office Supplies", "code": "6100", "externalId": "84"})
    travel = state.insert("itemcustomfield_options", {"customField": field["id"], "name": "Travel", "code": "6200", "externalId": "85"})
    return field, office, travel


def test_i7_an_item_reads_back_with_supplier_and_chart_of_accounts(client, chart):
    field, office, _ = chart
    supplier = client.create("/suppliers", {"name": "Acme"})

    created = client.create(
        "/items",
        {
            "name": "Standing desk",
            "sku": "DESK-1",
            "description": "Oak, 160 cm",
            "price": "412.50",
            "freeOfCharge": False,
            "supplier": {"id": supplier["id"]},
            "itemCustomFields": {field["id"]: office["id"]},
        },
    )

    assert created == client.get(f"/items/{created['id']}")
    assert created == {
        "id": 1,
        "name": "Standing desk",
        "sku": "DESK-1",
        "description": "Oak, 160 cm",
        "price": 412.5,
        "freeOfCharge": False,
        "enable": True,
        "supplier": {"id": supplier["id"], "name": "Acme"},
        "externalId": None,
        "createDate": "2026-11-26T09:00:00+00:00",
        "updateDate": "2026-11-26T09:00:00+00:00",
        "dataProductCustomFields": {
            "data": [
                {
                    "itemCustomField": {"id": field["id"], "name": "Chart of Accounts"},
                    "option": {"id": office["id"], "name": "Office Supplies", "code": "6100", "externalId": "84"},
                }
            ]
        },
    }


def test_i7_free_of_charge_is_a_boolean_kept_apart_from_the_price(client):
    item = client.create("/items", {"name": "Sample", "freeOfCharge": True, "price": 0})

    assert item["freeOfCharge"] is True
    assert client.update(f"/items/{item['id']}", {"price": "9.99"})["freeOfCharge"] is True


def test_i7_put_changes_only_the_given_fields_and_custom_fields(client, chart, state):
    field, office, travel = chart
    other_field = state.insert("itemcustomfields", {"name": "Class"})
    retail = state.insert("itemcustomfield_options", {"customField": other_field["id"], "name": "Retail"})
    item = client.create(
        "/items", {"name": "Desk", "sku": "D1", "itemCustomFields": {field["id"]: office["id"], other_field["id"]: retail["id"]}}
    )

    updated = client.update(f"/items/{item['id']}", {"itemCustomFields": {field["id"]: travel["id"]}, "price": 10})

    assert (updated["name"], updated["sku"], updated["price"]) == ("Desk", "D1", 10.0)
    options = [value["option"]["name"] for value in updated["dataProductCustomFields"]["data"]]
    assert options == ["Travel", "Retail"]


def test_an_empty_option_clears_that_custom_field_and_an_empty_supplier_clears_the_supplier(client, chart):
    field, office, _ = chart
    supplier = client.create("/suppliers", {"name": "Acme"})
    item = client.create("/items", {"name": "Desk", "supplier": {"id": supplier["id"]}, "itemCustomFields": {field["id"]: office["id"]}})

    updated = client.update(f"/items/{item['id']}", {"supplier": {"id": None}, "itemCustomFields": {field["id"]: None}})

    assert updated["supplier"] is None
    assert updated["dataProductCustomFields"] == {"data": []}


def test_an_option_of_another_custom_field_is_refused_on_that_key(client, chart, state):
    field, _, _ = chart
    other_field = state.insert("itemcustomfields", {"name": "Class"})
    retail = state.insert("itemcustomfield_options", {"customField": other_field["id"], "name": "Retail"})

    with pytest.raises(ValidationFailed) as refused:
        client.create("/items", {"name": "Desk", "itemCustomFields": {field["id"]: retail["id"]}})
    assert refused.value.field == f"itemCustomFields[{field['id']}]"


def test_an_unknown_supplier_is_refused_and_the_supplier_must_be_sent_as_supplier_id(client):
    with pytest.raises(ValidationFailed) as unknown:
        client.create("/items", {"name": "Desk", "supplier": {"id": 99}})
    with pytest.raises(ValidationFailed) as flat:
        client.create("/items", {"name": "Desk", "supplier": 1})

    assert unknown.value.field == "supplier[id]"
    assert flat.value.field == "supplier"


def test_i3_item_name_and_sku_hold_300_characters_and_no_more(client):
    item = client.create("/items", {"name": "n" * 300, "sku": "s" * 300})
    assert (len(item["name"]), len(item["sku"])) == (300, 300)

    for field in ("name", "sku"):
        with pytest.raises(ValidationFailed) as refused:
            client.create("/items", {"name": "Desk", field: "x" * 301})
        assert refused.value.field == field


@pytest.mark.parametrize("price", ["-1", "ten", "NaN"])
def test_a_price_must_be_a_non_negative_number(client, price):
    with pytest.raises(ValidationFailed) as refused:
        client.create("/items", {"name": "Desk", "price": price})
    assert refused.value.field == "price"


def test_items_filter_by_supplier(client):
    acme = client.create("/suppliers", {"name": "Acme"})
    other = client.create("/suppliers", {"name": "Other"})
    for name, supplier in (("Desk", acme), ("Chair", other), ("Lamp", acme)):
        client.create("/items", {"name": name, "supplier": {"id": supplier["id"]}})

    assert [i["name"] for i in client.list_all("/items", {"supplier": [acme["id"]]})] == ["Desk", "Lamp"]


def test_references_show_the_current_names(client, chart, state):
    field, office, _ = chart
    supplier = client.create("/suppliers", {"name": "Acme"})
    item = client.create("/items", {"name": "Desk", "supplier": {"id": supplier["id"]}, "itemCustomFields": {field["id"]: office["id"]}})

    client.update(f"/suppliers/{supplier['id']}", {"name": "Acme Ltd"})
    state.update("itemcustomfield_options", office["id"], {"name": "Office"})

    reread = client.get(f"/items/{item['id']}")
    assert reread["supplier"]["name"] == "Acme Ltd"
    assert reread["dataProductCustomFields"]["data"][0]["option"]["name"] == "Office"


def test_i8_a_deleted_item_is_gone(client):
    item = client.create("/items", {"name": "Desk"})

    client.delete(f"/items/{item['id']}")

    with pytest.raises(NotFound):
        client.get(f"/items/{item['id']}")
    assert list(client.list_all("/items")) == []


def test_items_take_an_external_id_by_patch_only(client):
    with pytest.raises(ValidationFailed) as refused:
        client.create("/items", {"name": "Desk", "externalId": "qb-item-1"})
    item = client.create("/items", {"name": "Desk"})

    patched = client.set_external_id("/items", item["id"], "qb-item-2")

    assert refused.value.field == "externalId" and refused.value.status == 422
    assert (item["externalId"], patched["externalId"]) == (None, "qb-item-2")
