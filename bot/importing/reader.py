"""Read a CSV or XLSX file into rows of cleaned cells, keyed by header."""

from __future__ import annotations

import codecs
import csv
import itertools
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any, TypeVar

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

_TO_MAP = re.compile("[" + "".join(re.escape(chr(c)) for c in sorted(_FULLWIDTH) if not 0xD800 <= c < 0xE000)
                     + "\ud800-\udfff]")

Cell = Any  # str, or an XLSX value: int, float, bool, date, datetime
FORMULA_ERRORS_SHOWN = 20
SHARED_MAX = 100_000  # distinct non-ASCII texts cleaned once each; more (every name in the file) starts over


class Formula(str):
    """The text of an XLSX formula cell: refused, never evaluated nor taken from its cached value."""


C = TypeVar("C")


class Headers(dict[str, int]):
    """A file's header → position, shared by its rows, remembering which columns of a kind it has."""

    def __init__(self, positions: dict[str, int]) -> None:
        super().__init__(positions)
        self._present: dict[int, tuple[tuple[Any, ...], list[tuple[Any, int]]]] = {}

    def present(self, columns: tuple[C, ...], header: Callable[[C], str]) -> list[tuple[C, int]]:
        known = self._present.get(id(columns))
        if known is None or known[0] is not columns:
            known = (columns, [(c, self[header(c)]) for c in columns if header(c) in self])
            self._present[id(columns)] = known
        return known[1]


class Row:
    """One data row: its spreadsheet row number (header = 1) and its cells by header.

    Rows of a file share one header index and keep their cells as a tuple: a 200,000-row file then
    costs its cell values and little more (a dict per row would double it). `cells` is a read-only
    mapping view; rows built from a dict (the HTTP API) keep that dict."""

    __slots__ = ("_index", "_values", "number")

    def __init__(self, number: int, cells: Mapping[str, Cell] | None = None, *,
                 index: Headers | None = None, values: tuple[Cell, ...] = ()) -> None:
        self.number = number
        if index is None:
            cells = dict(cells or {})
            index, values = Headers({h: i for i, h in enumerate(cells)}), tuple(cells.values())
        self._index, self._values = index, values

    @property
    def cells(self) -> Mapping[str, Cell]:
        return _Cells(self._index, self._values)

    def get(self, header: str) -> Cell:
        i = self._index.get(header)
        return "" if i is None else self._values[i]

    def has(self, header: str) -> bool:
        """True when the file (or the API item) has this column at all, blank or not."""
        return header in self._index

    def present(self, columns: tuple[C, ...], header: Callable[[C], str]) -> list[tuple[C, int]]:
        """The `columns` this row has, with their positions in `positional()` (worked out once per file)."""
        return self._index.present(columns, header)

    def positional(self) -> tuple[Cell, ...]:
        """The cells in the positions `present` gives."""
        return self._values

    def __repr__(self) -> str:
        return f"Row({self.number}, {dict(self.cells)!r})"


class _Cells(Mapping[str, Cell]):
    __slots__ = ("_index", "_values")

    def __init__(self, index: dict[str, int], values: tuple[Cell, ...]) -> None:
        self._index, self._values = index, values

    def __getitem__(self, header: str) -> Cell:
        return self._values[self._index[header]]

    def __contains__(self, header: object) -> bool:
        return header in self._index

    def __iter__(self) -> Iterator[str]:
        return iter(self._index)

    def __len__(self) -> int:
        return len(self._index)


@dataclass
class Table:
    """The headers, and the data rows as they are read: `rows` can be walked once, and raises
    ImportRejected at its end when the file holds formula cells (so a file is never held whole)."""

    headers: list[str]
    rows: Iterator[Row]


def clean_text(text: str) -> str:
    """Trim and normalise full-width digits, letters and spaces."""
    if text.isascii() and "\x00" not in text:  # most cells: nothing to translate
        return text.strip()
    return text.translate(_FULLWIDTH).strip()


def clean_cell(value: Any) -> Cell:
    if type(value) is str:
        return clean_text(value)
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
    return _to_table(records, texts=suffix in CSV_SUFFIXES)


def _to_table(records: Iterable[tuple[int, list[Any]]], *, texts: bool = False) -> Table:
    """The header now; the rows from the remaining (row number, raw values) records as they are read."""
    records = iter(records)
    first = next(records, None)
    if first is None:
        raise ImportRejected(["文件为空：第一行应为表头"])
    header_no, header_cells = first
    headers = [clean_header(h) for h in header_cells]
    dup = sorted({h for h in headers if h and headers.count(h) > 1})
    if dup:
        raise ImportRejected([f"第{header_no}行 表头: 列名重复：{'、'.join(dup)}"])
    positions = [i for i, h in enumerate(headers) if h]
    index = Headers({headers[i]: n for n, i in enumerate(positions)})
    return Table([h for h in headers if h], _rows(records, positions, index, texts))


