"""The wire format every endpoint shares: auth, paging, filters, form bodies, errors."""

from __future__ import annotations

import httpx
import pytest

from engine.local.precoro import PrecoroApp


def test_requests_without_both_auth_headers_get_401_with_a_json_message(served, credentials):
    email, token = credentials
    refused = (
        {},
        {"X-AUTH-TOKEN": token},
        {"email": email},
        {"X-AUTH-TOKEN": "wrong", "email": email},
        {"X-AUTH-TOKEN": token, "email": "other@example.com"},
    )
    with httpx.Client(base_url=served.url) as anonymous:
        responses = [anonymous.get("/suppliers", headers=headers) for headers in refused]
    for response in responses:
        assert response.status_code == 401
        assert response.headers["content-type"] == "application/json"
        assert "message" in response.json()


def test_the_auth_headers_of_a_registered_user_are_accepted(http):
    assert http.get("/suppliers").status_code == 200


def test_lists_use_the_data_and_pagination_envelope(http, state):
    state.bulk_insert("taxes", [{"name": f"Tax {n}", "percent": n} for n in range(25)])

    body = http.get("/taxes", params={"page": 2, "per_page": 10}).json()

    assert [tax["name"] for tax in body["data"]] == [f"Tax {n}" for n in range(10, 20)]
    assert body["meta"]["pagination"] == {
        "total": 25,
        "count": 10,
        "per_page": 10,
        "current_page": 2,
        "total_pages": 3,
        "has_next_page": True,
    }


def test_the_last_page_says_there_is_no_next_one_and_a_page_past_the_end_is_empty(http, state):
    state.bulk_insert("taxes", [{"name": f"Tax {n}"} for n in range(25)])

    last = http.get("/taxes", params={"page": 3, "per_page": 10}).json()
    beyond = http.get("/taxes", params={"page": 4, "per_page": 10}).json()

    assert last["meta"]["pagination"]["count"] == 5
    assert last["meta"]["pagination"]["has_next_page"] is False
    assert beyond["data"] == []
    assert beyond["meta"]["pagination"]["has_next_page"] is False


def test_an_empty_list_has_one_page_and_no_next(in_process):
    pagination = in_process.get("/suppliers").json()["meta"]["pagination"]

    assert pagination == {"total": 0, "count": 0, "per_page": 10, "current_page": 1, "total_pages": 1, "has_next_page": False}


