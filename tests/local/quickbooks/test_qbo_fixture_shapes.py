"""The real captured payloads (reference/qbo_fixtures): our client reads every one of them, and our
server answers the same calls with the same envelope keys and the same JSON types."""

from __future__ import annotations

import httpx
import pytest

from engine.clients.auth import OAuthSession, OAuthTokens, StaticToken
from engine.clients.errors import AuthenticationFailed, DuplicateName, NotFound, StaleObject, ValidationFailed
from engine.clients.quickbooks import BatchOp, QuickBooksClient, error_from_response

MINIMUL = "minimul-qbo_api/"
BOULEVARD = "Boulevard-ExQuickBooks/"
RWESTLUND = "rwestlund-quickbooks-go/"
DOTNET = "intuit-QuickBooks-V3-DotNET-SDK/"
# Objects whose keys are fixed by the protocol rather than by the data: none may be missing.
ENVELOPES = {"QueryResponse", "Fault", "Error", "fault", "error", "BatchItemResponse", "CDCResponse"}


def shape_differences(ours: object, theirs: object, path: str = "$", envelope: bool = True) -> list[str]:
    """Where `ours` differs from `theirs` in JSON type, or lacks a key of an envelope object."""
    kinds = {bool: "boolean", int: "number", float: "number", str: "string", type(None): "null",
             dict: "object", list: "array"}
    if kinds[type(ours)] != kinds[type(theirs)]:
        return [f"{path}: {kinds[type(ours)]} where the real API has {kinds[type(theirs)]}"]
    problems = []
    if isinstance(theirs, dict):
        if envelope:
            problems += [f"{path}: missing key {key!r}" for key in sorted(set(theirs) - set(ours))]
        for key in sorted(set(theirs) & set(ours)):
            problems += shape_differences(ours[key], theirs[key], f"{path}.{key}", key in ENVELOPES)
    elif isinstance(theirs, list) and theirs and ours:
        problems += shape_differences(ours[0], theirs[0], f"{path}[0]", envelope)
    return problems


def test_the_shape_comparison_notices_missing_envelope_keys_and_changed_types():
    real = {"QueryResponse": {"Vendor": [{"Id": "1", "Balance": 0, "Extra": True}], "maxResults": 1}, "time": "t"}
    ours = {"QueryResponse": {"Vendor": [{"Id": 1, "Balance": 0.5}]}, "time": "t"}

    assert shape_differences(ours, real) == ["$.QueryResponse: missing key 'maxResults'",
                                             "$.QueryResponse.Vendor[0].Id: number where the real API has string"]


def renamed(payload: object, old: str, new: str) -> object:
    """The payload with every key `old` renamed `new` (the real capture used another entity)."""
    if isinstance(payload, dict):
        return {(new if key == old else key): renamed(value, old, new) for key, value in payload.items()}
    if isinstance(payload, list):
        return [renamed(item, old, new) for item in payload]
    return payload


def replay_client(payload: object, status: int = 200) -> QuickBooksClient:
    """Our client, reading a captured payload as if QuickBooks had just sent it."""
    transport = httpx.MockTransport(lambda request: httpx.Response(status, json=payload))
    return QuickBooksClient("https://quickbooks.api.intuit.com/v3", "4620816365", StaticToken("t"),
                            transport=transport, max_retries=0)


# -- our client reads every captured payload --------------------------------------------------------

