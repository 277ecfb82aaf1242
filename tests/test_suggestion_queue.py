"""Fuzzy suggestions are a stored queue (R5, issue 12): a scan is a batch that stores its scored pairs;
reading pages through them and never scans; decisions and merges hold across scans."""

from __future__ import annotations

import json
import re
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from contactmerge.domain.ids import new_id, now
from contactmerge.errors import BadRequest, Conflict
from contactmerge.services import contacts, merging, workspaces
from contactmerge.services.duplicates import batches, queue, review, suggest
from contactmerge.storage import batches as batches_repo
from contactmerge.storage import suggestions as suggestions_repo
from contactmerge.storage.db import make_sessionmaker, transaction
from contactmerge.storage.tables import Batch, Contact, Workspace
from contactmerge.worker.runner import Worker
from tests.conftest import Database
from tests.helpers import run_cli as run
from tests.test_api_suggestions import PAIRS


def seed(database: Database, name: str = "queue") -> tuple[str, dict[str, str]]:
    """A workspace holding ``PAIRS``; its id and the pair id of each."""
    with transaction(make_sessionmaker(database.engine)) as db:
        workspace = workspaces.create_workspace(db, name).workspace
        pairs = {}
        for key, (a, b) in PAIRS.items():
            made = [contacts.create_contact(db, workspace, dict(f), region="US").id for f in (a, b)]
            pairs[key] = review.pair_id(*made)
        return workspace.id, pairs


def add(database: Database, workspace_id: str, fields: dict[str, Any]) -> str:
    with transaction(make_sessionmaker(database.engine)) as db:
        return contacts.create_contact(db, db.get_one(Workspace, workspace_id), fields, region="US").id


def read(database: Database, workspace_id: str, **paging: Any) -> queue.QueuePage:
    with make_sessionmaker(database.engine)() as db:
        options = {"min_score": 0.8, "page": 1, "per_page": 50} | paging
        return queue.page(db, db.get_one(Workspace, workspace_id), **options)


def rescan(database: Database, workspace_id: str) -> str:
    with transaction(make_sessionmaker(database.engine)) as db:
        return batches.suggest_now(db, db.get_one(Workspace, workspace_id)).id


def scans_started(database: Database, workspace_id: str) -> int:
    with make_sessionmaker(database.engine)() as db:
        return batches_repo.count(db, workspace_id, queue.KIND)


def ids(found: queue.QueuePage) -> list[str]:
    return [review.pair_id(s.contact_a, s.contact_b) for s in found.suggestions]


def test_the_queue_is_read_from_the_last_scan_and_reading_never_scans(database: Database) -> None:
    workspace_id, pairs = seed(database)
    empty = read(database, workspace_id)
    assert empty.scan is None and empty.total == 0 and empty.suggestions == []

    first = rescan(database, workspace_id)
    found = read(database, workspace_id)
    assert found.scan is not None and found.scan.id == first and found.scan.state == "done"
    assert sorted(ids(found)) == sorted(pairs.values()) and found.total == 3
    assert [s.score for s in found.suggestions] == sorted((s.score for s in found.suggestions), reverse=True)
    assert found.scan.counts["suggestions"] >= 3 and found.scan.counts["pairs_compared"] >= 3
    second_page = read(database, workspace_id, per_page=2, page=2)
    assert ids(second_page) == ids(found)[2:] and second_page.total == 3

    # A workspace that grows does not change what a read costs or shows: no scan runs, the same rows come
    # back, and a new duplicate waits for the next scan.
    for n in range(150):
        add(database, workspace_id, {"role": "lead", "name": f"Person {n}", "email": f"p{n}@example.com"})
    newcomer = add(
        database, workspace_id, {"role": "lead", "name": "Kim Lee", "email": "kim.lee@example.com"}
    )
    assert ids(read(database, workspace_id, per_page=2, page=2)) == ids(second_page)
    assert read(database, workspace_id).total == 3
    assert scans_started(database, workspace_id) == 1

    second = rescan(database, workspace_id)
    again = read(database, workspace_id)
    assert again.scan is not None and again.scan.id == second != first
    assert again.total == 5 and sum(newcomer in pair for pair in ids(again)) == 2
    with make_sessionmaker(database.engine)() as db:  # the replaced scan's rows are gone
        assert suggestions_repo.count(db, workspace_id) == again.scan.counts["suggestions"]


