"""Suppliers and their contacts, through the HTTP client over loopback."""

from __future__ import annotations

import pytest

from engine.clients.errors import NotFound, ValidationFailed


def test_s8_a_supplier_created_over_the_api_reads_back_with_every_field(client):
    created = client.create(
        "/suppliers",
        {
            "name": "Acme & Sons",
            "uniqueCode": "ACME",
            "legalAddress": "1 Rue d'Été",
            "city": "Lyon",
            "state": "ARA",
            "postalCode": "69001",
            "country": "France",
            "phone": "+33 4 00 00 00 00",
            "accountNumber": "FR-001",
            "currencies": ["EUR"],
        },
    )
    created = client.set_external_id("/suppliers", created["id"], "qb-42")

    assert created == client.get(f"/suppliers/{created['id']}")
    assert created == {
        "id": 1,
        "uniqueCode": "ACME",
        "name": "Acme & Sons",
        "createDate": "2026-11-26T09:00:00+00:00",
        "updateDate": "2026-11-26T09:00:00+00:00",
        "approvalDate": "2026-11-26T09:00:00+00:00",
        "legalAddress": "1 Rue d'Été",
        "city": "Lyon",
        "state": "ARA",
        "postalCode": "69001",
        "country": "France",
        "phone": "+33 4 00 00 00 00",
        "currencies": ["EUR"],
        "accountNumber": "FR-001",
        "enable": True,
        "status": 2,
        "externalId": "qb-42",
        "integrationStatus": None,
        "paymentTerms": {"data": []},
        "currency": "EUR",
        "contacts": {"data": []},
    }


def test_a_supplier_without_currencies_gets_the_company_currency(client):
    assert client.create("/suppliers", {"name": "Plain"})["currencies"] == ["USD"]


def test_a_supplier_needs_a_name(client):
    with pytest.raises(ValidationFailed) as refused:
        client.create("/suppliers", {"city": "Lyon"})

    assert refused.value.field == "name"
    assert refused.value.status == 422


def test_supplier_names_hold_300_characters_and_no_more(client):
    assert len(client.create("/suppliers", {"name": "n" * 300})["name"]) == 300

    with pytest.raises(ValidationFailed) as refused:
        client.create("/suppliers", {"name": "n" * 301})
    assert refused.value.field == "name"


def test_unique_codes_are_unique(client):
    client.create("/suppliers", {"name": "A", "uniqueCode": "CODE"})

    with pytest.raises(ValidationFailed) as refused:
        client.create("/suppliers", {"name": "B", "uniqueCode": "CODE"})
    assert refused.value.field == "uniqueCode"


def test_s1_put_changes_only_the_fields_it_is_given(client, clock):
    supplier = client.create("/suppliers", {"name": "Acme", "city": "Lyon", "phone": "123"})
    clock.advance(60)

    updated = client.update(f"/suppliers/{supplier['id']}", {"city": "Paris"})

    assert (updated["name"], updated["city"], updated["phone"]) == ("Acme", "Paris", "123")
    assert updated["updateDate"] == "2026-11-26T09:01:00+00:00"
    assert updated["createDate"] == supplier["createDate"]


def test_an_empty_value_clears_an_optional_field(client):
    supplier = client.create("/suppliers", {"name": "Acme", "phone": "123"})

    assert client.update(f"/suppliers/{supplier['id']}", {"phone": None})["phone"] is None


def test_currencies_replace_the_whole_list(client):
    supplier = client.create("/suppliers", {"name": "Acme", "currencies": ["USD", "EUR"]})

    updated = client.update(f"/suppliers/{supplier['id']}", {"currencies": ["GBP"]})

    assert (updated["currencies"], updated["currency"]) == (["GBP"], "GBP")


def test_currencies_must_be_iso_codes(client):
    with pytest.raises(ValidationFailed) as refused:
        client.create("/suppliers", {"name": "Acme", "currencies": ["usd"]})
    assert refused.value.field == "currencies"


