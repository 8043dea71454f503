"""W5: schema.json is a closed, documented Draft 2020-12 schema that the defaults satisfy."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from jsonschema import Draft202012Validator

from rules.defaults import DEFAULTS
from rules.schema import SCHEMA, VALIDATOR


def objects(schema: Any, where: str = "#") -> Iterator[tuple[str, dict[str, Any]]]:
    """Every subschema that describes a mapping, with where it sits."""
    if isinstance(schema, dict):
        if schema.get("type") == "object":
            yield where, schema
        for key, value in schema.items():
            yield from objects(value, f"{where}/{key}")
    elif isinstance(schema, list):
        for index, value in enumerate(schema):
            yield from objects(value, f"{where}/{index}")


def test_w5_schema_is_valid_draft_2020_12():
    Draft202012Validator.check_schema(SCHEMA)


def test_w5_every_mapping_is_closed():
    for where, schema in objects(SCHEMA):
        extra = schema.get("additionalProperties")
        # A `fields` map takes any field name, but each value is itself a closed field schema.
        assert extra is False or extra == {"$ref": "#/$defs/field"}, where


def test_w5_every_key_has_a_description():
    for where, schema in objects(SCHEMA):
        for key, subschema in schema.get("properties", {}).items():
            assert subschema.get("description"), f"{where}/properties/{key}"


def test_w5_the_defaults_are_a_valid_rules_file():
    assert list(VALIDATOR.iter_errors(DEFAULTS)) == []
