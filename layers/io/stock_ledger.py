"""A depot stock ledger (库存台账) from a CSV or XLSX file: which depot holds how much of which
item, checked against the depots in the store and the items and units of a needs profile.

``onemap stocks import`` stores a ledger in the ``depot_stocks`` table (items known to the
shipped needs profiles, or to the profile given); a scenario reads the stored stocks, or a ledger
file given with ``--stocks``, and keeps the items its needs profile asks for
(``stocks_for_profile``).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from gis.scenario.needs import NeedsProfile
from layers.errors import InputError
from layers.io.ledger import fold_text, header_key, non_record_reason, numbers_from_text
from layers.io.readers import SourceTable, iter_source

HEADERS: dict[str, tuple[str, ...]] = {
    "depot": ("depot_id", "depot", "储备库编号", "储备库", "储备库名称", "仓库编号", "仓库", "仓库名称", "库点", "库点名称", "储备点", "储备点名称"),
    "item": ("item", "物资", "物资名称", "物资品名", "品名", "名称"),
    "quantity": ("quantity", "数量", "库存", "库存数量", "现有数量"),
    "unit": ("unit", "单位", "计量单位"),
}
"""Each column and the headers that name it (the first one present wins)."""
UNIT_SYNONYMS = {"千克": "kg", "公斤": "kg", "kg": "kg", "吨": "t", "升": "l", "l": "l", "L": "l", "个": "piece", "件": "piece", "顶": "piece",
                 "张": "piece", "床": "piece", "座": "piece", "台": "piece", "套": "set", "箱": "box", "袋": "bag", "瓶": "bottle", "份": "kit", "包": "kit"}
"""Chinese ledger units → the profile's units."""


def read_stock_ledger(path: str | Path, depots: pd.DataFrame, profile: NeedsProfile) -> tuple[pd.DataFrame, list[str]]:
    """The ledger as (depot_id, item, quantity, unit) rows, and warnings.

    Read by the importer's own reader (``layers.io.readers``): CSV in UTF-8 or GB18030, XLSX;
    a title or notes above the header are skipped, headers compared full-width-folded, 合计
    rows and notes under the table left out, quantities with thousands separators read.
    ``depots``: the supply_depots layer (source_id, name); a row's depot is matched by
    source_id, else by exact name. Items are matched to the profile by id or Chinese name; rows
    of items the profile does not need are left out with a warning. An InputError names the
    file, the row (as a spreadsheet counts it, header = row 1), the field and the reason."""
    path = Path(path)
    if path.suffix.lower() not in (".csv", ".txt", ".xlsx", ".xlsm"):
        raise InputError(f"{path}: a stock ledger is a CSV or XLSX file")
    table = read_source_table(path)
    keys = {header_key(str(c)): str(c) for c in table.attributes.columns}
    columns = {}
    for name, headers in HEADERS.items():
        found = next((keys[header_key(h)] for h in headers if header_key(h) in keys), None)
        if found is None:
            raise InputError(f"{path}: no {name} column; name it one of {', '.join(headers)} (columns are {', '.join(map(str, table.attributes.columns))})")
        columns[name] = found
    by_id = {str(i): str(i) for i in depots["source_id"]}
    by_name = {str(n): str(i) for i, n in zip(depots["source_id"], depots["name"], strict=True)}
    items = {i.item: i for i in profile.items} | {i.name_zh: i for i in profile.items}
    quantities, unreadable = numbers_from_text(table.attributes[columns["quantity"]])
    rows: list[tuple[str, str, float, str]] = []
    warnings: list[str] = []
    unneeded: set[str] = set()
    seen: dict[tuple[str, str], int] = {}
    for position, record in enumerate(table.attributes.to_dict("records")):
        number = table.row_labels[position] if table.row_labels else position + 2
        if non_record_reason(list(record.values())) is not None:
            continue
        depot_text, item_text = _text(record[columns["depot"]]), _text(record[columns["item"]])
        depot = by_id.get(depot_text) or by_name.get(depot_text)
        if depot is None:
            raise InputError(f"{path}: row {number} {columns['depot']}: no supply depot has the id or name {depot_text!r}; import the depot first (onemap import supply_depots)")
        item = items.get(item_text)
        if item is None:
            unneeded.add(item_text)
            continue
        quantity = quantities[position]
        if unreadable[position] or not quantity >= 0:
            raise InputError(f"{path}: row {number} {columns['quantity']}: {record[columns['quantity']]!r} is not a quantity ≥ 0")
        unit_text = _text(record[columns["unit"]])
        unit = UNIT_SYNONYMS.get(unit_text, unit_text)
        if unit != item.unit:
            raise InputError(f"{path}: row {number} {columns['unit']}: {item.name_zh} is counted in {item.unit} in the needs profile, the ledger says {unit_text!r}; convert it")
        if (depot, item.item) in seen:
            raise InputError(f"{path}: row {number}: {depot_text} {item_text} is listed again (first at row {seen[(depot, item.item)]}); give each depot's item once")
        seen[(depot, item.item)] = number
        rows.append((depot, item.item, float(quantity), item.unit))
    if unneeded:
        warnings.append(f"{path.name}: items the needs profile does not ask for are left out: {', '.join(sorted(unneeded))}")
    return pd.DataFrame(rows, columns=["depot_id", "item", "quantity", "unit"]), warnings


def _text(value: object) -> str:
    return "" if value is None or (isinstance(value, float) and value != value) else fold_text(str(value))


def read_source_table(path: Path) -> SourceTable:
    """The ledger's table, its header found among the first rows by how many cells name a
    stock column."""
    known = {header_key(h) for headers in HEADERS.values() for h in headers}

    def score(cells: Sequence[str]) -> int:
        return sum(header_key(str(c)) in known for c in cells)

    return next(iter_source(path, header_score=score, chunk_rows=None))


def stocks_for_profile(stocks: pd.DataFrame, profile: NeedsProfile) -> tuple[pd.DataFrame, list[str]]:
    """The stored stocks (depot_id, item, quantity, unit) of the items ``profile`` needs, in its
    units, and warnings for what is left out (other items; an item stored in another unit)."""
    units = {i.item: i.unit for i in profile.items}
    wanted = stocks["item"].isin(list(units))
    same_unit = stocks["unit"] == stocks["item"].map(units)
    warnings = []
    if (~wanted).any():
        warnings.append(f"stored stocks of items the needs profile does not ask for are left out: {', '.join(sorted(set(stocks.loc[~wanted, 'item'])))}")
    if (wanted & ~same_unit).any():
        odd = stocks[wanted & ~same_unit]
        warnings.append("stored stocks in another unit than the needs profile's are left out: "
                        + ", ".join(f"{r.depot_id} {r.item} ({r.unit}, the profile counts {units[str(r.item)]})" for r in odd.head(10).itertuples()))
    kept = stocks.loc[wanted & same_unit, ["depot_id", "item", "quantity", "unit"]].reset_index(drop=True)
    return kept, warnings
