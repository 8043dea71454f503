"""The query language: literals and escapes, operators, ordering, paging, COUNT(*), errors."""

from __future__ import annotations

import pytest

from engine.clients.quickbooks import quote

AWKWARD = ["Amy's Bird Sanctuary", "Back\\slash & Co", "Robertson & Associates", "Café Müller", "Señor Ñandú",
           "Rocket 🚀 Supplies", "It\\'s tricky", "50% Off_Sale"]


@pytest.fixture
def vendors(state, realm) -> list[dict]:
    return state.bulk_insert(realm, "Vendor", [{"DisplayName": name} for name in AWKWARD])


@pytest.mark.parametrize("name", AWKWARD)
def test_s1_string_literals_with_backslash_escapes_find_awkward_names(vendors, query, name):
    found = query(f"SELECT * FROM Vendor WHERE DisplayName = {quote(name)}")

    assert [v["DisplayName"] for v in found["Vendor"]] == [name]


def test_the_real_fixture_query_for_amys_bird_sanctuary_works(create, query):
    create("Customer", {"DisplayName": "Amy's Bird Sanctuary"})

    found = query("SELECT * FROM Customer WHERE DisplayName = 'Amy\\'s Bird Sanctuary'")

    assert found["Customer"][0]["DisplayName"] == "Amy's Bird Sanctuary"
    assert found["startPosition"] == 1 and found["maxResults"] == 1


def test_query_by_post_with_application_text_body(api, vendors):
    response = api.post("/query", content="select * from Vendor where DisplayName = 'Café Müller'".encode(),
                        headers={"Content-Type": "application/text"})

    assert response.status_code == 200
    assert response.json()["QueryResponse"]["Vendor"][0]["DisplayName"] == "Café Müller"


def test_in_and_like_operators(vendors, query):
    names = query("SELECT * FROM Vendor WHERE DisplayName IN ('Café Müller', 'Amy\\'s Bird Sanctuary', 'nobody')")
    like = query("SELECT * FROM Vendor WHERE DisplayName LIKE 'r%'")
    underscore_is_literal = query("SELECT * FROM Vendor WHERE DisplayName LIKE '%f_Sale'")
    percent_inside = query("SELECT * FROM Vendor WHERE DisplayName LIKE '50\\% Off%'")

    assert sorted(v["DisplayName"] for v in names["Vendor"]) == ["Amy's Bird Sanctuary", "Café Müller"]
    assert sorted(v["DisplayName"] for v in like["Vendor"]) == ["Robertson & Associates", "Rocket 🚀 Supplies"]
    assert [v["DisplayName"] for v in underscore_is_literal["Vendor"]] == ["50% Off_Sale"]
    assert query("SELECT * FROM Vendor WHERE DisplayName LIKE '50% Of__Sale'") == {}
    assert [v["DisplayName"] for v in percent_inside["Vendor"]] == ["50% Off_Sale"]


def test_orderby_and_order_by_with_direction_and_id_tie_breaker(vendors, query):
    ids = [v["Id"] for v in vendors]
    by_name = [v["DisplayName"] for v in query("SELECT * FROM Vendor ORDERBY DisplayName")["Vendor"]]
    by_name_desc = [v["DisplayName"] for v in query("select * from Vendor order by DisplayName desc")["Vendor"]]
    by_id_desc = [v["Id"] for v in query("SELECT * FROM Vendor ORDER BY Id DESC")["Vendor"]]

    assert by_name == sorted(AWKWARD)
    assert by_name_desc == sorted(AWKWARD, reverse=True)
    assert by_id_desc == sorted(ids, key=int, reverse=True)


def test_default_order_is_id_ascending_numerically(state, realm, query):
    state.bulk_insert(realm, "Item", [{"Name": f"Item {n}"} for n in range(12)])

    ids = [int(item["Id"]) for item in query("SELECT * FROM Item")["Item"]]

    assert ids == sorted(ids) and len(ids) == 12


def test_paging_reports_start_position_and_the_count_actually_returned(state, realm, query):
    state.bulk_insert(realm, "Vendor", [{"DisplayName": f"Vendor {n:02d}"} for n in range(26)])

    pages = [query(f"SELECT * FROM Vendor MAXRESULTS 5 STARTPOSITION {start}") for start in (1, 6, 26, 27)]

    assert [(p["startPosition"], p["maxResults"]) for p in pages[:3]] == [(1, 5), (6, 5), (26, 1)]
    assert pages[3] == {}
    assert pages[1]["Vendor"][0]["DisplayName"] == "Vendor 05"


def test_clauses_after_from_come_in_any_order(state, realm, query):
    state.bulk_insert(realm, "Customer", [{"DisplayName": f"Customer {n}"} for n in range(10)])

    page = query("SELECT * FROM Customer WHERE Active IN ( true, false ) MAXRESULTS 2 STARTPOSITION 3")

    assert page["startPosition"] == 3 and page["maxResults"] == 2


