"""The admin's signed-in session: sign in with a workspace API token, CSRF guard, page rendering.

The cookie holds the workspace's API token itself (HttpOnly, SameSite=Strict, path ``/admin``), so every
page authenticates exactly as the JSON API does and revoking the token signs the admin out. Every POST
form carries ``csrf`` = HMAC-SHA256(token, purpose): a page of another site cannot compute it, and
SameSite=Strict keeps the cookie off its requests anyway. Pages send no script and a strict CSP. Wrong
tokens, sent to the form or in a cookie, count against the client's address (design §4: brute force).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

from fastapi import APIRouter, Depends, Form, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse
from fastapi.routing import APIRoute
from fastapi.templating import Jinja2Templates
from sqlalchemy.orm import Session as DbSession
from starlette.datastructures import FormData

from contactmerge.api.deps import client_address
from contactmerge.errors import ContactMergeError, TooManyRequests, Unauthorized
from contactmerge.services import workspaces
from contactmerge.services.rate_limits import Limiter
from contactmerge.settings import Settings
from contactmerge.storage.db import read_only
from contactmerge.storage.tables import Workspace

SESSION_COOKIE = "cm_admin"
LOGIN_COOKIE = "cm_admin_login"  # a nonce that ties the sign-in form to this browser (login CSRF)
NOTICE_COOKIE = "cm_admin_notice"
COOKIE_PATH = "/admin"
SESSION_SECONDS = 12 * 3600
STATIC = Path(__file__).with_name("static")
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}

templates = Jinja2Templates(directory=str(Path(__file__).with_name("templates")))


def _when(stamp: int | float | None) -> str:
    if stamp is None:
        return "—"
    return dt.datetime.fromtimestamp(stamp, dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


templates.env.filters["when"] = _when


class SignInRequired(Exception):
    """No valid session: the page answers with a redirect to the sign-in form."""


class CsrfRefused(Exception):
    """A POST without this session's CSRF token: refused, nothing changed."""


def same_secret(given: str, expected: str) -> bool:
    """Constant-time comparison that answers False, never raises, for any string a browser can send
    (``hmac.compare_digest`` raises TypeError on non-ASCII str)."""
    return hmac.compare_digest(given.encode("utf-8", "replace"), expected.encode("utf-8", "replace"))


def csrf_token(secret: str, purpose: str = "admin-form") -> str:
    return hmac.new(secret.encode(), purpose.encode(), hashlib.sha256).hexdigest()


@dataclass
class AdminContext:
    db: DbSession
    workspace: Workspace
    settings: Settings
    csrf: str

    def commit(self) -> None:
        """The request is the outer boundary: a page commits once, after the service did its work."""
        self.db.commit()

    @property
    def phone_region(self) -> str:
        """Where this workspace's national phone numbers are read (``workspaces.phone_region``)."""
        return workspaces.phone_region(self.workspace, self.settings.default_phone_region)


def admin_context(request: Request) -> Iterator[AdminContext]:
    token = request.cookies.get(SESSION_COOKIE)
    limiter: Limiter = request.app.state.limiter
    address = client_address(request)
    if token:  # the cookie holds a token, so a forged one is a guess like the sign-in form's
        limiter.check("admin_sign_in", address=address)
    with request.app.state.sessions() as db:
        if request.method in ("GET", "HEAD"):
            read_only(db)
        try:
            workspace = workspaces.authenticate(db, token)
        except Unauthorized as error:
            if token:  # no cookie is no guess
                db.rollback()  # first: on SQLite this request's transaction may hold the write lock
                limiter.failed("admin_sign_in", address=address)
            raise SignInRequired from error
        yield AdminContext(db, workspace, request.app.state.settings, csrf_token(str(token)))


async def checked_form(request: Request) -> AsyncIterator[FormData]:
    """The POSTed form, once its ``csrf`` field proves it came from a page of this session; its uploaded
    files are closed (their spooled temporary files removed) when the request is over."""
    form = await request.form()
    try:
        token = request.cookies.get(SESSION_COOKIE) or ""
        sent = form.get("csrf")
        if not token or not isinstance(sent, str) or not same_secret(sent, csrf_token(token)):
            raise CsrfRefused
        yield form
    finally:
        await form.close()


def render(
    request: Request, name: str, ctx: AdminContext | None = None, status_code: int = 200, **context: Any
) -> HTMLResponse:
    notice = request.cookies.get(NOTICE_COOKIE)
    page = {
        "workspace": ctx.workspace if ctx else None,
        "csrf": ctx.csrf if ctx else "",
        "notice": unquote(notice) if notice else None,
        **context,
    }
    response = templates.TemplateResponse(request, name, page, status_code=status_code)
    if notice:
        response.delete_cookie(NOTICE_COOKIE, path=COOKIE_PATH)
    return response


