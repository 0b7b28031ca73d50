"""A province on one box: the analyses on the sample province (``onemap sample --scale province``:
16 prefectures, ≈ 3 M road edges, ≈ 16 M population cells at 100 m, ≈ 30,000 facilities) in a
GeoPackage, against the targets of issue 17, within 24 GiB.

Printed, one line per measurement with its target and PASS/MISS:
- generation: time, peak RSS and the GeoPackage's size (or "reused" with ``--store``);
- risk zoning (``RiskService.run``, 100 m, by road, in one process): time and peak RSS (target < 4 GiB);
- shelter coverage (``CoverageService.result``, 紧急, network): time and peak RSS (target: block-wise,
  within the box's 24 GiB; the population is read in chunks, its output table is one row per cell);
- the driving graph: cold (built from the roads, cache written) and warm (from the cache in
  ONEMAP_CACHE_DIR) load time (target warm ≤ 10 s);
- nearest-5 (``RoutingService.nearest``, rescue stations, supply depots, shelters) at ``--queries``
  random points on the land: p50 and p95 (target p95 ≤ 50 ms);
- service areas (5/10/15 min) at ``--areas`` random points: median and max (target max ≤ 1 s),
  of the isochrones alone (``gis.service_areas``) and of ``RoutingService.areas``, which also
  counts the residents and resources in each band;
- vector tiles (``Store.vector_tile`` of ``api.vector_tiles.plan_tile``): the largest tile of
  roads, population and rescue stations at every zoom 6-15 — every tile over the province up to
  z7, the tiles at each prefecture's biggest town above (target ≤ 500 KiB).

Each measurement runs in a child process of its own (peak RSS is its own getrusage, or what the
parent saw); a child passing ``--max-rss-gib`` or ``--timeout`` is killed and reported as MISS
with what it had measured so far, so one analysis that does not fit cannot take the box down.

Run: ``bash .ci/bench`` (quick: a 2-prefecture coarse province in about a minute, unless
``ONEMAP_BENCH_SCALE=province``), or ``nice -n 10 python benchmarks/bench_scale.py [--store
/tmp/province.gpkg] [--quick]`` (the full province: about 20 minutes to generate, 5 GB on disk).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import shapely

try:  # psutil comes with dask's distributed; without it, /proc gives the child's own RSS
    import psutil
except ImportError:  # pragma: no cover
    psutil = None

GIB = 1024**3
TARGET_MEMORY_GIB = 4.0
"""Risk zoning's target (issue 17: block-wise, < 4 GiB)."""
BOX_GIB = 24.0
"""This machine's memory: shelter coverage's bound (issue 17: block-wise)."""
TARGET_NEAREST_MS = 50.0
TARGET_AREAS_S = 1.0
TARGET_WARM_S = 10.0
TARGET_TILE_KIB = 500.0
TILE_LAYERS = ("roads", "population", "rescue_stations")
ALL_TILES_UP_TO = 7
BIGGEST_TOWN = (116.59, 35.41)  # 任城区, the sample city's biggest town (1.3 M people)


def _emit(**values: Any) -> None:
    """A child's result line (the parent keeps every line it reads, so partial results survive)."""
    print(json.dumps(values), flush=True)


def _peak_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / GIB


# --- children ------------------------------------------------------------------------------------


def _services(store_path: str) -> tuple[Any, Any, Any]:
    from layers.city import read_city_profile
    from layers.services.routing import RoutingService
    from layers.settings import Settings
    from layers.store.gpkg import GeoPackageStore

    store = GeoPackageStore(store_path)
    settings = Settings(store=store_path).with_profile(read_city_profile(store))
    return store, settings, RoutingService(store, settings)


def _land_points(store: Any, count: int, seed: int) -> list[tuple[float, float]]:
    """``count`` random lon/lat points on the prefectures' land (seeded)."""
    admin = store.read("admin_areas", filters={"level": "区县"})
    land = shapely.union_all(np.asarray(admin.geometry.array, dtype=object))
    rng = np.random.default_rng(seed)
    west, south, east, north = land.bounds
    points: list[tuple[float, float]] = []
    while len(points) < count:
        lon, lat = rng.uniform(west, east, 4 * count), rng.uniform(south, north, 4 * count)
        inside = shapely.contains_xy(land, lon, lat)
        points += list(zip(lon[inside].tolist(), lat[inside].tolist(), strict=True))
    return points[:count]


