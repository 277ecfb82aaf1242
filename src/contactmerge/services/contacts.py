"""Contacts: create, read, update, delete, list and search, with Intercom's role rules."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import Any

from sqlalchemy.orm import Session as DbSession

from contactmerge.domain.identifiers import email_domain
from contactmerge.domain.identity import Login, UserCandidate, pick_email_match
from contactmerge.domain.ids import new_id, now
from contactmerge.domain.search import Group, InvalidQuery, Query, parse_query
from contactmerge.errors import BadRequest, Conflict, Gone, NotFound, ParameterNotFound
from contactmerge.services import data_attributes
from contactmerge.services.normalizing import check_identifier, normalize_email, normalize_phone, read_phone
from contactmerge.storage import contacts as repo
from contactmerge.storage import conversations as conversations_repo
from contactmerge.storage import merges as merges_repo
from contactmerge.storage.paging import Page
from contactmerge.storage.search import CUSTOM_PREFIX, STANDARD_FIELDS, compile_query
from contactmerge.storage.tables import Contact, ContactIdentifier, Workspace

ROLES = ("user", "lead")
MAX_FORWARDS = 16  # a write follows at most this many merges that happen while it waits
PLAIN_FIELDS = (
    "name",
    "avatar",
    "owner_id",
    "signed_up_at",
    "last_seen_at",
    "unsubscribed_from_emails",
    "language_override",
    "browser",
    "browser_version",
    "browser_language",
    "os",
)


def get_contact(db: DbSession, workspace: Workspace, contact_id: str, *, forward: bool = False) -> Contact:
    """The contact with that id. A merged one answers 410 naming its survivor, or with ``forward`` (writes
    addressed to it: design §3) the survivor itself, chains resolved."""
    contact = repo.get(db, workspace.id, contact_id)
    if contact is None:
        raise NotFound(f"Contact Not Found: no contact has id '{contact_id}'", field="id")
    return _live(db, workspace, contact, forward=forward)


def _live(db: DbSession, workspace: Workspace, contact: Contact, *, forward: bool) -> Contact:
    if forward:
        return _locked_for_write(db, workspace, contact)
    if contact.merged_into_id is None:
        return contact
    canonical = merges_repo.canonical_id(db, workspace.id, contact.id)
    survivor = repo.get(db, workspace.id, canonical) if canonical else None
    if survivor is None:
        raise NotFound(
            f"Contact Not Found: contact '{contact.id}' was merged into one that is gone", field="id"
        )
    if forward:
        return survivor
    raise Gone(f"Contact {contact.id} was merged into {survivor.id}", canonical_id=survivor.id)


def _locked_for_write(db: DbSession, workspace: Workspace, contact: Contact) -> Contact:
    """The live contact a write addressed to ``contact`` lands on, locked until the write's transaction
    ends (docs/merging.md, "Writes and merges"). A merge locks both its contacts FOR UPDATE, so a write
    either locks first and commits before the merge moves its rows, or waits and then follows the merge
    to the survivor: never in between. Only live contacts are locked, one per write, so a write holds no
    lock a merge could be waiting for while it waits itself."""
    for _ in range(MAX_FORWARDS):
        target = contact.id
        if contact.merged_into_id is not None:
            target = merges_repo.canonical_id(db, workspace.id, contact.id) or ""
        locked = repo.lock_for_write(db, workspace.id, target) if target else None
        if locked is None:
            raise NotFound(
                f"Contact Not Found: contact '{contact.id}' was merged into one that is gone", field="id"
            )
        if locked.merged_into_id is None:
            return locked
        contact = locked  # merged while this write waited for it: follow it on
    raise Conflict(f"contact '{contact.id}' keeps being merged; try again", field="id")


def by_ids(db: DbSession, workspace: Workspace, contact_ids: Iterable[str]) -> dict[str, Contact]:
    """The workspace's contacts with these ids (merged ones too), by id, in one query; unknown ids absent."""
    return conversations_repo.contacts_by_id(db, workspace.id, sorted(set(contact_ids)))


