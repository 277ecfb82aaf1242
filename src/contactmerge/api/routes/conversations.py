"""Conversations: create from a contact, retrieve with parts, reply, manage (close, open, snooze, assign),
update, list and search."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends

from contactmerge.api import paging, shapes
from contactmerge.api.deps import ApiContext, api_context
from contactmerge.api.schemas import (
    ConversationAction,
    ConversationCreate,
    ConversationReply,
    ConversationUpdate,
    SearchRequest,
)
from contactmerge.errors import BadRequest, NotFound, ParameterNotFound
from contactmerge.services import (
    contacts,
    conversation_search,
    conversation_update,
    conversations,
    teammates,
)
from contactmerge.storage.paging import Page
from contactmerge.storage.tables import Admin, Conversation

UNASSIGNED = "0"  # Intercom's assignee_id for "nobody"

router = APIRouter(tags=["conversations"])


@router.post("/conversations")
def create_conversation(body: ConversationCreate, ctx: ApiContext = Depends(api_context)) -> dict[str, Any]:
    try:
        contact = contacts.get_contact(ctx.db, ctx.workspace, body.from_.id, forward=True)
    except NotFound as error:
        raise NotFound(error.message, field="from.id") from error
    conversation, part = conversations.start_conversation(
        ctx.db, ctx.workspace, contact, body.body, created_at=body.created_at
    )
    ctx.commit()
    return shapes.user_message(conversation, part)


@router.get("/conversations")
def list_conversations(
    per_page: int | None = None,
    starting_after: str | None = None,
    ctx: ApiContext = Depends(api_context),
) -> dict[str, Any]:
    size = paging.per_page(per_page, ctx.settings)
    cursor = paging.decode(starting_after)
    page = conversations.list_conversations(ctx.db, ctx.workspace, per_page=size, after_id=cursor.after_id)
    return _listing(ctx, page, cursor, size)


@router.post("/conversations/search")
def search_conversations(body: SearchRequest, ctx: ApiContext = Depends(api_context)) -> dict[str, Any]:
    pagination = body.pagination
    size = paging.per_page(
        pagination.per_page if pagination else None, ctx.settings, field="pagination.per_page"
    )
    cursor = paging.decode(
        pagination.starting_after if pagination else None, field="pagination.starting_after"
    )
    page = conversation_search.search_conversations(
        ctx.db, ctx.workspace, body.query, per_page=size, after_id=cursor.after_id
    )
    return _listing(ctx, page, cursor, size)


@router.get("/conversations/{conversation_id}")
def get_conversation(conversation_id: str, ctx: ApiContext = Depends(api_context)) -> dict[str, Any]:
    conversation = conversations.get_conversation(ctx.db, ctx.workspace, conversation_id)
    return present(ctx, [conversation])[0]


@router.post("/conversations/{conversation_id}/reply")
def reply(
    conversation_id: str, body: ConversationReply, ctx: ApiContext = Depends(api_context)
) -> dict[str, Any]:
    """Reply as an admin (comment or note) or as the conversation's contact.

    ``last`` in place of the id names the replying contact's most recently updated conversation.
    """
    if body.attachment_urls:
        raise BadRequest("attachments are not supported by this server", field="attachment_urls")
    if body.type == "admin":
        conversation = conversations.get_conversation(ctx.db, ctx.workspace, conversation_id, for_update=True)
        admin = _admin(ctx, body.admin_id)
        conversations.reply_as_admin(
            ctx.db,
            conversation,
            admin.id,
            body.body,
            message_type=body.message_type,
            created_at=body.created_at,
        )
    else:
        if body.message_type != "comment":
            raise BadRequest("a contact can only reply with a comment", field="message_type")
        named = (
            None
            if conversation_id == conversations.LAST
            else conversations.get_conversation(ctx.db, ctx.workspace, conversation_id, for_update=True)
        )
        contact = conversations.identify_replier(
            ctx.db,
            ctx.workspace,
            named,
            contact_id=body.intercom_user_id,
            external_id=body.user_id,
            email=body.email,
        )
        conversation = named or conversations.latest_conversation(ctx.db, ctx.workspace, contact)
        conversations.reply_as_contact(ctx.db, conversation, contact, body.body, created_at=body.created_at)
    result = present(ctx, [conversation])[0]
    ctx.commit()
    return result


@router.post("/conversations/{conversation_id}/parts")
def manage(
    conversation_id: str, body: ConversationAction, ctx: ApiContext = Depends(api_context)
) -> dict[str, Any]:
    """Intercom's manage: close, open, snooze or assign the conversation, or an admin's comment or note."""
    conversation = conversations.get_conversation(ctx.db, ctx.workspace, conversation_id, for_update=True)
    _applies(body)
    admin = _admin(ctx, body.admin_id)
    kind = body.message_type
    if kind == "close":
        conversations.close(ctx.db, conversation, admin, body.body)
    elif kind == "open":
        conversations.reopen(ctx.db, conversation, admin)
    elif kind == "snoozed":
        if body.snoozed_until is None:
            raise ParameterNotFound("snoozing needs snoozed_until", field="snoozed_until")
        conversations.snooze(ctx.db, conversation, admin, body.snoozed_until)
    elif kind == "assignment":
        if body.type == "team":
            raise BadRequest("this server has no teams: assign to an admin", field="type")
        assignee = (
            None
            if body.assignee_id in (None, UNASSIGNED)
            else teammates.check_admin_id(ctx.db, ctx.workspace, body.assignee_id, field="assignee_id")
        )
        conversations.assign(ctx.db, conversation, admin, assignee, body.body)
    else:
        if body.body is None:
            raise ParameterNotFound(f"a {kind} needs a body", field="body")
        conversations.reply_as_admin(ctx.db, conversation, admin.id, body.body, message_type=kind)
    result = present(ctx, [conversation])[0]
    ctx.commit()
    return result


# What each message_type takes besides type and admin_id; anything else in the body is refused, naming it.
TAKES: dict[str, set[str]] = {
    "close": {"body"},
    "open": set(),
    "snoozed": {"snoozed_until"},
    "assignment": {"body", "assignee_id"},
    "comment": {"body"},
    "note": {"body"},
}


def _applies(body: ConversationAction) -> None:
    """Refuses what does not apply to the body's message_type (teams can only be assignees in Intercom)."""
    if body.type is not None and body.type != "admin" and body.message_type != "assignment":
        raise BadRequest("type must be 'admin'", field="type")
    for name in ("body", "snoozed_until", "assignee_id"):
        if getattr(body, name) is not None and name not in TAKES[body.message_type]:
            raise BadRequest(f"message_type '{body.message_type}' does not take {name}", field=name)


