"""Depot stocks inside a GeoPackage store (schema version 4): one plain SQLite table and the SQL
that writes and reads it (``GeoPackageStore`` calls these under its lock).

``depot_stocks`` is a ``WITHOUT ROWID`` table clustered on its key (depot_id, item), so a depot's
ledger is one contiguous range. ``updated_at_ms``: epoch milliseconds, UTC, by SQLite's clock.
Writers are serialised by ``BEGIN IMMEDIATE`` (across processes too), so the plan made inside
the transaction holds until it commits. Every write that changes a row adds one to the counter
``depot_stocks_revision`` in ``onemap_meta``, in the same transaction: the version of the table.

Not registered in ``gpkg_contents`` (like the observations): a record of the bureau's stock, not
a layer.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

from layers.store.stock_rows import StockKey, StockPlan, StockRow, plan_stocks

_TABLES = (
    "CREATE TABLE IF NOT EXISTS depot_stocks ("
    "depot_id TEXT NOT NULL, item TEXT NOT NULL, quantity REAL NOT NULL, unit TEXT NOT NULL, "
    "updated_at_ms INTEGER NOT NULL, updated_by TEXT, PRIMARY KEY (depot_id, item)) WITHOUT ROWID",
)
_NOW_MS = "CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)"
"""SQLite's clock as epoch milliseconds (UTC)."""
_REVISION = "depot_stocks_revision"
_CHUNK = 500
"""Depot ids per ``IN (…)`` list: well below SQLite's limit of bound parameters."""
_COLUMNS = "depot_id, item, quantity, unit, updated_at_ms, updated_by"


def create_stock_tables(cursor: sqlite3.Cursor) -> None:
    """Make the table when missing (schema version 4)."""
    for statement in _TABLES:
        cursor.execute(statement)


def _select_depots(connection: sqlite3.Connection | sqlite3.Cursor, columns: str, depot_ids: Sequence[str]) -> list[tuple[Any, ...]]:
    rows: list[tuple[Any, ...]] = []
    unique = sorted(set(depot_ids))
    for start in range(0, len(unique), _CHUNK):
        chunk = unique[start : start + _CHUNK]
        marks = ",".join("?" * len(chunk))
        rows += connection.execute(f"SELECT {columns} FROM depot_stocks WHERE depot_id IN ({marks})", chunk).fetchall()
    return rows


def _bump_revision(cursor: sqlite3.Cursor) -> None:
    cursor.execute(
        "INSERT INTO onemap_meta (key, value) VALUES (?, '1') ON CONFLICT (key) DO UPDATE SET value = CAST(value AS INTEGER) + 1",
        (_REVISION,),
    )


def write_stocks(cursor: sqlite3.Cursor, rows: Sequence[StockRow], actor: str, *, replace_depots: bool) -> StockPlan:
    """Plan the checked ``rows`` against the stored rows of their depots and apply the plan inside
    the caller's transaction: deletes (``replace_depots``), inserts, updates (with the time and
    ``actor``); unchanged rows keep theirs."""
    stored = {(r[0], r[1]): (float(r[2]), r[3]) for r in _select_depots(cursor, "depot_id, item, quantity, unit", [r[0] for r in rows])}
    plan = plan_stocks(rows, stored, replace_depots=replace_depots)
    cursor.executemany("DELETE FROM depot_stocks WHERE depot_id = ? AND item = ?", plan.deletes)
    cursor.executemany(
        f"INSERT INTO depot_stocks ({_COLUMNS}) VALUES (?, ?, ?, ?, {_NOW_MS}, ?)",
        [(*row, actor) for row in plan.inserts],
    )
    cursor.executemany(
        f"UPDATE depot_stocks SET quantity = ?, unit = ?, updated_at_ms = {_NOW_MS}, updated_by = ? WHERE depot_id = ? AND item = ?",
        [(row[2], row[3], actor, row[0], row[1]) for row in plan.updates],
    )
    if plan.deletes or plan.inserts or plan.updates:
        _bump_revision(cursor)
    return plan


def delete_stock(cursor: sqlite3.Cursor, key: StockKey) -> int:
    """Delete one (depot_id, item) inside the caller's transaction; returns 0 or 1."""
    cursor.execute("DELETE FROM depot_stocks WHERE depot_id = ? AND item = ?", key)
    deleted = cursor.rowcount
    if deleted:
        _bump_revision(cursor)
    return deleted


def read_stocks(connection: sqlite3.Connection, depot_ids: list[str] | None) -> list[tuple[Any, ...]]:
    """Rows (depot_id, item, quantity, unit, updated_at ms, updated_by) of the given depots
    (None: all), in no particular order."""
    if depot_ids is None:
        return connection.execute(f"SELECT {_COLUMNS} FROM depot_stocks").fetchall()
    return _select_depots(connection, _COLUMNS, depot_ids)


def stocks_version(connection: sqlite3.Connection) -> str:
    """The revision counter, the row count and the last change's millisecond: the counter alone
    would repeat between two copies of a store that were written apart."""
    revision, count, last = connection.execute(
        "SELECT (SELECT value FROM onemap_meta WHERE key = ?), count(*), max(updated_at_ms) FROM depot_stocks", (_REVISION,)
    ).fetchone()
    return f"gpkg:depot_stocks:{revision or 0}:{count}:{last}"
