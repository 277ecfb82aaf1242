"""The identity rules of design §4 as pure functions: what a signature covers, what a browser may do."""

from __future__ import annotations

import hashlib
import hmac

import pytest
from hypothesis import given
from hypothesis import strategies as st

from contactmerge.domain.identity import (
    ATTRIBUTE_UPDATES_PER_WINDOW,
    ATTRIBUTE_WINDOW_SECONDS,
    Login,
    SignedClaims,
    UserCandidate,
    hash_matches,
    pick_email_match,
    speaks_for,
    throttle_attribute_update,
    user_hash,
    verify_login,
)

SECRET = "s3cret"


def sign(identifier: str) -> str:
    return hmac.new(SECRET.encode(), identifier.encode(), hashlib.sha256).hexdigest()


def login(mode: str, **kwargs: object) -> Login:
    fields: dict[str, object] = {"external_id": None, "email": None, "given_hash": None, **kwargs}
    return verify_login(mode, SECRET, **fields)  # type: ignore[arg-type]


def test_user_hash_is_the_documented_hmac() -> None:
    assert user_hash(SECRET, "u-1") == sign("u-1")
    assert user_hash(SECRET, "u-1") == user_hash(SECRET, "u-1").lower()
    assert len(user_hash(SECRET, "u-1")) == 64
    assert user_hash("other", "u-1") != user_hash(SECRET, "u-1")


@pytest.mark.parametrize("given_as", [sign("u-1"), sign("u-1").upper(), f"  {sign('u-1')} "])
def test_a_hash_matches_in_any_case_and_trimmed(given_as: str) -> None:
    assert hash_matches(SECRET, "u-1", given_as)


@given(st.text(max_size=200))
def test_any_other_string_is_no_match_and_never_an_error(given_as: str) -> None:
    if given_as.strip().lower() != sign("u-1"):
        assert not hash_matches(SECRET, "u-1", given_as)


@pytest.mark.parametrize("given_as", ["\ud800", sign("u-1")[:-1] + "\udfff", "é" * 64, "\x00" * 64])
def test_strings_a_json_body_can_carry_are_no_match(given_as: str) -> None:
    assert not hash_matches(SECRET, "u-1", given_as)


@pytest.mark.parametrize("mode", ["optional", "enforced"])
def test_a_valid_hash_of_the_user_id_covers_the_user_id_only(mode: str) -> None:
    verdict = login(mode, external_id="u-1", email="v@example.com", given_hash=sign("u-1"))
    assert (verdict.allowed, verdict.verified) == (True, True)
    assert (verdict.external_id, verdict.email, verdict.email_trusted) == ("u-1", "v@example.com", False)


@pytest.mark.parametrize("mode", ["optional", "enforced"])
def test_an_email_only_login_signs_the_email_and_trusts_it(mode: str) -> None:
    verdict = login(mode, email="ada@example.com", given_hash=sign("ada@example.com"))
    assert (verdict.allowed, verdict.verified, verdict.email_trusted) == (True, True, True)
    assert verdict.external_id is None and verdict.email == "ada@example.com"


@pytest.mark.parametrize("mode", ["optional", "enforced"])
@pytest.mark.parametrize(
    "fields",
    [
        {"external_id": "victim", "given_hash": sign("attacker")},
        {"external_id": "u-1", "email": "v@example.com", "given_hash": sign("v@example.com")},
        {"email": "v@example.com", "given_hash": sign("other@example.com")},
        {"external_id": "u-1", "given_hash": ""},
        {"external_id": "u-1", "given_hash": "é" * 64},
        {"given_hash": sign("")},
    ],
    ids=[
        "other user",
        "email when there is a user_id",
        "other email",
        "empty",
        "non-ascii",
        "nothing signed",
    ],
)
def test_a_wrong_hash_is_refused_in_both_modes(mode: str, fields: dict[str, str]) -> None:
    verdict = login(mode, **fields)
    assert (verdict.allowed, verdict.verified) == (False, False)
    assert verdict.reason == "user_hash does not match this user"


def test_enforced_refuses_a_missing_hash() -> None:
    verdict = login("enforced", external_id="u-1")
    assert (verdict.allowed, verdict.verified) == (False, False)
    assert verdict.reason == "this workspace requires a user_hash or a signed token"


def test_optional_takes_a_missing_hash_as_a_claim_trusting_nothing() -> None:
    verdict = login("optional", external_id="u-1", email="v@example.com")
    assert (verdict.allowed, verdict.verified, verdict.email_trusted) == (True, False, False)
    assert (verdict.external_id, verdict.email) == ("u-1", "v@example.com")
    email_only = login("optional", email="v@example.com")
    assert (email_only.allowed, email_only.verified, email_only.email_trusted) == (True, False, False)


