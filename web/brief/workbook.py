"""The brief's tables as an XLSX workbook (openpyxl): a first sheet "概要" (title, time, author,
summary, notes, and which sheet holds which table), then one sheet per table with its header row
bold and frozen, numbers stored as numbers, and columns as wide as their text (CJK counts double).
"""

from __future__ import annotations

import io
import math
import numbers
import re
from collections.abc import Iterable

from openpyxl import Workbook
from openpyxl.cell.cell import Cell as SheetCell
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet
from wcwidth import wcswidth, wcwidth

from .content import Brief, BriefTable, Cell, clean_text, is_number

SUMMARY_SHEET = "概要"
MAX_SHEET_NAME = 31
MAX_CELL_CHARS = 32767
"""Excel's limit on the characters of a cell; longer text is cut."""
_BAD_SHEET_CHARS = re.compile(r"[\[\]:*?/\\]")
_BOLD = Font(bold=True)
_HEADER_FILL = PatternFill("solid", fgColor="E6EBF1")


def sheet_names(titles: Iterable[str], *, reserved: Iterable[str] = (SUMMARY_SHEET,)) -> list[str]:
    """Valid, unique sheet names for ``titles``: []:*?/\\ replaced by "_", at most 31 characters,
    no leading or trailing apostrophe, unique ignoring case (as Excel compares them) — a repeat
    gets "(2)", "(3)" …; an empty title becomes "表N"."""
    used = {name.casefold() for name in reserved} | {"history"}  # Excel keeps "History" for itself
    names = []
    for number, title in enumerate(titles, start=1):
        base = _BAD_SHEET_CHARS.sub("_", clean_text(title)).strip().strip("'").strip() or f"表{number}"
        name, copy = base[:MAX_SHEET_NAME].rstrip("'"), 1
        while name.casefold() in used:
            copy += 1
            suffix = f"({copy})"
            name = base[: MAX_SHEET_NAME - len(suffix)].rstrip("'") + suffix
        used.add(name.casefold())
        names.append(name)
    return names


def render_brief_xlsx(brief: Brief) -> bytes:
    """The brief's tables as an XLSX workbook (bytes), the "概要" sheet first."""
    workbook = Workbook()
    summary = workbook.active
    assert summary is not None
    summary.title = SUMMARY_SHEET
    names = sheet_names(table.title for table in brief.tables)
    _write_summary(summary, brief, names)
    for table, name in zip(brief.tables, names, strict=True):
        _write_table(workbook.create_sheet(name), table)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _text_cell(sheet: Worksheet, row: int, column: int, value: object) -> SheetCell:
    """A cell holding ``value`` as text, even when it starts with "=" (never a formula)."""
    text = clean_text(value)[:MAX_CELL_CHARS]
    cell = sheet.cell(row=row, column=column, value=text)
    cell.data_type = "s"
    return cell


def _write_summary(sheet: Worksheet, brief: Brief, names: list[str]) -> None:
    rows: list[tuple[str, object, object]] = [("标题", brief.title, None), ("时间", f"{brief.made_at_text}（北京时间）", None), ("编制", brief.author, None)]
    rows += [("概要" if index == 0 else "", sentence, None) for index, sentence in enumerate(brief.summary)]
    rows += [("说明" if index == 0 else "", note, None) for index, note in enumerate(brief.notes)]
    if brief.map is not None:
        rows.append(("审图号", brief.review_number, None))
    rows += [("表格" if index == 0 else "", f"工作表「{name}」", table.title + (f"（{table.note}）" if table.note else ""))
             for index, (table, name) in enumerate(zip(brief.tables, names, strict=True))]
    for number, (label, text, extra) in enumerate(rows, start=1):
        sheet.cell(row=number, column=1, value=label).font = _BOLD
        _text_cell(sheet, number, 2, text).alignment = Alignment(wrap_text=True, vertical="top")
        if extra is not None:
            _text_cell(sheet, number, 3, extra)
    sheet.column_dimensions["A"].width = 10
    sheet.column_dimensions["B"].width = 70
    sheet.column_dimensions["C"].width = 50


def _number(value: Cell) -> int | float | str | None:
    """A number as Excel stores it: NaN → empty, ±inf → text."""
    if isinstance(value, numbers.Integral):
        return int(value)
    number = float(value)  # type: ignore[arg-type]
    if math.isnan(number):
        return None
    return number if math.isfinite(number) else ("∞" if number > 0 else "-∞")


def _write_table(sheet: Worksheet, table: BriefTable) -> None:
    widths = [_display_width(name) for name in table.columns]
    for column, name in enumerate(table.columns, start=1):
        cell = _text_cell(sheet, 1, column, name)
        cell.font, cell.fill = _BOLD, _HEADER_FILL
        cell.alignment = Alignment(horizontal="right" if table.is_numeric(column - 1) else "left")
    sheet.freeze_panes = "A2"
    if not table.rows:
        sheet.cell(row=2, column=1, value="无")
    for row_number, row in enumerate(table.rows, start=2):
        for index, value in enumerate(row):
            if value is None:
                continue
            if is_number(value):
                stored = _number(value)
                cell = sheet.cell(row=row_number, column=index + 1, value=stored)
                if isinstance(stored, float):
                    decimals = table.decimals.get(table.columns[index], 1)
                    cell.number_format = "#,##0" + ("." + "0" * decimals if decimals > 0 else "")
                elif isinstance(stored, int):
                    cell.number_format = "#,##0"
            else:
                _text_cell(sheet, row_number, index + 1, value)
            widths[index] = max(widths[index], _display_width(table.format_cell(index, value)))
    for index, width in enumerate(widths, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = min(max(width + 2, 8), 60)


def _display_width(text: str) -> int:
    """Columns a text takes in a fixed-width view: CJK and emoji count 2 (East-Asian width)."""
    width = wcswidth(text)
    return width if width >= 0 else sum(max(wcwidth(character), 0) for character in text)
