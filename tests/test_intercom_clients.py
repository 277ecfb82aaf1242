"""Intercom's official clients manage conversations and read admins on the real server: the Python client
(python-intercom 5.x) in-process, the Node client (intercom-client 7.x) through ``node``.

As in tests/test_intercom_client.py, raw answers are also validated against the Python client's own
pydantic models, so a missing field or a wrong type fails here even where the lenient client would not.
One known difference is left out of that check: our admin ids are strings, and Intercom's definition
types ``admin_assignee_id`` as an integer (docs/api.md, "Differences from Intercom").
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from intercom import (
    AdminList,
    AdminReplyConversationRequest,
    AdminWithApp,
    ContactReplyIntercomUserIdRequest,
    ConversationsManageRequestBody_Assignment,
    ConversationsManageRequestBody_Close,
    ConversationsManageRequestBody_Open,
    ConversationsManageRequestBody_Snoozed,
    CreateContactRequestWithExternalId,
    Intercom,
    MultipleFilterSearchRequest,
    SingleFilterSearchRequest,
    StartingAfterPaging,
)
from intercom.admins.types.admin import Admin
from intercom.conversations import CreateConversationRequestFrom
from intercom.conversations.types.conversation import Conversation
from intercom.core.api_error import ApiError
from intercom.types import ConversationList

from tests.conftest import Server, Teammate, WorkspaceKeys, require

NODE_DIR = Path(__file__).parent / "node"
NODE_TIMEOUT = 20


class Traffic:
    """Every answer the client received, so a test can see the JSON on the wire."""

    def __init__(self) -> None:
        self.answers: list[httpx.Response] = []

    def on_response(self, response: httpx.Response) -> None:
        response.read()
        self.answers.append(response)

    def last(self) -> Any:
        return self.answers[-1].json()


@pytest.fixture
def traffic() -> Traffic:
    return Traffic()


@pytest.fixture
def client(server: Server, workspace: WorkspaceKeys, traffic: Traffic) -> Iterator[Intercom]:
    with httpx.Client(timeout=30, event_hooks={"response": [traffic.on_response]}) as http:
        yield Intercom(token=workspace.token, base_url=server.base_url, httpx_client=http)


def conversation_of(raw: dict[str, Any]) -> Conversation:
    """The raw answer validated by the client's model (but for ``admin_assignee_id``, see above)."""
    checked = {k: v for k, v in raw.items() if k != "admin_assignee_id"}
    return Conversation.model_validate(checked)


def test_python_client_reads_admins(
    client: Intercom, traffic: Traffic, owner: Teammate, agent: Teammate, workspace: WorkspaceKeys
) -> None:
    me = client.admins.identify()
    AdminWithApp.model_validate(traffic.last())
    assert me is not None and me.type == "admin" and me.app is not None
    assert me.app.id_code == workspace.app_id

    listed = client.admins.list()
    AdminList.model_validate(traffic.last())
    assert {a.id for a in listed.admins or [] if a} == {owner.id, agent.id}

    found = client.admins.find(agent.id)  # type: ignore[arg-type]  # the client types ids as int
    Admin.model_validate(traffic.last())
    assert found is not None and (found.name, found.email) == (agent.name, agent.email)


def test_python_client_manages_a_conversation(
    client: Intercom, traffic: Traffic, owner: Teammate, agent: Teammate
) -> None:
    user = client.contacts.create(
        request=CreateContactRequestWithExternalId(external_id="py-1", email="py@example.com")
    )
    message = client.conversations.create(
        from_=CreateConversationRequestFrom(type="user", id=user.id), body="Hi"
    )
    cid = message.conversation_id
    assert cid

    assigned = client.conversations.manage(
        cid,
        request=ConversationsManageRequestBody_Assignment(
            type="admin", admin_id=owner.id, assignee_id=agent.id, body="Yours"
        ),
    )
    conversation_of(traffic.last())
    assert traffic.last()["admin_assignee_id"] == agent.id
    parts = assigned.conversation_parts.conversation_parts if assigned.conversation_parts else []
    assert parts and parts[-1].part_type == "assignment"
    assert parts[-1].assigned_to is not None and parts[-1].assigned_to.id == agent.id

    client.conversations.reply(
        cid, request=AdminReplyConversationRequest(message_type="note", admin_id=agent.id, body="VIP")
    )
    replied = client.conversations.reply(
        cid, request=AdminReplyConversationRequest(message_type="comment", admin_id=agent.id, body="On it")
    )
    assert replied.waiting_since is None
    assert replied.statistics is not None and replied.statistics.first_admin_reply_at is not None

    until = int(time.time()) + 3600
    snoozed = client.conversations.manage(
        cid, request=ConversationsManageRequestBody_Snoozed(admin_id=agent.id, snoozed_until=until)
    )
    conversation_of(traffic.last())
    assert (snoozed.state, snoozed.open, snoozed.snoozed_until) == ("snoozed", False, until)

    opened = client.conversations.manage(cid, request=ConversationsManageRequestBody_Open(admin_id=agent.id))
    assert (opened.state, opened.open) == ("open", True)
    assert opened.statistics is not None and opened.statistics.count_reopens == 1

    closed = client.conversations.manage(
        cid, request=ConversationsManageRequestBody_Close(type="admin", admin_id=owner.id, body="Done")
    )
    conversation_of(traffic.last())
    assert (closed.state, closed.open) == ("closed", False)
    assert closed.statistics is not None and closed.statistics.last_closed_by_id == owner.id
    last = (closed.conversation_parts.conversation_parts or [])[-1] if closed.conversation_parts else None
    assert last is not None and last.author is not None
    assert (last.part_type, last.body, last.author.name) == ("close", "Done", owner.name)

    reopened = client.conversations.reply(
        cid, request=ContactReplyIntercomUserIdRequest(intercom_user_id=user.id, body="One more thing")
    )
    assert (reopened.state, reopened.read) == ("open", False)

    updated = client.conversations.update(cid, read=True, custom_attributes={"issue": "billing", "seats": 3})
    conversation_of(traffic.last())
    assert updated.read is True and updated.custom_attributes == {"issue": "billing", "seats": 3}

    with pytest.raises(ApiError) as refused:
        client.conversations.manage(cid, request=ConversationsManageRequestBody_Open(admin_id="nobody"))
    assert refused.value.status_code == 400
    assert isinstance(refused.value.body, dict) and refused.value.body["errors"][0]["field"] == "admin_id"


