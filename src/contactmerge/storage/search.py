"""Compiles a validated search tree (domain.search) into a SQL condition over contacts."""

from __future__ import annotations

from typing import Any

from sqlalchemy import BigInteger, ColumnElement, String, and_, cast, exists, not_, or_, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import SQLCoreOperations
from sqlalchemy.sql.functions import GenericFunction

from contactmerge.domain.identifiers import canonical_email
from contactmerge.domain.search import DAY, FieldType, Filter, Group, Query, day_start
from contactmerge.storage.tables import Contact, ContactTag

STANDARD_FIELDS: dict[str, tuple[Any, FieldType]] = {
    "id": (Contact.id, "id"),
    "role": (Contact.role, "string"),
    "name": (Contact.name, "string"),
    "email": (Contact.email_normalized, "string"),
    "email_domain": (Contact.email_domain, "string"),
    "phone": (Contact.phone_e164, "string"),
    "external_id": (Contact.external_id, "string"),
    "owner_id": (Contact.owner_id, "integer"),
    "created_at": (Contact.created_at, "date"),
    "updated_at": (Contact.updated_at, "date"),
    "signed_up_at": (Contact.signed_up_at, "date"),
    "last_seen_at": (Contact.last_seen_at, "date"),
    "last_replied_at": (Contact.last_replied_at, "date"),
    "last_contacted_at": (Contact.last_contacted_at, "date"),
    "unsubscribed_from_emails": (Contact.unsubscribed_from_emails, "boolean"),
    "language_override": (Contact.language_override, "string"),
    "browser": (Contact.browser, "string"),
    "browser_version": (Contact.browser_version, "string"),
    "browser_language": (Contact.browser_language, "string"),
    "os": (Contact.os, "string"),
    "location.country": (Contact.location_country, "string"),
    "location.region": (Contact.location_region, "string"),
    "location.city": (Contact.location_city, "string"),
    "tag_id": (None, "id"),
}
CUSTOM_PREFIX = "custom_attributes."
# Stored already lower-cased (canonical), so they are compared as they are, which keeps their indexes usable.
CANONICAL_FIELDS = frozenset({"email", "email_domain", "role", "phone"})
UNICODE_LOWER_SQLITE = "cm_lower"


class UnicodeLower(GenericFunction[str]):
    """``lower()`` that folds every letter, not only ASCII: SQLite's built-in one leaves ``É`` alone.

    On SQLite it calls ``cm_lower``, which storage.db registers on each connection.
    """

    name = "unicode_lower"
    type = String()
    inherit_cache = True


@compiles(UnicodeLower)
def _lower_default(element: UnicodeLower, compiler: SQLCompiler, **kw: Any) -> str:
    return f"lower({compiler.process(element.clauses, **kw)})"


@compiles(UnicodeLower, "sqlite")
def _lower_sqlite(element: UnicodeLower, compiler: SQLCompiler, **kw: Any) -> str:
    return f"{UNICODE_LOWER_SQLITE}({compiler.process(element.clauses, **kw)})"


def compile_query(query: Query, workspace_id: str) -> ColumnElement[bool]:
    """The WHERE condition that selects the contacts a query describes."""
    if isinstance(query, Group):
        parts = [compile_query(item, workspace_id) for item in query.items]
        return and_(*parts) if query.operator == "AND" else or_(*parts)
    return _compile_filter(query, workspace_id)


def _column(flt: Filter) -> Any:
    if flt.field.startswith(CUSTOM_PREFIX):
        element = Contact.custom_attributes[flt.field[len(CUSTOM_PREFIX) :]]
        if flt.field_type == "string":
            return element.as_string()
        if flt.field_type == "float":
            return element.as_float()
        if flt.field_type == "boolean":
            return element.as_boolean()
        # as_integer() casts to INTEGER, 32 bits on PostgreSQL: dates after 2038 would overflow
        return cast(element.as_string(), BigInteger)
    return STANDARD_FIELDS[flt.field][0]


