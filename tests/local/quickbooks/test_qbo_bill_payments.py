"""BillPayment (D9): paying Bills by cheque or credit card, with or without a vendor credit applied, what it does to
them, refusals, void, delete, CDC, webhooks."""

from __future__ import annotations

import pytest

AIRBYTE = "airbytehq-airbyte-source-quickbooks/expected_records.subset.jsonl"


@pytest.fixture
def books(create):
    """A vendor with a 100.00 Bill, another vendor, a bank account and a credit card account."""
    vendor = create("Vendor", {"DisplayName": "Hall Properties"})
    other = create("Vendor", {"DisplayName": "Someone Else"})
    expense = create("Account", {"Name": "Rent or Lease", "AccountType": "Expense"})
    bill = create("Bill", {"VendorRef": {"value": vendor["Id"]}, "Line": [
        {"Amount": 100, "DetailType": "AccountBasedExpenseLineDetail",
         "AccountBasedExpenseLineDetail": {"AccountRef": {"value": expense["Id"]}}}]})
    return {"vendor": vendor, "other": other, "bill": bill, "expense": expense,
            "bank": create("Account", {"Name": "Checking", "AccountType": "Bank"}),
            "card": create("Account", {"Name": "Visa", "AccountType": "Credit Card"})}


def payment(books, amount: float, pay_type: str = "Check", vendor: str = "vendor", bill: str = "bill") -> dict:
    detail = {"CheckPayment": {"BankAccountRef": {"value": books["bank"]["Id"]}}} if pay_type == "Check" \
        else {"CreditCardPayment": {"CCAccountRef": {"value": books["card"]["Id"]}}}
    return {"VendorRef": {"value": books[vendor]["Id"]}, "PayType": pay_type, **detail, "TotalAmt": amount,
            "Line": [{"Amount": amount, "LinkedTxn": [{"TxnId": books[bill]["Id"], "TxnType": "Bill"}]}]}


def test_d9_a_cheque_lowers_the_bills_balance_and_each_names_the_other(api, create, books, real_payload):
    paid = create("BillPayment", payment(books, 40))

    assert paid["PayType"] == "Check" and paid["TotalAmt"] == 40 and paid["SyncToken"] == "0"
    assert paid["CheckPayment"]["BankAccountRef"] == {"value": books["bank"]["Id"], "name": "Checking"}
    assert paid["VendorRef"]["name"] == "Hall Properties" and paid["CurrencyRef"]["value"] == "USD"
    assert paid["Line"] == [{"Amount": 40.0, "LinkedTxn": [{"TxnId": books["bill"]["Id"], "TxnType": "Bill"}]}]
    bill = api.get(f"/bill/{books['bill']['Id']}").json()["Bill"]
    assert bill["Balance"] == 60 and bill["TotalAmt"] == 100 and bill["SyncToken"] == "1"
    assert bill["LinkedTxn"] == [{"TxnId": paid["Id"], "TxnType": "BillPaymentCheck"}]
    # The same shape as a real Bill paid by cheque (airbyte's bill 24).
    [real] = [row["data"] for row in real_payload(AIRBYTE) if row["stream"] == "bills" and row["data"].get("LinkedTxn")]
    assert [set(link) for link in real["LinkedTxn"]] == [set(link) for link in bill["LinkedTxn"]]
    assert real["LinkedTxn"][0]["TxnType"] == bill["LinkedTxn"][0]["TxnType"]


def test_d9_a_credit_card_payment_pays_the_rest(api, create, books):
    create("BillPayment", payment(books, 40))
    card = create("BillPayment", payment(books, 60, "CreditCard"))

    assert card["CreditCardPayment"]["CCAccountRef"]["name"] == "Visa" and "CheckPayment" not in card
    bill = api.get(f"/bill/{books['bill']['Id']}").json()["Bill"]
    assert bill["Balance"] == 0
    assert [link["TxnType"] for link in bill["LinkedTxn"]] == ["BillPaymentCheck", "BillPaymentCreditCard"]


@pytest.mark.parametrize("case, element, detail", [
    ("more than its balance", "Line.Amount", "is more than the open balance of bill"),
    ("another vendor's bill", "Line.LinkedTxn", "is not a bill of this vendor"),
    ("a total unlike its lines", "TotalAmt", "must equal the bills paid (10.00) less the credits applied (0.00)"),
])
def test_d9_over_paying_or_paying_another_vendors_bill_is_a_business_fault(api, books, fault, case, element, detail):
    body = {"more than its balance": payment(books, 120),
            "another vendor's bill": payment(books, 10, vendor="other"),
            "a total unlike its lines": {**payment(books, 10), "TotalAmt": 99}}[case]

    refused = api.post("/billpayment", json=body)

    assert refused.status_code == 400 and refused.json()["Fault"]["type"] == "ValidationFault"
    error = fault(refused)
    assert error["code"] == "6000" and error["element"] == element and detail in error["Detail"]
    assert api.get(f"/bill/{books['bill']['Id']}").json()["Bill"]["Balance"] == 100  # nothing paid


