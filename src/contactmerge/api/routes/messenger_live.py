"""``GET /messenger/stream``: the widget's live feed, as server-sent events.

Addressed like the other messenger routes, by the public ``app_id`` and the browser's anonymous id in the
query (an EventSource sends neither cookies nor headers of ours), and it reads exactly what
``GET /messenger/conversations`` reads (services.live). Each connection polls the database in a worker
thread, its database session closed between polls; it lives at most ``messenger_stream_seconds``, sends
heartbeat comments, stops when the client goes, and is counted against per-server, per-address and
per-browser caps (429).
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import anyio
from fastapi import APIRouter, Query, Request
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session as DbSession
from sqlalchemy.orm import sessionmaker
from sse_starlette import EventSourceResponse, ServerSentEvent
from starlette.types import Receive, Scope, Send

from contactmerge.api.deps import client_address
from contactmerge.api.retries import is_transient
from contactmerge.api.routes.messenger import threads_json
from contactmerge.errors import NotFound
from contactmerge.services.live import Ended, Feed, Streams, Update
from contactmerge.settings import Settings
from contactmerge.storage import workspaces as workspaces_repo
from contactmerge.storage.db import read_only

router = APIRouter(prefix="/messenger", tags=["messenger"])

HEARTBEAT_SECONDS = 15
POLL_THREADS = 8  # polls of all connections share these, so the feed never starves the API's threads
RECONNECT_MS = 1000


class HeldStream(EventSourceResponse):
    """An event stream that gives back its place under the caps however its connection ends."""

    def __init__(self, content: AsyncIterator[ServerSentEvent], release: Callable[[], None]) -> None:
        super().__init__(
            content,
            ping=HEARTBEAT_SECONDS,
            headers={"Cache-Control": "no-store"},
        )
        self._release = release

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self._release()


def _streams(request: Request) -> Streams:
    state = request.app.state
    if getattr(state, "streams", None) is None:
        settings: Settings = state.settings
        state.streams = Streams(
            total=settings.messenger_streams_max, per_address=settings.messenger_streams_per_address
        )
        state.stream_threads = anyio.CapacityLimiter(POLL_THREADS)
    streams: Streams = state.streams
    return streams


def _poll(sessions: sessionmaker[DbSession], feed: Feed) -> dict[str, Any] | None:
    with sessions() as db:
        read_only(db, single_statement=True)  # mostly one query: on PostgreSQL, no transaction around it
        update = feed.poll(db)
        return None if update is None else _json(update)


def _first(sessions: sessionmaker[DbSession], feed: Feed) -> dict[str, Any] | None:
    """The first poll, which also answers 404 for an unknown workspace or session, as the history does."""
    with sessions() as db:
        read_only(db)
        if workspaces_repo.by_app_id(db, feed.workspace_id) is None:
            raise NotFound(f"no workspace has app_id '{feed.workspace_id}'", field="app_id")
        try:
            update = feed.poll(db)
        except Ended:
            raise NotFound("unknown or ended messenger session: ping first", field="anonymous_id") from None
        return None if update is None else _json(update)


def _json(update: Update) -> dict[str, Any]:
    return {
        "type": "messenger.parts",
        "complete": update.complete,
        "conversations": threads_json(update.threads),
    }


def _event(data: dict[str, Any]) -> ServerSentEvent:
    return ServerSentEvent(data=json.dumps(data, separators=(",", ":")), event="parts")


@router.get("/stream", response_class=EventSourceResponse)
async def stream(
    request: Request,
    app_id: str = Query(min_length=1, max_length=32),
    anonymous_id: str = Query(min_length=1, max_length=64),
    after: str | None = Query(
        default=None,
        max_length=32,
        description="The newest part id the widget already has: only later ones are sent. Without it the "
        "first event carries everything this browser may read.",
    ),
) -> EventSourceResponse:
    """Server-sent events: ``parts`` with what this browser may newly read (the shape of
    ``GET /messenger/conversations``), ``ended`` when its session ends, ``reconnect`` at the end of a
    connection's life."""
    streams = _streams(request)
    settings: Settings = request.app.state.settings
    sessions: sessionmaker[DbSession] = request.app.state.sessions
    threads: anyio.CapacityLimiter = request.app.state.stream_threads
    held = streams.hold(client_address(request), app_id, anonymous_id)
    feed = Feed(app_id, anonymous_id, after)
    try:
        first = await anyio.to_thread.run_sync(_first, sessions, feed, limiter=threads)
    except BaseException:
        streams.release(held)
        raise

    async def events() -> AsyncIterator[ServerSentEvent]:
        yield ServerSentEvent(comment="contactmerge live feed", retry=RECONNECT_MS)
        if first is not None:
            yield _event(first)
        deadline = time.monotonic() + settings.messenger_stream_seconds
        while time.monotonic() < deadline:
            await anyio.sleep(settings.messenger_stream_poll_seconds)
            try:
                update = await anyio.to_thread.run_sync(_poll, sessions, feed, limiter=threads)
            except Ended:
                yield ServerSentEvent(data="{}", event="ended")
                return
            except DBAPIError as error:
                if not is_transient(error):
                    raise
                continue  # a writer held the database (SQLite) or a conflict: the next poll sees it
            if update is not None:
                yield _event(update)
        yield ServerSentEvent(data="{}", event="reconnect")

    return HeldStream(events(), lambda: streams.release(held))
