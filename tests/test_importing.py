"""CSV import (R3) end to end through the service and the CLI, on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from contactmerge.errors import ContactMergeError
from contactmerge.services import contacts, conversations, data_attributes, events, workspaces
from contactmerge.services.importing import jobs as importing
from contactmerge.services.importing import outcomes
from contactmerge.storage.db import make_sessionmaker, transaction
from contactmerge.storage.tables import Contact, Conversation, Event, Import, Merge, Workspace
from tests.conftest import Database
from tests.test_merge_properties import snapshot


def write_csv(path: Path, header: list[str], rows: list[list[Any]], encoding: str = "utf-8") -> Path:
    with path.open("w", newline="", encoding=encoding) as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def new_workspace(database: Database) -> str:
    with transaction(make_sessionmaker(database.engine)) as db:
        workspace = workspaces.create_workspace(db, "import").workspace
        data_attributes.create_attribute(db, workspace, name="plan", data_type="string")
        data_attributes.create_attribute(db, workspace, name="seats", data_type="integer")
        return workspace.id


def run(
    database: Database,
    workspace_id: str,
    path: Path,
    role: str = "user",
    *,
    dry_run: bool = False,
    mapping: dict[str, str] | None = None,
) -> Import:
    sessions = make_sessionmaker(database.engine)
    with transaction(sessions) as db:
        job = importing.create_import(
            db,
            db.get_one(Workspace, workspace_id),
            filename=path.name,
            role=role,
            mapping=mapping or {},
            dry_run=dry_run,
            size_bytes=path.stat().st_size,
            actor="test",
        )
    return importing.run_import(sessions, workspace_id, job.id, lambda: path.open("rb"), chunk_rows=250)


def count(database: Database, workspace_id: str, *conditions: Any) -> int:
    with make_sessionmaker(database.engine)() as db:
        return int(
            db.scalar(
                select(func.count())
                .select_from(Contact)
                .where(Contact.workspace_id == workspace_id, Contact.merged_into_id.is_(None), *conditions)
            )
            or 0
        )


def test_the_story_500_leads_then_1000_users_of_which_300_were_leads(
    database: Database, tmp_path: Path
) -> None:
    """Issue 5's story: afterwards 1,000 users, 200 leads, every lead's history on its user."""
    workspace_id = new_workspace(database)
    sessions = make_sessionmaker(database.engine)
    with transaction(sessions) as db:
        workspace = db.get_one(Workspace, workspace_id)
        for i in range(500):
            lead = contacts.create_contact(
                db, workspace, {"role": "lead", "email": f"person{i}@example.com"}, region="US"
            )
            conversations.start_conversation(db, workspace, lead, f"question {i}")
            events.record_event(
                db, workspace, lead, event_name="viewed", created_at=1_700_000_000 + i, metadata={}
            )
    rows = [
        [f"u{i}", f"Person{i}@Example.com" if i < 300 else f"new{i}@example.com", f"Person {i}", "pro"]
        for i in range(1000)
    ]
    job = run(
        database, workspace_id, write_csv(tmp_path / "users.csv", ["user_id", "email", "name", "plan"], rows)
    )
    assert job.state == "done", job.error
    assert job.counts["created"] == 1000 and job.counts["merged"] == 300
    assert count(database, workspace_id, Contact.role == "user") == 1000
    assert count(database, workspace_id, Contact.role == "lead") == 200
    with sessions() as db:
        owners = db.execute(
            select(Contact.role, func.count())
            .select_from(Conversation)
            .join(
                Contact,
                (Contact.workspace_id == Conversation.workspace_id) & (Contact.id == Conversation.contact_id),
            )
            .where(Conversation.workspace_id == workspace_id)
            .group_by(Contact.role)
        ).all()
        assert dict(owners) == {"user": 300, "lead": 200}
        assert (
            db.scalar(select(func.count()).select_from(Event).where(Event.workspace_id == workspace_id))
            == 500
        )
        merges = db.scalar(
            select(func.count())
            .select_from(Merge)
            .where(Merge.workspace_id == workspace_id, Merge.reason == "csv_import", Merge.batch_id == job.id)
        )
        assert merges == 300


def test_dry_run_reports_the_same_and_writes_nothing(database: Database, tmp_path: Path) -> None:
    workspace_id = new_workspace(database)
    with transaction(make_sessionmaker(database.engine)) as db:
        contacts.create_contact(
            db, db.get_one(Workspace, workspace_id), {"role": "lead", "email": "a@example.com"}, region="US"
        )
    path = write_csv(
        tmp_path / "u.csv",
        ["email", "name"],
        [["a@example.com", "A"], ["b@example.com", "B"], ["bad-email", "C"]],
    )
    with make_sessionmaker(database.engine)() as db:
        before = snapshot(db, workspace_id)
    dry = run(database, workspace_id, path, dry_run=True)
    with make_sessionmaker(database.engine)() as db:
        assert snapshot(db, workspace_id) == before
    real = run(database, workspace_id, path)
    assert dry.counts == real.counts == {"created": 2, "merged": 1, "invalid": 1}


def test_importing_the_same_file_twice_changes_nothing_the_second_time(
    database: Database, tmp_path: Path
) -> None:
    workspace_id = new_workspace(database)
    path = write_csv(
        tmp_path / "u.csv",
        ["user_id", "email", "plan", "seats"],
        [["u1", "a@example.com", "pro", "3"], ["u2", "b@example.com", "free", ""]],
    )
    first = run(database, workspace_id, path)
    with make_sessionmaker(database.engine)() as db:
        before = snapshot(db, workspace_id)
    second = run(database, workspace_id, path)
    with make_sessionmaker(database.engine)() as db:
        assert snapshot(db, workspace_id) == before
    assert first.counts == {"created": 2}
    assert second.counts == {"unchanged": 2}


def test_rows_are_reported_not_half_written(database: Database, tmp_path: Path) -> None:
    workspace_id = new_workspace(database)
    with transaction(make_sessionmaker(database.engine)) as db:
        workspace = db.get_one(Workspace, workspace_id)
        contacts.create_contact(
            db, workspace, {"role": "user", "external_id": "x1", "email": "one@example.com"}, region="US"
        )
        contacts.create_contact(
            db, workspace, {"role": "user", "external_id": "x2", "email": "two@example.com"}, region="US"
        )
    rows = [
        ["x1", "two@example.com", "5"],  # names two different users
        ["", "", "1"],  # no identifier
        ["", "not-an-email", "1"],  # bad email, and no external_id to be found by
        ["n2", "n2@example.com", "many"],  # seats is an integer: the row is kept without it
        ["n3", "n3@example.com", "2"],
        ["n3", "n3@example.com", "2"],  # duplicate of the row above
    ]
    job = run(database, workspace_id, write_csv(tmp_path / "u.csv", ["user_id", "email", "seats"], rows))
    assert job.counts == {
        "conflict": 1,
        "no_identifier": 1,
        "invalid": 1,
        "created": 2,
        "duplicate": 1,
        "rows_with_cell_problems": 1,
        "cells_dropped": 1,
    }
    with make_sessionmaker(database.engine)() as db:
        problems = [
            (r.row_number, r.action, r.column)
            for r in outcomes.problem_rows(db, db.get_one(Workspace, workspace_id), job.id)
        ]
    assert problems == [
        (1, "conflict", None),
        (2, "no_identifier", None),
        (3, "invalid", "email"),
        (4, "created", "seats"),
        (6, "duplicate", None),
    ]
    assert count(database, workspace_id) == 4


def test_undo_takes_the_whole_import_back(database: Database, tmp_path: Path) -> None:
    workspace_id = new_workspace(database)
    sessions = make_sessionmaker(database.engine)
    with transaction(sessions) as db:
        workspace = db.get_one(Workspace, workspace_id)
        contacts.create_contact(
            db, workspace, {"role": "lead", "email": "a@example.com", "name": "Ann Lee"}, region="US"
        )
        contacts.create_contact(
            db, workspace, {"role": "user", "external_id": "old", "email": "o@example.com"}, region="US"
        )
    with sessions() as db:
        before = snapshot(db, workspace_id)
    path = write_csv(
        tmp_path / "u.csv",
        ["user_id", "email", "name"],
        [["new", "a@example.com", "Ann Lee"], ["old", "o@example.com", "Renamed"]],
    )
    job = run(database, workspace_id, path)
    assert job.counts == {"created": 1, "updated": 1, "merged": 1}
    with transaction(sessions) as db:
        undone = outcomes.undo_import(db, db.get_one(Workspace, workspace_id), job.id, actor="test")
        assert undone.undo_report == {
            "merges_undone": 1,
            "updates_reverted": 1,
            "contacts_removed": 1,
            "conflicts": [],
        }
    with sessions() as db:
        after = snapshot(db, workspace_id)
    assert after == before
    with pytest.raises(ContactMergeError) as again, transaction(sessions) as db:
        outcomes.undo_import(db, db.get_one(Workspace, workspace_id), job.id, actor="test")
    assert again.value.code == "import_not_undoable"


class Interrupted(Exception):
    pass


def test_an_interrupted_import_resumes_where_it_stopped(database: Database, tmp_path: Path) -> None:
    """Stopped after its first chunk, the import resumes from the next row; the end state equals an
    uninterrupted run's."""
    rows = [[f"u{i}", f"p{i}@example.com", f"P {i}"] for i in range(1000)]
    path = write_csv(tmp_path / "u.csv", ["user_id", "email", "name"], rows)
    finals = []
    for interrupt in (True, False):
        workspace_id = new_workspace(database)
        sessions = make_sessionmaker(database.engine)
        with transaction(sessions) as db:
            for i in range(0, 1000, 7):  # leads that the file's users will absorb
                contacts.create_contact(
                    db,
                    db.get_one(Workspace, workspace_id),
                    {"role": "lead", "email": f"p{i}@example.com"},
                    region="US",
                )
            job = importing.create_import(
                db,
                db.get_one(Workspace, workspace_id),
                filename="u.csv",
                role="user",
                mapping={},
                dry_run=False,
                size_bytes=path.stat().st_size,
                actor="test",
            )

        def stop_after_first_chunk(current: Import) -> None:
            raise Interrupted

        if interrupt:
            with pytest.raises(Interrupted):
                importing.run_import(
                    sessions,
                    workspace_id,
                    job.id,
                    lambda: path.open("rb"),
                    chunk_rows=250,
                    progress=stop_after_first_chunk,
                )
            with sessions() as db:
                stopped = db.get_one(Import, (workspace_id, job.id))
                assert (stopped.state, stopped.rows_done) == ("failed", 250)
        done = importing.run_import(sessions, workspace_id, job.id, lambda: path.open("rb"), chunk_rows=250)
        assert done.state == "done" and done.rows_done == 1000
        finals.append(
            (
                done.counts,
                count(database, workspace_id, Contact.role == "user"),
                count(database, workspace_id, Contact.role == "lead"),
            )
        )
    assert finals[0] == finals[1] == ({"created": 1000, "merged": 143}, 1000, 0)


