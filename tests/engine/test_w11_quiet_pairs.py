"""W11, in proportion: a plan skips the linked pairs an earlier plan found in agreement while neither
record has changed since (quiet pairs), and that plan is exactly the plan a full read makes.

The demo pair of companies is synced once. Then, round after round, colleagues change both companies
at random (fields, names, deactivations, deletions, a new record under a taken name, a QuickBooks
item merge); qbsync plans by changes, skipping quiet pairs, and the same state file, copied just
before, plans again with `full=True` (every record read and reconciled). The two plans must hold the
same actions to the last field. Then the plan is applied, or not, and the next round begins.
"""

from __future__ import annotations

import random
import sqlite3
import threading

import pytest

from engine.errors import Interrupted
from engine.local.demo import DEMO_REALM
from engine.local.precoro.state import InvalidChange
from engine.local.quickbooks.errors import QboError
from engine.sync import SyncSession

REALM = DEMO_REALM


def vendors(servers) -> list[dict]:
    return servers.quickbooks.query(REALM, "SELECT * FROM Vendor MAXRESULTS 1000").response().get("Vendor", [])


def items(servers) -> list[dict]:
    return servers.quickbooks.query(REALM, "SELECT * FROM Item MAXRESULTS 1000").response().get("Item", [])


def suppliers(servers) -> list[dict]:
    total, _ = servers.precoro.page("suppliers", limit=1)
    return servers.precoro.page("suppliers", limit=max(total, 1))[1]


IN_QUICKBOOKS = ["vendor phone", "vendor inactive", "item cost", "item merged"]
IN_PRECORO = ["supplier address", "supplier name", "supplier deleted", "supplier named like a vendor", "supplier phone"]


def change_something(servers, rng: random.Random, n: int, kinds: list[str] = IN_QUICKBOOKS + IN_PRECORO) -> str:
    """One change a colleague could make, of one of these `kinds`, chosen by `rng`; says what it did
    (or that the service refused it)."""
    try:
        return _change(servers, rng, n, kinds)
    except (QboError, InvalidChange) as refused:  # e.g. an item whose vendor was made inactive cannot be edited
        return f"refused: {refused}"


def _change(servers, rng: random.Random, n: int, kinds: list[str]) -> str:
    active_vendors = [v for v in vendors(servers) if v.get("Active", True)]
    active_items = [i for i in items(servers) if i.get("Active", True)]
    everyone = suppliers(servers)
    what = rng.choice(kinds)
    if what == "vendor phone" and active_vendors:
        v = rng.choice(active_vendors)
        servers.quickbooks.update(REALM, "Vendor", {"Id": v["Id"], "SyncToken": v["SyncToken"], "sparse": True,
                                                    "PrimaryPhone": {"FreeFormNumber": f"+1 555 {n:04}"}})
    elif what == "vendor inactive" and active_vendors:
        v = rng.choice(active_vendors)
        servers.quickbooks.update(REALM, "Vendor", {"Id": v["Id"], "SyncToken": v["SyncToken"], "sparse": True,
                                                    "Active": False})
    elif what in ("supplier address", "supplier name", "supplier phone", "supplier deleted") and everyone:
        s = rng.choice(everyone)
        if what == "supplier deleted":
            servers.precoro.delete("suppliers", s["id"])  # refused when a document uses it
        else:
            field = {"supplier address": "legalAddress", "supplier name": "name", "supplier phone": "phone"}[what]
            servers.precoro.update("suppliers", s["id"], {field: f"{s['name'][:20]} {n}" if field == "name" else f"{n}"})
    elif what == "supplier named like a vendor" and active_vendors:
        servers.precoro.insert("suppliers", {"name": rng.choice(active_vendors)["DisplayName"], "currencies": ["USD"]})
    elif what == "item cost" and active_items:
        i = rng.choice(active_items)
        servers.quickbooks.update(REALM, "Item", {"Id": i["Id"], "SyncToken": i["SyncToken"], "sparse": True,
                                                  "PurchaseCost": float(n % 90 + 1)})
    elif what == "item merged" and len(active_items) > 1:
        # QuickBooks merges by giving the duplicate the survivor's name and making it inactive (I10).
        duplicate, survivor = rng.sample(active_items, 2)
        servers.quickbooks.update(REALM, "Item", {"Id": duplicate["Id"], "SyncToken": duplicate["SyncToken"],
                                                  "sparse": True, "Active": False,
                                                  "Name": f"{survivor['Name']} (deleted)"})
    return what


def comparable(plan) -> list[dict]:
    return sorted((action.to_json() for action in plan.actions), key=lambda a: a["id"])


def quiet_links(state) -> int:
    with sqlite3.connect(state) as db:
        return db.execute("select count(*) from links where quiet_mark is not null").fetchone()[0]


