"""Intercom's Visitors API over the visitors the messenger makes: find, update, convert (R4 for visitors).

A visitor is a contact with role ``visitor``. Intercom names it by a ``user_id`` it generated; here that is
the anonymous id of the visitor's first messenger session. Converting a visitor into an existing contact
is a merge through the merging service (reason ``api``), so it is audited and can be undone; converting
it without one changes it in place, keeping its id, sessions and history.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy.orm import Session as DbSession

from contactmerge.errors import BadRequest, Conflict, Gone, NotFound, ParameterNotFound
from contactmerge.services import contacts, merging
from contactmerge.services.messenger import ANONYMOUS_ID
from contactmerge.services.normalizing import check_identifier, normalize_email
from contactmerge.storage import contacts as contacts_repo
from contactmerge.storage import merges as merges_repo
from contactmerge.storage import sessions as sessions_repo
from contactmerge.storage.tables import Contact, Merge, Workspace

ConvertTo = Literal["user", "lead"]


@dataclass(frozen=True)
class VisitorRef:
    """How a request names a visitor: its id, else its ``user_id`` (anonymous id), else its email."""

    id: str | None = None
    user_id: str | None = None
    email: str | None = None


@dataclass(frozen=True)
class UserRef:
    """The ``user`` of a conversion: an existing contact's id, or the identifiers the result keeps."""

    id: str | None = None
    user_id: str | None = None
    email: str | None = None


@dataclass(frozen=True)
class Converted:
    """The contact a visitor became or was merged into; ``merge`` when it was a merge."""

    contact: Contact
    merge: Merge | None = None

    @property
    def held(self) -> bool:
        return self.merge is not None and self.merge.state == "held"


def anonymous_id(db: DbSession, workspace: Workspace, visitor: Contact) -> str | None:
    """The visitor's ``user_id`` in Intercom's shape: the anonymous id it was first seen with."""
    first = sessions_repo.first_of(db, workspace.id, visitor.id)
    return first.id if first is not None else None


def find_visitor(db: DbSession, workspace: Workspace, ref: VisitorRef, *, prefix: str = "") -> Contact:
    """The live visitor a request names; 404 if none, 410 (naming the survivor) if it was merged."""
    if ref.id:
        field, contact = f"{prefix}id", contacts_repo.get(db, workspace.id, ref.id)
    elif ref.user_id:
        field, contact = f"{prefix}user_id", _by_anonymous_id(db, workspace, ref.user_id)
    elif ref.email:
        field = f"{prefix}email"
        normalized = normalize_email(ref.email, field=field)[1]
        contact = contacts_repo.visitor_with_email(db, workspace.id, normalized)
    else:
        raise ParameterNotFound("name the visitor with id, user_id or email", field=f"{prefix}id")
    given = ref.id or ref.user_id or ref.email
    if contact is None:
        raise NotFound(
            f"Visitor Not Found: no visitor has {field.removeprefix(prefix)} '{given}'", field=field
        )
    if contact.merged_into_id is not None:
        try:
            contacts.get_contact(db, workspace, contact.id)
        except Gone as merged:
            gone = Gone(
                f"Visitor {contact.id} was merged into {merged.canonical_id}",
                canonical_id=merged.canonical_id,
            )
            gone.field = field
            raise gone from None
    if contact.role != "visitor":
        raise NotFound(
            f"Visitor Not Found: contact '{contact.id}' is a {contact.role} now: see /contacts/{contact.id}",
            field=field,
        )
    return contact


def _by_anonymous_id(db: DbSession, workspace: Workspace, user_id: str) -> Contact | None:
    if not ANONYMOUS_ID.match(user_id):
        return None
    session = sessions_repo.get(db, workspace.id, user_id)
    if session is None:
        return None
    # The session's origin is the contact it was opened for: the visitor, even after a merge moved it.
    return contacts_repo.get(db, workspace.id, session.origin_contact_id)


