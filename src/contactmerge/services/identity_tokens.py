"""JWT identity verification, as Intercom's messenger offers it (``intercom_user_jwt``): a token signed with
HS256 and the workspace's identity secret whose claims are all trusted (design §4).

Required: ``user_id``. Optional: ``email``, ``name``, and the registered ``exp`` / ``nbf`` / ``iat``, which
are honoured. Any token that is malformed, tampered with, signed another way or expired is refused with
403 naming ``intercom_user_jwt``, and nothing is written.
"""

from __future__ import annotations

from typing import Any

import jwt

from contactmerge.domain.identity import SignedClaims
from contactmerge.errors import BadRequest, Forbidden
from contactmerge.services.normalizing import check_identifier, normalize_email

FIELD = "intercom_user_jwt"
ALGORITHM = "HS256"
LEEWAY_SECONDS = 30  # clock skew between the site's server and this one


def _decode(secret: str, token: str) -> dict[str, Any]:
    # PyJWT raises on a str it cannot encode (a lone surrogate): a token is ASCII, anything else is refused
    if not token.isascii():
        raise Forbidden("the token is not a JWT", field=FIELD)
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=[ALGORITHM],
            options={"require": ["user_id"], "verify_signature": True},
            leeway=LEEWAY_SECONDS,
        )
    except jwt.ExpiredSignatureError as error:
        raise Forbidden("the token has expired", field=FIELD) from error
    except jwt.MissingRequiredClaimError as error:
        raise Forbidden("the token must sign a user_id", field=FIELD) from error
    except jwt.InvalidTokenError as error:
        raise Forbidden(f"the token is not valid: {error}", field=FIELD) from error
    return dict(claims)


def read(secret: str, token: str) -> SignedClaims:
    """The identity a valid token signs; 403 for any other token."""
    claims = _decode(secret, token)
    user_id = claims["user_id"]
    if isinstance(user_id, int) and not isinstance(user_id, bool):
        user_id = str(user_id)
    if not isinstance(user_id, str):
        raise Forbidden("the token's user_id must be a string", field=FIELD)
    email = claims.get("email")
    if email is not None and not isinstance(email, str):
        raise Forbidden("the token's email must be a string", field=FIELD)
    try:
        external_id = check_identifier(user_id, field=FIELD)
        normalized = normalize_email(email, field=FIELD)[1] if email else None
    except BadRequest as error:
        raise Forbidden(f"the token's claims are not valid: {error.message}", field=FIELD) from error
    name = claims.get("name")
    return SignedClaims(external_id, normalized, name[:255] if isinstance(name, str) else None)


def make(secret: str, claims: dict[str, Any]) -> str:
    """What a site's server does to log its user in (used by the demo site and the docs' examples)."""
    return jwt.encode(claims, secret, algorithm=ALGORITHM)
