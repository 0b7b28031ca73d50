"""The sample city's terrain: a seeded synthetic DEM that fits its geography (not survey data).

Heights in metres above the lake's datum, on a north-up grid in the work CRS (EPSG:4548):

- the Nansi Lake is a flat water surface at ``LAKE_LEVEL_M`` (33 m), the lowest ground; it drains
  out of the city by a channel from its south-east end (the real lake's outflow, near 韩庄);
- the plain west and north of the lake rises gently away from it (0.05 m/km: 33.5-38 m), with
  a few decimetres of micro-relief;
- east of ``HILLY_EAST_LON`` the land rises into hills (``Land.hilliness``): foothills of about
  60 m, ridges of 200-450 m rising on eastward, and Mount Ni (尼山, 340 m, placed approximately);
- everything in the city drains into the lake (and its outflow): the main rivers
  (``geography.RIVERS``) run in carved valleys whose beds fall steadily to it, and each of the
  ``valley_points`` (the reservoirs) gets a side valley from the point down to the lake.

How: ridged value noise (octaves of 16 km to 1 km, drawn from ``seed``) shaped by the hilliness,
on a 250 m lattice anchored to fixed coordinates; the lattice is then drained — routed on its
filled surface (``gis.scenario.terrain``) with walls round the city so that water leaves only
through the lake, and every node lowered to below everything upstream of it, which cuts gorges
through closed basins as rivers do — and interpolated bilinearly (linear along each drainage
step, so it keeps falling). Valleys are carved on the output grid. Any window at any cell size is
cut from the same landscape; the lattice of a seed is built once (~0.6 s) and kept.

Sizes: the whole city (about 165 km × 180 km with 5 km around) is built at 90 m by default
(about 2.8 M cells, about 1 s); 30 m works on a window (``bounds``), e.g. 40 km × 40 km for a
dam break (0.2 s once the lattice exists); 30 m over the whole city would be 25 M cells.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np
import shapely
from affine import Affine
from numpy.typing import ArrayLike, NDArray
from rasterio import features
from scipy import ndimage
from scipy.interpolate import RectBivariateSpline

from gis.crs import WORK_EPSG
from gis.scenario.terrain import flow_grid
from layers.sample.geography import HILLY_EAST_LON, RIVERS
from layers.sample.land import Land, to_metres

LAKE_LEVEL_M = 33.0
"""The Nansi Lake's water surface in the sample DEM, m."""
MOUNT_NI = (117.18, 35.47, 340.0)
"""尼山: lon, lat (approximate) and height, m."""
LAKE_OUTLET = ((117.24, 34.52), (117.36, 34.47), (117.60, 34.40), (118.10, 34.25))
"""A synthetic outflow channel from the lake's south-east end out of the city."""

_LATTICE_M = 250.0
_OCTAVES = ((16_000.0, 0.35), (8_000.0, 0.3), (4_000.0, 0.2), (2_000.0, 0.1), (1_000.0, 0.05))
_MARGIN_M = 20_000.0  # the lattice covers the city and this much around it
_EXTENT_M = 5_000.0  # the DEM's default extent: the city's outline and this much around it
_CARVE_M = 2_000.0  # how far a valley's sides reach from its line
_DROP_M = 0.002  # the least fall per lattice step along the drainage, m


class Dem(NamedTuple):
    """Elevations (m, float32, row 0 north), their transform and EPSG code (metres)."""

    elevation: NDArray[np.float32]
    transform: Affine
    epsg: int


