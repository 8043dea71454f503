"""Strict YAML reading of a rules file: plain data plus the line and column of every value.

PyYAML's defaults are wrong for a file that operators edit by hand: duplicate keys are accepted
silently (the last one wins), and YAML 1.1 turns `no` into False, `12:30` into 750, `012` into 10
and `2024-01-01` into a date. Here only `true`/`false` are booleans and only plain decimal numbers
are numbers (YAML 1.2 style); everything else stays the string the operator typed. The node tree
is composed first and the Python data built from it by hand, so every value keeps its position.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import yaml

from .errors import RuleProblem, RulesError, quoted

KeyPath = tuple[str | int, ...]  # ("suppliers", "match", "keys", 0), as jsonschema's absolute_path

NULL_TAG = "tag:yaml.org,2002:null"
_SCALAR_TYPES = {
    NULL_TAG: lambda text: None,
    "tag:yaml.org,2002:bool": lambda text: text.lower() == "true",
    "tag:yaml.org,2002:int": int,
    "tag:yaml.org,2002:float": float,
    "tag:yaml.org,2002:str": str,
}
_COLLECTION_TAGS = ("tag:yaml.org,2002:map", "tag:yaml.org,2002:seq")


class RefusedYAML(yaml.MarkedYAMLError):
    """Valid YAML that a rules file may not use."""


class StrictLoader(yaml.SafeLoader):
    """A SafeLoader with YAML 1.2 core scalars (minus octal and hex) and no aliases."""

    # Start from no implicit resolvers at all: the inherited ones are the YAML 1.1 coercions.
    yaml_implicit_resolvers: dict = {}

    def compose_node(self, parent, index):
        # An alias makes one node appear in many places, which is how "billion laughs" files
        # blow up; a rules file never needs one, so it is refused where it appears.
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise RefusedYAML(
                problem="anchors and aliases (&name / *name) are not supported; write the value out",
                problem_mark=event.start_mark,
            )
        return super().compose_node(parent, index)


StrictLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)
# No leading zeros: `012` stays the string "012" instead of becoming 10 (YAML 1.1) or 12 (1.2).
StrictLoader.add_implicit_resolver(
    "tag:yaml.org,2002:int", re.compile(r"^[-+]?(?:0|[1-9][0-9]*)$"), list("-+0123456789")
)
StrictLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9]+\.[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?$"),
    list("-+.0123456789"),
)
StrictLoader.add_implicit_resolver(
    "tag:yaml.org,2002:null", re.compile(r"^(?:~|null|Null|NULL|)$"), ["~", "n", "N", ""]
)


def dotted(path: KeyPath) -> str:
    """The operator's spelling of a key path: `suppliers.match.keys[1]`."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text


@dataclass(frozen=True)
class SourceMap:
    """Where each key and value of a loaded file sits, to put problems at the right line."""

    source: str
    keys: Mapping[KeyPath, yaml.Mark]  # the key that names a path (a list item: the item)
    values: Mapping[KeyPath, yaml.Mark]

    def __contains__(self, path: KeyPath) -> bool:
        return tuple(path) in self.values

    def problem(self, path: KeyPath, message: str, *, at_key: bool = False) -> RuleProblem:
        """A problem placed at `path`'s value (or its key).

        A path the file lacks (a default, a missing key) is placed at the nearest enclosing one it has.
        """
        path = tuple(path)
        while path and path not in self.values:
            path = path[:-1]
        mark = (self.keys if at_key else self.values)[path]
        return RuleProblem(self.source, mark.line + 1, mark.column + 1, message)


@dataclass(frozen=True)
class Document:
    """A rules file read as plain data, with the position of everything in it."""

    data: dict[str, Any]
    source_map: SourceMap
    problems: tuple[RuleProblem, ...]  # found while reading: duplicate keys, unsupported tags