def find_by_external_id(
    db: DbSession, workspace: Workspace, external_id: str, *, forward: bool = False
) -> Contact:
    contact = repo.with_external_id(db, workspace.id, external_id)
    if contact is None:
        raise NotFound(f"Contact Not Found: no contact has external_id '{external_id}'", field="external_id")
    return _live(db, workspace, contact, forward=forward)


def create_contact(
    db: DbSession,
    workspace: Workspace,
    fields: Mapping[str, Any],
    *,
    region: str,
    email_verified: bool = True,
) -> Contact:
    """A new user or lead. A user needs an external_id or an email, unique among users (409 otherwise);
    an email that was only claimed (``email_verified=False``) reserves nothing."""
    role = fields.get("role") or "user"
    if role not in ROLES:
        raise BadRequest(f"role must be 'user' or 'lead', got '{role}'", field="role")
    stamp = now()
    contact = Contact(
        workspace_id=workspace.id,
        id=new_id(),
        role=role,
        custom_attributes={},
        unsubscribed_from_emails=False,
        archived=False,
        email_verified=email_verified,
        created_at=stamp,
        updated_at=stamp,
    )
    _apply(db, workspace, contact, fields, region=region)
    _check_user_identity(db, workspace, contact)
    return repo.add(db, contact)


def update_contact(
    db: DbSession, workspace: Workspace, contact_id: str, fields: Mapping[str, Any], *, region: str
) -> Contact:
    """Intercom's update: given fields are set, custom attributes merged; lead → user only."""
    contact = get_contact(db, workspace, contact_id, forward=True)
    if "role" in fields and fields["role"] is not None and fields["role"] != contact.role:
        new_role = fields["role"]
        if new_role == "lead" and contact.role == "user":
            raise BadRequest("a user cannot become a lead", field="role")
        if new_role not in ROLES:
            raise BadRequest(f"role must be 'user' or 'lead', got '{new_role}'", field="role")
        contact.role = new_role
    _apply(db, workspace, contact, fields, region=region)
    _check_user_identity(db, workspace, contact)
    contact.updated_at = now()
    db.flush()
    return contact


def delete_contact(db: DbSession, workspace: Workspace, contact_id: str) -> Contact:
    contact = get_contact(db, workspace, contact_id)
    repo.remove(db, contact)
    return contact


def set_archived(db: DbSession, workspace: Workspace, contact_id: str, archived: bool) -> Contact:
    contact = get_contact(db, workspace, contact_id)
    contact.archived = archived
    contact.updated_at = now()
    db.flush()
    return contact


def list_contacts(
    db: DbSession, workspace: Workspace, *, per_page: int, after_id: str | None
) -> Page[Contact]:
    return repo.page(db, workspace.id, per_page=per_page, after_id=after_id)


def search_contacts(
    db: DbSession,
    workspace: Workspace,
    raw_query: Any,
    *,
    per_page: int,
    after_id: str | None,
    region: str,
) -> Page[Contact]:
    """Contacts matching an Intercom search query (filters, AND/OR groups); 400 naming the bad part.
    ``region``: where a phone searched for in national form is read (the workspace's phone_region)."""
    query = phones_as_stored(parse_search(db, workspace, raw_query), region)
    return repo.page(
        db, workspace.id, per_page=per_page, after_id=after_id, condition=compile_query(query, workspace.id)
    )


def phones_as_stored(query: Query, region: str) -> Query:
    """A query whose phone comparisons (=, !=, IN, NIN) hold the E.164 form phones are stored in: a number
    written as the workspace writes its own ("020 7946 0958" in GB) is read in ``region``; text that does
    not read as a valid number is compared as written (and matches no stored phone)."""
    if isinstance(query, Group):
        return Group(query.operator, tuple(phones_as_stored(item, region) for item in query.items))
    if query.field != "phone" or query.operator not in ("=", "!=", "IN", "NIN") or query.value is None:
        return query

    def stored(value: Any) -> Any:
        return (read_phone(value, region).e164 or value) if isinstance(value, str) else value

    values = query.value
    return replace(query, value=tuple(map(stored, values)) if isinstance(values, tuple) else stored(values))


