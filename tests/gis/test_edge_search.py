"""The nearest edge of many points (``gis.edge_search``): GEOS's nearest to 1e-6 m, and the two
ways of finding the candidates (a k-d tree of every piece; the pieces of the edges near a few
points) give the same answer to the last bit, ties included, in any batch."""

from __future__ import annotations

import numpy as np
import pytest
import shapely

import gis.edge_search
from gis.edge_search import EdgeIndex, _Pieces

X0, Y0 = 500_000.0, 3_900_000.0  # a point in Jining, EPSG:4548 metres
Answer = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]


def _wiggly_roads(seed: int, count: int = 300) -> np.ndarray:
    """Long wiggly roads (many pieces, some segments over 100 m) over 20 km."""
    rng = np.random.default_rng(seed)
    return np.array([shapely.LineString(np.cumsum(rng.uniform(-300, 300, (rng.integers(2, 30), 2)), axis=0) + rng.uniform(0, 20_000, 2) + [X0, Y0])
                     for _ in range(count)], dtype=object)


def _street_grid() -> tuple[np.ndarray, np.ndarray]:
    """A 100 m street grid cut at every junction, and points on a 25 m lattice over it: on the
    streets, at junctions, and halfway between two parallel streets (ties everywhere)."""
    lines = [shapely.LineString([(i * 100 + X0, j * 100 + Y0), (i * 100 + X0, (j + 1) * 100 + Y0)]) for i in range(11) for j in range(10)]
    lines += [shapely.LineString([((i + 1) * 100 + X0, j * 100 + Y0), (i * 100 + X0, j * 100 + Y0)]) for i in range(10) for j in range(11)]  # drawn westward
    lattice = np.array([(x + X0, y + Y0) for x in np.arange(-50, 1051, 25.0) for y in np.arange(-50, 1051, 25.0)])
    return np.array(lines, dtype=object), lattice


def _index(geometries: np.ndarray) -> EdgeIndex:
    return EdgeIndex(geometries, shapely.length(geometries))


def _by_pieces(geometries: np.ndarray, xy: np.ndarray) -> Answer:
    index = _index(geometries)
    index._pieces()  # built: the k-d tree of every piece is used
    return index.nearest(xy, np.inf)


def _assert_same(a: Answer, b: Answer) -> None:
    for name, x, y in zip(("edge", "fraction", "distance", "snapped"), a, b, strict=True):
        np.testing.assert_array_equal(x, y, err_msg=name)


@pytest.mark.parametrize("seed", [4, 5])
def test_nearest_edges_match_geos(seed: int) -> None:
    geometries = _wiggly_roads(seed)
    xy = np.random.default_rng(seed).uniform(-2000, 22_000, (5000, 2)) + [X0, Y0]
    points = np.asarray(shapely.points(xy), dtype=object)
    found, hit = shapely.STRtree(geometries).query_nearest(points, all_matches=True)
    best = np.full(len(xy), np.inf)
    np.minimum.at(best, found, shapely.distance(points[found], geometries[hit]))
    for edge, fraction, distance, snapped in (_index(geometries).nearest(xy, np.inf), _by_pieces(geometries, xy)):
        assert distance == pytest.approx(shapely.distance(points, geometries[edge]), abs=1e-6)
        assert distance == pytest.approx(best, abs=1e-6), "no nearer edge exists"
        assert shapely.distance(shapely.points(snapped), geometries[edge]) == pytest.approx(np.zeros(len(xy)), abs=1e-6)
        assert fraction * shapely.length(geometries[edge]) == pytest.approx(shapely.line_locate_point(geometries[edge], points), abs=1e-6)
        assert ((fraction >= 0) & (fraction <= 1)).all(), "a part of an edge is never of negative length"


