"""The messenger's public endpoints: addressed by the workspace's ``app_id``, never by an API token.

A browser proves nothing but its anonymous id, so every route here acts only on that browser's own
contact and reads only what design §4 lets that session read.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Query, Request
from pydantic import Field
from sqlalchemy.orm import Session as DbSession

from contactmerge.api.deps import client_address
from contactmerge.api.schemas import Body
from contactmerge.domain.identity import speaks_for
from contactmerge.errors import Forbidden, NotFound
from contactmerge.services import messenger, workspaces
from contactmerge.services.rate_limits import Limiter
from contactmerge.settings import Settings
from contactmerge.storage import workspaces as workspaces_repo
from contactmerge.storage.db import read_only
from contactmerge.storage.tables import Contact, Conversation, ConversationPart, Session, Workspace

router = APIRouter(prefix="/messenger", tags=["messenger"])

AnonymousId = Field(default=None, max_length=64, description="The id the widget keeps in its cookie.")


class MessengerBody(Body):
    app_id: str = Field(min_length=1, max_length=32)
    anonymous_id: str | None = AnonymousId


class PingBody(MessengerBody):
    user_id: str | None = Field(default=None, max_length=255)
    email: str | None = Field(default=None, max_length=320)
    user_hash: str | None = Field(
        default=None,
        max_length=128,
        description="Hex HMAC-SHA256 of the user_id (or of the normalized email when there is no user_id) "
        "with the workspace's identity secret. It covers that one identifier: any other one is a claim.",
    )
    intercom_user_jwt: str | None = Field(
        default=None,
        max_length=4096,
        description="A JWT (HS256, the identity secret) signing user_id and optionally email and name: "
        "every claim it signs is trusted.",
    )
    name: str | None = Field(default=None, max_length=255)
    custom_attributes: dict[str, Any] | None = None
    page_url: str | None = Field(default=None, max_length=2048)


class EmailBody(MessengerBody):
    email: str = Field(max_length=320)


class MessageBody(MessengerBody):
    body: str = Field(min_length=1, max_length=65_536)
    conversation_id: str | None = Field(default=None, max_length=32)


@dataclass
class MessengerContext:
    db: DbSession
    settings: Settings
    request: Request

    def workspace(self, app_id: str) -> Workspace:
        workspace = workspaces_repo.by_app_id(self.db, app_id)
        if workspace is None:
            raise NotFound(f"no workspace has app_id '{app_id}'", field="app_id")
        return workspace

    def commit(self, *, wake_worker: bool = False) -> None:
        self.db.commit()
        worker = getattr(self.request.app.state, "worker", None)
        if wake_worker and worker is not None:
            worker.wake()


@contextmanager
def messenger_context(request: Request) -> Iterator[MessengerContext]:
    # Opened inside each (sync) route rather than as a dependency: one thread-pool hop per request instead
    # of two, which matters for the ping every page view sends.
    with request.app.state.sessions() as db:
        yield MessengerContext(db=db, settings=request.app.state.settings, request=request)


def me(contact: Contact, session: Session, **extra: Any) -> dict[str, Any]:
    """What a ping answers: the browser's session and, when it speaks for it, its contact."""
    return session_json(
        session.id,
        session.logged_in_contact_id,
        session.origin_contact_id,
        contact.id,
        contact.role,
        contact.external_id,
        contact.email,
        contact.name,
        **extra,
    )


def session_json(
    session_id: str,
    logged_in_contact_id: str | None,
    origin_contact_id: str,
    contact_id: str,
    role: str,
    external_id: str | None,
    email: str | None,
    name: str | None,
    **extra: Any,
) -> dict[str, Any]:
    """The browser's own contact. A browser that reached a user without logging in as it with a valid
    signature, by a claim or through a merge (design §4), learns nothing of that user."""
    logged_in = logged_in_contact_id == contact_id
    own = speaks_for(logged_in_contact_id, origin_contact_id, contact_id, role)
    return {
        "type": "messenger.session",
        "anonymous_id": session_id,
        "logged_in": logged_in,
        "contact": {
            "id": contact_id if own else None,
            "role": role if own else "lead",
            "user_id": external_id if own else None,
            "email": email if own else None,
            "name": name if own else None,
        },
        **extra,
    }