def _child_graph(store_path: str, args: argparse.Namespace) -> None:
    _, _, routing = _services(store_path)
    start = time.perf_counter()
    graph = routing.graph()
    _emit(seconds=time.perf_counter() - start, edges=len(graph.edge_u), peak_gib=_peak_gib())


def _child_routing(store_path: str, args: argparse.Namespace) -> None:
    import geopandas as gpd

    from gis.routing import RoutingError
    from gis.service_areas import service_areas
    from layers.errors import InputError
    from layers.services.routing import RESOURCE_LAYERS

    store, _, routing = _services(store_path)
    points = _land_points(store, args.queries + args.areas, args.seed)
    start = time.perf_counter()
    routing.graph()
    routing.resources(list(RESOURCE_LAYERS))
    _emit(ready_s=time.perf_counter() - start)
    times, failed = [], 0
    for lon, lat in points[: args.queries]:
        start = time.perf_counter()
        try:
            routing.nearest(lon, lat, RESOURCE_LAYERS, k=5)
        except InputError:
            failed += 1  # off the network (snap distance): not a latency
            continue
        times.append(time.perf_counter() - start)
    _emit(nearest_ms=[t * 1000 for t in times], nearest_failed=failed, peak_gib=_peak_gib())
    # The isochrones alone (gis.service_areas), then the service's answer, which also counts
    # the residents and resources inside each band (reading the population layer once).
    graph, isochrone_times = routing.graph(), []
    for lon, lat in points[args.queries :]:
        start = time.perf_counter()
        try:
            service_areas(graph, gpd.GeoSeries([shapely.Point(lon, lat)], crs=4326), minutes=(5, 10, 15), max_snap_m=routing.settings.max_snap_m)
        except RoutingError:
            continue
        isochrone_times.append(time.perf_counter() - start)
    _emit(isochrones_s=isochrone_times, peak_gib=_peak_gib())
    area_times = []
    for lon, lat in points[args.queries :]:
        start = time.perf_counter()
        try:
            routing.areas(lon, lat, minutes=(5, 10, 15))
        except InputError:
            continue
        area_times.append(time.perf_counter() - start)
        _emit(areas_s=area_times, peak_gib=_peak_gib())


def _stepper(start: float) -> Callable[[str], None]:
    """A progress callback that emits each step as it begins (with the RSS so far), so a child
    that is killed still says how far it got."""
    steps: list[tuple[str, float, float]] = []

    def step(label: str) -> None:
        steps.append((label, time.perf_counter() - start, _peak_gib()))
        _emit(steps=steps)

    return step


def _child_risk(store_path: str, args: argparse.Namespace) -> None:
    from layers.services.risk import RiskService

    store, settings, routing = _services(store_path)
    start = time.perf_counter()
    RiskService(store, settings, routing).run(resolution_m=100.0, progress=_stepper(start), release_graph=True)  # as `onemap risk` does
    _emit(seconds=time.perf_counter() - start, peak_gib=_peak_gib())


def _child_coverage(store_path: str, args: argparse.Namespace) -> None:
    from layers.services.coverage import CoverageService

    store, settings, routing = _services(store_path)
    start = time.perf_counter()
    CoverageService(store, settings, routing).result("紧急", "network", progress=_stepper(start))
    _emit(seconds=time.perf_counter() - start, peak_gib=_peak_gib())


def _town_centres(count: int) -> list[tuple[float, float]]:
    """Each prefecture's biggest town (lon/lat), where the tiles are densest."""
    from pyproj import Transformer

    from layers.sample.land import to_metres
    from layers.sample.province import prefecture_offset

    to_lonlat = Transformer.from_crs(4548, 4326, always_xy=True)
    x, y = to_metres(*BIGGEST_TOWN)
    centres = []
    for number in range(count):
        dx, dy = prefecture_offset(number, count)
        lon, lat = to_lonlat.transform(x + dx, y + dy)
        centres.append((float(lon), float(lat)))
    return centres


def _tiles_at(z: int, bounds: tuple[float, float, float, float], centres: list[tuple[float, float]]) -> list[tuple[int, int, int]]:
    from web.tile_grid import WEB_MERCATOR_QUAD, tile_of

    if z <= ALL_TILES_UP_TO:
        return [(t.z, t.x, t.y) for t in WEB_MERCATOR_QUAD.tiles(*bounds, zooms=[z])]
    return sorted({(z, *tile_of(lon, lat, z)) for lon, lat in centres})