def read(text: str, source: str) -> Document:
    """Read YAML text strictly; raises RulesError when there is no mapping to work with."""
    try:
        loader = StrictLoader(text)  # checks for unprintable characters straight away
        try:
            root = loader.get_single_node()
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as error:
        raise RulesError([_syntax_problem(error, source)]) from None
    except yaml.reader.ReaderError as error:
        line = text.count("\n", 0, error.position) + 1
        column = error.position - text.rfind("\n", 0, error.position)
        raise RulesError(
            [RuleProblem(source, line, column, f"a character YAML does not allow (code {error.character:#x})")]
        ) from None
    except RecursionError:
        raise RulesError([RuleProblem(source, 1, 1, "the file is nested too deeply")]) from None

    if root is None or root.tag == NULL_TAG:  # no document, or `---` and nothing after it
        raise RulesError([RuleProblem(source, 1, 1, "the file is empty; a rules file needs at least `version: 1`")])
    if not isinstance(root, yaml.MappingNode):
        mark = root.start_mark
        raise RulesError(
            [RuleProblem(source, mark.line + 1, mark.column + 1,
                         f"expected a mapping of keys at the top level (like `version: 1`); got {_kind(root)}")]
        )
    builder = _Builder(source)
    data = builder.build(root, ())
    return Document(data, SourceMap(source, builder.keys, builder.values), tuple(builder.problems))


class _Builder:
    """Turns composed nodes into dicts, lists and scalars, recording positions on the way."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.keys: dict[KeyPath, yaml.Mark] = {}
        self.values: dict[KeyPath, yaml.Mark] = {}
        self.problems: list[RuleProblem] = []

    def build(self, node: yaml.Node, path: KeyPath, key_mark: yaml.Mark | None = None) -> Any:
        self.keys[path] = key_mark or node.start_mark
        self.values[path] = node.start_mark
        if isinstance(node, yaml.ScalarNode):
            return self._scalar(node, path)
        if node.tag not in _COLLECTION_TAGS:
            self._report(node.start_mark, path, f"unsupported tag {_short(node.tag)}; write plain YAML")
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item, path + (index,)) for index, item in enumerate(node.value)]
        return self._mapping(node, path)

    def _mapping(self, node: yaml.MappingNode, path: KeyPath) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                self._report(key_node.start_mark, path, "a key must be a plain name, not a list or mapping")
                continue
            key = key_node.value  # the text as typed: `on:` is the key "on", `1:` the key "1"
            if key in result:
                first = self.keys[path + (key,)]
                where = f"line {first.line + 1}, column {first.column + 1}"
                self._report(key_node.start_mark, path, f"duplicate key {quoted(key)} (first set at {where}); keep one")
                continue
            result[key] = self.build(value_node, path + (key,), key_node.start_mark)
        return result

    def _scalar(self, node: yaml.ScalarNode, path: KeyPath) -> Any:
        convert = _SCALAR_TYPES.get(node.tag)
        if convert is None:
            self._report(node.start_mark, path, f"unsupported tag {_short(node.tag)}; write plain YAML")
            return node.value
        try:
            return convert(node.value)
        except ValueError:  # an explicit tag on text it does not fit, like `!!int twelve`
            self._report(node.start_mark, path, f"{quoted(node.value)} does not fit its tag {_short(node.tag)}")
            return node.value

    def _report(self, mark: yaml.Mark, path: KeyPath, message: str) -> None:
        prefix = f"{dotted(path)}: " if path else ""
        self.problems.append(RuleProblem(self.source, mark.line + 1, mark.column + 1, prefix + message))


def _syntax_problem(error: yaml.MarkedYAMLError, source: str) -> RuleProblem:
    mark = error.problem_mark or error.context_mark
    problem, context = error.problem or "not valid YAML", error.context
    if isinstance(error, RefusedYAML):
        message = problem
    elif "'\\t'" in problem:
        message = "a tab character here; YAML indents with spaces only"
    elif context and problem.startswith("but "):  # ("expected a single document", "but found another")
        message = f"YAML syntax error: {context}, {problem}"
    elif context:  # ("while scanning a simple key", "could not find expected ':'")
        message = f"YAML syntax error: {problem} ({context})"
    else:
        message = f"YAML syntax error: {problem}"
    line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
    return RuleProblem(source, line, column, message)


def _short(tag: str) -> str:
    return tag.replace("tag:yaml.org,2002:", "!!")


def _kind(node: yaml.Node) -> str:
    if isinstance(node, yaml.SequenceNode):
        return "a list"
    return f"the value {quoted(node.value)}"
