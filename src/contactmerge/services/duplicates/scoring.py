"""Pair scoring of fuzzy duplicate suggestions (R5): each field's comparison level (names by
``domain.names``, the rest with rapidfuzz), the pair model fitted by EM on the pairs a scan compared,
and each suggestion's probability and reasons (``domain.fuzzy.judge``).

Survivor-independent: every level is symmetric, so ``score_pair(a, b)`` and ``score_pair(b, a)`` are the
same suggestion.
"""

from __future__ import annotations

import math
import random
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache

from rapidfuzz import fuzz
from rapidfuzz.distance import Levenshtein

from contactmerge.domain import fellegi_sunter
from contactmerge.domain.fellegi_sunter import PairModel, Vector
from contactmerge.domain.fuzzy import (
    DEFAULT_MODEL,
    FIELDS,
    HOUSEHOLD,
    Profile,
    Suggestion,
    judge,
    name_note,
    provider_email,
    text_key,
)
from contactmerge.domain.identifiers import canonical_email
from contactmerge.domain.linking import ROLE_MAILBOXES
from contactmerge.domain.names import NameMatch, compare_names, name_tokens

SAMPLE = 2000  # contacts drawn to pair at random for u: two strangers all but always
RANDOM_PAIRS = 10_000
RANDOM_SEED = 12
PINNED = 1e15  # a prior this strong keeps m at the defaults: EM then fits the prior alone
MIN_CONTACTS = 100  # fewer contacts than this: the default weights (too few strangers to learn u from)
SIMILAR_TEXT = 0.85  # a company or city this similar (rapidfuzz, 0 to 1) and not the same is "similar"
NAME_LEVELS = {
    NameMatch.SAME: "same",
    NameMatch.COMPATIBLE: "compatible",
    NameMatch.SIMILAR: "similar",
    NameMatch.DIFFERENT: "different",
}


@dataclass(frozen=True, slots=True)
class Compared:
    """One pair's comparison: its levels (phone "same" until the phone's count is known), the notes
    that tell its name level in words, and the phone both contacts have, if any."""

    vector: Vector
    notes: tuple[tuple[str, str], ...] = ()
    phone: str | None = None


def _digits(text: str) -> str:
    return "".join(c for c in text if c.isdigit())


@lru_cache(maxsize=1 << 16)
def _email_keys(address: str) -> tuple[str, str, str, str, str]:
    """The canonical email, its mailbox by provider rules, that mailbox's local part, its domain and
    the local part's digits: computed once per address, not once per pair."""
    exact, mailbox = canonical_email(address), provider_email(address)
    local, _, domain = mailbox.rpartition("@")
    return exact, mailbox, local, domain, _digits(local)


def _email_level(a: str, b: str) -> tuple[str, str | None]:
    exact_a, mailbox_a, local_a, domain_a, digits_a = _email_keys(a)
    exact_b, mailbox_b, local_b, domain_b, digits_b = _email_keys(b)
    if exact_a == exact_b:
        return ("role" if exact_a.rpartition("@")[0] in ROLE_MAILBOXES else "same"), None
    if mailbox_a == mailbox_b:
        return "provider", f"same mailbox: {exact_a} ~ {exact_b}"
    # a typo is one edit of the local part at the same domain; another address of a namesake
    # (john.smith12 vs john.smith87) differs in its digits and is another address
    if (
        domain_a == domain_b
        and min(len(local_a), len(local_b)) >= 4
        and digits_a == digits_b
        and Levenshtein.distance(local_a, local_b, score_cutoff=1) <= 1
    ):
        return "typo", f"emails one typo apart: {exact_a} ~ {exact_b}"
    return "different", None


def _phone_level(a: str, b: str) -> str:
    if a == b:
        return "same"
    return (
        "one_digit"
        if Levenshtein.distance(a.lstrip("+"), b.lstrip("+"), score_cutoff=1) <= 1
        else "different"
    )


_compare_names = lru_cache(maxsize=1 << 18)(compare_names)  # common names meet again and again


def _text_level(a: str | None, b: str | None, *, tokens: bool) -> str | None:
    key_a, key_b = text_key(a), text_key(b)
    if not key_a or not key_b:
        return None
    if key_a == key_b:
        return "same"
    similar = fuzz.token_set_ratio(key_a, key_b) if tokens else fuzz.ratio(key_a, key_b)
    return "similar" if similar / 100.0 >= SIMILAR_TEXT else "different"


def compare(a: Profile, b: Profile) -> Compared:
    """The comparison levels of two contacts (``domain.fuzzy.FIELDS``), None where either lacks the field;
    the same, notes included, whichever comes first."""
    if b.id < a.id:
        a, b = b, a
    notes: list[tuple[str, str]] = []
    names = _compare_names(*sorted((a.name or "", b.name or "")))
    name = NAME_LEVELS.get(names)
    if names is NameMatch.COMPATIBLE and a.name and b.name:
        notes.append(("name", name_note(a.name, b.name)))
    email = None
    if a.email and b.email:
        email, note = _email_level(a.email, b.email)
        if email == "role":  # a team's mailbox tells nothing of who wrote from it
            email, note = None, f"shared role mailbox {canonical_email(a.email)}: not counted"
        if note:
            notes.append(("email", note))
    phone = _phone_level(a.phone, b.phone) if a.phone and b.phone else None
    if phone == "same" and name in ("similar", "different"):  # a household's line, or a switchboard's
        phone = None  # (two strangers rarely share a phone, but colleagues and families do)
        notes.append(("phone", "phone shared by people with other names: not counted"))
    company = _text_level(a.company, b.company, tokens=True)
    city = _text_level(a.city, b.city, tokens=False)
    shared = a.phone if a.phone and a.phone == b.phone else None
    return Compared((name, email, phone, company, city), tuple(notes), shared)


