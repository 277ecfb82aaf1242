"""Teammates manage conversations through the real server: close, open, snooze, assign, comment and note
(``POST /conversations/{id}/parts``), update (``PUT``) and search, with Intercom's state and statistics."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import update

from contactmerge.services import teammates
from contactmerge.storage.db import make_sessionmaker, transaction
from contactmerge.storage.tables import Conversation, Workspace
from tests.conftest import Database, Server, Teammate, WorkspaceKeys, make_teammate, make_workspace
from tests.helpers import error_of, ok

T0 = 1_700_000_000


@pytest.fixture
def user(api: httpx.Client) -> dict[str, Any]:
    return ok(api.post("/contacts", json={"role": "user", "external_id": "u-1", "email": "Ada@Example.com"}))


def start(api: httpx.Client, contact: dict[str, Any], body: str = "Help!", created_at: int = T0) -> str:
    message = ok(
        api.post(
            "/conversations",
            json={"from": {"type": "user", "id": contact["id"]}, "body": body, "created_at": created_at},
        )
    )
    return str(message["conversation_id"])


@pytest.fixture
def cid(api: httpx.Client, user: dict[str, Any]) -> str:
    return start(api, user)


def act(api: httpx.Client, cid: str, **body: Any) -> dict[str, Any]:
    return ok(api.post(f"/conversations/{cid}/parts", json=body))


def contact_says(api: httpx.Client, cid: str, user: dict[str, Any], body: str = "Again") -> dict[str, Any]:
    return ok(
        api.post(
            f"/conversations/{cid}/reply", json={"type": "user", "intercom_user_id": user["id"], "body": body}
        )
    )


def last_part(conversation: dict[str, Any]) -> dict[str, Any]:
    return dict(conversation["conversation_parts"]["conversation_parts"][-1])


def set_snoozed_until(database: Database, cid: str, until: int) -> None:
    """Moves a snooze's end (to the past: the test cannot wait for a real one to pass)."""
    with transaction(make_sessionmaker(database.engine)) as db:
        db.execute(update(Conversation).where(Conversation.id == cid).values(snoozed_until=until))


def test_a_new_conversation_is_open_unread_unassigned_and_waiting(api: httpx.Client, cid: str) -> None:
    got = ok(api.get(f"/conversations/{cid}"))
    assert (got["state"], got["open"], got["read"], got["admin_assignee_id"]) == ("open", True, False, None)
    assert (got["snoozed_until"], got["waiting_since"], got["custom_attributes"]) == (None, T0, {})
    stats = got["statistics"]
    assert stats["type"] == "conversation_statistics"
    assert (stats["first_contact_reply_at"], stats["last_contact_reply_at"]) == (T0, T0)
    assert (stats["count_reopens"], stats["count_assignments"], stats["count_conversation_parts"]) == (
        0,
        0,
        0,
    )
    assert stats["first_admin_reply_at"] is None and stats["last_closed_by_id"] is None


def test_close_then_reopen(api: httpx.Client, cid: str, owner: Teammate, agent: Teammate) -> None:
    closed = act(api, cid, message_type="close", type="admin", admin_id=owner.id, body="Solved, closing.")
    assert (closed["state"], closed["open"], closed["waiting_since"]) == ("closed", False, None)
    part = last_part(closed)
    assert (part["part_type"], part["body"]) == ("close", "Solved, closing.")
    assert part["author"] == {"type": "admin", "id": owner.id, "name": owner.name, "email": owner.email}
    stats = closed["statistics"]
    assert stats["last_closed_by_id"] == owner.id
    assert stats["first_close_at"] == stats["last_close_at"] > T0
    assert stats["first_admin_reply_at"] == stats["first_close_at"]  # the closing message reached the contact
    assert stats["time_to_first_close"] == stats["first_close_at"] - T0
    assert closed["teammates"]["admins"] == [{"type": "admin", "id": owner.id}]

    reopened = act(api, cid, message_type="open", admin_id=agent.id)
    assert (reopened["state"], reopened["open"]) == ("open", True)
    part = last_part(reopened)
    assert (part["part_type"], part["body"], part["author"]["name"]) == ("open", None, agent.name)
    assert reopened["statistics"]["count_reopens"] == 1
    assert reopened["statistics"]["count_conversation_parts"] == 2
    assert reopened["conversation_parts"]["total_count"] == 2

    again = act(api, cid, message_type="open", admin_id=agent.id)  # already open: a part, not a reopen
    assert again["statistics"]["count_reopens"] == 1
    assert ok(api.get(f"/conversations/{cid}")) == again


