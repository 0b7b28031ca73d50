"""Who lives inside a footprint: residents per township in each zone, area-weighted from
population cells, and how many of them are displaced.

A cell's persons are spread evenly over its area, so a cell counts in a zone ∩ township piece by
the share of its area inside it:

    residents(piece) = Σ_cells persons(cell) · area(cell ∩ piece) / area(cell)

Zones may be nested (a plume's inner zone lies inside the outer one) or overlap. Each person is
counted ONCE, in the most severe zone that holds them: zones are given most severe first, and
zone k keeps only what no earlier zone covers (zone_k minus the union of zones 0…k-1). The outer
zone's figure is therefore the ring outside the inner zone, not the whole disc.

Vectorised with shapely 2: one STRtree over the cells near the footprint, queried with the
zone ∩ township pieces (prepared); a cell wholly inside a piece counts fully with no overlay.
Only the cells crossing a piece's edge are measured: convex cells (the square cells of the
population layer) on arrays from the piece edges in their column (Green's theorem), any other
cell with ``shapely.intersection`` + ``shapely.area``. No Python loop per cell.

All geometries in one projected CRS, metres (the city's Gauss-Krüger zone, EPSG:4548 for Jining).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from numpy.typing import NDArray

from ..partitions import RunPartitions
from . import ScenarioInputError

INASAFE_GENERIC_RATES: dict[str, float] = {"high": 1.0, "medium": 1.0, "low": 0.0}
"""InaSAFE 4.x ``generic_hazard_classes`` displacement rates (safe/definitions/
hazard_classifications.py, inasafe/inasafe commit 1bb2796): everyone in the high and medium zones
is displaced, nobody in the low zone."""

INASAFE_FLOOD_WET_DRY_RATES: dict[str, float] = {"wet": 0.01, "dry": 0.0}
"""InaSAFE 4.x ``flood_hazard_classes`` (same file): 1 % of the people in the wet area are
displaced. (Older InaSAFE flood functions evacuated everyone above a 1.0 m depth threshold.)"""

INASAFE_FLOOD_DEPTH_RATES: dict[str, float] = {"high": 0.05, "medium": 0.03, "low": 0.01, "use_caution": 0.0}
"""InaSAFE 4.x ``flood_petabencana_hazard_classes`` (same file): depth classes > 1.5 m, 0.7–1.5 m,
0.1–0.7 m, unknown; rates "estimated from DMI analysis of historical flood data and IDP numbers"."""

DEFAULT_DISPLACEMENT_RATE = 1.0
"""Everyone inside an evacuation zone leaves home (InaSAFE's generic high/medium classes, and the
safe side when stocking supplies); give a rate per zone for depth classes (see above)."""

_POLYGONAL = (shapely.GeometryType.POLYGON, shapely.GeometryType.MULTIPOLYGON)


@dataclass(frozen=True)
class Impact:
    """Residents and displaced persons of a footprint.

    ``by_township``: one row per township × zone that overlap (adcode, name, zone, residents,
    displaced), zones in severity order; ``by_zone``: zone, residents, displaced and
    ``outside_townships`` (residents of the zone that no township polygon covers, included in
    the zone's residents); ``by_cell``: per population cell (evacuation starts there). Persons,
    as floats (area weighting splits cells)."""

    by_township: pd.DataFrame
    by_zone: pd.DataFrame
    by_cell: pd.DataFrame
    """One row per population cell with anyone inside the footprint: ``cell`` (row position in
    the cells given), residents and displaced inside (all zones together)."""

    @property
    def total_residents(self) -> float:
        return float(self.by_zone["residents"].sum())

    @property
    def total_displaced(self) -> float:
        return float(self.by_zone["displaced"].sum())

    def township_totals(self) -> pd.DataFrame:
        """Residents and displaced per township over all zones (adcode, name, residents, displaced)."""
        grouped = self.by_township.groupby(["adcode", "name"], sort=False, as_index=False)
        return grouped[["residents", "displaced"]].sum()


def residents_in_zones(
    zones: gpd.GeoDataFrame,
    cells: gpd.GeoDataFrame,
    townships: gpd.GeoDataFrame,
    *,
    displacement: float | Mapping[str, float] = DEFAULT_DISPLACEMENT_RATE,
    run_partitions: RunPartitions | None = None,
) -> Impact:
    """Residents per township in each zone of a footprint, area-weighted from population cells.

    With ``run_partitions`` the cells are weighted per county (``gis.partitions``: each county's
    zone ∩ township pieces with the cells under them; the pieces outside every township are one
    more partition), e.g. on a cluster. The answer is the same: overlaps are summed in one order
    (by piece, then cell) either way.

    Parameters
    ----------
    zones
        Column ``zone`` (name) and polygons, most severe first; rows sharing a name are merged.
    cells
        Population cells: column ``persons`` (≥ 0) and polygons (the ``population`` layer).
    townships
        Columns ``adcode`` and ``name`` and polygons (admin areas of level 乡镇街道).
    displacement
        Share of residents displaced (0–1): one rate for every zone, or a rate per zone name
        (e.g. ``INASAFE_FLOOD_DEPTH_RATES`` when the zones are depth classes).

    All three frames in the same projected CRS, metres; a geographic or mismatched CRS raises
    ScenarioInputError, as do missing columns, non-polygons and persons that are not ≥ 0.
    """
    zone_geoms, town_geoms, cell_geoms = (_geometries(f, label, cols) for f, label, cols in ((zones, "zones", ("zone",)), (townships, "townships", ("adcode", "name")), (cells, "cells", ("persons",))))
    if not zones.crs == cells.crs == townships.crs:
        raise ScenarioInputError(f"CRS differ: zones {zones.crs.to_string()}, cells {cells.crs.to_string()}, townships {townships.crs.to_string()}; reproject all to one projected CRS")
    persons = pd.to_numeric(cells["persons"], errors="coerce").to_numpy(dtype=float)
    bad = ~(persons >= 0) | ~np.isfinite(persons)
    if bad.any():
        first = np.flatnonzero(bad)[0]
        raise ScenarioInputError(f"cells: persons must be a number ≥ 0; row {cells.index[first]} has {cells['persons'].iloc[first]!r} ({int(bad.sum())} such rows)")
    names, bands = _severity_bands(zones["zone"].astype(str).to_numpy(), _valid(zone_geoms))
    rates = _rates(displacement, names)
    pieces, piece_zone, piece_town = _pieces(bands, _valid(town_geoms))
    zone_rate = np.array([rates[n] for n in names])
    if run_partitions is None:
        piece, cell, weighted = _weighted_persons(pieces, cell_geoms, persons, cells.index)
    else:
        county = np.where(piece_town >= 0, np.array([str(code)[:6] for code in townships["adcode"]] + [""], dtype=object)[piece_town], "outside")
        piece, cell, weighted = _partitioned_persons(pieces, county, cell_geoms, persons, cells.index, run_partitions)
    in_piece = np.bincount(piece, weights=weighted, minlength=pieces.size).astype(float)
    cell_rows, cell_of = np.unique(cell, return_inverse=True)
    by_cell = pd.DataFrame({
        "cell": cell_rows,
        "residents": np.bincount(cell_of, weights=weighted, minlength=cell_rows.size).astype(float),
        "displaced": np.bincount(cell_of, weights=weighted * zone_rate[piece_zone[piece]], minlength=cell_rows.size).astype(float),
    })
    by_cell = by_cell[by_cell["residents"] > 0].reset_index(drop=True)  # cells that only touch a zone's edge

    # One row per zone × adcode (a township given as several rows is summed), severity then adcode.
    inside = piece_town >= 0
    adcodes, code = np.unique(townships["adcode"].astype(str).to_numpy(), return_inverse=True)
    town_name = townships["name"].to_numpy()[np.unique(code, return_index=True)[1]]
    rows, row_of = np.unique(np.column_stack([piece_zone[inside], code[piece_town[inside]]]), axis=0, return_inverse=True)
    residents = np.bincount(row_of.ravel(), weights=in_piece[inside], minlength=len(rows)).astype(float)
    by_township = pd.DataFrame({"adcode": adcodes[rows[:, 1]], "name": town_name[rows[:, 1]], "zone": names[rows[:, 0]], "residents": residents, "displaced": residents * zone_rate[rows[:, 0]]})
    zone_total = np.bincount(piece_zone, weights=in_piece, minlength=names.size).astype(float)
    outside = np.bincount(piece_zone[~inside], weights=in_piece[~inside], minlength=names.size).astype(float)
    by_zone = pd.DataFrame({"zone": names, "residents": zone_total, "displaced": zone_total * zone_rate, "outside_townships": outside})
    return Impact(by_township, by_zone, by_cell)


def _geometries(frame: gpd.GeoDataFrame, label: str, columns: tuple[str, ...]) -> NDArray[np.object_]:
    """The frame's geometries, once its type, columns and CRS are checked (cells' geometry types
    are checked later, only for the cells near the footprint)."""
    if not isinstance(frame, gpd.GeoDataFrame):
        raise ScenarioInputError(f"{label}: expected a GeoDataFrame, got {type(frame).__name__}")
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ScenarioInputError(f"{label}: missing column(s) {', '.join(missing)}; has {', '.join(map(str, frame.columns))}")
    if frame.crs is None:
        raise ScenarioInputError(f"{label}: no CRS; give the projected CRS in metres (e.g. EPSG:4548)")
    if frame.crs.is_geographic:
        raise ScenarioInputError(f"{label}: CRS {frame.crs.to_string()} is geographic (degrees); reproject to the city's projected CRS in metres (e.g. EPSG:4548) first")
    geoms = np.asarray(frame.geometry.array, dtype=object)
    if label != "cells":
        _check_polygons(geoms, frame.index, label)
    return geoms


def _check_polygons(geoms: NDArray[np.object_], index: pd.Index, label: str) -> None:
    bad = ~np.isin(shapely.get_type_id(geoms), [*_POLYGONAL, shapely.GeometryType.MISSING])
    if bad.any():
        first = np.flatnonzero(bad)[0]
        raise ScenarioInputError(f"{label}: row {index[first]} is a {geoms[first].geom_type}, not a polygon ({int(bad.sum())} such rows)")


def _valid(geoms: NDArray[np.object_]) -> NDArray[np.object_]:
    """Geometries GEOS can overlay: invalid ones (real boundaries often self-intersect slightly)
    are repaired with make_valid; missing ones become empty."""
    missing = shapely.is_missing(geoms)
    broken = ~shapely.is_valid(geoms) & ~missing
    if missing.any() or broken.any():
        geoms = geoms.copy()
        geoms[missing] = shapely.Polygon()
        geoms[broken] = shapely.make_valid(geoms[broken])
    return geoms


def _severity_bands(label: NDArray[np.object_], geoms: NDArray[np.object_]) -> tuple[NDArray[np.object_], NDArray[np.object_]]:
    """Zone names in the order given, and each zone's area not covered by a more severe zone."""
    names = pd.unique(label)
    bands = np.empty(len(names), dtype=object)
    covered: shapely.Geometry = shapely.Polygon()
    for k, name in enumerate(names):
        whole = shapely.union_all(geoms[label == name])
        bands[k] = shapely.difference(whole, covered)
        covered = shapely.union(covered, whole)
    return np.asarray(names, dtype=object), bands


