"""Set-based queries of the duplicate scan: only contacts that share a key ever reach Python."""

from __future__ import annotations

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
    db: DbSession, workspace_id: str, kind: str, members: dict[str, Any]
) -> list[tuple[str, list[str]]]:
    """(value, contact ids) for every value of ``kind`` that two or more live contacts share, sorted.

    One statement per key: the values shared (``GROUP BY … HAVING count(*) > 1``) and, in the same
    query, what the rules need of every contact sharing one, added to ``members`` by id (plain rows, no
    ORM objects). Only the sharing contacts ever reach Python.
    """
    column = KEY_COLUMNS[kind]
    shared = (
        select(column)
        .where(*_live(workspace_id), column.is_not(None))
        .group_by(column)
        .having(func.count() > 1)
    )
    result = db.connection().execute(
        select(column, *MEMBER_COLUMNS)
        .where(*_live(workspace_id), column.in_(shared))
        .execution_options(yield_per=10_000)
    )
    groups: dict[str, list[str]] = {}
    for part in result.partitions():
        for row in part:
            value, contact_id = row[0], row[1]
            if value in groups:
                groups[value].append(contact_id)
            else:
                groups[value] = [contact_id]
            members[contact_id] = row
    return [(value, sorted(ids)) for value, ids in sorted(groups.items())]
