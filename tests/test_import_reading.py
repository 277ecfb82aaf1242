"""Reading CSV files for import (R3): real files of every kind read back to their rows, in constant memory."""

from __future__ import annotations

import codecs
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

import pytest

from contactmerge.services.csv_source import (
    SAMPLE_BYTES,
    CsvFormat,
    CsvSourceError,
    read_rows,
    read_rows_with_offsets,
    sniff,
)

DATA = Path(__file__).parent / "data" / "csv"


def opener(path: Path) -> Callable[[], BinaryIO]:
    return lambda: path.open("rb")


def read_all(path: Path, start_row: int = 0) -> tuple[CsvFormat, list[tuple[int, list[str]]]]:
    fmt = sniff(opener(path))
    return fmt, list(read_rows(opener(path), fmt, start_row=start_row))


FIXTURES = [
    pytest.param(
        "messy_headers.csv",
        "utf-8",
        ",",
        (
            "User ID",
            "E-Mail Address",
            "Full Name",
            "Phone-Number",
            "Signup Date",
            "plan",
            "Favourite Colour",
            "TAGS",
        ),
        [
            [
                "u-1",
                "Ada@Example.com",
                "Ada Lovelace",
                "+44 20 7946 0000",
                "2024-01-15",
                "pro",
                "blue",
                "vip;beta",
            ],
            ["u-2", "grace@example.com", "Grace Hopper", "", "1700000000", "free", "", ""],
        ],
        id="messy headers trimmed",
    ),
    pytest.param(
        "quoted_newlines.csv",
        "utf-8",
        ",",
        ("email", "name", "notes"),
        [
            ["ada@example.com", "Ada", "first line\r\nsecond line"],
            ["grace@example.com", "Hopper, Grace", 'she said "hi"\nthen left'],
            ["linus@example.com", "Linus", "plain"],
        ],
        id="quoted newlines and quotes kept inside cells",
    ),
    pytest.param(
        "utf8_bom.csv",
        "utf-8-sig",
        ",",
        ("email", "name"),
        [["zoe@example.com", "Zoë Müller"]],
        id="UTF-8 with BOM: BOM not in the first header",
    ),
    pytest.param(
        "utf8.csv",
        "utf-8",
        ",",
        ("email", "name", "city"),
        [["jose@example.com", "José Núñez", "São Paulo"], ["li@example.com", "李小龙", "北京"]],
        id="UTF-8 without BOM",
    ),
    pytest.param(
        "latin1.csv",
        "latin-1",
        ",",
        ("email", "name", "city"),
        [["zoe@example.com", "Zoë Müller", "Köln"], ["francois@example.com", "François Façade", "Besançon"]],
        id="Latin-1",
    ),
    pytest.param(
        "cp1252.csv",
        "cp1252",
        ",",
        ("email", "name", "note"),
        [["zoe@example.com", "Zoë Müller", "\u201cCafé\u201d \u2013 5 \u20ac"]],
        id="Windows-1252 from Excel: euro sign and curly quotes",
    ),
    pytest.param(
        "semicolon.csv",
        "utf-8",
        ";",
        ("email", "name", "balance"),
        [["ada@example.com", "Lovelace, Ada", "3,5"], ["grace@example.com", "Hopper, Grace", "1.000,25"]],
        id="semicolon-delimited with commas in values",
    ),
    pytest.param(
        "tab.tsv",
        "utf-8",
        "\t",
        ("email", "name", "note"),
        [["ada@example.com", "Ada", "hello, world; again"], ["grace@example.com", "Grace", "a|b"]],
        id="tab-delimited",
    ),
    pytest.param(
        "pipe.csv",
        "utf-8",
        "|",
        ("email", "name", "note"),
        [["ada@example.com", "Ada", "a, b; c"]],
        id="pipe-delimited",
    ),
    pytest.param(
        "blank_lines.csv",
        "utf-8",
        ",",
        ("email", "name"),
        [["ada@example.com", "Ada"], ["grace@example.com", "Grace"]],
        id="blank lines (and empty-celled ones) skipped, before the header too",
    ),
    pytest.param(
        "duplicate_rows.csv",
        "utf-8",
        ",",
        ("user_id", "email", "name"),
        [
            ["u-1", "ada@example.com", "Ada"],
            ["u-1", "ada@example.com", "Ada"],
            ["u-2", "ADA@example.com", "Ada again"],
        ],
        id="duplicate rows all read (the import reports them)",
    ),
    pytest.param("header_only.csv", "utf-8", ",", ("email", "name"), [], id="header only: no rows"),
]


