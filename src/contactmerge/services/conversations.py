"""Conversations: a thread of parts (messages) that belongs to one contact."""

from __future__ import annotations

from sqlalchemy.orm import Session as DbSession

from contactmerge.domain.ids import new_id, now
from contactmerge.errors import BadRequest, ContactMergeError, Forbidden, NotFound
from contactmerge.services import contacts
from contactmerge.services.normalizing import normalize_email
from contactmerge.storage import contacts as contacts_repo
from contactmerge.storage import conversations as repo
from contactmerge.storage.paging import Page
from contactmerge.storage.tables import Contact, Conversation, ConversationPart, Workspace

MAX_BODY = 65_536
LAST = "last"


def start_conversation(
    db: DbSession,
    workspace: Workspace,
    contact: Contact,
    body: str,
    *,
    created_at: int | None = None,
    session_id: str | None = None,
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
    part = _add_part(db, conversation, "comment", contact.role, contact.id, body, stamp, session_id)
    return conversation, part


def get_conversation(db: DbSession, workspace: Workspace, conversation_id: str) -> Conversation:
    conversation = repo.get(db, workspace.id, conversation_id)
    if conversation is None:
        raise NotFound(f"Conversation Not Found: no conversation has id '{conversation_id}'", field="id")
    return conversation


def latest_conversation(db: DbSession, workspace: Workspace, contact: Contact) -> Conversation:
    """The contact's most recently updated conversation: what Intercom's ``/conversations/last`` names."""
    conversation = repo.latest_of(db, workspace.id, contact.id)
    if conversation is None:
        raise NotFound(f"Conversation Not Found: contact '{contact.id}' has no conversation", field="id")
    return conversation


def identify_replier(
    db: DbSession,
    workspace: Workspace,
    conversation: Conversation | None,
    *,
    contact_id: str | None,
    external_id: str | None,
    email: str | None,
) -> Contact:
    """The contact a reply names (id, else user_id, else email), who must be the conversation's own.

    The conversation's contact is matched first, so a lead that shares its email with a user can still
    reply in its own conversation.
    """
    owner = contacts_repo.get(db, workspace.id, conversation.contact_id) if conversation else None
    if owner is not None and _names(owner, contact_id, external_id, email):
        return owner
    field = (
        "intercom_user_id"
        if contact_id or not (external_id or email)
        else "user_id"
        if external_id
        else "email"
    )
    try:
        contact = contacts.find_contact(
            db, workspace, contact_id=contact_id, external_id=external_id, email=email, forward=True
        )
    except ContactMergeError as error:
        error.field = field  # a reply names its contact as intercom_user_id, user_id or email
        raise
    if conversation is not None and contact.id != conversation.contact_id:
        raise Forbidden(f"contact '{contact.id}' is not part of this conversation", field=field)
    return contact


def _names(contact: Contact, contact_id: str | None, external_id: str | None, email: str | None) -> bool:
    if contact_id:
        return contact.id == contact_id
    if external_id:
        return contact.external_id == external_id
    if email:
        return contact.email_normalized == normalize_email(email)[1]
    return False


def reply_as_contact(
    db: DbSession,
    conversation: Conversation,
    contact: Contact,
    body: str,
    *,
    created_at: int | None = None,
    session_id: str | None = None,
) -> ConversationPart:
    """A contact's reply in its own conversation (from the messenger: ``session_id``, the browser's)."""
    if contact.id != conversation.contact_id:
        raise Forbidden(f"contact '{contact.id}' is not part of this conversation", field="intercom_user_id")
    _check_body(body)
    stamp = now() if created_at is None else created_at
    contact.last_replied_at = max(contact.last_replied_at or 0, stamp)
    return _add_part(db, conversation, "comment", contact.role, contact.id, body, stamp, session_id)


def reply_as_admin(
    db: DbSession,
    conversation: Conversation,
    admin_id: str,
    body: str,
    *,
    message_type: str,
    created_at: int | None = None,
) -> ConversationPart:
    """An admin's comment (seen by the contact) or note (seen by admins only)."""
    if message_type not in ("comment", "note"):
        raise BadRequest("message_type must be 'comment' or 'note'", field="message_type")
    if not admin_id.strip():
        raise BadRequest("admin_id must not be empty", field="admin_id")
    _check_body(body)
    stamp = now() if created_at is None else created_at
    if message_type == "comment":
        contact = contacts_repo.get(db, conversation.workspace_id, conversation.contact_id)
        if contact is not None:
            contact.last_contacted_at = max(contact.last_contacted_at or 0, stamp)
    return _add_part(db, conversation, message_type, "admin", admin_id, body, stamp)


def parts(
    db: DbSession, workspace: Workspace, conversations: list[Conversation]
) -> dict[str, list[ConversationPart]]:
    return repo.parts_of(db, workspace.id, [c.id for c in conversations])


def people(
    db: DbSession,
    workspace: Workspace,
    conversations: list[Conversation],
    part_map: dict[str, list[ConversationPart]],
) -> dict[str, Contact]:
    """The contacts that own these conversations or wrote in them, by id, in one query."""
    ids = {c.contact_id for c in conversations}
    ids.update(
        p.author_id for ps in part_map.values() for p in ps if p.author_type != "admin" and p.author_id
    )
    return repo.contacts_by_id(db, workspace.id, sorted(ids))


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
    session_id: str | None = None,
) -> ConversationPart:
    conversation.updated_at = max(conversation.updated_at, stamp)
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
            session_id=session_id,
            created_at=stamp,
        ),
    )


def _check_body(body: str) -> None:
    if not body.strip():
        raise BadRequest("a message needs a body", field="body")
    if len(body) > MAX_BODY:
        raise BadRequest(f"a message body is at most {MAX_BODY} characters", field="body")
