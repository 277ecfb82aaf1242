"""The contact search grammar (Intercom's): validation of a query into a small tree.

A query is a filter ``{"field", "operator", "value"}`` or a group
``{"operator": "AND"|"OR", "value": [...]}``.
Groups nest at most two levels and hold at most 15 items. Which operators a field takes depends on its type.
Timestamps compare by UTC day, as in Intercom: ``> t`` means "from the day after t's day on".
Values are bounded so that every backend can compare them: text of at most 1,000 characters (longer than
any searchable column, and a LIKE pattern SQLite accepts), integers of 64 bits, dates of the years 1-9999.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from contactmerge.domain.attributes import INT64_RANGE, InvalidValue, coerce_timestamp, text_problem

FieldType = Literal["id", "string", "integer", "float", "boolean", "date"]

MAX_DEPTH = 2
MAX_GROUP_SIZE = 15
MAX_LIST_SIZE = 1_000
# Every value becomes a bind parameter (two for a day); PostgreSQL takes at most 65,535 in one statement.
MAX_QUERY_VALUES = 10_000
MAX_TEXT_LENGTH = 1_000
DAY = 86_400
INTEGER_TEXT = re.compile(r"-?[0-9]+")
# Longer digit strings cannot fit 64 bits; checked before int(), which refuses more than 4,300 digits.
MAX_INTEGER_DIGITS = 20

OPERATORS_BY_TYPE: Mapping[str, frozenset[str]] = {
    "id": frozenset({"=", "!=", "IN", "NIN"}),
    "string": frozenset({"=", "!=", "IN", "NIN", "~", "!~", "^", "$"}),
    "integer": frozenset({"=", "!=", "IN", "NIN", "<", ">", "<=", ">="}),
    "float": frozenset({"=", "!=", "IN", "NIN", "<", ">", "<=", ">="}),
    "date": frozenset({"=", "!=", "IN", "NIN", "<", ">", "<=", ">="}),
    "boolean": frozenset({"=", "!="}),
}
ALL_OPERATORS = frozenset().union(*OPERATORS_BY_TYPE.values())


@dataclass(frozen=True)
class Filter:
    field: str
    field_type: FieldType
    operator: str
    value: Any


@dataclass(frozen=True)
class Group:
    operator: Literal["AND", "OR"]
    items: tuple[Filter | Group, ...]


Query = Filter | Group


class InvalidQuery(ValueError):
    """A query that breaks the grammar; ``path`` names where (``query.value[1].operator``)."""

    def __init__(self, message: str, path: str) -> None:
        super().__init__(message)
        self.path = path


FieldResolver = Callable[[str], FieldType | None]


def parse_query(raw: Any, resolve: FieldResolver, path: str = "query") -> Query:
    """Validate a raw JSON query into a tree, resolving each field's type; raises InvalidQuery."""
    query = _parse(raw, resolve, path, depth=0)
    if (count := _count_values(query)) > MAX_QUERY_VALUES:
        raise InvalidQuery(f"a query holds at most {MAX_QUERY_VALUES} values in all, got {count}", path)
    return query


def _count_values(query: Query) -> int:
    if isinstance(query, Group):
        return sum(_count_values(item) for item in query.items)
    return len(query.value) if isinstance(query.value, tuple) else 1


def _parse(raw: Any, resolve: FieldResolver, path: str, depth: int) -> Query:
    if not isinstance(raw, dict):
        raise InvalidQuery("must be an object with field, operator and value", path)
    operator = raw.get("operator")
    if operator in ("AND", "OR"):
        return _parse_group(raw, resolve, path, depth, operator)
    return _parse_filter(raw, resolve, path)


def _parse_group(raw: dict[str, Any], resolve: FieldResolver, path: str, depth: int, operator: str) -> Group:
    if depth >= MAX_DEPTH:
        raise InvalidQuery(f"nests groups deeper than {MAX_DEPTH} levels", path)
    items = raw.get("value")
    if not isinstance(items, list) or not items:
        raise InvalidQuery(f"an {operator} group needs a non-empty list of filters in value", f"{path}.value")
    if len(items) > MAX_GROUP_SIZE:
        raise InvalidQuery(
            f"a group holds at most {MAX_GROUP_SIZE} filters, got {len(items)}", f"{path}.value"
        )
    parsed = tuple(_parse(item, resolve, f"{path}.value[{i}]", depth + 1) for i, item in enumerate(items))
    return Group("AND" if operator == "AND" else "OR", parsed)


