"""The search grammar (domain.search) on its own: what parses into which tree, and what is refused where."""

from __future__ import annotations

from typing import Any

import pytest

from contactmerge.domain.search import (
    DAY,
    MAX_GROUP_SIZE,
    MAX_LIST_SIZE,
    MAX_QUERY_VALUES,
    FieldType,
    Filter,
    Group,
    InvalidQuery,
    day_start,
    parse_query,
)

FIELDS: dict[str, FieldType] = {
    "id": "id",
    "tag_id": "id",
    "name": "string",
    "owner_id": "integer",
    "score": "float",
    "vip": "boolean",
    "signed_up_at": "date",
}


def resolve(field: str) -> Any:
    return FIELDS.get(field)


def f(field: Any, operator: Any, value: Any) -> dict[str, Any]:
    return {"field": field, "operator": operator, "value": value}


NAME_IS_ADA = f("name", "=", "Ada")
MIDNIGHT = 1_700_006_400  # 2023-11-15T00:00:00Z

OPERATORS_BY_FIELD = [
    ("id", {"=", "!=", "IN", "NIN"}),
    ("tag_id", {"=", "!=", "IN", "NIN"}),
    ("name", {"=", "!=", "IN", "NIN", "~", "!~", "^", "$"}),
    ("owner_id", {"=", "!=", "IN", "NIN", "<", ">", "<=", ">="}),
    ("score", {"=", "!=", "IN", "NIN", "<", ">", "<=", ">="}),
    ("signed_up_at", {"=", "!=", "IN", "NIN", "<", ">", "<=", ">="}),
    ("vip", {"=", "!="}),
]
SAMPLE_VALUE = {"id": "x", "tag_id": "x", "name": "x", "owner_id": 1, "score": 1.5, "vip": True}
SAMPLE_VALUE["signed_up_at"] = MIDNIGHT
ALL_OPERATORS = ["=", "!=", "IN", "NIN", "<", ">", "<=", ">=", "~", "!~", "^", "$"]


@pytest.mark.parametrize(("field", "allowed"), OPERATORS_BY_FIELD)
@pytest.mark.parametrize("operator", ALL_OPERATORS)
def test_each_type_takes_exactly_its_operators(field: str, allowed: set[str], operator: str) -> None:
    value = SAMPLE_VALUE[field]
    raw = f(field, operator, [value] if operator in ("IN", "NIN") else value)
    if operator in allowed:
        parsed = parse_query(raw, resolve)
        assert parsed == Filter(
            field, FIELDS[field], operator, (value,) if operator in ("IN", "NIN") else value
        )
    else:
        with pytest.raises(InvalidQuery) as caught:
            parse_query(raw, resolve)
        assert caught.value.path == "query.operator"
        assert FIELDS[field] in str(caught.value)


PARSED = [
    pytest.param(NAME_IS_ADA, Filter("name", "string", "=", "Ada"), id="filter"),
    pytest.param(f("name", "=", None), Filter("name", "string", "=", None), id="= null"),
    pytest.param(f("owner_id", "!=", None), Filter("owner_id", "integer", "!=", None), id="!= null"),
    pytest.param(
        f("owner_id", "=", "42"), Filter("owner_id", "integer", "=", 42), id="digit string is an integer"
    ),
    pytest.param(
        f("owner_id", ">", "-3"), Filter("owner_id", "integer", ">", -3), id="negative digit string"
    ),
    pytest.param(f("score", "=", 2), Filter("score", "float", "=", 2.0), id="integer for a float"),
    pytest.param(
        f("signed_up_at", ">", "2023-11-15T10:00:00Z"),
        Filter("signed_up_at", "date", ">", MIDNIGHT + 36_000),
        id="ISO 8601 date",
    ),
    pytest.param(
        f("signed_up_at", "=", "2023-11-15"), Filter("signed_up_at", "date", "=", MIDNIGHT), id="ISO day"
    ),
    pytest.param(
        f("signed_up_at", "IN", [MIDNIGHT, str(MIDNIGHT + DAY)]),
        Filter("signed_up_at", "date", "IN", (MIDNIGHT, MIDNIGHT + DAY)),
        id="IN of dates",
    ),
    pytest.param(f("tag_id", "IN", ["7", 8]), Filter("tag_id", "id", "IN", ("7", "8")), id="integer ids"),
    pytest.param(f("name", "~", "100%_off"), Filter("name", "string", "~", "100%_off"), id="wildcards kept"),
    pytest.param(
        {"operator": "OR", "value": [NAME_IS_ADA, f("vip", "=", True)]},
        Group("OR", (Filter("name", "string", "=", "Ada"), Filter("vip", "boolean", "=", True))),
        id="group",
    ),
    pytest.param(
        {"operator": "AND", "value": [{"operator": "OR", "value": [NAME_IS_ADA]}, f("vip", "!=", False)]},
        Group(
            "AND",
            (Group("OR", (Filter("name", "string", "=", "Ada"),)), Filter("vip", "boolean", "!=", False)),
        ),
        id="group in a group",
    ),
    pytest.param(
        {"operator": "AND", "value": [NAME_IS_ADA] * MAX_GROUP_SIZE},
        Group("AND", (Filter("name", "string", "=", "Ada"),) * MAX_GROUP_SIZE),
        id="15 filters",
    ),
]


