"""Events: ``POST /events`` and ``GET /events?type=user`` (list or summary)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from fastapi import APIRouter, Depends, Request, Response

from contactmerge.api import shapes
from contactmerge.api.deps import ApiContext, api_context
from contactmerge.api.paging import per_page as page_size
from contactmerge.api.schemas import EventWrite
from contactmerge.domain.attributes import INT64_RANGE
from contactmerge.errors import BadRequest, ContactMergeError, ParameterNotFound
from contactmerge.services import contacts, events

router = APIRouter(tags=["events"])
# ``created_at:id`` of the last event shown: a 64-bit timestamp and an id no longer than its column.
BEFORE = re.compile(r"([0-9]{1,19}):([0-9A-Za-z_-]{1,32})")


@router.post("/events", status_code=202)
def create_event(body: EventWrite, ctx: ApiContext = Depends(api_context)) -> Response:
    with _fields_named({"external_id": "user_id"}):
        contact = contacts.find_contact(
            ctx.db,
            ctx.workspace,
            contact_id=body.id,
            external_id=body.user_id,
            email=body.email,
            forward=True,
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
    """A contact's events newest first, ``pages.next`` a URL to the older ones; or, with ``summary``,
    first, last and count per event name."""
    if type is None:
        raise ParameterNotFound("type is required and must be 'user'", field="type")
    if type != "user":
        raise BadRequest(f"type must be 'user', got '{type}'", field="type")
    with _fields_named({"id": "intercom_user_id", "external_id": "user_id"}):
        contact = contacts.find_contact(
            ctx.db, ctx.workspace, contact_id=intercom_user_id, external_id=user_id, email=email
        )
    if summary:
        return shapes.event_summary(contact, events.summaries(ctx.db, ctx.workspace, contact))
    size = page_size(per_page, ctx.settings)
    rows = events.newest_events(ctx.db, ctx.workspace, contact, limit=size + 1, before=_before(before))
    shown = rows[:size]
    pages: dict[str, Any] = {}
    if len(rows) > size:
        last = shown[-1]
        kept = [(k, v) for k, v in request.query_params.multi_items() if k != "before"]
        pages["next"] = str(
            request.url.replace_query_params(**dict(kept), before=f"{last.created_at}:{last.id}")
        )
    return {"type": "event.list", "events": [shapes.event(e, contact) for e in shown], "pages": pages}


@contextmanager
def _fields_named(renames: dict[str, str]) -> Iterator[None]:
    """Errors name the parameter as this endpoint spells it (Intercom's ``user_id`` is our external_id)."""
    try:
        yield
    except ContactMergeError as error:
        error.field = renames.get(error.field or "", error.field)
        raise


def _before(value: str | None) -> tuple[int, str] | None:
    if value is None:
        return None
    found = BEFORE.fullmatch(value)
    if found is None or int(found[1]) > INT64_RANGE[1]:
        raise BadRequest("before is not a cursor this server gave out", field="before")
    return int(found[1]), found[2]
