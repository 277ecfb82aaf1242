"""Applying accepted merges: the survivor adopts what the plan says, then every kind of row moves with one
set-based statement for the whole wave (design §5: never a Python loop per row)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session as DbSession

from contactmerge.domain.ids import new_id, now
from contactmerge.domain.merging import MergePlan
from contactmerge.services import faults
from contactmerge.storage import merges as repo
from contactmerge.storage.tables import Contact, ContactIdentifier, Merge, Workspace


@dataclass
class Accepted:
    source: Contact
    target: Contact
    plan: MergePlan
    merge: Merge


def adopt(source: Contact, target: Contact, plan: MergePlan) -> None:
    """The survivor takes what the plan adopts; the source becomes a tombstone (in memory, flushed later)."""
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
    stamp = now()
    target.created_at, target.updated_at = plan.created_at, stamp
    source.merged_into_id, source.merged_at, source.updated_at = target.id, stamp, stamp


def apply_wave(db: DbSession, workspace: Workspace, wave: list[Accepted]) -> None:
    """Move the rows of every accepted merge with set-based statements, then store the records."""
    if not wave:
        return
    faults.step("locked")
    mapping = {a.source.id: a.target.id for a in wave}
    single = len(wave) == 1
    counts = None if single else repo.count_rows_of(db, workspace.id, list(mapping))
    parts = repo.count_parts(db, workspace.id, wave[0].source.id) if single else 0
    moved = repo.move_rows(db, workspace.id, mapping, counts)
    faults.step("rows_moved")
    added = _union_tags(db, workspace, wave)
    faults.step("tags_unioned")
    repo.combine_summaries(db, workspace.id, mapping)
    faults.step("summaries_combined")
    unverified = [a.source.id for a in wave if _unverified_sender(a)]
    flagged = repo.mark_unverified_parts(db, workspace.id, unverified, True)
    identifiers = [
        ContactIdentifier(
            workspace_id=workspace.id,
            id=new_id(),
            contact_id=a.target.id,
            kind=s.kind,
            value=s.value,
            normalized=s.normalized,
            provenance=s.provenance,
            merge_id=a.merge.id,
            created_at=a.merge.created_at,
        )
        for a in wave
        for s in a.plan.secondary_identifiers
    ]
    repo.add_identifiers(db, identifiers)
    faults.step("attributes_adopted")
    db.flush()
    faults.step("tombstoned")
    for a in wave:
        own = dict(moved) if single else dict(counts[a.source.id]) if counts else {}
        if single:
            own["conversation_parts"] = parts
        own["tags"] = len(added.get(a.source.id, []))
        if a.source.id in unverified:
            own["unverified_parts"] = flagged if single else -1
        a.merge.moved = own
        a.merge.plan = {**a.merge.plan, "added_tags": added.get(a.source.id, [])}
    repo.add_merges(db, [a.merge for a in wave])
    faults.step("recorded")


def _unverified_sender(accepted: Accepted) -> bool:
    """Design §4: a source whose email was only claimed, or whose browser logged in without a valid
    signature, joins the survivor as data; its messages are marked as from an unverified sender."""
    source = accepted.source
    claimed_email = bool(source.email_normalized) and not source.email_verified
    return claimed_email or accepted.plan.evidence.get("verified") is False


def _union_tags(db: DbSession, workspace: Workspace, wave: list[Accepted]) -> dict[str, list[str]]:
    """Tags: union. A link the target lacks moves over (from the first source that has it); any other
    link stays on its tombstone, so no link is ever lost."""
    links = repo.tag_links(
        db, workspace.id, sorted({a.source.id for a in wave} | {a.target.id for a in wave})
    )
    held = {(contact, tag) for contact, tag in links}
    moves: list[tuple[str, str, str]] = []
    added: dict[str, list[str]] = {}
    for a in wave:
        for contact, tag in links:
            if contact == a.source.id and (a.target.id, tag) not in held:
                held.add((a.target.id, tag))
                moves.append((a.source.id, a.target.id, tag))
                added.setdefault(a.source.id, []).append(tag)
    repo.move_tag_links(db, workspace.id, moves)
    return added
