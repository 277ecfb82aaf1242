"""The merge worker under load and failure (issue 4): worker processes on a real database of each backend.

On PostgreSQL the workers claim marks with ``FOR UPDATE SKIP LOCKED`` and really run side by side; on
SQLite the write lock serializes them, and the outcome must be just as exact. Each test gets its own
workspace in a database of its backend that no test server (and so no in-process worker) uses, so every
mark here is applied by the worker the test runs.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, insert, select, text, update
from sqlalchemy.orm import Session as DbSession

from contactmerge.domain.identity import user_hash
from contactmerge.domain.ids import new_id
from contactmerge.services import contacts, marks, merging, messenger, workspaces
from contactmerge.storage.db import make_sessionmaker, transaction
from contactmerge.storage.tables import Contact, Merge, MergeMark, Workspace
from contactmerge.worker.runner import BATCH_SIZE, MAX_ATTEMPTS, Worker, backoff
from tests.conftest import Database, migrated_database

ROOT = Path(__file__).resolve().parents[1]
LOAD = 10_000
STAMP = 1_700_000_000


@pytest.fixture(scope="module")
def quiet(database: Database, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Database]:
    """A migrated database of the test's backend that no test server's worker touches."""
    with migrated_database(database.backend, tmp_path_factory.mktemp("worker")) as quiet_database:
        yield quiet_database


@dataclass
class Seeded:
    workspace_id: str
    pairs: dict[str, str]  # lead id -> user id


def new_workspace(database: Database) -> Workspace:
    with transaction(make_sessionmaker(database.engine)) as db:
        return workspaces.create_workspace(db, "worker").workspace


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


def seed_marks(database: Database, count: int) -> Seeded:
    """``count`` leads, each with its own user and a ready R1 mark into it, written with bulk inserts."""
    workspace_id = new_workspace(database).id
    leads = [contact_row(workspace_id, "lead") for _ in range(count)]
    users = [contact_row(workspace_id, "user", external_id=f"u{i}") for i in range(count)]
    stamp = time.time()
    mark_rows = [
        {
            "workspace_id": workspace_id,
            "id": new_id(),
            "source_id": lead["id"],
            "target_id": user["id"],
            "reason": "session_cookie",
            "evidence": {"session": f"s{i}"},
            "state": "ready",
            "attempts": 0,
            "next_attempt_at": stamp,
            "created_at": stamp,
            "updated_at": stamp,
        }
        for i, (lead, user) in enumerate(zip(leads, users, strict=True))
    ]
    with database.engine.begin() as connection:
        for table, rows in ((Contact, leads + users), (MergeMark, mark_rows)):
            for start in range(0, len(rows), 5_000):
                connection.execute(insert(table), rows[start : start + 5_000])
    if database.backend == "postgres":  # fresh statistics, as after any bulk load
        with database.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text("ANALYZE contacts, merge_marks, merges"))
    return Seeded(workspace_id, {lead["id"]: user["id"] for lead, user in zip(leads, users, strict=True)})


@pytest.fixture
def spawn() -> Iterator[Callable[..., subprocess.Popen[str]]]:
    """Starts ``tests.worker_child`` processes; any still running when the test ends is killed."""
    started: list[subprocess.Popen[str]] = []

    def start(database: Database, go: Path, *args: str) -> subprocess.Popen[str]:
        process = subprocess.Popen(
            [sys.executable, "-m", "tests.worker_child", database.url, "--go", str(go), *args],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        started.append(process)
        return process

    yield start
    for process in started:
        if process.poll() is None:
            process.kill()
        process.communicate()


def report(process: subprocess.Popen[str]) -> dict[str, Any]:
    out, err = process.communicate(timeout=180)
    assert process.returncode == 0, err
    return dict(json.loads(out))


def assert_applied_exactly_once(database: Database, seeded: Seeded) -> None:
    """Every mark done, pointing at its pair's one applied merge; each lead merged once, into its user."""
    ws = seeded.workspace_id
    with make_sessionmaker(database.engine)() as db:
        merges = {
            m.id: (m.source_id, m.target_id)
            for m in db.execute(
                select(Merge.id, Merge.source_id, Merge.target_id).where(
                    Merge.workspace_id == ws, Merge.state == "applied"
                )
            )
        }
        assert len(merges) == len(seeded.pairs)
        assert dict(merges.values()) == seeded.pairs  # one merge per lead, into its own user
        assert db.scalar(select(func.count()).where(Merge.workspace_id == ws)) == len(seeded.pairs)
        mark_rows = db.execute(
            select(MergeMark.state, MergeMark.merge_id, MergeMark.source_id, MergeMark.target_id).where(
                MergeMark.workspace_id == ws
            )
        ).all()
        assert {state for state, *_ in mark_rows} == {"done"}
        assert {merges[merge_id] for _, merge_id, *_ in mark_rows} == {(s, t) for *_, s, t in mark_rows}
        assert len({merge_id for _, merge_id, *_ in mark_rows}) == len(mark_rows)
        merged_into = dict(
            db.execute(
                select(Contact.id, Contact.merged_into_id).where(
                    Contact.workspace_id == ws, Contact.role == "lead"
                )
            ).all()
        )
        assert merged_into == seeded.pairs