def build_dem(
    land: Land,
    *,
    cell_m: float = 90.0,
    seed: int = 0,
    bounds: tuple[float, float, float, float] | None = None,
    valley_points: ArrayLike | None = None,
) -> Dem:
    """The sample DEM over ``bounds`` (EPSG:4548 metres; default: the city outline + 5 km).

    Parameters
    ----------
    land : the sample city's land (boundary, lake, ``hilliness``).
    cell_m : cell size, m; the bounds are snapped outward to multiples of it.
    seed : the landscape; the same seed gives the same heights in every window.
    bounds : (min x, min y, max x, max y), m.
    valley_points : (n, 2) x/y, m, that must lie in valleys (e.g. the reservoirs): each gets a
        side valley (1 m deep on the plain, 15 m in the hills) from the point down its drainage
        to the lake.
    """
    if not cell_m > 0:
        raise ValueError(f"cell_m must be > 0 m (got {cell_m})")
    min_x, min_y, max_x, max_y = bounds or land.boundary.buffer(_EXTENT_M).bounds
    min_x, min_y = np.floor(min_x / cell_m) * cell_m, np.floor(min_y / cell_m) * cell_m
    cols, rows = int(np.ceil((max_x - min_x) / cell_m)), int(np.ceil((max_y - min_y) / cell_m))
    transform = Affine(cell_m, 0.0, min_x, 0.0, -cell_m, min_y + rows * cell_m)
    lattice = _lattice(land, seed)
    xs = min_x + (np.arange(cols) + 0.5) * cell_m
    ys = min_y + rows * cell_m - (np.arange(rows) + 0.5) * cell_m
    elevation = lattice.surface(ys[::-1], xs)[::-1]  # the spline wants increasing coordinates
    elevation = np.maximum(elevation, LAKE_LEVEL_M + 0.1)  # the lake's nodes bleed past its shore
    lines = lattice.valleys(land, valley_points)
    elevation = _carve(elevation, transform, lines, land)
    lake = features.rasterize([land.lake], out_shape=(rows, cols), transform=transform, fill=0, default_value=1, dtype="uint8")
    elevation[lake == 1] = LAKE_LEVEL_M
    return Dem(elevation.astype(np.float32), transform, WORK_EPSG)


Valley = tuple[NDArray[np.float64], NDArray[np.float64], float]
"""A valley's line (points (n, 2), m), its bed heights (m, falling downstream) and floor half-width (m)."""

_LATTICES: dict[tuple[int, bytes, bytes], _Lattice] = {}


def _lattice(land: Land, seed: int) -> _Lattice:
    """The landscape of ``seed`` over ``land``, built once (the last two are kept: each is about
    20 MB, and a dam break per reservoir cuts many windows from the same one)."""
    key = (seed, shapely.to_wkb(land.boundary), shapely.to_wkb(land.lake))
    if key not in _LATTICES:
        while len(_LATTICES) >= 2:
            del _LATTICES[next(iter(_LATTICES))]
        _LATTICES[key] = _Lattice.build(land, seed)
    return _LATTICES[key]