def update_visitor(
    db: DbSession, workspace: Workspace, ref: VisitorRef, changes: Mapping[str, Any], *, region: str
) -> Contact:
    """Intercom's visitor update: ``name`` set, ``custom_attributes`` merged and checked like contacts'."""
    visitor = find_visitor(db, workspace, ref)
    contacts.apply_messenger_attributes(db, workspace, visitor, changes, region=region)
    db.flush()
    return visitor


def convert_visitor(
    db: DbSession,
    workspace: Workspace,
    ref: VisitorRef,
    to: ConvertTo,
    user: UserRef,
    *,
    region: str,
    actor: str,
) -> Converted:
    """Intercom's convert: merge into the existing contact ``user`` names (R4), else change in place."""
    visitor = find_visitor(db, workspace, ref, prefix="visitor.")
    external_id = check_identifier(user.user_id, field="user.user_id") if user.user_id else None
    email = normalize_email(user.email, field="user.email") if user.email else None
    if user.id and user.id != visitor.id:
        target = _named_contact(db, workspace, user.id, to)
        return _merge(db, workspace, visitor, target, {"matched_by": "id"}, actor)
    if to == "user" and not external_id and not email:
        raise ParameterNotFound("name the user with id, user_id or email", field="user")
    if to == "user" and not user.id:  # the visitor's own id as user.id asks for a conversion in place
        if external_id:
            existing = contacts_repo.user_with_external_id(db, workspace.id, external_id)
            evidence: dict[str, Any] = {"matched_by": "user_id", "external_id": external_id}
        else:
            assert email is not None
            existing = _user_with_email(db, workspace, email[1])
            evidence = {"matched_by": "email", "email": email[1]}
        if existing is not None:
            return _merge(db, workspace, visitor, existing, evidence, actor)
    return Converted(_in_place(db, workspace, visitor, to, external_id, email, region=region))


def _named_contact(db: DbSession, workspace: Workspace, contact_id: str, to: ConvertTo) -> Contact:
    if contacts_repo.get(db, workspace.id, contact_id) is None:
        raise NotFound(f"Contact Not Found: no contact has id '{contact_id}'", field="user.id")
    target = contacts.get_contact(db, workspace, contact_id, forward=True)
    if target.role != to:
        raise BadRequest(
            f"contact '{target.id}' is a {target.role}, not a {to}: the visitor is converted to a {to}",
            field="user.id",
        )
    return target


def _user_with_email(db: DbSession, workspace: Workspace, email_normalized: str) -> Contact | None:
    """The user an email names; with several, the most recently seen (as R2 and Intercom choose)."""
    named = contacts.user_named_by_email(db, workspace, email_normalized)
    return named[0] if named is not None else None


def _merge(
    db: DbSession,
    workspace: Workspace,
    visitor: Contact,
    target: Contact,
    evidence: dict[str, Any],
    actor: str,
) -> Converted:
    session = anonymous_id(db, workspace, visitor)
    if session is not None:
        evidence = {**evidence, "session": session}
    result = merging.merge_contacts(
        db, workspace, visitor.id, target.id, reason="api", evidence=evidence, requested_by=actor
    )
    return Converted(result.survivor, result.merge)


def _in_place(
    db: DbSession,
    workspace: Workspace,
    visitor: Contact,
    to: ConvertTo,
    external_id: str | None,
    email: tuple[str, str] | None,
    *,
    region: str,
) -> Contact:
    # Locked so two conversions of one visitor cannot both apply; the second then finds no visitor.
    locked = merges_repo.lock_contacts(db, workspace.id, [visitor.id]).get(visitor.id)
    if locked is None or locked.role != "visitor" or locked.merged_into_id is not None:
        raise Conflict(f"visitor {visitor.id} was converted meanwhile", field="visitor")
    fields: dict[str, Any] = {"role": to}
    if external_id:
        fields["external_id"] = external_id
    if email:
        fields["email"] = email[0]
    try:
        contact = contacts.update_contact(db, workspace, locked.id, fields, region=region)
    except (BadRequest, Conflict) as error:
        error.field = {"external_id": "user.user_id", "email": "user.email"}.get(
            error.field or "", error.field
        )
        raise
    if email:
        contact.email_verified = True  # written with the workspace's token, not typed into the widget
    db.flush()
    return contact
