"""Transient database conflicts are retried inside the request (design §3, docs/merging.md).

A deadlock or serialization failure on PostgreSQL (or SQLite's "database is locked") means the request's
transaction was rolled back whole, so running the request again is safe. The error handler answers such a
failure 503 with ``Retry-After`` and a private marker header; ``RetryTransient``, a pure ASGI middleware
just outside the routes, sees the marker before anything reached the client and runs the request again, a
bounded number of times. A client sees the 503 (without the marker) only when every attempt failed.

Only requests whose body fits in memory are replayed: none, or a non-multipart one with a small
``Content-Length``. An upload is answered 503 at once and the client retries it.
"""

from __future__ import annotations

import asyncio
import random
import sqlite3
from typing import Any

from sqlalchemy.exc import DBAPIError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

MARKER = b"x-contactmerge-transient"
# deadlock_detected, serialization_failure, lock_not_available
TRANSIENT_SQLSTATES = frozenset({"40P01", "40001", "55P03"})
ATTEMPTS = 4
REPLAYABLE_BYTES = 1 << 20


def is_transient(error: BaseException) -> bool:
    """A failure that running the same transaction again can cure."""
    if not isinstance(error, DBAPIError):
        return False
    original = error.orig
    if getattr(original, "sqlstate", None) in TRANSIENT_SQLSTATES:
        return True
    return isinstance(original, sqlite3.OperationalError) and "locked" in str(original)


def _replayable(scope: Scope) -> bool:
    headers = dict(scope.get("headers") or [])
    if b"multipart" in headers.get(b"content-type", b""):
        return False
    if scope.get("method") in ("GET", "HEAD", "DELETE", "OPTIONS"):
        return b"content-length" not in headers and b"transfer-encoding" not in headers
    length = headers.get(b"content-length")
    return length is not None and length.isdigit() and int(length) <= REPLAYABLE_BYTES


class RetryTransient:
    def __init__(self, app: ASGIApp, attempts: int = ATTEMPTS) -> None:
        self.app = app
        self.attempts = attempts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not _replayable(scope):
            await self.app(scope, receive, send)
            return
        body = await _read_body(receive)
        for attempt in range(1, self.attempts + 1):
            if await self._attempt(scope, body, receive, send, last=attempt == self.attempts):
                return
            await asyncio.sleep(random.uniform(0.01, 0.05) * attempt)

    async def _attempt(self, scope: Scope, body: bytes, receive: Receive, send: Send, *, last: bool) -> bool:
        """Run the app once; False when it failed transiently and nothing was sent (try again)."""
        replayed = False
        transient = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()  # after the body: the client's disconnect, if it comes

        async def forward(message: Message) -> None:
            nonlocal transient
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != MARKER]
                transient = len(headers) != len(message.get("headers", [])) and not last
                message = {**message, "headers": headers}
            if not transient:
                await send(message)

        await self.app(scope, replay, forward)
        return not transient


async def _read_body(receive: Receive) -> bytes:
    chunks: list[Any] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)