def test_three_worker_processes_drain_ten_thousand_marks_exactly_once(
    quiet: Database, tmp_path: Path, spawn: Callable[..., subprocess.Popen[str]]
) -> None:
    """10,000 marks on both backends; on SQLite the three take turns on the write lock (not fairly)."""
    seeded = seed_marks(quiet, LOAD)
    go = tmp_path / "go"
    workers = [spawn(quiet, go, "--name", f"w{i}") for i in range(3)]
    go.touch()
    reports = [report(worker) for worker in workers]
    assert sum(r["handled"] for r in reports) == LOAD
    if quiet.backend == "postgres":
        assert all(r["handled"] > 0 for r in reports), reports  # side by side, skipping each other's locks
    assert_applied_exactly_once(quiet, seeded)


def test_a_worker_killed_mid_batch_loses_nothing_and_applies_nothing_twice(
    quiet: Database, tmp_path: Path, spawn: Callable[..., subprocess.Popen[str]]
) -> None:
    seeded = seed_marks(quiet, 3_000)
    # The doomed worker starts first and SIGKILLs itself inside the transaction of its second batch, its
    # merges written but not committed. The other two start once that batch holds its contacts (started
    # on seeing its first batch committed, on SQLite they could take the write lock first and leave it
    # no second batch).
    inside = tmp_path / "inside"
    doomed = spawn(
        quiet, tmp_path / "go-doomed", "--name", "doomed", "--die-after", "2", "--inside", str(inside)
    )
    survivors = [spawn(quiet, tmp_path / "go", "--name", f"w{i}") for i in (1, 2)]
    (tmp_path / "go-doomed").touch()
    assert wait_for(inside.exists), "the doomed worker never reached its second batch"
    (tmp_path / "go").touch()
    doomed.communicate(timeout=180)
    assert doomed.returncode == -signal.SIGKILL
    handled = sum(report(worker)["handled"] for worker in survivors)
    assert_applied_exactly_once(quiet, seeded)
    assert merges_by(quiet, seeded, "doomed") == BATCH_SIZE  # its first batch; the second rolled back
    assert handled == len(seeded.pairs) - BATCH_SIZE  # and went to the others, with everything else


def merges_by(database: Database, seeded: Seeded, worker: str) -> int:
    with make_sessionmaker(database.engine)() as db:
        return (
            db.scalar(
                select(func.count()).where(
                    Merge.workspace_id == seeded.workspace_id, Merge.requested_by == worker
                )
            )
            or 0
        )