READS = [
    (RWESTLUND + "vendor.json", lambda c: c.read("Vendor", "30")["DisplayName"], "Books by Bessie"),
    (RWESTLUND + "bill.json", lambda c: c.read("Bill", "25")["TotalAmt"], 103.55),
    (RWESTLUND + "account.json", lambda c: c.read("Account", "94")["AccountType"], "Accounts Receivable"),
    (BOULEVARD + "item_read_item.json", lambda c: c.read("Item", "11")["SyncToken"], "3"),
    (BOULEVARD + "item_create_item.json", lambda c: c.create("Item", {"Name": "Garden Supplies"})["Id"], "19"),
    (BOULEVARD + "item_update_item.json", lambda c: c.update("Item", {"Id": "5", "SyncToken": "2"})["SyncToken"], "3"),
    (BOULEVARD + "preferences_read_preferences.json",
     lambda c: c.preferences()["CurrencyPrefs"]["HomeCurrency"]["value"], "USD"),
    (BOULEVARD + "preferences_update_preferences.json",
     lambda c: c.update("Preferences", {"SyncToken": "4"})["Id"], "1"),
    (BOULEVARD + "api_query.json", lambda c: len(list(c.query_all("Item"))) > 0, True),
    (MINIMUL + "all__vendors_by_5__0.json", lambda c: c.count("Vendor"), 26),
    (MINIMUL + "all__vendors_by_5__6.json", lambda c: c.query("SELECT * FROM Vendor")["maxResults"], 1),
    (MINIMUL + "get__inactive_vendors__0.json",
     lambda c: sum(not v["Active"] for v in c.query_all("Vendor")), 1),
    (MINIMUL + "get__display_name__0.json",
     lambda c: c.query("SELECT * FROM Customer")["Customer"][0]["DisplayName"], "Amy's Bird Sanctuary"),
    (MINIMUL + "misc__ampersand__0.json",
     lambda c: c.query("SELECT * FROM Vendor")["Vendor"][0]["DisplayName"], "Robertson & Associates"),
    (MINIMUL + "create__customer__0.json", lambda c: c.create("Customer", {"DisplayName": "Doe5, Jane"})["Id"], "70"),
    (MINIMUL + "deactivate__employee__1.json",
     lambda c: c.update("Employee", {"Id": "55", "SyncToken": "1", "Active": False})["DisplayName"],
     "Emily Platt (deleted)"),
    (MINIMUL + "deactivate__account__1.json",
     lambda c: c.update("Account", {"Id": "5", "SyncToken": "1", "Active": False})["Active"], False),
    (MINIMUL + "cdc__basic__0.json",
     lambda c: len(c.cdc(["Estimate"], "2011-10-10T09:00:00-07:00")["Estimate"]) > 0, True),
]


@pytest.mark.parametrize(("name", "call", "expected"), READS, ids=[name for name, _, _ in READS])
def test_our_client_reads_the_captured_payload(real_payload, name, call, expected):
    assert call(replay_client(real_payload(name))) == expected


def test_our_client_reads_the_captured_batch_with_typed_item_errors(real_payload):
    client = replay_client(real_payload(MINIMUL + "batch__basic__0.json"))
    ops = [BatchOp("bid1", "create", "Vendor", {"DisplayName": "Boraski Family Store"}),
           BatchOp("bid2", "delete", "Invoice", {"Id": "129", "SyncToken": "0"}),
           BatchOp("bid3", "update", "SalesReceipt", {"Id": "11", "SyncToken": "0"}),
           BatchOp("bid4", "query", "SalesReceipt", "select * from SalesReceipt")]

    outcomes = client.batch(ops)

    assert outcomes[0].obj["Id"] == "71"
    assert isinstance(outcomes[1].error, NotFound) and isinstance(outcomes[2].error, StaleObject)
    assert outcomes[3].obj["maxResults"] == 2


AIRBYTE_STREAMS = {"accounts": "Account", "bills": "Bill", "purchase_orders": "PurchaseOrder", "items": "Item",
                   "tax_codes": "TaxCode", "tax_rates": "TaxRate", "terms": "Term"}


def airbyte_records(real_payload) -> list[tuple[str, dict]]:
    """(entity, record) of the captured Airbyte rows, without the connector's own `airbyte_cursor`."""
    rows = real_payload("airbytehq-airbyte-source-quickbooks/expected_records.subset.jsonl")
    return [(AIRBYTE_STREAMS[row["stream"]], {k: v for k, v in row["data"].items() if k != "airbyte_cursor"})
            for row in rows]


def test_our_client_reads_the_captured_airbyte_records(real_payload):
    for entity, record in airbyte_records(real_payload):
        assert replay_client({entity: record, "time": "2023-03-01T00:00:00.000-08:00"}).read(entity, record["Id"]) == record


ERRORS = [
    (MINIMUL + "error__validation__0.json", 400, DuplicateName, "6240", None),
    (MINIMUL + "error__400__1.json", 400, ValidationFailed, "4001", None),
    (MINIMUL + "error__400_json__0.json", 400, ValidationFailed, "2010", None),
    (MINIMUL + "error__500__0.json", 400, ValidationFailed, "500", None),
    (MINIMUL + "error__500__1.json", 400, ValidationFailed, "2030", "Id"),
    (MINIMUL + "error__401__0.json", 401, AuthenticationFailed, "3200", None),
    (BOULEVARD + "api_query_error.json", 400, ValidationFailed, "4000", None),
    (BOULEVARD + "item_create_item_error.json", 400, ValidationFailed, "2020", "Name"),
    (BOULEVARD + "item_read_item_error.json", 400, NotFound, "610", None),
    (BOULEVARD + "item_update_item_error.json", 400, StaleObject, "5010", None),
    (BOULEVARD + "preferences_update_preferences_error.json", 400, StaleObject, "5010", None),
    (BOULEVARD + "sales_receipt_create_sales_receipt_error.json", 400, ValidationFailed, "2020", "Line.DetailType"),
]


