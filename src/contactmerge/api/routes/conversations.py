"""Conversations: create from a contact, retrieve with parts, reply, list."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends

from contactmerge.api import paging
from contactmerge.api.deps import ApiContext, api_context
from contactmerge.api.schemas import ConversationCreate, ConversationReply
from contactmerge.errors import ParameterNotFound
from contactmerge.services import contacts, conversations
from contactmerge.storage.tables import Contact, Conversation, ConversationPart

router = APIRouter(tags=["conversations"])


@router.post("/conversations")
def create_conversation(body: ConversationCreate, ctx: ApiContext = Depends(api_context)) -> dict[str, Any]:
    contact = contacts.get_contact(ctx.db, ctx.workspace, body.from_.id)
    conversation, part = conversations.start_conversation(
        ctx.db, ctx.workspace, contact, body.body, created_at=body.created_at
    )
    ctx.commit()
    return {
        "type": "user_message",
        "id": part.id,
        "created_at": part.created_at,
        "body": part.body,
        "message_type": "inapp",
        "conversation_id": conversation.id,
    }


@router.get("/conversations")
def list_conversations(
    per_page: int | None = None,
    starting_after: str | None = None,
    ctx: ApiContext = Depends(api_context),
) -> dict[str, Any]:
    size = paging.per_page(per_page, ctx.settings)
    cursor = paging.decode(starting_after)
    page = conversations.list_conversations(ctx.db, ctx.workspace, per_page=size, after_id=cursor.after_id)
    part_map = conversations.parts(ctx.db, ctx.workspace, page.items)
    last = page.items[-1].id if page.items else None
    return {
        "type": "conversation.list",
        "conversations": [shape(c, part_map[c.id], ctx) for c in page.items],
        "total_count": page.total_count,
        "pages": paging.pages(cursor, size, page.total_count, last, page.has_more),
    }


@router.get("/conversations/{conversation_id}")
def get_conversation(conversation_id: str, ctx: ApiContext = Depends(api_context)) -> dict[str, Any]:
    conversation = conversations.get_conversation(ctx.db, ctx.workspace, conversation_id)
    return shape(
        conversation, conversations.parts(ctx.db, ctx.workspace, [conversation])[conversation.id], ctx
    )


@router.post("/conversations/{conversation_id}/reply")
def reply(
    conversation_id: str, body: ConversationReply, ctx: ApiContext = Depends(api_context)
) -> dict[str, Any]:
    conversation = conversations.get_conversation(ctx.db, ctx.workspace, conversation_id)
    if body.type == "admin":
        if body.admin_id is None:
            raise ParameterNotFound("an admin reply needs admin_id", field="admin_id")
        conversations.reply_as_admin(
            ctx.db, conversation, str(body.admin_id), body.body, message_type=body.message_type
        )
    else:
        contact = contacts.find_contact(
            ctx.db,
            ctx.workspace,
            contact_id=body.intercom_user_id,
            external_id=body.user_id,
            email=body.email,
        )
        conversations.reply_as_contact(ctx.db, ctx.workspace, conversation, contact, body.body)
    result = shape(
        conversation, conversations.parts(ctx.db, ctx.workspace, [conversation])[conversation.id], ctx
    )
    ctx.commit()
    return result


def shape(conversation: Conversation, parts: list[ConversationPart], ctx: ApiContext) -> dict[str, Any]:
    contact = ctx.db.get(Contact, (conversation.workspace_id, conversation.contact_id))
    source, rest = (parts[0], parts[1:]) if parts else (None, [])
    return {
        "type": "conversation",
        "id": conversation.id,
        "title": conversation.title,
        "created_at": conversation.created_at,
        "updated_at": conversation.updated_at,
        "waiting_since": None,
        "snoozed_until": None,
        "open": conversation.state == "open",
        "state": conversation.state,
        "read": False,
        "priority": "not_priority",
        "admin_assignee_id": None,
        "team_assignee_id": None,
        "tags": {"type": "tag.list", "tags": []},
        "source": _source(source, contact) if source else None,
        "contacts": {
            "type": "contact.list",
            "contacts": [
                {
                    "type": "contact",
                    "id": conversation.contact_id,
                    "external_id": contact.external_id if contact else None,
                }
            ],
        },
        "teammates": {"type": "admin.list", "teammates": []},
        "custom_attributes": {},
        "conversation_parts": {
            "type": "conversation_part.list",
            "conversation_parts": [_part(p) for p in rest],
            "total_count": len(rest),
        },
    }


def _author(part: ConversationPart) -> dict[str, Any]:
    return {"type": part.author_type, "id": part.author_id}


def _source(part: ConversationPart, contact: Contact | None) -> dict[str, Any]:
    return {
        "type": "conversation",
        "id": part.id,
        "delivered_as": "customer_initiated",
        "subject": "",
        "body": part.body,
        "author": {
            **_author(part),
            "email": contact.email if contact else None,
            "name": contact.name if contact else None,
        },
        "attachments": [],
        "url": None,
        "redacted": False,
    }


def _part(part: ConversationPart) -> dict[str, Any]:
    return {
        "type": "conversation_part",
        "id": part.id,
        "part_type": part.part_type,
        "body": part.body,
        "created_at": part.created_at,
        "updated_at": part.created_at,
        "notified_at": part.created_at,
        "author": _author(part),
        "attachments": [],
        "redacted": False,
    }
