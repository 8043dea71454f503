"""The Precoro client: form encoding, paging call counts, error mapping, what it retries."""

from __future__ import annotations

import json
import socket
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from urllib.parse import urlencode

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.clients.errors import AuthenticationFailed, NotFound, ServerError, ValidationFailed
from engine.clients.precoro import PrecoroClient, encode_form
from engine.local.precoro import Faults, PrecoroApp
from engine.local.precoro.forms import parse_php_form


@pytest.fixture
def fast_client(state, make_client):
    """Through httpx.WSGITransport: the same app, no sockets."""
    return make_client("http://precoro.local", transport=httpx.WSGITransport(app=PrecoroApp(state)))


# -- encode_form -----------------------------------------------------------------------------------


def test_encode_form_uses_php_keys_lowercase_booleans_and_empty_none():
    pairs = encode_form(
        {
            "name": "Acme & Sons",
            "currencies": ["USD", "EUR"],
            "supplier": {"id": 5},
            "itemCustomFields": {3: 17},
            "enable": False,
            "freeOfCharge": True,
            "price": Decimal("12.50"),
            "phone": None,
            "empty": [],
        }
    )

    assert pairs == [
        ("name", "Acme & Sons"),
        ("currencies[]", "USD"),
        ("currencies[]", "EUR"),
        ("supplier[id]", "5"),
        ("itemCustomFields[3]", "17"),
        ("enable", "false"),
        ("freeOfCharge", "true"),
        ("price", "12.50"),
        ("phone", ""),
    ]


def test_encode_form_refuses_what_php_keys_cannot_say():
    with pytest.raises(TypeError):
        encode_form({"lines": [{"id": 1}]})
    with pytest.raises(TypeError):
        encode_form({"when": datetime(2026, 1, 1)})


_text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=12)
_key = st.text(st.characters(blacklist_characters="[]", blacklist_categories=("Cs", "Cc")), min_size=1, max_size=8)
_scalar = st.one_of(_text, st.integers(-(10**6), 10**6), st.booleans(), st.none())


@settings(derandomize=True)
@given(st.dictionaries(_key, st.one_of(_scalar, st.lists(_scalar, min_size=1, max_size=3), st.dictionaries(_key, _scalar, min_size=1, max_size=3)), max_size=5))
def test_what_encode_form_sends_the_server_reads_back(data):
    def as_sent(value):
        if isinstance(value, dict):
            return {str(key): as_sent(item) for key, item in value.items()}
        if isinstance(value, list):
            return [as_sent(item) for item in value]
        return encode_form({"v": value})[0][1]

    assert parse_php_form(urlencode(encode_form(data))) == {key: as_sent(value) for key, value in data.items()}


# -- paging ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("total, calls", [(0, 1), (1, 1), (200, 1), (201, 2), (450, 3), (1000, 5)])
def test_list_all_reads_n_records_in_ceil_n_over_200_calls(fast_client, state, total, calls):
    state.bulk_insert("taxes", [{"name": f"Tax {n}"} for n in range(total)])

    taxes = list(fast_client.list_all("/taxes"))

    assert [tax["name"] for tax in taxes] == [f"Tax {n}" for n in range(total)]
    assert fast_client.requests_sent == calls


def test_list_all_takes_other_page_sizes_and_refuses_undocumented_ones(fast_client, state):
    state.bulk_insert("taxes", [{"name": f"Tax {n}"} for n in range(45)])

    assert len(list(fast_client.list_all("/taxes", per_page=20))) == 45
    assert fast_client.requests_sent == 3
    with pytest.raises(ValueError):
        list(fast_client.list_all("/taxes", per_page=500))


def _old_style_precoro(total: int, pagination_keys: tuple[str, ...]) -> httpx.MockTransport:
    """A remote answering like older Precoro payloads: fewer pagination fields."""

    def answer(request: httpx.Request) -> httpx.Response:
        page, per_page = int(request.url.params["page"]), int(request.url.params["per_page"])
        data = [{"id": n} for n in range((page - 1) * per_page, min(total, page * per_page))]
        pagination = {"current_page": page, "total_pages": max(1, -(-total // per_page)), "count": len(data)}
        return httpx.Response(200, json={"data": data, "meta": {"pagination": {k: pagination[k] for k in pagination_keys}}})

    return httpx.MockTransport(answer)


@pytest.mark.parametrize(
    "pagination_keys, calls", [(("current_page", "total_pages"), 3), (("count",), 4)]
)
def test_list_all_pages_older_payloads_without_has_next_page(make_client, pagination_keys, calls):
    client = make_client("https://api.precoro.test", transport=_old_style_precoro(600, pagination_keys))

    assert [record["id"] for record in client.list_all("/suppliers")] == list(range(600))
    # Without total_pages only a short page can end the read: one more call on an exact multiple.
    assert client.requests_sent == calls


def test_modified_since_takes_an_aware_datetime_and_sends_it_in_utc(fast_client, state, clock):
    state.insert("suppliers", {"name": "Before"})
    clock.advance(3600)
    state.insert("suppliers", {"name": "After"})
    paris_10am = datetime(2026, 11, 26, 11, 0, tzinfo=timezone(timedelta(hours=1)))

    found = fast_client.list_all("/suppliers", modified_since=paris_10am)

    assert [s["name"] for s in found] == ["After"]


# -- errors ----------------------------------------------------------------------------------------


def test_wrong_credentials_raise_authentication_failed_without_echoing_them(served, credentials):
    email, _ = credentials
    with PrecoroClient(served.url, email, "not-the-token", max_retries=0) as client:
        with pytest.raises(AuthenticationFailed) as refused:
            client.get("/suppliers")

    assert refused.value.status == 401
    assert "not-the-token" not in str(refused.value) and email not in str(refused.value)


def test_unknown_records_raise_not_found(client):
    with pytest.raises(NotFound) as missing:
        client.get("/suppliers/404")
    assert "suppliers 404" in str(missing.value)


def test_validation_errors_name_the_field(client):
    with pytest.raises(ValidationFailed) as refused:
        client.create("/suppliers", {"name": "", "enable": "True"})

    assert refused.value.field == "name"
    assert refused.value.status == 422
    assert "enable" in refused.value.detail
    assert "[field name]" in str(refused.value)


def test_a_bad_query_is_a_validation_error_on_that_parameter(client):
    with pytest.raises(ValidationFailed) as refused:
        client.get("/suppliers?per_page=7")
    assert (refused.value.status, refused.value.field) == (400, "per_page")


def test_errors_never_carry_the_credentials(serve, client, credentials):
    email, token = credentials
    serve(faults=Faults(1.0, kinds=("error",)))
    with pytest.raises(ServerError) as failed:
        client.create("/suppliers", {"name": "Acme"})

    text = f"{failed.value} {failed.value.detail} {failed.value.message}"
    assert token not in text and email not in text


# -- connections -----------------------------------------------------------------------------------


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_a_connection_that_never_opened_is_retried_even_for_a_write(make_client, clock):
    client = make_client(f"http://127.0.0.1:{_closed_port()}", max_retries=2)

    with pytest.raises(ServerError, match="cannot reach .*nothing was sent"):
        client.create("/suppliers", {"name": "Acme"})

    assert client.requests_sent == 3
    assert clock.sleeps == [0.5, 1.0]


def test_responses_are_json_end_to_end(http):
    response = http.post("/suppliers", data={"name": "Crème brûlée ★"})

    assert response.headers["content-type"] == "application/json"
    assert json.loads(response.content.decode("utf-8"))["name"] == "Crème brûlée ★"
