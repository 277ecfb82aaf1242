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
    """Store an event with its metadata (≤ 10 flat keys) and update the contact's summary for that name.

    As in Intercom, an event is identified by contact, name and the ``created_at`` the client gave: the
    same event sent again (a client's retry) is accepted and not counted twice.
    """
    name = event_name.strip()
    if not name or len(name) > MAX_NAME_LENGTH:
        raise BadRequest(f"event_name must be 1-{MAX_NAME_LENGTH} characters", field="event_name")
    checked = check_metadata(metadata or {})
    if created_at is not None:
        earlier = repo.same_event(db, workspace.id, contact.id, name, created_at)
        if earlier is not None:
            return earlier
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
    """At most 10 keys; each value a string, number, boolean or null, or one of Intercom's two objects:
    a rich link ``{"url", "value"}`` or a monetary amount ``{"amount", "currency"}``."""
    if len(metadata) > MAX_METADATA_KEYS:
        raise BadRequest(
            f"metadata holds at most {MAX_METADATA_KEYS} keys, got {len(metadata)}", field="metadata"
        )
    for key, value in metadata.items():
        if not (_is_scalar(value) or _is_rich_link(value) or _is_money(value)):
            raise BadRequest(
                f"metadata values must be strings, numbers, booleans, a link {{url, value}} or an "
                f"amount {{amount, currency}}; '{key}' is not",
                field=f"metadata.{key}",
            )
    return dict(metadata)


def _is_scalar(value: Any) -> bool:
    return value is None or isinstance(value, str | int | float | bool)


def _is_rich_link(value: Any) -> bool:
    return (
        isinstance(value, dict)
        and set(value) == {"url", "value"}
        and all(isinstance(v, str) for v in value.values())
    )


def _is_money(value: Any) -> bool:
    if not isinstance(value, dict) or set(value) != {"amount", "currency"}:
        return False
    amount, currency = value["amount"], value["currency"]
    return (
        isinstance(amount, int)
        and not isinstance(amount, bool)
        and amount >= 0
        and isinstance(currency, str)
        and bool(currency)
    )


def summaries(db: DbSession, workspace: Workspace, contact: Contact) -> list[EventSummary]:
    return repo.summaries(db, workspace.id, contact.id)


def newest_events(
    db: DbSession, workspace: Workspace, contact: Contact, *, limit: int, before: tuple[int, str] | None
) -> list[Event]:
    return repo.newest(db, workspace.id, contact.id, limit=limit, before=before)
