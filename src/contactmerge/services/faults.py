"""Test-only fault injection: a hook called with the name of each step while a merge or an import chunk is
applied, so a test can kill the process between two statements and check the database is fully merged or
untouched (or the import resumed with no row lost or doubled)."""

from __future__ import annotations

from collections.abc import Callable

hook: Callable[[str], None] | None = None


def step(name: str) -> None:
    if hook is not None:
        hook(name)
