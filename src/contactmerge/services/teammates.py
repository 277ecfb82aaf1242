"""Teammates (Intercom's admins): created by an owner or the CLI, signed in with email and password
(argon2id), owner or agent (domain.teammates), in sessions that expire and can be revoked."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy.orm import Session as DbSession

from contactmerge.domain.ids import new_id, now
from contactmerge.domain.teammates import Action, Role, allows
from contactmerge.errors import BadRequest, Conflict, Forbidden, NotFound, Unauthorized
from contactmerge.services.normalizing import normalize_email
from contactmerge.storage import teammates as repo
from contactmerge.storage.tables import Admin, AdminSession, Workspace

SESSION_SECONDS = 12 * 3600
MIN_PASSWORD = 10
MAX_PASSWORD = 1024  # argon2 reads any length; a megabyte "password" would only cost the server
MAX_CANDIDATES = 20  # workspaces one email may sign in to


@lru_cache(maxsize=1)
def _hasher() -> PasswordHasher:
    return PasswordHasher()  # argon2id, RFC 9106's parameters as the library keeps them current


@lru_cache(maxsize=1)
def _decoy() -> str:
    """A hash to verify against when no teammate has the email, so a wrong email costs what a wrong
    password does (the time of an answer tells nobody which emails are teammates)."""
    return _hasher().hash(secrets.token_hex(16))


@dataclass(frozen=True)
class SignedIn:
    workspace: Workspace
    admin: Admin
    token: str  # the cookie's secret: only its SHA-256 is stored


def _check_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise BadRequest(f"a password has at least {MIN_PASSWORD} characters", field="password")
    if len(password) > MAX_PASSWORD:
        raise BadRequest(f"a password has at most {MAX_PASSWORD} characters", field="password")
    return password


def _check_role(role: str) -> Role:
    try:
        return Role(role)
    except ValueError:
        raise BadRequest("role must be 'owner' or 'agent'", field="role") from None


def _email(raw: str) -> tuple[str, str]:
    given, _ = normalize_email(raw)
    return given, given.lower()


def create_teammate(
    db: DbSession, workspace: Workspace, *, email: str, name: str, role: str, password: str
) -> Admin:
    """A new teammate of the workspace; 409 when one already has the email. A removed teammate with the
    email comes back (same id, so the records of what they did name them again) as this name, role and
    password; their old sessions stay ended."""
    given, normalized = _email(email)
    name = name.strip()
    if not name or len(name) > 255:
        raise BadRequest("a teammate needs a name of at most 255 characters", field="name")
    checked = _check_role(role)
    _check_password(password)
    existing = repo.by_email(db, workspace.id, normalized)
    if existing is not None and existing.removed_at is None:
        raise Conflict(f"a teammate of this workspace already has the email {given}", field="email")
    if existing is not None:
        existing.email, existing.name, existing.role = given, name, checked.value
        existing.password_hash = _hasher().hash(password)
        existing.removed_at = None
        return existing
    return repo.add(
        db,
        Admin(
            workspace_id=workspace.id,
            id=new_id(),
            email=given,
            email_normalized=normalized,
            name=name,
            role=checked.value,
            password_hash=_hasher().hash(password),
            created_at=now(),
        ),
    )


def list_teammates(db: DbSession, workspace: Workspace, *, removed: bool = False) -> list[Admin]:
    return repo.of_workspace(db, workspace.id, removed=removed)


def get_teammate(db: DbSession, workspace: Workspace, admin_id: str) -> Admin:
    """A teammate of this workspace (a removed one too: records still name them); 404 otherwise."""
    found = repo.get(db, workspace.id, admin_id)
    if found is None:
        raise NotFound(f"Admin Not Found: no teammate has id '{admin_id}'", field="id")
    return found


def check_admin_id(
    db: DbSession, workspace: Workspace, admin_id: object, *, field: str = "admin_id"
) -> Admin:
    """The current teammate an API body's ``admin_id`` names; 400 naming ``field`` otherwise."""
    found = repo.get(db, workspace.id, str(admin_id)) if admin_id not in (None, "") else None
    if found is None or found.removed_at is not None:
        raise BadRequest(f"admin_id '{admin_id}' is not a teammate of this workspace", field=field)
    return found


def names(db: DbSession, workspace: Workspace, admin_ids: list[str]) -> dict[str, str]:
    """Teammates' names by id, for the records that name them (removed ones too)."""
    return repo.names(db, workspace.id, sorted(set(admin_ids)))


def all_names(db: DbSession, workspace: Workspace) -> dict[str, str]:
    """Every teammate's name by id, removed ones too: what records of changes are read with."""
    return {a.id: a.name for a in repo.of_workspace(db, workspace.id, removed=True)}


