"""Invoices and purchase orders: created by the state API, read and linked over HTTP."""

from __future__ import annotations

import pytest

from engine.clients.errors import NotFound, ValidationFailed


@pytest.fixture
def catalog(state):
    supplier = state.insert("suppliers", {"name": "Acme"})
    chart = state.insert("itemcustomfields", {"name": "Chart of Accounts"})
    travel = state.insert("itemcustomfield_options", {"customField": chart["id"], "name": "Travel", "code": "6200", "externalId": "85"})
    locations = state.insert("documentcustomfields", {"name": "Location"})
    paris = state.insert("documentcustomfield_options", {"customField": locations["id"], "name": "Paris", "externalId": "D1"})
    desk = state.insert("items", {"name": "Desk", "supplier": supplier["id"]})
    return {"supplier": supplier, "chart": chart, "travel": travel, "locations": locations, "paris": paris, "desk": desk}


def test_d2_an_invoice_reads_back_with_item_and_category_lines(client, state, catalog):
    chart, travel = catalog["chart"], catalog["travel"]
    state.insert(
        "invoices",
        {
            "status": 2,
            "invoiceNumber": "INV-001",
            "issueDate": "2026-11-20T00:00:00+00:00",
            "requiredDate": "2026-12-20T00:00:00+00:00",
            "currency": "EUR",
            "supplier": catalog["supplier"]["id"],
            "location": {"id": 1, "name": "HQ"},
            "items": [
                {"item": catalog["desk"]["id"], "quantity": 2, "price": "412.50"},
                {"name": "Taxi to the airport", "quantity": 1, "price": 33.3, "itemCustomFields": {chart["id"]: travel["id"]}},
            ],
            "documentCustomFields": {catalog["locations"]["id"]: catalog["paris"]["id"]},
        },
    )

    invoice = client.get("/invoices/1")

    line_ids = [line["id"] for line in invoice["items"]]
    assert invoice == {
        "id": 10001,
        "idn": 1,
        "status": 2,
        "statusString": "Approved",
        "invoiceNumber": "INV-001",
        "fromSupplier": False,
        "issueDate": "2026-11-20T00:00:00+00:00",
        "requiredDate": "2026-12-20T00:00:00+00:00",
        "createDate": "2026-11-26T09:00:00+00:00",
        "updateDate": "2026-11-26T09:00:00+00:00",
        "approvalDate": "2026-11-26T09:00:00+00:00",
        "currency": "EUR",
        "sum": 858.3,
        "netSum": 858.3,
        "supplier": {"id": catalog["supplier"]["id"], "name": "Acme"},
        "location": {"id": 1, "name": "HQ"},
        "paymentTerm": None,
        "customName": None,
        "items": [
            {
                "id": line_ids[0],
                "item": {"id": catalog["desk"]["id"], "name": "Desk"},
                "name": "Desk",
                "quantity": 2.0,
                "price": 412.5,
                "sum": 825.0,
                "dataItemCustomFields": {"data": []},
                "taxes": {"data": []},
            },
            {
                "id": line_ids[1],
                "item": None,
                "name": "Taxi to the airport",
                "quantity": 1.0,
                "price": 33.3,
                "sum": 33.3,
                "dataItemCustomFields": {
                    "data": [
                        {
                            "itemCustomField": {"id": chart["id"], "name": "Chart of Accounts"},
                            "option": {"id": travel["id"], "name": "Travel", "code": "6200", "externalId": "85"},
                        }
                    ]
                },
                "taxes": {"data": []},
            },
        ],
        "externalId": None,
        "integrationStatus": None,
        "logicType": 0,
        "parentData": None,
        "sumPaid": 0.0,  # D9: nothing paid yet
        "payments": [],
        "attachments": [],
        "dataDocumentCustomFields": {
            "data": [
                {
                    "documentCustomField": {"id": catalog["locations"]["id"], "name": "Location"},
                    "option": {"id": catalog["paris"]["id"], "name": "Paris", "code": None, "externalId": "D1"},
                    "value": "Paris",
                }
            ]
        },
    }
    assert len(set(line_ids)) == 2


def test_documents_are_addressed_by_idn_not_id(client, state):
    invoice = state.insert("invoices", {"status": 0})

    assert (invoice["id"], invoice["idn"]) == (10001, 1)
    assert client.get("/invoices/1")["id"] == 10001
    with pytest.raises(NotFound):
        client.get("/invoices/10001")


def test_s6_supplier_portal_invoices_are_flagged_and_listed_like_the_others(client, state, catalog):
    supplier = catalog["supplier"]["id"]
    state.bulk_insert("invoices", [{"status": 2, "supplier": supplier}, {"status": 2, "supplier": supplier, "fromSupplier": True}])

    assert [i["fromSupplier"] for i in client.list_all("/invoices", {"status": [2]})] == [False, True]


def test_d1_invoices_filter_on_status_with_their_labels(client, state):
    statuses = [0, 1, 2, 3, 4, 5, 8]
    state.bulk_insert("invoices", [{"status": status} for status in statuses])

    approved_or_paid = [(i["idn"], i["statusString"]) for i in client.list_all("/invoices", {"status": [2, 5]})]
    labels = [i["statusString"] for i in client.list_all("/invoices")]

    assert approved_or_paid == [(3, "Approved"), (6, "Paid")]
    assert labels == ["Open", "Pending", "Approved", "Denied", "Partly Paid", "Paid", "Canceled"]


