"""Reading CSV files for import (R3): real files of every kind read back to their rows, in constant memory."""

from __future__ import annotations

import codecs
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

import pytest

from contactmerge.services.importing.source import (
    MAX_RECORD_LINES,
    SAMPLE_BYTES,
    CsvFormat,
    CsvRow,
    CsvSourceError,
    read_records,
    read_rows,
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
    offsets = [row.consumed for row in read_records(opener(path), fmt)]
    assert len(offsets) == 50_000
    assert offsets == sorted(offsets)
    assert offsets[0] < path.stat().st_size / 4  # the bar moves before the end
    assert offsets[-1] == path.stat().st_size


def read_text(tmp_path: Path, text: str, start_row: int = 0) -> list[CsvRow]:
    path = tmp_path / "upload.csv"
    path.write_text(text, encoding="utf-8", newline="")
    return list(read_records(opener(path), sniff(opener(path)), start_row=start_row))


def shown(rows: list[CsvRow]) -> list[tuple[int, int, list[str], str | None]]:
    return [(row.number, row.line, row.cells, row.problem) for row in rows]


NO_CLOSE_BEFORE_END = "a quoted cell starting on this line has no closing quote before the end of the file"


def test_an_unterminated_quote_is_its_line_alone_and_the_next_lines_are_still_read(tmp_path: Path) -> None:
    rows = read_text(tmp_path, 'email,name\nada@example.com,"Ada\ngrace@example.com,Grace\n')
    assert shown(rows) == [
        (1, 2, ['ada@example.com,"Ada'], NO_CLOSE_BEFORE_END),
        (2, 3, ["grace@example.com", "Grace"], None),
    ]


def test_a_quote_never_closed_swallows_at_most_its_own_line_not_the_file(tmp_path: Path) -> None:
    rows = read_text(
        tmp_path,
        'email,notes\nada@example.com,fine\ngrace@example.com,"never closed\n'
        + "".join(f"user{i}@example.com,row {i}\n" for i in range(10_000)),
    )
    assert len(rows) == 2 + 10_000  # no line lost, none read twice
    assert shown(rows[:3]) == [
        (1, 2, ["ada@example.com", "fine"], None),
        (
            2,
            3,
            ['grace@example.com,"never closed'],
            f"a quoted cell starting on this line has no closing quote within {MAX_RECORD_LINES} lines",
        ),
        (3, 4, ["user0@example.com", "row 0"], None),
    ]
    assert shown(rows[-1:]) == [(10_002, 10_003, ["user9999@example.com", "row 9999"], None)]


def test_a_quote_closed_lines_later_leaving_too_few_cells_folds_nothing(tmp_path: Path) -> None:
    """The quote opened on line 2 closes on line 4, which the csv module reads as one row of two cells:
    that is two rows run together, not a cell with line breaks."""
    rows = read_text(
        tmp_path,
        'email,name,notes\nada@example.com,"Ada\ngrace@example.com,Grace,x\nlinus@example.com,Linus"\n'
        "zoe@example.com,Zoe,y\n",
    )
    assert shown(rows) == [
        (
            1,
            2,
            ['ada@example.com,"Ada'],
            "a quoted cell starting on this line runs to line 4, leaving the row 2 of the header's 3 cells: "
            "its closing quote is probably missing",
        ),
        (2, 3, ["grace@example.com", "Grace", "x"], None),
        (3, 4, ["linus@example.com", 'Linus"'], None),  # a quote inside an unquoted cell is a character
        (4, 5, ["zoe@example.com", "Zoe", "y"], None),
    ]


def test_a_cell_with_line_breaks_is_one_row_and_the_next_row_names_its_own_line(tmp_path: Path) -> None:
    rows = read_text(
        tmp_path,
        'email,name,notes\nada@example.com,Ada,"first line\nsecond, line\n\nfourth"\n'
        "grace@example.com,Grace,plain\n",
    )
    assert shown(rows) == [
        (1, 2, ["ada@example.com", "Ada", "first line\nsecond, line\n\nfourth"], None),
        (2, 6, ["grace@example.com", "Grace", "plain"], None),
    ]


@pytest.mark.parametrize("delimiter", [",", "\t", ";"], ids=["comma", "tab", "semicolon"])
def test_text_after_a_closing_quote_is_a_malformed_row_but_spaces_are_not(
    tmp_path: Path, delimiter: str
) -> None:
    lines = [
        ["email", "name"],
        ["ada@example.com", '"Ada" Lovelace'],
        ["grace@example.com", '"Grace" '],
        ['"linus@example.com"  ', "Linus"],
    ]
    rows = read_text(tmp_path, "".join(delimiter.join(cells) + "\n" for cells in lines))
    assert shown(rows) == [
        (
            1,
            2,
            [f'ada@example.com{delimiter}"Ada" Lovelace'],
            'text follows the closing quote of a quoted cell (a quote inside one is written "")',
        ),
        (2, 3, ["grace@example.com", "Grace"], None),
        (3, 4, ["linus@example.com", "Linus"], None),
    ]


def test_a_resumed_read_counts_malformed_rows_as_the_first_read_did(tmp_path: Path) -> None:
    text = (
        'email,name\na@example.com,"A\nb@example.com,B\nc@example.com,"C"x\n'
        'd@example.com,"D\nD"\ne@example.com,"E\n'
    )
    every = read_text(tmp_path, text)
    assert [(row.number, row.line, row.problem is not None) for row in every] == [
        (1, 2, True),
        (2, 3, False),
        (3, 4, True),
        (4, 5, False),
        (5, 7, True),
    ]
    for start in range(len(every) + 1):
        assert shown(read_text(tmp_path, text, start_row=start)) == shown(every[start:])


def test_a_header_that_cannot_be_read_refuses_the_file_naming_its_line(tmp_path: Path) -> None:
    path = tmp_path / "header.csv"
    path.write_text('\n"email,name\na@example.com,A\n', encoding="utf-8")
    with pytest.raises(CsvSourceError) as caught:
        sniff(opener(path))
    assert caught.value.field == "file"
    assert "the header row (line 2) cannot be read" in caught.value.message
    assert "no closing quote" in caught.value.message


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
