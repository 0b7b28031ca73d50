"""The footprint of a toxic gas release: a steady-state Gaussian plume from a continuous point
source with total reflection at the ground, and the nested zones where the ground-level
concentration reaches user thresholds (AEGL/ERPG-like, mg/m³).

Units: release rate Q in g/s, wind speed u in m/s (at the release height), distances in metres,
concentrations in mg/m³ (1 g/m³ = 1000 mg/m³). Footprints are shapely geometries in the given
projected CRS (default EPSG:4548, CGCS2000 3-degree Gauss-Krüger CM 117°E, metres).

Ground-level concentration at downwind distance x and crosswind offset y (plume frame)::

    C(x, y) = Q / (π u σy σz) · exp(-y² / 2σy²) · exp(-H² / 2σz²)        x > 0

Dispersion coefficients σy(x), σz(x) are the Briggs (1973) formulas for open country ("rural")
and for cities ("urban", Briggs's fit to McElroy & Pooler 1968), σ = a·x·(1 + b·x)^c, as
tabulated by Griffiths (1994) and reproduced in Crowl & Louvar, *Chemical Process Safety*,
2nd ed. (2002), Table 5-2. They are fitted for 100 m < x < 10 km and about 10-minute averages;
closer in and farther out they are extrapolated.

Not modelled: plume rise, a capping inversion, deposition or decay, and heavier-than-air gas
(chlorine, or ammonia from a flashing jet, slumps and spreads wider and shorter than a passive
plume): the zones are a first, passive-gas estimate for planning, not a dense-gas model.

References
----------
Briggs, G. A. (1973). *Diffusion estimation for small emissions*. ATDL contribution 79,
NOAA/ATDL, Oak Ridge. doi:10.2172/5118833.
Griffiths, R. F. (1994). Errors in the use of the Briggs parameterization for atmospheric
dispersion coefficients. *Atmospheric Environment* 28(17), 2861-2865.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import geopandas as gpd
import numpy as np
import shapely
from numpy.typing import ArrayLike, NDArray
from pyproj import CRS
from pyproj.exceptions import CRSError

from gis.scenario import ScenarioInputError

MIN_WIND_MS = 0.5  # below this (near calm) the plume meanders and pools: the model does not hold
MAX_RANGE_M = 100_000.0  # zones are cut at 100 km downwind, ten times the formulas' fitted range
DEFAULT_NAMES = ("红区", "橙区", "黄区")
Terrain = Literal["rural", "urban"]

# (a, b, c) per class for σ = a·x·(1 + b·x)^c, x in m (Briggs 1973, via Griffiths 1994)
_BRIGGS: dict[str, dict[str, tuple[tuple[float, float, float], tuple[float, float, float]]]] = {
    "rural": {
        "A": ((0.22, 1e-4, -0.5), (0.20, 0.0, 1.0)),
        "B": ((0.16, 1e-4, -0.5), (0.12, 0.0, 1.0)),
        "C": ((0.11, 1e-4, -0.5), (0.08, 2e-4, -0.5)),
        "D": ((0.08, 1e-4, -0.5), (0.06, 1.5e-3, -0.5)),
        "E": ((0.06, 1e-4, -0.5), (0.03, 3e-4, -1.0)),
        "F": ((0.04, 1e-4, -0.5), (0.016, 3e-4, -1.0)),
    },
    "urban": {
        "A": ((0.32, 4e-4, -0.5), (0.24, 1e-3, 0.5)),
        "B": ((0.32, 4e-4, -0.5), (0.24, 1e-3, 0.5)),
        "C": ((0.22, 4e-4, -0.5), (0.20, 0.0, 1.0)),
        "D": ((0.16, 4e-4, -0.5), (0.14, 3e-4, -0.5)),
        "E": ((0.11, 4e-4, -0.5), (0.08, 1.5e-3, -0.5)),
        "F": ((0.11, 4e-4, -0.5), (0.08, 1.5e-3, -0.5)),
    },
}
_CLASSES = "A (very unstable), B, C, D (neutral, overcast), E, F (moderately stable, clear night)"


def dispersion_sigmas(x_m: ArrayLike, stability: str, *, terrain: Terrain = "rural") -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """σy and σz in metres at downwind distances ``x_m`` (m, ≥ 0), Briggs (1973) formulas for a
    Pasquill–Gifford ``stability`` class A–F and ``terrain`` "rural" (open country) or "urban"."""
    (ay, by, cy), (az, bz, cz) = _BRIGGS[_check_terrain(terrain)][_check_stability(stability)]
    x = np.asarray(x_m, dtype=float)
    return ay * x * (1.0 + by * x) ** cy, az * x * (1.0 + bz * x) ** cz


@dataclass(frozen=True)
class PlumeParams:
    """A continuous release, checked when built (a wrong value raises ``ScenarioInputError``).

    Attributes
    ----------
    source_xy : (x, y) of the release in ``epsg`` metres.
    release_g_s : release rate Q, g/s (> 0).
    wind_ms : wind speed at the release height, m/s (≥ 0.5: the plume does not hold in a calm).
    wind_from_deg : where the wind blows FROM, degrees clockwise from north (45 = from the
        north-east: the plume goes south-west).
    stability : Pasquill–Gifford class "A" … "F".
    release_height_m : height of the release H, m (0 = at the ground).
    duration_s : how long the release lasts, s, or None for a release that goes on: after
        ``duration_s`` the gas has travelled at most ``wind_ms × duration_s`` downwind, so the
        concentration is 0 beyond that distance.
    terrain : "rural" (open country; longer, conservative zones) or "urban" (rougher, wider).
    epsg : the projected CRS of ``source_xy`` and of the footprints.
    """

    source_xy: tuple[float, float]
    release_g_s: float
    wind_ms: float
    wind_from_deg: float
    stability: str
    release_height_m: float = 0.0
    duration_s: float | None = None
    terrain: Terrain = "rural"
    epsg: int = 4548

    def __post_init__(self) -> None:
        object.__setattr__(self, "stability", _check_stability(self.stability))
        _check_terrain(self.terrain)
        if len(self.source_xy) != 2:
            raise ScenarioInputError(f"source_xy must be one (x, y) in EPSG:{self.epsg} metres (got {self.source_xy!r})")
        object.__setattr__(self, "source_xy", (float(self.source_xy[0]), float(self.source_xy[1])))
        values = {"release_g_s": self.release_g_s, "wind_ms": self.wind_ms, "wind_from_deg": self.wind_from_deg, "release_height_m": self.release_height_m, "source_xy": sum(self.source_xy)}
        for name, value in values.items():
            if not math.isfinite(value):
                raise ScenarioInputError(f"{name} must be a finite number (got {value})")
        if self.wind_ms <= 0:
            raise ScenarioInputError(f"wind_ms must be > 0 m/s (got {self.wind_ms}): give the wind speed at the release height")
        if self.wind_ms < MIN_WIND_MS:
            raise ScenarioInputError(f"wind_ms={self.wind_ms} m/s is near calm: the Gaussian plume is not valid below {MIN_WIND_MS} m/s (the gas meanders and pools); assess a calm release with a puff or pooling model")
        if self.release_g_s <= 0:
            raise ScenarioInputError(f"release_g_s must be > 0 g/s (got {self.release_g_s})")
        if self.release_height_m < 0:
            raise ScenarioInputError(f"release_height_m must be ≥ 0 m (got {self.release_height_m}); 0 is a release at the ground")
        if self.duration_s is not None and not self.duration_s > 0:
            raise ScenarioInputError(f"duration_s must be > 0 s (got {self.duration_s}); give how long the release lasts, or None for a release that goes on")
        try:
            crs = CRS.from_epsg(self.epsg)
        except CRSError:
            raise ScenarioInputError(f"unknown EPSG code {self.epsg!r}; the city's work CRS is EPSG:4548") from None
        if crs.is_geographic:
            raise ScenarioInputError(f"EPSG:{self.epsg} is geographic (degrees); the footprint is built in metres: give a projected CRS such as EPSG:4548")

    @property
    def reach_m(self) -> float:
        """How far downwind the gas can be, m: ``wind_ms × duration_s``, capped at 100 km."""
        return MAX_RANGE_M if self.duration_s is None else min(MAX_RANGE_M, self.wind_ms * self.duration_s)


@dataclass(frozen=True)
class PlumeZone:
    """One footprint: where the ground-level concentration is ≥ ``threshold_mg_m3``.

    ``polygon`` is in the params' EPSG (metres), empty when the plume never reaches the threshold
    (then ``max_downwind_m`` and ``area_km2`` are 0); ``max_downwind_m`` is the farthest downwind
    point of the zone from the source, m."""

    name: str
    threshold_mg_m3: float
    polygon: shapely.Polygon | shapely.MultiPolygon
    max_downwind_m: float
    area_km2: float


@dataclass(frozen=True)
class PlumeFootprint:
    """The zones, most severe (highest threshold) first, and the parameters that made them."""

    params: PlumeParams
    zones: tuple[PlumeZone, ...]


def ground_concentration(x_m: ArrayLike, y_m: ArrayLike, params: PlumeParams) -> NDArray[np.float64]:
    """Ground-level concentration, mg/m³, at plume-frame points: ``x_m`` downwind and ``y_m``
    crosswind of the source, metres (arrays broadcast together). 0 upwind (x ≤ 0) and beyond
    ``params.reach_m``."""
    x, y = np.broadcast_arrays(np.asarray(x_m, dtype=float), np.asarray(y_m, dtype=float))
    inside = (x > 0) & (x <= params.reach_m)
    xs = np.where(inside, x, 1.0)
    sy, sz = dispersion_sigmas(xs, params.stability, terrain=params.terrain)
    with np.errstate(under="ignore"):
        c = 1000.0 * params.release_g_s / (np.pi * params.wind_ms * sy * sz)
        c = c * np.exp(-0.5 * (y / sy) ** 2) * np.exp(-0.5 * (params.release_height_m / sz) ** 2)
    return np.where(inside, c, 0.0)


def plume_frame(xy: ArrayLike, params: PlumeParams) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Downwind and crosswind distances, m, of points ``xy`` (shape (n, 2), ``params.epsg``
    metres) from the source; crosswind is positive to the left of the plume's travel."""
    dx, dy, cx, cy = _axes(params.wind_from_deg)
    pts = np.asarray(xy, dtype=float).reshape(-1, 2) - np.asarray(params.source_xy, dtype=float)
    return pts[:, 0] * dx + pts[:, 1] * dy, pts[:, 0] * cx + pts[:, 1] * cy


