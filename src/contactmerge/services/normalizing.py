"""Validation and normalization of identifiers with the libraries made for it."""

from __future__ import annotations

import re

import phonenumbers
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


def normalize_phone(raw: str, region: str, *, field: str = "phone") -> tuple[str, str]:
    """The phone as given (trimmed) and its E.164 form; 400 naming ``field`` if it is not a phone number."""
    given = raw.strip()
    try:
        parsed = phonenumbers.parse(given, region)
    except phonenumbers.NumberParseException as error:
        raise BadRequest(f"'{raw}' is not a valid phone number: {error}", field=field) from error
    if not phonenumbers.is_possible_number(parsed):
        raise BadRequest(f"'{raw}' is not a valid phone number", field=field)
    return given, phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def check_identifier(value: str, *, field: str) -> str:
    """An external id that can identify a person, trimmed; placeholders like 'null' are refused."""
    if is_junk(value):
        raise BadRequest(f"'{value}' cannot identify a contact", field=field)
    return value.strip()
