"""SQLAlchemy 2 typed tables. Every table is keyed by ``workspace_id`` first (design §6)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

JSONType = JSON().with_variant(JSONB(), "postgresql")

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


# One live user per external_id; merged users keep theirs on their tombstone.
LIVE_USER_WITH_EXTERNAL_ID = "role = 'user' AND external_id IS NOT NULL AND merged_into_id IS NULL"


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


def _contact_fk(*columns: str) -> ForeignKeyConstraint:
    return ForeignKeyConstraint(
        ["workspace_id", *columns], ["contacts.workspace_id", "contacts.id"], ondelete="CASCADE"
    )


class Workspace(Base):
    __tablename__ = "workspaces"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    app_id: Mapped[str] = mapped_column(String(32), unique=True)
    identity_secret: Mapped[str] = mapped_column(String(128))
    identity_verification: Mapped[str] = mapped_column(String(16), default="enforced")
    settings: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    created_at: Mapped[int] = mapped_column(BigInteger)


class ApiToken(Base):
    __tablename__ = "api_tokens"

    workspace_id: Mapped[str] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE"), primary_key=True
    )
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(255))  # the label changes made with it are recorded under
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # The teammate who created it from the pages (``GET /me`` answers with them); NULL from the CLI.
    admin_id: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[int] = mapped_column(BigInteger)


class Admin(Base):
    """A teammate (Intercom's *admin*): signs in to the pages with email and password, owner or agent.

    A removed teammate keeps the row (``removed_at``), so the records that name them still read as them.
    """

    __tablename__ = "admins"
    __table_args__ = (UniqueConstraint("workspace_id", "email_normalized"),)

    workspace_id: Mapped[str] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE"), primary_key=True
    )
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    email: Mapped[str] = mapped_column(String(320))
    email_normalized: Mapped[str] = mapped_column(String(320))
    name: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16))  # owner | agent
    password_hash: Mapped[str] = mapped_column(String(255))  # argon2id, with its parameters and salt
    created_at: Mapped[int] = mapped_column(BigInteger)
    removed_at: Mapped[int | None] = mapped_column(BigInteger)


class AdminSession(Base):
    """A teammate's signed-in browser: the cookie holds a random secret, this row its SHA-256."""

    __tablename__ = "admin_sessions"
    __table_args__ = (
        ForeignKeyConstraint(
            ["workspace_id", "admin_id"], ["admins.workspace_id", "admins.id"], ondelete="CASCADE"
        ),
        Index("ix_admin_sessions_ws_admin", "workspace_id", "admin_id"),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    workspace_id: Mapped[str] = mapped_column(String(32))
    admin_id: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[int] = mapped_column(BigInteger)
    expires_at: Mapped[int] = mapped_column(BigInteger)
    revoked_at: Mapped[int | None] = mapped_column(BigInteger)


class Contact(Base):
    __tablename__ = "contacts"
    __table_args__ = (
        Index("ix_contacts_ws_email", "workspace_id", "email_normalized"),
        Index("ix_contacts_ws_phone", "workspace_id", "phone_e164"),
        Index("ix_contacts_ws_external_id", "workspace_id", "external_id"),
        Index("ix_contacts_ws_created", "workspace_id", "created_at"),
        Index("ix_contacts_ws_last_seen", "workspace_id", "last_seen_at"),
        Index("ix_contacts_ws_import", "workspace_id", "import_id"),
        Index(
            "uq_contacts_user_external_id",
            "workspace_id",
            "external_id",
            unique=True,
            sqlite_where=text(LIVE_USER_WITH_EXTERNAL_ID),
            postgresql_where=text(LIVE_USER_WITH_EXTERNAL_ID),
        ),
    )

    workspace_id: Mapped[str] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE"), primary_key=True
    )
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    role: Mapped[str] = mapped_column(String(16))
    external_id: Mapped[str | None] = mapped_column(String(255))
    email: Mapped[str | None] = mapped_column(String(320))
    email_normalized: Mapped[str | None] = mapped_column(String(320))
    email_domain: Mapped[str | None] = mapped_column(String(255))
    phone: Mapped[str | None] = mapped_column(String(64))
    phone_e164: Mapped[str | None] = mapped_column(String(32))
    name: Mapped[str | None] = mapped_column(String(255))
    avatar: Mapped[str | None] = mapped_column(String(1024))
    owner_id: Mapped[int | None] = mapped_column(BigInteger)
    signed_up_at: Mapped[int | None] = mapped_column(BigInteger)
    last_seen_at: Mapped[int | None] = mapped_column(BigInteger)
    last_replied_at: Mapped[int | None] = mapped_column(BigInteger)
    last_contacted_at: Mapped[int | None] = mapped_column(BigInteger)
    unsubscribed_from_emails: Mapped[bool] = mapped_column(Boolean, default=False)
    language_override: Mapped[str | None] = mapped_column(String(16))
    browser: Mapped[str | None] = mapped_column(String(64))
    browser_version: Mapped[str | None] = mapped_column(String(64))
    browser_language: Mapped[str | None] = mapped_column(String(16))
    os: Mapped[str | None] = mapped_column(String(64))
    location_country: Mapped[str | None] = mapped_column(String(128))
    location_region: Mapped[str | None] = mapped_column(String(128))
    location_city: Mapped[str | None] = mapped_column(String(128))
    custom_attributes: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    archived: Mapped[bool] = mapped_column(Boolean, default=False)
    email_verified: Mapped[bool] = mapped_column(Boolean, default=True, server_default=text("true"))
    merged_into_id: Mapped[str | None] = mapped_column(String(32))
    merged_at: Mapped[int | None] = mapped_column(BigInteger)
    # The CSV import that created this contact, and the last one that wrote to it (undo and duplicates).
    import_id: Mapped[str | None] = mapped_column(String(32))
    last_import_id: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[int] = mapped_column(BigInteger)


def _origin_default(context: Any) -> Any:
    return context.get_current_parameters()["contact_id"]


def origin_column() -> Mapped[str]:
    """The contact that first owned a row. Merges move ``contact_id``; undo moves rows back by origin."""
    return mapped_column(String(32), default=_origin_default)


class DataAttribute(Base):
    __tablename__ = "data_attributes"
    __table_args__ = (UniqueConstraint("workspace_id", "model", "name"),)

    workspace_id: Mapped[str] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE"), primary_key=True
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    model: Mapped[str] = mapped_column(String(16), default="contact")
    name: Mapped[str] = mapped_column(String(190))
    label: Mapped[str] = mapped_column(String(190))
    data_type: Mapped[str] = mapped_column(String(16))
    description: Mapped[str] = mapped_column(Text, default="")
    options: Mapped[list[str] | None] = mapped_column(JSONType)
    archived: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[int] = mapped_column(BigInteger)


class Tag(Base):
    __tablename__ = "tags"
    __table_args__ = (UniqueConstraint("workspace_id", "name"),)

    workspace_id: Mapped[str] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE"), primary_key=True
    )
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[int] = mapped_column(BigInteger)


