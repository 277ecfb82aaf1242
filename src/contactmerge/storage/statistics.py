"""Planner statistics. PostgreSQL plans from them; a bulk load makes them stale long before autovacuum
notices (up to a minute), and a stale plan turns a key lookup or a hash join into a nested loop: the
exact duplicate scan right after a bulk load ran ~450 times slower until ANALYZE. SQLite needs nothing."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.orm import Session as DbSession

# Autovacuum's own rule for when a table is due an ANALYZE (autovacuum_analyze_threshold and _scale_factor).
ANALYZE_THRESHOLD = 50
ANALYZE_SCALE_FACTOR = 0.1


def refresh_statistics(db: DbSession) -> None:
    """ANALYZE contacts in the caller's transaction (an import calls it between its chunks)."""
    if db.get_bind().dialect.name == "postgresql":
        db.execute(text("ANALYZE contacts"))


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
