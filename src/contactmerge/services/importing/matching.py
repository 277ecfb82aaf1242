"""Which contact an import row is (R3), asked of the link rule (``domain.linking``) as the scan asks it.

Match order: external_id, then email. An email ties a row to a contact only when the link rule allows it:
a role mailbox shared with a differently named person, or an address whose names clearly disagree, ties
nothing, so the row never writes over another person. Such a row is still imported (a lead row becomes its
own lead) and reported as kept apart, naming the other contact; the duplicate scan holds the same pair.
Only a user row matched to a user by email alone is refused outright (a conflict) when a role mailbox
ties them: a user row's email that is not a role mailbox updates its user even under a new name.

The in-file duplicate check covers the whole file: a row that names a contact this import already wrote
(``last_import_id``, in any earlier chunk) or a row of this chunk the link rule ties it to is a
``duplicate``; a row sharing a role mailbox with an earlier row of another person is not.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session as DbSession

from contactmerge.domain.importing import ColumnMap
from contactmerge.domain.linking import JUNK, ROLE_MAILBOX, LinkRule, Party, Record, link_rule
from contactmerge.storage import imports as repo
from contactmerge.storage.tables import Contact, Import, Workspace

MAX_LISTED = 5  # contacts a row's report names; a mailbox shared by hundreds says "and N more"


@dataclass(frozen=True)
class RowKeys:
    """What matching reads of a row."""

    number: int
    external_id: str | None
    email: str | None  # normalized
    name: str | None


@dataclass
class Match:
    """What a row does: ``duplicate`` or ``conflict`` (not applied, ``reason`` says why), ``create``, or
    ``update`` / ``fold`` ``target``; a user row also absorbs ``absorb``. ``kept_apart`` names each
    contact (or earlier row) sharing the row's email that the link rule keeps apart from it, and why."""

    action: str
    target: Contact | None = None
    reason: str | None = None
    absorb: list[Contact] = field(default_factory=list)
    kept_apart: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class _Written:
    """A row of this chunk that was applied: who it is, for the rows after it."""

    number: int
    party: Record


def _named(contact: Contact) -> str:
    return f"contact {contact.id}" + (f" ({contact.name})" if contact.name else "")