def _admin(ctx: ApiContext, admin_id: str | None) -> Admin:
    if admin_id is None:
        raise ParameterNotFound("this action needs the admin_id of the teammate taking it", field="admin_id")
    return teammates.check_admin_id(ctx.db, ctx.workspace, admin_id)


@router.put("/conversations/{conversation_id}")
def update_conversation(
    conversation_id: str, body: ConversationUpdate, ctx: ApiContext = Depends(api_context)
) -> dict[str, Any]:
    """Marks a conversation read or unread, retitles it, sets or removes its custom attributes."""
    conversation = conversations.get_conversation(ctx.db, ctx.workspace, conversation_id, for_update=True)
    conversation_update.update_conversation(
        ctx.db,
        conversation,
        read=body.read,
        title=body.title,
        custom_attributes=body.custom_attributes,
    )
    result = present(ctx, [conversation])[0]
    ctx.commit()
    return result


def _listing(ctx: ApiContext, page: Page[Conversation], cursor: paging.Cursor, size: int) -> dict[str, Any]:
    """A page of conversations in Intercom's list shape, with its cursor to the next."""
    last = page.items[-1].id if page.items else None
    return {
        "type": "conversation.list",
        "conversations": present(ctx, page.items),
        "total_count": page.total_count,
        "pages": paging.pages(cursor, size, page.total_count, last, page.has_more),
    }


def present(ctx: ApiContext, rows: list[Conversation]) -> list[dict[str, Any]]:
    part_map = conversations.parts(ctx.db, ctx.workspace, rows)
    people = conversations.people(ctx.db, ctx.workspace, rows, part_map)
    admins = conversations.teammates_of(ctx.db, ctx.workspace, rows, part_map)
    return [
        shapes.conversation(
            row,
            part_map[row.id],
            people,
            admins,
            state=conversations.state_of(row),
            snoozed_until=conversations.snoozed_until(row),
        )
        for row in rows
    ]