def _rates(displacement: float | Mapping[str, float], names: NDArray[np.object_]) -> dict[str, float]:
    if isinstance(displacement, Mapping):
        missing = [n for n in names if n not in displacement]
        if missing:
            raise ScenarioInputError(f"displacement: no rate for zone(s) {', '.join(missing)}; rates given for {', '.join(map(str, displacement)) or 'none'}")
        rates = {str(n): float(displacement[n]) for n in names}
    else:
        rates = {str(n): float(displacement) for n in names}
    for name, rate in rates.items():
        if not 0.0 <= rate <= 1.0:
            raise ScenarioInputError(f"displacement rate for zone {name!r} must be between 0 and 1, got {rate}")
    return rates


def _pieces(bands: NDArray[np.object_], towns: NDArray[np.object_]) -> tuple[NDArray[np.object_], NDArray[np.int64], NDArray[np.int64]]:
    """Zone band ∩ township pieces (township index ≥ 0), plus per zone the part no township
    covers (township index -1); pieces without area are dropped."""
    zone_of, town_of = shapely.STRtree(towns).query(bands, predicate="intersects")
    pieces = shapely.intersection(bands[zone_of], towns[town_of])
    outside = np.empty(bands.size, dtype=object)
    for k in range(bands.size):
        outside[k] = shapely.difference(bands[k], shapely.union_all(towns[town_of[zone_of == k]]))
    pieces = np.concatenate([pieces, outside])
    zone_of = np.concatenate([zone_of, np.arange(bands.size)])
    town_of = np.concatenate([town_of, np.full(bands.size, -1)])
    keep = shapely.area(pieces) > 0
    return pieces[keep], zone_of[keep].astype(np.int64), town_of[keep].astype(np.int64)


