"""Risk-zoning speed and memory on the sample city at 100 m and 30 m, and on a province-size extent.

Printed in one run:
- per run (each in a fresh process): total time, time per factor, peak RSS;
- the distance factors against GDAL's own tools (Debian's gdal-bin): for every point factor and
  intensity class, ``gdal_rasterize`` of the sources onto the same grid and ``gdal_proximity.py``
  (DISTUNITS=GEO, MAXDIST = the factor's reach) — the same distance surfaces onemap makes
  (``point_distance``); ratio = GDAL pipeline / onemap (target ≥ 5), with the largest difference;
- a province-size extent (the sample city's box tiled 3 × 3, ≈ 175,000 km² at 100 m, straight-line
  capacity): peak RSS (target < 4 GiB).

Run: ``bash .ci/bench`` or ``python benchmarks/bench_risk.py [--skip-30m] [--skip-province]``.
"""

from __future__ import annotations

import argparse
import multiprocessing
import pickle
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import rasterio
import shapely

from gis.arraytools import anchor_points
from gis.risk import RiskGrid, point_distance
from gis.risk.model import FACTOR_DEFAULTS, reach_m
from gis.risk.surfaces import hazard_intensity
from gis.risk.zoning import RiskConfig, zone_risk
from layers.sample import generate_city

