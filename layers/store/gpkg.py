"""The GeoPackage store: one ``.gpkg`` file, the embedded default and the offline field kit.

Layers are created by GDAL through pyogrio (``gpkg_schema``), so the file carries the standard
GeoPackage tables, its R-tree spatial index and the index triggers. Reads and writes then go
through the standard library's sqlite3 with parameterised SQL, because pyogrio has no
transactions, deletes or upserts: a batch of several layers is one SQLite transaction, all or
nothing. Geometries are stored in EPSG:4326 as GeoPackage blobs (``gpkg_sqlite``); bboxes are
lon/lat degrees.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from layers.accounts.tables import AuditLine
from layers.catalogue import CATALOGUE, SOURCE_ID, LayerSpec, get_layer
from layers.errors import NotFoundError, StoreError
from layers.io.observations import DeadLetter, Observation
from layers.store import (
    gpkg_dense_tiles,
    gpkg_observations,
    gpkg_scenarios,
    gpkg_stocks,
    gpkg_tiles,
)
from layers.store import observation_rows as rows_of
from layers.store.base import (
    BBox,
    LayerInfo,
    Selection,
    Store,
    Transaction,
    WriteCounts,
    plan_upsert,
)
from layers.store.frames import Rows, datetime_to_gpkg
from layers.store.gpkg_accounts import insert_audit_line
from layers.store.gpkg_schema import open_gpkg
from layers.store.gpkg_sqlite import (
    blob_wkb,
    encode_gpkg_blob,
    immediate_transaction,
    quote,
    rtree_ids,
    rtree_table,
)
from layers.store.scenario_rows import (
    ScenarioRecord,
    check_id,
    check_status,
    record_from_row,
    scenario_filter,
    scenario_row,
)
from layers.store.stock_rows import (
    check_depot_ids,
    depot_stock_rows,
    depot_stocks_frame,
    required_text,
)
from layers.store.tile_plan import TilePlan

_BULK_INSERT_ROWS = 2_000
"""From this many new rows in one batch on, the R-tree is filled in bulk (see ``_bulk_insert``)."""
_CHUNK = 500
"""Source ids per ``IN (…)`` list: well below SQLite's limit of bound parameters."""


