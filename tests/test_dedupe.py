"""Bulk duplicate detection by exact keys (R5): the rules, the scan on both backends, apply and batch undo."""

from __future__ import annotations

import random
import re
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from contactmerge.domain.dedupe import Member, SharedKey, cluster, needs_approval
from contactmerge.services import contacts, merging, workspaces
from contactmerge.services.duplicates import batches, review, scan
from contactmerge.storage import batches as batches_repo
from contactmerge.storage.db import make_sessionmaker, transaction
from contactmerge.storage.tables import Workspace
from tests.conftest import Database
from tests.helpers import run_cli as run
from tests.test_merge_properties import snapshot


def member(cid: str, name: str | None = None, role: str = "lead") -> Member:
    return Member(cid, role, name, created_at=1, last_seen_at=None, verified=True)


PEOPLE = {c: member(c, n) for c, n in [("a", "Ada"), ("b", "ADA "), ("c", "Ada"), ("d", "Bob"), ("e", "Eve")]}


def test_shared_keys_link_transitively() -> None:
    scan = cluster(
        [SharedKey("email", "ada@x.com", ("a", "b")), SharedKey("phone", "+1555", ("b", "c"))], PEOPLE
    )
    assert [c.members for c in scan.clusters] == [("a", "b", "c")]
    assert [k.kind for k in scan.clusters[0].keys] == ["email", "phone"]


def test_junk_role_mailboxes_and_switchboards_do_not_link() -> None:
    scan = cluster(
        [
            SharedKey("external_id", "undefined", ("a", "d")),
            SharedKey("email", "info@acme.com", ("a", "d")),
            SharedKey("phone", "+1555", ("d", "e")),
            SharedKey("email", "info@other.com", ("a", "c")),  # same name: a role mailbox of one person
        ],
        PEOPLE,
    )
    assert [c.members for c in scan.clusters] == [("a", "c")]
    assert [(h.key.kind, h.key.value) for h in scan.held] == [
        ("email", "info@acme.com"),
        ("external_id", "undefined"),
        ("phone", "+1555"),
    ]


def test_two_users_need_approval() -> None:
    assert needs_approval([member("a", role="user"), member("b", role="user")])
    assert needs_approval([member("a", role="user"), member("b")]) is None


keys = st.lists(
    st.builds(
        SharedKey,
        st.sampled_from(["email", "phone", "external_id"]),
        st.sampled_from(["k1", "k2", "k3"]),
        st.lists(st.sampled_from(list(PEOPLE)), min_size=2, max_size=3, unique=True).map(tuple),
    ),
    max_size=6,
)


@given(keys=keys, seed=st.integers(0, 1000))
def test_clusters_do_not_depend_on_input_order(keys: list[SharedKey], seed: int) -> None:
    shuffled = list(keys)
    random.Random(seed).shuffle(shuffled)
    first, second = cluster(keys, PEOPLE), cluster(shuffled, PEOPLE)
    assert [(c.id, c.members) for c in first.clusters] == [(c.id, c.members) for c in second.clusters]


def seed_workspace(database: Database) -> str:
    with transaction(make_sessionmaker(database.engine)) as db:
        workspace = workspaces.create_workspace(db, "dedupe").workspace
        made: dict[str, str] = {}
        for key, fields in {
            "user": {"role": "user", "external_id": "u1", "email": "ada@example.com", "name": "Ada"},
            "lead1": {"role": "lead", "email": "ADA@example.com", "name": "Ada"},
            "lead2": {"role": "lead", "phone": "+1 512 555 0100", "email": "ada.l@example.com"},
            "lead3": {"role": "lead", "phone": "+15125550100", "email": "ada@example.com"},
            "switch1": {"role": "lead", "email": "info@acme.com", "name": "Carol"},
            "switch2": {"role": "lead", "email": "info@acme.com", "name": "Dan"},
            "u2": {"role": "user", "external_id": "u2", "phone": "+15125550199", "name": "Zed"},
            "u3": {"role": "user", "external_id": "u3", "phone": "+15125550199", "name": "Zed"},
        }.items():
            made[key] = contacts.create_contact(db, workspace, fields, region="US").id
        return workspace.id


