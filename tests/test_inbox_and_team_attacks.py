"""Adversarial review of issue 13 (teammates, roles, the inbox, conversation management): each test is a
problem found by attacking the real server, kept so that it stays fixed."""

from __future__ import annotations

import threading

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session as DbSession

from contactmerge.errors import Conflict
from contactmerge.services import conversations, teammates
from contactmerge.storage.db import make_sessionmaker, transaction
from contactmerge.storage.tables import Admin, ConversationPart, Workspace
from tests.conftest import Database, Server, Teammate, WorkspaceKeys, make_teammate
from tests.test_admin_inbox import make, post, start
from tests.test_admin_pages import csrf_of, signed_in_client
from tests.test_teammates import sign_in


@pytest.mark.parametrize(
    "typed",
    [
        "0001-01-01T00:00+23:00",  # before year 1 in UTC: the "not in the past" message could not say when
        "9999-12-31T23:59-23:59",  # after year 9999 in UTC: the notice could not say when
        "9999-12-31T23:59:59.999999-12:00",
    ],
)
def test_a_snooze_typed_beyond_the_calendar_is_refused_on_the_page_not_a_500(
    server: Server, api: httpx.Client, agent: Teammate, typed: str
) -> None:
    conversation = start(api, make(api, role="user", external_id="u1"), "Hello")
    with signed_in_client(server, agent) as client:
        refused = post(client, conversation, "snooze", **{"for": "custom", "until": typed})
        assert refused.status_code == 400, refused.text
        assert "snooze" in refused.text
        assert client.get(f"/admin/inbox/{conversation}").status_code == 200
        assert client.get("/admin/inbox?state=all").status_code == 200
    assert api.get(f"/conversations/{conversation}").json()["state"] == "open"  # nothing changed


def test_an_inbox_cursor_of_non_ascii_digits_is_the_first_page_not_a_500(
    server: Server, api: httpx.Client, agent: Teammate
) -> None:
    start(api, make(api, role="user", external_id="u1"), "Hello")
    with signed_in_client(server, agent) as client:
        # superscript two, Arabic-Indic 123, double-struck 12: str.isdigit() says yes to each
        for cursor in ("\u00b2.x", "\u0661\u0662\u0663.x", "\U0001d7d9\U0001d7da.x"):
            listed = client.get("/admin/inbox", params={"after": cursor})
            assert listed.status_code == 200, listed.text
            assert "Hello" in listed.text


@pytest.mark.parametrize("act", ["demote", "remove"])
def test_two_owners_demoting_or_removing_each_other_at_once_leave_one_owner(
    database: Database, workspace: WorkspaceKeys, act: str
) -> None:
    """On PostgreSQL two requests each saw the other owner and both went through: no owner was left."""
    sessions = make_sessionmaker(database.engine)
    first, second = (make_teammate(database, workspace, "owner") for _ in range(2))
    outcome: list[object] = []

    def other() -> None:
        try:
            with transaction(sessions) as db:
                _run(act, db, db.get_one(Workspace, workspace.app_id), second.id)
            outcome.append("done")
        except Conflict as error:
            outcome.append(error)

    with transaction(sessions) as db:
        _run(act, db, db.get_one(Workspace, workspace.app_id), first.id)
        racing = threading.Thread(target=other)
        racing.start()
        racing.join(timeout=1)  # it waits for this transaction, or (the bug) is done already
    racing.join(timeout=30)
    assert len(outcome) == 1 and isinstance(outcome[0], Conflict), outcome
    with transaction(sessions) as db:
        owners = db.scalars(
            select(Admin.id).where(
                Admin.workspace_id == workspace.app_id, Admin.role == "owner", Admin.removed_at.is_(None)
            )
        ).all()
    assert owners == [second.id]


def _run(act: str, db: DbSession, space: Workspace, admin_id: str) -> None:
    if act == "demote":
        teammates.change_role(db, space, admin_id, "agent")
    else:
        teammates.remove_teammate(db, space, admin_id)


