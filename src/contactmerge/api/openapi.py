"""The OpenAPI document states every answer an operation really gives (docs/api.md, "OpenAPI").

FastAPI documents a 422 that this API never sends (api/errors.py answers a bad payload 400) and none of
the errors the middleware and the error tree produce. ``install(app)`` replaces ``app.openapi`` with a
generator that amends FastAPI's document once: the ``error.list`` envelope as a component, and on each
operation the error statuses derived from the route's shape (its path parameters, its body, whether it
takes the API token), plus the few a route's own rules add (``EXTRAS``). ``tests/test_schemathesis.py``
fuzzes every operation against the result, so a status or shape missing here fails the suite.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

ERROR_LIST = "ErrorList"
ENVELOPE = {"application/json": {"schema": {"$ref": f"#/components/schemas/{ERROR_LIST}"}}}

SCHEMAS: dict[str, Any] = {
    ERROR_LIST: {
        "type": "object",
        "title": ERROR_LIST,
        "description": "Intercom's error envelope: every error this API answers (docs/api.md, Errors).",
        "required": ["type", "request_id", "errors"],
        "properties": {
            "type": {"type": "string", "enum": ["error.list"]},
            "request_id": {"type": "string", "description": "Also in the X-Request-Id header."},
            "errors": {
                "type": "array",
                "minItems": 1,
                "items": {
                    "type": "object",
                    "required": ["code", "message"],
                    "properties": {
                        "code": {"type": "string", "examples": ["parameter_invalid"]},
                        "message": {"type": "string"},
                        "field": {"type": "string", "description": "The parameter at fault, when one is."},
                    },
                },
            },
        },
    }
}


def _header(description: str, kind: str = "string") -> dict[str, Any]:
    return {"description": description, "required": True, "schema": {"type": kind}}


RETRY_AFTER = _header("Seconds to wait before trying again.", "integer")
RATE_LIMIT_HEADERS = {
    "Retry-After": RETRY_AFTER,
    "X-RateLimit-Limit": _header("Failures allowed in the window.", "integer"),
    "X-RateLimit-Remaining": _header("Always 0 on a refusal.", "integer"),
    "X-RateLimit-Reset": _header("Unix time the window ends.", "integer"),
}

# status: (description, headers)
ERRORS: dict[int, tuple[str, dict[str, Any]]] = {
    400: ("A value is malformed, not allowed or missing (parameter_invalid, parameter_not_found).", {}),
    401: ("No token, or a token that is not valid (unauthorized).", {}),
    403: ("Not allowed for this caller (forbidden); the field names why.", {}),
    404: ("Not found in this workspace, or no such route (not_found).", {}),
    409: (
        "Conflicts with the data: an identifier taken, a merge refused by its state, a change made "
        "meanwhile (conflict, already_merged, target_merged, merge_held, merge_undone).",
        {},
    ),
    410: (
        "The contact was merged (contact_merged); Link names the survivor.",
        {"Link": _header('</contacts/{survivor_id}>; rel="canonical"')},
    ),
    413: ("The body is larger than the route accepts (request_too_large).", {}),
    429: ("Too many failed attempts from this address (rate_limit_exceeded).", RATE_LIMIT_HEADERS),
    503: (
        "The data was being changed by another request; nothing was written (service_unavailable).",
        {"Retry-After": RETRY_AFTER},
    ),
}

# What a route's own rules add to what its shape gives (docs/api.md states each).
EXTRAS: dict[tuple[str, str], set[int]] = {
    # a merged contact answers 410 to reads and to changes that are not forwarded to the survivor
    ("GET", "/contacts/{contact_id}"): {410},
    ("GET", "/contacts/find_by_external_id/{external_id}"): {410},
    ("DELETE", "/contacts/{contact_id}"): {410},
    ("POST", "/contacts/{contact_id}/archive"): {410},
    ("POST", "/contacts/{contact_id}/unarchive"): {410},
    ("GET", "/contacts/{contact_id}/tags"): {410},
    ("GET", "/contacts/{contact_id}/notes"): {410},
    ("GET", "/events"): {404, 410},
    ("GET", "/visitors"): {404, 410},
    ("PUT", "/visitors"): {404, 410},
    ("POST", "/visitors/convert"): {404, 410},
    # a contact, tag or merge named in the body or the query
    ("POST", "/contacts/merge"): {404},
    ("POST", "/merges/preview"): {404},
    ("POST", "/events"): {404},
    ("POST", "/conversations"): {404},
    ("POST", "/tags"): {404},
    ("POST", "/duplicates/apply"): {404},
    ("POST", "/conversations/{conversation_id}/reply"): {403},
    # the messenger names its workspace by app_id and its browser by anonymous_id (design §4)
    ("POST", "/messenger/ping"): {403, 404, 429},
    ("POST", "/messenger/email"): {403, 404},
    ("POST", "/messenger/messages"): {404},
    ("GET", "/messenger/conversations"): {404},
    ("POST", "/messenger/shutdown"): {404},
    # the live feed also refuses a connection past its caps (services/live.py)
    ("GET", "/messenger/stream"): {404, 429},
}

# Success answers that are not the JSON object FastAPI documents for every route
SUCCESSES: dict[tuple[str, str], dict[str, Any]] = {
    ("GET", "/imports/{import_id}/errors.csv"): {
        "200": {
            "description": "The rows the import did not apply, as CSV.",
            "content": {"text/csv": {"schema": {"type": "string"}}},
        }
    },
    ("POST", "/events"): {"202": {"description": "Recorded (no body)."}},
    ("GET", "/messenger/stream"): {
        "200": {
            "description": "Server-sent events (docs/messenger.md, Live replies): `parts`, `ended`, "
            "`reconnect`, and heartbeat comments.",
            "content": {"text/event-stream": {"schema": {"type": "string"}}},
        }
    },
}


def install(app: FastAPI) -> None:
    """Serve the amended document at /openapi.json (FastAPI's, built once, then amended once)."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        document = generate()
        if ERROR_LIST not in document.get("components", {}).get("schemas", {}):
            amend(document)
        return document

    app.openapi = openapi  # type: ignore[method-assign]


def amend(document: dict[str, Any]) -> None:
    """Every operation's answers, derived from its shape as the document states it: a ``security``
    requirement (api/deps.py declares the token), path parameters, a request body."""
    components = document.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)
    schemas.update(SCHEMAS)
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            _amend_operation(operation, method.upper(), path)


