"""Depot stocks (储备库存) as both stores write and read them: the checks of a batch, the plan of
an upsert, the frame ``read_depot_stocks`` gives.

A stock row is what one supply depot (``supply_depots.source_id``) holds of one item of a needs
profile (``rice``, ``drinking_water``): a quantity ≥ 0 in the profile's unit (kg, l, piece, …).
The key is (depot_id, item). Times travel as epoch milliseconds (UTC), as the observations' do.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from layers.errors import InputError
from layers.store.observation_rows import utc_times

STOCK_COLUMNS = ("depot_id", "item", "quantity", "unit")
"""The columns a batch of ``write_depot_stocks`` must have (others are ignored)."""
DEPOT_STOCK_COLUMNS = (*STOCK_COLUMNS, "updated_at", "updated_by")
"""The columns of ``read_depot_stocks``: quantity float in unit, updated_at tz-aware UTC."""

StockRow = tuple[str, str, float, str]
"""depot_id, item, quantity, unit."""
StockKey = tuple[str, str]
"""depot_id, item."""


@dataclass(frozen=True)
class StockPlan:
    """A checked batch against the stored rows of its depots: rows to insert, rows to update
    (quantity or unit changed), how many are unchanged, keys to delete first (``replace_depots``)."""

    inserts: list[StockRow]
    updates: list[StockRow]
    unchanged: int
    deletes: list[StockKey]


def required_text(value: Any, *, what: str) -> str:
    """``value`` when it is a non-empty string without NUL characters; ``InputError`` naming ``what``."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        raise InputError(f"{what}: missing")
    if not isinstance(value, str) or not value.strip():
        raise InputError(f"{what}: {value!r} is not a non-empty text")
    if "\x00" in value:
        raise InputError(f"{what}: text must not contain NUL characters")
    return value


def depot_stock_rows(rows: pd.DataFrame) -> list[StockRow]:
    """The batch's rows, checked: ``InputError`` naming the row (1-based position in ``rows``)
    and the field when a text is empty or holds a NUL, a quantity is not a finite number ≥ 0, or
    a (depot_id, item) repeats."""
    if not isinstance(rows, pd.DataFrame):
        raise InputError(f"depot stocks: give a DataFrame with columns {', '.join(STOCK_COLUMNS)}, not {type(rows).__name__}")
    missing = [c for c in STOCK_COLUMNS if c not in rows.columns]
    if missing:
        raise InputError(f"depot stocks: no column {', '.join(missing)}; the columns are {', '.join(STOCK_COLUMNS)}")
    checked: list[StockRow] = []
    seen: dict[StockKey, int] = {}
    records = zip(*(rows[c].tolist() for c in STOCK_COLUMNS), strict=True)
    for number, (depot_id, item, quantity, unit) in enumerate(records, start=1):
        where = f"depot stock row {number}"
        depot_id = required_text(depot_id, what=f"{where} depot_id")
        item = required_text(item, what=f"{where} item")
        unit = required_text(unit, what=f"{where} ({depot_id}, {item}) unit")
        if isinstance(quantity, bool) or not isinstance(quantity, numbers.Real) or not math.isfinite(quantity) or quantity < 0:
            raise InputError(f"{where} ({depot_id}, {item}) quantity: {quantity!r} is not a finite number ≥ 0")
        key = (depot_id, item)
        if key in seen:
            raise InputError(f"{where} ({depot_id}, {item}) depot_id, item: repeats row {seen[key]}; give each depot's item once")
        seen[key] = number
        checked.append((depot_id, item, float(quantity) + 0.0, unit))  # + 0.0: no negative zero
    return checked


def check_depot_ids(depot_ids: Sequence[str] | None) -> list[str] | None:
    """The depot ids as a list (None: every depot); ``InputError`` for a bare string, an empty id
    or a NUL."""
    if depot_ids is None:
        return None
    if isinstance(depot_ids, str):
        raise InputError(f"depot_ids: give a sequence of depot ids, not the string {depot_ids!r}")
    return [required_text(d, what="depot_ids") for d in depot_ids]


def plan_stocks(rows: Sequence[StockRow], stored: Mapping[StockKey, tuple[float, str]], *, replace_depots: bool) -> StockPlan:
    """Compare a checked batch with ``stored`` (key → (quantity, unit)), which holds at least
    every stored row of the batch's depots. The same quantity and unit is unchanged; with
    ``replace_depots``, the stored items of the batch's depots that the batch lacks are deleted."""
    inserts: list[StockRow] = []
    updates: list[StockRow] = []
    unchanged = 0
    for row in rows:
        previous = stored.get((row[0], row[1]))
        if previous is None:
            inserts.append(row)
        elif previous == (row[2], row[3]):
            unchanged += 1
        else:
            updates.append(row)
    deletes: list[StockKey] = []
    if replace_depots:
        depots = {row[0] for row in rows}
        given = {(row[0], row[1]) for row in rows}
        deletes = sorted(key for key in stored if key[0] in depots and key not in given)
    return StockPlan(inserts, updates, unchanged, deletes)


def depot_stocks_frame(rows: Sequence[Sequence[object]]) -> pd.DataFrame:
    """Rows of (depot_id, item, quantity, unit, updated_at ms, updated_by), sorted, as the frame
    ``read_depot_stocks`` gives."""
    ordered = sorted(rows, key=lambda row: (str(row[0]), str(row[1])))
    columns = list(zip(*ordered, strict=True)) if ordered else [()] * len(DEPOT_STOCK_COLUMNS)
    return pd.DataFrame({
        "depot_id": pd.Series(columns[0], dtype=object),
        "item": pd.Series(columns[1], dtype=object),
        "quantity": pd.Series(columns[2], dtype=np.float64),
        "unit": pd.Series(columns[3], dtype=object),
        "updated_at": utc_times(np.asarray(columns[4], dtype=np.int64)),
        "updated_by": pd.Series(columns[5], dtype=object),
    })
