"""Brute-force limits (design §4): failed API tokens, admin sign-ins and messenger logins are counted per
client address and per workspace in fixed windows. The counts are rows, so every process serving the
database shares them.

A boundary asks ``check`` before it looks at the secret and calls ``failed`` when the secret was wrong:
past the limit even the right secret is refused, or guessing would go on and merely hear "429" instead of
"401" for its misses.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Literal

from sqlalchemy.orm import Session, sessionmaker

from contactmerge.domain.rate_limits import Window, client_subject, window_at
from contactmerge.errors import TooManyRequests
from contactmerge.settings import Settings
from contactmerge.storage import rate_limits as repo
from contactmerge.storage.db import read_only, transaction

Scope = Literal["api_token", "admin_sign_in", "messenger_login"]
ANY_WORKSPACE = ""  # an address's counter spans every workspace: a guessed token names none
WHOLE_WORKSPACE = "*"  # the subject of a workspace's own counter; no client address is spelled so


class Limiter:
    """Counts in short transactions of its own, apart from the request's: a refused request rolls its own
    work back, and its failure must count all the same."""

    def __init__(
        self, settings: Settings, sessions: sessionmaker[Session], clock: Callable[[], float] = time.time
    ) -> None:
        self._seconds = settings.auth_failure_window_seconds
        self._per_address = settings.auth_failures_per_address
        self._per_workspace = settings.auth_failures_per_workspace
        self._sessions = sessions
        self._clock = clock
        self._swept = 0  # start of the window whose predecessors this process last deleted

    def check(self, scope: Scope, *, address: str | None, workspace_id: str | None = None) -> None:
        """Raise TooManyRequests (429) when the address, or the workspace when one is named, has used up
        its failures of ``scope`` in this window. Ask before checking the secret."""
        now = self._clock()
        window = window_at(now, self._seconds)
        subject = client_subject(address)
        with self._sessions() as db:
            read_only(db, single_statement=True)  # independent reads: no transaction needed around them
            if repo.count(db, ANY_WORKSPACE, scope, subject, window.start) >= self._per_address:
                raise _refused("from this address", self._per_address, window, now)
            if workspace_id is None:
                return
            if repo.count(db, workspace_id, scope, WHOLE_WORKSPACE, window.start) >= self._per_workspace:
                raise _refused("for this workspace", self._per_workspace, window, now)

    def failed(self, scope: Scope, *, address: str | None, workspace_id: str | None = None) -> None:
        """Count one failed attempt against the address and, when one is named, the workspace.

        Commits at once. Call it after the request's own transaction has ended: on SQLite a request that
        still holds the write lock would make this wait for it.
        """
        window = window_at(self._clock(), self._seconds)
        with transaction(self._sessions) as db:
            repo.hit(db, ANY_WORKSPACE, scope, client_subject(address), window.start)
            if workspace_id is not None:
                repo.hit(db, workspace_id, scope, WHOLE_WORKSPACE, window.start)
        if window.start > self._swept:
            # Once per window per process, after the counts are committed: it must not hold them up.
            self._swept = window.start
            with transaction(self._sessions) as db:
                repo.forget_before(db, window.start)


def _refused(whom: str, limit: int, window: Window, now: float) -> TooManyRequests:
    retry_after = window.retry_after(now)
    return TooManyRequests(
        f"Too many failed attempts {whom}; retry in {retry_after} seconds",
        retry_after=retry_after,
        limit=limit,
        reset_at=window.end,
    )