def test_s5_deactivating_a_supplier_shows_in_enable_and_the_enable_filter(client):
    active = client.create("/suppliers", {"name": "Active"})
    gone = client.create("/suppliers", {"name": "Gone"})

    client.update(f"/suppliers/{gone['id']}", {"enable": False})

    assert [s["name"] for s in client.list_all("/suppliers", {"enable": 1})] == ["Active"]
    assert [s["name"] for s in client.list_all("/suppliers", {"enable": False})] == ["Gone"]
    assert client.get(f"/suppliers/{active['id']}")["enable"] is True


def test_suppliers_filter_on_approval_status(client, state):
    state.bulk_insert("suppliers", [{"name": "Pending", "status": 1}, {"name": "Approved"}, {"name": "Rejected", "status": 3}])

    found = client.list_all("/suppliers", {"status": [1, 3]})

    assert [s["name"] for s in found] == ["Pending", "Rejected"]
    assert [s["approvalDate"] is None for s in client.list_all("/suppliers")] == [True, False, True]


def test_patch_sets_the_external_id_and_bumps_update_date(client, clock):
    supplier = client.create("/suppliers", {"name": "Acme"})
    clock.advance(5)

    patched = client.patch(f"/suppliers/{supplier['id']}", {"externalId": "qb-7"})

    assert patched["externalId"] == "qb-7"
    assert patched["updateDate"] == "2026-11-26T09:00:05+00:00"
    assert [s["id"] for s in client.list_all("/suppliers", {"external_id": ["qb-7"]})] == [supplier["id"]]


def test_patch_accepts_only_the_external_id(client):
    supplier = client.create("/suppliers", {"name": "Acme"})

    with pytest.raises(ValidationFailed) as refused:
        client.patch(f"/suppliers/{supplier['id']}", {"name": "Renamed"})
    assert refused.value.field == "name"


def test_put_does_not_set_the_external_id(client):
    supplier = client.create("/suppliers", {"name": "Acme"})

    with pytest.raises(ValidationFailed) as refused:
        client.update(f"/suppliers/{supplier['id']}", {"externalId": "x"})
    assert refused.value.field == "externalId"


def test_a_deleted_supplier_is_gone(client):
    supplier = client.create("/suppliers", {"name": "Acme"})

    client.delete(f"/suppliers/{supplier['id']}")

    with pytest.raises(NotFound):
        client.get(f"/suppliers/{supplier['id']}")


def test_a_supplier_used_by_items_cannot_be_deleted(client, state):
    supplier = client.create("/suppliers", {"name": "Acme"})
    state.insert("items", {"name": "Desk", "supplier": supplier["id"]})

    with pytest.raises(ValidationFailed) as refused:
        client.delete(f"/suppliers/{supplier['id']}")
    assert refused.value.field == "supplier"


def test_s1_an_edit_in_the_precoro_ui_or_a_file_import_bumps_update_date(client, state, clock):
    supplier = client.create("/suppliers", {"name": "Acme"})
    clock.advance(120)

    state.update("suppliers", supplier["id"], {"name": "Acme Ltd"})

    changed = list(client.list_all("/suppliers", modified_since="2026-11-26T09:01:00"))
    assert [(s["name"], s["updateDate"]) for s in changed] == [("Acme Ltd", "2026-11-26T09:02:00+00:00")]


# -- contacts (S3: each email of a QuickBooks vendor is one contact in Precoro) -------------------


def test_s3_contacts_are_added_in_order_and_embedded_in_the_details_only(client):
    supplier = client.create("/suppliers", {"name": "Acme"})
    path = f"/suppliers/{supplier['id']}/contacts"

    first = client.create(path, {"email": "b@acme.test", "name": "Bea"})
    second = client.create(path, {"email": "a@acme.test", "phone": "555"})

    expected = [
        {"id": first["id"], "name": "Bea", "email": "b@acme.test", "phone": None},
        {"id": second["id"], "name": None, "email": "a@acme.test", "phone": "555"},
    ]
    assert client.get(f"/suppliers/{supplier['id']}")["contacts"] == {"data": expected}
    summary = next(client.list_all("/suppliers"))
    assert "contacts" not in summary and "paymentTerms" not in summary  # lists answer summaries
    assert client.details("/suppliers", summary)["contacts"] == {"data": expected}


