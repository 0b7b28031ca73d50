"""``onemap import LAYER FILE``: turn a bureau's file into validated rows of a catalogue layer.

``prepare_import`` is pure: it maps the file's columns to the layer's fields, finds or recognises
the CRS, reprojects to EPSG:4326 (undoing GCJ-02/BD-09 offsets when asked), coerces and checks
every cell and geometry, derives the derived fields, and returns the accepted rows with a per-row
report. ``import_file`` reads the file, prepares it and writes the accepted rows to a store in
one transaction (upserting by source id), or nothing at all when ``strict`` and any row failed.
"""

from __future__ import annotations

import csv
import hashlib
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS
from pyproj.exceptions import CRSError

from gis.crs import CHINA_LONLAT_BBOX, STORE_EPSG, guess_crs, parse_angle, to_wgs84

from .catalogue import SOURCE_ID, FieldSpec, LayerSpec, get_layer, shapefile_field_names
from .errors import InputError
from .readers import SourceTable, read_source
from .settings import Settings
from .store.base import Store, WriteCounts
from .validate import coerce_cell, derive_fields, derive_geometric_fields, is_missing

logger = logging.getLogger(__name__)

LON_NAMES = ("经度", "lon", "lng", "long", "longitude", "东经", "x坐标", "x", "X", "POINT_X", "横坐标")
LAT_NAMES = ("纬度", "lat", "latitude", "北纬", "y坐标", "y", "Y", "POINT_Y", "纵坐标")
WKT_NAMES = ("wkt", "WKT", "geometry", "geom", "几何")
OFFSET_SYSTEMS = ("gcj02", "bd09")


@dataclass(frozen=True)
class Problem:
    """One line of the import report. ``row`` is what the user sees (spreadsheet row or feature number)."""

    row: int | None
    source_id: str | None
    field: str
    problem: str
    severity: str = "error"

    def __str__(self) -> str:
        where = f"row {self.row}" if self.row is not None else "file"
        sid = f" [{self.source_id}]" if self.source_id else ""
        return f"{self.severity.upper()} {where}{sid} {self.field}: {self.problem}"


@dataclass
class PreparedImport:
    """Accepted rows (EPSG:4326, layer columns), the report, and what was assumed along the way."""

    layer: str
    accepted: gpd.GeoDataFrame
    problems: list[Problem]
    notes: list[str]
    total_rows: int

    @property
    def rejected_rows(self) -> int:
        return len({p.row for p in self.problems if p.severity == "error"})

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]


@dataclass
class ImportReport:
    """What ``import_file`` did: the preparation and what the store wrote (None when nothing was)."""

    path: Path
    prepared: PreparedImport
    written: WriteCounts | None
    strict: bool
    notes: list[str] = field(default_factory=list)


def _normalised(name: str) -> str:
    return "".join(name.lower().split()).replace("（", "(").replace("）", ")")


def _column_mapping(spec: LayerSpec, columns: Sequence[str], explicit: Mapping[str, str], path: Path) -> dict[str, str]:
    """Target (a field, source_id, lon, lat or wkt) → the file's column.

    ``--map`` pairs come first; then each field takes the first free column named like it (field
    name, Chinese label, label with unit, shapefile short name, ledger aliases), then the
    coordinate columns; ``source_id`` last, and it may share a field's column (a ledger whose
    编号 is its 行政区划代码).
    """
    targets = set(spec.columns) | {"lon", "lat", "wkt"}
    mapping: dict[str, str] = {}
    for source, target in explicit.items():
        if source not in columns:
            raise InputError(f"{path}: --map {source}={target}: the file has no column {source!r}; columns: {list(columns)}")
        if target not in targets:
            raise InputError(f"--map {source}={target}: layer {spec.name} has no field {target!r}; fields: {sorted(targets)}")
        mapping[target] = source
    by_name = {_normalised(c): c for c in columns}
    used = set(mapping.values())

    def find(names: Sequence[str], *, reuse: bool = False) -> str | None:
        for name in names:
            column = by_name.get(_normalised(name))
            if column is not None and (reuse or column not in used):
                return column
        return None

    short = shapefile_field_names(spec)
    wanted: list[tuple[str, Sequence[str]]] = [
        (f.name, (f.name, f.label_zh, f.display_label, short[f.name], *f.aliases)) for f in spec.fields
    ]
    wanted += [("lon", LON_NAMES), ("lat", LAT_NAMES), ("wkt", WKT_NAMES)]
    for target, names in wanted:
        if target not in mapping and (column := find(names)) is not None:
            mapping[target] = column
            used.add(column)
    if SOURCE_ID not in mapping and (column := find(spec.source_id_aliases, reuse=True)) is not None:
        mapping[SOURCE_ID] = column
    return mapping