def test_scan_apply_and_batch_undo_restore_the_workspace(database: Database) -> None:
    workspace_id = seed_workspace(database)
    sessions = make_sessionmaker(database.engine)
    with sessions() as db:
        before = snapshot(db, workspace_id)
        plan = scan.scan(db, db.get_one(Workspace, workspace_id))
    summary = plan.summary()
    assert summary["clusters"] == 2 and summary["shared_keys_held_for_review"] == 1
    assert summary["merges_planned"] == 3 and summary["clusters_needing_approval"] == 1
    with transaction(sessions) as db:
        done = batches.apply_now(db, db.get_one(Workspace, workspace_id), actor="test")
    batch_id = done.id
    assert done.counts["merged"] == 3
    with sessions() as db:
        assert snapshot(db, workspace_id) != before
        again = scan.scan(db, db.get_one(Workspace, workspace_id))
        assert again.summary()["merges_planned"] == 0
    with transaction(sessions) as db:
        report = merging.undo_batch(db, db.get_one(Workspace, workspace_id), batch_id, actor="test")
    assert report["merges_undone"] == 3 and report["conflicts"] == []
    with sessions() as db:
        assert snapshot(db, workspace_id) == before


def test_review_queue_holds_the_scan_clusters_verdicts_and_held_keys(database: Database) -> None:
    workspace_id = seed_workspace(database)
    sessions = make_sessionmaker(database.engine)
    with transaction(sessions) as db:
        workspace = db.get_one(Workspace, workspace_id)
        first = review.queue(db, workspace).clusters[0]
        review.decide(db, workspace, first.planned.cluster.id, "rejected", actor="test")
    with sessions() as db:
        workspace = db.get_one(Workspace, workspace_id)
        found = review.queue(db, workspace)
        assert [r.planned.cluster.id for r in found.clusters] == [
            r.planned.cluster.id for r in review.review(db, workspace)
        ]
        assert [r.decision for r in found.clusters] == ["rejected", None]
        assert [(h.key.kind, h.key.value) for h in found.held] == [("email", "info@acme.com")]
        assert "role mailbox" in found.held[0].reason
        members = found.clusters[0].planned.cluster.members
        other = workspaces.create_workspace(db, "other").workspace
        assert sorted(contacts.by_ids(db, workspace, [*members, "nope"])) == sorted(members)
        assert contacts.by_ids(db, other, members) == {}  # no contact crosses workspaces


def test_cli_dedupe_preview_apply_and_undo(isolated_database: Database, tmp_path: Path) -> None:
    database = isolated_database
    workspace_id = seed_workspace(database)
    ws = ["--workspace", workspace_id]
    preview = run(
        database.url,
        "dedupe",
        "scan",
        "--json",
        str(tmp_path / "plan.json"),
        "--csv",
        str(tmp_path / "p.csv"),
        *ws,
    )
    assert preview.returncode == 0, preview.stderr
    assert "nothing was changed" in preview.stdout and "info@acme.com" in preview.stdout
    assert '"merges_planned": 3' in (tmp_path / "plan.json").read_text()
    applied = run(database.url, "dedupe", "apply", *ws)
    batch = re.search(r"contactmerge dedupe undo (\w+)", applied.stdout)
    assert applied.returncode == 0 and batch, applied.stdout + applied.stderr
    assert "merged 3 contacts in batch" in applied.stdout  # the two users wait for an approval
    undone = run(database.url, "dedupe", "undo", batch.group(1), *ws)
    assert undone.returncode == 0 and f"batch {batch.group(1)} undone: 3 merges" in undone.stdout
    again = run(database.url, "dedupe", "undo", batch.group(1), *ws)
    assert again.returncode == 1 and "only a finished batch can be undone" in again.stderr
    bad = run(database.url, "dedupe", "scan", "--keys", "email,shoe_size", *ws)
    assert bad.returncode == 1 and "keys are a comma-separated choice" in bad.stderr
    assert run(database.url, "dedupe", "apply", "--keys", "shoe", *ws).returncode == 1