def test_malformed_rows_are_reported_with_their_line_and_fold_into_no_other_row(
    database: Database, tmp_path: Path
) -> None:
    workspace_id = new_workspace(database)
    path = tmp_path / "malformed.csv"
    path.write_text(
        "user_id,email,name\n"
        'u1,ada@example.com,"Ada\n'  # line 2: a quote never closed
        "u2,bob@example.com,Bob\n"
        "u3,cleo@example.com,Cleo,extra\n"  # line 4: more cells than the header
        'u4,dee@example.com,"Dee" Lee\n'  # line 5: text after a closing quote
        'u5,eve@example.com,"Eve\nSecond line"\n'  # lines 6-7: a real cell with a line break
        "u6,fay@example.com,Fay\n",
        encoding="utf-8",
    )
    job = run(database, workspace_id, path)
    assert job.state == "done", job.error
    assert job.counts == {"created": 3, "invalid": 3}
    assert job.rows_done == 6
    with make_sessionmaker(database.engine)() as db:
        problems = [
            (r.row_number, r.action, r.column, r.reason, r.cells)
            for r in outcomes.problem_rows(db, db.get_one(Workspace, workspace_id), job.id)
        ]
        names = dict(
            db.execute(
                select(Contact.external_id, Contact.name).where(Contact.workspace_id == workspace_id)
            ).all()
        )
    assert [p[:3] for p in problems] == [
        (1, "invalid", "(row)"),
        (3, "invalid", "(row)"),
        (4, "invalid", "(row)"),
    ]
    assert problems[0][3].startswith("line 2: a quoted cell starting on this line ")
    assert problems[0][4] == ['u1,ada@example.com,"Ada']
    assert problems[1][3] == "line 4: has 4 cells but the header has 3 columns"
    assert problems[2][3].startswith("line 5: text follows the closing quote")
    assert names == {"u2": "Bob", "u5": "Eve\nSecond line", "u6": "Fay"}


