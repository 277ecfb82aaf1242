"""Events: named, timestamped facts about a contact, with per-name summaries."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy.orm import Session as DbSession

from contactmerge.domain.ids import new_id, now
from contactmerge.errors import BadRequest
from contactmerge.storage import events as repo
from contactmerge.storage.tables import Contact, Event, EventSummary, Workspace

MAX_METADATA_KEYS = 10
MAX_NAME_LENGTH = 255


def record_event(
    db: DbSession,
    workspace: Workspace,
    contact: Contact,
    *,
    event_name: str,
    created_at: int | None,
    metadata: Mapping[str, Any] | None,
) -> Event:
    """Store an event with its metadata (≤ 10 flat keys) and update the contact's summary for that name."""
    name = event_name.strip()
    if not name or len(name) > MAX_NAME_LENGTH:
        raise BadRequest(f"event_name must be 1-{MAX_NAME_LENGTH} characters", field="event_name")
    checked = check_metadata(metadata or {})
    event = Event(
        workspace_id=workspace.id,
        id=new_id(),
        contact_id=contact.id,
        event_name=name,
        created_at=now() if created_at is None else created_at,
        event_metadata=checked,
    )
    repo.add(db, event)
    return event


def check_metadata(metadata: Mapping[str, Any]) -> dict[str, Any]:
    if len(metadata) > MAX_METADATA_KEYS:
        raise BadRequest(
            f"metadata holds at most {MAX_METADATA_KEYS} keys, got {len(metadata)}", field="metadata"
        )
    for key, value in metadata.items():
        if value is not None and not isinstance(value, str | int | float | bool):
            raise BadRequest(
                f"metadata values must be strings, numbers or booleans; '{key}' is not",
                field=f"metadata.{key}",
            )
    return dict(metadata)


def summaries(db: DbSession, workspace: Workspace, contact: Contact) -> list[EventSummary]:
    return repo.summaries(db, workspace.id, contact.id)


def newest_events(
    db: DbSession, workspace: Workspace, contact: Contact, *, limit: int, before: tuple[int, str] | None
) -> list[Event]:
    return repo.newest(db, workspace.id, contact.id, limit=limit, before=before)
