"""Lists imported from QuickBooks (L1): custom fields and their options, taxes, payment terms."""

from __future__ import annotations

import pytest

from engine.clients.errors import NotFound, ValidationFailed


@pytest.mark.parametrize(
    "fields_path, fields_kind",
    [("/itemcustomfields", "itemcustomfields"), ("/documentcustomfields", "documentcustomfields")],
)
def test_l1_custom_field_options_are_created_listed_renamed_and_linked(client, state, fields_path, fields_kind):
    field = state.insert(fields_kind, {"name": "Chart of Accounts" if fields_kind == "itemcustomfields" else "Location"})
    options = f"{fields_path}/{field['id']}/options"

    parent = client.set_external_id(options, client.create(options, {"name": "Expenses", "code": "6000"})["id"], "80")
    child = client.create(options, {"name": "Travel", "code": "6200", "parent": {"id": parent["id"]}})
    renamed = client.update(f"{options}/{child['id']}", {"name": "Travel & Meals", "enable": False})
    linked = client.patch(f"{options}/{child['id']}", {"externalId": "85"})

    assert [f["name"] for f in client.list_all(fields_path)] == [field["name"]]
    assert list(client.list_all(options)) == [parent, linked]
    assert linked == {
        "id": child["id"],
        "name": "Travel & Meals",
        "code": "6200",
        "enable": False,
        "parent": {"id": parent["id"], "name": "Expenses"},
        "externalId": "85",
        "createDate": "2026-11-26T09:00:00+00:00",
        "updateDate": "2026-11-26T09:00:00+00:00",
    }
    assert renamed["externalId"] is None


def test_options_belong_to_their_custom_field(client, state):
    chart = state.insert("itemcustomfields", {"name": "Chart of Accounts"})
    classes = state.insert("itemcustomfields", {"name": "Class"})
    option = client.create(f"/itemcustomfields/{chart['id']}/options", {"name": "Travel"})

    assert list(client.list_all(f"/itemcustomfields/{classes['id']}/options")) == []
    with pytest.raises(NotFound):
        client.update(f"/itemcustomfields/{classes['id']}/options/{option['id']}", {"name": "Moved"})
    with pytest.raises(NotFound):
        list(client.list_all("/itemcustomfields/999/options"))


def test_options_need_a_name_and_option_external_ids_filter(client, state):
    chart = state.insert("itemcustomfields", {"name": "Chart of Accounts"})
    options = f"/itemcustomfields/{chart['id']}/options"
    for name, external_id in (("Travel", "85"), ("Office", "84")):
        client.set_external_id(options, client.create(options, {"name": name})["id"], external_id)

    with pytest.raises(ValidationFailed) as refused:
        client.create(options, {"code": "6000"})

    assert refused.value.field == "name"
    assert [o["name"] for o in client.list_all(options, {"external_id": ["84"]})] == ["Office"]


def test_l1_taxes_are_created_listed_and_linked(client):
    tax = client.create("/taxes", {"name": "VAT 20%", "percent": "20"})
    linked = client.patch(f"/taxes/{tax['id']}", {"externalId": "TAX-2"})

    assert tax == {
        "id": 1,
        "name": "VAT 20%",
        "percent": 20.0,
        "externalId": None,
        "createDate": "2026-11-26T09:00:00+00:00",
        "updateDate": "2026-11-26T09:00:00+00:00",
    }
    assert list(client.list_all("/taxes")) == [linked]
    assert client.get(f"/taxes/{tax['id']}")["externalId"] == "TAX-2"


def test_a_tax_percent_is_between_0_and_100(client):
    with pytest.raises(ValidationFailed) as refused:
        client.create("/taxes", {"name": "Odd", "percent": 101})
    assert refused.value.field == "percent"


def test_l1_payment_terms_are_created_listed_and_linked(client):
    term = client.create("/paymentterms", {"name": "Net 30", "creditPeriodDays": 30, "enable": True})
    linked = client.patch(f"/paymentterms/{term['id']}", {"externalId": "3"})

    assert term == {
        "id": 1,
        "name": "Net 30",
        "creditPeriodDays": 30,
        "enable": True,
        "externalId": None,
        "createDate": "2026-11-26T09:00:00+00:00",
        "updateDate": "2026-11-26T09:00:00+00:00",
    }
    assert list(client.list_all("/paymentterms")) == [linked]


def test_credit_period_days_are_a_whole_number(client):
    with pytest.raises(ValidationFailed) as refused:
        client.create("/paymentterms", {"name": "Soon", "creditPeriodDays": "2.5"})
    assert refused.value.field == "creditPeriodDays"
