"""Contacts, their tags and notes: every query is scoped to one workspace."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import ColumnElement, delete, func, select
from sqlalchemy.orm import Session as DbSession

from contactmerge.storage.paging import Page, keyset_page
from contactmerge.storage.tables import Contact, ContactTag, Note, Tag


def get(db: DbSession, workspace_id: str, contact_id: str) -> Contact | None:
    return db.get(Contact, (workspace_id, contact_id))


def lock_for_write(db: DbSession, workspace_id: str, contact_id: str) -> Contact | None:
    """The contact as committed now, locked ``FOR NO KEY UPDATE`` until the transaction ends: it waits for
    a merge holding it (``FOR UPDATE``) and holds merges off, but not inserts that merely reference it.
    SQLite runs one writer at a time, so there it is a plain read."""
    return db.get(
        Contact,
        (workspace_id, contact_id),
        with_for_update={"key_share": True},
        populate_existing=True,
    )


def add(db: DbSession, contact: Contact) -> Contact:
    db.add(contact)
    db.flush()
    return contact


def remove(db: DbSession, contact: Contact) -> None:
    db.delete(contact)
    db.flush()


def users_with_email(
    db: DbSession, workspace_id: str, email_normalized: str, *, verified_only: bool = False
) -> list[Contact]:
    """Live users with this email; ``verified_only`` leaves out users whose email was only claimed, which
    must never find, log in or receive anyone (design §4)."""
    stmt = select(Contact).where(
        Contact.workspace_id == workspace_id,
        Contact.email_normalized == email_normalized,
        Contact.role == "user",
        Contact.merged_into_id.is_(None),
    )
    if verified_only:
        stmt = stmt.where(Contact.email_verified.is_(True))
    return list(db.scalars(stmt))


def user_with_external_id(db: DbSession, workspace_id: str, external_id: str) -> Contact | None:
    return db.scalar(
        select(Contact).where(
            Contact.workspace_id == workspace_id,
            Contact.external_id == external_id,
            Contact.role == "user",
            Contact.merged_into_id.is_(None),
        )
    )


def with_external_id(db: DbSession, workspace_id: str, external_id: str) -> Contact | None:
    """The contact an external_id names, users first."""
    return db.scalar(
        select(Contact)
        .where(Contact.workspace_id == workspace_id, Contact.external_id == external_id)
        .order_by((Contact.role == "user").desc(), Contact.id)
        .limit(1)
    )


def with_email(db: DbSession, workspace_id: str, email_normalized: str) -> Contact | None:
    """The contact an email names: users first, then the most recently seen."""
    return db.scalar(
        select(Contact)
        .where(Contact.workspace_id == workspace_id, Contact.email_normalized == email_normalized)
        .order_by((Contact.role == "user").desc(), Contact.last_seen_at.desc().nulls_last(), Contact.id)
        .limit(1)
    )


def page(
    db: DbSession,
    workspace_id: str,
    *,
    per_page: int,
    after_id: str | None,
    condition: ColumnElement[bool] | None = None,
) -> Page[Contact]:
    stmt = select(Contact).where(
        Contact.workspace_id == workspace_id,
        Contact.merged_into_id.is_(None),
        Contact.role.in_(("user", "lead")),  # visitors are listed by /visitors, as in Intercom
    )
    if condition is not None:
        stmt = stmt.where(condition)
    return keyset_page(db, stmt, Contact.id, per_page=per_page, after_id=after_id)


def tags_of(db: DbSession, workspace_id: str, contact_ids: list[str]) -> dict[str, list[Tag]]:
    """Tags of several contacts in one query, keyed by contact id."""
    result: dict[str, list[Tag]] = {cid: [] for cid in contact_ids}
    if not contact_ids:
        return result
    rows = db.execute(
        select(ContactTag.contact_id, Tag)
        .join(Tag, (Tag.workspace_id == ContactTag.workspace_id) & (Tag.id == ContactTag.tag_id))
        .where(ContactTag.workspace_id == workspace_id, ContactTag.contact_id.in_(contact_ids))
        .order_by(Tag.name)
    )
    for contact_id, tag in rows:
        result[contact_id].append(tag)
    return result


def notes_of(db: DbSession, workspace_id: str, contact_ids: list[str]) -> dict[str, list[Note]]:
    result: dict[str, list[Note]] = {cid: [] for cid in contact_ids}
    if not contact_ids:
        return result
    rows = db.scalars(
        select(Note)
        .where(Note.workspace_id == workspace_id, Note.contact_id.in_(contact_ids))
        .order_by(Note.created_at.desc(), Note.id.desc())
    )
    for note in rows:
        result[note.contact_id].append(note)
    return result


def attach_tag(db: DbSession, link: ContactTag) -> None:
    existing = db.get(ContactTag, (link.workspace_id, link.contact_id, link.tag_id))
    if existing is None:
        db.add(link)
        db.flush()


def detach_tag(db: DbSession, workspace_id: str, contact_id: str, tag_id: str) -> None:
    db.execute(
        delete(ContactTag).where(
            ContactTag.workspace_id == workspace_id,
            ContactTag.contact_id == contact_id,
            ContactTag.tag_id == tag_id,
        )
    )


def add_note(db: DbSession, note: Note) -> Note:
    db.add(note)
    db.flush()
    return note


def lock_identifiers(db: DbSession, workspace_id: str, keys: Iterable[str]) -> None:
    """Hold writers of the same identifiers apart until this transaction ends.

    Users' emails have no unique index (R2 tolerates several users with one email), so the check for an
    existing user needs this lock on PostgreSQL; SQLite already runs one writer at a time.
    """
    if db.get_bind().dialect.name != "postgresql":
        return
    for key in sorted(set(keys)):  # one order everywhere, so two writers cannot deadlock
        db.execute(select(func.pg_advisory_xact_lock(func.hashtextextended(f"{workspace_id}:{key}", 0))))


def leads_with_email(db: DbSession, workspace_id: str, email_normalized: str) -> list[Contact]:
    # Sorted here, not by ORDER BY id: SQLite would then walk the primary key over the whole workspace
    # to skip a sort of a handful of rows, instead of looking the email up in its index.
    found = db.scalars(
        select(Contact).where(
            Contact.workspace_id == workspace_id,
            Contact.email_normalized == email_normalized,
            Contact.role == "lead",
            Contact.merged_into_id.is_(None),
        )
    )
    return sorted(found, key=lambda c: c.id)


def visitor_with_email(db: DbSession, workspace_id: str, email_normalized: str) -> Contact | None:
    """The visitor an email names (a claimed one): live visitors first, then the most recently seen."""
    return db.scalar(
        select(Contact)
        .where(
            Contact.workspace_id == workspace_id,
            Contact.email_normalized == email_normalized,
            Contact.role == "visitor",
        )
        .order_by(
            Contact.merged_into_id.is_(None).desc(),
            func.coalesce(Contact.last_seen_at, 0).desc(),
            Contact.id,
        )
        .limit(1)
    )
