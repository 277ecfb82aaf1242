"""Keyset pagination: a page is the rows after an id, in id order; the total is counted separately."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

from sqlalchemy import Select, func, select
from sqlalchemy.orm import InstrumentedAttribute
from sqlalchemy.orm import Session as DbSession

T = TypeVar("T")


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    total_count: int
    has_more: bool


def keyset_page(
    db: DbSession,
    stmt: Select[T],
    id_column: InstrumentedAttribute[str],
    *,
    per_page: int,
    after_id: str | None,
) -> Page[T]:
    """Rows of ``stmt`` ordered by ``id_column``, ``per_page`` of them after ``after_id``."""
    total = db.scalar(select(func.count()).select_from(stmt.order_by(None).subquery())) or 0
    paged = stmt.order_by(id_column)
    if after_id is not None:
        paged = paged.where(id_column > after_id)
    rows = list(db.scalars(paged.limit(per_page + 1)))
    return Page(items=rows[:per_page], total_count=total, has_more=len(rows) > per_page)
