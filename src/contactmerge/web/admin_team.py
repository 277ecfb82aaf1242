"""The Team page (owners only): teammates (add, change role, new password, remove) and API tokens
(create, shown once; revoke)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from starlette.datastructures import FormData

from contactmerge.domain.teammates import Action, Role
from contactmerge.errors import ContactMergeError
from contactmerge.services import teammates, workspaces
from contactmerge.storage.tables import Admin
from contactmerge.web.admin import AdminContext, AdminRoute, admin_context, checked_form, redirect, render

router = APIRouter(include_in_schema=False, route_class=AdminRoute)


def _page(request: Request, ctx: AdminContext, status_code: int = 200, **extra: Any) -> HTMLResponse:
    return render(
        request,
        "admin/team.html",
        ctx,
        status_code=status_code,
        team=teammates.list_teammates(ctx.db, ctx.workspace),
        tokens=workspaces.list_tokens(ctx.db, ctx.workspace),
        roles=[r.value for r in Role],
        **extra,
    )


@router.get("/admin/team", response_class=HTMLResponse)
def team(request: Request, ctx: AdminContext = Depends(admin_context)) -> HTMLResponse:
    ctx.require(Action.MANAGE_TEAMMATES)
    return _page(request, ctx)


def _refused(request: Request, ctx: AdminContext, error: ContactMergeError, **extra: Any) -> HTMLResponse:
    """The Team page again with the error beside its form, nothing changed."""
    ctx.db.rollback()
    field = f" ({error.field})" if error.field else ""
    return _page(request, ctx, status_code=error.status_code, error=error.message + field, **extra)


@router.post("/admin/team")
def add_teammate(
    request: Request, ctx: AdminContext = Depends(admin_context), form: FormData = Depends(checked_form)
) -> Response:
    ctx.require(Action.MANAGE_TEAMMATES)
    given = {k: str(form.get(k) or "") for k in ("email", "name", "role")}
    try:
        admin = teammates.create_teammate(
            ctx.db, ctx.workspace, password=str(form.get("password") or ""), **given
        )
    except ContactMergeError as error:
        return _refused(request, ctx, error, given=given)
    ctx.commit()
    return redirect(request, "/admin/team", f"Added {admin.name} as {admin.role}; they can sign in now.")


def _change(
    request: Request,
    ctx: AdminContext,
    change: Callable[[], Admin],
    notice: Callable[[Admin], str],
    *,
    ends_sessions: bool = False,
) -> Response:
    """One change to a teammate: the page again with the error (nothing changed), or back with a notice."""
    ctx.require(Action.MANAGE_TEAMMATES)
    try:
        admin = change()
    except ContactMergeError as error:
        return _refused(request, ctx, error)
    ctx.commit()
    if ends_sessions and admin.id == ctx.admin.id:  # this very session ended with the others
        return redirect(request, "/admin/login", "Your password changed: sign in with the new one.")
    return redirect(request, "/admin/team", notice(admin))


@router.post("/admin/team/{admin_id}/role")
def change_role(
    request: Request,
    admin_id: str,
    ctx: AdminContext = Depends(admin_context),
    form: FormData = Depends(checked_form),
) -> Response:
    role = str(form.get("role") or "")
    return _change(
        request,
        ctx,
        lambda: teammates.change_role(ctx.db, ctx.workspace, admin_id, role),
        lambda admin: f"{admin.name} is now an {admin.role}.",
    )


@router.post("/admin/team/{admin_id}/password")
def new_password(
    request: Request,
    admin_id: str,
    ctx: AdminContext = Depends(admin_context),
    form: FormData = Depends(checked_form),
) -> Response:
    password = str(form.get("password") or "")
    return _change(
        request,
        ctx,
        lambda: teammates.set_password(ctx.db, ctx.workspace, admin_id, password),
        lambda admin: f"New password set for {admin.name}; their sessions ended.",
        ends_sessions=True,
    )


@router.post("/admin/team/{admin_id}/remove")
def remove_teammate(
    request: Request,
    admin_id: str,
    ctx: AdminContext = Depends(admin_context),
    form: FormData = Depends(checked_form),
) -> Response:
    return _change(
        request,
        ctx,
        lambda: teammates.remove_teammate(ctx.db, ctx.workspace, admin_id),
        lambda admin: f"Removed {admin.name}: signed out everywhere.",
    )


@router.post("/admin/tokens", response_class=HTMLResponse)
def create_token(
    request: Request, ctx: AdminContext = Depends(admin_context), form: FormData = Depends(checked_form)
) -> Response:
    ctx.require(Action.MANAGE_TOKENS)
    label = str(form.get("name") or "")
    try:
        token = workspaces.issue_token(ctx.db, ctx.workspace, label, admin_id=ctx.admin.id)
    except ContactMergeError as error:
        return _refused(request, ctx, error)
    ctx.commit()
    # shown on this page once, never put in a redirect's cookie or URL: only its hash is kept
    return _page(request, ctx, new_token=token, new_token_label=label.strip())


@router.post("/admin/tokens/{token_id}/revoke")
def revoke_token(
    request: Request,
    token_id: str,
    ctx: AdminContext = Depends(admin_context),
    form: FormData = Depends(checked_form),
) -> Response:
    ctx.require(Action.MANAGE_TOKENS)
    revoked = workspaces.revoke_token(ctx.db, ctx.workspace, token_id)
    ctx.commit()
    return redirect(request, "/admin/team", f"Token “{revoked.name}” revoked: requests with it now get 401.")
