"""Exact-key duplicate detection (R5): contacts sharing a normalized email, external_id or phone form
clusters, transitively, by union-find over only the contacts that share a key.

Shared identifiers are not always proof: a role mailbox (``info@``, ``support@``…) or a phone used by
contacts whose names disagree is held for review instead of linking them. Junk values never link.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from operator import attrgetter
from typing import NamedTuple

from contactmerge.domain.identifiers import is_junk

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


def hold_reason(key: SharedKey, members: Mapping[str, Member], blocklist: Iterable[str] = ()) -> str | None:
    """Why a shared key must not link its contacts, or None when it may."""
    if is_junk(key.value, blocklist):
        return "a placeholder value never identifies anyone"
    sharing = (members[c] for c in key.contact_ids if c in members)  # read only when a rule needs it
    if key.kind == "email" and key.value.partition("@")[0] in ROLE_MAILBOXES and names_disagree(sharing):
        return "a role mailbox shared by people whose names disagree"
    if key.kind == "phone" and names_disagree(sharing):
        return "a phone (a switchboard?) shared by people whose names disagree"
    return None


def cluster(keys: Sequence[SharedKey], members: Mapping[str, Member], blocklist: Iterable[str] = ()) -> Scan:
    """Union-find over the contacts that share a key; the same clusters whatever the order of ``keys``."""
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        up = parent.setdefault(x, x)
        while up != x:  # path halving
            parent[x] = x = parent[up]
            up = parent[x]
        return x

    def union(a: str, b: str) -> None:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)

    held: list[HeldKey] = []
    linking: list[SharedKey] = []
    for key in keys:
        reason = hold_reason(key, members, blocklist)
        if reason is not None:
            held.append(HeldKey(key, reason))
            continue
        linking.append(key)
        first, *rest = key.contact_ids
        for other in rest:
            union(first, other)
    groups: dict[str, list[str]] = {}
    for contact in parent:
        groups.setdefault(find(contact), []).append(contact)
    clusters = {}
    for root, ids in groups.items():
        if len(ids) > 1:
            ids.sort()
            clusters[root] = Cluster(ids[0], tuple(ids))
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
