"""The CSV/XLSX exports that monitoring platforms give, read into records for
``layers.io.observations.check_observations`` (which checks them like any other path's)."""

from __future__ import annotations

from io import StringIO
from pathlib import Path
from typing import Any

import pandas as pd
from openpyxl import load_workbook

from layers.errors import InputError
from layers.io.ledger import header_key, split_header
from layers.io.observations import is_length_unit, missing_value

_FIELD_HEADERS: dict[str, tuple[str, ...]] = {
    "station": ("站码", "测站编码", "测站代码", "站号", "站点编码", "station", "station_id"),
    "time": ("时间", "观测时间", "监测时间", "time"),
    "value": ("水位", "雨量", "降雨量", "时段雨量", "value"),
    "unit": ("单位", "unit"),
    "quality": ("质量", "质量码", "quality"),
}
"""Headers as monitoring platforms write them, by field; a value header may carry its unit in
brackets (``水位(m)``, ``雨量（mm）``)."""
_REQUIRED = ("station", "time", "value")
_HEADER_FIELDS = {header_key(text): field for field, texts in _FIELD_HEADERS.items() for text in texts}
CSV_ENCODINGS = ("utf-8-sig", "gb18030")
"""UTF-8 (with or without a BOM) first, then GB18030 (which covers GBK and GB2312)."""


def read_observation_file(path: str | Path) -> list[dict[str, Any]]:
    """The rows of a CSV (UTF-8, UTF-8 with BOM or GB18030) or XLSX export, as records for
    ``check_observations``.

    The first row is the header; columns are found by their Chinese or English names (see
    ``_FIELD_HEADERS``) and other columns (站名 …) are ignored. A unit in the value header's
    brackets is each row's unit unless a 单位 column gives one. Cells are kept as read (text for
    CSV; numbers and naive datetimes, i.e. Beijing time, for XLSX); each record carries ``_row``,
    the spreadsheet row number (the header is row 1). Blank rows are left out.

    Raises ``InputError`` naming the file when it cannot be read or lacks station, time or value.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: file not found")
    suffix = path.suffix.lower()
    if suffix in (".csv", ".txt"):
        header, rows = _read_csv(path)
    elif suffix in (".xlsx", ".xlsm"):
        header, rows = _read_xlsx(path)
    else:
        raise InputError(f"{path}: observations are read from .csv or .xlsx files, not {suffix or 'a file without a suffix'}")
    columns, header_unit = _map_header(path, header)
    records: list[dict[str, Any]] = []
    for number, cells in rows:
        if all(missing_value(cell) or (isinstance(cell, str) and not cell.strip()) for cell in cells):
            continue
        record: dict[str, Any] = {field: cells[index] if index < len(cells) else None for field, index in columns.items()}
        if header_unit and (missing_value(record.get("unit")) or record.get("unit") == ""):
            record["unit"] = header_unit
        record["_row"] = number
        records.append(record)
    return records


def _read_csv(path: Path) -> tuple[list[Any], list[tuple[int, list[Any]]]]:
    data = path.read_bytes()
    for encoding in CSV_ENCODINGS:
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise InputError(f"{path}: not UTF-8 or GB18030 text; save it as CSV UTF-8 and retry")
    try:
        frame = pd.read_csv(StringIO(text), dtype=str, keep_default_na=False, skip_blank_lines=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as error:
        raise InputError(f"{path}: not a readable CSV table ({str(error).strip()})") from None
    # Row numbers as a spreadsheet shows them: header row 1, blank lines kept in the count.
    rows = [(index + 2, list(cells)) for index, cells in enumerate(frame.itertuples(index=False, name=None))]
    return list(frame.columns), rows


def _read_xlsx(path: Path) -> tuple[list[Any], list[tuple[int, list[Any]]]]:
    try:
        workbook = load_workbook(path, read_only=True, data_only=True)
    except Exception as error:  # openpyxl raises many kinds for a damaged or mislabelled file
        raise InputError(f"{path}: not a readable XLSX workbook ({type(error).__name__}: {error})") from None
    try:
        sheet = workbook.worksheets[0]
        lines = sheet.iter_rows(min_row=1, values_only=True)
        header = list(next(lines, ()))
        rows = [(number, list(cells)) for number, cells in enumerate(lines, start=2)]
    finally:
        workbook.close()
    return header, rows


def _map_header(path: Path, header: list[Any]) -> tuple[dict[str, int], str | None]:
    """Column index of each field found, and the unit written in the value's header."""
    columns: dict[str, int] = {}
    unit: str | None = None
    for index, cell in enumerate(header):
        if missing_value(cell) or not str(cell).strip():
            continue
        parts = split_header(str(cell))
        field = _HEADER_FIELDS.get(parts.key) or _HEADER_FIELDS.get(parts.base)
        if field is None:
            continue
        if field in columns:
            raise InputError(f"{path}: columns {header[columns[field]]} and {cell} both give the {field}; keep one")
        columns[field] = index
        if field == "value" and parts.unit is not None:
            unit = parts.unit.text
        elif field == "value" and parts.note and is_length_unit(parts.note):
            unit = parts.note  # mm and cm are not in the ledger's table of units
    missing = [field for field in _REQUIRED if field not in columns]
    if missing:
        found = ", ".join(str(cell) for cell in header if not missing_value(cell)) or "none"
        expected = "; ".join(f"{field}: {'/'.join(_FIELD_HEADERS[field])}" for field in missing)
        raise InputError(f"{path}: no column for {', '.join(missing)}. Columns found: {found}. Expected: {expected}")
    return columns, unit
