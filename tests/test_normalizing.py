"""Email and phone normalization: the fast path for plain emails agrees with email-validator."""

from __future__ import annotations

import pytest
from email_validator import EmailNotValidError, validate_email
from hypothesis import example, given, settings
from hypothesis import strategies as st

from contactmerge.domain.identifiers import canonical_email
from contactmerge.errors import BadRequest
from contactmerge.services.normalizing import _PLAIN_EMAIL, normalize_email, normalize_phone

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
