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
from contactmerge.storage.tables import Admin, Contact, Conversation, ConversationPart, Workspace

MAX_BODY = 65_536
LAST = "last"
OPEN, CLOSED, SNOOZED = "open", "closed", "snoozed"
# Intercom's conversation statistics that this service keeps (the rest of Intercom's are derived or null).
STATISTICS = (
    "first_contact_reply_at",
    "last_contact_reply_at",
    "first_admin_reply_at",
    "last_admin_reply_at",
    "first_assignment_at",
    "last_assignment_at",
    "first_close_at",
    "last_close_at",
    "last_closed_by_id",
    "count_reopens",
    "count_assignments",
    "count_conversation_parts",
)


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
            state=OPEN,
            read=False,
            custom_attributes={},
            statistics={"first_contact_reply_at": stamp, "last_contact_reply_at": stamp},
            waiting_since=stamp,
            created_at=stamp,
            updated_at=stamp,
        ),
    )
    part = _add_part(db, conversation, "comment", contact.role, contact.id, body, stamp, session_id)
    return conversation, part


def get_conversation(
    db: DbSession, workspace: Workspace, conversation_id: str, *, for_update: bool = False
) -> Conversation:
    """The workspace's conversation; ``for_update``: locked until the transaction ends, after its contact
    (in the order a merge locks them), for a teammate's action that reads it and then writes it."""
    conversation = repo.get(db, workspace.id, conversation_id)
    if conversation is not None and for_update:
        contacts_repo.lock_for_write(db, workspace.id, conversation.contact_id)
        conversation = repo.lock(db, workspace.id, conversation_id)
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
    wake(conversation)
    if conversation.state != OPEN:  # a contact who writes again reopens the conversation, as in Intercom
        conversation.state, conversation.snoozed_until = OPEN, None
        _count(conversation, "count_reopens")
    if conversation.waiting_since is None:
        conversation.waiting_since = stamp
    conversation.read = False
    _stamp(conversation, "contact_reply", stamp)
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
    """An admin's comment (seen by the contact; it answers the contact's wait) or note (admins only).

    ``admin_id`` is checked by the caller (``teammates.check_admin_id`` for an API body)."""
    if message_type not in ("comment", "note"):
        raise BadRequest("message_type must be 'comment' or 'note'", field="message_type")
    if not admin_id.strip():
        raise BadRequest("admin_id must not be empty", field="admin_id")
    _check_body(body)
    stamp = now() if created_at is None else created_at
    wake(conversation)
    if message_type == "comment":
        _answered(db, conversation, stamp)
    return _add_part(db, conversation, message_type, "admin", admin_id, body, stamp)


def close(
    db: DbSession, conversation: Conversation, admin: Admin, body: str | None = None
) -> ConversationPart:
    """Closes the conversation (a ``close`` part); a ``body`` is a last message the contact sees."""
    _check_admin(conversation, admin)
    text = _optional_body(body)
    stamp = now()
    wake(conversation)
    conversation.state, conversation.snoozed_until = CLOSED, None
    conversation.waiting_since = None
    if text:
        _answered(db, conversation, stamp)
    _stamp(conversation, "close", stamp)
    conversation.statistics = {**conversation.statistics, "last_closed_by_id": admin.id}
    return _add_part(db, conversation, "close", "admin", admin.id, text, stamp)


def reopen(db: DbSession, conversation: Conversation, admin: Admin) -> ConversationPart:
    """Opens a closed or snoozed conversation again (an ``open`` part); reopening an open one is recorded
    as a part but not counted as a reopen."""
    _check_admin(conversation, admin)
    wake(conversation)
    if conversation.state != OPEN:
        _count(conversation, "count_reopens")
    conversation.state, conversation.snoozed_until = OPEN, None
    return _add_part(db, conversation, "open", "admin", admin.id, "", now())


def snooze(db: DbSession, conversation: Conversation, admin: Admin, until: int) -> ConversationPart:
    """Snoozes the conversation until ``until`` (Unix seconds, in the future), when it reads as open again."""
    _check_admin(conversation, admin)
    stamp = now()
    if isinstance(until, bool) or not isinstance(until, int) or until <= stamp:
        raise BadRequest("snoozed_until must be a Unix timestamp in the future", field="snoozed_until")
    conversation.state, conversation.snoozed_until = SNOOZED, until
    return _add_part(db, conversation, "snoozed", "admin", admin.id, "", stamp)


