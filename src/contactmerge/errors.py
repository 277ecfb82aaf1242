"""The one error tree. Every error knows its HTTP status and its Intercom error code.

    ContactMergeError                 500 server_error
    ├── BadRequest                    400 parameter_invalid
    │   ├── ParameterNotFound         400 parameter_not_found
    │   └── InvalidMerge              400 invalid_merge        (issue 3)
    ├── Unauthorized                  401 unauthorized
    ├── Forbidden                     403 forbidden
    ├── NotFound                      404 not_found
    ├── Conflict                      409 conflict
    └── Gone                          410 contact_merged       (issue 3)

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
