"""Every input a client can send by mistake gets a 4xx in the error envelope naming the field, and changes
nothing (issue 11): one test per input class, through the real server, on SQLite and on PostgreSQL.

The refused requests share one workspace per backend (``world``): none of them may write, so the state the
API shows must stay what it was when the workspace was filled, test after test.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.conftest import Server, make_teammate, make_workspace
from tests.helpers import ok

JSON = {"Content-Type": "application/json"}
SURROGATE = "\ud800"
DEEP = 5_000
LAST_SECOND = 253_402_300_799  # 9999-12-31T23:59:59Z
FIRST_SECOND = -62_135_596_800  # 0001-01-01T00:00:00Z


@dataclass
class World:
    client: httpx.Client
    user: str
    conversation: str
    tag: str
    attribute: int
    snapshot: dict[str, Any]
    admin: str  # a teammate of the workspace, for notes and admin replies


def state(client: httpx.Client, user: str, conversation: str) -> dict[str, Any]:
    """Everything a refused request could have written, as the API shows it."""
    return {
        "contacts": ok(client.get("/contacts", params={"per_page": 150}))["data"],
        "notes": ok(client.get(f"/contacts/{user}/notes"))["data"],
        "events": ok(client.get("/events", params={"type": "user", "intercom_user_id": user}))["events"],
        "conversation": ok(client.get(f"/conversations/{conversation}")),
        "attributes": ok(client.get("/data_attributes", params={"include_archived": "true"}))["data"],
        "tags": ok(client.get("/tags"))["data"],
        "merges": ok(client.get("/merges"))["data"],
    }


@pytest.fixture(scope="module")
def world(server: Server) -> Iterator[World]:
    keys = make_workspace(server.database)
    admin = make_teammate(server.database, keys).id
    headers = {"Authorization": f"Bearer {keys.token}"}
    with httpx.Client(base_url=server.base_url, headers=headers, timeout=30) as client:
        attribute = 0
        for name, data_type in [
            ("tier", "string"),
            ("seats", "integer"),
            ("score", "float"),
            ("renewal", "date"),
        ]:
            attribute = ok(client.post("/data_attributes", json={"name": name, "data_type": data_type}))["id"]
        user = ok(
            client.post(
                "/contacts",
                json={
                    "role": "user",
                    "external_id": "u-1",
                    "email": "ada@example.com",
                    "name": "Ada",
                    "custom_attributes": {"tier": "gold", "seats": 3, "renewal": 1_700_000_000},
                },
            )
        )["id"]
        ok(client.post("/contacts", json={"role": "lead", "email": "lead@example.com"}))
        conversation = ok(
            client.post("/conversations", json={"from": {"type": "user", "id": user}, "body": "hello"})
        )["conversation_id"]
        ok(client.post(f"/contacts/{user}/notes", json={"body": "a note", "admin_id": admin}))
        event = {"event_name": "signed-in", "id": user, "created_at": 1_700_000_000}
        assert client.post("/events", json=event).status_code == 202
        tag = ok(client.post("/tags", json={"name": "vip"}))["id"]
        snapshot = state(client, user, conversation)
        yield World(client, user, conversation, tag, attribute, snapshot, admin)


def refused(
    response: httpx.Response, field: str | None, code: str = "parameter_invalid", status: int = 400
) -> dict[str, Any]:
    """The one error of a refused request, in Intercom's envelope, naming ``field`` (None: no field)."""
    assert response.status_code == status, response.text
    body = response.json()
    assert body["type"] == "error.list" and body["request_id"], body
    [error] = body["errors"]
    assert error["code"] == code, error
    assert error.get("field") == field, error
    return dict(error)


def unchanged(world: World) -> None:
    assert state(world.client, world.user, world.conversation) == world.snapshot


def send(world: World, method: str, path: str, body: dict[str, Any] | str) -> httpx.Response:
    """A JSON request as any client may send it: ``json.dumps`` escapes to ASCII, so a lone surrogate goes
    out as ``\\ud800`` (httpx's ``json=`` cannot encode one)."""
    content = body if isinstance(body, str) else json.dumps(body)
    path = path.format(user=world.user, conversation=world.conversation, attribute=world.attribute)
    return world.client.request(method, path, content=content, headers=JSON)


def name_is(operator: str, value: Any, field: str = "name") -> dict[str, Any]:
    return {"query": {"field": field, "operator": operator, "value": value}}


# --- strings with lone surrogates or NUL ----------------------------------------------------------------