@dataclass(frozen=True, eq=False)
class _Lattice:
    """The landscape on a 250 m lattice (rows = y increasing), drained; its D8 receivers; its
    bilinear surface; and the valleys carved into every window."""

    x: NDArray[np.float64]
    y: NDArray[np.float64]
    height: NDArray[np.float64]
    receiver: NDArray[np.int64]
    surface: RectBivariateSpline
    _valleys: dict[bytes, list[Valley]] = field(default_factory=dict)

    def at(self, x: NDArray[np.float64], y: NDArray[np.float64]) -> NDArray[np.float64]:
        """The surface at points (m), bilinear as ``surface`` (scipy's scattered spline
        evaluation is 30 times slower)."""
        where = [(y - self.y[0]) / _LATTICE_M, (x - self.x[0]) / _LATTICE_M]
        return np.asarray(ndimage.map_coordinates(self.height, where, order=1, mode="nearest"), dtype=np.float64)

    def valleys(self, land: Land, points: ArrayLike | None) -> list[Valley]:
        """The rivers' and the points' valleys (kept: every window of the DEM carves the same)."""
        xy = np.zeros((0, 2)) if points is None else np.asarray(points, dtype=float).reshape(-1, 2)
        key = xy.tobytes()
        if key not in self._valleys:
            self._valleys.clear()
            self._valleys[key] = _river_lines(land, self) + _side_valleys(land, self, xy if xy.size else None)
        return self._valleys[key]

    @classmethod
    def build(cls, land: Land, seed: int) -> _Lattice:
        lx, ly, height, lake = _landscape(land, seed)
        gx, gy = np.meshgrid(lx, ly)
        outlet = shapely.get_coordinates(shapely.segmentize(shapely.LineString([to_metres(*p) for p in LAKE_OUTLET]), _LATTICE_M / 2))
        oi, oj = np.round((outlet[:, 1] - ly[0]) / _LATTICE_M).astype(int), np.round((outlet[:, 0] - lx[0]) / _LATTICE_M).astype(int)
        inside = (oi >= 0) & (oi < ly.size) & (oj >= 0) & (oj < lx.size)
        exits = np.zeros_like(lake)
        exits[oi[inside], oj[inside]] = True
        ci, cj = oi[inside], oj[inside]
        height[ci, cj] = np.minimum(height[ci, cj], np.linspace(LAKE_LEVEL_M - 0.6, LAKE_LEVEL_M - 6.0, outlet.shape[0])[inside])
        # Walls round the city + 5 km (the DEM's default extent), open where the outflow channel
        # leaves: everything inside drains through the lake and its outflow, as the real basin of
        # the Nansi Lake does. Beyond the walls the lattice is left as it is.
        bx0, by0, bx1, by1 = land.boundary.buffer(_EXTENT_M).bounds
        outside = ((gx < bx0) | (gx > bx1) | (gy < by0) | (gy > by1)) & ~exits
        drained, receiver = _drain(np.where(outside, 1.0e4, height))
        drained[outside] = height[outside]
        drained = np.where(lake | exits, drained, np.maximum(drained, LAKE_LEVEL_M + 0.2))  # land stays above the lake
        return cls(lx, ly, drained, receiver, RectBivariateSpline(ly, lx, drained, kx=1, ky=1))


