"""W1: a plan is kept entity by entity as it is made, in the form the state file holds it (a large
first plan's whole actions are let go as it goes). What it lists when made is what was saved: the
same actions whole, in plan order, under the id its content gives."""

from __future__ import annotations

from engine.entities import ORDER, sort_key
from engine.local.demo import seed_scale
from engine.plan import Plan
from engine.store import ACTIONS_PER_PAGE, Store

REALM = "8107"


def test_w1_the_plan_made_is_the_plan_saved_across_pages_and_entities(servers, fresh_dir):
    servers.reset(REALM)
    # Suppliers and items, each entity's actions ending in the middle of a page.
    seed_scale(servers.quickbooks, servers.precoro, REALM, 170)
    workdir = fresh_dir()
    with servers.session(workdir, REALM) as s:
        made = s.plan()
    assert len(made.actions) > 2 * ACTIONS_PER_PAGE

    saved = Store(workdir / "state.db").load_plan(made.id)
    assert [a.full() for a in made.actions] == saved.actions  # read from memory, and from the state file
    assert saved.actions == sorted(saved.actions, key=sort_key)
    entities = [a.entity for a in saved.actions]
    assert {"supplier", "item"} <= set(entities) and entities == sorted(entities, key=ORDER.get)
    # The id digested as the plan was made is its content hash (another state gives another id).
    whole = Plan(actions=saved.actions, realm_id=saved.realm_id, rules_digest=saved.rules_digest,
                 created_at=saved.created_at)
    assert whole.id == made.id
    # The links' baselines are read back whole from their compact form.
    link = next(a for a in saved.actions if a.kind == "link" and a.entity == "supplier")
    assert link.link.baseline["name"] == {"precoro": link.name, "quickbooks": link.name}
