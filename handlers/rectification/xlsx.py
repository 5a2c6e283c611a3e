"""问题台账 as an Excel workbook: one row per problem, and a per-unit summary.

A pure function of the rows the caller has already computed (lights, workdays left), so it can
run in a worker thread (10,000 rows take 2-3 s). It uses openpyxl's write-only mode: rows are
streamed, and each style combination is registered with the workbook once and then shared.
Dates stay real dates, so filtering and sorting work in Excel and WPS; a provisional deadline
shows "（暂定）" through its number format.
"""

from __future__ import annotations

import io
from copy import copy
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Protocol

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import Cell
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet._write_only import WriteOnlyWorksheet

from bot import xlsx_text

LEDGER_SHEET, SUMMARY_SHEET = "问题台账", "按单位汇总"
LEDGER_COLUMNS = (  # (header, width)
    ("问题编号", 15), ("单位", 22), ("问题来源", 10), ("问题描述", 48), ("整改要求", 36), ("交办日期", 12),
    ("整改期限", 19), ("剩余工作日", 11), ("灯", 8), ("状态", 12), ("销号日期", 12),
)
SUMMARY_COLUMNS = (
    ("单位", 26), ("问题总数", 10), ("已销号", 10), ("未销号", 10), ("红灯", 8), ("黄灯", 8), ("绿灯", 8),
    ("销号率", 10),
)
LIGHTS = {  # light -> (label, fill, font colour)
    "green": ("绿", "C6EFCE", "006100"),
    "yellow": ("黄", "FFEB9C", "9C5700"),
    "red": ("红", "FFC7CE", "9C0006"),
    "closed": ("已销号", "D9D9D9", "404040"),
}
PROVISIONAL = "（暂定）"
DATE_FORMAT = "yyyy-mm-dd"
PROVISIONAL_FORMAT = f'{DATE_FORMAT}"{PROVISIONAL}"'

_TOP = Alignment(vertical="top")
_STYLES: dict[str, dict[str, object]] = {
    "title": {"font": Font(bold=True, size=14)},
    "header": {"font": Font(bold=True), "fill": PatternFill("solid", fgColor="DDEBF7"),
               "alignment": Alignment(horizontal="center", vertical="center", wrap_text=True)},
    "text": {"alignment": _TOP},
    "wrap": {"alignment": Alignment(vertical="top", wrap_text=True)},
    "date": {"alignment": _TOP, "number_format": DATE_FORMAT},
    "provisional": {"alignment": _TOP, "number_format": PROVISIONAL_FORMAT},
    "overdue": {"alignment": _TOP, "font": Font(color="9C0006", bold=True)},
    "pct": {"number_format": "0.0%"},
    "bold": {"font": Font(bold=True)},
    "bold-pct": {"font": Font(bold=True), "number_format": "0.0%"},
    **{f"light-{k}": {"fill": PatternFill("solid", fgColor=fill), "font": Font(color=colour, bold=True),
                      "alignment": Alignment(horizontal="center", vertical="top")}
       for k, (_, fill, colour) in LIGHTS.items()},
    "red-count": {"fill": PatternFill("solid", fgColor=LIGHTS["red"][1]), "font": Font(color=LIGHTS["red"][2])},
}


@dataclass(frozen=True)
class LedgerRow:
    number: str
    unit: str
    source: str
    description: str
    requirement: str
    assigned_on: date
    deadline: date
    provisional: bool
    workdays_left: int  # negative = overdue
    light: str  # green / yellow / red / closed
    status: str
    closed_on: date | None = None

    def __post_init__(self) -> None:
        if self.light not in LIGHTS:
            raise ValueError(f"light must be one of {', '.join(LIGHTS)}, got {self.light!r}")