def vector_of(compared: Compared, phone_counts: Mapping[str, int]) -> Vector:
    """The pair's final levels: a phone shared by more than ``HOUSEHOLD`` contacts is a switchboard's,
    and is not counted (it would count as much as a personal phone against random strangers, but the
    people who share it are colleagues, not strangers)."""
    if compared.phone is None or phone_counts.get(compared.phone, 2) <= HOUSEHOLD:
        return compared.vector
    phone = FIELDS.index("phone")
    return (*compared.vector[:phone], None, *compared.vector[phone + 1 :])


def random_pairs(sample: Sequence[Profile], phone_counts: Mapping[str, int]) -> dict[Vector, int]:
    """The counted vectors of ``RANDOM_PAIRS`` pairs drawn from ``sample`` (the same draw every time)."""
    rng = random.Random(RANDOM_SEED)
    patterns: dict[Vector, int] = {}
    if len(sample) < 2:
        return patterns
    for _ in range(RANDOM_PAIRS):
        i, j = rng.sample(range(len(sample)), 2)
        vector = vector_of(compare(sample[i], sample[j]), phone_counts)
        patterns[vector] = patterns.get(vector, 0) + 1
    return patterns


def fit(
    patterns: Mapping[Vector, int],
    strangers: Mapping[Vector, int],
    same: Mapping[str, float],
    contacts: int,
) -> PairModel:
    """The pair model of one scan: u from random pairs (``strangers``, and ``same`` for the "same"
    levels), m and the prior by EM on the compared pairs among all ``contacts``' pairs. When EM finds
    no sensible m, the default m with this workspace's u and prior; the defaults alone in a workspace
    too small for either."""
    if contacts < MIN_CONTACTS or sum(strangers.values()) < RANDOM_PAIRS // 2:
        return DEFAULT_MODEL
    u = fellegi_sunter.with_same_rates(fellegi_sunter.estimate_u(strangers, DEFAULT_MODEL), same)
    total = contacts * (contacts - 1) // 2
    fitted = fellegi_sunter.fit(patterns, DEFAULT_MODEL, u=u, total_pairs=total)
    if fitted is DEFAULT_MODEL:  # EM found no sensible m: the default m, this workspace's u and prior
        pinned = fellegi_sunter.fit(patterns, DEFAULT_MODEL, u=u, total_pairs=total, strength=PINNED)
        fitted = pinned if pinned is not DEFAULT_MODEL else fitted
    return fitted


def same_rates(sample: Sequence[Profile], contacts: int) -> dict[str, float]:
    """For each field, how often two *different* people have the same value, as ``compare`` reads it.

    Counting the sample's pairs that share a value would mostly count one person's records: a full
    name, an email or a phone is nearly unique to a person. So a name's rate multiplies the frequencies
    of its words (two strangers share a full name when they share each word, independently), a
    personal email or phone is taken as shared by one pair of strangers in the whole workspace at most,
    and only a company's and a city's rates (values many people share) are counted by value.
    """
    rates = {"email": 1.0 / max(contacts * (contacts - 1) // 2, 1)}
    rates["phone"] = rates["email"]
    names = [tokens for p in sample if p.name and (tokens := name_tokens(p.name))]
    if names:
        words = Counter(word for tokens in names for word in set(tokens))
        rates["name"] = sum(math.prod(words[w] / len(names) for w in tokens) for tokens in names) / len(names)
    for field in ("company", "city"):
        values = Counter(value for p in sample if (value := text_key(getattr(p, field))))
        n = sum(values.values())
        if n >= 2:
            rates[field] = (sum(c * (c - 1) for c in values.values()) + 1.0) / (n * (n - 1) + 2.0)
    return rates


def suggestion(
    a: str, b: str, compared: Compared, model: PairModel, phone_counts: Mapping[str, int]
) -> Suggestion:
    """One scored pair, its ids in order, with its reasons."""
    notes = dict(compared.notes)  # a switchboard's count says more than "people with other names"
    if compared.phone and (count := phone_counts.get(compared.phone, 2)) > HOUSEHOLD:
        notes["phone"] = f"phone shared by {count} contacts: not counted"
    score, reasons = judge(model, vector_of(compared, phone_counts), notes)
    first, second = sorted((a, b))
    return Suggestion(first, second, score, reasons)


def score_pair(a: Profile, b: Profile, model: PairModel = DEFAULT_MODEL) -> Suggestion:
    """One pair scored on its own (the phone counted as shared by these two only)."""
    return suggestion(a.id, b.id, compare(a, b), model, {})