def test_d9_a_payment_needs_its_pay_type_account_and_a_bill(api, books, fault):
    body = payment(books, 10)
    no_bank = {**body, "CheckPayment": {}}
    both = {**body, "CreditCardPayment": {"CCAccountRef": {"value": books["card"]["Id"]}}}
    unknown_bill = {**body, "Line": [{"Amount": 10, "LinkedTxn": [{"TxnId": "9999", "TxnType": "Bill"}]}]}

    assert fault(api.post("/billpayment", json={**body, "PayType": "Cash"}))["code"] == "2170"
    assert fault(api.post("/billpayment", json=no_bank))["element"] == "CheckPayment.BankAccountRef"
    assert fault(api.post("/billpayment", json=both))["code"] == "6000"
    assert fault(api.post("/billpayment", json=unknown_bill))["code"] == "2500"


def test_d9_voiding_or_deleting_a_payment_gives_the_bill_its_balance_back(api, create, books, query):
    cheque = create("BillPayment", payment(books, 40))
    card = create("BillPayment", payment(books, 10, "CreditCard"))

    voided = api.post("/billpayment", params={"operation": "update", "include": "void"},
                      json={"Id": cheque["Id"], "SyncToken": "0", "sparse": True}).json()["BillPayment"]

    assert voided["TotalAmt"] == 0 and voided["Line"][0]["Amount"] == 0 and voided["SyncToken"] == "1"
    assert voided["PrivateNote"] == "Voided" and voided["Line"][0]["LinkedTxn"][0]["TxnId"] == books["bill"]["Id"]
    bill = api.get(f"/bill/{books['bill']['Id']}").json()["Bill"]
    assert bill["Balance"] == 90 and bill["LinkedTxn"] == [{"TxnId": card["Id"], "TxnType": "BillPaymentCreditCard"}]

    deleted = api.post("/billpayment", params={"operation": "delete"}, json={"Id": card["Id"], "SyncToken": "0"})
    assert deleted.json()["BillPayment"] == {"domain": "QBO", "status": "Deleted", "Id": card["Id"]}
    bill = api.get(f"/bill/{books['bill']['Id']}").json()["Bill"]
    assert bill["Balance"] == 100 and "LinkedTxn" not in bill
    assert query("SELECT * FROM BillPayment")["BillPayment"] == [api.get(f"/billpayment/{cheque['Id']}").json()["BillPayment"]]


def test_d9_a_void_in_a_batch_and_a_void_of_another_entity(api, create, books, fault):
    cheque = create("BillPayment", payment(books, 40))
    answer = api.post("/batch", json={"BatchItemRequest": [
        {"bId": "b1", "operation": "update", "optionsData": "void",
         "BillPayment": {"Id": cheque["Id"], "SyncToken": "0", "sparse": True}},
        {"bId": "b2", "operation": "update", "optionsData": "void",
         "Bill": {"Id": books["bill"]["Id"], "SyncToken": "1", "sparse": True}}]}).json()["BatchItemResponse"]

    assert answer[0]["BillPayment"]["TotalAmt"] == 0
    assert answer[1]["Fault"]["Error"][0]["code"] == "500"  # our convention: only payments void here


def test_d9_an_edited_bill_stays_paid(api, create, books):
    create("BillPayment", payment(books, 40))
    bill = api.get(f"/bill/{books['bill']['Id']}").json()["Bill"]

    edited = api.post("/bill", json={"Id": bill["Id"], "SyncToken": bill["SyncToken"], "sparse": True,
                                     "PrivateNote": "checked"}).json()["Bill"]

    assert edited["Balance"] == 60 and edited["LinkedTxn"] == bill["LinkedTxn"]


def test_d9_payments_and_the_bills_they_pay_are_in_cdc_and_told_to_webhooks(api, create, books, state, clock):
    events = []
    state.on_change = lambda realm, entity, record_id, operation, when: events.append((entity, record_id, operation))
    since = clock.now.isoformat()
    clock.advance(seconds=1)
    kept = create("BillPayment", payment(books, 40))
    gone = create("BillPayment", payment(books, 10))
    api.post("/billpayment", params={"operation": "delete"}, json={"Id": gone["Id"], "SyncToken": "0"})
    api.post("/billpayment", params={"operation": "update", "include": "void"},
             json={"Id": kept["Id"], "SyncToken": "0", "sparse": True})

    groups = api.get("/cdc", params={"entities": "BillPayment,Bill", "changedSince": since}).json()
    payments, bills = groups["CDCResponse"][0]["QueryResponse"]

    assert [(p["Id"], p.get("status")) for p in payments["BillPayment"]] == [(kept["Id"], None), (gone["Id"], "Deleted")]
    assert [b["Id"] for b in bills["Bill"]] == [books["bill"]["Id"]]
    bill = books["bill"]["Id"]
    assert events == [("BillPayment", kept["Id"], "Create"), ("Bill", bill, "Update"),
                      ("BillPayment", gone["Id"], "Create"), ("Bill", bill, "Update"),
                      ("BillPayment", gone["Id"], "Delete"), ("Bill", bill, "Update"),
                      ("BillPayment", kept["Id"], "Void"), ("Bill", bill, "Update")]