def concentration_at(xy: ArrayLike, params: PlumeParams) -> NDArray[np.float64]:
    """Ground-level concentration, mg/m³, at points ``xy`` (shape (n, 2), ``params.epsg`` metres)."""
    return ground_concentration(*plume_frame(xy, params), params)


def plume_footprint(
    params: PlumeParams,
    *,
    thresholds_mg_m3: Sequence[float],
    names: Sequence[str] | None = None,
    vertices_per_side: int = 256,
) -> PlumeFootprint:
    """The nested zones where the ground-level concentration is ≥ each threshold.

    Parameters
    ----------
    params : the release (source in ``params.epsg`` metres).
    thresholds_mg_m3 : positive and strictly decreasing, mg/m³, e.g. (AEGL-3, AEGL-2, AEGL-1).
    names : one per threshold; by default 红区/橙区/黄区 (most severe first) for up to three.
    vertices_per_side : points along each edge of a zone's outline (≥ 50).

    Returns
    -------
    PlumeFootprint
        Zones in threshold order; each polygon is in ``params.epsg``. The outline follows the
        exact crosswind half-width y(x) = σy·sqrt(2 ln(C(x, 0) / threshold)) between the distances
        where the centreline crosses the threshold (found by bisection); a zone that reaches
        ``params.reach_m`` is cut there by a straight crosswind edge. A threshold the plume never
        reaches gives an empty zone, not an error.
    """
    thresholds = [float(t) for t in thresholds_mg_m3]
    if not thresholds or not all(math.isfinite(t) and t > 0 for t in thresholds) or any(a <= b for a, b in zip(thresholds, thresholds[1:], strict=False)):
        raise ScenarioInputError(f"thresholds_mg_m3 must be positive and strictly decreasing, e.g. (AEGL-3, AEGL-2, AEGL-1); got {thresholds}")
    if names is None and len(thresholds) <= len(DEFAULT_NAMES):
        names = DEFAULT_NAMES[: len(thresholds)]
    if names is None or len(names) != len(thresholds):
        raise ScenarioInputError(f"give one name per threshold: {len(thresholds)} thresholds, names {None if names is None else list(names)}")
    if vertices_per_side < 50:
        raise ScenarioInputError(f"vertices_per_side must be ≥ 50 for a smooth outline (got {vertices_per_side})")
    zones = []
    for name, threshold in zip(names, thresholds, strict=True):
        runs = _runs_above(params, threshold)
        local = [_outline(params, threshold, lo, hi, vertices_per_side) for lo, hi in runs]
        world = [poly for ring in local if (poly := shapely.Polygon(_to_world(ring, params))).area > 0]
        polygon: shapely.Polygon | shapely.MultiPolygon
        polygon = shapely.Polygon() if not world else world[0] if len(world) == 1 else shapely.MultiPolygon(world)
        far = max((hi for _, hi in runs), default=0.0)
        zones.append(PlumeZone(str(name), threshold, polygon, far, polygon.area / 1e6))
    return PlumeFootprint(params, tuple(zones))