@pytest.mark.parametrize("per_page", [10, 20, 50, 100, 200])
def test_every_documented_page_size_is_accepted(in_process, state, per_page):
    state.bulk_insert("taxes", [{"name": f"Tax {n}"} for n in range(201)])

    body = in_process.get("/taxes", params={"per_page": per_page}).json()

    assert len(body["data"]) == per_page
    assert body["meta"]["pagination"]["total_pages"] == -(-201 // per_page)


def test_the_default_page_size_is_10(in_process, state):
    state.bulk_insert("taxes", [{"name": f"Tax {n}"} for n in range(11)])

    assert len(in_process.get("/taxes").json()["data"]) == 10


@pytest.mark.parametrize("per_page", ["25", "0", "1000", "abc", "-10"])
def test_other_page_sizes_are_refused_with_400_on_per_page(in_process, per_page):
    response = in_process.get("/suppliers", params={"per_page": per_page})

    assert response.status_code == 400
    assert "per_page" in response.json()["errors"]["errors"]


@pytest.mark.parametrize("page", ["0", "-1", "two"])
def test_page_numbers_start_at_1(in_process, page):
    response = in_process.get("/suppliers", params={"page": page})

    assert response.status_code == 400
    assert "page" in response.json()["errors"]["errors"]


def test_lists_are_in_id_order_and_detail_endpoints_return_a_bare_object(http, state):
    ids = state.bulk_insert("suppliers", [{"name": name} for name in ("Zeta", "Alpha", "Mid")])

    listed = http.get("/suppliers").json()["data"]
    detail = http.get(f"/suppliers/{ids[1]}").json()

    assert [supplier["id"] for supplier in listed] == ids
    # A list row is the summary: the details less what only `/{id}` answers.
    assert {k: v for k, v in detail.items() if k not in ("contacts", "paymentTerms")} == listed[1]
    assert "contacts" in detail and "contacts" not in listed[1]


def test_a_local_precoro_told_to_carry_details_in_its_lists_does(state):
    """The knob `qbsync doctor` is tested with: a Precoro that behaves otherwise than assumed."""
    state.insert("suppliers", {"name": "Acme", "contacts": [{"email": "a@acme.test"}]})
    app = PrecoroApp(state, lists_with_details=True)
    state.add_user("knob@example.com", "knob-token")
    with httpx.Client(transport=httpx.WSGITransport(app=app), base_url="http://precoro.local",
                      headers={"email": "knob@example.com", "X-AUTH-TOKEN": "knob-token"}) as http:
        [row] = http.get("/suppliers").json()["data"]
    assert row["contacts"]["data"][0]["email"] == "a@acme.test"


def test_modified_since_returns_records_updated_at_or_after_it(http, state, clock):
    old = state.insert("suppliers", {"name": "Old"})
    clock.advance(3600)
    edited = state.insert("suppliers", {"name": "Edited later"})
    clock.advance(3600)
    state.update("suppliers", old["id"], {"city": "Lyon"})  # 11:00

    names = lambda since: [s["name"] for s in http.get("/suppliers", params={"modifiedSince": since}).json()["data"]]

    assert names("2026-11-26T10:00:00") == ["Old", "Edited later"]
    assert names("2026-11-26T10:00:01") == ["Old"]
    assert names("2026-11-26T11:00:01") == []
    assert edited["updateDate"] == "2026-11-26T10:00:00+00:00"


def test_a_malformed_modified_since_is_refused(in_process):
    response = in_process.get("/suppliers", params={"modifiedSince": "26.11.2026"})

    assert response.status_code == 400
    assert "modifiedSince" in response.json()["errors"]["errors"]


def test_external_id_filter_takes_several_values(http, state):
    state.bulk_insert("suppliers", [{"name": "A", "externalId": "qb-1"}, {"name": "B", "externalId": "qb-2"}, {"name": "C"}])

    found = http.get("/suppliers?external_id[]=qb-2&external_id[]=qb-1&external_id[]=qb-9").json()["data"]

    assert [supplier["name"] for supplier in found] == ["A", "B"]


def test_unknown_ids_and_paths_are_404_with_a_json_message(http):
    for path in ("/suppliers/999", "/items/1", "/invoices/1", "/nothing-here", "/suppliers/abc"):
        response = http.get(path)
        assert response.status_code == 404, path
        assert response.json()["message"]


def test_a_method_an_endpoint_does_not_support_is_405(http, state):
    state.insert("taxes", {"name": "VAT"})

    response = http.delete("/taxes/1")

    assert response.status_code == 405
    assert response.headers["allow"] == "GET, PATCH"


def test_json_bodies_on_writes_are_refused(http):
    response = http.post("/suppliers", json={"name": "Acme"})

    assert response.status_code == 415
    assert http.get("/suppliers").json()["data"] == []


def test_php_style_keys_are_read_as_lists_and_dicts(http, state):
    state.insert("paymentterms", {"name": "Net 30", "creditPeriodDays": 30})
    body = "name=Acme&currencies%5B%5D=EUR&currencies%5B%5D=USD&paymentTerms%5B%5D=1"

    created = http.post("/suppliers", content=body, headers={"Content-Type": "application/x-www-form-urlencoded"}).json()

    assert created["currencies"] == ["EUR", "USD"]
    assert [term["name"] for term in created["paymentTerms"]["data"]] == ["Net 30"]


@pytest.mark.parametrize("sent, stored", [("true", True), ("false", False), ("1", True), ("0", False)])
def test_booleans_are_lowercase_words_or_digits(http, sent, stored):
    created = http.post("/suppliers", data={"name": "Acme", "enable": sent})

    assert created.status_code == 201
    assert created.json()["enable"] is stored


@pytest.mark.parametrize("sent", ["True", "False", "yes", ""])
def test_python_style_booleans_are_refused_as_the_real_api_does(http, sent):
    response = http.post("/suppliers", data={"name": "Acme", "enable": sent})

    assert response.status_code == 422
    assert response.json() == {"errors": {"errors": {"enable": 'This value should be "true" or "false".'}}}


def test_a_field_the_endpoint_does_not_know_is_refused_not_ignored(http):
    response = http.post("/suppliers", data={"name": "Acme", "nmae": "typo"})

    assert response.status_code == 422
    assert "nmae" in response.json()["errors"]["errors"]


def test_reset_forgets_all_records_and_restarts_ids_but_keeps_users(http, state, served):
    state.insert("suppliers", {"name": "Acme"})

    assert httpx.post(f"{served.url}/_local/reset").status_code == 204

    assert http.get("/suppliers").json()["data"] == []
    assert http.post("/suppliers", data={"name": "Again"}).json()["id"] == 1


def test_responses_carry_a_date_header(http):
    assert http.get("/suppliers").headers["date"].endswith("GMT")
