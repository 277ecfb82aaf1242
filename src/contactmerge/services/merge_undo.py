"""Undo (design §3): the lead comes back with its own rows and values; what changed since is a conflict."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session as DbSession

from contactmerge.domain.ids import now
from contactmerge.errors import NotFound, merge_refused
from contactmerge.storage import merges as repo
from contactmerge.storage.tables import Contact, Merge, Workspace


def undo_merge(db: DbSession, workspace: Workspace, merge_id: str, *, actor: str) -> Merge:
    """Bring the source back with its own rows and values; filled-in values changed since are conflicts.
    ``actor`` (domain.teammates) is recorded as who undid it."""
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
        repo.mark_unverified_parts(db, workspace.id, [source.id], False)
    repo.remove_identifiers_of_merge(db, workspace.id, merge.id)
    source.merged_into_id = None
    source.merged_at = None
    source.updated_at = stamp
    target.updated_at = stamp
    merge.state = "undone"
    merge.undone_at = stamp
    merge.undone_by = actor
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


def undo_batch(db: DbSession, workspace: Workspace, batch_id: str, *, actor: str) -> dict[str, Any]:
    """Undo every merge of a batch (an import, a dedupe run) still applied, newest first."""
    conflicts: list[dict[str, Any]] = []
    undone = 0
    for merge in repo.applied_in_batch(db, workspace.id, batch_id):
        report = undo_merge(db, workspace, merge.id, actor=actor).undo_report or {}
        conflicts.extend({"merge_id": merge.id, **c} for c in report.get("conflicts", []))
        undone += 1
    return {"merges_undone": undone, "conflicts": conflicts}