TEXT_FIELDS: list[Any] = [
    pytest.param("POST", "/contacts/{user}/notes", lambda w, s: {"body": s}, "body", id="note"),
    pytest.param("POST", "/events", lambda w, s: {"event_name": s, "id": w.user}, "event_name", id="event"),
    pytest.param(
        "POST",
        "/events",
        lambda w, s: {"event_name": "x", "id": w.user, "metadata": {"plan": s}},
        "metadata.plan",
        id="event metadata",
    ),
    pytest.param(
        "POST",
        "/events",
        lambda w, s: {"event_name": "x", "id": w.user, "metadata": {s: 1}},
        "metadata",
        id="event metadata key",
    ),
    pytest.param("POST", "/contacts/search", lambda w, s: name_is("=", s), "query.value", id="search"),
    pytest.param(
        "POST",
        "/contacts/search",
        lambda w, s: {
            "query": {"operator": "OR", "value": [name_is("=", "Ada")["query"], name_is("~", s)["query"]]}
        },
        "query.value[1].value",
        id="search contains in a group",
    ),
    pytest.param(
        "PUT",
        "/contacts/{user}",
        lambda w, s: {"custom_attributes": {"tier": s}},
        "custom_attributes.tier",
        id="custom attribute",
    ),
    pytest.param("PUT", "/contacts/{user}", lambda w, s: {"name": f"Ada {s}"}, "name", id="contact name"),
    pytest.param(
        "POST",
        "/conversations/{conversation}/reply",
        lambda w, s: {"type": "admin", "admin_id": w.admin, "body": s},
        "body",
        id="reply",
    ),
    pytest.param(
        "PUT", "/data_attributes/{attribute}", lambda w, s: {"options": ["a", s]}, "options[1]", id="option"
    ),
    pytest.param("POST", "/tags", lambda w, s: {"name": s}, "name", id="tag"),
]


@pytest.mark.parametrize("bad", [SURROGATE, "\x00"], ids=["lone surrogate", "NUL"])
@pytest.mark.parametrize(("method", "path", "body", "field"), TEXT_FIELDS)
def test_a_string_with_a_lone_surrogate_or_nul_is_refused(
    world: World, method: str, path: str, body: Callable[[World, str], Any], field: str, bad: str
) -> None:
    error = refused(send(world, method, path, body(world, f"a{bad}b")), field)
    assert "surrogate" in error["message"] or "NUL" in error["message"]
    unchanged(world)


# --- integers and timestamps beyond 64 bits -------------------------------------------------------------

TOO_LARGE: list[Any] = [
    pytest.param(
        "POST", "/events", lambda w: {"event_name": "x", "id": w.user, "created_at": 10**20}, "created_at"
    ),
    pytest.param(
        "POST",
        "/conversations",
        lambda w: {"from": {"type": "user", "id": w.user}, "body": "x", "created_at": 10**20},
        "created_at",
        id="conversation created_at",
    ),
    pytest.param(
        "POST",
        "/conversations/{conversation}/reply",
        lambda w: {"type": "admin", "admin_id": w.admin, "body": "x", "created_at": LAST_SECOND + 1},
        "created_at",
        id="reply after year 9999",
    ),
    pytest.param("PUT", "/contacts/{user}", lambda w: {"signed_up_at": 10**20}, "signed_up_at"),
    pytest.param("PUT", "/contacts/{user}", lambda w: {"last_seen_at": True}, "last_seen_at", id="boolean"),
    pytest.param("PUT", "/contacts/{user}", lambda w: {"owner_id": 2**63}, "owner_id"),
    pytest.param(
        "POST",
        "/events",
        lambda w: {"event_name": "x", "id": w.user, "metadata": {"count": 2**64}},
        "metadata.count",
    ),
    pytest.param(
        "POST",
        "/events",
        lambda w: {
            "event_name": "x",
            "id": w.user,
            "metadata": {"price": {"amount": 10**30, "currency": "eur"}},
        },
        "metadata.price.amount",
    ),
    pytest.param("POST", "/contacts/search", lambda w: name_is("=", 10**400, "owner_id"), "query.value"),
    pytest.param(
        "POST",
        "/contacts/search",
        lambda w: name_is("=", "9" * 5_000, "owner_id"),
        "query.value",
        id="5,000 digits as text",
    ),
    pytest.param(
        "POST",
        "/contacts/search",
        lambda w: name_is(">", "9" * 5_000, "signed_up_at"),
        "query.value",
        id="5,000 digits as a date",
    ),
    pytest.param(
        "POST",
        "/contacts/search",
        lambda w: {**name_is("=", "Ada"), "pagination": {"per_page": 2**64}},
        "pagination.per_page",
    ),
    pytest.param(
        "PUT", "/data_attributes/" + "9" * 5_000, lambda w: {}, "attribute_id", id="5,000 digits in a path"
    ),
]


