"""An uploaded import whose worker is SIGKILLed mid-file is resumed by another worker within the heartbeat
window, with every row applied exactly once (issue 11), on SQLite and PostgreSQL.

The doomed worker is a separate process (``tests.import_child``) that stalls at a chosen step of the
import: between two chunks, where its heartbeat must keep the import its own however long it stalls, or
inside a chunk's transaction, with rows written but not committed. The test kills it there, then runs a
worker with a short ``import_stale_seconds`` and checks the end state against the file.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from contactmerge.services import contacts, workspaces
from contactmerge.services.importing import jobs as importing
from contactmerge.settings import Settings
from contactmerge.storage.db import make_sessionmaker, read_only, transaction
from contactmerge.storage.tables import Contact, Import, ImportRow, Merge
from contactmerge.worker.runner import Worker
from tests.conftest import Database
from tests.test_worker import ROOT, wait_for

ROWS = 5000
LEADS = ROWS // 10  # every tenth row's email belongs to an existing lead, which the user absorbs
STALE = Settings(import_stale_seconds=2).import_stale_seconds
FIRST_CHUNK = importing.CHUNK_ROWS


@pytest.fixture
def child() -> Iterator[list[subprocess.Popen[str]]]:
    started: list[subprocess.Popen[str]] = []
    yield started
    for process in started:
        if process.poll() is None:
            process.kill()
        process.communicate()


def upload(database: Database) -> tuple[str, str]:
    data = "user_id,email,name\n" + "".join(f"u{i},p{i}@example.com,Person {i}\n" for i in range(ROWS))
    raw = data.encode()
    with transaction(make_sessionmaker(database.engine)) as db:
        workspace = workspaces.create_workspace(db, "resume").workspace
        for i in range(0, ROWS, 10):
            contacts.create_contact(
                db, workspace, {"role": "lead", "email": f"P{i}@example.com"}, region="US"
            )
        job = importing.upload(
            db,
            workspace,
            filename="users.csv",
            role="user",
            mapping={},
            dry_run=False,
            chunks=[raw[at : at + 16_384] for at in range(0, len(raw), 16_384)],
            max_bytes=len(raw),
            actor="test",
        )
        return workspace.id, job.id


def current(database: Database, workspace_id: str, import_id: str) -> Import:
    with make_sessionmaker(database.engine)() as db:  # read-only: never waits for the doomed writer
        return read_only(db).get_one(Import, (workspace_id, import_id), populate_existing=True)


@pytest.mark.parametrize("step", ["import_chunk_read", "import_chunk_recorded"], ids=["between", "inside"])
def test_an_import_killed_mid_file_is_resumed_in_the_window_with_every_row_once(
    isolated_database: Database, tmp_path: Path, child: list[subprocess.Popen[str]], step: str
) -> None:
    database = isolated_database
    sessions = make_sessionmaker(database.engine)
    workspace_id, import_id = upload(database)
    stalled = tmp_path / "stalled"
    args = ["--stall-at", step, "--after", "2", "--stalled", str(stalled), "--stale", str(STALE)]
    doomed = subprocess.Popen(
        [sys.executable, "-m", "tests.import_child", database.url, *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    child.append(doomed)
    assert wait_for(lambda: stalled.exists() or doomed.poll() is not None, timeout=120)
    assert doomed.poll() is None, doomed.communicate()
    # the first chunk is committed; the second is read (and, inside, written) but not committed
    assert wait_for(lambda: current(database, workspace_id, import_id).rows_done == FIRST_CHUNK)
    rescuer = Worker(sessions, name="rescuer", import_stale_seconds=STALE)
    if step == "import_chunk_read":
        # stuck with no progress for longer than the window, the import is still alive: not taken over
        stuck_at = time.time()
        assert wait_for(lambda: current(database, workspace_id, import_id).heartbeat_at > stuck_at + STALE)
        assert rescuer.run_once() is False
        assert current(database, workspace_id, import_id).rows_done == FIRST_CHUNK
    elif database.backend == "postgres":
        assert rescuer.run_once() is False  # the chunk's lock keeps it off (on SQLite it would wait)

    os.kill(doomed.pid, signal.SIGKILL)
    doomed.wait(timeout=30)
    killed_at = time.monotonic()
    deadline = killed_at + STALE + 15
    while True:
        started = time.monotonic()
        if rescuer.run_once():
            break
        assert started < deadline, "no worker resumed the import"
        time.sleep(0.05)
    # taken over once the heartbeat was STALE old (plus PostgreSQL noticing the dead connection)
    assert started - killed_at < STALE + 5

    job = current(database, workspace_id, import_id)
    assert (job.state, job.error, job.rows_done) == ("done", None, ROWS)
    assert job.counts == {"created": ROWS, "merged": LEADS}
    with make_sessionmaker(database.engine)() as db:
        users = db.execute(
            select(func.count(), func.count(func.distinct(Contact.external_id))).where(
                Contact.workspace_id == workspace_id, Contact.role == "user"
            )
        ).one()
        assert tuple(users) == (ROWS, ROWS)
        assert (
            db.scalar(
                select(func.count()).where(
                    Contact.workspace_id == workspace_id, Contact.import_id == import_id
                )
            )
            == ROWS
        )
        merged = db.execute(
            select(func.count(), func.count(func.distinct(Merge.source_id))).where(
                Merge.workspace_id == workspace_id, Merge.batch_id == import_id
            )
        ).one()
        assert tuple(merged) == (LEADS, LEADS)
        assert (
            db.scalar(
                select(func.count()).where(
                    Contact.workspace_id == workspace_id,
                    Contact.role == "lead",
                    Contact.merged_into_id.is_(None),
                )
            )
            == 0
        )
        assert (
            db.scalar(
                select(func.count()).where(
                    ImportRow.workspace_id == workspace_id, ImportRow.import_id == import_id
                )
            )
            == 0
        )  # no row reported (a row applied twice would be a "duplicate")
