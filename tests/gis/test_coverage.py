"""Shelter coverage on tiny hand-built cases with answers worked out by hand, and cross-checks against
independent references: networkx on an explicitly split graph (reach), a brute-force sum and PySAL
``access`` (2SFCA), networkx min-cost flow (assignment), and PySAL ``spopt`` (MCLP, LSCP)."""

from __future__ import annotations

import itertools
import warnings

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import pytest
import shapely
from scipy.sparse import csr_matrix

from gis.coverage import (
    CoverageInputError,
    CoverageParams,
    Reach,
    analyse_coverage,
    assign_evacuees,
    euclidean_reach,
    gap_polygons,
    maximal_covering,
    network_reach,
    serving_shelters,
    set_covering,
    site_shelters,
    two_step_fca,
)
from gis.network import walking_graph

EPSG = 4548
X0, Y0 = 500_000.0, 3_900_000.0  # a point in Jining, EPSG:4548 metres
WALK_KMH = 3.6  # 1 m/s: every metre walked is one second


def _roads(lines: list[shapely.LineString]) -> gpd.GeoDataFrame:
    shifted = [shapely.affinity.translate(line, X0, Y0) for line in lines]
    return gpd.GeoDataFrame({"source_id": [f"R{i}" for i in range(len(lines))], "road_class": "城市道路", "speed_kmh": np.nan, "oneway": False, "name": None}, geometry=shifted, crs=EPSG)


def _xy(points: list[tuple[float, float]]) -> np.ndarray:
    return np.array(points, dtype=float) + [X0, Y0]


def _reach(cells: list[int], shelters: list[int], minutes: list[float], n_cells: int, n_shelters: int) -> Reach:
    return Reach("network", np.array(cells), np.array(shelters), np.array(minutes, float), np.full(n_cells, -1), np.full(n_cells, np.nan), n_shelters, np.zeros(0, np.int64), np.zeros(0, np.int64))


# --- reach ------------------------------------------------------------------------------------


def test_reach_along_one_edge_walks_directly_to_a_shelter_on_the_same_road() -> None:
    graph = walking_graph(_roads([shapely.LineString([(0, 0), (3000, 0)])]), epsg=EPSG, walk_kmh=WALK_KMH)
    cells = _xy([(1000, 50), (2900, 20), (100, 0)])
    shelters = _xy([(1500, -30)])
    reach = network_reach(graph, cells, shelters, np.array([10.0]), walk_kmh=WALK_KMH)
    # 50 m to the road + 500 m along it + 30 m off it = 580 s; the others are 1450 s and 1430 s.
    assert reach.cell.tolist() == [0] and reach.minutes == pytest.approx([580 / 60])
    assert reach.nearest_shelter.tolist() == [0, 0, 0]
    assert reach.nearest_minutes == pytest.approx([580 / 60, 1450 / 60, 1430 / 60])
    wide = network_reach(graph, cells, shelters, np.array([24.0]), walk_kmh=WALK_KMH)
    assert wide.cell.tolist() == [0, 2], "1430 s is within 24 min, 1450 s is not"


def test_reach_follows_the_road_where_the_straight_line_crosses_a_river() -> None:
    # A U-shaped road: down the left bank, over a bridge 1 km north, back down the right bank.
    u_road = [shapely.LineString([(0, 0), (0, 1000)]), shapely.LineString([(0, 1000), (200, 1000)]), shapely.LineString([(200, 1000), (200, 0)])]
    graph = walking_graph(_roads(u_road), epsg=EPSG, walk_kmh=WALK_KMH)
    cells, shelters = _xy([(-10, 0)]), _xy([(210, 0)])
    network = network_reach(graph, cells, shelters, np.array([60.0]), walk_kmh=WALK_KMH)
    straight = euclidean_reach(cells, shelters, np.array([60.0]), walk_kmh=WALK_KMH)
    assert network.minutes == pytest.approx([(10 + 1000 + 200 + 1000 + 10) / 60])
    assert straight.minutes == pytest.approx([220 / 60])