def test_python_client_searches_conversations(
    client: Intercom, traffic: Traffic, owner: Teammate, agent: Teammate
) -> None:
    user = client.contacts.create(request=CreateContactRequestWithExternalId(external_id="py-2"))
    cids = []
    for n in range(3):
        message = client.conversations.create(
            from_=CreateConversationRequestFrom(type="user", id=user.id), body=f"Question {n}"
        )
        assert message.conversation_id
        cids.append(message.conversation_id)
    client.conversations.manage(
        cids[1],
        request=ConversationsManageRequestBody_Assignment(
            type="admin", admin_id=owner.id, assignee_id=agent.id
        ),
    )
    client.conversations.manage(cids[2], request=ConversationsManageRequestBody_Close(admin_id=owner.id))

    hits = client.conversations.search(
        query=MultipleFilterSearchRequest(
            operator="AND",
            value=[
                SingleFilterSearchRequest(field="open", operator="=", value=True),
                SingleFilterSearchRequest(field="contact_ids", operator="=", value=user.id),
            ],
        ),
        pagination=StartingAfterPaging(per_page=10),
    )
    ConversationList.model_validate(
        {**traffic.last(), "conversations": [conversation_of(c) for c in traffic.last()["conversations"]]}
    )
    assert sorted(c.id for c in hits if c.id) == sorted(cids[:2])

    mine = client.conversations.search(
        query=SingleFilterSearchRequest(field="admin_assignee_id", operator="=", value=agent.id)
    )
    assert [c.id for c in mine] == [cids[1]]

    with pytest.raises(ApiError) as refused:
        client.conversations.search(query=SingleFilterSearchRequest(field="nope", operator="=", value="x"))
    assert refused.value.status_code == 400
    assert isinstance(refused.value.body, dict) and refused.value.body["errors"][0]["field"] == "query.field"


# --- the Node client ------------------------------------------------------------------------------------


def node_client() -> str:
    """The ``node`` binary, once ``intercom-client`` (tests/node/package.json) is installed beside the
    script: installed here from the lock file when npm can; skipped, or failed under CI, when not."""
    node = shutil.which("node")
    if node is None:
        require("node is not installed, so Intercom's Node client cannot be tested")
    assert node is not None
    if not (NODE_DIR / "node_modules" / "intercom-client").is_dir():
        npm = shutil.which("npm")
        if npm is not None:
            subprocess.run(
                [npm, "ci", "--no-audit", "--no-fund", "--silent"],
                cwd=NODE_DIR,
                check=False,
                capture_output=True,
                timeout=300,
            )
    if not (NODE_DIR / "node_modules" / "intercom-client").is_dir():
        require("intercom-client is not installed: run `npm ci --prefix tests/node`")
    return node


def test_node_client_manages_and_searches_conversations(
    server: Server, workspace: WorkspaceKeys, owner: Teammate, agent: Teammate
) -> None:
    node = node_client()
    run = subprocess.run(
        [node, "manage_conversations.js"],
        cwd=NODE_DIR,
        env={
            **os.environ,
            "CM_BASE_URL": server.base_url,
            "CM_TOKEN": workspace.token,
            "CM_OWNER_ID": owner.id,
            "CM_AGENT_ID": agent.id,
        },
        capture_output=True,
        text=True,
        timeout=NODE_TIMEOUT,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    seen = json.loads(run.stdout)

    assert seen["me"]["type"] == "admin" and seen["me"]["app"]["id_code"] == workspace.app_id
    assert {a["id"] for a in seen["admins"]["admins"]} == {owner.id, agent.id}
    assert (seen["agent"]["id"], seen["agent"]["name"]) == (agent.id, agent.name)

    assert seen["assigned"]["admin_assignee_id"] == agent.id
    assert seen["noted"]["conversation_parts"]["conversation_parts"][-1]["part_type"] == "note"
    assert seen["replied"]["waiting_since"] is None
    assert (seen["snoozed"]["state"], seen["snoozed"]["snoozed_until"]) == ("snoozed", seen["snoozed_until"])
    assert (seen["opened"]["state"], seen["opened"]["statistics"]["count_reopens"]) == ("open", 1)
    assert (seen["closed"]["state"], seen["closed"]["statistics"]["last_closed_by_id"]) == (
        "closed",
        owner.id,
    )
    assert seen["updated"]["read"] is True
    assert seen["updated"]["custom_attributes"] == {"issue": "billing", "seats": 3}
    parts = seen["found"]["conversation_parts"]["conversation_parts"]
    assert [p["part_type"] for p in parts] == ["assignment", "note", "comment", "snoozed", "open", "close"]
    assert parts[-1]["author"]["name"] == owner.name
    assert seen["searched"] == [seen["conversation_id"]]

    assert seen["bad_admin"]["status"] == 400
    assert seen["bad_admin"]["body"]["errors"][0]["field"] == "admin_id"
    assert seen["bad_search"]["status"] == 400
    assert seen["bad_search"]["body"]["errors"][0]["field"] == "query.field"