def assign(
    db: DbSession,
    conversation: Conversation,
    admin: Admin,
    assignee: Admin | None,
    body: str | None = None,
) -> ConversationPart:
    """Assigns the conversation to a current teammate (``None``: unassigns it); an ``assignment`` part."""
    _check_admin(conversation, admin)
    if assignee is not None and (
        assignee.workspace_id != conversation.workspace_id or assignee.removed_at is not None
    ):
        raise BadRequest(
            f"assignee_id '{assignee.id}' is not a teammate of this workspace", field="assignee_id"
        )
    text = _optional_body(body)
    stamp = now()
    wake(conversation)
    conversation.admin_assignee_id = assignee.id if assignee else None
    if assignee is not None:
        _stamp(conversation, "assignment", stamp)
        _count(conversation, "count_assignments")
    part = _add_part(db, conversation, "assignment", "admin", admin.id, text, stamp)
    part.assigned_to_id = assignee.id if assignee else None
    return part


def mark_read(db: DbSession, conversation: Conversation, read: bool = True) -> None:
    """Marks the conversation read (or unread) by the workspace's teammates; not a change of its thread."""
    conversation.read = read


def state_of(conversation: Conversation, at: int | None = None) -> str:
    """The state a conversation reads as: a snooze whose time has passed reads as open."""
    until = conversation.snoozed_until
    if conversation.state == SNOOZED and until is not None and until <= (now() if at is None else at):
        return OPEN
    return conversation.state


def snoozed_until(conversation: Conversation, at: int | None = None) -> int | None:
    """When the snooze ends; None once it has ended (the conversation reads as open)."""
    return conversation.snoozed_until if state_of(conversation, at) == SNOOZED else None


def wake(conversation: Conversation) -> None:
    """Writes down that a snooze ended (before a change, so the change starts from the state one reads)."""
    if state_of(conversation) != conversation.state:
        conversation.state, conversation.snoozed_until = OPEN, None


def _check_admin(conversation: Conversation, admin: Admin) -> None:
    if admin.workspace_id != conversation.workspace_id or admin.removed_at is not None:
        raise BadRequest(f"admin_id '{admin.id}' is not a teammate of this workspace", field="admin_id")


def _optional_body(body: str | None) -> str:
    if body is None or not body.strip():
        return ""
    _check_body(body)
    return body


def _answered(db: DbSession, conversation: Conversation, stamp: int) -> None:
    """An admin's message the contact sees: the contact no longer waits."""
    contact = contacts_repo.get(db, conversation.workspace_id, conversation.contact_id)
    if contact is not None:
        contact.last_contacted_at = max(contact.last_contacted_at or 0, stamp)
    conversation.waiting_since = None
    _stamp(conversation, "admin_reply", stamp)


def _stamp(conversation: Conversation, what: str, stamp: int) -> None:
    """Sets ``first_<what>_at`` (once) and ``last_<what>_at`` in the statistics."""
    stats = dict(conversation.statistics or {})
    first, last = f"first_{what}_at", f"last_{what}_at"
    stats[first] = stats.get(first) or stamp
    stats[last] = max(stats.get(last) or 0, stamp)
    conversation.statistics = stats  # a new dict: the JSON column sees only assignments


def _count(conversation: Conversation, key: str) -> None:
    stats = dict(conversation.statistics or {})
    stats[key] = int(stats.get(key) or 0) + 1
    conversation.statistics = stats


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


def teammates_of(
    db: DbSession,
    workspace: Workspace,
    conversations: list[Conversation],
    part_map: dict[str, list[ConversationPart]],
) -> dict[str, Admin]:
    """The teammates these conversations name (authors, assignees; removed ones too), by id, in one query."""
    ids = {c.admin_assignee_id for c in conversations if c.admin_assignee_id}
    for ps in part_map.values():
        ids.update(p.author_id for p in ps if p.author_type == "admin" and p.author_id)
        ids.update(p.assigned_to_id for p in ps if p.assigned_to_id)
    return repo.admins_by_id(db, workspace.id, sorted(ids))


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
    position = repo.next_position(db, conversation.workspace_id, conversation.id)
    if position > 0:  # the first part is the conversation's source; Intercom counts the ones after it
        conversation.statistics = {**(conversation.statistics or {}), "count_conversation_parts": position}
    return repo.add_part(
        db,
        ConversationPart(
            workspace_id=conversation.workspace_id,
            id=new_id(),
            conversation_id=conversation.id,
            position=position,
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
