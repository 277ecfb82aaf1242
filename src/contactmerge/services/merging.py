"""Merging (R1-R5): plan with the pure rules, apply in one transaction with set-based SQL, undo it.

``merge_contacts`` locks both contacts in id order, asks ``plan_merge`` for the plan, applies it, stores
it as the merge record. Requesting the same merge again returns the first record (idempotent). Nothing
here commits: the caller's transaction makes the merge all or nothing.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
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
from contactmerge.storage import merges as repo
from contactmerge.storage.paging import Page
from contactmerge.storage.tables import Contact, ContactIdentifier, Merge, Workspace

DAY = 86_400

# Test-only: called with the name of each step while a merge is applied, so a test can kill the process
# between two statements and check that the database is left fully merged or untouched.
fault_hook: Callable[[str], None] | None = None


def _step(name: str) -> None:
    if fault_hook is not None:
        fault_hook(name)


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
    source, target = _load(db, workspace, source_id, target_id, lock=True)
    if source.merged_into_id == target.id:
        existing = repo.applied_merge_of(db, workspace.id, source.id)
        if existing is not None:
            return MergeResult(existing, target, replayed=True)
    outcome = _plan(db, workspace, source, target, force, skip_duplicate_validation, reason, evidence)
    if isinstance(outcome, MergeRefused):
        if outcome.code == "fan_in_cap":
            held = _record(
                db,
                workspace,
                outcome_plan_stub(source, target, reason, evidence),
                "held",
                requested_by,
                batch_id,
                {"refusal": outcome.message},
            )
            return MergeResult(held, target)
        raise merge_refused(outcome.code, outcome.message, outcome.field)
    return MergeResult(_apply(db, workspace, source, target, outcome, requested_by, batch_id), target)


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
    recent = repo.merges_into_since(db, workspace.id, target.id, now() - DAY)
    return plan_merge(
        facts(source),
        facts(target),
        policy_for(workspace, force=force, skip_duplicate_validation=skip_duplicate_validation),
        reason=reason,
        evidence=evidence,
        recent_merges_into_target=recent,
    )


def _apply(
    db: DbSession,
    workspace: Workspace,
    source: Contact,
    target: Contact,
    plan: MergePlan,
    requested_by: str,
    batch_id: str | None,
) -> Merge:
    stamp = now()
    merge_id = new_id()
    _step("locked")
    parts = repo.count_parts(db, workspace.id, source.id)
    moved: dict[str, Any] = repo.move_rows(db, workspace.id, source.id, target.id)
    moved["conversation_parts"] = parts
    _step("rows_moved")
    source_tags = repo.tag_ids(db, workspace.id, source.id)
    added_tags = sorted(set(source_tags) - set(repo.tag_ids(db, workspace.id, target.id)))
    # Tags: union. Links the survivor lacks move over; a tag both have keeps its link on the tombstone.
    repo.move_tags(db, workspace.id, source.id, target.id, added_tags)
    moved["tags"] = len(added_tags)
    _step("tags_unioned")
    repo.combine_summaries(db, workspace.id, source.id, target.id)
    _step("summaries_combined")
    if source.email_normalized and not source.email_verified:
        # Design §4: what a lead with a merely claimed email wrote stays marked as such on the survivor.
        moved["unverified_parts"] = repo.mark_unverified_parts(db, workspace.id, source.id, True)
    target_before = {"created_at": target.created_at}
    _adopt(source, target, plan)
    target.created_at = plan.created_at
    target.updated_at = stamp
    repo.add_identifiers(
        db,
        [
            ContactIdentifier(
                workspace_id=workspace.id,
                id=new_id(),
                contact_id=target.id,
                kind=s.kind,
                value=s.value,
                normalized=s.normalized,
                provenance=s.provenance,
                merge_id=merge_id,
                created_at=stamp,
            )
            for s in plan.secondary_identifiers
        ],
    )
    _step("attributes_adopted")
    source.merged_into_id = target.id
    source.merged_at = stamp
    source.updated_at = stamp
    db.flush()
    _step("tombstoned")
    extra = {"source_tags": source_tags, "added_tags": added_tags, "target_before": target_before}
    merge = _record(
        db, workspace, plan, "applied", requested_by, batch_id, extra, merge_id=merge_id, moved=moved
    )
    _step("recorded")
    return merge


def _adopt(source: Contact, target: Contact, plan: MergePlan) -> None:
    custom = dict(target.custom_attributes)
    for decision in plan.adopted:
        if decision.is_custom:
            custom[decision.name.removeprefix("custom_attributes.")] = decision.source_value
        elif decision.name == "email":
            target.email, target.email_normalized = source.email, source.email_normalized
            target.email_domain, target.email_verified = source.email_domain, source.email_verified
        elif decision.name == "phone":
            target.phone, target.phone_e164 = source.phone, source.phone_e164
        else:
            setattr(target, decision.name, decision.source_value)
    target.custom_attributes = custom


def _record(
    db: DbSession,
    workspace: Workspace,
    plan: MergePlan,
    state: str,
    requested_by: str,
    batch_id: str | None,
    extra: dict[str, Any],
    *,
    merge_id: str | None = None,
    moved: dict[str, Any] | None = None,
) -> Merge:
    return repo.add(
        db,
        Merge(
            workspace_id=workspace.id,
            id=merge_id or new_id(),
            source_id=plan.source_id,
            target_id=plan.target_id,
            reason=plan.reason,
            state=state,
            forced=plan.forced,
            requested_by=requested_by,
            batch_id=batch_id,
            plan={**plan_to_json(plan), **extra},
            moved=moved or {},
            created_at=now(),
        ),
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
    body = dataclasses.asdict(plan)
    body["attributes"] = [dataclasses.asdict(d) for d in plan.attributes]
    body["secondary_identifiers"] = [dataclasses.asdict(s) for s in plan.secondary_identifiers]
    return body


def undo_merge(db: DbSession, workspace: Workspace, merge_id: str) -> Merge:
    """Bring the source back with its own rows and values; filled-in values changed since are conflicts."""
    merge = repo.get(db, workspace.id, merge_id, lock=True)
    if merge is None:
        raise NotFound(f"Merge Not Found: no merge has id '{merge_id}'", field="id")
    if merge.state != "applied":
        raise merge_refused(
            "merge_undone" if merge.state == "undone" else "merge_held",
            f"merge {merge.id} is {merge.state}, so there is nothing to undo",
            "id",
        )
    locked = repo.lock_contacts(db, workspace.id, [merge.source_id, merge.target_id])
    source, target = locked[merge.source_id], locked[merge.target_id]
    stamp = now()
    origins = repo.absorbed_by(db, workspace.id, source.id)
    holders = repo.holders_of(db, workspace.id, origins)
    restored = repo.restore_rows(db, workspace.id, source.id, origins)
    repo.recompute_summaries(db, workspace.id, holders | {source.id, target.id})
    plan = merge.plan
    taken_back, conflicts = _take_back(source, target, plan)
    if merge.moved.get("unverified_parts"):
        repo.mark_unverified_parts(db, workspace.id, source.id, False)
    repo.remove_identifiers_of_merge(db, workspace.id, merge.id)
    source.merged_into_id = None
    source.merged_at = None
    source.updated_at = stamp
    target.updated_at = stamp
    merge.state = "undone"
    merge.undone_at = stamp
    merge.undo_report = {"restored": restored, "taken_back": taken_back, "conflicts": conflicts}
    db.flush()
    return merge


def _take_back(
    source: Contact, target: Contact, plan: dict[str, Any]
) -> tuple[list[str], list[dict[str, Any]]]:
    taken_back: list[str] = []
    conflicts: list[dict[str, Any]] = []
    custom = dict(target.custom_attributes)
    for decision in plan.get("attributes", []):
        if decision["outcome"] != "adopted":
            continue
        name = decision["name"]
        merged_value, before = decision["source_value"], decision["survivor_value"]
        if name.startswith("custom_attributes."):
            key = name.removeprefix("custom_attributes.")
            current = custom.get(key)
        else:
            current = getattr(target, name)
        if current != merged_value:
            conflicts.append(
                {
                    "name": name,
                    "merged_value": merged_value,
                    "current_value": current,
                    "reason": "changed since the merge: kept as it is",
                }
            )
            continue
        taken_back.append(name)
        if name.startswith("custom_attributes."):
            if before is None:
                custom.pop(name.removeprefix("custom_attributes."), None)
            else:
                custom[name.removeprefix("custom_attributes.")] = before
        elif name == "email":
            target.email = target.email_normalized = target.email_domain = None
            target.email_verified = True
        elif name == "phone":
            target.phone = target.phone_e164 = None
        else:
            setattr(target, name, before)
    target.custom_attributes = custom
    created_before = plan.get("target_before", {}).get("created_at")
    if created_before is not None and target.created_at == plan.get("created_at"):
        target.created_at = created_before
    return taken_back, conflicts


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
