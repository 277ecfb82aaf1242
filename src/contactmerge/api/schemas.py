"""Request bodies. Unknown fields are refused with a message naming them."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


Timestamp = Field(default=None, ge=0, description="Unix seconds")


class ContactWrite(Body):
    role: Literal["user", "lead"] | None = None
    external_id: str | None = Field(default=None, max_length=255)
    email: str | None = Field(default=None, max_length=320)
    phone: str | None = Field(default=None, max_length=64)
    name: str | None = Field(default=None, max_length=255)
    avatar: str | None = Field(default=None, max_length=1024)
    signed_up_at: int | None = Timestamp
    last_seen_at: int | None = Timestamp
    owner_id: int | None = None
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
    admin_id: str | int | None = None
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
