"""Opening a GeoPackage store file: its schema version, and the upgrade of an older file.

``open_gpkg`` makes the file when there is none, backs up an older one before touching it, then
brings it up to ``SCHEMA_VERSION``: every catalogue layer (made by GDAL through pyogrio, so the
file carries the standard GeoPackage tables, R-tree spatial indexes and triggers; geometries in
EPSG:4326), every catalogue field as a column, a unique index on each layer's ``source_id``, the
account tables, the observation tables, the depot stocks and scenarios tables, an older store's
accounts sidecar adopted.
"""

from __future__ import annotations

import logging
import sqlite3
from contextlib import closing
from pathlib import Path

import pyogrio

from layers.catalogue import CATALOGUE, SOURCE_ID
from layers.errors import StoreError
from layers.store.frames import empty_frame
from layers.store.gpkg_accounts import adopt_accounts_sidecar, create_account_tables
from layers.store.gpkg_observations import create_observation_tables
from layers.store.gpkg_scenarios import create_scenario_tables
from layers.store.gpkg_sqlite import immediate_transaction, quote, register_gpkg_functions
from layers.store.gpkg_stocks import create_stock_tables

logger = logging.getLogger(__name__)

SCHEMA_VERSION = 4
"""The GeoPackage store's schema version, kept in its ``onemap_meta`` table. 1: the layers only
(before the table existed; accounts beside it in ``<name>.accounts.sqlite``). 2: accounts and
the audit log inside the file, the audit log registered as an attribute table. 3: the
monitoring_stations and alerts layers, and the observations and observation_dead_letters tables
(``gpkg_observations``). 4: the depot_stocks and scenarios tables (``gpkg_stocks``,
``gpkg_scenarios``). Opening an older file backs it up (``<name>.v<old>.bak.gpkg``), then
upgrades it: missing layers and columns, indexes, the account, observation, stock and scenario
tables, the old sidecar adopted."""

_GDAL_GEOMETRY_TYPES = {
    "Point": "Point",
    "LineString": "LineString",
    "Polygon": "Polygon",
    "MultiPolygon": "MultiPolygon",
    "Geometry": "Unknown",
}
_SQLITE_TYPES = {"str": "TEXT", "int": "INTEGER", "float": "REAL", "bool": "BOOLEAN", "datetime": "DATETIME"}


def stored_schema_version(path: Path) -> int | None:
    """The schema version of an existing store file (1 when it predates versions), None when
    there is no file yet."""
    if not path.exists() or path.stat().st_size == 0:
        return None
    # Read-write, not read-only: a writer killed mid-transaction leaves a hot journal, which the
    # first reader must roll back, and a read-only connection cannot ("attempt to write a readonly
    # database"). mode=rw still never creates the file.
    with closing(sqlite3.connect(f"file:{path}?mode=rw", uri=True)) as connection:
        has_meta = connection.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'onemap_meta'").fetchone()
        if not has_meta:
            return 1
        row = connection.execute("SELECT value FROM onemap_meta WHERE key = 'schema_version'").fetchone()
    return int(row[0]) if row else 1


def open_gpkg(path: Path) -> tuple[sqlite3.Connection, Path | None]:
    """Open the store file at ``path``, made or upgraded to ``SCHEMA_VERSION``.

    Returns the connection (autocommit, the R-tree functions registered, usable from any
    thread: the caller serialises) and the backup made before an upgrade (None: no upgrade).
    ``StoreError`` when the file cannot be opened or is newer than this onemap."""
    backup: Path | None = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        found = stored_schema_version(path)
        if found is not None and found < SCHEMA_VERSION:
            backup = _back_up(path, found)  # before the upgrade touches anything
        elif found is not None and found > SCHEMA_VERSION:
            raise StoreError(f"{path} has schema version {found}, newer than this onemap's {SCHEMA_VERSION}: upgrade onemap")
        _create_missing_layers(path)
        connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30)
    except (OSError, sqlite3.Error, pyogrio.errors.DataSourceError) as error:
        raise StoreError(f"cannot open GeoPackage {path}: {error}") from error
    register_gpkg_functions(connection)
    with immediate_transaction(connection) as cursor:
        _add_missing_columns(cursor, path)
        _ensure_source_id_indexes(cursor)
        create_account_tables(cursor)
        create_observation_tables(cursor)
        create_stock_tables(cursor)
        create_scenario_tables(cursor)
    adopt_accounts_sidecar(connection, path)
    if found != SCHEMA_VERSION:
        _record_schema_version(connection, path, found)
    return connection, backup


def _create_missing_layers(path: Path) -> None:
    existing = {str(name) for name, _ in pyogrio.list_layers(path)} if path.exists() else set()
    for spec in CATALOGUE.values():
        if spec.name in existing:
            continue
        pyogrio.write_dataframe(
            empty_frame(spec),
            path,
            layer=spec.name,
            driver="GPKG",
            geometry_type=_GDAL_GEOMETRY_TYPES[spec.geometry_type],
            promote_to_multi=False,
            layer_options={"SPATIAL_INDEX": "YES", "DESCRIPTION": spec.title_zh},
        )
        logger.info("created layer %s in %s", spec.name, path)


def _add_missing_columns(cursor: sqlite3.Cursor, path: Path) -> None:
    """Fields added to the catalogue after the file was made become NULL columns."""
    for spec in CATALOGUE.values():
        have = {row[1] for row in cursor.execute(f"PRAGMA table_info({quote(spec.name)})")}
        for f in spec.fields:
            if f.name not in have:
                cursor.execute(f"ALTER TABLE {quote(spec.name)} ADD COLUMN {quote(f.name)} {_SQLITE_TYPES[f.type]}")
                logger.info("added column %s.%s to %s", spec.name, f.name, path)


def _ensure_source_id_indexes(cursor: sqlite3.Cursor) -> None:
    for spec in CATALOGUE.values():
        cursor.execute(
            f"CREATE UNIQUE INDEX IF NOT EXISTS {quote('uq_' + spec.name + '_source_id')} "
            f"ON {quote(spec.name)} ({SOURCE_ID})"
        )


def _back_up(path: Path, version: int) -> Path:
    """A copy of the file as it was, ``<name>.v<version>.bak.gpkg``, before an upgrade."""
    target = path.with_name(f"{path.stem}.v{version}.bak.gpkg")
    with sqlite3.connect(path) as source, sqlite3.connect(target) as copy:
        source.backup(copy)  # SQLite's online backup: consistent even with a writer open
    logger.warning("upgrading %s from schema version %d to %d; the file as it was is kept as %s", path, version, SCHEMA_VERSION, target)
    return target


def _record_schema_version(connection: sqlite3.Connection, path: Path, previous: int | None) -> None:
    with immediate_transaction(connection) as cursor:
        cursor.execute("CREATE TABLE IF NOT EXISTS onemap_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
        cursor.execute("INSERT OR REPLACE INTO onemap_meta (key, value) VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
    if previous is not None:
        logger.warning("upgraded %s to schema version %d", path, SCHEMA_VERSION)
