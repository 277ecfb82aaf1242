"""Conversations and their parts."""

from __future__ import annotations

from sqlalchemy import ColumnElement, exists, func, or_, select
from sqlalchemy.orm import Session as DbSession

from contactmerge.storage.paging import Page, keyset_page
from contactmerge.storage.tables import Admin, Contact, Conversation, ConversationPart


def get(db: DbSession, workspace_id: str, conversation_id: str) -> Conversation | None:
    return db.get(Conversation, (workspace_id, conversation_id))


def lock(db: DbSession, workspace_id: str, conversation_id: str) -> Conversation | None:
    """The conversation as committed now, locked until the transaction ends, so that two teammates'
    actions on it run one after the other (each reads what the other wrote). SQLite runs one writer at a
    time, so there it is a plain read."""
    return db.get(Conversation, (workspace_id, conversation_id), with_for_update=True, populate_existing=True)


def latest_of(db: DbSession, workspace_id: str, contact_id: str) -> Conversation | None:
    return db.scalar(
        select(Conversation)
        .where(Conversation.workspace_id == workspace_id, Conversation.contact_id == contact_id)
        .order_by(Conversation.updated_at.desc(), Conversation.id.desc())
        .limit(1)
    )


def contacts_by_id(db: DbSession, workspace_id: str, contact_ids: list[str]) -> dict[str, Contact]:
    """The contacts named in conversations (owners and authors), by id, in one query."""
    if not contact_ids:
        return {}
    rows = db.scalars(
        select(Contact).where(Contact.workspace_id == workspace_id, Contact.id.in_(contact_ids))
    )
    return {row.id: row for row in rows}


def add(db: DbSession, conversation: Conversation) -> Conversation:
    db.add(conversation)
    db.flush()
    return conversation


def add_part(db: DbSession, part: ConversationPart) -> ConversationPart:
    db.add(part)
    db.flush()
    return part


def next_position(db: DbSession, workspace_id: str, conversation_id: str) -> int:
    current = db.scalar(
        select(func.max(ConversationPart.position)).where(
            ConversationPart.workspace_id == workspace_id, ConversationPart.conversation_id == conversation_id
        )
    )
    return 0 if current is None else current + 1


def parts_of(
    db: DbSession, workspace_id: str, conversation_ids: list[str], *, seen_by: str | None = None
) -> dict[str, list[ConversationPart]]:
    """The parts of these conversations in order; ``seen_by`` a session: only its own and the admins'."""
    result: dict[str, list[ConversationPart]] = {cid: [] for cid in conversation_ids}
    if not conversation_ids:
        return result
    stmt = select(ConversationPart).where(
        ConversationPart.workspace_id == workspace_id,
        ConversationPart.conversation_id.in_(conversation_ids),
    )
    if seen_by is not None:
        stmt = stmt.where(
            or_(ConversationPart.session_id == seen_by, ConversationPart.author_type == "admin")
        )
    for part in db.scalars(stmt.order_by(ConversationPart.conversation_id, ConversationPart.position)):
        result[part.conversation_id].append(part)
    return result


def admins_by_id(db: DbSession, workspace_id: str, admin_ids: list[str]) -> dict[str, Admin]:
    """The teammates named in conversations (authors, assignees), removed ones too, in one query."""
    if not admin_ids:
        return {}
    rows = db.scalars(select(Admin).where(Admin.workspace_id == workspace_id, Admin.id.in_(admin_ids)))
    return {row.id: row for row in rows}


def page(
    db: DbSession,
    workspace_id: str,
    *,
    per_page: int,
    after_id: str | None,
    contact_id: str | None = None,
    condition: ColumnElement[bool] | None = None,
) -> Page[Conversation]:
    stmt = select(Conversation).where(Conversation.workspace_id == workspace_id)
    if contact_id is not None:
        stmt = stmt.where(Conversation.contact_id == contact_id)
    if condition is not None:
        stmt = stmt.where(condition)
    return keyset_page(db, stmt, Conversation.id, per_page=per_page, after_id=after_id)


def of_contact(
    db: DbSession, workspace_id: str, contact_id: str, *, written_by: str | None = None
) -> list[Conversation]:
    """A contact's conversations, newest first; ``written_by`` a session: only those it wrote in."""
    stmt = select(Conversation).where(
        Conversation.workspace_id == workspace_id, Conversation.contact_id == contact_id
    )
    if written_by is not None:
        stmt = stmt.where(
            exists().where(
                ConversationPart.workspace_id == Conversation.workspace_id,
                ConversationPart.conversation_id == Conversation.id,
                ConversationPart.session_id == written_by,
            )
        )
    return list(db.scalars(stmt.order_by(Conversation.updated_at.desc(), Conversation.id.desc())))
