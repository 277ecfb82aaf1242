"""Messenger sessions (anonymous ids)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, func, or_, select, update
from sqlalchemy.orm import Session as DbSession

from contactmerge.storage.tables import Contact, Session


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


def record_visits(db: DbSession, visits: list[dict[str, Any]]) -> None:
    """Many page views at once: sessions and their contacts get their newer ``last_seen_at``."""
    visits = [
        {
            "v_workspace": v["workspace_id"],
            "v_session": v["session_id"],
            "v_contact": v["contact_id"],
            "v_stamp": v["stamp"],
            "v_page": v["page_url"],
        }
        for v in visits
    ]
    sessions: Any = Session.__table__
    contacts: Any = Contact.__table__
    connection = db.connection()
    connection.execute(
        update(sessions)
        .where(
            sessions.c.workspace_id == bindparam("v_workspace"),
            sessions.c.id == bindparam("v_session"),
            sessions.c.last_seen_at < bindparam("v_stamp"),
        )
        .values(
            last_seen_at=bindparam("v_stamp"),
            last_page_url=func.coalesce(bindparam("v_page"), sessions.c.last_page_url),
        ),
        visits,
    )
    connection.execute(
        update(contacts)
        .where(
            contacts.c.workspace_id == bindparam("v_workspace"),
            contacts.c.id == bindparam("v_contact"),
            or_(contacts.c.last_seen_at.is_(None), contacts.c.last_seen_at < bindparam("v_stamp")),
        )
        .values(last_seen_at=bindparam("v_stamp")),
        visits,
    )


@dataclass(frozen=True)
class VisitView:
    """What a returning visit needs of a session and its contact (read as plain columns, no ORM objects)."""

    session_id: str
    logged_in_contact_id: str | None
    origin_contact_id: str
    contact_id: str
    role: str
    external_id: str | None
    email: str | None
    name: str | None


def live_with_contact(db: DbSession, workspace_id: str, session_id: str) -> VisitView | None:
    """A live session and its (unmerged) contact in one query: the whole read of a returning visit."""
    row = db.execute(
        select(
            Session.id,
            Session.logged_in_contact_id,
            Session.origin_contact_id,
            Contact.id,
            Contact.role,
            Contact.external_id,
            Contact.email,
            Contact.name,
        )
        .join(Contact, (Contact.workspace_id == Session.workspace_id) & (Contact.id == Session.contact_id))
        .where(
            Session.workspace_id == workspace_id,
            Session.id == session_id,
            Session.ended_at.is_(None),
            Contact.merged_into_id.is_(None),
        )
    ).first()
    return None if row is None else VisitView(*row)