def test_snooze_until_later_then_it_reads_open_when_the_time_has_passed(
    api: httpx.Client, cid: str, owner: Teammate, database: Database
) -> None:
    until = int(time.time()) + 3600
    snoozed = act(api, cid, message_type="snoozed", admin_id=owner.id, snoozed_until=until)
    assert (snoozed["state"], snoozed["open"], snoozed["snoozed_until"]) == ("snoozed", False, until)
    assert (last_part(snoozed)["part_type"], last_part(snoozed)["author"]["id"]) == ("snoozed", owner.id)
    query = {"query": {"field": "state", "operator": "=", "value": "snoozed"}}
    assert [c["id"] for c in ok(api.post("/conversations/search", json=query))["conversations"]] == [cid]

    set_snoozed_until(database, cid, int(time.time()) - 5)
    woken = ok(api.get(f"/conversations/{cid}"))
    assert (woken["state"], woken["open"], woken["snoozed_until"]) == ("open", True, None)
    assert ok(api.post("/conversations/search", json=query))["conversations"] == []
    is_open = {"query": {"field": "open", "operator": "=", "value": True}}
    assert [c["id"] for c in ok(api.post("/conversations/search", json=is_open))["conversations"]] == [cid]


@pytest.mark.parametrize("until", [0, T0, "soon", True, -1])
def test_a_snooze_that_is_not_in_the_future_is_refused(
    api: httpx.Client, cid: str, owner: Teammate, until: Any
) -> None:
    before = ok(api.get(f"/conversations/{cid}"))
    body = {"message_type": "snoozed", "admin_id": owner.id, "snoozed_until": until}
    error_of(api.post(f"/conversations/{cid}/parts", json=body), 400, "parameter_invalid", "snoozed_until")
    body.pop("snoozed_until")
    error_of(api.post(f"/conversations/{cid}/parts", json=body), 400, "parameter_not_found", "snoozed_until")
    assert ok(api.get(f"/conversations/{cid}")) == before


def test_assign_reassign_and_unassign(api: httpx.Client, cid: str, owner: Teammate, agent: Teammate) -> None:
    assigned = act(
        api,
        cid,
        message_type="assignment",
        type="admin",
        admin_id=owner.id,
        assignee_id=agent.id,
        body="Yours",
    )
    assert assigned["admin_assignee_id"] == agent.id
    part = last_part(assigned)
    assert (part["part_type"], part["body"], part["assigned_to"]) == (
        "assignment",
        "Yours",
        {"type": "admin", "id": agent.id},
    )
    assert part["author"]["id"] == owner.id
    stats = assigned["statistics"]
    assert stats["count_assignments"] == 1 and stats["first_assignment_at"] == stats["last_assignment_at"]
    assert assigned["waiting_since"] == T0  # an assignment does not answer the contact

    back = act(api, cid, message_type="assignment", type="admin", admin_id=agent.id, assignee_id=owner.id)
    assert back["admin_assignee_id"] == owner.id and back["statistics"]["count_assignments"] == 2

    unassigned = act(api, cid, message_type="assignment", type="admin", admin_id=owner.id, assignee_id="0")
    assert unassigned["admin_assignee_id"] is None
    assert last_part(unassigned)["assigned_to"] is None
    assert unassigned["statistics"]["count_assignments"] == 2
    act(api, cid, message_type="assignment", type="admin", admin_id=owner.id, assignee_id=agent.id)
    also = act(api, cid, message_type="assignment", type="admin", admin_id=owner.id)  # no assignee_id
    assert also["admin_assignee_id"] is None


