"""Events: ``POST /events`` and ``GET /events?type=user`` (list or summary)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import APIRouter, Depends, Request, Response

from contactmerge.api.deps import ApiContext, api_context
from contactmerge.api.paging import per_page as page_size
from contactmerge.api.schemas import EventWrite
from contactmerge.errors import BadRequest
from contactmerge.services import contacts, events
from contactmerge.storage.tables import Contact, Event

router = APIRouter(tags=["events"])


@router.post("/events", status_code=202)
def create_event(body: EventWrite, ctx: ApiContext = Depends(api_context)) -> Response:
    contact = contacts.find_contact(
        ctx.db, ctx.workspace, contact_id=body.id, external_id=body.user_id, email=body.email
    )
    events.record_event(
        ctx.db,
        ctx.workspace,
        contact,
        event_name=body.event_name,
        created_at=body.created_at,
        metadata=body.metadata,
    )
    ctx.commit()
    return Response(status_code=202)


@router.get("/events")
def list_events(
    request: Request,
    type: str | None = None,
    user_id: str | None = None,
    intercom_user_id: str | None = None,
    email: str | None = None,
    summary: bool = False,
    per_page: int | None = None,
    before: str | None = None,
    ctx: ApiContext = Depends(api_context),
) -> dict[str, Any]:
    if type != "user":
        raise BadRequest("type=user is required", field="type")
    contact = contacts.find_contact(
        ctx.db, ctx.workspace, contact_id=intercom_user_id, external_id=user_id, email=email
    )
    if summary:
        return {
            "type": "event.summary",
            **_who(contact),
            "events": [
                {
                    "name": s.event_name,
                    "first": _iso(s.first),
                    "last": _iso(s.last),
                    "count": s.count,
                    "description": None,
                }
                for s in events.summaries(ctx.db, ctx.workspace, contact)
            ],
        }
    size = page_size(per_page, ctx.settings)
    rows = events.newest_events(ctx.db, ctx.workspace, contact, limit=size + 1, before=_before(before))
    shown = rows[:size]
    pages: dict[str, Any] = {}
    if len(rows) > size:
        last = shown[-1]
        query = request.query_params.multi_items()
        kept = [(k, v) for k, v in query if k != "before"] + [("before", f"{last.created_at}:{last.id}")]
        pages["next"] = str(request.url.replace_query_params(**dict(kept)))
    return {"type": "event.list", "events": [_event(e, contact) for e in shown], "pages": pages}


def _who(contact: Contact) -> dict[str, Any]:
    return {"email": contact.email, "intercom_user_id": contact.id, "user_id": contact.external_id}


def _event(row: Event, contact: Contact) -> dict[str, Any]:
    return {
        "type": "event",
        "id": row.id,
        "event_name": row.event_name,
        "created_at": row.created_at,
        **_who(contact),
        "metadata": row.event_metadata,
    }


def _iso(timestamp: int) -> str:
    return dt.datetime.fromtimestamp(timestamp, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _before(value: str | None) -> tuple[int, str] | None:
    if value is None:
        return None
    created_at, _, event_id = value.partition(":")
    if not created_at.isdigit() or not event_id:
        raise BadRequest("before is not a cursor this server gave out", field="before")
    return int(created_at), event_id
