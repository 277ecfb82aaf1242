"""The inbox in the admin: conversations to read and answer, filtered; one conversation with its parts and
the teammate's actions on it (reply, note, assign, close, reopen, snooze, ask a lead to log in).

Every action is a POST form with the session's ``csrf`` field, answered by a redirect back to the
conversation with a notice; bad input shows the conversation page again with the error, nothing changed.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from starlette.datastructures import FormData

from contactmerge.domain.attributes import DATE_RANGE
from contactmerge.domain.ids import now
from contactmerge.domain.teammates import Action
from contactmerge.errors import BadRequest, Conflict, NotFound
from contactmerge.services import conversations, inbox, teammates
from contactmerge.storage.tables import Conversation
from contactmerge.web.admin import AdminContext, AdminRoute, admin_context, checked_form, redirect, render
from contactmerge.web.admin import templates as page_templates

router = APIRouter(include_in_schema=False, route_class=AdminRoute)
HOUR = 3600
DAY = 24 * HOUR


def duration(seconds: int | None) -> str:
    """How long, as a person says it: "4 min", "3 h 5 min", "2 days"."""
    if seconds is None:
        return ""
    if seconds < 60:
        return "under a minute"
    minutes = seconds // 60
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    days = hours // 24
    return "1 day" if days == 1 else f"{days} days"


page_templates.env.filters["duration"] = duration


def snooze_choices(stamp: int) -> list[tuple[str, str, int]]:
    """The snooze menu: (value, label, until). Days start at 09:00 UTC (teammates have no time zone yet)."""
    today = dt.datetime.fromtimestamp(stamp, dt.UTC).replace(hour=9, minute=0, second=0, microsecond=0)
    tomorrow = today + dt.timedelta(days=1)
    monday = today + dt.timedelta(days=7 - today.weekday())
    choices = [("hour", "1 hour", stamp + HOUR), ("tomorrow", "Tomorrow", int(tomorrow.timestamp()))]
    choices.append(("next_week", "Next week", int(monday.timestamp())))
    return [(value, f"{label} ({_at(until, year=False)})", until) for value, label, until in choices]


def _at(stamp: int, *, year: bool = True) -> str:
    shape = "%a %d %b %Y %H:%M UTC" if year else "%a %d %b %H:%M UTC"
    return dt.datetime.fromtimestamp(stamp, dt.UTC).strftime(shape)


def _snooze_until(form: FormData, stamp: int) -> int:
    """The time a snooze form names: a menu choice, or a date and time (UTC) typed in; never the past."""
    chosen = str(form.get("for", ""))
    if chosen == "custom":
        typed = str(form.get("until", "")).strip()
        try:
            parsed = dt.datetime.fromisoformat(typed)
        except ValueError:
            raise BadRequest("enter the date and time to snooze until", field="until") from None
        until = int((parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)).timestamp())
        if not DATE_RANGE[0] <= until <= DATE_RANGE[1]:  # an offset can push year 1 or 9999 off the calendar
            raise BadRequest("enter a date and time between the years 1 and 9999 (UTC)", field="until")
    else:
        menu = {value: when for value, _, when in snooze_choices(stamp)}
        if chosen not in menu:
            raise BadRequest("choose how long to snooze for", field="for")
        until = menu[chosen]
    if until <= stamp:
        raise BadRequest(f"a snooze ends in the future, not at {_at(until)}", field="until")
    return until


@router.get("/admin/inbox", response_class=HTMLResponse)
def inbox_page(
    request: Request,
    state: str = "open",
    assignee: str = "anyone",
    unverified: str = "",
    after: str | None = None,
    ctx: AdminContext = Depends(admin_context),
) -> HTMLResponse:
    ctx.require(Action.READ)
    filters = inbox.Filters.parse(state, assignee, unverified)
    listing = inbox.list_inbox(ctx.db, ctx.workspace, ctx.admin, filters, after=after)
    query = {"state": filters.state, "assignee": filters.assignee}
    if filters.unverified:
        query["unverified"] = "1"
    following = f"/admin/inbox?{urlencode({**query, 'after': listing.next})}" if listing.next else None
    return render(
        request,
        "admin/inbox.html",
        ctx,
        filters=filters,
        listing=listing,
        following=following,
        states=inbox.STATES,
        first_page=after is None,
    )


@router.get("/admin/inbox/{conversation_id}", response_class=HTMLResponse)
def conversation_page(
    request: Request, conversation_id: str, ctx: AdminContext = Depends(admin_context)
) -> HTMLResponse:
    ctx.require(Action.READ)
    conversation = conversations.get_conversation(ctx.db, ctx.workspace, conversation_id)
    view = inbox.conversation_view(ctx.db, ctx.workspace, conversation)
    if not conversation.read:  # a teammate opened it: read
        conversations.mark_read(ctx.db, conversation)
        ctx.commit()
    return _conversation(request, ctx, view)


def _conversation(
    request: Request,
    ctx: AdminContext,
    view: inbox.ConversationView,
    *,
    error: str | None = None,
    typed: str = "",
    status: int = 200,
) -> HTMLResponse:
    return render(
        request,
        "admin/conversation.html",
        ctx,
        status_code=status,
        view=view,
        snoozes=snooze_choices(now()),
        error=error,
        typed=typed,
    )


def _reply(ctx: AdminContext, conversation: Conversation, form: FormData) -> str:
    kind = str(form.get("message_type", "comment"))
    body = str(form.get("body", ""))
    if kind not in ("comment", "note"):
        raise BadRequest("a reply is a comment or a note", field="message_type")
    if not body.strip():
        raise BadRequest("write something first: the message is empty", field="body")
    conversations.reply_as_admin(ctx.db, conversation, ctx.admin.id, body, message_type=kind)
    return "Note added: only teammates see it." if kind == "note" else "Reply sent."


def _assign(ctx: AdminContext, conversation: Conversation, form: FormData) -> str:
    chosen = str(form.get("assignee", "")).strip()
    if not chosen:
        conversations.assign(ctx.db, conversation, ctx.admin, None)
        return "Unassigned."
    assignee = teammates.check_admin_id(ctx.db, ctx.workspace, chosen, field="assignee")
    conversations.assign(ctx.db, conversation, ctx.admin, assignee)
    return f"Assigned to {assignee.name}."


def _close(ctx: AdminContext, conversation: Conversation, form: FormData) -> str:
    conversations.close(ctx.db, conversation, ctx.admin)
    return "Closed."


def _reopen(ctx: AdminContext, conversation: Conversation, form: FormData) -> str:
    conversations.reopen(ctx.db, conversation, ctx.admin)
    return "Reopened."


def _snooze(ctx: AdminContext, conversation: Conversation, form: FormData) -> str:
    until = _snooze_until(form, now())
    conversations.snooze(ctx.db, conversation, ctx.admin, until)
    return f"Snoozed until {_at(until)}."


def _ask_to_log_in(ctx: AdminContext, conversation: Conversation, form: FormData) -> str:
    inbox.ask_to_log_in(ctx.db, ctx.workspace, conversation, ctx.admin)
    return "Asked them to log in: once they do in this browser, they are merged into their account (R1)."


# Each form of the conversation page: what it does, and the notice it leaves. All need Action.ANSWER.
ACTIONS: dict[str, Callable[[AdminContext, Conversation, FormData], str]] = {
    "reply": _reply,  # a comment or, with message_type=note, a note
    "assign": _assign,
    "close": _close,
    "reopen": _reopen,
    "snooze": _snooze,
    "ask-to-log-in": _ask_to_log_in,
}


@router.post("/admin/inbox/{conversation_id}/{action}")
def act(
    request: Request,
    conversation_id: str,
    action: str,
    ctx: AdminContext = Depends(admin_context),
    form: FormData = Depends(checked_form),
) -> Response:
    """Runs one teammate action on a conversation: 403 unless they may answer, 404 for another workspace's
    conversation or an unknown action, the page again with the error for bad input (nothing changed), else
    a redirect back with the notice."""
    ctx.require(Action.ANSWER)
    conversation = conversations.get_conversation(ctx.db, ctx.workspace, conversation_id, for_update=True)
    run = ACTIONS.get(action)
    if run is None:
        raise NotFound(f"the inbox has no action '{action}'")
    try:
        notice = run(ctx, conversation, form)
    except (BadRequest, Conflict) as error:
        ctx.db.rollback()
        again = conversations.get_conversation(ctx.db, ctx.workspace, conversation_id)
        view = inbox.conversation_view(ctx.db, ctx.workspace, again)
        typed = str(form.get("body", ""))
        return _conversation(request, ctx, view, error=error.message, typed=typed, status=error.status_code)
    ctx.commit()
    return redirect(request, f"/admin/inbox/{conversation_id}", notice)
