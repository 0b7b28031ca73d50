"""Scenarios inside a GeoPackage store (schema version 4): one plain SQLite table and the SQL that
writes and reads it (``GeoPackageStore`` and its transaction call these under its lock).

Times are epoch milliseconds, UTC (``created_at_ms``, ``ended_at_ms``); parameters and result
are JSON text; the footprint is plain 2-D WKB of a MultiPolygon in EPSG:4326 (NULL when empty)
with its envelope in ``min_lon``…``max_lat`` (degrees), which a bbox selects by before the exact
test. Not registered in ``gpkg_contents``: scenarios are records, their footprints are not a
layer that GDAL or QGIS should list.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from layers.store.scenario_rows import (
    SCENARIO_READ_COLUMNS,
    ScenarioFilter,
    ScenarioRow,
    footprint_hits,
)

_TABLES = (
    "CREATE TABLE IF NOT EXISTS scenarios ("
    "id TEXT NOT NULL PRIMARY KEY, kind TEXT NOT NULL, name TEXT NOT NULL, status TEXT NOT NULL, "
    "incident_id TEXT, closure_id TEXT, created_at_ms INTEGER NOT NULL, created_by TEXT NOT NULL, ended_at_ms INTEGER, "
    "parameters TEXT NOT NULL, result TEXT, residents INTEGER NOT NULL, displaced INTEGER NOT NULL, "
    "footprint BLOB, min_lon REAL, min_lat REAL, max_lon REAL, max_lat REAL)",
    "CREATE INDEX IF NOT EXISTS ix_scenarios_incident_id ON scenarios (incident_id)",
    "CREATE INDEX IF NOT EXISTS ix_scenarios_status ON scenarios (status)",
)
_WRITTEN = ("id", "kind", "name", "status", "incident_id", "closure_id", "created_at_ms", "created_by", "ended_at_ms",
            "parameters", "result", "residents", "displaced", "footprint", "min_lon", "min_lat", "max_lon", "max_lat")
_LISTED = ", ".join("NULL" if c == "result" else c for c in SCENARIO_READ_COLUMNS)


def create_scenario_tables(cursor: sqlite3.Cursor) -> None:
    """Make the table and its indexes when missing (schema version 4)."""
    for statement in _TABLES:
        cursor.execute(statement)


def put_scenario(cursor: sqlite3.Cursor, row: ScenarioRow) -> None:
    """Insert the scenario, or replace every column of the stored one with its id."""
    bounds = row.bounds or (None, None, None, None)
    values = (row.id, row.kind, row.name, row.status, row.incident_id, row.closure_id, row.created_at_ms, row.created_by,
              row.ended_at_ms, row.parameters, row.result, row.residents, row.displaced, row.footprint, *bounds)
    cursor.execute(
        f"INSERT INTO scenarios ({', '.join(_WRITTEN)}) VALUES ({', '.join('?' * len(_WRITTEN))}) "
        f"ON CONFLICT (id) DO UPDATE SET {', '.join(f'{c} = excluded.{c}' for c in _WRITTEN[1:])}",
        values,
    )


def stored_status(cursor: sqlite3.Cursor, scenario_id: str) -> str | None:
    """The stored scenario's status inside the caller's transaction; None when there is none."""
    row = cursor.execute("SELECT status FROM scenarios WHERE id = ?", (scenario_id,)).fetchone()
    return None if row is None else str(row[0])


def get_scenario(connection: sqlite3.Connection, scenario_id: str) -> tuple[Any, ...] | None:
    """The row in ``SCENARIO_READ_COLUMNS`` order, with its result; None when there is none."""
    row: tuple[Any, ...] | None = connection.execute(
        f"SELECT {', '.join(SCENARIO_READ_COLUMNS)} FROM scenarios WHERE id = ?", (scenario_id,)
    ).fetchone()
    return row


def list_scenarios(connection: sqlite3.Connection, selected: ScenarioFilter) -> list[tuple[Any, ...]]:
    """Rows in ``SCENARIO_READ_COLUMNS`` order with result NULL, newest created_at first (then by
    id, descending)."""
    clauses: list[str] = []
    params: list[Any] = []
    if selected.status is not None:
        clauses.append("status = ?")
        params.append(selected.status)
    if selected.incident_id is not None:
        clauses.append("incident_id = ?")
        params.append(selected.incident_id)
    if selected.bbox is not None:
        clauses.append("min_lon <= ? AND max_lon >= ? AND min_lat <= ? AND max_lat >= ?")
        min_lon, min_lat, max_lon, max_lat = selected.bbox
        params += [max_lon, min_lon, max_lat, min_lat]
    where = (" WHERE " + " AND ".join(clauses)) if clauses else ""
    sql = f"SELECT {_LISTED} FROM scenarios{where} ORDER BY created_at_ms DESC, id DESC"
    if selected.bbox is None:
        rows = connection.execute(sql + " LIMIT ?", (*params, selected.limit)).fetchall()
        return rows
    # The envelope selects candidates; keep those whose footprint really intersects, then cut.
    return footprint_hits(connection.execute(sql, params).fetchall(), selected.bbox)[: selected.limit]
