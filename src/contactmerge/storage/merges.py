"""Merge records and the set-based statements that apply and undo a merge (design §3, §5).

Every statement moves all rows of a kind at once (``UPDATE … WHERE contact_id = :source``); nothing loops
over rows in Python. Rows keep ``origin_contact_id``, the contact that first owned them, so undo moves
back exactly the rows a merged contact brought, wherever later merges have taken them since.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import and_, delete, func, insert, literal, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session as DbSession

from contactmerge.storage.paging import Page
from contactmerge.storage.tables import (
    Contact,
    ContactIdentifier,
    ContactTag,
    Conversation,
    ConversationPart,
    Event,
    EventSummary,
    Merge,
    Note,
    Session,
)

MOVABLE: dict[str, Any] = {"conversations": Conversation, "notes": Note, "sessions": Session, "events": Event}
RESTORABLE: dict[str, Any] = {**MOVABLE, "tags": ContactTag}


def lock_contacts(db: DbSession, workspace_id: str, contact_ids: Iterable[str]) -> dict[str, Contact]:
    """Both contacts of a merge, locked in id order so two merges never wait on each other in a cycle."""
    rows = db.scalars(
        select(Contact)
        .where(Contact.workspace_id == workspace_id, Contact.id.in_(sorted(set(contact_ids))))
        .order_by(Contact.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return {row.id: row for row in rows}


def get(db: DbSession, workspace_id: str, merge_id: str, *, lock: bool = False) -> Merge | None:
    if lock:
        return db.get(Merge, (workspace_id, merge_id), with_for_update=True, populate_existing=True)
    return db.get(Merge, (workspace_id, merge_id))


def add(db: DbSession, merge: Merge) -> Merge:
    db.add(merge)
    db.flush()
    return merge


def applied_merge_of(db: DbSession, workspace_id: str, source_id: str) -> Merge | None:
    return db.scalar(
        select(Merge).where(
            Merge.workspace_id == workspace_id, Merge.source_id == source_id, Merge.state == "applied"
        )
    )


def merges_into_since(db: DbSession, workspace_id: str, target_id: str, since: int) -> int:
    return (
        db.scalar(
            select(func.count()).where(
                Merge.workspace_id == workspace_id,
                Merge.target_id == target_id,
                Merge.state == "applied",
                Merge.created_at >= since,
            )
        )
        or 0
    )


def page_for_contact(
    db: DbSession, workspace_id: str, contact_id: str | None, *, per_page: int, after_id: str | None
) -> Page[Merge]:
    """Merges a contact took part in (either side), newest first: ids are time-ordered, so descending."""
    stmt = select(Merge).where(Merge.workspace_id == workspace_id)
    if contact_id is not None:
        stmt = stmt.where((Merge.source_id == contact_id) | (Merge.target_id == contact_id))
    total = db.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    if after_id is not None:
        stmt = stmt.where(Merge.id < after_id)
    rows = list(db.scalars(stmt.order_by(Merge.id.desc()).limit(per_page + 1)))
    return Page(items=rows[:per_page], total_count=total, has_more=len(rows) > per_page)


def canonical_id(db: DbSession, workspace_id: str, contact_id: str, *, max_hops: int = 64) -> str | None:
    """The live contact an id resolves to, following merge chains; None when there is no such contact."""
    current = contact_id
    for _ in range(max_hops):
        merged_into = db.execute(
            select(Contact.merged_into_id).where(Contact.workspace_id == workspace_id, Contact.id == current)
        ).first()
        if merged_into is None:
            return None
        if merged_into[0] is None:
            return current
        current = merged_into[0]
    return None


def count_rows(db: DbSession, workspace_id: str, contact_id: str) -> dict[str, int]:
    """How many rows of each kind a contact owns: what a merge would move."""
    counts = {
        kind: db.scalar(
            select(func.count())
            .select_from(table)
            .where(table.workspace_id == workspace_id, table.contact_id == contact_id)
        )
        or 0
        for kind, table in MOVABLE.items()
    }
    counts["conversation_parts"] = count_parts(db, workspace_id, contact_id)
    counts["tags"] = (
        db.scalar(
            select(func.count()).where(
                ContactTag.workspace_id == workspace_id, ContactTag.contact_id == contact_id
            )
        )
        or 0
    )
    return counts


def count_parts(db: DbSession, workspace_id: str, contact_id: str) -> int:
    """Messages in the contact's conversations (they move with their conversation)."""
    return (
        db.scalar(
            select(func.count())
            .select_from(ConversationPart)
            .join(
                Conversation,
                and_(
                    Conversation.workspace_id == ConversationPart.workspace_id,
                    Conversation.id == ConversationPart.conversation_id,
                ),
            )
            .where(Conversation.workspace_id == workspace_id, Conversation.contact_id == contact_id)
        )
        or 0
    )


def move_rows(db: DbSession, workspace_id: str, source_id: str, target_id: str) -> dict[str, int]:
    """Re-point every conversation, note, session and event of the source to the target; ids are kept."""
    moved: dict[str, int] = {}
    for kind, table in MOVABLE.items():
        result = db.execute(
            update(table)
            .where(table.workspace_id == workspace_id, table.contact_id == source_id)
            .values(contact_id=target_id)
            .execution_options(synchronize_session=False)
        )
        moved[kind] = int(result.rowcount)  # type: ignore[attr-defined]
    return moved


def tag_ids(db: DbSession, workspace_id: str, contact_id: str) -> list[str]:
    return list(
        db.scalars(
            select(ContactTag.tag_id)
            .where(ContactTag.workspace_id == workspace_id, ContactTag.contact_id == contact_id)
            .order_by(ContactTag.tag_id)
        )
    )


