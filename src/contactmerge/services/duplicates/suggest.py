"""Fuzzy duplicate suggestions (R5): blocking, then each pair compared, the pair model fitted, scored.

Only pairs inside a block are ever compared; a block larger than ``block_cap`` (a shared switchboard,
a common name in a big city) is skipped and reported instead of compared pair by pair (a name part in a
city is also blocked with another part's initial, so a common first name's sub-blocks of at most
``SUB_BLOCK_CAP`` still are). In a
workspace the database does the blocking and hands over one block at a time, so memory holds one block,
the comparisons (a few levels per pair) and the suggestions, never every contact. Once every pair is
compared, the Fellegi-Sunter weights are refitted by EM on them (``scoring.fit``), and each pair scored
by them. Suggestions are never applied: a person approves them.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from itertools import combinations
from typing import Any

from sqlalchemy.orm import Session as DbSession

from contactmerge.domain.attributes import INT64_RANGE
from contactmerge.domain.fellegi_sunter import PairModel, Vector
from contactmerge.domain.fuzzy import (
    DEFAULT_MODEL,
    SUB_BLOCK_CAP,
    Profile,
    Suggestion,
    block_values,
    blocks_of,
    company_of,
    judge,
)
from contactmerge.errors import BadRequest
from contactmerge.services.duplicates import scoring
from contactmerge.services.duplicates.scoring import Compared
from contactmerge.storage import fuzzy as repo
from contactmerge.storage.tables import Workspace

DEFAULT_BLOCK_CAP = 50
DEFAULT_LIMIT = 1000
DEFAULT_MIN_SCORE = 0.8  # match probability: see docs/merging.md, "Quality"


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
    model: PairModel = DEFAULT_MODEL  # the weights the pairs were scored with (fitted on them when enough)


def _check(min_score: float, block_cap: int) -> None:
    if not 0.0 <= min_score <= 1.0:
        raise BadRequest("min_score is a number between 0 and 1", field="min_score")
    if not 2 <= block_cap <= INT64_RANGE[1]:  # SQL compares it with a count: a 64-bit integer
        raise BadRequest("block_cap is at least 2, and fits in 64 bits", field="block_cap")


def _score_blocks(
    blocks: Iterable[tuple[str, str, int, Sequence[Profile]]],
    *,
    sample: Callable[[], tuple[int, Sequence[Profile]]],
    min_score: float,
    limit: int | None,
    block_cap: int,
) -> FuzzyScan:
    """Every pair inside a block of at most ``block_cap`` compared once, larger blocks only reported;
    then the model fitted on all the comparisons and on random pairs of ``sample()`` (the number of
    contacts, and some of them), and the pairs scored by it."""
    compared: dict[tuple[str, str], Compared] = {}
    phone_counts: dict[str, int] = {}  # the size of every phone's block: a household or a switchboard
    skipped: list[SkippedBlock] = []
    for kind, value, size, members in blocks:
        if kind == "phone":
            phone_counts[value] = size
        if size > (min(block_cap, SUB_BLOCK_CAP) if kind == "name_part_initial_city" else block_cap):
            skipped.append(SkippedBlock(kind, value, size))
            continue
        for a, b in combinations(members, 2):
            pair = (a.id, b.id) if a.id < b.id else (b.id, a.id)
            if pair not in compared:  # two contacts sharing several keys meet in several blocks
                compared[pair] = scoring.compare(a, b)
    patterns: dict[Vector, int] = {}
    for comparison in compared.values():
        vector = scoring.vector_of(comparison, phone_counts)
        patterns[vector] = patterns.get(vector, 0) + 1
    contacts, drawn = sample()
    strangers = scoring.random_pairs(drawn, phone_counts)
    model = scoring.fit(patterns, strangers, scoring.same_rates(drawn, contacts), contacts)
    passing = {vector for vector in patterns if _bound(model, vector) >= min_score}
    found = [
        suggestion
        for (a, b), comparison in compared.items()
        if scoring.vector_of(comparison, phone_counts) in passing
        and (suggestion := scoring.suggestion(a, b, comparison, model, phone_counts)).score >= min_score
    ]
    found.sort(key=lambda s: (-s.score, s.contact_a, s.contact_b))
    return FuzzyScan(
        tuple(found if limit is None else found[:limit]),
        tuple(sorted(skipped, key=lambda b: (-b.size, b.kind, b.value))),
        len(compared),
        model,
    )


def _bound(model: PairModel, vector: Vector) -> float:
    return judge(model, vector)[0]


def suggest_profiles(
    profiles: Iterable[Profile],
    *,
    min_score: float = DEFAULT_MIN_SCORE,
    limit: int | None = DEFAULT_LIMIT,
    block_cap: int = DEFAULT_BLOCK_CAP,
) -> FuzzyScan:
    """Suggestions among ``profiles`` (blocked in memory), best first; blocks over ``block_cap`` reported."""
    _check(min_score, block_cap)
    everyone = sorted(profiles, key=lambda p: p.id)
    shared = (
        (kind, value, len(members), members)
        for (kind, value), members in sorted(blocks_of(everyone, block_cap).items())
    )

    def sample() -> tuple[int, Sequence[Profile]]:
        drawn = random.Random(scoring.RANDOM_SEED).sample(everyone, min(len(everyone), scoring.SAMPLE))
        return len(everyone), drawn

    return _score_blocks(shared, sample=sample, min_score=min_score, limit=limit, block_cap=block_cap)


def scan(
    db: DbSession,
    workspace: Workspace,
    *,
    min_score: float = DEFAULT_MIN_SCORE,
    limit: int | None = DEFAULT_LIMIT,
    block_cap: int = DEFAULT_BLOCK_CAP,
) -> FuzzyScan:
    """R5 fuzzy mode over the live contacts of a workspace: suggestions and the blocks skipped."""
    _check(min_score, block_cap)

    def sample() -> tuple[int, list[Profile]]:
        contacts, rows = repo.sample(db, workspace.id, scoring.SAMPLE)
        return contacts, [_profile(row) for row in rows]

    return _score_blocks(
        _stored_blocks(db, workspace.id, block_cap),
        sample=sample,
        min_score=min_score,
        limit=limit,
        block_cap=block_cap,
    )


def _profile(row: Any) -> Profile:
    """A profile from a row of ``storage.fuzzy``: id, name, email, phone, city, custom attributes."""
    return Profile(row[0], row[1], row[2], row[3], company_of(row[5]), row[4])


def _stored_blocks(
    db: DbSession, workspace_id: str, block_cap: int
) -> Iterator[tuple[str, str, int, list[Profile]]]:
    """The database's blocks, one at a time, each member checked against the exact domain keys: the SQL
    of a key may only approximate the Python normalization (PostgreSQL's regular expressions), and a
    contact the domain would not put in a block is never compared for it."""
    for block in repo.blocks(db, workspace_id, block_cap):
        people = [_profile(row) for row in block.members]
        kind, value = block.kind, block.value
        yield kind, value, block.size, [p for p in people if value in block_values(p, kind)]
