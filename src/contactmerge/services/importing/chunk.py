"""One chunk of a CSV import (R3): validate rows, match them set-based, write, and merge matching leads.

Match order for a row: external_id, then email (falling back to email when external_id finds nothing).
An imported user absorbs every live lead with its email (reason ``csv_import``). An imported lead that
matches a user only fills what the user lacks. A row that names two different contacts is not applied.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session as DbSession

from contactmerge.domain.identifiers import email_domain
from contactmerge.domain.ids import new_id, now
from contactmerge.domain.importing import ROW, ColumnMap, RowProblem, map_row
from contactmerge.errors import BadRequest
from contactmerge.services import merging
from contactmerge.services.importing.source import CsvRow
from contactmerge.services.normalizing import check_identifier, normalize_email, normalize_phone
from contactmerge.storage import imports as repo
from contactmerge.storage.tables import Contact, Import, Workspace

PLAIN = (
    "name",
    "avatar",
    "owner_id",
    "signed_up_at",
    "last_seen_at",
    "unsubscribed_from_emails",
    "language_override",
)
SAMPLE_LIMIT = 1000


@dataclass
class Prepared:
    row_number: int
    cells: list[str]
    external_id: str | None
    email: str | None
    email_normalized: str | None
    phone: str | None
    phone_e164: str | None
    plain: dict[str, Any]
    custom: dict[str, Any]
    tags: tuple[str, ...]


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
    region: str


def process_chunk(db: DbSession, ctx: ChunkContext, rows: list[CsvRow]) -> ChunkOutcome:
    """Apply one chunk of rows inside the caller's transaction; report what each row did."""
    out = ChunkOutcome()
    prepared = [p for p in (_prepare(ctx, row, out) for row in rows) if p is not None]
    ws = ctx.workspace.id
    by_external = repo.users_by_external_id(db, ws, [p.external_id for p in prepared if p.external_id])
    by_email = repo.live_by_email(db, ws, [p.email_normalized for p in prepared if p.email_normalized])
    seen: dict[str, int] = {}
    new_rows: list[dict[str, Any]] = []
    merges: list[merging.MergeRequest] = []
    tagged: list[tuple[str, tuple[str, ...]]] = []
    stamp = now()
    for p in prepared:
        keys = [
            k
            for k in (
                f"x:{p.external_id}" if p.external_id else None,
                f"m:{p.email_normalized}" if p.email_normalized else None,
            )
            if k
        ]
        first = next((seen[k] for k in keys if k in seen), None)
        if first is not None:
            _problem(out, p, "duplicate", None, f"same contact as row {first} of this file")
            continue
        for key in keys:
            seen[key] = p.row_number
        # a user whose email was only claimed (design §4) is never the one a row's email names
        users = [
            c for c in by_email.get(p.email_normalized or "", []) if c.role == "user" and c.email_verified
        ]
        by_ext = by_external.get(p.external_id or "")
        email_user = max(users, key=lambda c: (c.last_seen_at or 0, c.id), default=None)
        if by_ext is not None and email_user is not None and by_ext.id != email_user.id:
            _problem(
                out,
                p,
                "conflict",
                None,
                f"external_id names contact {by_ext.id} but email names contact {email_user.id}",
            )
            continue
        if by_ext is None and email_user is not None and p.external_id and email_user.external_id:
            _problem(
                out,
                p,
                "conflict",
                None,
                f"email names contact {email_user.id}, whose external_id is {email_user.external_id}",
            )
            continue
        user = by_ext or email_user
        if user is not None and user.last_import_id == ctx.job.id:
            _problem(out, p, "duplicate", None, f"contact {user.id} was already written by this import")
            continue
        if ctx.job.role == "user":
            if user is None:
                contact_id = new_id()
                new_rows.append(_new_contact(ctx, p, "user", contact_id, stamp))
            else:
                contact_id = user.id
                _update(db, ctx, out, p, user, stamp, fill_only=False)
            tagged.append((contact_id, p.tags))
            merges.extend(
                merging.MergeRequest(
                    lead.id,
                    contact_id,
                    "csv_import",
                    {"email": p.email_normalized, "import_id": ctx.job.id, "row": p.row_number},
                )
                for lead in by_email.get(p.email_normalized or "", [])
                if lead.role == "lead"
            )
        elif user is not None:
            _update(db, ctx, out, p, user, stamp, fill_only=True, action="folded")
            tagged.append((user.id, p.tags))
        else:
            leads = [c for c in by_email.get(p.email_normalized or "", []) if c.role == "lead"]
            if leads:
                _update(db, ctx, out, p, leads[0], stamp, fill_only=False)
                tagged.append((leads[0].id, p.tags))
            else:
                contact_id = new_id()
                new_rows.append(_new_contact(ctx, p, "lead", contact_id, stamp))
                tagged.append((contact_id, p.tags))
    repo.insert_contacts(db, new_rows)
    if new_rows:
        out.counts["created"] += len(new_rows)
    db.flush()
    _link_tags(db, ws, tagged, stamp)
    if merges:
        for result in merging.merge_many(
            db, ctx.workspace, merges, requested_by="import", batch_id=ctx.job.id
        ):
            if isinstance(result, merging.MergeSkipped):
                out.counts["merge_refused"] += 1
            elif result.held:
                out.counts["merge_held"] += 1
            elif not result.replayed:
                out.counts["merged"] += 1
    return out


