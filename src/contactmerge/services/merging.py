"""Merging (R1-R5): plan with the pure rules, apply in one transaction with set-based SQL, undo it.

``merge_contacts`` locks both contacts in id order, asks ``plan_merge`` for the plan, applies it, stores
it as the merge record. Requesting the same merge again returns the first record (idempotent). Nothing
here commits: the caller's transaction makes the merge all or nothing.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session as DbSession

from contactmerge.domain.ids import new_id, now
from contactmerge.domain.merging import (
    PLAIN_FIELDS,
    ContactFacts,
    MergePlan,
    MergePolicy,
    MergeRefused,
    Reason,
    plan_merge,
)
from contactmerge.errors import NotFound, merge_refused
from contactmerge.services.merge_apply import Accepted, adopt, apply_wave
from contactmerge.services.merge_undo import undo_batch, undo_merge
from contactmerge.storage import merges as repo
from contactmerge.storage.paging import Page
from contactmerge.storage.tables import Contact, Merge, Workspace

DAY = 86_400


@dataclass(frozen=True)
class MergeResult:
    merge: Merge
    survivor: Contact
    replayed: bool = False

    @property
    def held(self) -> bool:
        return self.merge.state == "held"


def facts(contact: Contact) -> ContactFacts:
    return ContactFacts(
        id=contact.id,
        workspace_id=contact.workspace_id,
        role=contact.role,
        created_at=contact.created_at,
        last_seen_at=contact.last_seen_at,
        external_id=contact.external_id,
        email=contact.email,
        email_normalized=contact.email_normalized,
        email_verified=contact.email_verified,
        phone=contact.phone,
        phone_e164=contact.phone_e164,
        merged_into_id=contact.merged_into_id,
        fields={name: getattr(contact, name) for name in PLAIN_FIELDS},
        custom_attributes=dict(contact.custom_attributes),
    )


def policy_for(
    workspace: Workspace, *, force: bool = False, skip_duplicate_validation: bool = False
) -> MergePolicy:
    settings = workspace.settings or {}
    return MergePolicy(
        force=force,
        skip_duplicate_validation=skip_duplicate_validation,
        blocklist=tuple(settings.get("identifier_blocklist", ())),
        fan_in_cap=int(settings.get("merge_fan_in_cap", 50)),
        prefer_source=frozenset(settings.get("merge_prefer_source", ())),
    )


def preview_merge(
    db: DbSession,
    workspace: Workspace,
    source_id: str,
    target_id: str,
    *,
    force: bool = False,
    skip_duplicate_validation: bool = False,
    reason: Reason = "api",
    evidence: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Dry run: the full plan (rows by kind, each attribute's outcome) or the refusal; nothing is written."""
    source, target = _load(db, workspace, source_id, target_id, lock=False)
    if source.merged_into_id == target.id:
        existing = repo.applied_merge_of(db, workspace.id, source.id)
        if existing is not None:
            return {
                "would_merge": False,
                "already_merged": True,
                "merge_id": existing.id,
                "plan": existing.plan,
            }
    outcome = _plan(db, workspace, source, target, force, skip_duplicate_validation, reason, evidence)
    if isinstance(outcome, MergeRefused):
        return {
            "would_merge": False,
            "refusal": {"code": outcome.code, "message": outcome.message, "field": outcome.field},
        }
    return {
        "would_merge": True,
        "plan": plan_to_json(outcome),
        "rows": repo.count_rows(db, workspace.id, source.id),
    }


@dataclass(frozen=True)
class MergeRequest:
    """One merge asked for: ``source`` folded into ``target``, and why."""

    source_id: str
    target_id: str
    reason: Reason = "api"
    evidence: dict[str, Any] | None = None


@dataclass(frozen=True)
class MergeSkipped:
    """A merge of a batch that the rules refused; nothing of it was written."""

    request: MergeRequest
    code: str
    message: str
    field: str | None = None


