"""The exact duplicate scan with the workspace's opt-in provider email rules (R5, issue 6), both backends."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from sqlalchemy import select

from contactmerge.domain.identifiers import provider_email
from contactmerge.services import contacts, workspaces
from contactmerge.services.duplicates import scan
from contactmerge.storage.db import make_sessionmaker, transaction
from contactmerge.storage.dedupe import provider_email_sql
from contactmerge.storage.tables import Contact, Workspace
from tests.conftest import Database, WorkspaceKeys
from tests.helpers import run_cli as run


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("John.Doe+news@Gmail.com", "johndoe@gmail.com"),
        ("j.o.h.n.doe@googlemail.com", "johndoe@gmail.com"),
        ("jane.roe+shop@outlook.com", "jane.roe@outlook.com"),  # plus tags only: the dot stays
        ("jane+a+b@icloud.com", "jane@icloud.com"),
        ("jane+tag@proton.me", "jane@proton.me"),
        ("jane.roe+news@example.com", "jane.roe+news@example.com"),  # unknown providers: as given
        ("jane-news@yahoo.com", "jane-news@yahoo.com"),
    ],
)
def test_provider_rules(given: str, expected: str) -> None:
    assert provider_email(given) == expected


LOCALS = ["John.Doe", "john.doe+news", "j.o.h.n+a+b", "plain", "a.b.c", "ünï.cödé+x", "o'neil+1"]
DOMAINS = ["gmail.com", "GoogleMail.com", "outlook.com", "icloud.com", "example.com", "bücher.example"]


def test_the_scan_reads_emails_in_sql_exactly_as_the_domain_rule_does(database: Database) -> None:
    """The SQL expression is built from the same rule table; both must give the same key for any email."""
    with transaction(make_sessionmaker(database.engine)) as db:
        workspace = workspaces.create_workspace(db, "provider rules").workspace
        for local, domain in itertools.product(LOCALS, DOMAINS):
            contacts.create_contact(
                db, workspace, {"role": "lead", "email": f"{local}@{domain}"}, region="US"
            )
        rows = db.execute(
            select(Contact.email_normalized, provider_email_sql(database.engine.dialect.name)).where(
                Contact.workspace_id == workspace.id
            )
        ).all()
    assert len(rows) == len(LOCALS) * len(DOMAINS)
    assert [key for _, key in rows] == [provider_email(email) for email, _ in rows]
    assert {key for _, key in rows} >= {
        "johndoe@gmail.com",
        "john.doe@outlook.com",
        "john.doe+news@example.com",
    }


PEOPLE = {
    "gmail_tagged": {"role": "lead", "email": "John.Doe+news@Gmail.com", "name": "John Doe"},
    "gmail_plain": {"role": "user", "email": "johndoe@googlemail.com", "name": "John Doe"},
    "outlook_tagged": {"role": "lead", "email": "jane+shop@outlook.com", "name": "Jane"},
    "outlook_plain": {"role": "lead", "email": "jane@outlook.com", "name": "Jane"},
    "other_tagged": {"role": "lead", "email": "bob+1@example.com", "name": "Bob"},
    "other_plain": {"role": "lead", "email": "bob@example.com", "name": "Bob"},
}


def seed(database: Database) -> tuple[str, dict[str, str]]:
    with transaction(make_sessionmaker(database.engine)) as db:
        workspace = workspaces.create_workspace(db, "providers").workspace
        ids = {k: contacts.create_contact(db, workspace, f, region="US").id for k, f in PEOPLE.items()}
        return workspace.id, ids


def clusters(database: Database, workspace_id: str) -> dict[tuple[str, ...], list[str]]:
    with make_sessionmaker(database.engine)() as db:
        plan = scan.scan(db, db.get_one(Workspace, workspace_id))
    return {p.cluster.members: [f"{k.kind}:{k.value}" for k in p.cluster.keys] for p in plan.clusters}


def test_provider_rules_are_off_by_default_and_cluster_tagged_addresses_when_on(database: Database) -> None:
    workspace_id, ids = seed(database)
    other_id, _ = seed(database)  # the same people in another workspace that keeps the default
    assert clusters(database, workspace_id) == {}  # off: only trimmed, lower-cased emails are compared
    with transaction(make_sessionmaker(database.engine)) as db:
        workspaces.update_settings(db, db.get_one(Workspace, workspace_id), dedupe_provider_rules=True)
    found = clusters(database, workspace_id)
    assert found == {
        tuple(sorted((ids["gmail_tagged"], ids["gmail_plain"]))): ["email:johndoe@gmail.com"],
        tuple(sorted((ids["outlook_tagged"], ids["outlook_plain"]))): ["email:jane@outlook.com"],
    }  # bob+1@example.com: example.com may deliver "+1" elsewhere, so it stays apart
    assert clusters(database, other_id) == {}
    with transaction(make_sessionmaker(database.engine)) as db:
        workspaces.update_settings(db, db.get_one(Workspace, workspace_id), dedupe_provider_rules=False)
    assert clusters(database, workspace_id) == {}


def test_provider_rules_keep_role_mailboxes_held(database: Database) -> None:
    with transaction(make_sessionmaker(database.engine)) as db:
        workspace = workspaces.create_workspace(db, "role").workspace
        workspaces.update_settings(db, workspace, dedupe_provider_rules=True)
        for email, name in (("info+a@gmail.com", "Carol"), ("i.n.f.o@gmail.com", "Dan")):
            contacts.create_contact(
                db, workspace, {"role": "lead", "email": email, "name": name}, region="US"
            )
        plan = scan.scan(db, workspace)
    assert plan.clusters == ()
    assert [(h.key.value, h.reason) for h in plan.held] == [
        ("info@gmail.com", "a role mailbox shared by people whose names disagree")
    ]


def test_cli_turns_provider_rules_on_and_the_scan_follows(
    database: Database, workspace: WorkspaceKeys, tmp_path: Path
) -> None:
    ws = ["--workspace", workspace.app_id]
    plan = tmp_path / "plan.json"
    with transaction(make_sessionmaker(database.engine)) as db:
        chosen = db.get_one(Workspace, workspace.app_id)
        for fields in PEOPLE.values():
            contacts.create_contact(db, chosen, fields, region="US")
    assert run(database.url, "dedupe", "scan", "--json", str(plan), *ws).returncode == 0
    assert '"clusters": 0' in plan.read_text()
    changed = run(database.url, "workspace", "set", "--dedupe-provider-rules", *ws)
    assert changed.returncode == 0, changed.stderr
    assert "dedupe provider rules on" in changed.stdout
    preview = run(database.url, "dedupe", "scan", "--json", str(plan), *ws)
    assert preview.returncode == 0, preview.stderr
    assert '"value": "johndoe@gmail.com"' in plan.read_text() and '"clusters": 2' in plan.read_text()
