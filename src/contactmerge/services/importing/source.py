"""Reading any CSV file in constant memory (R3 imports): its format sniffed, then its rows streamed.

The file is opened through ``open_bytes`` (a callable returning a fresh binary stream) as often as needed,
so it can live on disk or in the database. Nothing ever holds the whole file: the encoding is decided by a
streaming pass, the delimiter from the first 64 KiB, and rows come from the csv module reading lines from
an incremental text decoder.

A row that cannot be read is reported, never folded into another: a quoted cell may hold line breaks only
when its closing quote comes within ``MAX_RECORD_LINES`` lines and the row then has a cell for each column
of the header. Otherwise (a quote never closed, text after a closing quote, a cell too long) the row is
the one line it starts on, with its ``problem``, and reading goes on from the next line.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from collections import deque
from collections.abc import Callable, Generator, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO, NamedTuple

from contactmerge.errors import BadRequest

SAMPLE_BYTES = 64 * 1024
PASS_CHUNK_BYTES = 256 * 1024
READ_BUFFER_BYTES = 64 * 1024
MAX_LINE_CHARS = 1024 * 1024
# How far a quoted cell may run over line breaks before its quote counts as never closed.
MAX_RECORD_LINES = 100
MAX_RECORD_CHARS = MAX_LINE_CHARS
DELIMITERS = (",", ";", "\t", "|")
# bytes that Windows-1252 leaves undefined: a file holding one cannot be Windows-1252
_CP1252_UNDEFINED = re.compile(rb"[\x81\x8d\x8f\x90\x9d]")
_C1 = re.compile(rb"[\x80-\x9f]")
_WIDE_BOMS = (codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)
_NEWLINES = ("\n", "\r")


@dataclass(frozen=True)
class CsvFormat:
    """How to read a file: ``encoding`` is "utf-8-sig" (BOM), "utf-8", "latin-1" or, when the file has
    bytes only Windows-1252 gives a meaning (€, curly quotes, dashes from Excel), "cp1252"."""

    encoding: str
    delimiter: str
    header: tuple[str, ...]


class CsvRow(NamedTuple):
    """A data row: ``number`` counts non-blank rows from 1 (the first after the header), ``line`` is the
    file's line it starts on (1 being the first line), ``consumed`` the bytes read so far (for progress).
    A row that cannot be read has a ``problem``, and the text of its first line as its only cell."""

    number: int
    line: int
    cells: list[str]
    consumed: int
    problem: str | None = None


class CsvSourceError(BadRequest):
    """The file cannot be read as a CSV (empty, no header, not text, malformed); names the field ``file``."""

    def __init__(self, message: str) -> None:
        super().__init__(message, field="file")


def sniff(open_bytes: Callable[[], BinaryIO]) -> CsvFormat:
    """The file's encoding (a streaming pass over every byte), delimiter (first 64 KiB) and header (R3)."""
    with open_bytes() as stream:
        head = _read_exactly(stream, SAMPLE_BYTES)
        if not head:
            raise CsvSourceError("the file is empty")
        if head.startswith(_WIDE_BOMS):
            raise CsvSourceError("the file is UTF-16 or UTF-32: save it as CSV in UTF-8")
        encoding = _detect_encoding(head, stream)
    sample = codecs.getincrementaldecoder(encoding)().decode(head, final=False)
    delimiter = _choose_delimiter(sample, truncated=len(head) == SAMPLE_BYTES)
    header = _first_record(open_bytes, encoding, delimiter)
    if header is None:
        raise CsvSourceError("the file is empty: it has no header row")
    return CsvFormat(encoding, delimiter, header)


def read_rows(
    open_bytes: Callable[[], BinaryIO], fmt: CsvFormat, *, start_row: int = 0
) -> Generator[tuple[int, list[str]]]:
    """``(row_number, cells)`` for each data row after ``start_row``, streamed (see ``read_records``)."""
    for row in read_records(open_bytes, fmt, start_row=start_row):
        yield row.number, row.cells


def read_records(
    open_bytes: Callable[[], BinaryIO], fmt: CsvFormat, *, start_row: int = 0
) -> Generator[CsvRow]:
    """Each data row after ``start_row``, streamed. Rows are counted (not lines: quoted cells may span
    lines, and blank lines are skipped) the same way on every read, so a resumed import skips the same
    rows. A row that cannot be read comes with its ``problem`` instead of being folded into another."""
    counter = _CountingReader(open_bytes())
    text = io.TextIOWrapper(io.BufferedReader(counter, READ_BUFFER_BYTES), encoding=fmt.encoding, newline="")
    with text:
        records = _Records(_bounded_lines(text), fmt.delimiter)
        rows = iter(records)
        row_number = 0
        try:
            header = next(rows, None)
            if header is not None and (header[2] is not None or _header_cells(header[1]) != fmt.header):
                raise CsvSourceError("the file changed since it was examined: its header is not the same")
            records.width = len(fmt.header)
            for line, cells, problem in rows:
                row_number += 1
                if row_number > start_row:
                    yield CsvRow(row_number, line, cells, counter.count, problem)
        except UnicodeDecodeError as error:
            raise CsvSourceError(f"row {row_number + 1} cannot be read: {error}") from error


