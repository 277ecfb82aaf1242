"""Set-based queries of the duplicate scan: only contacts that share a key ever reach Python."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, select, union
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
    db: DbSession, workspace_id: str, kinds: Sequence[str]
) -> tuple[list[tuple[str, str, list[str]]], dict[str, Any]]:
    """(kind, value, contact ids) for every value of ``kinds`` that two or more live contacts share,
    sorted, and the rows (``MEMBER_COLUMNS``, plain, no ORM objects) of the contacts sharing one.

    One statement: the values shared (``GROUP BY … HAVING count(*) > 1`` per key) pick, as semi-joins,
    the contacts sharing any of them, each once with all its keys; they are grouped here by key. (An
    ``OR`` of ``IN`` subqueries made PostgreSQL re-run a ``GROUP BY`` per contact at 1M contacts; so
    did a server-side cursor.) Only the sharing contacts ever reach Python, so the result is read whole.
    """
    columns = [KEY_COLUMNS[kind] for kind in kinds]
    live = _live(workspace_id)
    sharing = union(
        *(
            select(Contact.id).where(
                *live,
                column.in_(
                    select(column).where(*live, column.is_not(None)).group_by(column).having(func.count() > 1)
                ),
            )
            for column in columns
        )
    )
    result = db.connection().execute(
        select(*MEMBER_COLUMNS, *columns)
        .where(Contact.workspace_id == workspace_id, Contact.id.in_(sharing))
        .order_by(Contact.id)  # each key's ids come sorted: no sort per key here
    )
    first = len(MEMBER_COLUMNS)
    groups: list[dict[str, list[str]]] = [{} for _ in kinds]
    members: dict[str, Any] = {}
    for part in result.partitions(10_000):
        for row in part:
            contact_id = row[0]
            members[contact_id] = row
            for position, group in enumerate(groups, first):
                value = row[position]
                if value is None:
                    continue
                if value in group:
                    group[value].append(contact_id)
                else:
                    group[value] = [contact_id]
    shared = [
        (kind, value, ids)
        for kind, group in zip(kinds, groups, strict=True)
        for value, ids in sorted(item for item in group.items() if len(item[1]) > 1)
    ]
    return shared, members
