"""The inbox's queries: conversations filtered and keyset-paged, most recently updated first, with the last
message of each, and the merges that brought conversations and their authors over. Each is one query for
a whole page, never one per row.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import Select, and_, exists, func, or_, select
from sqlalchemy.orm import Session as DbSession

from contactmerge.storage.tables import Conversation, ConversationPart, Merge

STATES = ("open", "snoozed", "closed")


@dataclass(frozen=True)
class InboxQuery:
    """Which conversations a list shows. ``state`` None: all of them. A snooze whose time has come is
    listed as open (it is due an answer), not as snoozed."""

    state: str | None = "open"
    assignee_id: str | None = None  # only those assigned to this teammate
    unassigned: bool = False
    unverified: bool = False  # only those with a message from an unverified sender
    now: int = 0


@dataclass(frozen=True)
class Cursor:
    """Where a page ends: the last row's ``updated_at`` and id (the list's order)."""

    updated_at: int
    id: str

    def encode(self) -> str:
        return f"{self.updated_at}.{self.id}"

    @classmethod
    def decode(cls, text: str | None) -> Cursor | None:
        """None for a missing or malformed cursor (the first page)."""
        if not text or "." not in text:
            return None
        stamp, _, row_id = text.partition(".")
        if not (stamp.isascii() and stamp.isdigit()) or not row_id or len(stamp) > 18:  # not "²"
            return None
        return cls(int(stamp), row_id)


@dataclass(frozen=True)
class ConversationPage:
    items: list[Conversation]
    total_count: int
    next: Cursor | None  # None on the last page


def _filtered(workspace_id: str, query: InboxQuery) -> Select[Conversation]:
    stmt = select(Conversation).where(Conversation.workspace_id == workspace_id)
    snooze_over = and_(
        Conversation.state == "snoozed",
        Conversation.snoozed_until.is_not(None),
        Conversation.snoozed_until <= query.now,
    )
    if query.state == "open":
        stmt = stmt.where(or_(Conversation.state == "open", snooze_over))
    elif query.state == "snoozed":
        stmt = stmt.where(Conversation.state == "snoozed", ~snooze_over)
    elif query.state is not None:
        stmt = stmt.where(Conversation.state == query.state)
    if query.assignee_id is not None:
        stmt = stmt.where(Conversation.admin_assignee_id == query.assignee_id)
    elif query.unassigned:
        stmt = stmt.where(Conversation.admin_assignee_id.is_(None))
    if query.unverified:
        stmt = stmt.where(
            exists().where(
                ConversationPart.workspace_id == Conversation.workspace_id,
                ConversationPart.conversation_id == Conversation.id,
                ConversationPart.unverified_sender.is_(True),
            )
        )
    return stmt


def page(
    db: DbSession, workspace_id: str, query: InboxQuery, *, per_page: int, after: Cursor | None
) -> ConversationPage:
    """A page of the conversations ``query`` selects, newest update first, and how many it selects."""
    stmt = _filtered(workspace_id, query)
    total = db.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    if after is not None:
        stmt = stmt.where(
            or_(
                Conversation.updated_at < after.updated_at,
                and_(Conversation.updated_at == after.updated_at, Conversation.id < after.id),
            )
        )
    ordered = stmt.order_by(Conversation.updated_at.desc(), Conversation.id.desc()).limit(per_page + 1)
    rows = list(db.scalars(ordered))
    items = rows[:per_page]
    following = Cursor(items[-1].updated_at, items[-1].id) if len(rows) > per_page and items else None
    return ConversationPage(items, total, following)


def last_messages(
    db: DbSession, workspace_id: str, conversation_ids: list[str]
) -> dict[str, ConversationPart]:
    """Each conversation's last part that says something (a body: a message, a note, a closing word), in
    one query."""
    return _message_at(db, workspace_id, conversation_ids, last=True)


def first_messages(
    db: DbSession, workspace_id: str, conversation_ids: list[str]
) -> dict[str, ConversationPart]:
    """Each conversation's first message (what it is about), in one query."""
    return _message_at(db, workspace_id, conversation_ids, last=False)


def _message_at(
    db: DbSession, workspace_id: str, conversation_ids: list[str], *, last: bool
) -> dict[str, ConversationPart]:
    if not conversation_ids:
        return {}
    pick = func.max if last else func.min
    latest = (
        select(
            ConversationPart.conversation_id.label("conversation_id"),
            pick(ConversationPart.position).label("position"),
        )
        .where(
            ConversationPart.workspace_id == workspace_id,
            ConversationPart.conversation_id.in_(conversation_ids),
            ConversationPart.body != "",
        )
        .group_by(ConversationPart.conversation_id)
        .subquery()
    )
    rows = db.scalars(
        select(ConversationPart).join(
            latest,
            and_(
                ConversationPart.workspace_id == workspace_id,
                ConversationPart.conversation_id == latest.c.conversation_id,
                ConversationPart.position == latest.c.position,
            ),
        )
    )
    return {part.conversation_id: part for part in rows}


def with_unverified_parts(db: DbSession, workspace_id: str, conversation_ids: list[str]) -> set[str]:
    """Which of these conversations hold a message from an unverified sender, in one query."""
    if not conversation_ids:
        return set()
    rows = db.scalars(
        select(ConversationPart.conversation_id)
        .where(
            ConversationPart.workspace_id == workspace_id,
            ConversationPart.conversation_id.in_(conversation_ids),
            ConversationPart.unverified_sender.is_(True),
        )
        .distinct()
    )
    return set(rows)


def applied_merges_of(db: DbSession, workspace_id: str, source_ids: Iterable[str]) -> dict[str, Merge]:
    """The applied merge that folded each of these contacts into another, by source id, in one query."""
    ids = sorted(set(source_ids))
    if not ids:
        return {}
    rows = db.scalars(
        select(Merge).where(
            Merge.workspace_id == workspace_id, Merge.source_id.in_(ids), Merge.state == "applied"
        )
    )
    return {merge.source_id: merge for merge in rows}
