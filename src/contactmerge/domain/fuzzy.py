"""Fuzzy duplicate suggestions (R5): blocking keys, the pair model and its reasons, pure.

Candidate pairs come only from blocks (contacts sharing a blocking key). Each pair is compared field by
field into discrete levels (the service layer does it, with a string-similarity library), and the
Fellegi-Sunter model of ``domain.fellegi_sunter`` turns the levels into a match probability in [0, 1],
each level's weight kept as a readable reason. ``DEFAULT_MODEL`` is what the weights start from (and
stay at in a workspace too small to fit them); the scan refits them by EM on the workspace's own pairs.
Suggestions are never applied without a person's approval.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache

from contactmerge.domain.fellegi_sunter import FieldModel, PairModel, Vector
from contactmerge.domain.identifiers import junk_test
from contactmerge.domain.identifiers import provider_email as provider_email  # the rule lives there
from contactmerge.domain.linking import ROLE_MAILBOXES
from contactmerge.domain.names import NICKNAMES, name_tokens

COMPANY_ATTRIBUTES = ("company", "company_name")
DISAGREEING_NAMES_CAP = 0.5  # two clearly different names: at most this, whatever identifier they share
BLOCK_KINDS = (
    "phone",
    "email_local",
    "name_company",
    "name_city",
    "name_part_city",
    "name_part_initial_city",
)
SUB_BLOCK_KIND = "name_part_initial_city"
SUB_BLOCK_CAP = 10  # a name part + initial + city block is compared up to this size only: it is there to
# catch a typo among the few people sharing a common first name and an initial, not to compare every
# "person b..." of a city (the scale benchmark's names made 850,000 such pairs at 100k contacts)
MIN_LOCAL_PART = 3  # shorter email local parts ("jo", "a") block far too many strangers together
KEY_CACHE = 1 << 14  # keys remembered per distinct name, city or email: cities and companies repeat
HOUSEHOLD = 3  # a phone shared by this many contacts or fewer is a person's or a household's; by
# more, a switchboard's, and it is not counted (nor a role mailbox, nor a phone of people whose names
# differ): against random strangers it would weigh as much as a personal phone, but those who share it
# are colleagues and families, which the model's u (from random pairs) does not describe.

# The comparison levels of each field, best first, with their default m and u among *candidate* pairs
# (pairs that share a block, so strangers agree more often than random pairs would). Chosen so that one
# strong identifier (the same personal email or phone, a one-typo email or phone) or a compatible name
# with one more agreeing field makes a suggestion, and a name alone, a city alone or a shared
# switchboard does not; EM on the workspace's own pairs moves them from there.
FIELDS = ("name", "email", "phone", "company", "city")
DEFAULT_MODEL = PairModel(
    {
        "name": FieldModel(
            ("same", "compatible", "similar", "different"), (0.70, 0.22, 0.05, 0.03), (0.07, 0.03, 0.25, 0.65)
        ),
        "email": FieldModel(
            ("same", "provider", "typo", "different"), (0.55, 0.10, 0.05, 0.30), (0.01, 0.001, 0.005, 0.984)
        ),
        "phone": FieldModel(("same", "one_digit", "different"), (0.55, 0.05, 0.40), (0.02, 0.005, 0.975)),
        "company": FieldModel(("same", "similar", "different"), (0.85, 0.05, 0.10), (0.30, 0.05, 0.65)),
        "city": FieldModel(("same", "similar", "different"), (0.85, 0.05, 0.10), (0.45, 0.05, 0.50)),
    },
    prior=0.25,
)
LEVEL_TEXT: Mapping[tuple[str, str], str] = {
    ("name", "same"): "same name",
    ("name", "compatible"): "compatible names",
    ("name", "similar"): "similar names",
    ("name", "different"): "names disagree",
    ("email", "same"): "same email",
    ("email", "provider"): "same mailbox by its provider's rules (dots, +tag)",
    ("email", "typo"): "emails one typo apart",
    ("email", "different"): "different emails",
    ("phone", "same"): "same phone",
    ("phone", "one_digit"): "phones one digit apart",
    ("phone", "different"): "different phones",
    ("company", "same"): "same company",
    ("company", "similar"): "similar company",
    ("company", "different"): "different companies",
    ("city", "same"): "same city",
    ("city", "similar"): "similar city",
    ("city", "different"): "different cities",
}


_is_junk = junk_test()
_NAME_WORD = re.compile(r"[^\W\d_]+")
_WORD = re.compile(r"\w+")


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
    if len(key) < MIN_LOCAL_PART or key in ROLE_MAILBOXES or _is_junk(key):
        return None
    return key


@lru_cache(maxsize=KEY_CACHE)
def email_block_key(email: str | None) -> str | None:
    """The ``email_local`` block of a contact's email, if any."""
    if not email or _is_junk(email):
        return None
    return email_local_key(email)


@lru_cache(maxsize=KEY_CACHE)
def name_key(name: str | None) -> str:
    """Lower-case letter tokens in sorted order: "Smith, John" and "john SMITH" give "john smith"."""
    return " ".join(sorted(_NAME_WORD.findall((name or "").lower())))


def name_parts(key: str) -> list[str]:
    """The parts of a name key that block on their own, each once: single letters (initials) do not."""
    return [part for part in dict.fromkeys(key.split()) if len(part) > 1]


