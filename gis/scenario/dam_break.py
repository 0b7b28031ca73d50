"""A dam break's flood footprint from a DEM: a SIMPLIFIED, volume-limited estimate for planning,
not a hydraulic model (no unsteady flow, no momentum, no structures in the valley).

Works on a north-up elevation grid in a projected CRS (metres; EPSG:4548 for Jining), cells of
any size (30 m is usual). Steps:

1. Released volume Vw and head Hw. Vw is the capacity unless the level is known with the dam's
   height: then Vw = capacity × (Hw / dam height)^k, k = 3 by default (a reservoir in a valley
   of even slope: a pyramid, volume ∝ depth³). Hw is the level above the streambed at the dam,
   else the dam height, else — neither given — assumed from the capacity: Hw = 0.7·Vw^0.2
   (7 m at 1e5 m³, 18 m at 1e7 m³, 28 m at 1e8 m³; an assumption for Chinese earth dams, not a
   published relation, written into the result's notes).
2. Peak breach outflow Qp (m³/s) by a published regression on Vw (m³) and Hw (m):
   Froehlich (1995), Qp = 0.607·Vw^0.295·Hw^1.24 (default), or MacDonald & Langridge-Monopolis
   (1984), Qp = 1.154·(Vw·Hw)^0.412.
3. The flow path from the dam's toe (the lowest cell within ``snap_radius_m`` of the dam point)
   by D8 steepest descent on the depression-filled DEM (``gis.scenario.terrain``), up to
   ``reach_km`` along the path.
4. The peak attenuates downstream as Qx = Qp·10^(−0.0124·x), x in km: the U.S. Bureau of
   Reclamation (1989) envelope, 10^(−0.02·x) with x in miles, as it is quoted in simplified
   hazard-classification methods (not checked here against the primary source: the coefficient
   is a parameter, ``attenuation_per_km``).
5. Depth by Height Above the Nearest Drainage (HAND; Nobre et al. 2011): each cell's height above
   the path cell it drains to, on the filled DEM (pits count as full). Cells that drain into the
   toe — the reservoir's own catchment, upstream — and permanent water (``water``) never flood.
   The path is cut into 500 m segments; each one's synthetic rating curve comes from the HAND of
   the cells draining to it and to its two neighbours (Zheng et al. 2018): at stage h, flow area
   A = Σ(h − HAND)·cell / length, width W = wet area / length, Q = A·(A/W)^(2/3)·S^(1/2) / n
   (Manning, wide channel; S the bed slope, ≥ 1e-4; n = 0.06 by default, a floodplain with
   crops and trees, Chow 1959). The segment's stage is the one that carries Qx; a cell's depth
   is stage − HAND where that is ≥ ``min_depth_m``.
6. Volume limit: segments are filled from the dam downstream; where the running total would pass
   Vw, that segment's stage is lowered until the total is exactly Vw, and the flood stops there.
   So Σ depth × cell area ≤ Vw always (small reservoirs give short footprints).
7. Arrival time: the peak travels at the kinematic-wave celerity c = dQ/dA = (5/3)·V for
   Manning's law in a wide channel, V = Qx / A (Lighthill & Whitham 1955; Chow, Maidment & Mays
   1988, ch. 9), segment by segment; a cell gets the time of the path cell it drains to, in
   minutes after the breach opens (the breach's own formation time is not added). Where the
   path reaches ``water`` (a lake), the flood ends.

Windowing: only the cells within ``reach_km`` + ``margin_km`` of the dam are read; when that is
more than about 2.5 million cells, a first pass on a coarsened grid (block minima) finds the
path's extent and the analysis runs at full resolution on that extent + the margin. Outside the
window nothing floods; the result's notes say when the path leaves the DEM or the window.

References: Froehlich, D.C. (1995) Peak outflow from breached embankment dam, J. Water Resour.
Plann. Manage. 121(1), 90-97; MacDonald, T.C. & Langridge-Monopolis, J. (1984) Breaching
characteristics of dam failures, J. Hydraul. Eng. 110(5), 567-586; U.S. Bureau of Reclamation
(1989), Denver (attenuation envelope, step 4); Nobre, A.D. et al. (2011) Height Above the Nearest
Drainage - a hydrologically relevant new terrain model, J. Hydrol. 404, 13-29; Zheng, X.,
Tarboton, D.G., Maidment, D.R., Liu, Y.Y. & Passalacqua, P. (2018) River channel geometry and
rating curve estimation using height above the nearest drainage, JAWRA 54(4), 785-806; Chow,
V.T. (1959) Open-Channel Hydraulics, McGraw-Hill (Manning's n); Lighthill, M.J. & Whitham, G.B.
(1955) On kinematic waves I, Proc. R. Soc. A 229, 281-316; Chow, V.T., Maidment, D.R. & Mays,
L.W. (1988) Applied Hydrology, McGraw-Hill.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import shapely
from affine import Affine
from numpy.typing import NDArray

from gis.scenario import ScenarioInputError
from gis.scenario.flood_zones import FloodZone, flood_zones
from gis.scenario.terrain import flow_grid, height_above_drainage, lowest_near, path_extent, trace

PeakFormula = Literal["froehlich1995", "macdonald1984"]
DIRECT_CELLS = 2_500_000
"""Above this many cells in the dam's box, a coarse first pass narrows the window."""