def require(admin: Admin, action: Action) -> None:
    """403 unless the teammate's role allows ``action`` (domain.teammates.allows)."""
    if not allows(admin.role, action):
        raise Forbidden(
            f"only an owner may {action.value.replace('_', ' ')}; {admin.name} is an {admin.role}"
        )


def _other_owners(db: DbSession, workspace: Workspace, admin: Admin) -> int:
    """How many other live owners there are, locked until the change commits (two owners demoting or
    removing each other at once would otherwise each see the other, and leave none)."""
    return sum(1 for a in repo.lock_with_role(db, workspace.id, Role.OWNER) if a.id != admin.id)


def change_role(db: DbSession, workspace: Workspace, admin_id: str, role: str) -> Admin:
    """Makes a teammate an owner or an agent; the last owner stays one (someone must manage the rest)."""
    admin = get_teammate(db, workspace, admin_id)
    checked = _check_role(role)
    if admin.removed_at is not None:
        raise NotFound(f"Admin Not Found: no teammate has id '{admin_id}'", field="id")
    if admin.role == Role.OWNER and checked != Role.OWNER and not _other_owners(db, workspace, admin):
        raise Conflict(
            "the workspace's last owner cannot become an agent; make another owner first", field="role"
        )
    admin.role = checked.value
    return admin


def remove_teammate(db: DbSession, workspace: Workspace, admin_id: str) -> Admin:
    """Signs a teammate out everywhere and keeps them from signing in again; their records keep their name."""
    admin = get_teammate(db, workspace, admin_id)
    if admin.removed_at is not None:
        return admin
    if admin.role == Role.OWNER and not _other_owners(db, workspace, admin):
        raise Conflict("the workspace's last owner cannot be removed; make another owner first", field="id")
    stamp = now()
    admin.removed_at = stamp
    repo.revoke_sessions(db, workspace.id, admin.id, stamp)
    return admin


def set_password(
    db: DbSession, workspace: Workspace, admin_id: str, password: str, *, end_sessions: bool = True
) -> Admin:
    """A new password; every session signed in with the old one ends (unless ``end_sessions`` is False:
    the demo's restart, which prints a new password without signing anyone out)."""
    admin = get_teammate(db, workspace, admin_id)
    if admin.removed_at is not None:
        raise NotFound(f"Admin Not Found: no teammate has id '{admin_id}'", field="id")
    admin.password_hash = _hasher().hash(_check_password(password))
    if end_sessions:
        repo.revoke_sessions(db, workspace.id, admin.id, now())
    return admin


def verify(db: DbSession, email: str, password: str) -> list[tuple[Admin, Workspace]]:
    """The teammates (with their workspaces) that this email and password sign in as: usually one, none
    when either is wrong. A wrong email costs one argon2 verification like a wrong password."""
    try:
        _, normalized = _email(email)
    except BadRequest:
        normalized = ""
    candidates = repo.everywhere_by_email(db, normalized, MAX_CANDIDATES) if normalized else []
    if not candidates or len(password) > MAX_PASSWORD:
        _matches(_decoy(), password[:MAX_PASSWORD])
        return []
    found = []
    for admin, workspace in candidates:
        if _matches(admin.password_hash, password):
            if _hasher().check_needs_rehash(admin.password_hash):
                admin.password_hash = _hasher().hash(password)
            found.append((admin, workspace))
    return found


def _matches(password_hash: str, password: str) -> bool:
    try:
        return _hasher().verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def start_session(db: DbSession, workspace: Workspace, admin: Admin) -> SignedIn:
    """A new signed-in session for the teammate, ``SESSION_SECONDS`` long."""
    token = secrets.token_urlsafe(32)
    stamp = now()
    repo.add_session(
        db,
        AdminSession(
            id=_session_id(token),
            workspace_id=workspace.id,
            admin_id=admin.id,
            created_at=stamp,
            expires_at=stamp + SESSION_SECONDS,
        ),
    )
    return SignedIn(workspace, admin, token)


def resolve_session(db: DbSession, token: str | None) -> tuple[Workspace, Admin]:
    """The workspace and teammate a session cookie signs in as; 401 when it is unknown, expired, revoked,
    or its teammate was removed."""
    found = repo.session(db, _session_id(token)) if token else None
    if found is None:
        raise Unauthorized("not signed in")
    session, admin, workspace = found
    if session.revoked_at is not None or session.expires_at <= now() or admin.removed_at is not None:
        raise Unauthorized("this session has ended; sign in again")
    return workspace, admin


def end_session(db: DbSession, token: str | None) -> None:
    """Signs this browser out: its session is revoked, so a copy of the cookie no longer works either."""
    found = repo.session(db, _session_id(token)) if token else None
    if found is not None and found[0].revoked_at is None:
        found[0].revoked_at = now()


def _session_id(token: str | None) -> str:
    return hashlib.sha256((token or "").encode("utf-8", "replace")).hexdigest()
