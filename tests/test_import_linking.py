"""Issue 12: the import asks the link rule the duplicate scan asks (R3, R5), on SQLite and PostgreSQL.

A lead row never writes over another person; a user absorbs only the leads the rule allows; the in-file
duplicate check covers the whole file, not one chunk; what the import keeps apart, the scan holds.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import select

from contactmerge.domain.linking import NAMES_DISAGREE, ROLE_MAILBOX
from contactmerge.services import contacts
from contactmerge.services.duplicates import scan
from contactmerge.services.importing import jobs as importing
from contactmerge.services.importing import outcomes
from contactmerge.storage.db import make_sessionmaker, transaction
from contactmerge.storage.tables import Contact, Import, Workspace
from tests.conftest import Database
from tests.test_importing import new_workspace, write_csv

HEADER = ["user_id", "email", "name", "phone"]


def run(database: Database, workspace_id: str, path: Path, role: str, chunk_rows: int = 2) -> Import:
    """The real import service with tiny chunks, so rows meet across chunk boundaries."""
    sessions = make_sessionmaker(database.engine)
    with transaction(sessions) as db:
        job = importing.create_import(
            db,
            db.get_one(Workspace, workspace_id),
            filename=path.name,
            role=role,
            mapping={},
            dry_run=False,
            size_bytes=path.stat().st_size,
            actor="test",
        )
    done = importing.run_import(
        sessions, workspace_id, job.id, lambda: path.open("rb"), chunk_rows=chunk_rows
    )
    assert done.state == "done", done.error
    return done


def seed(database: Database, workspace_id: str, *people: dict[str, Any]) -> list[str]:
    with transaction(make_sessionmaker(database.engine)) as db:
        workspace = db.get_one(Workspace, workspace_id)
        return [contacts.create_contact(db, workspace, fields, region="US").id for fields in people]


def live(database: Database, workspace_id: str, email: str) -> list[tuple[str, str | None, str | None]]:
    """(role, name, phone) of the live contacts with an email, by name."""
    with make_sessionmaker(database.engine)() as db:
        rows = db.execute(
            select(Contact.role, Contact.name, Contact.phone).where(
                Contact.workspace_id == workspace_id,
                Contact.email_normalized == email,
                Contact.merged_into_id.is_(None),
            )
        ).all()
    return sorted(((r[0], r[1], r[2]) for r in rows), key=lambda r: (r[1] or "", r[0]))


def problems(database: Database, workspace_id: str, job: Import) -> dict[int, tuple[str, str | None]]:
    """Row number -> (action, reason) of the rows errors.csv lists."""
    with make_sessionmaker(database.engine)() as db:
        rows = outcomes.problem_rows(db, db.get_one(Workspace, workspace_id), job.id)
        return {r.row_number: (r.action, r.reason) for r in rows}


def held(database: Database, workspace_id: str) -> tuple[list[tuple[str, str]], list[tuple[str, ...]]]:
    """The scan's held keys (value, reason) and its clusters (member names)."""
    with make_sessionmaker(database.engine)() as db:
        plan = scan.scan(db, db.get_one(Workspace, workspace_id))
        names = {
            c.id: c.name for c in db.scalars(select(Contact).where(Contact.workspace_id == workspace_id))
        }
    return (
        [(h.key.value, h.reason) for h in plan.held],
        [tuple(sorted(names[m] or "" for m in p.cluster.members)) for p in plan.clusters],
    )


def test_a_lead_row_sharing_a_role_mailbox_never_overwrites_another_person(
    database: Database, tmp_path: Path
) -> None:
    """The issue's import: a lead named Charlotte became "Natonman Mendoza" with his phone."""
    workspace_id = new_workspace(database)
    [charlotte] = seed(
        database,
        workspace_id,
        {"role": "lead", "email": "info@acme.com", "name": "Charlotte Evans", "phone": "+1 512 555 0100"},
    )
    rows = [
        ["", "info@acme.com", "Natonman Mendoza", "+1 512 555 0199"],
        ["", "ann@example.com", "Ann Lee", ""],
        ["", "INFO@acme.com", "Charlie Evans", "+1 512 555 0101"],  # Charlotte, by her nickname
        ["", "info@acme.com", "Natonman Mendoza", ""],  # the same row again, in the next chunk
        ["", "info@acme.com", "Priya Raman", ""],
    ]
    job = run(database, workspace_id, write_csv(tmp_path / "leads.csv", HEADER, rows), "lead")
    assert job.counts == {"created": 3, "updated": 1, "kept_apart": 2, "duplicate": 1}
    assert live(database, workspace_id, "info@acme.com") == [
        ("lead", "Charlie Evans", "+1 512 555 0101"),  # Charlotte's own lead, written by her row
        ("lead", "Natonman Mendoza", "+1 512 555 0199"),
        ("lead", "Priya Raman", None),
    ]
    report = problems(database, workspace_id, job)
    assert sorted(report) == [1, 4, 5]
    assert report[1] == (
        "created",
        f"kept apart from contact {charlotte} (Charlotte Evans): {ROLE_MAILBOX}",
    )
    assert report[4][0] == "duplicate" and "already written by this import" in (report[4][1] or "")
    assert report[5][0] == "created" and "(Natonman Mendoza)" in (report[5][1] or "")
    assert f"contact {charlotte} (Charlie Evans)" in (report[5][1] or "")

    # the scan holds what the import kept apart: nobody is applied through the role mailbox
    held_keys, clusters = held(database, workspace_id)
    assert held_keys == [("info@acme.com", ROLE_MAILBOX)]
    assert clusters == []


