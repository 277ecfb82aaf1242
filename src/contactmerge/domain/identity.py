"""Identity rules of the messenger (design §3 R1/R2, §4): user_hash, throttling, which user an email names."""

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
    """Lower-case hex HMAC-SHA256 of the external_id (or the email when there is none)."""
    return hmac.new(secret.encode(), identifier.encode(), hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class Verification:
    """Whether a login may proceed, and whether it proved who it is."""

    allowed: bool
    verified: bool
    reason: str


def verify_login(
    mode: str, secret: str, *, external_id: str | None, email: str | None, given_hash: str | None
) -> Verification:
    """Design §4: enforced needs a valid hash; optional refuses a wrong one; off trusts the page."""
    identifier = external_id or email or ""
    valid = bool(given_hash) and hmac.compare_digest(
        user_hash(secret, identifier), (given_hash or "").strip().lower()
    )
    if mode == "off":
        return Verification(True, True, "identity verification is off")
    if valid:
        return Verification(True, True, "user_hash is valid")
    if given_hash:
        return Verification(False, False, "user_hash does not match this user")
    if mode == "enforced":
        return Verification(False, False, "this workspace requires a user_hash")
    return Verification(True, False, "no user_hash given (optional mode): identified, not verified")


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