@pytest.mark.parametrize(("name", "encoding", "delimiter", "header", "rows"), FIXTURES)
def test_each_fixture_file_reads_back_to_its_rows(
    name: str, encoding: str, delimiter: str, header: tuple[str, ...], rows: list[list[str]]
) -> None:
    fmt, read = read_all(DATA / name)
    assert fmt == CsvFormat(encoding, delimiter, header)
    assert read == list(enumerate(rows, start=1))


@pytest.mark.parametrize(
    ("name", "message"),
    [("empty.csv", "the file is empty"), ("blank_only.csv", "no header row")],
)
def test_a_file_without_a_header_is_refused_naming_the_file(name: str, message: str) -> None:
    with pytest.raises(CsvSourceError) as caught:
        sniff(opener(DATA / name))
    assert caught.value.status_code == 400
    assert caught.value.code == "parameter_invalid"
    assert caught.value.field == "file"
    assert message in caught.value.message


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ("email,name\nzoë@example.com,Zoë\n".encode("utf-16"), "UTF-16"),
        ("email,name\nzoe@example.com,Zoë\n".encode("utf-16-le"), "NUL byte at byte 1"),
        (b"PK\x03\x04\x14\x00\x06\x00\x08\x00", "not a CSV text file"),
        (codecs.BOM_UTF8 + "email\nzoë@example.com\n".encode("latin-1"), "byte 11 is not UTF-8"),
    ],
    ids=["UTF-16 with BOM", "UTF-16 without BOM", "a spreadsheet (zip)", "BOM then Latin-1"],
)
def test_files_that_are_not_csv_text_are_refused_with_the_reason(
    tmp_path: Path, data: bytes, message: str
) -> None:
    path = tmp_path / "upload.csv"
    path.write_bytes(data)
    with pytest.raises(CsvSourceError) as caught:
        sniff(opener(path))
    assert caught.value.field == "file"
    assert message in caught.value.message


def test_latin1_is_decided_from_the_whole_file_not_its_first_64_kib(tmp_path: Path) -> None:
    path = tmp_path / "late.csv"
    lines = [f"user{i}@example.com,User {i}\n" for i in range(5000)]
    path.write_bytes(("email,name\n" + "".join(lines)).encode() + "zoe@example.com,Zoë\n".encode("latin-1"))
    assert path.stat().st_size > 2 * SAMPLE_BYTES
    fmt, rows = read_all(path)
    assert fmt.encoding == "latin-1"
    assert rows[-1] == (5001, ["zoe@example.com", "Zoë"])