@pytest.mark.parametrize(("name", "status", "kind", "code", "field"), ERRORS, ids=[e[0] for e in ERRORS])
def test_captured_faults_map_to_typed_errors(real_payload, name, status, kind, code, field):
    error = error_from_response(httpx.Response(status, json=real_payload(name)))

    assert type(error) is kind and error.code == code and error.field == field and error.status == status
    assert error.message and "REDACTED" not in str(error)


def test_captured_token_responses_parse(real_payload):
    tokens = OAuthTokens.from_response(real_payload(DOTNET + "success_token_response.json"), now=1000.0)
    failure = real_payload(DOTNET + "failure_token_response.json")
    transport = httpx.MockTransport(lambda request: httpx.Response(400, json=failure))
    session = OAuthSession("https://oauth.platform.intuit.com/oauth2/v1/tokens/bearer", "id", "secret",
                           OAuthTokens("a", 0, "r", 0), on_rotate=lambda _: None, transport=transport)

    with pytest.raises(ValidationFailed) as refused:
        session.bearer()

    assert tokens.access_expires_at == 4600.0 and tokens.refresh_expires_at == 1000.0 + 15552000
    assert refused.value.code == "error" and refused.value.detail == "error_description"


# -- our server answers the same calls in the same shapes -------------------------------------------

SYSTEM_FIELDS = {"Id", "SyncToken", "MetaData", "domain", "sparse", "FullyQualifiedName", "status"}


def unreferenced(record: dict) -> dict:
    """A real record's writable fields minus its references (they point into the captured company)."""
    return {key: value for key, value in record.items() if key not in SYSTEM_FIELDS and not key.endswith("Ref")}


class Company:
    """Our server, driven to reproduce each captured call."""

    def __init__(self, api: httpx.Client, state, realm: str) -> None:
        self.api, self.state, self.realm = api, state, realm

    def answer(self, response: httpx.Response) -> dict:
        assert response.status_code < 500, response.text
        return response.json()

    def get(self, path: str, **params) -> dict:
        return self.answer(self.api.get(path, params=params))

    def post(self, path: str, body: dict, **params) -> dict:
        return self.answer(self.api.post(path, json=body, params=params))

    def query(self, sql: str) -> dict:
        return self.get("/query", query=sql)

    def seed(self, entity: str, record: dict) -> dict:
        """A record made from a real one's writable fields (references are not checked on this path)."""
        fields = {key: value for key, value in record.items() if key not in SYSTEM_FIELDS}
        return self.state.bulk_insert(self.realm, entity, [fields])[0]

    def vendors(self, count: int, inactive: int = 0) -> None:
        made = self.state.bulk_insert(self.realm, "Vendor", [
            {"DisplayName": f"Vendor {n:02d}", "CompanyName": f"Company {n}", "PrimaryEmailAddr": {"Address": f"v{n}@x.com"},
             "BillAddr": {"Line1": "15 Main St.", "City": "Palo Alto", "PostalCode": "94303"}, "AcctNum": str(n)}
            for n in range(count)])
        for vendor in made[:inactive]:
            self.deactivate("Vendor", vendor)

    def deactivate(self, entity: str, record: dict) -> dict:
        return self.post(f"/{entity.lower()}", {"Id": record["Id"], "SyncToken": record["SyncToken"], "sparse": True,
                                                "Active": False})

    def bill(self) -> dict:
        vendor = self.post("/vendor", {"DisplayName": "Norton Lumber"})["Vendor"]
        item = self.post("/item", {"Name": "Pump"})["Item"]
        account = self.post("/account", {"Name": "Rent", "AccountType": "Expense"})["Account"]
        lines = [
            {"DetailType": "ItemBasedExpenseLineDetail", "Amount": 80.0, "Description": "Fountain Pump",
             "ItemBasedExpenseLineDetail": {"ItemRef": {"value": item["Id"]}, "Qty": 8, "UnitPrice": 10,
                                            "TaxCodeRef": {"value": "NON"}, "BillableStatus": "NotBillable"}},
            {"DetailType": "AccountBasedExpenseLineDetail", "Amount": 103.55, "Description": "Lumber",
             "AccountBasedExpenseLineDetail": {"AccountRef": {"value": account["Id"]}, "TaxCodeRef": {"value": "TAX"},
                                               "BillableStatus": "Billable"}},
        ]
        body = {"VendorRef": {"value": vendor["Id"]}, "Line": lines, "DueDate": "2026-02-14"}
        return self.post("/bill", body)["Bill"]

    def batch(self) -> dict:
        stale = self.post("/vendor", {"DisplayName": "Stale"})["Vendor"]
        self.post("/vendor", {"Id": stale["Id"], "SyncToken": "0", "sparse": True, "AcctNum": "1"})
        self.vendors(2)
        return self.post("/batch", {"BatchItemRequest": [
            {"bId": "bid1", "operation": "create", "Vendor": {"DisplayName": "Boraski Family Store"}},
            {"bId": "bid2", "operation": "delete", "Bill": {"Id": "129", "SyncToken": "0"}},
            {"bId": "bid3", "operation": "update", "Vendor": {"Id": stale["Id"], "SyncToken": "0", "sparse": True}},
            {"bId": "bid4", "Query": "select * from Vendor where DisplayName LIKE 'Vendor%'"}]})

    def cdc(self) -> dict:
        self.vendors(4)
        return self.get("/cdc", entities="Vendor", changedSince="2026-01-15T00:00:00-08:00")

    def item(self, real: dict) -> dict:
        return self.get(f"/item/{self.seed('Item', real['Item'])['Id']}")

    def unauthorized(self) -> dict:
        return self.api.get("/preferences", headers={"Authorization": "Bearer expired"}).json()


