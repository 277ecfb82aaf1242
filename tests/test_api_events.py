"""POST /events and GET /events (list and summary) through the real server."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.conftest import Database, Server, make_workspace

T0 = 1_700_000_000


def iso(timestamp: int) -> str:
    return dt.datetime.fromtimestamp(timestamp, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


@pytest.fixture
def user(api: httpx.Client) -> dict[str, Any]:
    response = api.post("/contacts", json={"role": "user", "external_id": "u-42", "email": "Ev@Example.com"})
    assert response.status_code == 200, response.text
    return dict(response.json())


def listed(api: httpx.Client, contact_id: str) -> list[dict[str, Any]]:
    response = api.get("/events", params={"type": "user", "intercom_user_id": contact_id, "per_page": 150})
    assert response.status_code == 200, response.text
    return list(response.json()["events"])


def summary(api: httpx.Client, contact_id: str) -> dict[str, tuple[str, str, int]]:
    response = api.get("/events", params={"type": "user", "intercom_user_id": contact_id, "summary": "true"})
    assert response.status_code == 200, response.text
    return {e["name"]: (e["first"], e["last"], e["count"]) for e in response.json()["events"]}


def only_error(response: httpx.Response) -> dict[str, Any]:
    body = response.json()
    assert body["type"] == "error.list"
    assert len(body["errors"]) == 1
    return dict(body["errors"][0])


@pytest.mark.parametrize(
    "who",
    [
        pytest.param(lambda c: {"id": c["id"]}, id="id"),
        pytest.param(lambda c: {"user_id": "u-42"}, id="user_id"),
        pytest.param(lambda c: {"email": "ev@example.com"}, id="email, matched normalized"),
    ],
)
def test_an_event_is_accepted_by_any_identifier(api: httpx.Client, user: dict[str, Any], who: Any) -> None:
    response = api.post(
        "/events", json={"event_name": "paid", "created_at": T0, "metadata": {"plan": "pro"}, **who(user)}
    )
    assert response.status_code == 202, response.text
    assert response.content == b""
    [event] = listed(api, user["id"])
    assert (event["event_name"], event["created_at"], event["metadata"]) == ("paid", T0, {"plan": "pro"})
    assert (event["intercom_user_id"], event["user_id"], event["email"]) == (
        user["id"],
        "u-42",
        "Ev@Example.com",
    )


def test_an_event_without_created_at_is_stamped_now(api: httpx.Client, user: dict[str, Any]) -> None:
    before = int(dt.datetime.now(dt.UTC).timestamp())
    assert api.post("/events", json={"event_name": "opened", "id": user["id"]}).status_code == 202
    [event] = listed(api, user["id"])
    assert before <= event["created_at"] <= before + 60


GOOD_METADATA = {
    "text": "hello",
    "count": 3,
    "price": 9.99,
    "flag": True,
    "nothing": None,
    "invoice_date": T0,
    "link": {"url": "https://example.org/a", "value": "Article"},
    "amount": {"amount": 34999, "currency": "eur"},
}


def test_flat_metadata_and_intercoms_link_and_amount_objects_are_kept(
    api: httpx.Client, user: dict[str, Any]
) -> None:
    response = api.post("/events", json={"event_name": "m", "id": user["id"], "metadata": GOOD_METADATA})
    assert response.status_code == 202, response.text
    assert listed(api, user["id"])[0]["metadata"] == GOOD_METADATA


@pytest.mark.parametrize(
    ("metadata", "field"),
    [
        ({f"k{i}": i for i in range(11)}, "metadata"),
        ({"deep": {"a": 1}}, "metadata.deep"),
        ({"list": [1, 2]}, "metadata.list"),
        ({"half_link": {"url": "https://example.org"}}, "metadata.half_link"),
        ({"link": {"url": "https://example.org", "value": {"x": 1}}}, "metadata.link"),
        ({"money": {"amount": -5, "currency": "eur"}}, "metadata.money"),
        ({"money": {"amount": "5", "currency": "eur"}}, "metadata.money"),
        ({"money": {"amount": 5, "currency": ""}}, "metadata.money"),
        ({"ok": "fine", "bad": {"nested": {"deeper": 1}}}, "metadata.bad"),
    ],
)
def test_bad_metadata_is_refused_naming_the_key_and_nothing_is_stored(
    api: httpx.Client, user: dict[str, Any], metadata: dict[str, Any], field: str
) -> None:
    response = api.post("/events", json={"event_name": "m", "id": user["id"], "metadata": metadata})
    assert response.status_code == 400, response.text
    error = only_error(response)
    assert (error["code"], error["field"]) == ("parameter_invalid", field)
    assert listed(api, user["id"]) == []
    assert summary(api, user["id"]) == {}


def test_ten_metadata_keys_are_allowed(api: httpx.Client, user: dict[str, Any]) -> None:
    metadata = {f"k{i}": i for i in range(10)}
    assert (
        api.post("/events", json={"event_name": "m", "id": user["id"], "metadata": metadata}).status_code
        == 202
    )
    assert listed(api, user["id"])[0]["metadata"] == metadata


@pytest.mark.parametrize(
    ("body", "status", "code", "field"),
    [
        ({"id": "0" * 24}, 404, "not_found", "id"),
        ({"user_id": "nobody"}, 404, "not_found", "user_id"),
        ({"email": "nobody@example.com"}, 404, "not_found", "email"),
        ({}, 400, "parameter_not_found", "id"),
        ({"user_id": "u-42", "event_name": None}, 400, "parameter_invalid", "event_name"),
        ({"user_id": "u-42", "event_name": "   "}, 400, "parameter_invalid", "event_name"),
        ({"user_id": "u-42", "event_name": "x" * 256}, 400, "parameter_invalid", "event_name"),
        ({"user_id": "u-42", "created_at": -1}, 400, "parameter_invalid", "created_at"),
        ({"user_id": "u-42", "colour": "red"}, 400, "parameter_invalid", "colour"),
    ],
)
def test_refused_events_leave_nothing_behind(
    api: httpx.Client, user: dict[str, Any], body: dict[str, Any], status: int, code: str, field: str
) -> None:
    response = api.post("/events", json={"event_name": "paid", **body})
    assert response.status_code == status, response.text
    error = only_error(response)
    assert (error["code"], error["field"]) == (code, field)
    assert listed(api, user["id"]) == []


def test_a_missing_event_name_is_named(api: httpx.Client, user: dict[str, Any]) -> None:
    response = api.post("/events", json={"user_id": "u-42"})
    assert response.status_code == 400
    error = only_error(response)
    assert (error["code"], error["field"]) == ("parameter_not_found", "event_name")
    assert listed(api, user["id"]) == []


def test_the_summary_keeps_min_first_max_last_and_count_per_name(
    api: httpx.Client, user: dict[str, Any]
) -> None:
    for name, offset in [("paid", 300), ("paid", 100), ("viewed", 50), ("paid", 200), ("viewed", 400)]:
        response = api.post(
            "/events", json={"event_name": name, "user_id": "u-42", "created_at": T0 + offset}
        )
        assert response.status_code == 202, response.text

    got = api.get("/events", params={"type": "user", "user_id": "u-42", "summary": "true"}).json()

    assert got["type"] == "event.summary"
    assert (got["intercom_user_id"], got["user_id"], got["email"]) == (user["id"], "u-42", "Ev@Example.com")
    assert summary(api, user["id"]) == {
        "paid": (iso(T0 + 100), iso(T0 + 300), 3),
        "viewed": (iso(T0 + 50), iso(T0 + 400), 2),
    }


def test_the_same_event_sent_again_is_not_counted_twice(api: httpx.Client, user: dict[str, Any]) -> None:
    """Intercom identifies an event by contact, name and created_at, so a client's retry is harmless."""
    event = {"event_name": "paid", "user_id": "u-42", "created_at": T0}
    assert api.post("/events", json=event).status_code == 202
    assert api.post("/events", json={**event, "metadata": {"try": 2}}).status_code == 202
    assert api.post("/events", json={**event, "created_at": T0 + 1}).status_code == 202

    assert [(e["created_at"], e["metadata"]) for e in listed(api, user["id"])] == [(T0 + 1, {}), (T0, {})]
    assert summary(api, user["id"]) == {"paid": (iso(T0), iso(T0 + 1), 2)}


