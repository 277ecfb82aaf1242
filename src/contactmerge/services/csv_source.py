"""Reading any CSV file in constant memory (R3 imports): its format sniffed, then its rows streamed.

The file is opened through ``open_bytes`` (a callable returning a fresh binary stream) as often as needed,
so it can live on disk or in the database. Nothing ever holds the whole file: the encoding is decided by a
streaming pass, the delimiter from the first 64 KiB, and rows come from the csv module reading lines from
an incremental text decoder.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from collections.abc import Callable, Generator, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO

from contactmerge.errors import BadRequest

SAMPLE_BYTES = 64 * 1024
PASS_CHUNK_BYTES = 256 * 1024
READ_BUFFER_BYTES = 64 * 1024
MAX_LINE_CHARS = 1024 * 1024
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
    """``(row_number, cells)`` for each data row after ``start_row``, streamed. ``row_number`` counts
    non-blank data rows from 1 (not lines: quoted cells may span lines), so a resumed import skips the
    same rows."""
    for row_number, cells, _ in read_rows_with_offsets(open_bytes, fmt, start_row=start_row):
        yield row_number, cells


def read_rows_with_offsets(
    open_bytes: Callable[[], BinaryIO], fmt: CsvFormat, *, start_row: int = 0
) -> Iterator[tuple[int, list[str], int]]:
    """As ``read_rows``, with the bytes read from the file so far (approximate: read ahead by a buffer,
    and the file size once it is all read) for a progress bar."""
    counter = _CountingReader(open_bytes())
    text = io.TextIOWrapper(io.BufferedReader(counter, READ_BUFFER_BYTES), encoding=fmt.encoding, newline="")
    with text:
        records = _records(_bounded_lines(text), fmt.delimiter)
        row_number = 0
        try:
            header = next(records, None)
            if header is not None and _header_cells(header) != fmt.header:
                raise CsvSourceError("the file changed since it was examined: its header is not the same")
            for cells in records:
                row_number += 1
                if row_number > start_row:
                    yield row_number, cells, counter.count
        except (csv.Error, UnicodeDecodeError) as error:
            raise CsvSourceError(f"row {row_number + 1} cannot be read: {error}") from error


def _records(lines: Iterable[str], delimiter: str) -> Iterator[list[str]]:
    """The non-blank records of the text (a record whose cells are all blank is a blank line too)."""
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
            first = next(_records(_bounded_lines(text), delimiter), None)
        except (csv.Error, UnicodeDecodeError) as error:
            raise CsvSourceError(f"the header row cannot be read: {error}") from error
    return None if first is None else _header_cells(first)


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
