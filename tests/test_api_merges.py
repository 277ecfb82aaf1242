"""POST /contacts/merge and the /merges extensions, through the real server on both backends."""

from __future__ import annotations

from typing import Any

import httpx
import pytest


def make(api: httpx.Client, **fields: Any) -> dict[str, Any]:
    response = api.post("/contacts", json=fields)
    assert response.status_code == 200, response.text
    return dict(response.json())


def attribute(api: httpx.Client, name: str, data_type: str) -> None:
    response = api.post("/data_attributes", json={"name": name, "model": "contact", "data_type": data_type})
    assert response.status_code == 200, response.text


def busy_lead(api: httpx.Client, email: str = "lead@example.com") -> dict[str, Any]:
    """A lead with a conversation of 3 parts, events, 2 tags, a note and custom attributes."""
    attribute(api, "plan", "string")
    attribute(api, "seats", "integer")
    lead = make(
        api, role="lead", email=email, name="Lead Person", custom_attributes={"plan": "pro", "seats": 3}
    )
    conversation = api.post(
        "/conversations", json={"from": {"type": "lead", "id": lead["id"]}, "body": "hi"}
    ).json()
    for body in ("more", "still here"):
        reply = api.post(
            f"/conversations/{conversation['conversation_id']}/reply",
            json={"type": "user", "message_type": "comment", "intercom_user_id": lead["id"], "body": body},
        )
        assert reply.status_code == 200, reply.text
    for i, name in enumerate(["viewed", "viewed", "clicked"]):
        sent = api.post(
            "/events", json={"id": lead["id"], "event_name": name, "created_at": 1_700_000_000 + i}
        )
        assert sent.status_code == 202, sent.text
    for tag_name in ("vip", "trial"):
        tag = api.post("/tags", json={"name": tag_name}).json()
        assert api.post(f"/contacts/{lead['id']}/tags", json={"id": tag["id"]}).status_code == 200
    assert api.post(f"/contacts/{lead['id']}/notes", json={"body": "called"}).status_code == 200
    return dict(api.get(f"/contacts/{lead['id']}").json())


def summary(api: httpx.Client, contact_id: str) -> dict[str, tuple[str, str, int]]:
    body = api.get(
        "/events", params={"type": "user", "intercom_user_id": contact_id, "summary": "true"}
    ).json()
    return {e["name"]: (e["first"], e["last"], e["count"]) for e in body["events"]}


def test_merge_moves_everything_and_undo_brings_it_back(api: httpx.Client) -> None:
    lead = busy_lead(api)
    user = make(
        api,
        role="user",
        external_id="u-1",
        email="user@example.com",
        name="User Person",
        custom_attributes={"plan": "free"},
    )
    api.post("/events", json={"id": user["id"], "event_name": "viewed", "created_at": 1_600_000_000})

    merged = api.post("/contacts/merge", json={"from": lead["id"], "into": user["id"]})
    assert merged.status_code == 200, merged.text
    survivor = merged.json()
    assert survivor["id"] == user["id"]
    assert survivor["name"] == "User Person"  # the survivor's value wins
    assert survivor["custom_attributes"] == {"plan": "free", "seats": 3}  # the lead fills what is empty
    assert survivor["tags"]["total_count"] == 2
    assert survivor["notes"]["total_count"] == 1
    assert summary(api, user["id"])["viewed"][2] == 3
    conversations = api.get("/conversations").json()["conversations"]
    assert [c["contacts"]["contacts"][0]["id"] for c in conversations] == [user["id"]]

    history = api.get(f"/contacts/{user['id']}/merge_history").json()
    assert history["total_count"] == 1
    record = history["data"][0]
    assert record["reason"] == "api" and record["state"] == "applied"
    assert record["moved"]["events"] == 3 and record["moved"]["conversations"] == 1
    assert record["moved"]["conversation_parts"] == 3
    conflicts = [a for a in record["plan"]["attributes"] if a["outcome"] == "conflict"]
    assert {a["name"] for a in conflicts} == {"name", "custom_attributes.plan"}

    listed = api.get("/contacts").json()
    assert [c["id"] for c in listed["data"]] == [user["id"]]

    undone = api.post(f"/merges/{record['id']}/undo")
    assert undone.status_code == 200, undone.text
    assert undone.json()["state"] == "undone"
    assert undone.json()["undo_report"]["conflicts"] == []
    back = api.get(f"/contacts/{lead['id']}").json()
    assert back["tags"]["total_count"] == 2 and back["notes"]["total_count"] == 1
    assert back["custom_attributes"] == {"plan": "pro", "seats": 3}
    assert summary(api, lead["id"])["viewed"][2] == 2
    user_now = api.get(f"/contacts/{user['id']}").json()
    assert user_now["custom_attributes"] == {"plan": "free"}
    assert user_now["tags"]["total_count"] == 0
    assert summary(api, user["id"])["viewed"][2] == 1

    again = api.post(f"/merges/{record['id']}/undo")
    assert again.status_code == 409
    assert again.json()["errors"][0]["code"] == "merge_undone"


def test_same_merge_twice_happens_once(api: httpx.Client) -> None:
    lead = make(api, role="lead", email="l@example.com")
    user = make(api, role="user", email="u@example.com")
    first = api.post("/contacts/merge", json={"from": lead["id"], "into": user["id"]})
    second = api.post("/contacts/merge", json={"from": lead["id"], "into": user["id"]})
    assert first.status_code == second.status_code == 200
    assert api.get("/merges", params={"contact_id": lead["id"]}).json()["total_count"] == 1


