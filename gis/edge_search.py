"""The nearest road edge of many points, and the edges a geometry touches.

Everything is in the road graph's metric CRS: coordinates and distances in metres, fractions
along an edge in its drawn direction (0 at its first vertex, 1 at its last).

The nearest-edge search is written here rather than using GEOS's STRtree nearest (about 8 µs a
point, and its distances and fractions are not the ones computed here): edges are cut into
straight pieces of at most ``PIECE_M``, and every answer is the exact point–segment computation
on the pieces (``_closest``), one formula whichever way the candidate pieces were found:

- many points: a k-d tree of all the pieces' midpoints gives each point its k nearest pieces. A
  point whose k-th nearest midpoint is not beyond the best distance plus half the longest piece
  is asked again with a larger k, and at last found as the few points are;
- few points (``LOCAL_UP_TO``), while the pieces of the whole network are not built: GEOS's
  STRtree gives each point its nearest edge's distance and every edge within it (plus
  ``LOCAL_MARGIN_M``), and only those edges are cut into pieces. A province's pieces are a
  gigabyte: snapping its ten thousand rescue stations no longer builds them.

Both ways give the same answer to the last bit: a piece is made from its edge alone (its offset
along the edge summed over that edge's segments only), the candidates of either way include every
piece that can be nearest or tied, and ties are broken by number (the lowest edge, then its lowest
piece), never by the order the candidates came in.
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
LOCAL_UP_TO = 50_000
"""Up to this many points, while the whole network's pieces are not built, only the edges near the
points are cut into pieces."""
LOCAL_MARGIN_M = 1e-3
"""The few points' candidate edges: every edge within the nearest one's distance (GEOS) plus this
(metres), far more than ``TIE_M`` and the rounding between GEOS's distances and the pieces'."""
_NO_NUMBER = np.iinfo(np.int64).max

Nearest = tuple[NDArray[np.int64], NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]
"""Per point: edge (-1: none), fraction along it, distance (m), nearest point on it (x, y)."""


def _offsets_within(lengths: NDArray[np.float64], first: NDArray[np.bool_]) -> NDArray[np.float64]:
    """The sum of the lengths before each item within its group (groups contiguous; ``first``
    marks each group's first item), added item by item from the group's start.

    Not one cumulative sum over all groups less each group's base: its rounding would depend on
    the groups before, and an edge cut into pieces on its own must get the very same offsets."""
    offsets = np.zeros(lengths.size)
    starts = np.flatnonzero(first)
    sizes = np.diff(np.append(starts, lengths.size))
    order = np.argsort(-sizes, kind="stable")
    starts, descending = starts[order], -sizes[order]
    for j in range(1, int(sizes.max(initial=1))):
        longer = starts[: np.searchsorted(descending, -j, side="left")]  # the groups of more than j items
        offsets[longer + j] = offsets[longer + j - 1] + lengths[longer + j - 1]
    return offsets


@dataclass(frozen=True)
class _Pieces:
    """Edges cut into straight pieces of at most ``PIECE_M``, in edge order, each edge's pieces
    from its first vertex to its last; with a k-d tree of their midpoints when built for all."""

    edge: NDArray[np.int64]
    start: NDArray[np.float64]  # (m, 2)
    vector: NDArray[np.float64]  # (m, 2) start → end
    offset_m: NDArray[np.float64]  # distance along the edge at the piece's start
    half_max: float
    tree: cKDTree | None

    @classmethod
    def of(cls, geometries: NDArray[np.object_], numbers: NDArray[np.int64] | None = None, *, with_tree: bool = True) -> _Pieces:
        """The pieces of ``geometries``, whose edge numbers are ``numbers`` (default: their positions)."""
        coords, owner = shapely.get_coordinates(geometries, return_index=True)
        same = owner[1:] == owner[:-1]
        a, b, edge = coords[:-1][same], coords[1:][same], owner[:-1][same]
        del coords, owner
        seg_len = np.hypot(*(b - a).T)
        first_of_edge = np.ones(edge.size, bool)
        first_of_edge[1:] = edge[1:] != edge[:-1]
        seg_offset = _offsets_within(seg_len, first_of_edge)
        parts = np.maximum(1, np.ceil(seg_len / PIECE_M).astype(np.int64))
        seg = np.repeat(np.arange(edge.size), parts)
        step = (np.arange(seg.size) - np.repeat(np.cumsum(parts) - parts, parts)).astype(np.float64)
        share = 1.0 / parts[seg]
        vector = (b - a)[seg] * share[:, None]
        start = a[seg] + vector * step[:, None]
        offset = seg_offset[seg] + seg_len[seg] * share * step
        half = float(np.max(np.hypot(*vector.T))) / 2.0 if seg.size else 0.0
        numbered = edge[seg] if numbers is None else np.asarray(numbers, dtype=np.int64)[edge[seg]]
        return cls(numbered.astype(np.int64), start, vector, offset, half, cKDTree(start + vector / 2.0) if with_tree and seg.size else None)


def _closest(pieces: _Pieces, lengths_m: NDArray[np.float64], xy: NDArray[np.float64], group_starts: NDArray[np.int64],
             point: NDArray[np.int64], piece: NDArray[np.int64]) -> tuple[Nearest, NDArray[np.float64]]:
    """Each point's nearest edge among its candidate pieces: the pairs (``point``, ``piece``),
    grouped by point (group g's pairs start at ``group_starts[g]``; ``point`` numbers rows of
    ``xy``). Returns the answer per group and the best distance per group (m).

    Edges within ``TIE_M`` of the nearest are equally near: the lowest edge number wins; of its
    pieces, the lowest-numbered of those nearest to the point gives the fraction and the point."""
    group = np.repeat(np.arange(group_starts.size), np.diff(np.append(group_starts, piece.size)))
    start_x, start_y = pieces.start[piece, 0], pieces.start[piece, 1]
    vector_x, vector_y = pieces.vector[piece, 0], pieces.vector[piece, 1]
    offset_x, offset_y = xy[point, 0] - start_x, xy[point, 1] - start_y
    length2 = vector_x * vector_x + vector_y * vector_y
    t = np.clip((offset_x * vector_x + offset_y * vector_y) / np.where(length2 > 0, length2, 1.0), 0.0, 1.0)
    gap = np.sqrt((offset_x - t * vector_x) ** 2 + (offset_y - t * vector_y) ** 2)
    best = np.minimum.reduceat(gap, group_starts)
    pair_edge = pieces.edge[piece]
    edge = np.minimum.reduceat(np.where(gap <= best[group] + TIE_M, pair_edge, _NO_NUMBER), group_starts)
    on_winner = pair_edge == edge[group]
    winner_gap = np.minimum.reduceat(np.where(on_winner, gap, np.inf), group_starts)
    chosen = np.minimum.reduceat(np.where(on_winner & (gap == winner_gap[group]), piece, _NO_NUMBER), group_starts)
    pair = np.flatnonzero(piece == chosen[group])  # one pair per group: a point's candidates are distinct pieces
    t_best = t[pair]
    along = pieces.offset_m[chosen] + t_best * np.sqrt(length2[pair])
    total = lengths_m[edge]
    # The pieces' lengths add up to the edge's within rounding: a fraction of 1 + 1e-16 would
    # make the far part of the edge -1e-16 s long, a negative weight to Dijkstra.
    fraction = np.clip(np.where(total > 0, along / np.where(total > 0, total, 1.0), 0.0), 0.0, 1.0)
    snapped = np.column_stack([start_x[pair] + t_best * vector_x[pair], start_y[pair] + t_best * vector_y[pair]])
    return (edge, fraction, gap[pair], snapped), best


def _no_edge(n: int) -> Nearest:
    """The answer of ``n`` points before any is found: no edge, no distance."""
    return np.full(n, -1, dtype=np.int64), np.zeros(n), np.full(n, np.inf), np.full((n, 2), np.nan)


def _within(max_distance_m: float, edge: NDArray[np.int64], fraction: NDArray[np.float64], distance: NDArray[np.float64], snapped: NDArray[np.float64]) -> Nearest:
    """The answer with the points farther than ``max_distance_m`` from their edge given none (in place)."""
    beyond = distance > max_distance_m
    edge[beyond], fraction[beyond], distance[beyond], snapped[beyond] = -1, 0.0, np.inf, np.nan
    return edge, fraction, distance, snapped


class EdgeIndex:
    """Where the edges of a road graph lie: an STRtree of their LineStrings (metres) and, built on
    the first nearest-edge search of many points, their pieces. Thread-safe."""

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

    def nearest(self, xy: NDArray[np.float64], max_distance_m: float) -> Nearest:
        """For each point (metres): the nearest edge (-1 beyond ``max_distance_m``), the fraction
        along it (drawn direction), the distance (m) and the nearest point on it (x, y).
        Edges within ``TIE_M`` of the nearest count as equally near: the lowest edge number wins.
        """
        n = len(xy)
        edge, fraction, distance, snapped = _no_edge(n)
        if n and len(self.geometries):
            with self._lock:
                built = self._piece_cache is not None
            if not built and n <= LOCAL_UP_TO:
                self._nearest_local(xy, np.arange(n), edge, fraction, distance, snapped)
            else:
                self._nearest_by_pieces(xy, edge, fraction, distance, snapped)
        return _within(max_distance_m, edge, fraction, distance, snapped)

    def _nearest_by_pieces(self, xy: NDArray[np.float64], edge: NDArray[np.int64], fraction: NDArray[np.float64], distance: NDArray[np.float64],
                           snapped: NDArray[np.float64]) -> None:
        """The k-d tree of all the pieces, a batch of points at a time (in place)."""
        pieces = self._pieces()
        if pieces.tree is None:  # no edge has a segment
            return
        n = len(xy)
        # Each point is searched on its own, so a batch at a time gives the same answer: the (n, k)
        # temporaries of a province's 16 million cells at once would be gigabytes each.
        for first in range(0, n, NEAREST_BATCH):
            todo = np.arange(first, min(n, first + NEAREST_BATCH))
            for k in PIECE_NEIGHBOURS:
                if todo.size == 0:
                    break
                k = min(k, pieces.edge.size)
                mid_distance, candidate = pieces.tree.query(xy[todo], k=k, workers=-1)
                found, best = _closest(pieces, self.lengths_m, xy[todo], np.arange(0, todo.size * k, k), np.repeat(np.arange(todo.size), k), candidate.reshape(-1))
                sure = mid_distance.reshape(todo.size, k)[:, -1] > best + pieces.half_max + TIE_M if k < pieces.edge.size else np.ones(todo.size, bool)
                rows = todo[sure]
                edge[rows], fraction[rows], distance[rows], snapped[rows] = (part[sure] for part in found)
                todo = todo[~sure]
            if todo.size:
                self._nearest_local(xy, todo, edge, fraction, distance, snapped)

    def nearest_open(self, xy: NDArray[np.float64], max_distance_m: float, closed: NDArray[np.bool_]) -> Nearest:
        """``nearest`` among the edges not ``closed`` (a mask of edges): the candidates are every
        open edge within ``max_distance_m``, cut into pieces; the same arithmetic and
        ties, so a point whose nearest edge is open gets the very answer of ``nearest``."""
        n = len(xy)
        edge, fraction, distance, snapped = _no_edge(n)
        if n and len(self.geometries):
            point, candidate = self.tree.query(shapely.points(xy), predicate="dwithin", distance=max_distance_m)
            open_pair = ~closed[candidate]
            point, candidate = point[open_pair], candidate[open_pair]
            rows = np.unique(point)
            if rows.size:
                self._closest_among(xy, rows, np.searchsorted(rows, point), candidate, edge, fraction, distance, snapped)
        return _within(max_distance_m, edge, fraction, distance, snapped)

    def _nearest_local(self, xy: NDArray[np.float64], rows: NDArray[np.int64], edge: NDArray[np.int64], fraction: NDArray[np.float64],
                       distance: NDArray[np.float64], snapped: NDArray[np.float64]) -> None:
        """The points ``rows`` of ``xy`` from the pieces of the edges near them alone (in place)."""
        points = shapely.points(xy[rows])
        (which, _), gaps = self.tree.query_nearest(points, return_distance=True, all_matches=False)
        near_m = np.full(rows.size, np.inf)
        near_m[which] = gaps
        point, candidate = self.tree.query(points, predicate="dwithin", distance=near_m + LOCAL_MARGIN_M)
        self._closest_among(xy, rows, point, candidate, edge, fraction, distance, snapped)

    def _closest_among(self, xy: NDArray[np.float64], rows: NDArray[np.int64], point: NDArray[np.int64], candidate: NDArray[np.int64], edge: NDArray[np.int64],
                       fraction: NDArray[np.float64], distance: NDArray[np.float64], snapped: NDArray[np.float64]) -> None:
        """The points ``rows`` of ``xy`` from their candidate edges, the pairs (``point``: a
        position in ``rows``, ``candidate``: an edge), at least one per point (in place)."""
        order = np.lexsort((candidate, point))
        point, candidate = point[order], candidate[order]
        edges, pair_edge = np.unique(candidate, return_inverse=True)
        local = _Pieces.of(self.geometries[edges], edges, with_tree=False)
        # Each pair (point, edge) becomes the pairs (point, each piece of the edge).
        first_piece = np.searchsorted(local.edge, edges, side="left")
        count = np.searchsorted(local.edge, edges, side="right") - first_piece
        per_pair = count[pair_edge]
        pair_start = np.cumsum(per_pair) - per_pair
        piece = np.repeat(first_piece[pair_edge] - pair_start, per_pair) + np.arange(per_pair.sum())
        piece_point = np.repeat(point, per_pair)
        group_starts = np.searchsorted(piece_point, np.arange(rows.size), side="left")
        found, _ = _closest(local, self.lengths_m, xy[rows], group_starts, piece_point, piece)
        edge[rows], fraction[rows], distance[rows], snapped[rows] = found

    def _pieces(self) -> _Pieces:
        with self._lock:
            if self._piece_cache is None:
                self._piece_cache = _Pieces.of(self.geometries)
            return self._piece_cache
