"""Engines and sessions. Nothing here connects until asked to."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, any_, create_engine, event, literal, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import ConnectionPoolEntry


def make_engine(url: str, *, echo: bool = False) -> Engine:
    """An engine for SQLite (WAL, foreign keys on, busy timeout) or PostgreSQL (psycopg 3)."""
    if url.startswith("sqlite"):
        engine = create_engine(url, echo=echo, connect_args={"check_same_thread": False, "timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin_immediate)
        return engine
    # No pre-ping: it would cost every request a round trip; a connection the server dropped fails one
    # request and is replaced (pool_recycle keeps them young).
    # pool_size matches the 40 threads that run sync routes (anyio's default limiter), each holding at most
    # one connection; overflow is for the worker and seen-recorder threads. With 10 kept, 32 busy clients
    # made the pool close and reopen 10-25 connections a second, each a new PostgreSQL backend
    # (bench/load.py). Connections are still opened only when that many are wanted at once.
    return create_engine(url, echo=echo, pool_size=40, max_overflow=10, pool_recycle=1800)


def _sqlite_pragmas(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
    # Let SQLAlchemy emit BEGIN itself (below) instead of pysqlite's implicit, deferred one.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()
    # SQLite's lower() folds only ASCII; search compares text through this one (storage.search).
    dbapi_connection.create_function("cm_lower", 1, _unicode_lower, deterministic=True)


def _unicode_lower(value: Any) -> Any:
    return value.lower() if isinstance(value, str) else value


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False, autoflush=True)


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One unit of work for an outer boundary (request, job, CLI command): commit, or roll back on error."""
    with factory() as session, session.begin():
        yield session


def _sqlite_begin_immediate(connection: Any) -> None:
    # A deferred transaction that reads then writes fails at once with "database is locked" when another
    # writer got there first; taking the write lock up front makes writers queue on the busy timeout instead.
    # Read-only work asks for a deferred one (READ_ONLY below): in WAL mode it never waits for a writer.
    mode = connection.get_execution_options().get("sqlite_begin", "IMMEDIATE")
    connection.exec_driver_sql(f"BEGIN {'DEFERRED' if mode == 'DEFERRED' else 'IMMEDIATE'}")


READ_ONLY: dict[str, Any] = {"sqlite_begin": "DEFERRED"}


def read_only(session: Session, *, single_statement: bool = False) -> Session:
    """Mark a fresh session's transaction as read-only (on SQLite it then never waits behind a writer).

    ``single_statement``: the work is one query, so on PostgreSQL it runs without a transaction at all
    (no BEGIN and ROLLBACK round trips), which the messenger's most frequent request is.
    """
    options = dict(READ_ONLY)
    bind = session.get_bind()
    if single_statement and bind.dialect.name == "postgresql":
        options["isolation_level"] = "AUTOCOMMIT"
    session.connection(execution_options=options)
    return session


def among(session: Session, column: Any, values: Iterable[Any]) -> Any:
    """``column IN (values)``, as ``column = ANY(:array)`` on PostgreSQL.

    An IN list of thousands sends a differently shaped statement each time, which psycopg re-parses and
    PostgreSQL re-plans; one array parameter keeps a bulk lookup's text the same for every chunk.
    """
    items = list(values)
    if session.get_bind().dialect.name == "postgresql":
        return column == any_(literal(items, type_=ARRAY(column.type)))
    return column.in_(items)


def without_jit(db: Session) -> None:
    """Turn PostgreSQL's JIT compiler off for the rest of this transaction (no-op elsewhere).

    A bulk scan over a large workspace is costed high enough to get JIT with inlining and optimization,
    which spent about 0.9 s compiling a 2 s duplicate scan at 1M contacts and saved nothing.
    """
    if db.get_bind().dialect.name == "postgresql":
        db.execute(text("SET LOCAL jit = off"))
