"""CSV imports: their rows, uploaded files, and the set-based lookups and writes an import does per chunk."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.orm import Session as DbSession

from contactmerge.storage.db import among
from contactmerge.storage.tables import Contact, ContactTag, Import, ImportFileChunk, ImportRow, Tag


def add(db: DbSession, item: Import) -> Import:
    db.add(item)
    db.flush()
    return item


def get(db: DbSession, workspace_id: str, import_id: str, *, lock: bool = False) -> Import | None:
    if lock:
        return db.get(Import, (workspace_id, import_id), with_for_update=True, populate_existing=True)
    return db.get(Import, (workspace_id, import_id))


def newest(db: DbSession, workspace_id: str, *, offset: int, limit: int) -> list[Import]:
    stmt = (
        select(Import)
        .where(Import.workspace_id == workspace_id)
        .order_by(Import.created_at.desc(), Import.id.desc())
        .offset(offset)
        .limit(limit)
    )
    return list(db.scalars(stmt))


def claim_pending(db: DbSession, stale_before: float) -> Import | None:
    """An uploaded import no worker is running (or whose runner stopped sending heartbeats). An import run
    by ``contactmerge import`` has no stored file for a worker to read: only ``--resume`` continues it."""
    uploaded = (
        select(ImportFileChunk.position)
        .where(ImportFileChunk.workspace_id == Import.workspace_id, ImportFileChunk.import_id == Import.id)
        .exists()
    )
    stmt = (
        select(Import)
        .where(
            (Import.state == "pending")
            | ((Import.state == "running") & (Import.heartbeat_at < stale_before) & uploaded)
        )
        .order_by(Import.created_at)
        .limit(1)
    )
    if db.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update(skip_locked=True)
    return db.scalar(stmt.execution_options(populate_existing=True))


def users_by_external_id(db: DbSession, workspace_id: str, external_ids: Iterable[str]) -> dict[str, Contact]:
    ids = sorted(set(external_ids))
    if not ids:
        return {}
    rows = db.scalars(
        select(Contact).where(
            Contact.workspace_id == workspace_id,
            among(db, Contact.external_id, ids),
            Contact.role == "user",
            Contact.merged_into_id.is_(None),
        )
    )
    return {c.external_id: c for c in rows if c.external_id}


def written_by_import(
    db: DbSession, workspace_id: str, import_id: str, external_ids: Iterable[str]
) -> dict[str, str]:
    """external_id -> id of the live contacts with one of these external_ids that this import wrote."""
    ids = sorted(set(external_ids))
    if not ids:
        return {}
    rows = db.execute(
        select(Contact.external_id, Contact.id).where(
            Contact.workspace_id == workspace_id,
            among(db, Contact.external_id, ids),
            Contact.last_import_id == import_id,
            Contact.merged_into_id.is_(None),
        )
    )
    return {external_id: contact_id for external_id, contact_id in rows if external_id}


def live_by_email(db: DbSession, workspace_id: str, emails: Iterable[str]) -> dict[str, list[Contact]]:
    """Live users and leads by normalized email."""
    wanted = sorted(set(emails))
    found: dict[str, list[Contact]] = {}
    if not wanted:
        return found
    rows = db.scalars(
        select(Contact).where(
            Contact.workspace_id == workspace_id,
            among(db, Contact.email_normalized, wanted),
            Contact.role.in_(("user", "lead")),
            Contact.merged_into_id.is_(None),
        )
    )
    # Sorted here, not by ORDER BY id: SQLite would walk the whole workspace by primary key to avoid it.
    for contact in sorted(rows, key=lambda c: c.id):
        found.setdefault(contact.email_normalized or "", []).append(contact)
    return found


def insert_contacts(db: DbSession, rows: list[dict[str, Any]]) -> None:
    """New contacts in bulk at the driver: ``COPY`` on PostgreSQL, one ``executemany`` on SQLite.

    SQLAlchemy's executemany costs as much again as the insert itself for rows it will not track; the rows
    are plain values built by the import, so they go straight to the driver inside the same transaction.
    """
    if not rows:
        return
    columns = list(rows[0])
    values = (
        [json.dumps(v) if isinstance(v, dict) else v for v in (row[c] for c in columns)] for row in rows
    )
    names = ", ".join(columns)
    connection = db.connection()
    if connection.dialect.name == "postgresql":
        with (
            connection.connection.driver_connection.cursor() as cursor,  # type: ignore[union-attr]
            cursor.copy(f"COPY contacts ({names}) FROM STDIN") as copy,
        ):
            for value in values:
                copy.write_row(value)
    else:
        marks = ", ".join("?" * len(columns))
        connection.exec_driver_sql(
            f"INSERT INTO contacts ({names}) VALUES ({marks})", [tuple(v) for v in values]
        )


def tags_by_name(db: DbSession, workspace_id: str, names: Iterable[str]) -> dict[str, str]:
    wanted = sorted(set(names))
    if not wanted:
        return {}
    rows = db.execute(select(Tag.name, Tag.id).where(Tag.workspace_id == workspace_id, Tag.name.in_(wanted)))
    return {name: tag_id for name, tag_id in rows}


def insert_tags(db: DbSession, rows: list[dict[str, Any]]) -> None:
    if rows:
        db.execute(insert(Tag), rows)


def existing_links(db: DbSession, workspace_id: str, contact_ids: Iterable[str]) -> set[tuple[str, str]]:
    ids = sorted(set(contact_ids))
    if not ids:
        return set()
    rows = db.execute(
        select(ContactTag.contact_id, ContactTag.tag_id).where(
            ContactTag.workspace_id == workspace_id, among(db, ContactTag.contact_id, ids)
        )
    )
    return {(contact_id, tag_id) for contact_id, tag_id in rows}


def insert_links(db: DbSession, rows: list[dict[str, Any]]) -> None:
    if rows:
        db.execute(insert(ContactTag), rows)


def add_rows(db: DbSession, rows: list[dict[str, Any]]) -> None:
    if rows:
        db.execute(insert(ImportRow), rows)


def rows_with_actions(
    db: DbSession, workspace_id: str, import_id: str, actions: Iterable[str]
) -> Iterator[ImportRow]:
    """Stream the import's rows with these actions, in file order."""
    stmt = (
        select(ImportRow)
        .where(
            ImportRow.workspace_id == workspace_id,
            ImportRow.import_id == import_id,
            ImportRow.action.in_(list(actions)),
        )
        .order_by(ImportRow.row_number)
        .execution_options(yield_per=1000)
    )
    yield from db.scalars(stmt)


