"""Conversations through the real server: create, retrieve, reply (contact and admin), list.

Closing, snoozing, assigning, updating and searching: tests/test_api_conversations_manage.py."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from contactmerge.services import teammates
from contactmerge.storage.db import make_sessionmaker, transaction
from contactmerge.storage.tables import Workspace
from tests.conftest import Database, Server, Teammate, WorkspaceKeys, make_teammate, make_workspace

T0 = 1_700_000_000


def made(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    return dict(response.json())


@pytest.fixture
def user(api: httpx.Client) -> dict[str, Any]:
    return made(
        api.post("/contacts", json={"role": "user", "external_id": "u-7", "email": "Cat@Example.com"})
    )


@pytest.fixture
def conversation(api: httpx.Client, user: dict[str, Any]) -> dict[str, Any]:
    body = {"from": {"type": "user", "id": user["id"]}, "body": "Hello?", "created_at": T0}
    message = made(api.post("/conversations", json=body))
    return made(api.get(f"/conversations/{message['conversation_id']}"))


def only_error(response: httpx.Response) -> dict[str, Any]:
    body = response.json()
    assert body["type"] == "error.list"
    assert len(body["errors"]) == 1
    return dict(body["errors"][0])


def parts_of(api: httpx.Client, conversation_id: str) -> list[tuple[str, str, str, str]]:
    got = made(api.get(f"/conversations/{conversation_id}"))
    return [
        (p["part_type"], p["author"]["type"], p["author"]["id"], p["body"])
        for p in got["conversation_parts"]["conversation_parts"]
    ]


def test_a_contact_starts_a_conversation(api: httpx.Client, user: dict[str, Any]) -> None:
    message = made(
        api.post("/conversations", json={"from": {"type": "user", "id": user["id"]}, "body": "Hi"})
    )

    assert message["type"] == "user_message"
    assert message["body"] == "Hi"
    assert message["message_type"] == "inapp"
    got = made(api.get(f"/conversations/{message['conversation_id']}"))
    assert got["type"] == "conversation"
    assert got["id"] == message["conversation_id"]
    assert (got["state"], got["open"]) == ("open", True)
    assert got["source"]["id"] == message["id"]
    assert got["source"]["body"] == "Hi"
    assert got["source"]["author"] == {
        "type": "user",
        "id": user["id"],
        "name": None,
        "email": "Cat@Example.com",
    }
    assert got["contacts"]["contacts"] == [{"type": "contact", "id": user["id"], "external_id": "u-7"}]
    assert got["conversation_parts"] == {
        "type": "conversation_part.list",
        "conversation_parts": [],
        "total_count": 0,
    }
    assert got["waiting_since"] == got["created_at"]


def test_a_lead_starts_one_too_and_created_at_is_kept(api: httpx.Client) -> None:
    lead = made(api.post("/contacts", json={"role": "lead", "name": "Lee"}))
    body = {"from": {"type": "lead", "id": lead["id"]}, "body": "Pricing?", "created_at": T0}
    message = made(api.post("/conversations", json=body))
    got = made(api.get(f"/conversations/{message['conversation_id']}"))
    assert (got["created_at"], got["updated_at"], message["created_at"]) == (T0, T0, T0)
    assert (got["source"]["author"]["type"], got["source"]["author"]["name"]) == ("lead", "Lee")


@pytest.mark.parametrize(
    ("body", "status", "code", "field"),
    [
        ({"from": {"type": "user", "id": "0" * 24}, "body": "Hi"}, 404, "not_found", "from.id"),
        ({"from": {"type": "user", "id": "ME"}}, 400, "parameter_not_found", "body"),
        ({"from": {"type": "user", "id": "ME"}, "body": "  "}, 400, "parameter_invalid", "body"),
        ({"from": {"type": "user", "id": "ME"}, "body": "x" * 65_537}, 400, "parameter_invalid", "body"),
        ({"from": {"type": "admin", "id": "ME"}, "body": "Hi"}, 400, "parameter_invalid", "from.type"),
        ({"from": {"type": "user"}, "body": "Hi"}, 400, "parameter_not_found", "from.id"),
        ({"body": "Hi"}, 400, "parameter_not_found", "from"),
        (
            {"from": {"type": "user", "id": "ME"}, "body": "Hi", "subject": "S"},
            400,
            "parameter_invalid",
            "subject",
        ),
    ],
)
def test_refused_conversations_are_not_created(
    api: httpx.Client, user: dict[str, Any], body: dict[str, Any], status: int, code: str, field: str
) -> None:
    if "from" in body and body["from"].get("id") == "ME":
        body = {**body, "from": {**body["from"], "id": user["id"]}}
    response = api.post("/conversations", json=body)
    assert response.status_code == status, response.text
    error = only_error(response)
    assert (error["code"], error["field"]) == (code, field)
    assert made(api.get("/conversations"))["total_count"] == 0


def test_replies_come_back_in_order_with_their_authors(
    api: httpx.Client, user: dict[str, Any], conversation: dict[str, Any], owner: Teammate, agent: Teammate
) -> None:
    cid = conversation["id"]
    replies = [
        {"type": "user", "intercom_user_id": user["id"], "body": "By id", "created_at": T0 + 10},
        {"type": "user", "user_id": "u-7", "body": "By user_id", "created_at": T0 + 20},
        {"type": "user", "email": "cat@example.com", "body": "By email", "created_at": T0 + 30},
        {
            "type": "admin",
            "admin_id": owner.id,
            "message_type": "comment",
            "body": "Hello!",
            "created_at": T0 + 40,
        },
        {
            "type": "admin",
            "admin_id": agent.id,
            "message_type": "note",
            "body": "Internal",
            "created_at": T0 + 50,
        },
    ]
    for reply in replies:
        made(api.post(f"/conversations/{cid}/reply", json=reply))

    got = made(api.get(f"/conversations/{cid}"))
    parts = got["conversation_parts"]["conversation_parts"]
    assert got["conversation_parts"]["total_count"] == 5
    assert [
        (p["part_type"], p["author"]["type"], p["author"]["id"], p["body"], p["created_at"]) for p in parts
    ] == [
        ("comment", "user", user["id"], "By id", T0 + 10),
        ("comment", "user", user["id"], "By user_id", T0 + 20),
        ("comment", "user", user["id"], "By email", T0 + 30),
        ("comment", "admin", owner.id, "Hello!", T0 + 40),
        ("note", "admin", agent.id, "Internal", T0 + 50),
    ]
    assert parts[0]["author"]["email"] == "Cat@Example.com"
    assert (parts[3]["author"]["name"], parts[3]["author"]["email"]) == (owner.name, owner.email)
    assert got["updated_at"] == T0 + 50
    assert got["teammates"] == {
        "type": "admin.list",
        "admins": [{"type": "admin", "id": owner.id}, {"type": "admin", "id": agent.id}],
    }
    assert got["waiting_since"] is None  # an admin answered; the note after it does not count

    contact = made(api.get(f"/contacts/{user['id']}"))
    assert (contact["last_replied_at"], contact["last_contacted_at"]) == (T0 + 30, T0 + 40)


def test_a_reply_answers_with_the_whole_conversation(
    api: httpx.Client, user: dict[str, Any], conversation: dict[str, Any]
) -> None:
    answered = made(
        api.post(
            f"/conversations/{conversation['id']}/reply",
            json={"type": "user", "intercom_user_id": user["id"], "body": "Still there?"},
        )
    )
    assert answered["id"] == conversation["id"]
    assert [p["body"] for p in answered["conversation_parts"]["conversation_parts"]] == ["Still there?"]
    assert answered == made(api.get(f"/conversations/{conversation['id']}"))


def test_last_names_the_contacts_latest_conversation(api: httpx.Client, user: dict[str, Any]) -> None:
    older = made(api.post("/conversations", json={"from": {"type": "user", "id": user["id"]}, "body": "One"}))
    newer = made(api.post("/conversations", json={"from": {"type": "user", "id": user["id"]}, "body": "Two"}))
    reply = {"type": "user", "user_id": "u-7", "body": "About the second"}

    answered = made(api.post("/conversations/last/reply", json=reply))

    assert answered["id"] == newer["conversation_id"]
    assert parts_of(api, older["conversation_id"]) == []
    admin = {"type": "admin", "admin_id": "1", "message_type": "comment", "body": "x"}
    assert api.post("/conversations/last/reply", json=admin).status_code == 404
    lonely = made(api.post("/contacts", json={"role": "lead"}))
    response = api.post(
        "/conversations/last/reply", json={**reply, "user_id": None, "intercom_user_id": lonely["id"]}
    )
    assert response.status_code == 404


def test_a_lead_sharing_a_users_email_replies_in_its_own_conversation(
    api: httpx.Client, user: dict[str, Any]
) -> None:
    lead = made(api.post("/contacts", json={"role": "lead", "email": "cat@example.com"}))
    message = made(
        api.post("/conversations", json={"from": {"type": "lead", "id": lead["id"]}, "body": "Hi"})
    )
    reply = {"type": "user", "email": "CAT@example.com", "body": "It's me"}
    made(api.post(f"/conversations/{message['conversation_id']}/reply", json=reply))
    assert parts_of(api, message["conversation_id"]) == [("comment", "lead", lead["id"], "It's me")]


@pytest.mark.parametrize(
    ("reply", "status", "code", "field"),
    [
        ({"type": "admin", "message_type": "comment", "body": "x"}, 400, "parameter_not_found", "admin_id"),
        (
            {"type": "admin", "admin_id": "  ", "message_type": "comment", "body": "x"},
            400,
            "parameter_invalid",
            "admin_id",
        ),
        (
            {"type": "admin", "admin_id": "ADMIN", "message_type": "quick_reply", "body": "x"},
            400,
            "parameter_invalid",
            "message_type",
        ),
        ({"type": "admin", "admin_id": "ADMIN", "body": ""}, 400, "parameter_invalid", "body"),
        ({"type": "admin", "admin_id": "ADMIN"}, 400, "parameter_not_found", "body"),
        ({"type": "admin", "admin_id": "1", "body": "x"}, 400, "parameter_invalid", "admin_id"),
        ({"type": "admin", "admin_id": "OTHER_ADMIN", "body": "x"}, 400, "parameter_invalid", "admin_id"),
        ({"type": "admin", "admin_id": "REMOVED", "body": "x"}, 400, "parameter_invalid", "admin_id"),
        ({"type": "bot", "admin_id": "1", "body": "x"}, 400, "parameter_invalid", "type"),
        (
            {"type": "user", "intercom_user_id": "ME", "message_type": "note", "body": "x"},
            400,
            "parameter_invalid",
            "message_type",
        ),
        ({"type": "user", "body": "x"}, 400, "parameter_not_found", "intercom_user_id"),
        ({"type": "user", "intercom_user_id": "0" * 24, "body": "x"}, 404, "not_found", "intercom_user_id"),
        ({"type": "user", "user_id": "nobody", "body": "x"}, 404, "not_found", "user_id"),
        ({"type": "user", "email": "nobody@example.com", "body": "x"}, 404, "not_found", "email"),
        ({"type": "user", "intercom_user_id": "STRANGER", "body": "x"}, 403, "forbidden", "intercom_user_id"),
        ({"type": "user", "user_id": "u-other", "body": "x"}, 403, "forbidden", "user_id"),
        ({"type": "user", "email": "other@example.com", "body": "x"}, 403, "forbidden", "email"),
        (
            {
                "type": "user",
                "intercom_user_id": "ME",
                "body": "x",
                "attachment_urls": ["https://x.example/a.png"],
            },
            400,
            "parameter_invalid",
            "attachment_urls",
        ),
        (
            {"type": "user", "intercom_user_id": "ME", "body": "x", "created_at": -5},
            400,
            "parameter_invalid",
            "created_at",
        ),
    ],
)
def test_refused_replies_add_nothing(
    api: httpx.Client,
    database: Database,
    workspace: WorkspaceKeys,
    user: dict[str, Any],
    conversation: dict[str, Any],
    owner: Teammate,
    reply: dict[str, Any],
    status: int,
    code: str,
    field: str,
) -> None:
    stranger = made(
        api.post("/contacts", json={"role": "user", "external_id": "u-other", "email": "other@example.com"})
    )
    other_admin = make_teammate(database, make_workspace(database, "Other"))
    removed = make_teammate(database, workspace, "agent")
    with transaction(make_sessionmaker(database.engine)) as db:
        teammates.remove_teammate(db, db.get_one(Workspace, workspace.app_id), removed.id)
    stand_ins = {
        "ME": user["id"],
        "STRANGER": stranger["id"],
        "ADMIN": owner.id,
        "OTHER_ADMIN": other_admin.id,
        "REMOVED": removed.id,
    }
    reply = {k: stand_ins.get(v, v) if isinstance(v, str) else v for k, v in reply.items()}

    response = api.post(f"/conversations/{conversation['id']}/reply", json=reply)

    assert response.status_code == status, response.text
    error = only_error(response)
    assert (error["code"], error["field"]) == (code, field)
    assert made(api.get(f"/conversations/{conversation['id']}")) == conversation
    assert made(api.get(f"/contacts/{stranger['id']}"))["last_replied_at"] is None


def test_unknown_conversations_are_404(api: httpx.Client, user: dict[str, Any]) -> None:
    missing = "0" * 24
    assert only_error(api.get(f"/conversations/{missing}"))["code"] == "not_found"
    reply = {"type": "user", "intercom_user_id": user["id"], "body": "x"}
    response = api.post(f"/conversations/{missing}/reply", json=reply)
    assert response.status_code == 404
    assert only_error(response)["field"] == "id"


def test_the_list_pages_through_every_conversation_once(api: httpx.Client, user: dict[str, Any]) -> None:
    started = {
        made(api.post("/conversations", json={"from": {"type": "user", "id": user["id"]}, "body": f"Q{i}"}))[
            "conversation_id"
        ]
        for i in range(5)
    }
    pages: list[dict[str, Any]] = []
    params: dict[str, Any] = {"per_page": 2}
    for _ in range(10):
        pages.append(made(api.get("/conversations", params=params)))
        following = pages[-1]["pages"].get("next")
        if following is None:
            break
        params = {"per_page": 2, "starting_after": following["starting_after"]}

    assert [len(p["conversations"]) for p in pages] == [2, 2, 1]
    assert all(p["type"] == "conversation.list" and p["total_count"] == 5 for p in pages)
    assert [p["pages"]["page"] for p in pages] == [1, 2, 3]
    assert all(p["pages"]["total_pages"] == 3 for p in pages)
    seen = [c["id"] for p in pages for c in p["conversations"]]
    assert len(seen) == len(set(seen)) == 5
    assert set(seen) == started
    assert {c["source"]["body"] for p in pages for c in p["conversations"]} == {f"Q{i}" for i in range(5)}


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"starting_after": "not-a-cursor"}, "starting_after"),
        ({"per_page": 0}, "per_page"),
        ({"per_page": 151}, "per_page"),
    ],
)
def test_bad_list_queries_are_refused(api: httpx.Client, params: dict[str, Any], field: str) -> None:
    response = api.get("/conversations", params=params)
    assert response.status_code == 400
    assert only_error(response)["field"] == field


def test_another_workspace_cannot_see_or_touch_a_conversation(
    api: httpx.Client, user: dict[str, Any], conversation: dict[str, Any], server: Server, database: Database
) -> None:
    other = make_workspace(database, "Other")
    headers = {"Authorization": f"Bearer {other.token}"}
    with httpx.Client(base_url=server.base_url, headers=headers, timeout=30) as intruder:
        assert intruder.get(f"/conversations/{conversation['id']}").status_code == 404
        assert made(intruder.get("/conversations"))["conversations"] == []
        for reply in (
            {"type": "admin", "admin_id": "1", "message_type": "comment", "body": "x"},
            {"type": "user", "intercom_user_id": user["id"], "body": "x"},
        ):
            assert intruder.post(f"/conversations/{conversation['id']}/reply", json=reply).status_code == 404
        started = intruder.post(
            "/conversations", json={"from": {"type": "user", "id": user["id"]}, "body": "x"}
        )
        assert started.status_code == 404
        assert (
            intruder.post(
                "/conversations/last/reply", json={"type": "user", "user_id": "u-7", "body": "x"}
            ).status_code
            == 404
        )
    assert made(api.get(f"/conversations/{conversation['id']}")) == conversation
    assert made(api.get("/conversations"))["total_count"] == 1
