"""The embedded local APIs in two terminals: each `qbsync` process serves the same data file (the
demo beside its state file). A second one starting must not lock the first one out: the app's
secret and the API user's token are the data file's own, and each start gets a grant of its own.
Before, each start registered new ones and the first terminal met "401 Invalid credentials"."""

from __future__ import annotations

import httpx

from engine.local.serve import LocalApis


def precoro_suppliers(info: dict) -> httpx.Response:
    pc = info["precoro"]
    return httpx.get(f"{pc['base_url']}/suppliers", headers={"email": pc["email"], "X-AUTH-TOKEN": pc["token"]})


def refreshed(info: dict) -> httpx.Response:
    qb = info["quickbooks"]
    return httpx.post(qb["token_url"], data={"grant_type": "refresh_token", "refresh_token": qb["refresh_token"]},
                      auth=(qb["client_id"], qb["client_secret"]))


def test_a_second_start_on_the_same_data_file_keeps_the_first_ones_credentials_working(tmp_path):
    data = tmp_path / "local-apis.db"
    first = LocalApis.start(data=data, seed="demo")
    try:
        second = LocalApis.start(data=data, seed="demo")
        try:
            one, two = first.info(), second.info()
            assert precoro_suppliers(one).status_code == 200  # was 401 once the second had started
            assert precoro_suppliers(two).status_code == 200
            assert refreshed(one).status_code == 200 and refreshed(two).status_code == 200  # grants of their own
            assert one["quickbooks"]["refresh_token"] != two["quickbooks"]["refresh_token"]
        finally:
            second.close()
        assert precoro_suppliers(first.info()).status_code == 200
    finally:
        first.close()


def test_another_data_file_has_credentials_of_its_own(tmp_path):
    one = LocalApis.start(data=tmp_path / "a.db", seed="empty")
    two = LocalApis.start(data=tmp_path / "b.db", seed="empty")
    try:
        assert one.info()["precoro"]["token"] != two.info()["precoro"]["token"]
        assert one.info()["quickbooks"]["client_secret"] != two.info()["quickbooks"]["client_secret"]
        pc = two.info()["precoro"]
        crossed = httpx.get(f"{pc['base_url']}/suppliers",
                            headers={"email": pc["email"], "X-AUTH-TOKEN": one.info()["precoro"]["token"]})
        assert crossed.status_code == 401
    finally:
        one.close()
        two.close()
