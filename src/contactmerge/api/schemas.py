"""Request bodies. Unknown fields are refused with a message naming them.

Every body also refuses values no backend can store the same way: NUL characters (PostgreSQL text and
JSONB reject them, SQLite keeps them) and the non-finite numbers ``NaN``/``Infinity`` that Python's JSON
parser reads. The error names the exact place (``custom_attributes.score``).
"""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints, model_validator
from pydantic_core import PydanticCustomError

BIGINT_MAX = 2**63 - 1
LAST_TIMESTAMP = 253_402_300_799  # 9999-12-31T23:59:59Z


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _refuse_unstorable(cls, data: Any) -> Any:
        found = unstorable(data)
        if found is not None:
            path, reason = found
            # ``path`` is read back by the error envelope to name the field (api/errors.py).
            raise PydanticCustomError(
                "value_unstorable", "{where} " + reason, {"path": path, "where": path or "the request body"}
            )
        return data


def unstorable(value: Any, path: str = "") -> tuple[str, str] | None:
    """Where in a JSON value (dotted path, "" for the root) a NUL character or a non-finite number is."""
    if isinstance(value, str):
        return (path, "must not contain NUL characters") if "\x00" in value else None
    if isinstance(value, float):
        return None if math.isfinite(value) else (path, "must be a finite number")
    items: list[tuple[str, Any]] = []
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(key, str) and "\x00" in key:
                return (path, "must not have a key with a NUL character")
            items.append((str(key), item))
    elif isinstance(value, list):
        items = [(str(index), item) for index, item in enumerate(value)]
    for key, item in items:
        found = unstorable(item, f"{path}.{key}" if path else key)
        if found is not None:
            return found
    return None


def _int_as_text(value: Any) -> Any:
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


AdminId = Annotated[str, StringConstraints(max_length=64), BeforeValidator(_int_as_text)]
Timestamp = Field(default=None, ge=0, le=LAST_TIMESTAMP, description="Unix seconds")


class ContactWrite(Body):
    role: Literal["user", "lead"] | None = None
    external_id: str | None = Field(default=None, max_length=255)
    email: str | None = Field(default=None, max_length=320)
    phone: str | None = Field(default=None, max_length=64)
    name: str | None = Field(default=None, max_length=255)
    avatar: str | None = Field(default=None, max_length=1024)
    signed_up_at: int | None = Timestamp
    last_seen_at: int | None = Timestamp
    owner_id: int | None = Field(default=None, ge=-BIGINT_MAX, le=BIGINT_MAX)
    unsubscribed_from_emails: bool | None = None
    language_override: str | None = Field(default=None, max_length=16)
    custom_attributes: dict[str, Any] | None = None


class TagRef(Body):
    id: str


class TagWrite(Body):
    name: str = Field(max_length=255)
    id: str | None = None


class NoteWrite(Body):
    body: str
    admin_id: AdminId | None = None
    contact_id: str | None = None


class SearchPagination(Body):
    per_page: int | None = None
    starting_after: str | None = None


class SearchRequest(Body):
    query: dict[str, Any]
    pagination: SearchPagination | None = None
    sort: dict[str, Any] | None = None


class DataAttributeCreate(Body):
    name: str
    model: Literal["contact"] = "contact"
    data_type: Literal["string", "integer", "float", "boolean", "date"]
    description: str = ""
    options: list[str] | None = None
    messenger_writable: bool | None = None


class DataAttributeUpdate(Body):
    archived: bool | None = None
    description: str | None = None
    options: list[str] | None = None
    messenger_writable: bool | None = None


class EventWrite(Body):
    event_name: str
    created_at: int | None = Field(default=None, ge=0)
    id: str | None = None
    user_id: str | None = None
    email: str | None = None
    metadata: dict[str, Any] | None = None


class MessageFrom(Body):
    type: Literal["user", "lead", "contact"]
    id: str


class ConversationCreate(Body):
    from_: MessageFrom = Field(alias="from")
    body: str
    created_at: int | None = Field(default=None, ge=0)


class ConversationReply(Body):
    message_type: Literal["comment", "note"] = "comment"
    type: Literal["user", "admin"]
    body: str
    intercom_user_id: str | None = None
    user_id: str | None = None
    email: str | None = None
    admin_id: str | int | None = None
    created_at: int | None = Field(default=None, ge=0)
    attachment_urls: list[str] | None = None
