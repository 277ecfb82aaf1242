"""Pair scoring of fuzzy duplicate suggestions (R5): each field's similarity by rapidfuzz, combined into
one score by the domain rule (``domain.fuzzy.combine``). Survivor-independent: ``score_pair(a, b)`` and
``score_pair(b, a)`` are the same suggestion."""

from __future__ import annotations

from rapidfuzz import fuzz
from rapidfuzz.distance import Levenshtein

from contactmerge.domain.fuzzy import Profile, Suggestion, combine, name_key, provider_email

CLOSE = 0.85  # an email similarity under this counts as a different address


def _digits(text: str) -> str:
    return "".join(c for c in text if c.isdigit())


def _ratio(a: str, b: str) -> float:
    return fuzz.ratio(a, b) / 100.0


def similarities(a: Profile, b: Profile) -> dict[str, float]:
    """The similarity in [0, 1] of every field both contacts have."""
    found: dict[str, float] = {}
    name_a, name_b = name_key(a.name), name_key(b.name)
    if name_a and name_b:
        found["name"] = fuzz.token_sort_ratio(name_a, name_b) / 100.0
    if a.email and b.email:
        email_a, email_b = provider_email(a.email), provider_email(b.email)
        local_a, _, domain_a = email_a.rpartition("@")
        local_b, _, domain_b = email_b.rpartition("@")
        if email_a == email_b:
            found["email"] = 1.0
        else:  # a typo is close; another address of a namesake (john.smith12 vs john.smith87) is not
            close = _ratio(local_a, local_b) * (1.0 if domain_a == domain_b else 0.8)
            numbers_differ = _digits(local_a) != _digits(local_b)
            found["email"] = close if close >= CLOSE and not numbers_differ else 0.0
    if a.phone and b.phone:  # one mistyped digit is close; any other difference is another phone
        distance = Levenshtein.distance(a.phone.lstrip("+"), b.phone.lstrip("+"))
        found["phone"] = 1.0 if distance == 0 else 0.8 if distance == 1 else 0.0
    if a.company and b.company:
        found["company"] = fuzz.token_set_ratio(a.company.lower(), b.company.lower()) / 100.0
    if a.city and b.city:
        found["city"] = _ratio(a.city.lower(), b.city.lower())
    return found


def score_pair(a: Profile, b: Profile) -> Suggestion:
    score, reasons = combine(similarities(a, b))
    first, second = sorted((a.id, b.id))
    return Suggestion(first, second, score, reasons)