def _landscape(land: Land, seed: int) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64], NDArray[np.bool_]]:
    """The undrained heights on the lattice (x, y, heights with rows = y increasing, lake nodes)."""
    rng = np.random.default_rng(seed)
    min_x, min_y, max_x, max_y = land.boundary.bounds
    x0, y0 = np.floor((min_x - _MARGIN_M) / 16_000.0) * 16_000.0, np.floor((min_y - _MARGIN_M) / 16_000.0) * 16_000.0
    nx, ny = int((max_x + _MARGIN_M - x0) // _LATTICE_M) + 2, int((max_y + _MARGIN_M - y0) // _LATTICE_M) + 2
    lx, ly = x0 + np.arange(nx) * _LATTICE_M, y0 + np.arange(ny) * _LATTICE_M
    ridged = np.zeros((ny, nx))
    for spacing, weight in _OCTAVES:
        kx, ky = int((lx[-1] - x0) // spacing) + 4, int((ly[-1] - y0) // spacing) + 4
        knots = rng.uniform(-1.0, 1.0, (ky, kx))
        octave = RectBivariateSpline(y0 + np.arange(ky) * spacing, x0 + np.arange(kx) * spacing, knots)(ly, lx)
        ridged += weight * (1.0 - np.abs(np.clip(octave, -1.0, 1.0))) ** 2  # sharp crests, round valleys
    gx, gy = np.meshgrid(lx, ly)
    hills = land.hilliness(gx, gy)
    south_up = Affine(_LATTICE_M, 0, x0 - _LATTICE_M / 2, 0, _LATTICE_M, y0 - _LATTICE_M / 2)
    lake = features.rasterize([land.lake], out_shape=(ny, nx), transform=south_up, fill=0, default_value=1, dtype="uint8") == 1
    lake_km = ndimage.distance_transform_edt(~lake, sampling=_LATTICE_M) / 1000.0
    foothills = hills * hills * (3.0 - 2.0 * hills)  # smoothstep: no edge where the hills begin
    micro = rng.uniform(-0.3, 0.3, (ny, nx)) * (1.0 - hills) * np.minimum(lake_km / 5.0, 1.0)
    east_km = np.maximum(gx - to_metres(HILLY_EAST_LON, 35.4)[0], 0.0) / 1000.0  # the hills rise on toward Mengshan
    height = LAKE_LEVEL_M + 0.6 + 0.05 * lake_km + micro + 60.0 * foothills + 330.0 * hills**1.3 * ridged + 1.0 * east_km * hills
    px, py = to_metres(MOUNT_NI[0], MOUNT_NI[1])
    i, j = int(round((py - y0) / _LATTICE_M)), int(round((px - x0) / _LATTICE_M))
    r = np.hypot(gx - lx[j], gy - ly[i])
    height += np.exp(-(r**2) / (2 * 2_500.0**2)) * (MOUNT_NI[2] - 0.06 * r - height)  # a cone 6 % steep, blended in
    height[lake] = LAKE_LEVEL_M - 0.5
    return lx, ly, height, lake


def _drain(height: NDArray[np.float64]) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
    """Carve the lattice so that every node drains to its edge: route it on the filled surface
    (``gis.scenario.terrain``), then lower each node to the lowest height upstream of it minus
    ``_DROP_M`` per step (closed basins get a gorge through their rim, as rivers cut them; the
    rest is unchanged where it already falls that much). By pointer doubling: after pass k each
    node holds the lowest of the 2^k nodes upstream of it on every branch. A diagonal step also
    lowers the two nodes beside it, or the spline would dam the gorge between them; that can
    leave new pits, so it runs twice."""
    rows, cols = height.shape
    index = np.arange(height.size)
    lowest = height.ravel().copy()
    for _ in range(2):
        receiver = flow_grid(lowest.reshape(height.shape), dx=_LATTICE_M, dy=_LATTICE_M).receiver
        jump, steps = receiver.copy(), 1.0
        while True:
            moving = jump != index
            np.minimum.at(lowest, jump[moving], lowest[moving] - _DROP_M * steps)
            jumped = jump[jump]
            if np.array_equal(jumped, jump):
                break
            jump, steps = jumped, steps * 2.0
        row, col, to_row, to_col = index // cols, index % cols, receiver // cols, receiver % cols
        diagonal = (row != to_row) & (col != to_col)
        middle = (lowest[diagonal] + lowest[receiver[diagonal]]) / 2.0
        np.minimum.at(lowest, row[diagonal] * cols + to_col[diagonal], middle)
        np.minimum.at(lowest, to_row[diagonal] * cols + col[diagonal], middle)
    return lowest.reshape(height.shape), receiver


def _river_lines(land: Land, lattice: _Lattice) -> list[Valley]:
    """The main rivers as (points (n, 2), bed heights, floor half-width m), beds falling from
    10 m below the ground at the source to just above the lake at the mouth (a concave profile,
    never above the ground upstream)."""
    lines = []
    for _, course in RIVERS:
        xy = np.array([to_metres(lon, lat) for lon, lat in course])
        mouth = shapely.get_coordinates(shapely.shortest_line(shapely.Point(xy[-1]), land.lake))[-1]
        points = shapely.get_coordinates(shapely.segmentize(shapely.LineString(np.vstack([xy, mouth])), 30.0))
        ground = lattice.at(points[:, 0], points[:, 1])
        run = np.r_[0.0, np.cumsum(np.hypot(*np.diff(points, axis=0).T))]
        profile = LAKE_LEVEL_M + 0.3 + (ground[0] - 10.0 - LAKE_LEVEL_M - 0.3) * (1.0 - run / run[-1]) ** 1.5
        bed = np.minimum.accumulate(np.maximum(np.minimum(profile, np.minimum.accumulate(ground - 0.5)), LAKE_LEVEL_M + 0.2))
        lines.append((points, bed, 200.0))
    outlet = shapely.get_coordinates(shapely.segmentize(shapely.LineString([to_metres(*p) for p in LAKE_OUTLET]), 30.0))
    lines.append((outlet, np.linspace(LAKE_LEVEL_M - 0.6, LAKE_LEVEL_M - 6.0, len(outlet)), 150.0))
    return lines


def _side_valleys(land: Land, lattice: _Lattice, valley_points: ArrayLike | None) -> list[Valley]:
    """For each point, a valley from the point down the lattice's drainage to the lake or the
    lattice's edge, 1 m deep on the plain to 15 m in the hills (so it never ends in a trench).
    All points step down the drainage together, one lattice node per pass."""
    if valley_points is None:
        return []
    xy = np.asarray(valley_points, dtype=float).reshape(-1, 2)
    nx = lattice.x.size
    i = np.clip(np.round((xy[:, 1] - lattice.y[0]) / _LATTICE_M), 0, lattice.y.size - 1).astype(np.int64)
    j = np.clip(np.round((xy[:, 0] - lattice.x[0]) / _LATTICE_M), 0, nx - 1).astype(np.int64)
    steps = [lattice.receiver[i * nx + j]]
    ends = (lattice.receiver[steps[-1]] == steps[-1]) | (lattice.height.ravel()[steps[-1]] <= LAKE_LEVEL_M)
    while not ends.all():
        steps.append(np.where(ends, steps[-1], lattice.receiver[steps[-1]]))
        ends |= (lattice.receiver[steps[-1]] == steps[-1]) | (lattice.height.ravel()[steps[-1]] <= LAKE_LEVEL_M)
    nodes = np.stack(steps, axis=1)
    courses = [np.vstack([point, np.column_stack([lattice.x[row % nx], lattice.y[row // nx]])]) for point, row in zip(xy, (np.array(list(dict.fromkeys(r.tolist()))) for r in nodes), strict=True)]
    coords, which = shapely.get_coordinates(shapely.segmentize(np.array([shapely.LineString(course) for course in courses]), 30.0), return_index=True)
    depth = 1.0 + 14.0 * land.hilliness(xy[:, 0], xy[:, 1])
    ground = lattice.at(coords[:, 0], coords[:, 1]) - depth[which]
    first = np.searchsorted(which, np.arange(len(xy) + 1))
    lines = []
    for k in range(len(xy)):
        bed = np.minimum.accumulate(ground[first[k] : first[k + 1]])
        lines.append((coords[first[k] : first[k + 1]], np.maximum(bed, LAKE_LEVEL_M + 0.2), 60.0))
    return lines


def _carve(elevation: NDArray[np.float64], transform: Affine, lines: list[Valley], land: Land) -> NDArray[np.float64]:
    """Lower the ground to each valley's V: bed + side slope × (distance − floor half-width),
    the side slope steeper in the hills (0.4 % on the plain, 12 % in the hills)."""
    rows, cols = elevation.shape
    cell = transform.a
    pad = int(np.ceil(_CARVE_M / cell))
    bed = np.full((rows + 2 * pad, cols + 2 * pad), np.inf)
    width = np.zeros_like(bed)
    for points, heights, half_width in lines:
        col, row = (points[:, 0] - transform.c) / cell, (transform.f - points[:, 1]) / cell
        r, c = np.floor(row).astype(np.int64) + pad, np.floor(col).astype(np.int64) + pad
        inside = (r >= 0) & (r < bed.shape[0]) & (c >= 0) & (c < bed.shape[1])
        np.minimum.at(bed, (r[inside], c[inside]), heights[inside])
        width[r[inside], c[inside]] = half_width
    on_line = np.isfinite(bed)
    if not on_line.any():
        return elevation
    distance, (near_r, near_c) = ndimage.distance_transform_edt(~on_line, sampling=cell, return_indices=True)
    core = (slice(pad, pad + rows), slice(pad, pad + cols))
    distance, near_r, near_c = distance[core], near_r[core], near_c[core]
    gx, gy = np.meshgrid(transform.c + (np.arange(cols) + 0.5) * cell, transform.f - (np.arange(rows) + 0.5) * cell)
    side = 0.004 + 0.116 * land.hilliness(gx, gy)
    valley = bed[near_r, near_c] + side * np.maximum(distance - width[near_r, near_c], 0.0)
    return np.where(distance <= _CARVE_M, np.minimum(elevation, valley), elevation)
