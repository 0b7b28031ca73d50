"""Service areas (isochrones): how far a driver gets from one point within each band of minutes,
as kilometres of road and as the area around those roads.

One Dijkstra per origin serves every band. The roads reached in the largest band are sampled
once, each sample with the seconds it takes to reach it; a band's area is then the samples within
its budget, gridded and traced (``gis.reach_outline``). Metres and seconds inside, in the graph's
projected CRS; kilometres, minutes and EPSG:4326 in the result.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import shapely
from geopandas.array import from_shapely
from numpy.typing import NDArray
from shapely.geometry.base import BaseGeometry

from .crs import STORE_CRS, STORE_EPSG, to_lonlat, to_metric
from .network import RoadGraph
from .reach_outline import reach_outlines
from .routing import DEFAULT_MAX_SNAP_M, RoutingError, arc_time_s, snap_points, time_field


def _merged_intervals(intervals: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """Overlapping [start, end] intervals (fractions of an edge) merged, sorted."""
    merged: list[tuple[float, float]] = []
    for a, b in sorted(i for i in intervals if i[1] > i[0]):
        if merged and a <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], b))
        else:
            merged.append((a, b))
    return merged


@dataclass(frozen=True)
class _NearEdges:
    """The edges a driver can enter within the largest budget, and the origin's own: the band
    arithmetic runs on these few thousand instead of the whole graph. Per edge: its index in the
    graph, the seconds to drive it, to reach its u end and its v end (inf: not reached, closed,
    or, for the v end, one-way), its length (metres) and geometry (the graph's CRS)."""

    index: NDArray[np.int64]
    seconds: NDArray[np.float64]
    start_u: NDArray[np.float64]
    start_v: NDArray[np.float64]
    length_m: NDArray[np.float64]
    geometry: NDArray[np.object_]

    @classmethod
    def within(cls, graph: RoadGraph, node_s: NDArray[np.float64], limit_s: float, closed: NDArray[np.bool_] | None, origin_edge: int) -> _NearEdges:
        usable = np.ones(graph.edge_count, bool) if closed is None else ~closed
        start_u = np.where(usable, node_s[graph.edge_u], np.inf)
        start_v = np.where(usable & ~graph.edge_oneway, node_s[graph.edge_v], np.inf)
        index = np.union1d(np.flatnonzero((start_u <= limit_s) | (start_v <= limit_s)), [origin_edge])
        return cls(index, graph.edge_time_s[index], start_u[index], start_v[index], graph.edge_length_m[index], graph.edge_geometry[index])

    def local(self, edge: int) -> int:
        """Where a graph edge (one of these) is among them."""
        return int(np.searchsorted(self.index, edge))


def reached_fractions(edges: _NearEdges, budget_s: float) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """How far along each edge a driver gets within ``budget_s``: from the u end towards v (any
    edge) and from the v end back towards u (two-way edges), as fractions 0-1 of the edge. Closed
    edges: 0.

    Counted per edge, not per arc, so a road that lost its arc to a faster parallel one still
    counts, and each stretch is counted once (the two ends' intervals are [0, f] and [1 - b, 1]).
    """
    seconds = edges.seconds
    from_u, from_v = np.zeros(seconds.size), np.zeros(seconds.size)
    for out, start in ((from_u, edges.start_u), (from_v, edges.start_v)):
        ok = start <= budget_s  # inf (not reached, closed, one-way) never is
        instant = ok & (seconds <= 0)
        timed = ok & (seconds > 0)
        out[instant] = 1.0
        out[timed] = np.minimum((budget_s - start[timed]) / seconds[timed], 1.0)
    return from_u, from_v


class _Origin:
    """The origin's own edge and the seconds of each of its two directions (inf: none)."""

    def __init__(self, graph: RoadGraph, edges: _NearEdges, edge: int, fraction: float, closed: NDArray[np.bool_] | None) -> None:
        self.edge, self.fraction = edges.local(edge), fraction  # among ``edges``
        self.forward_s = arc_time_s(graph, edge, True, closed)
        self.backward_s = arc_time_s(graph, edge, False, closed)

    def pieces(self, budget_s: float, from_u: float, from_v: float) -> list[tuple[float, float]]:
        """The stretches of the own edge reached within ``budget_s`` (fractions, merged): driven
        both ways from the point itself, besides from its two ends."""
        own = [(0.0, from_u), (1.0 - from_v, 1.0)]
        for forward, seconds in ((True, self.forward_s), (False, self.backward_s)):
            if np.isfinite(seconds):
                share = 1.0 if seconds <= 0 else min(budget_s / seconds, 1.0)
                own.append((self.fraction, min(self.fraction + share, 1.0)) if forward else (max(self.fraction - share, 0.0), self.fraction))
        return _merged_intervals(own)


def _reached_m(edges: _NearEdges, reach: tuple[NDArray[np.float64], NDArray[np.float64]], budget_s: float, origin: _Origin) -> float:
    """Metres of road geometry reached within ``budget_s``, each stretch once, given its
    ``reached_fractions``."""
    lengths = edges.length_m  # the geometry's own length, as reached_km counts it
    from_u, from_v = reach[0].copy(), reach[1].copy()
    own = origin.pieces(budget_s, float(from_u[origin.edge]), float(from_v[origin.edge]))
    from_u[origin.edge] = from_v[origin.edge] = 0.0
    full = from_u + from_v >= 1.0  # the two ends' stretches meet
    partial_u, partial_v = ~full & (from_u > 0), ~full & (from_v > 0)
    reached = float(lengths[full].sum() + (from_u[partial_u] * lengths[partial_u]).sum() + (from_v[partial_v] * lengths[partial_v]).sum())
    return reached + sum(b - a for a, b in own) * float(lengths[origin.edge])


def line_samples(lines: NDArray[np.object_], step_m: float) -> tuple[NDArray[np.float64], NDArray[np.int64], NDArray[np.float64]]:
    """Points along each whole line no farther than ``step_m`` apart, both ends included (metres):
    their x/y, the line each lies on and its position there (fraction of the line's length).

    Interpolated with numpy over every segment at once: cutting the lines with shapely and
    densifying them with GEOS cost ten times more."""
    if lines.size == 0:
        return np.zeros((0, 2)), np.zeros(0, np.int64), np.zeros(0)
    coords, part = shapely.get_coordinates(lines, return_index=True)
    same = part[1:] == part[:-1]
    a, b, owner = coords[:-1][same], coords[1:][same], part[1:][same]
    seg = np.hypot(*(b - a).T)
    length = np.bincount(owner, weights=seg, minlength=lines.size)
    before = np.cumsum(seg) - seg  # distance from the first segment of all to each segment's start
    first = np.full(lines.size, np.inf)
    np.minimum.at(first, owner, before)  # where each line's first segment starts
    along = before - first[owner]  # distance from its own line's start
    steps = np.maximum(np.ceil(seg / step_m).astype(np.int64), 1)
    index = np.repeat(np.arange(seg.size), steps)
    t = (np.arange(index.size) - np.repeat(np.cumsum(steps) - steps, steps)) / steps[index]
    xy = a[index] + t[:, None] * (b[index] - a[index])
    of = owner[index]
    position = (along[index] + t * seg[index]) / np.where(length[of] > 0, length[of], 1.0)
    last = np.flatnonzero(np.r_[part[1:] != part[:-1], True])  # each line's last vertex
    return np.vstack([xy, coords[last]]), np.concatenate([of, part[last]]), np.concatenate([position, np.ones(last.size)])


def _sample_seconds(edges: _NearEdges, edge: NDArray[np.int64], position: NDArray[np.float64], origin: _Origin) -> NDArray[np.float64]:
    """Seconds from the origin to points at ``position`` (fraction) along ``edge`` (among
    ``edges``): the faster of entering from the u end, from the v end (two-way edges) and, on the
    origin's own edge, driving from the point itself."""
    seconds = edges.seconds[edge]
    best = np.minimum(edges.start_u[edge] + position * seconds, edges.start_v[edge] + (1.0 - position) * seconds)
    own = edge == origin.edge
    ahead, behind = position - origin.fraction, origin.fraction - position
    with np.errstate(invalid="ignore"):  # 0 × inf where a direction is missing: masked out below
        forward = np.where(own & (ahead >= 0) & np.isfinite(origin.forward_s), ahead * origin.forward_s, np.inf)
        backward = np.where(own & (behind >= 0) & np.isfinite(origin.backward_s), behind * origin.backward_s, np.inf)
    return np.minimum(best, np.minimum(forward, backward))


def _cut_points(edges: _NearEdges, reach: tuple[NDArray[np.float64], NDArray[np.float64]], budget_s: float, origin: _Origin) -> NDArray[np.float64]:
    """Where each partly reached edge stops being reached within ``budget_s`` (x/y, metres), given
    its ``reached_fractions``: the exact ends of the reach, which the samples only approach to
    within a step."""
    from_u, from_v = reach
    cut_u = np.flatnonzero((from_u > 0) & (from_u < 1))
    cut_v = np.flatnonzero((from_v > 0) & (from_v < 1))
    cut, positions = [cut_u, cut_v], [from_u[cut_u], 1.0 - from_v[cut_v]]
    for seconds, sign in ((origin.forward_s, 1.0), (origin.backward_s, -1.0)):
        if np.isfinite(seconds) and seconds > 0 and budget_s < seconds:
            cut.append(np.array([origin.edge]))
            positions.append(np.clip([origin.fraction + sign * budget_s / seconds], 0.0, 1.0))
    edge = np.concatenate(cut)
    points = shapely.line_interpolate_point(edges.geometry[edge], np.concatenate(positions), normalized=True)
    return shapely.get_coordinates(points)


def service_areas(
    graph: RoadGraph,
    origins: gpd.GeoSeries,
    *,
    minutes: Sequence[float] = (5, 10, 15),
    closed: NDArray[np.bool_] | None = None,
    buffer_m: float = 100.0,
    max_snap_m: float = DEFAULT_MAX_SNAP_M,
) -> gpd.GeoDataFrame:
    """Isochrones: for each origin (points, any CRS) and band, the area reached by driving out
    within that many minutes, drawn from the reached road lengths (partial edges cut at the exact
    reach) widened by about ``buffer_m`` (see ``gis.reach_outline``). Returns origin, minutes,
    reached_km (km of road geometry reached, each stretch once) and the polygon (EPSG:4326)."""
    bands = sorted(float(m) for m in minutes)
    if not bands or bands[0] <= 0:
        raise RoutingError(f"minutes must be positive, got {list(minutes)}")
    points = to_metric(np.asarray(origins.to_crs(STORE_EPSG).array, dtype=object), epsg=graph.epsg)
    snaps = snap_points(graph, points, closed=closed, max_snap_m=max_snap_m)
    columns: dict[str, list[float]] = {"origin": [], "minutes": [], "reached_km": []}
    outlines_m: list[BaseGeometry] = []
    for i in range(len(points)):
        if snaps.edge[i] < 0:
            raise RoutingError(f"origin {i + 1} is more than {max_snap_m:g} m from any open road")
        budgets = [band * 60.0 for band in bands]
        node_s = time_field(graph, snaps, i, toward=False, closed=closed, limit=budgets[-1]).time
        edges = _NearEdges.within(graph, node_s, budgets[-1], closed, int(snaps.edge[i]))
        origin = _Origin(graph, edges, int(snaps.edge[i]), float(snaps.fraction[i]), closed)
        reaches = [reached_fractions(edges, budget) for budget in budgets]
        from_u, from_v = reaches[-1]
        touched = np.union1d(np.flatnonzero((from_u > 0) | (from_v > 0)), [origin.edge])
        xy, owner, position = line_samples(edges.geometry[touched], buffer_m / 2)
        seconds = _sample_seconds(edges, touched[owner], position, origin)
        cuts = [_cut_points(edges, reach, budget, origin) for reach, budget in zip(reaches, budgets, strict=True)]
        # Each band's exact cut points are reached at exactly its budget.
        samples_xy = np.vstack([xy, *cuts])
        samples_s = np.concatenate([seconds, *(np.full(len(c), budget) for c, budget in zip(cuts, budgets, strict=True))])
        outlines = reach_outlines(samples_xy, samples_s, budgets, buffer_m)
        for band, budget, reach in zip(bands, budgets, reaches, strict=True):
            columns["origin"].append(i + 1)
            columns["minutes"].append(band)
            columns["reached_km"].append(_reached_m(edges, reach, budget, origin) / 1000.0)
        outlines_m.extend(outlines)
    # Built from columns, reprojected by the cached transformer: a frame from a list of row dicts
    # and GeoDataFrame.to_crs cost more than the Dijkstra.
    outlines_lonlat = to_lonlat(np.asarray(outlines_m, dtype=object), epsg=graph.epsg)
    return gpd.GeoDataFrame(columns, geometry=from_shapely(outlines_lonlat, crs=STORE_CRS))
