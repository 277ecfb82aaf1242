"""Merge records and the set-based statements that apply and undo a merge (design §3, §5).

Every statement moves all rows of a kind at once (``UPDATE … WHERE contact_id = :source``); nothing loops
over rows in Python. Rows keep ``origin_contact_id``, the contact that first owned them, so undo moves
back exactly the rows a merged contact brought, wherever later merges have taken them since.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import and_, bindparam, case, delete, func, insert, literal, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session as DbSession

from contactmerge.storage.db import among
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
        .where(Contact.workspace_id == workspace_id, among(db, Contact.id, sorted(set(contact_ids))))
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


def merges_into_since_of(
    db: DbSession, workspace_id: str, target_ids: Iterable[str], since: int
) -> dict[str, int]:
    """How many merges each target absorbed since ``since`` (the fan-in cap's count), in one query."""
    ids = sorted(set(target_ids))
    counts = dict.fromkeys(ids, 0)
    if ids:
        rows = db.execute(
            select(Merge.target_id, func.count())
            .where(
                Merge.workspace_id == workspace_id,
                Merge.target_id.in_(ids),
                Merge.state == "applied",
                Merge.created_at >= since,
            )
            .group_by(Merge.target_id)
        )
        counts.update({target: n for target, n in rows})
    return counts


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
    if contact_id is None:
        rows = list(db.scalars(stmt.order_by(Merge.id.desc()).limit(per_page + 1)))
    else:
        # One contact's merges are few: read them through the source and target indexes and sort here.
        # ORDER BY id would make SQLite walk every merge of the workspace by primary key instead.
        rows = sorted(db.scalars(stmt), key=lambda m: m.id, reverse=True)[: per_page + 1]
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
    return count_rows_of(db, workspace_id, [contact_id])[contact_id]


def count_rows_of(db: DbSession, workspace_id: str, contact_ids: list[str]) -> dict[str, dict[str, int]]:
    """Rows of each kind owned by each contact, one grouped query per kind."""
    kinds = [*MOVABLE, "conversation_parts", "tags"]
    counts = {cid: dict.fromkeys(kinds, 0) for cid in contact_ids}
    if not contact_ids:
        return counts
    queries: dict[str, Any] = {
        kind: select(table.contact_id, func.count())
        .where(table.workspace_id == workspace_id, among(db, table.contact_id, contact_ids))
        .group_by(table.contact_id)
        for kind, table in {**MOVABLE, "tags": ContactTag}.items()
    }
    queries["conversation_parts"] = _parts_by_contact(workspace_id, contact_ids)
    for kind, query in queries.items():
        for contact_id, n in db.execute(query):
            counts[contact_id][kind] = n
    return counts


def count_parts(db: DbSession, workspace_id: str, contact_id: str) -> int:
    """Messages in the contact's conversations (they move with their conversation)."""
    row = db.execute(_parts_by_contact(workspace_id, [contact_id])).first()
    return int(row[1]) if row else 0


def _parts_by_contact(workspace_id: str, contact_ids: list[str]) -> Any:
    return (
        select(Conversation.contact_id, func.count())
        .select_from(ConversationPart)
        .join(
            Conversation,
            and_(
                Conversation.workspace_id == ConversationPart.workspace_id,
                Conversation.id == ConversationPart.conversation_id,
            ),
        )
        .where(Conversation.workspace_id == workspace_id, Conversation.contact_id.in_(contact_ids))
        .group_by(Conversation.contact_id)
    )


def _new_owner(column: Any, mapping: dict[str, str]) -> Any:
    """``target`` for each ``source`` in one statement: CASE contact_id WHEN :source THEN :target … END."""
    if len(mapping) == 1:
        return next(iter(mapping.values()))
    return case(mapping, value=column)


def move_rows(
    db: DbSession,
    workspace_id: str,
    mapping: dict[str, str],
    counts: Mapping[str, Mapping[str, int]] | None = None,
) -> dict[str, int]:
    """Re-point every conversation, note, session and event of each source to its target; ids are kept.

    ``counts`` (``count_rows_of``, taken with the sources locked, so no row of theirs can appear since)
    leaves out of each statement the sources that own no row of its kind: most leads of a bulk merge own
    none, and each one costs the CASE that re-points the others."""
    moved: dict[str, int] = {}
    for kind, table in MOVABLE.items():
        owners = mapping if counts is None else {s: t for s, t in mapping.items() if counts[s][kind]}
        if not owners:
            moved[kind] = 0
            continue
        result = db.execute(
            update(table)
            .where(table.workspace_id == workspace_id, among(db, table.contact_id, list(owners)))
            .values(contact_id=_new_owner(table.contact_id, owners))
            .execution_options(synchronize_session=False)
        )
        moved[kind] = int(result.rowcount)  # type: ignore[attr-defined]
    return moved


def tag_links(db: DbSession, workspace_id: str, contact_ids: list[str]) -> list[tuple[str, str]]:
    """(contact_id, tag_id) of every tag link of these contacts."""
    rows = db.execute(
        select(ContactTag.contact_id, ContactTag.tag_id)
        .where(ContactTag.workspace_id == workspace_id, among(db, ContactTag.contact_id, contact_ids))
        .order_by(ContactTag.contact_id, ContactTag.tag_id)
    )
    return [(contact_id, tag_id) for contact_id, tag_id in rows]


def move_tag_links(db: DbSession, workspace_id: str, moves: list[tuple[str, str, str]]) -> None:
    """Re-point tag links: (from contact, to contact, tag) each."""
    if moves:
        links: Any = ContactTag.__table__
        db.connection().execute(
            update(links)
            .where(
                links.c.workspace_id == workspace_id,
                links.c.contact_id == bindparam("from_id"),
                links.c.tag_id == bindparam("tag"),
            )
            .values(contact_id=bindparam("to_id")),
            [{"from_id": f, "to_id": t, "tag": tag} for f, t, tag in moves],
        )


def combine_summaries(db: DbSession, workspace_id: str, mapping: dict[str, str]) -> None:
    """Fold each source's event summaries into its target's: first = min, last = max, count = sum."""
    having = db.scalars(
        select(EventSummary.contact_id)
        .where(EventSummary.workspace_id == workspace_id, among(db, EventSummary.contact_id, list(mapping)))
        .distinct()
    ).all()
    mapping = {source: mapping[source] for source in having}  # the CASE below only for those
    if not mapping:
        return
    postgres = db.get_bind().dialect.name == "postgresql"
    insert_ = pg_insert if postgres else sqlite_insert
    target = _new_owner(EventSummary.contact_id, mapping)
    if len(mapping) == 1:
        target = literal(target)
    rows = (
        select(
            EventSummary.workspace_id,
            target.label("target"),
            EventSummary.event_name,
            func.min(EventSummary.first),
            func.max(EventSummary.last),
            func.sum(EventSummary.count),
        )
        .where(EventSummary.workspace_id == workspace_id, among(db, EventSummary.contact_id, list(mapping)))
        .group_by(EventSummary.workspace_id, EventSummary.event_name, *([target] if len(mapping) > 1 else []))
    )
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
        .where(EventSummary.workspace_id == workspace_id, among(db, EventSummary.contact_id, list(mapping)))
        .execution_options(synchronize_session=False)
    )


