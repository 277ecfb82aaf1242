"""Set-based queries of the duplicate scan: only contacts that share a key ever reach Python."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session as DbSession

from contactmerge.storage.tables import Contact

KEY_COLUMNS: dict[str, Any] = {
    "email": Contact.email_normalized,
    "external_id": Contact.external_id,
    "phone": Contact.phone_e164,
}


def _live(workspace_id: str) -> list[Any]:
    return [
        Contact.workspace_id == workspace_id,
        Contact.merged_into_id.is_(None),
        Contact.role.in_(("user", "lead")),
    ]


def shared_keys(db: DbSession, workspace_id: str, kind: str) -> Iterator[tuple[str, list[str]]]:
    """(value, contact ids) for every value of ``kind`` that two or more live contacts share."""
    column = KEY_COLUMNS[kind]
    shared = (
        select(column)
        .where(*_live(workspace_id), column.is_not(None))
        .group_by(column)
        .having(func.count() > 1)
    )
    rows = db.execute(
        select(column, Contact.id)
        .where(*_live(workspace_id), column.in_(shared))
        .order_by(column, Contact.id)
        .execution_options(yield_per=5000)
    )
    current: str | None = None
    ids: list[str] = []
    for value, contact_id in rows:
        if value != current:
            if current is not None:
                yield current, ids
            current, ids = value, []
        ids.append(contact_id)
    if current is not None:
        yield current, ids


def members(db: DbSession, workspace_id: str, ids: list[str]) -> list[Any]:
    """What the rules need of each contact, in chunks (no ORM objects)."""
    found: list[Any] = []
    for start in range(0, len(ids), 1000):
        found.extend(
            db.execute(
                select(
                    Contact.id,
                    Contact.role,
                    Contact.name,
                    Contact.created_at,
                    Contact.last_seen_at,
                    Contact.external_id,
                    Contact.email_normalized,
                    Contact.email_verified,
                ).where(Contact.workspace_id == workspace_id, Contact.id.in_(ids[start : start + 1000]))
            ).all()
        )
    return found
