"""Request bodies are limited before they are read (design §4): 413 before routing, parsing or authentication.

``BodyLimits`` is a pure ASGI middleware (``BaseHTTPMiddleware`` would buffer the body). Each request gets
its route's limit: an upload (``UPLOAD_ROUTES``) may carry ``max_upload_bytes`` plus ``max_body_bytes`` for
the form's other fields and the multipart framing; every other route ``max_body_bytes``.

- A ``Content-Length`` over the limit is answered 413 at once. The app never runs and nobody calls
  ``receive``, so the server reads no more than its small socket buffer (uvicorn stops reading past 64 KiB)
  and the ``Connection: close`` of the answer ends the upload.
- A body without one (chunked) is counted as the app receives it. The chunk that would cross the limit is
  never handed over: ``receive`` raises in its place, whatever the app answers to that is dropped, and the
  middleware answers 413. The app holds at most ``limit`` bytes and never a whole over-limit body, so no
  route runs on one, whatever its body parser makes of the error (FastAPI turns it into a 400).
- A ``Content-Length`` that is not one whole number is answered 400 (uvicorn refuses most of them itself).
"""

from __future__ import annotations

from collections.abc import Callable

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from contactmerge.errors import BadRequest, ContactMergeError, RequestTooLarge
from contactmerge.settings import Settings

# api/routes/imports.upload and web/admin_imports.upload; tests/test_body_limits.py uploads through both.
UPLOAD_ROUTES = frozenset({("POST", "/imports"), ("POST", "/admin/imports")})

Answer = Callable[[Request, ContactMergeError], Response]


class _CutOff(Exception):
    """Raised to the app by ``receive`` in place of the chunk that would cross the limit."""


class BodyLimits:
    """Refuses a body over its route's limit with 413 (``answer`` renders it), reading no more of it."""

    def __init__(self, app: ASGIApp, *, settings: Settings, answer: Answer) -> None:
        self.app = app
        self.answer = answer
        self.body_limit = settings.max_body_bytes
        self.upload_limit = settings.max_upload_bytes + settings.max_body_bytes

    def limit(self, scope: Scope) -> int:
        path, root = scope["path"], scope.get("root_path", "")
        route = path[len(root) :] if root and path.startswith(root) else path
        return self.upload_limit if (scope["method"], route) in UPLOAD_ROUTES else self.body_limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit(scope)
        try:
            declared = _declared_length(scope)
        except BadRequest as error:
            await self._refuse(scope, receive, send, error)
            return
        if declared is not None and declared > limit:
            await self._refuse(scope, receive, send, _too_large(limit))
            return

        received = 0
        cut_off = started = False

        async def counted() -> Message:
            nonlocal received, cut_off
            if cut_off:
                raise _CutOff
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    cut_off = True
                    raise _CutOff
            return message

        async def guarded(message: Message) -> None:
            nonlocal started
            if cut_off and not started:
                return  # the app's answer to a body it never got whole: the 413 below replaces it
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, guarded)
        except Exception:
            # _CutOff itself, or whatever the app's layers made of it; past the response start, the server
            # has to drop the connection.
            if not cut_off or started:
                raise
        if cut_off and not started:
            await self._refuse(scope, receive, send, _too_large(limit))

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, error: ContactMergeError) -> None:
        response = self.answer(Request(scope), error)
        if scope.get("http_version") in ("1.0", "1.1"):
            response.headers["Connection"] = "close"  # so the client stops sending and the server reading
        await response(scope, receive, send)


def _too_large(limit: int) -> RequestTooLarge:
    return RequestTooLarge(f"The request body must be at most {limit:,} bytes")


def _declared_length(scope: Scope) -> int | None:
    """The ``Content-Length``, if sent; BadRequest unless it is one whole number (repeats must agree)."""
    values = {
        part.strip()
        for name, value in scope["headers"]
        if name.lower() == b"content-length"
        for part in value.split(b",")
    }
    if not values:
        return None
    value = values.pop()
    try:
        if values or not value.isdigit():
            raise ValueError(value)
        return int(value)  # a ValueError past 4,300 digits too
    except ValueError:
        raise BadRequest("Content-Length must be the body's size in bytes, one whole number") from None
