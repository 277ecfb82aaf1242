"""Opaque, roughly time-ordered identifiers."""

from __future__ import annotations

import secrets
import time


def new_id() -> str:
    """24 hex characters: 12 of milliseconds since the epoch, 12 random. Sorting by id ~ creation order."""
    return f"{int(time.time() * 1000):012x}{secrets.token_hex(6)}"


def now() -> int:
    """The current time as Unix seconds, the unit of every timestamp in the API."""
    return int(time.time())