def _weighted_persons(pieces: NDArray[np.object_], geoms: NDArray[np.object_], persons: NDArray[np.float64], index: pd.Index) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.float64]]:
    """Each (piece, cell) overlap with its persons, persons(cell) · area(cell ∩ piece) / area(cell):
    piece positions, cell row positions in ``geoms``, persons."""
    none = (np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0))
    if pieces.size == 0:
        return none
    # Only cells in the pieces' box with people and area enter the tree (a missing cell's area is NaN).
    x0, y0, x1, y1 = shapely.total_bounds(pieces)
    box = shapely.bounds(geoms)
    near = np.flatnonzero((persons > 0) & (box[:, 0] <= x1) & (box[:, 2] >= x0) & (box[:, 1] <= y1) & (box[:, 3] >= y0))
    _check_polygons(geoms[near], index[near], "cells")
    near = near[shapely.area(geoms[near]) > 0]
    if near.size == 0:
        return none
    persons, geoms = persons[near], geoms[near]
    shapely.prepare(pieces)
    piece, cell = shapely.STRtree(geoms).query(pieces, predicate="intersects")
    share = np.ones(piece.size)
    crossing = ~shapely.contains_properly(pieces[piece], geoms[cell])
    share[crossing] = _crossing_shares(pieces, piece[crossing], geoms[cell[crossing]])
    order = np.lexsort((near[cell], piece))  # by piece, then cell: the order every sum takes, however the cells were split
    return piece[order].astype(np.int64), near[cell][order].astype(np.int64), (persons[cell] * share)[order]


