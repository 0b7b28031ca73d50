"""The nearest road edge of many points, and the edges a geometry touches.

Everything is in the road graph's metric CRS: coordinates and distances in metres, fractions
along an edge in its drawn direction (0 at its first vertex, 1 at its last).

The nearest-edge search is written here rather than using GEOS's STRtree nearest (about 8 µs a
point): edges are cut into straight pieces of at most ``PIECE_M``; a k-d tree of the pieces'
midpoints gives each point its k nearest pieces, and exact point–segment distances are computed
in numpy. The answer is exact: a point whose k-th nearest midpoint is not beyond the best
distance plus half the longest piece is asked again with a larger k, and at last handed to the
STRtree.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np
import shapely
from numpy.typing import NDArray
from scipy.spatial import cKDTree

PIECE_M = 100.0
"""Longest straight piece the nearest-edge search indexes (metres)."""
PIECE_NEIGHBOURS = (6, 24, 96)
"""How many nearest pieces each round of the nearest-edge search looks at."""
TIE_M = 1e-6
"""Edges this much (metres) farther than the nearest still count as equally near."""
NEAREST_BATCH = 500_000
"""Points searched at a time (each round's temporaries: points × neighbours × 8 bytes apiece)."""


@dataclass(frozen=True)
class _Pieces:
    """Edges cut into straight pieces of at most ``PIECE_M``, with a k-d tree of their midpoints."""

    edge: NDArray[np.int64]
    start: NDArray[np.float64]  # (m, 2)
    vector: NDArray[np.float64]  # (m, 2) start → end
    offset_m: NDArray[np.float64]  # distance along the edge at the piece's start
    half_max: float
    tree: cKDTree

    @classmethod
    def of(cls, geometries: NDArray[np.object_]) -> _Pieces:
        coords, owner = shapely.get_coordinates(geometries, return_index=True)
        same = owner[1:] == owner[:-1]
        a, b, edge = coords[:-1][same], coords[1:][same], owner[:-1][same]
        seg_len = np.hypot(*(b - a).T)
        # distance along the edge at each segment's start
        cumulative = np.cumsum(seg_len)
        first_of_edge = np.ones(edge.size, bool)
        first_of_edge[1:] = edge[1:] != edge[:-1]
        edge_base = np.maximum.accumulate(np.where(first_of_edge, cumulative - seg_len, 0.0))
        seg_offset = cumulative - seg_len - edge_base
        parts = np.maximum(1, np.ceil(seg_len / PIECE_M).astype(np.int64))
        seg = np.repeat(np.arange(edge.size), parts)
        step = np.arange(seg.size) - np.repeat(np.cumsum(parts) - parts, parts)
        share = 1.0 / parts[seg]
        vector = (b - a)[seg] * share[:, None]
        start = a[seg] + vector * step[:, None]
        offset = seg_offset[seg] + seg_len[seg] * share * step
        half = float(np.max(np.hypot(*vector.T))) / 2.0 if seg.size else 0.0
        return cls(edge[seg].astype(np.int64), start, vector, offset, half, cKDTree(start + vector / 2.0))


class EdgeIndex:
    """Where the edges of a road graph lie: an STRtree of their LineStrings (metres) and, built on
    the first nearest-edge search, their pieces. Thread-safe."""

    def __init__(self, geometries: NDArray[np.object_], lengths_m: NDArray[np.float64]) -> None:
        self.geometries = geometries
        self.lengths_m = lengths_m
        self.tree = shapely.STRtree(geometries)
        """Spatial index of the edge geometries (metric CRS)."""
        self._lock = threading.Lock()
        self._piece_cache: _Pieces | None = None

    def intersecting(self, geometries: NDArray[np.object_]) -> NDArray[np.bool_]:
        """Mask of edges that intersect any of ``geometries`` (metric CRS)."""
        mask = np.zeros(len(self.geometries), dtype=bool)
        if len(geometries):
            _, hit = self.tree.query(geometries, predicate="intersects")
            mask[hit] = True
        return mask

    def nearest(self, xy: NDArray[np.float64], max_distance_m: float) -> tuple[NDArray[np.int64], NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
        """For each point (metres): the nearest edge (-1 beyond ``max_distance_m``), the fraction
        along it (drawn direction), the distance (m) and the nearest point on it (x, y).
        Edges within ``TIE_M`` of the nearest count as equally near: the lowest edge number wins.
        """
        pieces = self._pieces()
        n = len(xy)
        edge = np.full(n, -1, dtype=np.int64)
        fraction = np.zeros(n)
        distance = np.full(n, np.inf)
        snapped = np.full((n, 2), np.nan)
        # Each point is searched on its own, so a batch at a time gives the same answer: the (n, k)
        # temporaries of a province's 16 million cells at once would be gigabytes each.
        for start in range(0, n, NEAREST_BATCH):
            todo = np.arange(start, min(n, start + NEAREST_BATCH))
            for k in PIECE_NEIGHBOURS:
                if todo.size == 0 or pieces.edge.size == 0:
                    break
                k = min(k, pieces.edge.size)
                found = self._nearest_pieces(pieces, xy[todo], k)
                sure = found[4] if k < pieces.edge.size else np.ones(todo.size, bool)
                rows = todo[sure]
                edge[rows], fraction[rows], distance[rows], snapped[rows] = (part[sure] for part in found[:4])
                todo = todo[~sure]
            if todo.size:
                self._nearest_by_tree(xy, todo, edge, fraction, distance, snapped)
        beyond = distance > max_distance_m
        edge[beyond], fraction[beyond], distance[beyond], snapped[beyond] = -1, 0.0, np.inf, np.nan
        return edge, fraction, distance, snapped

    def _nearest_pieces(self, pieces: _Pieces, xy: NDArray[np.float64], k: int) -> tuple[NDArray[np.int64], NDArray[np.float64], NDArray[np.float64], NDArray[np.float64], NDArray[np.bool_]]:
        """Nearest edge among the ``k`` pieces with the nearest midpoints, and whether that is sure."""
        n = len(xy)
        mid_distance, candidate = pieces.tree.query(xy, k=k, workers=-1)
        mid_distance, candidate = mid_distance.reshape(n, k), candidate.reshape(n, k)
        # Coordinates one axis at a time: (n, k) arrays, contiguous, no 3-D temporaries.
        start_x, start_y = pieces.start[:, 0][candidate], pieces.start[:, 1][candidate]
        vector_x, vector_y = pieces.vector[:, 0][candidate], pieces.vector[:, 1][candidate]
        offset_x, offset_y = xy[:, 0, None] - start_x, xy[:, 1, None] - start_y
        length2 = vector_x * vector_x + vector_y * vector_y
        t = np.clip((offset_x * vector_x + offset_y * vector_y) / np.where(length2 > 0, length2, 1.0), 0.0, 1.0)
        gap = np.sqrt((offset_x - t * vector_x) ** 2 + (offset_y - t * vector_y) ** 2)
        best = gap.min(axis=1)
        tied_edge = np.where(gap <= best[:, None] + TIE_M, pieces.edge[candidate], np.iinfo(np.int64).max)
        edge = tied_edge.min(axis=1)
        # the nearest piece of the winning edge
        column = np.argmin(np.where(pieces.edge[candidate] == edge[:, None], gap, np.inf), axis=1)
        rows = np.arange(n)
        chosen, t_best = candidate[rows, column], t[rows, column]
        along = pieces.offset_m[chosen] + t_best * np.sqrt(length2[rows, column])
        total = self.lengths_m[edge]
        # The pieces' lengths add up to the edge's within rounding: a fraction of 1 + 1e-16 would
        # make the far part of the edge -1e-16 s long, a negative weight to Dijkstra.
        fraction = np.clip(np.where(total > 0, along / np.where(total > 0, total, 1.0), 0.0), 0.0, 1.0)
        snapped = np.column_stack([start_x[rows, column] + t_best * vector_x[rows, column], start_y[rows, column] + t_best * vector_y[rows, column]])
        sure = mid_distance[:, -1] > best + pieces.half_max + TIE_M
        return edge, fraction, gap[rows, column], snapped, sure

    def _nearest_by_tree(self, xy: NDArray[np.float64], rows: NDArray[np.int64], edge: NDArray[np.int64], fraction: NDArray[np.float64], distance: NDArray[np.float64], snapped: NDArray[np.float64]) -> None:
        """GEOS's STRtree nearest for the few points the k-d tree could not settle (in place)."""
        points = np.asarray(shapely.points(xy[rows]), dtype=object)
        found, hit = self.tree.query_nearest(points, all_matches=True)
        gaps = shapely.distance(points[found], self.geometries[hit])
        best = np.full(rows.size, np.inf)
        np.minimum.at(best, found, gaps)
        tied = gaps <= best[found] + TIE_M
        winner = np.full(rows.size, np.iinfo(np.int64).max)
        np.minimum.at(winner, found[tied], hit[tied])
        lines = self.geometries[winner]
        along = shapely.line_locate_point(lines, points)
        lengths = self.lengths_m[winner]
        edge[rows] = winner
        distance[rows] = shapely.distance(lines, points)
        fraction[rows] = np.clip(np.where(lengths > 0, along / np.where(lengths > 0, lengths, 1.0), 0.0), 0.0, 1.0)
        snapped[rows] = shapely.get_coordinates(shapely.line_interpolate_point(lines, along))

    def _pieces(self) -> _Pieces:
        with self._lock:
            if self._piece_cache is None:
                self._piece_cache = _Pieces.of(self.geometries)
            return self._piece_cache
