"""The stored queue of fuzzy duplicate suggestions (R5): one suggestion scan's scored pairs, by rank.

Reading the queue never scans: a page is an index range of ``(workspace_id, scan_id, rank)`` with the
pairs people already decided on, and the pairs one of whose contacts is no longer live (merged, archived,
deleted), filtered out in SQL, so a page costs the same at 10k contacts as at 10M.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from itertools import islice
from typing import Any

from sqlalchemy import delete, exists, func, select
from sqlalchemy.orm import Session as DbSession
from sqlalchemy.orm import aliased

from contactmerge.storage.db import without_jit
from contactmerge.storage.tables import Contact, DuplicateDecision, DuplicateSuggestion

CHUNK = 5_000  # rows per round trip: ~100k suggestions at 1M contacts go in 20
COLUMN_NAMES = "workspace_id, scan_id, contact_a, contact_b, rank, score, reasons"


@dataclass(frozen=True)
class Stored:
    rank: int
    contact_a: str
    contact_b: str
    score: float
    reasons: tuple[str, ...]


def write(
    db: DbSession,
    workspace_id: str,
    scan_id: str,
    rows: Iterable[tuple[str, str, float, Sequence[str]]],
    *,
    progress: Callable[[int], object] | None = None,
) -> int:
    """Store ``rows`` (contact_a, contact_b, score, reasons), best first, ranked from 0; how many.

    At the driver, as the import writes contacts: ``COPY`` on PostgreSQL, ``executemany`` on SQLite, a
    chunk at a time (``progress(done)`` after each); SQLAlchemy's own executemany cost as much again."""
    connection = db.connection()
    done = 0
    ranked = iter(rows)
    while chunk := list(islice(ranked, CHUNK)):
        values = [
            (workspace_id, scan_id, a, b, done + i, score, json.dumps(list(reasons)))
            for i, (a, b, score, reasons) in enumerate(chunk)
        ]
        if connection.dialect.name == "postgresql":
            with (
                connection.connection.driver_connection.cursor() as cursor,  # type: ignore[union-attr]
                cursor.copy(f"COPY duplicate_suggestions ({COLUMN_NAMES}) FROM STDIN") as copy,
            ):
                for value in values:
                    copy.write_row(value)
        else:
            connection.exec_driver_sql(
                f"INSERT INTO duplicate_suggestions ({COLUMN_NAMES}) VALUES (?, ?, ?, ?, ?, ?, ?)", values
            )
        done += len(chunk)
        if progress is not None:
            progress(done)
    return done


def lock_queue(db: DbSession, workspace_id: str) -> None:
    """Hold other suggestion scans of the workspace from replacing the queue until this transaction ends
    (PostgreSQL; SQLite runs one writer at a time already)."""
    if db.get_bind().dialect.name == "postgresql":
        key = f"{workspace_id}:suggestion-queue"
        db.execute(select(func.pg_advisory_xact_lock(func.hashtextextended(key, 0))))


def drop_other_scans(db: DbSession, workspace_id: str, scan_id: str) -> None:
    """Forget every scan of the workspace but ``scan_id`` (a finished scan replaces the queue)."""
    db.execute(
        delete(DuplicateSuggestion).where(
            DuplicateSuggestion.workspace_id == workspace_id, DuplicateSuggestion.scan_id != scan_id
        )
    )


def _open(workspace_id: str, scan_id: str, min_score: float) -> list[Any]:
    """The conditions of a pair still to review: scored high enough, undecided, both contacts live.

    Semi-joins, so the planner probes the contacts' primary key per queued pair when the queue is small
    beside the workspace, and hashes the workspace's contacts only when the queue holds a large share of
    them (a scalar subquery forced the probes, and was three times slower there)."""
    s = DuplicateSuggestion
    decided = exists().where(
        DuplicateDecision.workspace_id == workspace_id,
        DuplicateDecision.subject == s.contact_a + ":" + s.contact_b,
    )
    conditions = [s.workspace_id == workspace_id, s.scan_id == scan_id, s.score >= min_score, ~decided]
    for column in (s.contact_a, s.contact_b):
        c = aliased(Contact)
        conditions.append(
            exists().where(
                c.workspace_id == workspace_id,
                c.id == column,
                c.merged_into_id.is_(None),
                c.archived.is_(False),
            )
        )
    return conditions


def _stored(row: Any) -> Stored:
    return Stored(row.rank, row.contact_a, row.contact_b, row.score, tuple(row.reasons or ()))


COLUMNS = (
    DuplicateSuggestion.rank,
    DuplicateSuggestion.contact_a,
    DuplicateSuggestion.contact_b,
    DuplicateSuggestion.score,
    DuplicateSuggestion.reasons,
)


def page(
    db: DbSession, workspace_id: str, scan_id: str, *, min_score: float, offset: int, limit: int
) -> tuple[list[Stored], int]:
    """One page of the open pairs of a scan, by rank, and how many open pairs there are in all."""
    conditions = _open(workspace_id, scan_id, min_score)
    without_jit(db)  # costed high enough for JIT, which compiled for longer than the count ran
    total = db.scalar(select(func.count()).select_from(DuplicateSuggestion).where(*conditions)) or 0
    if offset >= total:  # past the end (a page number may be larger than any SQL offset)
        return [], total
    rows = db.execute(
        select(*COLUMNS).where(*conditions).order_by(DuplicateSuggestion.rank).offset(offset).limit(limit)
    )
    return [_stored(row) for row in rows], total


def open_pairs(
    db: DbSession, workspace_id: str, scan_id: str, *, min_score: float
) -> Iterator[tuple[int, str, str]]:
    """Every open pair of a scan by rank, as (rank, contact_a, contact_b): only ids, streamed."""
    stmt = (
        select(DuplicateSuggestion.rank, DuplicateSuggestion.contact_a, DuplicateSuggestion.contact_b)
        .where(*_open(workspace_id, scan_id, min_score))
        .order_by(DuplicateSuggestion.rank)
    )
    without_jit(db)
    for row in db.execute(stmt, execution_options={"yield_per": 10_000}):
        yield row[0], row[1], row[2]


def by_ranks(db: DbSession, workspace_id: str, scan_id: str, ranks: Sequence[int]) -> list[Stored]:
    if not ranks:
        return []
    rows = db.execute(
        select(*COLUMNS)
        .where(
            DuplicateSuggestion.workspace_id == workspace_id,
            DuplicateSuggestion.scan_id == scan_id,
            DuplicateSuggestion.rank.in_(list(ranks)),
        )
        .order_by(DuplicateSuggestion.rank)
    )
    return [_stored(row) for row in rows]


def count(db: DbSession, workspace_id: str) -> int:
    """Every stored suggestion row of the workspace, whatever its scan (a replaced scan leaves none)."""
    return (
        db.scalar(
            select(func.count())
            .select_from(DuplicateSuggestion)
            .where(DuplicateSuggestion.workspace_id == workspace_id)
        )
        or 0
    )