def test_a_runner_that_was_taken_over_stops_and_applies_no_row_twice(
    database: Database, tmp_path: Path
) -> None:
    """A runner that looked dead (frozen past the heartbeat window) while another took its import over
    finds the import moved on at its next chunk, and stops without writing."""
    rows = [[f"u{i}", f"p{i}@example.com", f"P {i}"] for i in range(1000)]
    path = write_csv(tmp_path / "u.csv", ["user_id", "email", "name"], rows)
    workspace_id = new_workspace(database)
    sessions = make_sessionmaker(database.engine)
    with transaction(sessions) as db:
        job = importing.create_import(
            db,
            db.get_one(Workspace, workspace_id),
            filename="u.csv",
            role="user",
            mapping={},
            dry_run=False,
            size_bytes=path.stat().st_size,
            actor="test",
        )
    taken_over: list[Import] = []

    def another_runner_takes_over(current: Import) -> None:
        if not taken_over:  # after the first runner's first chunk
            taken_over.append(
                importing.run_import(sessions, workspace_id, job.id, lambda: path.open("rb"), chunk_rows=250)
            )

    first = importing.run_import(
        sessions,
        workspace_id,
        job.id,
        lambda: path.open("rb"),
        chunk_rows=250,
        progress=another_runner_takes_over,
    )
    assert taken_over[0].state == "done"
    assert (first.state, first.rows_done, first.counts) == ("done", 1000, {"created": 1000})
    assert count(database, workspace_id, Contact.role == "user") == 1000
    with make_sessionmaker(database.engine)() as db:
        assert list(outcomes.problem_rows(db, db.get_one(Workspace, workspace_id), job.id)) == []
