"""A bulk-merge batch (R5) whose worker process is killed midway (issue 6), on both backends.

A batch runs in one transaction: the kill rolls all of it back, the batch stays ``pending``, no contact is
half merged, and the next worker (``contactmerge worker --drain``) runs it from a fresh scan to the same
end as a batch nobody interrupted.
"""

from __future__ import annotations

import signal
import subprocess
import sys
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session as DbSession

from contactmerge.services import contacts, conversations, events, tags, workspaces
from contactmerge.services.duplicates import batches, review
from contactmerge.storage.db import make_sessionmaker, transaction
from contactmerge.storage.tables import (
    Batch,
    Contact,
    ContactIdentifier,
    ContactTag,
    Conversation,
    Event,
    EventSummary,
    Merge,
    Tag,
    Workspace,
)
from contactmerge.worker.runner import Worker
from tests.conftest import Database
from tests.helpers import run_cli as run
from tests.test_merge_properties import snapshot
from tests.test_worker import ROOT, wait_for

PEOPLE = 12


def seed(database: Database) -> str:
    """PEOPLE users, each with two leads under its email (busy with a conversation, events and a tag); two
    users sharing a phone, approved (the batch's second, forced pass); two leads rejected as two people."""
    with transaction(make_sessionmaker(database.engine)) as db:
        workspace = workspaces.create_workspace(db, "crash").workspace
        vip = tags.create_or_update_tag(db, workspace, "vip").id

        def person(**fields: Any) -> str:
            return contacts.create_contact(db, workspace, fields, region="US").id

        for i in range(PEOPLE):
            person(role="user", external_id=f"u{i}", email=f"p{i}@example.com", name=f"P{i} Doe")
            for side in "ab":
                lead = contacts.create_contact(
                    db,
                    workspace,
                    {
                        "role": "lead",
                        "email": f"P{i}@Example.com",
                        "name": f"P{i} {side} Doe",
                    },  # a middle initial: the same person
                    region="US",
                )
                conversations.start_conversation(db, workspace, lead, f"hello from {side}")
                for n in range(3):
                    events.record_event(
                        db, workspace, lead, event_name=f"e{n}", created_at=1_700_000_000 + n, metadata={}
                    )
                tags.attach(db, workspace, lead.id, vip)
        for k, zed in enumerate(("Zed", "ZED")):  # one name, two spellings: they tell the twins apart here
            person(  # seen at different times, so both workspaces keep the same one (ids are random)
                role="user",
                external_id=f"z{k}",
                phone="+15125550199",
                name=zed,
                email=f"z{k}@x.com",
                last_seen_at=1_700_000_000 + k,
            )
            person(role="lead", email="twins@example.com", name=f"Twin {k}")
        for reviewed in review.review(db, workspace):
            members = {db.get_one(Contact, (workspace.id, m)).name for m in reviewed.planned.cluster.members}
            if members == {"Zed", "ZED"}:
                review.decide(db, workspace, reviewed.planned.cluster.id, "approved", actor="test")
            elif members == {"Twin 0", "Twin 1"}:
                review.decide(db, workspace, reviewed.planned.cluster.id, "rejected", actor="test")
        return workspace.id


def start_batch(database: Database, workspace_id: str) -> str:
    with transaction(make_sessionmaker(database.engine)) as db:
        workspace = db.get_one(Workspace, workspace_id)
        return batches.start_batch(
            db, workspace, keys=("email", "external_id", "phone"), cluster_ids=[], actor="test"
        ).id


def batch_of(database: Database, workspace_id: str, batch_id: str) -> Batch:
    with make_sessionmaker(database.engine)() as db:
        return db.get_one(Batch, (workspace_id, batch_id))


