"""Own generator of contact records with known duplicates (issue 6), designed by this project.

Duplicates carry one to three perturbations: a typo in one name part, upper case, Gmail dots and a
``+tag`` at googlemail.com, another phone format, first and last name swapped, the email or the phone
dropped. Hard negatives: a colleague sharing the switchboard phone and the ``sales@`` role mailbox, and a
namesake in another (or the same) city with another email and phone. Names come from 40 first names and
50 last names in 10 cities, so common names are common.
"""

from __future__ import annotations

import random
import string
from collections.abc import Iterable
from typing import Any

from bench.quality.rows import row

from contactmerge.services.normalizing import normalize_email, normalize_phone

SYNTHETIC_PEOPLE = 4_000
SEED = 6
FIRST = [
    "james",
    "mary",
    "john",
    "patricia",
    "robert",
    "jennifer",
    "michael",
    "linda",
    "william",
    "elizabeth",
    "david",
    "barbara",
    "richard",
    "susan",
    "joseph",
    "jessica",
    "thomas",
    "sarah",
    "charles",
    "karen",
    "christopher",
    "nancy",
    "daniel",
    "lisa",
    "matthew",
    "betty",
    "anthony",
    "margaret",
    "mark",
    "sandra",
    "donald",
    "ashley",
    "steven",
    "kimberly",
    "paul",
    "emily",
    "andrew",
    "donna",
    "joshua",
    "michelle",
]
LAST = [
    "smith",
    "johnson",
    "williams",
    "brown",
    "jones",
    "garcia",
    "miller",
    "davis",
    "rodriguez",
    "martinez",
    "hernandez",
    "lopez",
    "gonzalez",
    "wilson",
    "anderson",
    "thomas",
    "taylor",
    "moore",
    "jackson",
    "martin",
    "lee",
    "perez",
    "thompson",
    "white",
    "harris",
    "sanchez",
    "clark",
    "ramirez",
    "lewis",
    "robinson",
    "walker",
    "young",
    "allen",
    "king",
    "wright",
    "scott",
    "torres",
    "nguyen",
    "hill",
    "flores",
    "green",
    "adams",
    "nelson",
    "baker",
    "hall",
    "rivera",
    "campbell",
    "mitchell",
    "carter",
    "roberts",
]
CITIES = [
    "austin",
    "boston",
    "chicago",
    "denver",
    "seattle",
    "portland",
    "atlanta",
    "miami",
    "dallas",
    "phoenix",
]
COMPANIES = [
    "acme",
    "globex",
    "initech",
    "umbrella",
    "hooli",
    "stark",
    "wayne",
    "wonka",
    "tyrell",
    "cyberdyne",
]
PERTURBATIONS = ["typo", "case", "gmail", "phone", "swap", "drop_email", "drop_phone"]
DOMAINS = ["gmail.com", "gmail.com", "yahoo.com", "outlook.com", "example.org"]


# --- synthetic data -------------------------------------------------------------------------------


def _typo(word: str, rng: random.Random) -> str:
    if len(word) < 4:
        return word
    i = rng.randrange(1, len(word) - 1)
    kind = rng.choice(["swap", "drop", "replace", "double"])
    if kind == "swap":
        return word[:i] + word[i + 1] + word[i] + word[i + 2 :]
    if kind == "drop":
        return word[:i] + word[i + 1 :]
    if kind == "replace":
        return word[:i] + rng.choice(string.ascii_lowercase) + word[i + 1 :]
    return word[:i] + word[i] + word[i:]


def _phone_formats(digits: str, rng: random.Random) -> str:
    area, mid, end = digits[:3], digits[3:6], digits[6:]
    return rng.choice(
        [
            f"+1{digits}",
            f"({area}) {mid}-{end}",
            f"{area}.{mid}.{end}",
            f"1-{area}-{mid}-{end}",
            f"+1 {area} {mid} {end}",
        ]
    )