class ContactTag(Base):
    __tablename__ = "contact_tags"
    __table_args__ = (
        _contact_fk("contact_id"),
        ForeignKeyConstraint(
            ["workspace_id", "tag_id"], ["tags.workspace_id", "tags.id"], ondelete="CASCADE"
        ),
        Index("ix_contact_tags_ws_tag", "workspace_id", "tag_id"),
        Index("ix_contact_tags_ws_origin", "workspace_id", "origin_contact_id"),
    )

    workspace_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    contact_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    tag_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    origin_contact_id: Mapped[str] = origin_column()
    created_at: Mapped[int] = mapped_column(BigInteger)


class Note(Base):
    __tablename__ = "notes"
    __table_args__ = (
        _contact_fk("contact_id"),
        Index("ix_notes_ws_contact", "workspace_id", "contact_id"),
        Index("ix_notes_ws_origin", "workspace_id", "origin_contact_id"),
    )

    workspace_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    contact_id: Mapped[str] = mapped_column(String(32))
    origin_contact_id: Mapped[str] = origin_column()
    author_id: Mapped[str | None] = mapped_column(String(64))  # the teammate who wrote it (an admin id)
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[int] = mapped_column(BigInteger)


class Conversation(Base):
    __tablename__ = "conversations"
    __table_args__ = (
        _contact_fk("contact_id"),
        Index("ix_conversations_ws_contact", "workspace_id", "contact_id"),
        Index("ix_conversations_ws_updated", "workspace_id", "updated_at"),
        Index("ix_conversations_ws_origin", "workspace_id", "origin_contact_id"),
        Index("ix_conversations_ws_state_updated", "workspace_id", "state", "updated_at"),
    )

    workspace_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    contact_id: Mapped[str] = mapped_column(String(32))
    origin_contact_id: Mapped[str] = origin_column()
    title: Mapped[str | None] = mapped_column(String(255))
    state: Mapped[str] = mapped_column(String(16), default="open")  # open | closed | snoozed
    read: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))
    admin_assignee_id: Mapped[str | None] = mapped_column(String(32))
    snoozed_until: Mapped[int | None] = mapped_column(BigInteger)
    # Since when the contact has been waiting for an answer (their oldest unanswered part); NULL when not.
    waiting_since: Mapped[int | None] = mapped_column(BigInteger)
    custom_attributes: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict, server_default="{}")
    # Intercom's conversation statistics: first/last contact reply, admin reply, assignment, close …
    statistics: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict, server_default="{}")
    created_at: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[int] = mapped_column(BigInteger)