class GeoPackageStore(Store):
    """Layers in one GeoPackage file. Thread-safe: one connection guarded by a lock."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        if self.path.suffix.lower() != ".gpkg":
            raise StoreError(f"a GeoPackage store path must end in .gpkg: {self.path}")
        self._connection, backup = open_gpkg(self.path)
        self.backup: Path | None = backup
        """Where the file was copied before this open upgraded it (None: no upgrade)."""
        self._lock = threading.RLock()

    @contextmanager
    def _begin(self) -> Iterator[Transaction]:
        with self._lock, immediate_transaction(self._connection) as cursor:
            transaction = _GeoPackageTransaction(self, cursor)
            yield transaction
            for spec in transaction.touched.values():
                _touch_contents(cursor, spec)

    # --- reads ----------------------------------------------------------------------------

    def list_layers(self) -> list[LayerInfo]:
        infos = []
        with self._lock:
            for spec in CATALOGUE.values():
                count = self._connection.execute(f"SELECT count(*) FROM {quote(spec.name)}").fetchone()[0]
                bbox: BBox | None = None
                if count:
                    row = self._connection.execute(
                        f"SELECT min(minx), min(miny), max(maxx), max(maxy) FROM {rtree_table(spec.name)}"
                    ).fetchone()
                    bbox = (row[0], row[1], row[2], row[3]) if row[0] is not None else None
                infos.append(
                    LayerInfo(spec.name, spec.title_zh, spec.title_en, spec.geometry_type, count, bbox)
                )
        return infos

    def _count(self, selection: Selection) -> int:
        if selection.bbox is not None:
            return len(self._rows(selection)[0])
        where, params = _where(selection)
        with self._lock:
            return int(self._connection.execute(f"SELECT count(*) FROM {quote(selection.spec.name)}{where}", params).fetchone()[0])

    def _fid_bounds(self, spec: LayerSpec) -> tuple[int, int] | None:
        with self._lock:
            low, high = self._connection.execute(f"SELECT min(fid), max(fid) FROM {quote(spec.name)}").fetchone()
        return None if low is None else (int(low), int(high))

    def _rows(self, selection: Selection) -> tuple[list[tuple[Any, ...]], list[bytes]]:
        spec, bbox, limit, offset = selection.spec, selection.bbox, selection.limit, selection.offset
        where, params = _where(selection)
        sql = f"SELECT {_columns(spec)}, geom FROM {quote(spec.name)}{where} ORDER BY fid"
        if bbox is None:
            # Exact selection is all in SQL: page there too.
            sql += " LIMIT ? OFFSET ?"
            params = [*params, -1 if limit is None else limit, offset]
        with self._lock:
            rows = self._connection.execute(sql, params).fetchall()
        values = [_decode(spec, row[:-1]) for row in rows]
        wkbs = [blob_wkb(row[-1]) for row in rows]
        if bbox is not None:
            # The R-tree selects by envelope; keep the features that really intersect, then page.
            box = shapely.box(*bbox)
            keep = shapely.intersects(shapely.from_wkb(np.asarray(wkbs, dtype=object)), box) if wkbs else np.zeros(0, dtype=bool)
            selected = [i for i, hit in enumerate(keep) if hit]
            end = None if limit is None else offset + limit
            selected = selected[offset:end]
            values = [values[i] for i in selected]
            wkbs = [wkbs[i] for i in selected]
        return values, wkbs

    # --- writes ---------------------------------------------------------------------------

    def delete(self, layer: str, source_ids: Sequence[str]) -> int:
        with self._begin() as transaction:
            return transaction.delete(get_layer(layer), source_ids)

    def layer_version(self, layer: str) -> str:
        spec = get_layer(layer)
        with self._lock:
            # The row count GDAL's triggers keep in gpkg_ogr_contents (the bulk insert keeps it too):
            # count(*) is a full scan, 30-130 ms on a province's 3 million roads, on every query.
            count, last = self._connection.execute(
                f"SELECT coalesce((SELECT feature_count FROM gpkg_ogr_contents WHERE lower(table_name) = lower(?)), (SELECT count(*) FROM {quote(spec.name)})), "
                "(SELECT last_change FROM gpkg_contents WHERE lower(table_name) = lower(?))",
                (spec.name, spec.name),
            ).fetchone()
        # Not the file's path: a copy of a store holds the same data, so caches keyed by this
        # (routing graphs in a shared ONEMAP_CACHE_DIR) serve both; the row count and the
        # millisecond of the last change tell different contents apart.
        return f"gpkg:{spec.name}:{count}:{last}"

    def vector_tile(self, plan: TilePlan) -> bytes:
        """Read through the R-tree, one read per kept value (equality filters), then encode; a
        dense tile of many features is read and summed a page at a time (``gpkg_dense_tiles``)."""
        dense = gpkg_dense_tiles.dense_tile(self._connection, self._lock, plan)
        if dense is not None:
            return dense
        if plan.keep is None:
            frame = self.read(plan.layer, bbox=plan.search_deg)
        else:
            column, values = plan.keep
            parts = [self.read(plan.layer, bbox=plan.search_deg, filters={column: value}) for value in values]
            frame = pd.concat(parts, ignore_index=True) if parts else self.read(plan.layer, limit=0)
        return gpkg_tiles.frame_tile(frame, plan)

    def close(self) -> None:
        with self._lock:
            self._connection.close()

    # --- observations (see gpkg_observations) ---------------------------------------------

    def upsert_observations(self, observations: Sequence[Observation]) -> int:
        """One ``executemany`` of INSERT … ON CONFLICT in one transaction."""
        rows = rows_of.observation_rows(observations)
        if rows:
            with self._lock, immediate_transaction(self._connection) as cursor:
                gpkg_observations.write_observations(cursor, rows)
        return len(rows)

    def read_observations(self, station_ids: Sequence[str] | None, since: datetime, until: datetime) -> pd.DataFrame:
        start, end = rows_of.check_window(since, until)
        ids = rows_of.check_station_ids(station_ids)
        with self._lock:
            rows = gpkg_observations.read_observations(self._connection, ids, start, end)
        return rows_of.observations_frame(rows)

    def add_dead_letters(self, letters: Sequence[DeadLetter]) -> int:
        rows = rows_of.dead_letter_rows(letters)
        if rows:
            with self._lock, immediate_transaction(self._connection) as cursor:
                gpkg_observations.write_dead_letters(cursor, rows)
        return len(rows)

    def dead_letter_count(self, since: datetime | None = None) -> int:
        since_ms = None if since is None else rows_of.epoch_ms(since, what="since")
        with self._lock:
            return gpkg_observations.dead_letter_count(self._connection, since_ms)

    def read_dead_letters(self, limit: int = 100) -> pd.DataFrame:
        rows_of.check_limit(limit)
        with self._lock:
            return rows_of.dead_letters_frame(gpkg_observations.read_dead_letters(self._connection, limit))

    # --- depot stocks and scenarios (see gpkg_stocks, gpkg_scenarios) ----------------------

    def read_depot_stocks(self, depot_ids: Sequence[str] | None = None) -> pd.DataFrame:
        ids = check_depot_ids(depot_ids)
        with self._lock:
            return depot_stocks_frame(gpkg_stocks.read_stocks(self._connection, ids))

    def write_depot_stocks(self, rows: pd.DataFrame, *, replace_depots: bool = False, actor: str, audit: AuditLine | None = None) -> WriteCounts:
        checked = depot_stock_rows(rows)
        by = required_text(actor, what="actor")
        with self._lock, immediate_transaction(self._connection) as cursor:
            plan = gpkg_stocks.write_stocks(cursor, checked, by, replace_depots=replace_depots)
            if audit is not None:
                insert_audit_line(cursor, audit)
        return WriteCounts(len(plan.inserts), len(plan.updates), plan.unchanged, len(plan.deletes))

    def delete_depot_stock(self, depot_id: str, item: str, *, audit: AuditLine | None = None) -> int:
        key = (required_text(depot_id, what="depot_id"), required_text(item, what="item"))
        with self._lock, immediate_transaction(self._connection) as cursor:
            deleted = gpkg_stocks.delete_stock(cursor, key)
            if deleted and audit is not None:
                insert_audit_line(cursor, audit)
        return deleted

    def depot_stocks_version(self) -> str:
        with self._lock:
            return gpkg_stocks.stocks_version(self._connection)

    def get_scenario(self, scenario_id: str) -> ScenarioRecord:
        with self._lock:
            row = gpkg_scenarios.get_scenario(self._connection, check_id(scenario_id, what="scenario id"))
        if row is None:
            raise NotFoundError(f"no scenario with id {scenario_id!r}")
        return record_from_row(row)

    def list_scenarios(self, *, status: str | None = None, incident_id: str | None = None, bbox: BBox | None = None, limit: int = 100) -> list[ScenarioRecord]:
        selected = scenario_filter(status, incident_id, bbox, limit)
        with self._lock:
            rows = gpkg_scenarios.list_scenarios(self._connection, selected)
        return [record_from_row(row) for row in rows]


class _GeoPackageTransaction(Transaction):
    """A ``BEGIN IMMEDIATE`` transaction of a GeoPackage store; ``touched``: the layers whose
    ``gpkg_contents`` row is brought up to date before the commit."""

    def __init__(self, store: GeoPackageStore, cursor: sqlite3.Cursor) -> None:
        self._store = store
        self._cursor = cursor
        self.touched: dict[str, LayerSpec] = {}

    def upsert(self, spec: LayerSpec, rows: Rows) -> WriteCounts:
        cursor = self._cursor
        encoded = Rows([_encode_values(spec, v) for v in rows.values], rows.wkbs)
        plan = plan_upsert(encoded, _stored(cursor, spec, rows))
        bounds = shapely.bounds(shapely.from_wkb(np.asarray(rows.wkbs, dtype=object))) if len(rows) else np.zeros((0, 4))
        blobs = [encode_gpkg_blob(w, b) for w, b in zip(rows.wkbs, bounds, strict=True)]
        table = quote(spec.name)
        marks = ", ".join("?" * (len(spec.columns) + 1))
        insert = f"INSERT INTO {table} ({_columns(spec)}, geom) VALUES ({marks})"
        inserted = [(*encoded.values[i], blobs[i]) for i in plan.inserts]
        if len(inserted) >= _BULK_INSERT_ROWS:
            _bulk_insert(cursor, spec, insert, inserted, bounds[plan.inserts])
        else:
            cursor.executemany(insert, inserted)
        assignments = ", ".join(f"{quote(c)} = ?" for c in spec.columns[1:])
        cursor.executemany(
            f"UPDATE {table} SET {assignments}, geom = ? WHERE {SOURCE_ID} = ?",
            [(*encoded.values[i][1:], blobs[i], encoded.values[i][0]) for i in plan.updates],
        )
        counts = plan.counts()
        if counts.written:
            self.touched[spec.name] = spec
        return counts

    def delete(self, spec: LayerSpec, source_ids: Sequence[str]) -> int:
        deleted = 0
        for start in range(0, len(source_ids), _CHUNK):
            chunk = list(source_ids[start : start + _CHUNK])
            marks = ",".join("?" * len(chunk))
            self._cursor.execute(f"DELETE FROM {quote(spec.name)} WHERE {SOURCE_ID} IN ({marks})", chunk)
            deleted += self._cursor.rowcount
        if deleted:
            self.touched[spec.name] = spec
        return deleted

    def current(self, spec: LayerSpec, source_id: str) -> gpd.GeoDataFrame:
        # BEGIN IMMEDIATE holds off every other writer; the store's connection reads inside it.
        return self._store.get(spec.name, source_id)

    def audit(self, line: AuditLine) -> None:
        insert_audit_line(self._cursor, line)

    def put_scenario(self, record: ScenarioRecord, *, expected_status: str | None = None) -> None:
        if expected_status is not None:  # BEGIN IMMEDIATE holds the write lock: no one changes it meanwhile
            check_status(record.id, gpkg_scenarios.stored_status(self._cursor, record.id), expected_status)
        gpkg_scenarios.put_scenario(self._cursor, scenario_row(record))


def _columns(spec: LayerSpec) -> str:
    return ", ".join(quote(c) for c in spec.columns)


def _where(selection: Selection) -> tuple[str, list[Any]]:
    """The WHERE clause of a selection and its parameters (the bbox by R-tree envelope only)."""
    spec = selection.spec
    clauses: list[str] = []
    params: list[Any] = []
    for name, value in selection.filters.items():
        field_type = "str" if name == SOURCE_ID else spec.field(name).type
        if value is None:
            clauses.append(f"{quote(name)} IS NULL")
            continue
        clauses.append(f"{quote(name)} = ?")
        params.append(datetime_to_gpkg(value) if field_type == "datetime" else value)
    if selection.fids is not None:
        clauses.append("fid >= ? AND fid < ?")
        params.extend(selection.fids)
    if selection.bbox is not None:
        ids, envelope = rtree_ids(spec.name, selection.bbox)
        clauses.append(f"fid IN ({ids})")
        params.extend(envelope)
    where = (" WHERE " + " AND ".join(clauses)) if clauses else ""
    return where, params


def _decode(spec: LayerSpec, row: Sequence[Any]) -> tuple[Any, ...]:
    decoded = list(row)
    for position, field in enumerate(spec.fields, start=1):
        value = decoded[position]
        if value is not None and field.type == "bool":
            decoded[position] = bool(value)
    return tuple(decoded)


def _encode_values(spec: LayerSpec, values: tuple[Any, ...]) -> tuple[Any, ...]:
    return tuple(
        datetime_to_gpkg(v) if v is not None and f_type == "datetime" else v
        for v, f_type in zip(values, ["str", *(f.type for f in spec.fields)], strict=True)
    )


def _stored(cursor: sqlite3.Cursor, spec: LayerSpec, rows: Rows) -> dict[str, tuple[tuple[Any, ...], bytes]]:
    stored: dict[str, tuple[tuple[Any, ...], bytes]] = {}
    ids = [values[0] for values in rows.values]
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start : start + _CHUNK]
        marks = ",".join("?" * len(chunk))
        for row in cursor.execute(f"SELECT {_columns(spec)}, geom FROM {quote(spec.name)} WHERE {SOURCE_ID} IN ({marks})", chunk):
            values = _decode(spec, row[:-1])
            stored[values[0]] = (values, blob_wkb(row[-1]))
    return stored


def _touch_contents(cursor: sqlite3.Cursor, spec: LayerSpec) -> None:
    """Keep gpkg_contents' extent and last_change true, as GDAL and QGIS read them."""
    rtree = rtree_table(spec.name)
    cursor.execute(
        "UPDATE gpkg_contents SET last_change = strftime('%Y-%m-%dT%H:%M:%fZ','now'), "
        f"min_x = (SELECT min(minx) FROM {rtree}), min_y = (SELECT min(miny) FROM {rtree}), "
        f"max_x = (SELECT max(maxx) FROM {rtree}), max_y = (SELECT max(maxy) FROM {rtree}) "
        "WHERE lower(table_name) = lower(?)",
        (spec.name,),
    )