def test_expressways_are_not_walked() -> None:
    roads = _roads([shapely.LineString([(0, 0), (1000, 0)]), shapely.LineString([(1000, 0), (2000, 0)]), shapely.LineString([(0, 0), (0, 500)]), shapely.LineString([(0, 500), (2000, 500)]), shapely.LineString([(2000, 500), (2000, 0)])])
    roads.loc[1, "road_class"] = "高速公路"
    graph = walking_graph(roads, epsg=EPSG, walk_kmh=WALK_KMH)
    reach = network_reach(graph, _xy([(1000, 0)]), _xy([(2000, 0)]), np.array([90.0]), walk_kmh=WALK_KMH)
    assert reach.minutes == pytest.approx([(1000 + 500 + 2000 + 500) / 60]), "round the expressway, not along it"


def _split_graph_reference(lines: list[shapely.LineString], cells: np.ndarray, shelters: np.ndarray) -> np.ndarray:
    """Walking seconds from every shelter to every cell by inserting each point into a networkx
    graph: its projection splits its nearest road, and an off-road edge joins it."""
    points = np.vstack([cells, shelters])
    nearest = np.array([int(np.argmin([line.distance(shapely.Point(p)) for line in lines])) for p in points])
    graph = nx.Graph()
    for e, line in enumerate(lines):
        on_edge = [i for i in range(len(points)) if nearest[i] == e]
        stops = sorted([(0.0, ("end", tuple(line.coords[0]))), (line.length, ("end", tuple(line.coords[-1])))] + [(line.project(shapely.Point(points[i])), ("proj", i)) for i in on_edge], key=lambda s: s[0])
        for (a, node_a), (b, node_b) in itertools.pairwise(stops):
            graph.add_edge(node_a, node_b, weight=b - a)
        for i in on_edge:
            graph.add_edge(("point", i), ("proj", i), weight=line.distance(shapely.Point(points[i])))
    seconds = np.full((len(shelters), len(cells)), np.inf)
    for j in range(len(shelters)):
        lengths = nx.single_source_dijkstra_path_length(graph, ("point", len(cells) + j), weight="weight")
        for i in range(len(cells)):
            seconds[j, i] = lengths.get(("point", i), np.inf)
    return seconds


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_network_reach_matches_networkx_on_a_split_graph(seed: int) -> None:
    rng = np.random.default_rng(seed)
    # A jittered 6 × 6 street grid, 400 m apart.
    nodes = {(i, j): (i * 400 + rng.uniform(-80, 80), j * 400 + rng.uniform(-80, 80)) for i in range(6) for j in range(6)}
    lines = [shapely.LineString([nodes[a], nodes[b]]) for a in nodes for b in ((a[0] + 1, a[1]), (a[0], a[1] + 1)) if b in nodes]
    cells = rng.uniform(0, 2000, (60, 2))
    shelters = rng.uniform(0, 2000, (5, 2))
    limits = rng.uniform(8, 20, 5)
    reference = _split_graph_reference(lines, cells, shelters) / 60.0
    graph = walking_graph(_roads(lines), epsg=EPSG, walk_kmh=WALK_KMH)
    reach = network_reach(graph, cells + [X0, Y0], shelters + [X0, Y0], limits, walk_kmh=WALK_KMH)
    expected = {(i, j) for j in range(5) for i in range(60) if reference[j, i] <= limits[j]}
    got = dict(zip(zip(reach.cell.tolist(), reach.shelter.tolist(), strict=True), reach.minutes, strict=True))
    assert set(got) == expected
    for (i, j), minutes in got.items():
        assert minutes == pytest.approx(reference[j, i], abs=1e-6)
    assert reach.nearest_minutes == pytest.approx(reference.min(axis=0), abs=1e-6)
    assert (reach.nearest_shelter == reference.argmin(axis=0)).all()
    # Pairs only: cells beyond every straight-line reach are skipped, the pairs are the same.
    pairs_only = network_reach(graph, cells + [X0, Y0], shelters + [X0, Y0], limits, walk_kmh=WALK_KMH, nearest=False)
    assert pairs_only.cell.tolist() == reach.cell.tolist() and pairs_only.minutes == pytest.approx(reach.minutes)


# --- 2SFCA --------------------------------------------------------------------------------------


