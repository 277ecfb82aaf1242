"""The teammate's signed-in session: sign in with email and password, CSRF guard, page rendering.

The cookie holds a random session secret (HttpOnly, SameSite=Strict, path ``/admin``) whose SHA-256 is a
row of ``admin_sessions``: it expires after 12 hours, signing out revokes it, and removing a teammate or
changing their password ends all of theirs. Every POST form carries ``csrf`` = HMAC-SHA256(secret,
purpose): a page of another site cannot compute it, and SameSite=Strict keeps the cookie off its requests
anyway. Pages send no script and a strict CSP. Wrong passwords and forged cookies count against the
client's address (design §4: brute force). API tokens never sign in to the pages.
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
from contactmerge.domain.teammates import Action, describe, teammate_actor
from contactmerge.errors import BadRequest, ContactMergeError, TooManyRequests, Unauthorized
from contactmerge.services import teammates, workspaces
from contactmerge.services.rate_limits import Limiter
from contactmerge.settings import Settings
from contactmerge.storage.db import read_only, transaction
from contactmerge.storage.tables import Admin, Workspace

SESSION_COOKIE = "cm_admin"
LOGIN_COOKIE = "cm_admin_login"  # a nonce that ties the sign-in form to this browser (login CSRF)
NOTICE_COOKIE = "cm_admin_notice"
COOKIE_PATH = "/admin"
SESSION_SECONDS = teammates.SESSION_SECONDS
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
    admin: Admin  # the signed-in teammate

    @property
    def actor(self) -> str:
        """Who the changes of this request are recorded as: the signed-in teammate."""
        return teammate_actor(self.admin.id)

    def require(self, action: Action) -> None:
        """403 (an error page) unless the teammate's role allows ``action``."""
        teammates.require(self.admin, action)

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
            workspace, admin = teammates.resolve_session(db, token)
        except Unauthorized as error:
            if token:  # no cookie is no guess
                db.rollback()  # first: on SQLite this request's transaction may hold the write lock
                limiter.failed("admin_sign_in", address=address)
            raise SignInRequired from error
        yield AdminContext(db, workspace, request.app.state.settings, csrf_token(str(token)), admin)


async def checked_form(request: Request) -> AsyncIterator[FormData]:
    """The POSTed form, once its ``csrf`` field proves it came from a page of this session; its uploaded
    files are closed (their spooled temporary files removed) when the request is over."""
    form = await request.form()
    try:
        token = request.cookies.get(SESSION_COOKIE) or ""
        sent = form.get("csrf")
        if not token or not isinstance(sent, str) or not same_secret(sent, csrf_token(token)):
            raise CsrfRefused
        if any(
            "\x00" in key or (isinstance(value, str) and "\x00" in value) for key, value in form.multi_items()
        ):
            # PostgreSQL cannot store one (a 500 there) and SQLite would keep it: refused as the API does
            raise BadRequest("The form must not contain NUL characters")
        yield form
    finally:
        await form.close()


def render(
    request: Request, name: str, ctx: AdminContext | None = None, status_code: int = 200, **context: Any
) -> HTMLResponse:
    notice = request.cookies.get(NOTICE_COOKIE)
    page = {
        "who": _who(ctx),
        "workspace": ctx.workspace if ctx else None,
        "me": ctx.admin if ctx else None,
        "csrf": ctx.csrf if ctx else "",
        "notice": unquote(notice) if notice else None,
        **context,
    }
    response = templates.TemplateResponse(request, name, page, status_code=status_code)
    if notice:
        response.delete_cookie(NOTICE_COOKIE, path=COOKIE_PATH)
    return response


def _who(ctx: AdminContext | None) -> Callable[[str | None], str]:
    """How a page names an actor (domain.teammates.describe): teammates by name, read once per page."""
    loaded: dict[str, str] | None = None

    def who(actor: str | None) -> str:
        nonlocal loaded
        if loaded is None:
            loaded = {} if ctx is None else teammates.all_names(ctx.db, ctx.workspace)
        return describe(actor, loaded)

    return who


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
    return RedirectResponse("/admin/inbox", status_code=303)  # a support team starts at its conversations


@router.get("/admin/login", response_class=HTMLResponse)
def login_form(request: Request, next: str = "/admin") -> HTMLResponse:
    return _login_page(request, next)


def _login_page(
    request: Request,
    next: str,
    error: str | None = None,
    *,
    email: str = "",
    choices: list[Workspace] | None = None,
) -> HTMLResponse:
    nonce = request.cookies.get(LOGIN_COOKIE) or secrets.token_urlsafe(24)
    response = render(
        request,
        "admin/login.html",
        status_code=401 if error and not choices else 200,
        next=back_to(next, "/admin"),
        login_csrf=csrf_token(nonce, "admin-login"),
        error=error,
        email=email,
        choices=choices or [],
    )
    _set_cookie(request, response, LOGIN_COOKIE, nonce, max_age=3600)
    return response


@router.post("/admin/login")
def login(
    request: Request,
    email: str = Form(""),
    password: str = Form(""),
    workspace: str = Form(""),
    csrf: str = Form(""),
    next: str = Form("/admin"),
) -> Response:
    nonce = request.cookies.get(LOGIN_COOKIE) or ""
    if not nonce or not same_secret(csrf, csrf_token(nonce, "admin-login")):
        raise CsrfRefused
    email = email.strip()
    if not email or not password:
        return _login_page(request, next, "Enter your email and password.", email=email)
    limiter: Limiter = request.app.state.limiter
    address = client_address(request)
    limiter.check("admin_sign_in", address=address)
    with transaction(request.app.state.sessions) as db:
        found = teammates.verify(db, email, password)
        if workspace:  # the second step of a sign-in whose email is a teammate of several workspaces
            found = [(admin, space) for admin, space in found if space.app_id == workspace]
        if len(found) > 1:
            message = "You are a teammate of several workspaces: choose one and enter your password again."
            return _login_page(request, next, message, email=email, choices=[space for _, space in found])
        signed = teammates.start_session(db, found[0][1], found[0][0]) if found else None
    if signed is None:
        limiter.failed("admin_sign_in", address=address)
        return _login_page(request, next, "Wrong email or password.", email=email)
    response = redirect(
        request, back_to(next, "/admin"), f"Signed in to {signed.workspace.name} as {signed.admin.name}."
    )
    _set_cookie(request, response, SESSION_COOKIE, signed.token, max_age=SESSION_SECONDS)
    response.delete_cookie(LOGIN_COOKIE, path=COOKIE_PATH)
    return response


@router.post("/admin/logout")
def logout(request: Request, form: FormData = Depends(checked_form)) -> Response:
    with transaction(request.app.state.sessions) as db:
        teammates.end_session(db, request.cookies.get(SESSION_COOKIE))
    response = redirect(request, "/admin/login", "Signed out.")
    response.delete_cookie(SESSION_COOKIE, path=COOKIE_PATH)
    return response
