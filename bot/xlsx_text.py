"""The one way exports put values into an .xlsx: user text is always written as text.

openpyxl turns any string that starts with "=" into a live formula, so a 问题描述 such as
`=HYPERLINK("http://…")` or `=cmd|' /C calc'!A0` would run when the file is opened (formula
injection). Every export builds its cells with `cell()` or `row()` here: a string stays a
string cell, and a string that a spreadsheet could read as a formula (= + - @, or a leading
tab or carriage return) also gets Excel's quote prefix, so editing the cell keeps it text.
Exports never contain formulas. tests/hostile/test_files.py checks that every module that
builds a workbook uses this one.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import Cell
from openpyxl.worksheet._write_only import WriteOnlyWorksheet

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def as_text(cell: Any) -> Any:
    """Make a cell holding a string a plain text cell (never a formula); returns the cell."""
    value = cell.value
    if isinstance(value, str):
        cell.data_type = "s"
        if value.startswith(FORMULA_START):
            cell.quotePrefix = True
    return cell


def cell(ws: Any, value: object) -> Any:
    """A cell of `ws` (write-only or normal) holding `value`, strings as text."""
    made = WriteOnlyCell(ws, value) if isinstance(ws, WriteOnlyWorksheet) else Cell(ws, value=value)
    return as_text(made)


def row(ws: Any, values: Iterable[object]) -> list[Any]:
    """Cells for `ws.append(...)`, strings as text."""
    return [v if isinstance(v, Cell) else cell(ws, v) for v in values]