def test_two_step_fca_by_hand() -> None:
    # Shelter 0 (150 places) reaches cells 0, 1; shelter 1 (300 places) reaches cells 1, 2.
    reach = _reach([0, 1, 1, 2], [0, 0, 1, 1], [1, 2, 3, 4], 4, 2)
    score = two_step_fca(reach, np.array([100.0, 200.0, 300.0, 50.0]), np.array([150.0, 300.0]))
    # R0 = 150 / 300 = 0.5; R1 = 300 / 500 = 0.6; cell 3 reaches nothing.
    assert score == pytest.approx([0.5, 1.1, 0.6, 0.0])


def _random_pairs(seed: int, n_cells: int = 300, n_shelters: int = 12) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    cost = pd.DataFrame({"origin": np.repeat(np.arange(n_cells), n_shelters), "dest": np.tile(np.arange(n_shelters), n_cells), "cost": rng.uniform(0, 30, n_cells * n_shelters)})
    return cost, rng.integers(1, 500, n_cells).astype(float), rng.integers(100, 5000, n_shelters).astype(float)


@pytest.mark.parametrize("seed", range(3))
def test_two_step_fca_matches_brute_force_and_pysal_access(seed: int) -> None:
    cost, demand, capacity = _random_pairs(seed)
    within = cost.loc[cost["cost"] <= 10.0]
    reach = _reach(within["origin"].tolist(), within["dest"].tolist(), within["cost"].tolist(), len(demand), len(capacity))
    ours = two_step_fca(reach, demand, capacity)
    # Brute force over the full matrix, written independently of the vectorised code.
    matrix = cost.pivot(index="origin", columns="dest", values="cost").to_numpy()
    ratio = [capacity[j] / sum(demand[i] for i in range(len(demand)) if matrix[i, j] <= 10.0) for j in range(len(capacity))]
    brute = [sum(ratio[j] for j in range(len(capacity)) if matrix[i, j] <= 10.0) for i in range(len(demand))]
    assert ours == pytest.approx(brute)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import access

        model = access.Access(
            demand_df=pd.DataFrame({"cell": np.arange(len(demand)), "demand": demand}), demand_index="cell", demand_value="demand",
            supply_df=pd.DataFrame({"shelter": np.arange(len(capacity)), "capacity": capacity}), supply_index="shelter", supply_value="capacity",
            cost_df=cost, cost_origin="origin", cost_dest="dest", cost_name="cost",
        )
        reference = model.two_stage_fca(name="fca", max_cost=10.0, normalize=False)
    assert ours == pytest.approx(reference.iloc[:, 0].reindex(range(len(demand))).fillna(0).to_numpy())


# --- assignment -----------------------------------------------------------------------------------


def test_assignment_sends_everyone_to_the_nearest_when_capacity_does_not_bind() -> None:
    reach = _reach([0, 0, 1, 1], [0, 1, 0, 1], [3, 7, 9, 2], 2, 2)
    plan = assign_evacuees(reach, np.array([100.0, 50.0]), np.array([1000.0, 1000.0]))
    assert plan.unplaced == pytest.approx([0, 0])
    assert sorted(zip(plan.flows["cell"], plan.flows["shelter"], plan.flows["persons"], strict=True)) == [(0, 0, 100.0), (1, 1, 50.0)]
    assert plan.total_person_minutes == pytest.approx(100 * 3 + 50 * 2)


def test_assignment_respects_capacity_and_reports_who_cannot_be_placed() -> None:
    # One shelter of 250 places; cell 0 (200 people, 5 min) and cell 1 (100 people, 8 min).
    plan = assign_evacuees(_reach([0, 1], [0, 0], [5, 8], 3, 1), np.array([200.0, 100.0, 40.0]), np.array([250.0]))
    assert plan.placed == pytest.approx([200, 50, 0])
    assert plan.unplaced == pytest.approx([0, 50, 40]), "cell 2 reaches no shelter at all"
    assert plan.assigned == pytest.approx([250])
    assert plan.total_person_minutes == pytest.approx(200 * 5 + 50 * 8)


def test_assignment_reroutes_to_place_more_people() -> None:
    # Cell 0 prefers shelter 0 (1 min) but is the only one able to use shelter 1 (10 min); cell 1
    # can use shelter 0 only. Both fit only if cell 0 walks the long way.
    plan = assign_evacuees(_reach([0, 0, 1], [0, 1, 0], [1, 10, 2], 2, 2), np.array([100.0, 100.0]), np.array([100.0, 100.0]))
    assert plan.unplaced == pytest.approx([0, 0])
    assert plan.total_person_minutes == pytest.approx(100 * 10 + 100 * 2)


