"""Exact-key duplicate clusters (domain.dedupe, R5): what the scan merges as one batch.

Contacts sharing an email, external_id or phone form clusters, transitively; a key the link rule holds
(role mailbox, switchboard, placeholder, blocklist) ties nobody and is reported for review; each cluster
keeps one survivor (design §3 order). Every result is compared whole.
"""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from contactmerge.domain.dedupe import (
    Cluster,
    HeldKey,
    Member,
    Scan,
    SharedKey,
    cluster,
    hold_reasons,
    survivor,
)
from contactmerge.domain.linking import JUNK, NAMES_DISAGREE, ROLE_MAILBOX, SWITCHBOARD


def member(
    cid: str,
    name: str | None = "Ada Lovelace",
    *,
    role: str = "lead",
    created_at: int = 100,
    last_seen_at: int | None = None,
    verified: bool = False,
) -> Member:
    return Member(cid, role, name, created_at, last_seen_at, verified)


def everyone(*ids: str) -> dict[str, Member]:
    return {cid: member(cid) for cid in ids}


# --- clusters -----------------------------------------------------------------------------------------


def test_contacts_sharing_keys_form_clusters_transitively() -> None:
    keys = [
        SharedKey("phone", "+15125550100", ("b", "c")),
        SharedKey("external_id", "u7", ("e", "d")),
        SharedKey("email", "ada@example.com", ("a", "b")),
        SharedKey("email", "ada@work.example", ("c", "a")),
    ]
    found = cluster(keys, everyone("a", "b", "c", "d", "e", "f"))
    assert found == Scan(
        (
            Cluster("a", ("a", "b", "c"), [keys[2], keys[3], keys[0]]),
            Cluster("d", ("d", "e"), [keys[1]]),
        ),
        (),
    )


def test_a_chain_of_keys_is_one_cluster_named_by_its_smallest_id() -> None:
    ids = "fedcba"
    # each key brings a smaller id than the cluster so far: the smaller one becomes the root every time
    down = [SharedKey("external_id", f"u{i}", (ids[i], ids[i + 1])) for i in range(5)]
    # each key brings a larger id: it joins under the root, and the chain grows from the other end
    up = [SharedKey("external_id", f"u{i}", (ids[i + 1], ids[i])) for i in range(5)]
    for keys in (down, up, down[::-1], up[::-1]):
        found = cluster(keys, everyone(*ids))
        in_order = sorted(keys, key=lambda k: k.value)
        assert found == Scan((Cluster("a", ("a", "b", "c", "d", "e", "f"), in_order),), ())


def test_two_clusters_joined_by_a_later_key_become_one() -> None:
    keys = [
        SharedKey("email", "x@example.com", ("c", "d")),
        SharedKey("email", "y@example.com", ("e", "f")),
        SharedKey("email", "z@example.com", ("a", "b")),
        SharedKey("phone", "+15125550100", ("f", "d")),  # joins the first two: roots c and e
        SharedKey("phone", "+15125550199", ("b", "e")),  # then joins a's cluster to theirs
    ]
    found = cluster(keys, everyone(*"abcdef"))
    assert [(c.id, c.members) for c in found.clusters] == [("a", ("a", "b", "c", "d", "e", "f"))]
    assert found.clusters[0].keys == [keys[0], keys[1], keys[2], keys[3], keys[4]]


def test_a_key_shared_by_many_contacts_ties_them_all() -> None:
    keys = [SharedKey("email", "team@example.com", ("d", "b", "e", "a", "c"))]
    found = cluster(keys, everyone(*"abcde"))
    assert found.clusters == (Cluster("a", ("a", "b", "c", "d", "e"), keys),)


def test_the_keys_of_a_cluster_are_sorted_by_kind_then_value() -> None:
    keys = [
        SharedKey("phone", "+15125550100", ("a", "b")),
        SharedKey("email", "zed@example.com", ("a", "b")),
        SharedKey("external_id", "a1", ("a", "b")),
        SharedKey("email", "ada@example.com", ("a", "b")),
    ]
    found = cluster(keys, everyone("a", "b"))
    assert found.clusters[0].keys == [keys[3], keys[1], keys[2], keys[0]]


def test_no_shared_key_no_cluster() -> None:
    assert cluster([], everyone("a", "b")) == Scan((), ())


IDS = st.sampled_from("abcdefgh")
KEYS = st.lists(
    st.tuples(
        st.sampled_from(["email", "external_id", "phone"]), st.lists(IDS, min_size=2, max_size=4, unique=True)
    ),
    max_size=10,
).map(lambda found: [SharedKey(kind, f"v{i}", tuple(ids)) for i, (kind, ids) in enumerate(found)])


def components(keys: list[SharedKey]) -> list[tuple[str, ...]]:
    """The connected contacts, the slow and obvious way."""
    groups: list[set[str]] = []
    for key in keys:
        touching = [g for g in groups if g & set(key.contact_ids)]
        joined = set(key.contact_ids).union(*touching)
        groups = [g for g in groups if not g & set(key.contact_ids)] + [joined]
    return sorted(tuple(sorted(g)) for g in groups)


