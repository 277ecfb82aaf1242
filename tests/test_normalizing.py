"""Email and phone normalization: the fast path for plain emails agrees with email-validator."""

from __future__ import annotations

import pytest
from email_validator import EmailNotValidError, validate_email
from hypothesis import example, given, settings
from hypothesis import strategies as st

from contactmerge.domain.identifiers import canonical_email
from contactmerge.errors import BadRequest
from contactmerge.services.normalizing import (
    _PLAIN_EMAIL,
    Phone,
    check_region,
    country_region,
    normalize_email,
    normalize_phone,
    read_phone,
)

LOCAL = st.text(alphabet="abcXYZ019.!#$%&'*+/=?^_`{|}~-\"", min_size=0, max_size=70)
LABEL = st.text(alphabet="abzAZ09-", min_size=0, max_size=64)
TLD = st.sampled_from(
    ["com", "org", "io", "de", "test", "invalid", "local", "c", "x1", "museum", "COM", "localhost"]
)


def reference(address: str) -> str | None:
    try:
        info = validate_email(address, check_deliverability=False, allow_smtputf8=True)
    except EmailNotValidError:
        return None
    return canonical_email(info.normalized)


@settings(max_examples=3000)
@given(local=LOCAL, labels=st.lists(LABEL, min_size=1, max_size=3), tld=TLD)
@example(local="a..b", labels=["example"], tld="com")
@example(local=".a", labels=["example"], tld="com")
@example(local="a", labels=["-x"], tld="com")
@example(local="a" * 65, labels=["example"], tld="com")
@example(local="a", labels=["x" * 64], tld="com")
@example(local="a", labels=["example"], tld="test")
def test_the_fast_path_accepts_only_what_email_validator_accepts_and_normalizes_alike(
    local: str, labels: list[str], tld: str
) -> None:
    address = f"{local}@{'.'.join(labels)}.{tld}"
    expected = reference(address)
    if _PLAIN_EMAIL.fullmatch(address) and expected is None:
        # the fast path only takes what the library accepts (special-use TLDs are checked after the regex)
        with pytest.raises(BadRequest):
            normalize_email(address)
        return
    if expected is None:
        with pytest.raises(BadRequest):
            normalize_email(address)
    else:
        assert normalize_email(address)[1] == expected


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("  Ada@Example.COM ", "ada@example.com"),
        ("zoë@bücher.de", "zoë@xn--bcher-kva.de"),
        ("a+tag@gmail.com", "a+tag@gmail.com"),
    ],
)
def test_emails_are_normalized(given: str, expected: str) -> None:
    assert normalize_email(given)[1] == expected


@pytest.mark.parametrize("bad", ["plain", "a@b", "a@@b.com", "a@localhost", "a b@c.com", "a@b.test"])
def test_bad_emails_are_refused_naming_the_field(bad: str) -> None:
    with pytest.raises(BadRequest) as refused:
        normalize_email(bad, field="email")
    assert refused.value.field == "email"


def test_phones_become_e164() -> None:
    assert normalize_phone("(512) 555-0100", "US")[1] == "+15125550100"
    with pytest.raises(BadRequest):
        normalize_phone("12", "US")


@pytest.mark.parametrize(
    ("given", "region", "e164"),
    [
        ("00 44 20 7946 0958", "US", "+442079460958"),  # "00" where the region's own prefix is "011"
        ("(00) 44 20 7946 0958", "US", "+442079460958"),
        ("001 512 555 0100", "US", "+15125550100"),
        ("001 512 555 0100", "GB", "+15125550100"),
        ("011 44 20 7946 0958", "US", "+442079460958"),
        ("011 44 20 7946 0958", "GB", "+442079460958"),  # "011" where the region's own prefix is "00"
        ("0113 496 0000", "GB", "+441134960000"),  # a Leeds number, not the "011" prefix
        ("020 7946 0958", "GB", "+442079460958"),
        ("030 12345678", "DE", "+493012345678"),
        ("06 12 34 56 78", "FR", "+33612345678"),
        ("+1 512 555 0100", "DE", "+15125550100"),
        # valid only elsewhere, or nowhere: no E.164 form (never a fake +1)
        ("06 12 34 56 78", "US", None),
        ("020 7946 0958", "US", None),
        ("44 20 7946 0958", "US", None),  # a country code without + or a prefix is not guessed
        ("+1 555 0100", "US", None),
        ("12", "US", None),
    ],
)
def test_phones_are_read_internationally_or_in_the_region_and_must_be_valid(
    given: str, region: str, e164: str | None
) -> None:
    phone = read_phone(given, region)
    assert (phone.given, phone.e164, phone.kept) == (given, e164, True)
    assert (phone.problem is None) == (e164 is not None)
    if e164 is None:
        with pytest.raises(BadRequest) as refused:
            normalize_phone(given, region)
        assert refused.value.field == "phone" and "not a valid phone number" in refused.value.message


@pytest.mark.parametrize("text", ["n/a", "call me", "0", "-1", "+"])
def test_text_that_is_no_number_is_not_kept(text: str) -> None:
    assert read_phone(text, "US") == Phone(text, None, f"{text!r} is not a phone number", kept=False)


@pytest.mark.parametrize(
    ("text", "region"),
    [
        ("GB", "GB"),
        ("gb", "GB"),
        ("UK", "GB"),
        (" United  Kingdom ", "GB"),
        ("GBR", "GB"),
        ("Deutschland", "DE"),
        ("Allemagne", "DE"),
        ("DEU", "DE"),
        ("usa", "US"),
        ("United States", "US"),
        ("South Korea", "KR"),
        ("Narnia", None),
        ("", None),
        ("Antarctica", None),  # a country without a numbering plan of its own
    ],
)
def test_a_country_cell_names_a_region(text: str, region: str | None) -> None:
    assert country_region(text) == region


def test_region_codes_are_checked() -> None:
    assert check_region(" gb ", field="region") == "GB"
    for bad in ("XX", "Germany", "", "001"):
        with pytest.raises(BadRequest) as refused:
            check_region(bad, field="region")
        assert refused.value.field == "region"