def test_d1_approving_a_document_sets_its_approval_date_and_shows_in_modified_since(client, state, clock):
    state.insert("invoices", {"status": 1})
    clock.advance(3600)

    state.update("invoices", 1, {"status": 2})

    approved = list(client.list_all("/invoices", {"status": [2]}, modified_since="2026-11-26T10:00:00"))
    assert [(i["approvalDate"], i["updateDate"]) for i in approved] == [("2026-11-26T10:00:00+00:00",) * 2]


def test_d1_documents_are_linked_by_patching_their_external_id(client, state):
    state.insert("invoices", {"status": 2})
    state.insert("purchaseorders", {"status": 2})

    client.patch("/invoices/1", {"externalId": "bill-145"})
    client.patch("/purchaseorders/1", {"externalId": "po-77"})

    assert [i["idn"] for i in client.list_all("/invoices", {"external_id": ["bill-145"]})] == [1]
    assert client.get("/purchaseorders/1")["externalId"] == "po-77"


def test_d1_purchase_orders_read_like_invoices_with_status_2_approved(client, state, catalog):
    state.bulk_insert(
        "purchaseorders",
        [
            {"status": 1, "supplier": catalog["supplier"]["id"]},
            {"status": 2, "supplier": catalog["supplier"]["id"], "items": [{"item": catalog["desk"]["id"], "quantity": 3, "price": 10}]},
        ],
    )

    approved = list(client.list_all("/purchaseorders", {"status": [2]}))

    assert [(po["idn"], po["statusString"], po["sum"]) for po in approved] == [(2, "Approved", 30.0)]
    assert "items" not in approved[0]  # a list answers summaries; the lines come with the details
    assert client.details("/purchaseorders", approved[0])["items"][0]["item"] == {"id": catalog["desk"]["id"], "name": "Desk"}
    assert "invoiceNumber" not in approved[0]


def test_i8_a_line_whose_item_was_deleted_reads_as_a_plain_line(client, state, catalog):
    state.insert("invoices", {"items": [{"item": catalog["desk"]["id"], "quantity": 1, "price": 5}]})

    client.delete(f"/items/{catalog['desk']['id']}")

    line = client.get("/invoices/1")["items"][0]
    assert (line["item"], line["name"]) == (None, "Desk")


def test_documents_cannot_be_created_or_deleted_over_http(http):
    assert http.post("/invoices", data={"status": "2"}).status_code == 405
    assert http.delete("/invoices/1").status_code == 405


def test_d1_invoices_filter_by_sent_to_external_approval_date_and_logic_type(client, state, clock):
    state.insert("invoices", {"status": 2})  # approved 2026-11-26 09:00, idn 1
    clock.advance(2 * 86400)
    state.bulk_insert("invoices", [{"status": 2}, {"status": 2, "logicType": 1}, {"status": 2, "logicType": 5}])
    client.set_external_id("/invoices", 2, "bill-2")

    idns = lambda params: [i["idn"] for i in client.list_all("/invoices", params)]

    assert idns({"sent_to_external": 0}) == [1, 3, 4]
    assert idns({"sent_to_external": 1}) == [2]
    assert idns({"approvalDate": {"left_date": "28.11.2026"}}) == [2, 3, 4]
    assert idns({"approvalDate": {"left_date": "26.11.2026", "right_date": "26.11.2026"}}) == [1]
    assert idns({"logicType": [1, 5]}) == [3, 4]
    assert idns({"logicType": [0], "sent_to_external": 0}) == [1]
    with pytest.raises(ValidationFailed) as refused:
        idns({"approvalDate": {"left_date": "2026-11-28"}})
    assert refused.value.field == "approvalDate[left_date]"


def test_d1_a_split_cost_child_invoice_names_its_parent_in_parent_data(client, state):
    state.bulk_insert("invoices", [{"status": 2}, {"status": 2, "parentData": 1}])

    summaries = list(client.list_all("/invoices"))

    assert [(i["idn"], i["parentData"], i["logicType"]) for i in summaries] == [(1, None, 0), (2, {"idn": 1}, 0)]


def test_d8_a_documents_files_are_listed_in_its_details_and_downloaded_by_id(client, state, catalog):
    state.insert("invoices", {"status": 2, "supplier": catalog["supplier"]["id"],
                              "attachments": [{"name": "scan.pdf", "content": b"%PDF-1.7 scan"},
                                              {"name": "photo.heic", "content": b"heic"}]})
    order = state.insert("purchaseorders", {"status": 2, "attachments": [{"name": "quote.xlsx", "content": b"xl"}]})

    details = client.get("/invoices/1")
    assert details["attachments"] == [
        {"id": 1, "name": "scan.pdf", "contentType": "application/pdf", "size": 13},
        {"id": 2, "name": "photo.heic", "contentType": details["attachments"][1]["contentType"], "size": 4}]
    assert "attachments" not in next(iter(client.list_all("/invoices")))  # a summary leaves them out
    assert client.download("/attachments/1") == (b"%PDF-1.7 scan", "application/pdf")
    assert client.download(f"/attachments/{order['attachments'][0]['id']}")[0] == b"xl"
    with pytest.raises(NotFound):
        client.download("/attachments/99")