def thread(
    conversation: Conversation, parts: list[ConversationPart], names: dict[str, str]
) -> dict[str, Any]:
    """A conversation as the widget shows it: an agent's reply carries the teammate's name, never more."""
    return {
        "type": "messenger.conversation",
        "id": conversation.id,
        "created_at": conversation.created_at,
        "updated_at": conversation.updated_at,
        "parts": [
            {
                "id": p.id,
                "body": p.body,
                "created_at": p.created_at,
                "from": "admin" if p.author_type == "admin" else "me",
                "author_name": names.get(p.author_id or "") if p.author_type == "admin" else None,
            }
            for p in parts
        ],
    }


def threads_json(threads: messenger.Threads) -> list[dict[str, Any]]:
    return [thread(c, threads.parts[c.id], threads.names) for c in threads.conversations]


@router.post("/ping")
def ping(body: PingBody, request: Request) -> dict[str, Any]:
    if body.anonymous_id and not (
        body.user_id
        or body.email
        or body.user_hash is not None
        or body.intercom_user_jwt is not None
        or body.name is not None
        or body.custom_attributes
    ):
        with messenger_context(request) as ctx:
            read_only(ctx.db, single_statement=True)
            visit = messenger.visit(ctx.db, body.app_id, body.anonymous_id, body.page_url)
            if visit is not None:
                view, seen = visit
                request.app.state.seen.record(seen)
                return session_json(
                    view.session_id,
                    view.logged_in_contact_id,
                    view.origin_contact_id,
                    view.contact_id,
                    view.role,
                    view.external_id,
                    view.email,
                    view.name,
                    throttled=False,
                    attributes_refused=False,
                )
    # Brute force (design §4): signatures are guessed only by sending them, so only those are counted.
    limiter: Limiter = request.app.state.limiter
    address = client_address(request)
    signed = body.user_hash is not None or body.intercom_user_jwt is not None
    if signed:
        limiter.check("messenger_login", address=address, workspace_id=body.app_id)
    try:
        return _ping(body, request)
    except Forbidden as refused:
        # counted once the request's transaction is over: on SQLite it may still hold the write lock
        if signed and refused.field in ("user_hash", "intercom_user_jwt"):
            limiter.failed("messenger_login", address=address, workspace_id=body.app_id)
        raise


def _ping(body: PingBody, request: Request) -> dict[str, Any]:
    with messenger_context(request) as ctx:
        workspace = ctx.workspace(body.app_id)
        result = messenger.ping(
            ctx.db,
            workspace,
            anonymous_id=body.anonymous_id,
            user_id=body.user_id,
            email=body.email,
            user_hash=body.user_hash,
            user_jwt=body.intercom_user_jwt,
            name=body.name,
            custom_attributes=body.custom_attributes,
            page_url=body.page_url,
            region=workspaces.phone_region(workspace, ctx.settings.default_phone_region),
        )
        response = me(
            result.contact,
            result.session,
            throttled=result.throttled,
            attributes_refused=result.attributes_refused,
        )
        ctx.commit(wake_worker=bool(result.marks))
        return response


@router.post("/email")
def collect_email(body: EmailBody, request: Request) -> dict[str, Any]:
    with messenger_context(request) as ctx:
        workspace = ctx.workspace(body.app_id)
        result = messenger.collect_email(ctx.db, workspace, body.anonymous_id, body.email)
        response = me(result.contact, result.session)
        ctx.commit(wake_worker=bool(result.marks))
        return response


@router.post("/messages")
def send_message(body: MessageBody, request: Request) -> dict[str, Any]:
    with messenger_context(request) as ctx:
        workspace = ctx.workspace(body.app_id)
        conversation, _, session = messenger.send_message(
            ctx.db, workspace, body.anonymous_id, body.body, body.conversation_id
        )
        [response] = threads_json(messenger.threads_of(ctx.db, workspace, session, [conversation]))
        ctx.commit()
        return response


@router.get("/conversations")
def my_conversations(
    request: Request,
    app_id: str = Query(min_length=1, max_length=32),
    anonymous_id: str | None = Query(default=None, max_length=64),
) -> dict[str, Any]:
    with messenger_context(request) as ctx:
        workspace = ctx.workspace(app_id)
        threads = messenger.read_threads(ctx.db, workspace, anonymous_id)
        return {"type": "messenger.conversation.list", "conversations": threads_json(threads)}


@router.post("/shutdown")
def shutdown(body: MessengerBody, request: Request) -> dict[str, Any]:
    with messenger_context(request) as ctx:
        workspace = ctx.workspace(body.app_id)
        messenger.shutdown(ctx.db, workspace, body.anonymous_id)
        ctx.commit()
        return {"type": "messenger.shutdown", "anonymous_id": None}
