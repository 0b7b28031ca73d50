"""Routing speed: onemap's network core against pgRouting (same edges, same machine, same run) and
pandana's contraction hierarchies, on the sample city, on pyrosm's real OSM extract, and on a
synthetic province-size network (≥ 2 million edges, 10,000 facilities).

Printed per network:
- graph build time and peak memory (tracemalloc peak of the build: numpy, shapely, scipy);
- nearest-5 (facilities reaching a random incident first, edge-snapped): median and p95;
- service area (5/10/15 min) median;
- pgRouting: nearest-5 as one-to-many pgr_dijkstraCost from the incident's vertex on the
  reversed edges to every facility vertex, ORDER BY cost LIMIT 5; service area as
  pgr_drivingDistance for 15 min; ratio = pgRouting / onemap (how many times faster onemap is);
- pandana (where it installs): one-to-many contraction-hierarchy query incident → facilities,
  ratio = onemap / pandana (onemap within 3× is the target).

Run: ``bash .ci/bench`` or ``python benchmarks/bench_routing.py`` with ONEMAP_BENCH_PG_URL set.
Options: ``--queries N``, ``--province-edges N`` (0 skips the province).
"""

from __future__ import annotations

import os
import statistics
import sys
import time
import tracemalloc
import uuid
from collections.abc import Callable
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from options import parse_bench_args
from scipy.spatial import Delaunay
from sqlalchemy import Engine, create_engine, text

from gis.network import RoadGraph, graph_from_edges
from gis.routing import index_resources, nearest_resources
from gis.service_areas import service_areas
from layers.catalogue import ROAD_CLASS_SPEED_KMH
from layers.io.osm import read_osm_roads
from layers.sample import generate_city
from layers.store.postgis import sqlalchemy_url


def _ms(values: list[float]) -> str:
    return f"median {statistics.median(values) * 1000:9.2f} ms  p95 {np.percentile(values, 95) * 1000:9.2f} ms"


def _timed_each(function: Callable[[int], object], count: int) -> list[float]:
    function(0)
    times = []
    for i in range(count):
        start = time.perf_counter()
        function(i)
        times.append(time.perf_counter() - start)
    return times


def province_roads(edges: int, seed: int = 7) -> gpd.GeoDataFrame:
    """A synthetic province: a Gabriel-like mesh of ~edges/2 junctions over 400 km × 400 km (EPSG:4548)."""
    rng = np.random.default_rng(seed)
    n = edges // 2
    points = rng.uniform([300_000, 3_700_000], [700_000, 4_100_000], (n, 2))
    triangles = Delaunay(points).simplices
    pairs = np.concatenate([triangles[:, [0, 1]], triangles[:, [1, 2]], triangles[:, [2, 0]]])
    pairs = np.unique(np.sort(pairs, axis=1), axis=0)
    lengths = np.hypot(*(points[pairs[:, 0]] - points[pairs[:, 1]]).T)
    pairs = pairs[lengths < np.percentile(lengths, 85)][:edges]
    lines = shapely.linestrings(np.stack([points[pairs[:, 0]], points[pairs[:, 1]]], axis=1))
    classes = np.array(["县道", "乡道", "村道", "省道"])[rng.integers(0, 4, len(pairs))]
    return gpd.GeoDataFrame(
        {"source_id": [f"P{i}" for i in range(len(pairs))], "name": None, "road_class": classes, "speed_kmh": np.nan, "oneway": rng.random(len(pairs)) < 0.02},
        geometry=lines,
        crs=4548,
    )


def _random_points_near_roads(graph: RoadGraph, count: int, seed: int) -> gpd.GeoSeries:
    rng = np.random.default_rng(seed)
    edges = rng.choice(graph.edge_count, count, replace=graph.edge_count < count)
    points = shapely.line_interpolate_point(graph.edge_geometry[edges], rng.uniform(0, 1, count), normalized=True)
    moved = shapely.points(shapely.get_coordinates(points) + rng.uniform(-100, 100, (count, 2)))
    return gpd.GeoSeries(moved, crs=graph.epsg).to_crs(4326)