def move_tags(db: DbSession, workspace_id: str, from_id: str, to_id: str, ids: Iterable[str]) -> None:
    """Re-point tag links; a link the receiver already has stays where it is (so no link is ever lost)."""
    chosen = list(ids)
    if chosen:
        db.execute(
            update(ContactTag)
            .where(
                ContactTag.workspace_id == workspace_id,
                ContactTag.contact_id == from_id,
                ContactTag.tag_id.in_(chosen),
            )
            .values(contact_id=to_id)
            .execution_options(synchronize_session=False)
        )


def combine_summaries(db: DbSession, workspace_id: str, source_id: str, target_id: str) -> None:
    """Fold the source's event summaries into the target's: first = min, last = max, count = sum."""
    postgres = db.get_bind().dialect.name == "postgresql"
    insert_ = pg_insert if postgres else sqlite_insert
    rows = select(
        EventSummary.workspace_id,
        literal(target_id),
        EventSummary.event_name,
        EventSummary.first,
        EventSummary.last,
        EventSummary.count,
    ).where(EventSummary.workspace_id == workspace_id, EventSummary.contact_id == source_id)
    stmt = insert_(EventSummary).from_select(
        ["workspace_id", "contact_id", "event_name", "first", "last", "count"], rows
    )
    least, greatest = (func.least, func.greatest) if postgres else (func.min, func.max)
    db.execute(
        stmt.on_conflict_do_update(
            index_elements=["workspace_id", "contact_id", "event_name"],
            set_={
                "first": least(EventSummary.first, stmt.excluded.first),
                "last": greatest(EventSummary.last, stmt.excluded.last),
                "count": EventSummary.count + stmt.excluded.count,
            },
        )
    )
    db.execute(
        delete(EventSummary)
        .where(EventSummary.workspace_id == workspace_id, EventSummary.contact_id == source_id)
        .execution_options(synchronize_session=False)
    )


def recompute_summaries(db: DbSession, workspace_id: str, contact_ids: Iterable[str]) -> None:
    """Summaries rebuilt from the events themselves (exact: every event is stored)."""
    ids = sorted(set(contact_ids))
    if not ids:
        return
    db.execute(
        delete(EventSummary)
        .where(EventSummary.workspace_id == workspace_id, EventSummary.contact_id.in_(ids))
        .execution_options(synchronize_session=False)
    )
    grouped = (
        select(
            Event.workspace_id,
            Event.contact_id,
            Event.event_name,
            func.min(Event.created_at),
            func.max(Event.created_at),
            func.count(),
        )
        .where(Event.workspace_id == workspace_id, Event.contact_id.in_(ids))
        .group_by(Event.workspace_id, Event.contact_id, Event.event_name)
    )
    db.execute(
        insert(EventSummary).from_select(
            ["workspace_id", "contact_id", "event_name", "first", "last", "count"], grouped
        )
    )


def holders_of(db: DbSession, workspace_id: str, origins: list[str]) -> set[str]:
    """Contacts that now hold events first owned by any of ``origins``."""
    return set(
        db.scalars(
            select(Event.contact_id)
            .where(Event.workspace_id == workspace_id, Event.origin_contact_id.in_(origins))
            .distinct()
        )
    )


def restore_rows(db: DbSession, workspace_id: str, contact_id: str, origins: list[str]) -> dict[str, int]:
    """Bring back to ``contact_id`` every row first owned by it or by the contacts merged into it.

    ``origins`` is that contact and the contacts still merged into it; rows held by one of them are
    already home, wherever else the contact's rows went.
    """
    restored: dict[str, int] = {}
    for kind, table in RESTORABLE.items():
        result = db.execute(
            update(table)
            .where(
                table.workspace_id == workspace_id,
                table.origin_contact_id.in_(origins),
                table.contact_id.not_in(origins),
            )
            .values(contact_id=contact_id)
            .execution_options(synchronize_session=False)
        )
        restored[kind] = int(result.rowcount)  # type: ignore[attr-defined]
    return restored


def absorbed_by(db: DbSession, workspace_id: str, contact_id: str) -> list[str]:
    """The contact and every contact merged into it (transitively) by merges still applied."""
    found = [contact_id]
    frontier = [contact_id]
    while frontier:
        sources = list(
            db.scalars(
                select(Merge.source_id).where(
                    Merge.workspace_id == workspace_id,
                    Merge.target_id.in_(frontier),
                    Merge.state == "applied",
                )
            )
        )
        frontier = [s for s in sources if s not in found]
        found.extend(frontier)
    return found


def add_identifiers(db: DbSession, rows: list[ContactIdentifier]) -> None:
    db.add_all(rows)
    db.flush()


def remove_identifiers_of_merge(db: DbSession, workspace_id: str, merge_id: str) -> None:
    db.execute(
        delete(ContactIdentifier)
        .where(ContactIdentifier.workspace_id == workspace_id, ContactIdentifier.merge_id == merge_id)
        .execution_options(synchronize_session=False)
    )


def identifiers_of(db: DbSession, workspace_id: str, contact_id: str) -> list[ContactIdentifier]:
    return list(
        db.scalars(
            select(ContactIdentifier)
            .where(ContactIdentifier.workspace_id == workspace_id, ContactIdentifier.contact_id == contact_id)
            .order_by(ContactIdentifier.created_at, ContactIdentifier.id)
        )
    )


def mark_unverified_parts(db: DbSession, workspace_id: str, author_id: str, flag: bool) -> int:
    """Flag (or unflag) the messages a contact wrote as coming from an unverified sender."""
    result = db.execute(
        update(ConversationPart)
        .where(
            ConversationPart.workspace_id == workspace_id,
            ConversationPart.author_id == author_id,
            ConversationPart.author_type != "admin",
        )
        .values(unverified_sender=flag)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]
