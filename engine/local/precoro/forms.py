"""Form bodies and query strings with PHP-style keys, and the typed fields that validate them.

`currencies[]=USD&currencies[]=EUR&supplier[id]=5&itemCustomFields[3]=17` reads as
`{"currencies": ["USD", "EUR"], "supplier": {"id": "5"}, "itemCustomFields": {"3": "17"}}`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, Mapping, Protocol
from urllib.parse import parse_qsl

FormValue = str | list[str] | dict[str, Any]

_KEY = re.compile(r"^([^\[\]]+)((?:\[[^\[\]]*\])*)$")
_SUBKEY = re.compile(r"\[([^\[\]]*)\]")
_EMAIL = re.compile(r"^[^@\s,;]+@[^@\s,;]+\.[^@\s,;]+$")
_CURRENCY = re.compile(r"^[A-Z]{3}$")


class FieldError(ValueError):
    """One field's value is refused; `field` is its form key (e.g. `itemCustomFields[3]`)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


class FormErrors(ValueError):
    """Every refused field of one request, keyed by form key."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{field}: {message}" for field, message in errors.items()))
        self.errors = errors


def parse_php_form(text: str) -> dict[str, FormValue]:
    """Decode `application/x-www-form-urlencoded` (or a query string) with PHP's bracket keys."""
    root: dict[str, Any] = {}
    for key, value in parse_qsl(text, keep_blank_values=True):
        match = _KEY.match(key)
        if match is None:
            raise FormErrors({key: "This key is malformed."})
        path = [match.group(1), *_SUBKEY.findall(match.group(2))]
        _place(root, path, value, key)
    return root


def _place(root: dict[str, Any], path: list[str], value: str, key: str) -> None:
    node: Any = root
    for depth, segment in enumerate(path[:-1]):
        want = list if path[depth + 1] == "" else dict
        if isinstance(node, list):  # `a[][b]` has no unambiguous meaning; PHP's guess is not ours to copy
            raise FormErrors({key: "This key is malformed."})
        child = node.setdefault(segment, want())
        if not isinstance(child, want):
            raise FormErrors({key: "This key mixes a list and a single value."})
        node = child
    last = path[-1]
    if isinstance(node, list):
        node.append(value)
    elif isinstance(node.get(last), (list, dict)):
        raise FormErrors({key: "This key mixes a list and a single value."})
    else:
        node[last] = value  # a repeated plain key: the last one wins, as in PHP


def parse_bool(raw: str, field: str) -> bool:
    """Lowercase "true"/"false" or "1"/"0". Python's "True"/"False" is refused, as the real API does."""
    if raw in ("true", "1"):
        return True
    if raw in ("false", "0"):
        return False
    raise FieldError(field, 'This value should be "true" or "false".')


# -- typed fields ----------------------------------------------------------------------------------

class Records(Protocol):
    """What fields need to know about stored records (the state provides it)."""

    def exists(self, kind: str, key: int) -> bool: ...

    def owner_of(self, kind: str, key: int) -> int | None: ...


@dataclass(frozen=True)
class Text:
    max_length: int = 255
    required: bool = False

    def parse(self, raw: FormValue, field: str, records: Records) -> str | None:
        text = _scalar(raw, field).strip()
        if not text:
            if self.required:
                raise FieldError(field, "This value should not be blank.")
            return None  # an empty value clears an optional field
        if len(text) > self.max_length:
            raise FieldError(field, f"This value is too long. It should have {self.max_length} characters or less.")
        return text


@dataclass(frozen=True)
class Email:
    required: bool = False

    def parse(self, raw: FormValue, field: str, records: Records) -> str | None:
        text = Text(254, self.required).parse(raw, field, records)
        if text is not None and not _EMAIL.match(text):
            raise FieldError(field, "This value is not a valid email address.")
        return text


@dataclass(frozen=True)
class Boolean:
    required: bool = False

    def parse(self, raw: FormValue, field: str, records: Records) -> bool:
        return parse_bool(_scalar(raw, field), field)


@dataclass(frozen=True)
class Number:
    """A decimal such as "12.50" (stored and returned as a JSON number)."""

    minimum: Decimal = Decimal(0)
    maximum: Decimal | None = None
    required: bool = False

    def parse(self, raw: FormValue, field: str, records: Records) -> float:
        try:
            value = Decimal(_scalar(raw, field).strip())
        except InvalidOperation:
            raise FieldError(field, "This value should be a number.") from None
        if not value.is_finite() or value < self.minimum or (self.maximum is not None and value > self.maximum):
            raise FieldError(field, "This value is out of range.")
        return float(value)