@given(KEYS, st.randoms(use_true_random=False))
def test_clusters_are_the_connected_contacts_whatever_the_order_of_keys(
    keys: list[SharedKey], rng: random.Random
) -> None:
    found = cluster(keys, everyone(*"abcdefgh"))
    assert [c.members for c in found.clusters] == components(keys)
    assert [c.id for c in found.clusters] == [c.members[0] for c in found.clusters]
    for c in found.clusters:
        assert c.keys == sorted(
            (k for k in keys if k.contact_ids[0] in c.members), key=lambda k: (k.kind, k.value)
        )
    assert found.held == ()
    shuffled = [
        SharedKey(k.kind, k.value, tuple(rng.sample(k.contact_ids, len(k.contact_ids)))) for k in keys
    ]
    rng.shuffle(shuffled)
    again = cluster(shuffled, everyone(*"abcdefgh"))
    assert [(c.id, c.members, [k.value for k in c.keys]) for c in again.clusters] == [
        (c.id, c.members, [k.value for k in c.keys]) for c in found.clusters
    ]


# --- held keys ----------------------------------------------------------------------------------------


def test_held_keys_never_link_and_are_reported_sorted() -> None:
    people = {
        "a": member("a", "Carol Evans"),
        "b": member("b", "Dan Miller"),
        "c": member("c", "Carol Evans"),
        "d": member("d", "Ada Lovelace"),
        "e": member("e", "Grace Hopper"),
    }
    keys = [
        SharedKey("phone", "+15125550100", ("a", "b")),  # a switchboard
        SharedKey("email", "sales@acme.com", ("a", "b")),  # a role mailbox
        SharedKey("email", "ada@example.com", ("d", "e")),  # a personal address, names disagree
        SharedKey("external_id", "null", ("c", "d")),  # a placeholder
        SharedKey("email", "test@acme.com", ("c", "e")),  # the workspace's blocklist
        SharedKey("phone", "0", ("a", "c")),  # a placeholder
        SharedKey("email", "carol@acme.com", ("a", "c")),  # links
    ]
    found = cluster(keys, people, blocklist=[" TEST@acme.com"])
    assert found == Scan(
        (Cluster("a", ("a", "c"), [keys[6]]),),
        (
            HeldKey(keys[2], NAMES_DISAGREE),
            HeldKey(keys[1], ROLE_MAILBOX),
            HeldKey(keys[4], JUNK),
            HeldKey(keys[3], JUNK),
            HeldKey(keys[0], SWITCHBOARD),  # "+" sorts before "0"
            HeldKey(keys[5], JUNK),
        ),
    )
    assert cluster(keys[::-1], people, blocklist=["test@acme.com"]) == found


def test_without_the_blocklist_its_value_links() -> None:
    keys = [SharedKey("email", "test@acme.com", ("c", "a"))]
    assert cluster(keys, everyone("a", "c")) == Scan((Cluster("a", ("a", "c"), keys),), ())
    assert hold_reasons(everyone("a", "c"), ["test@acme.com"])(keys[0]) == JUNK


def test_only_the_contacts_the_scan_loaded_are_asked_about() -> None:
    people = {"a": member("a", "Carol Evans"), "b": member("b", "Dan Miller")}
    reason = hold_reasons(people, ())
    assert reason(SharedKey("email", "info@acme.com", ("a", "gone"))) is None
    assert reason(SharedKey("email", "info@acme.com", ("gone", "a", "b"))) == ROLE_MAILBOX
    assert reason(SharedKey("email", "info@acme.com", ("a", "b"))) == ROLE_MAILBOX


# --- survivor -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("members", "kept"),
    [
        # the user, whatever the others have
        (
            [
                member("a", role="user", created_at=900),
                member("b", verified=True, last_seen_at=999, created_at=1),
            ],
            "a",
        ),
        # else verified identifiers, before being seen more recently or being older
        ([member("a", last_seen_at=999, created_at=1), member("b", verified=True, last_seen_at=5)], "b"),
        # else the most recently seen, before the oldest
        ([member("a", last_seen_at=20, created_at=1), member("b", last_seen_at=21, created_at=500)], "b"),
        # a contact never seen is seen less recently than any that was
        ([member("a", last_seen_at=None, created_at=1), member("b", last_seen_at=1, created_at=500)], "b"),
        ([member("a", last_seen_at=None, created_at=1), member("b", last_seen_at=0, created_at=500)], "a"),
        # else the oldest
        ([member("a", created_at=300), member("b", created_at=200), member("c", created_at=250)], "b"),
        # else the largest id, so that the choice never depends on the order
        ([member("a"), member("c"), member("b")], "c"),
    ],
)
def test_the_survivor_order(members: list[Member], kept: str) -> None:
    assert survivor(members).id == kept
    assert survivor(members[::-1]).id == kept


MEMBERS = st.lists(
    st.builds(
        Member,
        id=IDS,
        role=st.sampled_from(["lead", "user"]),
        name=st.just("Ada"),
        created_at=st.integers(0, 5),
        last_seen_at=st.one_of(st.none(), st.integers(0, 5)),
        verified=st.booleans(),
    ),
    min_size=1,
    max_size=6,
    unique_by=lambda m: m.id,
)


@given(MEMBERS, st.randoms(use_true_random=False))
def test_the_survivor_does_not_depend_on_the_order_of_members(
    members: list[Member], rng: random.Random
) -> None:
    kept = survivor(members)
    assert kept in members
    shuffled = list(members)
    rng.shuffle(shuffled)
    assert survivor(shuffled) == kept
    if any(m.role == "user" for m in members):
        assert kept.role == "user"
