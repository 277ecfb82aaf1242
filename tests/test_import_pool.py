"""Rows validated in a pool of processes (import_processes) import exactly as rows validated in the
importing process: the same contacts, counts, merges and reported cells, interrupted and resumed or not,
dry run or not; and the pool's processes end with the import however it ends. On SQLite and PostgreSQL."""

from __future__ import annotations

import multiprocessing
import os
import re
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from contactmerge.services import contacts
from contactmerge.services.importing import jobs as importing
from contactmerge.services.importing import outcomes
from contactmerge.storage.db import make_sessionmaker, transaction
from contactmerge.storage.tables import Contact, Import, Merge, Workspace
from tests.conftest import Database
from tests.test_importing import Interrupted, new_workspace, write_csv
from tests.test_worker import ROOT, wait_for

ROWS = 1200
AN_ID = re.compile(r"\b[0-9a-f]{24}\b")  # ids are drawn afresh by each run
CHUNK = 250


def messy_file(path: Path) -> Path:
    """Valid rows, leads to absorb, bad emails, phones valid only elsewhere, unknown countries, bad
    integers, rows without identifiers and repeated rows."""
    rows: list[list[Any]] = []
    for i in range(ROWS):
        email = f"lead{i}@example.com" if i % 10 == 0 else f"user{i}@example.org"
        if i % 37 == 0:
            email = f"not-an-email-{i}"
        phone = ("+1 512 555 0100", "020 7946 0958", "12", "", "+44 20 7946 0958")[i % 5]
        country = ("", "GB", "Atlantis", "de")[i % 4]
        user_id = "" if i % 41 == 0 else f"u{i % 1100}"
        rows.append([user_id, email, f"User {i}", phone, country, ("3", "many", "")[i % 3]])
    return write_csv(path, ["user_id", "email", "name", "phone", "country", "seats"], rows)


def start(database: Database, path: Path, *, dry_run: bool = False) -> tuple[str, str]:
    workspace_id = new_workspace(database)
    with transaction(make_sessionmaker(database.engine)) as db:
        workspace = db.get_one(Workspace, workspace_id)
        for i in range(0, ROWS, 10):
            contacts.create_contact(
                db, workspace, {"role": "lead", "email": f"lead{i}@example.com"}, region="US"
            )
        job = importing.create_import(
            db,
            workspace,
            filename=path.name,
            role="user",
            mapping={},
            dry_run=dry_run,
            size_bytes=path.stat().st_size,
            actor="test",
        )
        return workspace_id, job.id


def outcome(database: Database, workspace_id: str, job: Import) -> dict[str, Any]:
    """What the import did, without the ids it drew."""
    with make_sessionmaker(database.engine)() as db:
        workspace = db.get_one(Workspace, workspace_id)
        people = db.execute(
            select(
                Contact.role,
                Contact.external_id,
                Contact.email_normalized,
                Contact.phone,
                Contact.phone_e164,
                Contact.name,
                Contact.location_country,
                Contact.custom_attributes,
                Contact.merged_into_id.is_(None),
            ).where(Contact.workspace_id == workspace_id)
        ).all()
        problems = [
            (r.row_number, r.action, r.column, AN_ID.sub("<id>", r.reason or ""))
            for r in outcomes.problem_rows(db, workspace, job.id)
        ]
        merges = db.scalars(select(Merge.reason).where(Merge.workspace_id == workspace_id)).all()
    return {
        "state": (job.state, job.rows_done, job.error),
        "counts": job.counts,
        "contacts": sorted(map(repr, people)),
        "problems": problems,
        "merges": sorted(merges),
    }


def run(
    database: Database, workspace_id: str, import_id: str, path: Path, processes: int, **options: Any
) -> Import:
    return importing.run_import(
        make_sessionmaker(database.engine),
        workspace_id,
        import_id,
        lambda: path.open("rb"),
        chunk_rows=CHUNK,
        processes=processes,
        pool_min_bytes=0,
        **options,
    )


def test_rows_validated_in_a_pool_import_exactly_as_in_one_process(
    database: Database, tmp_path: Path
) -> None:
    path = messy_file(tmp_path / "users.csv")
    alone = start(database, path)
    expected = outcome(database, alone[0], run(database, *alone, path, processes=0))
    assert expected["counts"]["merged"] > 0 and len(expected["problems"]) > 100

    pooled = start(database, path)
    assert outcome(database, pooled[0], run(database, *pooled, path, processes=2)) == expected
    assert multiprocessing.active_children() == []

    def stop_after_the_second_chunk(current: Import) -> None:
        if current.rows_done == 2 * CHUNK:
            raise Interrupted

    resumed = start(database, path)
    with pytest.raises(Interrupted):
        run(database, *resumed, path, processes=2, progress=stop_after_the_second_chunk)
    assert multiprocessing.active_children() == []  # the pool ends with the run that failed
    with make_sessionmaker(database.engine)() as db:
        stopped = db.get_one(Import, resumed)
        assert (stopped.state, stopped.rows_done) == ("failed", 2 * CHUNK)
    assert outcome(database, resumed[0], run(database, *resumed, path, processes=1)) == expected

    dry = start(database, path, dry_run=True)
    assert run(database, *dry, path, processes=1).counts == expected["counts"]
    assert multiprocessing.active_children() == []


# A process that starts a validation pool, has it validate a chunk, prints the pool's process ids and waits.
POOL_OWNER = """
import sys, threading
from contactmerge.domain.importing import auto_map
from contactmerge.services.importing.source import CsvRow
from contactmerge.services.importing.validation import RowRules, Validation

if __name__ == "__main__":
    header = ("email", "phone")
    rules = RowRules(auto_map(header, {}, {}), header, {}, "US")
    rows = [CsvRow(n, n + 1, [f"p{n}@example.com", "+1 512 555 0100"], 0) for n in range(1, 101)]
    with Validation(2) as validation:
        for chunk in validation.chunks([(rows, 0), (rows, 0), (rows, 0)], rules):
            chunk.prepared(rules)
        print(*validation._pool._processes, flush=True)  # type: ignore[union-attr]
        threading.Event().wait()
"""


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as stat:  # a zombie waits only for its parent's init to reap it
        return stat.read().rpartition(")")[2].split()[0] != "Z"


def test_the_pool_s_processes_end_when_the_import_s_process_is_killed() -> None:
    """SIGKILL gives the pool no chance to shut down: its processes notice and exit by themselves."""
    owner = subprocess.Popen([sys.executable, "-c", POOL_OWNER], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    pids: list[int] = []
    try:
        assert owner.stdout is not None
        pids = [int(pid) for pid in owner.stdout.readline().split()]
        assert len(pids) == 2 and all(alive(pid) for pid in pids)
        os.kill(owner.pid, signal.SIGKILL)
        owner.wait()
        assert wait_for(lambda: not any(alive(pid) for pid in pids), timeout=30)
    finally:
        owner.kill()
        owner.wait()
        for pid in pids:  # had the test failed: the orphans it started
            if alive(pid):
                os.kill(pid, signal.SIGKILL)
        assert owner.stdout is not None
        owner.stdout.close()