def test_comments_answer_the_contact_and_notes_do_not(
    api: httpx.Client, cid: str, user: dict[str, Any], owner: Teammate
) -> None:
    noted = act(api, cid, message_type="note", type="admin", admin_id=owner.id, body="VIP")
    assert (last_part(noted)["part_type"], noted["waiting_since"]) == ("note", T0)
    assert noted["statistics"]["first_admin_reply_at"] is None

    answered = act(api, cid, message_type="comment", type="admin", admin_id=owner.id, body="On it")
    assert (last_part(answered)["part_type"], answered["waiting_since"]) == ("comment", None)
    stats = answered["statistics"]
    assert stats["first_admin_reply_at"] == stats["last_admin_reply_at"] >= T0
    assert stats["time_to_admin_reply"] == stats["first_admin_reply_at"] - T0
    assert ok(api.get(f"/contacts/{user['id']}"))["last_contacted_at"] == stats["first_admin_reply_at"]

    waiting = contact_says(api, cid, user)
    assert waiting["waiting_since"] == waiting["statistics"]["last_contact_reply_at"] > T0
    assert waiting["statistics"]["first_contact_reply_at"] == T0
    assert waiting["statistics"]["count_conversation_parts"] == 3
    still = contact_says(api, cid, user, "Hello??")
    assert still["waiting_since"] == waiting["waiting_since"]  # waiting since the first unanswered message


@pytest.mark.parametrize("how", ["close", "snoozed"])
def test_a_contact_writing_again_reopens_the_conversation(
    api: httpx.Client, cid: str, user: dict[str, Any], owner: Teammate, how: str
) -> None:
    extra = {"snoozed_until": int(time.time()) + 3600} if how == "snoozed" else {}
    act(api, cid, message_type=how, admin_id=owner.id, **extra)
    ok(api.put(f"/conversations/{cid}", json={"read": True}))

    reopened = contact_says(api, cid, user)

    assert (reopened["state"], reopened["open"], reopened["snoozed_until"]) == ("open", True, None)
    assert reopened["read"] is False  # news for the teammates
    assert reopened["statistics"]["count_reopens"] == 1
    assert reopened["waiting_since"] is not None


def test_the_older_reply_endpoint_takes_teammates_too(
    api: httpx.Client, cid: str, owner: Teammate, agent: Teammate
) -> None:
    body = {"type": "admin", "message_type": "comment", "admin_id": agent.id, "body": "Hi"}
    got = ok(api.post(f"/conversations/{cid}/reply", json=body))
    assert last_part(got)["author"] == {
        "type": "admin",
        "id": agent.id,
        "name": agent.name,
        "email": agent.email,
    }
    assert got["waiting_since"] is None and got["statistics"]["first_admin_reply_at"] is not None


def test_a_removed_teammate_still_reads_as_themselves_but_can_no_longer_act(
    api: httpx.Client, cid: str, owner: Teammate, database: Database, workspace: WorkspaceKeys
) -> None:
    leaver = make_teammate(database, workspace, "agent", "Lee Leaver")
    act(api, cid, message_type="comment", admin_id=leaver.id, body="Bye")
    act(api, cid, message_type="assignment", type="admin", admin_id=owner.id, assignee_id=leaver.id)
    with transaction(make_sessionmaker(database.engine)) as db:
        teammates.remove_teammate(db, db.get_one(Workspace, workspace.app_id), leaver.id)

    got = ok(api.get(f"/conversations/{cid}"))
    parts = got["conversation_parts"]["conversation_parts"]
    assert parts[0]["author"]["name"] == "Lee Leaver"
    assert parts[1]["assigned_to"] == {"type": "admin", "id": leaver.id}
    for body in (
        {"message_type": "close", "admin_id": leaver.id},
        {"message_type": "assignment", "admin_id": owner.id, "assignee_id": leaver.id},
    ):
        field = "assignee_id" if "assignee_id" in body else "admin_id"
        error_of(api.post(f"/conversations/{cid}/parts", json=body), 400, "parameter_invalid", field)
    assert ok(api.get(f"/conversations/{cid}")) == got