def _rows(records: Iterator[tuple[int, list[Any]]], positions: list[int], index: Headers, texts: bool,
          ) -> Iterator[Row]:
    """The non-empty rows; formula cells are collected and refused once the file has been read."""
    formulas: list[str] = []
    shared: dict[str, Cell] = {}
    width, need = len(positions), positions[-1] + 1 if positions else 0
    for number, raw in records:
        if len(raw) < need:  # a short record: its missing cells are blank
            raw = [*raw, *[""] * (need - len(raw))]
        if texts:  # CSV: the line is normalised already (_normalised), its cells only need trimming
            values = tuple([raw[i].strip() for i in positions])
        else:
            values = tuple([_clean_shared(shared, raw[i]) for i in positions])
        if not texts and any(type(v) is Formula for v in values):
            formulas += [f"第{number}行 {h}: 单元格是公式（{v[:30]}），请改为文本或数值后再导入"
                         for h, v in zip(index, values, strict=True) if isinstance(v, Formula)]
        if values.count("") != width:  # a cleaned blank cell is ""
            yield Row(number, index=index, values=values)
        if len(shared) > SHARED_MAX:
            shared.clear()
    if formulas:
        more = [f"……共 {len(formulas)} 个公式单元格"] if len(formulas) > FORMULA_ERRORS_SHOWN else []
        raise ImportRejected(formulas[:FORMULA_ERRORS_SHOWN] + more)


def _clean_shared(pool: dict[str, Cell], value: Any) -> Cell:
    """The cleaned cell; a short non-ASCII text (a unit name, a type, a stage) is cleaned once per file."""
    if type(value) is not str:
        return clean_cell(value)
    if value.isascii() and "\x00" not in value:
        return value.strip()
    cleaned = pool.get(value)
    if cleaned is None:
        cleaned = clean_text(value)
        if len(value) <= 40:
            pool[value] = cleaned
    return cleaned


def _encoding(path: Path) -> str:
    """UTF-8 (with or without BOM) or GBK/GB18030, checked over the whole file in 1 MB chunks."""
    for encoding in ("utf-8-sig", "gb18030"):
        decoder = codecs.getincrementaldecoder(encoding)()
        try:
            with path.open("rb") as f:
                while chunk := f.read(1 << 20):
                    decoder.decode(chunk)
                decoder.decode(b"", final=True)
            return encoding
        except UnicodeDecodeError:
            continue
    raise ImportRejected(["无法识别文件编码，请另存为 UTF-8 或 GBK 编码的 CSV"])


def _csv_records(path: Path) -> Iterator[tuple[int, list[Any]]]:
    """The file's records, read as they are needed (the text is never held whole)."""
    encoding = _encoding(path)
    with path.open(encoding=encoding, newline="") as f:
        first = f.readline()
        f.seek(0)
        delimiter = "\t" if "\t" in first and "," not in first else ","
        try:
            yield from _drop_leading_blank(enumerate(csv.reader(_normalised(f), delimiter=delimiter), start=1))
        except csv.Error as exc:
            raise ImportRejected([f"CSV 格式错误：{exc}"]) from exc


def _normalised(lines: Iterable[str]) -> Iterator[str]:
    """The lines of a CSV file with clean_text's character mapping applied (one call per line, not per
    cell; the mapping leaves the separators alone)."""
    for line in lines:
        yield line.translate(_FULLWIDTH) if _TO_MAP.search(line) else line


_UNREADABLE = "无法读取 Excel 文件：文件已损坏，或不是 .xlsx 格式。请在 Excel 中另存为 .xlsx 或 CSV 后再导入"


def _xlsx_records(path: Path) -> Iterator[tuple[int, list[Any]]]:
    """The first sheet's records, read as they are needed (openpyxl's read-only mode streams the sheet)."""
    from openpyxl import load_workbook

    try:
        # data_only=False: a formula comes as its text (marked Formula and refused), never as the
        # value Excel cached for it; a text cell that starts with "=" stays text
        wb = load_workbook(path, read_only=True, data_only=False)
    except Exception as exc:  # openpyxl raises many kinds for a damaged file
        raise ImportRejected([_UNREADABLE]) from exc
    try:
        rows = ((i, [_xlsx_value(c) for c in cells]) for i, cells in enumerate(wb.worksheets[0].iter_rows(), start=1))
        yield from _drop_leading_blank(_unreadable_as_rejected(rows))
    finally:
        wb.close()


def _unreadable_as_rejected(rows: Iterator[tuple[int, list[Any]]]) -> Iterator[tuple[int, list[Any]]]:
    """A damaged sheet can fail while it is read, too."""
    try:
        yield from rows
    except Exception as exc:
        raise ImportRejected([_UNREADABLE]) from exc


def _xlsx_value(cell: Any) -> Any:
    value = getattr(cell, "value", None)
    if getattr(cell, "data_type", None) == "f":
        return Formula(value if isinstance(value, str) else getattr(value, "text", None) or "=")
    return value


def _drop_leading_blank(records: Iterable[tuple[int, list[Any]]]) -> Iterator[tuple[int, list[Any]]]:
    """Skip empty rows above the header, keeping the real row numbers (the rest pass untouched)."""
    records = iter(records)
    for number, values in records:
        if any(not is_blank(clean_cell(v)) for v in values):
            return itertools.chain([(number, values)], records)
    return iter(())
