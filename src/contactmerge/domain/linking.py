"""The link rule: whether a shared email, phone or external_id may tie records together (R2, R3, R5).

The import's matching (R3), its lead updates and in-file duplicate check, and the duplicate scan (R5)
all ask ``link_refusal``; None means the records may be linked, anything else is why they may not:

- a placeholder (``null``, ``0``…) or a value on the workspace's blocklist identifies nobody;
- a role mailbox (``info@``, ``sales@``…) or a phone is often shared by colleagues or a family: it links
  only people whose known names are compatible (``NameMatch.COMPATIBLE``: nickname, initial, one typo);
- any other email is held only when names clearly disagree (``NameMatch.DIFFERENT``): a corrupted copy
  of a record that took another person's address;
- an external_id is the workspace's own user id: names do not hold it.

A missing name is no evidence of a second person: it never holds a key (else every nameless re-import of
a role mailbox would make a new contact). Two users tied by a key are linked but never merged without a
person's forced approval (``needs_approval``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from itertools import combinations
from typing import Protocol

from contactmerge.domain.identifiers import junk_test
from contactmerge.domain.names import NameMatch, compare_names, name_tokens

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

JUNK = "a placeholder value never identifies anyone"
ROLE_MAILBOX = "a role mailbox shared by people whose names disagree"
SWITCHBOARD = "a phone (a switchboard?) shared by people whose names disagree"
NAMES_DISAGREE = "an email shared by people whose names clearly disagree"


class Party(Protocol):
    """What the link rule reads of a record: a contact, a scan's member, an import row."""

    @property
    def role(self) -> str: ...

    @property
    def name(self) -> str | None: ...


@dataclass(frozen=True)
class Record:
    """A record that is not (yet) a contact: an import row."""

    role: str
    name: str | None


LinkRule = Callable[[str, str, Sequence[Party]], "str | None"]


def is_role_mailbox(email: str) -> bool:
    """An address a team shares (``info@``, ``sales+eu@``…) rather than one person's."""
    return email.partition("@")[0].partition("+")[0] in ROLE_MAILBOXES


def _least_match(names: Sequence[str | None], enough: NameMatch) -> bool:
    """Whether every two known names compare at ``enough`` or better; names equal as written (most
    duplicates) are not compared, nor are spellings that fold to the same tokens."""
    distinct = {name for name in names if name}
    if len(distinct) < 2:
        return True
    folded = {name_tokens(name): name for name in distinct}
    folded.pop((), None)  # "N/A", "--": no name after all
    return all(compare_names(a, b) >= enough for a, b in combinations(folded.values(), 2))


def link_rule(blocklist: Iterable[str] = ()) -> LinkRule:
    """``link_refusal`` with the blocklist folded once, for the many keys of a scan or an import."""
    junk = junk_test(blocklist)

    def refusal(kind: str, value: str, people: Sequence[Party]) -> str | None:
        if junk(value):
            return JUNK
        if kind == "external_id":
            return None
        if len(people) == 2 and people[0].name == people[1].name:  # most keys: one name as written
            return None
        names = [p.name for p in people]
        if kind == "phone":
            return None if _least_match(names, NameMatch.COMPATIBLE) else SWITCHBOARD
        if is_role_mailbox(value):
            return None if _least_match(names, NameMatch.COMPATIBLE) else ROLE_MAILBOX
        return None if _least_match(names, NameMatch.SIMILAR) else NAMES_DISAGREE

    return refusal


def link_refusal(kind: str, value: str, people: Sequence[Party], blocklist: Iterable[str] = ()) -> str | None:
    """Why ``people`` sharing an identifier (``kind`` email, phone or external_id; ``value`` normalized)
    must not be linked by it, or None when they may (R3, R5)."""
    return link_rule(blocklist)(kind, value, people)


def needs_approval(people: Sequence[Party]) -> str | None:
    """Two or more users tied by a key are never merged without explicit, forced approval (design §3)."""
    users = sum(1 for p in people if p.role == "user")
    return f"{users} users: merged only on explicit, forced approval" if users > 1 else None
