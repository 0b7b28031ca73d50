"""Routing on a ``RoadGraph``: who gets to an incident first, and by which road, and the nearest
facility of every junction (service areas: ``gis.service_areas``).

Points are snapped to the nearest *edge* (not node): a trip starts and ends at the projected point,
and the part of the edge travelled counts, at the edge's speed. Resources travel TO the incident,
so "time from every junction to the incident" is one Dijkstra on the reversed graph. Times are
seconds inside, minutes in results; distances metres inside, kilometres in results.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
import shapely.geometry
import shapely.ops
from geopandas.array import from_shapely
from numpy.typing import NDArray
from scipy.sparse.csgraph import dijkstra
from shapely.geometry.base import BaseGeometry

from .crs import STORE_CRS, to_lonlat, to_metric
from .network import RoadGraph

DEFAULT_MAX_SNAP_M = 2000.0
_NO_NODE = -9999  # scipy's "no predecessor"


class RoutingError(ValueError):
    """A routing request that cannot be answered as asked (point off the network, bad input)."""


@dataclass(frozen=True)
class Snaps:
    """Points snapped to edges: edge number, fraction along its drawn direction, distance (m),
    and the snapped point (metric CRS)."""

    edge: NDArray[np.int64]
    fraction: NDArray[np.float64]
    distance_m: NDArray[np.float64]
    point: NDArray[np.object_]

    def __len__(self) -> int:
        return int(self.edge.size)


def snap_xy(graph: RoadGraph, xy: NDArray[np.float64], *, closed: NDArray[np.bool_] | None = None, max_snap_m: float = DEFAULT_MAX_SNAP_M,
            with_points: bool = True) -> Snaps:
    """Snap metric coordinates (n, 2) to their nearest open edge (``closed``: a mask of edges; see
    ``RoadGraph.nearest_edges``). Points farther than ``max_snap_m`` from every open edge get edge
    -1 (the caller reports them); so do coordinates that are not finite (a point the work CRS
    cannot project). Among equally near edges (a point nearest to a junction) the lowest edge
    number wins, for repeatability. Without ``with_points`` the snapped points are not built
    (None).

    With closures, only the points whose nearest edge is closed are snapped again, among the open
    edges within ``max_snap_m`` (``EdgeIndex.nearest_open``: the same arithmetic, so the others
    keep the answer they have without closures)."""
    xy = np.asarray(xy, dtype=float).reshape(-1, 2)
    finite = np.isfinite(xy).all(axis=1)
    edge = np.full(len(xy), -1, dtype=np.int64)
    fraction, distance, snapped_xy = np.zeros(len(xy)), np.full(len(xy), np.inf), np.full((len(xy), 2), np.nan)
    if finite.any():
        edge[finite], fraction[finite], distance[finite], snapped_xy[finite] = graph.nearest_edges(xy[finite], max_snap_m)
    if closed is not None and closed.any():
        again = np.flatnonzero(edge >= 0)
        again = again[closed[edge[again]]]
        if again.size:
            edge[again], fraction[again], distance[again], snapped_xy[again] = graph.edge_index.nearest_open(xy[again], max_snap_m, closed)
    have = edge >= 0
    snapped = np.full(edge.size, None, dtype=object)
    if with_points and have.any():
        snapped[have] = shapely.points(snapped_xy[have])
    return Snaps(edge=edge, fraction=fraction, distance_m=np.where(have, distance, np.nan), point=snapped)


def snap_points(graph: RoadGraph, points: NDArray[np.object_], *, closed: NDArray[np.bool_] | None = None, max_snap_m: float = DEFAULT_MAX_SNAP_M) -> Snaps:
    """``snap_xy`` of metric points."""
    return snap_xy(graph, shapely.get_coordinates(points).reshape(-1, 2), closed=closed, max_snap_m=max_snap_m)


def closed_edges(graph: RoadGraph, *, polygons: Sequence[BaseGeometry] = (), edge_ids: Sequence[str] = ()) -> NDArray[np.bool_]:
    """Mask of edges cut by closure polygons (metric CRS) or named by source id.

    Raises ``RoutingError`` for a closure that is not a polygon or an unknown edge id.
    """
    for geometry in polygons:
        if geometry is None or geometry.geom_type not in ("Polygon", "MultiPolygon"):
            kind = "nothing" if geometry is None else geometry.geom_type
            raise RoutingError(f"closures must be polygons (a flooded or collapsed area), got {kind}")
    mask = graph.edges_intersecting(np.asarray(list(polygons), dtype=object))
    if len(edge_ids):
        known = pd.Index(graph.edge_source_id)
        positions = known.get_indexer(pd.Index(list(edge_ids)))
        unknown = [e for e, p in zip(edge_ids, positions, strict=True) if p < 0]
        if unknown:
            raise RoutingError(f"closed edge ids not in the network: {unknown[:10]}")
        mask[positions] = True
    return mask


# --- the core: times to or from one snapped point --------------------------------------------


def part_seconds(share: float, seconds: float) -> float:
    """``share`` of an edge's ``seconds``. A point at the very end of the edge (share 0) is at the
    junction itself: 0, even when that direction is one-way or cut. Otherwise inf stays inf."""
    if share == 0.0:
        return 0.0
    return share * seconds if np.isfinite(seconds) else np.inf


def arc_time_s(graph: RoadGraph, edge: int, forward: bool, closed: NDArray[np.bool_] | None) -> float:
    """Travel time of an edge in one direction, or inf when that direction does not exist or is closed."""
    if not forward and graph.edge_oneway[edge]:
        return np.inf
    if closed is not None and closed[edge]:
        return np.inf
    return float(graph.edge_time_s[edge])


@dataclass(frozen=True)
class TimeField:
    """Times between the junctions and one snapped point, via the two ends of its edge: of every
    junction, or (a search bounded by time) of the junctions it could reach, the rest at inf."""

    searched_s: NDArray[np.float64]  # seconds between each searched junction and the point (inf: unreachable or beyond the limit)
    next_node: NDArray[np.integer[Any]]  # per searched junction, the next junction towards the point; node_count: the point (virtual); _NO_NODE
    u: int  # the point's edge ends
    v: int
    nodes: NDArray[np.int64] | None  # the searched junctions' numbers, sorted; None: every junction, in order
    node_count: int

    def times(self, junctions: NDArray[np.int64]) -> NDArray[np.float64]:
        """Seconds between each of ``junctions`` and the point (inf: not reached)."""
        if self.nodes is None:
            return self.searched_s[junctions]
        if not self.nodes.size:
            return np.full(np.shape(junctions), np.inf)
        at = np.minimum(np.searchsorted(self.nodes, junctions), self.nodes.size - 1)
        return np.where(self.nodes[at] == junctions, self.searched_s[at], np.inf)

    def next_junction(self, junction: int) -> int:
        """The junction after ``junction`` on its fastest path (``node_count``: the point; _NO_NODE: none)."""
        if self.nodes is None:
            return int(self.next_node[junction])
        at = int(np.searchsorted(self.nodes, junction))
        return int(self.next_node[at]) if at < self.nodes.size and self.nodes[at] == junction else _NO_NODE

    @property
    def time(self) -> NDArray[np.float64]:
        """Seconds for every junction (inf: not reached): an array as long as the graph's."""
        if self.nodes is None:
            return self.searched_s
        every = np.full(self.node_count, np.inf)
        every[self.nodes] = self.searched_s
        return every