class Matcher:
    """Matches the rows of one chunk in file order (``match``), with the chunk's lookups done at once."""

    def __init__(self, db: DbSession, workspace: Workspace, job: Import, rows: Sequence[RowKeys]) -> None:
        self.job = job
        self.role = job.role
        self.rule: LinkRule = link_rule((workspace.settings or {}).get("identifier_blocklist", ()))
        self.by_external = repo.users_by_external_id(
            db, workspace.id, [r.external_id for r in rows if r.external_id]
        )
        self.by_email = repo.live_by_email(db, workspace.id, [r.email for r in rows if r.email])
        # a lead row's external_id finds no user: the leads this import wrote with it, in earlier chunks
        self.written_ids = (
            repo.written_by_import(db, workspace.id, job.id, [r.external_id for r in rows if r.external_id])
            if job.role == "lead"
            else {}
        )
        self.seen: dict[str, list[_Written]] = {}  # "x:external_id" / "m:email" -> rows of this chunk
        self.absorbed: set[str] = set()  # leads a user row of this chunk already takes

    def _refusal(self, row: RowKeys, other: Party) -> str | None:
        """Why the row's email must not tie it to ``other``; a user row and a user are kept apart only by
        a junk value or a role mailbox (a user renamed keeps their personal address)."""
        why = self.rule("email", row.email or "", [Record(self.role, row.name), other])
        if why in (None, JUNK, ROLE_MAILBOX) or self.role != "user" or other.role != "user":
            return why
        return None

    def match(self, row: RowKeys) -> Match:
        """Decide what the row does (R3); ``written`` must follow for a row that is applied."""
        earlier = self._earlier_row(row)
        if earlier is not None:
            return Match("duplicate", reason=f"same contact as row {earlier} of this file")
        written = self.written_ids.get(row.external_id or "")
        if written is not None and row.external_id not in self.by_external:
            return Match("duplicate", reason=f"contact {written} was already written by this import")
        kept_apart = self._kept_apart_rows(row)
        found = self._match_contacts(row)
        found.kept_apart[:0] = kept_apart
        if found.target is not None and found.target.last_import_id == self.job.id:
            self.absorbed.difference_update(lead.id for lead in found.absorb)
            return Match("duplicate", reason=f"contact {found.target.id} was already written by this import")
        return found

    def written(self, row: RowKeys, found: Match) -> None:
        """Remember an applied row for the in-file duplicate check of the rows after it in this chunk."""
        name = row.name
        target = found.target
        if target is not None and (not name or (found.action == "fold" and target.name)):
            name = target.name  # the name the contact keeps
        entry = _Written(row.number, Record(self.role, name))
        for key in self._keys(row):
            self.seen.setdefault(key, []).append(entry)

    @staticmethod
    def _keys(row: RowKeys) -> list[str]:
        keys = [f"x:{row.external_id}"] if row.external_id else []
        return keys + ([f"m:{row.email}"] if row.email else [])

    def _earlier_row(self, row: RowKeys) -> int | None:
        """An earlier row of this chunk that is the same contact: same external_id, or an email the link
        rule lets tie the two rows."""
        same_id = self.seen.get(f"x:{row.external_id}") if row.external_id else None
        if same_id:
            return same_id[0].number
        if row.email:
            for entry in self.seen.get(f"m:{row.email}", ()):
                if self._refusal(row, entry.party) is None:
                    return entry.number
        return None

    def _kept_apart_rows(self, row: RowKeys) -> list[str]:
        if not row.email:
            return []
        return [
            f"row {entry.number} of this file: {why}"
            for entry in self.seen.get(f"m:{row.email}", ())
            if (why := self._refusal(row, entry.party)) is not None
        ]

    def _split(self, row: RowKeys, contacts: list[Contact]) -> tuple[list[Contact], list[str]]:
        """The contacts the row's email may tie it to, and why each other one is kept apart."""
        allowed, apart = [], []
        for contact in contacts:
            why = self._refusal(row, contact)
            if why is None:
                allowed.append(contact)
            else:
                apart.append(f"{_named(contact)}: {why}")
        return allowed, apart

    def _match_contacts(self, row: RowKeys) -> Match:
        on_email = self.by_email.get(row.email, []) if row.email else []
        # a user whose email was only claimed (design §4) is never the one a row's email names
        users, users_apart = self._split(row, [c for c in on_email if c.role == "user" and c.email_verified])
        by_ext = self.by_external.get(row.external_id or "")
        email_user = max(users, key=lambda c: (c.last_seen_at or 0, c.id), default=None)
        if by_ext is not None and email_user is not None and by_ext.id != email_user.id:
            return Match(
                "conflict",
                reason=f"external_id names contact {by_ext.id} but email names contact {email_user.id}",
            )
        if by_ext is None and email_user is not None and row.external_id and email_user.external_id:
            return Match(
                "conflict",
                reason=f"email names contact {email_user.id}, whose external_id is {email_user.external_id}",
            )
        user = by_ext or email_user
        if self.role == "user":
            if user is None and users_apart and not row.external_id:
                named = "; ".join(users_apart[:MAX_LISTED])
                return Match("conflict", reason=f"email {row.email} names {named}")
            apart = users_apart if user is None else []  # a user found: the others are other people
            name = row.name or (user.name if user is not None else None)
            absorb = []
            for lead in on_email:
                if lead.role != "lead" or lead.id in self.absorbed:
                    continue
                why = self.rule("email", row.email or "", [Record("user", name), lead])
                if why is None:
                    absorb.append(lead)
                    self.absorbed.add(lead.id)
                else:
                    apart.append(f"{_named(lead)}: {why}")
            return Match("create" if user is None else "update", user, absorb=absorb, kept_apart=apart)
        if user is not None:
            return Match("fold", user)
        leads, leads_apart = self._split(row, [c for c in on_email if c.role == "lead"])
        if leads:
            return Match("update", leads[0])
        return Match("create", kept_apart=users_apart + leads_apart)


@dataclass(frozen=True)
class KeptApart:
    """An applied row whose email the link rule did not let tie it to some contacts or earlier rows."""

    row_number: int
    contact_id: str  # the contact the row created or wrote
    created: bool
    reasons: tuple[str, ...]
    cells: list[str]


def report_kept_apart(
    entries: list[dict[str, Any]],
    counts: Counter[str],
    kept: Sequence[KeptApart],
    column_map: ColumnMap,
    header: Sequence[str],
) -> None:
    """R3: each row kept apart says so in its ImportRow (its email column and the other contacts), so
    errors.csv and the import's page list it for review; the count is ``kept_apart``. An entry the row
    already has (an update, which undo reads, or a dropped cell) gets the reason added."""
    if not kept:
        return
    column = next((header[i] for i, f in enumerate(column_map.fields) if f == "email"), None)
    by_row = {entry["row_number"]: entry for entry in entries}
    for row in kept:
        listed = "; ".join(row.reasons[:MAX_LISTED])
        more = len(row.reasons) - MAX_LISTED
        reason = f"kept apart from {listed}" + (f"; and {more} more" if more > 0 else "")
        counts["kept_apart"] += 1
        entry = by_row.get(row.row_number)
        if entry is None:
            entries.append(
                {
                    "row_number": row.row_number,
                    "action": "created" if row.created else "unchanged",
                    "contact_id": row.contact_id,
                    "column": column,
                    "reason": reason,
                    "cells": row.cells,
                }
            )
            continue
        entry["reason"] = f"{entry['reason']}; {reason}" if entry.get("reason") else reason
        entry["column"] = entry.get("column") or column
        entry["cells"] = entry.get("cells") or row.cells
