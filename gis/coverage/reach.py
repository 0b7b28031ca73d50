"""Walking reach: which shelters each populated cell can walk to within each shelter's reach.

Network mode: the cell centre walks straight to its nearest walkable road (off-road leg, same
speed), along the walking network (``gis.network.walking_graph``), then straight from the road to the
shelter. Shelters are snapped once and searched from in blocks by scipy's C Dijkstra, each search
stopped at the longest reach; cells join the searched junctions at both ends of their own edge
(sparse, vectorised), and a cell on a shelter's own edge may also walk to it directly along the
edge. Euclidean mode (``直线距离，对比用``) uses straight-line distance at the same speed.

All coordinates are in one metric CRS (metres); times are minutes in results.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import dijkstra
from scipy.spatial import cKDTree
from scipy.spatial.distance import cdist

from ..arraytools import first_per_group, with_source_rows
from ..network import RoadGraph
from ..routing import DEFAULT_MAX_SNAP_M, Snaps, snap_xy

MODES = ("network", "euclidean")
MODE_LABELS = {"network": "路网步行时间", "euclidean": "直线距离（对比用）"}
_DIJKSTRA_BLOCK_CELLS = 20_000_000  # sources × junctions per Dijkstra block: 160 MB of float64


@dataclass(frozen=True)
class Reach:
    """Cell–shelter pairs within reach, and every cell's nearest shelter (whatever the reach).

    ``cell``/``shelter`` are row positions in the inputs; ``nearest_shelter`` is -1 and
    ``nearest_minutes`` NaN for a cell that cannot reach any shelter at all (no road near it).
    """

    mode: str
    cell: NDArray[np.int64]
    shelter: NDArray[np.int64]
    minutes: NDArray[np.float64]
    nearest_shelter: NDArray[np.int64]
    nearest_minutes: NDArray[np.float64]
    n_shelters: int
    cells_off_network: NDArray[np.int64]
    shelters_off_network: NDArray[np.int64]

    @property
    def n_cells(self) -> int:
        return int(self.nearest_shelter.size)

    def covered(self) -> NDArray[np.bool_]:
        """Per cell: at least one shelter within its reach."""
        mask = np.zeros(self.n_cells, dtype=bool)
        mask[self.cell] = True
        return mask


def _check_limits(limit_min: NDArray[np.float64], n_shelters: int) -> NDArray[np.float64]:
    limits = np.asarray(limit_min, dtype=float)
    if limits.shape != (n_shelters,) or not np.all(np.isfinite(limits) & (limits > 0)):
        raise ValueError("give one positive, finite reach (minutes) per shelter")
    return limits


def euclidean_reach(cells_xy: NDArray[np.float64], shelters_xy: NDArray[np.float64], limit_min: NDArray[np.float64], *, walk_kmh: float) -> Reach:
    """Reach by straight-line distance at ``walk_kmh`` (for comparison with the network)."""
    limits = _check_limits(limit_min, len(shelters_xy))
    metres_per_min = walk_kmh * 1000.0 / 60.0
    cell_tree = cKDTree(cells_xy)
    cell_parts, shelter_parts = [], []
    for j, neighbours in enumerate(cell_tree.query_ball_point(shelters_xy, r=limits * metres_per_min)):
        cell_parts.append(np.asarray(neighbours, dtype=np.int64))
        shelter_parts.append(np.full(len(neighbours), j, dtype=np.int64))
    cell = np.concatenate(cell_parts) if cell_parts else np.zeros(0, np.int64)
    shelter = np.concatenate(shelter_parts) if shelter_parts else np.zeros(0, np.int64)
    minutes = np.hypot(*(cells_xy[cell] - shelters_xy[shelter]).T) / metres_per_min
    distance, nearest = cKDTree(shelters_xy).query(cells_xy, k=1)
    order = np.lexsort((shelter, cell))
    return Reach(
        mode="euclidean",
        cell=cell[order],
        shelter=shelter[order],
        minutes=minutes[order],
        nearest_shelter=nearest.astype(np.int64),
        nearest_minutes=distance / metres_per_min,
        n_shelters=len(shelters_xy),
        cells_off_network=np.zeros(0, np.int64),
        shelters_off_network=np.zeros(0, np.int64),
    )


def _shelter_sources(graph: RoadGraph, snaps: Snaps, access_s: NDArray[np.float64]) -> csr_matrix:
    """The walking graph plus one virtual node per shelter (node ``n + k``) joined to both ends
    of its snapped edge, at the off-road leg plus the part of the edge walked."""
    n, f = graph.node_count, len(snaps)
    on = np.flatnonzero(snaps.edge >= 0)
    edge = snaps.edge[on]
    seconds = graph.edge_time_s[edge]
    tails = np.concatenate([on, on])
    heads = np.concatenate([graph.edge_u[edge], graph.edge_v[edge]])
    times = np.concatenate([access_s[on] + snaps.fraction[on] * seconds, access_s[on] + (1 - snaps.fraction[on]) * seconds])
    # scipy drops explicit zeros in sparse graphs: a shelter exactly on a junction costs 1 µs.
    times = np.maximum(times, 1e-6)
    virtual = csr_matrix((times, (tails, heads)), shape=(f, n + f))
    return with_source_rows(graph.forward, virtual)


def _expand(indptr: NDArray[np.int64], nodes: NDArray[np.int64]) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """For each query i, the CSR positions of row ``nodes[i]``: (query index, position) pairs."""
    counts = indptr[nodes + 1] - indptr[nodes]
    query = np.repeat(np.arange(nodes.size), counts)
    offsets = np.arange(query.size) - np.repeat(np.cumsum(counts) - counts, counts)
    return query, np.repeat(indptr[nodes], counts) + offsets


def network_reach(
    graph: RoadGraph,
    cells_xy: NDArray[np.float64],
    shelters_xy: NDArray[np.float64],
    limit_min: NDArray[np.float64],
    *,
    walk_kmh: float,
    max_snap_m: float = DEFAULT_MAX_SNAP_M,
    nearest: bool = True,
    searched: NDArray[np.bool_] | None = None,
) -> Reach:
    """Reach along ``graph`` (a walking graph whose arc weights are walking seconds).

    ``searched`` (one flag per shelter; None: all): the shelters searched from. The others reach
    no cell (their walks are not searched), but still count for each cell's nearest shelter: a
    partition (``gis.coverage.partitions``) searches only the shelters that can reach its cells.

    Without ``nearest`` only the pairs are wanted: cells farther in a straight line than every
    shelter's reach (a walk is never shorter than the straight line) are not even snapped, and
    every cell's nearest shelter is left unknown (-1, NaN).
    """
    limits_s = _check_limits(limit_min, len(shelters_xy)) * 60.0
    speed = walk_kmh / 3.6
    n, f = graph.node_count, len(shelters_xy)
    shelter_snaps = snap_xy(graph, shelters_xy, max_snap_m=max_snap_m, with_points=False)
    if nearest:
        considered = np.arange(len(cells_xy))
    else:
        # Each cell against the shelters (a small tree): within the largest reach, then the exact test.
        shelter_tree = cKDTree(shelters_xy)
        radius = limits_s * speed
        maybe = np.flatnonzero(shelter_tree.query(cells_xy, k=1, distance_upper_bound=float(radius.max()) + 1.0)[0] <= radius.max())
        hit = np.zeros(maybe.size, bool)
        step = max(1, 5_000_000 // max(f, 1))
        for start in range(0, maybe.size, step):
            chunk = maybe[start : start + step]
            hit[start : start + step] = (cdist(cells_xy[chunk], shelters_xy) <= radius[None, :]).any(axis=1)
        considered = maybe[hit]
    cell_snaps = _snap_some(graph, cells_xy, considered, max_snap_m)
    shelter_access = np.nan_to_num(shelter_snaps.distance_m, nan=np.inf) / speed
    augmented = _shelter_sources(graph, shelter_snaps, shelter_access)
    on = np.flatnonzero(shelter_snaps.edge >= 0)

    # Junction → shelter times within each shelter's reach, as a sparse (junction × shelter) table.
    rows, cols, vals = [], [], []
    block = max(1, _DIJKSTRA_BLOCK_CELLS // max(n, 1))
    searched_on = on if searched is None else on[np.asarray(searched, dtype=bool)[on]]
    for start in range(0, searched_on.size, block):
        sources = searched_on[start : start + block]
        dist = dijkstra(augmented, directed=True, indices=n + sources, limit=float(limits_s[sources].max()))[:, :n]
        within = dist <= limits_s[sources][:, None]
        which, node = np.nonzero(within)
        rows.append(node)
        cols.append(sources[which])
        vals.append(dist[which, node])
    node_shelter = csr_matrix((np.concatenate(vals) if vals else [], (np.concatenate(rows) if rows else [], np.concatenate(cols) if cols else [])), shape=(n, f))
    node_shelter.sort_indices()

    # Each cell reaches its edge's two ends (off-road leg + part of the edge), then the table.
    snapped = np.flatnonzero(cell_snaps.edge >= 0)
    edge = cell_snaps.edge[snapped]
    access = cell_snaps.distance_m[snapped] / speed
    seconds = graph.edge_time_s[edge]
    pieces = []
    for ends, to_end in ((graph.edge_u[edge], cell_snaps.fraction[snapped] * seconds), (graph.edge_v[edge], (1 - cell_snaps.fraction[snapped]) * seconds)):
        query, position = _expand(node_shelter.indptr.astype(np.int64), ends)
        pieces.append((snapped[query], node_shelter.indices[position].astype(np.int64), access[query] + to_end[query] + node_shelter.data[position]))
    # A cell on a shelter's own edge may walk to it directly along the edge: join by edge number.
    by_edge = np.argsort(shelter_snaps.edge[on], kind="stable")
    hosts_sorted, edges_sorted = on[by_edge], shelter_snaps.edge[on][by_edge]
    first_host = np.searchsorted(edges_sorted, edge, "left")
    count = np.searchsorted(edges_sorted, edge, "right") - first_host
    query = np.repeat(np.arange(edge.size), count)
    hosts = hosts_sorted[np.repeat(first_host, count) + np.arange(query.size) - np.repeat(np.cumsum(count) - count, count)]
    along = np.abs(cell_snaps.fraction[snapped[query]] - shelter_snaps.fraction[hosts]) * seconds[query]
    pieces.append((snapped[query], hosts, access[query] + along + shelter_access[hosts]))
    cell = np.concatenate([p[0] for p in pieces])
    shelter = np.concatenate([p[1] for p in pieces])
    time = np.concatenate([p[2] for p in pieces])
    # Best time per (cell, shelter), kept when within that shelter's reach.
    best = first_per_group(cell * f + shelter, time)
    cell, shelter, time = cell[best], shelter[best], time[best]
    keep = time <= limits_s[shelter]
    if nearest:
        nearest_shelter, nearest_s = _nearest(graph, augmented, on, cell_snaps, snapped, access, seconds, pieces)
    else:
        nearest_shelter, nearest_s = np.full(len(cells_xy), -1, dtype=np.int64), np.full(len(cells_xy), np.nan)
    return Reach(
        mode="network",
        cell=cell[keep],
        shelter=shelter[keep],
        minutes=time[keep] / 60.0,
        nearest_shelter=nearest_shelter,
        nearest_minutes=nearest_s / 60.0,
        n_shelters=f,
        cells_off_network=considered[cell_snaps.edge[considered] < 0],
        shelters_off_network=np.flatnonzero(shelter_snaps.edge < 0),
    )


def _snap_some(graph: RoadGraph, xy: NDArray[np.float64], rows: NDArray[np.int64], max_snap_m: float) -> Snaps:
    """Snaps for every point, computed for ``rows`` only (the others: edge -1)."""
    found = snap_xy(graph, xy[rows], max_snap_m=max_snap_m, with_points=False)
    if rows.size == len(xy):
        return found
    edge = np.full(len(xy), -1, dtype=np.int64)
    fraction, distance = np.zeros(len(xy)), np.full(len(xy), np.nan)
    edge[rows], fraction[rows], distance[rows] = found.edge, found.fraction, found.distance_m
    return Snaps(edge=edge, fraction=fraction, distance_m=distance, point=np.full(len(xy), None, dtype=object))


def _nearest(
    graph: RoadGraph,
    augmented: csr_matrix,
    on: NDArray[np.int64],
    cell_snaps: Snaps,
    snapped: NDArray[np.int64],
    access: NDArray[np.float64],
    seconds: NDArray[np.float64],
    pieces: list[tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.float64]]],
) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
    """Every cell's nearest shelter by walking time, however far: one multi-source Dijkstra."""
    n_cells = len(cell_snaps)
    nearest = np.full(n_cells, -1, dtype=np.int64)
    best = np.full(n_cells, np.inf)
    if on.size == 0 or snapped.size == 0:
        return nearest, np.full(n_cells, np.nan)
    n = graph.node_count
    dist, _, origin = dijkstra(augmented, directed=True, indices=n + on, min_only=True, return_predecessors=True)
    edge = cell_snaps.edge[snapped]
    for ends, to_end in ((graph.edge_u[edge], cell_snaps.fraction[snapped] * seconds), (graph.edge_v[edge], (1 - cell_snaps.fraction[snapped]) * seconds)):
        time = access + to_end + dist[ends]
        better = time < best[snapped]
        best[snapped[better]] = time[better]
        nearest[snapped[better]] = origin[ends[better]] - n
    # Direct walks along a shelter's own edge (the third piece) can beat both ends.
    cell, shelter, time = pieces[2]
    quickest = first_per_group(cell, time)
    cell, shelter, time = cell[quickest], shelter[quickest], time[quickest]
    better = time < best[cell]
    best[cell[better]], nearest[cell[better]] = time[better], shelter[better]
    return nearest, np.where(np.isfinite(best), best, np.nan)
