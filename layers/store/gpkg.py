"""The GeoPackage store: one ``.gpkg`` file, the embedded default and the offline field kit.

Layers are created by GDAL through pyogrio, so the file carries the standard GeoPackage tables,
its R-tree spatial index and the index triggers. Reads and writes then go through the standard
library's sqlite3 with parameterised SQL, because pyogrio has no transactions, deletes or
upserts: a batch of several layers is one SQLite transaction, all or nothing. The R-tree triggers
call ``ST_MinX``/``ST_IsEmpty``…, which the GeoPackage spec leaves to the implementation; they are
registered on the connection here, reading the envelope from the geometry blob header.
"""

from __future__ import annotations

import logging
import sqlite3
import struct
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pyogrio
import shapely
from sqlalchemy.dialects.sqlite import dialect as sqlite_dialect
from sqlalchemy.schema import CreateIndex, CreateTable

from gis.crs import STORE_EPSG
from layers.accounts.tables import ACCOUNT_TABLES, AuditLine, accounts_metadata
from layers.catalogue import CATALOGUE, SOURCE_ID, LayerSpec, get_layer
from layers.errors import StoreError
from layers.store.base import (
    AuditFor,
    BBox,
    Change,
    Filters,
    LayerInfo,
    Store,
    WriteCounts,
    check_bbox,
    check_filters,
    check_paging,
    check_text,
    check_version,
    plan_upsert,
)
from layers.store.frames import (
    Rows,
    datetime_to_gpkg,
    empty_frame,
    frame_from_rows,
    rows_from_frame,
)

logger = logging.getLogger(__name__)

_ENVELOPE_BYTES = {0: 0, 1: 32, 2: 48, 3: 48, 4: 64}
_HEADER = struct.Struct("<2sBBi4d")  # magic, version, flags, srs_id, minx, maxx, miny, maxy
_FLAGS_LITTLE_ENDIAN_XY_ENVELOPE = 0b0000_0011
_FLAG_EMPTY = 0b0001_0000
_GDAL_GEOMETRY_TYPES = {
    "Point": "Point",
    "LineString": "LineString",
    "Polygon": "Polygon",
    "MultiPolygon": "MultiPolygon",
    "Geometry": "Unknown",
}


_BULK_INSERT_ROWS = 2_000
"""From this many new rows in one batch on, the R-tree is filled in bulk (see ``_bulk_insert``)."""
SCHEMA_VERSION = 2
"""The GeoPackage store's schema version, kept in its ``onemap_meta`` table. 1: the layers only
(before the table existed; accounts beside it in ``<name>.accounts.sqlite``). 2: accounts and
the audit log inside the file, the audit log registered as an attribute table. Opening an older
file backs it up (``<name>.v1.bak.gpkg``), then upgrades it: missing layers and columns, indexes,
the account tables, the old sidecar adopted."""


def stored_schema_version(path: Path) -> int | None:
    """The schema version of an existing store file (1 when it predates versions), None when
    there is no file yet."""
    if not path.exists() or path.stat().st_size == 0:
        return None
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as connection:
        has_meta = connection.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'onemap_meta'").fetchone()
        if not has_meta:
            return 1
        row = connection.execute("SELECT value FROM onemap_meta WHERE key = 'schema_version'").fetchone()
    return int(row[0]) if row else 1


_SQLITE = sqlite_dialect()
_ACCOUNTS = accounts_metadata(None)
SIDECAR_SUFFIX = ".accounts.sqlite"
"""Where accounts lived before they moved into the .gpkg (adopted, then renamed, on open)."""
_SQLITE_TYPES = {"str": "TEXT", "int": "INTEGER", "float": "REAL", "bool": "BOOLEAN", "datetime": "DATETIME"}


def encode_gpkg_blob(wkb: bytes, bounds: Sequence[float], srs_id: int = STORE_EPSG) -> bytes:
    """GeoPackage geometry blob: header with an XY envelope, then standard WKB."""
    minx, miny, maxx, maxy = bounds
    if np.isnan(minx):
        header = struct.pack("<2sBBi", b"GP", 0, _FLAG_EMPTY | 0b1, srs_id)
        return header + wkb
    return _HEADER.pack(b"GP", 0, _FLAGS_LITTLE_ENDIAN_XY_ENVELOPE, srs_id, minx, maxx, miny, maxy) + wkb