def test_maxresults_defaults_to_100_and_is_capped_at_1000(state, realm, api, query, fault):
    state.bulk_insert(realm, "Item", [{"Name": f"Item {n}"} for n in range(120)])

    assert query("SELECT * FROM Item")["maxResults"] == 100
    assert query("SELECT * FROM Item MAXRESULTS 1000")["maxResults"] == 120
    too_many = api.get("/query", params={"query": "SELECT * FROM Item MAXRESULTS 1001"})
    assert too_many.status_code == 400 and fault(too_many)["code"] == "4001"


def test_count_star_answers_total_count_only(state, realm, query):
    state.bulk_insert(realm, "Vendor", [{"DisplayName": f"V{n}"} for n in range(41)])

    assert query("SELECT COUNT(*) FROM Vendor") == {"totalCount": 41}
    assert query("SELECT count(*) FROM Vendor WHERE DisplayName LIKE 'V1%' MAXRESULTS 1") == {"totalCount": 11}


def test_empty_results_are_an_empty_query_response(query):
    assert query("SELECT * FROM Vendor WHERE DisplayName = 'nobody'") == {}


def test_select_star_with_extra_fields_is_tolerated(create, query):
    create("Item", {"Name": "Sprinkler Heads", "Sku": "SPR-1"})

    assert query("SELECT *, Sku FROM Item")["Item"][0]["Sku"] == "SPR-1"


def test_dotted_fields_numbers_booleans_times_and_ids(create, query, clock):
    cheap = create("Item", {"Name": "Cheap", "PurchaseCost": 2})
    clock.advance(minutes=30)
    dear = create("Item", {"Name": "Dear", "PurchaseCost": 300.5, "Taxable": True})
    create("Vendor", {"DisplayName": "Mail", "PrimaryEmailAddr": {"Address": "mail@example.com"}})

    assert [i["Name"] for i in query("SELECT * FROM Item WHERE PurchaseCost > '300.00'")["Item"]] == ["Dear"]
    assert [i["Name"] for i in query("SELECT * FROM Item WHERE PurchaseCost <= 2")["Item"]] == ["Cheap"]
    assert [i["Name"] for i in query("SELECT * FROM Item WHERE Taxable = true")["Item"]] == ["Dear"]
    later = query("SELECT * FROM Item WHERE MetaData.LastUpdatedTime >= '2026-01-15T17:45:00Z'")
    assert [i["Name"] for i in later["Item"]] == ["Dear"]
    mail = query("SELECT * FROM Vendor WHERE PrimaryEmailAddr.Address = 'mail@example.com'")
    assert mail["Vendor"][0]["DisplayName"] == "Mail"
    by_id = query(f"SELECT * FROM Item WHERE Id IN ('{cheap['Id']}', '{dear['Id']}', '999') AND Id > '{cheap['Id']}'")
    assert [i["Name"] for i in by_id["Item"]] == ["Dear"]


@pytest.mark.parametrize("sql", [
    "SELECT * FROM Vendor WHERE DisplayName = 'unterminated",
    "SELECT * FROM Vendor WHERE DisplayName = ’curly’",
    "SELECT * FROM Vendor WHERE DisplayName == 'x'",
    "SELECT * FROM Vendor WHERE DisplayName = 'a' OR DisplayName = 'b'",
    "SELECT * Vendor",
    "SELECT * FROM Vendor MAXRESULTS ten",
    "SELECT * FROM Vendor ORDERBY",
    "UPDATE Vendor SET DisplayName = 'x'",
])
def test_syntax_errors_are_4000_query_parser_errors(api, fault, sql):
    response = api.get("/query", params={"query": sql})

    assert response.status_code == 400
    assert fault(response)["code"] == "4000" and fault(response)["Message"] == "Error parsing query"
    assert fault(response)["Detail"].startswith("QueryParserError: ")


@pytest.mark.parametrize(("sql", "detail"), [
    ("SELECT * FROM Custmoer", "QueryValidationError: invalid context declaration: Custmoer"),
    ("SELECT * FROM vendor", "QueryValidationError: invalid context declaration: vendor"),
    ("SELECT * FROM Vendor WHERE Nonsense = 'x'", "QueryValidationError: property 'Nonsense' is not queryable"),
    ("SELECT * FROM Bill WHERE Active = true", "QueryValidationError: property 'Active' is not queryable"),
])
def test_meaning_errors_are_4001_and_the_entity_name_is_case_sensitive(api, fault, sql, detail):
    response = api.get("/query", params={"query": sql})

    assert response.status_code == 400
    assert fault(response)["code"] == "4001" and fault(response)["Detail"].startswith(detail)


def test_keywords_are_case_insensitive(vendors, query):
    found = query("sElEcT * fRoM Vendor wHeRe DisplayName LiKe 'amy%' oRdErBy DisplayName aSc maxresults 5")

    assert found["Vendor"][0]["DisplayName"] == "Amy's Bird Sanctuary"