def test_decisions_and_merges_hold_across_scans(database: Database) -> None:
    workspace_id, pairs = seed(database, "decisions")
    other_id, theirs = seed(database, "other")
    rescan(database, workspace_id)
    rescan(database, other_id)
    sessions = make_sessionmaker(database.engine)
    with transaction(sessions) as db:
        workspace = db.get_one(Workspace, workspace_id)
        review.reject_pair(db, workspace, pairs["kim"], actor="test")
        merged = review.approve_pair(db, workspace, pairs["email"], actor="test")
    assert ids(read(database, workspace_id)) == [pairs["phone"]]
    with transaction(sessions) as db:
        contacts.set_archived(db, db.get_one(Workspace, workspace_id), pairs["phone"].split(":")[0], True)
    assert read(database, workspace_id).total == 0  # an archived contact is no one's duplicate

    rescan(database, workspace_id)
    assert read(database, workspace_id, min_score=0.0).suggestions == []  # not even at the lowest score
    with transaction(sessions) as db:
        contacts.set_archived(db, db.get_one(Workspace, workspace_id), pairs["phone"].split(":")[0], False)
        merging.undo_merge(db, db.get_one(Workspace, workspace_id), merged.merge.id, actor="test")
    rescan(database, workspace_id)
    # the rejected pair never comes back; the approved pair stays decided even once its merge is undone
    assert ids(read(database, workspace_id, min_score=0.0)) == [pairs["phone"]]
    assert sorted(ids(read(database, other_id))) == sorted(theirs.values())  # other workspaces unaffected


def start_two_scans(database: Database, workspace_id: str) -> tuple[str, str]:
    """Two suggestion scans of the workspace, not run yet, as two requests racing each other leave them
    (one asked while the other waits gets the waiting one): the older's id, then the newer's (ids sort by
    creation; two made in one millisecond are ordered by the rest of the id)."""
    sessions = make_sessionmaker(database.engine)
    with transaction(sessions) as db:
        first = queue.start_scan(db, db.get_one(Workspace, workspace_id))
        options = dict(first.options)
    with transaction(sessions) as db:
        twin = Batch(
            workspace_id=workspace_id,
            id=new_id(),
            kind=queue.KIND,
            state="pending",
            options=options,
            counts={},
            created_at=now(),
        )
        second = batches_repo.add(db, twin)
        older, newer = sorted((first.id, second.id))
        return older, newer


def run_scan(database: Database, workspace_id: str, scan_id: str, progress: Any = None) -> None:
    with transaction(make_sessionmaker(database.engine)) as db:
        scan = batches.get_batch(db, db.get_one(Workspace, workspace_id), scan_id)
        batches.run_batch(db, scan, progress)


def stored_rows(database: Database, workspace_id: str) -> int:
    with make_sessionmaker(database.engine)() as db:
        return suggestions_repo.count(db, workspace_id)


def test_a_scan_that_finishes_after_a_newer_one_leaves_the_newer_queue(isolated_database: Database) -> None:
    database = isolated_database  # no test server's worker runs these scans
    workspace_id, pairs = seed(database, "order")
    older, newer = start_two_scans(database, workspace_id)
    run_scan(database, workspace_id, newer)
    run_scan(database, workspace_id, older)  # two workers: the scan started first finished last
    found = read(database, workspace_id)
    assert found.scan is not None and found.scan.id == newer
    assert sorted(ids(found)) == sorted(pairs.values()) and found.total == 3
    assert stored_rows(database, workspace_id) == found.scan.counts["suggestions"]
    with make_sessionmaker(database.engine)() as db:
        late = batches.get_batch(db, db.get_one(Workspace, workspace_id), older)
    assert late.state == "done" and late.counts["superseded_by"] == newer and late.counts["suggestions"] == 0


def test_scans_finishing_together_leave_one_whole_queue(isolated_database: Database) -> None:
    """Two workers run two scans of one workspace at once (on PostgreSQL both scan before either
    stores): the queue is the newer scan's, whole, and no row of the other is left behind."""
    database = isolated_database  # no test server's worker runs these scans
    workspace_id, pairs = seed(database, "together")
    for _ in range(3):
        older, newer = start_two_scans(database, workspace_id)
        both_scanning = threading.Barrier(2, timeout=30)

        def progress(phase: str, done: int, total: int | None, barrier: Any = both_scanning) -> None:
            if phase == "scanning" and database.backend == "postgres":  # SQLite: one writer at a time
                barrier.wait()

        with ThreadPoolExecutor(2) as pool:
            runs = [pool.submit(run_scan, database, workspace_id, s, progress) for s in (older, newer)]
            for run_ in runs:
                run_.result()
        found = read(database, workspace_id)
        assert found.scan is not None and found.scan.id == newer
        assert sorted(ids(found)) == sorted(pairs.values())
        assert stored_rows(database, workspace_id) == found.scan.counts["suggestions"]


