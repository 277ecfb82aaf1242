"""Fuzzy duplicate suggestions (R5): blocking, then rapidfuzz similarities scored by the domain rule.

Only pairs inside a block are ever compared; a block larger than ``block_cap`` (a shared switchboard,
a common name in a big city) is skipped and reported instead of compared pair by pair. Suggestions are
never applied: a person approves them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from itertools import combinations

from rapidfuzz import fuzz
from rapidfuzz.distance import Levenshtein
from sqlalchemy.orm import Session as DbSession

from contactmerge.domain.fuzzy import (
    COMPANY_ATTRIBUTES,
    Profile,
    Suggestion,
    block_keys,
    combine,
    name_key,
    provider_email,
)
from contactmerge.errors import BadRequest
from contactmerge.storage import fuzzy as repo
from contactmerge.storage.tables import Workspace

DEFAULT_BLOCK_CAP = 50
DEFAULT_LIMIT = 1000
CLOSE = 0.85  # an email similarity under this counts as a different address


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


def _company(attributes: object) -> str | None:
    if isinstance(attributes, dict):
        for name in COMPANY_ATTRIBUTES:
            value = attributes.get(name)
            if isinstance(value, str) and value.strip():
                return value
    return None


def _digits(text: str) -> str:
    return "".join(c for c in text if c.isdigit())


def _ratio(a: str, b: str) -> float:
    return fuzz.ratio(a, b) / 100.0


def similarities(a: Profile, b: Profile) -> dict[str, float]:
    """The similarity in [0, 1] of every field both contacts have."""
    found: dict[str, float] = {}
    name_a, name_b = name_key(a.name), name_key(b.name)
    if name_a and name_b:
        found["name"] = fuzz.token_sort_ratio(name_a, name_b) / 100.0
    if a.email and b.email:
        email_a, email_b = provider_email(a.email), provider_email(b.email)
        local_a, _, domain_a = email_a.rpartition("@")
        local_b, _, domain_b = email_b.rpartition("@")
        if email_a == email_b:
            found["email"] = 1.0
        else:  # a typo is close; another address of a namesake (john.smith12 vs john.smith87) is not
            close = _ratio(local_a, local_b) * (1.0 if domain_a == domain_b else 0.8)
            numbers_differ = _digits(local_a) != _digits(local_b)
            found["email"] = close if close >= CLOSE and not numbers_differ else 0.0
    if a.phone and b.phone:  # one mistyped digit is close; any other difference is another phone
        distance = Levenshtein.distance(a.phone.lstrip("+"), b.phone.lstrip("+"))
        found["phone"] = 1.0 if distance == 0 else 0.8 if distance == 1 else 0.0
    if a.company and b.company:
        found["company"] = fuzz.token_set_ratio(a.company.lower(), b.company.lower()) / 100.0
    if a.city and b.city:
        found["city"] = _ratio(a.city.lower(), b.city.lower())
    return found


def score_pair(a: Profile, b: Profile) -> Suggestion:
    score, reasons = combine(similarities(a, b))
    first, second = sorted((a.id, b.id))
    return Suggestion(first, second, score, reasons)


def suggest_profiles(
    profiles: Iterable[Profile],
    *,
    min_score: float = 0.8,
    limit: int | None = DEFAULT_LIMIT,
    block_cap: int = DEFAULT_BLOCK_CAP,
) -> FuzzyScan:
    """Suggestions among ``profiles``, best first; blocks over ``block_cap`` skipped and reported."""
    if not 0.0 <= min_score <= 1.0:
        raise BadRequest("min_score is a number between 0 and 1", field="min_score")
    if block_cap < 2:
        raise BadRequest("block_cap is at least 2", field="block_cap")
    people: dict[str, Profile] = {}
    blocks: dict[tuple[str, str], list[str]] = {}
    for profile in profiles:
        keys = block_keys(profile)
        if not keys:
            continue
        people[profile.id] = profile
        for key in keys:
            blocks.setdefault(key, []).append(profile.id)
    pairs: set[tuple[str, str]] = set()
    skipped: list[SkippedBlock] = []
    for (kind, value), ids in blocks.items():
        if len(ids) < 2:
            continue
        if len(ids) > block_cap:
            skipped.append(SkippedBlock(kind, value, len(ids)))
            continue
        pairs.update((min(x, y), max(x, y)) for x, y in combinations(ids, 2))
    found = [s for x, y in pairs if (s := score_pair(people[x], people[y])).score >= min_score]
    found.sort(key=lambda s: (-s.score, s.contact_a, s.contact_b))
    return FuzzyScan(
        tuple(found if limit is None else found[:limit]),
        tuple(sorted(skipped, key=lambda b: (-b.size, b.kind, b.value))),
        len(pairs),
    )


def scan(
    db: DbSession,
    workspace: Workspace,
    *,
    min_score: float = 0.8,
    limit: int | None = DEFAULT_LIMIT,
    block_cap: int = DEFAULT_BLOCK_CAP,
) -> FuzzyScan:
    """R5 fuzzy mode over the live contacts of a workspace: suggestions and the blocks skipped."""
    rows = (
        Profile(
            r.id, r.name, r.email_normalized, r.phone_e164, _company(r.custom_attributes), r.location_city
        )
        for r in repo.profiles(db, workspace.id)
    )
    return suggest_profiles(rows, min_score=min_score, limit=limit, block_cap=block_cap)


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