def plume_zones_frame(footprint: PlumeFootprint) -> gpd.GeoDataFrame:
    """The zones as a GeoDataFrame in ``footprint.params.epsg``: name, threshold_mg_m3,
    max_downwind_m, area_km2, geometry (empty zones included, with empty geometry)."""
    columns = ("name", "threshold_mg_m3", "max_downwind_m", "area_km2")
    rows = {column: [getattr(zone, column) for zone in footprint.zones] for column in columns}
    geometry = [zone.polygon for zone in footprint.zones]
    return gpd.GeoDataFrame(rows, geometry=geometry, crs=f"EPSG:{footprint.params.epsg}")


def _check_stability(stability: str) -> str:
    key = str(stability).strip().upper()
    if key not in _BRIGGS["rural"]:
        raise ScenarioInputError(f"unknown stability class {stability!r}; Pasquill–Gifford classes are {_CLASSES}")
    return key


def _check_terrain(terrain: str) -> str:
    if terrain not in _BRIGGS:
        raise ScenarioInputError(f"unknown terrain {terrain!r}; use 'rural' (open country) or 'urban'")
    return terrain


def _axes(wind_from_deg: float) -> tuple[float, float, float, float]:
    """Unit vectors (east, north) downwind and crosswind (left of travel) for a wind FROM the
    given bearing: it blows toward bearing + 180°."""
    t = math.radians(wind_from_deg)
    return -math.sin(t), -math.cos(t), math.cos(t), -math.sin(t)


