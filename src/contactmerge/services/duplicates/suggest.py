"""Fuzzy duplicate suggestions (R5): blocking, then rapidfuzz similarities scored by the domain rule.

Only pairs inside a block are ever compared; a block larger than ``block_cap`` (a shared switchboard,
a common name in a big city) is skipped and reported instead of compared pair by pair. In a workspace
the database does the blocking and hands over one block at a time, so memory holds one block, the pairs
already compared and the suggestions, never every contact. Suggestions are never applied: a person
approves them.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from itertools import combinations

from sqlalchemy.orm import Session as DbSession

from contactmerge.domain.attributes import INT64_RANGE
from contactmerge.domain.fuzzy import (
    Profile,
    Suggestion,
    block_keys,
    block_values,
    company_of,
)
from contactmerge.errors import BadRequest
from contactmerge.services.duplicates.scoring import score_pair
from contactmerge.storage import fuzzy as repo
from contactmerge.storage.tables import Workspace

DEFAULT_BLOCK_CAP = 50
DEFAULT_LIMIT = 1000


@dataclass(frozen=True)
class SkippedBlock:
    kind: str
    value: str
    size: int


@dataclass(frozen=True)
class FuzzyScan:
    suggestions: tuple[Suggestion, ...]
    skipped_blocks: tuple[SkippedBlock, ...]
    pairs_compared: int


def _check(min_score: float, block_cap: int) -> None:
    if not 0.0 <= min_score <= 1.0:
        raise BadRequest("min_score is a number between 0 and 1", field="min_score")
    if not 2 <= block_cap <= INT64_RANGE[1]:  # SQL compares it with a count: a 64-bit integer
        raise BadRequest("block_cap is at least 2, and fits in 64 bits", field="block_cap")


def _score_blocks(
    blocks: Iterable[tuple[str, str, int, Sequence[Profile]]],
    *,
    min_score: float,
    limit: int | None,
    block_cap: int,
) -> FuzzyScan:
    """Every pair inside a block of at most ``block_cap`` scored once; larger blocks only reported."""
    compared: set[tuple[str, str]] = set()
    found: list[Suggestion] = []
    skipped: list[SkippedBlock] = []
    for kind, value, size, members in blocks:
        if size > block_cap:
            skipped.append(SkippedBlock(kind, value, size))
            continue
        for a, b in combinations(members, 2):
            pair = (a.id, b.id) if a.id < b.id else (b.id, a.id)
            if pair in compared:  # two contacts sharing several keys meet in several blocks
                continue
            compared.add(pair)
            if (suggestion := score_pair(a, b)).score >= min_score:
                found.append(suggestion)
    found.sort(key=lambda s: (-s.score, s.contact_a, s.contact_b))
    return FuzzyScan(
        tuple(found if limit is None else found[:limit]),
        tuple(sorted(skipped, key=lambda b: (-b.size, b.kind, b.value))),
        len(compared),
    )


def suggest_profiles(
    profiles: Iterable[Profile],
    *,
    min_score: float = 0.8,
    limit: int | None = DEFAULT_LIMIT,
    block_cap: int = DEFAULT_BLOCK_CAP,
) -> FuzzyScan:
    """Suggestions among ``profiles`` (blocked in memory), best first; blocks over ``block_cap`` reported."""
    _check(min_score, block_cap)
    blocks: dict[tuple[str, str], list[Profile]] = {}
    for profile in profiles:
        for key in block_keys(profile):
            blocks.setdefault(key, []).append(profile)
    shared = (
        (kind, value, len(members), members)
        for (kind, value), members in sorted(blocks.items())
        if len(members) > 1
    )
    return _score_blocks(shared, min_score=min_score, limit=limit, block_cap=block_cap)


def scan(
    db: DbSession,
    workspace: Workspace,
    *,
    min_score: float = 0.8,
    limit: int | None = DEFAULT_LIMIT,
    block_cap: int = DEFAULT_BLOCK_CAP,
) -> FuzzyScan:
    """R5 fuzzy mode over the live contacts of a workspace: suggestions and the blocks skipped."""
    _check(min_score, block_cap)
    return _score_blocks(
        _stored_blocks(db, workspace.id, block_cap), min_score=min_score, limit=limit, block_cap=block_cap
    )


def _stored_blocks(
    db: DbSession, workspace_id: str, block_cap: int
) -> Iterator[tuple[str, str, int, list[Profile]]]:
    """The database's blocks, one at a time, each member checked against the exact domain keys: the SQL
    of a key may only approximate the Python normalization (PostgreSQL's regular expressions), and a
    contact the domain would not put in a block is never compared for it."""
    for block in repo.blocks(db, workspace_id, block_cap):
        people = [
            Profile(row[0], row[1], row[2], row[3], company_of(row[5]), row[4]) for row in block.members
        ]
        kind, value = block.kind, block.value
        yield kind, value, block.size, [p for p in people if value in block_values(p, kind)]


def suggest(
    db: DbSession,
    workspace: Workspace,
    *,
    min_score: float = 0.8,
    limit: int | None = DEFAULT_LIMIT,
    block_cap: int = DEFAULT_BLOCK_CAP,
) -> list[Suggestion]:
    """The fuzzy duplicate suggestions of a workspace, best first (never applied automatically)."""
    return list(scan(db, workspace, min_score=min_score, limit=limit, block_cap=block_cap).suggestions)