def test_rows_of_other_people_sharing_a_role_mailbox_in_one_file_are_not_duplicates(
    database: Database, tmp_path: Path
) -> None:
    workspace_id = new_workspace(database)
    rows = [
        ["", "sales@acme.com", "Charlotte Evans", ""],
        ["", "sales@acme.com", "Natonman Mendoza", ""],  # same chunk
        ["", "sales@acme.com", "Charlotte Evans", ""],  # next chunk: Charlotte again
        ["", "sales@acme.com", "", ""],  # no name: no evidence of a third person
    ]
    job = run(database, workspace_id, write_csv(tmp_path / "leads.csv", HEADER, rows), "lead", chunk_rows=2)
    assert job.counts == {"created": 2, "kept_apart": 1, "duplicate": 2}
    assert [n for _, n, _ in live(database, workspace_id, "sales@acme.com")] == [
        "Charlotte Evans",
        "Natonman Mendoza",
    ]
    report = problems(database, workspace_id, job)
    assert report[2] == ("created", f"kept apart from row 1 of this file: {ROLE_MAILBOX}")
    assert report[3][0] == "duplicate" and report[4][0] == "duplicate"


def test_duplicates_are_found_across_chunks_for_leads_and_users(database: Database, tmp_path: Path) -> None:
    workspace_id = new_workspace(database)
    leads = [["", f"p{i}@example.com", f"Person {i}", ""] for i in range(5)]
    leads[4][0] = "lead-4"
    leads.append(["", "P1@Example.com", "Person 1", ""])  # chunk 3 repeats row 2 (chunk 1)
    leads.append(["lead-4", "p4.other@example.com", "Person 4", ""])  # and row 5's external_id
    job = run(database, workspace_id, write_csv(tmp_path / "leads.csv", HEADER, leads), "lead", chunk_rows=2)
    assert job.counts == {"created": 5, "duplicate": 2}
    assert [a for a, _ in problems(database, workspace_id, job).values()] == ["duplicate", "duplicate"]
    assert live(database, workspace_id, "p4.other@example.com") == []

    users = [[f"u{i}", f"q{i}@example.com", f"Person {i}", ""] for i in range(4)]
    users += [["u0", "other@example.com", "Person 0", ""], ["", "q1@example.com", "Person 1", ""]]
    job = run(database, workspace_id, write_csv(tmp_path / "users.csv", HEADER, users), "user", chunk_rows=2)
    assert job.counts == {"created": 4, "duplicate": 2}
    assert [a for a, _ in problems(database, workspace_id, job).values()] == ["duplicate", "duplicate"]
    assert live(database, workspace_id, "other@example.com") == []


def test_a_user_absorbs_only_the_leads_the_link_rule_allows(database: Database, tmp_path: Path) -> None:
    workspace_id = new_workspace(database)
    carol, dan, bob = seed(
        database,
        workspace_id,
        {"role": "lead", "email": "info@acme.com", "name": "Carol Smith"},
        {"role": "lead", "email": "info@acme.com", "name": "Dan Jones"},
        {"role": "lead", "email": "bob.jones@example.com", "name": "Bob Jones"},
    )
    rows = [
        ["u1", "info@acme.com", "Caroline Smith", ""],  # Carol's full name
        ["u2", "bob.jones@example.com", "Robert Jones", ""],  # Bob's
    ]
    job = run(database, workspace_id, write_csv(tmp_path / "users.csv", HEADER, rows), "user")
    assert job.counts == {"created": 2, "merged": 2, "kept_apart": 1}
    assert live(database, workspace_id, "info@acme.com") == [
        ("user", "Caroline Smith", None),
        ("lead", "Dan Jones", None),
    ]
    assert live(database, workspace_id, "bob.jones@example.com") == [("user", "Robert Jones", None)]
    assert problems(database, workspace_id, job) == {
        1: ("created", f"kept apart from contact {dan} (Dan Jones): {ROLE_MAILBOX}")
    }
    with make_sessionmaker(database.engine)() as db:
        merged = {
            c.id: c.merged_into_id for c in db.scalars(select(Contact).where(Contact.id.in_([carol, bob])))
        }
    assert all(merged.values())
    held_keys, clusters = held(database, workspace_id)
    assert held_keys == [("info@acme.com", ROLE_MAILBOX)] and clusters == []


