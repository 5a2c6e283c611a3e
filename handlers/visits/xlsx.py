"""The visit roster as an .xlsx: one sheet per group, one per month (openpyxl)."""

from __future__ import annotations

from io import BytesIO

from openpyxl import Workbook
from openpyxl.styles import Font

from bot.xlsx_text import row as text_row

HEADER = ("月份", "组名", "单位", "乡镇", "安排日期")


def build_roster_xlsx(rows: list[tuple[int, str, str, str, str]], *, year: int) -> bytes:
    """`rows`: (month, group, unit, town, scheduled date or "")."""
    book = Workbook()
    book.remove(book.active)
    groups = sorted({r[1] for r in rows})
    for title, chosen in [*((g, [r for r in rows if r[1] == g]) for g in groups),
                          *((f"{m}月", [r for r in rows if r[0] == m]) for m in range(1, 13))]:
        sheet = book.create_sheet(title[:31])
        sheet.append(text_row(sheet, [f"{year} 年下沉式走访计划 · {title}"]))
        sheet["A1"].font = Font(bold=True, size=13)
        sheet.append(text_row(sheet, HEADER))
        for cell in sheet[2]:
            cell.font = Font(bold=True)
        for row in sorted(chosen):
            sheet.append(text_row(sheet, [f"{row[0]}月", *row[1:]]))
        for col, width in zip("ABCDE", (8, 12, 30, 12, 12), strict=True):
            sheet.column_dimensions[col].width = width
        sheet.freeze_panes = "A3"
    out = BytesIO()
    book.save(out)
    return out.getvalue()
