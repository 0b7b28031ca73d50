"""Where an imported row is: its coordinates read, its CRS found, reprojected and checked.

``locate_rows`` reads one chunk's coordinates (lon/lat columns in decimal degrees or 度分秒, one
经纬度 column, WKT, or the geometry of a GIS file; full-width digits allowed), detects the
surveyors' X = northing convention, recognises the CRS when the file declares none, reprojects
to EPSG:4326 and undoes a GCJ-02/BD-09 offset. ``check_locations`` then checks each row against
the country, the city's region (its buffered outline, not a rectangle) and outline. Everything
is vectorised over the chunk; only rows with a problem cost a Python step.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS, Transformer
from pyproj.exceptions import CRSError

from gis.crs import CHINA_LONLAT_BBOX, STORE_EPSG, guess_crs, parse_angle, to_wgs84
from layers.errors import InputError
from layers.io.ledger import header_key, numbers_from_text, split_coordinate_pairs
from layers.io.readers import SourceTable
from layers.io.validate import missing_mask

if TYPE_CHECKING:
    from layers.io.importer import LedgerImport

Report = Callable[..., None]
_SURVEY_X = {"x", "x坐标", "x(m)", "x坐标(m)", "x(北)", "x坐标(北)"}
_SURVEY_Y = {"y", "y坐标", "y(m)", "y坐标(m)", "y(东)", "y坐标(东)"}


class FirstSeen:
    """Keys seen so far in a file (64-bit hashes) with the row where each was first seen.

    Kept as two sorted arrays, 16 bytes per distinct key, so a million-row file's checks need
    16 MB rather than a dict of a million Python objects.
    """

    def __init__(self) -> None:
        self._keys = np.zeros(0, dtype=np.uint64)
        self._rows = np.zeros(0, dtype=np.int64)

    def check_and_add(self, keys: np.ndarray, rows: np.ndarray, use: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """For each used key: was it seen before (earlier in this batch or in an earlier one),
        and the first row that had it. Adds the new keys."""
        keys = np.asarray(keys, dtype=np.uint64)
        seen = np.zeros(len(keys), dtype=bool)
        first = np.zeros(len(keys), dtype=np.int64)
        index = np.flatnonzero(use)
        if index.size == 0:
            return seen, first
        chosen = keys[index]
        where = np.searchsorted(self._keys, chosen)
        inside = where < self._keys.size
        before = np.zeros(index.size, dtype=bool)
        before[inside] = self._keys[where[inside]] == chosen[inside]
        first[index[before]] = self._rows[where[before]]
        fresh = index[~before]
        order = np.argsort(keys[fresh], kind="stable")
        sorted_keys = keys[fresh][order]
        repeat = np.zeros(sorted_keys.size, dtype=bool)
        repeat[1:] = sorted_keys[1:] == sorted_keys[:-1]
        group_start = np.maximum.accumulate(np.where(~repeat, np.arange(sorted_keys.size), 0)) if sorted_keys.size else sorted_keys.astype(np.int64)
        first_rows = rows[fresh][order][group_start]
        seen[index[before]] = True
        seen[fresh[order][repeat]] = True
        first[fresh[order][repeat]] = first_rows[repeat]
        new_keys, new_rows = sorted_keys[~repeat], rows[fresh][order][~repeat]
        merged_keys = np.concatenate([self._keys, new_keys])
        merged_rows = np.concatenate([self._rows, new_rows])
        merge = np.argsort(merged_keys, kind="stable")
        self._keys, self._rows = merged_keys[merge], merged_rows[merge]
        return seen, first


def point_keys(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """A 64-bit key per point, equal for points equal to 1e-7° (about 1 cm)."""
    grid = pd.DataFrame({"x": np.round(np.nan_to_num(x) * 1e7).astype(np.int64), "y": np.round(np.nan_to_num(y) * 1e7).astype(np.int64)})
    return pd.util.hash_pandas_object(grid, index=False).to_numpy(dtype=np.uint64)


@dataclass
class Located:
    """One chunk's geometries in EPSG:4326 (None where unusable), the lon/lat of points (NaN for
    other geometries), the coordinates as the file wrote them, and the CRS they were in."""

    geometry: np.ndarray
    x: np.ndarray
    y: np.ndarray
    raw_x: np.ndarray
    raw_y: np.ndarray
    crs: CRS
    column: str = "geometry"
    """The column named in messages about the location (the longitude's, or geometry)."""


def _angles(column: pd.Series, name: str, report: Report, sids: list[Any]) -> np.ndarray:
    """Decimal degrees, metres or 度分秒 text as floats; unreadable cells reported."""
    values, bad = numbers_from_text(column)
    for position in np.flatnonzero(bad).tolist():
        text = str(column.iloc[position])
        try:
            values[position] = parse_angle(text)
        except ValueError as error:
            report(int(position), None, name, str(error))
    for position in np.flatnonzero(missing_mask(column)).tolist():
        report(int(position), None, name, "missing coordinate")
    return values


def _table_xy(ledger: LedgerImport, source: SourceTable, report: Report, sids: list[Any]) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, str | None]:
    """x, y (as written) or WKT geometries, and the name of the coordinate column for messages."""
    plans = ledger.plans
    n = len(source.attributes)
    if "lon" in plans and "lat" in plans:
        lon_column, lat_column = plans["lon"].column, plans["lat"].column
        assert lon_column is not None and lat_column is not None
        x = _angles(source.attributes[lon_column].reset_index(drop=True), lon_column, report, sids)
        y = _angles(source.attributes[lat_column].reset_index(drop=True), lat_column, report, sids)
        return x, y, None, lon_column
    for target in ("lonlat", "latlon"):
        if target in plans:
            column = plans[target].column
            assert column is not None
            raw = source.attributes[column].reset_index(drop=True)
            first, second, bad = split_coordinate_pairs(raw)
            for position in np.flatnonzero(bad).tolist():
                report(int(position), None, column, f"{raw.iloc[position]!r} is not a coordinate pair such as 116.59,35.41")
            for position in np.flatnonzero(missing_mask(raw)).tolist():
                report(int(position), None, column, "missing coordinate")
            return (first, second, None, column) if target == "lonlat" else (second, first, None, column)
    column = plans["wkt"].column
    assert column is not None
    raw = source.attributes[column].reset_index(drop=True)
    present = ~missing_mask(raw)
    geometries = np.full(n, None, dtype=object)
    geometries[present] = shapely.from_wkt(raw[present].astype(str).to_numpy(), on_invalid="ignore")
    for position in np.flatnonzero(present & pd.isna(geometries)).tolist():
        try:
            shapely.from_wkt(str(raw.iloc[position]))
        except shapely.errors.GEOSException as error:
            report(int(position), None, column, f"not WKT geometry: {error}")
        else:
            report(int(position), None, column, "not WKT geometry")
    x, y = _anchor_xy(geometries)
    return x, y, geometries, column


