"""Conversations: a thread of parts (messages) that belongs to one contact."""

from __future__ import annotations

from sqlalchemy.orm import Session as DbSession

from contactmerge.domain.ids import new_id, now
from contactmerge.errors import BadRequest, NotFound
from contactmerge.storage import conversations as repo
from contactmerge.storage.paging import Page
from contactmerge.storage.tables import Contact, Conversation, ConversationPart, Workspace

MAX_BODY = 65_536


def start_conversation(
    db: DbSession, workspace: Workspace, contact: Contact, body: str, *, created_at: int | None = None
) -> tuple[Conversation, ConversationPart]:
    """A new conversation opened by a contact's first message."""
    _check_body(body)
    stamp = now() if created_at is None else created_at
    conversation = repo.add(
        db,
        Conversation(
            workspace_id=workspace.id,
            id=new_id(),
            contact_id=contact.id,
            title=None,
            state="open",
            created_at=stamp,
            updated_at=stamp,
        ),
    )
    part = _add_part(db, conversation, "comment", contact.role, contact.id, body, stamp)
    return conversation, part


def get_conversation(db: DbSession, workspace: Workspace, conversation_id: str) -> Conversation:
    conversation = repo.get(db, workspace.id, conversation_id)
    if conversation is None:
        raise NotFound(f"Conversation Not Found: no conversation has id '{conversation_id}'", field="id")
    return conversation


def reply_as_contact(
    db: DbSession, workspace: Workspace, conversation: Conversation, contact: Contact, body: str
) -> ConversationPart:
    """A contact's reply; only the conversation's own contact may reply in it."""
    if contact.id != conversation.contact_id:
        raise BadRequest("only the conversation's contact can reply as a contact", field="intercom_user_id")
    _check_body(body)
    contact.last_replied_at = now()
    return _add_part(db, conversation, "comment", contact.role, contact.id, body, now())


def reply_as_admin(
    db: DbSession, conversation: Conversation, admin_id: str, body: str, *, message_type: str
) -> ConversationPart:
    if message_type not in ("comment", "note"):
        raise BadRequest("message_type must be 'comment' or 'note'", field="message_type")
    _check_body(body)
    return _add_part(db, conversation, message_type, "admin", admin_id, body, now())


def parts(
    db: DbSession, workspace: Workspace, conversations: list[Conversation]
) -> dict[str, list[ConversationPart]]:
    return repo.parts_of(db, workspace.id, [c.id for c in conversations])


def list_conversations(
    db: DbSession, workspace: Workspace, *, per_page: int, after_id: str | None, contact_id: str | None = None
) -> Page[Conversation]:
    return repo.page(db, workspace.id, per_page=per_page, after_id=after_id, contact_id=contact_id)


def _add_part(
    db: DbSession,
    conversation: Conversation,
    part_type: str,
    author_type: str,
    author_id: str,
    body: str,
    stamp: int,
) -> ConversationPart:
    conversation.updated_at = stamp
    return repo.add_part(
        db,
        ConversationPart(
            workspace_id=conversation.workspace_id,
            id=new_id(),
            conversation_id=conversation.id,
            position=repo.next_position(db, conversation.workspace_id, conversation.id),
            part_type=part_type,
            author_type=author_type,
            author_id=author_id,
            body=body,
            created_at=stamp,
        ),
    )


def _check_body(body: str) -> None:
    if not body.strip():
        raise BadRequest("a message needs a body", field="body")
    if len(body) > MAX_BODY:
        raise BadRequest(f"a message body is at most {MAX_BODY} characters", field="body")
