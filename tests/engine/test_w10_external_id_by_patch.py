"""W10 with Precoro's externalId set by PATCH only: a create goes without it and is marked right
after; a create whose answer was lost, or which was interrupted before its PATCH, is found again
(by name, having no externalId yet) and marked, never created twice."""

from __future__ import annotations

import pytest

from engine.local.http import serve_in_thread
from engine.local.precoro import PrecoroApp, PrecoroState
from engine.local.precoro.faults import DROP_AFTER, ERROR, Faults


REALM = "8102"
VENDORS = ["Patched vendor A", "Patched vendor B"]


@pytest.fixture
def faulty(servers, fresh_dir):
    """A Precoro whose faults the test sets, beside the shared QuickBooks holding two vendors Precoro lacks."""
    state = PrecoroState()
    state.add_user(*servers.precoro_credentials)
    app = PrecoroApp(state)
    served = serve_in_thread(app)
    servers.reset(REALM)
    ids = {name: servers.quickbooks.insert(REALM, "Vendor", {"DisplayName": name, "CurrencyRef": {"value": "USD"}})["Id"]
           for name in VENDORS}
    workdir = fresh_dir()

    def session():
        s = servers.session(workdir, REALM)
        (workdir / "rules.yaml").write_text((workdir / "rules.yaml").read_text().replace(servers.pc.url, served.url))
        s.reload_rules()
        s.sleep = lambda seconds: None
        return s

    yield session, app, state, ids
    served.close()


def suppliers(state):
    _, rows = state.page("suppliers", limit=200)
    return sorted((row["name"], row["externalId"]) for row in rows)


def test_w10_a_create_is_marked_by_patch_right_after(faulty):
    session, app, state, ids = faulty
    with session() as s:
        report = s.apply(s.plan(only=["suppliers"]).id)
    assert report.ok
    assert suppliers(state) == sorted((name, ids[name]) for name in VENDORS)


def test_w10_a_create_whose_answer_was_lost_is_found_by_name_and_marked_not_made_twice(faulty):
    session, app, state, ids = faulty
    app.faults = Faults(1.0, kinds=(DROP_AFTER,), methods=("POST",))  # every create runs, its answer is lost
    with session() as s:
        report = s.apply(s.plan(only=["suppliers"]).id)
    assert report.ok, [r.reason for r in report.results]
    assert suppliers(state) == sorted((name, ids[name]) for name in VENDORS)  # once each, marked


def test_w10_a_create_interrupted_before_its_patch_is_adopted_and_marked_by_the_next_apply(faulty):
    session, app, state, ids = faulty
    app.faults = Faults(1.0, kinds=(ERROR,), methods=("PATCH",))  # Precoro is down for every PATCH
    with session() as s:
        plan = s.plan(only=["suppliers"])
        first = s.apply(plan.id)
        assert not first.ok and suppliers(state) == sorted((name, None) for name in VENDORS)
        app.faults = None
        again = s.apply(plan.id)
    assert again.ok, [r.reason for r in again.results]
    assert suppliers(state) == sorted((name, ids[name]) for name in VENDORS)
    assert all("made by an earlier, interrupted apply before it set the externalId" in r.reason for r in again.results)
