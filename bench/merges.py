"""Merge throughput (typical lead) and heavy-lead merge time against the bare SQL that moves the same rows.

The physical floor is the four ``UPDATE … SET contact_id = :user WHERE contact_id = :lead`` statements on
conversations, notes, sessions and events, run on an identical lead in the same database.
"""

from __future__ import annotations

import itertools
from typing import Any

from sqlalchemy import Engine, insert, update

from bench.common import Result, fresh_database, timed
from contactmerge.domain.ids import new_id
from contactmerge.services import merging, workspaces
from contactmerge.storage.db import make_sessionmaker, transaction
from contactmerge.storage.tables import (
    Contact,
    ContactTag,
    Conversation,
    ConversationPart,
    DataAttribute,
    Event,
    EventSummary,
    Note,
    Session,
    Tag,
    Workspace,
)

TYPICAL = 200
HEAVY_EVENTS = (1_000, 10_000, 100_000)
STAMP = 1_700_000_000


def contact_row(workspace_id: str, role: str, **extra: Any) -> dict[str, Any]:
    return {
        "workspace_id": workspace_id,
        "id": new_id(),
        "role": role,
        "custom_attributes": {},
        "unsubscribed_from_emails": False,
        "archived": False,
        "email_verified": True,
        "created_at": STAMP,
        "updated_at": STAMP,
        **extra,
    }


def seed_pairs(
    engine: Engine,
    workspace_id: str,
    pairs: int,
    conversations: int,
    parts: int,
    events: int,
    attributes: int,
    tags: list[str],
) -> list[tuple[str, str]]:
    """``pairs`` (lead, user) pairs, each lead with the given rows, written with bulk inserts."""
    leads = [
        contact_row(
            workspace_id,
            "lead",
            email=f"lead{i}@example.com",
            email_normalized=f"lead{i}@example.com",
            custom_attributes={f"a{k}": f"v{k}" for k in range(attributes)},
        )
        for i in range(pairs)
    ]
    users = [
        contact_row(
            workspace_id,
            "user",
            email=f"user{i}@example.com",
            email_normalized=f"user{i}@example.com",
            external_id=f"u{i}",
        )
        for i in range(pairs)
    ]
    convs, part_rows, event_rows, summaries, links = [], [], [], [], []
    for lead in leads:
        for _ in range(conversations):
            conversation_id = new_id()
            convs.append(
                {
                    "workspace_id": workspace_id,
                    "id": conversation_id,
                    "contact_id": lead["id"],
                    "origin_contact_id": lead["id"],
                    "state": "open",
                    "created_at": STAMP,
                    "updated_at": STAMP,
                }
            )
            part_rows.extend(
                {
                    "workspace_id": workspace_id,
                    "id": new_id(),
                    "conversation_id": conversation_id,
                    "position": p,
                    "part_type": "comment",
                    "author_type": "lead",
                    "author_id": lead["id"],
                    "body": "hello",
                    "created_at": STAMP,
                }
                for p in range(parts)
            )
        names = [f"event-{n}" for n in range(5)]
        event_rows.extend(
            {
                "workspace_id": workspace_id,
                "id": new_id(),
                "contact_id": lead["id"],
                "origin_contact_id": lead["id"],
                "event_name": names[e % 5],
                "created_at": STAMP + e,
                "event_metadata": {"n": e},
            }
            for e in range(events)
        )
        summaries.extend(
            {
                "workspace_id": workspace_id,
                "contact_id": lead["id"],
                "event_name": n,
                "first": STAMP,
                "last": STAMP + events,
                "count": events // 5,
            }
            for n in names
            if events
        )
        links.extend(
            {
                "workspace_id": workspace_id,
                "contact_id": lead["id"],
                "tag_id": t,
                "origin_contact_id": lead["id"],
                "created_at": STAMP,
            }
            for t in tags
        )
    with engine.begin() as connection:
        connection.execute(insert(Contact), leads + users)
        for table, rows in (
            (Conversation, convs),
            (ConversationPart, part_rows),
            (Event, event_rows),
            (EventSummary, summaries),
            (ContactTag, links),
        ):
            for start in range(0, len(rows), 5_000):
                connection.execute(insert(table), rows[start : start + 5_000])
    return [(lead["id"], user["id"]) for lead, user in zip(leads, users, strict=True)]


def new_workspace(engine: Engine, tags: int, attributes: int) -> tuple[Workspace, list[str]]:
    with transaction(make_sessionmaker(engine)) as db:
        workspace = workspaces.create_workspace(db, "bench").workspace
        tag_ids = [new_id() for _ in range(tags)]
        db.add_all(
            Tag(workspace_id=workspace.id, id=t, name=f"tag{i}", created_at=STAMP)
            for i, t in enumerate(tag_ids)
        )
        db.add_all(
            DataAttribute(
                workspace_id=workspace.id,
                id=k + 1,
                model="contact",
                name=f"a{k}",
                label=f"a{k}",
                data_type="string",
                description="",
                archived=False,
                created_at=STAMP,
                updated_at=STAMP,
            )
            for k in range(attributes)
        )
    return workspace, tag_ids


def merge_all(engine: Engine, workspace: Workspace, pairs: list[tuple[str, str]]) -> None:
    sessions = make_sessionmaker(engine)
    for lead, user in pairs:
        with transaction(sessions) as db:
            merging.merge_contacts(db, db.get_one(Workspace, workspace.id), lead, user)


def bare_move(engine: Engine, workspace_id: str, pairs: list[tuple[str, str]]) -> None:
    for lead, user in pairs:
        with engine.begin() as connection:
            for table in (Conversation, Note, Session, Event):
                connection.execute(
                    update(table)
                    .where(table.workspace_id == workspace_id, table.contact_id == lead)
                    .values(contact_id=user)
                )


def run_typical(backend: str) -> Result:
    with fresh_database(backend) as engine:
        workspace, tag_ids = new_workspace(engine, tags=2, attributes=5)
        pairs = seed_pairs(
            engine, workspace.id, TYPICAL, conversations=1, parts=3, events=20, attributes=5, tags=tag_ids
        )
        seconds = timed(lambda: merge_all(engine, workspace, pairs))
    return Result(
        "merge typical lead",
        backend,
        {"merges": TYPICAL, "merges_per_s": TYPICAL / seconds},
        "1 conversation of 3 parts, 20 events, 5 attributes, 2 tags; one transaction per merge",
    )


def run_heavy(backend: str) -> Result:
    figures: dict[str, float] = {}
    with fresh_database(backend) as engine:
        for events in HEAVY_EVENTS:
            workspace, tag_ids = new_workspace(engine, tags=2, attributes=5)
            (floor_pair, merge_pair) = seed_pairs(
                engine, workspace.id, 2, conversations=100, parts=3, events=events, attributes=5, tags=tag_ids
            )
            floor = timed(lambda p=floor_pair, w=workspace: bare_move(engine, w.id, [p]))  # type: ignore[misc]
            merge = timed(lambda p=merge_pair, w=workspace: merge_all(engine, w, [p]))  # type: ignore[misc]
            figures[f"events_{events}_merge_s"] = merge
            figures[f"events_{events}_ratio_to_bare_sql"] = merge / floor
    for smaller, larger in itertools.pairwise(HEAVY_EVENTS):
        figures[f"time_growth_{smaller}_to_{larger}"] = (
            figures[f"events_{larger}_merge_s"] / figures[f"events_{smaller}_merge_s"]
        )
    return Result(
        "merge heavy lead",
        backend,
        figures,
        "100 conversations; ratio = merge time / bare UPDATEs moving the same rows (goal <= 2)",
    )