def test_utf8_characters_cut_by_the_sample_and_read_chunks_stay_utf8(tmp_path: Path) -> None:
    path = tmp_path / "boundary.csv"
    head = b"email,name\n"
    filler = b"a@example.com,x\n" * ((SAMPLE_BYTES - len(head)) // 16 - 1)
    pad = b"b@example.com," + b"y" * (SAMPLE_BYTES - 1 - len(head) - len(filler) - 14)
    # "é" is two bytes: the first ends the 64 KiB sample, the second starts what follows
    data = head + filler + pad + "é\n".encode() + b"c@example.com,z\n" * 20_000
    assert data[SAMPLE_BYTES - 1 : SAMPLE_BYTES + 1] == "é".encode()
    path.write_bytes(data)
    fmt, rows = read_all(path)
    assert fmt == CsvFormat("utf-8", ",", ("email", "name"))
    assert ["b@example.com", "y" * (len(pad) - 14) + "é"] in [cells for _, cells in rows]
    assert len(rows) == len(filler) // 16 + 1 + 20_000


def test_a_resumed_read_skips_exactly_the_rows_already_done() -> None:
    path = DATA / "blank_lines.csv"
    fmt, every = read_all(path)
    assert (
        list(read_rows(opener(path), fmt, start_row=1)) == every[1:] == [(2, ["grace@example.com", "Grace"])]
    )
    assert list(read_rows(opener(path), fmt, start_row=2)) == []


def test_progress_counts_bytes_up_to_the_file_size(tmp_path: Path) -> None:
    path = tmp_path / "progress.csv"
    path.write_text("email\n" + "".join(f"user{i}@example.com\n" for i in range(50_000)), encoding="utf-8")
    fmt = sniff(opener(path))
    offsets = [consumed for _, _, consumed in read_rows_with_offsets(opener(path), fmt)]
    assert len(offsets) == 50_000
    assert offsets == sorted(offsets)
    assert offsets[0] < path.stat().st_size / 4  # the bar moves before the end
    assert offsets[-1] == path.stat().st_size


def test_an_unclosed_quote_is_refused_naming_the_row_instead_of_swallowing_the_file(tmp_path: Path) -> None:
    path = tmp_path / "unclosed.csv"
    path.write_text(
        'email,notes\nada@example.com,fine\ngrace@example.com,"never closed\n'
        + "more text that belongs to nothing\n" * 10_000,
        encoding="utf-8",
    )
    fmt = sniff(opener(path))
    rows = read_rows(opener(path), fmt)
    assert next(rows) == (1, ["ada@example.com", "fine"])
    with pytest.raises(CsvSourceError) as caught:
        next(rows)
    assert caught.value.field == "file"
    assert "row 2" in caught.value.message


def test_a_file_with_no_line_breaks_is_refused_without_reading_it_whole(tmp_path: Path) -> None:
    path = tmp_path / "oneline.csv"
    path.write_bytes(b"a," * (1024 * 1024))
    with pytest.raises(CsvSourceError) as caught:
        sniff(opener(path))
    assert "longer than" in caught.value.message


def test_a_file_changed_since_it_was_sniffed_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "changed.csv"
    path.write_text("email,name\na@example.com,A\n", encoding="utf-8")
    fmt = sniff(opener(path))
    path.write_text("name,email\nA,a@example.com\n", encoding="utf-8")
    with pytest.raises(CsvSourceError) as caught:
        list(read_rows(opener(path), fmt))
    assert "changed" in caught.value.message


def test_reading_closes_the_file_even_when_stopped_early() -> None:
    opened: list[BinaryIO] = []

    def open_bytes() -> BinaryIO:
        opened.append((DATA / "duplicate_rows.csv").open("rb"))
        return opened[-1]

    fmt = sniff(open_bytes)
    rows = read_rows(open_bytes, fmt)
    next(rows)
    rows.close()
    assert opened and all(stream.closed for stream in opened)


def test_200_000_rows_read_in_flat_memory(tmp_path: Path) -> None:
    path = tmp_path / "big.csv"
    with path.open("w", encoding="utf-8", newline="") as handle:
        handle.write("user_id,email,name,notes\n")
        for i in range(200_000):
            handle.write(f'u-{i},user{i}@example.com,Zoë {i},"a note, with a comma"\n')
    limit = 3 * 1024 * 1024
    assert path.stat().st_size > 3 * limit  # holding the file (or its rows) would break the limit
    tracemalloc.start()
    try:
        fmt = sniff(opener(path))
        count, last = 0, (0, [""])
        for row in read_rows(opener(path), fmt):
            count, last = count + 1, row
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert fmt == CsvFormat("utf-8", ",", ("user_id", "email", "name", "notes"))
    assert count == 200_000
    assert last == (200_000, ["u-199999", "user199999@example.com", "Zoë 199999", "a note, with a comma"])
    assert peak < limit, f"peak {peak} bytes"