class LevelBelowBedError(ScenarioInputError):
    """The level given is not above the DEM's streambed at the dam (another height datum?)."""

    def __init__(self, level_m: float, bed_m: float) -> None:
        super().__init__(f"the level {level_m:g} m is not above the streambed at the dam ({bed_m:.1f} m on the DEM): "
                         "give the level in the DEM's height datum, or leave it out and give dam_height_m")
        self.level_m, self.bed_m = level_m, bed_m


@dataclass(frozen=True)
class Reservoir:
    """The reservoir behind the dam.

    Attributes
    ----------
    capacity_m3 : total storage, m³ (required, > 0).
    level_m : current water level, m above the DEM's height datum (optional).
    dam_height_m : height of the dam above the streambed, m (optional).
    name : for messages.
    """

    capacity_m3: float | None
    level_m: float | None = None
    dam_height_m: float | None = None
    name: str = ""


@dataclass(frozen=True)
class DamBreakParams:
    """Parameters of the method (module docstring); every value can be changed."""

    reach_km: float = 40.0
    margin_km: float = 5.0
    peak_formula: PeakFormula = "froehlich1995"
    attenuation_per_km: float = 0.0124
    manning_n: float = 0.06
    min_slope: float = 1e-4
    segment_m: float = 500.0
    snap_radius_m: float = 150.0
    min_depth_m: float = 0.05
    max_stage_m: float = 60.0
    storage_exponent: float = 3.0
    depth_breaks_m: tuple[float, ...] = (0.5, 1.5, 3.0)
    arrival_breaks_min: tuple[float, ...] = (30.0, 60.0, 120.0)

    def __post_init__(self) -> None:
        if self.peak_formula not in ("froehlich1995", "macdonald1984"):
            raise ScenarioInputError(f"unknown peak_formula {self.peak_formula!r}; use 'froehlich1995' or 'macdonald1984'")
        for name in ("reach_km", "manning_n", "min_slope", "segment_m", "min_depth_m", "max_stage_m", "storage_exponent"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise ScenarioInputError(f"{name} must be a positive number (got {value!r})")
        for name in ("margin_km", "attenuation_per_km", "snap_radius_m"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0):
                raise ScenarioInputError(f"{name} must be ≥ 0 (got {value!r})")
        for name in ("depth_breaks_m", "arrival_breaks_min"):
            breaks = tuple(float(b) for b in getattr(self, name))
            if not breaks or any(b <= 0 for b in breaks) or any(a >= b for a, b in zip(breaks, breaks[1:], strict=False)):
                raise ScenarioInputError(f"{name} must be positive and increasing, e.g. (0.5, 1.5, 3.0); got {breaks}")
            object.__setattr__(self, name, breaks)


@dataclass(frozen=True, eq=False)
class DamBreakResult:
    """The footprint. Zones: depth classes deepest first, then arrival bands earliest first.
    Rasters are on ``transform`` (the analysis window, DEM's CRS): ``depth_m`` (0 dry) and
    ``arrival_min`` (NaN dry). Along the path (``path``, cell centres from the toe): distance
    (m), stage above the bed (m, 0 past the flood's end) and arrival (min, NaN past it)."""

    zones: tuple[FloodZone, ...]
    depth_m: NDArray[np.float32]
    arrival_min: NDArray[np.float32]
    transform: Affine
    path: shapely.LineString
    path_distance_m: NDArray[np.float64]
    path_stage_m: NDArray[np.float64]
    path_arrival_min: NDArray[np.float64]
    peak_outflow_m3s: float
    released_volume_m3: float
    flooded_volume_m3: float
    head_m: float
    volume_limited: bool
    params: DamBreakParams
    reservoir: Reservoir
    notes: tuple[str, ...] = field(default=())

    def zones_of(self, kind: Literal["depth", "arrival"]) -> tuple[FloodZone, ...]:
        return tuple(zone for zone in self.zones if zone.kind == kind)


def peak_outflow(volume_m3: float, head_m: float, *, formula: PeakFormula = "froehlich1995") -> float:
    """Peak breach outflow, m³/s, from the released volume (m³) and the head above the breach
    bottom (m): Froehlich (1995) or MacDonald & Langridge-Monopolis (1984)."""
    if formula == "froehlich1995":
        return 0.607 * volume_m3**0.295 * head_m**1.24
    if formula == "macdonald1984":
        return 1.154 * (volume_m3 * head_m) ** 0.412
    raise ScenarioInputError(f"unknown peak formula {formula!r}; use 'froehlich1995' or 'macdonald1984'")


def dam_break(
    elevation: NDArray[np.floating[Any]],
    transform: Affine,
    dam_xy: tuple[float, float],
    reservoir: Reservoir,
    *,
    params: DamBreakParams | None = None,
    nodata: float | None = None,
    water: NDArray[np.bool_] | None = None,
) -> DamBreakResult:
    """The flood of a dam break (module docstring for the method and its sources).

    Parameters
    ----------
    elevation : (rows, cols) heights, m, row 0 north; NaN or ``nodata`` where unknown.
    transform : the grid's affine transform, north-up, in a projected CRS (metres).
    dam_xy : the dam in the same CRS, m.
    reservoir : capacity (required) and, where known, level and dam height.
    params : the method's parameters (defaults: ``DamBreakParams()``).
    nodata : the value marking cells without data, besides NaN.
    water : same shape, True on permanent water (a lake): the flood ends where the path reaches
        it (the lake takes up the rest of the volume) and water cells never count as flooded.

    Raises
    ------
    ScenarioInputError
        No capacity; a transform in degrees or rotated; a DEM of nodata only; a dam outside the
        DEM; a level not above the streambed.
    """
    params = params or DamBreakParams()
    capacity = _capacity(reservoir)
    height = reservoir.dam_height_m
    if height is not None and not (math.isfinite(height) and height > 0):
        raise ScenarioInputError(f"dam_height_m must be > 0 m (got {height!r}); leave it out when unknown")
    dx, dy = _cell_size(transform)
    shape = np.shape(elevation)
    if len(shape) != 2 or 0 in shape:
        raise ScenarioInputError(f"the DEM must be a 2-D array of heights (got shape {shape})")
    if water is not None and np.shape(water) != shape:
        raise ScenarioInputError(f"water must have the DEM's shape {shape} (got {np.shape(water)})")
    row, col = math.floor((transform.f - float(dam_xy[1])) / dy), math.floor((float(dam_xy[0]) - transform.c) / dx)
    if not (0 <= row < shape[0] and 0 <= col < shape[1]):
        raise ScenarioInputError(
            f"the DEM misses the reservoir: the dam at ({dam_xy[0]:.0f}, {dam_xy[1]:.0f}) is outside the DEM (x {transform.c:.0f}–"
            f"{transform.c + dx * shape[1]:.0f}, y {transform.f - dy * shape[0]:.0f}–{transform.f:.0f}); give a DEM that covers the dam and {params.reach_km:g} km downstream"
        )
    # Only the box within reach (+ margin) of the dam is read.
    kr, kc = (math.ceil((params.reach_km + params.margin_km) * 1000.0 / d) for d in (dy, dx))
    r0, c0 = max(0, row - kr), max(0, col - kc)
    box = (slice(r0, min(shape[0], row + kr + 1)), slice(c0, min(shape[1], col + kc + 1)))
    z = np.asarray(elevation[box], dtype=np.float64)
    valid = np.isfinite(z) if nodata is None else np.isfinite(z) & (z != nodata)
    if not valid.any():
        raise ScenarioInputError("the DEM holds no data around the dam (every cell is nodata): give a DEM with heights over the reservoir and its valley")
    toe = lowest_near(z, valid, (row - r0, col - c0), params.snap_radius_m, dx=dx, dy=dy)
    if toe is None:
        raise ScenarioInputError(f"the DEM has no data at the dam (within {params.snap_radius_m:g} m): give a DEM that covers the dam and its valley")
    notes: list[str] = []
    w0, w1, v0, v1 = _window(z, valid, toe, params, dx, dy, notes)
    window = transform @ Affine.translation(c0 + v0, r0 + w0)
    flow = flow_grid(z[w0:w1, v0:v1], dx=dx, dy=dy, valid=valid[w0:w1, v0:v1])
    lake = np.zeros(flow.receiver.size, dtype=bool) if water is None else np.asarray(water[box], dtype=bool)[w0:w1, v0:v1].ravel()
    cols = v1 - v0
    start = (toe[0] - w0) * cols + (toe[1] - v0)
    volume, head = _release(reservoir, capacity, float(flow.filled.ravel()[start]), params, notes)
    peak = peak_outflow(volume, head, formula=params.peak_formula)
    path, distance = trace(flow, start, max_length_m=params.reach_km * 1000.0, stop=lake)
    if lake[path[-1]] and path.size > 1:  # the flood ends in the lake; what drains into it is the lake's
        notes.append(f"the flow path reaches open water after {distance[-1] / 1000:.1f} km: the flood ends there")
        path, distance = path[:-1], distance[:-1]
    elif distance[-1] < params.reach_km * 1000.0 - 2 * max(dx, dy):
        end_row, end_col = r0 + w0 + path[-1] // cols, c0 + v0 + path[-1] % cols
        on_dem = end_row in (0, shape[0] - 1) or end_col in (0, shape[1] - 1) or not valid.all()
        where = "the DEM's edge or a hole in it" if on_dem else "the analysis window"
        notes.append(f"the flow path leaves {where} after {distance[-1] / 1000:.1f} km (of {params.reach_km:g} km): the footprint is cut there; give a DEM that covers the whole reach")
        warnings.warn(notes[-1], stacklevel=2)

    along, hand = height_above_drainage(flow, path)
    along[(along == 0) & (np.arange(along.size) != path[0])] = -1  # the dam's own catchment: upstream
    along[lake] = -1
    stage, timing, limited = _stages(hand, along, distance, flow.filled.ravel()[path], peak, volume, params, dx * dy, notes)
    depth = np.where(along >= 0, stage[np.maximum(along, 0)] - hand, 0.0)
    depth = np.where(depth >= params.min_depth_m, depth, 0.0).reshape(flow.shape)
    flooded = float(depth.sum() * dx * dy)
    if flooded > volume:  # rounding only: the stages are solved to hold at most the volume
        depth *= volume / flooded
        flooded = float(depth.sum() * dx * dy)
    arrival = np.where(depth.ravel() > 0, timing[np.maximum(along, 0)], np.nan).reshape(flow.shape)
    xs, ys = window.c + (path % cols + 0.5) * dx, window.f - (path // cols + 0.5) * dy
    return DamBreakResult(
        zones=flood_zones(depth, arrival, window, depth_breaks_m=params.depth_breaks_m, arrival_breaks_min=params.arrival_breaks_min), depth_m=depth.astype(np.float32), arrival_min=arrival.astype(np.float32),
        transform=window, path=shapely.LineString(np.column_stack([xs, ys])) if path.size > 1 else shapely.LineString(),
        path_distance_m=distance, path_stage_m=stage, path_arrival_min=timing, peak_outflow_m3s=peak,
        released_volume_m3=volume, flooded_volume_m3=flooded, head_m=head, volume_limited=limited,
        params=params, reservoir=reservoir, notes=tuple(notes),
    )


def _capacity(reservoir: Reservoir) -> float:
    capacity = reservoir.capacity_m3
    label = f"reservoir {reservoir.name!r}" if reservoir.name else "the reservoir"
    if capacity is None or not math.isfinite(float(capacity)) or float(capacity) <= 0:
        raise ScenarioInputError(f"{label} has no capacity (capacity_m3={capacity!r}): give its total storage in m³ (> 0) — the released volume and the peak outflow follow from it")
    return float(capacity)


def _cell_size(transform: Affine) -> tuple[float, float]:
    if transform.b != 0 or transform.d != 0:
        raise ScenarioInputError("the DEM's transform is rotated or sheared: resample it to a north-up grid (gdalwarp) first")
    dx, dy = float(transform.a), -float(transform.e)
    if not (dx > 0 and dy > 0):
        raise ScenarioInputError(f"the DEM must be north-up with positive cell sizes (got a={transform.a}, e={transform.e})")
    if dx < 0.05 and abs(transform.c) <= 360 and abs(transform.f) <= 90:
        raise ScenarioInputError(
            f"the DEM's transform is in degrees (cell {dx:g} × {dy:g}, origin {transform.c:g}, {transform.f:g}): "
            "reproject it to the city's projected CRS (metres, e.g. EPSG:4548) first — layers.io.dem_file.read_dem does"
        )
    return dx, dy


def _window(z: NDArray[np.float64], valid: NDArray[np.bool_], toe: tuple[int, int], params: DamBreakParams, dx: float, dy: float, notes: list[str]) -> tuple[int, int, int, int]:
    """Rows and columns (start, stop) of the analysis window in the dam's box: all of it, or —
    above ``DIRECT_CELLS`` — the extent of the path found on a coarser grid, + the margin."""
    if z.size <= DIRECT_CELLS:
        return 0, z.shape[0], 0, z.shape[1]
    factor = math.ceil(math.sqrt(z.size / (DIRECT_CELLS / 2.5)))
    r0, r1, c0, c1 = path_extent(z, valid, toe, factor=factor, dx=dx, dy=dy, max_length_m=params.reach_km * 1000.0)
    mr, mc = (math.ceil(params.margin_km * 1000.0 / d) for d in (dy, dx))
    notes.append(f"analysis window narrowed by a first pass at {factor}× coarser cells (the box within {params.reach_km:g} km of the dam has {z.size:,} cells)")
    return max(0, r0 - mr), min(z.shape[0], r1 + mr), max(0, c0 - mc), min(z.shape[1], c1 + mc)


def _release(reservoir: Reservoir, capacity: float, bed_m: float, params: DamBreakParams, notes: list[str]) -> tuple[float, float]:
    """Released volume (m³) and head (m) — module docstring, step 1."""
    height = reservoir.dam_height_m
    level = reservoir.level_m
    if level is not None and math.isfinite(level):
        depth = level - bed_m
        if depth <= 0:
            raise LevelBelowBedError(level, bed_m)
        if height is None:
            notes.append(f"no dam height: the whole capacity ({capacity:,.0f} m³) is taken as released at the level's head of {depth:.1f} m")
            return capacity, depth
        if depth >= height:
            notes.append(f"level {level:g} m is at or above the dam's crest: the reservoir is taken as full")
            return capacity, height
        return capacity * (depth / height) ** params.storage_exponent, depth
    if height is not None:
        notes.append("no level given: the reservoir is taken as full to the dam's height")
        return capacity, height
    head = min(max(0.7 * capacity**0.2, 3.0), 60.0)
    notes.append(f"neither level nor dam height given: the reservoir is taken as full and the head assumed as 0.7·V^0.2 = {head:.1f} m (an assumption, not a published relation)")
    return capacity, head


def _stages(
    hand: NDArray[np.float64], along: NDArray[np.int64], distance: NDArray[np.float64], bed: NDArray[np.float64],
    peak: float, volume: float, params: DamBreakParams, cell_area: float, notes: list[str],
) -> tuple[NDArray[np.float64], NDArray[np.float64], bool]:
    """Flood stage (m above the bed) and arrival (min) at every path cell, and whether the volume
    ran out — module docstring, steps 4-7. Segments are solved from the dam downstream; each
    one's rating curve is built over it and its two neighbours (about 1.5 km of valley), which
    evens out segments that few cells drain to (a filled flat, a bend)."""
    segment = (distance // params.segment_m).astype(np.int64)
    count = int(segment[-1]) + 1
    first = np.searchsorted(segment, np.arange(count))
    last = np.r_[first[1:], distance.size] - 1
    start = distance[first]
    cell = math.sqrt(cell_area)
    length = np.maximum(np.r_[distance[first[1:]], distance[-1] + cell] - start, cell)
    discharge = peak * 10.0 ** (-params.attenuation_per_km * (start + length / 2) / 1000.0)
    wet = along >= 0
    seg, heights = segment[along[wet]], hand[wet]
    order = np.lexsort((heights, seg))
    seg, heights = seg[order], heights[order]
    bounds = np.searchsorted(seg, np.arange(count + 1))
    levels = np.geomspace(0.01, params.max_stage_m, 240)
    stage, celerity = np.zeros(count), np.full(count, np.nan)
    used, limited, capped = 0.0, False, 0
    for j in range(count):
        lo, hi = max(j - 1, 0), min(j + 2, count)
        span = float(length[lo:hi].sum())
        slope = max((bed[first[lo]] - bed[last[hi - 1]]) / span, params.min_slope)
        section = np.sort(heights[bounds[lo] : bounds[hi]])
        total = np.r_[0.0, np.cumsum(section)]
        wet_cells = np.searchsorted(section, levels, side="right")
        mean_depth = (wet_cells * levels - total[wet_cells]) / np.maximum(wet_cells, 1)  # ≈ R, wide channel
        velocity = mean_depth ** (2 / 3) * math.sqrt(slope) / params.manning_n
        rating = np.maximum.accumulate(cell_area * wet_cells * mean_depth / span * velocity)
        level = float(np.interp(discharge[j], rating, levels))
        capped += discharge[j] > rating[-1]
        own = heights[bounds[j] : bounds[j + 1]]  # sorted; the path's own cells have HAND 0
        own_total = np.r_[0.0, np.cumsum(own)]
        held = _volume(own, own_total, level, cell_area)
        if used + held >= volume:
            level, held, limited = _level_for(own, own_total, volume - used, cell_area), volume - used, True
        stage[j] = level
        celerity[j] = 5.0 / 3.0 * float(np.interp(level, levels, velocity))
        used += held
        if limited:
            break
    if capped:
        notes.append(f"{capped} segment(s) cannot carry the peak below {params.max_stage_m:g} m: their stage is capped there")
    if limited:
        notes.append(f"volume-limited: the released {volume:,.0f} m³ is used up {(start[j] + length[j]) / 1000:.1f} km downstream; the flood stops there")
    minutes = np.r_[0.0, np.cumsum(np.where(stage > 0, length / celerity, np.nan))][:count] / 60.0
    along_path = np.where(stage[segment] > 0, minutes[segment] + (distance - start[segment]) / celerity[segment] / 60.0, np.nan)
    return stage[segment], along_path, limited


def _volume(h: NDArray[np.float64], total: NDArray[np.float64], level: float, cell_area: float) -> float:
    """Water held below ``level`` over cells of sorted HAND ``h`` (cumulative sums ``total``), m³."""
    n = int(np.searchsorted(h, level, side="right"))
    return float(cell_area * (n * level - total[n]))


def _level_for(h: NDArray[np.float64], total: NDArray[np.float64], target: float, cell_area: float) -> float:
    """The level that holds exactly ``target`` m³ (volume is linear between sorted HANDs)."""
    counts = np.arange(1, h.size + 1)
    at = cell_area * (counts * h - total[1:])  # volume when the level reaches each h
    i = max(int(np.searchsorted(at, target, side="right")) - 1, 0)
    return float(h[i] + (target - at[i]) / (cell_area * (i + 1)))