def test_a_user_row_through_a_role_mailbox_is_a_conflict_but_a_renamed_user_updates(
    database: Database, tmp_path: Path
) -> None:
    workspace_id = new_workspace(database)
    seed(
        database,
        workspace_id,
        {"role": "user", "email": "billing@acme.com", "name": "Carol Smith"},
        {"role": "user", "email": "ada@example.com", "name": "Ada Byron"},
    )
    rows = [
        ["", "billing@acme.com", "Natonman Mendoza", ""],
        ["", "ada@example.com", "Ada Lovelace", ""],  # married: the same user under a new name
        ["", "billing@acme.com", "C. Smith", ""],  # Carol herself
    ]
    job = run(database, workspace_id, write_csv(tmp_path / "users.csv", HEADER, rows), "user", chunk_rows=5)
    assert job.counts == {"conflict": 1, "updated": 2}
    assert live(database, workspace_id, "billing@acme.com") == [("user", "C. Smith", None)]
    assert live(database, workspace_id, "ada@example.com") == [("user", "Ada Lovelace", None)]
    action, reason = problems(database, workspace_id, job)[1]
    assert action == "conflict" and reason is not None
    assert reason.startswith("email billing@acme.com names contact ") and reason.endswith(
        f"(Carol Smith): {ROLE_MAILBOX}"
    )


def test_a_lead_row_whose_names_clearly_disagree_is_kept_apart_and_the_scan_holds_it(
    database: Database, tmp_path: Path
) -> None:
    """A corrupted copy carrying another person's address is not merged by the import nor by the scan."""
    workspace_id = new_workspace(database)
    [ada] = seed(database, workspace_id, {"role": "lead", "email": "ada@example.com", "name": "Ada Lovelace"})
    rows = [
        ["", "ada@example.com", "Grace Hopper", ""],
        ["", "liz@example.com", "Liz Taylor", ""],
        ["", "liz@example.com", "Elizabeth Taylor", ""],  # the same person: a duplicate row
    ]
    job = run(database, workspace_id, write_csv(tmp_path / "leads.csv", HEADER, rows), "lead")
    assert job.counts == {"created": 2, "kept_apart": 1, "duplicate": 1}
    assert problems(database, workspace_id, job)[1] == (
        "created",
        f"kept apart from contact {ada} (Ada Lovelace): {NAMES_DISAGREE}",
    )
    held_keys, clusters = held(database, workspace_id)
    assert held_keys == [("ada@example.com", NAMES_DISAGREE)] and clusters == []


def test_nickname_rows_still_update_their_lead(database: Database, tmp_path: Path) -> None:
    workspace_id = new_workspace(database)
    seed(
        database,
        workspace_id,
        {"role": "lead", "email": "info@smith.com", "name": "Bill Smith"},
        {"role": "lead", "email": "kate@example.com", "name": "Katherine Moore"},
    )
    rows = [
        ["", "info@smith.com", "William Smith", "+1 512 555 0100"],
        ["", "kate@example.com", "Kate Moore", "+1 512 555 0101"],
    ]
    job = run(database, workspace_id, write_csv(tmp_path / "leads.csv", HEADER, rows), "lead")
    assert job.counts == {"updated": 2}
    assert live(database, workspace_id, "info@smith.com") == [("lead", "William Smith", "+1 512 555 0100")]
    assert live(database, workspace_id, "kate@example.com") == [("lead", "Kate Moore", "+1 512 555 0101")]


def test_undo_removes_the_leads_kept_apart_and_leaves_the_other_person(
    database: Database, tmp_path: Path
) -> None:
    workspace_id = new_workspace(database)
    seed(database, workspace_id, {"role": "lead", "email": "info@acme.com", "name": "Charlotte Evans"})
    job = run(
        database,
        workspace_id,
        write_csv(tmp_path / "leads.csv", HEADER, [["", "info@acme.com", "Natonman Mendoza", ""]]),
        "lead",
    )
    with transaction(make_sessionmaker(database.engine)) as db:
        undone = outcomes.undo_import(db, db.get_one(Workspace, workspace_id), job.id, actor="test")
    assert undone.undo_report is not None and undone.undo_report["contacts_removed"] == 1
    assert live(database, workspace_id, "info@acme.com") == [("lead", "Charlotte Evans", None)]


def test_a_row_kept_apart_from_many_names_five_and_counts_the_rest(
    database: Database, tmp_path: Path
) -> None:
    workspace_id = new_workspace(database)
    names = ["Ada Byron", "Grace Hopper", "Alan Turing", "Edsger Dijkstra", "Barbara Liskov", "Donald Knuth"]
    seed(database, workspace_id, *({"role": "lead", "email": "team@acme.com", "name": n} for n in names))
    rows = [["", "team@acme.com", "Natonman Mendoza", ""]]
    job = run(database, workspace_id, write_csv(tmp_path / "leads.csv", HEADER, rows), "lead")
    assert job.counts == {"created": 1, "kept_apart": 1}
    _, reason = problems(database, workspace_id, job)[1]
    assert reason is not None and reason.count(ROLE_MAILBOX) == 5 and reason.endswith("; and 1 more")