@dataclass(frozen=True)
class WholeNumber:
    required: bool = False

    def parse(self, raw: FormValue, field: str, records: Records) -> int:
        return _int(_scalar(raw, field), field)


@dataclass(frozen=True)
class Currency:
    """One ISO 4217 code, e.g. "EUR"."""

    required: bool = False

    def parse(self, raw: FormValue, field: str, records: Records) -> str:
        code = _scalar(raw, field).strip()
        if not _CURRENCY.match(code):
            raise FieldError(field, "This value should be a three-letter ISO 4217 code.")
        return code


@dataclass(frozen=True)
class Currencies:
    """`currencies[]=USD&currencies[]=EUR`: replaces the whole list (as on the real API)."""

    required: bool = False

    def parse(self, raw: FormValue, field: str, records: Records) -> list[str]:
        if not isinstance(raw, list):
            raise FieldError(field, "This value should be a list: send currencies[]=USD.")
        codes = [code.strip() for code in raw]
        bad = [code for code in codes if not _CURRENCY.match(code)]
        if bad or not codes:
            raise FieldError(field, "Each currency should be a three-letter ISO 4217 code.")
        return list(dict.fromkeys(codes))


@dataclass(frozen=True)
class Reference:
    """`supplier[id]=5` (an empty id clears it)."""

    kind: str
    required: bool = False

    def parse(self, raw: FormValue, field: str, records: Records) -> int | None:
        if not isinstance(raw, dict) or set(raw) != {"id"}:
            raise FieldError(field, f"This value should be sent as {field}[id].")
        if raw["id"].strip() == "":
            return None
        id_ = _int(raw["id"], f"{field}[id]")
        if not records.exists(self.kind, id_):
            raise FieldError(f"{field}[id]", "This value is not valid.")
        return id_


@dataclass(frozen=True)
class References:
    """`paymentTerms[]=3&paymentTerms[]=4`: replaces the whole list."""

    kind: str
    required: bool = False

    def parse(self, raw: FormValue, field: str, records: Records) -> list[int]:
        if not isinstance(raw, list):
            raise FieldError(field, f"This value should be a list: send {field}[]=<id>.")
        ids = [_int(value, field) for value in raw if value.strip()]
        if not all(records.exists(self.kind, id_) for id_ in ids):
            raise FieldError(field, "This value is not valid.")
        return list(dict.fromkeys(ids))


@dataclass(frozen=True)
class Choices:
    """`itemCustomFields[<custom field id>]=<option id>`; an empty option id clears that field."""

    options_kind: str
    required: bool = False

    def parse(self, raw: FormValue, field: str, records: Records) -> dict[int, int | None]:
        if not isinstance(raw, dict):
            raise FieldError(field, f"This value should be sent as {field}[<custom field id>]=<option id>.")
        chosen: dict[int, int | None] = {}
        for cf, option in raw.items():
            key = f"{field}[{cf}]"
            cf_id = _int(cf, key)
            if option.strip() == "":
                chosen[cf_id] = None
                continue
            option_id = _int(option, key)
            if records.owner_of(self.options_kind, option_id) != cf_id:
                raise FieldError(key, "This option does not exist for this custom field.")
            chosen[cf_id] = option_id
        return chosen


Field = Text | Email | Boolean | Number | WholeNumber | Currency | Currencies | Reference | References | Choices


def validate(form: Mapping[str, FormValue], schema: Mapping[str, Field], records: Records, *, creating: bool) -> dict[str, Any]:
    """Typed values of the given fields; every problem at once as FormErrors.

    Unknown fields are refused (as a Symfony form with extra fields is): a misspelt key must not
    be silently ignored. On create, required fields must be present.
    """
    errors: dict[str, str] = {name: "This field is not expected." for name in form if name not in schema}
    values: dict[str, Any] = {}
    for name, field in schema.items():
        if name not in form:
            if creating and field.required:
                errors[name] = "This value should not be blank."
            continue
        try:
            values[name] = field.parse(form[name], name, records)
        except FieldError as error:
            errors[error.field] = error.message
    if errors:
        raise FormErrors(errors)
    return values


def _scalar(raw: FormValue, field: str) -> str:
    if not isinstance(raw, str):
        raise FieldError(field, "This value should be a single value.")
    return raw


def _int(raw: str, field: str) -> int:
    try:
        value = int(raw.strip())
    except ValueError:
        raise FieldError(field, "This value should be a whole number.") from None
    if value < 0:
        raise FieldError(field, "This value should be zero or more.")
    return value
