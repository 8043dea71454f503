"""Load and validate rules.yaml into the frozen, typed `Rules` the engine runs on (W5).

    loaded = rules.load("rules.yaml")   # or a RulesError listing every problem, file:line:col first

A half-valid file never runs anything: `load` returns only when the whole file is valid. The file
is the operator's own; nothing here ever writes over it (`write_starter` makes one where there is none).
"""

from __future__ import annotations

import hashlib
from importlib import resources
from pathlib import Path

from . import checks, loader, schema
from .build import build, build_entity
from .defaults import with_defaults, with_field_defaults
from .errors import RuleProblem, RulesError
from .model import (
    SIDES,
    ConflictPolicy,
    Connections,
    CreateRule,
    Direction,
    EntityRules,
    FieldRule,
    InactiveRule,
    ItemMappingRule,
    ItemRules,
    MatchRule,
    PrecoroConnection,
    QuickBooksConnection,
    Rules,
    Side,
    WhenInactiveInPrecoro,
    WhenInactiveInQuickBooks,
    other_side,
)

__all__ = [
    "SIDES",
    "ConflictPolicy",
    "Connections",
    "CreateRule",
    "Direction",
    "EntityRules",
    "FieldRule",
    "InactiveRule",
    "ItemMappingRule",
    "ItemRules",
    "MatchRule",
    "PrecoroConnection",
    "QuickBooksConnection",
    "RuleProblem",
    "Rules",
    "RulesError",
    "Side",
    "WhenInactiveInPrecoro",
    "WhenInactiveInQuickBooks",
    "entity_rules",
    "load",
    "loads",
    "other_side",
    "starter",
    "write_starter",
]


def load(path: str | Path) -> Rules:
    """The rules in the file at `path`; problems are reported against `path` as given.

    Raises RulesError for an invalid file and OSError when it cannot be read at all.
    """
    source = str(path)
    content = Path(path).read_bytes()
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError as error:
        line = content.count(b"\n", 0, error.start) + 1
        column = error.start - (content.rfind(b"\n", 0, error.start) + 1) + 1
        raise RulesError([RuleProblem(source, line, column, "the file is not UTF-8 text")]) from None
    return _parse(text, source, hashlib.sha256(content).hexdigest())


def loads(text: str, source: str = "rules.yaml") -> Rules:
    """The rules in `text`; `source` names it in problems."""
    return _parse(text, source, hashlib.sha256(text.encode("utf-8")).hexdigest())


def entity_rules(section: str, data: dict) -> EntityRules:
    """One entity's rules from a mapping shaped like a rules.yaml entity section (every key given,
    fields with both paths): the rules of an entity rules.yaml has no section for, as a test's toy
    entity. Checked against the schema's entity section; raises RulesError."""
    problems = [RuleProblem(f"<{section}>", 1, 1, f"{'.'.join(map(str, error.absolute_path)) or section}: {error.message}")
                for error in schema.ENTITY_VALIDATOR.iter_errors(data)]
    if problems:
        raise RulesError(problems)
    return build_entity(section, with_field_defaults(data))


def _parse(text: str, source: str, digest: str) -> Rules:
    document = loader.read(text, source)
    problems, best = schema.check(document)
    problems += document.problems
    if problems:
        raise RulesError(problems, best)
    data = with_defaults(document.data)
    problems = checks.check(data, document.source_map)
    if problems:
        raise RulesError(problems)
    return build(data, source=source, digest=digest)


def starter(*, quickbooks: str = "local", precoro: str = "local") -> str:
    """The commented rules.yaml qbsync ships with (`qbsync init`), its connections set to these
    environments. `starter.yaml` is the project's own rules.yaml (a link in the source tree, a copy
    in a built package), so the start a new folder gets is the file the tests hold to its defaults."""
    text = resources.files(__package__).joinpath("starter.yaml").read_text(encoding="utf-8")
    for section, environment in (("quickbooks", quickbooks), ("precoro", precoro)):
        # The first `environment:` under the section's own key; only its value changes, never a comment.
        local = "\n    environment: local\n"
        at = text.index(local, text.index(f"\n  {section}:\n"))
        text = text[:at] + f"\n    environment: {environment}\n" + text[at + len(local):]
    return text


def write_starter(path: str | Path, *, quickbooks: str = "local", precoro: str = "local") -> bool:
    """Write `starter()` at `path`, making its folder when new (a company's own, for `qbsync run
    --all`); returns whether the folder was made. Raises FileExistsError where a file is already:
    that one is the operator's."""
    path = Path(path)
    made = not path.parent.exists()
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("x", encoding="utf-8") as out:
        out.write(starter(quickbooks=quickbooks, precoro=precoro))
    return made
