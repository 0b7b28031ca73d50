"""A drawn or imported hazard area (a flood extent, a waterlogging polygon), read from a GIS file
or from drawn GeoJSON as zones: one per value of its zone field (a depth class, a name), most
severe first."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
import shapely.geometry

from gis.boundary import repair_polygonal
from layers.errors import InputError
from layers.io.readers import read_gis_frame

ZONE_FIELDS = ("zone", "depth_class", "水深等级", "水深", "等级", "分区")
"""Fields looked for, in this order, when no zone field is named."""
ONE_ZONE = "影响区"
"""The zone of a file that has no zone field: all of it is one area."""
MAX_AREA_POLYGONS = 10_000
"""Polygons a drawn area may hold (each costs about 0.6 ms of the server's one job thread; a
bigger area is a file for ``onemap scenario area FILE``)."""


def read_hazard_area(path: str | Path, *, zone_field: str | None = None, order: Sequence[str] | None = None) -> gpd.GeoDataFrame:
    """The file's polygons as zones (columns ``zone``, geometry; the file's CRS, EPSG:4326 when it
    has none). ``zone_field`` names the field that classes them (else the first of ZONE_FIELDS
    present, else one zone 影响区); ``order`` lists the zone values most severe first (else the
    order in which they first appear). An InputError names the file and what is wrong."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: hazard area file not found")
    return hazard_zones(read_gis_frame(path, "hazard-area polygons"), source=str(path), zone_field=zone_field, order=order)


def hazard_zones(frame: gpd.GeoDataFrame, *, source: str, zone_field: str | None = None, order: Sequence[str] | None = None) -> gpd.GeoDataFrame:
    """Polygons (a file's, or a drawn GeoJSON's) as zones, as ``read_hazard_area`` describes;
    errors name ``source``."""
    if frame.empty:
        raise InputError(f"{source}: no features; draw or export the hazard area as polygons")
    if frame.crs is None:
        frame = frame.set_crs(4326)
    kinds = frame.geometry.geom_type
    wrong = ~kinds.isin(["Polygon", "MultiPolygon"])
    if wrong.any():
        first = int(wrong.to_numpy().argmax())
        raise InputError(f"{source}: feature {first + 1} is {kinds.iloc[first] or 'empty'}; a hazard area must be polygons")
    if zone_field is not None and zone_field not in frame.columns:
        raise InputError(f"{source}: no field {zone_field!r}; fields are {', '.join(c for c in frame.columns if c != 'geometry')}")
    field = zone_field or next((name for name in ZONE_FIELDS if name in frame.columns), None)
    zones = frame[field].astype(str) if field else pd.Series(ONE_ZONE, index=frame.index)
    present = list(dict.fromkeys(zones))
    if order:
        unknown = sorted(set(present) - set(order))
        if unknown:
            raise InputError(f"{source}: zones {unknown} are not in the order given ({', '.join(order)}); list every zone, most severe first")
        present = [z for z in order if z in present]
    result = gpd.GeoDataFrame({"zone": zones}, geometry=frame.geometry, crs=frame.crs)
    rank = {z: i for i, z in enumerate(present)}
    return result.iloc[result["zone"].map(rank).argsort(kind="stable")].reset_index(drop=True)