def test_off_trusts_the_page() -> None:
    verdict = login("off", external_id="u-1", email="v@example.com", given_hash="0" * 64)
    assert (verdict.allowed, verdict.verified, verdict.email_trusted) == (True, True, True)
    assert (verdict.external_id, verdict.email) == ("u-1", "v@example.com")
    assert login("off", external_id="u-1").email_trusted is False


@pytest.mark.parametrize("mode", ["off", "optional", "enforced"])
def test_a_checked_token_trusts_every_claim_it_signs(mode: str) -> None:
    token = SignedClaims("u-1", "ada@example.com", "Ada")
    verdict = login(mode, email="typed@example.com", token=token)
    assert (verdict.allowed, verdict.verified, verdict.email_trusted) == (True, True, True)
    assert (verdict.external_id, verdict.email) == ("u-1", "ada@example.com")
    same_id = login(mode, external_id="u-1", token=token)
    assert (same_id.allowed, same_id.external_id) == (True, "u-1")


def test_an_email_beside_a_token_without_one_is_a_claim() -> None:
    verdict = login("enforced", email="typed@example.com", token=SignedClaims("u-1"))
    assert (verdict.allowed, verdict.verified) == (True, True)
    assert (verdict.email, verdict.email_trusted) == ("typed@example.com", False)
    bare = login("enforced", token=SignedClaims("u-1"))
    assert (bare.email, bare.email_trusted) == (None, False)


@pytest.mark.parametrize("mode", ["off", "optional", "enforced"])
def test_a_token_for_another_user_id_than_the_ping_names_is_refused(mode: str) -> None:
    verdict = login(mode, external_id="victim", token=SignedClaims("attacker"))
    assert (verdict.allowed, verdict.verified) == (False, False)
    assert verdict.reason == "the user_id differs from the one the token signs"


def test_a_browser_speaks_for_the_user_it_logged_in_as_and_for_its_own_lead() -> None:
    assert speaks_for("u", "lead", "u", "user")
    assert speaks_for(None, "lead", "lead", "lead")
    assert speaks_for(None, "visitor", "visitor", "visitor")
    assert speaks_for("u", "u", "u", "user")


def test_a_browser_never_speaks_for_a_user_it_did_not_log_in_as() -> None:
    assert not speaks_for(None, "lead", "u", "user")  # merged in from its lead
    assert not speaks_for(None, "u", "u", "user")  # an unsigned login opened the session
    assert not speaks_for("other", "u", "u", "user")
    assert not speaks_for("u", "lead", "other-lead", "lead")  # its lead merged into another lead


def test_attribute_updates_are_throttled_per_window() -> None:
    start = 1_000_000
    first = throttle_attribute_update(0, 0, start)
    assert (first.allowed, first.window_start, first.count) == (True, start, 1)
    count, allowed = 1, []
    for _ in range(ATTRIBUTE_UPDATES_PER_WINDOW):
        verdict = throttle_attribute_update(start, count, start + 10)
        allowed.append(verdict.allowed)
        count = verdict.count
    assert allowed == [True] * (ATTRIBUTE_UPDATES_PER_WINDOW - 1) + [False]
    assert count == ATTRIBUTE_UPDATES_PER_WINDOW
    middle = throttle_attribute_update(start, 3, start + 60)
    assert (middle.allowed, middle.window_start, middle.count) == (True, start, 4)
    edge = throttle_attribute_update(start, count, start + ATTRIBUTE_WINDOW_SECONDS - 1)
    assert (edge.allowed, edge.window_start) == (False, start)
    fresh = throttle_attribute_update(start, count, start + ATTRIBUTE_WINDOW_SECONDS)
    assert (fresh.allowed, fresh.window_start, fresh.count) == (True, start + ATTRIBUTE_WINDOW_SECONDS, 1)


def test_an_email_names_the_most_recently_seen_user() -> None:
    assert pick_email_match([]) is None
    only = pick_email_match([UserCandidate("a", None)])
    assert only == (UserCandidate("a", None), "exactly one user has this email")
    chosen = pick_email_match([UserCandidate("a", 5), UserCandidate("b", 9), UserCandidate("c", None)])
    assert chosen is not None
    assert chosen[0].id == "b" and chosen[1].startswith("3 users have this email")
    tie = pick_email_match([UserCandidate("a", 5), UserCandidate("b", 5)])
    assert tie is not None and tie[0].id == "b"
    never_seen = pick_email_match([UserCandidate("a", 1), UserCandidate("b", None)])
    assert never_seen is not None and never_seen[0].id == "a"
