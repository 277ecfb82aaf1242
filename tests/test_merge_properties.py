"""Invariants of merging, over random workspaces (Hypothesis), on SQLite and PostgreSQL.

- a merge never changes the workspace's count of conversations, parts, events, notes or tag links;
- merge then undo restores every row of both contacts exactly when nothing else wrote in between;
- merging twice is the same as merging once.
"""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlalchemy.orm import Session as DbSession

from contactmerge.services import (
    contacts,
    conversations,
    data_attributes,
    events,
    merging,
    notes,
    tags,
    workspaces,
)
from contactmerge.storage.db import make_sessionmaker, transaction
from contactmerge.storage.tables import (
    Contact,
    ContactIdentifier,
    ContactTag,
    Conversation,
    ConversationPart,
    Event,
    EventSummary,
    Note,
    Tag,
    Workspace,
)
from tests.conftest import Database

EVENT_NAMES = ["viewed", "clicked", "paid"]
TAG_NAMES = ["vip", "trial", "churn"]

contact_spec = st.fixed_dictionaries(
    {
        "name": st.one_of(st.none(), st.sampled_from(["Ada", "Grace", "Alan"])),
        "plan": st.one_of(st.none(), st.sampled_from(["free", "pro"])),
        "seats": st.one_of(st.none(), st.integers(0, 50)),
        "phone": st.one_of(st.none(), st.sampled_from(["+15125550100", "+15125550199"])),
        "conversations": st.lists(st.integers(1, 3), max_size=2),
        "events": st.lists(
            st.tuples(st.sampled_from(EVENT_NAMES), st.integers(1_600_000_000, 1_700_000_000)), max_size=6
        ),
        "tags": st.sets(st.sampled_from(TAG_NAMES)),
        "notes": st.integers(0, 2),
    }
)
PROPERTY_SETTINGS = settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def build(db: DbSession, workspace: Workspace, spec: dict[str, Any], role: str, email: str) -> str:
    fields: dict[str, Any] = {"role": role, "email": email}
    custom = {k: spec[k] for k in ("plan", "seats") if spec[k] is not None}
    if custom:
        fields["custom_attributes"] = custom
    for key in ("name", "phone"):
        if spec[key] is not None:
            fields[key] = spec[key]
    contact = contacts.create_contact(db, workspace, fields, region="US")
    for parts in spec["conversations"]:
        conversation, _ = conversations.start_conversation(db, workspace, contact, "hello")
        for i in range(parts - 1):
            conversations.reply_as_admin(db, conversation, "1", f"reply {i}", message_type="comment")
    for name, stamp in spec["events"]:
        events.record_event(
            db, workspace, contact, event_name=name, created_at=stamp, metadata={"n": stamp % 7}
        )
    for tag_name in spec["tags"]:
        tags.attach(db, workspace, contact.id, tags.create_or_update_tag(db, workspace, tag_name).id)
    for i in range(spec["notes"]):
        notes.add_note(db, workspace, contact.id, f"note {i}", "1")
    return contact.id


def new_workspace(db: DbSession) -> Workspace:
    workspace = workspaces.create_workspace(db, "property").workspace
    data_attributes.create_attribute(db, workspace, name="plan", data_type="string")
    data_attributes.create_attribute(db, workspace, name="seats", data_type="integer")
    return workspace


def counts(db: DbSession, workspace_id: str) -> dict[str, int]:
    return {
        table.__tablename__: db.scalar(
            select(func.count()).select_from(table).where(table.workspace_id == workspace_id)
        )
        or 0
        for table in (Conversation, ConversationPart, Event, Note, ContactTag)
    }


def snapshot(db: DbSession, workspace_id: str) -> dict[str, Any]:
    """Every row of the workspace that a merge touches, as comparable tuples (updated_at aside)."""

    def rows(table: Any, *columns: str) -> list[tuple[Any, ...]]:
        selected = [getattr(table, c) for c in columns]
        return sorted(
            tuple(r) for r in db.execute(select(*selected).where(table.workspace_id == workspace_id)).all()
        )

    # updated_at moves with every write and last_import_id is an import's bookkeeping: neither is data.
    contact_columns = [
        c.name for c in Contact.__table__.columns if c.name not in ("updated_at", "last_import_id")
    ]
    return {
        "contacts": rows(Contact, *contact_columns),
        "conversations": rows(Conversation, "id", "contact_id", "origin_contact_id"),
        "parts": rows(ConversationPart, "id", "conversation_id", "position", "body"),
        "events": rows(Event, "id", "contact_id", "event_name", "created_at"),
        "summaries": rows(EventSummary, "contact_id", "event_name", "first", "last", "count"),
        "notes": rows(Note, "id", "contact_id", "body"),
        "tags": rows(ContactTag, "contact_id", "tag_id"),
        "identifiers": rows(ContactIdentifier, "contact_id", "kind", "normalized"),
    }