def _local_number(area: str, rng: random.Random) -> str:
    """A valid US number of an area code: its exchange starts with 2-9."""
    return area + rng.choice("23456789") + "".join(rng.choice(string.digits) for _ in range(6))


def synthetic(people: int, seed: int = SEED) -> list[dict[str, Any]]:
    """Records with an ``entity`` label: the same entity = the same person."""
    rng = random.Random(seed)
    records: list[dict[str, Any]] = []
    for p in range(people):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        domain = rng.choice(DOMAINS)
        company = rng.choice(COMPANIES)
        base = {
            "entity": f"p{p}",
            "first": first,
            "last": last,
            "email": f"{first}.{last}{rng.randrange(100, 999)}@{domain}",
            "phone": _local_number("512", rng),
            "city": rng.choice(CITIES),
            "company": company,
        }
        records.append(dict(base))
        roll = rng.random()
        if roll < 0.3:  # a duplicate with one to three perturbations
            dup = dict(base)
            changes = rng.sample(PERTURBATIONS, rng.randint(1, 3))
            for change in sorted(changes, key=lambda c: c.startswith("drop")):  # drops last
                if change == "typo":
                    part = "last" if rng.random() < 0.5 else "first"
                    dup[part] = _typo(dup[part], rng)
                elif change == "case":
                    dup["first"], dup["last"] = dup["first"].upper(), dup["last"].upper()
                    dup["email"] = dup["email"].upper()
                elif change == "gmail" and dup["email"].endswith("@gmail.com"):
                    local = dup["email"].split("@")[0].replace(".", "")
                    dup["email"] = f"{local[:3]}.{local[3:]}+crm{rng.randrange(9)}@googlemail.com"
                elif change == "phone" and dup["phone"]:
                    dup["phone_text"] = _phone_formats(dup["phone"], rng)
                elif change == "swap":
                    dup["swap"] = True
                elif change == "drop_email":
                    dup["email"] = None
                elif change == "drop_phone" and dup["email"]:
                    dup["phone"] = None
            records.append(dup)
        elif roll < 0.35:  # a colleague sharing the switchboard and the sales mailbox: not a duplicate
            colleague = dict(base, entity=f"c{p}", first=rng.choice(FIRST), last=rng.choice(LAST))
            records[-1]["email"] = colleague["email"] = f"sales@{company}.com"
            records.append(colleague)
        elif roll < 0.40:  # a namesake elsewhere: not a duplicate
            records.append(
                dict(
                    base,
                    entity=f"n{p}",
                    email=f"{first}{rng.randrange(1000, 9999)}@{rng.choice(DOMAINS)}",
                    phone=_local_number("737", rng),
                    city=rng.choice(CITIES),
                    company=rng.choice(COMPANIES),
                )
            )
    for r in records:
        name = f"{r['last']} {r['first']}" if r.pop("swap", False) else f"{r['first']} {r['last']}"
        r["name"] = name.title() if not name.isupper() else name
        r["phone_text"] = r.get("phone_text") or (f"+1{r['phone']}" if r.get("phone") else None)
    return records


def synthetic_rows(
    workspace_id: str, records: Iterable[dict[str, Any]]
) -> tuple[list[dict[str, Any]], dict[str, str]]:
    rows, entity = [], {}
    for r in records:
        email = email_normalized = phone_text = phone = None
        if r.get("email"):
            email, email_normalized = normalize_email(r["email"])
        if r.get("phone_text"):
            phone_text, phone = normalize_phone(r["phone_text"], "US")
        contact = row(
            workspace_id,
            name=r["name"],
            email=email,
            email_normalized=email_normalized,
            phone=phone_text,
            phone_e164=phone,
            location_city=r["city"],
            custom_attributes={"company": r["company"]},
        )
        rows.append(contact)
        entity[contact["id"]] = r["entity"]
    return rows, entity
