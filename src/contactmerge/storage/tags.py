"""Workspace tags."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session as DbSession

from contactmerge.storage.tables import Tag


def get(db: DbSession, workspace_id: str, tag_id: str) -> Tag | None:
    return db.get(Tag, (workspace_id, tag_id))


def by_name(db: DbSession, workspace_id: str, name: str) -> Tag | None:
    return db.scalar(select(Tag).where(Tag.workspace_id == workspace_id, Tag.name == name))


def add(db: DbSession, tag: Tag) -> Tag:
    db.add(tag)
    db.flush()
    return tag


def all_tags(db: DbSession, workspace_id: str) -> list[Tag]:
    return list(db.scalars(select(Tag).where(Tag.workspace_id == workspace_id).order_by(Tag.name)))