@PROPERTY_SETTINGS
@given(lead=contact_spec, user=contact_spec)
def test_merge_keeps_every_row_and_undo_restores_them(database: Database, lead: Any, user: Any) -> None:
    sessions = make_sessionmaker(database.engine)
    with transaction(sessions) as db:
        workspace = new_workspace(db)
        lead_id = build(db, workspace, lead, "lead", "lead@example.com")
        user_id = build(db, workspace, user, "user", "user@example.com")
        workspace_id = workspace.id
    with sessions() as db:
        before_counts, before = counts(db, workspace_id), snapshot(db, workspace_id)

    with transaction(sessions) as db:
        workspace = db.get_one(Workspace, workspace_id)
        merge_id = merging.merge_contacts(db, workspace, lead_id, user_id).merge.id
    with sessions() as db:
        assert counts(db, workspace_id) == before_counts
        assert (
            db.scalar(
                select(func.count()).where(Event.workspace_id == workspace_id, Event.contact_id == lead_id)
            )
            == 0
        )
        summaries = {
            s.event_name: s.count
            for s in db.scalars(select(EventSummary).where(EventSummary.workspace_id == workspace_id))
        }
        assert sum(summaries.values()) == before_counts["events"]
        merged_once = snapshot(db, workspace_id)

    with transaction(sessions) as db:
        workspace = db.get_one(Workspace, workspace_id)
        again = merging.merge_contacts(db, workspace, lead_id, user_id)
        assert again.replayed and again.merge.id == merge_id
    with sessions() as db:
        assert snapshot(db, workspace_id) == merged_once

    with transaction(sessions) as db:
        workspace = db.get_one(Workspace, workspace_id)
        report = merging.undo_merge(db, workspace, merge_id, actor="test").undo_report
        assert report is not None and report["conflicts"] == []
    with sessions() as db:
        assert snapshot(db, workspace_id) == before


@PROPERTY_SETTINGS
@given(specs=st.lists(contact_spec, min_size=3, max_size=3), order=st.permutations([0, 1]))
def test_chained_merges_undo_in_any_order(database: Database, specs: Any, order: list[int]) -> None:
    """A → B, then B → C; undoing the two merges in either order gives back all three contacts exactly."""
    sessions = make_sessionmaker(database.engine)
    with transaction(sessions) as db:
        workspace = new_workspace(db)
        a = build(db, workspace, specs[0], "lead", "a@example.com")
        b = build(db, workspace, specs[1], "lead", "b@example.com")
        c = build(db, workspace, specs[2], "user", "c@example.com")
        workspace_id = workspace.id
    with sessions() as db:
        before, before_counts = snapshot(db, workspace_id), counts(db, workspace_id)
    merge_ids = []
    for source, target in ((a, b), (b, c)):
        with transaction(sessions) as db:
            merge_ids.append(
                merging.merge_contacts(db, db.get_one(Workspace, workspace_id), source, target).merge.id
            )
    with sessions() as db:
        assert counts(db, workspace_id) == before_counts
        assert merging.canonical_id(db, db.get_one(Workspace, workspace_id), a) == c
    for index in order:
        with transaction(sessions) as db:
            merging.undo_merge(db, db.get_one(Workspace, workspace_id), merge_ids[index], actor="test")
    with sessions() as db:
        after = snapshot(db, workspace_id)
    # Values the first merge filled into B were then carried into C by the second; undo order decides what
    # is taken back cleanly, so compare the rows, which must always come home.
    for key in ("conversations", "parts", "events", "summaries", "notes", "tags", "identifiers"):
        assert after[key] == before[key], key


@PROPERTY_SETTINGS
@given(specs=st.lists(contact_spec, min_size=4, max_size=4))
def test_a_batch_of_merges_equals_the_same_merges_one_by_one(database: Database, specs: Any) -> None:
    """merge_many's set-based waves give exactly what single merges give: two leads into one user and a
    chain (B into A after A went into C) in one batch."""
    sessions = make_sessionmaker(database.engine)
    outcomes = []
    for batched in (True, False):
        with transaction(sessions) as db:
            workspace = new_workspace(db)
            a, b, c, d = (
                build(db, workspace, spec, role, f"{name}@example.com")
                for spec, role, name in zip(specs, ["lead", "lead", "user", "lead"], "abcd", strict=True)
            )
            requests = [merging.MergeRequest(a, c), merging.MergeRequest(d, c), merging.MergeRequest(b, a)]
            if batched:
                results = merging.merge_many(db, workspace, requests)
            else:
                results = [merging.merge_many(db, workspace, [r])[0] for r in requests]
            codes = [getattr(r, "code", "merged") for r in results]
            workspace_id = workspace.id
        names = {cid: n for n, cid in zip("abcd", (a, b, c, d), strict=True)}
        with sessions() as db:
            shot = snapshot(db, workspace_id)
            names.update(
                (t.id, t.name) for t in db.scalars(select(Tag).where(Tag.workspace_id == workspace_id))
            )
        keep = {
            "conversations": slice(1, None),
            "events": slice(1, None),
            "summaries": slice(0, None),
            "notes": slice(1, None),
            "tags": slice(0, None),
        }
        comparable = {
            key: sorted(
                tuple(names.get(v, v) if isinstance(v, str) else v for v in row[cut]) for row in shot[key]
            )
            for key, cut in keep.items()
        }
        outcomes.append((codes, comparable))
    assert outcomes[0] == outcomes[1]
