"""The sample city's road network: an organic planar mesh with a road hierarchy laid on it.

Junctions are scattered more densely in towns than in the country; their Gabriel graph (a subgraph
of the Delaunay triangulation with no crossings and no long detours) gives village and town
streets. Higher classes follow shortest paths on that mesh: expressways along the real corridors
between county towns, national/provincial roads between neighbouring county towns, county roads
from each township seat to its county town, township roads between neighbouring township seats.
Nothing crosses the Nansi Lake. Metres, EPSG:4548.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import dijkstra
from scipy.spatial import Delaunay

from layers.catalogue import ROAD_CLASSES
from layers.sample.geography import COUNTIES, EXPRESSWAYS
from layers.sample.land import Array, Land, Township

RURAL_SPACING_M = 900.0
URBAN_SPACING_M = 260.0
MAX_EDGE_M = 3000.0


@dataclass
class RoadNetwork:
    """Edges as node-index pairs with class rank (index into ROAD_CLASSES), name and one-way flag."""

    nodes: Array  # (n, 2) metres
    edges: Array  # (m, 2)
    rank: Array
    names: list[str | None]
    oneway: Array

    def lines(self) -> Array:
        return np.asarray(shapely.linestrings(np.stack([self.nodes[self.edges[:, 0]], self.nodes[self.edges[:, 1]]], axis=1)), dtype=object)


def _jittered_grid(bounds: tuple[float, float, float, float], spacing: float, rng: np.random.Generator) -> Array:
    min_x, min_y, max_x, max_y = bounds
    xs = np.arange(min_x, max_x, spacing)
    ys = np.arange(min_y, max_y, spacing)
    grid = np.stack(np.meshgrid(xs, ys), axis=-1).reshape(-1, 2)
    return grid + rng.uniform(-0.35 * spacing, 0.35 * spacing, grid.shape)


def _junctions(land: Land, rng: np.random.Generator, rural_spacing_m: float, urban_spacing_m: float) -> Array:
    rural = _jittered_grid(land.boundary.bounds, rural_spacing_m, rng)
    urban_parts = []
    near_town = np.zeros(len(rural), dtype=bool)
    for county, (sx, sy) in zip(COUNTIES, land.seats, strict=True):
        radius = county.urban_radius_km * 1000.0
        near_town |= (rural[:, 0] - sx) ** 2 + (rural[:, 1] - sy) ** 2 < radius**2
        town = _jittered_grid((sx - radius, sy - radius, sx + radius, sy + radius), urban_spacing_m, rng)
        urban_parts.append(town[(town[:, 0] - sx) ** 2 + (town[:, 1] - sy) ** 2 < radius**2])
    points = np.concatenate([rural[~near_town], *urban_parts])
    keep = shapely.contains_xy(land.boundary, points[:, 0], points[:, 1]) & ~shapely.contains_xy(
        land.lake.buffer(300.0), points[:, 0], points[:, 1]
    )
    return points[keep]


def _gabriel_edges(points: Array) -> Array:
    """Edges of the Delaunay triangulation whose opposite angles are all acute (Gabriel graph)."""
    triangles = Delaunay(points).simplices
    edges = []
    obtuse = []
    for k in range(3):
        a, b, c = triangles[:, k], triangles[:, (k + 1) % 3], triangles[:, (k + 2) % 3]
        u = points[a] - points[c]
        v = points[b] - points[c]
        edges.append(np.sort(np.stack([a, b], axis=1), axis=1))
        obtuse.append((u * v).sum(axis=1) <= 0)  # angle at c, opposite edge ab, ≥ 90°
    all_edges = np.concatenate(edges)
    all_obtuse = np.concatenate(obtuse)
    unique, inverse = np.unique(all_edges, axis=0, return_inverse=True)
    bad = np.zeros(len(unique), dtype=bool)
    np.logical_or.at(bad, inverse.ravel(), all_obtuse)
    return unique[~bad]


def _nearest_node(points: Array, xy: tuple[float, float]) -> int:
    return int(np.argmin((points[:, 0] - xy[0]) ** 2 + (points[:, 1] - xy[1]) ** 2))


def build_roads(
    land: Land,
    townships: list[Township],
    rng: np.random.Generator,
    *,
    rural_spacing_m: float = RURAL_SPACING_M,
    urban_spacing_m: float = URBAN_SPACING_M,
    max_edge_m: float = MAX_EDGE_M,
) -> RoadNetwork:
    """The network on ``land``: junctions about ``rural_spacing_m`` apart in the country and
    ``urban_spacing_m`` in towns, edges no longer than ``max_edge_m`` (metres)."""
    nodes = _junctions(land, rng, rural_spacing_m, urban_spacing_m)
    edges = _gabriel_edges(nodes)
    lengths = np.hypot(*(nodes[edges[:, 0]] - nodes[edges[:, 1]]).T)
    lines = shapely.linestrings(np.stack([nodes[edges[:, 0]], nodes[edges[:, 1]]], axis=1))
    crosses_water = shapely.intersects(lines, land.lake)
    keep = (lengths <= max_edge_m) & ~crosses_water & shapely.within(lines, land.boundary.buffer(500.0))
    edges, lengths = edges[keep], lengths[keep]

    n = len(nodes)
    graph = coo_matrix((np.concatenate([lengths, lengths]), (np.concatenate([edges[:, 0], edges[:, 1]]), np.concatenate([edges[:, 1], edges[:, 0]]))), shape=(n, n)).tocsr()
    edge_index = {(int(a), int(b)): i for i, (a, b) in enumerate(edges)}
    rank = np.full(len(edges), ROAD_CLASSES.index("村道"))
    names: list[str | None] = [None] * len(edges)

    # Town streets inside each county town's urban radius.
    mid = (nodes[edges[:, 0]] + nodes[edges[:, 1]]) / 2.0
    for county, (sx, sy) in zip(COUNTIES, land.seats, strict=True):
        urban = (mid[:, 0] - sx) ** 2 + (mid[:, 1] - sy) ** 2 < (county.urban_radius_km * 1000.0) ** 2
        rank[urban] = ROAD_CLASSES.index("城市道路")

    seat_node = {c.name: _nearest_node(nodes, tuple(s)) for c, s in zip(COUNTIES, land.seats, strict=True)}
    township_node = [_nearest_node(nodes, t.seat) for t in townships]
    sources = sorted(set(seat_node.values()) | set(township_node))
    _, predecessors = dijkstra(graph, directed=False, indices=sources, return_predecessors=True)
    row_of = {s: i for i, s in enumerate(sources)}

    def mark(start: int, end: int, road_class: str, name: str | None) -> None:
        target_rank = ROAD_CLASSES.index(road_class)
        pred = predecessors[row_of[start]]
        node = end
        while node != start and pred[node] >= 0:
            previous = int(pred[node])
            i = edge_index[(min(previous, node), max(previous, node))]
            if target_rank < rank[i] or (target_rank == rank[i] and names[i] is None):
                rank[i] = target_rank
                names[i] = name
            node = previous

    for name, towns in EXPRESSWAYS:
        for a, b in zip(towns, towns[1:], strict=False):
            mark(seat_node[a], seat_node[b], "高速公路", name)
    seat_graph = Delaunay(land.seats)
    pairs = sorted({tuple(sorted((int(t[i]), int(t[(i + 1) % 3])))) for t in seat_graph.simplices for i in range(3)})
    for number, (first, second) in enumerate(pairs):
        road_class = "国道" if number % 3 == 0 else "省道"
        label = f"G{104 + number}" if road_class == "国道" else f"S{240 + number}"
        mark(seat_node[COUNTIES[first].name], seat_node[COUNTIES[second].name], road_class, label)
    for number, (township, node) in enumerate(zip(townships, township_node, strict=True)):
        mark(seat_node[township.county.name], node, "县道", f"X{number + 1:03d}")
    township_xy = np.array([t.seat for t in townships])
    for number, node in enumerate(township_node):
        distance = np.hypot(*(township_xy - township_xy[number]).T)
        for other in np.argsort(distance)[1:3]:
            mark(node, township_node[int(other)], "乡道", f"Y{number + 1:03d}")

    # A few one-way town streets; kept in the direction the edge is drawn, or reversed at random.
    oneway = (rank == ROAD_CLASSES.index("城市道路")) & (rng.random(len(edges)) < 0.05)
    flip = rng.random(len(edges)) < 0.5
    edges = np.where(flip[:, None], edges[:, ::-1], edges)
    return RoadNetwork(nodes=nodes, edges=edges, rank=rank, names=names, oneway=oneway)