def _anchor_xy(geometries: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    usable = np.array([g is not None and not g.is_empty for g in geometries], dtype=bool)
    x, y = np.full(len(geometries), np.nan), np.full(len(geometries), np.nan)
    if usable.any():
        centres = shapely.centroid(geometries[usable])
        x[usable], y[usable] = shapely.get_x(centres), shapely.get_y(centres)
    return x, y


def _surveyors_swap(ledger: LedgerImport, x: np.ndarray, y: np.ndarray) -> bool:
    """X/Y columns holding northing/easting (surveying: X = 纵坐标 north, Y = 横坐标 east)."""
    lon_plan, lat_plan = ledger.plans.get("lon"), ledger.plans.get("lat")
    if lon_plan is None or lat_plan is None or lon_plan.column is None or lat_plan.column is None:
        return False
    if header_key(lon_plan.column) not in _SURVEY_X or header_key(lat_plan.column) not in _SURVEY_Y:
        return False
    finite = np.isfinite(x) & np.isfinite(y)
    if not finite.any():
        return False
    xs, ys = x[finite], y[finite]
    northing_x = bool(np.all((xs >= 1e6) & (xs <= 6.5e6)))
    easting_y = bool(np.all(((ys >= 1e5) & (ys <= 9e5)) | ((ys >= 25e6) & (ys < 46e6))))
    return northing_x and easting_y


def _resolve_crs(ledger: LedgerImport, source: SourceTable, x: np.ndarray, y: np.ndarray) -> tuple[CRS, str | None]:
    explicit = ledger.options.crs
    if explicit is not None:
        try:
            return CRS.from_user_input(int(explicit) if str(explicit).isdigit() else explicit), None
        except CRSError:
            raise InputError(f"--crs {explicit!r} is not a CRS pyproj knows (give an EPSG code such as 4326, 4490, 4548)") from None
    if source.crs is not None:
        return source.crs, None
    finite = np.isfinite(x) & np.isfinite(y)
    if not finite.any():
        raise InputError(f"{source.path}: no usable coordinates in any row")
    xs, ys = x[finite], y[finite]
    lonlat_rows = _in_box(xs, ys, CHINA_LONLAT_BBOX) | _in_box(ys, xs, CHINA_LONLAT_BBOX)
    if lonlat_rows.mean() >= 0.5:
        return CRS.from_epsg(STORE_EPSG), f"{source.path.name} declares no CRS; coordinates are longitude/latitude: assumed EPSG:4326 (WGS 84)"
    try:
        guess = guess_crs(xs, ys, default_plain_gk_epsg=ledger.settings.work_epsg)
    except ValueError as error:
        raise InputError(f"{source.path}: {error}") from None
    return CRS.from_epsg(guess.epsg), f"{source.path.name} declares no CRS; {guess.reason}"


def _in_box(x: np.ndarray, y: np.ndarray, box: Any) -> np.ndarray:
    return (x >= box[0]) & (x <= box[2]) & (y >= box[1]) & (y <= box[3])


def locate_rows(ledger: LedgerImport, source: SourceTable, report: Report, sids: list[Any]) -> Located:
    """One chunk's geometries in EPSG:4326, with the CRS found for the file (see module doc)."""
    n = len(source.attributes)
    geometries: np.ndarray | None
    if source.geometry is not None:
        geometries = np.asarray(source.geometry.array, dtype=object)
        x, y = _anchor_xy(geometries)
        column: str | None = "geometry"
    else:
        x, y, geometries, column = _table_xy(ledger, source, report, sids)
    if geometries is None and ((ledger.crs is None and _surveyors_swap(ledger, x, y)) or ledger.survey_swap):
        if not ledger.survey_swap:
            ledger.survey_swap = True
            ledger.notes.append("X/Y follow the surveyors' convention (X = northing 纵坐标, Y = easting 横坐标): read X as northing, Y as easting")
        x, y = y, x
    raw_x, raw_y = x.copy(), y.copy()
    offset = ledger.options.offset_system
    crs = ledger.crs
    if crs is None:  # the first chunk: find the file's CRS once, and say what was assumed and done
        crs, note = _resolve_crs(ledger, source, x, y)
        if offset and not crs.is_geographic:
            raise InputError(f"--from {offset} applies to longitude/latitude, but the data is in {crs.name}")
        done = f"reprojected from {crs.name} (EPSG:{crs.to_epsg()}) to EPSG:4326" if crs.to_epsg() != STORE_EPSG else None
        if note or done:
            ledger.notes.append("; ".join(part for part in (note, done) if part))
        if offset:
            ledger.notes.append(f"converted from {offset.upper()} to WGS 84")
        ledger.crs = crs
    epsg = crs.to_epsg()
    if geometries is None:
        finite = np.isfinite(x) & np.isfinite(y)
        if epsg != STORE_EPSG:
            x, y = Transformer.from_crs(crs, STORE_EPSG, always_xy=True).transform(x, y)
            x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
        if offset:
            x, y = to_wgs84(x, y, source=offset)
        out = np.full(n, None, dtype=object)
        out[finite] = shapely.points(x[finite], y[finite])
        located = Located(out, x, y, raw_x, raw_y, crs)
    else:
        series = gpd.GeoSeries(geometries, crs=crs)
        if epsg != STORE_EPSG:
            series = series.to_crs(STORE_EPSG)
        lonlat = np.asarray(series.array, dtype=object)
        if offset:
            def undo(coords: np.ndarray) -> np.ndarray:
                return np.column_stack(to_wgs84(coords[:, 0], coords[:, 1], source=offset))

            lonlat = shapely.transform(lonlat, undo)
        px, py = np.full(n, np.nan), np.full(n, np.nan)
        points = np.array([g is not None and g.geom_type == "Point" for g in lonlat], dtype=bool)
        if points.any():
            px[points], py[points] = shapely.get_x(lonlat[points]), shapely.get_y(lonlat[points])
        located = Located(lonlat, px, py, raw_x, raw_y, crs)
    located.column = column or "geometry"
    return located


def conform_geometry(geometry: Any, target: str) -> tuple[Any, str | None]:
    """The geometry in the layer's type (promoting/demoting single parts), or None and the reason.

    Polygons get counter-clockwise exteriors (RFC 7946), whatever their file's convention (a
    shapefile's are clockwise), so the same shape is stored the same way from any format.
    """
    if geometry.geom_type in ("Polygon", "MultiPolygon"):
        geometry = shapely.orient_polygons(geometry)
    kind = geometry.geom_type
    if target == "Geometry" or kind == target:
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


def check_locations(ledger: LedgerImport, located: Located, report: Report, sids: list[Any]) -> None:
    """Reject rows without usable geometry, outside China or the region; warn on rows outside
    the city outline; repair invalid polygons. Updates ``located.geometry`` in place."""
    settings, spec = ledger.settings, ledger.spec
    column = located.column
    geometries = located.geometry
    n = len(geometries)
    reported = np.zeros(n, dtype=bool)
    for position in range(n):
        geometry = geometries[position]
        if geometry is None or geometry.is_empty:
            geometries[position] = None
            continue
        if spec.geometry_type != "Point" or geometry.geom_type != "Point":
            conformed, reason = conform_geometry(geometry, spec.geometry_type)
            if reason:
                report(position, sids[position], "geometry", reason)
                geometries[position] = None
                reported[position] = True
            else:
                geometries[position] = conformed
    present = np.array([g is not None for g in geometries], dtype=bool)
    if not present.all():
        return_missing = ~present & ~reported
        # a row whose coordinates were already reported needs no second line
        already = _rows_with_coordinate_problems(located, column)
        for position in np.flatnonzero(return_missing & ~already).tolist():
            report(int(position), sids[position], "geometry", "missing or empty geometry")
    index = np.flatnonzero(present)
    if index.size == 0:
        return
    chosen = geometries[index]
    bounds = shapely.bounds(chosen)
    finite = np.isfinite(bounds).all(axis=1)
    for k in np.flatnonzero(~finite).tolist():
        report(int(index[k]), sids[index[k]], column, "coordinates cannot be transformed (outside the CRS's area?)")
    country = settings.country_bbox
    in_country = finite & (bounds[:, 0] >= country[0]) & (bounds[:, 2] <= country[2]) & (bounds[:, 1] >= country[1]) & (bounds[:, 3] <= country[3])
    for k in np.flatnonzero(finite & ~in_country).tolist():
        position = int(index[k])
        rx, ry = located.raw_x[position], located.raw_y[position]
        if located.crs.is_geographic and _in_box(np.array([ry]), np.array([rx]), country).all():
            report(position, sids[position], column, f"coordinates look swapped: 经度 (lon) {rx:.6g}, 纬度 (lat) {ry:.6g}; exchange the columns")
        else:
            cx, cy = (bounds[k, 0] + bounds[k, 2]) / 2, (bounds[k, 1] + bounds[k, 3]) / 2
            where = "outside China" if tuple(country) == CHINA_LONLAT_BBOX else f"outside the configured country box {list(country)}"
            report(position, sids[position], column, f"{where}: lon {cx:.6g}, lat {cy:.6g}")
    ok = index[in_country]
    if ok.size == 0:
        return
    region, outline = settings.region_geometry(), settings.city_outline()
    shapely.prepare(region)
    is_point = located_points(located, ok)
    inside = np.zeros(ok.size, dtype=bool)
    inside[is_point] = shapely.contains_xy(region, located.x[ok[is_point]], located.y[ok[is_point]])
    inside[~is_point] = shapely.intersects(region, geometries[ok[~is_point]])
    widen = ", or widen the margin with ONEMAP_REGION_BUFFER_KM" if settings.city_profile is not None else ""
    for k in np.flatnonzero(~inside).tolist():
        position = int(ok[k])
        cx, cy = _centre(geometries[position])
        report(position, sids[position], column, f"outside the configured region, {settings.region_label()} (lon {cx:.4f}, lat {cy:.4f}); check the coordinates{widen}")
    ok, is_point = ok[inside], is_point[inside]
    if outline is not None and ok.size:
        shapely.prepare(outline)
        within = np.zeros(ok.size, dtype=bool)
        within[is_point] = shapely.contains_xy(outline, located.x[ok[is_point]], located.y[ok[is_point]])
        within[~is_point] = shapely.intersects(outline, geometries[ok[~is_point]])
        name = settings.city_profile.name if settings.city_profile is not None else "the city"
        for k in np.flatnonzero(~within).tolist():
            position = int(ok[k])
            cx, cy = _centre(geometries[position])
            report(position, sids[position], column, f"outside {name}'s outline but within the region's margin (lon {cx:.4f}, lat {cy:.4f}): right city?", "warning")
    polygons = ok[~is_point]
    if polygons.size:
        valid = shapely.is_valid(geometries[polygons])
        for position in polygons[~valid]:
            geometry = geometries[position]
            reason = shapely.is_valid_reason(geometry)
            repaired, _ = conform_geometry(shapely.make_valid(geometry), spec.geometry_type)
            if repaired is None:
                report(int(position), sids[position], "geometry", f"invalid ({reason}) and cannot be repaired into a {spec.geometry_type}")
            else:
                geometries[position] = repaired
                report(int(position), sids[position], "geometry", f"invalid ({reason}); repaired with make_valid", "warning")


def located_points(located: Located, index: np.ndarray) -> np.ndarray:
    """Which of the rows at ``index`` are points with lon/lat in ``located.x``/``y``."""
    return np.isfinite(located.x[index]) & np.isfinite(located.y[index])


def _centre(geometry: Any) -> tuple[float, float]:
    x0, y0, x1, y1 = geometry.bounds
    return (x0 + x1) / 2, (y0 + y1) / 2


def _rows_with_coordinate_problems(located: Located, column: str) -> np.ndarray:
    # Rows whose x or y could not be read were reported by locate_rows; NaN marks them.
    raw_missing = ~(np.isfinite(located.raw_x) & np.isfinite(located.raw_y))
    return raw_missing if column != "geometry" else np.zeros(len(raw_missing), dtype=bool)
