"""Observations and dead letters inside a GeoPackage store (schema version 3): two plain SQLite
tables and the SQL that writes and reads them (``GeoPackageStore`` calls these under its lock).

Times are integer epoch milliseconds, UTC (``time_ms``, ``received_at_ms``): compact, exact,
ordered like the times themselves, and one integer comparison per row in a range read; the
store's API gives and takes timezone-aware datetimes. ``observations`` is a ``WITHOUT ROWID``
table clustered on its key (station_id, time_ms), so one station's day is one contiguous range;
an index on time_ms serves reads of every station over a window (what the warning rules read).

Neither table is registered in ``gpkg_contents``: GDAL and QGIS list only registered tables once
one attribute table (the audit log) is, so these stay out of the layer listing, like the account
tables (they are machine records, not layers).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

from layers.store.observation_rows import DeadLetterRow, ObservationRow

_TABLES = (
    "CREATE TABLE IF NOT EXISTS observations ("
    "station_id TEXT NOT NULL, time_ms INTEGER NOT NULL, value REAL NOT NULL, unit TEXT NOT NULL, "
    "quality TEXT, received_at_ms INTEGER NOT NULL, PRIMARY KEY (station_id, time_ms)) WITHOUT ROWID",
    "CREATE INDEX IF NOT EXISTS ix_observations_time_ms ON observations (time_ms)",
    "CREATE TABLE IF NOT EXISTS observation_dead_letters ("
    "id INTEGER PRIMARY KEY AUTOINCREMENT, received_at_ms INTEGER NOT NULL, source TEXT NOT NULL, "
    "payload TEXT NOT NULL, reason TEXT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS ix_observation_dead_letters_received_at_ms ON observation_dead_letters (received_at_ms)",
)
_NOW_MS = "CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)"
"""SQLite's clock as epoch milliseconds (UTC)."""
_CHUNK = 500
"""Station codes per ``IN (…)`` list: well below SQLite's limit of bound parameters."""


def create_observation_tables(cursor: sqlite3.Cursor) -> None:
    """Make the two tables and their indexes when missing (schema version 3)."""
    for statement in _TABLES:
        cursor.execute(statement)


def write_observations(cursor: sqlite3.Cursor, rows: Sequence[ObservationRow]) -> None:
    """Insert or replace by (station_id, time_ms) inside the caller's transaction."""
    cursor.executemany(
        "INSERT INTO observations (station_id, time_ms, value, unit, quality, received_at_ms) "
        f"VALUES (?, ?, ?, ?, ?, {_NOW_MS}) ON CONFLICT (station_id, time_ms) DO UPDATE SET "
        "value = excluded.value, unit = excluded.unit, quality = excluded.quality, received_at_ms = excluded.received_at_ms",
        rows,
    )


def read_observations(connection: sqlite3.Connection, station_ids: list[str] | None, start_ms: int, end_ms: int) -> list[tuple[Any, ...]]:
    """Rows (station_id, time_ms, value, unit, quality) with start ≤ time < end, sorted by station
    and time: a key range per station, or the time index for every station."""
    sql = "SELECT station_id, time_ms, value, unit, quality FROM observations WHERE time_ms >= ? AND time_ms < ?"
    if station_ids is None:
        return connection.execute(sql + " ORDER BY station_id, time_ms", (start_ms, end_ms)).fetchall()
    rows: list[tuple[Any, ...]] = []
    for start in range(0, len(station_ids), _CHUNK):
        chunk = station_ids[start : start + _CHUNK]
        marks = ",".join("?" * len(chunk))
        rows += connection.execute(sql + f" AND station_id IN ({marks})", (start_ms, end_ms, *chunk)).fetchall()
    rows.sort(key=lambda row: (row[0], row[1]))
    return rows


def write_dead_letters(cursor: sqlite3.Cursor, rows: Sequence[DeadLetterRow]) -> None:
    cursor.executemany("INSERT INTO observation_dead_letters (received_at_ms, source, payload, reason) VALUES (?, ?, ?, ?)", rows)


def dead_letter_count(connection: sqlite3.Connection, since_ms: int | None) -> int:
    if since_ms is None:
        return int(connection.execute("SELECT count(*) FROM observation_dead_letters").fetchone()[0])
    return int(connection.execute("SELECT count(*) FROM observation_dead_letters WHERE received_at_ms >= ?", (since_ms,)).fetchone()[0])


def read_dead_letters(connection: sqlite3.Connection, limit: int) -> list[tuple[object, ...]]:
    """Rows (id, received_at_ms, source, payload, reason), newest first."""
    return connection.execute(
        "SELECT id, received_at_ms, source, payload, reason FROM observation_dead_letters "
        "ORDER BY received_at_ms DESC, id DESC LIMIT ?",
        (limit,),
    ).fetchall()
