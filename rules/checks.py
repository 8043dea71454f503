"""What the schema cannot say: names that must exist and mappings that must not collide.

Runs on the file laid over the defaults, once the schema is satisfied. A problem about a value
that came from the defaults is placed at what the operator wrote that broke it (the
`enabled: false` of a field that a default match key still needs, say).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from .defaults import DOCUMENT_SECTIONS, ENTITY_PATHS, entity_data
from .errors import RuleProblem, quoted
from .loader import KeyPath, SourceMap, dotted
from .schema import SCHEMA, missing_key, suggestion
from .transforms import NORMALIZERS, REFERENCE_TRANSFORMS, TRANSFORMS

KNOWN_TRANSFORMS = sorted(TRANSFORMS.keys() | REFERENCE_TRANSFORMS)
_FIELD_KEYS = SCHEMA["$defs"]["field"]["properties"]


def check(rules: dict[str, Any], source_map: SourceMap) -> list[RuleProblem]:
    """Every problem of the merged rules (`defaults.with_defaults` of the file's data)."""
    problems: list[RuleProblem] = []
    for path in ENTITY_PATHS.values():
        problems += _EntityCheck(path, entity_data(rules, path), source_map).problems()
    return (problems + _policy_problems(rules, source_map) + _cutoff_problems(rules, source_map)
            + _split_cost_problems(rules, source_map))


def _split_cost_problems(rules: dict[str, Any], source_map: SourceMap) -> list[RuleProblem]:
    """D8: only invoices are split (purchase orders and credit notes take no split_cost)."""
    return [source_map.problem(("documents", name, "split_cost"),
                               f"documents.{name}.split_cost: only invoices are split; leave it out here")
            for name in DOCUMENT_SECTIONS
            if name != "invoices" and isinstance(rules["documents"].get(name), dict)
            and "split_cost" in rules["documents"][name]]


def _cutoff_problems(rules: dict[str, Any], source_map: SourceMap) -> list[RuleProblem]:
    """D4: documents.since is a day of the calendar (the schema checks only its shape)."""
    since = rules["documents"].get("since")
    try:
        if since is not None:
            date.fromisoformat(since)
    except ValueError:
        return [source_map.problem(("documents", "since"),
                                   f"documents.since: {quoted(since)} is not a date; expected YYYY-MM-DD, e.g. 2026-01-01")]
    return []


def _policy_problems(rules: dict[str, Any], source_map: SourceMap) -> list[RuleProblem]:
    """U2: the policy names entities and fields that exist (documents go by their amount)."""
    policy, found = rules["policy"], []
    sections = [name for name in ENTITY_PATHS if name not in DOCUMENT_SECTIONS]

    def report(path: KeyPath, message: str) -> None:
        found.append(source_map.problem(path, f"{dotted(path)}: {message}"))

    for index, name in enumerate(policy["creates"]):
        if name in DOCUMENT_SECTIONS:
            report(("policy", "creates", index), f"{quoted(name)} are documents: they go by policy.documents_up_to")
        elif name not in ENTITY_PATHS:
            report(("policy", "creates", index),
                   f"{quoted(name)} is not an entity{suggestion(name, sections)}; known: {', '.join(sections)}")
    for section, names in policy["updates"].items():  # the schema lists the sections
        fields = entity_data(rules, ENTITY_PATHS[section])["fields"]
        for index, name in enumerate(names):
            if name not in fields:
                report(("policy", "updates", section, index),
                       f"{quoted(name)} is not a field of {section}{suggestion(name, list(fields))}")
    return found


class _EntityCheck:
    def __init__(self, path: tuple[str, ...], rules: dict[str, Any], source_map: SourceMap) -> None:
        self.where = path  # where the entity's rules sit in the file: ("suppliers",), ("lists", "taxes")
        self.entity = path[-1]
        self.rules = rules
        self.fields: dict[str, dict[str, Any]] = rules["fields"]
        self.source_map = source_map
        self.found: list[RuleProblem] = []

    def problems(self) -> list[RuleProblem]:
        for name, field in self.fields.items():
            self._field(name, field)
        for name, field in self.rules.get("lines", {}).items():  # a document's line fields (D5)
            self._field(name, field, group="lines")
        self._quickbooks_paths_unique()
        self._names_in(("match", "keys"), "is a match key")
        for index, normalizer in enumerate(self.rules["match"]["normalize"]):
            if normalizer not in NORMALIZERS:
                self._report(self._path("match", "normalize", index),
                             f"unknown normalizer {quoted(normalizer)}{suggestion(normalizer, list(NORMALIZERS))};"
                             f" known: {', '.join(NORMALIZERS)}")
        if "mapping" in self.rules:
            for listing in ("same_name", "different_name"):
                self._names_in(("mapping", listing), "is copied when mapping an item")
        return self.found

    def _field(self, name: str, field: dict[str, Any], group: str = "fields") -> None:
        for side in ("precoro", "quickbooks"):
            if side not in field:
                self._report(self._path(group, name), missing_key(side, _FIELD_KEYS[side]), at_key=True)
        transform = field.get("transform")
        if transform is not None and transform not in KNOWN_TRANSFORMS:
            self._report(self._path(group, name, "transform"),
                         f"unknown transform {quoted(transform)}{suggestion(transform, KNOWN_TRANSFORMS)};"
                         f" known: {', '.join(KNOWN_TRANSFORMS)}")

    def _quickbooks_paths_unique(self) -> None:
        # Two fields fed by one QuickBooks value would each write it back: the last write would win.
        owner: dict[str, str] = {}
        for name, field in self._enabled_fields():
            path = field.get("quickbooks")
            if path is None:  # a field without its path is reported by `_field`
                continue
            if path not in owner:
                owner[path] = name
                continue
            first = owner[path]
            # Point at whichever of the two the operator wrote (the other one is a default).
            written = self._path("fields", name, "quickbooks")
            if written not in self.source_map:
                written = self._path("fields", first, "quickbooks")
            self._report(written, f"fields {quoted(first)} and {quoted(name)} both map the QuickBooks path {quoted(path)};"
                                  " a QuickBooks value can belong to one field only", prefix=self._path("fields"))

    def _names_in(self, where: tuple[str, str], role: str) -> None:
        """Every name listed at `where` must be an enabled field of this entity."""
        enabled = dict(self._enabled_fields())
        for index, name in enumerate(self.rules[where[0]][where[1]]):
            listed_at = self._path(*where, index)
            if name in enabled:
                continue
            if name not in self.fields:
                self._report(listed_at, f"{quoted(name)} is not a field of {self.entity}"
                                        f"{suggestion(name, list(self.fields))}")
            elif listed_at in self.source_map:
                self._report(listed_at, f"field {quoted(name)} is disabled; enable it or leave it out here")
            else:  # the list is a default, so the operator's `enabled: false` is what broke it
                listing = dotted(self._path(*where))
                self._report(self._path("fields", name, "enabled"),
                             f"field {quoted(name)} {role} ({listing}), so it cannot be disabled"
                             f" unless {listing} leaves it out")

    def _enabled_fields(self) -> list[tuple[str, dict[str, Any]]]:
        return [(name, field) for name, field in self.fields.items() if field["enabled"]]

    def _path(self, *parts: str | int) -> KeyPath:
        return (*self.where, *parts)

    def _report(self, path: KeyPath, message: str, *, at_key: bool = False, prefix: KeyPath | None = None) -> None:
        self.found.append(self.source_map.problem(path, f"{dotted(prefix or path)}: {message}", at_key=at_key))