def _child_tiles(store_path: str, args: argparse.Namespace) -> None:
    from api.vector_tiles import plan_tile
    from layers.catalogue import get_layer

    store, settings, _ = _services(store_path)
    count = store.count("admin_areas", filters={"level": "市"})
    centres = _town_centres(count)
    west, south, east, north = (float(v) for v in store.read("city_profile", filters={"part": "outline"}).total_bounds)
    bounds = (west, south, east, north)
    for z in range(15, 5, -1):  # the cheap zooms first: a low zoom that does not fit still leaves these
        for layer in args.tile_layers.split(","):
            biggest, slowest, where = 0, 0.0, None
            tiles = _tiles_at(z, bounds, centres)
            for _, x, y in tiles:
                start = time.perf_counter()
                size = len(store.vector_tile(plan_tile(get_layer(layer), z, x, y, restricted=False)))
                slowest = max(slowest, time.perf_counter() - start)
                if size > biggest:
                    biggest, where = size, (z, x, y)
            _emit(tile=layer, z=z, tiles=len(tiles), max_bytes=biggest, at=where, max_s=slowest, peak_gib=_peak_gib())


CHILDREN: dict[str, Callable[[str, argparse.Namespace], None]] = {
    "graph": _child_graph, "routing": _child_routing, "risk": _child_risk, "coverage": _child_coverage, "tiles": _child_tiles,
}


# --- parent --------------------------------------------------------------------------------------


def _tree_rss(pid: int) -> int:
    """RSS (bytes) of the process and its descendants (psutil), else of the process alone (/proc)."""
    if psutil is None:
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            return 0
        return next((int(line.split()[1]) * 1024 for line in status.splitlines() if line.startswith("VmRSS:")), 0)
    total = 0
    with contextlib.suppress(psutil.Error):
        process = psutil.Process(pid)
        for each in [process, *process.children(recursive=True)]:
            with contextlib.suppress(psutil.Error):
                total += each.memory_info().rss
    return total


def _kill_tree(child: subprocess.Popen[bytes]) -> None:
    if psutil is not None:
        with contextlib.suppress(psutil.Error):
            for each in psutil.Process(child.pid).children(recursive=True):
                with contextlib.suppress(psutil.Error):
                    each.kill()
    child.kill()
    child.wait()