def drawn_area_zones(geometry: dict[str, Any], *, zone_field: str | None = None, order: Sequence[str] | None = None) -> tuple[gpd.GeoDataFrame, list[str]]:
    """A drawn area (a GeoJSON geometry, feature or collection in EPSG:4326, as sent over HTTP)
    as zones (see ``hazard_zones``), checked feature by feature, and the warnings of the polygons
    repaired. Refused: anything but polygons, a feature without area, coordinates that are not
    lon/lat, a polygon across the antimeridian, more than
    MAX_AREA_POLYGONS polygons, a zone value that is not a text or a number. An invalid polygon
    (a bow-tie, overlapping parts, a hole outside its shell) is repaired: its area and residents
    would disagree otherwise, and the union of the zones fails on it."""
    frame = _features(geometry)
    if frame.empty:
        raise InputError("geometry: no features; draw or export the hazard area as polygons")
    shapes = frame.geometry.to_numpy()
    kinds = shapely.get_type_id(shapes)
    for n, (shape, kind) in enumerate(zip(shapes, kinds, strict=True), start=1):
        if kind not in (3, 6):  # Polygon, MultiPolygon
            raise InputError(f"geometry: feature {n} is {'empty' if shape is None else shape.geom_type}; a hazard area must be polygons")
    polygons = int(shapely.get_num_geometries(shapes).sum())
    if polygons > MAX_AREA_POLYGONS:
        raise InputError(f"geometry: {polygons:,} polygons, more than {MAX_AREA_POLYGONS:,}: dissolve them by zone or simplify them, or give the file to onemap scenario area FILE")
    bounds = shapely.bounds(shapes)
    for n, (shape, (west, south, east, north)) in enumerate(zip(shapes, bounds.tolist(), strict=True), start=1):
        if shape.is_empty:
            raise InputError(f"geometry: feature {n} has no coordinates; draw the hazard area as polygons")
        if not (np.isfinite([west, south, east, north]).all() and -180 <= west <= east <= 180 and -90 <= south <= north <= 90):
            raise InputError(f"geometry: feature {n} has coordinates outside longitude −180…180, latitude −90…90 (bounds {[west, south, east, north]}); give the area in lon/lat (EPSG:4326)")
        if east - west > 180:
            raise InputError(f"geometry: feature {n} spans {east - west:.0f}° of longitude: a polygon across the antimeridian must be split at 180° (RFC 7946 §3.1.9)")
    repairs = []
    fixed = list(shapes)
    for n in map(int, np.flatnonzero(~shapely.is_valid(shapes))):
        repair = repair_polygonal(shapes[n])
        fixed[n] = repair.geometry or shapely.Polygon()
        repairs.append(f"geometry: feature {n + 1} was not a valid polygon ({repair.problem}); repaired to its area")
    for n, shape in enumerate(fixed, start=1):
        if shape.is_empty or shape.area == 0:
            raise InputError(f"geometry: feature {n} has no area; draw the hazard area as polygons")
    frame = frame.set_geometry(gpd.GeoSeries(fixed, index=frame.index, crs=4326))
    _check_zone_values(frame, zone_field)
    return hazard_zones(frame, source="geometry", zone_field=zone_field, order=order), repairs


def _check_zone_values(frame: gpd.GeoDataFrame, zone_field: str | None) -> None:
    """Every feature's zone a text (≤ 200 characters, no NUL) or a number, not null, a list or an object."""
    field = zone_field or next((name for name in ZONE_FIELDS if name in frame.columns), None)
    if field is None or field not in frame.columns:
        return  # one zone for all (or hazard_zones names the missing field)
    for n, value in enumerate(frame[field], start=1):
        if isinstance(value, bool) or not isinstance(value, str | int | float) or (isinstance(value, float) and not math.isfinite(value)):
            shown = "null" if value is None or (isinstance(value, float) and math.isnan(value)) else type(value).__name__
            raise InputError(f"geometry: feature {n} has {field} = {shown}; each feature's {field} must be a text or a number (its zone, e.g. a depth class)")
        if isinstance(value, str) and (len(value) > 200 or "\x00" in value):
            raise InputError(f"geometry: feature {n}: {field} must be at most 200 characters, without NUL characters")


def _features(geometry: dict[str, Any]) -> gpd.GeoDataFrame:
    """A GeoJSON geometry, feature or collection (EPSG:4326) as a frame with its properties."""
    try:
        kind = geometry.get("type")
        if kind == "FeatureCollection":
            features = geometry.get("features")
            if not isinstance(features, list):
                raise InputError("geometry: a FeatureCollection needs a list of features")
            return gpd.GeoDataFrame.from_features(features, crs=4326)
        if kind == "Feature":
            return gpd.GeoDataFrame.from_features([geometry], crs=4326)
        return gpd.GeoDataFrame(geometry=[shapely.geometry.shape(geometry)], crs=4326)
    except InputError:
        raise
    except (ValueError, TypeError, KeyError, AttributeError, IndexError, shapely.errors.GEOSException) as error:
        raise InputError(f"geometry: not GeoJSON polygons ({type(error).__name__}: {error})") from None
