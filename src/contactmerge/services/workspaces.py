"""Workspaces (tenants), their API tokens and identity-verification secrets."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from sqlalchemy.orm import Session as DbSession

from contactmerge.domain.ids import new_id, now
from contactmerge.errors import BadRequest, NotFound, Unauthorized
from contactmerge.services.normalizing import check_region
from contactmerge.storage import workspaces as repo
from contactmerge.storage.tables import ApiToken, Workspace

TOKEN_PREFIX = "cm_"
VERIFICATION_MODES = ("off", "optional", "enforced")
EMAIL_MATCH_MODES = ("on_login", "immediate", "off")


@dataclass(frozen=True)
class CreatedWorkspace:
    workspace: Workspace
    token: str


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_workspace(
    db: DbSession, name: str, *, identity_verification: str = "enforced"
) -> CreatedWorkspace:
    """A new workspace with a fresh app_id, identity secret and API token (shown once, stored hashed)."""
    name = name.strip()
    if not name:
        raise BadRequest("a workspace needs a name", field="name")
    if identity_verification not in VERIFICATION_MODES:
        raise BadRequest(
            f"identity verification must be one of {', '.join(VERIFICATION_MODES)}",
            field="identity_verification",
        )
    app_id = secrets.token_hex(6)
    workspace = repo.add(
        db,
        Workspace(
            id=app_id,  # as in Intercom, a contact's workspace_id is the public app_id
            name=name,
            app_id=app_id,
            identity_secret=secrets.token_hex(32),
            identity_verification=identity_verification,
            settings={},
            created_at=now(),
        ),
    )
    return CreatedWorkspace(workspace, issue_token(db, workspace, "default"))


def issue_token(db: DbSession, workspace: Workspace, name: str, *, admin_id: str | None = None) -> str:
    """A new API token for the workspace; only its hash is kept. ``name`` is its label: the actor that
    changes made with it are recorded under."""
    name = name.strip()
    if not name:
        raise BadRequest("a token needs a label", field="name")
    if len(name) > 255:
        raise BadRequest("a token's label is at most 255 characters", field="name")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    repo.add_token(
        db,
        ApiToken(
            workspace_id=workspace.id,
            id=new_id(),
            name=name,
            token_hash=hash_token(token),
            admin_id=admin_id,
            created_at=now(),
        ),
    )
    return token


def authenticate(db: DbSession, token: str | None) -> Workspace:
    """The workspace a Bearer token belongs to; 401 otherwise."""
    return authenticate_token(db, token)[0]


def authenticate_token(db: DbSession, token: str | None) -> tuple[Workspace, ApiToken]:
    """The workspace a Bearer token belongs to and the token's row (its label names the actor); 401
    otherwise."""
    if not token:
        raise Unauthorized("Access Token Invalid: send 'Authorization: Bearer <token>'")
    found = repo.by_token_hash(db, hash_token(token))
    if found is None:
        raise Unauthorized("Access Token Invalid")
    return found


def list_tokens(db: DbSession, workspace: Workspace) -> list[ApiToken]:
    return repo.tokens_of(db, workspace.id)


def revoke_token(db: DbSession, workspace: Workspace, token_id: str) -> ApiToken:
    """Deletes a token: requests bearing it get 401 from now on. The records it made keep its label."""
    found = repo.token(db, workspace.id, token_id)
    if found is None:
        raise NotFound(f"no API token has id '{token_id}'", field="id")
    repo.remove_token(db, found)
    return found


def resolve(db: DbSession, app_id: str | None) -> Workspace:
    """The workspace an ``--workspace APP_ID`` option names, or the only one when none is named."""
    if app_id is not None:
        workspace = repo.by_app_id(db, app_id)
        if workspace is None:
            raise NotFound(f"no workspace has app_id '{app_id}'", field="workspace")
        return workspace
    found = repo.all_workspaces(db)
    if len(found) == 1:
        return found[0]
    if not found:
        raise NotFound(
            "there is no workspace yet: run 'contactmerge workspace create NAME'", field="workspace"
        )
    listing = ", ".join(f"{w.app_id} ({w.name})" for w in found)
    raise BadRequest(f"several workspaces exist, choose one with --workspace: {listing}", field="workspace")


def phone_region(workspace: Workspace, default: str) -> str:
    """Where the workspace reads national phone numbers (API, messenger, import): its ``phone_region``
    setting, else ``default`` (the server's default_phone_region)."""
    return str((workspace.settings or {}).get("phone_region") or default)


def list_workspaces(db: DbSession) -> list[Workspace]:
    return repo.all_workspaces(db)


def update_settings(
    db: DbSession,
    workspace: Workspace,
    *,
    identity_verification: str | None = None,
    email_match: str | None = None,
    fan_in_cap: int | None = None,
    dedupe_provider_rules: bool | None = None,
    phone_region: str | None = None,
) -> Workspace:
    """Change how a workspace verifies logins (§4), applies R2, caps merges into one contact (§3),
    whether the exact duplicate scan (R5) reads emails as their provider does (Gmail dots, ``+tag``), and
    the region its CSV imports read national phone numbers in (R3)."""
    if identity_verification is not None:
        if identity_verification not in VERIFICATION_MODES:
            raise BadRequest(
                f"identity verification must be one of {', '.join(VERIFICATION_MODES)}",
                field="identity_verification",
            )
        workspace.identity_verification = identity_verification
    settings = dict(workspace.settings or {})
    if email_match is not None:
        if email_match not in EMAIL_MATCH_MODES:
            raise BadRequest(
                f"email match must be one of {', '.join(EMAIL_MATCH_MODES)}", field="email_match"
            )
        settings["email_match"] = email_match
    if fan_in_cap is not None:
        if fan_in_cap < 1:
            raise BadRequest("the fan-in cap is at least 1", field="fan_in_cap")
        settings["merge_fan_in_cap"] = fan_in_cap
    if dedupe_provider_rules is not None:
        settings["dedupe_provider_rules"] = dedupe_provider_rules
    if phone_region is not None:
        settings["phone_region"] = check_region(phone_region, field="phone_region")
    workspace.settings = settings
    db.flush()
    return workspace