def shape(db: DbSession, workspace_id: str) -> dict[str, list[tuple[Any, ...]]]:
    """The workspace with contacts named instead of identified, so two twin workspaces compare equal."""
    name = dict(
        db.execute(select(Contact.id, Contact.name).where(Contact.workspace_id == workspace_id)).all()
    )
    name[None] = None
    tag = dict(db.execute(select(Tag.id, Tag.name).where(Tag.workspace_id == workspace_id)).all())

    def rows(*columns: Any, named: tuple[int, ...] = (0,)) -> list[tuple[Any, ...]]:
        found = db.execute(select(*columns).where(columns[0].class_.workspace_id == workspace_id)).all()
        return sorted(
            tuple(name[v] if i in named else v for i, v in enumerate(row)) for row in found
        )  # fmt: skip

    return {
        "contacts": rows(Contact.id, Contact.merged_into_id, Contact.role, Contact.email, named=(0, 1)),
        "conversations": rows(Conversation.contact_id, Conversation.origin_contact_id, named=(0, 1)),
        "events": rows(Event.contact_id, Event.event_name, Event.created_at),
        "summaries": rows(EventSummary.contact_id, EventSummary.event_name, EventSummary.count),
        "tags": [(n, tag[t]) for n, t in rows(ContactTag.contact_id, ContactTag.tag_id)],
        "identifiers": rows(
            ContactIdentifier.contact_id, ContactIdentifier.kind, ContactIdentifier.normalized
        ),
        "merges": rows(Merge.source_id, Merge.target_id, Merge.state, Merge.reason, named=(0, 1)),
    }


def unlocked(database: Database, workspace_id: str, batch_id: str) -> bool:
    """The killed worker's transaction is gone (PostgreSQL notices the dead connection on its own time)."""
    with make_sessionmaker(database.engine)() as db:
        stmt = select(Batch.id).where(Batch.workspace_id == workspace_id, Batch.id == batch_id)
        if database.backend == "postgres":
            stmt = stmt.with_for_update(skip_locked=True)
        return db.scalar(stmt) is not None


def test_a_batch_killed_midway_merges_nobody_halfway_and_the_next_worker_finishes_it(
    isolated_database: Database,
) -> None:
    database = isolated_database
    sessions = make_sessionmaker(database.engine)
    # The same workspace twice: one batch runs undisturbed, the other is killed and then resumed.
    clean, killed = seed(database), seed(database)
    clean_batch = start_batch(database, clean)
    Worker(sessions).drain()
    assert batch_of(database, clean, clean_batch).state == "done"
    expected_counts = batch_of(database, clean, clean_batch).counts
    assert expected_counts == {"clusters": PEOPLE + 1, "merged": 2 * PEOPLE + 1, "refused": 0, "held": 0}

    with sessions() as db:
        before, before_shape = snapshot(db, killed), shape(db, killed)
    batch_id = start_batch(database, killed)
    # The worker dies when the forced pass (the approved users) has moved its rows: by then the first pass
    # has merged and recorded all 24 leads, in the same transaction.
    doomed = subprocess.run(
        [
            sys.executable,
            "-m",
            "tests.worker_child",
            database.url,
            "--die-after",
            "2",
            "--die-step",
            "rows_moved",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert doomed.returncode == -signal.SIGKILL, doomed.stderr
    assert wait_for(lambda: unlocked(database, killed, batch_id))
    with sessions() as db:
        assert snapshot(db, killed) == before  # nobody half merged: every row as it was
        assert db.scalar(select(func.count()).where(Merge.workspace_id == killed)) == 0
    interrupted = batch_of(database, killed, batch_id)
    assert (interrupted.state, interrupted.counts, interrupted.finished_at) == ("pending", {}, None)

    resumed = run(database.url, "worker", "--drain")
    assert resumed.returncode == 0, resumed.stderr
    finished = batch_of(database, killed, batch_id)
    assert finished.state == "done" and finished.counts == expected_counts
    with sessions() as db:
        after = shape(db, killed)
        assert after == shape(db, clean)  # the same end as the batch nobody interrupted
        assert after != before_shape
        assert {len(rows) for rows in (after["events"], before_shape["events"])} == {6 * PEOPLE}
        merged_into = {n: into for n, into, *_ in after["contacts"]}
        assert (
            merged_into["P0 a Doe"] == merged_into["P0 b Doe"] == "P0 Doe" and merged_into["Twin 0"] is None
        )
