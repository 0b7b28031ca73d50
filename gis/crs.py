"""Coordinate systems used in Chinese emergency data, and how to recognise them.

- Storage and web: longitude/latitude, EPSG:4326 (WGS 84); CGCS2000 (EPSG:4490) is treated as
  equal at map scale.
- Metric analysis: CGCS2000 / 3-degree Gauss-Krüger. EPSG:4534-4554 carry no zone prefix (central
  meridian 75°E…135°E, EPSG:4548 is CM 117°E for Jining); EPSG:4513-4533 are the same zones 25-45
  with the zone number prefixed to x (EPSG:4527 = zone 39 = CM 117°E).
- GCJ-02 (Amap/Gaode, Tencent) and BD-09 (Baidu) are obfuscated offsets of WGS 84.

The GCJ-02/BD-09 formulas are written here because no well-kept library on PyPI implements them;
they are the widely published public formulas, and the inverse is solved by fixed-point iteration
to better than 1e-9 degree (about 0.1 mm).
"""

from __future__ import annotations

import math
import re
import threading
from dataclasses import dataclass
from functools import lru_cache
from typing import TypeVar

import numpy as np
import shapely
from numpy.typing import ArrayLike, NDArray
from pyproj import CRS, Transformer
from shapely.geometry.base import BaseGeometry

STORE_EPSG = 4326
"""Longitude/latitude CRS of the stores and the web (WGS 84)."""

STORE_CRS = CRS.from_epsg(STORE_EPSG)
"""The same, parsed once: building a pyproj CRS per answer costs milliseconds."""

WORK_EPSG = 4548
"""Default metric CRS for Jining: CGCS2000 / 3-degree Gauss-Krüger CM 117°E (metres)."""

CHINA_LONLAT_BBOX = (73.4, 3.3, 135.1, 53.6)
"""Generous lon/lat box around China (incl. the South China Sea islands), degrees."""

_GK3_PREFIXED_FIRST_EPSG = 4513  # zone 25 (CM 75°E), with zone prefix on x
_GK3_PLAIN_FIRST_EPSG = 4534  # CM 75°E, no zone prefix
_GK3_FIRST_ZONE = 25
_GK3_LAST_ZONE = 45

FloatArray = NDArray[np.float64]


def gk3_epsg_for_zone(zone: int, *, prefixed: bool) -> int:
    """EPSG code of the CGCS2000 3-degree Gauss-Krüger zone ``zone`` (25-45, CM = 3 * zone °E)."""
    if not _GK3_FIRST_ZONE <= zone <= _GK3_LAST_ZONE:
        raise ValueError(f"3-degree Gauss-Krüger zone must be 25-45 for China, got {zone}")
    first = _GK3_PREFIXED_FIRST_EPSG if prefixed else _GK3_PLAIN_FIRST_EPSG
    return first + zone - _GK3_FIRST_ZONE


def gk3_zone_epsg_for_lon(lon: float) -> int:
    """EPSG code (4534-4554, no zone prefix) of the CGCS2000 3-degree Gauss-Krüger zone whose
    central meridian is nearest to longitude ``lon`` (degrees east).

    The zones have central meridians 75°E, 78°E … 135°E (CM = 75 + 3k → EPSG 4534 + k), each
    covering CM ± 1.5°: Jining (116.7°E) → 4548 (CM 117°E), Chengdu (104.07°E) → 4544 (CM 105°E).
    China's westernmost sliver (73.4-73.5°E, just outside the CM 75°E zone) takes that zone.
    Raises ``ValueError`` for a longitude outside China's box.
    """
    min_lon, _, max_lon, _ = CHINA_LONLAT_BBOX
    if not math.isfinite(lon) or not min_lon <= lon <= max_lon:
        raise ValueError(f"longitude {lon} is outside China ({min_lon}-{max_lon}°E): no CGCS2000 3-degree zone")
    zone = math.floor((lon + 1.5) / 3.0)
    zone = min(max(zone, _GK3_FIRST_ZONE), _GK3_LAST_ZONE)
    return gk3_epsg_for_zone(zone, prefixed=False)


# --- GCJ-02 / BD-09 -------------------------------------------------------------------------

