"""The one error tree. Every error knows its HTTP status and its Intercom error code.

    ContactMergeError                 500 server_error
    ├── BadRequest                    400 parameter_invalid
    │   ├── ParameterNotFound         400 parameter_not_found
    │   └── MergeRefusedError         400 invalid_merge, merge_into_self, …
    ├── Unauthorized                  401 unauthorized
    ├── Forbidden                     403 forbidden
    ├── NotFound                      404 not_found
    ├── Conflict                      409 conflict, already_merged, merge_held, merge_undone, …
    ├── Gone                          410 contact_merged
    ├── RequestTooLarge               413 request_too_large
    └── TooManyRequests               429 rate_limit_exceeded

The API renders them in Intercom's ``error.list`` envelope; the CLI prints the message and exits 1.
"""

from __future__ import annotations


class ContactMergeError(Exception):
    status_code = 500
    code = "server_error"

    def __init__(self, message: str, *, field: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        if code is not None:
            self.code = code


class BadRequest(ContactMergeError):
    status_code = 400
    code = "parameter_invalid"


class ParameterNotFound(BadRequest):
    code = "parameter_not_found"


class Unauthorized(ContactMergeError):
    status_code = 401
    code = "unauthorized"


class Forbidden(ContactMergeError):
    status_code = 403
    code = "forbidden"


class NotFound(ContactMergeError):
    status_code = 404
    code = "not_found"


class Conflict(ContactMergeError):
    status_code = 409
    code = "conflict"


class Gone(ContactMergeError):
    """The contact was merged; ``canonical_id`` is the live contact it resolves to."""

    status_code = 410
    code = "contact_merged"

    def __init__(self, message: str, *, canonical_id: str) -> None:
        super().__init__(message, field="id")
        self.canonical_id = canonical_id


class RequestTooLarge(ContactMergeError):
    """A request body over its route's limit (design §4), refused before it was read."""

    status_code = 413
    code = "request_too_large"


class TooManyRequests(ContactMergeError):
    """Too many failed attempts in this window (design §4): even the right secret waits ``retry_after`` s."""

    status_code = 429
    code = "rate_limit_exceeded"

    def __init__(self, message: str, *, retry_after: int, limit: int, reset_at: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.limit = limit
        self.reset_at = reset_at

    def headers(self) -> dict[str, str]:
        """``Retry-After``, and the ``X-RateLimit-*`` headers Intercom's clients wait by."""
        return {
            "Retry-After": str(self.retry_after),
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": "0",
            "X-RateLimit-Reset": str(self.reset_at),
        }


class MergeRefusedError(BadRequest):
    """A merge the rules refuse (design §3); nothing was changed."""


MERGE_CONFLICT_CODES = frozenset(
    {"already_merged", "target_merged", "merge_held", "merge_undone", "fan_in_cap"}
)


def merge_refused(code: str, message: str, field: str | None = None) -> ContactMergeError:
    """The error for a refusal code: 409 when the state of the data is at fault, 400 when the request is."""
    if code in MERGE_CONFLICT_CODES:
        return Conflict(message, field=field, code=code)
    return MergeRefusedError(message, field=field, code=code)
