"""考评表 and 三张清单 as .xlsx (openpyxl). Every cell goes through bot.xlsx_text, so a value typed
by a user that starts with = + - @ never becomes a live formula."""

from __future__ import annotations

from io import BytesIO
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font
from openpyxl.worksheet.worksheet import Worksheet

from bot import xlsx_text
from models.evaluation.scoring import UnitResult


def _row(sheet: Worksheet, values: list[Any], *, bold: bool = False) -> None:
    sheet.append(xlsx_text.row(sheet, values))  # strings as text, never a formula
    for cell in sheet[sheet.max_row]:
        cell.alignment = Alignment(vertical="top", wrap_text=isinstance(cell.value, str) and len(cell.value) > 20)
        if bold:
            cell.font = Font(bold=True)


def _widths(sheet: Worksheet, widths: tuple[int, ...]) -> None:
    for i, w in enumerate(widths):
        sheet.column_dimensions[chr(ord("A") + i)].width = w


def build_scores_xlsx(results: list[UnitResult], tiers: dict[int, str], *, year: int, bulletin: str) -> bytes:
    book = Workbook()
    summary = book.active
    assert summary is not None
    summary.title = "排名"
    _row(summary, [f"{year} 年度机关职能运行监管评价排名"], bold=True)
    _row(summary, ["名次", "单位", "总分", "等次"], bold=True)
    for r in results:
        _row(summary, [r.rank, r.name, r.total, tiers.get(r.unit_id, "")])
    _widths(summary, (8, 30, 10, 10))
    sheet = book.create_sheet("考评表")
    _row(sheet, [f"{year} 年度监管评价考评表（逐单位逐项得分和依据）"], bold=True)
    _row(sheet, ["单位", "指标", "类别", "监管方式", "满分", "得分", "计分规则", "依据"], bold=True)
    for r in results:
        for i in r.items:
            _row(sheet, [r.name, i.indicator, i.category, i.method, i.full, i.score,
                         "人工评分" if i.manual else i.rule, i.evidence])
        _row(sheet, [r.name, "总分（加权，百分制）", "", "", 100, r.total, "", tiers.get(r.unit_id, "")], bold=True)
    _widths(sheet, (24, 28, 6, 16, 6, 8, 10, 60))
    sheet.freeze_panes = "A3"
    text = book.create_sheet("通报")
    for line in bulletin.splitlines():
        _row(text, [line])
    _widths(text, (120,))
    out = BytesIO()
    book.save(out)
    return out.getvalue()


def build_lists_xlsx(data: dict[str, Any]) -> bytes:
    book = Workbook()
    first = book.active
    assert first is not None
    book.remove(first)
    for kind, rows in data["lists"].items():
        sheet = book.create_sheet(kind)
        _row(sheet, [f"{data['title']} · {kind}清单"], bold=True)
        _row(sheet, ["编号", "单位", "内容", "负责人", "期限", "整改问题", "状态", "完成"], bold=True)
        for r in rows:
            _row(sheet, [r["number"], r["unit"], r["content"], r["owner"], r["due"].isoformat() if r["due"] else "",
                         r["problem"], r["status"], "是" if r["done"] else "否"])
        _widths(sheet, (16, 24, 60, 10, 12, 16, 12, 6))
    out = BytesIO()
    book.save(out)
    return out.getvalue()