def time_field(graph: RoadGraph, snaps: Snaps, index: int, *, toward: bool, closed: NDArray[np.bool_] | None, limit: float) -> TimeField:
    """Dijkstra from the point's edge ends. ``toward``: times from junctions TO the point (reverse
    graph). With a finite ``limit`` (s) only the junctions within its reach are searched
    (``gis.local_search``: exact, and much cheaper on a large graph)."""
    edge = int(snaps.edge[index])
    fraction = float(snaps.fraction[index])
    forward_time = arc_time_s(graph, edge, True, closed)
    backward_time = arc_time_s(graph, edge, False, closed)
    if toward:  # arrive at the point along the edge: from u forwards, or from v backwards
        offset_u, offset_v = part_seconds(fraction, forward_time), part_seconds(1 - fraction, backward_time)
    else:  # leave the point along the edge: to v forwards, or to u backwards
        offset_u, offset_v = part_seconds(fraction, backward_time), part_seconds(1 - fraction, forward_time)
    u, v = int(graph.edge_u[edge]), int(graph.edge_v[edge])
    n = graph.node_count
    # One search from a virtual node standing for the point, with arcs to u and v.
    with graph.search_lock:
        bounded = None
        if np.isfinite(limit):
            place = shapely.get_coordinates(shapely.line_interpolate_point(graph.edge_geometry[edge], fraction, normalized=True))[0]
            bounded = graph.bounded_source(reverse=toward, xy=(float(place[0]), float(place[1])), limit=limit, ends=(u, v), seconds=(offset_u, offset_v), closed_edges=closed)
        if bounded is None:
            matrix = graph.with_virtual_source(reverse=toward, ends=(u, v), seconds=(offset_u, offset_v), closed_edges=closed)
            dist, pred = dijkstra(matrix, directed=True, indices=n, return_predecessors=True, limit=limit)
            return TimeField(dist[:n], pred, u, v, None, n)
        matrix, nodes = bounded
    k = nodes.size
    dist, pred = dijkstra(matrix, directed=True, indices=k, return_predecessors=True, limit=limit)
    pred = pred[:k].astype(np.int64)
    # local numbers → the graph's: the virtual node k is the graph's n, no predecessor stays so
    following = np.where(pred == k, n, np.where(pred < 0, _NO_NODE, nodes[np.clip(pred, 0, max(k - 1, 0))]))
    return TimeField(dist[:k], following, u, v, nodes, n)


