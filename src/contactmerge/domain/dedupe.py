"""Exact-key duplicate detection (R5): contacts sharing a normalized email, external_id or phone form
clusters, transitively, by union-find over only the contacts that share a key.

Shared identifiers are not always proof: a role mailbox (``info@``, ``support@``…) or a phone used by
contacts whose names disagree is held for review instead of linking them. Junk values never link.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from operator import attrgetter
from typing import NamedTuple

from contactmerge.domain.identifiers import junk_test

KEYS = ("email", "external_id", "phone")
ROLE_MAILBOXES = frozenset(
    {
        "info",
        "support",
        "sales",
        "contact",
        "contacts",
        "admin",
        "hello",
        "help",
        "team",
        "office",
        "billing",
        "accounts",
        "noreply",
        "no-reply",
        "enquiries",
        "inquiries",
        "marketing",
        "hr",
        "jobs",
        "careers",
        "service",
        "customerservice",
        "feedback",
        "webmaster",
        "postmaster",
    }
)


class Member(NamedTuple):  # a tuple: a scan builds one per sharing contact, hundreds of thousands
    id: str
    role: str
    name: str | None
    created_at: int
    last_seen_at: int | None
    verified: bool


class SharedKey(NamedTuple):
    kind: str  # email | external_id | phone
    value: str
    contact_ids: tuple[str, ...]


@dataclass(frozen=True)
class HeldKey:
    key: SharedKey
    reason: str


@dataclass
class Cluster:
    id: str  # the smallest member id: stable whatever the input order
    members: tuple[str, ...]
    keys: list[SharedKey] = field(default_factory=list)


@dataclass(frozen=True)
class Scan:
    clusters: tuple[Cluster, ...]
    held: tuple[HeldKey, ...]


_NOT_LETTERS = re.compile(r"[^a-z]")


def _name_key(name: str | None) -> str:
    return _NOT_LETTERS.sub("", (name or "").lower())


def names_disagree(members: Iterable[Member]) -> bool:
    """Two or more different non-empty names (compared without case, spaces or punctuation)."""
    names = {m.name for m in members} - {None, ""}
    if len(names) < 2:  # the same name as written (most duplicates): no need to compare them loosely
        return False
    return len({_name_key(name) for name in names} - {""}) > 1


JUNK = "a placeholder value never identifies anyone"
ROLE_MAILBOX = "a role mailbox shared by people whose names disagree"
SWITCHBOARD = "a phone (a switchboard?) shared by people whose names disagree"


def hold_reasons(
    members: Mapping[str, Member], blocklist: Iterable[str]
) -> Callable[[SharedKey], str | None]:
    """Why a shared key must not link its contacts, or None when it may; the blocklist folded once for
    many keys, names read only when a rule needs them."""
    junk = junk_test(blocklist)

    def disagree(ids: tuple[str, ...]) -> bool:
        if len(ids) == 2:  # most keys: two contacts, compared without building sets
            a, b = members.get(ids[0]), members.get(ids[1])
            first, second = a.name if a else None, b.name if b else None
            if not first or not second or first == second:
                return False
            one, other = _name_key(first), _name_key(second)
            return bool(one) and bool(other) and one != other
        return names_disagree(members[c] for c in ids if c in members)

    def reason(key: SharedKey) -> str | None:
        kind, value, ids = key
        if junk(value):
            return JUNK
        if kind == "email" and value.partition("@")[0] in ROLE_MAILBOXES and disagree(ids):
            return ROLE_MAILBOX
        if kind == "phone" and disagree(ids):
            return SWITCHBOARD
        return None

    return reason


def cluster(keys: Sequence[SharedKey], members: Mapping[str, Member], blocklist: Iterable[str] = ()) -> Scan:
    """Union-find over the contacts that share a key; the same clusters whatever the order of ``keys``."""
    parent: dict[str, str] = {}  # only linked contacts; a root has no entry
    up = parent.get

    def find(x: str) -> str:
        root = x
        while (above := up(root)) is not None:
            root = above
        while x != root:  # path compression
            parent[x], x = root, parent[x]
        return root

    held: list[HeldKey] = []
    linking: list[SharedKey] = []
    reason = hold_reasons(members, blocklist)
    for key in keys:
        why = reason(key)
        if why is not None:
            held.append(HeldKey(key, why))
            continue
        linking.append(key)
        ids = key.contact_ids
        root = find(ids[0])
        for other in ids[1:]:
            other_root = find(other)
            if other_root != root:  # the smaller id stays the root
                if other_root < root:
                    parent[root], root = other_root, other_root
                else:
                    parent[other_root] = root
    groups: dict[str, list[str]] = {}
    for contact in list(parent):
        root = find(contact)
        if root in groups:
            groups[root].append(contact)
        else:
            groups[root] = [root, contact]
    clusters = {}
    for root, group in groups.items():
        group.sort()
        clusters[root] = Cluster(group[0], tuple(group))
    for key in linking:
        clusters[find(key.contact_ids[0])].keys.append(key)
    for c in clusters.values():
        if len(c.keys) > 1:
            c.keys.sort(key=lambda k: (k.kind, k.value))
    ordered = tuple(sorted(clusters.values(), key=attrgetter("id")))
    return Scan(ordered, tuple(sorted(held, key=lambda h: (h.key.kind, h.key.value))))


def survivor(members: Sequence[Member]) -> Member:
    """Design §3: the user; else verified identifiers, then the most recently seen, then the oldest."""
    return max(
        members, key=lambda m: (m.role == "user", m.verified, m.last_seen_at or 0, -m.created_at, m.id)
    )


def needs_approval(members: Sequence[Member]) -> str | None:
    """A cluster with two or more users is never applied without explicit, forced approval."""
    users = sum(1 for m in members if m.role == "user")
    return f"{users} users: merged only on explicit, forced approval" if users > 1 else None
