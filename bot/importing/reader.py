"""Read a CSV or XLSX file into rows of cleaned cells, keyed by header."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from bot.importing.base import ImportRejected, is_blank

CSV_SUFFIXES = {".csv"}
XLSX_SUFFIXES = {".xlsx", ".xlsm"}

# Full-width digits, letters and spaces → ASCII; invisible characters dropped. Chinese punctuation
# (、，；（）：) is left alone, so names keep their brackets and lists keep their separators.
_FULLWIDTH = {c: c - 0xFEE0 for c in range(0xFF10, 0xFF1A)}
_FULLWIDTH.update({c: c - 0xFEE0 for c in range(0xFF21, 0xFF3B)})
_FULLWIDTH.update({c: c - 0xFEE0 for c in range(0xFF41, 0xFF5B)})
_FULLWIDTH.update({0x3000: " ", 0x00A0: " ", 0x200B: None, 0x200C: None, 0x200D: None, 0xFEFF: None})
# NUL (PostgreSQL cannot store it) and lone surrogates (not encodable as UTF-8) are dropped
_FULLWIDTH.update(dict.fromkeys([0x0000, *range(0xD800, 0xE000)]))

Cell = Any  # str, or an XLSX value: int, float, bool, date, datetime
FORMULA_ERRORS_SHOWN = 20


class Formula(str):
    """The text of an XLSX formula cell: refused, never evaluated nor taken from its cached value."""


@dataclass
class Row:
    """One data row: its spreadsheet row number (header = 1) and its cells by header."""

    number: int
    cells: dict[str, Cell] = field(default_factory=dict)

    def get(self, header: str) -> Cell:
        return self.cells.get(header, "")


@dataclass
class Table:
    headers: list[str]
    rows: list[Row]


def clean_text(text: str) -> str:
    """Trim and normalise full-width digits, letters and spaces."""
    return text.translate(_FULLWIDTH).strip()


def clean_cell(value: Any) -> Cell:
    if value is None:
        return ""
    if isinstance(value, Formula):
        return value
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, bool | int | float | date | datetime):
        return value
    return clean_text(str(value))


def clean_header(value: Any) -> str:
    """A header without its required-marker star."""
    return clean_text(str(value or "")).rstrip("*＊").strip()


def read_table(path: Path) -> Table:
    """The file's headers and non-empty data rows; ImportRejected when it cannot be read."""
    path = Path(path)
    if not path.is_file():
        raise ImportRejected([f"找不到文件：{path}"])
    suffix = path.suffix.lower()
    if suffix in CSV_SUFFIXES:
        records = _csv_records(path)
    elif suffix in XLSX_SUFFIXES:
        records = _xlsx_records(path)
    elif suffix == ".xls":
        raise ImportRejected(["不支持旧版 .xls 文件，请在 Excel 中另存为 .xlsx 或 CSV"])
    else:
        raise ImportRejected([f"不支持的文件类型“{suffix or path.name}”，请使用 .csv 或 .xlsx"])
    return _to_table(records)


def _to_table(records: list[tuple[int, list[Any]]]) -> Table:
    if not records:
        raise ImportRejected(["文件为空：第一行应为表头"])
    header_no, header_cells = records[0]
    headers = [clean_header(h) for h in header_cells]
    dup = sorted({h for h in headers if h and headers.count(h) > 1})
    if dup:
        raise ImportRejected([f"第{header_no}行 表头: 列名重复：{'、'.join(dup)}"])
    rows, formulas = [], []
    for number, values in records[1:]:
        cells = {h: clean_cell(values[i] if i < len(values) else None) for i, h in enumerate(headers) if h}
        formulas += [f"第{number}行 {h}: 单元格是公式（{v[:30]}），请改为文本或数值后再导入"
                     for h, v in cells.items() if isinstance(v, Formula)]
        if not all(is_blank(v) for v in cells.values()):
            rows.append(Row(number, cells))
    if formulas:
        more = [f"……共 {len(formulas)} 个公式单元格"] if len(formulas) > FORMULA_ERRORS_SHOWN else []
        raise ImportRejected(formulas[:FORMULA_ERRORS_SHOWN] + more)
    return Table([h for h in headers if h], rows)


def _decode(data: bytes) -> str:
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise ImportRejected(["无法识别文件编码，请另存为 UTF-8 或 GBK 编码的 CSV"])


def _csv_records(path: Path) -> list[tuple[int, list[Any]]]:
    text = _decode(path.read_bytes())
    first = text.split("\n", 1)[0]
    delimiter = "\t" if "\t" in first and "," not in first else ","
    try:
        rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))
    except csv.Error as exc:
        raise ImportRejected([f"CSV 格式错误：{exc}"]) from exc
    return _drop_leading_blank(list(enumerate(rows, start=1)))


_UNREADABLE = "无法读取 Excel 文件：文件已损坏，或不是 .xlsx 格式。请在 Excel 中另存为 .xlsx 或 CSV 后再导入"


def _xlsx_records(path: Path) -> list[tuple[int, list[Any]]]:
    from openpyxl import load_workbook

    try:
        # data_only=False: a formula comes as its text (marked Formula and refused), never as the
        # value Excel cached for it; a text cell that starts with "=" stays text
        wb = load_workbook(path, read_only=True, data_only=False)
    except Exception as exc:  # openpyxl raises many kinds for a damaged file
        raise ImportRejected([_UNREADABLE]) from exc
    try:
        ws = wb.worksheets[0]
        rows = [(i, [_xlsx_value(c) for c in cells]) for i, cells in enumerate(ws.iter_rows(), start=1)]
    except Exception as exc:  # a damaged sheet can fail while it is read, too
        raise ImportRejected([_UNREADABLE]) from exc
    finally:
        wb.close()
    return _drop_leading_blank(rows)


def _xlsx_value(cell: Any) -> Any:
    value = getattr(cell, "value", None)
    if getattr(cell, "data_type", None) == "f":
        return Formula(value if isinstance(value, str) else getattr(value, "text", None) or "=")
    return value


def _drop_leading_blank(records: list[tuple[int, list[Any]]]) -> list[tuple[int, list[Any]]]:
    """Skip empty rows above the header, keeping the real row numbers."""
    for i, (_, values) in enumerate(records):
        if any(not is_blank(clean_cell(v)) for v in values):
            return records[i:]
    return []