BAD_ACTIONS: list[tuple[dict[str, Any], str, str]] = [
    ({"message_type": "close"}, "parameter_not_found", "admin_id"),
    ({"message_type": "close", "admin_id": "nobody"}, "parameter_invalid", "admin_id"),
    ({"message_type": "close", "admin_id": ""}, "parameter_invalid", "admin_id"),
    ({"message_type": "close", "admin_id": 7}, "parameter_invalid", "admin_id"),
    ({"message_type": "close", "admin_id": "OTHER"}, "parameter_invalid", "admin_id"),
    (
        {"message_type": "assignment", "admin_id": "OWNER", "assignee_id": "nobody"},
        "parameter_invalid",
        "assignee_id",
    ),
    (
        {"message_type": "assignment", "admin_id": "OWNER", "assignee_id": "OTHER"},
        "parameter_invalid",
        "assignee_id",
    ),
    (
        {"message_type": "assignment", "type": "team", "admin_id": "OWNER", "assignee_id": "5"},
        "parameter_invalid",
        "type",
    ),
    ({"message_type": "close", "type": "user", "admin_id": "OWNER"}, "parameter_invalid", "type"),
    ({"message_type": "close", "type": "team", "admin_id": "OWNER"}, "parameter_invalid", "type"),
    ({"message_type": "open", "admin_id": "OWNER", "body": "x"}, "parameter_invalid", "body"),
    (
        {"message_type": "close", "admin_id": "OWNER", "snoozed_until": 9_999_999_999},
        "parameter_invalid",
        "snoozed_until",
    ),
    (
        {"message_type": "close", "admin_id": "OWNER", "assignee_id": "OWNER"},
        "parameter_invalid",
        "assignee_id",
    ),
    ({"message_type": "quick_reply", "admin_id": "OWNER", "body": "x"}, "parameter_invalid", "message_type"),
    ({"admin_id": "OWNER", "body": "x"}, "parameter_not_found", "message_type"),
    ({"message_type": "note", "admin_id": "OWNER"}, "parameter_not_found", "body"),
    ({"message_type": "comment", "admin_id": "OWNER", "body": "  "}, "parameter_invalid", "body"),
    ({"message_type": "close", "admin_id": "OWNER", "body": "a" * 70_000}, "parameter_invalid", "body"),
    ({"message_type": "close", "admin_id": "OWNER", "priority": "priority"}, "parameter_invalid", "priority"),
]


@pytest.mark.parametrize(("body", "code", "field"), BAD_ACTIONS)
def test_a_bad_action_is_refused_naming_the_field_and_changes_nothing(
    api: httpx.Client,
    cid: str,
    owner: Teammate,
    database: Database,
    body: dict[str, Any],
    code: str,
    field: str,
) -> None:
    other = make_teammate(database, make_workspace(database, "Other"))
    stand_ins = {"OWNER": owner.id, "OTHER": other.id}
    body = {k: stand_ins.get(v, v) if isinstance(v, str) else v for k, v in body.items()}
    before = ok(api.get(f"/conversations/{cid}"))

    error_of(api.post(f"/conversations/{cid}/parts", json=body), 400, code, field)

    assert ok(api.get(f"/conversations/{cid}")) == before


@pytest.fixture
def intruder(server: Server, database: Database) -> Iterator[tuple[httpx.Client, Teammate]]:
    keys = make_workspace(database, "Intruders")
    headers = {"Authorization": f"Bearer {keys.token}"}
    with httpx.Client(base_url=server.base_url, headers=headers, timeout=30) as client:
        yield client, make_teammate(database, keys)


