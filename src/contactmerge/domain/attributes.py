"""Custom data attributes: their types, and the check every written value passes."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Literal

DataType = Literal["string", "integer", "float", "boolean", "date"]
DATA_TYPES: tuple[DataType, ...] = ("string", "integer", "float", "boolean", "date")
MAX_STRING_LENGTH = 255


@dataclass(frozen=True)
class InvalidValue:
    """Why a value does not fit its attribute's type."""

    reason: str


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
        return value
    if data_type == "integer":
        if isinstance(value, bool) or not isinstance(value, int):
            return InvalidValue("must be an integer")
        return value
    if data_type == "float":
        if isinstance(value, bool) or not isinstance(value, int | float):
            return InvalidValue("must be a number")
        return float(value)
    if data_type == "boolean":
        if not isinstance(value, bool):
            return InvalidValue("must be true or false")
        return value
    if data_type == "date":
        return coerce_timestamp(value)
    return InvalidValue(f"has an unknown type {data_type!r}")


def coerce_timestamp(value: Any) -> int | InvalidValue:
    """Unix seconds from an integer or an ISO 8601 date/datetime string (UTC when no zone is given)."""
    if isinstance(value, bool):
        return InvalidValue("must be a Unix timestamp or an ISO 8601 date")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        try:
            parsed = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            return InvalidValue("must be a Unix timestamp or an ISO 8601 date")
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=dt.UTC)
        return int(parsed.timestamp())
    return InvalidValue("must be a Unix timestamp or an ISO 8601 date")
