"""The driving network: a directed graph of road edges with travel times, as CSR matrices.

Nodes are road-line endpoints (merged at 1 cm); every road edge gives an arc in its drawn direction
and, unless one-way, one back. Arc weights are travel seconds = length (metres, in the metric work
CRS) / speed. Only the largest strongly connected component is kept, so that every kept node can
reach every other; what was dropped is reported. Parallel arcs between the same two nodes keep the
fastest.

Finding the nearest edge of a point is ``gis.edge_search``'s job (``RoadGraph.nearest_edges``).

Closures do not rebuild anything: ``RoadGraph.weights(closed)`` copies the weight array with the
closed arcs set to infinity, which scipy's Dijkstra treats as no road.

The graph is built on scipy.sparse.csgraph (a C Dijkstra over CSR arrays) rather than networkx,
which would be one to two orders of magnitude slower and heavier at province size.
"""

from __future__ import annotations

import io
import logging
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, BinaryIO

import geopandas as gpd
import numpy as np
import shapely
from numpy.typing import NDArray
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import connected_components

from gis.arraytools import first_per_group, with_source_rows
from gis.edge_search import EdgeIndex
from gis.local_search import NearJunctions

logger = logging.getLogger(__name__)

NODE_MERGE_M = 0.01
"""Line ends closer than this (metres) are the same junction."""


class NetworkError(ValueError):
    """The roads cannot make a network (none, or none that connect)."""


@dataclass(frozen=True)
class BuildReport:
    """What graph building kept and dropped."""

    edges_in: int
    edges_kept: int
    nodes_kept: int
    nodes_dropped: int
    edges_dropped_disconnected: int
    edges_dropped_degenerate: int
    parallel_arcs_merged: int

    def __str__(self) -> str:
        return (
            f"{self.edges_kept:,} of {self.edges_in:,} road edges in the largest strongly connected network "
            f"({self.nodes_kept:,} junctions); dropped {self.edges_dropped_disconnected:,} edges on "
            f"{self.nodes_dropped:,} junctions that cannot reach it or be reached, "
            f"{self.edges_dropped_degenerate:,} zero-length loops; merged {self.parallel_arcs_merged:,} parallel arcs"
        )