def test_another_workspace_can_neither_manage_nor_find_a_conversation(
    api: httpx.Client, cid: str, intruder: tuple[httpx.Client, Teammate]
) -> None:
    client, their_admin = intruder
    before = ok(api.get(f"/conversations/{cid}"))
    for body in (
        {"message_type": "close", "admin_id": their_admin.id},
        {"message_type": "note", "admin_id": their_admin.id, "body": "x"},
    ):
        error_of(client.post(f"/conversations/{cid}/parts", json=body), 404, "not_found", "id")
    error_of(client.put(f"/conversations/{cid}", json={"read": True}), 404, "not_found", "id")
    query = {"query": {"field": "id", "operator": "=", "value": cid}}
    assert ok(client.post("/conversations/search", json=query))["conversations"] == []
    assert (
        ok(
            client.post(
                "/conversations/search", json={"query": {"field": "read", "operator": "=", "value": False}}
            )
        )["total_count"]
        == 0
    )
    assert ok(api.get(f"/conversations/{cid}")) == before


def test_unknown_conversations_are_404(api: httpx.Client, owner: Teammate) -> None:
    missing = "0" * 24
    body = {"message_type": "close", "admin_id": owner.id}
    error_of(api.post(f"/conversations/{missing}/parts", json=body), 404, "not_found", "id")
    error_of(api.put(f"/conversations/{missing}", json={"read": True}), 404, "not_found", "id")


# --- PUT /conversations/{id} ---------------------------------------------------------------------------


def test_update_marks_read_and_sets_custom_attributes(api: httpx.Client, cid: str) -> None:
    before = ok(api.get(f"/conversations/{cid}"))
    read = ok(api.put(f"/conversations/{cid}", json={"read": True}))
    assert read["read"] is True and read["updated_at"] == before["updated_at"]

    attrs = {"issue": "billing", "seats": 3, "urgent": True, "score": 0.5}
    got = ok(api.put(f"/conversations/{cid}", json={"custom_attributes": attrs, "title": "Invoice"}))
    assert (got["custom_attributes"], got["title"], got["read"]) == (attrs, "Invoice", True)
    changed = ok(
        api.put(f"/conversations/{cid}", json={"custom_attributes": {"seats": None, "issue": "refund"}})
    )
    assert changed["custom_attributes"] == {"issue": "refund", "urgent": True, "score": 0.5}
    unread = ok(api.put(f"/conversations/{cid}", json={"read": False}))
    assert unread["read"] is False and unread["custom_attributes"] == changed["custom_attributes"]
    assert ok(api.get(f"/conversations/{cid}")) == unread


@pytest.mark.parametrize(
    ("body", "code", "field"),
    [
        ({"read": "yes"}, "parameter_invalid", "read"),
        ({"read": 1}, "parameter_invalid", "read"),
        ({"custom_attributes": []}, "parameter_invalid", "custom_attributes"),
        ({"custom_attributes": {"deep": {"x": 1}}}, "parameter_invalid", "custom_attributes.deep"),
        ({"custom_attributes": {"list": [1]}}, "parameter_invalid", "custom_attributes.list"),
        ({"custom_attributes": {"long": "x" * 256}}, "parameter_invalid", "custom_attributes.long"),
        ({"custom_attributes": {"": "x"}}, "parameter_invalid", "custom_attributes."),
        ({"custom_attributes": {f"a{i}": i for i in range(101)}}, "parameter_invalid", "custom_attributes"),
        ({"custom_attributes": {"nul": "a\u0000b"}}, "parameter_invalid", "custom_attributes.nul"),
        ({"title": "x" * 256}, "parameter_invalid", "title"),
        ({"company_id": "c1"}, "parameter_invalid", "company_id"),
        ({"state": "closed"}, "parameter_invalid", "state"),
    ],
)
def test_a_bad_update_is_refused_naming_the_field(
    api: httpx.Client, cid: str, body: dict[str, Any], code: str, field: str
) -> None:
    ok(api.put(f"/conversations/{cid}", json={"custom_attributes": {"kept": "yes"}}))
    before = ok(api.get(f"/conversations/{cid}"))
    error_of(api.put(f"/conversations/{cid}", json=body), 400, code, field)
    assert ok(api.get(f"/conversations/{cid}")) == before


