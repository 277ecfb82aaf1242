"""Set-based queries of the duplicate scan: only contacts that share a key ever reach Python."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import and_, func, literal, select, text, union_all
from sqlalchemy.orm import Session as DbSession

from contactmerge.storage.db import without_jit
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


MEMBER_COLUMNS = (
    Contact.id,
    Contact.role,
    Contact.name,
    Contact.created_at,
    Contact.last_seen_at,
    Contact.external_id,
    Contact.email_normalized,
    Contact.email_verified,
)


def shared_keys(
    db: DbSession, workspace_id: str, kinds: Sequence[str]
) -> tuple[list[tuple[str, str, list[str]]], dict[str, Any]]:
    """(kind, value, contact ids) for every value of ``kinds`` that two or more live contacts share,
    sorted, and the rows (``MEMBER_COLUMNS``, plain, no ORM objects) of the contacts sharing one.

    One statement: per key, the values shared (``GROUP BY … HAVING count(*) > 1``) joined back to the
    contacts holding them, all keys in one ``UNION ALL`` ordered by key, value and contact, so each
    shared value's contacts arrive together and sorted. (An ``OR`` of ``IN`` subqueries made PostgreSQL
    re-run a ``GROUP BY`` per contact at 1M contacts; so did a server-side cursor; picking the contacts
    by a ``UNION`` of semi-joins and reading them again cost a sort and a scan of every contact.) Only the
    sharing contacts ever reach Python, so the result is read whole.
    """
    live = _live(workspace_id)
    by_key = []
    for kind in kinds:
        column = KEY_COLUMNS[kind]
        shared = (
            select(column.label("value"))
            .where(*live, column.is_not(None))
            .group_by(column)
            .having(func.count() > 1)
            .subquery()
        )
        by_key.append(
            select(literal(kind).label("kind"), shared.c.value, *MEMBER_COLUMNS)
            .join_from(shared, Contact, and_(Contact.workspace_id == workspace_id, column == shared.c.value))
            .where(*live)
        )
    without_jit(db)
    result = db.connection().execute(union_all(*by_key).order_by(text("kind"), text("value"), text("id")))
    found: list[tuple[str, str, list[str]]] = []
    members: dict[str, Any] = {}
    current: tuple[str, str] | None = None
    ids: list[str] = []
    for part in result.partitions(10_000):
        for row in part:
            contact_id = row[2]
            if contact_id not in members:
                members[contact_id] = row[2:]
            if (row[0], row[1]) != current:
                current, ids = (row[0], row[1]), []
                found.append((row[0], row[1], ids))
            ids.append(contact_id)
    return found, members
