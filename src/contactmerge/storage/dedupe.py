"""Set-based queries of the duplicate scan: only contacts that share a key ever reach Python."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import String, and_, case, func, literal, or_, select, text, union_all
from sqlalchemy.orm import Session as DbSession

from contactmerge.domain.dedupe import Member, SharedKey
from contactmerge.domain.identifiers import MAILBOX_RULES, MailboxRule
from contactmerge.storage.db import without_jit
from contactmerge.storage.tables import Contact

KEY_COLUMNS: dict[str, Any] = {
    "email": Contact.email_normalized,
    "external_id": Contact.external_id,
    "phone": Contact.phone_e164,
}


def provider_email_sql(dialect: str) -> Any:
    """``domain.identifiers.provider_email`` of a contact's email as a SQL expression, built from the same
    ``MAILBOX_RULES``, so the scan groups by it inside the database (a test holds the two equal).

    The local part is the email without ``@`` and its stored ``email_domain`` (the part after the last
    ``@``); ``+tag`` is cut at the first ``+``, as ``str.partition`` does.
    """
    email, domain = Contact.email_normalized, Contact.email_domain
    local = func.substr(email, 1, func.length(email) - func.length(domain) - 1, type_=String)
    by_rule: dict[MailboxRule, list[str]] = {}
    for name, rule in MAILBOX_RULES.items():
        by_rule.setdefault(rule, []).append(name)
    whens = []
    for rule, domains in by_rule.items():
        part: Any = local
        if rule.plus_tags:
            plus = func.instr(part, "+") if dialect == "sqlite" else func.strpos(part, "+")
            part = case((plus > 0, func.substr(part, 1, plus - 1, type_=String)), else_=part)
        if rule.ignores_dots:
            part = func.replace(part, ".", "", type_=String)
        whens.append((domain.in_(domains), part + literal("@" + rule.domain, String)))
    return case(*whens, else_=email)


def _live(workspace_id: str) -> list[Any]:
    return [
        Contact.workspace_id == workspace_id,
        Contact.merged_into_id.is_(None),
        Contact.role.in_(("user", "lead")),
    ]


# In the order of ``domain.dedupe.Member``, so a row becomes one without reading its columns by name.
MEMBER_COLUMNS = (
    Contact.id,
    Contact.role,
    Contact.name,
    Contact.created_at,
    Contact.last_seen_at,
    # verified: a workspace-written external_id, or an email that is verified (design §3 survivor order)
    or_(
        func.coalesce(Contact.external_id, "") != "",
        and_(func.coalesce(Contact.email_normalized, "") != "", Contact.email_verified.is_(True)),
    ).label("verified"),
)


def _shared_values(column: Any, live: list[Any]) -> Any:
    """The values of ``column`` two or more live contacts share (an expression is grouped through a
    subquery: PostgreSQL cannot tell that two copies of it with bound parameters are the same)."""
    if not any(column is plain for plain in KEY_COLUMNS.values()):
        keyed = select(column.label("key")).where(*live).subquery()
        column = keyed.c.key
        live = []
    return (
        select(column.label("value"))
        .where(*live, column.is_not(None))
        .group_by(column)
        .having(func.count() > 1)
    )


def shared_keys(
    db: DbSession, workspace_id: str, kinds: Sequence[str], *, provider_rules: bool = False
) -> tuple[list[SharedKey], dict[str, Member]]:
    """Every value of ``kinds`` that two or more live contacts share, with their ids, sorted; and each
    contact sharing one, by id (``MEMBER_COLUMNS``, plain tuples, no ORM objects). With
    ``provider_rules`` an email is compared as its provider reads it (``provider_email_sql``).

    One statement: per key, the values shared (``GROUP BY … HAVING count(*) > 1``) joined back to the
    contacts holding them, all keys in one ``UNION ALL`` ordered by key, value and contact, so each
    shared value's contacts arrive together and sorted. (An ``OR`` of ``IN`` subqueries made PostgreSQL
    re-run a ``GROUP BY`` per contact at 1M contacts; so did a server-side cursor; picking the contacts
    by a ``UNION`` of semi-joins and reading them again cost a sort and a scan of every contact.) Only the
    sharing contacts ever reach Python, so the result is read whole.
    """
    email = provider_email_sql(db.get_bind().dialect.name) if provider_rules else KEY_COLUMNS["email"]
    live = _live(workspace_id)
    by_key = []
    for kind in kinds:
        column = email if kind == "email" else KEY_COLUMNS[kind]
        shared = _shared_values(column, live).subquery()
        by_key.append(
            select(literal(kind).label("kind"), shared.c.value, *MEMBER_COLUMNS)
            .join_from(shared, Contact, and_(Contact.workspace_id == workspace_id, column == shared.c.value))
            .where(*live)
        )
    without_jit(db)
    result = db.connection().execute(union_all(*by_key).order_by(text("kind"), text("value"), text("id")))
    found: list[SharedKey] = []
    members: dict[str, Member] = {}
    kind, value, ids = "", "", []
    for part in result.partitions(10_000):
        for row in part:
            contact_id = row[2]
            if contact_id not in members:
                members[contact_id] = Member._make(row[2:])
            if row[1] == value and row[0] == kind:
                ids.append(contact_id)
                continue
            if ids:
                found.append(SharedKey(kind, value, tuple(ids)))
            kind, value, ids = row[0], row[1], [contact_id]
    if ids:
        found.append(SharedKey(kind, value, tuple(ids)))
    return found, members
