"""POST /contacts/search on the real server, both backends: what each query returns, what is refused.

One fixed dataset of eight contacts per backend (built once per module, read-only afterwards) carries
standard fields, custom attributes of every type, tags and timestamps on different UTC days. Queries
name contacts and tags as ``@id:Ada`` / ``@tag:beta``; they are replaced by the real ids before sending.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.conftest import Database, Server, make_workspace
from tests.helpers import ok

DAY = 86_400
D = 1_700_006_400  # 2023-11-15T00:00:00Z, the dataset's day 0
Y2040 = 2_208_988_800  # 2040-01-01T00:00:00Z, past the 32-bit range

ATTRIBUTES = {
    "plan": "string",
    "favourite color": "string",
    "seats": "integer",
    "score": "float",
    "vip": "boolean",
    "renewal_at": "date",
}

CONTACTS: dict[str, dict[str, Any]] = {
    "Ada": {
        "role": "user",
        "external_id": "u-1",
        "email": "ada@example.com",
        "owner_id": 1,
        "signed_up_at": D + 10,
        "last_seen_at": Y2040 + 5,
        "custom_attributes": {
            "plan": "Pro",
            "favourite color": "Blue",
            "seats": 10,
            "score": 4.5,
            "vip": True,
            "renewal_at": D + 30 * DAY + 7,
        },
    },
    "Bob": {
        "role": "user",
        "external_id": "u-2",
        "email": "Bob@Example.ORG",
        "owner_id": 2,
        "signed_up_at": D + DAY + 100,
        "unsubscribed_from_emails": True,
        "custom_attributes": {
            "plan": "basic",
            "seats": 2,
            "score": 1.0,
            "vip": False,
            "renewal_at": D + DAY - 1,
        },
    },
    "Cleo": {
        "role": "lead",
        "email": "cleo@sample.net",
        "phone": "+14155550100",
        "signed_up_at": D + 2 * DAY + DAY - 1,
        "custom_attributes": {"plan": "100%_off", "seats": 0},
    },
    "Dan": {"role": "lead"},
    "Eve": {
        "role": "user",
        "external_id": "u-5",
        "email": "eve@example.com",
        "owner_id": 1,
        "signed_up_at": D - 1,
        "custom_attributes": {"plan": "pro plus", "score": -2.25, "vip": True, "renewal_at": D},
    },
    "Fay": {
        "role": "user",
        "external_id": "u-6",
        "email": "Fay@EXAMPLE.com",
        "signed_up_at": D + 5 * DAY,
        "custom_attributes": {"plan": "100 off", "seats": 3_000_000_000, "renewal_at": Y2040},
    },
    "Gus": {"role": "lead", "custom_attributes": {"plan": "100Xoff"}},
    "Hal": {
        "role": "lead",
        "email": "hal@sample.net",
        "custom_attributes": {"plan": "C:\\Dir", "seats": 7, "score": 3.0, "vip": False},
    },
}
TAGS = {"beta": ["Ada", "Bob", "Hal"], "vip": ["Ada"], "unused": []}
ALL = frozenset(CONTACTS)


@dataclass
class Dataset:
    client: httpx.Client
    ids: dict[str, str]
    tags: dict[str, str]

    def resolve(self, value: Any) -> Any:
        """The query with ``@id:Name`` and ``@tag:name`` replaced by real ids."""
        if isinstance(value, dict):
            return {k: self.resolve(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.resolve(v) for v in value]
        if isinstance(value, str) and value.startswith("@id:"):
            return self.ids[value[4:]]
        if isinstance(value, str) and value.startswith("@tag:"):
            return self.tags[value[5:]]
        return value

    def names(self, rows: list[dict[str, Any]]) -> list[str]:
        by_id = {v: k for k, v in self.ids.items()}
        return [by_id.get(r["id"], f"foreign {r['id']}") for r in rows]


def client_for(server: Server, token: str) -> httpx.Client:
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
    return httpx.Client(base_url=server.base_url, headers=headers, timeout=30)


def build(client: httpx.Client, contacts: dict[str, dict[str, Any]], tags: dict[str, list[str]]) -> Dataset:
    for name, data_type in ATTRIBUTES.items():
        ok(client.post("/data_attributes", json={"name": name, "model": "contact", "data_type": data_type}))
    ids = {
        name: ok(client.post("/contacts", json={"name": name, **fields}))["id"]
        for name, fields in contacts.items()
    }
    tag_ids = {}
    for tag, members in tags.items():
        tag_ids[tag] = ok(client.post("/tags", json={"name": tag}))["id"]
        for member in members:
            ok(client.post(f"/contacts/{ids[member]}/tags", json={"id": tag_ids[tag]}))
    return Dataset(client, ids, tag_ids)


@pytest.fixture(scope="module")
def dataset(server: Server, database: Database) -> Iterator[Dataset]:
    keys = make_workspace(database, "Search dataset")
    with client_for(server, keys.token) as client:
        yield build(client, CONTACTS, TAGS)


def search(dataset: Dataset, query: Any, **pagination: Any) -> httpx.Response:
    body: dict[str, Any] = {"query": dataset.resolve(query)}
    if pagination:
        body["pagination"] = pagination
    return dataset.client.post("/contacts/search", json=body)


def f(field: Any, operator: Any, value: Any) -> dict[str, Any]:
    return {"field": field, "operator": operator, "value": value}


def AND(*items: Any) -> dict[str, Any]:
    return {"operator": "AND", "value": list(items)}


def OR(*items: Any) -> dict[str, Any]:
    return {"operator": "OR", "value": list(items)}


def case(query: dict[str, Any], expected: set[str] | frozenset[str], label: str) -> Any:
    return pytest.param(query, frozenset(expected), id=label)


MATCHES = [
    # strings: every operator ignores case; != and !~ keep contacts without a value
    case(f("name", "=", "Ada"), {"Ada"}, "name ="),
    case(f("name", "=", "aDA"), {"Ada"}, "name = ignores case"),
    case(f("name", "!=", "ada"), ALL - {"Ada"}, "name !="),
    case(f("name", "IN", ["ada", "BOB"]), {"Ada", "Bob"}, "name IN ignores case"),
    case(f("name", "NIN", ["Ada", "bob"]), ALL - {"Ada", "Bob"}, "name NIN"),
    case(f("name", "~", "A"), {"Ada", "Dan", "Fay", "Hal"}, "name ~"),
    case(f("name", "!~", "a"), {"Bob", "Cleo", "Eve", "Gus"}, "name !~"),
    case(f("name", "^", "c"), {"Cleo"}, "name ^"),
    case(f("name", "$", "E"), {"Eve"}, "name $"),
    case(f("role", "=", "lead"), {"Cleo", "Dan", "Gus", "Hal"}, "role = lead"),
    case(f("role", "=", "user"), {"Ada", "Bob", "Eve", "Fay"}, "role = user"),
    case(f("external_id", "=", "U-1"), {"Ada"}, "external_id ="),
    case(f("external_id", "!=", "u-1"), ALL - {"Ada"}, "external_id != keeps contacts without one"),
    case(f("external_id", "^", "u-"), {"Ada", "Bob", "Eve", "Fay"}, "external_id ^"),
    case(f("email", "=", "ADA@example.com"), {"Ada"}, "email ="),
    case(f("email", "=", " bob@example.org "), {"Bob"}, "email = trims"),
    case(f("email", "$", "@EXAMPLE.com"), {"Ada", "Eve", "Fay"}, "email $"),
    case(f("email", "IN", ["fay@example.com", "HAL@sample.net"]), {"Fay", "Hal"}, "email IN"),
    case(f("email", "NIN", ["fay@example.com"]), ALL - {"Fay"}, "email NIN"),
    case(f("email", "=", None), {"Dan", "Gus"}, "email = null"),
    case(f("email", "!=", None), ALL - {"Dan", "Gus"}, "email != null"),
    case(f("email_domain", "=", "Example.COM"), {"Ada", "Eve", "Fay"}, "email_domain ="),
    case(f("email_domain", "IN", ["sample.net", "example.org"]), {"Bob", "Cleo", "Hal"}, "email_domain IN"),
    case(f("phone", "=", "+14155550100"), {"Cleo"}, "phone ="),
    case(f("phone", "^", "+1415"), {"Cleo"}, "phone ^"),
    # LIKE wildcards and the escape character are plain characters in a value
    case(f("email", "~", "%"), set(), "% matches a percent sign only"),
    case(f("custom_attributes.plan", "~", "%"), {"Cleo"}, "~ %"),
    case(f("custom_attributes.plan", "~", "_"), {"Cleo"}, "~ _"),
    case(f("custom_attributes.plan", "$", "_off"), {"Cleo"}, "$ _off"),
    case(f("custom_attributes.plan", "^", "100%"), {"Cleo"}, "^ 100%"),
    case(f("custom_attributes.plan", "!~", "%"), ALL - {"Cleo"}, "!~ %"),
    case(f("custom_attributes.plan", "~", "\\"), {"Hal"}, "~ backslash"),
    case(f("custom_attributes.plan", "=", "c:\\dir"), {"Hal"}, "= with a backslash"),
    case(f("custom_attributes.plan", "^", "c:\\d"), {"Hal"}, "^ with a backslash"),
    # custom strings
    case(f("custom_attributes.plan", "=", "pro"), {"Ada"}, "custom string = ignores case"),
    case(f("custom_attributes.plan", "^", "PRO"), {"Ada", "Eve"}, "custom string ^"),
    case(f("custom_attributes.plan", "!~", "pro"), ALL - {"Ada", "Eve"}, "custom string !~"),
    case(f("custom_attributes.plan", "IN", ["BASIC", "100 off"]), {"Bob", "Fay"}, "custom string IN"),
    case(f("custom_attributes.plan", "NIN", ["pro"]), ALL - {"Ada"}, "custom string NIN"),
    case(f("custom_attributes.plan", "=", None), {"Dan"}, "custom string = null"),
    case(f("custom_attributes.favourite color", "=", "blue"), {"Ada"}, "attribute name with a space"),
    case(f("custom_attributes.favourite color", "!=", "blue"), ALL - {"Ada"}, "!= keeps absent values"),
    # ids and tags
    case(f("id", "=", "@id:Ada"), {"Ada"}, "id ="),
    case(f("id", "!=", "@id:Ada"), ALL - {"Ada"}, "id !="),
    case(f("id", "IN", ["@id:Ada", "@id:Gus", "nope"]), {"Ada", "Gus"}, "id IN"),
    case(f("id", "NIN", ["@id:Ada", "@id:Gus"]), ALL - {"Ada", "Gus"}, "id NIN"),
    case(f("tag_id", "=", "@tag:beta"), {"Ada", "Bob", "Hal"}, "tag_id ="),
    case(f("tag_id", "!=", "@tag:beta"), ALL - {"Ada", "Bob", "Hal"}, "tag_id != keeps untagged"),
    case(f("tag_id", "IN", ["@tag:vip", "@tag:beta"]), {"Ada", "Bob", "Hal"}, "tag_id IN"),
    case(f("tag_id", "NIN", ["@tag:vip"]), ALL - {"Ada"}, "tag_id NIN"),
    case(f("tag_id", "=", "@tag:unused"), set(), "tag on nobody"),
    case(f("tag_id", "=", "no-such-tag"), set(), "unknown tag"),
    case(f("tag_id", "=", None), {"Cleo", "Dan", "Eve", "Fay", "Gus"}, "tag_id = null: untagged"),
    case(f("tag_id", "!=", None), {"Ada", "Bob", "Hal"}, "tag_id != null: tagged"),
    case(AND(f("tag_id", "=", "@tag:beta"), f("tag_id", "=", "@tag:vip")), {"Ada"}, "both tags"),
    # integers
    case(f("owner_id", "=", 1), {"Ada", "Eve"}, "owner_id ="),
    case(f("owner_id", "=", "1"), {"Ada", "Eve"}, "owner_id = digit string"),
    case(f("owner_id", "!=", 1), ALL - {"Ada", "Eve"}, "owner_id != keeps absent"),
    case(f("owner_id", ">", 1), {"Bob"}, "owner_id >"),
    case(f("owner_id", "<=", 1), {"Ada", "Eve"}, "owner_id <="),
    case(f("owner_id", "IN", [1, 2]), {"Ada", "Bob", "Eve"}, "owner_id IN"),
    case(f("owner_id", "NIN", [1]), ALL - {"Ada", "Eve"}, "owner_id NIN"),
    case(f("owner_id", "=", None), ALL - {"Ada", "Bob", "Eve"}, "owner_id = null"),
    case(f("custom_attributes.seats", ">", 5), {"Ada", "Fay", "Hal"}, "seats > compares numbers"),
    case(f("custom_attributes.seats", ">=", 10), {"Ada", "Fay"}, "seats >="),
    case(f("custom_attributes.seats", "<", 7), {"Bob", "Cleo"}, "seats <"),
    case(f("custom_attributes.seats", "=", 0), {"Cleo"}, "seats = 0 is not absent"),
    case(f("custom_attributes.seats", "=", 3_000_000_000), {"Fay"}, "seats past 32 bits"),
    case(f("custom_attributes.seats", "!=", 10), ALL - {"Ada"}, "seats !="),
    case(f("custom_attributes.seats", "IN", [0, 3_000_000_000]), {"Cleo", "Fay"}, "seats IN"),
    case(f("custom_attributes.seats", "NIN", [0, 10]), ALL - {"Ada", "Cleo"}, "seats NIN"),
    case(f("custom_attributes.seats", "=", None), {"Dan", "Eve", "Gus"}, "seats = null"),
    case(f("custom_attributes.seats", "!=", None), {"Ada", "Bob", "Cleo", "Fay", "Hal"}, "seats != null"),
    # floats
    case(f("custom_attributes.score", ">", 1), {"Ada", "Hal"}, "score >"),
    case(f("custom_attributes.score", ">=", 1), {"Ada", "Bob", "Hal"}, "score >="),
    case(f("custom_attributes.score", "<", 0), {"Eve"}, "score < 0"),
    case(f("custom_attributes.score", "=", 3), {"Hal"}, "score = an integer"),
    case(f("custom_attributes.score", "=", 4.5), {"Ada"}, "score = 4.5"),
    case(f("custom_attributes.score", "IN", [1, 4.5]), {"Ada", "Bob"}, "score IN"),
    case(f("custom_attributes.score", "!=", 4.5), ALL - {"Ada"}, "score !="),
    # booleans
    case(f("unsubscribed_from_emails", "=", True), {"Bob"}, "unsubscribed = true"),
    case(f("unsubscribed_from_emails", "=", False), ALL - {"Bob"}, "unsubscribed = false"),
    case(f("unsubscribed_from_emails", "!=", True), ALL - {"Bob"}, "unsubscribed != true"),
    case(f("custom_attributes.vip", "=", True), {"Ada", "Eve"}, "vip = true"),
    case(f("custom_attributes.vip", "=", False), {"Bob", "Hal"}, "vip = false is not absent"),
    case(f("custom_attributes.vip", "!=", True), ALL - {"Ada", "Eve"}, "vip != true keeps absent"),
    case(f("custom_attributes.vip", "=", None), {"Cleo", "Dan", "Fay", "Gus"}, "vip = null"),
    # dates compare by UTC day
    case(f("signed_up_at", "=", D + 50_000), {"Ada"}, "= same day"),
    case(f("signed_up_at", "=", "2023-11-17"), {"Cleo"}, "= ISO day"),
    case(f("signed_up_at", ">", D + 3), {"Bob", "Cleo", "Fay"}, "> from the next day"),
    case(f("signed_up_at", ">", D - 1), {"Ada", "Bob", "Cleo", "Fay"}, "> the day before"),
    case(f("signed_up_at", ">=", D + DAY - 1), {"Ada", "Bob", "Cleo", "Fay"}, ">= from the same day"),
    case(f("signed_up_at", "<", D + DAY + 5), {"Ada", "Eve"}, "< before the day"),
    case(f("signed_up_at", "<=", D + DAY), {"Ada", "Bob", "Eve"}, "<= through the day"),
    case(f("signed_up_at", "!=", D + 2 * DAY), ALL - {"Cleo"}, "!= keeps absent"),
    case(f("signed_up_at", "IN", [D, D + 2 * DAY + 1]), {"Ada", "Cleo"}, "IN of days"),
    case(f("signed_up_at", "NIN", [D, str(D + DAY)]), ALL - {"Ada", "Bob"}, "NIN of days"),
    case(f("signed_up_at", "=", None), {"Dan", "Gus", "Hal"}, "= null"),
    case(f("last_seen_at", ">=", Y2040), {"Ada"}, "standard date past 2038"),
    case(f("created_at", ">", 0), ALL, "created_at"),
    case(f("custom_attributes.renewal_at", "=", D + 43_200), {"Bob", "Eve"}, "custom date ="),
    case(f("custom_attributes.renewal_at", ">", D), {"Ada", "Fay"}, "custom date >"),
    case(f("custom_attributes.renewal_at", "<=", D + DAY), {"Bob", "Eve"}, "custom date <="),
    case(f("custom_attributes.renewal_at", ">=", Y2040 - 1), {"Fay"}, "custom date past 2038"),
    case(f("custom_attributes.renewal_at", "IN", [D + 30 * DAY]), {"Ada"}, "custom date IN"),
    case(f("custom_attributes.renewal_at", "=", None), {"Cleo", "Dan", "Gus", "Hal"}, "custom date = null"),
    # groups
    case(AND(f("role", "=", "user"), f("owner_id", "=", 1)), {"Ada", "Eve"}, "AND"),
    case(OR(f("name", "=", "Ada"), f("name", "=", "Bob")), {"Ada", "Bob"}, "OR"),
    case(OR(f("name", "=", "Dan")), {"Dan"}, "group of one"),
    case(
        AND(
            OR(f("name", "=", "ada"), f("name", "=", "bob"), f("name", "=", "hal")),
            OR(f("custom_attributes.vip", "=", True), f("custom_attributes.seats", "<", 5)),
        ),
        {"Ada", "Bob"},
        "(a OR b) AND (c OR d)",
    ),
    case(
        OR(
            AND(f("role", "=", "lead"), f("custom_attributes.seats", ">", 5)),
            AND(f("role", "=", "user"), f("custom_attributes.score", "<", 0)),
        ),
        {"Hal", "Eve"},
        "(a AND b) OR (c AND d)",
    ),
    case(
        AND(*[f("name", "!=", n) for n in ["Ada", "Bob", "Cleo", "Dan", "Eve"]] * 3),
        {"Fay", "Gus", "Hal"},
        "15",
    ),
]


@pytest.mark.parametrize(("query", "expected"), MATCHES)
def test_query_returns_exactly_the_matching_contacts(
    dataset: Dataset, query: dict[str, Any], expected: frozenset[str]
) -> None:
    body = ok(search(dataset, query, per_page=50))
    names = dataset.names(body["data"])
    assert sorted(names) == sorted(expected)
    assert body["total_count"] == len(expected)
    assert "next" not in body["pages"]


def nest(depth: int) -> dict[str, Any]:
    query = f("name", "=", "Ada")
    for _ in range(depth):
        query = AND(query)
    return query


REFUSED = [
    pytest.param(f("name", ">", "a"), "query.operator", id="> on a string"),
    pytest.param(f("owner_id", "~", "1"), "query.operator", id="~ on an integer"),
    pytest.param(f("custom_attributes.vip", "IN", [True]), "query.operator", id="IN on a boolean"),
    pytest.param(f("custom_attributes.renewal_at", "^", "2023"), "query.operator", id="^ on a date"),
    pytest.param(f("tag_id", "~", "beta"), "query.operator", id="~ on tag_id"),
    pytest.param(f("name", "LIKE", "a"), "query.operator", id="unknown operator"),
    pytest.param(f("name", ["="], "a"), "query.operator", id="operator is a list"),
    pytest.param({"field": "name", "value": "a"}, "query.operator", id="no operator"),
    pytest.param(f("nickname", "=", "a"), "query.field", id="unknown field"),
    pytest.param(f("custom_attributes.tier", "=", "a"), "query.field", id="unknown custom attribute"),
    pytest.param(f("custom_attributes.", "=", "a"), "query.field", id="empty custom attribute name"),
    pytest.param({"operator": "=", "value": "a"}, "query.field", id="no field"),
    pytest.param(nest(3), "query.value[0].value[0]", id="three levels of groups"),
    pytest.param(AND(*[f("name", "=", "a")] * 16), "query.value", id="16 filters"),
    pytest.param(
        OR(f("name", "=", "a"), AND(*[f("name", "=", "a")] * 16)), "query.value[1].value", id="16 nested"
    ),
    pytest.param(f("name", "IN", "Ada"), "query.value", id="IN with a string"),
    pytest.param(f("name", "NIN", []), "query.value", id="NIN with an empty list"),
    pytest.param(f("owner_id", "IN", [1, "x"]), "query.value[1]", id="IN with a wrong item"),
    pytest.param(f("name", "=", 5), "query.value", id="number for a string"),
    pytest.param(f("custom_attributes.seats", "=", 1.5), "query.value", id="fraction for an integer"),
    pytest.param(f("custom_attributes.seats", ">", "²"), "query.value", id="superscript digit"),
    pytest.param(f("owner_id", "=", 2**64), "query.value", id="integer past 64 bits"),
    pytest.param(f("custom_attributes.score", ">", 10**400), "query.value", id="number too large"),
    pytest.param(f("custom_attributes.vip", "=", "true"), "query.value", id="string for a boolean"),
    pytest.param(f("signed_up_at", ">", "last week"), "query.value", id="word for a date"),
    pytest.param(f("signed_up_at", ">", 10**15), "query.value", id="date past year 9999"),
    pytest.param(f("name", "=", "a\x00b"), "query.value", id="NUL character"),
    pytest.param(f("name", "~", None), "query.value", id="~ null"),
    pytest.param({"field": "name", "operator": "="}, "query.value", id="missing value"),
    pytest.param(
        AND(f("name", "=", "a"), f("owner_id", "~", "1")), "query.value[1].operator", id="in a group"
    ),
    pytest.param(
        OR(f("name", "=", "a"), AND(f("nope", "=", 1))), "query.value[1].value[0].field", id="nested"
    ),
    pytest.param(AND(f("name", "=", "a"), "name"), "query.value[1]", id="item is a string"),
    pytest.param({"operator": "AND", "value": []}, "query.value", id="empty group"),
    pytest.param(f("id", "IN", ["x"] * 1001), "query.value", id="IN with 1001 values"),
    pytest.param(OR(*[AND(*[f("name", "IN", ["x"] * 300)] * 15)] * 15), "query", id="67,500 values in all"),
]


@pytest.mark.parametrize(("query", "field"), REFUSED)
def test_invalid_query_is_refused_naming_the_bad_part(dataset: Dataset, query: Any, field: str) -> None:
    response = search(dataset, query)
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["type"] == "error.list"
    [error] = body["errors"]
    assert error["code"] == "parameter_invalid"
    assert error["field"] == field
    assert error["message"]


def test_search_body_needs_a_query_object(dataset: Dataset) -> None:
    for body in ({}, {"query": "name = Ada"}, {"query": [f("name", "=", "Ada")]}):
        response = dataset.client.post("/contacts/search", json=body)
        assert response.status_code == 400, response.text
        assert response.json()["errors"][0]["field"] == "query"


def test_search_pages_through_results_with_starting_after(dataset: Dataset) -> None:
    everyone = f("created_at", ">", 0)
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        pagination: dict[str, Any] = {"per_page": 3}
        if cursor is not None:
            pagination["starting_after"] = cursor
        body = ok(search(dataset, everyone, **pagination))
        pages += 1
        assert body["total_count"] == len(ALL)
        assert body["pages"]["page"] == pages
        assert body["pages"]["total_pages"] == 3
        assert len(body["data"]) == (3 if pages < 3 else 2)
        seen += dataset.names(body["data"])
        cursor = body["pages"].get("next", {}).get("starting_after")
        if cursor is None:
            break
    assert pages == 3
    assert sorted(seen) == sorted(ALL), "every contact exactly once"


def test_search_pages_keep_the_filter(dataset: Dataset) -> None:
    leads = f("role", "=", "lead")
    first = ok(search(dataset, leads, per_page=3))
    assert first["total_count"] == 4
    second = ok(search(dataset, leads, per_page=3, starting_after=first["pages"]["next"]["starting_after"]))
    names = dataset.names(first["data"]) + dataset.names(second["data"])
    assert sorted(names) == ["Cleo", "Dan", "Gus", "Hal"]
    assert "next" not in second["pages"]


@pytest.mark.parametrize(
    ("pagination", "field"),
    [
        ({"per_page": 0}, "pagination.per_page"),
        ({"per_page": 100_000}, "pagination.per_page"),
        ({"starting_after": "not-a-cursor"}, "pagination.starting_after"),
    ],
)
def test_bad_pagination_is_refused(dataset: Dataset, pagination: dict[str, Any], field: str) -> None:
    response = search(dataset, f("name", "=", "Ada"), **pagination)
    assert response.status_code == 400, response.text
    assert response.json()["errors"][0]["field"] == field


def test_archived_data_attribute_is_not_searchable(api: httpx.Client) -> None:
    created = ok(
        api.post("/data_attributes", json={"name": "legacy", "model": "contact", "data_type": "string"})
    )
    ok(api.post("/contacts", json={"role": "lead", "name": "Old", "custom_attributes": {"legacy": "x"}}))
    query = {"query": f("custom_attributes.legacy", "=", "x")}
    assert ok(api.post("/contacts/search", json=query))["total_count"] == 1
    ok(api.put(f"/data_attributes/{created['id']}", json={"archived": True}))
    response = api.post("/contacts/search", json=query)
    assert response.status_code == 400, response.text
    assert response.json()["errors"][0]["field"] == "query.field"


def test_non_ascii_text_matches_without_regard_to_case(api: httpx.Client) -> None:
    ok(api.post("/data_attributes", json={"name": "city", "model": "contact", "data_type": "string"}))
    ok(
        api.post(
            "/contacts", json={"role": "lead", "name": "Émile Zola", "custom_attributes": {"city": "MÜNCHEN"}}
        )
    )
    ok(api.post("/contacts", json={"role": "lead", "name": "Other"}))
    for query in (
        f("name", "=", "émile zola"),
        f("name", "^", "ÉMILE"),
        f("name", "IN", ["ÉMILE ZOLA"]),
        f("custom_attributes.city", "~", "münch"),
        f("custom_attributes.city", "=", "München"),
    ):
        body = ok(api.post("/contacts/search", json={"query": query}))
        assert [c["name"] for c in body["data"]] == ["Émile Zola"], query
    excluded = ok(api.post("/contacts/search", json={"query": f("name", "!~", "émile")}))
    assert [c["name"] for c in excluded["data"]] == ["Other"]


def test_email_search_matches_an_international_domain(api: httpx.Client) -> None:
    ok(api.post("/contacts", json={"name": "Jörg", "email": "jorg@Bücher.de"}))
    for query in (f("email", "=", "JORG@bücher.de"), f("email_domain", "=", "BÜCHER.de")):
        body = ok(api.post("/contacts/search", json={"query": query}))
        assert [c["name"] for c in body["data"]] == ["Jörg"], query


def test_search_never_returns_another_workspace_contacts(
    server: Server, database: Database, dataset: Dataset
) -> None:
    other_keys = make_workspace(database, "Other")
    with client_for(server, other_keys.token) as other_client:
        other = build(
            other_client, {"Ada": CONTACTS["Ada"], "Zed": CONTACTS["Bob"]}, {"beta": ["Ada", "Zed"]}
        )
        queries = [
            f("name", "~", ""),
            f("created_at", ">", 0),
            f("email", "=", "ada@example.com"),
            f("custom_attributes.plan", "!=", None),
            f("tag_id", "!=", "@tag:beta"),
            f("tag_id", "=", None),
            f("id", "NIN", ["@id:Ada"]),
        ]
        for query in queries:
            ours = ok(search(dataset, query, per_page=150))
            theirs = ok(search(other, query, per_page=150))
            assert not set(dataset.ids.values()) & {c["id"] for c in theirs["data"]}, query
            assert not set(other.ids.values()) & {c["id"] for c in ours["data"]}, query
            assert "foreign" not in " ".join(dataset.names(ours["data"])), query
        # the other workspace's tag and contact ids find nothing here, and its ids are strangers
        assert ok(search(dataset, f("tag_id", "=", other.tags["beta"])))["total_count"] == 0
        assert ok(search(dataset, f("id", "IN", list(other.ids.values()))))["total_count"] == 0
        # a custom attribute exists only in the workspace that created it
        ok(
            other_client.post(
                "/data_attributes", json={"name": "secret", "model": "contact", "data_type": "string"}
            )
        )
        response = search(dataset, f("custom_attributes.secret", "=", "x"))
        assert response.status_code == 400
        assert response.json()["errors"][0]["field"] == "query.field"
