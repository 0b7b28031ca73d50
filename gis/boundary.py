"""Administrative boundaries as geometry: repair, polygonal parts, buffers and distances.

Pure functions on shapely geometries. Inputs and outputs are longitude/latitude degrees
(EPSG:4326) unless a function says otherwise; metric work (buffers, areas) is done in the
projected CRS the caller names (``epsg``, metres), geodesic measures on the WGS 84 ellipsoid.
"""

from __future__ import annotations

from dataclasses import dataclass

import shapely
from pyproj import Geod
from shapely.geometry.base import BaseGeometry

from .crs import to_lonlat, to_metric

_GEOD = Geod(ellps="WGS84")


@dataclass(frozen=True)
class Repair:
    """The polygonal part of a geometry, made valid, and what was wrong with it.

    ``geometry`` is a MultiPolygon (lon/lat), or None when nothing polygonal is left;
    ``problem`` is GEOS's reason for the invalidity (e.g. ``Self-intersection[104.1 30.6]``),
    None when the input was already valid; ``area_change_km2`` is the geodesic area after the
    repair minus the input's area as drawn (km², WGS 84; lobes winding the other way count
    negative; 0 when the input was valid).
    """

    geometry: shapely.MultiPolygon | None
    problem: str | None
    area_change_km2: float

    @property
    def repaired(self) -> bool:
        return self.problem is not None


def polygonal_part(geometry: BaseGeometry | None) -> shapely.MultiPolygon | None:
    """The polygons of ``geometry`` (any type, collections included) as one MultiPolygon, or
    None when it holds none. Points and lines are dropped; no union is made."""
    if geometry is None or geometry.is_empty:
        return None
    parts = shapely.get_parts(geometry)
    polygons: list[shapely.Polygon] = []
    for part in parts:
        if isinstance(part, shapely.Polygon):
            if not part.is_empty:
                polygons.append(part)
        elif isinstance(part, shapely.MultiPolygon | shapely.GeometryCollection):
            nested = polygonal_part(part)
            if nested is not None:
                polygons.extend(nested.geoms)
    return shapely.MultiPolygon(polygons) if polygons else None


def geodesic_area_km2(geometry: BaseGeometry | None) -> float:
    """Area of a lon/lat (EPSG:4326) polygonal geometry on the WGS 84 ellipsoid, km² (0 for
    anything else)."""
    polygons = polygonal_part(geometry)
    if polygons is None:
        return 0.0
    area, _ = _GEOD.geometry_area_perimeter(polygons)
    return abs(area) / 1e6


def repair_polygonal(geometry: BaseGeometry | None) -> Repair:
    """Make a boundary valid and keep its polygonal part (never refuses one for being invalid).

    Real boundaries self-intersect slightly (rings that touch or cross themselves, duplicated
    edges between neighbours); ``shapely.make_valid`` splits them into valid pieces, of which
    the polygons are kept (slivers collapsed to lines or points are dropped). Lon/lat in and out.
    """
    if geometry is None or geometry.is_empty:
        return Repair(None, None, 0.0)
    if shapely.is_valid(geometry):
        return Repair(polygonal_part(geometry), None, 0.0)
    problem = shapely.is_valid_reason(geometry)
    drawn = polygonal_part(geometry)
    before = abs(_GEOD.geometry_area_perimeter(drawn)[0]) / 1e6 if drawn is not None else 0.0
    fixed = polygonal_part(shapely.make_valid(geometry))
    return Repair(fixed, problem, geodesic_area_km2(fixed) - before)


def close_slivers(geometry: BaseGeometry, *, max_hole_km2: float = 0.01) -> tuple[shapely.MultiPolygon | None, int]:
    """The polygonal part of ``geometry`` (lon/lat) without holes smaller than ``max_hole_km2``
    (geodesic km², default 1 ha), and how many were closed.

    A union of published neighbouring divisions leaves hair-thin gaps where their shared edges do
    not quite meet; they become holes in the city's outline. A real enclave is far larger.
    """
    polygons = polygonal_part(geometry)
    if polygons is None:
        return None, 0
    closed = 0
    kept: list[shapely.Polygon] = []
    for polygon in polygons.geoms:
        holes = []
        for ring in polygon.interiors:
            if geodesic_area_km2(shapely.Polygon(ring)) < max_hole_km2:
                closed += 1
            else:
                holes.append(ring)
        kept.append(shapely.Polygon(polygon.exterior, holes))
    return shapely.MultiPolygon(kept), closed


def buffer_lonlat(geometry: BaseGeometry, distance_km: float, *, epsg: int) -> shapely.MultiPolygon:
    """``geometry`` (lon/lat) grown by ``distance_km`` kilometres, buffered in the projected CRS
    ``epsg`` (metres) and returned in lon/lat as a MultiPolygon. 0 km gives the polygonal part."""
    if distance_km < 0:
        raise ValueError(f"buffer distance must be ≥ 0 km, got {distance_km}")
    grown = to_metric(geometry, epsg=epsg).buffer(distance_km * 1000.0, quad_segs=16)
    result = polygonal_part(to_lonlat(grown, epsg=epsg))
    if result is None:
        raise ValueError("buffering gave no polygon: the geometry is empty")
    return result


def area_km2(geometry: BaseGeometry, *, epsg: int) -> float:
    """Planar area of a lon/lat geometry measured in the projected CRS ``epsg``, km²."""
    return float(to_metric(geometry, epsg=epsg).area) / 1e6


def centroid_distance_km(a: BaseGeometry, b: BaseGeometry) -> float:
    """Geodesic distance (WGS 84) between the centroids of two lon/lat geometries, km."""
    ca, cb = a.centroid, b.centroid
    _, _, metres = _GEOD.inv(ca.x, ca.y, cb.x, cb.y)
    return float(metres) / 1000.0
