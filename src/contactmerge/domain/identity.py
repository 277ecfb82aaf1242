"""Identity rules of the messenger (design §3 R1/R2, §4): what a login's signature covers, what a browser
may do as a contact, throttling, and which user an email names.

A ping that logs in names a user by one identifier: its ``user_id`` (external_id), or its email when it has
no ``user_id``. A ``user_hash`` signs exactly that identifier; a JWT signs its claims. Whatever else the
ping says is *claimed*: kept as a claim of the user it logged in as, never used to find, create or merge
another contact.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

VerificationMode = Literal["off", "optional", "enforced"]
ATTRIBUTE_UPDATES_PER_WINDOW = 20
ATTRIBUTE_WINDOW_SECONDS = 30 * 60


def user_hash(secret: str, identifier: str) -> str:
    """Lower-case hex HMAC-SHA256 of the external_id (or the normalized email when there is none)."""
    return hmac.new(secret.encode(), identifier.encode(), hashlib.sha256).hexdigest()


def hash_matches(secret: str, identifier: str, given: str) -> bool:
    """Constant time. Any string is an answer, never an error: non-ASCII, NUL or huge is no match."""
    expected = user_hash(secret, identifier).encode()
    offered = given.strip().lower().encode(errors="replace")
    return hmac.compare_digest(expected, offered)


@dataclass(frozen=True)
class SignedClaims:
    """The claims of a JWT whose signature (and expiry) the service checked: all of them are trusted."""

    user_id: str
    email: str | None = None  # normalized
    name: str | None = None


@dataclass(frozen=True)
class Login:
    """A login's verdict: may it proceed, did it prove who it is, and what of the ping is trusted.

    ``external_id`` (else ``email``) finds or creates the user. ``email_trusted`` says whether the email may
    be written on the user as verified; an untrusted one is only a claim.
    """

    allowed: bool
    verified: bool
    reason: str = ""  # why a login is refused: the 403's message
    external_id: str | None = None
    email: str | None = None
    email_trusted: bool = False


def verify_login(
    mode: str,
    secret: str,
    *,
    external_id: str | None,
    email: str | None,
    given_hash: str | None,
    token: SignedClaims | None = None,
) -> Login:
    """Design §4: a signature covers only what it signs. ``enforced`` needs one; ``optional`` refuses a
    wrong one and takes a missing one as a claim; ``off`` trusts the page. ``email`` is normalized."""
    if token is not None:
        if external_id is not None and external_id != token.user_id:
            return Login(False, False, "the user_id differs from the one the token signs")
        # the token's email is signed; without one, an email beside the token is only a claim
        return Login(
            True,
            True,
            external_id=token.user_id,
            email=email if token.email is None else token.email,
            email_trusted=token.email is not None,
        )
    if mode == "off":
        return Login(
            True,
            True,
            external_id=external_id,
            email=email,
            email_trusted=email is not None,
        )
    # the one identifier a user_hash signs: the external_id, else the normalized email
    signed = external_id if external_id is not None else email
    if given_hash is not None:
        if signed is None or not hash_matches(secret, signed, given_hash):
            return Login(False, False, "user_hash does not match this user")
        return Login(
            True,
            True,
            external_id=external_id,
            email=email,
            email_trusted=external_id is None,
        )
    if mode == "enforced":
        return Login(False, False, "this workspace requires a user_hash or a signed token")
    # optional mode, no signature: a claim, not a login; nothing of it is trusted
    return Login(True, False, external_id=external_id, email=email)


def speaks_for(logged_in_contact_id: str | None, origin_contact_id: str, contact_id: str, role: str) -> bool:
    """Design §4: a browser acts as a contact (reads all its conversations, learns its details, changes
    its attributes) only when it logged in as it with a valid signature, or when the contact is the
    browser's own visitor or lead. A merge moves data into a user, never access."""
    if logged_in_contact_id == contact_id:
        return True
    return origin_contact_id == contact_id and role != "user"


@dataclass(frozen=True)
class Throttle:
    allowed: bool
    window_start: int
    count: int


def throttle_attribute_update(window_start: int, count: int, now: int) -> Throttle:
    """Intercom's messenger limit: 20 attribute updates per session in 30 minutes."""
    if now - window_start >= ATTRIBUTE_WINDOW_SECONDS:
        return Throttle(True, now, 1)
    if count >= ATTRIBUTE_UPDATES_PER_WINDOW:
        return Throttle(False, window_start, count)
    return Throttle(True, window_start, count + 1)


@dataclass(frozen=True)
class UserCandidate:
    id: str
    last_seen_at: int | None


def pick_email_match(users: Sequence[UserCandidate]) -> tuple[UserCandidate, str] | None:
    """R2: the user an email names; with several, the most recently seen (as Intercom), saying so."""
    if not users:
        return None
    ranked = sorted(users, key=lambda u: (u.last_seen_at or 0, u.id), reverse=True)
    if len(ranked) == 1:
        return ranked[0], "exactly one user has this email"
    return ranked[0], f"{len(ranked)} users have this email; the most recently seen was chosen"