def recompute_summaries(db: DbSession, workspace_id: str, contact_ids: Iterable[str]) -> None:
    """Summaries rebuilt from the events themselves (exact: every event is stored)."""
    ids = sorted(set(contact_ids))
    if not ids:
        return
    db.execute(
        delete(EventSummary)
        .where(EventSummary.workspace_id == workspace_id, among(db, EventSummary.contact_id, ids))
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
        .where(Event.workspace_id == workspace_id, among(db, Event.contact_id, ids))
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


def mark_unverified_parts(db: DbSession, workspace_id: str, author_ids: list[str], flag: bool) -> int:
    """Flag (or unflag) the messages these contacts wrote as coming from an unverified sender."""
    if not author_ids:
        return 0
    result = db.execute(
        update(ConversationPart)
        .where(
            ConversationPart.workspace_id == workspace_id,
            ConversationPart.author_id.in_(author_ids),
            ConversationPart.author_type != "admin",
        )
        .values(unverified_sender=flag)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


def add_merges(db: DbSession, merges: list[Merge]) -> None:
    db.add_all(merges)
    db.flush()


def applied_in_batch(db: DbSession, workspace_id: str, batch_id: str) -> list[Merge]:
    """A batch's merges still applied, newest first (the order to undo them in)."""
    return list(
        db.scalars(
            select(Merge)
            .where(Merge.workspace_id == workspace_id, Merge.batch_id == batch_id, Merge.state == "applied")
            .order_by(Merge.id.desc())
        )
    )