class _Unterminated(Exception):
    """A quoted cell ran on past ``MAX_RECORD_LINES`` lines or ``MAX_RECORD_CHARS`` characters."""


class _Records:
    """The non-blank records of the text as ``(line, cells, problem)`` (a record whose cells are all blank
    is a blank line too). The csv module reads them strictly, so a quote that does not close where a cell
    ends is an error instead of a cell that swallows the lines after it; such a record becomes its first
    line alone, with the problem, and the lines after it are read again as rows of their own."""

    def __init__(self, lines: Iterator[str], delimiter: str) -> None:
        self._source = lines
        self._delimiter = delimiter
        self._again: deque[tuple[int, str]] = deque()  # lines to read again after a malformed record
        self._taken: list[tuple[int, str]] = []  # the lines of the record being read
        self._chars = 0
        self._lines_read = 0
        self.width = 0  # cells a record spanning lines must have (the header's); 0 while reading the header
        spaces = "".join(c for c in " \t" if c != delimiter)
        self._spaces_after_quote = re.compile(f'"[{spaces}]+(?={re.escape(delimiter)}|[\\r\\n]|$)')
        self._reader = self._new_reader()

    def _new_reader(self) -> Iterator[list[str]]:
        return csv.reader(
            self._feed(), delimiter=self._delimiter, quotechar='"', skipinitialspace=True, strict=True
        )

    def _feed(self) -> Iterator[str]:
        taken = self._taken
        while True:
            if self._again:
                item = self._again.popleft()
            else:
                line = next(self._source, None)
                if line is None:
                    return
                self._lines_read += 1
                item = (self._lines_read, line)
            taken.append(item)
            if len(taken) > 1:
                self._chars += len(item[1])
                if len(taken) > MAX_RECORD_LINES or self._chars > MAX_RECORD_CHARS:
                    raise _Unterminated
            yield item[1]

    def __iter__(self) -> Iterator[tuple[int, list[str], str | None]]:
        while True:
            self._taken.clear()
            self._chars = 0
            try:
                cells = next(self._reader)
            except StopIteration:
                return
            except (csv.Error, _Unterminated) as error:
                self._reader = self._new_reader()  # a generator that raised is finished
                recovered = self._tolerated(error)
                if recovered is None:
                    yield self._malformed(error)
                    continue
                cells = recovered
            if not cells or not (cells[0].strip() or any(cell.strip() for cell in cells)):
                continue
            if len(self._taken) > 1 and len(cells) < self.width:
                yield self._malformed(None, cells)
                continue
            yield self._taken[0][0], cells, None

    def _tolerated(self, error: Exception) -> list[str] | None:
        """The record read again with spaces after a closing quote dropped (``"Ada" ,x``, which the csv
        module refuses when strict), if that is all that was wrong with it."""
        if not isinstance(error, csv.Error) or "expected after" not in str(error):
            return None
        text = self._spaces_after_quote.sub('"', "".join(line for _, line in self._taken))
        try:
            found = list(
                csv.reader(
                    io.StringIO(text, newline=""),
                    delimiter=self._delimiter,
                    quotechar='"',
                    skipinitialspace=True,
                    strict=True,
                )
            )
        except csv.Error:
            return None
        return found[0] if len(found) == 1 else None

    def _malformed(
        self, error: Exception | None, cells: list[str] | None = None
    ) -> tuple[int, list[str], str]:
        """The record's first line as a row with its problem; its other lines are read again."""
        first, *rest = self._taken
        last = self._taken[-1][0]
        self._again.extendleft(reversed(rest))
        message = str(error)
        opened = "a quoted cell starting on this line"
        if isinstance(error, _Unterminated):
            problem = f"{opened} has no closing quote within {MAX_RECORD_LINES} lines"
        elif error is None:
            problem = (
                f"{opened} runs to line {last}, leaving the row {len(cells or [])} of the header's "
                f"{self.width} cells: its closing quote is probably missing"
            )
        elif "end of data" in message:
            problem = f"{opened} has no closing quote before the end of the file"
        elif rest:
            problem = f"{opened} is not closed properly: its quote runs to line {last}"
        elif "expected after" in message:
            problem = 'text follows the closing quote of a quoted cell (a quote inside one is written "")'
        elif "field larger than" in message:
            problem = f"a cell is longer than {csv.field_size_limit():,} characters"
        else:
            problem = f"cannot be read: {message}"
        return first[0], [first[1].rstrip("\r\n")], problem