@pytest.mark.parametrize("roads", ["wiggly", "grid"])
def test_every_way_of_finding_the_candidates_gives_the_same_answer_to_the_last_bit(roads: str, monkeypatch: pytest.MonkeyPatch) -> None:
    if roads == "grid":
        geometries, xy = _street_grid()
    else:
        geometries = _wiggly_roads(6)
        xy = np.random.default_rng(6).uniform(-2000, 22_000, (3000, 2)) + [X0, Y0]
        on_roads = shapely.get_coordinates(shapely.line_interpolate_point(geometries, np.linspace(0, 1, len(geometries)), normalized=True))
        vertices = shapely.get_coordinates(geometries)[::7]
        xy = np.vstack([xy, on_roads, vertices])
    local = _index(geometries)
    few = local.nearest(xy, np.inf)
    assert local._piece_cache is None, "a few points never cut the whole network into pieces"
    _assert_same(few, _by_pieces(geometries, xy))
    # In batches of 7, and with so few neighbours that most points are unsure and found locally.
    monkeypatch.setattr(gis.edge_search, "NEAREST_BATCH", 7)
    monkeypatch.setattr(gis.edge_search, "PIECE_NEIGHBOURS", (1, 2))
    _assert_same(few, _by_pieces(geometries, xy))
    # One at a time.
    one_by_one = [_index(geometries).nearest(xy[i : i + 1], np.inf) for i in range(0, len(xy), 97)]
    _assert_same(tuple(np.concatenate([a[k] for a in one_by_one]) for k in range(4)), tuple(part[::97] for part in few))  # type: ignore[arg-type]


def test_ties_go_to_the_lowest_edge() -> None:
    geometries, xy = _street_grid()
    edge, fraction, distance, snapped = _index(geometries).nearest(xy, np.inf)
    points = np.asarray(shapely.points(xy), dtype=object)
    everywhere = shapely.distance(points[:, None], geometries[None, :])  # brute force: every point to every edge
    lowest_tied = np.argmax(everywhere <= everywhere.min(axis=1, keepdims=True) + gis.edge_search.TIE_M, axis=1)
    np.testing.assert_array_equal(edge, lowest_tied)
    assert distance == pytest.approx(everywhere.min(axis=1), abs=1e-9)


def test_an_edge_is_cut_into_the_same_pieces_alone_as_among_others() -> None:
    geometries = _wiggly_roads(7, count=60)
    whole = _Pieces.of(geometries)
    for j in (0, 17, 59):
        alone = _Pieces.of(geometries[[j]], np.array([j]), with_tree=False)
        mine = whole.edge == j
        assert (alone.edge == j).all()
        for part in ("start", "vector", "offset_m"):
            np.testing.assert_array_equal(getattr(alone, part), getattr(whole, part)[mine], err_msg=part)


def test_points_beyond_the_limit_have_no_edge() -> None:
    geometries = np.array([shapely.LineString([(X0, Y0), (X0 + 1000, Y0)])], dtype=object)
    edge, fraction, distance, snapped = _index(geometries).nearest(np.array([[X0 + 500, Y0 + 50], [X0 + 500, Y0 + 500]]), 100.0)
    assert edge.tolist() == [0, -1] and distance[0] == pytest.approx(50) and np.isinf(distance[1]) and np.isnan(snapped[1]).all()
    assert fraction[0] == pytest.approx(0.5)


def test_the_nearest_open_edge_is_the_nearest_with_the_closed_left_out() -> None:
    geometries, xy = _street_grid()
    closed = np.zeros(len(geometries), dtype=bool)
    closed[::3] = True
    index = _index(geometries)
    everything = index.nearest(xy, np.inf)
    edge, fraction, distance, snapped = index.nearest_open(xy, 500.0, closed)
    points = np.asarray(shapely.points(xy), dtype=object)
    everywhere = np.where(closed[None, :], np.inf, shapely.distance(points[:, None], geometries[None, :]))
    lowest_open = np.argmax(everywhere <= everywhere.min(axis=1, keepdims=True) + gis.edge_search.TIE_M, axis=1)
    np.testing.assert_array_equal(edge, lowest_open)
    assert distance == pytest.approx(everywhere.min(axis=1), abs=1e-9)
    assert fraction * shapely.length(geometries[edge]) == pytest.approx(shapely.line_locate_point(geometries[edge], points), abs=1e-6)
    kept = ~closed[everything[0]]
    assert kept.sum() > 100 and (~kept).sum() > 100
    for name, mine, theirs in zip(("edge", "fraction", "distance", "snapped"), (edge, fraction, distance, snapped), everything, strict=True):
        np.testing.assert_array_equal(mine[kept], theirs[kept], err_msg=f"{name}: a point whose nearest edge is open keeps its answer")
    # Nothing open within reach: no edge.
    far = index.nearest_open(np.array([[X0 + 2000.0, Y0 + 2000.0], [X0 + 50.0, Y0 + 50.0]]), 100.0, np.ones(len(geometries), dtype=bool))
    assert far[0].tolist() == [-1, -1] and np.isinf(far[2]).all()
