"""The messenger's live feed: new agent replies reach an open or closed widget within about a second.

A feed is one browser's connection. Between polls it keeps what it has sent; each poll is one indexed query
(``storage.live.mark``), and only when that changed does it read what the browser may read, through the
very function ``GET /messenger/conversations`` uses (``messenger.read_threads``, design §4), and hand on the
parts the browser has not had. No notification crosses processes yet: each connection polls the database.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass

from sqlalchemy.orm import Session as DbSession

from contactmerge.errors import NotFound, TooManyRequests
from contactmerge.services import messenger
from contactmerge.storage import live as repo
from contactmerge.storage.tables import Workspace

PER_SESSION = 2  # one per browser, and one more while a reconnect overlaps the connection it replaces
RETRY_AFTER = 10


@dataclass(frozen=True)
class Update:
    """What a browser has not been sent: conversations with only their new parts, or (``complete``) all it
    may read, when something it had was taken away (an undone merge) or it asked for everything."""

    threads: messenger.Threads
    complete: bool


class Ended(Exception):
    """The browser's session ended (logged out) or never existed: the feed stops."""


class Feed:
    """One browser's live view, kept by its connection between polls."""

    def __init__(self, workspace_id: str, anonymous_id: str, after: str | None) -> None:
        self.workspace_id = workspace_id
        self.anonymous_id = anonymous_id
        self._after = after  # the newest part id the browser already had when it connected, if any
        self._mark: repo.Mark | None = None
        self._sent: set[str] | None = None

    def poll(self, db: DbSession) -> Update | None:
        """What changed since the last poll, None when nothing did; raises Ended."""
        mark = repo.mark(db, self.workspace_id, self.anonymous_id)
        if mark is None or mark.ended:
            raise Ended("the messenger session ended")
        if mark == self._mark:
            return None
        workspace = db.get_one(Workspace, self.workspace_id)
        try:
            threads = messenger.read_threads(db, workspace, self.anonymous_id)
        except NotFound as gone:  # it ended between the two reads
            raise Ended(gone.message) from None
        self._mark = mark
        readable = {p.id for parts in threads.parts.values() for p in parts}
        first, sent = self._sent is None, self._sent or set()
        self._sent = readable
        if (first and self._after is None) or (not first and not sent <= readable):
            return Update(threads, complete=True)
        if first:
            after = self._after or ""
            sent = {part_id for part_id in readable if part_id <= after}
        fresh = {cid: [p for p in parts if p.id not in sent] for cid, parts in threads.parts.items()}
        conversations = [c for c in threads.conversations if fresh[c.id]]
        if not conversations:
            return None
        return Update(messenger.Threads(conversations, fresh, threads.names), complete=False)


class Streams:
    """The live connections this process holds, capped in all, per client address and per browser session,
    so that nobody holds an unbounded number (429 past a cap)."""

    def __init__(self, *, total: int, per_address: int, per_session: int = PER_SESSION) -> None:
        self._caps = {"this server": total, "this address": per_address, "this browser": per_session}
        self._lock = threading.Lock()
        self._open: dict[tuple[str, str], int] = {}

    def hold(self, address: str | None, workspace_id: str, anonymous_id: str) -> tuple[tuple[str, str], ...]:
        """Count a new connection, or raise TooManyRequests; hand the result to ``release`` when it ends."""
        keys = (
            ("this server", ""),
            ("this address", address or ""),
            ("this browser", f"{workspace_id}/{anonymous_id}"),
        )
        with self._lock:
            for key in keys:
                limit = self._caps[key[0]]
                if self._open.get(key, 0) >= limit:
                    raise TooManyRequests(
                        f"too many live messenger connections from {key[0]} (at most {limit}); "
                        f"try again in {RETRY_AFTER} seconds",
                        retry_after=RETRY_AFTER,
                        limit=limit,
                        reset_at=math.ceil(time.time()) + RETRY_AFTER,
                    )
            for key in keys:
                self._open[key] = self._open.get(key, 0) + 1
        return keys

    def release(self, keys: tuple[tuple[str, str], ...]) -> None:
        with self._lock:
            for key in keys:
                left = self._open.get(key, 0) - 1
                if left > 0:
                    self._open[key] = left
                else:
                    self._open.pop(key, None)
