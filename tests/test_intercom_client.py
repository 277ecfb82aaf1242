"""Intercom's official Python client (python-intercom 5.x) pointed at the real server works.

The client parses responses leniently, so each test also validates the raw JSON against the client's own
pydantic models with ``model_validate``: a missing required field or a wrong type fails here even where
the client would have let it through.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from intercom import (
    AdminReplyConversationRequest,
    ContactReplyEmailRequest,
    ContactReplyIntercomUserIdRequest,
    ContactReplyUserIdRequest,
    CreateContactRequestWithEmail,
    CreateContactRequestWithExternalId,
    CreateContactRequestWithRole,
    CreateDataEventRequestWithEmail,
    CreateDataEventRequestWithId,
    CreateDataEventRequestWithUserId,
    CreateOrUpdateTagRequest,
    Intercom,
    MultipleFilterSearchRequest,
    SingleFilterSearchRequest,
    StartingAfterPaging,
)
from intercom.contacts.types import (
    ContactsCreateResponse,
    ContactsFindResponse,
    ContactsMergeLeadInUserResponse,
)
from intercom.conversations import CreateConversationRequestFrom
from intercom.conversations.types.conversation import Conversation
from intercom.core.api_error import ApiError
from intercom.errors import ForbiddenError, NotFoundError
from intercom.messages.types.message import Message
from intercom.notes.types.note import Note
from intercom.tags.types.tag import Tag
from intercom.types import ContactList, ConversationList, DataEventList, DataEventSummary, NoteList, TagList

from tests.conftest import Server, Teammate, WorkspaceKeys


@dataclass
class Traffic:
    """Every exchange the client made, so a test can see the JSON on the wire."""

    exchanges: list[tuple[httpx.Request, httpx.Response]] = field(default_factory=list)

    def on_response(self, response: httpx.Response) -> None:
        response.read()
        self.exchanges.append((response.request, response))

    def last(self) -> Any:
        return self.exchanges[-1][1].json()


@pytest.fixture
def traffic() -> Traffic:
    return Traffic()


@pytest.fixture
def client(server: Server, workspace: WorkspaceKeys, traffic: Traffic) -> Iterator[Intercom]:
    with httpx.Client(timeout=30, event_hooks={"response": [traffic.on_response]}) as http:
        yield Intercom(token=workspace.token, base_url=server.base_url, httpx_client=http)


def iso(timestamp: int) -> str:
    return dt.datetime.fromtimestamp(timestamp, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def test_create_a_lead_and_a_user_then_find_and_search_them(client: Intercom, traffic: Traffic) -> None:
    lead = client.contacts.create(
        request=CreateContactRequestWithRole(role="lead", email="visitor@example.com", name="Vi")
    )
    ContactsCreateResponse.model_validate(traffic.last())
    user = client.contacts.create(
        request=CreateContactRequestWithExternalId(external_id="u-1", email="ada@example.com", name="Ada")
    )
    by_email = client.contacts.create(request=CreateContactRequestWithEmail(email="bob@example.com"))

    assert (lead.role, lead.email, lead.name) == ("lead", "visitor@example.com", "Vi")
    assert (user.role, user.external_id, user.email) == ("user", "u-1", "ada@example.com")
    assert by_email.role == "user"

    found = client.contacts.find(user.id)
    ContactsFindResponse.model_validate(traffic.last())
    assert (found.id, found.name) == (user.id, "Ada")
    assert client.contacts.show_contact_by_external_id("u-1").id == user.id

    hits = list(
        client.contacts.search(
            query=SingleFilterSearchRequest(field="email", operator="=", value="ada@example.com")
        )
    )
    ContactList.model_validate(traffic.last())
    assert [c.id for c in hits] == [user.id]

    leads = list(
        client.contacts.search(
            query=MultipleFilterSearchRequest(
                operator="AND",
                value=[
                    SingleFilterSearchRequest(field="role", operator="=", value="lead"),
                    SingleFilterSearchRequest(field="email", operator="~", value="example.com"),
                ],
            )
        )
    )
    assert [c.id for c in leads] == [lead.id]

    updated = client.contacts.update(user.id, name="Ada L.", phone="+44 20 7946 0958")
    assert (updated.name, updated.phone) == ("Ada L.", "+44 20 7946 0958")
    assert client.contacts.find(user.id).name == "Ada L."


def test_the_list_pager_sees_each_of_120_contacts_once(
    server: Server, workspace: WorkspaceKeys, api: httpx.Client
) -> None:
    created = set()
    for i in range(120):
        response = api.post("/contacts", json={"role": "lead", "email": f"pager{i}@example.com"})
        assert response.status_code == 200, response.text
        created.add(response.json()["id"])
    # The plain constructor, exactly as Intercom's README shows it, with only base_url changed.
    client = Intercom(token=workspace.token, base_url=server.base_url)
    try:
        pages = list(client.contacts.list(per_page=50).iter_pages())
        everything = {c.id for c in client.contacts.list()}  # the default page size too
    finally:
        client._client_wrapper.httpx_client.httpx_client.close()
    seen = [c.id for page in pages for c in page.items or []]

    assert [len(page.items or []) for page in pages] == [50, 50, 20]
    assert all(page.response.total_count == 120 for page in pages)
    assert len(seen) == len(set(seen)) == 120
    assert set(seen) == created
    assert everything == created


def test_search_pages_followed_by_hand_see_each_contact_once(client: Intercom, api: httpx.Client) -> None:
    # python-intercom 5.0.1's search pager re-sends the first page's cursor, so a caller follows
    # pages.next.starting_after by hand; the server's cursor must work for that.
    for i in range(7):
        assert (
            api.post("/contacts", json={"role": "lead", "email": f"s{i}@search.example.com"}).status_code
            == 200
        )
    query = SingleFilterSearchRequest(field="email", operator="$", value="@search.example.com")
    seen: list[str] = []
    cursor: str | None = None
    for _ in range(10):
        page = client.contacts.search(
            query=query, pagination=StartingAfterPaging(per_page=3, starting_after=cursor)
        )
        seen += [c.id for c in page.items or []]
        pages = page.response.pages
        if pages is None or pages.next is None:
            break
        cursor = pages.next.starting_after
    assert len(seen) == len(set(seen)) == 7


def test_events_are_posted_and_summarised(client: Intercom, traffic: Traffic) -> None:
    user = client.contacts.create(
        request=CreateContactRequestWithExternalId(external_id="ev-1", email="ev@example.com")
    )
    # Out of order on purpose: the summary's first and last are min and max, not first and last sent.
    client.events.create(
        request=CreateDataEventRequestWithUserId(
            user_id="ev-1", event_name="ordered", created_at=1_700_000_300, metadata={"plan": "pro"}
        )
    )
    client.events.create(
        request=CreateDataEventRequestWithId(id=user.id, event_name="ordered", created_at=1_700_000_100)
    )
    client.events.create(
        request=CreateDataEventRequestWithEmail(
            email="ev@example.com", event_name="ordered", created_at=1_700_000_200
        )
    )
    client.events.create(
        request=CreateDataEventRequestWithUserId(
            user_id="ev-1", event_name="viewed", created_at=1_700_000_050
        )
    )
    assert [r.status_code for _, r in traffic.exchanges[-4:]] == [202, 202, 202, 202]
    # A client retry of the same event (same contact, name and created_at) is accepted, not counted.
    client.events.create(
        request=CreateDataEventRequestWithId(id=user.id, event_name="ordered", created_at=1_700_000_100)
    )

    summary = client.events.list(type="user", user_id="ev-1", summary=True)
    DataEventSummary.model_validate(traffic.last())
    assert (summary.type, summary.intercom_user_id, summary.user_id) == ("event.summary", user.id, "ev-1")
    got = {e.name: (e.first, e.last, e.count) for e in summary.events if e is not None}
    assert got == {
        "ordered": (iso(1_700_000_100), iso(1_700_000_300), 3),
        "viewed": (iso(1_700_000_050), iso(1_700_000_050), 1),
    }

    listed = client.events.list(type="user", intercom_user_id=user.id)
    raw = DataEventList.model_validate(traffic.last())
    assert raw.type == "event.list"
    assert [(e.event_name, e.created_at) for e in raw.events or []] == [
        ("ordered", 1_700_000_300),
        ("ordered", 1_700_000_200),
        ("ordered", 1_700_000_100),
        ("viewed", 1_700_000_050),
    ]
    assert (raw.events or [])[0].metadata == {"plan": "pro"}
    assert len(listed.events) == 4


def test_an_event_for_an_unknown_contact_is_a_404_the_client_can_read(client: Intercom) -> None:
    with pytest.raises(ApiError) as raised:
        client.events.create(
            request=CreateDataEventRequestWithEmail(email="nobody@example.com", event_name="x", created_at=1)
        )
    assert raised.value.status_code == 404
    assert raised.value.body["errors"][0]["field"] == "email"


def test_a_conversation_is_started_replied_to_and_read_back(
    client: Intercom, traffic: Traffic, owner: Teammate, agent: Teammate
) -> None:
    user = client.contacts.create(
        request=CreateContactRequestWithExternalId(external_id="c-1", email="chat@example.com", name="Cat")
    )
    message = client.conversations.create(
        from_=CreateConversationRequestFrom(type="user", id=user.id), body="Hello, is anyone there?"
    )
    Message.model_validate(traffic.last())
    assert (message.type, message.body) == ("user_message", "Hello, is anyone there?")
    conversation_id = message.conversation_id
    assert conversation_id

    client.conversations.reply(
        conversation_id, request=ContactReplyIntercomUserIdRequest(intercom_user_id=user.id, body="By id")
    )
    client.conversations.reply(
        conversation_id, request=ContactReplyUserIdRequest(user_id="c-1", body="By user_id")
    )
    client.conversations.reply(
        conversation_id, request=ContactReplyEmailRequest(email="chat@example.com", body="By email")
    )
    answered = client.conversations.reply(
        conversation_id,
        request=AdminReplyConversationRequest(message_type="comment", admin_id=owner.id, body="Hi!"),
    )
    Conversation.model_validate(traffic.last())
    assert answered.waiting_since is None
    client.conversations.reply(
        conversation_id,
        request=AdminReplyConversationRequest(message_type="note", admin_id=agent.id, body="VIP, be nice"),
    )

    got = client.conversations.find(conversation_id)
    Conversation.model_validate(traffic.last())
    assert got.id == conversation_id
    assert got.source is not None and got.source.body == "Hello, is anyone there?"
    assert got.source.author is not None
    assert (got.source.author.type, got.source.author.id, got.source.author.email) == (
        "user",
        user.id,
        "chat@example.com",
    )
    assert got.contacts is not None and [c.id for c in got.contacts.contacts or []] == [user.id]
    assert got.teammates is not None and [a.id for a in got.teammates.admins] == [owner.id, agent.id]
    assert got.conversation_parts is not None
    parts = got.conversation_parts.conversation_parts or []
    assert got.conversation_parts.total_count == 5
    assert [(p.part_type, p.body, p.author.type if p.author else None) for p in parts] == [
        ("comment", "By id", "user"),
        ("comment", "By user_id", "user"),
        ("comment", "By email", "user"),
        ("comment", "Hi!", "admin"),
        ("note", "VIP, be nice", "admin"),
    ]
    assert parts[0].author is not None and parts[0].author.name == "Cat"
    assert parts[3].author is not None and parts[3].author.id == owner.id
    assert (parts[3].author.name, parts[3].author.email) == (owner.name, owner.email)

    replied_last = client.conversations.reply(
        "last", request=ContactReplyUserIdRequest(user_id="c-1", body="To my latest")
    )
    assert replied_last.id == conversation_id
    assert replied_last.waiting_since is not None


def test_conversation_errors_reach_the_client_as_its_own_exceptions(client: Intercom) -> None:
    owner = client.contacts.create(request=CreateContactRequestWithEmail(email="own@example.com"))
    stranger = client.contacts.create(request=CreateContactRequestWithEmail(email="other@example.com"))
    message = client.conversations.create(
        from_=CreateConversationRequestFrom(type="user", id=owner.id), body="Hi"
    )
    assert message.conversation_id

    with pytest.raises(ForbiddenError):
        client.conversations.reply(
            message.conversation_id,
            request=ContactReplyIntercomUserIdRequest(intercom_user_id=stranger.id, body="Not mine"),
        )
    with pytest.raises(NotFoundError):
        client.conversations.find("0" * 24)
    with pytest.raises(NotFoundError):
        client.conversations.create(from_=CreateConversationRequestFrom(type="user", id="0" * 24), body="Hi")

    parts = client.conversations.find(message.conversation_id).conversation_parts
    assert parts is not None and parts.total_count == 0  # the refused reply left nothing behind


def test_the_conversation_pager_sees_each_conversation_once(client: Intercom, traffic: Traffic) -> None:
    contact = client.contacts.create(request=CreateContactRequestWithRole(role="lead"))
    started = set()
    for i in range(5):
        message = client.conversations.create(
            from_=CreateConversationRequestFrom(type="lead", id=contact.id), body=f"Question {i}"
        )
        started.add(message.conversation_id)

    pages = list(client.conversations.list(per_page=2).iter_pages())
    ConversationList.model_validate(traffic.last())
    seen = [c.id for page in pages for c in page.items or []]
    assert [len(page.items or []) for page in pages] == [2, 2, 1]
    assert len(seen) == len(set(seen)) == 5
    assert set(seen) == started


def test_tags_and_notes(client: Intercom, traffic: Traffic, owner: Teammate) -> None:
    contact = client.contacts.create(request=CreateContactRequestWithEmail(email="tagged@example.com"))
    tag = client.tags.create(request=CreateOrUpdateTagRequest(name="VIP"))
    Tag.model_validate(traffic.last())
    assert client.tags.find(tag.id).name == "VIP"
    assert tag.id in [t.id for t in client.tags.list().data]
    TagList.model_validate(traffic.last())

    attached = client.tags.tag_contact(contact.id, tag_id=tag.id)
    assert attached.id == tag.id
    assert [t.id for t in client.contacts.list_attached_tags(contact.id).data] == [tag.id]
    client.tags.untag_contact(contact.id, tag.id)
    assert client.contacts.list_attached_tags(contact.id).data == []

    written = [client.notes.create(contact.id, body=f"Note {i}", admin_id=owner.id) for i in range(3)]
    Note.model_validate(traffic.last())
    assert written[0].author is not None and written[0].author.id == owner.id
    assert written[0].contact is not None and written[0].contact.id == contact.id

    # The notes pager asks for page after page until one comes back empty.
    read = [n.id for n in client.notes.list(contact.id, per_page=2)]
    NoteList.model_validate(traffic.last())
    assert read == [n.id for n in reversed(written)]  # newest first
    assert client.contacts.find(contact.id).notes is not None


def test_archive_unarchive_and_delete(client: Intercom, traffic: Traffic) -> None:
    contact = client.contacts.create(
        request=CreateContactRequestWithRole(role="lead", email="gone@example.com")
    )
    assert client.contacts.archive(contact.id).archived is True
    assert client.contacts.find(contact.id).archived is True
    assert client.contacts.unarchive(contact.id).archived is False
    assert client.contacts.delete(contact.id).deleted is True
    with pytest.raises(ApiError) as raised:  # this client method has no NotFoundError of its own
        client.contacts.find(contact.id)
    assert raised.value.status_code == 404


def test_merge_lead_in_user(client: Intercom, traffic: Traffic) -> None:
    lead = client.contacts.create(
        request=CreateContactRequestWithRole(role="lead", email="lead@merge.example.com")
    )
    user = client.contacts.create(
        request=CreateContactRequestWithExternalId(external_id="m-1", email="user@merge.example.com")
    )
    client.events.create(
        request=CreateDataEventRequestWithId(id=lead.id, event_name="visited", created_at=1_700_000_000)
    )
    message = client.conversations.create(
        from_=CreateConversationRequestFrom(type="lead", id=lead.id), body="Hi"
    )

    merged = client.contacts.merge_lead_in_user(lead_id=lead.id, contact_id=user.id)
    ContactsMergeLeadInUserResponse.model_validate(traffic.last())

    assert (merged.id, merged.role, merged.external_id) == (user.id, "user", "m-1")
    summary = client.events.list(type="user", user_id="m-1", summary=True)
    assert [(e.name, e.count) for e in summary.events if e is not None] == [("visited", 1)]
    assert message.conversation_id
    moved = client.conversations.find(message.conversation_id)
    assert moved.contacts is not None and [c.id for c in moved.contacts.contacts or []] == [user.id]
