"""The link rule (domain.linking): which shared identifiers may tie records, for the import and the scan.

Each verdict is compared whole (None or the reason a person reviewing the hold reads).
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from contactmerge.domain.dedupe import Member, SharedKey, cluster, hold_reasons
from contactmerge.domain.linking import (
    JUNK,
    NAMES_DISAGREE,
    ROLE_MAILBOX,
    SWITCHBOARD,
    Record,
    is_role_mailbox,
    link_refusal,
    link_rule,
    needs_approval,
)


def lead(name: str | None) -> Record:
    return Record("lead", name)


def user(name: str | None) -> Record:
    return Record("user", name)


@pytest.mark.parametrize(
    ("kind", "value", "names", "verdict"),
    [
        # the import: a lead named Charlotte was overwritten with "Natonman Mendoza"
        ("email", "info@acme.com", ["Charlotte Evans", "Natonman Mendoza"], ROLE_MAILBOX),
        ("email", "info@acme.com", ["Charlotte Evans", "Charlie Evans"], None),  # a nickname
        ("email", "info@acme.com", ["J. Evans", "Jane Evans"], None),  # an initial
        ("email", "sales@acme.com", ["Jane Evans", "John Evans"], ROLE_MAILBOX),  # colleagues, a family
        ("email", "sales+eu@acme.com", ["Jane Evans", "John Evans"], ROLE_MAILBOX),
        ("email", "info@acme.com", ["Carol", None], None),  # no name: no evidence of a second person
        ("email", "info@acme.com", ["Carol", "N/A"], None),
        ("email", "info@acme.com", [None, None], None),
        ("email", "info@acme.com", ["Carol", "Carol", "Dan"], ROLE_MAILBOX),  # one pair is enough
        ("email", "info@acme.com", ["Carol"], None),
        # a personal address: held only when the names clearly disagree
        ("email", "ada@example.com", ["Ada Lovelace", "Grace Hopper"], NAMES_DISAGREE),
        ("email", "ada@example.com", ["Ada Lovelace", "Ada Byron"], None),  # a married name
        ("email", "ada@example.com", ["Ada Lovelace", "Augusta Lovelace"], None),  # similar
        ("email", "ada@example.com", ["Ada Lovelace", "LOVELACE, ada"], None),
        ("email", "ada@example.com", ["Ada Lovelace", None], None),
        ("email", "information@example.com", ["Ada Lovelace", "Augusta Lovelace"], None),  # not a role
        # phones: a switchboard or a family's landline links only compatible names
        ("phone", "+15125550100", ["Carol", "Dan"], SWITCHBOARD),
        ("phone", "+15125550100", ["Jane Evans", "John Evans"], SWITCHBOARD),
        ("phone", "+15125550100", ["Bob Evans", "Robert Evans"], None),
        ("phone", "+15125550100", ["Jonh Evans", "John Evans"], None),  # a typo
        ("phone", "+15125550100", ["Carol", ""], None),
        # external_id is the workspace's own user id: names never hold it
        ("external_id", "u1", ["Carol", "Dan"], None),
        # placeholders identify nobody, whatever the names
        ("external_id", "undefined", ["Carol", "Carol"], JUNK),
        ("email", " NULL ", ["Carol", "Carol"], JUNK),
        ("phone", "0", ["Carol", "Carol"], JUNK),
    ],
)
def test_the_link_rule(kind: str, value: str, names: list[str | None], verdict: str | None) -> None:
    people = [lead(n) for n in names]
    assert link_refusal(kind, value, people) == verdict
    assert link_refusal(kind, value, people[::-1]) == verdict
    assert link_rule()(kind, value, people) == verdict


def test_the_workspace_blocklist_is_junk_in_any_case() -> None:
    people = [lead("Carol"), lead("Carol")]
    assert link_refusal("email", "test@acme.com", people, blocklist=[" TEST@acme.com"]) == JUNK
    assert link_rule(["test@acme.com"])("email", "Test@Acme.com", people) == JUNK
    assert link_refusal("email", "carol@acme.com", people, blocklist=["test@acme.com"]) is None


@pytest.mark.parametrize(
    ("email", "role"),
    [
        ("info@acme.com", True),
        ("no-reply@acme.com", True),
        ("support+tickets@acme.com", True),
        ("info", True),
        ("information@acme.com", False),
        ("ada@info.com", False),
        ("ada+info@acme.com", False),
    ],
)
def test_role_mailboxes(email: str, role: bool) -> None:
    assert is_role_mailbox(email) is role


def test_two_users_need_explicit_approval() -> None:
    assert needs_approval([user("Ada"), user("Ada")]) == "2 users: merged only on explicit, forced approval"
    assert needs_approval([user("Ada"), lead("Ada"), user("Ada"), user(None)]) == (
        "3 users: merged only on explicit, forced approval"
    )
    assert needs_approval([user("Ada"), lead("Ada")]) is None
    assert needs_approval([lead("Ada"), lead("Ada")]) is None


def member(cid: str, name: str | None) -> Member:
    return Member(cid, "lead", name, created_at=1, last_seen_at=None, verified=True)


def test_the_scan_asks_the_same_rule() -> None:
    people = {
        "a": member("a", "Charlotte Evans"),
        "b": member("b", "Natonman Mendoza"),
        "c": member("c", "Charlie Evans"),
        "d": member("d", "Robert Evans"),
        "e": member("e", "Bob Evans"),
    }
    keys = [
        SharedKey("email", "info@acme.com", ("a", "b")),
        SharedKey("email", "info@acme.com", ("a", "c")),
        SharedKey("phone", "+15125550100", ("d", "e")),
        SharedKey("email", "evans@example.com", ("b", "d")),
        SharedKey("email", "nobody@example.com", ("a", "gone")),  # a member the scan did not load
    ]
    reason = hold_reasons(people, ())
    assert [reason(k) for k in keys] == [ROLE_MAILBOX, None, None, NAMES_DISAGREE, None]
    found = cluster(keys, people)
    assert [c.members for c in found.clusters] == [("a", "c", "gone"), ("d", "e")]
    assert [(h.key.contact_ids, h.reason) for h in found.held] == [
        (("b", "d"), NAMES_DISAGREE),
        (("a", "b"), ROLE_MAILBOX),
    ]


NAMES = st.sampled_from(
    [None, "", "N/A", "Carol", "Carol Evans", "carol EVANS", "Caroline Evans", "Dan", "Dan Evans", "C. Evans"]
)


@given(
    st.sampled_from(["email", "phone", "external_id"]),
    st.sampled_from(["info@acme.com", "ada@example.com", "+15125550100", "null"]),
    st.lists(NAMES, min_size=1, max_size=4),
    st.randoms(use_true_random=False),
)
def test_the_verdict_does_not_depend_on_order_nor_on_a_nameless_record(
    kind: str, value: str, names: list[str | None], rng: object
) -> None:
    people = [lead(n) for n in names]
    verdict = link_refusal(kind, value, people)
    shuffled = list(people)
    rng.shuffle(shuffled)  # type: ignore[attr-defined]
    assert link_refusal(kind, value, shuffled) == verdict
    assert link_refusal(kind, value, [*people, lead(None), user("")]) == verdict