def build_ledger_xlsx(rows: list[LedgerRow], *, title: str, generated_at: datetime) -> bytes:
    """The workbook as bytes: sheet 问题台账 (rows in the given order) and 按单位汇总."""
    wb = Workbook(write_only=True)
    wb.properties.title = title
    wb.properties.creator = "编办监督助手"
    stamp = f"生成时间：{generated_at:%Y-%m-%d %H:%M}"
    styles: dict[str, Any] = {}  # style name -> its StyleArray in this workbook

    sheet = _Sheet(wb.create_sheet(LEDGER_SHEET), styles)
    sheet.start(f"{title}（{stamp}，共 {len(rows)} 条）", LEDGER_COLUMNS)
    for row in rows:
        sheet.ws.append(_ledger_cells(sheet.cell, row))
    sheet.filter(len(LEDGER_COLUMNS), 2 + len(rows))

    summary = _summarise(rows)
    sheet = _Sheet(wb.create_sheet(SUMMARY_SHEET), styles)
    sheet.start(f"{title}·按单位汇总（{stamp}）", SUMMARY_COLUMNS)
    for unit, counts in summary:
        sheet.ws.append(_summary_cells(sheet.cell, unit, counts))
    sheet.filter(len(SUMMARY_COLUMNS), 2 + len(summary))
    if summary:  # the total stays outside the filter range, so sorting leaves it at the bottom
        total = {k: sum(c[k] for _, c in summary) for k in LIGHTS}
        sheet.ws.append(_summary_cells(sheet.cell, "合计", total, bold=True))

    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def _ledger_cells(cell: _CellMaker, row: LedgerRow) -> list[Cell]:
    closed = row.light == "closed"
    overdue = not closed and row.workdays_left < 0
    return [
        cell(row.number), cell(row.unit), cell(row.source),
        cell(row.description, "wrap"), cell(row.requirement, "wrap"),
        cell(row.assigned_on, "date"),
        cell(row.deadline, "provisional" if row.provisional else "date"),
        cell(None if closed else row.workdays_left, "overdue" if overdue else "text"),
        cell(LIGHTS[row.light][0], f"light-{row.light}"),
        cell(row.status), cell(row.closed_on, "date"),
    ]


def _summarise(rows: list[LedgerRow]) -> list[tuple[str, dict[str, int]]]:
    units: dict[str, dict[str, int]] = {}
    for row in rows:
        units.setdefault(row.unit, dict.fromkeys(LIGHTS, 0))[row.light] += 1
    # most red first, then most yellow, then most still open; ties keep the rows' order
    return sorted(units.items(), key=lambda kv: (-kv[1]["red"], -kv[1]["yellow"], kv[1]["closed"] - _total(kv[1])))


def _total(counts: dict[str, int]) -> int:
    return sum(counts.values())


def _summary_cells(cell: _CellMaker, unit: str, c: dict[str, int], *, bold: bool = False) -> list[Cell]:
    total = _total(c)
    plain = "bold" if bold else ""
    return [
        cell(unit, plain), cell(total, plain), cell(c["closed"], plain), cell(total - c["closed"], plain),
        cell(c["red"], "red-count" if c["red"] else plain), cell(c["yellow"], plain), cell(c["green"], plain),
        cell(c["closed"] / total if total else None, "bold-pct" if bold else "pct"),
    ]


class _CellMaker(Protocol):
    def __call__(self, value: object, style: str = "text") -> Cell: ...


class _Sheet:
    def __init__(self, ws: WriteOnlyWorksheet, styles: dict[str, Any]) -> None:
        self.ws = ws
        self._styles = styles

    def cell(self, value: object, style: str = "text") -> Cell:
        """A cell with one of _STYLES; the style is registered on first use and then copied."""
        cell = WriteOnlyCell(self.ws, value)
        if not style:
            return xlsx_text.as_text(cell)
        if style not in self._styles:
            proto = WriteOnlyCell(self.ws)
            for name, attr in _STYLES[style].items():
                setattr(proto, name, attr)
            self._styles[style] = proto._style
        cell._style = copy(self._styles[style])
        return xlsx_text.as_text(cell)  # user text is never a formula

    def start(self, heading: str, columns: tuple[tuple[str, int], ...]) -> None:
        """Column widths, frozen header and print setup (all before any row), then heading and header."""
        ws = self.ws
        for i, (_, width) in enumerate(columns, start=1):
            ws.column_dimensions[get_column_letter(i)].width = width
        ws.freeze_panes = "A3"
        ws.print_title_rows = "1:2"
        ws.page_setup.orientation = "landscape"
        ws.page_setup.fitToWidth, ws.page_setup.fitToHeight = 1, 0
        ws.sheet_properties.pageSetUpPr.fitToPage = True
        ws.append([self.cell(heading, "title")])
        ws.append([self.cell(name, "header") for name, _ in columns])

    def filter(self, ncols: int, last_row: int) -> None:
        self.ws.auto_filter.ref = f"A2:{get_column_letter(ncols)}{max(last_row, 2)}"
