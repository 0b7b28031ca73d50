"""What lies near a point: the lon/lat box that holds a circle round it, and the residents within
each of several radii."""

from __future__ import annotations

import math
from collections.abc import Sequence

import geopandas as gpd
import numpy as np
import shapely

KM_PER_DEGREE_LATITUDE_MIN = 110.574
"""A degree of latitude on the CGCS2000/WGS 84 ellipsoid is at least this long (at the equator)."""
KM_PER_DEGREE_LONGITUDE_EQUATOR = 111.319
"""A degree of longitude at the equator (2πa/360, a = 6378.137 km, rounded down); at latitude φ a
degree is at least this × cos φ."""


def box_around(lon: float, lat: float, radius_km: float) -> tuple[float, float, float, float]:
    """The (west, south, east, north) box in degrees that holds every point within ``radius_km``
    of (lon, lat): the shortest degree lengths make it a little larger than the circle, never
    smaller. Clipped to ±180°/±90°; near the poles the longitude span is capped at cos φ = 0.1."""
    half_lat = radius_km / KM_PER_DEGREE_LATITUDE_MIN
    half_lon = radius_km / (KM_PER_DEGREE_LONGITUDE_EQUATOR * max(math.cos(math.radians(lat)), 0.1))
    return (max(lon - half_lon, -180.0), max(lat - half_lat, -90.0), min(lon + half_lon, 180.0), min(lat + half_lat, 90.0))


def residents_within(cells: gpd.GeoDataFrame, centre_xy: tuple[float, float], radii_km: Sequence[float], *, epsg: int) -> dict[str, float]:
    """Persons of the population ``cells`` whose centre is within each radius (km) of
    ``centre_xy`` (metres in ``epsg``, a projected CRS). Keys are the radii as text ("1", "3")."""
    if cells.empty:
        return {f"{r:g}": 0.0 for r in radii_km}
    centres = shapely.get_coordinates(shapely.centroid(np.asarray(cells.to_crs(epsg).geometry.array, dtype=object)))
    distance_km = np.hypot(centres[:, 0] - centre_xy[0], centres[:, 1] - centre_xy[1]) / 1000.0
    persons = cells["persons"].to_numpy(dtype=float)
    return {f"{r:g}": float(persons[distance_km <= r].sum()) for r in radii_km}
