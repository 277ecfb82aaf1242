"""Reviewing duplicates (R5): people approve or reject clusters and suggested pairs.

A rejected cluster ("not the same person") never comes back while its members stay the same; an approved
cluster of two users is merged, forced, which design §3 allows only on explicit approval. A suggested pair
approved or rejected is remembered by its contacts (subject ``a:b``, a < b) and never suggested again,
whichever scan found it (``queue``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy.orm import Session as DbSession

from contactmerge.domain.dedupe import KEYS, HeldKey
from contactmerge.domain.fuzzy import Suggestion
from contactmerge.domain.ids import now
from contactmerge.domain.merging import choose_survivor
from contactmerge.errors import BadRequest, NotFound
from contactmerge.services import merging
from contactmerge.services.duplicates import scan
from contactmerge.services.duplicates.queue import check_paging, loose_page
from contactmerge.storage import batches as repo
from contactmerge.storage import contacts as contacts_repo
from contactmerge.storage.tables import Batch, Contact, DuplicateDecision, Workspace


@dataclass(frozen=True)
class Reviewed:
    planned: scan.PlannedCluster
    decision: str | None  # approved | rejected | None
    decided_by: str | None = None  # the actor of the decision (domain.teammates)


@dataclass(frozen=True)
class Queue:
    clusters: list[Reviewed]
    held: tuple[HeldKey, ...]  # shared keys that link nobody until a person looks (role mailbox, switchboard)


def review(db: DbSession, workspace: Workspace, keys: Iterable[str] = KEYS) -> list[Reviewed]:
    """A fresh scan's clusters with people's verdicts (a verdict holds while the members stay the same)."""
    return queue(db, workspace, keys).clusters


def queue(db: DbSession, workspace: Workspace, keys: Iterable[str] = KEYS) -> Queue:
    """R5 review queue: the reviewed clusters of one fresh scan and the shared keys it held back."""
    verdicts = repo.decisions(db, workspace.id)
    found = []
    plan = scan.scan(db, workspace, tuple(keys))
    for planned in plan.clusters:
        verdict = verdicts.get(planned.cluster.id)
        same = verdict is not None and list(verdict.members) == list(planned.cluster.members)
        if verdict is not None and same:
            found.append(Reviewed(planned, verdict.verdict, verdict.decided_by))
        else:
            found.append(Reviewed(planned, None))
    return Queue(found, plan.held)


def decide(db: DbSession, workspace: Workspace, cluster_id: str, verdict: str, *, actor: str) -> Reviewed:
    current = {r.planned.cluster.id: r for r in review(db, workspace)}
    if cluster_id not in current:
        raise NotFound(f"no duplicate cluster '{cluster_id}' in a scan of this workspace now", field="id")
    planned = current[cluster_id].planned
    _remember(db, workspace, cluster_id, verdict, list(planned.cluster.members), actor)
    return Reviewed(planned, verdict, actor)


def is_pair(subject: str) -> bool:
    """A suggestion's id names its two contacts, ``a:b``; a cluster's id is one contact id."""
    return ":" in subject


def pair_id(contact_a: str, contact_b: str) -> str:
    first, second = sorted((contact_a, contact_b))
    return f"{first}:{second}"


@dataclass(frozen=True)
class Listed:
    items: list[Reviewed | Suggestion]  # one page: clusters first, then suggestions
    total: int  # clusters and suggestions in all
    scan: Batch | None  # the suggestion scan read, None when none has run (or no suggestion was asked)
    pending: Batch | None  # a suggestion scan not finished yet


def listing(
    db: DbSession,
    workspace: Workspace,
    keys: Iterable[str],
    *,
    kinds: Iterable[str],
    min_score: float,
    page: int,
    per_page: int,
) -> Listed:
    """R5 review queue, one page of it: the exact clusters of a fresh scan, then the stored suggestions for
    pairs that no cluster already ties together."""
    check_paging(min_score, page, per_page)
    keys, kinds = tuple(keys), tuple(kinds)
    clusters = review(db, workspace, keys) if "cluster" in kinds else []
    offset = (page - 1) * per_page
    shown: list[Reviewed | Suggestion] = list(clusters[offset : offset + per_page])
    if "suggestion" not in kinds:
        return Listed(shown, len(clusters), None, None)
    every = clusters if "cluster" in kinds and set(keys) == set(KEYS) else review(db, workspace)
    tied = {m: r.planned.cluster.id for r in every for m in r.planned.cluster.members}
    found = loose_page(
        db,
        workspace,
        tied=tied,
        min_score=min_score,
        offset=max(0, offset - len(clusters)),
        limit=per_page - len(shown),
    )
    return Listed([*shown, *found.suggestions], len(clusters) + found.total, found.scan, found.pending)


def reject_pair(db: DbSession, workspace: Workspace, subject: str, *, actor: str) -> tuple[str, str]:
    """Remember two contacts of this workspace as "not the same person": never suggested together again."""
    first, second = (c.id for c in pair_contacts(db, workspace, subject))
    _remember(db, workspace, pair_id(first, second), "rejected", [first, second], actor)
    return first, second


def approve_pair(db: DbSession, workspace: Workspace, subject: str, *, actor: str) -> merging.MergeResult:
    """R5: a person approved a suggestion, so its two contacts are merged now (two users only so, forced)."""
    pair = pair_contacts(db, workspace, subject)
    survivor, absorbed = choose_survivor(*(merging.facts(c) for c in pair))
    result = merging.merge_contacts(
        db,
        workspace,
        absorbed.id,
        survivor.id,
        reason="bulk",
        evidence={"suggestion": pair_id(survivor.id, absorbed.id)},
        force=all(c.role == "user" for c in pair),
        requested_by=actor,
    )
    _remember(
        db,
        workspace,
        pair_id(survivor.id, absorbed.id),
        "approved",
        sorted((survivor.id, absorbed.id)),
        actor,
    )
    return result


def pair_contacts(db: DbSession, workspace: Workspace, subject: str) -> tuple[Contact, Contact]:
    """The two contacts a suggestion id names (two users: approving it is a forced merge)."""
    parts = subject.split(":")
    if len(parts) != 2 or not all(parts) or parts[0] == parts[1]:
        raise BadRequest(f"'{subject}' is not a suggestion id: two contact ids joined by ':'", field="id")
    found = []
    for contact_id in sorted(parts):
        contact = contacts_repo.get(db, workspace.id, contact_id)
        if contact is None:
            raise NotFound(f"Contact Not Found: no contact has id '{contact_id}'", field="id")
        found.append(contact)
    return found[0], found[1]


def _remember(
    db: DbSession, workspace: Workspace, subject: str, verdict: str, members: list[str], actor: str
) -> None:
    repo.decide(
        db,
        DuplicateDecision(
            workspace_id=workspace.id,
            subject=subject,
            verdict=verdict,
            members=members,
            decided_by=actor,
            decided_at=now(),
        ),
    )