def _load_pgrouting(engine: Engine, graph: RoadGraph, table: str) -> None:
    """The graph's edges (1-based node ids) into a pgRouting edge table, by COPY."""
    with engine.begin() as connection:
        connection.execute(text(f"CREATE TABLE {table} (id bigint PRIMARY KEY, source bigint, target bigint, cost float8, reverse_cost float8)"))
    rows = np.column_stack([
        np.arange(1, graph.edge_count + 1), graph.edge_u + 1, graph.edge_v + 1,
        graph.edge_time_s, np.where(graph.edge_oneway, -1.0, graph.edge_time_s),
    ])
    raw = engine.raw_connection()
    try:
        with raw.cursor() as cursor, cursor.copy(f"COPY {table} (id, source, target, cost, reverse_cost) FROM STDIN") as copy:  # type: ignore[attr-defined]
            for row in rows:
                copy.write_row((int(row[0]), int(row[1]), int(row[2]), float(row[3]), float(row[4])))
        raw.commit()
    finally:
        raw.close()
    with engine.begin() as connection:
        connection.execute(text(f"ANALYZE {table}"))


def bench_network(name: str, roads: gpd.GeoDataFrame, facilities: gpd.GeoDataFrame | int, epsg: int, queries: int, pg_url: str) -> None:
    """Benchmark one network; ``facilities`` is a frame, or how many to scatter along the roads."""
    print(f"\n== {name}: {len(roads):,} road edges")
    tracemalloc.start()
    start = time.perf_counter()
    graph = graph_from_edges(roads, epsg=epsg, class_speed_kmh=ROAD_CLASS_SPEED_KMH)
    build = time.perf_counter() - start
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    print(f"graph build      {build:8.2f} s, peak memory {peak / 2**20:8.0f} MiB  ({graph.report})")
    if isinstance(facilities, int):
        facilities = gpd.GeoDataFrame(geometry=_random_points_near_roads(graph, facilities, seed=2).values, crs=4326)
    facilities = gpd.GeoDataFrame({"resource_id": [f"F{i}" for i in range(len(facilities))], "layer": "facilities", "name": "F"}, geometry=facilities.geometry.values, crs=4326)
    start = time.perf_counter()
    index = index_resources(graph, facilities)
    print(f"snap {len(facilities):,} facilities  {time.perf_counter() - start:8.2f} s")
    incidents = _random_points_near_roads(graph, queries, seed=9)
    ours = _timed_each(lambda i: nearest_resources(graph, incidents.iloc[i], index, k=5), queries)
    print(f"onemap nearest-5   {_ms(ours)}")
    area_count = max(3, queries // 5)
    areas = _timed_each(lambda i: service_areas(graph, incidents.iloc[[i]], minutes=(5, 10, 15)), area_count)
    print(f"onemap service area 5/10/15 min  {_ms(areas)}")

    # pgRouting over the same edges: node-based (incident's edge start, facilities' edge starts).
    engine = create_engine(sqlalchemy_url(pg_url))
    table = f"bench_routing_{uuid.uuid4().hex[:8]}"
    try:
        start = time.perf_counter()
        _load_pgrouting(engine, graph, table)
        print(f"pgRouting: loaded edges in {time.perf_counter() - start:.1f} s")
        facility_vertices = sorted({int(graph.edge_u[e]) + 1 for e in index.snaps.edge if e >= 0})
        incident_edges = [int(e) for e in (index_resources(graph, gpd.GeoDataFrame({"resource_id": range(len(incidents)), "layer": "x", "name": "x"}, geometry=incidents.values, crs=4326)).snaps.edge)]
        reversed_sql = f"SELECT id, target AS source, source AS target, cost, reverse_cost FROM {table}"
        cost_sql = text("SELECT end_vid, agg_cost FROM pgr_dijkstraCost(:edges, :start, :targets, true) ORDER BY agg_cost LIMIT 5")
        # The reference: one-to-many pgr_dijkstra, which (like onemap) gives the routes too.
        nearest_sql = text("""WITH paths AS (SELECT * FROM pgr_dijkstra(:edges, :start, :targets, true)),
            best AS (SELECT end_vid FROM paths WHERE node = end_vid ORDER BY agg_cost LIMIT 5)
            SELECT paths.* FROM paths JOIN best USING (end_vid)""")
        area_sql = text("SELECT count(*) FROM pgr_drivingDistance(:edges, :start, 900, true)")
        pg_queries = max(3, min(queries, 20))
        with engine.connect() as connection:
            def run(sql: object) -> Callable[[int], object]:
                return lambda i: connection.execute(sql, {"edges": reversed_sql, "start": int(graph.edge_u[incident_edges[i]]) + 1, "targets": facility_vertices}).all()

            pgr = _timed_each(run(nearest_sql), pg_queries)
            print(f"pgRouting nearest-5, one-to-many pgr_dijkstra with routes {_ms(pgr)}   → onemap is {statistics.median(pgr) / statistics.median(ours):7.1f}× faster (target ≥ 50×)")
            pgc = _timed_each(run(cost_sql), pg_queries)
            print(f"pgRouting nearest-5, pgr_dijkstraCost (costs only)        {_ms(pgc)}   → onemap is {statistics.median(pgc) / statistics.median(ours):7.1f}× faster")
            pga = _timed_each(lambda i: connection.execute(area_sql, {"edges": f"SELECT id, source, target, cost, reverse_cost FROM {table}", "start": int(graph.edge_u[incident_edges[i]]) + 1}).all(), max(3, pg_queries // 4))
            print(f"pgRouting drivingDistance 15 min {_ms(pga)}   → pgRouting / onemap service area = {statistics.median(pga) / statistics.median(areas):5.2f}")
    finally:
        with engine.begin() as connection:
            connection.execute(text(f"DROP TABLE IF EXISTS {table}"))
        engine.dispose()
    _bench_pandana(graph, index, incident_edges, statistics.median(ours), queries)


def _bench_pandana(graph: RoadGraph, index: object, incident_edges: list[int], ours_median: float, queries: int) -> None:
    try:
        import pandana
    except ImportError:
        print("pandana: not installed here (pip install pandana) — no ratio")
        return
    arcs_tail = np.where(graph.arc_forward, graph.edge_u[graph.arc_edge], graph.edge_v[graph.arc_edge])
    arcs_head = np.where(graph.arc_forward, graph.edge_v[graph.arc_edge], graph.edge_u[graph.arc_edge])
    nodes = pd.DataFrame({"x": graph.node_xy[:, 0], "y": graph.node_xy[:, 1]})
    start = time.perf_counter()
    network = pandana.Network(nodes["x"], nodes["y"], pd.Series(arcs_tail), pd.Series(arcs_head), pd.DataFrame({"seconds": graph.edge_time_s[graph.arc_edge]}), twoway=False)
    print(f"pandana contraction hierarchy build {time.perf_counter() - start:8.2f} s")
    facility_nodes = np.array([int(graph.edge_v[e]) for e in index.snaps.edge if e >= 0])  # type: ignore[attr-defined]
    def query(i: int) -> object:
        target = int(graph.edge_u[incident_edges[i % len(incident_edges)]])
        lengths = network.shortest_path_lengths(list(facility_nodes), [target] * len(facility_nodes))
        return np.argsort(lengths)[:5]

    times = _timed_each(query, max(3, min(queries, 20)))
    print(f"pandana nearest-5 (one-to-many CH) {_ms(times)}   → onemap / pandana = {ours_median / statistics.median(times):5.2f} (target ≤ 3)")


def main() -> int:
    arguments = parse_bench_args(__doc__, {"--queries": (50, "nearest-5 queries per network"), "--province-edges": (2_000_000, "edges of the synthetic province, 0 skips it")}, database="PostGIS+pgRouting")
    pg_url = arguments.pg_url
    print(f"machine: {os.cpu_count()} cores")
    city = generate_city(370800)
    bench_network("sample city", city["roads"], city["rescue_stations"], 4548, arguments.queries, pg_url)
    import pyrosm

    bench_network("OSM extract (pyrosm test data, Finland)", read_osm_roads(Path(pyrosm.get_data("test_pbf"))), 200, 32635, arguments.queries, pg_url)
    if arguments.province_edges:
        start = time.perf_counter()
        roads = province_roads(arguments.province_edges)
        print(f"\n(synthetic province generated in {time.perf_counter() - start:.1f} s)")
        bench_network("synthetic province", roads, 10_000, 4548, max(10, arguments.queries // 5), pg_url)
    import resource

    print(f"\nprocess peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20:.1f} GiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
