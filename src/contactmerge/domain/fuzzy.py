"""Fuzzy duplicate suggestions (R5): blocking keys and the scoring rule, pure.

Candidate pairs come only from blocks (contacts sharing a blocking key); each pair's field similarities
(computed by a string-similarity library in the service layer) are combined here into one score in
[0, 1] with readable reasons. Suggestions are never applied without a person's approval.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from contactmerge.domain.dedupe import ROLE_MAILBOXES
from contactmerge.domain.identifiers import is_junk
from contactmerge.domain.identifiers import provider_email as provider_email  # the rule lives there

COMPANY_ATTRIBUTES = ("company", "company_name")
WEIGHTS: Mapping[str, float] = {"name": 0.4, "email": 0.3, "phone": 0.2, "company": 0.05, "city": 0.05}
NAMES_DISAGREE_BELOW = 0.6  # a name similarity under this means two different people…
DISAGREEING_NAMES_CAP = 0.5  # …whatever identifier they share (a switchboard, a shared mailbox)
BLOCK_KINDS = ("phone", "email_local", "name_company", "name_city", "name_part_city")
MIN_LOCAL_PART = 3  # shorter email local parts ("jo", "a") block far too many strangers together


@dataclass(frozen=True)
class Profile:
    """What fuzzy matching reads of one contact."""

    id: str
    name: str | None
    email: str | None
    phone: str | None  # E.164
    company: str | None
    city: str | None


@dataclass(frozen=True)
class Suggestion:
    contact_a: str  # the smaller id
    contact_b: str
    score: float
    reasons: tuple[str, ...]


def email_local_key(address: str) -> str | None:
    """The blocking key of an email: its local part without ``+tag`` or dots; None for role mailboxes.

    Every provider's address is cut as Gmail's (``provider_email``) here: the key only gathers
    candidates, the score still tells ``j.smith@x.com`` from ``jsmith@x.com``.
    """
    local = address.strip().rpartition("@")[0].lower()  # as canonical_email, whose domain rules aside
    key = local.partition("+")[0].replace(".", "")
    if len(key) < MIN_LOCAL_PART or key in ROLE_MAILBOXES or is_junk(key):
        return None
    return key


def email_block_key(email: str | None) -> str | None:
    """The ``email_local`` block of a contact's email, if any."""
    if not email or is_junk(email):
        return None
    return email_local_key(email)


def name_key(name: str | None) -> str:
    """Lower-case letter tokens in sorted order: "Smith, John" and "john SMITH" give "john smith"."""
    return " ".join(sorted(re.findall(r"[^\W\d_]+", (name or "").lower())))


def name_parts(key: str) -> list[str]:
    """The parts of a name key that block on their own, each once: single letters (initials) do not."""
    return [part for part in dict.fromkeys(key.split()) if len(part) > 1]


def text_key(value: str | None) -> str:
    """Lower-case word tokens in their order: "Bletchley-Park " gives "bletchley park"."""
    return " ".join(re.findall(r"\w+", (value or "").lower()))


def company_of(attributes: object) -> str | None:
    """The company a contact's custom attributes name: the first non-blank of ``COMPANY_ATTRIBUTES``."""
    if isinstance(attributes, Mapping):
        for name in COMPANY_ATTRIBUTES:
            value = attributes.get(name)
            if isinstance(value, str) and value.strip():
                return value
    return None


def block_values(profile: Profile, kind: str) -> set[str]:
    """The values of one kind of block (``BLOCK_KINDS``) a contact falls in."""
    if kind == "phone":
        return {profile.phone} if profile.phone and not is_junk(profile.phone) else set()
    if kind == "email_local":
        local = email_block_key(profile.email)
        return {local} if local else set()
    if kind not in BLOCK_KINDS:
        raise ValueError(f"no block kind {kind!r}")
    name = name_key(profile.name)
    other = text_key(profile.company if kind == "name_company" else profile.city)
    if not name or not other:
        return set()
    if kind == "name_part_city":  # each name part with the city: a typo in the other part meets its twin
        return {f"{part}|{other}" for part in name_parts(name)}
    return {f"{name}|{other}"}


def block_keys(profile: Profile) -> set[tuple[str, str]]:
    """The blocks a contact falls in: same phone, same email local part, same name + company or city,
    same name part + city."""
    return {(kind, value) for kind in BLOCK_KINDS for value in block_values(profile, kind)}


def combine(similarities: Mapping[str, float]) -> tuple[float, tuple[str, ...]]:
    """One score in [0, 1] from the similarities of the fields both contacts have, and why.

    A weighted mean over the compared fields; when both names are known and disagree, the score is
    capped below any sensible threshold: a shared company phone or mailbox does not make two people one.
    """
    compared = {f: s for f, s in similarities.items() if f in WEIGHTS}
    if not compared:
        return 0.0, ()
    total = sum(WEIGHTS[f] for f in compared)
    score = sum(WEIGHTS[f] * min(max(s, 0.0), 1.0) for f, s in compared.items()) / total
    reasons = [
        f"same {f}" if s >= 1.0 else f"similar {f} ({s:.2f})"
        for f, s in sorted(compared.items(), key=lambda item: (-WEIGHTS[item[0]], item[0]))
        if s >= 0.5
    ]
    name = compared.get("name")
    if name is not None and name < NAMES_DISAGREE_BELOW:
        score = min(score, DISAGREEING_NAMES_CAP)
        reasons.append(f"names disagree ({name:.2f}): at most {DISAGREEING_NAMES_CAP}")
    return round(score, 4), tuple(reasons)