SHAPES = [
    (MINIMUL + "create__customer__0.json", lambda c, real: c.post("/customer", {"DisplayName": "Doe5, Jane"})),
    (MINIMUL + "get__id__0.json", lambda c, real: c.get(f"/customer/{c.seed('Customer', real['Customer'])['Id']}")),
    (MINIMUL + "deactivate__employee__1.json",
     lambda c, real: c.deactivate("Employee", c.post("/employee", {"GivenName": "Emily", "FamilyName": "Platt"})["Employee"])),
    (MINIMUL + "deactivate__account__1.json",
     lambda c, real: c.deactivate("Account", c.post("/account", {"Name": "Fees Billed", "AccountType": "Income"})["Account"])),
    (MINIMUL + "all__vendors_by_5__0.json", lambda c, real: c.vendors(26) or c.query("SELECT COUNT(*) FROM Vendor")),
    (MINIMUL + "all__vendors_by_5__1.json",
     lambda c, real: c.vendors(26) or c.query("SELECT * FROM Vendor MAXRESULTS 5 STARTPOSITION 1")),
    (MINIMUL + "all__vendors_by_5__6.json",
     lambda c, real: c.vendors(26) or c.query("SELECT * FROM Vendor MAXRESULTS 5 STARTPOSITION 26")),
    (MINIMUL + "get__inactive_vendors__0.json",
     lambda c, real: c.vendors(5, inactive=1) or c.query("SELECT * FROM Vendor WHERE Active IN (true, false)")),
    (MINIMUL + "get__display_name__0.json",
     lambda c, real: c.post("/customer", {"DisplayName": "Amy's Bird Sanctuary"})
     and c.query("SELECT * FROM Customer WHERE DisplayName = 'Amy\\'s Bird Sanctuary'")),
    (MINIMUL + "misc__ampersand__0.json",
     lambda c, real: c.post("/vendor", {"DisplayName": "Robertson & Associates"})
     and c.query("SELECT * FROM Vendor WHERE DisplayName = 'Robertson & Associates'")),
    (MINIMUL + "error__validation__0.json",
     lambda c, real: c.post("/customer", {"DisplayName": "Weiskopf"}) and c.post("/customer", {"DisplayName": "Weiskopf"})),
    (MINIMUL + "error__400__1.json", lambda c, real: c.query("SELECT * FROM Custmoer")),
    (MINIMUL + "error__400_json__0.json", lambda c, real: c.post("/vendor", {"BadJson": True})),
    (MINIMUL + "error__500__0.json", lambda c, real: c.get("/customer/1/5")),
    (MINIMUL + "error__500__1.json", lambda c, real: c.get("/customer/1.5")),
    (MINIMUL + "error__401__0.json", lambda c, real: c.unauthorized()),
    (BOULEVARD + "api_query.json",
     lambda c, real: [c.seed("Item", item) for item in real["QueryResponse"]["Item"]] and c.query("SELECT * FROM Item")),
    (BOULEVARD + "api_query_error.json", lambda c, real: c.query("SELECT * FROM Item WHERE Name = NULL")),
    (BOULEVARD + "item_create_item.json", lambda c, real: c.post("/item", unreferenced(real["Item"]))),
    (BOULEVARD + "item_create_item_error.json", lambda c, real: c.post("/item", {"Type": "Service"})),
    (BOULEVARD + "item_read_item.json", lambda c, real: c.item(real)),
    (BOULEVARD + "item_read_item_error.json", lambda c, real: c.get("/item/424242")),
    (BOULEVARD + "item_update_item.json", lambda c, real: c.post("/item", {
        "Id": c.seed("Item", unreferenced(real["Item"]))["Id"], "SyncToken": "0", "sparse": True, "Description": "New"})),
    (BOULEVARD + "item_update_item_error.json", lambda c, real: c.post("/item", {
        "Id": c.seed("Item", {"Name": "Rock Fountain"})["Id"], "SyncToken": "3", "sparse": True})),
    (BOULEVARD + "preferences_read_preferences.json", lambda c, real: c.get("/preferences")),
    (BOULEVARD + "preferences_update_preferences.json",
     lambda c, real: c.post("/preferences", {"SyncToken": "0", "sparse": True, "ReportPrefs": real["Preferences"]["ReportPrefs"]})),
    (BOULEVARD + "preferences_update_preferences_error.json",
     lambda c, real: c.post("/preferences", {"SyncToken": "4", "sparse": True})),
    (RWESTLUND + "vendor.json", lambda c, real: c.get(f"/vendor/{c.seed('Vendor', real['Vendor'])['Id']}")),
    (RWESTLUND + "bill.json", lambda c, real: c.get(f"/bill/{c.bill()['Id']}")),
    (RWESTLUND + "account.json", lambda c, real: c.get(f"/account/{c.seed('Account', real['Account'])['Id']}")),
]