def merge_contacts(
    db: DbSession,
    workspace: Workspace,
    source_id: str,
    target_id: str,
    *,
    reason: Reason = "api",
    evidence: dict[str, Any] | None = None,
    force: bool = False,
    skip_duplicate_validation: bool = False,
    requested_by: str = "api",
    batch_id: str | None = None,
) -> MergeResult:
    """Fold ``source`` into ``target`` (R1-R5) inside the caller's transaction; idempotent."""
    (outcome,) = merge_many(
        db,
        workspace,
        [MergeRequest(source_id, target_id, reason, evidence)],
        force=force,
        skip_duplicate_validation=skip_duplicate_validation,
        requested_by=requested_by,
        batch_id=batch_id,
    )
    if isinstance(outcome, MergeSkipped):
        if outcome.code == "not_found":
            raise NotFound(outcome.message, field=outcome.field)
        raise merge_refused(outcome.code, outcome.message, outcome.field)
    return outcome


def merge_many(
    db: DbSession,
    workspace: Workspace,
    requests: list[MergeRequest],
    *,
    force: bool = False,
    skip_duplicate_validation: bool = False,
    requested_by: str = "api",
    batch_id: str | None = None,
) -> list[MergeResult | MergeSkipped]:
    """Many merges in the caller's transaction, applied with one set-based statement per kind of row.

    Every contact involved is locked once, in id order. Each request is planned by the pure rules in
    order, seeing the earlier ones; refused ones are skipped (and reported), the rest applied together.
    A contact that is a target in one request and a source in another starts a new wave, so chains
    (A into B, then B into C) stay correct.
    """
    ids = {r.source_id for r in requests} | {r.target_id for r in requests}
    locked = repo.lock_contacts(db, workspace.id, ids)
    policy = policy_for(workspace, force=force, skip_duplicate_validation=skip_duplicate_validation)
    recent = repo.merges_into_since_of(db, workspace.id, {r.target_id for r in requests}, now() - DAY)
    results: list[MergeResult | MergeSkipped] = []
    wave: list[Accepted] = []
    sources, targets = set[str](), set[str]()  # of the wave: a lookup, not a walk of it per request
    for request in requests:
        source, target = locked.get(request.source_id), locked.get(request.target_id)
        if source is None or target is None:
            missing, field = (request.source_id, "from") if source is None else (request.target_id, "into")
            results.append(
                MergeSkipped(request, "not_found", f"Contact Not Found: no contact has id '{missing}'", field)
            )
            continue
        if source.merged_into_id == target.id and source.id not in sources:
            existing = repo.applied_merge_of(db, workspace.id, source.id)
            if existing is not None:
                results.append(MergeResult(existing, target, replayed=True))
                continue
        if source.id in targets or target.id in sources:
            apply_wave(db, workspace, wave)
            wave, sources, targets = [], set(), set()
        plan = plan_merge(
            facts(source),
            facts(target),
            policy,
            reason=request.reason,
            evidence=request.evidence,
            recent_merges_into_target=recent[target.id],
        )
        if isinstance(plan, MergeRefused):
            if plan.code == "fan_in_cap":
                stub = outcome_plan_stub(source, target, request.reason, request.evidence)
                held = _record(workspace, stub, "held", requested_by, batch_id, {"refusal": plan.message})
                repo.add_merges(db, [held])
                results.append(MergeResult(held, target))
            else:
                results.append(MergeSkipped(request, plan.code, plan.message, plan.field))
            continue
        recent[target.id] += 1
        accepted = Accepted(
            source, target, plan, _record(workspace, plan, "applied", requested_by, batch_id, {})
        )
        accepted.merge.plan = {**accepted.merge.plan, "target_before": {"created_at": target.created_at}}
        adopt(source, target, plan)
        wave.append(accepted)
        sources.add(source.id)
        targets.add(target.id)
        results.append(MergeResult(accepted.merge, target))
    apply_wave(db, workspace, wave)
    return results


