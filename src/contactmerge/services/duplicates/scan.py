"""Bulk duplicate detection and merge (R5): scan, plan, apply as one batch, undo the batch."""

from __future__ import annotations

import gc
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session as DbSession

from contactmerge.domain.dedupe import (
    KEYS,
    Cluster,
    HeldKey,
    cluster,
    needs_approval,
    survivor,
)
from contactmerge.errors import BadRequest
from contactmerge.storage import dedupe as repo
from contactmerge.storage import statistics
from contactmerge.storage.tables import Workspace


@dataclass(frozen=True)
class PlannedCluster:
    cluster: Cluster
    survivor: str
    absorbed: tuple[str, ...]
    blocked: str | None  # why it is not applied without approval


@dataclass(frozen=True)
class DedupePlan:
    clusters: tuple[PlannedCluster, ...]
    held: tuple[HeldKey, ...]

    def summary(self) -> dict[str, Any]:
        by_key: dict[str, int] = {}
        for planned in self.clusters:
            for kind in {k.kind for k in planned.cluster.keys}:
                by_key[kind] = by_key.get(kind, 0) + 1
        return {
            "clusters": len(self.clusters),
            "clusters_by_key": by_key,
            "contacts_affected": sum(len(p.cluster.members) for p in self.clusters),
            "merges_planned": sum(len(p.absorbed) for p in self.clusters if p.blocked is None),
            "clusters_needing_approval": sum(1 for p in self.clusters if p.blocked),
            "shared_keys_held_for_review": len(self.held),
        }


def parse_keys(text: str | None) -> tuple[str, ...]:
    if not text:
        return KEYS
    chosen = tuple(k.strip() for k in text.split(",") if k.strip())
    unknown = [k for k in chosen if k not in KEYS]
    if unknown or not chosen:
        raise BadRequest(f"keys are a comma-separated choice of {', '.join(KEYS)}", field="keys")
    return chosen


@contextmanager
def _no_cyclic_gc() -> Iterator[None]:
    """Pause the cyclic garbage collector while a scan builds its (acyclic) objects.

    A scan of a large workspace creates a few hundred thousand small objects that all stay alive;
    every collection triggered on the way walks all of them again, which cost a third of the scan.
    Reference counting still frees everything; the collector resumes at once afterwards.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def scan(db: DbSession, workspace: Workspace, keys: Iterable[str] = KEYS) -> DedupePlan:
    """R5: the duplicate clusters of a workspace by exact keys, each with its survivor (design §3 order)."""
    with _no_cyclic_gc():
        return _scan(db, workspace, keys)


def _scan(db: DbSession, workspace: Workspace, keys: Iterable[str]) -> DedupePlan:
    settings = workspace.settings or {}
    statistics.refresh_if_stale(db)  # right after a bulk load, a stale plan made this scan 450 times slower
    shared, facts = repo.shared_keys(
        db,
        workspace.id,
        tuple(dict.fromkeys(keys)),
        provider_rules=bool(settings.get("dedupe_provider_rules", False)),
    )
    found = cluster(shared, facts, settings.get("identifier_blocklist", ()))
    planned = []
    for c in found.clusters:
        people = [facts[m] for m in c.members]
        keeper = survivor(people)
        planned.append(
            PlannedCluster(
                c, keeper.id, tuple(m for m in c.members if m != keeper.id), needs_approval(people)
            )
        )
    return DedupePlan(tuple(planned), found.held)