def parse_search(db: DbSession, workspace: Workspace, raw_query: Any) -> Query:
    custom = data_attributes.field_types(db, workspace)

    def resolve(field: str) -> Any:
        if field in STANDARD_FIELDS:
            return STANDARD_FIELDS[field][1]
        if field.startswith(CUSTOM_PREFIX):
            return custom.get(field[len(CUSTOM_PREFIX) :])
        return None

    try:
        return parse_query(raw_query, resolve)
    except InvalidQuery as error:
        raise BadRequest(str(error), field=error.path) from error


def _apply(
    db: DbSession, workspace: Workspace, contact: Contact, fields: Mapping[str, Any], *, region: str
) -> None:
    for name in PLAIN_FIELDS:
        if name in fields:
            setattr(contact, name, fields[name] if name != "unsubscribed_from_emails" else bool(fields[name]))
    if "external_id" in fields:
        raw = fields["external_id"]
        contact.external_id = None if raw is None else check_identifier(str(raw), field="external_id")
    if "email" in fields:
        if fields["email"] is None:
            contact.email = contact.email_normalized = contact.email_domain = None
        else:
            contact.email, contact.email_normalized = normalize_email(fields["email"])
            contact.email_domain = email_domain(contact.email_normalized)
    if "phone" in fields:
        if fields["phone"] is None:
            contact.phone = contact.phone_e164 = None
        else:
            contact.phone, contact.phone_e164 = normalize_phone(fields["phone"], region)
    location = fields.get("location")
    if isinstance(location, Mapping):
        contact.location_country = location.get("country", contact.location_country)
        contact.location_region = location.get("region", contact.location_region)
        contact.location_city = location.get("city", contact.location_city)
    if fields.get("custom_attributes"):
        checked = data_attributes.check_custom_attributes(db, workspace, fields["custom_attributes"])
        merged = {**contact.custom_attributes, **checked}
        contact.custom_attributes = {k: v for k, v in merged.items() if v is not None}


def _check_user_identity(db: DbSession, workspace: Workspace, contact: Contact) -> None:
    if contact.role != "user":
        return
    with db.no_autoflush:
        _check_unique_user(db, workspace, contact)


def _check_unique_user(db: DbSession, workspace: Workspace, contact: Contact) -> None:
    if not contact.external_id and not contact.email_normalized:
        raise BadRequest("a user needs an external_id or an email", field="external_id")
    # without this, concurrent requests could each find no user with the email and all create one
    identifiers = {"external_id": contact.external_id, "email": contact.email_normalized}
    repo.lock_identifiers(
        db, workspace.id, [f"{kind}:{value}" for kind, value in identifiers.items() if value]
    )
    if contact.external_id:
        other = repo.user_with_external_id(db, workspace.id, contact.external_id)
        if other is not None and other.id != contact.id:
            raise Conflict(
                f"A contact matching those details already exists with id={other.id}", field="external_id"
            )
    if contact.email_normalized and contact.email_verified is not False:
        for other in repo.users_with_email(db, workspace.id, contact.email_normalized, verified_only=True):
            if other.id != contact.id:
                raise Conflict(
                    f"A contact matching those details already exists with id={other.id}", field="email"
                )


def find_contact(
    db: DbSession,
    workspace: Workspace,
    *,
    contact_id: str | None = None,
    external_id: str | None = None,
    email: str | None = None,
    forward: bool = False,
) -> Contact:
    """The contact named by id, else external_id (Intercom's ``user_id``), else email (users first).

    ``forward`` resolves a merged contact to its survivor (for writes); otherwise it answers 410.
    """
    if contact_id:
        return get_contact(db, workspace, contact_id, forward=forward)
    if external_id:
        return find_by_external_id(db, workspace, external_id, forward=forward)
    if email:
        _, normalized = normalize_email(email)
        contact = repo.with_email(db, workspace.id, normalized)
        if contact is None:
            raise NotFound(f"Contact Not Found: no contact has email '{email}'", field="email")
        return _live(db, workspace, contact, forward=forward)
    raise ParameterNotFound("name the contact with id, user_id or email", field="id")