@pytest.mark.parametrize(("method", "path", "body", "field"), TOO_LARGE)
def test_an_integer_or_timestamp_beyond_its_range_is_refused(
    world: World, method: str, path: str, body: Callable[[World], Any], field: str
) -> None:
    refused(send(world, method, path, body(world)), field)
    unchanged(world)


def test_a_number_too_long_to_parse_is_refused(world: World) -> None:
    raw = '{"query": {"field": "owner_id", "operator": "=", "value": %s}}' % ("9" * 5_000)
    error = refused(send(world, "POST", "/contacts/search", raw), None)
    assert "digits" in error["message"]
    unchanged(world)


# --- custom attribute integers and dates ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("seats", 2**63),
        ("seats", -(2**63) - 1),
        ("score", 10**400),
        ("renewal", LAST_SECOND + 1),
        ("renewal", FIRST_SECOND - 1),
        ("renewal", 10**20),
        ("renewal", 1e300),
        ("renewal", "0001-01-01T00:00:00+01:00"),
        ("renewal", "9999-12-31T23:59:59-01:00"),
    ],
)
def test_a_custom_attribute_outside_its_stated_range_is_refused(world: World, name: str, value: Any) -> None:
    response = send(world, "PUT", "/contacts/{user}", {"custom_attributes": {name: value}})
    refused(response, f"custom_attributes.{name}")
    unchanged(world)


def test_the_ends_of_the_stated_ranges_are_accepted(api: httpx.Client) -> None:
    for name, data_type in [("seats", "integer"), ("renewal", "date")]:
        ok(api.post("/data_attributes", json={"name": name, "data_type": data_type}))
    ends = [
        ({"seats": 2**63 - 1, "renewal": LAST_SECOND}, {"signed_up_at": LAST_SECOND, "owner_id": 2**63 - 1}),
        ({"seats": -(2**63), "renewal": FIRST_SECOND}, {"signed_up_at": 0, "owner_id": -(2**63)}),
    ]
    for custom, standard in ends:
        contact = ok(api.post("/contacts", json={"role": "lead", "custom_attributes": custom, **standard}))
        assert contact["custom_attributes"] == custom
        assert {k: contact[k] for k in standard} == standard
        query = {"field": "custom_attributes.renewal", "operator": "=", "value": custom["renewal"]}
        found = ok(api.post("/contacts/search", json={"query": query}))["data"]
        assert [c["id"] for c in found] == [contact["id"]]


# --- deep or malformed cursors --------------------------------------------------------------------------