def _load(
    db: DbSession, workspace: Workspace, source_id: str, target_id: str, *, lock: bool
) -> tuple[Contact, Contact]:
    if lock:
        found = repo.lock_contacts(db, workspace.id, [source_id, target_id])
    else:
        found = {
            c.id: c
            for c in (db.get(Contact, (workspace.id, source_id)), db.get(Contact, (workspace.id, target_id)))
            if c is not None
        }
    if source_id not in found:
        raise NotFound(f"Contact Not Found: no contact has id '{source_id}'", field="from")
    if target_id not in found:
        raise NotFound(f"Contact Not Found: no contact has id '{target_id}'", field="into")
    return found[source_id], found[target_id]


def _plan(
    db: DbSession,
    workspace: Workspace,
    source: Contact,
    target: Contact,
    force: bool,
    skip_duplicate_validation: bool,
    reason: Reason,
    evidence: dict[str, Any] | None,
) -> MergePlan | MergeRefused:
    recent = repo.merges_into_since_of(db, workspace.id, [target.id], now() - DAY)[target.id]
    return plan_merge(
        facts(source),
        facts(target),
        policy_for(workspace, force=force, skip_duplicate_validation=skip_duplicate_validation),
        reason=reason,
        evidence=evidence,
        recent_merges_into_target=recent,
    )


def _record(
    workspace: Workspace,
    plan: MergePlan,
    state: str,
    requested_by: str,
    batch_id: str | None,
    extra: dict[str, Any],
) -> Merge:
    return Merge(
        workspace_id=workspace.id,
        id=new_id(),
        source_id=plan.source_id,
        target_id=plan.target_id,
        reason=plan.reason,
        state=state,
        forced=plan.forced,
        requested_by=requested_by,
        batch_id=batch_id,
        plan={**plan_to_json(plan), **extra},
        moved={},
        created_at=now(),
    )


def outcome_plan_stub(
    source: Contact, target: Contact, reason: Reason, evidence: dict[str, Any] | None
) -> MergePlan:
    """The record of a merge held for review: who and why, nothing decided yet."""
    return MergePlan(
        source_id=source.id,
        target_id=target.id,
        reason=reason,
        evidence=dict(evidence or {}),
        attributes=(),
        secondary_identifiers=(),
        created_at=min(source.created_at, target.created_at),
        forced=False,
    )


def plan_to_json(plan: MergePlan) -> dict[str, Any]:
    """The plan as its merge record stores it. Shallow: the plan is frozen and its values are the
    contacts' own JSON values (``dataclasses.asdict`` deep-copied them, a tenth of an import's merges)."""
    body = _fields_of(plan)
    body["evidence"] = dict(plan.evidence)
    body["attributes"] = [_fields_of(d) for d in plan.attributes]
    body["secondary_identifiers"] = [_fields_of(s) for s in plan.secondary_identifiers]
    return body


def _fields_of(instance: Any) -> dict[str, Any]:
    return {f.name: getattr(instance, f.name) for f in dataclasses.fields(instance)}


def get_merge(db: DbSession, workspace: Workspace, merge_id: str) -> Merge:
    merge = repo.get(db, workspace.id, merge_id)
    if merge is None:
        raise NotFound(f"Merge Not Found: no merge has id '{merge_id}'", field="id")
    return merge


def list_merges(
    db: DbSession, workspace: Workspace, contact_id: str | None, *, per_page: int, after_id: str | None
) -> Page[Merge]:
    return repo.page_for_contact(db, workspace.id, contact_id, per_page=per_page, after_id=after_id)


def canonical_id(db: DbSession, workspace: Workspace, contact_id: str) -> str | None:
    return repo.canonical_id(db, workspace.id, contact_id)


__all__ = [
    "MergeRequest",
    "MergeResult",
    "MergeSkipped",
    "merge_contacts",
    "merge_many",
    "undo_batch",
    "undo_merge",
]
