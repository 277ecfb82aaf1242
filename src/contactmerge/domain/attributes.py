"""Custom data attributes: their types, and the check every written value passes."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Literal

DataType = Literal["string", "integer", "float", "boolean", "date"]
DATA_TYPES: tuple[DataType, ...] = ("string", "integer", "float", "boolean", "date")
MAX_STRING_LENGTH = 255
# Integers are compared as 64-bit integers (BIGINT on PostgreSQL) by search, so only those are stored.
INT64_RANGE = (-(2**63), 2**63 - 1)
# Dates are Unix seconds within the years 1-9999 UTC: what a datetime can show, and day arithmetic stays in
# 64 bits.
DATE_RANGE = (-62_135_596_800, 253_402_300_799)


@dataclass(frozen=True)
class InvalidValue:
    """Why a value does not fit its attribute's type."""

    reason: str


def text_problem(text: str) -> str | None:
    """Why a string cannot be stored alike on every backend, if it cannot: PostgreSQL's text and JSONB refuse
    NUL, and a lone surrogate (``"\\ud800"``, which JSON can spell) is not Unicode that UTF-8 can encode."""
    if "\x00" in text:
        return "must not contain NUL characters"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "must not contain lone surrogates (not valid Unicode)"
    return None


def coerce_value(data_type: str, value: Any) -> Any | InvalidValue:
    """The value as it is stored (``None`` clears it), or why it is refused.

    Dates are stored as Unix seconds and accepted as Unix seconds or ISO 8601 strings.
    """
    if value is None:
        return None
    if data_type == "string":
        if not isinstance(value, str):
            return InvalidValue("must be a string")
        if len(value) > MAX_STRING_LENGTH:
            return InvalidValue(f"must be at most {MAX_STRING_LENGTH} characters")
        problem = text_problem(value)
        return value if problem is None else InvalidValue(problem)
    if data_type == "integer":
        if isinstance(value, bool) or not isinstance(value, int):
            return InvalidValue("must be an integer")
        if not INT64_RANGE[0] <= value <= INT64_RANGE[1]:
            return InvalidValue("must fit in 64 bits")
        return value
    if data_type == "float":
        if isinstance(value, bool) or not isinstance(value, int | float):
            return InvalidValue("must be a number")
        try:
            return float(value)
        except OverflowError:
            return InvalidValue("must be a finite number")
    if data_type == "boolean":
        if not isinstance(value, bool):
            return InvalidValue("must be true or false")
        return value
    if data_type == "date":
        return coerce_timestamp(value)
    return InvalidValue(f"has an unknown type {data_type!r}")


def coerce_timestamp(value: Any) -> int | InvalidValue:
    """Unix seconds from an integer or an ISO 8601 date/datetime string (UTC when no zone is given), within
    the years 1-9999 (``DATE_RANGE``)."""
    seconds: int
    if isinstance(value, bool):
        return InvalidValue("must be a Unix timestamp or an ISO 8601 date")
    if isinstance(value, int):
        seconds = value
    elif isinstance(value, float) and value.is_integer():
        seconds = int(value)
    elif isinstance(value, str):
        try:
            parsed = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            return InvalidValue("must be a Unix timestamp or an ISO 8601 date")
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=dt.UTC)
        seconds = int(parsed.timestamp())
    else:
        return InvalidValue("must be a Unix timestamp or an ISO 8601 date")
    if not DATE_RANGE[0] <= seconds <= DATE_RANGE[1]:
        return InvalidValue("must be a date between the years 1 and 9999")
    return seconds