def created_contacts(db: DbSession, workspace_id: str, import_id: str) -> list[Contact]:
    return list(
        db.scalars(
            select(Contact).where(Contact.workspace_id == workspace_id, Contact.import_id == import_id)
        )
    )


def delete_contacts(db: DbSession, workspace_id: str, ids: list[str]) -> None:
    for start in range(0, len(ids), 1000):
        db.execute(
            delete(Contact)
            .where(Contact.workspace_id == workspace_id, Contact.id.in_(ids[start : start + 1000]))
            .execution_options(synchronize_session=False)
        )


def add_chunk(db: DbSession, chunk: ImportFileChunk) -> None:
    db.add(chunk)
    db.flush()


def chunk_at(db: DbSession, workspace_id: str, import_id: str, position: int) -> bytes | None:
    data = db.scalar(
        select(ImportFileChunk.data).where(
            ImportFileChunk.workspace_id == workspace_id,
            ImportFileChunk.import_id == import_id,
            ImportFileChunk.position == position,
        )
    )
    return None if data is None else bytes(data)


def file_size(db: DbSession, workspace_id: str, import_id: str) -> int:
    return int(
        db.scalar(
            select(func.coalesce(func.sum(func.length(ImportFileChunk.data)), 0)).where(
                ImportFileChunk.workspace_id == workspace_id, ImportFileChunk.import_id == import_id
            )
        )
        or 0
    )


def delete_import(db: DbSession, job: Import) -> None:
    """An import and its stored file (it has no rows or contacts yet: only a draft is deleted)."""
    db.execute(
        delete(ImportFileChunk).where(
            ImportFileChunk.workspace_id == job.workspace_id, ImportFileChunk.import_id == job.id
        )
    )
    db.delete(job)
    db.flush()


def touch(db: DbSession, workspace_id: str, import_id: str, heartbeat: float) -> None:
    """A running import's heartbeat: the time its runner last showed it is alive."""
    db.execute(
        update(Import)
        .where(Import.workspace_id == workspace_id, Import.id == import_id)
        .values(heartbeat_at=heartbeat)
        .execution_options(synchronize_session=False)
    )
