"""Teammates (admins) and their signed-in sessions."""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.orm import Session as DbSession

from contactmerge.storage.tables import Admin, AdminSession, Workspace


def add(db: DbSession, admin: Admin) -> Admin:
    db.add(admin)
    db.flush()
    return admin


def get(db: DbSession, workspace_id: str, admin_id: str) -> Admin | None:
    return db.get(Admin, (workspace_id, admin_id))


def by_email(db: DbSession, workspace_id: str, email_normalized: str) -> Admin | None:
    return db.scalar(
        select(Admin).where(Admin.workspace_id == workspace_id, Admin.email_normalized == email_normalized)
    )


def everywhere_by_email(db: DbSession, email_normalized: str, limit: int) -> list[tuple[Admin, Workspace]]:
    """The live teammates with this email in every workspace (sign-in does not name one), with theirs."""
    rows = db.execute(
        select(Admin, Workspace)
        .join(Workspace, Workspace.id == Admin.workspace_id)
        .where(Admin.email_normalized == email_normalized, Admin.removed_at.is_(None))
        .order_by(Workspace.name, Workspace.id)
        .limit(limit)
    )
    return [(admin, workspace) for admin, workspace in rows]


def of_workspace(db: DbSession, workspace_id: str, *, removed: bool = False) -> list[Admin]:
    query = select(Admin).where(Admin.workspace_id == workspace_id)
    if not removed:
        query = query.where(Admin.removed_at.is_(None))
    return list(db.scalars(query.order_by(Admin.created_at, Admin.id)))


def lock_with_role(db: DbSession, workspace_id: str, role: str) -> list[Admin]:
    """The live teammates with this role, as committed now, locked until the transaction ends: two requests
    that each count the other owners wait for one another instead of both going through. SQLite runs one
    writer at a time, so there it is a plain read."""
    return list(
        db.scalars(
            select(Admin)
            .where(Admin.workspace_id == workspace_id, Admin.role == role, Admin.removed_at.is_(None))
            .order_by(Admin.created_at, Admin.id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    )


def names(db: DbSession, workspace_id: str, admin_ids: list[str]) -> dict[str, str]:
    if not admin_ids:
        return {}
    rows = db.execute(
        select(Admin.id, Admin.name).where(Admin.workspace_id == workspace_id, Admin.id.in_(admin_ids))
    )
    return {admin_id: name for admin_id, name in rows}


def add_session(db: DbSession, session: AdminSession) -> None:
    db.add(session)
    db.flush()


def session(db: DbSession, session_id: str) -> tuple[AdminSession, Admin, Workspace] | None:
    row = db.execute(
        select(AdminSession, Admin, Workspace)
        .join(Admin, (Admin.workspace_id == AdminSession.workspace_id) & (Admin.id == AdminSession.admin_id))
        .join(Workspace, Workspace.id == AdminSession.workspace_id)
        .where(AdminSession.id == session_id)
    ).first()
    return (row[0], row[1], row[2]) if row else None


def revoke_sessions(db: DbSession, workspace_id: str, admin_id: str, at: int) -> int:
    """Ends every live session of a teammate; how many there were."""
    result = db.execute(
        update(AdminSession)
        .where(
            AdminSession.workspace_id == workspace_id,
            AdminSession.admin_id == admin_id,
            AdminSession.revoked_at.is_(None),
        )
        .values(revoked_at=at)
    )
    return int(getattr(result, "rowcount", 0) or 0)