def wait_for(condition: Callable[[], bool], timeout: float = 60) -> bool:
    """Poll (bounded) until ``condition`` holds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    return False


def row_of(db: DbSession, workspace_id: str, contact_id: str) -> dict[str, Any] | None:
    contact = db.get(Contact, (workspace_id, contact_id), populate_existing=True)
    if contact is None:
        return None
    return {column.key: getattr(contact, column.key) for column in Contact.__table__.columns}


def refusal_case(db: DbSession, workspace: Workspace, case: str) -> tuple[str, str]:
    """Contacts for one refusal, as they stand when the worker gets to the mark: (source, target)."""

    def person(role: str, key: str) -> str:
        fields = {"role": role, "email": f"{key}@example.com"}
        if role == "user":
            fields["external_id"] = key
        return contacts.create_contact(db, workspace, fields, region="US").id

    lead, user = person("lead", "lead"), person("user", "user")
    if case == "already_merged":  # the lead went into another user before the worker got to it
        merging.merge_contacts(db, workspace, lead, person("user", "other"))
    elif case == "target_merged":  # the target lead went into a user meanwhile
        other_lead = person("lead", "other")
        merging.merge_contacts(db, workspace, other_lead, user)
        return lead, other_lead
    elif case == "fan_in_cap":  # the user already absorbed its one merge of the day
        workspace.settings = {**workspace.settings, "merge_fan_in_cap": 1}
        merging.merge_contacts(db, workspace, person("lead", "earlier"), user)
    elif case == "invalid_merge":
        return user, lead
    elif case == "merge_into_self":
        return lead, lead
    elif case == "not_found":
        return new_id(), user
    return lead, user


@pytest.mark.parametrize(
    ("case", "reason"),
    [
        ("already_merged", "already_merged: contact "),
        ("target_merged", "target_merged: "),
        ("invalid_merge", "invalid_merge: a user cannot be merged into a lead"),
        ("merge_into_self", "merge_into_self: a contact cannot be merged into itself"),
        ("not_found", "not_found: Contact Not Found"),
        ("fan_in_cap", "merge_held: "),
    ],
)
def test_a_refused_mark_is_parked_with_its_reason_and_changes_nothing(
    quiet: Database, case: str, reason: str
) -> None:
    sessions = make_sessionmaker(quiet.engine)
    with transaction(sessions) as db:
        workspace = workspaces.create_workspace(db, "refusals").workspace
        source, target = refusal_case(db, workspace, case)
        mark_id = marks.mark(db, workspace, source, target, reason="session_cookie", evidence={}).id
    with sessions() as db:
        before = {cid: row_of(db, workspace.id, cid) for cid in (source, target)}
        merges_before = db.scalar(select(func.count()).where(Merge.workspace_id == workspace.id))

    assert Worker(sessions, name="refusals").drain() == 1

    with sessions() as db:
        mark = db.get_one(MergeMark, (workspace.id, mark_id))
        assert (mark.state, mark.attempts) == ("parked", 1)
        assert mark.last_error is not None and mark.last_error.startswith(reason), mark.last_error
        assert {cid: row_of(db, workspace.id, cid) for cid in (source, target)} == before
        new_merges = list(
            db.scalars(select(Merge).where(Merge.workspace_id == workspace.id).order_by(Merge.id))
        )[merges_before:]
    if case == "fan_in_cap":  # held for review: recorded, not applied, not dropped
        assert [(m.state, m.source_id, m.id) for m in new_merges] == [("held", source, mark.merge_id)]
    else:
        assert new_merges == [] and mark.merge_id is None


def test_a_mark_that_keeps_failing_retries_with_backoff_then_parks_and_holds_back_no_other(
    quiet: Database,
) -> None:
    sessions = make_sessionmaker(quiet.engine)
    with transaction(sessions) as db:
        workspace = workspaces.create_workspace(db, "retries").workspace
        broken = contacts.create_contact(db, workspace, {"role": "lead"}, region="US").id
        good = contacts.create_contact(db, workspace, {"role": "lead"}, region="US").id
        user = contacts.create_contact(db, workspace, {"role": "user", "external_id": "u-1"}, region="US")
        other = contacts.create_contact(db, workspace, {"role": "user", "external_id": "u-2"}, region="US")
        broken_mark = marks.mark(db, workspace, broken, user.id, reason="session_cookie", evidence={}).id
        good_mark = marks.mark(db, workspace, good, other.id, reason="session_cookie", evidence={}).id
    # A row as a careless writer left it (a hand-edited database, an old import): attributes that are
    # not an object. The merge fails on it for a reason outside the merge rules.
    with quiet.engine.begin() as connection:
        connection.execute(
            update(Contact)
            .where(Contact.workspace_id == workspace.id, Contact.id == broken)
            .values(custom_attributes=[1, 2])
        )
    clock = [time.time()]
    worker = Worker(sessions, name="retries", clock=lambda: clock[0])

    def state() -> tuple[str, int, float, str | None]:
        with sessions() as db:
            mark = db.get_one(MergeMark, (workspace.id, broken_mark))
            return mark.state, mark.attempts, mark.next_attempt_at, mark.last_error

    assert worker.drain() == 2
    with sessions() as db:
        assert db.get_one(MergeMark, (workspace.id, good_mark)).state == "done"
    for attempt in range(1, MAX_ATTEMPTS):
        status, attempts, next_attempt_at, error = state()
        assert (status, attempts) == ("ready", attempt)
        assert next_attempt_at == pytest.approx(clock[0] + backoff(attempt))
        assert error is not None and error.startswith("TypeError: ")
        clock[0] = next_attempt_at - 0.01
        assert not worker.run_once()  # not due yet
        clock[0] = next_attempt_at
        assert worker.run_once()
    status, attempts, _, error = state()
    assert (status, attempts) == ("parked", MAX_ATTEMPTS)
    assert error is not None and error.startswith("TypeError: ")
    assert [backoff(a) for a in range(1, MAX_ATTEMPTS)] == [1, 2, 4, 8]
    with sessions() as db:
        assert db.get_one(Contact, (workspace.id, broken)).merged_into_id is None
        assert db.scalar(select(func.count()).where(Merge.source_id == broken)) == 0


def test_an_email_match_waits_for_the_login_and_survives_worker_restarts(
    quiet: Database, tmp_path: Path, spawn: Callable[..., subprocess.Popen[str]]
) -> None:
    """R2 on_login: the mark is a row that waits through worker processes coming and going."""
    sessions = make_sessionmaker(quiet.engine)
    with transaction(sessions) as db:
        workspace = workspaces.create_workspace(db, "waiting").workspace
        user = contacts.create_contact(
            db, workspace, {"role": "user", "external_id": "u-1", "email": "ada@example.com"}, region="US"
        )
        visit = messenger.ping(db, workspace, anonymous_id=None)
        messenger.send_message(db, workspace, visit.session.id, "hello", None)
        claimed = messenger.collect_email(db, workspace, visit.session.id, "ada@example.com")
        (mark,) = claimed.marks
        lead = visit.contact.id

    def stands() -> tuple[str, str | None]:
        with sessions() as db:
            found = db.get_one(MergeMark, (workspace.id, mark.id), populate_existing=True)
            return found.state, db.get_one(
                Contact, (workspace.id, lead), populate_existing=True
            ).merged_into_id

    assert stands() == ("waiting", None)
    first = spawn(quiet, tmp_path / "go", "--name", "before-login")
    (tmp_path / "go").touch()
    assert report(first)["handled"] == 0
    assert stands() == ("waiting", None)

    with transaction(sessions) as db:  # the user logs in, from a browser of its own
        chosen = db.get_one(Workspace, workspace.id)
        identity = user_hash(chosen.identity_secret, "u-1")
        messenger.ping(db, chosen, anonymous_id=None, user_id="u-1", user_hash=identity)
    assert stands() == ("ready", None)

    second = spawn(quiet, tmp_path / "go", "--name", "after-login")
    assert report(second)["handled"] == 1
    assert stands() == ("done", user.id)
    with sessions() as db:
        merge = db.scalars(select(Merge).where(Merge.workspace_id == workspace.id)).one()
    assert (merge.source_id, merge.target_id, merge.reason, merge.requested_by) == (
        lead,
        user.id,
        "email_match",
        "after-login",
    )