def _parse_filter(raw: dict[str, Any], resolve: FieldResolver, path: str) -> Filter:
    field = raw.get("field")
    if not isinstance(field, str) or not field:
        raise InvalidQuery("each filter needs a field", f"{path}.field")
    field_type = resolve(field)
    if field_type is None:
        if field.startswith("custom_attributes."):
            message = f"'{field}' is not a data attribute of this workspace (see GET /data_attributes)"
        else:
            message = f"'{field}' is not a searchable field"
        raise InvalidQuery(message, f"{path}.field")
    operator = raw.get("operator")
    if not isinstance(operator, str) or operator not in ALL_OPERATORS:
        raise InvalidQuery(
            f"{operator!r} is not an operator (one of {' '.join(sorted(ALL_OPERATORS))})", f"{path}.operator"
        )
    if operator not in OPERATORS_BY_TYPE[field_type]:
        allowed = " ".join(sorted(OPERATORS_BY_TYPE[field_type]))
        raise InvalidQuery(
            f"operator '{operator}' does not apply to {field_type} field '{field}' (allowed: {allowed})",
            f"{path}.operator",
        )
    if "value" not in raw:
        raise InvalidQuery("each filter needs a value", f"{path}.value")
    value = raw["value"]
    if operator in ("IN", "NIN"):
        if not isinstance(value, list) or not value:
            raise InvalidQuery(f"operator {operator} takes a non-empty list", f"{path}.value")
        if len(value) > MAX_LIST_SIZE:
            raise InvalidQuery(f"operator {operator} takes at most {MAX_LIST_SIZE} values", f"{path}.value")
        value = tuple(_check_scalar(v, field_type, f"{path}.value[{i}]") for i, v in enumerate(value))
    elif value is None and operator in ("=", "!="):
        pass
    else:
        value = _check_scalar(value, field_type, f"{path}.value")
    return Filter(field, field_type, operator, value)


def _check_scalar(value: Any, field_type: FieldType, path: str) -> Any:
    checked = _SCALAR_CHECKS[field_type](value)
    if isinstance(checked, InvalidValue):
        raise InvalidQuery(f"value {checked.reason}, got {_shown(value)}", path)
    return checked


def _shown(value: Any) -> str:
    """A refused value as the error message quotes it: short, and never a number repr() cannot write."""
    if isinstance(value, int) and value.bit_length() > 64:
        return "a number beyond 64 bits"
    if isinstance(value, str) and text_problem(value) is not None:
        return "a string that is not valid text"
    text = repr(value)
    return text if len(text) <= 80 else f"{text[:77]}..."


def _check_string(value: Any) -> str | InvalidValue:
    if not isinstance(value, str):
        return InvalidValue("must be a string")
    if len(value) > MAX_TEXT_LENGTH:
        return InvalidValue(f"must be at most {MAX_TEXT_LENGTH:,} characters")
    problem = text_problem(value)
    return value if problem is None else InvalidValue(problem)


def _check_id(value: Any) -> str | InvalidValue:
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value) if value.bit_length() < 64 else InvalidValue("must fit in 64 bits")
    return _check_string(value)


def _integer_text(value: Any) -> Any:
    """A string of digits as the integer it spells; other values as they are."""
    if not (isinstance(value, str) and INTEGER_TEXT.fullmatch(value)):
        return value
    if len(value.lstrip("-")) > MAX_INTEGER_DIGITS:
        return InvalidValue("must fit in 64 bits")
    return int(value)


def _check_integer(value: Any) -> int | InvalidValue:
    value = _integer_text(value)
    if isinstance(value, InvalidValue):
        return value
    if isinstance(value, bool) or not isinstance(value, int):
        return InvalidValue("must be an integer")
    if not INT64_RANGE[0] <= value <= INT64_RANGE[1]:
        return InvalidValue("must fit in 64 bits")
    return value


def _check_float(value: Any) -> float | InvalidValue:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return InvalidValue("must be a number")
    try:
        number = float(value)
    except OverflowError:
        number = math.inf
    if not math.isfinite(number):
        return InvalidValue("must be a finite number")
    return number


def _check_boolean(value: Any) -> bool | InvalidValue:
    return value if isinstance(value, bool) else InvalidValue("must be true or false")


def _check_date(value: Any) -> int | InvalidValue:
    """Unix seconds, given as a number, a string of digits or an ISO 8601 date (as attribute writes take),
    within the years 1-9999."""
    value = _integer_text(value)
    if isinstance(value, InvalidValue):
        return InvalidValue("must be a date between the years 1 and 9999")
    return coerce_timestamp(value)


_SCALAR_CHECKS: Mapping[str, Callable[[Any], Any]] = {
    "id": _check_id,
    "string": _check_string,
    "integer": _check_integer,
    "float": _check_float,
    "boolean": _check_boolean,
    "date": _check_date,
}


def day_start(timestamp: int) -> int:
    """The UTC midnight that starts a timestamp's day."""
    return timestamp - timestamp % DAY