@pytest.mark.parametrize(("raw", "expected"), PARSED)
def test_valid_queries_parse_into_a_tree(raw: Any, expected: Any) -> None:
    assert parse_query(raw, resolve) == expected


def nest(depth: int) -> dict[str, Any]:
    query: dict[str, Any] = NAME_IS_ADA
    for _ in range(depth):
        query = {"operator": "AND", "value": [query]}
    return query


REFUSED = [
    pytest.param(None, "query", id="no query"),
    pytest.param(["name"], "query", id="query is a list"),
    pytest.param({}, "query.field", id="empty object"),
    pytest.param({"operator": "=", "value": "x"}, "query.field", id="no field"),
    pytest.param(f("", "=", "x"), "query.field", id="empty field"),
    pytest.param(f(["name"], "=", "x"), "query.field", id="field is a list"),
    pytest.param(f("nickname", "=", "x"), "query.field", id="unknown field"),
    pytest.param({"field": "name", "value": "x"}, "query.operator", id="no operator"),
    pytest.param(f("name", "LIKE", "x"), "query.operator", id="unknown operator"),
    pytest.param(f("name", "in", ["x"]), "query.operator", id="lower-case IN"),
    pytest.param(f("name", ["="], "x"), "query.operator", id="operator is a list"),
    pytest.param(f("name", {"op": "="}, "x"), "query.operator", id="operator is an object"),
    pytest.param(f("name", ">", "x"), "query.operator", id="> on a string"),
    pytest.param(f("owner_id", "~", "1"), "query.operator", id="~ on an integer"),
    pytest.param(f("vip", "IN", [True]), "query.operator", id="IN on a boolean"),
    pytest.param(f("id", "^", "x"), "query.operator", id="^ on an id"),
    pytest.param({"field": "name", "operator": "="}, "query.value", id="no value"),
    pytest.param(f("name", "IN", "Ada"), "query.value", id="IN with a string"),
    pytest.param(f("name", "NIN", None), "query.value", id="NIN with null"),
    pytest.param(f("name", "IN", []), "query.value", id="IN with an empty list"),
    pytest.param(f("name", "IN", ["Ada", 5]), "query.value[1]", id="IN with a wrong item"),
    pytest.param(f("name", "IN", ["x"] * (MAX_LIST_SIZE + 1)), "query.value", id="IN with too many values"),
    pytest.param(f("name", "=", 5), "query.value", id="number for a string"),
    pytest.param(f("name", "=", ["Ada"]), "query.value", id="list for a string"),
    pytest.param(f("name", "~", None), "query.value", id="~ null"),
    pytest.param(f("name", "=", "a\x00b"), "query.value", id="NUL character"),
    pytest.param(f("owner_id", "=", "one"), "query.value", id="word for an integer"),
    pytest.param(f("owner_id", "=", 1.5), "query.value", id="fraction for an integer"),
    pytest.param(f("owner_id", "=", True), "query.value", id="boolean for an integer"),
    pytest.param(f("owner_id", "=", "²"), "query.value", id="superscript digit"),
    pytest.param(f("owner_id", "=", "--5"), "query.value", id="two minus signs"),
    pytest.param(f("owner_id", "=", "1_000"), "query.value", id="underscore digits"),
    pytest.param(f("owner_id", "=", 2**63), "query.value", id="integer past 64 bits"),
    pytest.param(f("owner_id", "<", None), "query.value", id="< null"),
    pytest.param(f("score", "=", "1.5"), "query.value", id="string for a float"),
    pytest.param(f("score", "=", float("nan")), "query.value", id="NaN"),
    pytest.param(f("score", ">", float("inf")), "query.value", id="infinity"),
    pytest.param(f("score", ">", 10**400), "query.value", id="integer too large for a float"),
    pytest.param(f("vip", "=", "true"), "query.value", id="string for a boolean"),
    pytest.param(f("vip", "=", 1), "query.value", id="number for a boolean"),
    pytest.param(f("signed_up_at", ">", "yesterday"), "query.value", id="word for a date"),
    pytest.param(f("signed_up_at", ">", 10**15), "query.value", id="date past year 9999"),
    pytest.param(f("signed_up_at", "IN", [MIDNIGHT, True]), "query.value[1]", id="IN with a boolean date"),
    pytest.param(f("tag_id", "=", True), "query.value", id="boolean for an id"),
    pytest.param({"operator": "AND"}, "query.value", id="group without value"),
    pytest.param({"operator": "OR", "value": []}, "query.value", id="empty group"),
    pytest.param({"operator": "OR", "value": NAME_IS_ADA}, "query.value", id="group value is an object"),
    pytest.param({"operator": "AND", "value": [NAME_IS_ADA] * 16}, "query.value", id="16 filters"),
    pytest.param(
        {"operator": "AND", "value": [NAME_IS_ADA, "name"]}, "query.value[1]", id="item is a string"
    ),
    pytest.param(
        {"operator": "AND", "value": [NAME_IS_ADA, f("owner_id", "~", "1")]},
        "query.value[1].operator",
        id="bad operator in a group",
    ),
    pytest.param(
        {"operator": "OR", "value": [NAME_IS_ADA, {"operator": "AND", "value": [f("nope", "=", 1)]}]},
        "query.value[1].value[0].field",
        id="bad field in a nested group",
    ),
    pytest.param(
        {"operator": "OR", "value": [NAME_IS_ADA, {"operator": "AND", "value": [NAME_IS_ADA] * 16}]},
        "query.value[1].value",
        id="16 filters in a nested group",
    ),
    pytest.param(nest(3), "query.value[0].value[0]", id="three levels of groups"),
]


