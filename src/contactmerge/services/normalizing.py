"""Validation and normalization of identifiers with the libraries made for it."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache, lru_cache

import phonenumbers
import pycountry
from email_validator import EmailNotValidError, validate_email

from contactmerge.domain.identifiers import canonical_email, is_junk
from contactmerge.errors import BadRequest

# Plain ASCII addresses that email-validator always accepts unchanged but for case: checked here in a
# microsecond instead of twenty (a CSV import validates millions). tests/test_normalizing.py proves the two
# agree; anything else goes to email-validator.
_PLAIN_EMAIL = re.compile(
    r"(?=[^@]{1,64}@)[a-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[a-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}",
    re.IGNORECASE,
)
_SPECIAL_USE_TLDS = frozenset(
    {"arpa", "invalid", "local", "localhost", "onion", "test", "internal", "home", "lan"}
)


def normalize_email(raw: str, *, field: str = "email") -> tuple[str, str]:
    """The email as given (trimmed) and its canonical form for matching; 400 naming ``field`` if invalid."""
    given = raw.strip()
    if (
        len(given) <= 254
        and _PLAIN_EMAIL.fullmatch(given)
        and given.rpartition(".")[2].lower() not in _SPECIAL_USE_TLDS
        and "--" not in given.rpartition("@")[2]  # IDNA reserves "--" labels (xn--…): the library decides
    ):
        return given, given.lower()
    try:
        info = validate_email(given, check_deliverability=False, allow_smtputf8=True)
    except EmailNotValidError as error:
        raise BadRequest(f"'{raw}' is not a valid email address: {error}", field=field) from error
    return given, canonical_email(info.normalized)


# International call prefixes written in front of a country code: "00" (most of the world) and "011"
# (North America), read as "+" whatever the region, when the number is not valid read as a national one.
_INTERNATIONAL_PREFIX = re.compile(r"^[\s(]*(?:00|011)[\s)./-]*(?=[1-9])")
# ISO 3166 reserves "UK" for the United Kingdom (GB), and people write it.
_RESERVED_COUNTRY_CODES = {"UK": "GB"}


@dataclass(frozen=True)
class Phone:
    """A phone cell read in a region: as given (trimmed), its E.164 form when it is a valid number there
    (or international), else ``problem`` says why not and whether it is a number at all (``kept``)."""

    given: str
    e164: str | None
    problem: str | None = None
    kept: bool = True


def read_phone(raw: str, region: str) -> Phone:
    """The phone's E.164 form when it is valid: international (``+``, ``00``, ``011``) or national in
    ``region``. A number that is only possible, or valid only in another region, gets none (R3: never a
    fake ``+1``); text that is not a number at all is ``kept=False``."""
    given = raw.strip()
    try:
        parsed = phonenumbers.parse(given, region)
    except phonenumbers.NumberParseException:
        return Phone(given, None, f"{given!r} is not a phone number", kept=False)
    if phonenumbers.is_valid_number(parsed):
        return Phone(given, _e164(parsed))
    international = _INTERNATIONAL_PREFIX.sub("+", given, count=1)
    if international != given:
        try:
            parsed = phonenumbers.parse(international, None)
        except phonenumbers.NumberParseException:
            pass
        else:
            if phonenumbers.is_valid_number(parsed):
                return Phone(given, _e164(parsed))
    where = "" if given.startswith("+") else f" in region {region}"
    return Phone(given, None, f"{given!r} is not a valid phone number{where}")


def _e164(parsed: phonenumbers.PhoneNumber) -> str:
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def normalize_phone(raw: str, region: str, *, field: str = "phone") -> tuple[str, str]:
    """The phone as given (trimmed) and its E.164 form; 400 naming ``field`` unless it is a valid number
    (see ``read_phone``)."""
    phone = read_phone(raw, region)
    if phone.e164 is None:
        hint = "" if phone.given.startswith("+") else ": write it with its +country code"
        raise BadRequest(f"{phone.problem}{hint}", field=field)
    return phone.given, phone.e164


def check_region(code: str, *, field: str) -> str:
    """An ISO 3166 region code that phone numbers can be read in ("gb" → "GB"); 400 naming ``field``."""
    region = code.strip().upper()
    if region not in phonenumbers.SUPPORTED_REGIONS:
        raise BadRequest(
            f"'{code}' is not a region code for phone numbers: use an ISO 3166 code such as US, GB or DE",
            field=field,
        )
    return region


@lru_cache(maxsize=4096)  # a file repeats a few hundred countries; pycountry's lookup scans them all
def country_region(text: str) -> str | None:
    """The region code a country cell names: an ISO 3166 code (alpha-2 or alpha-3), or the country's name
    in English or in one of the languages phonenumbers knows ("Deutschland"); None when unknown."""
    key = " ".join(text.split()).casefold()
    found = _RESERVED_COUNTRY_CODES.get(key.upper())
    if found is None:
        try:
            found = pycountry.countries.lookup(key).alpha_2
        except LookupError:
            found = _names().get(key)
    return found if found in phonenumbers.SUPPORTED_REGIONS else None


def country_name(region: str) -> str:
    """A region's English name as a contact's ``location.country`` keeps it ("GB" → "United Kingdom")."""
    country = pycountry.countries.get(alpha_2=region)
    return str(getattr(country, "common_name", None) or country.name) if country else region


@cache
def _names() -> dict[str, str]:
    """Country names in every language of phonenumbers' locale data → region; a name two regions share
    is left out."""
    found: dict[str, str] = {}
    shared: set[str] = set()
    from phonenumbers.geodata.locale import LOCALE_DATA  # 0.7 s to import: only when a country is read

    for region, names in LOCALE_DATA.items():
        if region not in phonenumbers.SUPPORTED_REGIONS:
            continue
        for name in names.values():
            if not name or name.startswith("*"):  # "*xx": the same name as language xx
                continue
            key = " ".join(name.split()).casefold()
            if found.setdefault(key, region) != region:
                shared.add(key)
    return {key: region for key, region in found.items() if key not in shared}


def check_identifier(value: str, *, field: str) -> str:
    """An external id that can identify a person, trimmed; placeholders like 'null' are refused."""
    if is_junk(value):
        raise BadRequest(f"'{value}' cannot identify a contact", field=field)
    return value.strip()