_KRASOVSKY_A = 6378245.0
_KRASOVSKY_EE = 0.00669342162296594323
_BD_X_PI = math.pi * 3000.0 / 180.0


def _outside_gcj_area(lon: FloatArray, lat: FloatArray) -> NDArray[np.bool_]:
    # GCJ-02 is only applied inside this rough box; outside it the offset is zero by definition.
    return (lon < 72.004) | (lon > 137.8347) | (lat < 0.8293) | (lat > 55.8271)


def _gcj_delta(lon: FloatArray, lat: FloatArray) -> tuple[FloatArray, FloatArray]:
    x = lon - 105.0
    y = lat - 35.0
    sqrt_abs_x = np.sqrt(np.abs(x))
    dlat = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * sqrt_abs_x
    dlat += (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0
    dlat += (20.0 * np.sin(y * np.pi) + 40.0 * np.sin(y / 3.0 * np.pi)) * 2.0 / 3.0
    dlat += (160.0 * np.sin(y / 12.0 * np.pi) + 320.0 * np.sin(y * np.pi / 30.0)) * 2.0 / 3.0
    dlon = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * sqrt_abs_x
    dlon += (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0
    dlon += (20.0 * np.sin(x * np.pi) + 40.0 * np.sin(x / 3.0 * np.pi)) * 2.0 / 3.0
    dlon += (150.0 * np.sin(x / 12.0 * np.pi) + 300.0 * np.sin(x / 30.0 * np.pi)) * 2.0 / 3.0
    rad_lat = lat / 180.0 * np.pi
    magic = 1.0 - _KRASOVSKY_EE * np.sin(rad_lat) ** 2
    sqrt_magic = np.sqrt(magic)
    dlat = (dlat * 180.0) / ((_KRASOVSKY_A * (1 - _KRASOVSKY_EE)) / (magic * sqrt_magic) * np.pi)
    dlon = (dlon * 180.0) / (_KRASOVSKY_A / sqrt_magic * np.cos(rad_lat) * np.pi)
    outside = _outside_gcj_area(lon, lat)
    return np.where(outside, 0.0, dlon), np.where(outside, 0.0, dlat)


def wgs84_to_gcj02(lon: ArrayLike, lat: ArrayLike) -> tuple[FloatArray, FloatArray]:
    """WGS 84 lon/lat (degrees) to GCJ-02 lon/lat (degrees)."""
    lon_a = np.asarray(lon, dtype=float)
    lat_a = np.asarray(lat, dtype=float)
    dlon, dlat = _gcj_delta(lon_a, lat_a)
    return lon_a + dlon, lat_a + dlat


def gcj02_to_wgs84(lon: ArrayLike, lat: ArrayLike) -> tuple[FloatArray, FloatArray]:
    """GCJ-02 lon/lat to WGS 84 lon/lat (degrees), by fixed-point iteration (error < 1e-9°)."""
    gcj_lon = np.asarray(lon, dtype=float)
    gcj_lat = np.asarray(lat, dtype=float)
    wgs_lon, wgs_lat = gcj_lon.copy(), gcj_lat.copy()
    for _ in range(30):
        fwd_lon, fwd_lat = wgs84_to_gcj02(wgs_lon, wgs_lat)
        err_lon, err_lat = fwd_lon - gcj_lon, fwd_lat - gcj_lat
        wgs_lon = wgs_lon - err_lon
        wgs_lat = wgs_lat - err_lat
        if np.all(np.abs(err_lon) < 1e-10) and np.all(np.abs(err_lat) < 1e-10):
            break
    return wgs_lon, wgs_lat


def gcj02_to_bd09(lon: ArrayLike, lat: ArrayLike) -> tuple[FloatArray, FloatArray]:
    """GCJ-02 lon/lat to BD-09 lon/lat (degrees)."""
    x = np.asarray(lon, dtype=float)
    y = np.asarray(lat, dtype=float)
    z = np.sqrt(x * x + y * y) + 0.00002 * np.sin(y * _BD_X_PI)
    theta = np.arctan2(y, x) + 0.000003 * np.cos(x * _BD_X_PI)
    return z * np.cos(theta) + 0.0065, z * np.sin(theta) + 0.006


def bd09_to_gcj02(lon: ArrayLike, lat: ArrayLike) -> tuple[FloatArray, FloatArray]:
    """BD-09 lon/lat to GCJ-02 lon/lat (degrees), by fixed-point iteration of the forward formula."""
    bd_lon = np.asarray(lon, dtype=float)
    bd_lat = np.asarray(lat, dtype=float)
    x = bd_lon - 0.0065
    y = bd_lat - 0.006
    z = np.sqrt(x * x + y * y) - 0.00002 * np.sin(y * _BD_X_PI)
    theta = np.arctan2(y, x) - 0.000003 * np.cos(x * _BD_X_PI)
    gcj_lon, gcj_lat = z * np.cos(theta), z * np.sin(theta)
    for _ in range(10):
        fwd_lon, fwd_lat = gcj02_to_bd09(gcj_lon, gcj_lat)
        gcj_lon = gcj_lon - (fwd_lon - bd_lon)
        gcj_lat = gcj_lat - (fwd_lat - bd_lat)
    return gcj_lon, gcj_lat


def bd09_to_wgs84(lon: ArrayLike, lat: ArrayLike) -> tuple[FloatArray, FloatArray]:
    """BD-09 lon/lat to WGS 84 lon/lat (degrees)."""
    return gcj02_to_wgs84(*bd09_to_gcj02(lon, lat))


def to_wgs84(lon: ArrayLike, lat: ArrayLike, *, source: str) -> tuple[FloatArray, FloatArray]:
    """Undo a Chinese web-map offset: ``source`` is ``"gcj02"`` or ``"bd09"`` (case-insensitive)."""
    key = source.lower().replace("-", "")
    if key == "gcj02":
        return gcj02_to_wgs84(lon, lat)
    if key == "bd09":
        return bd09_to_wgs84(lon, lat)
    raise ValueError(f"unknown offset system {source!r}: use gcj02 or bd09")


# --- degrees-minutes-seconds ------------------------------------------------------------------

_DMS_RE = re.compile(
    r"""^\s*(?P<hemi1>东经|西经|南纬|北纬|[NSEW东西南北])?\s*
    (?P<deg>[+-]?\d+(?:\.\d+)?)\s*(?:°|度|d|:|\s)\s*
    (?:(?P<min>\d+(?:\.\d+)?)\s*(?:′|'|分|m|:|\s)?\s*)?
    (?:(?P<sec>\d+(?:\.\d+)?)\s*(?:″|"|''|′′|秒|s)?\s*)?
    (?P<hemi2>东经|西经|南纬|北纬|[NSEW东西南北])?\s*$""",
    re.VERBOSE | re.IGNORECASE,
)
_NEGATIVE_HEMISPHERES = {"S", "W", "南", "西"}


def parse_angle(text: str) -> float:
    """Parse decimal degrees or a 度分秒 string into decimal degrees.

    Accepts ``116.586``, ``116°35'12.5"``, ``116度35分12.5秒``, ``E116°35′12″``, ``35:24:10N``.
    Raises ``ValueError`` with the text when it is neither.
    """
    cleaned = text.strip().replace("，", ",").replace("＂", '"').replace("＇", "'")
    try:
        return float(cleaned)
    except ValueError:
        pass
    match = _DMS_RE.match(cleaned)
    if match is None or match.group("deg") is None:
        raise ValueError(f"not an angle in decimal degrees or 度分秒: {text!r}")
    degrees = float(match.group("deg"))
    minutes = float(match.group("min") or 0.0)
    seconds = float(match.group("sec") or 0.0)
    if minutes >= 60 or seconds >= 60:
        raise ValueError(f"minutes and seconds must be below 60: {text!r}")
    value = abs(degrees) + minutes / 60.0 + seconds / 3600.0
    hemisphere = (match.group("hemi1") or match.group("hemi2") or " ")[0].upper()
    if degrees < 0 or hemisphere in _NEGATIVE_HEMISPHERES:
        value = -value
    return value


# --- recognising a CRS from coordinates ------------------------------------------------------


@dataclass(frozen=True)
class CrsGuess:
    """A CRS inferred from coordinate ranges, and the reason given to the user."""

    epsg: int
    reason: str


def guess_crs(x: ArrayLike, y: ArrayLike, *, default_plain_gk_epsg: int = WORK_EPSG) -> CrsGuess:
    """Guess the CRS of coordinates that came without one, from their ranges.

    Lon/lat inside China → EPSG:4326. Gauss-Krüger metres whose x carries a zone prefix
    (e.g. 39 500 000) → that zone's EPSG:4513-4533. Gauss-Krüger metres without prefix
    (x 100 000-900 000) → ``default_plain_gk_epsg`` (the work CRS), since the zone cannot be
    read from the numbers. Raises ``ValueError`` when none fits.
    """
    xs = np.asarray(x, dtype=float)
    ys = np.asarray(y, dtype=float)
    finite = np.isfinite(xs) & np.isfinite(ys)
    if not finite.any():
        raise ValueError("no finite coordinates to recognise a CRS from")
    xs, ys = xs[finite], ys[finite]
    x_lo, x_hi, y_lo, y_hi = xs.min(), xs.max(), ys.min(), ys.max()
    span = f"x {x_lo:.6g}…{x_hi:.6g}, y {y_lo:.6g}…{y_hi:.6g}"
    min_lon, min_lat, max_lon, max_lat = CHINA_LONLAT_BBOX
    if min_lon <= x_lo and x_hi <= max_lon and min_lat <= y_lo and y_hi <= max_lat:
        return CrsGuess(STORE_EPSG, f"longitude/latitude in China ({span}): assumed EPSG:4326")
    if y_lo >= 1e5 and y_hi <= 6.5e6:
        zones = np.floor(xs / 1e6).astype(int)
        if zones.min() == zones.max() and _GK3_FIRST_ZONE <= zones[0] <= _GK3_LAST_ZONE:
            zone = int(zones[0])
            epsg = gk3_epsg_for_zone(zone, prefixed=True)
            return CrsGuess(
                epsg, f"Gauss-Krüger metres with zone prefix {zone} ({span}): assumed EPSG:{epsg}"
            )
        if x_lo >= 1e5 and x_hi <= 9e5:
            return CrsGuess(
                default_plain_gk_epsg,
                f"Gauss-Krüger metres without zone prefix ({span}): assumed "
                f"EPSG:{default_plain_gk_epsg}; pass --crs if the file uses another zone",
            )
    raise ValueError(
        f"coordinates ({span}) are neither lon/lat in China nor Gauss-Krüger metres; "
        "pass --crs EPSG"
    )


# --- reprojection ------------------------------------------------------------------------------

Geometries = TypeVar("Geometries", BaseGeometry, NDArray[np.object_])


@lru_cache(maxsize=64)
def _transformer(source: int, target: int, thread: int) -> Transformer:
    # Building a Transformer costs ~80 ms, so each is kept; one per thread, as pyproj asks.
    return Transformer.from_crs(source, target, always_xy=True)


def transformer(source: int, target: int) -> Transformer:
    """The (x, y) → (x, y) transformer from EPSG ``source`` to ``target``, built once per thread."""
    return _transformer(source, target, threading.get_ident())


def transformed(geometry: Geometries, source: int, target: int) -> Geometries:
    """A geometry, or an array of them (None allowed), from EPSG ``source`` to ``target``: one
    call of the cached transformer for all coordinates (GeoSeries.to_crs builds its own each
    time, which costs more than a service area's whole reprojection)."""
    to = transformer(source, target)

    def apply(coords: NDArray[np.float64]) -> NDArray[np.float64]:
        return np.column_stack(to.transform(coords[:, 0], coords[:, 1]))

    return shapely.transform(geometry, apply)


def to_metric(geometry: Geometries, *, epsg: int) -> Geometries:
    """Lon/lat (EPSG:4326) geometries in the projected CRS ``epsg`` (metres)."""
    return transformed(geometry, STORE_EPSG, epsg)


def to_lonlat(geometry: Geometries, *, epsg: int) -> Geometries:
    """Geometries in the projected CRS ``epsg`` (metres) back in lon/lat (EPSG:4326)."""
    return transformed(geometry, epsg, STORE_EPSG)
