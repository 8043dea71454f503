"""rules.yaml against schema.json: every violation said in operator words, at its line and column."""

from __future__ import annotations

import difflib
import json
from importlib import resources
from typing import Any
from urllib.parse import urlsplit

from jsonschema import Draft202012Validator, FormatChecker, ValidationError
from jsonschema.exceptions import best_match

from .errors import RuleProblem, quoted
from .loader import Document, KeyPath, SourceMap, dotted

SCHEMA: dict[str, Any] = json.loads(resources.files(__package__).joinpath("schema.json").read_text("utf-8"))

# Only the formats this schema defines: jsonschema's own "uri" would pass anything unless an extra
# package is installed, which is no check at all.
FORMATS = FormatChecker(formats=())


@FORMATS.checks("http-url")
def _is_http_url(value: object) -> bool:
    if not isinstance(value, str):
        return True  # "type" reports that
    parts = urlsplit(value)
    return parts.scheme in ("http", "https") and bool(parts.netloc)


VALIDATOR = Draft202012Validator(SCHEMA, format_checker=FORMATS)
# One entity's section alone (rules.entity_rules).
ENTITY_VALIDATOR = Draft202012Validator({"$ref": "#/$defs/entity", "$defs": SCHEMA["$defs"]}, format_checker=FORMATS)

_TYPE_WORDS = {
    "string": "a string (text)",
    "boolean": "a boolean (true/false)",
    "integer": "a whole number",
    "number": "a number",
    "object": "a mapping (key: value)",
    "array": "a list",
    "null": "null (nothing)",
}


def check(document: Document) -> tuple[list[RuleProblem], RuleProblem | None]:
    """All schema problems of the file, and the headline one (jsonschema's best match)."""
    errors = list(VALIDATOR.iter_errors(document.data))
    if not errors:
        return [], None
    problems = [problem for error in errors for problem in _explain(error, document.source_map)]
    return problems, _explain(best_match(errors), document.source_map)[0]


def shown(value: Any) -> str:
    """A value as the operator would recognise it from the file."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "nothing (an empty value)"
    if isinstance(value, str):
        return quoted(value)
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return str(value)


def suggestion(word: str, choices: list[str]) -> str:
    """` (did you mean 'x'?)` when one of `choices` is close to `word`, else ``."""
    close = difflib.get_close_matches(word, choices, n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _explain(error: ValidationError, source_map: SourceMap) -> list[RuleProblem]:
    """One jsonschema error as problems (one per key for unknown and missing keys)."""
    path: KeyPath = tuple(error.absolute_path)
    kind, schema, instance = error.validator, error.schema, error.instance

    def at(where: KeyPath, message: str, *, at_key: bool = False) -> RuleProblem:
        return source_map.problem(where, f"{dotted(path)}: {message}" if path else message, at_key=at_key)

    def at_value(expected: str, got: str = f"got {shown(instance)}") -> list[RuleProblem]:
        # An empty value has no text of its own to point at; its key is where the eye goes.
        return [at(path, f"expected {expected}; {got}", at_key=instance is None)]

    if kind == "anyOf":  # a list or a document: true, false, or its own rules
        if isinstance(instance, dict):
            # Its own rules, then: the `true`/`false` alternative's type error says nothing, but a
            # wrong type inside the rules does (`enabled: maybe`).
            return [problem for inner in error.context if inner.validator != "type" or inner.relative_path
                    for problem in _explain(inner, source_map)]
        return at_value("true, false or a mapping of its rules (enabled, fields, ...)")
    if kind == "additionalProperties":
        known = list(schema.get("properties", {}))
        return [
            at(path + (key,), f"unknown key {quoted(key)}" + (suggestion(key, known) or f"; expected one of {', '.join(known)}"),
               at_key=True)
            for key in instance
            if key not in known
        ]
    if kind == "required":
        return [
            at(path, missing_key(key, schema["properties"][key]), at_key=True)
            for key in error.validator_value
            if key not in instance
        ]
    if kind == "pattern" and error.absolute_schema_path[-2] == "propertyNames":
        # The key itself is wrong, so jsonschema's path stops at the mapping that holds it.
        return [at(path + (instance,), f"{quoted(instance)} is not a usable name; expected {_like(schema, schema.get('title', 'a name'))}",
                   at_key=True)]
    if kind == "type":
        if schema["type"] == "string" and _is_number(instance):
            return at_value("a string (text)", f"got {quoted(instance)[1:-1]}; put it in quotes: {quoted(instance)}")
        kinds = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        return at_value(" or ".join(_TYPE_WORDS[k] for k in kinds))
    if kind == "enum":
        return at_value(f"one of {', '.join(schema['enum'])}")
    if kind == "const":
        return at_value(shown(schema["const"]))
    if kind in ("pattern", "format"):
        return at_value(_like(schema))
    if kind == "minimum":
        return at_value(f"a number of at least {schema['minimum']}")
    if kind == "minItems":
        return at_value(f"at least {schema['minItems']} entry", "got an empty list")
    if kind == "uniqueItems":
        for index, item in enumerate(instance):
            if item in instance[:index]:
                return [at(path + (index,), f"{shown(item)} is listed twice")]
    return [at(path, error.message)]  # a keyword this schema does not use today


def missing_key(key: str, schema: dict[str, Any]) -> str:
    """`missing key 'x': what x is`, from the key's schema description."""
    description = schema["description"]
    if description[1:2].islower():  # "The path ..." reads on as "the path ...", "QuickBooks ..." stays
        description = description[0].lower() + description[1:]
    return f"missing key '{key}': {description}"


def _like(schema: dict[str, Any], noun: str = "a value") -> str:
    return f"{noun} like " + " or ".join(schema["examples"])


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)