@dataclass
class RoadGraph:
    """A directed road graph in a metric CRS (``epsg``). Edge arrays are indexed by edge number."""

    epsg: int
    """The metric CRS of every coordinate and length."""
    node_xy: NDArray[np.float64]
    """Junctions, (n, 2), metres."""
    edge_source_id: NDArray[np.object_]
    edge_name: NDArray[np.object_]
    """The road's ``source_id`` and name (None: unnamed)."""
    edge_geometry: NDArray[np.object_]
    """LineStrings, metres, drawn from ``edge_u`` to ``edge_v``."""
    edge_u: NDArray[np.int64]
    edge_v: NDArray[np.int64]
    """The junctions at the edge's first and last vertex."""
    edge_length_m: NDArray[np.float64]
    """Length measured in ``epsg``, metres."""
    edge_time_s: NDArray[np.float64]
    """Travel time, seconds: the declared length (else the measured one) over the speed."""
    edge_oneway: NDArray[np.bool_]
    """Only in the drawn direction."""
    report: BuildReport
    # Arcs: one per direction of travel; arc_edge/arc_forward say which edge and which way.
    arc_edge: NDArray[np.int64] = field(init=False)
    arc_forward: NDArray[np.bool_] = field(init=False)
    forward: csr_matrix = field(init=False)  # data = seconds, arcs in CSR order
    reverse: csr_matrix = field(init=False)  # the transpose, for "time to reach X"
    forward_arc: NDArray[np.int64] = field(init=False)  # CSR position → arc
    reverse_arc: NDArray[np.int64] = field(init=False)
    _arc_keys: NDArray[np.int64] = field(init=False, repr=False)  # sorted tail * n + head
    _arc_by_key: NDArray[np.int64] = field(init=False, repr=False)
    _virtual: tuple[csr_matrix, csr_matrix] = field(init=False, repr=False)
    search_lock: threading.Lock = field(init=False, repr=False)
    edge_index: EdgeIndex = field(init=False, repr=False)
    near: NearJunctions = field(init=False, repr=False)  # junctions by place, for searches bounded by time

    def __post_init__(self) -> None:
        self._build_arcs()
        self.edge_index = EdgeIndex(self.edge_geometry, self.edge_length_m)

    def __getstate__(self) -> dict[str, Any]:
        """Pickled as its edges only (for a cluster's workers): the arcs, the matrices and the
        edge index are rebuilt where it is unpickled, and a lock cannot travel."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.init}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self.__post_init__()

    @property
    def node_count(self) -> int:
        return int(self.node_xy.shape[0])

    @property
    def edge_count(self) -> int:
        return int(self.edge_u.shape[0])

    def _build_arcs(self) -> None:
        edges = np.arange(self.edge_count)
        back = ~self.edge_oneway
        arc_edge = np.concatenate([edges, edges[back]])
        arc_forward = np.concatenate([np.ones(self.edge_count, bool), np.zeros(int(back.sum()), bool)])
        tail = np.where(arc_forward, self.edge_u[arc_edge], self.edge_v[arc_edge])
        head = np.where(arc_forward, self.edge_v[arc_edge], self.edge_u[arc_edge])
        time = self.edge_time_s[arc_edge]
        # Parallel arcs: keep the fastest of each (tail, head) pair.
        keep = first_per_group(tail * self.node_count + head, time)
        tail, head, time = tail[keep], head[keep], time[keep]
        n = self.node_count
        forward, forward_arc = _csr_with_arcs(tail, head, time, n)
        reverse, reverse_arc = _csr_with_arcs(head, tail, time, n)
        keys = tail.astype(np.int64) * n + head
        order = np.argsort(keys)
        self._set_arcs(arc_edge[keep], arc_forward[keep], forward, forward_arc, reverse, reverse_arc, keys[order], order.astype(np.int64))

    def _set_arcs(self, arc_edge: NDArray[np.int64], arc_forward: NDArray[np.bool_], forward: csr_matrix, forward_arc: NDArray[np.int64],
                  reverse: csr_matrix, reverse_arc: NDArray[np.int64], arc_keys: NDArray[np.int64], arc_by_key: NDArray[np.int64]) -> None:
        """Hold the arcs and their matrices (built by ``_build_arcs``, or read back by ``from_bytes``)."""
        self.arc_edge, self.arc_forward = arc_edge, arc_forward
        self.forward, self.forward_arc = forward, forward_arc
        self.reverse, self.reverse_arc = reverse, reverse_arc
        self._arc_keys, self._arc_by_key = arc_keys, arc_by_key
        self._virtual = (_with_virtual_row(self.forward), _with_virtual_row(self.reverse))
        self.search_lock = threading.Lock()
        self.near = NearJunctions(self.node_xy, self.edge_length_m, self.edge_time_s)

    def with_virtual_source(self, *, reverse: bool, ends: tuple[int, int], seconds: tuple[float, float], closed_edges: NDArray[np.bool_] | None = None) -> csr_matrix:
        """The (n+1)-node graph whose extra node ``n`` has arcs to ``ends`` costing ``seconds``
        (inf: no arc): one Dijkstra from ``n`` then searches from a point inside an edge.

        Without closures the graph's own matrix is reused and its two virtual arcs rewritten in
        place, so hold ``search_lock`` from this call until the search is done.
        """
        if closed_edges is not None and closed_edges.any():
            matrix = _with_virtual_row(self.weights(closed_edges, reverse=reverse))
        else:
            matrix = self._virtual[1 if reverse else 0]
        matrix.indices[-2:] = ends
        matrix.data[-2:] = seconds
        return matrix

    def bounded_source(self, *, reverse: bool, xy: tuple[float, float], limit: float, ends: tuple[int, int], seconds: tuple[float, float],
                       closed_edges: NDArray[np.bool_] | None = None) -> tuple[csr_matrix, NDArray[np.int64]] | None:
        """For a search of at most ``limit`` seconds from the point at ``xy`` (metres): the
        subgraph of the junctions it can reach with the virtual source (its last node) as
        ``with_virtual_source`` gives it, and those junctions' numbers; None when the whole graph
        is to be searched (see ``gis.local_search``). Hold ``search_lock`` while it is built."""
        nodes = self.near.within(xy, limit)
        if nodes is None:
            return None
        matrix, arcs = (self.reverse, self.reverse_arc) if reverse else (self.forward, self.forward_arc)
        closed_arc = closed_edges[self.arc_edge] if closed_edges is not None and closed_edges.any() else None
        return self.near.subgraph(matrix, arcs, closed_arc, nodes, ends, seconds), nodes

    def weights(self, closed_edges: NDArray[np.bool_] | None = None, *, reverse: bool = False) -> csr_matrix:
        """The forward (or reverse) CSR graph with closed edges' arcs at infinite time (no rebuild)."""
        matrix, arcs = (self.reverse, self.reverse_arc) if reverse else (self.forward, self.forward_arc)
        if closed_edges is None or not closed_edges.any():
            return matrix
        return _with_closed(matrix, arcs, closed_edges[self.arc_edge])

    def arcs_between(self, tails: NDArray[np.int64], heads: NDArray[np.int64]) -> NDArray[np.int64]:
        """The arcs from ``tails[i]`` to ``heads[i]`` (each pair must be adjacent), vectorised."""
        keys = tails.astype(np.int64) * self.node_count + heads
        return self._arc_by_key[np.searchsorted(self._arc_keys, keys)]

    def edges_intersecting(self, geometries: NDArray[np.object_]) -> NDArray[np.bool_]:
        """Mask of edges that intersect any of ``geometries`` (metric CRS)."""
        return self.edge_index.intersecting(geometries)

    def nearest_edges(self, xy: NDArray[np.float64], max_distance_m: float) -> tuple[NDArray[np.int64], NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
        """For each point (metres): the nearest edge (-1 beyond ``max_distance_m``), the fraction
        along it, the distance (m) and the nearest point on it (see ``EdgeIndex.nearest``)."""
        return self.edge_index.nearest(xy, max_distance_m)

    @property
    def tree(self) -> shapely.STRtree:
        """Spatial index of the edge geometries (metric CRS)."""
        return self.edge_index.tree

    # --- persistence ----------------------------------------------------------------------

    def to_bytes(self) -> bytes:
        """The graph as one .npz blob: its edges, their geometries as coordinates and offsets, and
        the arcs with their CSR matrices, so that loading it builds nothing but the edge index (a
        province's 3 M edges load in seconds; ``from_bytes``)."""
        buffer = io.BytesIO()
        kind, coordinates, (offsets,) = shapely.to_ragged_array(self.edge_geometry)
        if kind != shapely.GeometryType.LINESTRING:  # pragma: no cover - every edge is a LineString
            raise ValueError(f"edge geometries must be LineStrings, not {kind.name}")
        matrices = {f"{name}_{part}": getattr(getattr(self, name), part) for name in ("forward", "reverse") for part in ("data", "indices", "indptr")}
        np.savez(
            buffer,
            epsg=np.array(self.epsg),
            node_xy=self.node_xy,
            edge_source_id=np.array(self.edge_source_id, dtype=str),
            edge_name=np.array(["" if v is None else str(v) for v in self.edge_name], dtype=str),
            edge_coordinates=coordinates,
            edge_offsets=offsets,
            edge_u=self.edge_u,
            edge_v=self.edge_v,
            edge_length_m=self.edge_length_m,
            edge_time_s=self.edge_time_s,
            edge_oneway=self.edge_oneway,
            report=np.array(list(vars(self.report).values()), dtype=np.int64),
            arc_edge=self.arc_edge,
            arc_forward=self.arc_forward,
            forward_arc=self.forward_arc,
            reverse_arc=self.reverse_arc,
            arc_keys=self._arc_keys,
            arc_by_key=self._arc_by_key,
            **matrices,
        )
        return buffer.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> RoadGraph:
        """The graph ``to_bytes`` wrote, with its arcs read back rather than built again."""
        return cls.from_file(io.BytesIO(data))

    @classmethod
    def from_file(cls, source: Path | BinaryIO) -> RoadGraph:
        """The graph in a file ``to_bytes`` wrote (read array by array, never whole into memory)."""
        with np.load(source) as saved:
            geometries = shapely.from_ragged_array(shapely.GeometryType.LINESTRING, saved["edge_coordinates"], (saved["edge_offsets"],))
            names = saved["edge_name"].astype(object)
            names[names == ""] = None
            graph = cls.__new__(cls)  # the fields set here; __post_init__'s arc building is skipped
            graph.__dict__.update(
                epsg=int(saved["epsg"]),
                node_xy=saved["node_xy"],
                edge_source_id=saved["edge_source_id"].astype(object),
                edge_name=names,
                edge_geometry=np.asarray(geometries, dtype=object),
                edge_u=saved["edge_u"],
                edge_v=saved["edge_v"],
                edge_length_m=saved["edge_length_m"],
                edge_time_s=saved["edge_time_s"],
                edge_oneway=saved["edge_oneway"].astype(bool),
                report=BuildReport(*(int(v) for v in saved["report"])),
            )
            n = graph.node_count
            forward, reverse = (csr_matrix((saved[f"{name}_data"], saved[f"{name}_indices"], saved[f"{name}_indptr"]), shape=(n, n)) for name in ("forward", "reverse"))
            graph._set_arcs(saved["arc_edge"], saved["arc_forward"], forward, saved["forward_arc"], reverse, saved["reverse_arc"], saved["arc_keys"], saved["arc_by_key"])
        graph.edge_index = EdgeIndex(graph.edge_geometry, graph.edge_length_m)
        return graph


def _csr_with_arcs(tail: NDArray[np.int64], head: NDArray[np.int64], time: NDArray[np.float64], n: int) -> tuple[csr_matrix, NDArray[np.int64]]:
    """CSR of (tail → head, time) and, for each stored entry, the arc it came from."""
    order = np.lexsort((head, tail))
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.add.at(indptr, tail + 1, 1)
    indptr = np.cumsum(indptr)
    matrix = csr_matrix((time[order].astype(float), head[order].astype(np.int32), indptr), shape=(n, n))
    return matrix, order.astype(np.int64)


def _with_virtual_row(matrix: csr_matrix) -> csr_matrix:
    """``matrix`` with one more node whose two arcs (to nodes 0 and 1, at inf) are set per search."""
    source = csr_matrix((np.array([np.inf, np.inf]), np.array([0, 1]), np.array([0, 2])), shape=(1, matrix.shape[0] + 1))
    return with_source_rows(matrix, source)


def _with_closed(matrix: csr_matrix, arcs: NDArray[np.int64], closed_arc: NDArray[np.bool_]) -> csr_matrix:
    data = matrix.data.copy()
    data[closed_arc[arcs]] = np.inf
    return csr_matrix((data, matrix.indices, matrix.indptr), shape=matrix.shape)


def graph_from_edges(
    roads: gpd.GeoDataFrame,
    *,
    epsg: int,
    class_speed_kmh: Mapping[str, float],
) -> RoadGraph:
    """Build the driving graph from a roads frame (``road_class``, ``speed_kmh``, ``oneway``,
    ``source_id``, LineString geometry, any CRS).

    Speed of an edge: its own ``speed_kmh``, else ``class_speed_kmh[road_class]``. Lengths are
    measured in ``epsg`` (metres); travel time is the ledger's ``declared_length_m`` (where the
    frame has it) or that length, over the speed. Raises ``NetworkError`` when there are no usable
    roads.
    """
    if roads.empty:
        raise NetworkError("the roads layer is empty: import roads (onemap import roads FILE) or run onemap sample")
    metric = roads.to_crs(epsg)
    geometry = np.asarray(metric.geometry.array, dtype=object)
    length = shapely.length(geometry)
    own_speed = roads["speed_kmh"].astype(float).to_numpy()
    class_speed = roads["road_class"].map(lambda c: class_speed_kmh.get(c, np.nan)).astype(float).to_numpy()
    speed = np.where(np.isfinite(own_speed), own_speed, class_speed)
    if not np.all(np.isfinite(speed) & (speed > 0)):
        bad = roads.loc[~(np.isfinite(speed) & (speed > 0)), "source_id"].head(5).tolist()
        raise NetworkError(f"roads without a usable speed (no speed_kmh and unknown class): {bad}")
    travelled = length
    if "declared_length_m" in roads:
        declared = roads["declared_length_m"].astype(float).to_numpy()
        travelled = np.where(np.isfinite(declared) & (declared > 0), declared, length)
    time = travelled / (speed / 3.6)
    coords = shapely.get_coordinates(geometry)
    counts = shapely.get_num_points(geometry)
    last = np.cumsum(counts) - 1
    ends = np.concatenate([coords[last - counts + 1], coords[last]])
    keys = np.round(ends / NODE_MERGE_M).astype(np.int64)
    _, node_of_end = np.unique(keys, axis=0, return_inverse=True)
    node_of_end = node_of_end.ravel()
    m = len(roads)
    u, v = node_of_end[:m], node_of_end[m:]
    node_xy_all = np.zeros((int(node_of_end.max()) + 1, 2))
    node_xy_all[node_of_end] = ends
    degenerate = u == v
    oneway = roads["oneway"].fillna(False).astype(bool).to_numpy()

    # Largest strongly connected component of the directed graph.
    usable = ~degenerate
    tails = np.concatenate([u[usable], v[usable & ~oneway]])
    heads = np.concatenate([v[usable], u[usable & ~oneway]])
    n_all = node_xy_all.shape[0]
    adjacency = csr_matrix((np.ones(tails.size), (tails, heads)), shape=(n_all, n_all))
    _, component = connected_components(adjacency, directed=True, connection="strong")
    largest = np.bincount(component).argmax()
    in_largest = component == largest
    keep = usable & in_largest[u] & in_largest[v]
    if not keep.any():
        raise NetworkError("no two roads connect: the roads layer makes no network")
    new_id = np.full(n_all, -1, dtype=np.int64)
    kept_nodes = np.flatnonzero(in_largest)
    new_id[kept_nodes] = np.arange(kept_nodes.size)
    graph = RoadGraph(
        epsg=epsg,
        node_xy=node_xy_all[kept_nodes],
        edge_source_id=roads["source_id"].to_numpy(dtype=object)[keep],
        edge_name=roads["name"].to_numpy(dtype=object)[keep] if "name" in roads else np.full(int(keep.sum()), None, dtype=object),
        edge_geometry=geometry[keep],
        edge_u=new_id[u[keep]],
        edge_v=new_id[v[keep]],
        edge_length_m=length[keep],
        edge_time_s=time[keep],
        edge_oneway=oneway[keep],
        report=BuildReport(
            edges_in=m,
            edges_kept=int(keep.sum()),
            nodes_kept=int(kept_nodes.size),
            nodes_dropped=int(n_all - kept_nodes.size),
            edges_dropped_disconnected=int((usable & ~keep).sum()),
            edges_dropped_degenerate=int(degenerate.sum()),
            parallel_arcs_merged=0,
        ),
    )
    arcs_total = graph.edge_count + int((~graph.edge_oneway).sum())
    graph.report = BuildReport(**{**vars(graph.report), "parallel_arcs_merged": arcs_total - graph.arc_edge.size})
    logger.info("%s", graph.report)
    return graph


WALK_SPEED_KMH = 4.5
"""Default walking speed (km/h)."""
NOT_WALKABLE_CLASSES = ("高速公路",)
"""Road classes pedestrians may not use (expressways are fenced)."""


def walking_graph(
    roads: gpd.GeoDataFrame,
    *,
    epsg: int,
    walk_kmh: float = WALK_SPEED_KMH,
    not_walkable: tuple[str, ...] = NOT_WALKABLE_CLASSES,
) -> RoadGraph:
    """The walking network: every walkable road both ways (one-way ignored) at ``walk_kmh``.

    The same ``RoadGraph`` as for driving, so snapping, Dijkstra and closures are shared; arc
    weights are walking seconds. Raises ``NetworkError`` when no walkable roads connect.
    """
    if not walk_kmh > 0:
        raise NetworkError(f"walking speed must be positive, got {walk_kmh} km/h")
    walkable = roads[~roads["road_class"].isin(not_walkable)] if "road_class" in roads else roads
    if walkable.empty and not roads.empty:
        raise NetworkError(f"no walkable roads: every road is one of {list(not_walkable)}")
    walk = walkable.assign(speed_kmh=float(walk_kmh), oneway=False)
    if "road_class" not in walk:
        walk["road_class"] = None
    return graph_from_edges(walk, epsg=epsg, class_speed_kmh={})