@pytest.mark.parametrize(("raw", "path"), REFUSED)
def test_invalid_queries_name_the_bad_part(raw: Any, path: str) -> None:
    with pytest.raises(InvalidQuery) as caught:
        parse_query(raw, resolve)
    assert caught.value.path == path


def test_two_levels_of_groups_are_allowed() -> None:
    assert isinstance(parse_query(nest(2), resolve), Group)


def test_a_query_holds_a_bounded_number_of_values_in_all() -> None:
    in_list = f("name", "IN", ["x"] * MAX_LIST_SIZE)
    per_group = MAX_QUERY_VALUES // MAX_LIST_SIZE
    at_limit = {"operator": "OR", "value": [in_list] * per_group}
    parsed = parse_query(at_limit, resolve)
    assert isinstance(parsed, Group) and len(parsed.items) == per_group
    over = {"operator": "OR", "value": [in_list] * per_group + [NAME_IS_ADA]}
    with pytest.raises(InvalidQuery) as caught:
        parse_query(over, resolve)
    assert caught.value.path == "query"
    assert str(MAX_QUERY_VALUES) in str(caught.value)


@pytest.mark.parametrize(
    ("timestamp", "start"),
    [
        (MIDNIGHT, MIDNIGHT),
        (MIDNIGHT + DAY - 1, MIDNIGHT),
        (MIDNIGHT - 1, MIDNIGHT - DAY),
        (-1, -DAY),
        (0, 0),
    ],
)
def test_day_start_is_the_utc_midnight_before(timestamp: int, start: int) -> None:
    assert day_start(timestamp) == start
