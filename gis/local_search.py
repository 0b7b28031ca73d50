"""Searches bounded by a time limit, run on the part of the road graph they can reach.

A Dijkstra from a point limited to ``limit`` seconds reaches only junctions within
``limit × the fastest speed`` metres of the point in a straight line: every piece of road is at
least as long as the straight line across it, and is driven at most at the fastest edge's speed
(its geometry's length over its travel time). The search is therefore exact on the subgraph of
those junctions: a junction within the limit is reached there by the same fastest path, and one
beyond it is beyond it in both.

Why: scipy's ``dijkstra`` spends O(junctions) before it starts (its heap of every node and its
answer arrays): about 10 ms a search at a province's 1.5 million junctions, whatever the limit.
On the subgraph a search costs what it reaches. Written here because scipy has no bounded
search that skips that set-up, and networkx is far slower per node.
"""

from __future__ import annotations

import threading

import numpy as np
from numpy.typing import NDArray
from scipy.sparse import csr_matrix
from scipy.spatial import cKDTree

WHOLE_GRAPH_SHARE = 0.03
"""When the junctions within reach are more than this share of all, the whole graph is searched:
building the subgraph would cost more than scipy's set-up it saves (measured on the sample
province's 1.2 M junctions: 0.5 was slower than searching whole, 0.03 faster)."""
SLACK_M = 1.0
"""Metres added to the reach, for rounding in lengths and coordinates."""


class NearJunctions:
    """The junctions of a graph by place (a k-d tree, built on first use), the fastest speed of
    its edges, and a scratch array numbering the junctions of one subgraph. Thread-safe; a
    subgraph is built under the caller's lock on the graph (``RoadGraph.search_lock``)."""

    def __init__(self, node_xy: NDArray[np.float64], edge_length_m: NDArray[np.float64], edge_time_s: NDArray[np.float64]) -> None:
        self.node_xy = node_xy
        self._lengths, self._times = edge_length_m, edge_time_s
        self._lock = threading.Lock()
        self._tree: cKDTree | None = None
        self._speed: float | None = None
        self._median: float | None = None
        self._local: NDArray[np.int64] | None = None

    @property
    def max_speed_mps(self) -> float:
        """The fastest edge's geometry length over its travel time (m/s); inf if an edge with
        length takes no time (then no reach can be bounded)."""
        if self._speed is None:
            lengths, times = self._lengths, self._times
            if bool(np.any((times <= 0) & (lengths > 0))):
                self._speed = float("inf")
            else:
                moving = times > 0
                self._speed = float(np.max(lengths[moving] / times[moving])) if moving.any() else 0.0
        return self._speed

    @property
    def median_speed_mps(self) -> float:
        """The median edge's geometry length over its travel time (m/s): a typical speed."""
        if self._median is None:
            moving = self._times > 0
            self._median = float(np.median(self._lengths[moving] / self._times[moving])) if moving.any() else 1.0
        return self._median

    @property
    def tree(self) -> cKDTree:
        """The k-d tree of the junctions (metres), built on first use and kept with the graph."""
        return self._ready()[0]

    def _ready(self) -> tuple[cKDTree, NDArray[np.int64]]:
        with self._lock:
            if self._tree is None or self._local is None:
                self._tree = cKDTree(self.node_xy)
                self._local = np.full(len(self.node_xy), -1, dtype=np.int64)
            return self._tree, self._local

    def within(self, xy: tuple[float, float], seconds: float) -> NDArray[np.int64] | None:
        """The junctions (sorted numbers) a search of ``seconds`` from ``xy`` (metres) can reach;
        None when the whole graph should be searched instead."""
        speed = self.max_speed_mps
        if not np.isfinite(seconds) or not np.isfinite(speed):
            return None
        tree, _ = self._ready()
        radius = seconds * speed + SLACK_M
        if tree.query_ball_point(xy, radius, return_length=True) > WHOLE_GRAPH_SHARE * len(self.node_xy):
            return None  # counted without listing them: a long search's list would be its largest cost
        found = np.asarray(tree.query_ball_point(xy, radius), dtype=np.int64)
        found.sort()
        return found

    def subgraph(self, matrix: csr_matrix, arcs: NDArray[np.int64], closed_arc: NDArray[np.bool_] | None, nodes: NDArray[np.int64],
                 ends: tuple[int, int], seconds: tuple[float, float]) -> csr_matrix:
        """The CSR graph of ``nodes`` (numbered by their place in ``nodes``) with one more node,
        the last, whose arcs go to ``ends`` (graph numbers) at ``seconds``; arcs leaving the
        subgraph are dropped, closed arcs (``closed_arc`` by arc number) cost inf, and an end
        outside the subgraph gets no arc (it is beyond the limit). ``matrix``/``arcs``: the
        graph's CSR matrix and, per stored entry, its arc."""
        _, local = self._ready()
        k = nodes.size
        local[nodes] = np.arange(k)
        try:
            starts, stops = matrix.indptr[nodes], matrix.indptr[nodes + 1]
            counts = stops - starts
            total = int(counts.sum())
            # the stored entries of each row, row after row (a ragged gather without a loop)
            positions = np.repeat(starts - np.cumsum(counts) + counts, counts) + np.arange(total)
            heads = local[matrix.indices[positions]]
            rows = np.repeat(np.arange(k), counts)
            data = matrix.data[positions]
            if closed_arc is not None:
                data = np.where(closed_arc[arcs[positions]], np.inf, data)
            inside = heads >= 0
            virtual = [(int(local[end]), cost) for end, cost in zip(ends, seconds, strict=True) if local[end] >= 0]
        finally:
            local[nodes] = -1
        rows, heads, data = rows[inside], heads[inside], data[inside]
        indptr = np.zeros(k + 2, dtype=np.int64)
        indptr[1 : k + 1] = np.cumsum(np.bincount(rows, minlength=k))
        indptr[k + 1] = indptr[k] + len(virtual)
        indices = np.concatenate([heads, np.array([end for end, _ in virtual], dtype=np.int64)]).astype(np.int32)
        values = np.concatenate([data, np.array([cost for _, cost in virtual], dtype=float)])
        return csr_matrix((values, indices, indptr), shape=(k + 1, k + 1))
