"""Conformance: the independent python-quickbooks + intuitlib clients work against the local API
unchanged except for its base URL (fact sheet §12), through the full OAuth code flow."""

from __future__ import annotations

import json
from datetime import timedelta

import httpx
import pytest
from intuitlib.client import AuthClient
from intuitlib.enums import Scopes
from quickbooks import QuickBooks
from quickbooks.batch import batch_create
from quickbooks.cdc import change_data_capture
from quickbooks.exceptions import AuthorizationException, ObjectNotFoundException, QuickbooksException
from quickbooks.objects.item import Item
from quickbooks.objects.vendor import Vendor


@pytest.fixture
def auth_client(server, credentials, monkeypatch) -> AuthClient:
    """intuitlib, pointed at this host through its discovery document, connected by the code flow."""
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")  # requests-oauthlib refuses plain http otherwise
    client = AuthClient(*credentials, "http://127.0.0.1:9/callback", f"{server.url}/.well-known/openid_configuration")
    consent = httpx.get(client.get_authorization_url([Scopes.ACCOUNTING]))
    answer = dict(part.split("=", 1) for part in consent.headers["location"].split("?", 1)[1].split("&"))
    assert answer["state"] == client.state_token
    client.get_bearer_token(answer["code"], realm_id=answer["realmId"])
    return client


@pytest.fixture
def qb(auth_client, server) -> QuickBooks:
    quickbooks = QuickBooks(auth_client=auth_client, refresh_token=auth_client.refresh_token,
                            company_id=auth_client.realm_id, minorversion=75)
    quickbooks.api_url_v3 = f"{server.url}/v3"
    return quickbooks


def new_vendor(name: str, **fields) -> Vendor:
    vendor = Vendor()
    vendor.DisplayName = name
    for key, value in fields.items():
        setattr(vendor, key, value)
    return vendor


def test_vendor_create_returns_the_saved_vendor(qb):
    saved = new_vendor("Bob's Burger Joint", CompanyName="Bob's").save(qb=qb)

    assert int(saved.Id) > 0 and saved.SyncToken == "0" and saved.DisplayName == "Bob's Burger Joint"
    assert saved.CurrencyRef.value == "USD" and Vendor.get(saved.Id, qb=qb).CompanyName == "Bob's"


def test_queries_with_paging_count_and_an_apostrophe_filter(qb):
    for n in range(12):
        new_vendor(f"Vendor {n:02d}").save(qb=qb)
    new_vendor("Amy's Bird Sanctuary").save(qb=qb)

    page = Vendor.all(start_position=6, max_results=5, qb=qb)
    by_name = Vendor.filter(DisplayName="Amy's Bird Sanctuary", qb=qb)
    ordered = Vendor.where("Active IN (true, false)", order_by="DisplayName DESC", max_results=3, qb=qb)

    assert [v.DisplayName for v in page] == [f"Vendor {n:02d}" for n in range(5, 10)]
    assert [v.DisplayName for v in by_name] == ["Amy's Bird Sanctuary"]
    assert [v.DisplayName for v in ordered] == ["Vendor 11", "Vendor 10", "Vendor 09"]
    assert Vendor.count(qb=qb) == 13


def test_item_all_selects_sku_explicitly(qb):
    item = Item()
    item.Name, item.Sku, item.Type = "Sprinkler Heads", "SPR-1", "NonInventory"
    item.save(qb=qb)

    assert [(i.Name, i.Sku) for i in Item.all(qb=qb)] == [("Sprinkler Heads", "SPR-1")]


def test_sparse_update_through_the_library_endpoint(qb):
    saved = new_vendor("Sparse Co", AcctNum="1").save(qb=qb)

    answer = qb.update_object("Vendor", json.dumps({"Id": saved.Id, "SyncToken": saved.SyncToken, "sparse": True,
                                                    "CompanyName": "Sparse Company"}))

    assert answer["Vendor"]["CompanyName"] == "Sparse Company" and answer["Vendor"]["AcctNum"] == "1"


def test_full_update_of_a_read_object_and_a_stale_save_raises(qb):
    saved = new_vendor("Full Co", AcctNum="1").save(qb=qb)
    first, second = Vendor.get(saved.Id, qb=qb), Vendor.get(saved.Id, qb=qb)

    first.CompanyName = "Full Company"
    updated = first.save(qb=qb)
    second.CompanyName = "Lost Update"
    with pytest.raises(QuickbooksException) as stale:
        second.save(qb=qb)

    assert updated.SyncToken == "1" and updated.CompanyName == "Full Company" and updated.AcctNum == "1"
    assert stale.value.error_code == 5010
    assert Vendor.get(saved.Id, qb=qb).CompanyName == "Full Company"


def test_unknown_ids_raise_object_not_found(qb):
    with pytest.raises(ObjectNotFoundException):
        Vendor.get(424242, qb=qb)


def test_batch_create_reports_successes_and_faults(qb):
    new_vendor("Already There").save(qb=qb)
    vendors = [new_vendor(f"Batch Vendor {n}") for n in range(3)] + [new_vendor("Already There")]

    result = batch_create(vendors, qb=qb)

    assert sorted(v.DisplayName for v in result.successes) == [f"Batch Vendor {n}" for n in range(3)]
    assert [fault.Error[0].code for fault in result.faults] == ["6240"]


def test_change_data_capture_reads_changed_vendors_and_items(qb, clock):
    since = clock.now - timedelta(minutes=1)
    vendor = new_vendor("Changed Vendor").save(qb=qb)
    item = Item()
    item.Name = "Changed Item"
    item.save(qb=qb)

    changed = change_data_capture([Vendor, Item], since, qb=qb)

    assert [v.Id for v in changed.Vendor] == [vendor.Id]
    assert [i.Name for i in changed.Item] == ["Changed Item"]


def test_intuitlib_refresh_rotates_and_an_expired_token_is_refused(qb, auth_client, server, clock):
    old_refresh = auth_client.refresh_token
    auth_client.refresh()
    clock.advance(hours=2)

    assert auth_client.refresh_token != old_refresh
    with pytest.raises(AuthorizationException):
        Vendor.all(qb=qb)