def _same_edge_time(graph: RoadGraph, edge: int, start: float, end: float, closed: NDArray[np.bool_] | None) -> float:
    """Time along one edge from fraction ``start`` to fraction ``end``, inf when not allowed."""
    if end >= start:
        return part_seconds(end - start, arc_time_s(graph, edge, True, closed))
    return part_seconds(start - end, arc_time_s(graph, edge, False, closed))


# --- nearest resources -----------------------------------------------------------------------


@dataclass(frozen=True)
class Trip:
    """How one resource reaches the target: total seconds and the path in junctions."""

    seconds: float
    nodes: list[int]  # junctions in travel order (empty: along one edge)
    depart_to_v: bool  # the resource leaves along its edge towards the edge's end node
    arrive_from_u: bool  # the trip reaches the target from its edge's start node


def _trip_to(graph: RoadGraph, target: Snaps, target_index: int, source: Snaps, source_index: int, field: TimeField, closed: NDArray[np.bool_] | None) -> Trip:
    edge = int(source.edge[source_index])
    fraction = float(source.fraction[source_index])
    options: list[tuple[float, int, bool]] = []  # (seconds, first junction, departs towards v)
    to_v = part_seconds(1 - fraction, arc_time_s(graph, edge, True, closed))
    to_u = part_seconds(fraction, arc_time_s(graph, edge, False, closed))
    for junction, leave, towards_v in ((int(graph.edge_v[edge]), to_v, True), (int(graph.edge_u[edge]), to_u, False)):
        if np.isfinite(leave):
            options.append((leave + float(field.times(np.array([junction]))[0]), junction, towards_v))
    best = min(options, default=(np.inf, -1, True))
    direct = np.inf
    if edge == int(target.edge[target_index]):
        direct = _same_edge_time(graph, edge, fraction, float(target.fraction[target_index]), closed)
    if direct <= best[0]:
        return Trip(direct, [], direct == np.inf or target.fraction[target_index] >= fraction, True)
    if not np.isfinite(best[0]):
        return Trip(np.inf, [], True, True)
    junction = best[1]
    virtual = graph.node_count
    nodes = [junction]
    while (following := field.next_junction(nodes[-1])) not in (virtual, _NO_NODE):
        nodes.append(following)
    return Trip(best[0], nodes, best[2], nodes[-1] == field.u)


