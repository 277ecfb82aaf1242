"""Workspaces and their API tokens."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session as DbSession

from contactmerge.storage.tables import ApiToken, Workspace


def add(db: DbSession, workspace: Workspace) -> Workspace:
    db.add(workspace)
    db.flush()
    return workspace


def add_token(db: DbSession, token: ApiToken) -> None:
    db.add(token)
    db.flush()


def by_token_hash(db: DbSession, token_hash: str) -> tuple[Workspace, ApiToken] | None:
    row = db.execute(
        select(Workspace, ApiToken)
        .join(ApiToken, ApiToken.workspace_id == Workspace.id)
        .where(ApiToken.token_hash == token_hash)
    ).first()
    return (row[0], row[1]) if row else None


def tokens_of(db: DbSession, workspace_id: str) -> list[ApiToken]:
    return list(
        db.scalars(
            select(ApiToken)
            .where(ApiToken.workspace_id == workspace_id)
            .order_by(ApiToken.created_at, ApiToken.id)
        )
    )


def token(db: DbSession, workspace_id: str, token_id: str) -> ApiToken | None:
    return db.get(ApiToken, (workspace_id, token_id))


def remove_token(db: DbSession, token: ApiToken) -> None:
    db.delete(token)
    db.flush()


def by_app_id(db: DbSession, app_id: str) -> Workspace | None:
    return db.scalar(select(Workspace).where(Workspace.app_id == app_id))


def all_workspaces(db: DbSession) -> list[Workspace]:
    return list(db.scalars(select(Workspace).order_by(Workspace.created_at, Workspace.id)))
