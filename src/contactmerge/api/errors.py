"""Every error leaves the API in Intercom's ``error.list`` envelope, with the request's id."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError, IntegrityError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from contactmerge.api.retries import MARKER, is_transient
from contactmerge.errors import ContactMergeError, Gone, TooManyRequests

log = logging.getLogger("contactmerge.api")


def request_id(request: Request) -> str:
    rid = getattr(request.state, "request_id", None)
    if rid is None:
        rid = request.state.request_id = secrets.token_hex(10)
    return str(rid)


def envelope(request: Request, status: int, errors: list[dict[str, Any]]) -> JSONResponse:
    body = {"type": "error.list", "request_id": request_id(request), "errors": errors}
    return JSONResponse(body, status_code=status)


def error_response(request: Request, exc: ContactMergeError) -> JSONResponse:
    """One error of the tree in the envelope, with its status and code."""
    return envelope(request, exc.status_code, [_error(exc.code, exc.message, exc.field)])


def _error(code: str, message: str, field: str | None = None) -> dict[str, Any]:
    entry: dict[str, Any] = {"code": code, "message": _encodable(message)}
    if field:
        entry["field"] = _encodable(field)
    return entry


def _encodable(text: str) -> str:
    # An error may quote what the client sent: a lone surrogate in it must not turn the answer into a 500.
    return text.encode("utf-8", "replace").decode("utf-8")


def install(app: FastAPI) -> None:
    @app.middleware("http")
    async def _refuse_nul(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        # A NUL in a path or query value would reach PostgreSQL, which cannot compare text holding one.
        query = request.query_params.multi_items()
        if "\x00" in request.scope["path"] or any("\x00" in k + v for k, v in query):
            message = "The URL must not contain NUL characters"
            return envelope(request, 400, [_error("parameter_invalid", message)])
        return await call_next(request)

    @app.exception_handler(ContactMergeError)
    async def _domain(request: Request, exc: ContactMergeError) -> JSONResponse:
        response = error_response(request, exc)
        if isinstance(exc, Gone):
            response.headers["Link"] = f'</contacts/{exc.canonical_id}>; rel="canonical"'
        if isinstance(exc, TooManyRequests):
            response.headers.update(exc.headers())
        return response

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        return envelope(request, 400, [_validation_entry(e) for e in exc.errors()])

    @app.exception_handler(IntegrityError)
    async def _integrity(request: Request, exc: IntegrityError) -> JSONResponse:
        log.info("integrity error: %s", exc.orig)
        return envelope(
            request, 409, [_error("conflict", "the change conflicts with data written meanwhile")]
        )

    @app.exception_handler(DBAPIError)
    async def _database(request: Request, exc: DBAPIError) -> JSONResponse:
        if not is_transient(exc):
            return await _unexpected(request, exc)
        log.info("transient database conflict on %s %s: %s", request.method, request.url.path, exc.orig)
        message = "The data was being changed by another request; nothing was written. Try again."
        response = envelope(request, 503, [_error("service_unavailable", message)])
        response.headers["Retry-After"] = "1"
        response.headers[MARKER.decode()] = "1"  # RetryTransient runs the request again first
        return response

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {
            400: "parameter_invalid",
            404: "not_found",
            405: "method_not_allowed",
            401: "unauthorized",
        }.get(exc.status_code, "error")
        message = "Resource Not Found" if exc.status_code == 404 else str(exc.detail)
        # FastAPI's answer to a body its JSON parser gave up on, with the parser's reason as the cause
        if isinstance(exc.__cause__, RecursionError):
            message = "The request body nests too deeply to be read"
        elif isinstance(exc.__cause__, UnicodeDecodeError):
            message = "The request body is not UTF-8"
        elif isinstance(exc.__cause__, ValueError):  # what else json.loads refuses outside JSONDecodeError
            message = "The request body holds a number of more than 4,300 digits"
        response = envelope(request, exc.status_code, [_error(code, message)])
        response.headers.update(exc.headers or {})
        if exc.status_code == 405:  # Starlette's Allow names the methods of the first route at the path only
            response.headers["Allow"] = ", ".join(_allowed_methods(request))
        return response

    app.add_exception_handler(Exception, _unexpected)


def _allowed_methods(request: Request) -> list[str]:
    """Every method some route answers at the request's path."""

    def answers(method: str) -> bool:
        scope = {**request.scope, "method": method}
        return any(route.matches(scope)[0] == Match.FULL for route in request.app.router.routes)

    return [m for m in ("DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT") if answers(m)]


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return envelope(request, 500, [_error("server_error", "An unexpected error occurred")])


def _validation_entry(error: dict[str, Any]) -> dict[str, Any]:
    loc = list(error.get("loc", ()))
    if loc and loc[0] in ("body", "query", "path", "header"):
        loc = loc[1:]  # where the parameter was sent; a field may itself be called "body"
    kind = error.get("type", "")
    if kind == "value_unstorable":
        # raised for a whole body by schemas.Body, which names the exact place in ``path``
        inner = str((error.get("ctx") or {}).get("path", ""))
        field = _dotted([*loc, inner])
        return _error("parameter_invalid", str(error.get("msg", "invalid value")), field)
    field = _dotted(loc)
    if kind == "json_invalid":
        return _error("parameter_invalid", "The request body is not valid JSON")
    if kind == "missing":
        if field is None:
            return _error("parameter_not_found", "The request needs a JSON body")
        return _error("parameter_not_found", f"{field} is required", field)
    if kind == "extra_forbidden":
        return _error("parameter_invalid", f"{field} is not a recognised parameter", field)
    if kind == "model_attributes_type" or kind == "dict_type":
        return _error("parameter_invalid", f"{field or 'body'} must be a JSON object", field)
    return _error("parameter_invalid", f"{field}: {error.get('msg', 'invalid value')}", field)


def _dotted(parts: list[Any]) -> str | None:
    """``options[0]``, ``from.id``: names joined by dots, list positions in brackets, as search paths are."""
    text = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in parts if part != "")
    return text.lstrip(".") or None