def _runs_above(params: PlumeParams, threshold: float) -> list[tuple[float, float]]:
    """The downwind intervals (m) where the centreline concentration is ≥ ``threshold``: sampled
    on 4000 log-spaced distances (0.35 % apart over six decades: a zone shorter than that, a
    threshold grazed at the peak of an elevated release, can be missed), crossings bisected."""
    reach = params.reach_m
    xs = np.geomspace(min(0.1, reach * 1e-3), reach, 4000)
    above = ground_concentration(xs, 0.0, params) >= threshold
    edges = np.flatnonzero(np.diff(above.astype(np.int8)))
    starts = ([0] if above[0] else []) + [i + 1 for i in edges if not above[i]]
    ends = [i for i in edges if above[i]] + ([len(xs) - 1] if above[-1] else [])
    runs = []
    for i, j in zip(starts, ends, strict=True):
        lo = 0.0 if i == 0 else _bisect(params, threshold, xs[i - 1], xs[i])
        hi = reach if j == len(xs) - 1 else _bisect(params, threshold, xs[j], xs[j + 1])
        runs.append((lo, hi))
    return runs


def _bisect(params: PlumeParams, threshold: float, a: float, b: float) -> float:
    """The distance between ``a`` and ``b`` (m) where the centreline crosses ``threshold``."""
    a_above = ground_concentration(a, 0.0, params) >= threshold
    for _ in range(60):
        mid = 0.5 * (a + b)
        if (ground_concentration(mid, 0.0, params) >= threshold) == a_above:
            a = mid
        else:
            b = mid
    return 0.5 * (a + b)


def _outline(params: PlumeParams, threshold: float, lo: float, hi: float, n: int) -> NDArray[np.float64]:
    """The zone's ring in the plume frame between ``lo`` and ``hi`` m downwind: points crowd
    toward both ends (cosine spacing), where the half-width changes fastest."""
    x = lo + (hi - lo) * 0.5 * (1.0 - np.cos(np.linspace(0.0, np.pi, n)))
    sy, _ = dispersion_sigmas(x, params.stability, terrain=params.terrain)
    ratio = np.maximum(ground_concentration(x, 0.0, params) / threshold, 1.0)
    w = sy * np.sqrt(2.0 * np.log(ratio))
    ring = np.vstack([np.column_stack([x, w]), np.column_stack([x[::-1], -w[::-1]])])
    keep = np.r_[True, np.any(np.diff(ring, axis=0) != 0, axis=1)]
    return ring[keep]


def _to_world(ring: NDArray[np.float64], params: PlumeParams) -> NDArray[np.float64]:
    dx, dy, cx, cy = _axes(params.wind_from_deg)
    sx, sy = params.source_xy
    return np.column_stack([sx + ring[:, 0] * dx + ring[:, 1] * cx, sy + ring[:, 0] * dy + ring[:, 1] * cy])