def _prepare(ctx: ChunkContext, row: CsvRow, out: ChunkOutcome) -> Prepared | None:
    row_number, cells = row.number, row.cells
    if row.problem is not None:  # the file's text is malformed here: the row names its line
        out.counts["invalid"] += 1
        _sample(out, row_number, "invalid", ROW, f"line {row.line}: {row.problem}", cells)
        return None
    values = map_row(cells, ctx.column_map, ctx.header, ctx.custom_types)
    if isinstance(values, RowProblem):
        out.counts["invalid"] += 1
        reason = f"line {row.line}: {values.reason}" if values.column == ROW else values.reason
        _sample(out, row_number, "invalid", values.column, reason, cells)
        return None
    raw = values.fields
    column_of = {f: ctx.header[i] for i, f in enumerate(ctx.column_map.fields) if f}
    try:
        external_id = (
            check_identifier(str(raw["external_id"]), field="external_id") if raw.get("external_id") else None
        )
        email, normalized = normalize_email(str(raw["email"])) if raw.get("email") else (None, None)
        phone, e164 = normalize_phone(str(raw["phone"]), ctx.region) if raw.get("phone") else (None, None)
    except BadRequest as error:
        out.counts["invalid"] += 1
        _sample(
            out, row_number, "invalid", column_of.get(error.field or "", error.field), error.message, cells
        )
        return None
    if not external_id and not normalized:
        out.counts["no_identifier"] += 1
        _sample(
            out, row_number, "no_identifier", None, "the row has neither an external_id nor an email", cells
        )
        return None
    return Prepared(
        row_number,
        cells,
        external_id,
        email,
        normalized,
        phone,
        e164,
        {k: raw[k] for k in PLAIN if raw.get(k) is not None},
        dict(values.custom_attributes),
        tuple(values.tags),
    )


def _problem(out: ChunkOutcome, p: Prepared, action: str, column: str | None, reason: str) -> None:
    out.counts[action] += 1
    _sample(out, p.row_number, action, column, reason, p.cells)


def _sample(
    out: ChunkOutcome, row: int, action: str, column: str | None, reason: str, cells: list[str]
) -> None:
    out.rows.append({"row_number": row, "action": action, "column": column, "reason": reason, "cells": cells})


def _new_contact(ctx: ChunkContext, p: Prepared, role: str, contact_id: str, stamp: int) -> dict[str, Any]:
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