def impatient_write(database: Database, workspace_id: str, name: str) -> str:
    """A contact created by a connection of its own that waits at most half a second for a lock."""
    waits = {"timeout": 0.5} if database.backend == "sqlite" else {"options": "-c lock_timeout=500"}
    engine = create_engine(database.url, connect_args=waits)
    try:
        with Session(engine) as db, db.begin():
            workspace = db.get_one(Workspace, workspace_id)
            return contacts.create_contact(db, workspace, {"role": "lead", "name": name}, region="US").id
    finally:
        engine.dispose()


@pytest.mark.parametrize("runner", ["worker", "cli"])
def test_writers_do_not_wait_for_a_suggestion_scan(
    isolated_database: Database, runner: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A suggestion scan of a million contacts reads for half a minute; on SQLite a writing transaction
    holds the database's one write lock, which every other writer (a messenger login, a reply) waits
    for until its busy timeout. The worker and the CLI scan before they take it: a write made while the
    scan reads goes through at once, and the scan still stores its whole queue."""
    database = isolated_database
    workspace_id, pairs = seed(database, "busy")
    written: list[str] = []
    scan = suggest.scan

    def scan_then_write(*args: Any, **options: Any) -> suggest.FuzzyScan:
        found = scan(*args, **options)
        written.append(impatient_write(database, workspace_id, f"Written during the scan {len(written)}"))
        return found

    monkeypatch.setattr(suggest, "scan", scan_then_write)
    if runner == "worker":
        with transaction(make_sessionmaker(database.engine)) as db:
            queue.start_scan(db, db.get_one(Workspace, workspace_id))
        assert Worker(make_sessionmaker(database.engine)).run_once()
    else:
        rescanned = run(database.url, "dedupe", "suggest", "--rescan", "--workspace", workspace_id)
        assert rescanned.returncode == 0, rescanned.stderr
    found = read(database, workspace_id)
    assert found.scan is not None and found.scan.state == "done"
    assert sorted(ids(found)) == sorted(pairs.values())
    assert len(written) == 1
    with make_sessionmaker(database.engine)() as db:
        assert db.get(Contact, (workspace_id, written[0])) is not None


def test_one_scan_waits_at_a_time_and_asking_again_answers_it(isolated_database: Database) -> None:
    database = isolated_database  # no test server's worker runs these scans
    workspace_id, pairs = seed(database, "waiting")
    sessions = make_sessionmaker(database.engine)
    with transaction(sessions) as db:
        waiting = queue.start_scan(db, db.get_one(Workspace, workspace_id), min_score=0.6, block_cap=40)
    with transaction(sessions) as db:  # the page's button pressed twice, a client retrying
        again = queue.start_scan(db, db.get_one(Workspace, workspace_id), min_score=0.6, block_cap=40)
    assert again.id == waiting.id
    with pytest.raises(Conflict) as refused, transaction(sessions) as db:
        queue.start_scan(db, db.get_one(Workspace, workspace_id), min_score=0.7, block_cap=40)
    assert waiting.id in refused.value.message and "waiting for a worker" in refused.value.message
    assert scans_started(database, workspace_id) == 1
    other_id, _ = seed(database, "waiting elsewhere")  # another workspace's scan does not wait for it
    with transaction(sessions) as db:
        assert queue.start_scan(db, db.get_one(Workspace, other_id)).id != waiting.id

    run_scan(database, workspace_id, waiting.id)
    assert sorted(ids(read(database, workspace_id))) == sorted(pairs.values())
    with transaction(sessions) as db:  # once it has run, a new one
        assert queue.start_scan(db, db.get_one(Workspace, workspace_id), min_score=0.7).id != waiting.id
    assert scans_started(database, workspace_id) == 2


def test_a_failing_scan_is_marked_failed_and_holds_back_no_other_batch(
    isolated_database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A scan that fails (out of memory at scale, a bug one workspace's data sets off) ends ``failed``
    with its reason; the batches queued after it, of any workspace, still run, and its workspace can ask
    for another scan."""
    database = isolated_database
    sessions = make_sessionmaker(database.engine)
    failing_id, _ = seed(database, "failing")
    other_id, _ = seed(database, "other")
    with transaction(sessions) as db:
        scan = queue.start_scan(db, db.get_one(Workspace, failing_id))
    with transaction(sessions) as db:
        other = batches.start_batch(
            db, db.get_one(Workspace, other_id), keys=["email"], cluster_ids=[], actor="test"
        )

    def broken(*args: Any, **options: Any) -> suggest.FuzzyScan:
        raise MemoryError("no memory left for the blocks")

    monkeypatch.setattr(suggest, "scan", broken)
    worker = Worker(sessions)
    assert worker.run_once() and worker.run_once()
    with sessions() as db:
        failed = batches.get_batch(db, db.get_one(Workspace, failing_id), scan.id)
        ran = batches.get_batch(db, db.get_one(Workspace, other_id), other.id)
        assert (failed.state, ran.state) == ("failed", "done")
        assert "no memory left for the blocks" in (failed.error or "")
    with transaction(sessions) as db:
        assert queue.start_scan(db, db.get_one(Workspace, failing_id), min_score=0.7).id != scan.id


def test_a_cli_rescan_never_takes_over_a_queued_scan(isolated_database: Database) -> None:
    """`dedupe suggest --rescan` runs a scan of its own: the one queued for a worker (which may be running
    it right now) is left to the worker, whatever their options."""
    database = isolated_database
    workspace_id, pairs = seed(database, "queued")
    with transaction(make_sessionmaker(database.engine)) as db:
        queued = queue.start_scan(db, db.get_one(Workspace, workspace_id))  # the page's button: defaults
    rescanned = run(database.url, "dedupe", "suggest", "--rescan", "--workspace", workspace_id)
    assert rescanned.returncode == 0, rescanned.stderr
    found = read(database, workspace_id)
    assert found.scan is not None and found.scan.id != queued.id
    assert sorted(ids(found)) == sorted(pairs.values())
    with make_sessionmaker(database.engine)() as db:
        assert batches.get_batch(db, db.get_one(Workspace, workspace_id), queued.id).state == "pending"


def test_bad_scan_and_paging_options_change_nothing(database: Database) -> None:
    workspace_id, _ = seed(database, "options")
    for options, field in (({"min_score": 1.5}, "min_score"), ({"block_cap": 1}, "block_cap")):
        with pytest.raises(BadRequest) as refused, transaction(make_sessionmaker(database.engine)) as db:
            queue.start_scan(db, db.get_one(Workspace, workspace_id), **options)
        assert refused.value.field == field
    assert scans_started(database, workspace_id) == 0
    for paging, field in (
        ({"page": 0}, "page"),
        ({"per_page": 0}, "per_page"),
        ({"min_score": -1}, "min_score"),
    ):
        with pytest.raises(BadRequest) as refused:
            read(database, workspace_id, **paging)
        assert refused.value.field == field


def test_cli_suggest_pages_the_stored_queue(isolated_database: Database, tmp_path: Path) -> None:
    database = isolated_database
    workspace_id, pairs = seed(database, "cli")
    ws = ["--workspace", workspace_id]
    none = run(database.url, "dedupe", "suggest", *ws)
    assert none.returncode == 1 and "no suggestion scan has run" in none.stderr
    assert "dedupe suggest --rescan" in none.stderr and len(none.stderr.strip().splitlines()) == 1

    scanned = run(database.url, "dedupe", "suggest", "--rescan", "--per-page", "2", *ws)
    assert scanned.returncode == 0, scanned.stderr
    shown = re.search(
        r"showing 1\N{EN DASH}2 of 3 suggestions \(scan (\w+) at \d{4}-\d\d-\d\d \d\d:\d\d UTC\)",
        scanned.stdout,
    )
    assert shown, scanned.stdout
    paged = run(
        database.url,
        "dedupe",
        "suggest",
        "--page",
        "2",
        "--per-page",
        "2",
        "--json",
        str(tmp_path / "q.json"),
        *ws,
    )
    assert (
        paged.returncode == 0
        and f"showing 3\N{EN DASH}3 of 3 suggestions (scan {shown.group(1)}" in paged.stdout
    )
    document = json.loads((tmp_path / "q.json").read_text())
    assert document["total_count"] == 3 and document["scan"]["id"] == shown.group(1)
    [last] = document["suggestions"]
    assert last["id"] in pairs.values() and last["id"] not in scanned.stdout

    rejected = run(database.url, "dedupe", "reject", pairs["email"], *ws)
    assert rejected.returncode == 0 and f"rejected suggestion {pairs['email']}" in rejected.stdout
    after = run(database.url, "dedupe", "suggest", "--min-score", "0", *ws)
    assert "of 2 suggestions" in after.stdout and pairs["email"] not in after.stdout
    assert scans_started(database, workspace_id) == 1  # reading the queue started no scan
    for wrong in (["--page", "0"], ["--min-score", "2"], ["--rescan", "--block-cap", "1"]):
        refused = run(database.url, "dedupe", "suggest", *wrong, *ws)
        assert refused.returncode == 1 and refused.stderr.startswith("error:"), (wrong, refused.stderr)
    assert scans_started(database, workspace_id) == 1
    undo = run(database.url, "dedupe", "undo", shown.group(1), *ws)
    assert undo.returncode == 1 and "suggestion scan" in undo.stderr
