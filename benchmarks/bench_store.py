"""Store overhead on the sample city: onemap's stores against reading the same data directly.

For each store (GeoPackage, PostGIS) and layer (roads, population, shelters): the latency of a
5 km × 5 km bbox query (median and p95 over the same random windows) and of a full-layer read,
through ``Store.read`` and straight through the reference reader — ``pyogrio.read_dataframe``
for the GeoPackage, ``geopandas.read_postgis`` for PostGIS — measured in the same run. The ratio
is onemap / reference: the cost of the store layer (exact intersection, typed columns).

Run: ``bash .ci/bench`` (sets up PostGIS), or ``python benchmarks/bench_store.py`` with
ONEMAP_BENCH_PG_URL (or ONEMAP_TEST_PG_URL) pointing at a PostGIS database.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import geopandas as gpd
import numpy as np
import pyogrio
from options import parse_bench_args
from sqlalchemy import create_engine, text

from layers.sample import generate_city
from layers.store.gpkg import GeoPackageStore
from layers.store.postgis import PostGISStore, sqlalchemy_url

LAYERS = ("roads", "population", "shelters")
WINDOW_KM = 5.0
KM_PER_DEGREE_LAT = 110.9
KM_PER_DEGREE_LON_AT_35N = 90.9


def _timed(function: Callable[[], object], repeats: int) -> list[float]:
    function()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return times


def _windows(extent: np.ndarray, count: int, seed: int) -> list[tuple[float, float, float, float]]:
    rng = np.random.default_rng(seed)
    half_lon = WINDOW_KM / 2 / KM_PER_DEGREE_LON_AT_35N
    half_lat = WINDOW_KM / 2 / KM_PER_DEGREE_LAT
    lon = rng.uniform(extent[0] + half_lon, extent[2] - half_lon, count)
    lat = rng.uniform(extent[1] + half_lat, extent[3] - half_lat, count)
    return [(x - half_lon, y - half_lat, x + half_lon, y + half_lat) for x, y in zip(lon, lat, strict=True)]


def _query_latencies(query: Callable[[tuple[float, float, float, float]], gpd.GeoDataFrame], windows: list[tuple[float, float, float, float]]) -> tuple[list[float], int]:
    query(windows[0])
    latencies, rows = [], 0
    for window in windows:
        start = time.perf_counter()
        rows += len(query(window))
        latencies.append(time.perf_counter() - start)
    return latencies, rows


def _p95(values: list[float]) -> float:
    return float(np.percentile(values, 95))


def _row(store: str, layer: str, what: str, ours: list[float], reference: list[float], note: str = "") -> str:
    ours_ms = statistics.median(ours) * 1000
    ref_ms = statistics.median(reference) * 1000
    return (
        f"{store:8} {layer:11} {what:12} onemap {ours_ms:8.2f} ms (p95 {_p95(ours) * 1000:8.2f})   "
        f"reference {ref_ms:8.2f} ms (p95 {_p95(reference) * 1000:8.2f})   ratio {ours_ms / ref_ms:5.2f}x  {note}"
    )


def main() -> int:
    arguments = parse_bench_args(__doc__, {"--windows": (200, "bbox queries per layer and store"), "--full-reads": (5, "full-layer reads per layer and store")})
    pg_url = arguments.pg_url
    print(f"sample city: generating … (machine: {os.cpu_count()} cores)")
    city = generate_city(370800)
    print("layer sizes: " + ", ".join(f"{name} {len(city[name]):,}" for name in LAYERS))
    schema = f"bench_{uuid.uuid4().hex[:8]}"
    engine = create_engine(sqlalchemy_url(pg_url))
    with tempfile.TemporaryDirectory() as work:
        gpkg_path = Path(work) / "bench.gpkg"
        gpkg = GeoPackageStore(gpkg_path)
        postgis = PostGISStore(pg_url, schema=schema)
        try:
            for store in (gpkg, postgis):
                start = time.perf_counter()
                store.upsert_many({name: city[name] for name in LAYERS})
                print(f"loaded into {type(store).__name__} in {time.perf_counter() - start:.1f} s")
            with engine.begin() as connection:
                connection.execute(text(f'ANALYZE "{schema}".roads, "{schema}".population, "{schema}".shelters'))
            print(f"\nbbox {WINDOW_KM:g} km window: {arguments.windows} random windows; ratio = onemap median / reference median")
            for layer in LAYERS:
                extent = city[layer].total_bounds
                windows = _windows(extent, arguments.windows, seed=1)
                ours, ours_rows = _query_latencies(lambda w, layer=layer: gpkg.read(layer, bbox=w), windows)
                ref, ref_rows = _query_latencies(lambda w, layer=layer: pyogrio.read_dataframe(gpkg_path, layer=layer, bbox=w), windows)
                print(_row("gpkg", layer, "bbox 5 km", ours, ref, f"rows {ours_rows:,} exact vs {ref_rows:,} by envelope"))
                sql = f'SELECT * FROM "{schema}"."{layer}" WHERE ST_Intersects(geom, ST_MakeEnvelope(%(a)s, %(b)s, %(c)s, %(d)s, 4326))'
                with engine.connect() as connection:
                    def reference(w: tuple[float, float, float, float], sql: str = sql, connection: object = connection) -> gpd.GeoDataFrame:
                        return gpd.read_postgis(sql, connection, geom_col="geom", params={"a": w[0], "b": w[1], "c": w[2], "d": w[3]})

                    ref, ref_rows = _query_latencies(reference, windows)
                ours, ours_rows = _query_latencies(lambda w, layer=layer: postgis.read(layer, bbox=w), windows)
                print(_row("postgis", layer, "bbox 5 km", ours, ref, f"rows {ours_rows:,} vs {ref_rows:,}"))
            print(f"\nfull-layer read: {arguments.full_reads} reads each")
            for layer in LAYERS:
                ours = _timed(lambda layer=layer: gpkg.read(layer), arguments.full_reads)
                ref = _timed(lambda layer=layer: pyogrio.read_dataframe(gpkg_path, layer=layer), arguments.full_reads)
                print(_row("gpkg", layer, "full read", ours, ref))
                with engine.connect() as connection:
                    ref = _timed(lambda layer=layer, connection=connection: gpd.read_postgis(f'SELECT * FROM "{schema}"."{layer}"', connection, geom_col="geom"), arguments.full_reads)
                ours = _timed(lambda layer=layer: postgis.read(layer), arguments.full_reads)
                print(_row("postgis", layer, "full read", ours, ref))
        finally:
            gpkg.close()
            postgis.close()
            with engine.begin() as connection:
                connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
            engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