@dataclass(frozen=True)
class _PiecesTask:
    """One county's pieces (their positions among all pieces) and the cells in their box."""

    label: str
    piece_rows: NDArray[np.int64]
    pieces: NDArray[np.object_]
    cell_rows: NDArray[np.int64]
    cells: NDArray[np.object_]
    persons: NDArray[np.float64]
    index: pd.Index


def _persons_of(task: _PiecesTask) -> tuple[_PiecesTask, tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.float64]]]:
    return task, _weighted_persons(task.pieces, task.cells, task.persons, task.index)


def _partitioned_persons(pieces: NDArray[np.object_], county: NDArray[np.object_], geoms: NDArray[np.object_], persons: NDArray[np.float64], index: pd.Index,
                         run_partitions: RunPartitions) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.float64]]:
    """``_weighted_persons`` per county of the pieces, stitched in the same order."""
    tasks = []
    box = shapely.bounds(geoms)
    for label in sorted(set(county.tolist())):
        rows = np.flatnonzero(county == label)
        x0, y0, x1, y1 = shapely.total_bounds(pieces[rows])
        near = np.flatnonzero((box[:, 0] <= x1) & (box[:, 2] >= x0) & (box[:, 1] <= y1) & (box[:, 3] >= y0))
        tasks.append(_PiecesTask(str(label), rows, pieces[rows], near, geoms[near], persons[near], index[near]))
    parts = [(task.piece_rows[p], task.cell_rows[c], w) for task, (p, c, w) in run_partitions(_persons_of, tasks)]
    if not parts:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0)
    piece, cell, weighted = (np.concatenate([part[i] for part in parts]) for i in range(3))
    order = np.lexsort((cell, piece))
    return piece[order].astype(np.int64), cell[order].astype(np.int64), weighted[order]


