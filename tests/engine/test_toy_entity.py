"""Adding an entity is one spec and its rules: a toy entity, planned and applied against the local APIs.

The toy: QuickBooks classes mirrored as the options of a Precoro document custom field "Projects"
(beside the shipped `classes`, which go to an item custom field). Nothing in the engine is told
about it but the registry; its rules are built as a rules.yaml section would be.
"""

from __future__ import annotations

import dataclasses

import pytest

import rules
from engine.entities import EntitySpec, register, unregister

REALM = "5151"
PROJECTS = EntitySpec("project", "projects", "project", "projects", "Class", "FullyQualifiedName",
                      "/documentcustomfields", custom_field="Projects")
PROJECT_RULES = {
    "enabled": True,
    "match": {"keys": ["name"], "normalize": ["trim", "casefold"]},
    "create": {"in_quickbooks": False, "in_precoro": True},
    "conflict": "quickbooks_wins",
    "when_inactive": {"in_quickbooks": "ignore", "in_precoro": "ignore"},
    "when_deleted": {"in_quickbooks": "unlink", "in_precoro": "recreate"},
    "fields": {"name": {"precoro": "name", "quickbooks": "FullyQualifiedName", "direction": "to_precoro"}},
}


@pytest.fixture
def projects():
    register(PROJECTS)
    yield PROJECTS
    unregister(PROJECTS.section)


def with_projects(session):
    """The session's rules with the toy entity's section, as if rules.yaml had one."""
    loaded = session.rules
    session.rules = dataclasses.replace(loaded, entities={**loaded.entities,
                                                          "projects": rules.entity_rules("projects", PROJECT_RULES)})
    return session


def test_a_toy_entity_is_planned_and_applied_through_one_spec(servers, fresh_dir, projects):
    servers.reset(REALM)
    for name in ("Apollo", "Gemini"):
        servers.quickbooks.insert(REALM, "Class", {"Name": name})
    field = servers.precoro.insert("documentcustomfields", {"name": "Projects"})["id"]
    servers.precoro.insert("documentcustomfield_options", {"customField": field, "name": "apollo"})
    workdir = fresh_dir()

    with with_projects(servers.session(workdir, REALM)) as session:
        plan = session.plan(only=["projects"])
        # "apollo" is matched by name and takes QuickBooks' spelling; "Gemini" is created.
        assert sorted((a.kind, a.name) for a in plan.actions) == [("create", "Gemini"), ("link", "apollo"),
                                                                   ("update", "apollo")]
        create = next(a for a in plan.actions if a.kind == "create")
        assert create.write.collection == f"/documentcustomfields/{field}/options"
        assert session.apply(plan.id).ok
        options = {o["name"]: o for o in session.connected.precoro.list_all(f"/documentcustomfields/{field}/options")}
        assert set(options) == {"Apollo", "Gemini"}
        assert session.plan(only=["projects"]).actions == []  # converged

        # Its rules work like any entity's: a rename in QuickBooks follows to Precoro.
        [gemini] = [row for row in servers.quickbooks.query(REALM, "SELECT * FROM Class WHERE Name = 'Gemini'")
                    .response()["Class"]]
        session.connected.quickbooks.update("Class", {"Id": gemini["Id"], "SyncToken": gemini["SyncToken"],
                                                      "Name": "Gemini II"})
        rename = session.plan(only=["projects"])
        [update] = rename.actions
        assert (update.kind, update.target, update.write.values) == ("update", "precoro", {"name": "Gemini II"})
        assert session.apply(rename.id).ok
        names = {o["name"] for o in session.connected.precoro.list_all(f"/documentcustomfields/{field}/options")}
        assert names == {"Apollo", "Gemini II"}


def test_a_toy_entitys_rules_are_checked_like_a_section_of_rules_yaml():
    with pytest.raises(rules.RulesError, match="direction"):
        rules.entity_rules("projects", {**PROJECT_RULES, "fields": {"name": {
            "precoro": "name", "quickbooks": "FullyQualifiedName", "direction": "sideways"}}})
