"""W3 and W1: an apply stopped (ctrl+c, quitting the TUI) while a write waits to be sent again ends
at once, not after the retry's backoff (about fifteen seconds for a QuickBooks batch with no answer)
or the minute a Precoro 429 asks for; the same apply run again then writes it, once."""

from __future__ import annotations

import json
import threading
from datetime import datetime, timedelta, timezone

import pytest

from engine.local.http import serve_in_thread

REALM = "8313"
NAME = "Stopped while retrying"


class Refusing:
    """A local API's app behind a switch: while `refusing`, its writes of one kind are answered
    with `answer` instead of being run; everything else reaches the real app."""

    def __init__(self, app, method: str, path_part: str, answer) -> None:
        self.app, self.method, self.path_part, self.answer = app, method, path_part, answer
        self.refusing = True
        self.refused = 0

    def __call__(self, environ, start_response):
        if self.refusing and environ["REQUEST_METHOD"] == self.method and self.path_part in environ.get("PATH_INFO", ""):
            self.refused += 1
            status, body = self.answer()
            start_response(status, [("Content-Type", "application/json")])
            return [json.dumps(body).encode()]
        return self.app(environ, start_response)


def quickbooks_unavailable():
    return "503 Service Unavailable", {"Fault": {"Error": [{"Message": "Service Unavailable", "code": "3001"}],
                                                 "type": "SERVICE"}}


def precoro_wait_a_minute():
    retry = datetime.now(timezone.utc) + timedelta(seconds=60)
    return "429 Too Many Requests", {"error": "Too many requests for this endpoint",
                                     "RateLimit-Type": "Route based limiter by minute",
                                     "RateLimit-Retry-After": retry.strftime("%Y-%m-%d %H:%M:%S UTC")}


@pytest.mark.parametrize("target", ["quickbooks", "precoro"])
def test_w3_an_apply_stopped_while_a_write_waits_to_be_sent_again_stops_at_once_and_writes_it_once_later(
        servers, fresh_dir, retried, target):
    servers.reset(REALM)
    if target == "quickbooks":  # a supplier only Precoro has: a Vendor to create, in a batch
        servers.precoro.insert("suppliers", {"name": NAME, "currencies": ["USD"]})
        switch = Refusing(servers.qb_log, "POST", "/batch", quickbooks_unavailable)
        old_url = servers.qb.url
    else:  # a vendor only QuickBooks has: a supplier to create in Precoro
        servers.quickbooks.insert(REALM, "Vendor", {"DisplayName": NAME, "CurrencyRef": {"value": "USD"}})
        switch = Refusing(servers.pc_log, "POST", "/suppliers", precoro_wait_a_minute)
        old_url = servers.pc.url
    served = serve_in_thread(switch)
    workdir = fresh_dir()
    try:
        with servers.session(workdir, REALM) as s:
            rules = workdir / "rules.yaml"
            rules.write_text(rules.read_text().replace(old_url, served.url))
            s.reload_rules()
            plan = s.plan(only=["suppliers"])
            create = next(a for a in plan.actions if a.kind == "create" and a.target == target)
            stop, ended = threading.Event(), {}

            def applying() -> None:
                ended["report"] = s.apply(plan.id, stop=stop)

            thread = threading.Thread(target=applying)
            thread.start()
            assert retried.wait(10), "no write was tried again"
            stop.set()
            thread.join(6)
            assert not thread.is_alive()  # it did not sleep out the backoff (15 s) or the 429's minute
            report = ended["report"]
            assert report.stopped and "stopped at your request" in report.stopped, report.stopped
            assert {r.id: r.status for r in report.results}[create.id] == "pending"
            assert switch.refused == 1  # stopped in the wait before the second try

            switch.refusing = False
            again = s.apply(plan.id)
            assert again.ok, [(r.name, r.status, r.reason) for r in again.results]
    finally:
        served.close()
    if target == "quickbooks":
        names = [v["DisplayName"] for v in servers.quickbooks.query(REALM, "SELECT * FROM Vendor").response()["Vendor"]]
    else:
        _, rows = servers.precoro.page("suppliers", limit=200)
        names = [row["name"] for row in rows]
    assert names.count(NAME) == 1
