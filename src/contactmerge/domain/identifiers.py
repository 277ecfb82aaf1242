"""Identifier rules: which values may identify a person, and their canonical form for matching."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache

JUNK_VALUES = frozenset({"null", "undefined", "anonymous", "0", "-1", "[object object]", "nan", "none", ""})


def is_junk(value: str | None, blocklist: Iterable[str] = ()) -> bool:
    """True when a value must never identify anyone (design §3 refusals): empty, placeholders, blocklist."""
    return junk_test(blocklist)(value)


def junk_test(blocklist: Iterable[str] = ()) -> Callable[[str | None], bool]:
    """``is_junk`` with the blocklist folded once, for checking many values; once per distinct blocklist
    (a workspace's is checked three times a merge)."""
    return _folded(tuple(blocklist))


@lru_cache
def _folded(blocklist: tuple[str, ...]) -> Callable[[str | None], bool]:
    refused = JUNK_VALUES | {b.strip().lower() for b in blocklist}

    def junk(value: str | None) -> bool:
        return value is None or value.strip().lower() in refused

    return junk


def canonical_email(address: str) -> str:
    """Trimmed, lower-cased, with an IDNA (ASCII) domain: the form two emails are compared in."""
    address = address.strip()
    local, _, domain = address.rpartition("@")
    if not local:
        return address.lower()
    try:
        ascii_domain = domain.encode("idna").decode("ascii")
    except UnicodeError:
        ascii_domain = domain
    return f"{local}@{ascii_domain}".lower()


def email_domain(canonical: str) -> str:
    """The part after the last ``@`` of a canonical email."""
    return canonical.rpartition("@")[2]


@dataclass(frozen=True)
class MailboxRule:
    """How a mail provider reads the local part: which spellings reach the same mailbox."""

    domain: str  # the provider's canonical domain (googlemail.com is gmail.com)
    ignores_dots: bool  # john.doe and johndoe are one mailbox
    plus_tags: bool  # john+news is delivered to john


# Documented by the providers themselves. Dots: Gmail only. ``+tag`` sub-addressing: Gmail, Outlook.com,
# iCloud, Fastmail, Proton. (Yahoo's disposable addresses use a chosen base name, not a tag: left out.)
MAILBOX_RULES: Mapping[str, MailboxRule] = {
    "gmail.com": MailboxRule("gmail.com", ignores_dots=True, plus_tags=True),
    "googlemail.com": MailboxRule("gmail.com", ignores_dots=True, plus_tags=True),
    **{
        domain: MailboxRule(domain, ignores_dots=False, plus_tags=True)
        for domain in (
            "outlook.com",
            "hotmail.com",
            "live.com",
            "msn.com",
            "icloud.com",
            "me.com",
            "mac.com",
            "fastmail.com",
            "fastmail.fm",
            "protonmail.com",
            "protonmail.ch",
            "proton.me",
            "pm.me",
        )
    },
}


def provider_email(address: str) -> str:
    """The canonical email read as its provider reads it (``MAILBOX_RULES``): for Gmail, dots and ``+tag``
    ignored and googlemail.com = gmail.com; for the others listed, ``+tag`` ignored; any other: as is."""
    canonical = canonical_email(address)
    local, _, domain = canonical.rpartition("@")
    rule = MAILBOX_RULES.get(domain)
    if not local or rule is None:
        return canonical
    if rule.plus_tags:
        local = local.partition("+")[0]
    if rule.ignores_dots:
        local = local.replace(".", "")
    return f"{local}@{rule.domain}"
