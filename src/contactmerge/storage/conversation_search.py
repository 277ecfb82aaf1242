"""Compiles a validated search tree (domain.search) into a SQL condition over conversations.

The grammar, operators and value checks are the contacts' (domain.search, storage.search); only the fields
differ. A snoozed conversation whose ``snoozed_until`` has passed reads as open here as it does everywhere.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import BigInteger, ColumnElement, and_, case, cast, exists, func, literal, not_, or_, select

from contactmerge.domain.identifiers import canonical_email
from contactmerge.domain.search import FieldType, Filter, Group, Query
from contactmerge.storage.search import UnicodeLower, compile_date, compile_operator, compile_text
from contactmerge.storage.tables import Contact, Conversation, ConversationPart

STATISTICS_PREFIX = "statistics."
# statistics.<key>: the keys this service keeps (services.conversations.STATISTICS), with their types
STATISTICS_FIELDS: dict[str, FieldType] = {
    "first_contact_reply_at": "date",
    "last_contact_reply_at": "date",
    "first_admin_reply_at": "date",
    "last_admin_reply_at": "date",
    "first_assignment_at": "date",
    "last_assignment_at": "date",
    "first_close_at": "date",
    "last_close_at": "date",
    "last_closed_by_id": "id",
    "count_reopens": "integer",
    "count_assignments": "integer",
    "count_conversation_parts": "integer",
}
FIELDS: dict[str, FieldType] = {
    "id": "id",
    "created_at": "date",
    "updated_at": "date",
    "title": "string",
    "state": "string",
    "open": "boolean",
    "read": "boolean",
    "admin_assignee_id": "id",
    "waiting_since": "date",
    "snoozed_until": "date",
    "contact_ids": "id",
    "teammate_ids": "id",
    "source.id": "id",
    "source.author.id": "id",
    "source.author.email": "string",
    "source.body": "string",
    **{STATISTICS_PREFIX + key: kind for key, kind in STATISTICS_FIELDS.items()},
}
COUNTS = frozenset(key for key, kind in STATISTICS_FIELDS.items() if kind == "integer")


def field_type(field: str) -> FieldType | None:
    """The type of a searchable conversation field; None when it is not one."""
    return FIELDS.get(field)


def compile_query(query: Query, workspace_id: str, at: int) -> ColumnElement[bool]:
    """The WHERE condition that selects the conversations a query describes, as they read at ``at``."""
    if isinstance(query, Group):
        parts = [compile_query(item, workspace_id, at) for item in query.items]
        return and_(*parts) if query.operator == "AND" else or_(*parts)
    if query.field == "teammate_ids":
        return _compile_teammates(query, workspace_id)
    return _compile_filter(_column(query.field, workspace_id, at), query)


def state_at(at: int) -> Any:
    """The state a conversation reads as at ``at``: a snooze that has ended reads as open."""
    return case(
        (and_(Conversation.state == "snoozed", Conversation.snoozed_until <= at), literal("open")),
        else_=Conversation.state,
    )


def _column(field: str, workspace_id: str, at: int) -> Any:
    if field == "state":
        return state_at(at)
    if field == "open":
        return state_at(at) == "open"
    if field == "snoozed_until":
        return case((state_at(at) == "snoozed", Conversation.snoozed_until), else_=None)
    if field == "contact_ids":
        return Conversation.contact_id
    if field.startswith(STATISTICS_PREFIX):
        key = field[len(STATISTICS_PREFIX) :]
        element = Conversation.statistics[key]
        if STATISTICS_FIELDS[key] == "id":
            return element.as_string()
        number = cast(element.as_string(), BigInteger)
        return func.coalesce(number, 0) if key in COUNTS else number  # no reopen yet counts as 0
    if field.startswith("source."):
        return _source(field, workspace_id)
    return getattr(Conversation, field)


def _source(field: str, workspace_id: str) -> Any:
    """A column of the conversation's first part (its source) or of the contact who wrote it."""
    first = and_(
        ConversationPart.workspace_id == workspace_id,
        ConversationPart.conversation_id == Conversation.id,
        ConversationPart.position == 0,
    )
    if field == "source.author.email":
        return (
            select(Contact.email_normalized)
            .join(
                ConversationPart,
                and_(
                    ConversationPart.workspace_id == Contact.workspace_id,
                    ConversationPart.author_id == Contact.id,
                ),
            )
            .where(Contact.workspace_id == workspace_id, first)
            .limit(1)
            .scalar_subquery()
        )
    column = {"source.id": ConversationPart.id, "source.author.id": ConversationPart.author_id}.get(
        field, ConversationPart.body
    )
    return select(column).where(first).limit(1).scalar_subquery()


def _compile_filter(column: Any, flt: Filter) -> ColumnElement[bool]:
    value, op = flt.value, flt.operator
    if value is None:
        return column.is_(None) if op == "=" else column.is_not(None)  # type: ignore[no-any-return]
    if flt.field_type == "date":
        return compile_date(column, op, value)
    if flt.field_type == "boolean":
        return column == value if op == "=" else column != value  # type: ignore[no-any-return]
    if flt.field_type == "string":
        if op in ("~", "!~", "^", "$"):
            return compile_text(column, op, value)
        # every string comparison ignores case, as Intercom's does; emails are stored canonical
        if flt.field == "source.author.email":
            value = tuple(map(canonical_email, value)) if isinstance(value, tuple) else canonical_email(value)
        else:
            column, value = UnicodeLower(column), _lower(value)
    return compile_operator(column, op, value)


def _compile_teammates(flt: Filter, workspace_id: str) -> ColumnElement[bool]:
    """Conversations a teammate took part in (wrote a part of: a reply, a note, a close …)."""
    by_admin = and_(
        ConversationPart.workspace_id == workspace_id,
        ConversationPart.conversation_id == Conversation.id,
        ConversationPart.author_type == "admin",
    )
    if flt.value is None:
        anyone = exists(select(ConversationPart.id).where(by_admin))
        return not_(anyone) if flt.operator == "=" else anyone
    values = flt.value if isinstance(flt.value, tuple) else (flt.value,)
    has = exists(select(ConversationPart.id).where(by_admin, ConversationPart.author_id.in_(values)))
    return has if flt.operator in ("=", "IN") else not_(has)


def _lower(value: Any) -> Any:
    return tuple(v.lower() for v in value) if isinstance(value, tuple) else value.lower()
