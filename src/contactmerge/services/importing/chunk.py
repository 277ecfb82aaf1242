"""One chunk of a CSV import (R3): match its validated rows set-based, write, and merge matching leads.

Match order for a row: external_id, then email (falling back to email when external_id finds nothing),
decided by ``matching.Matcher`` with the link rule the duplicate scan uses. An imported user absorbs the
live leads with its email that the link rule allows (reason ``csv_import``). An imported lead that matches
a user only fills what the user lacks. A row that names two different contacts is not applied; a row the
link rule keeps apart from a contact is imported on its own and reported (``kept_apart``).

Rows come validated (``validation.prepare_rows``, perhaps in another process). A cell that does not
validate costs that value, not the row: the row is applied without it (a phone that is not valid where it
was read is kept as given, without an E.164 form) and its ImportRow names the cells. Only the row's
identifiers can cost the row: with neither a valid external_id nor a valid email it is refused, naming the
identifier columns that did not validate. Phones are read in the row's country (its ``country`` column)
when it names one, else in the import's region (``ChunkContext.region``).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session as DbSession

from contactmerge.domain.identifiers import email_domain
from contactmerge.domain.ids import new_id, now
from contactmerge.domain.importing import ColumnMap
from contactmerge.services import merging
from contactmerge.services.importing.matching import KeptApart, Matcher, RowKeys, report_kept_apart
from contactmerge.services.importing.validation import Prepared, Refused, RowRules, cell_report
from contactmerge.storage import imports as repo
from contactmerge.storage.tables import Contact, Import, Workspace

SAMPLE_LIMIT = 1000
COLUMN_LENGTH = 255  # import_rows.column
APPLIED = ("created", "updated", "folded", "unchanged")


@dataclass
class ChunkOutcome:
    counts: Counter[str] = field(default_factory=Counter)
    rows: list[dict[str, Any]] = field(default_factory=list)  # every row that did more or less than create


@dataclass
class ChunkContext:
    workspace: Workspace
    job: Import
    column_map: ColumnMap
    header: tuple[str, ...]
    custom_types: dict[str, str]
    region: str  # national phone numbers are read here, unless the row's country column says otherwise

    @property
    def rules(self) -> RowRules:
        """What validating the import's rows depends on (``validation.prepare_rows``)."""
        return RowRules(self.column_map, self.header, self.custom_types, self.region)


def process_chunk(db: DbSession, ctx: ChunkContext, validated: list[Prepared | Refused]) -> ChunkOutcome:
    """Apply one chunk of validated rows (``validation.prepare_rows``) inside the caller's transaction;
    report what each row did."""
    out = ChunkOutcome()
    prepared: list[Prepared] = []
    for p in validated:
        if isinstance(p, Refused):
            out.counts[p.action] += 1
            _sample(out, p.row_number, p.action, p.column, p.reason, p.cells)
        else:
            prepared.append(p)
    ws = ctx.workspace.id
    keys = [RowKeys(p.row_number, p.external_id, p.email_normalized, p.plain.get("name")) for p in prepared]
    matcher = Matcher(db, ctx.workspace, ctx.job, keys)
    new_rows: list[dict[str, Any]] = []
    merges: list[merging.MergeRequest] = []
    tagged: list[tuple[str, tuple[str, ...]]] = []
    kept_apart: list[KeptApart] = []
    stamp = now()
    for p, row in zip(prepared, keys, strict=True):
        found = matcher.match(row)
        if found.action in ("duplicate", "conflict"):
            _problem(out, p, found.action, None, found.reason or found.action)
            continue
        matcher.written(row, found)
        role = ctx.job.role
        if found.target is None:
            contact_id = new_id()
            new_rows.append(_new_contact(ctx, p, role, contact_id, stamp))
        else:
            contact_id = found.target.id
            if found.action == "fold":
                _update(db, ctx, out, p, found.target, stamp, fill_only=True, action="folded")
            else:
                _update(db, ctx, out, p, found.target, stamp, fill_only=False)
        tagged.append((contact_id, p.tags))
        merges.extend(
            merging.MergeRequest(
                lead.id,
                contact_id,
                "csv_import",
                {"email": p.email_normalized, "import_id": ctx.job.id, "row": p.row_number},
            )
            for lead in found.absorb
        )
        if found.kept_apart:
            kept_apart.append(
                KeptApart(p.row_number, contact_id, found.target is None, tuple(found.kept_apart), p.cells)
            )
    repo.insert_contacts(db, new_rows)
    if new_rows:
        out.counts["created"] += len(new_rows)
    db.flush()
    _link_tags(db, ws, tagged, stamp)
    if merges:
        for result in merging.merge_many(
            db, ctx.workspace, merges, requested_by=ctx.job.created_by or "import", batch_id=ctx.job.id
        ):
            if isinstance(result, merging.MergeSkipped):
                out.counts["merge_refused"] += 1
            elif result.held:
                out.counts["merge_held"] += 1
            elif not result.replayed:
                out.counts["merged"] += 1
    _report_cells(out, prepared)
    report_kept_apart(out.rows, out.counts, kept_apart, ctx.column_map, ctx.header)
    return out


