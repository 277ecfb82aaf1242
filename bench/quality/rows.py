"""Rows for the quality benchmark's contacts, and the precision, recall and F1 of a set of pairs."""

from __future__ import annotations

from collections.abc import Iterable
from itertools import combinations
from typing import Any

from contactmerge.domain.ids import new_id

STAMP = 1_700_000_000


def row(workspace_id: str, **fields: Any) -> dict[str, Any]:
    """A contacts row (a lead) with ``fields``."""
    return {
        "workspace_id": workspace_id,
        "id": new_id(),
        "role": "lead",
        "custom_attributes": {},
        "unsubscribed_from_emails": False,
        "archived": False,
        "email_verified": False,
        "created_at": STAMP,
        "updated_at": STAMP,
        **fields,
    }


def true_pairs(entity: dict[str, str]) -> set[tuple[str, str]]:
    """Every pair of contacts of one entity, ids in order."""
    by_entity: dict[str, list[str]] = {}
    for contact_id, label in entity.items():
        by_entity.setdefault(label, []).append(contact_id)
    return {(min(a, b), max(a, b)) for ids in by_entity.values() for a, b in combinations(ids, 2)}


def quality(found: Iterable[tuple[str, str]], truth: set[tuple[str, str]]) -> dict[str, float]:
    found = set(found)
    hits = len(found & truth)
    precision = hits / len(found) if found else 1.0
    recall = hits / len(truth) if truth else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "precision": round(precision, 4),
        "recall": round(recall, 4),
        "f1": round(f1, 4),
        "pairs": len(found),
    }