@pytest.mark.parametrize("seed", range(5))
def test_assignment_matches_networkx_min_cost_flow(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n_cells, n_shelters = 40, 6
    cost, _, _ = _random_pairs(seed, n_cells, n_shelters)
    cost["cost"] = np.round(cost["cost"])
    within = cost.loc[cost["cost"] <= 12]
    demand = rng.integers(0, 300, n_cells).astype(float)
    capacity = rng.integers(200, 1500, n_shelters).astype(float)
    plan = assign_evacuees(_reach(within["origin"].tolist(), within["dest"].tolist(), within["cost"].tolist(), n_cells, n_shelters), demand, capacity)
    flow = nx.DiGraph()
    for i in range(n_cells):
        flow.add_edge("source", ("cell", i), capacity=int(demand[i]), weight=0)
    for row in within.itertuples():
        flow.add_edge(("cell", row.origin), ("shelter", row.dest), capacity=int(demand[row.origin]), weight=int(row.cost))
    for j in range(n_shelters):
        flow.add_edge(("shelter", j), "sink", capacity=int(capacity[j]), weight=0)
    best = nx.max_flow_min_cost(flow, "source", "sink")
    placed = sum(best["source"].values())
    assert plan.placed.sum() == pytest.approx(placed)
    assert plan.total_person_minutes == pytest.approx(nx.cost_of_flow(flow, best))
    assert (plan.assigned <= capacity + 1e-6).all()


# --- siting ------------------------------------------------------------------------------------------


def _cover(rows: list[list[int]], n_candidates: int) -> csr_matrix:
    pairs = [(r, c) for r, cols in enumerate(rows) for c in cols]
    r, c = zip(*pairs, strict=True)
    return csr_matrix((np.ones(len(pairs), bool), (r, c)), shape=(len(rows), n_candidates))


# Rows weigh 10, 20, 30, 40; candidate A covers rows {0,1}, B {2}, C {1,3}, D {3}.
HAND_COVER = _cover([[0], [0, 2], [1], [2, 3]], 4)
HAND_WEIGHTS = np.array([10.0, 20.0, 30.0, 40.0])


def test_maximal_covering_by_hand() -> None:
    one = maximal_covering(HAND_COVER, HAND_WEIGHTS, 1)
    assert one.selected.tolist() == [2] and one.objective == pytest.approx(60)
    two = maximal_covering(HAND_COVER, HAND_WEIGHTS, 2)
    assert two.selected.tolist() == [1, 2] and two.objective == pytest.approx(90)
    assert two.mip_gap == pytest.approx(0)


def test_capacitated_maximal_covering_by_hand() -> None:
    # Capacities A 15, B 100, C 25, D 100: B + D place 30 + 40 = 70, more than any other pair.
    solution = maximal_covering(HAND_COVER, HAND_WEIGHTS, 2, capacity=np.array([15.0, 100.0, 25.0, 100.0]))
    assert solution.selected.tolist() == [1, 3] and solution.objective == pytest.approx(70)


def test_set_covering_by_hand() -> None:
    solution = set_covering(HAND_COVER)
    assert solution.objective == 3 and {0, 1}.issubset(solution.selected.tolist())
    partial = set_covering(_cover([[0], [], [1]], 2))
    assert partial.uncoverable.tolist() == [False, True, False] and partial.objective == 2


def test_p_larger_than_the_candidates_is_refused() -> None:
    with pytest.raises(CoverageInputError, match="p = 5 new sites asked for, but there are 4 candidate sites"):
        maximal_covering(HAND_COVER, HAND_WEIGHTS, 5)


def _spopt_instance(seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(100 + seed)
    cost = rng.uniform(0, 30, (120, 40))
    cost[np.arange(120), rng.integers(0, 40, 120)] = rng.uniform(0, 5, 120)  # every row coverable
    return cost, rng.integers(1, 1000, 120).astype(float)


@pytest.mark.parametrize("seed", range(3))
def test_mclp_and_lscp_match_spopt(seed: int) -> None:
    import pulp
    from spopt.locate import LSCP, MCLP

    cost, weights = _spopt_instance(seed)
    radius, p = 6.0, 5
    cover = csr_matrix(cost <= radius)
    ours = maximal_covering(cover, weights, p)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mclp = MCLP.from_cost_matrix(cost, weights, service_radius=radius, p_facilities=p).solve(pulp.PULP_CBC_CMD(msg=False))
        lscp = LSCP.from_cost_matrix(cost, service_radius=radius).solve(pulp.PULP_CBC_CMD(msg=False))
    assert ours.objective == pytest.approx(pulp.value(mclp.problem.objective))
    assert weights[(cost[:, ours.selected] <= radius).any(axis=1)].sum() == pytest.approx(ours.objective), "the chosen sites really cover that much"
    assert set_covering(cover).objective == pytest.approx(pulp.value(lscp.problem.objective))


# --- the whole analysis on a small town ---------------------------------------------------------------


def _town() -> dict[str, gpd.GeoDataFrame]:
    """A 2 km × 1 km town: a 200 m street grid, 100 m population cells, two townships, three shelters."""
    # Streets run 30 m off the cell rows, so that no cell centre is equally near two streets.
    lines = [shapely.LineString([(x, 30), (x, 1030)]) for x in range(0, 2001, 200)] + [shapely.LineString([(0, y), (2000, y)]) for y in range(30, 1031, 200)]
    xs, ys = np.meshgrid(np.arange(0, 2000, 100), np.arange(0, 1000, 100))
    boxes = [shapely.box(x + X0, y + Y0, x + X0 + 100, y + Y0 + 100) for x, y in zip(xs.ravel(), ys.ravel(), strict=True)]
    persons = np.where(xs.ravel() < 1500, 100.0, 40.0)
    persons[::7] = 0.0
    population = gpd.GeoDataFrame({"source_id": [f"C{i}" for i in range(len(boxes))], "persons": persons}, geometry=boxes, crs=EPSG)
    shelters = gpd.GeoDataFrame(
        {"source_id": ["S1", "S2", "S3"], "name": ["一号", "二号", "三号"], "shelter_type": ["紧急", "固定", "紧急"], "capacity_persons": [3000, None, 500], "effective_area_m2": [None, 9000.0, None]},
        geometry=[shapely.Point(X0 + 300, Y0 + 500), shapely.Point(X0 + 900, Y0 + 450), shapely.Point(X0 + 1900, Y0 + 900)],
        crs=EPSG,
    )
    halves = [shapely.box(X0, Y0, X0 + 1000, Y0 + 1000), shapely.box(X0 + 1000, Y0, X0 + 2000, Y0 + 1000)]
    areas = gpd.GeoDataFrame(
        {"adcode": ["370811", "370811001", "370811002"], "name": ["任城区", "西街道", "东街道"], "level": ["区县", "乡镇街道", "乡镇街道"], "parent_adcode": ["370800", "370811", "370811"]},
        geometry=[shapely.box(X0, Y0, X0 + 2000, Y0 + 1000), *halves],
        crs=EPSG,
    )
    return {"roads": _roads(lines), "population": population, "shelters": shelters, "admin_areas": areas}


def test_whole_analysis_adds_up_and_agrees_across_input_crs() -> None:
    town = _town()
    graph = walking_graph(town["roads"], epsg=EPSG, walk_kmh=4.4)
    params = CoverageParams(walk_kmh=4.4)  # no cell exactly at the reach limit: the CRS check below is not a tie-break
    result = analyse_coverage(town["population"], town["shelters"], town["admin_areas"], graph=graph, params=params, epsg=EPSG)
    total = town["population"]["persons"].sum()
    assert result.cells["persons"].sum() == pytest.approx(total)
    assert len(result.cells) == int((town["population"]["persons"] > 0).sum()), "empty cells take no part"
    townships = result.areas.loc[result.areas["level"] == "乡镇街道"]
    assert townships["residents"].sum() == pytest.approx(total)
    assert (townships["residents_covered"] + townships["residents_uncovered"]).to_numpy() == pytest.approx(townships["residents"].to_numpy())
    assert result.gaps["residents"].sum() == pytest.approx(result.cells.loc[~result.cells["covered"], "persons"].sum())
    assert set(result.gaps["township"]) <= {"西街道", "东街道"}
    # Shelter two's capacity comes from its area: 9000 m² / 1.5 m² per person.
    assert result.shelters["capacity_persons"].tolist() == pytest.approx([3000, 6000, 500])
    assert (result.assignment.assigned <= result.shelters["capacity_persons"].to_numpy() + 1e-6).all()
    assert result.cells["unplaced_persons"].sum() == pytest.approx(result.areas.loc[result.areas["level"] == "区县", "unplaced_persons"].sum())
    # The same town given in lon/lat gives the same answer.
    lonlat = analyse_coverage(town["population"].to_crs(4326), town["shelters"].to_crs(4326), town["admin_areas"].to_crs(4326), graph=graph, params=params, epsg=EPSG)
    assert lonlat.cells["covered"].tolist() == result.cells["covered"].tolist()
    assert lonlat.cells["nearest_min"].to_numpy() == pytest.approx(result.cells["nearest_min"].to_numpy(), abs=1e-3)


def test_a_grid_read_in_chunks_gives_the_answer_of_the_grid_given_whole(monkeypatch: pytest.MonkeyPatch) -> None:
    """A province's grid is read from the store in chunks, its cells projected a million at a time
    and its gaps dissolved a township and a chunk at a time. On the town in lon/lat, in chunks of
    13 rows projected 7 at a time: every number is that of the grid given whole, the output cells
    are the cells' centres, and the gaps are the same polygons. Given whole, the output cells keep
    the geometry given (not a round trip), and the gaps are those of the cells projected first."""
    import gis.coverage.cells as cells_module

    town = _town()
    graph = walking_graph(town["roads"], epsg=EPSG)
    population = town["population"].to_crs(4326)
    whole = analyse_coverage(population, town["shelters"], town["admin_areas"], graph=graph, epsg=EPSG)
    monkeypatch.setattr(cells_module, "CELL_CHUNK", 7)
    reads = []

    def chunks() -> list[gpd.GeoDataFrame]:
        reads.append(1)
        return [population.iloc[start : start + 13] for start in range(0, len(population), 13)]

    chunked = analyse_coverage(chunks, town["shelters"], town["admin_areas"], graph=graph, epsg=EPSG)
    assert len(reads) == 2, "read once for the cells, once for the gaps"
    pd.testing.assert_frame_equal(pd.DataFrame(whole.cells.drop(columns="geometry")), pd.DataFrame(chunked.cells.drop(columns="geometry")))
    centres = whole.cells.to_crs(EPSG).centroid.to_crs(4326)
    assert shapely.equals_exact(chunked.cells.geometry.to_numpy(), centres.to_numpy(), tolerance=1e-9).all()
    pd.testing.assert_frame_equal(pd.DataFrame(whole.gaps.drop(columns="geometry")), pd.DataFrame(chunked.gaps.drop(columns="geometry")))
    assert len(whole.gaps) >= 2 and shapely.equals(whole.gaps.geometry.to_numpy(), chunked.gaps.geometry.to_numpy()).all()
    pd.testing.assert_frame_equal(whole.areas, chunked.areas)
    pd.testing.assert_frame_equal(whole.shelters, chunked.shelters)

    populated = population.loc[population["persons"] > 0].reset_index(drop=True)
    assert whole.cells.geometry.to_numpy().tolist() == populated.geometry.to_numpy().tolist()
    township = np.where(whole.cells["township"].to_numpy() == "西街道", 0, 1)
    args = {"uncovered": ~whole.cells["covered"].to_numpy(), "residents": whole.cells["persons"].to_numpy(), "nearest_minutes": whole.cells["nearest_min"].to_numpy(), "group": township}
    pd.testing.assert_frame_equal(gap_polygons(populated, epsg=EPSG, **args), gap_polygons(populated.to_crs(EPSG), **args))


def test_a_grid_in_chunks_names_a_bad_cell_by_its_row_and_must_not_change_between_its_two_reads() -> None:
    town = _town()
    graph = walking_graph(town["roads"], epsg=EPSG)
    population = town["population"]
    bad = population.copy()
    bad.loc[29, "persons"] = -1.0
    with pytest.raises(CoverageInputError, match="cell 30 has persons -1.0"):
        analyse_coverage(lambda: [bad.iloc[start : start + 13] for start in range(0, len(bad), 13)], town["shelters"], town["admin_areas"], graph=graph, epsg=EPSG)
    given = iter([population, population.iloc[:-40]])
    with pytest.raises(CoverageInputError, match="changed while the analysis read it"):
        analyse_coverage(lambda: [next(given)], town["shelters"], town["admin_areas"], graph=graph, epsg=EPSG)


def test_fixed_analysis_uses_fixed_and_central_shelters_and_the_fixed_share() -> None:
    town = _town()
    serving = serving_shelters(town["shelters"], "固定", CoverageParams())
    assert serving["source_id"].tolist() == ["S2"] and serving["reach_min"].tolist() == [35.0]
    result = analyse_coverage(town["population"], town["shelters"], town["admin_areas"], graph=walking_graph(town["roads"], epsg=EPSG), analysis_type="固定", epsg=EPSG)
    assert result.cells["demand_persons"].to_numpy() == pytest.approx(0.3 * result.cells["persons"].to_numpy())


def test_siting_covers_the_gap_it_is_given() -> None:
    town = _town()
    graph = walking_graph(town["roads"], epsg=EPSG)
    result = analyse_coverage(town["population"], town["shelters"], town["admin_areas"], graph=graph, epsg=EPSG)
    before = result.cells.loc[~result.cells["covered"], "persons"].sum()
    assert before > 0
    siting = site_shelters(result, graph=graph, p=2, spacing_m=300, epsg=EPSG)
    assert len(siting.sites) == 2 and siting.solution.mip_gap == pytest.approx(0)
    assert siting.sites["residents_newly_covered"].sum() == pytest.approx(siting.solution.objective)
    assert 0 < siting.solution.objective <= before
    # Re-running coverage with the new sites as shelters covers exactly that many more residents.
    added = gpd.GeoDataFrame({"source_id": ["N1", "N2"], "name": ["新1", "新2"], "shelter_type": "紧急", "capacity_persons": 10**6}, geometry=siting.sites.geometry.to_numpy(), crs=4326)
    again = analyse_coverage(town["population"], pd.concat([town["shelters"].to_crs(4326), added], ignore_index=True), town["admin_areas"], graph=graph, epsg=EPSG)
    assert again.cells.loc[~again.cells["covered"], "persons"].sum() == pytest.approx(before - siting.solution.objective)


# --- bad input ---------------------------------------------------------------------------------------------


def test_bad_input_is_refused_with_a_message_naming_it() -> None:
    town = _town()
    graph = walking_graph(town["roads"], epsg=EPSG)

    def run(**changes: gpd.GeoDataFrame) -> None:
        inputs = {**town, **changes}
        analyse_coverage(inputs["population"], inputs["shelters"], inputs["admin_areas"], graph=graph, epsg=EPSG)

    with pytest.raises(CoverageInputError, match="there are no shelters"):
        run(shelters=town["shelters"].iloc[0:0])
    zero = town["shelters"].copy()
    zero.loc[2, "capacity_persons"] = 0
    with pytest.raises(CoverageInputError, match=r"S3 \(三号\)"):
        run(shelters=zero)
    missing = town["shelters"].copy()
    missing.loc[1, "effective_area_m2"] = None
    with pytest.raises(CoverageInputError, match="without a usable capacity.*S2"):
        run(shelters=missing)
    with pytest.raises(CoverageInputError, match="no coordinate reference system"):
        run(population=town["population"].set_crs(None, allow_override=True))
    elsewhere = town["population"].translate(xoff=300_000)  # the same grid 300 km away
    with pytest.raises(CoverageInputError, match="does not overlap the city"):
        run(population=gpd.GeoDataFrame(town["population"].drop(columns="geometry"), geometry=elsewhere, crs=EPSG))
    with pytest.raises(CoverageInputError, match="no cell of the population grid has residents"):
        run(population=town["population"].assign(persons=0.0))
    result = analyse_coverage(town["population"], town["shelters"], town["admin_areas"], graph=graph, epsg=EPSG)
    with pytest.raises(CoverageInputError, match="p = 99 new sites asked for"):
        site_shelters(result, graph=graph, p=99, epsg=EPSG)