def follow(api: httpx.Client, params: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every page of GET /events, following pages.next (a URL) until there is none."""
    page = api.get("/events", params=params)
    for _ in range(50):
        assert page.status_code == 200, page.text
        yield page.json()
        next_url = page.json()["pages"].get("next")
        if not next_url:
            return
        page = api.get(next_url)
    raise AssertionError("pages.next never ended")


def test_the_list_is_newest_first_and_pages_follow_pages_next(
    api: httpx.Client, user: dict[str, Any]
) -> None:
    # Two events share a second, so the cursor must break ties.
    offsets = [5, 1, 7, 3, 3, 6, 2]
    for i, offset in enumerate(offsets):
        body = {"event_name": f"e{i}", "id": user["id"], "created_at": T0 + offset}
        assert api.post("/events", json=body).status_code == 202

    pages = list(follow(api, {"type": "user", "intercom_user_id": user["id"], "per_page": 3}))

    assert [len(p["events"]) for p in pages] == [3, 3, 1]
    assert all(p["type"] == "event.list" for p in pages)
    seen = [e for p in pages for e in p["events"]]
    assert len({e["id"] for e in seen}) == 7
    assert [e["created_at"] for e in seen] == sorted((T0 + o for o in offsets), reverse=True)
    assert "next" not in pages[-1]["pages"]


@pytest.mark.parametrize(
    ("params", "code", "field"),
    [
        ({"intercom_user_id": "X"}, "parameter_not_found", "type"),
        ({"type": "company", "intercom_user_id": "X"}, "parameter_invalid", "type"),
        ({"type": "user"}, "parameter_not_found", "intercom_user_id"),
        ({"type": "user", "intercom_user_id": "X", "before": "garbage"}, "parameter_invalid", "before"),
        ({"type": "user", "intercom_user_id": "X", "per_page": 0}, "parameter_invalid", "per_page"),
        ({"type": "user", "intercom_user_id": "X", "per_page": 10_000}, "parameter_invalid", "per_page"),
    ],
)
def test_bad_list_queries_are_refused(
    api: httpx.Client, user: dict[str, Any], params: dict[str, Any], code: str, field: str
) -> None:
    params = {k: user["id"] if v == "X" else v for k, v in params.items()}
    response = api.get("/events", params=params)
    assert response.status_code == 400, response.text
    error = only_error(response)
    assert (error["code"], error["field"]) == (code, field)


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"intercom_user_id": "0" * 24}, "intercom_user_id"),
        ({"user_id": "nobody"}, "user_id"),
        ({"email": "nobody@example.com"}, "email"),
    ],
)
def test_listing_an_unknown_contact_is_a_404(api: httpx.Client, params: dict[str, str], field: str) -> None:
    response = api.get("/events", params={"type": "user", **params})
    assert response.status_code == 404
    assert only_error(response)["field"] == field


def test_another_workspaces_contact_cannot_be_written_or_read(
    api: httpx.Client, user: dict[str, Any], server: Server, database: Database
) -> None:
    other = make_workspace(database, "Other")
    headers = {"Authorization": f"Bearer {other.token}"}
    with httpx.Client(base_url=server.base_url, headers=headers, timeout=30) as intruder:
        for who in ({"id": user["id"]}, {"user_id": "u-42"}, {"email": "ev@example.com"}):
            response = intruder.post("/events", json={"event_name": "x", "created_at": T0, **who})
            assert response.status_code == 404, response.text
        response = intruder.get("/events", params={"type": "user", "intercom_user_id": user["id"]})
        assert response.status_code == 404
        response = intruder.get("/events", params={"type": "user", "user_id": "u-42", "summary": "true"})
        assert response.status_code == 404
    assert listed(api, user["id"]) == []
    assert summary(api, user["id"]) == {}
