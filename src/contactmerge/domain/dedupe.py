"""Exact-key duplicate detection (R5): contacts sharing a normalized email, external_id or phone form
clusters, transitively, by union-find over only the contacts that share a key.

Shared identifiers are not always proof: the link rule (``domain.linking``, the one the import asks too)
holds a role mailbox or a phone shared by people whose names are not compatible, and an email shared by
people whose names clearly disagree, for review instead of linking them. Junk values never link.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from operator import attrgetter
from typing import NamedTuple

from contactmerge.domain.linking import ROLE_MAILBOXES as ROLE_MAILBOXES  # the old home of the list
from contactmerge.domain.linking import link_rule
from contactmerge.domain.linking import needs_approval as needs_approval  # the scan's callers read it here

KEYS = ("email", "external_id", "phone")


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


def hold_reasons(
    members: Mapping[str, Member], blocklist: Iterable[str]
) -> Callable[[SharedKey], str | None]:
    """Why a shared key must not link its contacts (the link rule, ``domain.linking``), or None when it
    may; the blocklist folded once for many keys."""
    refusal = link_rule(blocklist)
    get = members.get

    def reason(key: SharedKey) -> str | None:
        kind, value, ids = key
        return refusal(kind, value, [m for m in map(get, ids) if m is not None])

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