class ConversationPart(Base):
    __tablename__ = "conversation_parts"
    __table_args__ = (
        ForeignKeyConstraint(
            ["workspace_id", "conversation_id"],
            ["conversations.workspace_id", "conversations.id"],
            ondelete="CASCADE",
        ),
        Index("ix_conversation_parts_ws_conversation", "workspace_id", "conversation_id", "position"),
        Index("ix_conversation_parts_ws_session", "workspace_id", "session_id"),
    )

    workspace_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    conversation_id: Mapped[str] = mapped_column(String(32))
    position: Mapped[int] = mapped_column(Integer)
    part_type: Mapped[str] = mapped_column(String(32))
    author_type: Mapped[str] = mapped_column(String(16))
    author_id: Mapped[str | None] = mapped_column(String(64))
    body: Mapped[str] = mapped_column(Text)
    assigned_to_id: Mapped[str | None] = mapped_column(String(32))  # an assignment part's teammate
    # Written by a lead whose email was only claimed, then merged into a user (design §4).
    unverified_sender: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))
    # The messenger session (browser) that wrote it: a browser that did not log in as the conversation's
    # owner with a valid signature reads only its own parts and the admins' answers to them (design §4).
    session_id: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[int] = mapped_column(BigInteger)


class Event(Base):
    __tablename__ = "events"
    __table_args__ = (
        _contact_fk("contact_id"),
        Index("ix_events_ws_contact_created", "workspace_id", "contact_id", "created_at"),
        Index("ix_events_ws_origin", "workspace_id", "origin_contact_id"),
    )

    workspace_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    contact_id: Mapped[str] = mapped_column(String(32))
    origin_contact_id: Mapped[str] = origin_column()
    event_name: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[int] = mapped_column(BigInteger)
    event_metadata: Mapped[dict[str, Any]] = mapped_column("metadata", JSONType, default=dict)


class EventSummary(Base):
    __tablename__ = "event_summaries"
    __table_args__ = (_contact_fk("contact_id"),)

    workspace_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    contact_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    event_name: Mapped[str] = mapped_column(String(255), primary_key=True)
    first: Mapped[int] = mapped_column(BigInteger)
    last: Mapped[int] = mapped_column(BigInteger)
    count: Mapped[int] = mapped_column(BigInteger)


class Session(Base):
    """A messenger's anonymous id (first-party cookie); it belongs to one contact at a time."""

    __tablename__ = "sessions"
    __table_args__ = (
        _contact_fk("contact_id"),
        Index("ix_sessions_ws_contact", "workspace_id", "contact_id"),
        Index("ix_sessions_ws_origin", "workspace_id", "origin_contact_id"),
    )

    workspace_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    contact_id: Mapped[str] = mapped_column(String(32))
    origin_contact_id: Mapped[str] = origin_column()
    # The contact this browser itself logged in as (design §4): only then may it read that contact's
    # conversations. A session that reached a user through a merge keeps NULL here.
    logged_in_contact_id: Mapped[str | None] = mapped_column(String(32))
    attribute_window_start: Mapped[int] = mapped_column(BigInteger, default=0, server_default=text("0"))
    attribute_updates: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    last_page_url: Mapped[str | None] = mapped_column(String(2048))
    ended_at: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[int] = mapped_column(BigInteger)
    last_seen_at: Mapped[int] = mapped_column(BigInteger)