def _piece(line: shapely.LineString, start: float, end: float) -> NDArray[np.float64]:
    """Coordinates of a line from fraction ``start`` to fraction ``end`` of its length (reversed
    when end < start). numpy rather than shapely.ops.substring, which is pure Python and was the
    largest cost of a nearest query."""
    coords = shapely.get_coordinates(line)
    if start > end:
        return _piece(line, end, start)[::-1]
    steps = np.hypot(*np.diff(coords, axis=0).T)
    along = np.concatenate([[0.0], np.cumsum(steps)])
    total = along[-1]
    if total == 0:
        return coords[:1]
    a, b = start * total, end * total
    inner = coords[(along > a) & (along < b)]
    ends = np.array([a, b])
    first, last = np.column_stack([np.interp(ends, along, coords[:, 0]), np.interp(ends, along, coords[:, 1])])
    return np.vstack([first, inner, last])


def trip_geometry(graph: RoadGraph, trip: Trip, source: Snaps, source_index: int, target: Snaps, target_index: int) -> shapely.LineString:
    """The route of a trip as one LineString in the metric CRS, from the source point to the target."""
    s_edge, s_frac = int(source.edge[source_index]), float(source.fraction[source_index])
    t_edge, t_frac = int(target.edge[target_index]), float(target.fraction[target_index])
    if not trip.nodes:
        return shapely.LineString(_piece(graph.edge_geometry[s_edge], s_frac, t_frac))
    parts = [_piece(graph.edge_geometry[s_edge], s_frac, 1.0 if trip.depart_to_v else 0.0)]
    path = np.asarray(trip.nodes, dtype=np.int64)
    arcs = graph.arcs_between(path[:-1], path[1:])
    if arcs.size:
        lines = graph.edge_geometry[graph.arc_edge[arcs]]
        oriented = np.where(graph.arc_forward[arcs], lines, shapely.reverse(lines))  # in travel direction
        parts.append(shapely.get_coordinates(oriented))
    parts.append(_piece(graph.edge_geometry[t_edge], 0.0 if trip.arrive_from_u else 1.0, t_frac))
    coords = np.concatenate([p for p in parts if len(p)])
    keep = np.ones(len(coords), bool)
    keep[1:] = np.any(np.abs(np.diff(coords, axis=0)) > 1e-9, axis=1)
    coords = coords[keep]
    if len(coords) == 1:
        coords = np.vstack([coords, coords])
    return shapely.LineString(coords)


@dataclass
class ResourceIndex:
    """Facilities snapped once (per graph) for repeated nearest queries."""

    resources: gpd.GeoDataFrame  # resource_id, layer, name, geometry (any CRS)
    snaps: Snaps

    def __post_init__(self) -> None:
        # Plain arrays: a query must not walk pandas columns.
        self.ids = self.resources["resource_id"].to_numpy(dtype=object)
        self.names = self.resources["name"].to_numpy(dtype=object)
        self.layer_of = self.resources["layer"].to_numpy(dtype=object)
        self.layers = list(dict.fromkeys(self.layer_of))
        self.members = {layer: np.flatnonzero(self.layer_of == layer) for layer in self.layers}  # each layer's rows
        self.xy = np.full((len(self.snaps), 2), np.nan)  # where each is snapped to (metres; nan: off the roads)
        on = self.snaps.edge >= 0
        if on.any():
            self.xy[on] = shapely.get_coordinates(self.snaps.point[on])


