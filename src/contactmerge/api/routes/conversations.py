"""Conversations: create from a contact, retrieve with parts, reply, list."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends

from contactmerge.api import paging, shapes
from contactmerge.api.deps import ApiContext, api_context
from contactmerge.api.schemas import ConversationCreate, ConversationReply
from contactmerge.errors import BadRequest, NotFound, ParameterNotFound
from contactmerge.services import contacts, conversations
from contactmerge.storage.tables import Conversation

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
    last = page.items[-1].id if page.items else None
    return {
        "type": "conversation.list",
        "conversations": present(ctx, page.items),
        "total_count": page.total_count,
        "pages": paging.pages(cursor, size, page.total_count, last, page.has_more),
    }


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
        conversation = conversations.get_conversation(ctx.db, ctx.workspace, conversation_id)
        if body.admin_id is None:
            raise ParameterNotFound("an admin reply needs admin_id", field="admin_id")
        conversations.reply_as_admin(
            ctx.db,
            conversation,
            str(body.admin_id),
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
            else conversations.get_conversation(ctx.db, ctx.workspace, conversation_id)
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


def present(ctx: ApiContext, rows: list[Conversation]) -> list[dict[str, Any]]:
    part_map = conversations.parts(ctx.db, ctx.workspace, rows)
    people = conversations.people(ctx.db, ctx.workspace, rows, part_map)
    return [shapes.conversation(row, part_map[row.id], people) for row in rows]
