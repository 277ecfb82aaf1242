"""Messenger sessions (anonymous ids)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session as DbSession

from contactmerge.storage.tables import Session


def get(db: DbSession, workspace_id: str, session_id: str, *, lock: bool = False) -> Session | None:
    if lock:
        return db.get(Session, (workspace_id, session_id), with_for_update=True, populate_existing=True)
    return db.get(Session, (workspace_id, session_id))


def add(db: DbSession, session: Session) -> Session:
    db.add(session)
    db.flush()
    return session


def first_of(db: DbSession, workspace_id: str, contact_id: str) -> Session | None:
    """The session a contact was first seen with (a visitor's ``user_id`` in Intercom's shape)."""
    return db.scalar(
        select(Session)
        .where(Session.workspace_id == workspace_id, Session.origin_contact_id == contact_id)
        .order_by(Session.created_at, Session.id)
        .limit(1)
    )