# --- POST /conversations/search ------------------------------------------------------------------------


@pytest.fixture
def inbox(api: httpx.Client, user: dict[str, Any], owner: Teammate, agent: Teammate) -> dict[str, str]:
    """Four conversations: open and waiting, assigned to the agent, closed by the owner, snoozed."""
    lead = ok(api.post("/contacts", json={"role": "lead", "email": "lead@example.org"}))
    waiting = start(api, user, "Where is my invoice?", T0)
    assigned = start(api, user, "Refund please", T0 + 86_400)
    closed = start(api, lead, "Just saying hi", T0 + 2 * 86_400)
    snoozed = start(api, lead, "Call me next week", T0 + 3 * 86_400)
    act(api, assigned, message_type="assignment", type="admin", admin_id=owner.id, assignee_id=agent.id)
    act(api, assigned, message_type="comment", admin_id=agent.id, body="Looking")
    act(api, closed, message_type="close", admin_id=owner.id)
    act(api, closed, message_type="open", admin_id=owner.id)
    act(api, closed, message_type="close", admin_id=owner.id)
    act(api, snoozed, message_type="snoozed", admin_id=agent.id, snoozed_until=int(time.time()) + 86_400)
    ok(api.put(f"/conversations/{waiting}", json={"read": True}))
    return {
        "waiting": waiting,
        "assigned": assigned,
        "closed": closed,
        "snoozed": snoozed,
        "lead": lead["id"],
    }


def found(api: httpx.Client, query: dict[str, Any]) -> set[str]:
    body = ok(api.post("/conversations/search", json={"query": query}))
    assert body["type"] == "conversation.list" and body["total_count"] == len(body["conversations"])
    return {c["id"] for c in body["conversations"]}


def test_search_by_state_assignee_contact_teammate_and_statistics(
    api: httpx.Client, inbox: dict[str, str], user: dict[str, Any], owner: Teammate, agent: Teammate
) -> None:
    names = {v: k for k, v in inbox.items()}

    def search(query: dict[str, Any]) -> set[str]:
        return {names[i] for i in found(api, query)}

    assert search({"field": "state", "operator": "=", "value": "closed"}) == {"closed"}
    assert search({"field": "state", "operator": "IN", "value": ["OPEN", "snoozed"]}) == {
        "waiting",
        "assigned",
        "snoozed",
    }
    assert search({"field": "open", "operator": "=", "value": False}) == {"closed", "snoozed"}
    assert search({"field": "read", "operator": "=", "value": True}) == {"waiting"}
    # Intercom's generated clients send a boolean as a string or an integer (python-intercom: True -> 1)
    assert search({"field": "read", "operator": "=", "value": "TRUE"}) == {"waiting"}
    assert search({"field": "read", "operator": "!=", "value": 1}) == {"assigned", "closed", "snoozed"}
    assert search({"field": "open", "operator": "=", "value": "false"}) == {"closed", "snoozed"}
    assert search({"field": "admin_assignee_id", "operator": "=", "value": agent.id}) == {"assigned"}
    assert search({"field": "admin_assignee_id", "operator": "=", "value": None}) == {
        "waiting",
        "closed",
        "snoozed",
    }
    assert search({"field": "contact_ids", "operator": "=", "value": user["id"]}) == {"waiting", "assigned"}
    assert search({"field": "teammate_ids", "operator": "IN", "value": [agent.id]}) == {"assigned", "snoozed"}
    assert search({"field": "teammate_ids", "operator": "=", "value": None}) == {"waiting"}
    assert search({"field": "source.author.email", "operator": "=", "value": "ADA@example.com"}) == {
        "waiting",
        "assigned",
    }
    assert search({"field": "source.body", "operator": "~", "value": "INVOICE"}) == {"waiting"}
    assert search({"field": "waiting_since", "operator": "=", "value": None}) == {"assigned", "closed"}
    assert search({"field": "created_at", "operator": ">", "value": T0 + 86_400}) == {"closed", "snoozed"}
    assert search({"field": "statistics.count_reopens", "operator": ">=", "value": 1}) == {"closed"}
    assert search({"field": "statistics.count_reopens", "operator": "=", "value": 0}) == {
        "waiting",
        "assigned",
        "snoozed",
    }
    assert search({"field": "statistics.last_closed_by_id", "operator": "=", "value": owner.id}) == {"closed"}
    assert search({"field": "statistics.first_admin_reply_at", "operator": "!=", "value": None}) == {
        "assigned"
    }
    assert search(
        {
            "operator": "AND",
            "value": [
                {"field": "open", "operator": "=", "value": True},
                {
                    "operator": "OR",
                    "value": [
                        {"field": "read", "operator": "=", "value": True},
                        {"field": "admin_assignee_id", "operator": "!=", "value": None},
                    ],
                },
            ],
        }
    ) == {"waiting", "assigned"}