EPSG = 4548
POINT_FACTORS = [name for name, spec in FACTOR_DEFAULTS.items() if spec["kind"] == "points"]
LAYERS = [*POINT_FACTORS, "flood_prone_areas"]


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _run(inputs: Path, resolution_m: float, queue: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    with inputs.open("rb") as handle:
        city = pickle.load(handle)
    loaded = _peak_mb()
    grid = RiskGrid.covering(city["admin_areas"].to_crs(EPSG).total_bounds, resolution_m, EPSG)
    start = time.perf_counter()
    result = zone_risk({k: city[k] for k in LAYERS}, city["population"], city["admin_areas"], city["rescue_stations"], grid=grid, config=RiskConfig())
    queue.put({"total_s": time.perf_counter() - start, "timings": result.timings_s, "peak_mb": _peak_mb(), "inputs_mb": loaded, "cells": grid.width * grid.height, "shape": grid.shape})


def in_fresh_process(city: dict[str, gpd.GeoDataFrame], resolution_m: float) -> dict[str, Any]:
    context = multiprocessing.get_context("spawn")
    with tempfile.TemporaryDirectory() as work:
        inputs = Path(work) / "city.pickle"
        with inputs.open("wb") as handle:
            pickle.dump(city, handle)
        queue = context.Queue()
        process = context.Process(target=_run, args=(inputs, resolution_m, queue))
        process.start()
        figures = queue.get()
        process.join()
    return figures


def gdal_distances(city: dict[str, gpd.GeoDataFrame], grid: RiskGrid) -> tuple[float, dict[str, np.ndarray]]:
    """GDAL's pipeline: per factor and intensity class, rasterize the sources, then proximity."""
    distances: dict[str, np.ndarray] = {}
    elapsed = 0.0
    with tempfile.TemporaryDirectory() as work:
        for name in POINT_FACTORS:
            metric = city[name].to_crs(EPSG)
            intensity = hazard_intensity(metric, FACTOR_DEFAULTS[name], name, [])
            for level in np.unique(intensity):
                sources = Path(work) / f"{name}_{level}.gpkg"
                chosen = metric.loc[intensity == level, ["geometry"]]
                chosen = chosen.set_geometry(chosen.geometry.representative_point())  # a park counts from one point, as in onemap
                chosen.to_file(sources)
                burnt, proximity = Path(work) / f"{name}_{level}.tif", Path(work) / f"{name}_{level}_d.tif"
                west, north = grid.west, grid.north
                east, south = west + grid.width * grid.resolution_m, north - grid.height * grid.resolution_m
                start = time.perf_counter()
                subprocess.run(["gdal_rasterize", "-q", "-burn", "1", "-te", str(west), str(south), str(east), str(north), "-tr", str(grid.resolution_m), str(grid.resolution_m), "-ot", "Byte", "-co", "COMPRESS=NONE", str(sources), str(burnt)], check=True)
                reach = reach_m(FACTOR_DEFAULTS[name]["decay"])
                subprocess.run(["gdal_proximity.py", "-q", str(burnt), str(proximity), "-values", "1", "-distunits", "GEO", "-ot", "Float32", "-maxdist", str(reach), "-nodata", "-1"], check=True)
                elapsed += time.perf_counter() - start
                with rasterio.open(proximity) as band:
                    distance = band.read(1)
                    distances[f"{name}:{level}"] = np.where(distance < 0, np.inf, distance)
    return elapsed, distances


def onemap_distances(city: dict[str, gpd.GeoDataFrame], grid: RiskGrid) -> tuple[float, dict[str, np.ndarray]]:
    """onemap's distance surfaces for the same sources, out to each factor's reach."""
    distances: dict[str, np.ndarray] = {}
    elapsed = 0.0
    for name in POINT_FACTORS:
        metric = city[name].to_crs(EPSG)
        intensity = hazard_intensity(metric, FACTOR_DEFAULTS[name], name, [])
        geometry = np.asarray(metric.geometry.array, dtype=object)
        xy = shapely.get_coordinates(anchor_points(geometry))
        for level in np.unique(intensity):
            start = time.perf_counter()
            distances[f"{name}:{level}"] = point_distance(grid, xy[intensity == level], reach_m(FACTOR_DEFAULTS[name]["decay"]))
            elapsed += time.perf_counter() - start
    return elapsed, distances


def province(city: dict[str, gpd.GeoDataFrame], copies: int = 3) -> dict[str, gpd.GeoDataFrame]:
    """The city tiled ``copies`` × ``copies`` side by side (EPSG:4548), townships renamed per copy."""
    metric = {name: frame.to_crs(EPSG) for name, frame in city.items() if name in (*LAYERS, "population", "admin_areas", "rescue_stations")}
    min_x, min_y, max_x, max_y = metric["admin_areas"].total_bounds
    width, height = max_x - min_x, max_y - min_y
    out: dict[str, list[gpd.GeoDataFrame]] = {name: [] for name in metric}
    for i in range(copies):
        for j in range(copies):
            for name, frame in metric.items():
                moved = frame.copy()
                moved["geometry"] = frame.geometry.translate(xoff=i * width, yoff=j * height)
                if name == "admin_areas":
                    moved["adcode"] = moved["adcode"] + f"-{i}{j}"
                out[name].append(moved)
    return {name: gpd.GeoDataFrame(pd.concat(parts, ignore_index=True), geometry="geometry", crs=EPSG) for name, parts in out.items()}


def _print_run(label: str, figures: dict[str, Any]) -> None:
    factors = ", ".join(f"{k} {v:.2f}" for k, v in figures["timings"].items())
    print(f"{label}: {figures['shape'][1]:,} × {figures['shape'][0]:,} = {figures['cells']:,} cells; total {figures['total_s']:7.2f} s; "
          f"peak RSS {figures['peak_mb']:,.0f} MB (inputs alone {figures['inputs_mb']:,.0f} MB)\n   per factor (s): {factors}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--skip-30m", action="store_true")
    parser.add_argument("--skip-province", action="store_true")
    args, _ = parser.parse_known_args()
    if shutil.which("gdal_proximity.py") is None or shutil.which("gdal_rasterize") is None:
        sys.exit("gdal_proximity.py / gdal_rasterize not found: apt-get install gdal-bin (.ci/bench does)")
    city = {name: frame for name, frame in generate_city(370800).items() if name in (*LAYERS, "population", "admin_areas", "rescue_stations")}

    for resolution in (100.0,) if args.skip_30m else (100.0, 30.0):
        _print_run(f"city at {resolution:g} m", in_fresh_process(city, resolution))
        grid = RiskGrid.covering(city["admin_areas"].to_crs(EPSG).total_bounds, resolution, EPSG)
        gdal_s, gdal = gdal_distances(city, grid)
        ours_s, ours = onemap_distances(city, grid)
        # Both out to the factor's reach; a cell counts when both reach it (GDAL's max distance edge may differ by a cell).
        with np.errstate(invalid="ignore"):  # inf - inf outside the reach, masked out
            worst = max(float(np.max(np.abs(np.where(np.isfinite(gdal[k]) & np.isfinite(ours[k]), gdal[k].astype(float) - ours[k], 0.0)))) for k in ours)
        agree = min(float(np.mean(np.isfinite(gdal[k]) == np.isfinite(ours[k]))) for k in ours)
        print(f"   distance surfaces ({len(ours)} = point factors × intensity classes): onemap {ours_s:6.2f} s   gdal_rasterize + gdal_proximity.py {gdal_s:6.2f} s   "
              f"ratio GDAL/onemap {gdal_s / ours_s:5.1f}x   largest difference {worst:.3f} m, same reach on {agree:.2%} of cells")

    if not args.skip_province:
        big = province(city)
        min_x, min_y, max_x, max_y = big["admin_areas"].total_bounds
        print(f"province-size extent: {(max_x - min_x) / 1000:,.0f} × {(max_y - min_y) / 1000:,.0f} km = {(max_x - min_x) * (max_y - min_y) / 1e6:,.0f} km²")
        figures = in_fresh_process(big, 100.0)
        _print_run("province at 100 m", figures)
        print(f"   peak RSS {figures['peak_mb'] / 1024:.2f} GiB: {'under' if figures['peak_mb'] < 4096 else 'OVER'} the 4 GiB target")


if __name__ == "__main__":
    main()
