"""Validation and normalization of identifiers with the libraries made for it."""

from __future__ import annotations

import phonenumbers
from email_validator import EmailNotValidError, validate_email

from contactmerge.domain.identifiers import canonical_email, is_junk
from contactmerge.errors import BadRequest


def normalize_email(raw: str, *, field: str = "email") -> tuple[str, str]:
    """The email as given (trimmed) and its canonical form for matching; 400 naming ``field`` if invalid."""
    given = raw.strip()
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
