"""Validating an import's rows (R3), apart from writing them, so it can run in other processes.

``prepare_rows`` is a pure function of its picklable inputs (``RowRules`` and the rows): each row becomes
``Prepared`` (its values, with the cells that did not validate named) or ``Refused`` (it costs the row).
``Validation`` runs it in a pool of ``spawn``ed processes a few chunks ahead of the writer, so validating
chunk N+1 overlaps matching and writing chunk N. Processes are spawned, never forked: the API server and
the worker hold threads and connections that a fork would copy. A pool worker ignores Ctrl-C (its parent
decides) and exits when its parent dies, even by SIGKILL, so a killed import leaves no process behind.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.connection
import os
import signal
import threading
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from types import TracebackType
from typing import Any

from contactmerge.domain.importing import ROW, CellProblem, ColumnMap, RowProblem, map_row
from contactmerge.errors import BadRequest
from contactmerge.services.importing.source import CsvRow
from contactmerge.services.normalizing import (
    check_identifier,
    country_name,
    country_region,
    normalize_email,
    read_phone,
)

PLAIN = (
    "name",
    "avatar",
    "owner_id",
    "signed_up_at",
    "last_seen_at",
    "unsubscribed_from_emails",
    "language_override",
)
IDENTIFIERS = ("external_id", "email")
# Smaller files are validated in the writing process: spawning the pool (a second of imports) costs more.
POOL_MIN_BYTES = 1 << 20
PHONE_CACHE = 16_384  # phones read once per import (a few MB)


@dataclass(frozen=True)
class RowRules:
    """What validating a row depends on: the import's column map, header, custom attribute types and the
    region national phone numbers are read in (unless a row's country column says otherwise)."""

    column_map: ColumnMap
    header: tuple[str, ...]
    custom_types: dict[str, str]
    region: str

    @cached_property
    def column_of(self) -> dict[str, str]:
        """Field → the header text of the column that feeds it."""
        return {f: self.header[i] for i, f in enumerate(self.column_map.fields) if f}


@dataclass
class Prepared:
    row_number: int
    cells: list[str]
    external_id: str | None
    email: str | None
    email_normalized: str | None
    phone: str | None
    phone_e164: str | None
    plain: dict[str, Any]
    custom: dict[str, Any]
    tags: tuple[str, ...]
    problems: tuple[CellProblem, ...] = ()  # cells not imported, or phones kept only as given
    created_id: str | None = None  # the contact this row created, once the chunk built it


@dataclass(frozen=True)
class Refused:
    """A row that is not applied: ``action`` is "invalid" or "no_identifier"."""

    row_number: int
    action: str
    column: str | None
    reason: str
    cells: list[str]


def prepare_rows(rules: RowRules, rows: list[CsvRow]) -> list[Prepared | Refused]:
    """Each row validated (R3): a cell that does not validate costs that value, not the row; only the
    row's identifiers can cost the row."""
    return [_prepare(rules, row) for row in rows]


def _prepare(rules: RowRules, row: CsvRow) -> Prepared | Refused:
    row_number, cells = row.number, row.cells
    if row.problem is not None:  # the file's text is malformed here: the row names its line
        return Refused(row_number, "invalid", ROW, f"line {row.line}: {row.problem}", cells)
    values = map_row(cells, rules.column_map, rules.header, rules.custom_types)
    if isinstance(values, RowProblem):
        reason = f"line {row.line}: {values.reason}" if values.column == ROW else values.reason
        return Refused(row_number, "invalid", values.column, reason, cells)
    raw = values.fields
    column_of = rules.column_of
    problems = list(values.problems)
    dropped_identifiers = [p for p in problems if p.column in {column_of.get(f) for f in IDENTIFIERS}]
    external_id = email = normalized = None
    try:
        if raw.get("external_id"):
            external_id = check_identifier(str(raw["external_id"]), field="external_id")
    except BadRequest as error:
        dropped_identifiers.append(CellProblem(column_of["external_id"], error.message))
    try:
        if raw.get("email"):
            email, normalized = normalize_email(str(raw["email"]))
    except BadRequest as error:
        dropped_identifiers.append(CellProblem(column_of["email"], error.message))
    if not external_id and not normalized:
        if dropped_identifiers:  # the row's only identifier did not validate: it costs the row
            column, reason = cell_report(dropped_identifiers)
            return Refused(
                row_number, "invalid", column, f"{reason} (the row has no other identifier)", cells
            )
        return Refused(
            row_number, "no_identifier", None, "the row has neither an external_id nor an email", cells
        )
    problems.extend(p for p in dropped_identifiers if p not in problems)
    plain = {k: raw[k] for k in PLAIN if raw.get(k) is not None}
    region = rules.region
    if raw.get("country"):
        found = country_region(str(raw["country"]))
        if found is None:
            problems.append(
                CellProblem(
                    column_of["country"],
                    f"{str(raw['country'])!r} is not a country (an ISO 3166 code or a country's name); "
                    f"phones on this row are read in region {rules.region}",
                )
            )
        else:
            region, plain["location_country"] = found, country_name(found)
    phone = e164 = None
    if raw.get("phone"):
        read = _read_phone(str(raw["phone"]), region)
        if read.problem is None or read.kept:
            phone, e164 = read.given, read.e164
        if read.problem is not None:
            problems.append(CellProblem(rules.column_of["phone"], read.problem, kept=read.kept))
    return Prepared(
        row_number,
        cells,
        external_id,
        email,
        normalized,
        phone,
        e164,
        plain,
        dict(values.custom_attributes),
        tuple(values.tags),
        tuple(problems),
    )


# Parsing a phone is most of validating a row; files repeat numbers (a switchboard, a placeholder), and
# read_phone is pure, so a repeat within an import is read once. Bounded, so memory stays flat however long
# the file.
_read_phone = lru_cache(maxsize=PHONE_CACHE)(read_phone)


def cell_report(problems: list[CellProblem], limit: int = 255) -> tuple[str, str]:
    """An ImportRow's ``column`` (at most ``limit`` characters: import_rows.column) and ``reason`` for the
    row's cell problems: the columns, and per cell its reason and what became of the value."""
    columns = ", ".join(dict.fromkeys(p.column for p in problems))
    if len(columns) > limit:
        columns = columns[: limit - 1] + "…"
    reason = "; ".join(
        f"{p.column}: {p.reason}" + (" (kept as given, without an E.164 form)" if p.kept else "")
        for p in problems
    )
    return columns, reason


Chunk = tuple[list[CsvRow], int]  # a chunk's rows and the bytes read once it was read


@dataclass
class Validated:
    """A chunk of rows with their validation under ``rules`` (ready, or running in the pool)."""

    rows: list[CsvRow]
    consumed: int
    rules: RowRules
    _pending: Future[list[Prepared | Refused]] | None = None
    _done: list[Prepared | Refused] | None = field(default=None, repr=False)

    def prepared(self, rules: RowRules) -> list[Prepared | Refused]:
        """The rows validated under ``rules``: the pool's work when it used the same rules (they change
        only when someone edits the workspace's data attributes mid-import), else validated here."""
        if rules != self.rules:
            return prepare_rows(rules, self.rows)
        if self._done is None:
            self._done = self._pending.result() if self._pending else prepare_rows(rules, self.rows)
        return self._done


class Validation:
    """Validates chunks ``processes`` ahead in a pool of spawned processes, or in this process when
    ``processes`` is 0. A context manager: the pool is shut down however the block ends."""

    def __init__(self, processes: int) -> None:
        self.processes = processes
        self._pool: ProcessPoolExecutor | None = None

    def __enter__(self) -> Validation:
        _read_phone.cache_clear()  # this import's repeated phones; the pool's processes start afresh
        if self.processes > 0:
            self._pool = ProcessPoolExecutor(
                self.processes, mp_context=multiprocessing.get_context("spawn"), initializer=_worker_started
            )
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        if self._pool is not None:
            # cancel what has not started; a chunk in progress takes a fraction of a second
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def chunks(self, chunks: Iterable[Chunk], rules: RowRules) -> Iterator[Validated]:
        """The chunks in order, each one's validation started while the ones before it are written."""
        if self._pool is None:
            for rows, consumed in chunks:
                yield Validated(rows, consumed, rules)
            return
        source = iter(chunks)
        first = next(source, None)
        if first is None:
            return
        # the first chunk is validated here while the pool's processes start (about a second)
        ahead: deque[Validated] = deque([Validated(*first, rules)])
        while True:
            while len(ahead) <= self.processes:
                nxt = next(source, None)
                if nxt is None:
                    break
                rows, consumed = nxt
                ahead.append(Validated(rows, consumed, rules, self._pool.submit(prepare_rows, rules, rows)))
            if not ahead:
                return
            yield ahead.popleft()


def _worker_started() -> None:
    """In each pool process: Ctrl-C is the parent's to handle, and the parent's death ends this process."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    parent = multiprocessing.parent_process()
    if parent is not None:
        sentinel = parent.sentinel

        def watch() -> None:
            multiprocessing.connection.wait([sentinel])
            os._exit(1)

        threading.Thread(target=watch, name="parent-watch", daemon=True).start()