def test_search_pages_see_each_conversation_once(api: httpx.Client, inbox: dict[str, str]) -> None:
    seen: list[str] = []
    pagination: dict[str, Any] = {"per_page": 3}
    while True:
        body = ok(
            api.post(
                "/conversations/search",
                json={
                    "query": {"field": "created_at", "operator": ">", "value": 0},
                    "pagination": pagination,
                },
            )
        )
        assert body["total_count"] == 4
        seen.extend(c["id"] for c in body["conversations"])
        if "next" not in body["pages"]:
            break
        pagination = {"per_page": 3, "starting_after": body["pages"]["next"]["starting_after"]}
    assert sorted(seen) == sorted(v for k, v in inbox.items() if k != "lead")


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"field": "nope", "operator": "=", "value": 1}, "query.field"),
        ({"field": "custom_attributes.issue", "operator": "=", "value": "x"}, "query.field"),
        ({"field": "statistics.handling_time", "operator": "=", "value": 1}, "query.field"),
        ({"field": "state", "operator": "<", "value": "open"}, "query.operator"),
        ({"field": "read", "operator": "=", "value": "yes"}, "query.value"),
        ({"field": "read", "operator": "=", "value": 2}, "query.value"),
        ({"field": "created_at", "operator": "=", "value": "yesterday"}, "query.value"),
        ({"field": "statistics.count_reopens", "operator": ">", "value": 1.5}, "query.value"),
        ({"field": "id", "operator": "~", "value": "x"}, "query.operator"),
        ({"field": "state", "operator": "IN", "value": []}, "query.value"),
        (
            {"operator": "AND", "value": [{"field": "open", "operator": "=", "value": True}, {"field": "x"}]},
            "query.value[1].field",
        ),
        ({"operator": "OR", "value": []}, "query.value"),
        ("state = open", "query"),
    ],
)
def test_a_bad_search_is_refused_naming_the_part(api: httpx.Client, cid: str, query: Any, field: str) -> None:
    error_of(api.post("/conversations/search", json={"query": query}), 400, "parameter_invalid", field)


def test_search_paging_input_is_checked(api: httpx.Client, cid: str) -> None:
    query = {"field": "open", "operator": "=", "value": True}
    body = {"query": query, "pagination": {"per_page": 0}}
    error_of(api.post("/conversations/search", json=body), 400, "parameter_invalid", "pagination.per_page")
    body = {"query": query, "pagination": {"starting_after": "forged"}}
    error_of(
        api.post("/conversations/search", json=body), 400, "parameter_invalid", "pagination.starting_after"
    )
    error_of(api.post("/conversations/search", json={}), 400, "parameter_not_found", "query")
