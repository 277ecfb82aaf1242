"""Request-scoped context: an open database session and the authenticated workspace."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session as DbSession

from contactmerge.domain.teammates import token_actor
from contactmerge.errors import Unauthorized
from contactmerge.services import workspaces
from contactmerge.services.rate_limits import Limiter
from contactmerge.settings import Settings
from contactmerge.storage.db import read_only
from contactmerge.storage.tables import ApiToken, Workspace


@dataclass
class ApiContext:
    db: DbSession
    workspace: Workspace
    settings: Settings
    token: ApiToken

    @property
    def actor(self) -> str:
        """Who the changes of this request are recorded as: the API token, by its label."""
        return token_actor(self.token.name)

    def commit(self) -> None:
        """The request is the outer boundary: its route commits once, after the service did its work."""
        self.db.commit()

    @property
    def phone_region(self) -> str:
        """Where this workspace's national phone numbers are read (``workspaces.phone_region``)."""
        return workspaces.phone_region(self.workspace, self.settings.default_phone_region)


# Declares the token in the OpenAPI document, from which api/openapi.py derives 401 and 429; the token
# itself is read below, so that a missing or malformed one is our 401 in the envelope.
BEARER = HTTPBearer(auto_error=False, scheme_name="bearerAuth", description="A workspace's API token.")


def api_context(
    request: Request, _declared: HTTPAuthorizationCredentials | None = Depends(BEARER)
) -> Iterator[ApiContext]:
    settings: Settings = request.app.state.settings
    limiter: Limiter = request.app.state.limiter
    address = client_address(request)
    token = _bearer(request.headers.get("authorization"))
    limiter.check("api_token", address=address)
    with request.app.state.sessions() as db:
        if request.method in ("GET", "HEAD"):
            read_only(db)
        try:
            workspace, credential = workspaces.authenticate_token(db, token)
        except Unauthorized:
            if token:  # no token is no guess
                db.rollback()  # first: on SQLite this request's transaction may hold the write lock
                limiter.failed("api_token", address=address)
            raise
        yield ApiContext(db=db, workspace=workspace, settings=settings, token=credential)


def client_address(request: Request) -> str | None:
    """The address rate limits count against. uvicorn puts the client's here from ``X-Forwarded-For`` only
    when the proxy's address is in ``FORWARDED_ALLOW_IPS`` (``--forwarded-allow-ips``; local by default)."""
    return request.client.host if request.client else None


def _bearer(header: str | None) -> str | None:
    if not header:
        return None
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" else None