def cursor(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


FORGED = [
    pytest.param(cursor("[" * DEEP + "]" * DEEP), id="nested 5,000 deep"),
    pytest.param(cursor("[" + "[" * DEEP + "]" * DEEP + ', "x"]'), id="nested page"),
    pytest.param(cursor('{"page": 2, "after": "x"}'), id="an object"),
    pytest.param(cursor(json.dumps([10**30, "01a2"])), id="page past 64 bits"),
    pytest.param(cursor(json.dumps([0, "01a2"])), id="page 0"),
    pytest.param(cursor(json.dumps([-1, "01a2"])), id="negative page"),
    pytest.param(cursor(json.dumps([True, "01a2"])), id="boolean page"),
    pytest.param(cursor(json.dumps([1.5, "01a2"])), id="fractional page"),
    pytest.param(cursor(json.dumps([2, "a" * 33])), id="id longer than its column"),
    pytest.param(cursor(json.dumps([2, SURROGATE])), id="lone surrogate"),
    pytest.param(cursor(json.dumps([2, "a\x00"])), id="NUL"),
    pytest.param(cursor(json.dumps([2, "01a2", 3])), id="three items"),
    pytest.param(cursor('[NaN, "01a2"]'), id="NaN page"),
    pytest.param("not base64 !", id="not base64"),
    pytest.param("A" * 4_000, id="4,000 characters"),
]


@pytest.mark.parametrize("forged", FORGED)
def test_a_forged_cursor_is_refused(world: World, forged: str) -> None:
    for path in [
        "/contacts",
        "/merges",
        "/merge_marks",
        "/conversations",
        f"/contacts/{world.user}/merge_history",
    ]:
        refused(world.client.get(path, params={"starting_after": forged}), "starting_after")
    search = {**name_is("=", "Ada"), "pagination": {"starting_after": forged}}
    refused(send(world, "POST", "/contacts/search", search), "pagination.starting_after")
    unchanged(world)


@pytest.mark.parametrize(
    "before", [f"{2**63}:01a2", f"{'9' * 5_000}:01a2", "1:" + "a" * 33, "1:é", "-1:01a2", "1:"]
)
def test_a_forged_event_cursor_is_refused(world: World, before: str) -> None:
    params = {"type": "user", "intercom_user_id": world.user, "before": before}
    refused(world.client.get("/events", params=params), "before")
    unchanged(world)


# --- over-long ids and values ---------------------------------------------------------------------------

TOO_LONG: list[Any] = [
    pytest.param(
        "POST",
        "/contacts/{user}/notes",
        lambda w: {"body": "x", "admin_id": "a" * 65},
        "admin_id",
        id="note admin_id",
    ),
    pytest.param(
        "POST",
        "/conversations/{conversation}/reply",
        lambda w: {"type": "admin", "admin_id": "a" * 65, "body": "x"},
        "admin_id",
        id="reply admin_id",
    ),
    pytest.param(
        "POST",
        "/conversations/{conversation}/reply",
        lambda w: {"type": "admin", "admin_id": 10**70, "body": "x"},
        "admin_id",
        id="reply admin_id of 71 digits",
    ),
    pytest.param("POST", "/contacts/{user}/notes", lambda w: {"body": "x" * 65_537}, "body", id="note body"),
    pytest.param(
        "POST",
        "/conversations",
        lambda w: {"from": {"type": "user", "id": w.user}, "body": "x" * 65_537},
        "body",
        id="message body",
    ),
    pytest.param(
        "POST", "/events", lambda w: {"event_name": "e" * 256, "id": w.user}, "event_name", id="event name"
    ),
    pytest.param("PUT", "/contacts/{user}", lambda w: {"name": "n" * 256}, "name", id="name"),
    pytest.param("PUT", "/contacts/{user}", lambda w: {"external_id": "u" * 256}, "external_id"),
    pytest.param("PUT", "/contacts/{user}", lambda w: {"email": "a" * 310 + "@example.com"}, "email"),
    pytest.param("PUT", "/contacts/{user}", lambda w: {"language_override": "l" * 17}, "language_override"),
    pytest.param(
        "PUT",
        "/contacts/{user}",
        lambda w: {"custom_attributes": {"tier": "t" * 256}},
        "custom_attributes.tier",
        id="custom attribute",
    ),
    pytest.param("POST", "/tags", lambda w: {"name": "t" * 256}, "name", id="tag name"),
    pytest.param(
        "PUT",
        "/data_attributes/{attribute}",
        lambda w: {"description": "d" * 65_537},
        "description",
        id="attribute description",
    ),
    pytest.param(
        "PUT", "/data_attributes/{attribute}", lambda w: {"options": ["o" * 256]}, "options[0]", id="option"
    ),
]


@pytest.mark.parametrize(("method", "path", "body", "field"), TOO_LONG)
def test_a_value_longer_than_its_field_is_refused_on_every_backend(
    world: World, method: str, path: str, body: Callable[[World], Any], field: str
) -> None:
    refused(send(world, method, path, body(world)), field)
    unchanged(world)


def test_an_admin_id_of_64_characters_is_checked_as_a_teammate(api: httpx.Client) -> None:
    user = ok(api.post("/contacts", json={"role": "user", "external_id": "u-1"}))["id"]
    conversation = ok(api.post("/conversations", json={"from": {"type": "user", "id": user}, "body": "hi"}))
    reply = {"type": "admin", "admin_id": "a" * 64, "body": "hello"}
    error = refused(
        api.post(f"/conversations/{conversation['conversation_id']}/reply", json=reply), "admin_id"
    )
    assert "not a teammate" in error["message"]  # within its length, so looked up, and unknown


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("/contacts/{long}", "id"),
        ("/contacts/{long}/notes", "id"),
        ("/contacts/find_by_external_id/{long}", "external_id"),
        ("/tags/{long}", "id"),
        ("/conversations/{long}", "id"),
        ("/merges/{long}", "id"),
    ],
)
def test_an_id_longer_than_its_column_names_nothing(world: World, path: str, field: str) -> None:
    refused(world.client.get(path.format(long="a" * 10_000)), field, code="not_found", status=404)
    unchanged(world)


