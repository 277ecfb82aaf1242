"""Events and their per-contact, per-name summaries."""

from __future__ import annotations

from sqlalchemy import Select, and_, func, or_, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session as DbSession

from contactmerge.storage.tables import Event, EventSummary


def add(db: DbSession, event: Event) -> None:
    """Store an event and fold it into its summary (first = min, last = max, count + 1) in one upsert."""
    db.add(event)
    insert = pg_insert if db.get_bind().dialect.name == "postgresql" else sqlite_insert
    stmt = insert(EventSummary).values(
        workspace_id=event.workspace_id,
        contact_id=event.contact_id,
        event_name=event.event_name,
        first=event.created_at,
        last=event.created_at,
        count=1,
    )
    excluded = stmt.excluded
    db.execute(
        stmt.on_conflict_do_update(
            index_elements=["workspace_id", "contact_id", "event_name"],
            set_={
                "first": func.min(EventSummary.first, excluded.first)
                if insert is sqlite_insert
                else func.least(EventSummary.first, excluded.first),
                "last": func.max(EventSummary.last, excluded.last)
                if insert is sqlite_insert
                else func.greatest(EventSummary.last, excluded.last),
                "count": EventSummary.count + 1,
            },
        )
    )
    db.flush()


def same_event(
    db: DbSession, workspace_id: str, contact_id: str, event_name: str, created_at: int
) -> Event | None:
    """The event already stored for this contact with this name and time, if any."""
    return db.scalar(
        select(Event)
        .where(
            Event.workspace_id == workspace_id,
            Event.contact_id == contact_id,
            Event.event_name == event_name,
            Event.created_at == created_at,
        )
        .limit(1)
    )


def summaries(db: DbSession, workspace_id: str, contact_id: str) -> list[EventSummary]:
    return list(
        db.scalars(
            select(EventSummary)
            .where(EventSummary.workspace_id == workspace_id, EventSummary.contact_id == contact_id)
            .order_by(EventSummary.last.desc(), EventSummary.event_name)
        )
    )


def newest(
    db: DbSession, workspace_id: str, contact_id: str, *, limit: int, before: tuple[int, str] | None
) -> list[Event]:
    """Events of a contact, newest first, ``limit`` of them older than the ``before`` (created_at, id) key."""
    stmt: Select[Event] = select(Event).where(
        Event.workspace_id == workspace_id, Event.contact_id == contact_id
    )
    if before is not None:
        created_at, event_id = before
        stmt = stmt.where(
            or_(Event.created_at < created_at, and_(Event.created_at == created_at, Event.id < event_id))
        )
    return list(db.scalars(stmt.order_by(Event.created_at.desc(), Event.id.desc()).limit(limit)))
