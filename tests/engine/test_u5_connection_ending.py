"""When the QuickBooks connection (its refresh token) nears its end, qbsync says so a month ahead:
re-authorizing takes the company's owner, and unattended runs stop the day it ends (U5)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

from engine.connections import CONNECTION_WARNING_DAYS, connection_ending_said

REALM = "4620816365077"

NOW = datetime(2028, 9, 1, 12, 0, tzinfo=timezone.utc)


def ending(**left) -> str | None:
    at = (NOW + timedelta(**left)).isoformat(timespec="seconds")
    return connection_ending_said({"credentials": "stored", "refresh_token_expires_at": at}, NOW)


def test_u5_a_connection_is_warned_of_from_a_month_before_its_end():
    assert ending(days=CONNECTION_WARNING_DAYS, seconds=1) is None
    assert ending(days=CONNECTION_WARNING_DAYS) == (
        "the QuickBooks connection ends on 2028-10-01 12:00 UTC (in 30 days) unless authorized again: run "
        "`qbsync connect quickbooks` before then (unattended runs stop when it ends)")
    assert "(in 1 day)" in ending(days=1, hours=3)
    assert "(today)" in ending(hours=5)


def test_u5_an_ended_connection_says_so_and_what_to_run():
    assert ending(seconds=0).startswith("the QuickBooks connection ended on 2028-09-01: ")
    assert ending(days=-3) == ("the QuickBooks connection ended on 2028-08-29: run `qbsync connect quickbooks` to "
                               "authorize it again")


def test_u5_nothing_is_said_of_an_end_not_known_or_of_the_embedded_api():
    assert connection_ending_said({"credentials": "stored", "refresh_token_expires_at": None}, NOW) is None
    at = (NOW + timedelta(days=2)).isoformat()
    assert connection_ending_said({"credentials": "embedded", "refresh_token_expires_at": at}, NOW) is None


def test_u5_the_grants_five_year_end_is_said_when_it_comes_before_the_refresh_tokens():
    def said(refresh_days: float, grant_days: float) -> str | None:
        return connection_ending_said({"credentials": "stored",
                                       "refresh_token_expires_at": (NOW + timedelta(days=refresh_days)).isoformat(),
                                       "grant_ends_at": (NOW + timedelta(days=grant_days)).isoformat()}, NOW)

    assert said(100, 400) is None
    assert said(100, 12) == (
        "the QuickBooks connection ends on 2028-09-13 12:00 UTC (in 12 days): Intuit ends every authorization five "
        "years after it was given; run `qbsync connect quickbooks` before then (unattended runs stop when it ends)")
    assert said(10, 12).startswith("the QuickBooks connection ends on 2028-09-11 12:00 UTC (in 10 days) unless "
                                   "authorized again: run")  # the earlier end is the one that stops runs
    assert "Intuit ends every authorization" in said(12, 12)  # a refresh token cut to its grant's end
    assert said(100, -1) == ("the QuickBooks connection ended on 2028-08-31: Intuit ends every authorization five "
                             "years after it was given; run `qbsync connect quickbooks` to authorize it again")


def test_u5_a_session_learns_the_grants_end_from_the_token_endpoint_and_warns_though_refreshes_go_on(
        servers, fresh_dir):
    servers.reset(REALM)
    session = servers.session(fresh_dir(), REALM)
    del session.env["QUICKBOOKS_ACCESS_TOKEN"]  # the first call refreshes, as a run an hour after the last does
    ends = datetime.now(timezone.utc).replace(microsecond=0) + timedelta(days=12, hours=1)
    servers.quickbooks.oauth.end_grants(REALM, ends)  # a connection authorized five years ago, less 12 days
    try:
        quickbooks = session.status()["connections"]["quickbooks"]

        def near_ends(said: str) -> bool:  # the endpoint counts whole seconds left; the client adds them to its now
            return abs(datetime.fromisoformat(said) - ends) <= timedelta(seconds=2)

        assert quickbooks["reachable"] is True and near_ends(quickbooks["grant_ends_at"])
        assert near_ends(quickbooks["refresh_token_expires_at"])  # no refresh token outlives its grant
        assert quickbooks["ends_at"] == quickbooks["grant_ends_at"]  # the day a screen with little room shows
        assert quickbooks["ending"].startswith(f"the QuickBooks connection ends on {ends:%Y-%m-%d} ")
        assert "UTC (in 12 days): Intuit ends every authorization five years after it was given" in quickbooks["ending"]
        assert session.warnings() == [quickbooks["ending"]]  # what an unattended run's summary carries
    finally:
        session.close()


class TokenEndpointOfBefore:
    """The local QuickBooks as Intuit's token endpoint answered before its five-year policy: the
    same, without `x_refresh_token_hard_expires_in` whatever the request asks."""

    def __init__(self, app) -> None:
        self.app = app

    def __call__(self, environ, start_response):
        if not environ.get("PATH_INFO", "").startswith("/oauth2/"):
            return self.app(environ, start_response)
        answered = {}
        body = b"".join(self.app(environ, lambda status, headers, *rest: answered.update(status=status, headers=headers)))
        payload = json.loads(body)
        payload.pop("x_refresh_token_hard_expires_in", None)
        body = json.dumps(payload).encode()
        headers = [(k, str(len(body)) if k.lower() == "content-length" else v) for k, v in answered["headers"]]
        start_response(answered["status"], headers)
        return [body]


def test_u5_doctor_says_whether_the_token_endpoint_tells_the_authorizations_end(servers, fresh_dir):
    from engine.local.http import serve_in_thread
    from engine.local.quickbooks import QuickBooksApp

    servers.reset(REALM)
    workdir = fresh_dir()
    with servers.session(workdir, REALM) as session:
        del session.env["QUICKBOOKS_ACCESS_TOKEN"]  # stored before qbsync asked: learnt at the next refresh
        said = {check.key: check for check in session.doctor()}["grant_end"]
    assert said.result == "holds" and said.saw.startswith("the authorization ends on ")

    before = serve_in_thread(TokenEndpointOfBefore(QuickBooksApp(servers.quickbooks)))
    try:
        with servers.session(workdir, REALM) as session:
            rules = workdir / "rules.yaml"
            rules.write_text(rules.read_text().replace(f"token_url: {servers.qb.url}/", f"token_url: {before.url}/"))
            session.reload_rules()
            said = {check.key: check for check in session.doctor()}["grant_end"]
            assert session.status()["connections"]["quickbooks"]["grant_ends_at"] is None
    finally:
        before.close()
    assert said.result == "differs"
    assert said.saw == ("a token refresh answered without x_refresh_token_hard_expires_in: qbsync warns of the "
                        "refresh token's end only, not of the authorization's five years")
