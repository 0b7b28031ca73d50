"""Vector tiles of the sample city through the served app: tiles/s and p95 at z8, z12 and z15,
from the GeoPackage and the PostGIS store, against tipg (from PyPI) serving the same PostGIS
tables in the same run.

Each store is served by a real ``onemap serve`` process (auth off, loopback), tipg by uvicorn; the
same tiles are asked of each, once each (cold: onemap's tile cache never answers), by
``--clients`` concurrent clients. Tiles: at z8 every tile over the city, at z12 and z15
``--tiles`` tiles drawn at random (seeded) over the city's extent; layers roads and population
(the densest). tipg has no generalisation (every road class, every population cell, at every
zoom: at most its 10,000 features per tile), so its tiles at z8 are bigger; the ratio is
onemap-PostGIS tiles/s over tipg's.

Run: ``bash .ci/bench``, or ``python benchmarks/bench_tiles.py`` with ONEMAP_BENCH_PG_URL (or
ONEMAP_TEST_PG_URL) pointing at a PostGIS database.
"""

from __future__ import annotations

import importlib.util
import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import httpx
import numpy as np
from options import parse_bench_args
from sqlalchemy import create_engine, text

from layers.sample import write_sample
from layers.store.gpkg import GeoPackageStore
from layers.store.postgis import PostGISStore, sqlalchemy_url
from web.tile_grid import tile_of

SEED = 370800
LAYERS = ("roads", "population")
ZOOMS = (8, 12, 15)
CITY = (116.03, 34.64, 117.45, 35.93)
"""The sample city's extent (lon/lat degrees)."""
BIN = Path(sys.executable).parent


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def _served(command: list[str], env: Mapping[str, str], probe_path: str) -> Iterator[str]:
    """A server process on a free loopback port (``{port}`` in ``command``); yields its URL."""
    port = _free_port()
    with tempfile.TemporaryFile(mode="w+") as log:
        process = subprocess.Popen([part.format(port=port) for part in command], env={**os.environ, **env}, stdout=log, stderr=subprocess.STDOUT)
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60
            while True:
                if process.poll() is not None:
                    log.seek(0)
                    raise RuntimeError(f"{command[0]} exited: {log.read()[-2000:]}")
                try:
                    if httpx.get(url + probe_path, timeout=2).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{command[0]} did not answer within 60 s")
                time.sleep(0.2)
            yield url
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _tiles(z: int, count: int, rng: np.random.Generator) -> list[tuple[int, int, int]]:
    """(z, x, y) over the city: all of them at z8, else ``count`` drawn at random."""
    x0, y0 = tile_of(CITY[0], CITY[3], z)
    x1, y1 = tile_of(CITY[2], CITY[1], z)
    if (x1 - x0 + 1) * (y1 - y0 + 1) <= count:
        return [(z, x, y) for x in range(x0, x1 + 1) for y in range(y0, y1 + 1)]
    return [(z, int(x), int(y)) for x, y in zip(rng.integers(x0, x1 + 1, count), rng.integers(y0, y1 + 1, count), strict=True)]


def _measure(urls: list[str], clients: int) -> tuple[float, float, float]:
    """tiles/s, p95 latency (ms) and mean size (KiB) of GETting ``urls`` with ``clients`` threads."""
    latencies: list[float] = []
    sizes: list[int] = []
    with httpx.Client(timeout=120) as client:
        client.get(urls[0])  # connection and first-use costs out of the figures

        def fetch(url: str) -> None:
            start = time.perf_counter()
            response = client.get(url)
            latencies.append(time.perf_counter() - start)
            if response.status_code not in (200, 204):
                raise RuntimeError(f"{url}: {response.status_code} {response.text[:200]}")
            sizes.append(len(response.content))

        start = time.perf_counter()
        with ThreadPoolExecutor(clients) as pool:
            list(pool.map(fetch, urls))
        wall = time.perf_counter() - start
    return len(urls) / wall, float(np.percentile(latencies, 95)) * 1000, float(np.mean(sizes)) / 1024


def main() -> int:
    arguments = parse_bench_args(__doc__, {"--tiles": (100, "tiles per layer at z12 and z15"), "--clients": (4, "concurrent clients")})
    pg_url = arguments.pg_url
    have_tipg = importlib.util.find_spec("tipg") is not None
    schema = f"bench_{uuid.uuid4().hex[:8]}"
    engine = create_engine(sqlalchemy_url(pg_url))
    print(f"sample city: generating … (machine: {os.cpu_count()} cores; {arguments.clients} clients)")
    with tempfile.TemporaryDirectory() as work:
        gpkg_path = Path(work) / "city.gpkg"
        try:
            with GeoPackageStore(gpkg_path) as gpkg:
                write_sample(gpkg, SEED)
                with PostGISStore(pg_url, schema=schema) as postgis:
                    postgis.upsert_many({info.name: gpkg.read(info.name) for info in gpkg.list_layers() if info.count})
            with engine.begin() as connection:
                connection.execute(text(f'ANALYZE "{schema}".roads, "{schema}".population'))
            common = {"ONEMAP_AUTH": "off", "ONEMAP_CACHE_DIR": str(Path(work) / "cache")}
            onemap = [str(BIN / "onemap"), "serve", "--host", "127.0.0.1", "--port", "{port}"]
            servers = {
                "gpkg": (onemap, {**common, "ONEMAP_STORE": str(gpkg_path)}, "/conformance"),
                "postgis": (onemap, {**common, "ONEMAP_STORE": pg_url, "ONEMAP_PG_SCHEMA": schema}, "/conformance"),
            }
            if have_tipg:
                tipg_env = {"DATABASE_URL": pg_url, "TIPG_DB_SCHEMAS": f'["{schema}"]', "TIPG_DB_TABLES": f'["{schema}.roads", "{schema}.population"]'}
                servers["tipg"] = ([sys.executable, "-m", "uvicorn", "tipg.main:app", "--host", "127.0.0.1", "--port", "{port}"], tipg_env, "/conformance")
            else:
                print("tipg: not installed (`pip install tipg` failed or was not run): no reference ratio")
            rng = np.random.default_rng(1)
            plan = {z: _tiles(z, arguments.tiles, rng) for z in ZOOMS}
            results: dict[tuple[str, str, int], tuple[float, float, float]] = {}
            for name, (command, env, probe) in servers.items():
                with _served(command, env, probe) as url:
                    for layer in LAYERS:
                        collection = f"{schema}.{layer}" if name == "tipg" else layer
                        for z in ZOOMS:
                            # onemap: OGC's z/y/x; tipg: z/x/y
                            urls = [f"{url}/collections/{collection}/tiles/WebMercatorQuad/{tz}/" + (f"{x}/{y}" if name == "tipg" else f"{y}/{x}") for tz, x, y in plan[z]]
                            results[(name, layer, z)] = _measure(urls, arguments.clients)
            print(f"\n{'server':8} {'layer':11} {'zoom':>4} {'tiles':>6} {'tiles/s':>9} {'p95 ms':>8} {'mean KiB':>9}   onemap-postgis / tipg")
            for (name, layer, z), (rate, p95, size) in results.items():
                reference = results.get(("tipg", layer, z))
                ratio = f"{results[('postgis', layer, z)][0] / reference[0]:5.2f}x tiles/s" if reference and name == "postgis" else ""
                print(f"{name:8} {layer:11} {z:>4} {len(plan[z]):>6} {rate:>9.1f} {p95:>8.1f} {size:>9.1f}   {ratio}")
        finally:
            with engine.begin() as connection:
                connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
            engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