def _crossing_shares(pieces: NDArray[np.object_], piece: NDArray[np.int64], cells: NDArray[np.object_]) -> NDArray[np.float64]:
    """area(cell ∩ piece) / area(cell) for cells crossing a piece's edge.

    Written here rather than left to shapely.intersection: GEOS's overlay costs ≈ 15 µs a call
    whatever the sizes, which alone holds the speed-up over geopandas.overlay near 3×. For a
    convex cell the overlap is a sum over the piece's edges in the cell's column (Green's
    theorem, see _overlap_areas), done on arrays. Non-convex or odd cells still go to GEOS."""
    quads, convex = _convex_quads(cells)
    share = np.empty(cells.size)
    area = shapely.area(cells)
    odd = ~convex
    share[odd] = shapely.area(shapely.intersection(_valid(cells[odd]), pieces[piece[odd]])) / area[odd]
    share[convex] = _overlap_areas(pieces, piece[convex], quads[convex]) / area[convex]
    return share


def _convex_quads(cells: NDArray[np.object_]) -> tuple[NDArray[np.float64], NDArray[np.bool_]]:
    """Each cell's four corners, counter-clockwise (k, 4, 2), and whether it is a convex
    quadrilateral (a polygon of 5 coordinates, no hole)."""
    simple = (shapely.get_type_id(cells) == shapely.GeometryType.POLYGON) & (shapely.get_num_coordinates(cells) == 5)
    simple &= shapely.get_num_interior_rings(cells) == 0
    quads = np.zeros((cells.size, 4, 2))
    quads[simple] = shapely.get_coordinates(cells[simple]).reshape(-1, 5, 2)[:, :4]
    edge = np.roll(quads, -1, axis=1) - quads
    turn = edge[:, :, 0] * np.roll(edge[:, :, 1], -1, axis=1) - edge[:, :, 1] * np.roll(edge[:, :, 0], -1, axis=1)
    clockwise = turn.sum(axis=1) < 0
    quads[clockwise] = quads[clockwise][:, ::-1]
    turn[clockwise] = -turn[clockwise]
    return quads, simple & (turn >= 0).all(axis=1) & (turn.sum(axis=1) > 0)


def _piece_edges(pieces: NDArray[np.object_]) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.int64]]:
    """Start and end points of every ring edge of the pieces' polygons (exteriors counter-
    clockwise, holes clockwise), and the piece each belongs to."""
    parts, owner = shapely.get_parts(pieces, return_index=True)
    while (multi := shapely.get_type_id(parts) >= shapely.GeometryType.MULTIPOINT).any():
        inner, at = shapely.get_parts(parts[multi], return_index=True)
        parts, owner = np.concatenate([parts[~multi], inner]), np.concatenate([owner[~multi], owner[multi][at]])
    polygon = shapely.get_type_id(parts) == shapely.GeometryType.POLYGON
    rings, ring_owner = shapely.get_rings(shapely.orient_polygons(parts[polygon]), return_index=True)
    xy, ring = shapely.get_coordinates(rings, return_index=True)
    same = ring[1:] == ring[:-1]
    return xy[:-1][same], xy[1:][same], owner[polygon][ring_owner][ring[:-1][same]]


