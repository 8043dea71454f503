"""The QuickBooks query language: parse `SELECT ... FROM <Entity> ...` and compile it to SQL.

Grammar (fact sheet §2): `SELECT * | COUNT(*) FROM <Entity> [WHERE c [AND c ...]]
[ORDERBY|ORDER BY f [ASC|DESC][, ...]] [STARTPOSITION n] [MAXRESULTS m]`, conditions
`f = < > <= >= v`, `f IN (v, ...)`, `f LIKE 'x%'`. Keywords are case-insensitive, the entity name
is case-sensitive, clauses after FROM come in any order (the real API accepts
`MAXRESULTS 2 STARTPOSITION 1`), string literals are single-quoted with backslash escapes (`\\'`,
`\\\\`), and `SELECT *, Sku FROM Item` is tolerated (every query returns whole objects).

Our conventions, where the public docs say nothing:
- Default order is Id ascending (numeric); an ORDER BY gets Id as the final tie-breaker.
- `=`, `IN` and range comparisons on strings are exact; `LIKE` ignores ASCII case (SQLite's LIKE);
  ORDER BY a string field sorts by code point.
- Times in a literal without an offset are read as UTC.
- MAXRESULTS above 1000 (or below 1) and STARTPOSITION below 1 are refused with 4001.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timezone

from . import errors
from .entities import ENTITIES, NUMERIC_FIELDS, Entity

DEFAULT_MAX_RESULTS = 100
MAX_RESULTS_LIMIT = 1000
KEYWORDS = {"SELECT", "FROM", "WHERE", "AND", "IN", "LIKE", "ORDER", "ORDERBY", "BY", "ASC", "DESC",
            "STARTPOSITION", "MAXRESULTS", "COUNT", "TRUE", "FALSE"}
OPERATORS = ("<=", ">=", "=", "<", ">")
TIME_COLUMNS = {"MetaData.CreateTime": "created_at", "MetaData.LastUpdatedTime": "updated_at"}


@dataclass(frozen=True)
class Token:
    kind: str  # "word" | "string" | "number" | "symbol" | "end"
    text: str
    value: object
    column: int

    def is_word(self, *words: str) -> bool:
        return self.kind == "word" and self.text.upper() in words


@dataclass(frozen=True)
class Condition:
    field: str
    op: str  # one of OPERATORS, "IN" or "LIKE"
    value: object  # a literal, or a tuple of literals for IN


@dataclass(frozen=True)
class Query:
    entity: Entity
    count: bool
    conditions: tuple[Condition, ...]
    order_by: tuple[tuple[str, bool], ...]  # (field, descending)
    start_position: int
    max_results: int


_TOKEN = re.compile(
    r"(?P<space>\s+)|(?P<number>-?\d+(?:\.\d+)?)|(?P<word>[A-Za-z_][A-Za-z0-9_.]*)"
    r"|(?P<symbol><=|>=|[=<>(),*])|(?P<quote>')"
)


def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    pos = 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None:
            raise errors.query_parser_error(
                f'Invalid content. Lexical error at line 1, column {pos + 1}.  Encountered: "{text[pos]}"'
            )
        kind = match.lastgroup
        if kind == "quote":
            value, pos = _read_string(text, pos)
            tokens.append(Token("string", text[match.start():pos], value, match.start() + 1))
            continue
        if kind == "number":
            number = float(match.group()) if "." in match.group() else int(match.group())
            tokens.append(Token("number", match.group(), number, pos + 1))
        elif kind != "space":
            tokens.append(Token(kind, match.group(), match.group(), pos + 1))
        pos = match.end()
    tokens.append(Token("end", "<EOF>", None, len(text) + 1))
    return tokens


def _read_string(text: str, start: int) -> tuple[str, int]:
    chars: list[str] = []
    pos = start + 1
    while pos < len(text):
        ch = text[pos]
        if ch == "\\" and pos + 1 < len(text):
            chars.append(text[pos + 1])
            pos += 2
        elif ch == "'":
            return "".join(chars), pos + 1
        else:
            chars.append(ch)
            pos += 1
    raise errors.query_parser_error(f"Lexical error at line 1, column {len(text) + 1}.  Encountered: <EOF> in a string")


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = tokenize(text)
        self.pos = 0

    @property
    def token(self) -> Token:
        return self.tokens[self.pos]

    def advance(self) -> Token:
        token = self.tokens[self.pos]
        self.pos += 1
        return token

    def fail(self, expected: str) -> errors.QboError:
        token = self.token
        return errors.query_parser_error(
            f'Encountered " "{token.text}" "" at line 1, column {token.column}.\nWas expecting:\n    {expected} ...'
        )

    def expect_word(self, *words: str) -> Token:
        if not self.token.is_word(*words):
            raise self.fail(" | ".join(words))
        return self.advance()

    def expect_symbol(self, symbol: str) -> Token:
        if self.token.kind != "symbol" or self.token.text != symbol:
            raise self.fail(f'"{symbol}"')
        return self.advance()

    def identifier(self) -> str:
        token = self.token
        if token.kind != "word" or token.text.upper() in KEYWORDS:
            raise self.fail("<IDENTIFIER>")
        return self.advance().text

    def literal(self) -> object:
        token = self.token
        if token.kind in ("string", "number"):
            return self.advance().value
        if token.is_word("TRUE", "FALSE"):
            return self.advance().text.upper() == "TRUE"
        raise self.fail("<STRING_LITERAL> | <NUMBER> | true | false")

    def parse(self) -> tuple[str, bool, dict]:
        self.expect_word("SELECT")
        count = self.select_list()
        self.expect_word("FROM")
        entity = self.identifier()
        clauses: dict = {}
        while self.token.kind != "end":
            keyword = self.expect_word("WHERE", "ORDER", "ORDERBY", "STARTPOSITION", "MAXRESULTS").text.upper()
            if keyword == "ORDER":
                self.expect_word("BY")
                keyword = "ORDERBY"
            if keyword in clauses:
                raise errors.query_parser_error(f"{keyword} given twice")
            if keyword == "WHERE":
                clauses[keyword] = self.conditions()
            elif keyword == "ORDERBY":
                clauses[keyword] = self.order_list()
            else:
                token = self.advance()
                if token.kind != "number" or not isinstance(token.value, int):
                    self.pos -= 1
                    raise self.fail("<INTEGER>")
                clauses[keyword] = token.value
        return entity, count, clauses

    def select_list(self) -> bool:
        if self.token.is_word("COUNT"):
            self.advance()
            self.expect_symbol("(")
            self.expect_symbol("*")
            self.expect_symbol(")")
            return True
        while True:
            if self.token.kind == "symbol" and self.token.text == "*":
                self.advance()
            else:
                self.identifier()
            if not (self.token.kind == "symbol" and self.token.text == ","):
                return False
            self.advance()

    def conditions(self) -> list[Condition]:
        found = [self.condition()]
        while self.token.is_word("AND"):
            self.advance()
            found.append(self.condition())
        return found

    def condition(self) -> Condition:
        field = self.identifier()
        if self.token.is_word("IN"):
            self.advance()
            self.expect_symbol("(")
            values = [self.literal()]
            while self.token.kind == "symbol" and self.token.text == ",":
                self.advance()
                values.append(self.literal())
            self.expect_symbol(")")
            return Condition(field, "IN", tuple(values))
        if self.token.is_word("LIKE"):
            self.advance()
            if self.token.kind != "string":
                raise self.fail("<STRING_LITERAL>")
            return Condition(field, "LIKE", self.advance().value)
        if self.token.kind == "symbol" and self.token.text in OPERATORS:
            op = self.advance().text
            return Condition(field, op, self.literal())
        raise self.fail('"=" | "<" | ">" | "<=" | ">=" | "IN" | "LIKE"')

    def order_list(self) -> list[tuple[str, bool]]:
        found = []
        while True:
            field = self.identifier()
            descending = False
            if self.token.is_word("ASC", "DESC"):
                descending = self.advance().text.upper() == "DESC"
            found.append((field, descending))
            if not (self.token.kind == "symbol" and self.token.text == ","):
                return found
            self.advance()


def parse(text: str) -> Query:
    """Parse and validate a query; raises QboError 4000 (syntax) or 4001 (meaning)."""
    entity_name, count, clauses = _Parser(text).parse()
    entity = ENTITIES.get(entity_name)
    if entity is None:
        raise errors.query_validation_error(f"invalid context declaration: {entity_name}")
    conditions = tuple(clauses.get("WHERE", ()))
    order_by = tuple(clauses.get("ORDERBY", ()))
    for name in [c.field for c in conditions] + [f for f, _ in order_by]:
        _check_field(entity, name)
    start = clauses.get("STARTPOSITION", 1)
    limit = clauses.get("MAXRESULTS", DEFAULT_MAX_RESULTS)
    if start < 1:
        raise errors.query_validation_error("STARTPOSITION must be 1 or more")
    if not 1 <= limit <= MAX_RESULTS_LIMIT:
        raise errors.query_validation_error(f"MAXRESULTS must be between 1 and {MAX_RESULTS_LIMIT}")
    return Query(entity, count, conditions, order_by, start, limit)


def _check_field(entity: Entity, name: str) -> None:
    root = name.split(".", 1)[0]
    if name in TIME_COLUMNS or (root != "MetaData" and entity.known(root)):
        return
    raise errors.query_validation_error(f"property '{name}' is not queryable for {entity.name}")


@dataclass(frozen=True)
class CompiledQuery:
    """SQL fragments over `qbo_records` (columns id, active, name, created_at, updated_at, body)."""

    where: str
    params: tuple
    order: str


def compile_query(query: Query) -> CompiledQuery:
    clauses: list[str] = []
    params: list = []
    for condition in query.conditions:
        sql, values = _compile_condition(query.entity, condition)
        clauses.append(sql)
        params.extend(values)
    if query.entity.is_name_list and not any(c.field == "Active" for c in query.conditions):
        clauses.append("active = 1")
    order = [f"{_column(query.entity, f)}{' DESC' if desc else ''}" for f, desc in query.order_by]
    order.append("id")
    return CompiledQuery(" AND ".join(clauses) or "1", tuple(params), ", ".join(order))


def _column(entity: Entity, field: str) -> str:
    if field == "Id":
        return "id"
    if field == "Active":
        return "active"
    if field == entity.name_field:
        return "name"
    if field in TIME_COLUMNS:
        return TIME_COLUMNS[field]
    # Safe to inline: the tokenizer only lets [A-Za-z0-9_.] into an identifier.
    return f"json_extract(body, '$.{field}')"


def _compile_condition(entity: Entity, condition: Condition) -> tuple[str, list]:
    column = _column(entity, condition.field)
    if condition.op == "LIKE":
        if condition.field in ("Id", "Active") or condition.field in TIME_COLUMNS:
            raise errors.query_validation_error(f"LIKE is not supported on {condition.field}")
        escaped = str(condition.value).replace("\\", "\\\\").replace("_", "\\_")
        return f"{column} LIKE ? ESCAPE '\\'", [escaped]
    convert = _converter(condition.field)
    if condition.op == "IN":
        values = [convert(value) for value in condition.value]
        # `+active` keeps SQLite on the Id-ordered index; `Active IN (true, false)` is the usual
        # full-read filter and matching it through the active index would sort every page.
        column = "+active" if column == "active" else column
        return f"{column} IN ({', '.join('?' * len(values))})", values
    return f"{column} {condition.op} ?", [convert(condition.value)]


def _converter(field: str):
    if field == "Id":
        return _as_id
    if field == "Active":
        return _as_bool
    if field in TIME_COLUMNS:
        return _as_epoch
    if field.rsplit(".", 1)[-1] in NUMERIC_FIELDS:
        return _as_number
    return _as_plain


def _as_id(value: object) -> int:
    try:
        return int(str(value))
    except ValueError:
        raise errors.query_validation_error(f"Id should be a valid number. Supplied value:{value}") from None


def _as_bool(value: object) -> int:
    if isinstance(value, bool):
        return int(value)
    if str(value).lower() in ("true", "false"):
        return int(str(value).lower() == "true")
    raise errors.query_validation_error(f"Active should be true or false. Supplied value:{value}")


def _as_number(value: object) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        raise errors.query_validation_error(f"a number was expected. Supplied value:{value}") from None


def _as_plain(value: object) -> object:
    return int(value) if isinstance(value, bool) else value


def _as_epoch(value: object) -> float:
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise errors.query_validation_error(f"a date-time was expected. Supplied value:{value}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.timestamp()
