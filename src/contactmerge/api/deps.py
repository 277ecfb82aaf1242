"""Request-scoped context: an open database session and the authenticated workspace."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from fastapi import Request
from sqlalchemy.orm import Session as DbSession

from contactmerge.services import workspaces
from contactmerge.settings import Settings
from contactmerge.storage.db import read_only
from contactmerge.storage.tables import Workspace


@dataclass
class ApiContext:
    db: DbSession
    workspace: Workspace
    settings: Settings

    def commit(self) -> None:
        """The request is the outer boundary: its route commits once, after the service did its work."""
        self.db.commit()


def api_context(request: Request) -> Iterator[ApiContext]:
    settings: Settings = request.app.state.settings
    with request.app.state.sessions() as db:
        if request.method in ("GET", "HEAD"):
            read_only(db)
        workspace = workspaces.authenticate(db, _bearer(request.headers.get("authorization")))
        yield ApiContext(db=db, workspace=workspace, settings=settings)


def _bearer(header: str | None) -> str | None:
    if not header:
        return None
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" else None