def _table_geometry(source: SourceTable, mapping: dict[str, str], problems: list[Problem]) -> tuple[np.ndarray, np.ndarray | None]:
    """Geometries from lon/lat (decimal or 度分秒) or WKT columns; the x/y used, for CRS recognition."""
    frame = source.attributes
    n = len(frame)
    if "lon" in mapping and "lat" in mapping:
        xy = np.full((n, 2), np.nan)
        for axis, key in enumerate(("lon", "lat")):
            column = mapping[key]
            for i, value in enumerate(frame[column]):
                if is_missing(value):
                    problems.append(Problem(source.row_labels[i], None, column, "missing coordinate"))
                    continue
                try:
                    xy[i, axis] = parse_angle(str(value)) if not isinstance(value, int | float) else float(value)
                except ValueError as error:
                    problems.append(Problem(source.row_labels[i], None, column, str(error)))
        geometries = np.array([None if np.isnan(x) or np.isnan(y) else shapely.Point(x, y) for x, y in xy], dtype=object)
        return geometries, xy
    if "wkt" in mapping:
        column = mapping["wkt"]
        geometries = np.empty(n, dtype=object)
        for i, value in enumerate(frame[column]):
            try:
                geometries[i] = None if is_missing(value) else shapely.from_wkt(str(value))
            except shapely.errors.GEOSException as error:
                problems.append(Problem(source.row_labels[i], None, column, f"not WKT geometry: {error}"))
                geometries[i] = None
        return geometries, None
    raise InputError(
        f"{source.path}: no coordinate columns: looked for longitude ({'/'.join(LON_NAMES[:5])}…) and "
        f"latitude ({'/'.join(LAT_NAMES[:4])}…) or a WKT column ({'/'.join(WKT_NAMES[:3])}); "
        f"columns are {list(source.attributes.columns)}. Use --map COLUMN=lon --map COLUMN=lat"
    )


def _in_box(x: np.ndarray, y: np.ndarray, box: Sequence[float]) -> np.ndarray:
    return (x >= box[0]) & (x <= box[2]) & (y >= box[1]) & (y <= box[3])


def _resolve_crs(source: SourceTable, xy: np.ndarray, explicit: str | int | None, notes: list[str], settings: Settings) -> CRS:
    if explicit is not None:
        try:
            return CRS.from_user_input(int(explicit) if str(explicit).isdigit() else explicit)
        except CRSError:
            raise InputError(f"--crs {explicit!r} is not a CRS pyproj knows (give an EPSG code such as 4326, 4490, 4548)") from None
    if source.crs is not None:
        return source.crs
    finite = np.isfinite(xy).all(axis=1)
    if not finite.any():
        raise InputError(f"{source.path}: no usable coordinates in any row")
    x, y = xy[finite, 0], xy[finite, 1]
    lonlat_rows = _in_box(x, y, CHINA_LONLAT_BBOX) | _in_box(y, x, CHINA_LONLAT_BBOX)
    if lonlat_rows.mean() >= 0.5:
        notes.append(f"{source.path.name} declares no CRS; coordinates are longitude/latitude: assumed EPSG:4326 (WGS 84)")
        return CRS.from_epsg(STORE_EPSG)
    try:
        guess = guess_crs(x, y, default_plain_gk_epsg=settings.work_epsg)
    except ValueError as error:
        raise InputError(f"{source.path}: {error}") from None
    notes.append(f"{source.path.name} declares no CRS; {guess.reason}")
    return CRS.from_epsg(guess.epsg)


def _conform_geometry(geometry: Any, target: str) -> tuple[Any, str | None]:
    """The geometry in the layer's type (promoting/demoting single parts), or None and the reason.

    Polygons get counter-clockwise exteriors (RFC 7946), whatever their file's convention (a
    shapefile's are clockwise), so the same shape is stored the same way from any format.
    """
    if geometry.geom_type in ("Polygon", "MultiPolygon"):
        geometry = shapely.orient_polygons(geometry)
    kind = geometry.geom_type
    if target == "Geometry":
        return geometry, None
    if kind == target:
        return geometry, None
    if target == "MultiPolygon" and kind == "Polygon":
        return shapely.MultiPolygon([geometry]), None
    if target in ("Point", "Polygon") and kind == "Multi" + target and len(geometry.geoms) == 1:
        return geometry.geoms[0], None
    if target == "LineString" and kind == "MultiLineString":
        merged = shapely.line_merge(geometry)
        if merged.geom_type == "LineString":
            return merged, None
    return None, f"is a {kind}, the layer takes {target}"


