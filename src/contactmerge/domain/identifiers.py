"""Identifier rules: which values may identify a person, and their canonical form for matching."""

from __future__ import annotations

from collections.abc import Iterable

JUNK_VALUES = frozenset({"null", "undefined", "anonymous", "0", "-1", "[object object]", "nan", "none", ""})


def is_junk(value: str | None, blocklist: Iterable[str] = ()) -> bool:
    """True when a value must never identify anyone (design §3 refusals): empty, placeholders, blocklist."""
    if value is None:
        return True
    folded = value.strip().lower()
    return folded in JUNK_VALUES or folded in {b.strip().lower() for b in blocklist}


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
