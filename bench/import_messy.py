"""CSV import on messy international data it was not designed with (issue 12): how many people it keeps.

The rows come from Faker (a PyPI package with its own per-country formats for names, emails, phone
numbers and dates, written by other people): each row is one person of one of ten locales, with the
phone number as that locale writes it (national formats, ``+CC``, ``(0)``, extensions, ``00`` and
``011`` prefixes as some locales write them) and the sign-up date in one of several formats. Half of the
rows carry a ``country`` column; the import's default region is US, as a US workspace's would be.

What is measured, from the import's own report and the stored contacts:
- ``kept_ratio``: contacts created / rows with a valid email (every row has one): the goal is >= 0.999;
- ``phone_correct_ratio``: phones stored as the E.164 number the locale's own rules give (truth:
  ``phonenumbers.parse(number, locale_region)`` when that is valid);
- ``phone_wrong``: phones stored as an E.164 number that is not the truth (a "fake" number), goal 0,
  apart from ``phone_wrong_ambiguous``: rows without a country whose digits are a valid US number too
  (a 10-digit Italian or Indian number read in the US region: no rule can tell without a country);
- ``phone_unresolved_ratio``: valid phones stored without an E.164 form (no country column and a
  national format of another region: only a person can tell).
Failure modes covered: national formats of other regions, ``00``/``011`` prefixes, ``(0)`` trunk
prefixes, extensions, dates in local formats (dropped per cell, the row kept). Not covered: typos in
names and emails (see dedupe-quality), role mailboxes and shared phones (import-linking tests).
"""

from __future__ import annotations

import csv
import os
import random
import tempfile
from pathlib import Path

import phonenumbers
from sqlalchemy import select

from bench.common import Result, fresh_database, timed
from bench.imports import start_import
from contactmerge.services.importing import jobs as importing
from contactmerge.storage.db import make_sessionmaker
from contactmerge.storage.tables import Contact, Workspace

ROWS = int(os.environ.get("BENCH_MESSY_ROWS", "20000"))
SEED = 12
LOCALES = {
    "en_US": "US",
    "en_GB": "GB",
    "de_DE": "DE",
    "fr_FR": "FR",
    "it_IT": "IT",
    "es_ES": "ES",
    "nl_NL": "NL",
    "pt_BR": "BR",
    "en_IN": "IN",
    "en_AU": "AU",
}
DATE_FORMATS = ("%Y-%m-%d", "%d/%m/%Y", "%m/%d/%Y", "%d.%m.%Y", "%Y-%m-%dT%H:%M:%SZ")


def truth_e164(number: str, region: str) -> str | None:
    """What the number is by its own locale's rules: national in the locale's region, else, when it starts
    with ``00``/``011``, international (Faker's en_US writes ``001-…``); None when neither is valid."""
    candidates = [(number, region)]
    for prefix in ("011", "00"):
        if number.strip().startswith(prefix):
            candidates.append(("+" + number.strip()[len(prefix) :], region))
            break
    for text, where in candidates:
        try:
            parsed = phonenumbers.parse(text, where)
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_valid_number(parsed):
            return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    return None


def also_valid_in(number: str, region: str) -> bool:
    """The same digits are a valid number of ``region`` too: without a country, nobody can tell which."""
    try:
        return phonenumbers.is_valid_number(phonenumbers.parse(number, region))
    except phonenumbers.NumberParseException:
        return False


def write_file(path: Path, rows: int) -> tuple[dict[str, str | None], set[str]]:
    """The CSV; for each email the phone's true E.164 (None when the locale's own number is invalid); and
    the emails whose phone is ambiguous (no country column, and its digits valid in the US too)."""
    from faker import Faker  # a bench-only dependency (pip install .[bench])

    fakers = {locale: Faker(locale) for locale in LOCALES}
    for index, faker in enumerate(fakers.values()):
        faker.seed_instance(SEED + index)
    chooser = random.Random(SEED)
    truth: dict[str, str | None] = {}
    ambiguous: set[str] = set()
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["email", "name", "phone", "country", "signed_up_at"])
        for i in range(rows):
            locale = chooser.choice(list(LOCALES))
            faker, region = fakers[locale], LOCALES[locale]
            email = f"p{i}.{faker.user_name()}@{faker.free_email_domain()}"
            phone = faker.phone_number()
            truth[email.lower()] = truth_e164(phone, region)
            country = region if i % 2 else ""
            if not country and region != "US" and also_valid_in(phone, "US"):
                ambiguous.add(email.lower())
            signed_up = faker.date_time_between("-5y").strftime(chooser.choice(DATE_FORMATS))
            writer.writerow([email, faker.name(), phone, country, signed_up])
    return truth, ambiguous


def run(backend: str) -> Result:
    try:
        import faker  # noqa: F401
    except ImportError:
        return Result("import messy data", backend, {}, "skipped: pip install .[bench] for Faker")
    with tempfile.TemporaryDirectory() as folder, fresh_database(backend) as engine:
        path = Path(folder) / "messy.csv"
        truth, ambiguous = write_file(path, ROWS)
        sessions = make_sessionmaker(engine)
        workspace_id, import_id = start_import(sessions, path, "messy")
        seconds = timed(
            lambda: importing.run_import(sessions, workspace_id, import_id, lambda: path.open("rb"))
        )
        with sessions() as db:
            stored = db.execute(
                select(Contact.email_normalized, Contact.phone, Contact.phone_e164).where(
                    Contact.workspace_id == workspace_id
                )
            ).all()
            counts = importing.get_import(db, db.get_one(Workspace, workspace_id), import_id).counts
    correct = sum(1 for email, _, e164 in stored if e164 is not None and e164 == truth.get(email))
    wrong = [email for email, _, e164 in stored if e164 is not None and e164 != truth.get(email)]
    valid = sum(1 for e164 in truth.values() if e164 is not None)
    unresolved = sum(1 for email, _, e164 in stored if e164 is None and truth.get(email) is not None)
    figures = {
        "rows": float(ROWS),
        "rows_per_s": ROWS / seconds,
        "kept_ratio": len(stored) / ROWS,
        "phones_valid_in_their_locale": float(valid),
        "phone_correct_ratio": correct / max(valid, 1),
        "phone_wrong": float(len([e for e in wrong if e not in ambiguous])),
        "phone_wrong_ambiguous": float(len([e for e in wrong if e in ambiguous])),
        "phone_unresolved_ratio": unresolved / max(valid, 1),
        **{f"count_{name}": float(value) for name, value in sorted(counts.items())},
    }
    return Result(
        "import messy data",
        backend,
        figures,
        f"{ROWS:,} Faker people of {len(LOCALES)} locales, half with a country column, default region US; "
        "kept_ratio goal >= 0.999, phone_wrong goal 0",
    )
