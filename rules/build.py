"""Checked rules data (the file laid over the defaults) -> the frozen model the engine reads."""

from __future__ import annotations

from datetime import date
from typing import Any

from .defaults import DOCUMENT_SECTIONS, ENTITY_PATHS, entity_data
from .model import (
    Connections,
    CreateRule,
    DeletedRule,
    DocumentRules,
    EntityRules,
    FieldRule,
    InactiveRule,
    ItemMappingRule,
    ItemRules,
    MatchRule,
    PrecoroConnection,
    QuickBooksConnection,
    Rules,
    PolicyRule,
    SafetyRule,
)


def build(data: dict[str, Any], *, source: str, digest: str) -> Rules:
    """The model of `data`, which must have passed the schema and `checks.check`."""
    connections = data["connections"]
    entities = {section: build_entity(section, entity_data(data, path), documents=section in DOCUMENT_SECTIONS)
                for section, path in ENTITY_PATHS.items()}
    return Rules(
        version=int(data["version"]),  # `1.0` passes the schema too
        connections=Connections(
            quickbooks=QuickBooksConnection(**connections["quickbooks"]),
            precoro=PrecoroConnection(**connections["precoro"]),
        ),
        entities=entities,
        source=source,
        digest=digest,
        safety=SafetyRule(max_change_share=float(data["safety"]["max_change_share"]),
                          min_linked=int(data["safety"]["min_linked"])),
        policy=_policy(data["policy"]),
        documents_since=date.fromisoformat(data["documents"]["since"]) if data["documents"].get("since") else None,
    )


def _policy(policy: dict[str, Any]) -> PolicyRule:
    limit = policy["documents_up_to"]
    return PolicyRule(links=policy["links"], creates=frozenset(policy["creates"]),
                      updates={section: frozenset(names) for section, names in policy["updates"].items()},
                      documents_up_to=None if limit is None else {code: float(amount) for code, amount in limit.items()}
                      if isinstance(limit, dict) else float(limit))


def _items(items: dict[str, Any]) -> ItemRules:
    mapping = items["mapping"]
    return ItemRules(
        **_entity("items", items),
        names_from=items["names_from"],
        mapping=ItemMappingRule(
            same_name=tuple(mapping["same_name"]), different_name=tuple(mapping["different_name"])
        ),
        free_of_charge_keeps_price=items["free_of_charge_keeps_price"],
        when_merged=items["when_merged"],
    )


def build_entity(section: str, entity: dict[str, Any], *, documents: bool = False) -> EntityRules:
    """The rules of one entity section (laid over its defaults already)."""
    if section == "items":
        return _items(entity)
    if documents:
        return DocumentRules(
            **_entity(section, entity),
            lines=tuple(_field(name, rule) for name, rule in entity["lines"].items() if rule["enabled"]),
            default_account=entity["default_account"],
            revisions=entity["revisions"],
            when_cancelled=entity["when_cancelled"],
            attachments=entity["attachments"],
            split_cost=entity.get("split_cost", "parent"),
        )
    return EntityRules(**_entity(section, entity))


def _entity(name: str, entity: dict[str, Any]) -> dict[str, Any]:
    """The EntityRules arguments shared by every entity section."""
    match = entity["match"]
    return {
        "entity": name,
        "enabled": entity["enabled"],
        "match": MatchRule(keys=tuple(match["keys"]), normalize=tuple(match["normalize"])),
        "create": CreateRule(**entity["create"]),
        "conflict": entity["conflict"],
        "when_inactive": InactiveRule(**entity["when_inactive"]),
        "when_deleted": DeletedRule(**entity["when_deleted"]),
        "fields": tuple(
            _field(field_name, field) for field_name, field in entity["fields"].items() if field["enabled"]
        ),
    }


def _field(name: str, field: dict[str, Any]) -> FieldRule:
    return FieldRule(
        name=name,
        precoro=field["precoro"],
        quickbooks=field["quickbooks"],
        direction=field["direction"],
        conflict=field.get("conflict"),
        transform=field.get("transform"),
        max_length={side: int(limit) for side, limit in field["max_length"].items()},
        update=field["update"],
    )