def _compile_filter(flt: Filter, workspace_id: str) -> ColumnElement[bool]:
    if flt.field == "tag_id":
        return _compile_tag(flt, workspace_id)
    column = _column(flt)
    value = flt.value
    op = flt.operator
    if value is None:
        return column.is_(None) if op == "=" else column.is_not(None)  # type: ignore[no-any-return]
    if flt.field_type == "date":
        return compile_date(column, op, value)
    if flt.field_type == "string":
        if op in ("~", "!~", "^", "$"):
            return compile_text(column, op, value)
        # every string comparison ignores case, as Intercom's does
        if flt.field in CANONICAL_FIELDS:
            value = _canonical(flt.field, value)
        else:
            column, value = UnicodeLower(column), _lower(value)
    return compile_operator(column, op, value)


def compile_operator(column: Any, op: str, value: Any) -> ColumnElement[bool]:
    """=, !=, IN, NIN and the orderings of one value; a missing value is neither equal nor in a list."""
    if op == "=":
        return column == value  # type: ignore[no-any-return]
    if op == "!=":
        return or_(column.is_(None), column != value)
    if op == "IN":
        return column.in_(value)  # type: ignore[no-any-return]
    if op == "NIN":
        return or_(column.is_(None), column.not_in(value))
    return compare(column, op, value)


def compare(column: SQLCoreOperations[Any], op: str, value: Any) -> ColumnElement[bool]:
    compared: ColumnElement[bool]
    if op == "<":
        compared = column < value
    elif op == ">":
        compared = column > value
    elif op == "<=":
        compared = column <= value
    else:
        compared = column >= value
    return compared


def compile_text(column: Any, op: str, value: str) -> ColumnElement[bool]:
    lowered = UnicodeLower(column)
    needle = value.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    pattern = {"~": f"%{needle}%", "!~": f"%{needle}%", "^": f"{needle}%", "$": f"%{needle}"}[op]
    condition = lowered.like(pattern, escape="\\")
    if op == "!~":
        return or_(column.is_(None), not_(condition))
    return condition


def compile_date(column: Any, op: str, value: Any) -> ColumnElement[bool]:
    if op in ("IN", "NIN"):
        days = [and_(column >= day_start(v), column < day_start(v) + DAY) for v in value]
        within = or_(*days)
        return within if op == "IN" else or_(column.is_(None), not_(within))
    start = day_start(value)
    end = start + DAY
    if op == "=":
        return and_(column >= start, column < end)
    if op == "!=":
        return or_(column.is_(None), column < start, column >= end)
    if op == ">":
        return column >= end  # type: ignore[no-any-return]
    if op == ">=":
        return column >= start  # type: ignore[no-any-return]
    if op == "<":
        return column < start  # type: ignore[no-any-return]
    return column < end  # type: ignore[no-any-return]


def _compile_tag(flt: Filter, workspace_id: str) -> ColumnElement[bool]:
    values = flt.value if isinstance(flt.value, tuple) else (flt.value,)
    if flt.value is None:
        tagged = exists(
            select(ContactTag.tag_id).where(
                ContactTag.workspace_id == workspace_id, ContactTag.contact_id == Contact.id
            )
        )
        return not_(tagged) if flt.operator == "=" else tagged
    has = exists(
        select(ContactTag.tag_id).where(
            ContactTag.workspace_id == workspace_id,
            ContactTag.contact_id == Contact.id,
            ContactTag.tag_id.in_(values),
        )
    )
    return has if flt.operator in ("=", "IN") else not_(has)


def _lower(value: Any) -> Any:
    if isinstance(value, tuple):
        return tuple(v.lower() for v in value)
    return value.lower()


def _canonical(field: str, value: Any) -> Any:
    """A searched value in the form the field is stored in (emails: trimmed, lower case, ASCII domain)."""
    if isinstance(value, tuple):
        return tuple(_canonical(field, v) for v in value)
    if field == "email":
        return canonical_email(value)
    if field == "email_domain":
        return canonical_email(f"x@{value.strip()}").rpartition("@")[2]
    return value.strip().lower()