def _blob_wkb(blob: bytes) -> bytes:
    envelope = _ENVELOPE_BYTES[(blob[3] >> 1) & 0b111]
    return blob[8 + envelope :]


def _blob_envelope(blob: bytes | None) -> tuple[float, float, float, float] | None:
    """(minx, maxx, miny, maxy) from the header, or computed from the WKB when absent."""
    if blob is None or blob[3] & _FLAG_EMPTY:
        return None
    if (blob[3] >> 1) & 0b111:
        byte_order = "<" if blob[3] & 1 else ">"
        minx, maxx, miny, maxy = struct.unpack_from(byte_order + "4d", blob, 8)
        return minx, maxx, miny, maxy
    x0, y0, x1, y1 = shapely.from_wkb(_blob_wkb(blob)).bounds
    return x0, x1, y0, y1


def _register_gpkg_functions(connection: sqlite3.Connection) -> None:
    def envelope_part(index: int) -> Any:
        def part(blob: bytes | None) -> float | None:
            envelope = _blob_envelope(blob)
            return None if envelope is None else envelope[index]

        return part

    connection.create_function("ST_MinX", 1, envelope_part(0), deterministic=True)
    connection.create_function("ST_MaxX", 1, envelope_part(1), deterministic=True)
    connection.create_function("ST_MinY", 1, envelope_part(2), deterministic=True)
    connection.create_function("ST_MaxY", 1, envelope_part(3), deterministic=True)
    connection.create_function(
        "ST_IsEmpty", 1, lambda blob: 1 if blob is None or blob[3] & _FLAG_EMPTY else 0, deterministic=True
    )


def _quote(identifier: str) -> str:
    # Identifiers come only from the catalogue (never from users); quoting keeps SQL valid anyway.
    return '"' + identifier.replace('"', '""') + '"'


