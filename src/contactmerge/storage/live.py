"""What the messenger's live feed polls: one indexed query telling whether a browser's view changed."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session as DbSession

from contactmerge.storage.tables import Conversation, ConversationPart, Session


@dataclass(frozen=True)
class Mark:
    """A browser session and the parts of its contact's conversations, summed up: when it is unchanged,
    nothing that session may read has changed (new parts, merges, logins and logouts all change it)."""

    contact_id: str
    logged_in_contact_id: str | None
    ended: bool
    parts: int
    newest_part_id: str | None


def mark(db: DbSession, workspace_id: str, session_id: str) -> Mark | None:
    """The session's mark, or None when there is no such session. Its primary key, then the conversations'
    and parts' (workspace, contact) and (workspace, conversation) indexes."""
    stmt = (
        select(
            Session.contact_id,
            Session.logged_in_contact_id,
            Session.ended_at,
            func.count(ConversationPart.id),
            func.max(ConversationPart.id),
        )
        .select_from(Session)
        .outerjoin(
            Conversation,
            and_(
                Conversation.workspace_id == Session.workspace_id,
                Conversation.contact_id == Session.contact_id,
            ),
        )
        .outerjoin(
            ConversationPart,
            and_(
                ConversationPart.workspace_id == Conversation.workspace_id,
                ConversationPart.conversation_id == Conversation.id,
            ),
        )
        .where(Session.workspace_id == workspace_id, Session.id == session_id)
        .group_by(Session.contact_id, Session.logged_in_contact_id, Session.ended_at)
    )
    row = db.execute(stmt).one_or_none()
    if row is None:
        return None
    contact_id, logged_in, ended_at, parts, newest = row
    return Mark(contact_id, logged_in, ended_at is not None, int(parts), newest)