# --- search values the database cannot compare ----------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "field"),
    [
        pytest.param(name_is("~", "a" * 50_001), "query.value", id="contains, past SQLite's LIKE limit"),
        pytest.param(name_is("~", "%_" * 500 + "x"), "query.value", id="contains 1,001 wildcards"),
        pytest.param(name_is("!~", "a" * 1_001), "query.value", id="does not contain"),
        pytest.param(name_is("^", "a" * 1_001), "query.value", id="starts with"),
        pytest.param(name_is("$", "a" * 1_001), "query.value", id="ends with"),
        pytest.param(name_is("=", "a" * 1_001, "email"), "query.value", id="equals"),
        pytest.param(name_is("IN", ["Ada", "a" * 1_001]), "query.value[1]", id="in a list"),
        pytest.param(name_is("~", "a" * 1_001, "custom_attributes.tier"), "query.value", id="custom"),
    ],
)
def test_a_search_value_too_long_to_compare_is_refused(world: World, query: Any, field: str) -> None:
    error = refused(send(world, "POST", "/contacts/search", query), field)
    assert "1,000 characters" in error["message"]
    assert len(error["message"]) < 200
    unchanged(world)


def test_a_search_value_of_1000_characters_is_compared(api: httpx.Client) -> None:
    ok(api.post("/data_attributes", json={"name": "tier", "data_type": "string"}))
    long_name = "x" * 255
    ada = ok(api.post("/contacts", json={"role": "lead", "name": long_name}))
    for operator in ["~", "^", "$", "="]:
        found = ok(api.post("/contacts/search", json=name_is(operator, long_name)))["data"]
        assert [c["id"] for c in found] == [ada["id"]]
    assert ok(api.post("/contacts/search", json=name_is("~", "x" * 1_000)))["data"] == []


# --- nesting --------------------------------------------------------------------------------------------


def nested(depth: int) -> Any:
    value: Any = "x"
    for _ in range(depth):
        value = [value]
    return value


@pytest.mark.parametrize(
    ("method", "path", "body", "field"),
    [
        pytest.param(
            "PUT",
            "/contacts/{user}",
            lambda w: {"custom_attributes": {"tier": nested(40)}},
            "custom_attributes.tier" + "[0]" * 30,
            id="custom attribute",
        ),
        pytest.param(
            "POST",
            "/events",
            lambda w: {"event_name": "x", "id": w.user, "metadata": {"a": nested(40)}},
            "metadata.a" + "[0]" * 30,
            id="event metadata",
        ),
        pytest.param(
            "POST",
            "/contacts/search",
            lambda w: {**name_is("=", "Ada"), "sort": {"field": nested(40)}},
            "sort.field" + "[0]" * 30,
            id="search sort",
        ),
    ],
)
def test_json_nested_deeper_than_32_levels_is_refused(
    world: World, method: str, path: str, body: Callable[[World], Any], field: str
) -> None:
    error = refused(send(world, method, path, body(world)), field)
    assert "32 levels" in error["message"]
    unchanged(world)


@pytest.mark.parametrize("path", ["/contacts", "/events", "/contacts/search"])
def test_a_body_nested_5000_deep_is_refused(world: World, path: str) -> None:
    raw = '{"custom_attributes": {"tier": ' + "[" * DEEP + "]" * DEEP + "}}"
    error = refused(send(world, "POST", path, raw), None)
    assert "nests too deeply" in error["message"]
    unchanged(world)


# --- query parameters -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "params", "field"),
    [
        ("/contacts/{user}/notes", {"page": 2**64}, "page"),
        ("/contacts/{user}/notes", {"page": 0}, "page"),
        ("/duplicates", {"page": 2**63}, "page"),
        ("/duplicates/suggestions", {"page": 2**63}, "page"),
        ("/duplicates/suggestions", {"min_score": "nan"}, "min_score"),
        ("/duplicates", {"min_score": "inf"}, "min_score"),
        ("/contacts", {"per_page": 10**30}, "per_page"),
    ],
)
def test_a_query_parameter_out_of_range_is_refused(
    world: World, path: str, params: dict[str, Any], field: str
) -> None:
    refused(world.client.get(path.format(user=world.user), params=params), field)
    unchanged(world)


def test_a_suggestion_scan_past_64_bits_is_refused(world: World) -> None:
    refused(world.client.post("/duplicates/suggestions/scan", json={"block_cap": 2**63}), "block_cap")
    unchanged(world)


# --- the import map -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "mapping",
    [
        json.dumps({"email": SURROGATE}),
        json.dumps({SURROGATE: "email"}),
        json.dumps({"email": "\x00"}),
        "[" * DEEP + "]" * DEEP,
    ],
    ids=["lone surrogate", "lone surrogate in a column", "NUL", "nested 5,000 deep"],
)
def test_an_import_map_no_database_can_store_is_refused(world: World, mapping: str) -> None:
    files = {"file": ("people.csv", b"email\nzoe@example.com\n", "text/csv")}
    response = world.client.post("/imports", files=files, data={"role": "lead", "map": mapping})
    refused(response, "map")
    unchanged(world)
