"""Intercom's conversation update (``PUT /conversations/{id}``): read, title, custom attributes."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session as DbSession

from contactmerge.domain.attributes import MAX_STRING_LENGTH
from contactmerge.domain.ids import now
from contactmerge.errors import BadRequest
from contactmerge.services.conversations import mark_read
from contactmerge.storage.tables import Conversation

MAX_ATTRIBUTES = 100
MAX_ATTRIBUTE_NAME = 190


def update_conversation(
    db: DbSession,
    conversation: Conversation,
    *,
    read: bool | None = None,
    title: str | None = None,
    custom_attributes: dict[str, Any] | None = None,
) -> Conversation:
    """Marks the conversation read or unread, retitles it, and merges ``custom_attributes`` into its own
    (a ``None`` value removes one). Everything is checked before anything changes; 400 naming the field."""
    merged = None if custom_attributes is None else _merged(conversation.custom_attributes, custom_attributes)
    if title is not None and (title.strip() or None) != conversation.title:
        conversation.title = title.strip() or None
        conversation.updated_at = max(conversation.updated_at, now())
    if merged is not None and merged != conversation.custom_attributes:
        conversation.custom_attributes = merged  # a new dict: the JSON column sees only assignments
        conversation.updated_at = max(conversation.updated_at, now())
    if read is not None:
        mark_read(db, conversation, read)
    return conversation


def _merged(current: dict[str, Any] | None, changes: dict[str, Any]) -> dict[str, Any]:
    """Conversation attributes are untyped (Intercom's conversation data attributes do not exist here):
    strings of at most MAX_STRING_LENGTH characters, numbers and booleans."""
    merged = dict(current or {})
    for name, value in changes.items():
        field = f"custom_attributes.{name}"
        if not name.strip() or len(name) > MAX_ATTRIBUTE_NAME:
            raise BadRequest(f"an attribute name has 1 to {MAX_ATTRIBUTE_NAME} characters", field=field)
        if value is None:
            merged.pop(name, None)
        elif isinstance(value, str) and len(value) > MAX_STRING_LENGTH:
            raise BadRequest(f"a text attribute has at most {MAX_STRING_LENGTH} characters", field=field)
        elif isinstance(value, str | bool | int | float):
            merged[name] = value
        else:
            raise BadRequest("an attribute is a string, a number, a boolean or null", field=field)
    if len(merged) > MAX_ATTRIBUTES:
        raise BadRequest(
            f"a conversation has at most {MAX_ATTRIBUTES} custom attributes", field="custom_attributes"
        )
    return merged