def index_resources(graph: RoadGraph, resources: gpd.GeoDataFrame, *, max_snap_m: float = DEFAULT_MAX_SNAP_M) -> ResourceIndex:
    """Snap facilities (columns ``resource_id``, ``layer``, ``name``) to their nearest road.

    Closures play no part here: a station whose own road is cut is stuck (reported unreachable),
    not moved to the nearest dry road; so one index serves every closure set.
    """
    points = np.asarray(resources.to_crs(graph.epsg).geometry.array, dtype=object)
    return ResourceIndex(resources.reset_index(drop=True), snap_points(graph, points, max_snap_m=max_snap_m))


def _seconds_to(graph: RoadGraph, target: Snaps, sources: Snaps, field: TimeField, closed: NDArray[np.bool_] | None) -> NDArray[np.float64]:
    """Seconds from every snapped source to the target (vectorised ``_trip_to`` without paths)."""
    on = sources.edge >= 0
    edge = np.where(on, sources.edge, 0)
    forward = graph.edge_time_s[edge].copy()
    if closed is not None:
        forward[closed[edge]] = np.inf
    backward = np.where(graph.edge_oneway[edge], np.inf, forward)
    fraction = sources.fraction
    with np.errstate(invalid="ignore"):
        # As in _part: a source sitting on a junction (fraction 0 or 1) leaves it at no cost.
        leave_v = np.where(fraction == 1.0, 0.0, np.where(np.isfinite(forward), (1 - fraction) * forward, np.inf))
        leave_u = np.where(fraction == 0.0, 0.0, np.where(np.isfinite(backward), fraction * backward, np.inf))
    seconds = np.minimum(leave_v + field.times(graph.edge_v[edge]), leave_u + field.times(graph.edge_u[edge]))
    for i in np.flatnonzero(on & (sources.edge == target.edge[0])):
        direct = _same_edge_time(graph, int(edge[i]), float(fraction[i]), float(target.fraction[0]), closed)
        seconds[i] = min(seconds[i], direct)
    seconds[~on] = np.inf
    return seconds


def travel_seconds(graph: RoadGraph, index: ResourceIndex, targets: Sequence[shapely.Point], *, closed: NDArray[np.bool_] | None = None, max_snap_m: float = DEFAULT_MAX_SNAP_M) -> NDArray[np.float64]:
    """Driving seconds from every resource of ``index`` to each target (points in EPSG:4326):
    an array (resources × targets); inf where a resource cannot get there (roads cut, off the
    network) or the target is more than ``max_snap_m`` from any open road. One reverse search
    per target, as ``nearest_resources`` does, with no limit."""
    seconds = np.full((len(index.ids), len(targets)), np.inf)
    for column, target_point in enumerate(targets):
        target = snap_points(graph, np.array([to_metric(target_point, epsg=graph.epsg)], dtype=object), closed=closed, max_snap_m=max_snap_m)
        if target.edge[0] < 0:
            continue
        field = time_field(graph, target, 0, toward=True, closed=closed, limit=np.inf)
        seconds[:, column] = _seconds_to(graph, target, index.snaps, field, closed)
    return seconds


NEAREST_COLUMNS = ["rank", "resource_id", "layer", "name", "reachable", "travel_time_min", "distance_km", "snap_m_incident", "snap_m_resource"]


DETOUR = 1.0
"""Road distance over straight-line distance assumed for the first search's limit (only its
size depends on it, never the answer). With the median speed it overestimates the time to far
resources, which are reached by faster roads: measured on the sample province, 1.0 needed a second
search in 20 % of the queries and was the fastest of 0.45 to 1.3."""
WIDEN = 1.5
"""A search that found fewer than k of a layer is run again this many times longer."""
MAX_BOUNDED_S = 3 * 3600.0
"""Beyond this the search is unbounded."""