@pytest.fixture
def company(api, state, realm) -> Company:
    return Company(api, state, realm)


@pytest.mark.parametrize(("name", "call"), SHAPES, ids=[name for name, _ in SHAPES])
def test_our_server_answers_in_the_captured_shape(company, real_payload, name, call):
    real = real_payload(name)

    assert shape_differences(call(company, real), real) == []


def test_our_batch_answers_in_the_captured_shape(company, real_payload):
    real = renamed(real_payload(MINIMUL + "batch__basic__0.json"), "SalesReceipt", "Vendor")

    assert shape_differences(company.batch(), real) == []


def test_our_cdc_answers_in_the_captured_shape(company, real_payload):
    real = renamed(real_payload(MINIMUL + "cdc__basic__0.json"), "Estimate", "Vendor")

    assert shape_differences(company.cdc(), real) == []


def test_our_transaction_delete_answers_in_the_captured_shape(company, real_payload):
    real = renamed(real_payload(MINIMUL + "delete__invoice__1.json"), "Invoice", "Bill")
    bill = company.bill()

    ours = company.post("/bill", {"Id": bill["Id"], "SyncToken": "0"}, operation="delete")

    assert shape_differences(ours, real) == []


def test_our_records_have_the_types_of_the_captured_airbyte_records(company, real_payload):
    for entity, record in airbyte_records(real_payload):
        ours = company.get(f"/{entity.lower()}/{company.seed(entity, record)['Id']}")[entity]
        assert shape_differences(ours, record, envelope=False) == [], entity


def test_our_token_responses_have_the_captured_shape(server, tokens, credentials, real_payload):
    refresh = {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}
    success = httpx.post(f"{server.url}/oauth2/v1/tokens/bearer", auth=credentials, data=refresh).json()
    failure = httpx.post(f"{server.url}/oauth2/v1/tokens/bearer", auth=credentials, data=refresh).json()

    real_success = real_payload(DOTNET + "success_token_response.json")
    # id_token only comes with the `openid` scope, which the accounting connection does not ask for.
    assert shape_differences(success, {k: v for k, v in real_success.items() if k != "id_token"}) == []
    assert shape_differences(failure, real_payload(DOTNET + "failure_token_response.json")) == []