def create_visitor(db: DbSession, workspace: Workspace) -> Contact:
    """An anonymous visitor, as the messenger makes one on a first page view."""
    stamp = now()
    return repo.add(
        db,
        Contact(
            workspace_id=workspace.id,
            id=new_id(),
            role="visitor",
            custom_attributes={},
            unsubscribed_from_emails=False,
            archived=False,
            created_at=stamp,
            updated_at=stamp,
        ),
    )


def user_named_by_email(
    db: DbSession, workspace: Workspace, email_normalized: str
) -> tuple[Contact, str] | None:
    """R2: the user whose verified email this is (with several, the most recently seen, as Intercom
    chooses) and why; a user whose email was only claimed is never named (design §4)."""
    users = {u.id: u for u in repo.users_with_email(db, workspace.id, email_normalized, verified_only=True)}
    chosen = pick_email_match([UserCandidate(u.id, u.last_seen_at) for u in users.values()])
    return None if chosen is None else (users[chosen[0].id], chosen[1])


def find_or_create_user(db: DbSession, workspace: Workspace, login: Login, *, region: str) -> Contact:
    """R1's user (Intercom's messenger ``update``): the user the login's one identifier names (its user_id,
    else its email), else a new one. Only what the signature covers is written as the user's own; any other
    identifier of the ping is kept as a claim of this user, and never finds or changes another (§4)."""
    user: Contact | None
    if login.external_id:
        user = repo.user_with_external_id(db, workspace.id, login.external_id)
    else:
        assert login.email is not None
        named = user_named_by_email(db, workspace, login.email)
        user = named[0] if named else None
    if user is None:
        fields: dict[str, Any] = {"role": "user"}
        if login.external_id:
            fields["external_id"] = login.external_id
        own_email = login.email is not None and (
            not login.external_id or (login.email_trusted and not _verified_user_has(db, workspace, login))
        )
        if own_email:
            fields["email"] = login.email
        user = create_contact(
            db, workspace, fields, region=region, email_verified=login.email_trusted or not own_email
        )
    elif (
        login.email is not None
        and login.email_trusted
        and not user.email_normalized
        and not _verified_user_has(db, workspace, login)
    ):
        _apply(db, workspace, user, {"email": login.email}, region=region)
        user.email_verified = True
        _check_user_identity(db, workspace, user)
    if login.email is not None and login.email != user.email_normalized:
        keep_identifier(db, workspace, user, "email", login.email, trusted=login.email_trusted)
    return user


def _verified_user_has(db: DbSession, workspace: Workspace, login: Login) -> bool:
    assert login.email is not None
    return bool(repo.users_with_email(db, workspace.id, login.email, verified_only=True))


def identifiers_of(db: DbSession, workspace: Workspace, contact: Contact) -> list[ContactIdentifier]:
    """The identifiers kept beside the contact's own: brought by merges, or claimed at a login."""
    return merges_repo.identifiers_of(db, workspace.id, contact.id)


def keep_identifier(
    db: DbSession, workspace: Workspace, contact: Contact, kind: str, normalized: str, *, trusted: bool
) -> None:
    """An identifier the contact does not hold as its own, kept beside it (once): a claim unless trusted."""
    held = identifiers_of(db, workspace, contact)
    if any(i.kind == kind and i.normalized == normalized for i in held):
        return
    merges_repo.add_identifiers(
        db,
        [
            ContactIdentifier(
                workspace_id=workspace.id,
                id=new_id(),
                contact_id=contact.id,
                kind=kind,
                value=normalized,
                normalized=normalized,
                provenance="verified" if trusted else "claimed",
                merge_id=None,
                created_at=now(),
            )
        ],
    )


def apply_messenger_attributes(
    db: DbSession, workspace: Workspace, contact: Contact, changes: Mapping[str, Any], *, region: str
) -> None:
    """Name and custom attributes sent by the widget, checked like any API write."""
    _apply(db, workspace, contact, changes, region=region)
    contact.updated_at = now()


def set_claimed_email(db: DbSession, workspace: Workspace, contact: Contact, email: str) -> None:
    """An email typed into the messenger: stored, but only claimed (design §2 provenance)."""
    contact.email, contact.email_normalized = normalize_email(email)
    contact.email_domain = email_domain(contact.email_normalized)
    contact.email_verified = False
    contact.updated_at = now()