def _report_cells(out: ChunkOutcome, prepared: list[Prepared]) -> None:
    """R3: every applied row that lost a cell (or keeps a phone only as given) says so in its ImportRow:
    added to the row's "updated"/"folded" entry (which undo reads), else a "created"/"unchanged" one.
    A row that was not applied (duplicate, conflict) is reported for that alone."""
    entries = {r["row_number"]: r for r in out.rows}
    for p in prepared:
        if not p.problems:
            continue
        entry = entries.get(p.row_number)
        if entry is not None and entry["action"] not in APPLIED:
            continue
        column, reason = cell_report(list(p.problems), COLUMN_LENGTH)
        if entry is None:
            action = "created" if p.created_id else "unchanged"
            entry = {"row_number": p.row_number, "action": action, "contact_id": p.created_id}
            out.rows.append(entry)
        entry.update(column=column, reason=reason, cells=p.cells)
        kept = sum(1 for c in p.problems if c.kept)
        out.counts["rows_with_cell_problems"] += 1
        out.counts.update(cells_dropped=len(p.problems) - kept, phones_kept_as_given=kept)
        out.counts = +out.counts  # no zero counts in the report


def _problem(out: ChunkOutcome, p: Prepared, action: str, column: str | None, reason: str) -> None:
    out.counts[action] += 1
    _sample(out, p.row_number, action, column, reason, p.cells)


def _sample(
    out: ChunkOutcome, row: int, action: str, column: str | None, reason: str, cells: list[str]
) -> None:
    out.rows.append({"row_number": row, "action": action, "column": column, "reason": reason, "cells": cells})


def _new_contact(ctx: ChunkContext, p: Prepared, role: str, contact_id: str, stamp: int) -> dict[str, Any]:
    p.created_id = contact_id
    return {
        "workspace_id": ctx.workspace.id,
        "id": contact_id,
        "role": role,
        "external_id": p.external_id,
        "email": p.email,
        "email_normalized": p.email_normalized,
        "email_domain": email_domain(p.email_normalized) if p.email_normalized else None,
        "email_verified": True,
        "phone": p.phone,
        "phone_e164": p.phone_e164,
        "name": None,
        "avatar": None,
        "owner_id": None,
        "signed_up_at": None,
        "last_seen_at": None,
        "language_override": None,
        "unsubscribed_from_emails": False,
        "location_country": None,
        **p.plain,
        "custom_attributes": p.custom,
        "archived": False,
        "import_id": ctx.job.id,
        "last_import_id": ctx.job.id,
        "created_at": stamp,
        "updated_at": stamp,
    }


def _update(
    db: DbSession,
    ctx: ChunkContext,
    out: ChunkOutcome,
    p: Prepared,
    contact: Contact,
    stamp: int,
    *,
    fill_only: bool,
    action: str = "updated",
) -> None:
    """Write the row's values to an existing contact (only into empty fields when ``fill_only``)."""
    wanted: dict[str, Any] = dict(p.plain)
    for name, value in (("external_id", p.external_id), ("phone", p.phone)):
        if value is not None:
            wanted[name] = value
    if p.email and contact.email_normalized != p.email_normalized:
        wanted["email"] = p.email
    before: dict[str, Any] = {}
    for name, value in wanted.items():
        current = getattr(contact, name)
        if current == value or (fill_only and current not in (None, "")):
            continue
        if name in ("external_id", "email") and current:
            continue  # identifiers are never overwritten by an import
        before[name] = current
        setattr(contact, name, value)
        if name == "email":
            before.update(email_normalized=contact.email_normalized, email_domain=contact.email_domain)
            contact.email_normalized = p.email_normalized
            contact.email_domain = email_domain(p.email_normalized or "")
        if name == "phone":
            before["phone_e164"] = contact.phone_e164
            contact.phone_e164 = p.phone_e164
    custom = dict(contact.custom_attributes)
    changed_custom = {
        k: v
        for k, v in p.custom.items()
        if custom.get(k) != v and not (fill_only and custom.get(k) is not None)
    }
    if changed_custom:
        before["custom_attributes"] = dict(custom)
        contact.custom_attributes = {**custom, **changed_custom}
    contact.last_import_id = ctx.job.id
    if not before:
        out.counts["unchanged" if action == "updated" else action] += 1
        return
    contact.updated_at = stamp
    out.counts[action] += 1
    out.rows.append(
        {
            "row_number": p.row_number,
            "action": action,
            "column": None,
            "reason": None,
            "cells": None,
            "contact_id": contact.id,
            "before": {**before, "_stamp": stamp},
        }
    )


def _link_tags(
    db: DbSession, workspace_id: str, tagged: list[tuple[str, tuple[str, ...]]], stamp: int
) -> None:
    names = {name for _, tags in tagged for name in tags}
    if not names:
        return
    ids = repo.tags_by_name(db, workspace_id, names)
    missing = sorted(names - set(ids))
    repo.insert_tags(
        db, [{"workspace_id": workspace_id, "id": new_id(), "name": n, "created_at": stamp} for n in missing]
    )
    ids.update(repo.tags_by_name(db, workspace_id, missing))
    existing = repo.existing_links(db, workspace_id, [c for c, _ in tagged])
    links = []
    for contact_id, tags in tagged:
        for name in tags:
            key = (contact_id, ids[name])
            if key not in existing:
                existing.add(key)
                links.append(
                    {
                        "workspace_id": workspace_id,
                        "contact_id": contact_id,
                        "tag_id": ids[name],
                        "origin_contact_id": contact_id,
                        "created_at": stamp,
                    }
                )
    repo.insert_links(db, links)