def test_two_teammates_acting_on_a_conversation_at_once_both_count(
    database: Database, server: Server, api: httpx.Client, workspace: WorkspaceKeys
) -> None:
    """On PostgreSQL two actions at once each read the conversation before the other wrote: the second
    wrote its stale statistics over the first's (one assignment counted of two) and both parts took the
    same position. The routes now lock the conversation (after its contact, as merges do) first."""
    owner, agent = make_teammate(database, workspace, "owner"), make_teammate(database, workspace, "agent")
    conversation = start(api, make(api, role="user", external_id="u1"), "Hello")
    sessions = make_sessionmaker(database.engine)
    done: list[int] = []

    def other() -> None:
        response = api.post(
            f"/conversations/{conversation}/parts",
            json={"message_type": "assignment", "admin_id": agent.id, "assignee_id": agent.id},
        )
        done.append(response.status_code)

    with transaction(sessions) as db:
        space = db.get_one(Workspace, workspace.app_id)
        found = conversations.get_conversation(db, space, conversation, for_update=True)
        me = teammates.get_teammate(db, space, owner.id)
        conversations.assign(db, found, me, me)
        racing = threading.Thread(target=other)
        racing.start()
        racing.join(timeout=1)  # it waits for this transaction (or, the bug, read before it wrote)
    racing.join(timeout=30)
    assert done == [200]
    got = api.get(f"/conversations/{conversation}").json()
    assert got["statistics"]["count_assignments"] == 2
    assert got["admin_assignee_id"] == agent.id
    positions = [p["id"] for p in got["conversation_parts"]["conversation_parts"]]
    assert len(positions) == 2
    with transaction(sessions) as db:
        stored = db.scalars(
            select(ConversationPart.position).where(
                ConversationPart.workspace_id == workspace.app_id,
                ConversationPart.conversation_id == conversation,
            )
        ).all()
    assert sorted(stored) == [0, 1, 2]


def test_a_form_value_with_a_nul_character_is_refused_on_a_page_not_a_500(
    server: Server, api: httpx.Client, owner: Teammate
) -> None:
    """PostgreSQL cannot store a NUL in text: a reply, note, teammate or token label holding one was a 500
    there (and stored as sent on SQLite); the API refuses NUL in bodies, the pages now do too."""
    contact = make(api, role="user", external_id="u1")
    conversation = start(api, contact, "Hello")
    with signed_in_client(server, owner) as client:
        for action, fields in (
            ("reply", {"body": "a\x00b"}),
            ("reply", {"body": "a\x00b", "message_type": "note"}),
            ("assign", {"assignee": owner.id + "\x00"}),
        ):
            refused = post(client, conversation, action, **fields)
            assert refused.status_code == 400, (action, refused.text)
            assert "NUL" in refused.text
        csrf = csrf_of(client.get("/admin/team").text)
        for path, data in (
            (
                "/admin/team",
                {"email": "kim@example.com", "name": "K\x00", "role": "agent", "password": "x" * 12},
            ),
            ("/admin/tokens", {"name": "nul-token\x00"}),
            (f"/admin/contacts/{contact}/notes", {"body": "note\x00"}),
        ):
            refused = client.post(path, data={"csrf": csrf, **data})
            assert refused.status_code == 400, (path, refused.text)
            assert "NUL" in refused.text
        team = client.get("/admin/team").text
        assert "kim@example.com" not in team and "nul-token" not in team
    got = api.get(f"/conversations/{conversation}").json()
    assert got["conversation_parts"]["conversation_parts"] == []
    assert got["admin_assignee_id"] is None


def test_a_removed_teammate_can_be_added_again_with_their_email(
    server: Server, owner: Teammate, agent: Teammate
) -> None:
    """Removing a teammate kept their email taken: adding them back said "a teammate of this workspace
    already has the email" though the Team page listed nobody with it, and nothing could bring them back."""
    with signed_in_client(server, owner) as boss, signed_in_client(server, agent) as old_cookie:
        csrf = csrf_of(boss.get("/admin/team").text)
        assert boss.post(f"/admin/team/{agent.id}/remove", data={"csrf": csrf}).status_code == 303
        again = {
            "email": agent.email.upper(),
            "name": "Aggie Again",
            "role": "agent",
            "password": "a new password",
        }
        added = boss.post("/admin/team", data={"csrf": csrf, **again})
        assert added.status_code == 303, added.text
        team = boss.get("/admin/team").text
        assert "Aggie Again" in team
        assert old_cookie.get("/admin/contacts").status_code == 303  # the old session stays ended
    back = Teammate(agent.id, agent.email, "a new password", "Aggie Again", "agent")
    with signed_in_client(server, back) as client:
        assert "Aggie Again" in client.get("/admin/inbox").text
    with httpx.Client(base_url=server.base_url) as stranger:  # the old password signs in no more
        assert sign_in(stranger, agent.email, agent.password).status_code == 401