@pytest.fixture
def synced(servers, fresh_dir):
    """The demo pair after a first sync, applied, and a plan after it (which finds the quiet pairs)."""
    workdir = fresh_dir()
    state = workdir / "state.db"
    servers.first_sync(workdir, REALM, state)
    with servers.session(workdir, REALM, state) as session:
        session.plan()
    return workdir, state


def plan_both_ways(servers, workdir, state, label: str):
    """A plan by changes (quiet pairs skipped) and, from a copy of the same state file, a full one:
    they must be the same plan."""
    copy = workdir / f"copy-{label}.db"
    with sqlite3.connect(state) as source, sqlite3.connect(copy) as target:
        source.backup(target)
    copy.chmod(0o600)
    with servers.session(workdir, REALM, state) as session:
        quick = session.plan()
    with SyncSession(workdir / "rules.yaml", copy, env=session.env) as other:
        full = other.plan(full=True)
    assert comparable(quick) == comparable(full), label
    return quick


def apply_deciding_at_random(servers, workdir, state, plan, rng: random.Random) -> None:
    """The plan applied, each of its conflicts decided for a side chosen by `rng`."""
    with servers.session(workdir, REALM, state) as session:
        for action in plan.actions:
            if action.kind == "conflict":
                session.decide(action.id, rng.choice(["precoro", "quickbooks"]), plan.id)
        session.apply(plan.id)


@pytest.mark.parametrize("seed", [11, 12, 13])
def test_w11_a_plan_that_skips_quiet_pairs_is_the_plan_a_full_read_makes(servers, synced, seed):
    workdir, state = synced
    rng = random.Random(seed)
    skipped_some = 0
    for round_ in range(6):
        done = [change_something(servers, rng, round_ * 10 + k) for k in range(rng.randint(1, 3))]
        skipped_some += quiet_links(state) > 0
        quick = plan_both_ways(servers, workdir, state, f"round {round_}: {done}")
        if rng.random() < 0.7:
            apply_deciding_at_random(servers, workdir, state, quick, rng)
    assert skipped_some >= 5  # the rounds did plan with quiet pairs to skip


@pytest.mark.parametrize("seed", [21, 22])
def test_w11_plans_after_a_plan_that_failed_are_the_plans_a_full_read_makes(servers, synced, seed):
    """A plan that fails after some of its reads ended: a full read leaves its cursor as it ends (the
    next plan reads changes from there), a read by changes does not. Neither may change what the
    next plan finds, with colleagues' changes made before and after the plan that failed. What makes
    the first safe: each record a full read puts in the mirror is marked changed, so a pair it found
    changed is not skipped as quiet by the next plan, which no longer reads that change (without the
    mark, both seeds fail)."""
    workdir, state = synced
    rng = random.Random(seed)
    for round_ in range(5):
        done = [change_something(servers, rng, round_ * 10 + k) for k in range(rng.randint(1, 2))]
        at, full = rng.choice(["suppliers", "items"]), rng.random() < 0.5
        stop = threading.Event()
        with servers.session(workdir, REALM, state) as session, pytest.raises(Interrupted):
            session.plan(full=full, stop=stop, progress=lambda what, _, __: what == f"planning {at}" and stop.set())
        done += [f"a {'full ' if full else ''}plan stopped after {at}"]
        done += [change_something(servers, rng, round_ * 10 + 5, kinds) for kinds in (IN_QUICKBOOKS, IN_PRECORO)]
        quick = plan_both_ways(servers, workdir, state, f"round {round_}: {done}")
        if rng.random() < 0.7:
            apply_deciding_at_random(servers, workdir, state, quick, rng)


def test_w11_a_quiet_item_is_reconciled_again_when_the_supplier_link_it_follows_goes(servers, synced):
    """Nothing of the item changed, but its supplier's link did: the item is not quiet any more."""
    workdir, state = synced
    [robertson] = [v for v in vendors(servers) if v["DisplayName"] == "Robertson & Associates"]
    assert quiet_links(state) > 0
    servers.quickbooks.update(REALM, "Vendor", {"Id": robertson["Id"], "SyncToken": robertson["SyncToken"],
                                                "sparse": True, "Active": False})
    quick = plan_both_ways(servers, workdir, state, "vendor made inactive")
    with servers.session(workdir, REALM, state) as session:
        session.apply(quick.id)
    plan = plan_both_ways(servers, workdir, state, "after the unlink")
    assert any(a.entity == "item" and a.name == "Copy paper A4" for a in plan.actions)


def test_w8_a_quiet_pair_whose_record_is_deleted_is_planned_again(servers, synced):
    workdir, state = synced
    assert quiet_links(state) > 0
    [muller] = [s for s in suppliers(servers) if s["name"] == "Müller Büromaterial GmbH"]
    servers.precoro.delete("suppliers", muller["id"])
    plan = plan_both_ways(servers, workdir, state, "supplier deleted")
    assert any(a.kind == "unlink" and a.precoro_id == str(muller["id"]) for a in plan.actions)