def _bulk_insert(cursor: sqlite3.Cursor, spec: LayerSpec, insert: str, rows: list[tuple[Any, ...]], bounds: np.ndarray) -> None:
    """Many new rows at once: the R-tree filled from the envelopes computed here, in spatial
    order, instead of by GDAL's per-row triggers (each calls back into Python five times: about
    45 µs a row). The two insert triggers are dropped and re-created inside the transaction,
    so a failure anywhere rolls them back with the rows."""
    triggers = dict(cursor.execute(
        "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = ? AND name IN (?, ?)",
        (spec.name, f"rtree_{spec.name}_geom_insert", f"trigger_insert_feature_count_{spec.name}"),
    ).fetchall())
    for name in triggers:
        cursor.execute(f"DROP TRIGGER {quote(name)}")
    before = cursor.execute(f"SELECT coalesce(max(fid), 0) FROM {quote(spec.name)}").fetchone()[0]
    cursor.executemany(insert, rows)
    fids = np.array([r[0] for r in cursor.execute(f"SELECT fid FROM {quote(spec.name)} WHERE fid > ? ORDER BY fid", (before,))], dtype=np.int64)
    if fids.size != len(rows):
        raise StoreError(f"{spec.name}: bulk insert expected {len(rows)} new fids, found {fids.size}")
    usable = np.isfinite(bounds).all(axis=1)
    centre_x = (bounds[:, 0] + bounds[:, 2]) / 2
    centre_y = (bounds[:, 1] + bounds[:, 3]) / 2
    # Rows near each other go into the R-tree together: far fewer node splits than file order.
    order = np.lexsort((centre_y, np.floor(centre_x * 20)))
    order = order[usable[order]]
    cursor.executemany(
        f"INSERT INTO {rtree_table(spec.name)} VALUES (?, ?, ?, ?, ?)",
        zip(fids[order].tolist(), bounds[order, 0].tolist(), bounds[order, 2].tolist(), bounds[order, 1].tolist(), bounds[order, 3].tolist(), strict=True),
    )
    if f"trigger_insert_feature_count_{spec.name}" in triggers:
        cursor.execute("UPDATE gpkg_ogr_contents SET feature_count = feature_count + ? WHERE lower(table_name) = lower(?)", (len(rows), spec.name))
    for sql in triggers.values():
        cursor.execute(sql)