def prepare_import(
    layer: str,
    source: SourceTable,
    *,
    settings: Settings,
    crs: str | int | None = None,
    offset_system: str | None = None,
    mapping: Mapping[str, str] | None = None,
) -> PreparedImport:
    """Validate and convert a read file into the layer's rows. Pure: no I/O.

    Raises ``InputError`` for problems of the whole file (a missing required column, unknown
    CRS); returns row-level problems in the report.
    """
    spec = get_layer(layer)
    if offset_system is not None and offset_system.lower() not in OFFSET_SYSTEMS:
        raise InputError(f"--from {offset_system!r}: use one of {', '.join(OFFSET_SYSTEMS)}")
    problems: list[Problem] = []
    coordinate_problems: list[Problem] = []
    notes = list(source.notes)
    columns = [str(c) for c in source.attributes.columns]
    found = _column_mapping(spec, columns, mapping or {}, source.path)
    missing_required = [f.display_label for f in spec.fields if f.required and f.name not in found and not f.derived]
    if missing_required:
        raise InputError(
            f"{source.path}: missing required column(s) for layer {spec.name}: {', '.join(missing_required)}; "
            f"the file's columns are {columns}. Rename them or use --map SOURCE=FIELD"
        )
    ignored = sorted(set(columns) - set(found.values()))
    if ignored:
        notes.append(f"columns not used: {', '.join(ignored)}")

    n = len(source.attributes)
    if source.geometry is not None:
        geometries = np.asarray(source.geometry.array, dtype=object)
        xy = np.array([[g.centroid.x, g.centroid.y] if g is not None and not g.is_empty else [np.nan, np.nan] for g in geometries])
    else:
        geometries, table_xy = _table_geometry(source, found, coordinate_problems)
        xy = table_xy if table_xy is not None else np.array([[g.centroid.x, g.centroid.y] if g is not None else [np.nan, np.nan] for g in geometries])
    source_crs = _resolve_crs(source, xy, crs, notes, settings)
    if offset_system and not source_crs.is_geographic:
        raise InputError(f"--from {offset_system} applies to longitude/latitude, but the data is in {source_crs.name}")

    geoseries = gpd.GeoSeries(geometries, crs=source_crs)
    if source_crs.to_epsg() != STORE_EPSG:
        geoseries = geoseries.to_crs(STORE_EPSG)
        notes.append(f"reprojected from {source_crs.name} (EPSG:{source_crs.to_epsg()}) to EPSG:4326")
    lonlat = np.asarray(geoseries.array, dtype=object)
    if offset_system:
        def undo_offset(coords: np.ndarray) -> np.ndarray:
            return np.column_stack(to_wgs84(coords[:, 0], coords[:, 1], source=offset_system))

        lonlat = shapely.transform(lonlat, undo_offset)
        notes.append(f"converted from {offset_system.upper()} to WGS 84")

    by_row: dict[int | None, list[Problem]] = {}
    for p in coordinate_problems:
        by_row.setdefault(p.row, []).append(p)
    raw_rows = source.attributes.to_dict("records")
    records: list[dict[str, Any]] = []
    seen_ids: dict[str, int] = {}
    region = settings.region_bbox
    for i in range(n):
        label = source.row_labels[i]
        row_errors = list(by_row.get(label, []))
        raw = raw_rows[i]
        record: dict[str, Any] = {}
        sid_column = found.get(SOURCE_ID)
        sid = None if sid_column is None or is_missing(raw[sid_column]) else coerce_cell(raw[sid_column], _ID_SPEC)
        for f in spec.fields:
            column = found.get(f.name)
            try:
                record[f.name] = coerce_cell(raw[column], f) if column is not None else None
            except ValueError as error:
                row_errors.append(Problem(label, sid, column or f.name, str(error)))
                record[f.name] = None
                continue
            if f.required and record[f.name] is None:
                row_errors.append(Problem(label, sid, column or f.name, f"required field {f.display_label} is empty"))
        geometry = lonlat[i]
        if geometry is None or geometry.is_empty:
            if not any(p.field in (found.get("lon"), found.get("lat"), found.get("wkt")) for p in row_errors):
                row_errors.append(Problem(label, sid, "geometry", "missing or empty geometry"))
        else:
            geometry, reason = _conform_geometry(geometry, spec.geometry_type)
            if reason:
                row_errors.append(Problem(label, sid, "geometry", reason))
            else:
                row_errors.extend(_check_location(label, sid, geometry, xy[i], source_crs, region, settings.country_bbox, found))
                if not row_errors and not geometry.is_valid:
                    reason_text = shapely.is_valid_reason(geometry)
                    geometry, _ = _conform_geometry(shapely.make_valid(geometry), spec.geometry_type)
                    if geometry is None:
                        row_errors.append(Problem(label, sid, "geometry", f"invalid ({reason_text}) and cannot be repaired into a {spec.geometry_type}"))
                    else:
                        problems.append(Problem(label, sid, "geometry", f"invalid ({reason_text}); repaired with make_valid", "warning"))
        if sid is None:
            if sid_column is not None:
                row_errors.append(Problem(label, None, sid_column, f"{SOURCE_ID} (编号) is empty"))
            elif geometry is not None:
                sid = _derived_id(spec.name, record.get("name"), geometry)
        if sid is not None and not row_errors:
            if sid in seen_ids:
                row_errors.append(Problem(label, sid, sid_column or SOURCE_ID, f"duplicate {SOURCE_ID}: row {seen_ids[sid]} has it too"))
            else:
                seen_ids[sid] = label
        for warning in derive_fields(spec.name, record, area_per_person_m2=settings.area_per_person_m2):
            problems.append(Problem(label, sid, warning.split(":")[0], warning.split(": ", 1)[1], "warning"))
        problems.extend(row_errors)
        if row_errors:
            continue
        record[SOURCE_ID] = sid
        record["geometry"] = geometry
        records.append(record)
    if found.get(SOURCE_ID) is None:
        notes.append(f"no {SOURCE_ID}/编号 column: ids derived from name and location (stable for the same data)")

    accepted = gpd.GeoDataFrame(
        pd.DataFrame(records, columns=[*spec.columns, "geometry"]), geometry="geometry", crs=STORE_EPSG
    )
    derive_geometric_fields(spec, accepted, work_epsg=settings.work_epsg)
    problems.sort(key=lambda p: (p.row or 0, p.severity))
    return PreparedImport(layer=spec.name, accepted=accepted, problems=problems, notes=notes, total_rows=n)