def _first_limit(graph: RoadGraph, target: Snaps, index: ResourceIndex, k: int) -> float:
    """The first search's limit (s): the time to drive, at the graph's median speed with
    ``DETOUR``, to the farthest of each layer's k straight-line nearest resources; the k fastest
    of a layer take no longer than those k, so the first search usually suffices, without the
    cost of a search much longer than needed. Unbounded when a layer has fewer than k on the
    roads (all of its resources are wanted)."""
    here = shapely.get_coordinates(target.point[0])[0]  # a snapped target has its point
    distance = np.hypot(*(index.xy - here).T)
    farthest = 0.0
    for layer in index.layers:
        rows = index.members[layer]
        mine = distance[rows[index.snaps.edge[rows] >= 0]]
        if mine.size < k:
            return float("inf")
        farthest = max(farthest, float(np.partition(mine, k - 1)[k - 1]))
    return float(np.clip(farthest * DETOUR / graph.near.median_speed_mps, 60.0, MAX_BOUNDED_S))


def nearest_resources(
    graph: RoadGraph,
    incident: shapely.Point,
    index: ResourceIndex,
    *,
    k: int = 5,
    max_minutes: float | None = None,
    closed: NDArray[np.bool_] | None = None,
    max_snap_m: float = DEFAULT_MAX_SNAP_M,
) -> gpd.GeoDataFrame:
    """The ``k`` fastest resources of each layer to reach ``incident`` (a point in EPSG:4326).

    Returns a frame in EPSG:4326 with ``NEAREST_COLUMNS`` and the route LineString, ranked by
    travel time within each layer. Resources that cannot reach the incident (roads cut, off the
    network) fill the ranks after the reachable ones, with ``reachable`` False and no time or
    route: they are reported, never silently dropped. With ``max_minutes``, reachable resources
    slower than that are left out.
    """
    if k < 1:
        raise RoutingError(f"k must be at least 1, got {k}")
    incident_m = to_metric(incident, epsg=graph.epsg)
    target = snap_points(graph, np.array([incident_m], dtype=object), closed=closed, max_snap_m=max_snap_m)
    if target.edge[0] < 0:
        raise RoutingError(f"the incident at {incident.x:.6f}, {incident.y:.6f} is more than {max_snap_m:g} m from any open road")
    layers = index.layers
    snaps = index.snaps
    limit = _first_limit(graph, target, index, k) if max_minutes is None else max_minutes * 60.0
    while True:  # exact: every resource within the limit is found; widened until k per layer are
        field = time_field(graph, target, 0, toward=True, closed=closed, limit=limit)
        seconds = _seconds_to(graph, target, snaps, field, closed)
        enough = all(int((seconds[index.members[layer]] <= limit).sum()) >= k for layer in layers)
        if enough or max_minutes is not None or np.isinf(limit):
            break
        limit = limit * WIDEN if limit < MAX_BOUNDED_S else np.inf
    rows: list[tuple[object, ...]] = []
    for layer in layers:
        mine = index.members[layer]
        reachable = mine[np.isfinite(seconds[mine]) & (seconds[mine] <= limit)]
        ranked = list(reachable[np.argsort(seconds[reachable], kind="stable")][:k])
        if max_minutes is None and len(ranked) < k:
            unreachable = mine[~np.isfinite(seconds[mine])]
            ranked += list(unreachable[: k - len(ranked)])
        for rank, i in enumerate(ranked, start=1):
            ok = bool(np.isfinite(seconds[i]))
            route = trip_geometry(graph, _trip_to(graph, target, 0, snaps, i, field, closed), snaps, i, target, 0) if ok else None
            rows.append((
                rank,
                index.ids[i],
                layer,
                index.names[i],
                ok,
                seconds[i] / 60.0 if ok else np.nan,
                route.length / 1000.0 if route is not None else np.nan,
                float(target.distance_m[0]),
                float(snaps.distance_m[i]),
                route,
            ))
    columns = list(zip(*rows, strict=True)) if rows else [()] * (len(NEAREST_COLUMNS) + 1)
    data = {name: list(values) for name, values in zip(NEAREST_COLUMNS, columns, strict=False)}
    routes = to_lonlat(np.asarray(columns[-1], dtype=object), epsg=graph.epsg)  # one transform for all routes
    return gpd.GeoDataFrame(data, geometry=from_shapely(routes, crs=STORE_CRS))
