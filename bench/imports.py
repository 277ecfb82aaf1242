"""CSV import at scale (issue 5): rows per second and peak memory, against a bare bulk insert.

A users CSV goes into a workspace that already holds contacts, 10% of its rows sharing an email with an
existing lead (so 10% of rows merge a lead). The baseline loads the same rows into a bare table of the
same database: ``COPY`` on PostgreSQL, one ``executemany`` INSERT on SQLite.

A second baseline shows where the floor really is: the same rows written, unvalidated and unmatched, into
the ``contacts`` table itself (with the indexes that matching needs) through the same driver-level bulk
insert the import uses, in a fresh database seeded alike.

At the largest size the same file is imported once more, with its rows validated in a pool of
``BENCH_IMPORT_POOL`` processes (``import_processes``; the default, 0, validates in the importing process):
``pool_speedup`` is the unpooled import's time over the pooled one's.
"""

from __future__ import annotations

import csv
import os
import tempfile
import threading
import time
from itertools import islice
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, insert, text
from sqlalchemy.orm import Session, sessionmaker

from bench.common import Result, fresh_database, timed
from bench.merges import contact_row
from contactmerge.domain.ids import new_id
from contactmerge.services import workspaces
from contactmerge.services.importing import jobs as importing
from contactmerge.services.importing import validation
from contactmerge.services.importing.source import sniff
from contactmerge.storage import imports as imports_repo
from contactmerge.storage.db import make_sessionmaker, transaction
from contactmerge.storage.tables import Contact, Import