def _overlap_areas(pieces: NDArray[np.object_], piece: NDArray[np.int64], quads: NDArray[np.float64], *, chunk: int = 20_000) -> NDArray[np.float64]:
    """area(quad ∩ piece) for convex counter-clockwise quads (k, 4, 2).

    By Green's theorem area(Q ∩ P) = -Σ_edges sgn(dx) ∫ (clamp(e(x), lo(x), up(x)) - lo(x)) dx
    over the edge's x-range within the quad, where e is the edge's line and lo/up the quad's
    lower and upper boundary (the max of its left-to-right sides' lines, the min of the
    others'). Only edges in the quad's column (from its bottom up) take part. The integrand is
    linear between the candidate break points (range ends, corners' x, where e meets a side's
    line), so the trapezoid rule over the sorted candidates is exact."""
    a, b, edge_piece = _piece_edges(pieces)
    low, high = quads.min(axis=1), quads.max(axis=1)
    column = shapely.box(low[:, 0], low[:, 1], high[:, 0], max(a[:, 1].max(), b[:, 1].max()) + 1.0)
    pair, e = shapely.STRtree(np.asarray(shapely.linestrings(np.stack([a, b], axis=1)), dtype=object)).query(column)
    keep = (edge_piece[e] == piece[pair]) & (a[e, 0] != b[e, 0])
    pair, e = pair[keep], e[keep]
    order = np.lexsort((e, pair))  # each quad's edges in one order, so its sum does not depend on the tree or the chunks
    pair, e = pair[order], e[order]
    contribution = np.zeros(pair.size)
    for s in range(0, pair.size, chunk):
        k, j = pair[s : s + chunk], e[s : s + chunk]
        origin = quads[k, 0]  # each quad's own frame keeps the digits
        v = quads[k] - origin[:, None, :]
        p, q = a[j] - origin, b[j] - origin
        run = np.roll(v, -1, axis=1)[:, :, 0] - v[:, :, 0]
        side = np.divide(np.roll(v, -1, axis=1)[:, :, 1] - v[:, :, 1], run, out=np.zeros_like(run), where=run != 0)
        slope = (q[:, 1] - p[:, 1]) / (q[:, 0] - p[:, 0])
        left = np.maximum(np.minimum(p[:, 0], q[:, 0]), v[:, :, 0].min(axis=1))[:, None]
        right = np.minimum(np.maximum(p[:, 0], q[:, 0]), v[:, :, 0].max(axis=1))[:, None]
        gap = slope[:, None] - side
        meet = np.divide(v[:, :, 1] - p[:, 1, None] + slope[:, None] * p[:, 0, None] - side * v[:, :, 0], gap, out=np.broadcast_to(left, gap.shape).copy(), where=gap != 0)
        xs = np.sort(np.minimum(np.maximum(np.concatenate([left, right, v[:, :, 0], meet], axis=1), left), right), axis=1)
        lo, up = np.full(xs.shape, -np.inf), np.full(xs.shape, np.inf)
        for n in range(4):  # four (k, 10) passes: numpy reduces a last axis of 4 slowly
            line = v[:, n, 1, None] + side[:, n, None] * (xs - v[:, n, 0, None])
            lo = np.where(run[:, n, None] > 0, np.maximum(lo, line), lo)
            up = np.where(run[:, n, None] < 0, np.minimum(up, line), up)
        height = np.maximum(0.0, np.minimum(p[:, 1, None] + slope[:, None] * (xs - p[:, 0, None]), up) - lo)
        integral = 0.5 * (np.diff(xs, axis=1) * (height[:, 1:] + height[:, :-1])).sum(axis=1)
        contribution[s : s + chunk] = -np.sign(q[:, 0] - p[:, 0]) * integral
    return np.bincount(pair, weights=contribution, minlength=quads.shape[0]).astype(float)