def _amend_operation(operation: dict[str, Any], method: str, path: str) -> None:
    responses: dict[str, Any] = operation["responses"]
    responses.pop("422", None)
    responses.update(SUCCESSES.get((method, path), {}))
    for answer in responses.values():
        _require_type(answer.get("content", {}).get("application/json", {}).get("schema"))
    statuses = {400, 503} | EXTRAS.get((method, path), set())
    if operation.get("security"):
        statuses |= {401, 429}
    if any(parameter["in"] == "path" for parameter in operation.get("parameters", [])):
        statuses.add(404)
    if "requestBody" in operation:
        statuses.add(413)
    if method != "GET":
        statuses.add(409)  # a write that collides with one made meanwhile (api/errors.py, _integrity)
    for status in sorted(statuses):
        description, headers = ERRORS[status]
        entry: dict[str, Any] = {"description": description, "content": ENVELOPE}
        if headers:
            entry["headers"] = headers
        responses[str(status)] = entry


def _require_type(schema: dict[str, Any] | None) -> None:
    """Every JSON answer is an object naming its kind in ``type``, as Intercom's are (``contact``,
    ``list``, ``merge.preview``...); FastAPI knows only that the routes return a dict."""
    if schema is not None and schema.get("type") == "object" and "properties" not in schema:
        schema["required"] = ["type"]
        schema["properties"] = {"type": {"type": "string", "description": "The object's kind."}}
