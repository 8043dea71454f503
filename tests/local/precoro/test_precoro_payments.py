"""Payments (D9): POST /payments records a payment of an invoice, which becomes Partly Paid, then Paid."""

from __future__ import annotations

import pytest

from engine.clients.errors import ValidationFailed


@pytest.fixture
def invoice(state):
    supplier = state.insert("suppliers", {"name": "Acme"})
    return state.insert("invoices", {"status": 2, "invoiceNumber": "INV-7", "supplier": supplier["id"],
                                     "items": [{"name": "Rent", "quantity": 1, "price": "100"}]})


def test_d9_a_payment_is_a_form_and_makes_the_invoice_partly_paid_then_paid(http, client, invoice):
    first = http.post("/payments", data={"invoice[id]": invoice["id"], "sumPaid": "40", "payDate": "2026-11-01",
                                         "logicType": "0"})

    assert first.status_code == 201
    paid = first.json()
    assert paid["id"] >= 50001 and paid["idn"] == 1 and paid["invoice"] == {"id": invoice["id"], "idn": invoice["idn"]}
    assert (paid["sumPaid"], paid["payDate"], paid["logicType"], paid["externalId"]) == (40.0, "2026-11-01", 0, None)
    shown = client.get(f"/invoices/{invoice['idn']}")
    assert (shown["status"], shown["statusString"], shown["sumPaid"]) == (4, "Partly Paid", 40.0)
    assert shown["payments"] == [{"id": paid["id"], "idn": 1, "sumPaid": 40.0, "payDate": "2026-11-01", "externalId": None}]
    assert shown["updateDate"] >= invoice["updateDate"]

    client.create("/payments", {"invoice": {"id": invoice["id"]}, "sumPaid": "60", "payDate": "2026-11-02T10:00:00Z"})
    shown = client.get(f"/invoices/{invoice['idn']}")
    assert (shown["status"], shown["statusString"], shown["sumPaid"]) == (5, "Paid", 100.0)
    assert [p["payDate"] for p in shown["payments"]] == ["2026-11-01", "2026-11-02"]


def test_d9_a_fully_paid_invoice_refuses_more_with_the_real_error(http, client, invoice):
    client.create("/payments", {"invoice": {"id": invoice["id"]}, "sumPaid": "100", "payDate": "2026-11-01"})

    again = http.post("/payments", data={"invoice[id]": invoice["id"], "sumPaid": "1", "payDate": "2026-11-01"})

    assert again.status_code == 422
    assert again.json() == {"errors": {"errors": {"sumPaid": "The Invoice is already fully paid."}}}


@pytest.mark.parametrize("form, field", [
    ({"sumPaid": "150"}, "sumPaid"),  # more than is left to pay
    ({"sumPaid": "0"}, "sumPaid"),
    ({"payDate": "01.11.2026"}, "payDate"),
    ({"invoice[id]": "999"}, "invoice[id]"),
    ({"externalId": "qbo-1"}, "externalId"),  # set by PATCH only
])
def test_d9_a_payment_the_invoice_cannot_take_is_refused_on_its_field(http, invoice, form, field):
    refused = http.post("/payments", data={"invoice[id]": invoice["id"], "sumPaid": "10", "payDate": "2026-11-01", **form})

    assert refused.status_code == 422 and field in refused.json()["errors"]["errors"]
    assert http.get(f"/invoices/{invoice['idn']}").json()["sumPaid"] == 0.0


def test_d9_only_an_approved_invoice_can_be_paid(client, state, invoice):
    draft = state.insert("invoices", {"status": 1, "supplier": invoice["supplier"]["id"],
                                      "items": [{"name": "Rent", "quantity": 1, "price": "100"}]})

    with pytest.raises(ValidationFailed, match="approved"):
        client.create("/payments", {"invoice": {"id": draft["id"]}, "sumPaid": "10", "payDate": "2026-11-01"})


def test_d9_payments_are_listed_by_external_id_and_modified_since_and_patched_by_idn(http, client, clock, invoice):
    made = client.create("/payments", {"invoice": {"id": invoice["id"]}, "sumPaid": "10", "payDate": "2026-11-01"})
    since = clock.datetime()
    clock.advance(5)
    client.set_external_id("/payments", made["idn"], "qbo-billpayment-7-3")

    assert [p["id"] for p in client.list_all("/payments", params={"external_id": ["qbo-billpayment-7-3"]})] == [made["id"]]
    assert [p["id"] for p in client.list_all("/payments", modified_since=since)] == [made["id"]]
    assert client.find_by_external_id("/payments", "qbo-other") is None
    assert [p["externalId"] for p in client.get(f"/invoices/{invoice['idn']}")["payments"]] == ["qbo-billpayment-7-3"]


def test_d9_payments_take_no_put_and_no_delete(http, client, invoice):
    made = client.create("/payments", {"invoice": {"id": invoice["id"]}, "sumPaid": "10", "payDate": "2026-11-01"})

    for method in ("PUT", "DELETE"):
        answer = http.request(method, f"/payments/{made['idn']}")
        assert answer.status_code == 405 and answer.headers["Allow"] == "GET, PATCH"
