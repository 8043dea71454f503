"""The local QuickBooks' VendorCredit and Attachable (D8): what QuickBooks stores and refuses, and
`/upload` answering per file as the captured payloads do (attachment__create_for_invoice__0,
attachment__error_estimate__0)."""

from __future__ import annotations

import base64
import json

import httpx
import pytest

from engine.clients.errors import ValidationFailed

UPLOAD = "minimul-qbo_api/attachment__create_for_invoice__0.json"
REFUSED = "minimul-qbo_api/attachment__error_estimate__0.json"


@pytest.fixture
def books(create) -> dict:
    vendor = create("Vendor", {"DisplayName": "Paper Co"})
    account = create("Account", {"Name": "Office supplies", "AccountType": "Expense"})
    return {"vendor": vendor["Id"], "account": account["Id"]}


def credit(books: dict, **more) -> dict:
    line = {"Amount": 40.5, "DetailType": "AccountBasedExpenseLineDetail",
            "AccountBasedExpenseLineDetail": {"AccountRef": {"value": books["account"]}}}
    return {"VendorRef": {"value": books["vendor"]}, "Line": [line], "DocNumber": "CN-7", **more}


def multipart(*files: tuple[str, dict, bytes], base64_content: bool = False) -> tuple[bytes, str]:
    """A `/upload` body as python-quickbooks sends it: metadata and content parts numbered 01, 02..."""
    boundary = "test-boundary"
    parts = []
    for number, metadata, content in files:
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="file_metadata_{number}"\r\n'
                     f"Content-Type: application/json\r\n\r\n{json.dumps(metadata)}\r\n".encode())
        encoding = "Content-Transfer-Encoding: base64\r\n" if base64_content else ""
        body = base64.b64encode(content) if base64_content else content
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="file_content_{number}"; '
                     f'filename="{metadata.get("FileName", "")}"\r\nContent-Type: application/octet-stream\r\n'
                     f"{encoding}\r\n".encode() + body + b"\r\n")
    return b"".join(parts) + f"--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


def attach_to(entity: str, record_id: str, name: str) -> dict:
    return {"AttachableRef": [{"EntityRef": {"type": entity, "value": record_id}, "IncludeOnSend": False}],
            "FileName": name, "ContentType": "application/pdf"}


def upload(api: httpx.Client, *files, **options) -> httpx.Response:
    body, content_type = multipart(*files, **options)
    return api.post("/upload", content=body, headers={"Content-Type": content_type})


def test_d8_a_vendor_credit_is_stored_as_quickbooks_stores_one(create, books):
    stored = create("VendorCredit", credit(books, PrivateNote="Precoro credit note 7"))
    assert stored["TotalAmt"] == stored["Balance"] == 40.5  # nothing applied yet
    assert stored["VendorRef"]["name"] == "Paper Co" and stored["CurrencyRef"]["value"] == "USD"
    assert "DueDate" not in stored and stored["SyncToken"] == "0"


@pytest.mark.parametrize(("more", "code", "element"), [
    ({"DocNumber": "X" * 22}, "2050", "DocNumber"),  # 21 characters at most
    ({"SalesTermRef": {"value": "1"}}, "2010", None),  # a credit has no terms
    ({"VendorRef": {"value": "999"}}, "2500", "VendorRef"),
    ({"Line": []}, "2020", "Line"),
])
def test_d8_a_vendor_credit_is_refused_as_quickbooks_refuses_it(api, books, fault, more, code, element):
    response = api.post("/vendorcredit", json=credit(books, **more))
    assert response.status_code == 400
    error = fault(response)
    assert error["code"] == code and error.get("element") == element


def test_d8_an_upload_answers_like_the_real_one_and_keeps_the_file(api, create, books, real_payload):
    bill = create("Bill", credit(books))
    response = upload(api, ("01", attach_to("Bill", bill["Id"], "scan.pdf"), b"%PDF-1.7 the scan"),
                      base64_content=True)
    assert response.status_code == 200, response.text
    [answer] = response.json()["AttachableResponse"]
    [real] = real_payload(UPLOAD)["AttachableResponse"]
    assert set(real["Attachable"]) <= set(answer["Attachable"])
    attachable = answer["Attachable"]
    assert attachable["Size"] == len(b"%PDF-1.7 the scan") and attachable["FileName"] == "scan.pdf"
    assert attachable["AttachableRef"][0]["EntityRef"] == {"type": "Bill", "value": bill["Id"]}
    # The file as sent, at its download address; and the Attachable is queried like any record.
    assert httpx.get(attachable["TempDownloadUri"]).content == b"%PDF-1.7 the scan"
    found = api.get("/query", params={"query": "SELECT * FROM Attachable"}).json()["QueryResponse"]["Attachable"]
    assert [a["Id"] for a in found] == [attachable["Id"]]


@pytest.mark.parametrize("name", ["photos.zip", "IMG_0001.HEIC"])
def test_d8_each_file_fails_alone_a_refused_type_and_an_unknown_record(api, create, books, real_payload, name):
    bill = create("Bill", credit(books))
    response = upload(api, ("01", attach_to("Bill", bill["Id"], "scan.pdf"), b"%PDF"),
                      ("02", attach_to("Bill", bill["Id"], name), b"PK"),
                      ("03", attach_to("Estimate", "75", "quote.pdf"), b"%PDF"))
    assert response.status_code == 200
    ok, refused_type, unknown = response.json()["AttachableResponse"]
    assert ok["Attachable"]["FileName"] == "scan.pdf"
    assert refused_type["Fault"]["Error"][0]["code"] == "6000"
    assert "not supported for attachments" in refused_type["Fault"]["Error"][0]["Detail"]
    [real] = real_payload(REFUSED)["AttachableResponse"]
    assert unknown == real  # the real refusal, word for word
    found = api.get("/query", params={"query": "SELECT * FROM Attachable"}).json()["QueryResponse"]["Attachable"]
    assert len(found) == 1  # only the file that went


def test_d8_an_upload_with_a_requestid_is_answered_once(api, create, books):
    bill = create("Bill", credit(books))
    body, content_type = multipart(("01", attach_to("Bill", bill["Id"], "scan.pdf"), b"%PDF"))
    first, again = (api.post("/upload", params={"requestid": "attach-1"}, content=body,
                             headers={"Content-Type": content_type}) for _ in range(2))
    assert first.content == again.content
    found = api.get("/query", params={"query": "SELECT * FROM Attachable"}).json()["QueryResponse"]["Attachable"]
    assert len(found) == 1


def test_d8_an_upload_without_files_or_not_multipart_is_refused(api, fault):
    response = api.post("/upload", json={"FileName": "scan.pdf"})
    assert response.status_code == 400 and fault(response)["code"] == "2010"


def test_d8_the_client_uploads_and_raises_the_files_fault(client, create, books):
    vendor_credit = create("VendorCredit", credit(books))
    attachable = client.upload("credit.pdf", "application/pdf", b"%PDF", ("VendorCredit", vendor_credit["Id"]))
    assert attachable["AttachableRef"][0]["EntityRef"]["value"] == vendor_credit["Id"]
    with pytest.raises(ValidationFailed, match="not supported for attachments"):
        client.upload("scans.zip", "application/zip", b"PK", ("VendorCredit", vendor_credit["Id"]))