class ContactIdentifier(Base):
    """A secondary identifier of a contact: kept on a survivor when a merge brought one that differs from
    its own (``merge_id`` set), or claimed by a messenger login next to the identifier its signature covers
    (provenance ``claimed``, no ``merge_id``): never used to find, create or merge a contact (design §4)."""

    __tablename__ = "contact_identifiers"
    __table_args__ = (
        _contact_fk("contact_id"),
        Index("ix_contact_identifiers_ws_kind_normalized", "workspace_id", "kind", "normalized"),
        Index("ix_contact_identifiers_ws_merge", "workspace_id", "merge_id"),
    )

    workspace_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    contact_id: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(16))
    value: Mapped[str] = mapped_column(String(320))
    normalized: Mapped[str] = mapped_column(String(320))
    provenance: Mapped[str] = mapped_column(String(16))
    merge_id: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[int] = mapped_column(BigInteger)


class Merge(Base):
    """The audit record of one merge: who, when, why, and the plan it applied (read by preview and undo)."""

    __tablename__ = "merges"
    __table_args__ = (
        Index("ix_merges_ws_source", "workspace_id", "source_id"),
        Index("ix_merges_ws_target_created", "workspace_id", "target_id", "created_at"),
        Index("ix_merges_ws_batch", "workspace_id", "batch_id"),
        Index(
            "uq_merges_one_applied_per_source",
            "workspace_id",
            "source_id",
            unique=True,
            sqlite_where=text("state = 'applied'"),
            postgresql_where=text("state = 'applied'"),
        ),
    )

    workspace_id: Mapped[str] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE"), primary_key=True
    )
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    source_id: Mapped[str] = mapped_column(String(32))
    target_id: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str] = mapped_column(String(32))
    state: Mapped[str] = mapped_column(String(16))
    forced: Mapped[bool] = mapped_column(Boolean, default=False)
    # The actor (domain.actors): "admin:<id>" a teammate, "token:<label>" an API token, else the system
    # part that did it ("messenger", "import", a worker's name)
    requested_by: Mapped[str] = mapped_column(String(300))
    undone_by: Mapped[str | None] = mapped_column(String(300))
    batch_id: Mapped[str | None] = mapped_column(String(32))
    plan: Mapped[dict[str, Any]] = mapped_column(JSONType)
    moved: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    undo_report: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    created_at: Mapped[int] = mapped_column(BigInteger)
    undone_at: Mapped[int | None] = mapped_column(BigInteger)


class MergeMark(Base):
    """ "These two should be merged", found by a rule (R1, R2) and waiting for the worker.

    States: ``waiting`` (R2 on_login: until the user logs in), ``ready``, ``done``, ``parked`` (refused or
    failing too often; ``last_error`` says why).
    """

    __tablename__ = "merge_marks"
    __table_args__ = (
        Index("ix_merge_marks_ready", "state", "next_attempt_at"),
        Index("ix_merge_marks_ws_target_state", "workspace_id", "target_id", "state"),
        Index("ix_merge_marks_ws_source", "workspace_id", "source_id"),
    )

    workspace_id: Mapped[str] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE"), primary_key=True
    )
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    source_id: Mapped[str] = mapped_column(String(32))
    target_id: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str] = mapped_column(String(32))
    evidence: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    state: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[float] = mapped_column(Float, default=0.0)
    last_error: Mapped[str | None] = mapped_column(Text)
    merge_id: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[float] = mapped_column(Float)
    updated_at: Mapped[float] = mapped_column(Float)


class Import(Base):
    """A CSV import (R3): its options, progress, counts and state. Also the worker's job row for uploads."""

    __tablename__ = "imports"
    __table_args__ = (Index("ix_imports_state", "state"),)

    workspace_id: Mapped[str] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE"), primary_key=True
    )
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    filename: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16))
    mapping: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    # How values are read: {"region": "GB"} resolves national phone numbers (else the workspace's region)
    options: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict, server_default="{}")
    dry_run: Mapped[bool] = mapped_column(Boolean, default=False)
    # mapping (an admin upload waiting for its column mapping), pending (uploaded, waiting for a worker),
    # running, done, failed, undone
    state: Mapped[str] = mapped_column(String(16))
    file_format: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    size_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    bytes_done: Mapped[int] = mapped_column(BigInteger, default=0)
    rows_done: Mapped[int] = mapped_column(BigInteger, default=0)
    counts: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    unknown_columns: Mapped[list[str]] = mapped_column(JSONType, default=list)
    error: Mapped[str | None] = mapped_column(Text)
    undo_report: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    heartbeat_at: Mapped[float] = mapped_column(Float, default=0.0)
    created_by: Mapped[str | None] = mapped_column(String(300))  # the actor (domain.actors)
    undone_by: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[int] = mapped_column(BigInteger)
    finished_at: Mapped[int | None] = mapped_column(BigInteger)


