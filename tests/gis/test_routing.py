"""Routing on a hand-made network whose every answer is worked out by hand.

Junctions 1 km apart (metres, EPSG:4548), every road 36 km/h = 10 m/s, so 1 km = 100 s:

    D ---- E ---- F ---- G          (F-G: a spur)
    |      |      |
    A ---- B --x- C                 x: the incident, half-way from B to C
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import shapely

from gis.drive_time import coverage_by_time
from gis.network import NetworkError, graph_from_edges
from gis.routing import (
    RoutingError,
    closed_edges,
    index_resources,
    nearest_resources,
)
from gis.service_areas import service_areas

X0, Y0 = 500_000.0, 3_920_000.0
JUNCTIONS = {"A": (0, 0), "B": (1000, 0), "C": (2000, 0), "D": (0, 1000), "E": (1000, 1000), "F": (2000, 1000), "G": (3000, 1000)}
ROADS = ["AB", "BC", "DE", "EF", "AD", "BE", "CF", "FG"]
SPEEDS = {"县道": 36.0}


def _xy(name: str) -> tuple[float, float]:
    x, y = JUNCTIONS[name]
    return X0 + x, Y0 + y


def _lonlat(x: float, y: float) -> shapely.Point:
    return gpd.GeoSeries([shapely.Point(X0 + x, Y0 + y)], crs=4548).to_crs(4326).iloc[0]


def roads(oneway: dict[str, bool] | None = None) -> gpd.GeoDataFrame:
    oneway = oneway or {}
    return gpd.GeoDataFrame(
        {
            "source_id": ROADS,
            "name": [f"{r}路" for r in ROADS],
            "road_class": ["县道"] * len(ROADS),
            "speed_kmh": [np.nan] * len(ROADS),
            "oneway": [oneway.get(r, False) for r in ROADS],
        },
        geometry=[shapely.LineString([_xy(r[0]), _xy(r[1])]) for r in ROADS],
        crs=4548,
    ).to_crs(4326)


def resources() -> gpd.GeoDataFrame:
    points = {"R1": (0, 500), "R2": (2000, 500), "R4": (2900, 1000), "R5": (9000, 9000)}
    return gpd.GeoDataFrame(
        {"resource_id": list(points), "layer": ["rescue_stations"] * 4, "name": [f"{k}站" for k in points]},
        geometry=[_lonlat(*xy) for xy in points.values()],
        crs=4326,
    )


INCIDENT = _lonlat(1500, 0)


@pytest.fixture
def graph():  # type: ignore[no-untyped-def]
    return graph_from_edges(roads(), epsg=4548, class_speed_kmh=SPEEDS)


def _times(frame: gpd.GeoDataFrame) -> dict[str, float]:
    return dict(zip(frame["resource_id"], frame["travel_time_min"] * 60, strict=True))


def test_times_include_the_partial_edges_at_both_ends(graph) -> None:  # type: ignore[no-untyped-def]
    found = nearest_resources(graph, INCIDENT, index_resources(graph, resources()), k=4)
    times = _times(found)
    assert times["R2"] == pytest.approx(100.0, abs=1e-6)  # R2 → C 50 s, C → x 50 s
    assert times["R1"] == pytest.approx(200.0, abs=1e-6)  # R1 → A 50, A → B 100, B → x 50
    assert times["R4"] == pytest.approx(240.0, abs=1e-6)  # R4 → F 90 (900 m), F → C 100, C → x 50
    assert list(found["rank"]) == [1, 2, 3, 4]
    r1 = found.set_index("resource_id").loc["R1"]
    assert r1["distance_km"] == pytest.approx(2.0, abs=1e-6)
    assert r1["snap_m_resource"] == pytest.approx(0.0, abs=1e-6)
    route = gpd.GeoSeries([r1.geometry], crs=4326).to_crs(4548).iloc[0]
    assert route.coords[0] == pytest.approx(_xy("A")[:1] + (Y0 + 500,), abs=1e-3)
    assert route.coords[-1] == pytest.approx((X0 + 1500, Y0), abs=1e-3)


def test_a_closure_changes_the_route(graph) -> None:  # type: ignore[no-untyped-def]
    flood = gpd.GeoSeries([shapely.box(X0 + 400, Y0 - 100, X0 + 600, Y0 + 100)], crs=4548)  # cuts A-B
    cut = closed_edges(graph, polygons=list(flood))
    assert list(graph.edge_source_id[cut]) == ["AB"]
    times = _times(nearest_resources(graph, INCIDENT, index_resources(graph, resources()), k=4, closed=cut))
    assert times["R1"] == pytest.approx(300.0, abs=1e-6)  # R1 → D 50, D → E 100, E → B 100, B → x 50


def test_unreachable_resources_are_reported_not_dropped(graph) -> None:  # type: ignore[no-untyped-def]
    cut = closed_edges(graph, edge_ids=["FG"])
    found = nearest_resources(graph, INCIDENT, index_resources(graph, resources(), max_snap_m=2000), k=4, closed=cut)
    by_id = found.set_index("resource_id")
    assert not by_id.loc["R4", "reachable"] and np.isnan(by_id.loc["R4", "travel_time_min"])
    assert by_id.loc["R4"].geometry is None
    assert not by_id.loc["R5", "reachable"]  # 8 km from any road: off the network
    assert list(found["resource_id"][:2]) == ["R2", "R1"]


def test_one_way_roads_are_respected(graph) -> None:  # type: ignore[no-untyped-def]
    one_way = graph_from_edges(roads({"BC": True, "CF": True}), epsg=4548, class_speed_kmh=SPEEDS)  # C→F only, B→C only
    times = _times(nearest_resources(one_way, INCIDENT, index_resources(one_way, resources()), k=4))
    # R2 cannot go down C-F to C: R2 → F 50, F → E 100, E → B 100, B → x 50.
    assert times["R2"] == pytest.approx(300.0, abs=1e-6)


def test_max_minutes_leaves_out_slower_resources(graph) -> None:  # type: ignore[no-untyped-def]
    found = nearest_resources(graph, INCIDENT, index_resources(graph, resources()), k=4, max_minutes=3.0)
    assert set(found["resource_id"]) == {"R2"}


def test_incident_off_the_network_is_an_error(graph) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(RoutingError, match="more than 2000 m from any open road"):
        nearest_resources(graph, _lonlat(9000, 9000), index_resources(graph, resources()))


def test_bad_inputs(graph) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(RoutingError, match="k must be at least 1"):
        nearest_resources(graph, INCIDENT, index_resources(graph, resources()), k=0)
    with pytest.raises(RoutingError, match="closures must be polygons"):
        closed_edges(graph, polygons=[shapely.LineString([(0, 0), (1, 1)])])
    with pytest.raises(RoutingError, match="not in the network"):
        closed_edges(graph, edge_ids=["ZZ"])
    with pytest.raises(NetworkError, match="empty"):
        graph_from_edges(roads().iloc[0:0], epsg=4548, class_speed_kmh=SPEEDS)


def test_largest_strongly_connected_component_is_kept() -> None:
    frame = roads({"FG": True})  # G can be reached but not left: dropped
    graph = graph_from_edges(frame, epsg=4548, class_speed_kmh=SPEEDS)
    assert graph.report.edges_dropped_disconnected == 1
    assert "FG" not in set(graph.edge_source_id)
    assert graph.node_count == 6


def test_service_area_bands_follow_the_roads(graph) -> None:  # type: ignore[no-untyped-def]
    areas = service_areas(graph, gpd.GeoSeries([INCIDENT], crs=4326), minutes=[1, 2], buffer_m=10)
    reached = dict(zip(areas["minutes"], areas["reached_km"], strict=True))
    # 1 min = 600 m at 10 m/s: 500 m to B or C along B-C, then 100 m further on each of B's and C's other roads.
    assert reached[1.0] == pytest.approx(1.3, abs=1e-6)
    assert reached[2.0] > reached[1.0]
    small = gpd.GeoSeries(areas.geometry, crs=4326).to_crs(4548)
    assert small.iloc[0].contains(shapely.Point(X0 + 1000, Y0 + 50))  # up B-E by 100 m
    assert not small.iloc[0].contains(shapely.Point(X0 + 1000, Y0 + 300))


def test_coverage_by_time_names_the_first_facility(graph) -> None:  # type: ignore[no-untyped-def]
    facilities = resources().iloc[:2]  # R1 on A-D, R2 on C-F
    table = coverage_by_time(graph, facilities)
    node_of = {name: int(np.argmin(np.hypot(*(graph.node_xy - _xy(name)).T))) for name in "ABCDEF"}
    by_node = table.set_index("node")
    assert by_node.loc[node_of["A"], "facility"] == 0 and by_node.loc[node_of["A"], "minutes"] == pytest.approx(50 / 60)
    assert by_node.loc[node_of["C"], "facility"] == 1 and by_node.loc[node_of["C"], "minutes"] == pytest.approx(50 / 60)
    assert by_node.loc[node_of["E"], "minutes"] == pytest.approx(150 / 60)
    limited = coverage_by_time(graph, facilities, minutes=1.0).set_index("node")
    assert limited.loc[node_of["E"], "facility"] == -1


def test_graph_survives_a_round_trip_to_bytes(graph) -> None:  # type: ignore[no-untyped-def]
    from gis.network import RoadGraph

    again = RoadGraph.from_bytes(graph.to_bytes())
    assert again.report == graph.report and again.epsg == graph.epsg
    for name in ("forward", "reverse"):  # the matrices read back, as built
        for part in ("data", "indices", "indptr"):
            np.testing.assert_array_equal(getattr(getattr(again, name), part), getattr(getattr(graph, name), part))
    for name in ("arc_edge", "arc_forward", "forward_arc", "reverse_arc", "_arc_keys", "_arc_by_key", "node_xy", "edge_u", "edge_v", "edge_time_s", "edge_oneway"):
        np.testing.assert_array_equal(getattr(again, name), getattr(graph, name))
    assert list(again.edge_name) == list(graph.edge_name) and list(again.edge_source_id) == list(graph.edge_source_id)
    assert all(shapely.equals_exact(again.edge_geometry, graph.edge_geometry, tolerance=0)), "the geometries to the last bit"
    # and it routes as the graph built: the virtual source and the edge index are rebuilt
    loaded = _times(nearest_resources(again, INCIDENT, index_resources(again, resources()), k=4))
    built = _times(nearest_resources(graph, INCIDENT, index_resources(graph, resources()), k=4))
    assert loaded.keys() == built.keys()
    np.testing.assert_array_equal(list(loaded.values()), list(built.values()))  # nan (unreachable) alike


def test_a_point_on_a_junction_may_leave_by_any_road() -> None:
    """R at junction C, snapped to the START of one-way C→F: it may still take C→B at once."""
    frame = roads({"CF": True})
    frame = frame.iloc[[ROADS.index("CF")] + [i for i, r in enumerate(ROADS) if r != "CF"]]  # C-F first: it wins the tie at C
    graph = graph_from_edges(frame, epsg=4548, class_speed_kmh=SPEEDS)
    at_c = gpd.GeoDataFrame({"resource_id": ["RC"], "layer": ["rescue_stations"], "name": ["C站"]}, geometry=[_lonlat(2000, -30)], crs=4326)
    index = index_resources(graph, at_c)
    assert graph.edge_source_id[index.snaps.edge[0]] == "CF" and index.snaps.fraction[0] == 0.0
    times = _times(nearest_resources(graph, INCIDENT, index, k=1))
    assert times["RC"] == pytest.approx(50.0, abs=1e-3)  # C → x along C-B: 500 m


def test_points_the_work_crs_cannot_project_snap_to_nothing(graph) -> None:  # type: ignore[no-untyped-def]
    from gis.routing import snap_xy

    snaps = snap_xy(graph, np.array([[np.inf, np.inf], [np.nan, Y0], [X0 + 500, Y0]]), max_snap_m=10_000)
    assert list(snaps.edge[:2]) == [-1, -1] and np.isnan(snaps.distance_m[:2]).all()
    assert snaps.edge[2] >= 0


def test_the_reach_outline_lies_between_two_buffers_of_the_lines() -> None:
    """The service-area outline from the grid: every point within half a cell of a reached road
    is inside, nothing farther than 3 cells is (a grown cell reaches 2√2 cells from its line); and
    a smaller budget keeps only the lines reached within it (an independent check with GEOS buffers)."""
    from gis.reach_outline import reach_outlines
    from gis.service_areas import line_samples

    rng = np.random.default_rng(3)
    lines = np.asarray([shapely.LineString(rng.uniform(0, 5000, (rng.integers(2, 6), 2))) for _ in range(40)], dtype=object)
    cell = 100.0
    xy, owner, _ = line_samples(lines, cell / 2)
    seconds = np.where(owner < 20, 100.0, 500.0)  # the first 20 lines at 100 s, the others at 500 s
    early, late = reach_outlines(xy, seconds, [100.0, 500.0], cell)
    for polygon, reached in ((early, lines[:20]), (late, lines)):
        near, far = shapely.union_all(shapely.buffer(reached, cell / 2)), shapely.union_all(shapely.buffer(reached, 3 * cell))
        assert polygon.is_valid
        assert near.difference(polygon).area < 1e-6 * near.area
        assert polygon.difference(far).area < 1e-6 * polygon.area
    assert reach_outlines(xy, seconds, [50.0], cell)[0].is_empty


def test_line_samples_follow_each_line_and_know_where_they_are() -> None:
    """Samples of whole lines: on the line, at the position shapely locates them, both ends
    included, and no stretch of the line without a sample within half the step (cross-checked with
    shapely's own line_locate_point and segmentize)."""
    from gis.service_areas import line_samples

    rng = np.random.default_rng(5)
    lines = np.asarray([shapely.LineString(rng.uniform(0, 3000, (rng.integers(2, 8), 2))) for _ in range(30)], dtype=object)
    xy, owner, position = line_samples(lines, 25.0)
    points = shapely.points(xy)
    assert shapely.distance(points, lines[owner]).max() < 1e-6
    assert np.allclose(shapely.line_locate_point(lines[owner], points, normalized=True), position, atol=1e-9)
    for number, line in enumerate(lines):
        mine = points[owner == number]
        assert {0.0, 1.0} <= set(np.round(position[owner == number], 12))
        dense = shapely.points(np.asarray(line.segmentize(5.0).coords))
        assert shapely.distance(dense, shapely.multipoints(mine)).max() <= 12.5 + 1e-6




def test_source_rows_join_a_graph_entry_for_entry_as_scipys_stacks_do() -> None:
    """Drive times and walking reach add their facilities as nodes below the road graph by joining
    the CSR arrays (no COO copies of a province's graph): the matrix scipy's stacking gives."""
    from scipy.sparse import csr_matrix, hstack, random, vstack

    from gis.arraytools import with_source_rows

    n, f = 60, 4
    graph = csr_matrix(random(n, n, density=0.1, format="csr", random_state=7))
    rows = csr_matrix(random(f, n + f, density=0.2, format="csr", random_state=8))
    expected = vstack([hstack([graph, csr_matrix((n, f))]), rows]).tocsr()
    joined = with_source_rows(graph, rows)
    assert joined.shape == expected.shape == (n + f, n + f)
    for name in ("indptr", "indices", "data"):
        np.testing.assert_array_equal(getattr(joined, name), getattr(expected, name))
