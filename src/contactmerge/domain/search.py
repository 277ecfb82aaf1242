"""The contact search grammar (Intercom's): validation of a query into a small tree.

A query is a filter ``{"field", "operator", "value"}`` or a group
``{"operator": "AND"|"OR", "value": [...]}``.
Groups nest at most two levels and hold at most 15 items. Which operators a field takes depends on its type.
Timestamps compare by UTC day, as in Intercom: ``> t`` means "from the day after t's day on".
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

FieldType = Literal["id", "string", "integer", "float", "boolean", "date"]

MAX_DEPTH = 2
MAX_GROUP_SIZE = 15
DAY = 86_400

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
    return _parse(raw, resolve, path, depth=0)


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
        raise InvalidQuery(f"'{field}' is not a searchable field", f"{path}.field")
    operator = raw.get("operator")
    if operator not in ALL_OPERATORS:
        raise InvalidQuery(f"'{operator}' is not an operator", f"{path}.operator")
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
        value = tuple(_check_scalar(v, field_type, f"{path}.value[{i}]") for i, v in enumerate(value))
    elif value is None and operator in ("=", "!="):
        pass
    else:
        value = _check_scalar(value, field_type, f"{path}.value")
    return Filter(field, field_type, operator, value)


def _check_scalar(value: Any, field_type: FieldType, path: str) -> Any:
    ok: bool
    if field_type in ("string", "id"):
        ok = isinstance(value, str)
    elif field_type == "boolean":
        ok = isinstance(value, bool)
    elif field_type == "float":
        ok = isinstance(value, int | float) and not isinstance(value, bool)
    else:
        ok = isinstance(value, int) and not isinstance(value, bool)
        if not ok and isinstance(value, str) and value.lstrip("-").isdigit():
            value, ok = int(value), True
    if not ok:
        raise InvalidQuery(f"value must be a {field_type}", path)
    return value


def day_start(timestamp: int) -> int:
    """The UTC midnight that starts a timestamp's day."""
    return timestamp - timestamp % DAY