@pytest.mark.parametrize(
    ("pair", "status", "code"),
    [
        (("user", "lead"), 400, "invalid_merge"),
        (("user", "user"), 400, "invalid_merge"),
        (("lead", "self"), 400, "merge_into_self"),
        (("lead", "missing"), 404, "not_found"),
    ],
)
def test_refused_merges_change_nothing(
    api: httpx.Client, pair: tuple[str, str], status: int, code: str
) -> None:
    source = make(api, role=pair[0], email="a@example.com", external_id="a" if pair[0] == "user" else None)
    target_id = {
        "self": source["id"],
        "missing": "nope",
    }.get(pair[1]) or make(api, role=pair[1], email="b@example.com")["id"]
    before = api.get("/contacts").json()
    refused = api.post("/contacts/merge", json={"from": source["id"], "into": target_id})
    assert refused.status_code == status, refused.text
    assert refused.json()["errors"][0]["code"] == code
    assert api.get("/contacts").json() == before
    assert api.get("/merges").json()["total_count"] == 0


def test_preview_writes_nothing_and_shows_the_plan(api: httpx.Client) -> None:
    lead = busy_lead(api)
    user = make(api, role="user", email="user@example.com", custom_attributes={"plan": "free"})
    preview = api.post("/merges/preview", json={"from": lead["id"], "into": user["id"]})
    assert preview.status_code == 200, preview.text
    body = preview.json()
    assert body["would_merge"] is True
    assert body["rows"] == {
        "conversations": 1,
        "notes": 1,
        "sessions": 0,
        "events": 3,
        "conversation_parts": 3,
        "tags": 2,
    }
    outcomes = {a["name"]: a["outcome"] for a in body["plan"]["attributes"]}
    assert outcomes["custom_attributes.plan"] == "conflict"
    assert outcomes["custom_attributes.seats"] == "adopted"
    assert api.get("/merges").json()["total_count"] == 0
    assert api.get("/contacts").json()["total_count"] == 2


def test_a_merged_contact_answers_410_with_its_survivor_chains_resolved(api: httpx.Client) -> None:
    a = make(api, role="lead", email="a@example.com")
    b = make(api, role="lead", email="b@example.com")
    c = make(api, role="user", email="c@example.com")
    assert api.post("/contacts/merge", json={"from": a["id"], "into": b["id"]}).status_code == 200
    assert api.post("/contacts/merge", json={"from": b["id"], "into": c["id"]}).status_code == 200
    for gone in (a, b):
        response = api.get(f"/contacts/{gone['id']}")
        assert response.status_code == 410
        assert response.json()["errors"][0]["code"] == "contact_merged"
        assert response.headers["link"] == f'</contacts/{c["id"]}>; rel="canonical"'
    assert api.delete(f"/contacts/{a['id']}").status_code == 410
    search = api.post(
        "/contacts/search", json={"query": {"field": "email", "operator": "$", "value": "@example.com"}}
    )
    assert [x["id"] for x in search.json()["data"]] == [c["id"]]


def test_writes_addressed_to_a_merged_contact_reach_its_survivor(api: httpx.Client) -> None:
    lead = make(api, role="lead", email="lead@example.com")
    user = make(api, role="user", email="user@example.com")
    conversation = api.post(
        "/conversations", json={"from": {"type": "user", "id": user["id"]}, "body": "hi"}
    ).json()
    assert api.post("/contacts/merge", json={"from": lead["id"], "into": user["id"]}).status_code == 200

    updated = api.put(f"/contacts/{lead['id']}", json={"name": "Renamed"})
    assert updated.status_code == 200 and updated.json()["id"] == user["id"]
    assert api.get(f"/contacts/{user['id']}").json()["name"] == "Renamed"

    assert (
        api.post(
            "/events", json={"id": lead["id"], "event_name": "late", "created_at": 1_700_000_000}
        ).status_code
        == 202
    )
    names = [e["name"] for e in summary_events(api, user["id"])]
    assert names == ["late"]

    reply = api.post(
        f"/conversations/{conversation['conversation_id']}/reply",
        json={"type": "user", "message_type": "comment", "intercom_user_id": lead["id"], "body": "me again"},
    )
    assert reply.status_code == 200, reply.text

    tag = api.post("/tags", json={"name": "late-tag"}).json()
    assert api.post(f"/contacts/{lead['id']}/tags", json={"id": tag["id"]}).status_code == 200
    assert api.post(f"/contacts/{lead['id']}/notes", json={"body": "a note"}).status_code == 200
    started = api.post(
        "/conversations", json={"from": {"type": "lead", "id": lead["id"]}, "body": "new"}
    ).json()
    survivor = api.get(f"/contacts/{user['id']}").json()
    assert survivor["tags"]["total_count"] == 1 and survivor["notes"]["total_count"] == 1
    owner = api.get(f"/conversations/{started['conversation_id']}").json()["contacts"]["contacts"][0]["id"]
    assert owner == user["id"]


def summary_events(api: httpx.Client, contact_id: str) -> list[dict[str, Any]]:
    body = api.get(
        "/events", params={"type": "user", "intercom_user_id": contact_id, "summary": "true"}
    ).json()
    return list(body["events"])
