"""Request bodies. Unknown fields are refused with a message naming them.

Every body also refuses, anywhere in it, values no backend can store or compare the same way: NUL characters
(PostgreSQL text and JSONB reject them, SQLite keeps them), lone surrogates (``"\\ud800"``: JSON can spell
one, UTF-8 cannot encode it), the non-finite numbers ``NaN``/``Infinity`` that Python's JSON parser reads,
integers beyond 64 bits (BIGINT columns), and nesting deeper than ``MAX_DEPTH``. The error names the exact
place (``custom_attributes.score``, ``query.value[2]``). Strings that are stored have the length of their
column, checked here because SQLite does not enforce it (docs/api.md, "Limits").
"""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StringConstraints,
    model_validator,
)
from pydantic_core import PydanticCustomError

from contactmerge.domain.attributes import DATE_RANGE, INT64_RANGE, MAX_STRING_LENGTH, text_problem

MAX_DEPTH = 32
MAX_TEXT = 65_536  # note, message and reply bodies, descriptions (TEXT columns)


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


def unstorable(value: Any) -> tuple[str, str] | None:
    """Where in a JSON value (a path like ``query.value[2]``, "" for the root) the first value no backend
    stores alike is, and why. Walked without recursion, so no depth of nesting can exhaust the stack."""
    stack: list[tuple[str, Any, int]] = [("", value, 0)]
    while stack:
        path, item, depth = stack.pop()
        problem = _scalar_problem(item)
        if problem is not None:
            return path, problem
        children: list[tuple[str, Any]] = []
        if isinstance(item, dict):
            for key, child in item.items():
                key_problem = text_problem(key) if isinstance(key, str) else None
                if key_problem is not None:
                    return path, f"keys {key_problem}"
                children.append((f"{path}.{key}" if path else str(key), child))
        elif isinstance(item, list):
            children = [(f"{path}[{index}]", child) for index, child in enumerate(item)]
        if children and depth >= MAX_DEPTH:
            return path, f"must not nest deeper than {MAX_DEPTH} levels"
        stack.extend((child_path, child, depth + 1) for child_path, child in reversed(children))
    return None


def _scalar_problem(value: Any) -> str | None:
    if isinstance(value, str):
        return text_problem(value)
    if isinstance(value, float):
        return None if math.isfinite(value) else "must be a finite number"
    if isinstance(value, int) and not isinstance(value, bool):
        return None if INT64_RANGE[0] <= value <= INT64_RANGE[1] else "must fit in 64 bits"
    return None


def _int_as_text(value: Any) -> Any:
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


def _not_a_boolean(value: Any) -> Any:
    # Pydantic reads true as 1; a boolean sent for a number is a client's mistake, not a timestamp of 1.
    if isinstance(value, bool):
        raise PydanticCustomError("int_type", "Input should be a valid integer, not a boolean")
    return value


AdminId = Annotated[str, StringConstraints(max_length=64), BeforeValidator(_int_as_text)]
Int64 = Annotated[int, BeforeValidator(_not_a_boolean), Field(ge=INT64_RANGE[0], le=INT64_RANGE[1])]
# Unix seconds from 1970 to the end of year 9999.
Timestamp = Annotated[
    int, BeforeValidator(_not_a_boolean), Field(ge=0, le=DATE_RANGE[1], description="Unix seconds")
]
Text = Annotated[str, StringConstraints(max_length=MAX_TEXT)]
OptionText = Annotated[str, StringConstraints(max_length=MAX_STRING_LENGTH)]


class ContactWrite(Body):
    role: Literal["user", "lead"] | None = None
    external_id: str | None = Field(default=None, max_length=255)
    email: str | None = Field(default=None, max_length=320)
    phone: str | None = Field(default=None, max_length=64)
    name: str | None = Field(default=None, max_length=255)
    avatar: str | None = Field(default=None, max_length=1024)
    signed_up_at: Timestamp | None = None
    last_seen_at: Timestamp | None = None
    owner_id: Int64 | None = None
    unsubscribed_from_emails: bool | None = None
    language_override: str | None = Field(default=None, max_length=16)
    custom_attributes: dict[str, Any] | None = None


class TagRef(Body):
    id: str


class TagWrite(Body):
    name: str = Field(max_length=255)
    id: str | None = None


class NoteWrite(Body):
    body: Text
    admin_id: AdminId | None = None
    contact_id: str | None = None


class SearchPagination(Body):
    per_page: Int64 | None = None
    starting_after: str | None = None


class SearchRequest(Body):
    query: dict[str, Any]
    pagination: SearchPagination | None = None
    sort: dict[str, Any] | None = None


class DataAttributeCreate(Body):
    name: str
    model: Literal["contact"] = "contact"
    data_type: Literal["string", "integer", "float", "boolean", "date"]
    description: Text = ""
    options: list[OptionText] | None = None
    messenger_writable: bool | None = None


class DataAttributeUpdate(Body):
    archived: bool | None = None
    description: Text | None = None
    options: list[OptionText] | None = None
    messenger_writable: bool | None = None


class EventWrite(Body):
    event_name: str
    created_at: Timestamp | None = None
    id: str | None = None
    user_id: str | None = None
    email: str | None = None
    metadata: dict[str, Any] | None = None


class MessageFrom(Body):
    type: Literal["user", "lead", "contact"]
    id: str


class ConversationCreate(Body):
    from_: MessageFrom = Field(alias="from")
    body: Text
    created_at: Timestamp | None = None


class ConversationReply(Body):
    message_type: Literal["comment", "note"] = "comment"
    type: Literal["user", "admin"]
    body: Text
    intercom_user_id: str | None = None
    user_id: str | None = None
    email: str | None = None
    admin_id: AdminId | None = None
    created_at: Timestamp | None = None
    attachment_urls: list[str] | None = None


class ConversationAction(Body):
    """``POST /conversations/{id}/parts``: Intercom's manage (close, open, snoozed, assignment) and the
    admin's reply (comment, note)."""

    message_type: Literal["close", "open", "snoozed", "assignment", "comment", "note"]
    type: Literal["admin", "team"] | None = None
    admin_id: AdminId | None = None
    body: Text | None = None
    snoozed_until: Timestamp | None = None
    assignee_id: AdminId | None = None


class ConversationUpdate(Body):
    read: StrictBool | None = None
    title: str | None = Field(default=None, max_length=255)
    custom_attributes: dict[str, Any] | None = None
