"""Every CSV the product writes (an import's errors.csv, the dedupe plan) is written through here, so no
cell of it runs as a formula when the file is opened in a spreadsheet.

A spreadsheet reads a cell starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return as a
formula: ``=cmd|' /C calc'!A0`` from an imported file would start a program on the machine of whoever
opens errors.csv. As OWASP advises ("CSV Injection"), such a cell gets a leading single quote, which
spreadsheets show as text. Negative numbers (``-5``) and international phone numbers (``+44…``) get one
too: telling them apart from formulas such as ``-1+cmd|…`` is not safe, and the quote shows where it was
added.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from typing import Any, Protocol

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


class _Writable(Protocol):
    def write(self, text: str, /) -> Any: ...


def neutralize(value: object) -> str:
    """The cell's text, with a single quote in front when a spreadsheet would read it as a formula."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


class SafeWriter:
    """``csv.writer`` whose every cell goes through ``neutralize``."""

    def __init__(self, handle: _Writable) -> None:
        self._writer = csv.writer(handle)

    def writerow(self, cells: Iterable[object]) -> None:
        self._writer.writerow([neutralize(cell) for cell in cells])


def writer(handle: _Writable) -> SafeWriter:
    """The one way to write a CSV: cells that would run as formulas are neutralized."""
    return SafeWriter(handle)