_ID_SPEC = FieldSpec(SOURCE_ID, "str", "编号")


def _check_location(label: int, sid: str | None, geometry: Any, raw_xy: np.ndarray, crs: CRS, region: Sequence[float], country: Sequence[float], found: Mapping[str, str]) -> list[Problem]:
    x, y = shapely.get_coordinates(geometry).T
    field_name = found.get("lon", "geometry")
    if not np.isfinite(x).all() or not np.isfinite(y).all():
        return [Problem(label, sid, field_name, "coordinates cannot be transformed (outside the CRS's area?)")]
    in_country = _in_box(x, y, country)
    if not in_country.all():
        if crs.is_geographic and _in_box(y, x, country).all():
            return [Problem(label, sid, field_name, f"coordinates look swapped: 经度 (lon) {raw_xy[0]:.6g}, 纬度 (lat) {raw_xy[1]:.6g}; exchange the columns")]
        return [Problem(label, sid, field_name, f"outside China: lon {x.mean():.6g}, lat {y.mean():.6g}" if tuple(country) == CHINA_LONLAT_BBOX else f"outside the configured country box {list(country)}: lon {x.mean():.6g}, lat {y.mean():.6g}")]
    if not _in_box(x, y, region).all():
        return [Problem(label, sid, field_name, f"outside the configured region {list(region)} (lon {x.mean():.4f}, lat {y.mean():.4f}); set ONEMAP_REGION_BBOX to widen it")]
    return []


def _derived_id(layer: str, name: Any, geometry: Any) -> str:
    digest = hashlib.sha1(f"{layer}|{name or ''}|{shapely.to_wkt(geometry, rounding_precision=7)}".encode()).hexdigest()
    return f"{layer[:3].upper()}-{digest[:12]}"


def write_report(problems: Sequence[Problem], path: Path) -> None:
    """The per-row report as CSV (UTF-8 with BOM, so Excel opens the Chinese text)."""
    with path.open("w", newline="", encoding="utf-8-sig") as handle:
        writer = csv.writer(handle)
        writer.writerow(["row", "source_id", "field", "severity", "problem"])
        for p in problems:
            writer.writerow([p.row if p.row is not None else "", p.source_id or "", p.field, p.severity, p.problem])


def import_file(
    store: Store,
    layer: str,
    path: str | Path,
    *,
    settings: Settings,
    encoding: str | None = None,
    crs: str | int | None = None,
    offset_system: str | None = None,
    mapping: Mapping[str, str] | None = None,
    strict: bool = False,
    sheet: str | None = None,
    source_layer: str | None = None,
) -> ImportReport:
    """Read, validate and write ``path`` into ``layer``: accepted rows in one transaction, or, with
    ``strict``, nothing at all when any row has an error."""
    spec = get_layer(layer)
    source = read_source(path, encoding=encoding, sheet=sheet, source_layer=source_layer, target_layer=spec.name)
    prepared = prepare_import(spec.name, source, settings=settings, crs=crs, offset_system=offset_system, mapping=mapping)
    if strict and prepared.errors:
        return ImportReport(Path(path), prepared, None, strict, ["--strict: nothing was written because rows have errors"])
    if prepared.accepted.empty:
        return ImportReport(Path(path), prepared, None, strict, ["no valid rows: nothing was written"])
    written = store.upsert(spec.name, prepared.accepted)
    return ImportReport(Path(path), prepared, written, strict)