ROWS = int(os.environ.get("BENCH_IMPORT_ROWS", "1000000"))
EXISTING = int(os.environ.get("BENCH_IMPORT_EXISTING", str(ROWS // 5)))
# the comparison import's validating processes (the main one uses the default import_processes)
POOL = int(os.environ.get("BENCH_IMPORT_POOL", "1"))


class PeakRss:
    """Peak resident memory of this process while the block runs (sampled from /proc every 20 ms)."""

    def __enter__(self) -> PeakRss:
        self.peak = self._rss()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    def _sample(self) -> None:
        while not self._stop.wait(0.02):
            self.peak = max(self.peak, self._rss())

    @staticmethod
    def _rss() -> int:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        return 0


def write_file(path: Path, rows: int) -> None:
    """user_id, email, name, plan: every 10th row's email belongs to an existing lead."""
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["user_id", "email", "name", "phone"])
        for i in range(rows):
            email = f"lead{i // 10}@example.com" if i % 10 == 0 else f"user{i}@example.org"
            writer.writerow([f"u{i}", email, f"User {i}", f"+1 512 555 {i % 10000:04d}"])


def seed(engine: Engine, workspace_id: str, existing: int, rows: int) -> None:
    """``existing`` contacts: the leads the file's every 10th row names, then other users."""
    leads = rows // 10
    batch: list[dict[str, Any]] = []
    with engine.begin() as connection:
        for i in range(existing):
            if i < leads:
                row = contact_row(
                    workspace_id,
                    "lead",
                    email=f"lead{i}@example.com",
                    email_normalized=f"lead{i}@example.com",
                    email_domain="example.com",
                )
            else:
                row = contact_row(
                    workspace_id,
                    "user",
                    external_id=f"old{i}",
                    email=f"old{i}@example.net",
                    email_normalized=f"old{i}@example.net",
                    email_domain="example.net",
                )
            batch.append(row)
            if len(batch) == 10_000:
                connection.execute(insert(Contact), batch)
                batch = []
        if batch:
            connection.execute(insert(Contact), batch)


def bare_load(engine: Engine, path: Path) -> None:
    """The physical floor: the same rows into a bare table, no validation, no matching."""
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE bare_rows (user_id TEXT, email TEXT, name TEXT, phone TEXT)"))
    raw = engine.raw_connection()
    try:
        if engine.dialect.name == "postgresql":
            with (
                raw.cursor() as cursor,
                path.open() as handle,
                cursor.copy("COPY bare_rows FROM STDIN WITH (FORMAT csv, HEADER true)") as copy,
            ):
                while data := handle.read(1 << 20):
                    copy.write(data)
        else:
            cursor = raw.cursor()
            with path.open(newline="") as handle:
                reader = csv.reader(handle)
                next(reader)
                cursor.execute("BEGIN")
                cursor.executemany("INSERT INTO bare_rows VALUES (?, ?, ?, ?)", reader)
                cursor.execute("COMMIT")
        raw.commit()
    finally:
        raw.close()


def contacts_table_load(sessions: sessionmaker[Session], workspace_id: str, path: Path) -> None:
    """The rows as new contacts, no validation, no matching, no merges: the write an import cannot avoid.

    The columns an import writes, indexed ones included (the E.164 phone here by deleting the spaces, no
    parsing; the import's id, which undo finds its contacts by), a chunk a transaction as an import
    commits them (so a stopped import resumes where it was)."""
    import_id = new_id()
    with path.open(newline="") as handle:
        reader = csv.reader(handle)
        next(reader)
        while chunk := list(islice(reader, importing.CHUNK_ROWS)):
            batch = [
                contact_row(
                    workspace_id,
                    "user",
                    external_id=user_id,
                    email=email,
                    email_normalized=email.lower(),
                    email_domain=email.rpartition("@")[2],
                    name=name,
                    phone=phone,
                    phone_e164=phone.replace(" ", ""),
                    import_id=import_id,
                    last_import_id=import_id,
                )
                for user_id, email, name, phone in chunk
            ]
            with transaction(sessions) as db:
                imports_repo.insert_contacts(db, batch)


def indexed_floor(backend: str, path: Path, rows: int) -> float:
    with fresh_database(backend) as engine:
        sessions = make_sessionmaker(engine)
        with transaction(sessions) as db:
            workspace_id = workspaces.create_workspace(db, "floor").workspace.id
        seed(engine, workspace_id, max(EXISTING * rows // ROWS, rows // 10), rows)
        return timed(lambda: contacts_table_load(sessions, workspace_id, path))


def start_import(sessions: sessionmaker[Session], path: Path, workspace_name: str) -> tuple[str, str]:
    """A new workspace and a users import of ``path`` in it, not run yet: their ids."""
    with transaction(sessions) as db:
        workspace = workspaces.create_workspace(db, workspace_name).workspace
        job = importing.create_import(
            db,
            workspace,
            filename=path.name,
            role="user",
            mapping={},
            dry_run=False,
            size_bytes=path.stat().st_size,
            actor="bench",
        )
        return workspace.id, job.id


def validation_alone(sessions: sessionmaker[Session], workspace_id: str, import_id: str, path: Path) -> float:
    """Seconds to read and validate every row of the file in this process, nothing written: the share of
    an import that a pool of validating processes can take off the process that writes."""
    fmt = sniff(lambda: path.open("rb"))
    with sessions() as db:
        rules = importing._context(db, workspace_id, import_id, fmt, "US")[1].rules
    validation._read_phone.cache_clear()  # as each import starts
    start = time.perf_counter()
    for rows, _ in importing._chunks(lambda: path.open("rb"), fmt, 0, importing.CHUNK_ROWS):
        validation.prepare_rows(rules, rows)
    return time.perf_counter() - start


def import_file(
    backend: str, path: Path, rows: int, processes: int
) -> tuple[float, float, float, float, Import]:
    """The file imported into a fresh database seeded for it: seconds, bare-load seconds, seconds to
    validate it alone, peak RSS."""
    with fresh_database(backend) as engine:
        sessions = make_sessionmaker(engine)
        workspace_id, import_id = start_import(sessions, path, "bench")
        seed(engine, workspace_id, max(EXISTING * rows // ROWS, rows // 10), rows)
        floor = timed(lambda: bare_load(engine, path))
        alone = validation_alone(sessions, workspace_id, import_id, path)
        with PeakRss() as memory:
            start = time.perf_counter()
            done = importing.run_import(
                sessions, workspace_id, import_id, lambda: path.open("rb"), processes=processes
            )
            seconds = time.perf_counter() - start
    return seconds, floor, alone, memory.peak, done


def run(backend: str) -> Result:
    figures: dict[str, float] = {}
    sizes = sorted({max(1000, ROWS // 4), ROWS})
    with tempfile.TemporaryDirectory() as folder:
        for rows in sizes:
            path = Path(folder) / f"users-{rows}.csv"
            write_file(path, rows)
            seconds, floor, alone, peak, done = import_file(backend, path, rows, importing.PROCESSES)
            figures[f"rows_{rows}_per_s"] = rows / seconds
            figures[f"rows_{rows}_ratio_to_bare_load"] = floor / seconds
            figures[f"rows_{rows}_peak_rss_mb"] = peak / 1e6
            figures[f"rows_{rows}_merged"] = float(done.counts.get("merged", 0))
            indexed = indexed_floor(backend, path, rows)
            figures[f"rows_{rows}_ratio_to_contacts_table_load"] = indexed / seconds
            figures[f"rows_{rows}_contacts_table_load_ratio_to_bare_load"] = floor / indexed
            # validating alone, in one process, against the same yardstick: the ceiling of what validating
            # in one process allows, and what a pool of N processes could at best multiply by N
            figures[f"rows_{rows}_validation_alone_ratio_to_contacts_table_load"] = indexed / alone
            figures[f"rows_{rows}_validation_share_of_import"] = alone / seconds
            other = POOL if importing.PROCESSES == 0 else 0
            if rows == ROWS and other != importing.PROCESSES:
                compared, *_ = import_file(backend, path, rows, other)
                alone, pooled = (seconds, compared) if other else (compared, seconds)
                figures[f"rows_{rows}_pool_speedup"] = alone / pooled
                figures[f"rows_{rows}_pooled_ratio_to_contacts_table_load"] = indexed / pooled
    return Result(
        "csv import",
        backend,
        figures,
        f"{ROWS:,} user rows, 10% merging a lead, into {EXISTING:,} contacts; ratio = bare load time / "
        "import time; the contacts-table load (the same rows written unvalidated into the indexed contacts "
        "table) is the issue's yardstick (goal >= 0.5); pool_speedup = the same import's time with rows "
        f"validated in the importing process / with {POOL} validating process(es) (BENCH_IMPORT_POOL); "
        "peak RSS (of the importing process) should not grow with the file",
    )
