"""Depot stocks (储备库存) over one store: a ledger imported whole (one transaction, with its
audit line), one stock set or removed by hand. Items and units are those of the needs profiles
(``rice`` in kg, ``drinking_water`` in l, …), so that a scenario's needs can be sent from them."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from gis.scenario.needs import NeedsProfile
from layers.accounts.tables import AuditLine
from layers.errors import InputError, NotFoundError
from layers.io.needs_profile import stock_items
from layers.io.stock_ledger import UNIT_SYNONYMS, read_stock_ledger
from layers.store import Store
from layers.store.base import WriteCounts


@dataclass(frozen=True)
class StockImport:
    """What an import did: rows read, the store's counts, and warnings (items left out)."""

    rows: int
    counts: WriteCounts
    warnings: list[str]


def import_stock_ledger(store: Store, path: Path, *, profile: NeedsProfile | None = None, replace: bool = True, actor: str) -> StockImport:
    """Store the ledger at ``path`` (CSV/XLSX) in ``depot_stocks`` in ONE transaction: all of it or
    nothing. ``replace``: the ledger is the whole stock of the depots it lists (their items it
    leaves out are removed). Items are matched against ``profile`` (default: every item of the
    shipped profiles)."""
    items = profile or stock_items()
    stocks, warnings = read_stock_ledger(path, store.read("supply_depots"), items)
    if stocks.empty:
        raise InputError(f"{path}: no stock rows of known items ({', '.join(i.name_zh for i in items.items)}); nothing imported")
    audit = AuditLine(actor, "import", "depot_stocks", detail={"file": Path(path).name, "rows": len(stocks), "replace": replace})
    counts = store.write_depot_stocks(stocks, replace_depots=replace, actor=actor, audit=audit)
    return StockImport(len(stocks), counts, warnings)


def set_stock(store: Store, depot_id: str, item: str, quantity: float, unit: str, *, actor: str) -> pd.DataFrame:
    """Set what depot ``depot_id`` holds of ``item`` (a quantity ≥ 0 in ``unit``, the item's unit
    in the needs profiles; Chinese units such as 千克 are understood). Returns the row written (as
    stored, or as written when another writer has already changed or removed it)."""
    known = {i.item: i for i in stock_items().items}
    if item not in known:
        raise InputError(f"item {item!r} is not an item of the needs profiles; items: {', '.join(known)}")
    unit = UNIT_SYNONYMS.get(unit.strip(), unit.strip())
    if unit != known[item].unit:
        raise InputError(f"unit: {known[item].name_zh} ({item}) is counted in {known[item].unit}, not {unit!r}")
    if not (math.isfinite(quantity) and quantity >= 0):
        raise InputError(f"quantity: {quantity!r} is not a number ≥ 0")
    try:
        store.get("supply_depots", depot_id)
    except NotFoundError:
        raise InputError(f"depot_id: there is no supply depot {depot_id!r}") from None
    rows = pd.DataFrame([(depot_id, item, float(quantity), unit)], columns=["depot_id", "item", "quantity", "unit"])
    store.write_depot_stocks(rows, actor=actor, audit=AuditLine(actor, "update", "depot_stocks", after=[f"{depot_id}/{item}"], detail={"quantity": quantity, "unit": unit}))
    stored = store.read_depot_stocks([depot_id])
    stored = stored[stored["item"] == item]
    if not stored.empty and float(stored["quantity"].iloc[0]) == float(quantity) and stored["unit"].iloc[0] == unit:
        return stored
    # Another writer changed or removed it between the write and this read (a DELETE at the same
    # moment left nothing to read: a 500): answer what this write stored.
    return rows.assign(updated_at=pd.Timestamp.now(tz="UTC"), updated_by=actor)


def delete_stock(store: Store, depot_id: str, item: str, *, actor: str) -> None:
    """Remove what depot ``depot_id`` holds of ``item``; ``NotFoundError`` when there is none."""
    if store.delete_depot_stock(depot_id, item, audit=AuditLine(actor, "delete", "depot_stocks", before=[f"{depot_id}/{item}"])) == 0:
        raise NotFoundError(f"depot {depot_id!r} holds no {item!r}")


def stock_records(stocks: pd.DataFrame, depots: pd.DataFrame) -> list[dict[str, object]]:
    """Stock rows as JSON records, with the depot's name and the item's Chinese name."""
    names = {str(i): str(n) for i, n in zip(depots["source_id"], depots["name"], strict=True)} if not depots.empty else {}
    items = {i.item: i.name_zh for i in stock_items().items}
    records = []
    for row in stocks.to_dict("records"):
        depot, item, updated = str(row["depot_id"]), str(row["item"]), row["updated_at"]
        records.append({"depot_id": depot, "depot_name": names.get(depot), "item": item, "name_zh": items.get(item, item), "quantity": float(row["quantity"]),
                        "unit": str(row["unit"]), "updated_at": pd.Timestamp(updated).isoformat() if pd.notna(updated) else None, "updated_by": row["updated_by"]})
    return records