class ImportRow(Base):
    """What an import did with a row, for every row that did more or less than create a contact."""

    __tablename__ = "import_rows"

    workspace_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    import_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    row_number: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    action: Mapped[str] = mapped_column(String(16))
    contact_id: Mapped[str | None] = mapped_column(String(32))
    column: Mapped[str | None] = mapped_column(String(255))
    reason: Mapped[str | None] = mapped_column(Text)
    cells: Mapped[list[str] | None] = mapped_column(JSONType)
    # For an update: the values before it, so undo can put them back.
    before: Mapped[dict[str, Any] | None] = mapped_column(JSONType)


class ImportFileChunk(Base):
    """An uploaded CSV, stored in the database so a worker on any machine can read it."""

    __tablename__ = "import_file_chunks"
    __table_args__ = (
        ForeignKeyConstraint(
            ["workspace_id", "import_id"], ["imports.workspace_id", "imports.id"], ondelete="CASCADE"
        ),
    )

    workspace_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    import_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    position: Mapped[int] = mapped_column(Integer, primary_key=True)
    data: Mapped[bytes] = mapped_column(LargeBinary)


class DuplicateDecision(Base):
    """A person's verdict on a duplicate cluster or a suggested pair: approved, or "not the same person"."""

    __tablename__ = "duplicate_decisions"

    workspace_id: Mapped[str] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE"), primary_key=True
    )
    # A cluster's id (its smallest member) or a pair "a:b" (a < b).
    subject: Mapped[str] = mapped_column(String(80), primary_key=True)
    verdict: Mapped[str] = mapped_column(String(16))  # approved | rejected
    members: Mapped[list[str]] = mapped_column(JSONType, default=list)
    decided_by: Mapped[str | None] = mapped_column(String(300))  # the actor (domain.actors)
    decided_at: Mapped[int] = mapped_column(BigInteger)


class DuplicateSuggestion(Base):
    """One scored pair of a fuzzy suggestion scan (R5): the queue people page through, best first."""

    __tablename__ = "duplicate_suggestions"
    __table_args__ = (Index("ix_duplicate_suggestions_queue", "workspace_id", "scan_id", "rank"),)

    workspace_id: Mapped[str] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE"), primary_key=True
    )
    scan_id: Mapped[str] = mapped_column(String(32), primary_key=True)  # the "suggest" batch that wrote it
    contact_a: Mapped[str] = mapped_column(String(32), primary_key=True)  # the smaller id
    contact_b: Mapped[str] = mapped_column(String(32), primary_key=True)
    rank: Mapped[int] = mapped_column(Integer)  # 0 for the best: the queue's order (score, then ids)
    score: Mapped[float] = mapped_column(Float)
    reasons: Mapped[list[str]] = mapped_column(JSONType, default=list)


class Batch(Base):
    """A bulk merge (R5) applied by a worker: its progress, counts, and the merges that carry its id."""

    __tablename__ = "batches"
    __table_args__ = (Index("ix_batches_state", "state"),)

    workspace_id: Mapped[str] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE"), primary_key=True
    )
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(16))  # pending, running, done, failed, undone
    options: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    counts: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    error: Mapped[str | None] = mapped_column(Text)
    requested_by: Mapped[str | None] = mapped_column(String(300))  # the actor (domain.actors)
    undone_by: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[int] = mapped_column(BigInteger)
    finished_at: Mapped[int | None] = mapped_column(BigInteger)


class RateLimitHit(Base):
    """Attempts counted in one fixed window for one subject (a client address, a workspace), shared by every
    process that serves the database (design §4: brute force). ``workspace_id`` is '' for a subject that
    names no workspace (an unknown token)."""

    __tablename__ = "rate_limit_hits"

    workspace_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    scope: Mapped[str] = mapped_column(String(32), primary_key=True)
    subject: Mapped[str] = mapped_column(String(255), primary_key=True)
    window_start: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    count: Mapped[int] = mapped_column(Integer)