class GeoPackageStore(Store):
    """Layers in one GeoPackage file. Thread-safe: one connection guarded by a lock."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.backup: Path | None = None
        """Where the file was copied before this open upgraded it (None: no upgrade)."""
        if self.path.suffix.lower() != ".gpkg":
            raise StoreError(f"a GeoPackage store path must end in .gpkg: {self.path}")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            found = stored_schema_version(self.path)
            if found is not None and found < SCHEMA_VERSION:
                self.backup = self._back_up(found)  # before the upgrade touches anything
            elif found is not None and found > SCHEMA_VERSION:
                raise StoreError(f"{self.path} has schema version {found}, newer than this onemap's {SCHEMA_VERSION}: upgrade onemap")
            self._create_missing_layers()
            self._connection = sqlite3.connect(
                self.path, isolation_level=None, check_same_thread=False, timeout=30
            )
        except (OSError, sqlite3.Error, pyogrio.errors.DataSourceError) as error:
            raise StoreError(f"cannot open GeoPackage {self.path}: {error}") from error
        _register_gpkg_functions(self._connection)
        self._lock = threading.RLock()
        self._add_missing_columns()
        self._ensure_source_id_indexes()
        self._create_account_tables()
        self._adopt_accounts_sidecar()
        if found != SCHEMA_VERSION:
            self._record_schema_version(found)

    # --- setup ----------------------------------------------------------------------------

    def _existing_layers(self) -> set[str]:
        if not self.path.exists():
            return set()
        return {str(name) for name, _ in pyogrio.list_layers(self.path)}

    def _create_missing_layers(self) -> None:
        existing = self._existing_layers()
        for spec in CATALOGUE.values():
            if spec.name in existing:
                continue
            frame = empty_frame(spec)
            pyogrio.write_dataframe(
                frame,
                self.path,
                layer=spec.name,
                driver="GPKG",
                geometry_type=_GDAL_GEOMETRY_TYPES[spec.geometry_type],
                promote_to_multi=False,
                layer_options={"SPATIAL_INDEX": "YES", "DESCRIPTION": spec.title_zh},
            )
            logger.info("created layer %s in %s", spec.name, self.path)

    def _add_missing_columns(self) -> None:
        """Fields added to the catalogue after the file was made become NULL columns."""
        with self._transaction() as cursor:
            for spec in CATALOGUE.values():
                have = {row[1] for row in cursor.execute(f"PRAGMA table_info({_quote(spec.name)})")}
                for f in spec.fields:
                    if f.name not in have:
                        cursor.execute(f"ALTER TABLE {_quote(spec.name)} ADD COLUMN {_quote(f.name)} {_SQLITE_TYPES[f.type]}")
                        logger.info("added column %s.%s to %s", spec.name, f.name, self.path)

    def _ensure_source_id_indexes(self) -> None:
        with self._transaction() as cursor:
            for spec in CATALOGUE.values():
                cursor.execute(
                    f"CREATE UNIQUE INDEX IF NOT EXISTS {_quote('uq_' + spec.name + '_source_id')} "
                    f"ON {_quote(spec.name)} ({SOURCE_ID})"
                )

    def _back_up(self, version: int) -> Path:
        """A copy of the file as it was, ``<name>.v<version>.bak.gpkg``, before an upgrade."""
        target = self.path.with_name(f"{self.path.stem}.v{version}.bak.gpkg")
        with sqlite3.connect(self.path) as source, sqlite3.connect(target) as copy:
            source.backup(copy)  # SQLite's online backup: consistent even with a writer open
        logger.warning("upgrading %s from schema version %d to %d; the file as it was is kept as %s", self.path, version, SCHEMA_VERSION, target)
        return target

    def _record_schema_version(self, previous: int | None) -> None:
        with self._transaction() as cursor:
            cursor.execute("CREATE TABLE IF NOT EXISTS onemap_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
            cursor.execute("INSERT OR REPLACE INTO onemap_meta (key, value) VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
        if previous is not None:
            logger.warning("upgraded %s to schema version %d", self.path, SCHEMA_VERSION)

    def _create_account_tables(self) -> None:
        """Users, tokens, sessions, shares and the audit log live in the .gpkg itself: one file to
        back up, and a layer write commits with its audit line. (Plain tables: GDAL and QGIS list
        only the layers registered in gpkg_contents.)"""
        with self._transaction() as cursor:
            for table in _ACCOUNTS.sorted_tables:
                # TEXT(n), the GeoPackage spelling of a bounded string (GDAL warns on VARCHAR(n)).
                cursor.execute(str(CreateTable(table, if_not_exists=True).compile(dialect=_SQLITE)).replace("VARCHAR(", "TEXT("))
                for index in table.indexes:
                    cursor.execute(str(CreateIndex(index, if_not_exists=True).compile(dialect=_SQLITE)))
            # The audit log registered as an attribute table: QGIS and ogrinfo show it, and with one
            # registered, GDAL lists no unregistered table (users, tokens, sessions stay out of view).
            cursor.execute(
                "INSERT OR IGNORE INTO gpkg_contents (table_name, data_type, identifier, description, last_change) "
                "VALUES ('audit_log', 'attributes', 'audit_log', '操作日志 audit log', strftime('%Y-%m-%dT%H:%M:%fZ','now'))"
            )

    def _adopt_accounts_sidecar(self) -> None:
        """Accounts of an older store, kept in ``<name>.accounts.sqlite`` beside it, are copied in
        (one transaction; rows already here win) and the sidecar is renamed ``….migrated``."""
        sidecar = self.path.with_suffix(SIDECAR_SUFFIX)
        if not sidecar.is_file():
            return
        with self._lock:
            self._connection.execute("ATTACH DATABASE ? AS sidecar", (str(sidecar),))
            try:
                with self._transaction() as cursor:
                    have = {row[0] for row in cursor.execute("SELECT name FROM sidecar.sqlite_master WHERE type = 'table'")}
                    for name in ACCOUNT_TABLES:
                        if name not in have:
                            continue
                        theirs = {row[1] for row in cursor.execute(f"PRAGMA sidecar.table_info({_quote(name)})")}
                        columns = ", ".join(_quote(c.name) for c in _ACCOUNTS.tables[name].columns if c.name in theirs and not (name == "audit_log" and c.name == "id"))
                        cursor.execute(f"INSERT OR IGNORE INTO main.{_quote(name)} ({columns}) SELECT {columns} FROM sidecar.{_quote(name)}")
            finally:
                self._connection.execute("DETACH DATABASE sidecar")
        sidecar.rename(sidecar.with_name(sidecar.name + ".migrated"))
        logger.warning("moved the accounts and audit log of %s into %s (the old file is now %s.migrated)", sidecar, self.path, sidecar.name)

    @staticmethod
    def _audit(cursor: sqlite3.Cursor, line: AuditLine) -> None:
        """Append ``line`` to the audit log inside the caller's transaction."""
        row = line.row()
        as_text = _ACCOUNTS.tables["audit_log"].c.at.type.bind_processor(_SQLITE)  # SQLAlchemy's own text form
        if as_text is not None:
            row["at"] = as_text(row["at"])
        cursor.execute(f"INSERT INTO audit_log ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})", list(row.values()))

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Cursor]:
        with self._lock:
            cursor = self._connection.cursor()
            cursor.execute("BEGIN IMMEDIATE")
            try:
                yield cursor
            except BaseException:
                cursor.execute("ROLLBACK")
                raise
            else:
                cursor.execute("COMMIT")
            finally:
                cursor.close()

    # --- reads ----------------------------------------------------------------------------

    def list_layers(self) -> list[LayerInfo]:
        infos = []
        with self._lock:
            for spec in CATALOGUE.values():
                table = _quote(spec.name)
                count = self._connection.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
                bbox: BBox | None = None
                if count:
                    row = self._connection.execute(
                        f"SELECT min(minx), min(miny), max(maxx), max(maxy) FROM {_quote('rtree_' + spec.name + '_geom')}"
                    ).fetchone()
                    bbox = (row[0], row[1], row[2], row[3]) if row[0] is not None else None
                infos.append(
                    LayerInfo(spec.name, spec.title_zh, spec.title_en, spec.geometry_type, count, bbox)
                )
        return infos

    def _select(
        self, spec: LayerSpec, bbox: BBox | None, filters: Filters | None
    ) -> tuple[str, list[Any]]:
        clauses: list[str] = []
        params: list[Any] = []
        for name, value in check_filters(spec, filters).items():
            field_type = "str" if name == SOURCE_ID else spec.field(name).type
            if value is None:
                clauses.append(f"{_quote(name)} IS NULL")
                continue
            clauses.append(f"{_quote(name)} = ?")
            params.append(datetime_to_gpkg(value) if field_type == "datetime" else value)
        if bbox is not None:
            clauses.append(
                f"fid IN (SELECT id FROM {_quote('rtree_' + spec.name + '_geom')} "
                "WHERE minx <= ? AND maxx >= ? AND miny <= ? AND maxy >= ?)"
            )
            min_lon, min_lat, max_lon, max_lat = bbox
            params.extend([max_lon, min_lon, max_lat, min_lat])
        where = (" WHERE " + " AND ".join(clauses)) if clauses else ""
        return where, params

    def _fetch(
        self, spec: LayerSpec, bbox: BBox | None, filters: Filters | None, limit: int | None, offset: int
    ) -> tuple[list[tuple[Any, ...]], list[bytes]]:
        bbox = check_bbox(bbox)
        check_paging(limit, offset)
        where, params = self._select(spec, bbox, filters)
        columns = ", ".join(_quote(c) for c in spec.columns)
        sql = f"SELECT {columns}, geom FROM {_quote(spec.name)}{where} ORDER BY fid"
        if bbox is None:
            # Exact selection is all in SQL: page there too.
            sql += " LIMIT ? OFFSET ?"
            params = [*params, -1 if limit is None else limit, offset]
        with self._lock:
            rows = self._connection.execute(sql, params).fetchall()
        values = [self._decode(spec, row[:-1]) for row in rows]
        wkbs = [_blob_wkb(row[-1]) for row in rows]
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

    @staticmethod
    def _decode(spec: LayerSpec, row: Sequence[Any]) -> tuple[Any, ...]:
        decoded = list(row)
        for position, field in enumerate(spec.fields, start=1):
            value = decoded[position]
            if value is not None and field.type == "bool":
                decoded[position] = bool(value)
        return tuple(decoded)

    def count(self, layer: str, *, bbox: BBox | None = None, filters: Filters | None = None) -> int:
        spec = get_layer(layer)
        if bbox is None:
            where, params = self._select(spec, None, filters)
            with self._lock:
                return int(self._connection.execute(f"SELECT count(*) FROM {_quote(layer)}{where}", params).fetchone()[0])
        return len(self._fetch(spec, bbox, filters, None, 0)[0])

    def read(
        self,
        layer: str,
        *,
        bbox: BBox | None = None,
        filters: Filters | None = None,
        limit: int | None = None,
        offset: int = 0,
    ) -> gpd.GeoDataFrame:
        spec = get_layer(layer)
        values, wkbs = self._fetch(spec, bbox, filters, limit, offset)
        return frame_from_rows(spec, values, wkbs)

    # --- writes ---------------------------------------------------------------------------

    def _stored(self, cursor: sqlite3.Cursor, spec: LayerSpec, rows: Rows) -> dict[str, tuple[tuple[Any, ...], bytes]]:
        stored: dict[str, tuple[tuple[Any, ...], bytes]] = {}
        ids = [values[0] for values in rows.values]
        columns = ", ".join(_quote(c) for c in spec.columns)
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            marks = ",".join("?" * len(chunk))
            for row in cursor.execute(
                f"SELECT {columns}, geom FROM {_quote(spec.name)} WHERE {SOURCE_ID} IN ({marks})", chunk
            ):
                values = self._decode(spec, row[:-1])
                stored[values[0]] = (values, _blob_wkb(row[-1]))
        return stored

    @staticmethod
    def _encode_values(spec: LayerSpec, values: tuple[Any, ...]) -> tuple[Any, ...]:
        return tuple(
            datetime_to_gpkg(v) if v is not None and f_type == "datetime" else v
            for v, f_type in zip(values, ["str", *(f.type for f in spec.fields)], strict=True)
        )

    def upsert_many(self, batches: Mapping[str, gpd.GeoDataFrame], *, deletes: Mapping[str, Sequence[str]] | None = None, audit: AuditLine | None = None) -> dict[str, WriteCounts]:
        prepared = self._prepare(batches)
        results: dict[str, WriteCounts] = {}
        with self._transaction() as cursor:
            for layer, source_ids in (deletes or {}).items():
                if self._delete_rows(cursor, get_layer(layer), source_ids):
                    self._touch_contents(cursor, get_layer(layer))
            for spec, rows in prepared:
                results[spec.name] = self._upsert_rows(cursor, spec, rows)
                if results[spec.name].written:
                    self._touch_contents(cursor, spec)
            if audit is not None:
                self._audit(cursor, audit)
        return results

    @contextmanager
    def upsert_stream(self, layer: str, *, audit: AuditFor | None = None) -> Iterator[Callable[[gpd.GeoDataFrame], WriteCounts]]:
        spec = get_layer(layer)
        with self._transaction() as cursor:
            totals = WriteCounts()

            def write(frame: gpd.GeoDataFrame) -> WriteCounts:
                nonlocal totals
                counts = self._upsert_rows(cursor, spec, rows_from_frame(spec, frame))
                totals = totals + counts
                return counts

            yield write
            if totals.written:
                self._touch_contents(cursor, spec)
            line = audit(totals) if audit is not None else None
            if line is not None:
                self._audit(cursor, line)

    def edit(self, layer: str, source_id: str, change: Change, *, if_match: str | None = None, audit: AuditLine | None = None) -> gpd.GeoDataFrame:
        spec = get_layer(layer)
        check_text(source_id, what=SOURCE_ID)
        with self._transaction() as cursor:  # BEGIN IMMEDIATE: no other writer until COMMIT
            current = self.get(layer, source_id)  # same connection: reads inside this transaction
            check_version(spec, current, if_match)
            if self._upsert_rows(cursor, spec, rows_from_frame(spec, change(current))).written:
                self._touch_contents(cursor, spec)
            if audit is not None:
                self._audit(cursor, audit)
            return self.get(layer, source_id)

    def _upsert_rows(self, cursor: sqlite3.Cursor, spec: LayerSpec, rows: Rows) -> WriteCounts:
        encoded = Rows([self._encode_values(spec, v) for v in rows.values], rows.wkbs)
        plan = plan_upsert(encoded, self._stored(cursor, spec, rows))
        bounds = shapely.bounds(shapely.from_wkb(np.asarray(rows.wkbs, dtype=object))) if len(rows) else np.zeros((0, 4))
        blobs = [encode_gpkg_blob(w, b) for w, b in zip(rows.wkbs, bounds, strict=True)]
        table = _quote(spec.name)
        columns = ", ".join(_quote(c) for c in spec.columns)
        marks = ", ".join("?" * (len(spec.columns) + 1))
        insert = f"INSERT INTO {table} ({columns}, geom) VALUES ({marks})"
        inserted = [(*encoded.values[i], blobs[i]) for i in plan.inserts]
        if len(inserted) >= _BULK_INSERT_ROWS:
            self._bulk_insert(cursor, spec, insert, inserted, bounds[plan.inserts])
        else:
            cursor.executemany(insert, inserted)
        assignments = ", ".join(f"{_quote(c)} = ?" for c in spec.columns[1:])
        cursor.executemany(
            f"UPDATE {table} SET {assignments}, geom = ? WHERE {SOURCE_ID} = ?",
            [(*encoded.values[i][1:], blobs[i], encoded.values[i][0]) for i in plan.updates],
        )
        return plan.counts()

    def delete(self, layer: str, source_ids: Sequence[str]) -> int:
        spec = get_layer(layer)
        with self._transaction() as cursor:
            deleted = self._delete_rows(cursor, spec, source_ids)
            if deleted:
                self._touch_contents(cursor, spec)
        return deleted

    @staticmethod
    def _delete_rows(cursor: sqlite3.Cursor, spec: LayerSpec, source_ids: Sequence[str]) -> int:
        deleted = 0
        for start in range(0, len(source_ids), 500):
            chunk = list(source_ids[start : start + 500])
            marks = ",".join("?" * len(chunk))
            cursor.execute(f"DELETE FROM {_quote(spec.name)} WHERE {SOURCE_ID} IN ({marks})", chunk)
            deleted += cursor.rowcount
        return deleted

    @staticmethod
    def _touch_contents(cursor: sqlite3.Cursor, spec: LayerSpec) -> None:
        """Keep gpkg_contents' extent and last_change true, as GDAL and QGIS read them."""
        rtree = _quote("rtree_" + spec.name + "_geom")
        cursor.execute(
            "UPDATE gpkg_contents SET last_change = strftime('%Y-%m-%dT%H:%M:%fZ','now'), "
            f"min_x = (SELECT min(minx) FROM {rtree}), min_y = (SELECT min(miny) FROM {rtree}), "
            f"max_x = (SELECT max(maxx) FROM {rtree}), max_y = (SELECT max(maxy) FROM {rtree}) "
            "WHERE lower(table_name) = lower(?)",
            (spec.name,),
        )

    @staticmethod
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
            cursor.execute(f"DROP TRIGGER {_quote(name)}")
        before = cursor.execute(f"SELECT coalesce(max(fid), 0) FROM {_quote(spec.name)}").fetchone()[0]
        cursor.executemany(insert, rows)
        fids = np.array([r[0] for r in cursor.execute(f"SELECT fid FROM {_quote(spec.name)} WHERE fid > ? ORDER BY fid", (before,))], dtype=np.int64)
        if fids.size != len(rows):
            raise StoreError(f"{spec.name}: bulk insert expected {len(rows)} new fids, found {fids.size}")
        usable = np.isfinite(bounds).all(axis=1)
        centre_x = (bounds[:, 0] + bounds[:, 2]) / 2
        centre_y = (bounds[:, 1] + bounds[:, 3]) / 2
        # Rows near each other go into the R-tree together: far fewer node splits than file order.
        order = np.lexsort((centre_y, np.floor(centre_x * 20)))
        order = order[usable[order]]
        cursor.executemany(
            f"INSERT INTO {_quote('rtree_' + spec.name + '_geom')} VALUES (?, ?, ?, ?, ?)",
            zip(fids[order].tolist(), bounds[order, 0].tolist(), bounds[order, 2].tolist(), bounds[order, 1].tolist(), bounds[order, 3].tolist(), strict=True),
        )
        if f"trigger_insert_feature_count_{spec.name}" in triggers:
            cursor.execute("UPDATE gpkg_ogr_contents SET feature_count = feature_count + ? WHERE lower(table_name) = lower(?)", (len(rows), spec.name))
        for sql in triggers.values():
            cursor.execute(sql)

    def layer_version(self, layer: str) -> str:
        spec = get_layer(layer)
        with self._lock:
            count, last = self._connection.execute(
                f"SELECT (SELECT count(*) FROM {_quote(spec.name)}), (SELECT last_change FROM gpkg_contents WHERE lower(table_name) = lower(?))",
                (spec.name,),
            ).fetchone()
        return f"gpkg:{self.path.resolve()}:{spec.name}:{count}:{last}"

    def close(self) -> None:
        with self._lock:
            self._connection.close()