# -- a vendor credit applied in a payment (D8, D9) ---------------------------------------------------


def credit_of(create, books, amount: float, vendor: str = "vendor") -> dict:
    return create("VendorCredit", {"VendorRef": {"value": books[vendor]["Id"]}, "Line": [
        {"Amount": amount, "DetailType": "AccountBasedExpenseLineDetail",
         "AccountBasedExpenseLineDetail": {"AccountRef": {"value": books["expense"]["Id"]}}}]})


def with_credit(books, paid: float, credit: dict, applied: float, total: float | None = None) -> dict:
    """A cheque that pays `paid` of the Bill, `applied` of it from the vendor's credit: the rest from the bank."""
    body = payment(books, paid)
    body["Line"].append({"Amount": applied, "LinkedTxn": [{"TxnId": credit["Id"], "TxnType": "VendorCredit"}]})
    return {**body, "TotalAmt": round(paid - applied, 2) if total is None else total}


def test_d9_a_vendor_credit_applied_in_a_payment_settles_the_bill_and_is_used_up(api, create, books):
    credit = credit_of(create, books, 30)

    paid = create("BillPayment", with_credit(books, 100, credit, 30))

    assert paid["TotalAmt"] == 70  # what left the bank: the Bill's line less the credit's
    bill = api.get(f"/bill/{books['bill']['Id']}").json()["Bill"]
    assert bill["Balance"] == 0 and bill["LinkedTxn"] == [{"TxnId": paid["Id"], "TxnType": "BillPaymentCheck"}]
    applied = api.get(f"/vendorcredit/{credit['Id']}").json()["VendorCredit"]
    assert (applied["TotalAmt"], applied["Balance"], applied["SyncToken"]) == (30, 0, "1")
    assert applied["LinkedTxn"] == [{"TxnId": paid["Id"], "TxnType": "BillPaymentCheck"}]
    # Edited, the credit stays applied.
    edited = api.post("/vendorcredit", json={"Id": credit["Id"], "SyncToken": "1", "sparse": True,
                                             "PrivateNote": "checked"}).json()["VendorCredit"]
    assert edited["Balance"] == 0 and edited["LinkedTxn"] == applied["LinkedTxn"]


def test_d9_a_credit_applied_in_part_keeps_the_rest_and_a_void_gives_it_back(api, create, books, clock):
    credit = credit_of(create, books, 50)
    since = clock.now.isoformat()
    clock.advance(seconds=1)

    cheque = create("BillPayment", with_credit(books, 60, credit, 20))

    assert api.get(f"/vendorcredit/{credit['Id']}").json()["VendorCredit"]["Balance"] == 30
    assert api.get(f"/bill/{books['bill']['Id']}").json()["Bill"]["Balance"] == 40
    groups = api.get("/cdc", params={"entities": "VendorCredit", "changedSince": since}).json()
    [changed] = groups["CDCResponse"][0]["QueryResponse"]
    assert [c["Id"] for c in changed["VendorCredit"]] == [credit["Id"]]  # CDC tells a reader the credit changed
    api.post("/billpayment", params={"operation": "update", "include": "void"},
             json={"Id": cheque["Id"], "SyncToken": "0", "sparse": True})
    back = api.get(f"/vendorcredit/{credit['Id']}").json()["VendorCredit"]
    assert back["Balance"] == 50 and "LinkedTxn" not in back
    assert api.get(f"/bill/{books['bill']['Id']}").json()["Bill"]["Balance"] == 100


@pytest.mark.parametrize("case, element, detail", [
    ("more than the credit's balance", "Line.Amount", "is more than the open balance of vendor credit"),
    ("another vendor's credit", "Line.LinkedTxn", "is not a vendor credit of this vendor"),
    ("credits over the bills", "Line", "credits applied (40.00) are more than the bills paid (30.00)"),
    ("a credit alone", "Line", "must pay at least one bill"),
    ("a total that counts the credit", "TotalAmt",
     "must equal the bills paid (100.00) less the credits applied (30.00)"),
])
def test_d9_a_credit_applied_wrongly_is_a_business_fault(api, create, books, fault, case, element, detail):
    mine, theirs = credit_of(create, books, 40), credit_of(create, books, 40, vendor="other")
    body = {"more than the credit's balance": lambda: with_credit(books, 100, mine, 45),
            "another vendor's credit": lambda: with_credit(books, 100, theirs, 30),
            "credits over the bills": lambda: with_credit(books, 30, mine, 40, total=0),
            "a credit alone": lambda: {**payment(books, 0), "Line": [
                {"Amount": 10, "LinkedTxn": [{"TxnId": mine["Id"], "TxnType": "VendorCredit"}]}]},
            "a total that counts the credit": lambda: with_credit(books, 100, mine, 30, total=100)}[case]()

    error = fault(api.post("/billpayment", json=body))

    assert error["code"] == "6000" and error["element"] == element and detail in error["Detail"]
    assert api.get(f"/vendorcredit/{mine['Id']}").json()["VendorCredit"]["Balance"] == 40  # nothing applied
    assert api.get(f"/bill/{books['bill']['Id']}").json()["Bill"]["Balance"] == 100
