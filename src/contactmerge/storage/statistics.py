"""Planner statistics. PostgreSQL plans from them; a bulk load makes them stale long before autovacuum
notices (up to a minute), and a stale plan turns a key lookup or a hash join into a nested loop: the
exact duplicate scan right after a bulk load ran ~450 times slower until ANALYZE.

SQLite keeps no statistics until ANALYZE, and without them it guesses: a lookup by email with ORDER BY id
walked the workspace's whole primary key instead of the email index (a search by email took 60 ms at
200,000 contacts, 0.6 ms once analyzed). Its statistics are ratios (rows per key), which stay true as a
table grows, so one sampled ANALYZE when a table first fills (or grows tenfold) is enough.
"""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.orm import Session as DbSession

# Autovacuum's own rule for when a table is due an ANALYZE (autovacuum_analyze_threshold and _scale_factor).
ANALYZE_THRESHOLD = 50
ANALYZE_SCALE_FACTOR = 0.1
SQLITE_ANALYSIS_LIMIT = 1000  # rows sampled per index: a millisecond at 200,000 contacts
SQLITE_MIN_ROWS = 1000  # below this any plan is fast


def refresh_statistics(db: DbSession) -> None:
    """ANALYZE contacts in the caller's (write) transaction; an import calls it between its chunks."""
    if db.get_bind().dialect.name == "postgresql":
        db.execute(text("ANALYZE contacts"))
    else:
        _sqlite_analyze(db)


def maintain(db: DbSession) -> bool:
    """The worker's periodic check, in its own write transaction: refresh statistics that are missing or
    stale on either database; whether an ANALYZE ran."""
    if db.get_bind().dialect.name == "postgresql":
        return refresh_if_stale(db)
    rows = int(db.execute(text("SELECT count(*) FROM contacts")).scalar_one())
    if rows < SQLITE_MIN_ROWS:
        return False
    has_stats = db.execute(text("SELECT 1 FROM sqlite_master WHERE name = 'sqlite_stat1'")).first()
    stat = (
        db.execute(text("SELECT stat FROM sqlite_stat1 WHERE tbl = 'contacts' LIMIT 1")).scalar()
        if has_stats
        else None
    )
    if stat is not None and rows < 10 * int(str(stat).split()[0]):
        return False
    _sqlite_analyze(db)
    return True


def _sqlite_analyze(db: DbSession) -> None:
    db.execute(text(f"PRAGMA analysis_limit={SQLITE_ANALYSIS_LIMIT}"))
    db.execute(text("ANALYZE"))


def refresh_if_stale(db: DbSession) -> bool:
    """ANALYZE contacts, in a connection of its own, when autovacuum's rule says it is due (never analyzed,
    or more than 50 rows + 10% changed since); whether it ran. A lookup in the catalog otherwise.

    Its own connection: ANALYZE holds a lock that another ANALYZE (or autovacuum) waits for until the
    transaction ends, and the caller's transaction may be a long bulk merge.
    """
    bind = db.get_bind()
    if bind.dialect.name != "postgresql":
        return False
    row = db.execute(
        text(
            "SELECT c.reltuples, coalesce(s.n_mod_since_analyze, 0) FROM pg_class c"
            " LEFT JOIN pg_stat_user_tables s ON s.relid = c.oid WHERE c.oid = to_regclass('contacts')"
        )
    ).one()
    tuples, changed = float(row[0]), int(row[1])
    if tuples >= 0 and changed <= ANALYZE_THRESHOLD + ANALYZE_SCALE_FACTOR * tuples:
        return False
    with bind.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text("ANALYZE contacts"))
    return True