def name_part_initials(key: str) -> list[str]:
    """Each blocking part of a name key with the initial of each other token, once: "john q smith"
    gives "john|q", "john|s", "smith|j", "smith|q". The sub-blocks of a ``name_part_city`` block too
    large to compare ("john" in a big city), which only contacts sharing an initial too fall in."""
    return [f"{part}|{initial}" for part in name_parts(key) for initial in part_initials(key, part)]


def part_initials(key: str, part: str) -> list[str]:
    """The initials of the tokens of a name key besides one ``part`` of it, each once: "john john smith"
    and "john" give "j", "s"."""
    tokens = key.split()
    tokens.remove(part)
    return list(dict.fromkeys(token[0] for token in tokens))


@lru_cache(maxsize=KEY_CACHE)
def text_key(value: str | None) -> str:
    """Lower-case word tokens in their order: "Bletchley-Park " gives "bletchley park"."""
    return " ".join(_WORD.findall((value or "").lower()))


def company_of(attributes: object) -> str | None:
    """The company a contact's custom attributes name: the first non-blank of ``COMPANY_ATTRIBUTES``."""
    if type(attributes) is dict or isinstance(attributes, Mapping):  # a dict without the ABC's check
        for name in COMPANY_ATTRIBUTES:
            value = attributes.get(name)
            if isinstance(value, str) and value.strip():
                return value
    return None


def block_values(profile: Profile, kind: str) -> set[str]:
    """The values of one kind of block (``BLOCK_KINDS``) a contact falls in."""
    if kind == "phone":
        return {profile.phone} if profile.phone and not _is_junk(profile.phone) else set()
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
    if kind == "name_part_initial_city":  # the same, cut by another part's initial: a common first name
        return {f"{part}|{other}" for part in name_part_initials(name)}  # in a big city still meets
    return {f"{name}|{other}"}


def block_keys(profile: Profile) -> set[tuple[str, str]]:
    """The blocks a contact falls in: same phone, same email local part, same name + company or city,
    same name part + city, same name part + another part's initial + city."""
    return {(kind, value) for kind in BLOCK_KINDS for value in block_values(profile, kind)}


def blocks_of(profiles: Iterable[Profile], cap: int) -> dict[tuple[str, str], list[Profile]]:
    """The blocks of two or more of ``profiles`` (members in their order), keyed by kind and value; a
    name part's sub-blocks only under its ``name_part_city`` block when that one is over ``cap``: under a
    smaller one every pair is compared already."""
    blocks: dict[tuple[str, str], list[Profile]] = {}
    for profile in profiles:
        for kind in BLOCK_KINDS:
            if kind == SUB_BLOCK_KIND:
                continue
            for value in block_values(profile, kind):
                blocks.setdefault((kind, value), []).append(profile)
    subs: dict[tuple[str, str], list[Profile]] = {}
    for (kind, value), members in blocks.items():
        if kind != "name_part_city" or len(members) <= cap:
            continue
        part, _, city = value.partition("|")
        for profile in members:
            for initial in part_initials(name_key(profile.name), part):
                subs.setdefault((SUB_BLOCK_KIND, f"{part}|{initial}|{city}"), []).append(profile)
    blocks.update(subs)
    return {key: members for key, members in blocks.items() if len(members) > 1}


def name_note(a: str, b: str) -> str:
    """How two compatible names differ, in words: "nickname: bob ~ robert", "initial: j ~ john",
    "typo: jonathan ~ jonathon", "middle name missing: anne", or "same words, other order"."""
    first, second = list(name_tokens(a)), list(name_tokens(b))
    for token in list(first):
        if token in second:
            first.remove(token)
            second.remove(token)
    if not first and not second:
        return "same words, other order"
    if not first or not second:
        return f"middle name missing: {' '.join(first or second)}"
    notes = []
    for x in first:
        for y in second:
            if (NICKNAMES.get(x, frozenset({x})) & NICKNAMES.get(y, frozenset({y}))) and x != y:
                notes.append(f"nickname: {x} ~ {y}")
            elif (len(x) == 1 or len(y) == 1) and x[0] == y[0]:
                notes.append(f"initial: {x} ~ {y}")
    if notes:
        return "; ".join(notes)
    return f"typo: {' '.join(first)} ~ {' '.join(second)}"


def judge(
    model: PairModel, vector: Vector, notes: Mapping[str, str] | None = None
) -> tuple[float, tuple[str, ...]]:
    """A pair's match probability in [0, 1] and its reasons, strongest first, each with its weight (R5).

    Clearly different names cap the score at ``DISAGREEING_NAMES_CAP``, whatever the weights: a shared
    switchboard or mailbox (or a model fitted on odd data) never makes two named people one.
    """
    weights = model.weights(vector)
    score = model.probability(vector)
    notes = notes or {}
    reasons = [
        f"{notes.get(field) or LEVEL_TEXT.get((field, level), f'{field} {level}')} ({weight:+.1f})"
        for field, level, weight in sorted(weights, key=lambda w: (-w[2], w[0]))
    ]
    compared = {field for field, _, _ in weights}
    reasons += [note for field, note in sorted(notes.items()) if field not in compared]
    if dict(zip(model.names, vector, strict=True)).get("name") == "different":
        score = min(score, DISAGREEING_NAMES_CAP)
        reasons.append(f"names disagree: at most {DISAGREEING_NAMES_CAP}")
    return round(score, 4), tuple(reasons)