def redirect(request: Request, to: str, notice: str | None = None) -> RedirectResponse:
    """A 303 to another admin page, carrying a one-time notice for it to show."""
    response = RedirectResponse(to, status_code=303)
    if notice:
        _set_cookie(request, response, NOTICE_COOKIE, quote(notice), max_age=60)
    return response


def back_to(target: object, default: str) -> str:
    """A page to return to after a form: only a path of the admin UI (never another site)."""
    if isinstance(target, str) and target.startswith("/admin") and "//" not in target and "\\" not in target:
        return target
    return default


def _set_cookie(request: Request, response: Response, name: str, value: str, max_age: int) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path=COOKIE_PATH,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )


def error_page(request: Request, status: int, message: str) -> HTMLResponse:
    return render(request, "admin/error.html", status_code=status, status=status, message=message)


class AdminRoute(APIRoute):
    """Admin pages answer in HTML: sign-in redirects and readable error pages, never the JSON envelope."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def guarded(request: Request) -> Response:
            try:
                response = await handler(request)
            except SignInRequired:
                query = f"?{request.url.query}" if request.url.query else ""
                target = request.url.path + query if request.method == "GET" else "/admin"
                response = RedirectResponse(f"/admin/login?next={quote(target)}", status_code=303)
            except CsrfRefused:
                message = "This form has expired or came from another site; reload the page and try again."
                response = error_page(request, 403, message)
            except ContactMergeError as error:
                response = error_page(request, error.status_code, error.message)
                if isinstance(error, TooManyRequests):
                    response.headers.update(error.headers())
            except RequestValidationError as error:
                fields = ", ".join(str(e["loc"][-1]) for e in error.errors())
                response = error_page(request, 400, f"The form is missing or has a bad value: {fields}")
            response.headers.update(SECURITY_HEADERS)
            return response

        return guarded


router = APIRouter(include_in_schema=False, route_class=AdminRoute)


@router.get("/admin/admin.css", name="admin_css")
def stylesheet() -> FileResponse:
    return FileResponse(STATIC / "admin.css", media_type="text/css", headers={"Cache-Control": "max-age=300"})


@router.get("/admin")
def index(ctx: AdminContext = Depends(admin_context)) -> RedirectResponse:
    return RedirectResponse("/admin/duplicates", status_code=303)


@router.get("/admin/login", response_class=HTMLResponse)
def login_form(request: Request, next: str = "/admin") -> HTMLResponse:
    return _login_page(request, next)


def _login_page(request: Request, next: str, error: str | None = None) -> HTMLResponse:
    nonce = request.cookies.get(LOGIN_COOKIE) or secrets.token_urlsafe(24)
    response = render(
        request,
        "admin/login.html",
        status_code=401 if error else 200,
        next=back_to(next, "/admin"),
        login_csrf=csrf_token(nonce, "admin-login"),
        error=error,
    )
    _set_cookie(request, response, LOGIN_COOKIE, nonce, max_age=3600)
    return response


@router.post("/admin/login")
def login(
    request: Request, token: str = Form(""), csrf: str = Form(""), next: str = Form("/admin")
) -> Response:
    nonce = request.cookies.get(LOGIN_COOKIE) or ""
    if not nonce or not same_secret(csrf, csrf_token(nonce, "admin-login")):
        raise CsrfRefused
    token = token.strip()
    if not token:
        return _login_page(request, next, "Paste your workspace's API token.")
    limiter: Limiter = request.app.state.limiter
    address = client_address(request)
    limiter.check("admin_sign_in", address=address)
    with request.app.state.sessions() as db:
        read_only(db)
        try:
            workspace: Workspace | None = workspaces.authenticate(db, token)
        except Unauthorized:
            workspace = None
    if workspace is None:
        limiter.failed("admin_sign_in", address=address)
        message = (
            "That token does not belong to any workspace. Paste the API token that "
            "`contactmerge workspace create` printed."
        )
        return _login_page(request, next, message)
    response = redirect(request, back_to(next, "/admin"), f"Signed in to {workspace.name}.")
    _set_cookie(request, response, SESSION_COOKIE, token, max_age=SESSION_SECONDS)
    response.delete_cookie(LOGIN_COOKIE, path=COOKIE_PATH)
    return response


@router.post("/admin/logout")
def logout(request: Request, form: FormData = Depends(checked_form)) -> Response:
    response = redirect(request, "/admin/login", "Signed out.")
    response.delete_cookie(SESSION_COOKIE, path=COOKIE_PATH)
    return response