def test_cli_apply_never_merges_a_cluster_just_rejected(isolated_database: Database) -> None:
    """Issue 12: `dedupe reject ID` then `dedupe apply` merged the cluster just rejected."""
    database = isolated_database
    workspace_id = seed_workspace(database)
    ws = ["--workspace", workspace_id]
    sessions = make_sessionmaker(database.engine)
    with sessions() as db:
        [ada] = [
            r for r in review.review(db, db.get_one(Workspace, workspace_id)) if r.planned.blocked is None
        ]
        before = snapshot(db, workspace_id)
    ada_id = ada.planned.cluster.id
    rejected = run(database.url, "dedupe", "reject", ada_id, *ws)
    assert rejected.returncode == 0 and f"rejected cluster {ada_id}" in rejected.stdout, rejected.stderr
    listed = run(database.url, "dedupe", "scan", *ws)
    assert "clusters rejected (never applied) │ 1" in listed.stdout, listed.stdout
    applied = run(database.url, "dedupe", "apply", *ws)
    assert applied.returncode == 0 and "merged 0 contacts" in applied.stdout, applied.stdout + applied.stderr
    named = run(database.url, "dedupe", "apply", "--cluster", ada_id, *ws)
    assert named.returncode == 0 and "merged 0 contacts" in named.stdout, named.stdout + named.stderr
    with sessions() as db:
        assert snapshot(db, workspace_id) == before  # nobody was merged

    for wrong, message in (("nobody", "no duplicate cluster 'nobody'"), ("a:a", "is not a suggestion id")):
        refused = run(database.url, "dedupe", "reject", ada_id, wrong, *ws)
        assert refused.returncode == 1 and message in refused.stderr, refused.stderr
        assert len(refused.stderr.strip().splitlines()) == 1
    unknown = run(database.url, "dedupe", "apply", "--cluster", "nobody", *ws)
    assert unknown.returncode == 1 and "no duplicate cluster nobody" in unknown.stderr
    with sessions() as db:
        decided = review.review(db, db.get_one(Workspace, workspace_id))
    undecided = [r.planned.cluster.id for r in decided if r.decision is None]
    mixed = run(database.url, "dedupe", "apply", *(f"--cluster={c}" for c in [*undecided, "nobody"]), *ws)
    assert mixed.returncode == 1 and "no duplicate cluster nobody" in mixed.stderr  # the others not merged
    with sessions() as db:
        assert snapshot(db, workspace_id) == before


def test_cli_output_files_that_cannot_be_written_are_refused_before_any_work(
    isolated_database: Database, tmp_path: Path
) -> None:
    database = isolated_database
    workspace_id = seed_workspace(database)
    ws = ["--workspace", workspace_id]
    missing = tmp_path / "no such folder" / "plan.json"
    for args, message in (
        (["scan", "--json", str(missing)], f"--json: the folder {missing.parent} does not exist"),
        (["scan", "--csv", str(tmp_path)], f"--csv: {tmp_path} is a folder; name a file"),
        (["suggest", "--rescan", "--json", str(missing)], "--json: the folder"),
    ):
        refused = run(database.url, "dedupe", *args, *ws)
        assert refused.returncode == 1 and message in refused.stderr, refused.stderr
        assert len(refused.stderr.strip().splitlines()) == 1
    with make_sessionmaker(database.engine)() as db:  # the refused --rescan started no scan
        assert batches_repo.count(db, workspace_id, "suggest") == 0
    written = run(database.url, "dedupe", "scan", "--json", str(tmp_path / "plan.json"), *ws)
    assert written.returncode == 0 and '"clusters"' in (tmp_path / "plan.json").read_text()
