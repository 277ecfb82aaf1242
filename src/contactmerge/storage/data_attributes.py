"""The workspace's schema of custom attributes."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session as DbSession

from contactmerge.storage.tables import DataAttribute


def all_attributes(db: DbSession, workspace_id: str, *, include_archived: bool = True) -> list[DataAttribute]:
    stmt = select(DataAttribute).where(DataAttribute.workspace_id == workspace_id)
    if not include_archived:
        stmt = stmt.where(DataAttribute.archived.is_(False))
    return list(db.scalars(stmt.order_by(DataAttribute.id)))


def by_name(db: DbSession, workspace_id: str, name: str) -> DataAttribute | None:
    return db.scalar(
        select(DataAttribute).where(DataAttribute.workspace_id == workspace_id, DataAttribute.name == name)
    )


def get(db: DbSession, workspace_id: str, attribute_id: int) -> DataAttribute | None:
    return db.get(DataAttribute, (workspace_id, attribute_id))


def next_id(db: DbSession, workspace_id: str) -> int:
    current = db.scalar(select(func.max(DataAttribute.id)).where(DataAttribute.workspace_id == workspace_id))
    return (current or 0) + 1


def add(db: DbSession, attribute: DataAttribute) -> DataAttribute:
    db.add(attribute)
    db.flush()
    return attribute