def _records(lines: Iterable[str], delimiter: str) -> Iterator[list[str]]:
    """The non-blank records of a sample, read leniently: only for choosing the delimiter."""
    reader = csv.reader(lines, delimiter=delimiter, quotechar='"', skipinitialspace=True, strict=False)
    for cells in reader:
        if cells and (cells[0].strip() or any(cell.strip() for cell in cells)):
            yield cells


def _bounded_lines(text: io.TextIOWrapper) -> Iterator[str]:
    """Lines with their ends; a line too long to be a CSV row (a binary file, an unclosed quote spanning
    a file without newlines) is refused instead of read whole into memory."""
    while True:
        line = text.readline(MAX_LINE_CHARS)
        if not line:
            return
        if len(line) >= MAX_LINE_CHARS and not line.endswith(_NEWLINES):
            raise CsvSourceError(f"a line of the file is longer than {MAX_LINE_CHARS} characters")
        yield line


def _header_cells(cells: list[str]) -> tuple[str, ...]:
    return tuple(cell.replace("\ufeff", "").strip() for cell in cells)


def _first_record(
    open_bytes: Callable[[], BinaryIO], encoding: str, delimiter: str
) -> tuple[str, ...] | None:
    with io.TextIOWrapper(
        io.BufferedReader(_CountingReader(open_bytes()), READ_BUFFER_BYTES), encoding=encoding, newline=""
    ) as text:
        try:
            first = next(iter(_Records(_bounded_lines(text), delimiter)), None)
        except UnicodeDecodeError as error:
            raise CsvSourceError(f"the header row cannot be read: {error}") from error
    if first is None:
        return None
    line, cells, problem = first
    if problem is not None:
        raise CsvSourceError(f"the header row (line {line}) cannot be read: {problem}")
    return _header_cells(cells)


def _read_exactly(stream: BinaryIO, size: int) -> bytes:
    """Up to ``size`` bytes: fewer only at the end of the file (a raw stream may return short reads)."""
    parts: list[bytes] = []
    wanted = size
    while wanted > 0:
        part = stream.read(wanted)
        if not part:
            break
        parts.append(part)
        wanted -= len(part)
    return b"".join(parts)


def _detect_encoding(head: bytes, stream: BinaryIO) -> str:
    """UTF-8 when every byte decodes as UTF-8 (a streaming pass, constant memory), else Latin-1, or
    Windows-1252 when it has bytes only that encoding gives a meaning to. A BOM must be followed by UTF-8."""
    bom = head.startswith(codecs.BOM_UTF8)
    decoder = codecs.getincrementaldecoder("utf-8")()
    utf8_error: str | None = None
    c1_seen = cp1252_impossible = False
    offset = 0
    chunk = head
    while chunk:
        nul = chunk.find(b"\x00")
        if nul >= 0:
            raise CsvSourceError(
                f"the file has a NUL byte at byte {offset + nul}: it is not a CSV text file "
                "(a spreadsheet or UTF-16 file? save it as CSV in UTF-8)"
            )
        if utf8_error is None and not (chunk.isascii() and not decoder.getstate()[0]):
            pending = len(decoder.getstate()[0])
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError as error:
                utf8_error = f"byte {offset - pending + max(error.start, 0)} is not UTF-8"
        c1_seen = c1_seen or _C1.search(chunk) is not None
        cp1252_impossible = cp1252_impossible or _CP1252_UNDEFINED.search(chunk) is not None
        offset += len(chunk)
        chunk = stream.read(PASS_CHUNK_BYTES)
    if utf8_error is None:
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            utf8_error = "the file ends in the middle of a UTF-8 character"
    if bom:
        if utf8_error is not None:
            raise CsvSourceError(f"the file starts with a UTF-8 byte order mark, but {utf8_error}")
        return "utf-8-sig"
    if utf8_error is None:
        return "utf-8"
    return "cp1252" if c1_seen and not cp1252_impossible else "latin-1"


def _choose_delimiter(sample: str, *, truncated: bool) -> str:
    """The candidate that splits the sample's rows into the same number (≥ 2) of cells most often, then
    into the most cells; "," when none splits the header."""
    best, best_score = ",", (0.0, 0)
    for delimiter in DELIMITERS:
        try:
            rows = list(_records(io.StringIO(sample, newline=""), delimiter))
        except csv.Error:
            continue
        if truncated and len(rows) > 1:
            rows.pop()  # probably cut in the middle
        if not rows or len(rows[0]) < 2:
            continue
        width = len(rows[0])
        score = (sum(len(row) == width for row in rows) / len(rows), width)
        if score > best_score:
            best, best_score = delimiter, score
    return best


class _CountingReader(io.RawIOBase):
    """A binary stream that counts the bytes it has delivered (for progress) and closes its source."""

    def __init__(self, source: BinaryIO) -> None:
        self._source = source
        self.count = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._source.read(len(buffer))
        size = len(data)
        buffer[:size] = data
        self.count += size
        return size

    def close(self) -> None:
        if not self.closed:
            self._source.close()
        super().close()