def test_s3_removing_a_contact_keeps_the_order_of_the_others(client):
    supplier = client.create("/suppliers", {"name": "Acme"})
    path = f"/suppliers/{supplier['id']}/contacts"
    ids = [client.create(path, {"email": f"{n}@acme.test"})["id"] for n in range(3)]

    client.delete(f"{path}/{ids[1]}")

    emails = [c["email"] for c in client.get(f"/suppliers/{supplier['id']}")["contacts"]["data"]]
    assert emails == ["0@acme.test", "2@acme.test"]


def test_s3_contact_changes_bump_the_suppliers_update_date(client, clock):
    supplier = client.create("/suppliers", {"name": "Acme"})
    path = f"/suppliers/{supplier['id']}/contacts"
    clock.advance(60)
    contact = client.create(path, {"email": "a@acme.test"})
    assert client.get(f"/suppliers/{supplier['id']}")["updateDate"] == "2026-11-26T09:01:00+00:00"

    clock.advance(60)
    client.delete(f"{path}/{contact['id']}")

    changed = list(client.list_all("/suppliers", modified_since="2026-11-26T09:02:00"))
    assert [s["updateDate"] for s in changed] == ["2026-11-26T09:02:00+00:00"]


def test_s3_a_contact_needs_a_valid_email(client):
    supplier = client.create("/suppliers", {"name": "Acme"})

    for email in (None, "not-an-email", "a@b.c, d@e.f"):
        with pytest.raises(ValidationFailed) as refused:
            client.create(f"/suppliers/{supplier['id']}/contacts", {"email": email})
        assert refused.value.field == "email"


def test_s3_a_contact_is_only_reachable_through_its_own_supplier(client):
    acme = client.create("/suppliers", {"name": "Acme"})
    other = client.create("/suppliers", {"name": "Other"})
    contact = client.create(f"/suppliers/{acme['id']}/contacts", {"email": "a@acme.test"})

    with pytest.raises(NotFound):
        client.delete(f"/suppliers/{other['id']}/contacts/{contact['id']}")
    with pytest.raises(NotFound):
        client.create("/suppliers/999/contacts", {"email": "a@acme.test"})


def test_deleting_a_supplier_deletes_its_contacts(client, state):
    supplier = client.create("/suppliers", {"name": "Acme"})
    contact = client.create(f"/suppliers/{supplier['id']}/contacts", {"email": "a@acme.test"})

    client.delete(f"/suppliers/{supplier['id']}")

    assert not state.exists("contacts", contact["id"])


def test_seeded_suppliers_carry_their_contacts(client, state):
    state.bulk_insert("suppliers", [{"name": "Acme", "contacts": [{"name": "Ann", "email": "ann@acme.test"}]}])

    assert [c["email"] for c in client.get("/suppliers/1")["contacts"]["data"]] == ["ann@acme.test"]


def test_supplier_payment_terms_are_set_by_id_and_read_back_whole(client, state):
    net30 = state.insert("paymentterms", {"name": "Net 30", "creditPeriodDays": 30})

    supplier = client.create("/suppliers", {"name": "Acme", "paymentTerms": [net30["id"]]})

    assert supplier["paymentTerms"]["data"] == [net30]
    with pytest.raises(ValidationFailed) as refused:
        client.update(f"/suppliers/{supplier['id']}", {"paymentTerms": [99]})
    assert refused.value.field == "paymentTerms"


def test_s7_currency_sets_the_primary_currency_first_in_currencies(client):
    supplier = client.create("/suppliers", {"name": "Acme", "currency": "EUR"})
    assert (supplier["currency"], supplier["currencies"]) == ("EUR", ["EUR"])

    both = client.create("/suppliers", {"name": "Both", "currencies": ["USD", "EUR"], "currency": "EUR"})
    assert both["currencies"] == ["EUR", "USD"]

    moved = client.update(f"/suppliers/{both['id']}", {"currency": "USD"})
    assert (moved["currency"], moved["currencies"]) == ("USD", ["USD", "EUR"])
