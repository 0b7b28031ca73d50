"""A depot stock ledger (库存台账) from a CSV or XLSX file: which depot holds how much of which
item, checked against the depots in the store and the items and units of a needs profile.

Until the ``depot_stocks`` table lands (issue 16), the ledger is read from its file for each
scenario; the checks here are the ones that table's import will make.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from gis.scenario.needs import NeedsProfile
from layers.errors import InputError

HEADERS: dict[str, tuple[str, ...]] = {
    "depot": ("depot_id", "depot", "储备库编号", "储备库", "仓库编号", "仓库", "库点", "储备点"),
    "item": ("item", "物资", "物资名称", "品名", "名称"),
    "quantity": ("quantity", "数量", "库存", "库存数量", "现有数量"),
    "unit": ("unit", "单位", "计量单位"),
}
"""Each column and the headers that name it (the first one present wins)."""
UNIT_SYNONYMS = {"千克": "kg", "公斤": "kg", "kg": "kg", "吨": "t", "升": "l", "l": "l", "L": "l", "个": "piece", "件": "piece", "顶": "piece",
                 "张": "piece", "床": "piece", "座": "piece", "台": "piece", "套": "set", "箱": "box", "袋": "bag", "瓶": "bottle", "份": "kit", "包": "kit"}
"""Chinese ledger units → the profile's units."""


def read_stock_ledger(path: str | Path, depots: pd.DataFrame, profile: NeedsProfile) -> tuple[pd.DataFrame, list[str]]:
    """The ledger as (depot_id, item, quantity, unit) rows, and warnings.

    ``depots``: the supply_depots layer (source_id, name); a row's depot is matched by source_id,
    else by exact name. Items are matched to the profile by id or Chinese name; rows of items the
    profile does not need are left out with a warning. An InputError names the file, the row (as
    a spreadsheet counts it, header = row 1), the field and the reason."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: stock ledger not found")
    frame = _read(path)
    columns = {}
    for name, headers in HEADERS.items():
        found = next((h for h in headers if h in frame.columns), None)
        if found is None:
            raise InputError(f"{path}: no {name} column; name it one of {', '.join(headers)} (columns are {', '.join(map(str, frame.columns))})")
        columns[name] = found
    by_id = {str(i): str(i) for i in depots["source_id"]}
    by_name = {str(n): str(i) for i, n in zip(depots["source_id"], depots["name"], strict=True)}
    items = {i.item: i for i in profile.items} | {i.name_zh: i for i in profile.items}
    rows, warnings, unneeded = [], [], set()
    for number, record in enumerate(frame.to_dict("records"), start=2):
        depot_text, item_text = str(record[columns["depot"]]).strip(), str(record[columns["item"]]).strip()
        depot = by_id.get(depot_text) or by_name.get(depot_text)
        if depot is None:
            raise InputError(f"{path}: row {number} {columns['depot']}: no supply depot has the id or name {depot_text!r}; import the depot first (onemap import supply_depots)")
        item = items.get(item_text)
        if item is None:
            unneeded.add(item_text)
            continue
        quantity = pd.to_numeric(pd.Series([record[columns["quantity"]]]), errors="coerce").iloc[0]
        if not quantity >= 0:
            raise InputError(f"{path}: row {number} {columns['quantity']}: {record[columns['quantity']]!r} is not a quantity ≥ 0")
        unit_text = str(record[columns["unit"]]).strip()
        unit = UNIT_SYNONYMS.get(unit_text, unit_text)
        if unit != item.unit:
            raise InputError(f"{path}: row {number} {columns['unit']}: {item.name_zh} is counted in {item.unit} in the needs profile, the ledger says {unit_text!r}; convert it")
        rows.append((depot, item.item, float(quantity), item.unit))
    if unneeded:
        warnings.append(f"{path.name}: items the needs profile does not ask for are left out: {', '.join(sorted(unneeded))}")
    return pd.DataFrame(rows, columns=["depot_id", "item", "quantity", "unit"]), warnings


def _read(path: Path) -> pd.DataFrame:
    try:
        if path.suffix.lower() in (".xlsx", ".xls"):
            return pd.read_excel(path, dtype=str)
        for encoding in ("utf-8-sig", "gb18030"):
            try:
                return pd.read_csv(path, dtype=str, encoding=encoding)
            except UnicodeDecodeError:
                continue
    except Exception as error:  # pandas raises many kinds for an unreadable file
        raise InputError(f"{path}: not a readable CSV or XLSX stock ledger ({error})") from None
    raise InputError(f"{path}: neither UTF-8 nor GB18030 text; save the ledger as CSV (UTF-8) or XLSX")