def _watched(command: list[str], env: dict[str, str], limit_gib: float, timeout_s: float) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Run ``command``; its JSON lines, and how it ended: seconds, the peak RSS seen, killed why."""
    lines: list[dict[str, Any]] = []
    with tempfile.TemporaryFile("w+") as out:
        start = time.perf_counter()
        child = subprocess.Popen(command, env=env, stdout=out, stderr=sys.stderr)
        peak, killed = 0, None
        while child.poll() is None:
            peak = max(peak, _tree_rss(child.pid))
            elapsed = time.perf_counter() - start
            if peak > limit_gib * GIB or elapsed > timeout_s:
                killed = f"over {limit_gib:g} GiB" if peak > limit_gib * GIB else f"over {timeout_s:g} s"
                _kill_tree(child)
                break
            time.sleep(0.2)
        seconds = time.perf_counter() - start
        out.seek(0)
        for line in out:
            if line.startswith("{"):
                lines.append(json.loads(line))
    return lines, {"seconds": seconds, "seen_gib": peak / GIB, "killed": killed, "status": child.returncode}


def _row(name: str, measured: str, target: str, passed: bool | None) -> None:
    verdict = "—" if passed is None else ("PASS" if passed else "MISS")
    print(f"{name:<28} {measured:<58} {target:<22} {verdict}", flush=True)


def _ended(how: dict[str, Any]) -> str:
    if how["killed"]:
        return f" (killed {how['killed']} after {how['seconds']:.0f} s)"
    if how["status"]:
        return f" (failed, exit {how['status']}: see stderr)"
    return ""


def _merged(lines: list[dict[str, Any]]) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for line in lines:
        merged.update(line)
    return merged


def _generate(store: Path, args: argparse.Namespace) -> None:
    onemap = str(Path(sys.executable).parent / "onemap")
    command = [onemap, "--store", str(store), "sample", "--scale", "province", "--seed", str(args.seed)]
    if args.quick:
        command += ["--prefectures", "2", "--coarse"]
    elif args.prefectures is not None:
        command += ["--prefectures", str(args.prefectures)]
    _, how = _watched(command, dict(os.environ), args.max_rss_gib, args.timeout)
    size = store.stat().st_size / GIB if store.exists() else 0.0
    _row("generation", f"{how['seconds']:.0f} s, peak {how['seen_gib']:.1f} GiB, {size:.2f} GiB on disk{_ended(how)}", "fits 24 GiB", how["status"] == 0 and how["seen_gib"] < 24)


def _counts(store_path: Path) -> None:
    from layers.store.gpkg import GeoPackageStore

    with GeoPackageStore(str(store_path)) as store:
        counts = {info.name: info.count for info in store.list_layers()}
    facilities = sum(counts.get(n, 0) for n in ("reservoirs", "geohazard_points", "hazardous_enterprises", "shelters", "rescue_stations", "supply_depots"))
    _row("data", f"{counts.get('roads', 0):,} road edges, {counts.get('population', 0):,} cells, {facilities:,} facilities", "3 M / 16 M / 30,000", None)


def _child(args: argparse.Namespace, name: str, env: dict[str, str], *extra: str) -> tuple[dict[str, Any], dict[str, Any]]:
    command = [sys.executable, __file__, "--child", name, "--store", str(args.store), "--seed", str(args.seed),
               "--queries", str(args.queries), "--areas", str(args.areas), *extra]
    lines, how = _watched(command, env, args.max_rss_gib, args.timeout)
    return _merged(lines), how


def _memory(name: str, result: dict[str, Any], how: dict[str, Any], target_gib: float, target: str) -> None:
    peak = max(result.get("peak_gib", 0.0), how["seen_gib"])
    seconds = result.get("seconds")
    measured = f"{seconds:.0f} s, peak RSS {peak:.2f} GiB" if seconds is not None else f"peak RSS ≥ {peak:.2f} GiB"
    _row(name, measured + _ended(how), target, seconds is not None and peak < target_gib)
    for label, at, peak_so_far in result.get("steps", []):
        print(f"    {at:8.1f} s  {label}  (peak so far {peak_so_far:.2f} GiB)", flush=True)


def _tile_rows(lines: list[dict[str, Any]], how: dict[str, Any], layers: list[str]) -> None:
    by_layer: dict[str, list[dict[str, Any]]] = {}
    for line in lines:
        if "tile" in line:
            by_layer.setdefault(line["tile"], []).append(line)
    for layer in layers:
        done = sorted(by_layer.get(layer, []), key=lambda line: line["z"])
        zooms = [line["z"] for line in done]
        if not done:
            _row(f"tiles {layer}", "none measured" + _ended(how), f"≤ {TARGET_TILE_KIB:g} KiB", False)
            continue
        worst = max(done, key=lambda line: line["max_bytes"])
        slowest = max(line["max_s"] for line in done)
        missing = sorted(set(range(6, 16)) - set(zooms))
        note = f"; z{missing[0]}-{missing[-1]} not reached{_ended(how)}" if missing else ""
        _row(f"tiles {layer} z{min(zooms)}-{max(zooms)}", f"largest {worst['max_bytes'] / 1024:.0f} KiB (z{worst['z']}), slowest {slowest:.1f} s{note}",
             f"≤ {TARGET_TILE_KIB:g} KiB", worst["max_bytes"] <= TARGET_TILE_KIB * 1024 and not missing)
        for line in done:
            print(f"    z{line['z']:<2} {line['tiles']:4d} tiles  largest {line['max_bytes'] / 1024:8.1f} KiB  slowest {line['max_s']:7.2f} s  peak {line['peak_gib']:.1f} GiB", flush=True)


def _parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--store", type=Path, help="The province GeoPackage: reused if it exists, else generated there (default: a temporary file).")
    parser.add_argument("--quick", action="store_true", default=os.environ.get("ONEMAP_BENCH_SCALE") == "quick",
                        help="A 2-prefecture coarse province (2 km cells): a smoke test in a minute (default when ONEMAP_BENCH_SCALE=quick, as .ci/bench sets unless told province).")
    parser.add_argument("--cache-dir", type=Path, help="The routing graphs' cache (ONEMAP_CACHE_DIR), kept afterwards (default: a temporary folder).")
    parser.add_argument("--prefectures", type=int, help="Generate only the first N prefectures, at full density (default all 16).")
    parser.add_argument("--seed", type=int, default=370000, help="Province seed (default 370000).")
    parser.add_argument("--queries", type=int, default=200, help="Nearest-5 queries (default 200).")
    parser.add_argument("--areas", type=int, default=20, help="Service-area queries (default 20).")
    parser.add_argument("--max-rss-gib", type=float, default=14.0, help="Kill a child passing this RSS (default 14: the box is shared).")
    parser.add_argument("--timeout", type=float, default=3600.0, help="Kill a child running longer (s, default 3600).")
    parser.add_argument("--tile-layers", default=",".join(TILE_LAYERS), help=f"Comma-separated layers whose tiles are measured (default {','.join(TILE_LAYERS)}).")
    parser.add_argument("--skip", default="", help="Comma-separated: risk, coverage, graph, routing, tiles.")
    parser.add_argument("--child", choices=sorted(CHILDREN), help=argparse.SUPPRESS)
    return parser.parse_args()


def main() -> int:
    args = _parse()
    if args.child:
        CHILDREN[args.child](str(args.store), args)
        return 0
    skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    with tempfile.TemporaryDirectory(prefix="bench_scale-") as work:
        if args.store is None:
            args.store = Path(work) / ("mini.gpkg" if args.quick else "province.gpkg")
        print(f"bench_scale: {'quick (2 coarse prefectures)' if args.quick else 'province'}, store {args.store}", flush=True)
        print(f"{'measurement':<28} {'measured':<58} {'target':<22} verdict")
        if args.store.exists():
            _row("generation", f"reused {args.store} ({args.store.stat().st_size / GIB:.2f} GiB)", "fits 24 GiB", None)
        else:
            _generate(args.store, args)
        _counts(args.store)
        cache = args.cache_dir or Path(work) / "cache"
        if args.cache_dir is not None and any(cache.glob("roads-*.npz")):
            print(f"note: {cache} already holds graphs: the cold load may be warm", flush=True)
        env = {**os.environ, "ONEMAP_CACHE_DIR": str(cache)}
        if "graph" not in skip:
            cold, how_cold = _child(args, "graph", env)
            warm, how_warm = _child(args, "graph", env)
            _row("graph load, cold (build)", f"{cold.get('seconds', math.nan):.1f} s, peak {max(cold.get('peak_gib', 0), how_cold['seen_gib']):.1f} GiB{_ended(how_cold)}", "(first build)", None)
            _row("graph load, warm (cache)", f"{warm.get('seconds', math.nan):.1f} s{_ended(how_warm)}", f"≤ {TARGET_WARM_S:g} s", warm.get("seconds", math.inf) <= TARGET_WARM_S)
        if "routing" not in skip:
            result, how = _child(args, "routing", env)
            nearest = result.get("nearest_ms", [])
            if nearest:
                p95 = float(np.percentile(nearest, 95))
                failed = result.get("nearest_failed", 0)
                _row("nearest-5", f"p50 {statistics.median(nearest):.1f} ms, p95 {p95:.1f} ms ({len(nearest)} queries, {failed} off-network; ready in {result['ready_s']:.1f} s)", f"≤ {TARGET_NEAREST_MS:g} ms", p95 <= TARGET_NEAREST_MS)
            else:
                _row("nearest-5", "not measured" + _ended(how), f"≤ {TARGET_NEAREST_MS:g} ms", False)
            for key, name in (("isochrones_s", "isochrones 5/10/15 min"), ("areas_s", "service areas (+ residents)")):
                areas = result.get(key, [])
                if areas:
                    first = f", first {areas[0]:.1f} s" if key == "areas_s" else ""
                    ended = _ended(how) if key == "areas_s" else ""
                    _row(name, f"median {statistics.median(areas):.2f} s, max {max(areas):.2f} s ({len(areas)} queries{first}){ended}", f"≤ {TARGET_AREAS_S:g} s", max(areas) <= TARGET_AREAS_S)
                else:
                    _row(name, f"not measured, peak ≥ {how['seen_gib']:.1f} GiB{_ended(how)}", f"≤ {TARGET_AREAS_S:g} s", False)
        for name in ("risk", "coverage"):
            if name not in skip:
                result, how = _child(args, name, env)
                if name == "risk":
                    _memory("risk zoning (100 m, roads)", result, how, TARGET_MEMORY_GIB, f"< {TARGET_MEMORY_GIB:g} GiB (block-wise)")
                else:  # issue 17 asks coverage to be block-wise, with no figure: within the box
                    _memory("shelter coverage (紧急)", result, how, BOX_GIB, f"block-wise, within {BOX_GIB:g} GiB")
        if "tiles" not in skip:  # last: the low zooms of the population are the open-ended part
            lines, how = _watched([sys.executable, __file__, "--child", "tiles", "--store", str(args.store), "--tile-layers", args.tile_layers], env, args.max_rss_gib, args.timeout)
            _tile_rows(lines, how, args.tile_layers.split(","))
    return 0


if __name__ == "__main__":
    sys.exit(main())
